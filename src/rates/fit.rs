//! Data from the true model, and fits of $k$ atoms to it.
//!
//! - **regression**: least squares, $\min_\theta \frac1n \sum_t (y_t - f(x_t; \theta))^2$ with
//!   $f = \sum_i g_i h_i$, by L-BFGS (argmin) with reverse-mode gradients;
//! - **gaussian** and **multinomial** (normalized gates): maximum likelihood by EM. The E-step
//!   computes responsibilities $r_{ti} \propto g_{ti}\, e_{ti}$. When the log-weight and the
//!   expert are affine in their parameters (softmax gate, linear mean, variance a parameter,
//!   affine logits) the M-step is exact and fast: the gate by Newton steps on the soft-label
//!   softmax regression (IRLS), Gaussian experts by weighted least squares and a closed-form
//!   variance, multinomial experts by the same Newton steps. Otherwise the M-step maximises
//!   the expected complete log-likelihood $Q$ with a few L-BFGS iterations (a generalised EM).
//!
//! Every fit stops when the objective's relative change is at most the tolerance, or at the
//! iteration cap, and says which ([`FitStatus`]).

use super::model::{logsumexp, Layout, MixtureModel};
use super::simulate::Data;
use crate::case::Model;
use crate::expr::Tape;
use affine::AffineEm;
use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::condition::ArmijoCondition;
use argmin::solver::linesearch::BacktrackingLineSearch;
use argmin::solver::quasinewton::LBFGS;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// How a fit ended.
#[derive(Clone, Debug, PartialEq)]
pub enum FitStatus {
    /// The relative change of the objective fell to the tolerance.
    Converged,
    /// The iteration cap was reached first.
    IterationCap,
    /// The log-likelihood reached [`FitSettings::target`] (time-to-likelihood comparisons).
    Reached,
    /// A non-finite value or a failed solver.
    Failed(String),
}

impl FitStatus {
    /// The name used in output.
    pub fn name(&self) -> &'static str {
        match self {
            FitStatus::Converged => "converged",
            FitStatus::IterationCap => "cap",
            FitStatus::Reached => "reached",
            FitStatus::Failed(_) => "failed",
        }
    }
}

/// Settings of one fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitSettings {
    /// Relative change of the objective that stops the fit.
    pub tolerance: f64,
    /// Iteration cap (EM iterations, or L-BFGS iterations for least squares).
    pub max_iters: usize,
    /// Use the generic EM M-step even when the fast one applies (for cross-checks).
    pub generic: bool,
    /// Accelerate the fast EM path by SQUAREM (plain EM otherwise, for comparison with the
    /// peer's EM).
    pub accelerate: bool,
    /// Stop as soon as the log-likelihood reaches this value (the fast EM path; `None` in the
    /// rate check): the time another implementation's final likelihood takes.
    pub target: Option<f64>,
}

/// A fitted mixture.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// The fitted atoms (full parameter vectors).
    pub atoms: Vec<Vec<f64>>,
    /// The objective: log-likelihood (gaussian, multinomial) or minus the mean squared error.
    pub objective: f64,
    /// Iterations used.
    pub iterations: usize,
    /// How it ended.
    pub status: FitStatus,
    /// The method: `least-squares`, `em-irls` or `em-lbfgs`.
    pub method: &'static str,
}

/// Fits the model to `data` from `init` (`init.len()` atoms).
pub fn fit(model: &MixtureModel, data: &Data, init: Vec<Vec<f64>>, settings: &FitSettings) -> Fit {
    match model.model {
        Model::Regression => least_squares(model, data, init, settings),
        _ if !model.normalized => Fit {
            objective: f64::NAN,
            atoms: init,
            iterations: 0,
            status: FitStatus::Failed(
                "unnormalized gates are fitted for regression models only".into(),
            ),
            method: "em",
        },
        _ => em(model, data, init, settings),
    }
}

/// Per-atom values and parameter gradients of one tape at one sample.
struct Grad {
    values: Vec<f64>,
    adjoints: Vec<f64>,
}

impl Grad {
    fn new() -> Grad {
        Grad {
            values: Vec::new(),
            adjoints: Vec::new(),
        }
    }

    fn eval(&mut self, tape: &Tape, x: &[f64], theta: &[f64], grad: &mut [f64]) -> f64 {
        tape.gradient(x, theta, &mut self.values, &mut self.adjoints, grad)
    }
}

/// A point, the cost there and its gradient.
type Evaluation = (Vec<f64>, f64, Vec<f64>);

/// The least-squares problem for argmin: cost and gradient computed together and cached.
struct LeastSquares<'a> {
    model: &'a MixtureModel,
    data: &'a Data,
    layout: Layout,
    cache: Mutex<Option<Evaluation>>,
}

impl LeastSquares<'_> {
    fn evaluate(&self, flat: &[f64]) -> (f64, Vec<f64>) {
        if let Ok(guard) = self.cache.lock() {
            if let Some((p, c, g)) = guard.as_ref() {
                if p.as_slice() == flat {
                    return (*c, g.clone());
                }
            }
        }
        let (c, g) = self.compute(flat);
        if let Ok(mut guard) = self.cache.lock() {
            *guard = Some((flat.to_vec(), c, g.clone()));
        }
        (c, g)
    }

    fn compute(&self, flat: &[f64]) -> (f64, Vec<f64>) {
        let m = self.model;
        let lay = &self.layout;
        let atoms = lay.atoms(flat);
        let k = atoms.len();
        let p = lay.p;
        let mean = m.mean.as_ref().expect("regression has a mean");
        let mut grad = vec![0.0; lay.len()];
        let mut cost = 0.0;
        let n = self.data.len();
        let mut g = Grad::new();
        let (mut dl, mut dh) = (vec![vec![0.0; p]; k], vec![vec![0.0; p]; k]);
        let (mut l, mut h) = (vec![0.0; k], vec![0.0; k]);
        let share = m.fixed.as_ref().and_then(|f| f.share).map(|(v, _)| v);
        let fixed = m.fixed.as_ref();
        for t in 0..n {
            let x = self.data.x(t);
            for i in 0..k {
                l[i] = g.eval(&m.log_weight, x, &atoms[i], &mut dl[i]);
                h[i] = g.eval(mean, x, &atoms[i], &mut dh[i]);
            }
            // The fixed component: inside the gate, one more log-weight in the normalization;
            // outside, a share λ of f (the atoms keep 1 − λ).
            let inside = fixed
                .and_then(|f| f.log_weight.as_ref())
                .map(|t| t.eval(x, &atoms[0], &mut g.values));
            let h0 = fixed
                .and_then(|f| f.mean.as_ref())
                .map_or(0.0, |t| t.eval(x, &atoms[0], &mut g.values));
            let (gates, g0): (Vec<f64>, f64) = match (m.normalized, inside) {
                (true, Some(l0)) => {
                    let z = logsumexp(&[logsumexp(&l), l0]);
                    (l.iter().map(|v| (v - z).exp()).collect(), (l0 - z).exp())
                }
                (false, Some(l0)) => (l.iter().map(|v| v.exp()).collect(), l0.exp()),
                (true, None) => {
                    let z = logsumexp(&l);
                    (l.iter().map(|v| (v - z).exp()).collect(), 0.0)
                }
                (false, None) => (l.iter().map(|v| v.exp()).collect(), 0.0),
            };
            let fg: f64 = gates.iter().zip(&h).map(|(a, b)| a * b).sum::<f64>() + g0 * h0;
            let lambda = share.map(|v| super::model::sigmoid(atoms[0][v]));
            let f = match lambda {
                Some(lam) => lam * h0 + (1.0 - lam) * fg,
                None => fg,
            };
            let r = self.data.y[t] - f;
            cost += r * r;
            let scale = -2.0 * r / n as f64;
            let outer = lambda.map_or(1.0, |lam| 1.0 - lam);
            for i in 0..k {
                let df_dl = outer
                    * if m.normalized {
                        gates[i] * (h[i] - fg)
                    } else {
                        gates[i] * h[i]
                    };
                for v in 0..p {
                    let d = df_dl * dl[i][v] + outer * gates[i] * dh[i][v];
                    if d != 0.0 {
                        grad[lay.index(i, v)] += scale * d;
                    }
                }
            }
            if let (Some(v), Some(lam)) = (share, lambda) {
                grad[lay.index(0, v)] += scale * lam * (1.0 - lam) * (h0 - fg);
            }
        }
        (cost / n as f64, grad)
    }
}

impl CostFunction for LeastSquares<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(finite_or_infinity(self.evaluate(p).0))
    }
}

/// A cost where the model is undefined is +∞, so line searches step back.
fn finite_or_infinity(c: f64) -> f64 {
    if c.is_finite() {
        c
    } else {
        f64::INFINITY
    }
}

impl Gradient for LeastSquares<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.evaluate(p).1)
    }
}

/// An objective that refuses more than `budget` cost evaluations. A search heading to infinity
/// makes L-BFGS propose enormous steps, and the backtracking line search (which has no cap of
/// its own) then halves a thousand times per iteration; the budget turns that into a failed
/// fit instead of an endless one.
struct Budgeted<O> {
    inner: O,
    calls: AtomicUsize,
    budget: usize,
}

impl<O: CostFunction<Param = Vec<f64>, Output = f64>> CostFunction for Budgeted<O> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        if self.calls.fetch_add(1, Ordering::Relaxed) >= self.budget {
            return Err(argmin::core::Error::msg(format!(
                "diverged: more than {} evaluations of the objective (L-BFGS steps toward infinity)",
                self.budget
            )));
        }
        self.inner.cost(p)
    }
}

impl<O: Gradient<Param = Vec<f64>, Gradient = Vec<f64>>> Gradient for Budgeted<O> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        self.inner.gradient(p)
    }
}

/// Minimises an objective with argmin's L-BFGS; returns the best point, its cost, the
/// iterations used and whether the solver stopped on its own (not at the cap).
fn lbfgs<O>(
    problem: O,
    init: Vec<f64>,
    max_iters: usize,
    tolerance: f64,
) -> Result<(Vec<f64>, f64, usize, bool), String>
where
    O: CostFunction<Param = Vec<f64>, Output = f64>
        + Gradient<Param = Vec<f64>, Gradient = Vec<f64>>,
{
    // Backtracking (Armijo) rather than a cubic line search: a trial point where the model is
    // undefined (a negative variance) costs +∞ and the step is simply halved.
    let line = BacktrackingLineSearch::new(ArmijoCondition::new(1e-4).map_err(|e| e.to_string())?)
        .rho(0.5)
        .map_err(|e| e.to_string())?;
    // Twenty correction pairs, not seven: over-specified least squares crawls along weakly
    // identified directions, and the longer memory halves the iterations (579 → 303 on
    // routers/cosine-perturbed with three atoms) for the same optimum.
    let solver = LBFGS::new(line, 20)
        .with_tolerance_cost(tolerance)
        .map_err(|e| e.to_string())?
        .with_tolerance_grad(1e-12)
        .map_err(|e| e.to_string())?;
    let budget = Budgeted {
        inner: problem,
        calls: AtomicUsize::new(0),
        budget: 3 * max_iters + 50,
    };
    let res = Executor::new(budget, solver)
        .configure(|s| s.param(init).max_iters(max_iters as u64))
        .run()
        .map_err(|e| e.to_string())?;
    let state = res.state();
    let best = state.get_best_param().cloned().ok_or("no parameter")?;
    let iters = state.get_iter() as usize;
    Ok((best, state.get_best_cost(), iters, iters < max_iters))
}

fn least_squares(
    model: &MixtureModel,
    data: &Data,
    init: Vec<Vec<f64>>,
    settings: &FitSettings,
) -> Fit {
    let layout = model.layout(init.len());
    let flat = layout.flatten(&init);
    let problem = LeastSquares {
        model,
        data,
        layout: layout.clone(),
        cache: Mutex::new(None),
    };
    // argmin's cost tolerance is absolute: scale the relative one by the starting cost
    let start = problem.evaluate(&flat).0;
    let tolerance = settings.tolerance * if start.is_finite() { start } else { 1.0 };
    match lbfgs(problem, flat, settings.max_iters, tolerance) {
        Ok((best, cost, iterations, stopped)) if cost.is_finite() => Fit {
            atoms: layout.atoms(&best),
            objective: -cost,
            iterations,
            status: if stopped {
                FitStatus::Converged
            } else {
                FitStatus::IterationCap
            },
            method: "least-squares",
        },
        Ok((_, cost, iterations, _)) => Fit {
            atoms: init,
            objective: f64::NAN,
            iterations,
            status: FitStatus::Failed(format!("the mean squared error is {cost}")),
            method: "least-squares",
        },
        Err(e) => Fit {
            atoms: init,
            objective: f64::NAN,
            iterations: 0,
            status: FitStatus::Failed(e),
            method: "least-squares",
        },
    }
}

/// The log-density $\log e(y_t \mid x_t)$ of one atom's expert at sample $t$, and its gradient.
fn log_expert(
    model: &MixtureModel,
    g: &mut Grad,
    data: &Data,
    t: usize,
    theta: &[f64],
    grad: &mut [f64],
    scratch: &mut [f64],
) -> f64 {
    let (x, y, class) = (
        data.x(t),
        data.y[t],
        data.class.get(t).copied().unwrap_or(0),
    );
    match model.model {
        Model::Gaussian => {
            let (mean, var) = (
                model.mean.as_ref().expect("mean"),
                model.variance.as_ref().expect("variance"),
            );
            let h = g.eval(mean, x, theta, grad);
            let v = g.eval(var, x, theta, scratch);
            let r = y - h;
            // log N = −r²/(2v) − ½ log(2πv)
            for (gp, sp) in grad.iter_mut().zip(scratch.iter()) {
                *gp = (r / v) * *gp + (r * r / (2.0 * v * v) - 0.5 / v) * sp;
            }
            -r * r / (2.0 * v) - 0.5 * (std::f64::consts::TAU * v).ln()
        }
        _ => {
            // log softmax_y(l) = l_y − logsumexp(l)
            let k = model.logits.len();
            let mut l = vec![0.0; k];
            let mut grads = vec![vec![0.0; theta.len()]; k];
            for c in 0..k {
                l[c] = g.eval(&model.logits[c], x, theta, &mut grads[c]);
            }
            let z = logsumexp(&l);
            for (v, gp) in grad.iter_mut().enumerate() {
                let mut d = grads[class][v];
                for c in 0..k {
                    d -= (l[c] - z).exp() * grads[c][v];
                }
                *gp = d;
            }
            l[class] - z
        }
    }
}

/// Per-sample log-weights and log-expert values of every atom.
fn log_terms(
    model: &MixtureModel,
    data: &Data,
    atoms: &[Vec<f64>],
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let n = data.len();
    let p = model.variables.len();
    let mut g = Grad::new();
    let (mut d1, mut d2) = (vec![0.0; p], vec![0.0; p]);
    let mut lw = vec![vec![0.0; atoms.len()]; n];
    let mut le = vec![vec![0.0; atoms.len()]; n];
    for t in 0..n {
        let x = data.x(t);
        for (i, a) in atoms.iter().enumerate() {
            lw[t][i] = model.log_weight.eval(x, a, &mut g.values);
            le[t][i] = log_expert(model, &mut g, data, t, a, &mut d1, &mut d2);
        }
        // The fixed component as one more column: inside the gate its raw log-weight (the
        // E-step normalizes); outside, normalized log-weights log(1 − λ) + log g_i and log λ.
        if let Some(f) = &model.fixed {
            let le0 = log_fixed(model, data, t, &atoms[0], &mut g.values);
            match (&f.log_weight, model.share(&atoms[0])) {
                (Some(tape), _) => lw[t].push(tape.eval(x, &atoms[0], &mut g.values)),
                (None, Some(lam)) => {
                    let z = logsumexp(&lw[t]);
                    let rest = (1.0 - lam).ln();
                    lw[t].iter_mut().for_each(|v| *v = *v - z + rest);
                    lw[t].push(lam.ln());
                }
                (None, None) => lw[t].push(f64::NEG_INFINITY),
            }
            le[t].push(le0);
        }
    }
    (lw, le)
}

/// $\log f_0(y_t \mid x_t)$ of the fixed component (no parameters; `theta` supplies the scalar
/// type).
fn log_fixed(
    model: &MixtureModel,
    data: &Data,
    t: usize,
    theta: &[f64],
    scratch: &mut Vec<f64>,
) -> f64 {
    let Some(f) = &model.fixed else {
        return f64::NEG_INFINITY;
    };
    let (x, y) = (data.x(t), data.y[t]);
    match model.model {
        Model::Gaussian => {
            let (Some(mean), Some(var)) = (&f.mean, &f.variance) else {
                return f64::NAN;
            };
            let r = y - mean.eval(x, theta, scratch);
            let v = var.eval(x, theta, scratch);
            -r * r / (2.0 * v) - 0.5 * (std::f64::consts::TAU * v).ln()
        }
        Model::Multinomial => {
            let class = data.class.get(t).copied().unwrap_or(0);
            let l: Vec<f64> = f.logits.iter().map(|c| c.eval(x, theta, scratch)).collect();
            l.get(class).map_or(f64::NAN, |lc| lc - logsumexp(&l))
        }
        Model::Regression => f64::NAN,
    }
}

/// E-step: responsibilities $r_{ti}$ and the log-likelihood.
fn e_step(lw: &[Vec<f64>], le: &[Vec<f64>]) -> (Vec<Vec<f64>>, f64) {
    let mut ll = 0.0;
    let mut r = Vec::with_capacity(lw.len());
    let mut a = Vec::new();
    for (w, e) in lw.iter().zip(le) {
        let zw = logsumexp(w);
        a.clear();
        a.extend(w.iter().zip(e).map(|(x, y)| x - zw + y));
        let z = logsumexp(&a);
        ll += z;
        r.push(a.iter().map(|v| (v - z).exp()).collect());
    }
    (r, ll)
}

/// EM: the affine fast path when it applies, else the generic M-step.
fn em(model: &MixtureModel, data: &Data, init: Vec<Vec<f64>>, settings: &FitSettings) -> Fit {
    if !settings.generic {
        if let Some(affine) = AffineEm::detect(model, data) {
            return affine.run(init, settings);
        }
    }
    let mut atoms = init;
    let (lw, le) = log_terms(model, data, &atoms);
    let (mut r, mut ll) = e_step(&lw, &le);
    let mut status = FitStatus::IterationCap;
    let mut iterations = 0;
    for it in 1..=settings.max_iters {
        iterations = it;
        atoms = generic_m_step(model, data, &r, atoms);
        if atoms.iter().flatten().any(|v| !v.is_finite()) {
            status =
                FitStatus::Failed(format!("a parameter is not finite after EM iteration {it}"));
            break;
        }
        let (lw, le) = log_terms(model, data, &atoms);
        let (r_new, ll_new) = e_step(&lw, &le);
        if !ll_new.is_finite() {
            status = FitStatus::Failed(format!(
                "the log-likelihood is {ll_new} after EM iteration {it}"
            ));
            break;
        }
        let change = (ll_new - ll).abs() / ll.abs().max(1e-300);
        r = r_new;
        ll = ll_new;
        if change <= settings.tolerance {
            status = FitStatus::Converged;
            break;
        }
    }
    Fit {
        atoms,
        objective: ll,
        iterations,
        status,
        method: "em-lbfgs",
    }
}

/// The expected complete log-likelihood $Q(\theta) = \sum_t \sum_i r_{ti} (\log g_{ti} + \log
/// e_{ti})$, negated for argmin.
struct ExpectedLogLik<'a> {
    model: &'a MixtureModel,
    data: &'a Data,
    r: &'a [Vec<f64>],
    layout: Layout,
}

impl ExpectedLogLik<'_> {
    fn compute(&self, flat: &[f64]) -> (f64, Vec<f64>) {
        let m = self.model;
        let lay = &self.layout;
        let atoms = lay.atoms(flat);
        let k = atoms.len();
        let p = lay.p;
        let mut g = Grad::new();
        let mut grad = vec![0.0; lay.len()];
        let mut q = 0.0;
        let (mut dl, mut de, mut s) = (vec![vec![0.0; p]; k], vec![0.0; p], vec![0.0; p]);
        let mut l = vec![0.0; k];
        let fixed = m.fixed.as_ref();
        let share = fixed.and_then(|f| f.share).map(|(v, _)| v);
        for t in 0..self.data.len() {
            let x = self.data.x(t);
            for i in 0..k {
                l[i] = g.eval(&m.log_weight, x, &atoms[i], &mut dl[i]);
            }
            // Inside the gate the fixed component's log-weight joins the normalization (its
            // responsibility r_t0 then pulls on every ℓ_i through it); outside, the atoms share
            // 1 − λ of the responsibility.
            let inside = fixed
                .and_then(|f| f.log_weight.as_ref())
                .map(|tape| tape.eval(x, &atoms[0], &mut g.values));
            let z = match inside {
                Some(l0) => logsumexp(&[logsumexp(&l), l0]),
                None => logsumexp(&l),
            };
            let r0 = if fixed.is_some() { self.r[t][k] } else { 0.0 };
            let atoms_share = if share.is_some() { 1.0 - r0 } else { 1.0 };
            if let Some(l0) = inside {
                q += r0 * (l0 - z);
            }
            for i in 0..k {
                let rt = self.r[t][i];
                let gi = (l[i] - z).exp();
                let le = log_expert(m, &mut g, self.data, t, &atoms[i], &mut de, &mut s);
                q += rt * (l[i] - z + le);
                // ∂/∂ℓ_i of Σ_j r_j log g_j is r_i − g_i Σ_j r_j (the sum over the gate's
                // components: 1, or 1 − r_t0 when the fixed one is outside)
                for v in 0..p {
                    let d = (rt - gi * atoms_share) * dl[i][v] + rt * de[v];
                    if d != 0.0 {
                        grad[lay.index(i, v)] -= d;
                    }
                }
            }
            if let Some(v) = share {
                let lam = super::model::sigmoid(atoms[0][v]);
                q += r0 * lam.ln() + (1.0 - r0) * (1.0 - lam).ln();
                grad[lay.index(0, v)] -= r0 - lam;
            }
        }
        (-q, grad)
    }
}

impl CostFunction for ExpectedLogLik<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(finite_or_infinity(self.compute(p).0))
    }
}

impl Gradient for ExpectedLogLik<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.compute(p).1)
    }
}

/// M-step by L-BFGS on $Q$ (up to 100 iterations); kept only if $Q$ does not decrease.
fn generic_m_step(
    model: &MixtureModel,
    data: &Data,
    r: &[Vec<f64>],
    atoms: Vec<Vec<f64>>,
) -> Vec<Vec<f64>> {
    let layout = model.layout(atoms.len());
    let flat = layout.flatten(&atoms);
    let problem = ExpectedLogLik {
        model,
        data,
        r,
        layout: layout.clone(),
    };
    let before = problem.compute(&flat).0;
    match lbfgs(problem, flat, 100, 1e-12) {
        Ok((best, cost, _, _)) if cost.is_finite() && cost <= before => layout.atoms(&best),
        _ => atoms,
    }
}

mod affine;
pub mod kernels;
pub mod score;
#[cfg(test)]
mod tests;
