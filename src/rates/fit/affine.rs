//! EM when every piece is affine in its parameters (the fast path, method `em-irls`).
//!
//! The log-weight is $\ell_i(x_t) = o_t + \phi_t^\top \beta_i$, the expert's mean (gaussian)
//! or class logits (multinomial) $z_{tc} = o_{tc} + \Phi_{tc}^\top \alpha_i$, with offsets and
//! features computed once per fit. One EM iteration is then:
//!
//! - **E-step**, one pass: gate probabilities $g_{ti}$, responsibilities
//!   $r_{ti} \propto g_{ti} e_{ti}$, the log-likelihood, and $Q(\theta; r) = \sum_{t,i} r_{ti}
//!   (\log g_{ti} + \log e_{ti})$ under the current and the previous responsibilities;
//! - **M-step**: one Newton step of the soft-label softmax regression for the gate (the last
//!   atom is the reference: the softmax is invariant under a common translation), with the
//!   gradient $\sum_t (r_{tc} - g_{tc})\phi_t$ and Hessian
//!   $-\sum_t g_{tc}(\delta_{cc'} - g_{tc'})\phi_t\phi_t^\top$ built from the stored $g$ (no
//!   exponential needed); gaussian experts in closed form (weighted least squares, then
//!   $\nu_i = \sum_t r_{ti}(y_t - h_{ti})^2 / \sum_t r_{ti}$); multinomial experts by one Newton
//!   step of the weighted multinomial regression.
//!
//! The Newton parts are halved until $Q(\theta'; r) \ge Q(\theta; r)$ (checked by the next
//! E-step, which costs nothing extra), so the likelihood never decreases (a generalised EM).

use super::kernels::{affine, dot, exp_nonpositive, sum};
use super::{Fit, FitSettings, FitStatus};
use crate::case::{Model, Role};
use crate::expr::Tape;
use crate::rates::model::MixtureModel;
use crate::rates::simulate::Data;
use nalgebra::{DMatrix, DVector};
use std::cell::RefCell;

/// The affine structure of a model on one data set, in columns (one vector per feature, over
/// the samples) so the loops over samples vectorise.
pub(super) struct AffineEm<'a> {
    data: &'a Data,
    model: Model,
    n: usize,
    /// Gate parameter indices in θ; offsets $o_t$; feature columns $\phi_{\cdot p}$; columns of
    /// the upper triangle of $\phi_t\phi_t^\top$.
    gate: Vec<usize>,
    gate_offset: Vec<f64>,
    gate_cols: Vec<Vec<f64>>,
    gate_outer: Vec<Vec<f64>>,
    /// Expert parameter indices (mean or logits).
    expert: Vec<usize>,
    /// Gaussian: feature columns $f_{\cdot p}$ of the mean, columns of the upper triangle of
    /// $f_t f_t^\top$, targets $y_t - o_t$, and the variance parameter.
    mean_cols: Vec<Vec<f64>>,
    mean_outer: Vec<Vec<f64>>,
    target: Vec<f64>,
    variance: Option<usize>,
    /// Multinomial: classes $C$, offsets $o_{tc}$ ($n \times C$) and features $\Phi_{tc}$
    /// ($n \times C \times d_e$), sample after sample.
    classes: usize,
    logit_offset: Vec<f64>,
    logit_phi: Vec<f64>,
    /// Buffers of length $n$ for reuse: an E-step needs a dozen, and fresh ones from the
    /// system cost page faults (a fifth of the time at $n = 10^5$).
    pool: RefCell<Vec<Vec<f64>>>,
}

/// One E-step's results at parameters θ.
struct Expectation {
    /// $g_{\cdot i}$ and $r_{\cdot i}$, one column per atom.
    g: Vec<Vec<f64>>,
    r: Vec<Vec<f64>>,
    /// Class probabilities $\pi_{tic}$ of multinomial experts, $n \times k \times C$.
    pi: Vec<f64>,
    /// Log-likelihood.
    ll: f64,
    /// $Q(\theta; r)$ with this step's own responsibilities.
    q: f64,
}

/// The upper triangle of $v v^\top$ over columns: one column per pair $p \le q$.
fn outer_columns(cols: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    for p in 0..cols.len() {
        for q in p..cols.len() {
            out.push(cols[p].iter().zip(&cols[q]).map(|(a, b)| a * b).collect());
        }
    }
    out
}

/// The symmetric matrix whose upper triangle is `tri` (row after row).
fn symmetric(dim: usize, tri: &[f64]) -> DMatrix<f64> {
    let mut m = DMatrix::zeros(dim, dim);
    let mut at = 0;
    for p in 0..dim {
        for q in p..dim {
            m[(p, q)] = tri[at];
            m[(q, p)] = tri[at];
            at += 1;
        }
    }
    m
}

/// Solves $(-H + \text{ridge})\,d = \text{grad}$ for a Newton direction.
fn newton_direction(mut neg_hessian: DMatrix<f64>, grad: DVector<f64>) -> Option<DVector<f64>> {
    let dim = grad.len();
    let ridge = 1e-10
        * (0..dim)
            .map(|i| neg_hessian[(i, i)].abs())
            .fold(0.0, f64::max)
            .max(1e-300);
    for i in 0..dim {
        neg_hessian[(i, i)] += ridge;
    }
    neg_hessian.cholesky().map(|c| c.solve(&grad))
}

/// Column-wise softmax over atoms, in place: `x[i][t] ← e^{x[i][t] − m_t} / s_t`; `lse` receives
/// $m_t + \log s_t$ per sample (the log of the normaliser); `s` is scratch.
fn softmax_columns(x: &mut [Vec<f64>], lse: &mut [f64], s: &mut [f64]) {
    lse.fill(f64::NEG_INFINITY);
    for col in x.iter() {
        for (mt, &v) in lse.iter_mut().zip(col) {
            *mt = if v > *mt { v } else { *mt };
        }
    }
    s.fill(0.0);
    for col in x.iter_mut() {
        for ((v, st), mt) in col.iter_mut().zip(s.iter_mut()).zip(lse.iter()) {
            *v = exp_nonpositive(*v - mt);
            *st += *v;
        }
    }
    for (mt, st) in lse.iter_mut().zip(s.iter_mut()) {
        *mt += st.ln();
        *st = 1.0 / *st;
    }
    for col in x.iter_mut() {
        for (v, i) in col.iter_mut().zip(s.iter()) {
            *v *= i;
        }
    }
}

impl<'a> AffineEm<'a> {
    /// The fast path, when it applies: a normalized gate and an expert that are affine in
    /// disjoint parameter sets, no shared parameters, and (gaussian) a variance that is one
    /// parameter.
    pub(super) fn detect(model: &MixtureModel, data: &'a Data) -> Option<AffineEm<'a>> {
        let p = model.variables.len();
        if !model.normalized || model.roles.contains(&Role::Shared) || model.fixed.is_some() {
            return None;
        }
        if model
            .gate_params
            .iter()
            .any(|v| model.expert_params.contains(v))
            || !model.is_affine(&model.log_weight, 7)
        {
            return None;
        }
        let pieces: Vec<&Tape> = match model.model {
            Model::Gaussian => vec![model.mean.as_ref()?],
            Model::Multinomial => model.logits.iter().collect(),
            Model::Regression => return None,
        };
        if pieces.iter().any(|t| !model.is_affine(t, 11)) {
            return None;
        }
        let variance = match model.model {
            Model::Gaussian => {
                let v = model.variance.as_ref()?;
                let params: Vec<usize> = (0..p).filter(|&q| v.params().contains(q)).collect();
                // the variance is the parameter itself
                if params.len() != 1 || v.len() != 1 || pieces[0].params().contains(params[0]) {
                    return None;
                }
                Some(params[0])
            }
            _ => None,
        };
        let expert: Vec<usize> = (0..p)
            .filter(|&q| pieces.iter().any(|t| t.params().contains(q)))
            .collect();
        let gate = model.gate_params.clone();
        let n = data.len();
        // offsets and features: the tapes' values and gradients at θ = 0 (affine)
        let zero = vec![0.0; p];
        let (mut v, mut a, mut g) = (Vec::new(), Vec::new(), vec![0.0; p]);
        let mut gate_offset = Vec::with_capacity(n);
        let mut gate_cols = vec![Vec::with_capacity(n); gate.len()];
        let mut piece_offset = Vec::with_capacity(n * pieces.len());
        let mut piece_phi = Vec::with_capacity(n * pieces.len() * expert.len());
        for t in 0..n {
            let x = data.x(t);
            gate_offset.push(model.log_weight.gradient(x, &zero, &mut v, &mut a, &mut g));
            for (col, &q) in gate_cols.iter_mut().zip(&gate) {
                col.push(g[q]);
            }
            for tape in &pieces {
                piece_offset.push(tape.gradient(x, &zero, &mut v, &mut a, &mut g));
                piece_phi.extend(expert.iter().map(|&q| g[q]));
            }
        }
        let gate_outer = outer_columns(&gate_cols);
        let de = expert.len();
        let mut em = AffineEm {
            data,
            model: model.model,
            n,
            gate,
            gate_offset,
            gate_cols,
            gate_outer,
            expert,
            mean_cols: Vec::new(),
            mean_outer: Vec::new(),
            target: Vec::new(),
            variance,
            classes: pieces.len(),
            logit_offset: Vec::new(),
            logit_phi: Vec::new(),
            pool: RefCell::new(Vec::new()),
        };
        if model.model == Model::Gaussian {
            em.mean_cols = (0..de)
                .map(|p| (0..n).map(|t| piece_phi[t * de + p]).collect())
                .collect();
            em.mean_outer = outer_columns(&em.mean_cols);
            em.target = data
                .y
                .iter()
                .zip(&piece_offset)
                .map(|(y, o)| y - o)
                .collect();
        } else {
            em.logit_offset = piece_offset;
            em.logit_phi = piece_phi;
        }
        Some(em)
    }

    /// A buffer of length $n$, from the pool when one is there; its contents are unspecified
    /// (every user overwrites all of it).
    fn buffer(&self) -> Vec<f64> {
        let mut v = self.pool.borrow_mut().pop().unwrap_or_default();
        v.resize(self.n, 0.0);
        v
    }

    fn buffers(&self, k: usize) -> Vec<Vec<f64>> {
        (0..k).map(|_| self.buffer()).collect()
    }

    fn recycle(&self, v: impl IntoIterator<Item = Vec<f64>>) {
        self.pool.borrow_mut().extend(v);
    }

    fn recycle_expectation(&self, e: Expectation) {
        self.recycle(e.g.into_iter().chain(e.r));
    }

    /// The E-step at `atoms`; with `previous` responsibilities also $Q(\theta; r_{\text{prev}})$.
    fn expect(&self, atoms: &[Vec<f64>], previous: Option<&[Vec<f64>]>) -> (Expectation, f64) {
        let n = self.n;
        let k = atoms.len();
        let coef = |a: &[f64], idx: &[usize]| -> Vec<f64> { idx.iter().map(|&q| a[q]).collect() };
        // log-weights ℓ_i, then g = softmax over atoms and log Σ_j e^{ℓ_j}
        let mut lw = self.buffers(k);
        for (col, a) in lw.iter_mut().zip(atoms) {
            affine(
                col,
                &self.gate_offset,
                &self.gate_cols,
                &coef(a, &self.gate),
            );
        }
        let mut g = self.buffers(k);
        for (a, b) in g.iter_mut().zip(&lw) {
            a.copy_from_slice(b);
        }
        let (mut lse_w, mut s) = (self.buffer(), self.buffer());
        softmax_columns(&mut g, &mut lse_w, &mut s);
        // log-experts, and a_i = log g_i + log e_i into `r`
        let mut pi = Vec::new();
        let mut r = self.buffers(k);
        for (i, (col, a)) in r.iter_mut().zip(atoms).enumerate() {
            match self.model {
                Model::Multinomial => {
                    let c = self.classes;
                    let de = self.expert.len();
                    if pi.is_empty() {
                        pi = vec![0.0; n * k * c];
                    }
                    let alpha = coef(a, &self.expert);
                    for t in 0..n {
                        let z = &mut pi[(t * k + i) * c..(t * k + i + 1) * c];
                        let mut max_z = f64::NEG_INFINITY;
                        for (cc, zc) in z.iter_mut().enumerate() {
                            let row = (t * c + cc) * de;
                            *zc = self.logit_offset[t * c + cc]
                                + dot(&alpha, &self.logit_phi[row..row + de]);
                            max_z = max_z.max(*zc);
                        }
                        let own = z[self.data.class[t]];
                        let mut s = 0.0;
                        for zc in z.iter_mut() {
                            *zc = exp_nonpositive(*zc - max_z);
                            s += *zc;
                        }
                        z.iter_mut().for_each(|v| *v /= s);
                        col[t] = own - max_z - s.ln();
                    }
                }
                _ => {
                    let vq = self.variance.unwrap_or(0);
                    let (half_precision, log_norm) =
                        (0.5 / a[vq], 0.5 * (std::f64::consts::TAU * a[vq]).ln());
                    col.fill(0.0);
                    for (f, c) in self.mean_cols.iter().zip(coef(a, &self.expert)) {
                        for (v, x) in col.iter_mut().zip(f) {
                            *v += c * x;
                        }
                    }
                    for (v, y) in col.iter_mut().zip(&self.target) {
                        let res = y - *v;
                        *v = -res * res * half_precision - log_norm;
                    }
                }
            }
            for ((v, l), z) in col.iter_mut().zip(&lw[i]).zip(&lse_w) {
                *v += l - z;
            }
        }
        // Q under the previous responsibilities, and this step's own
        let q_previous = previous.map_or(0.0, |prev| {
            prev.iter().zip(&r).map(|(p, a)| dot(p, a)).sum()
        });
        let mut log_a = self.buffers(k);
        for (a, b) in log_a.iter_mut().zip(&r) {
            a.copy_from_slice(b);
        }
        let mut lse_a = self.buffer();
        softmax_columns(&mut r, &mut lse_a, &mut s);
        let ll = sum(&lse_a);
        let q = r.iter().zip(&log_a).map(|(p, a)| dot(p, a)).sum();
        self.recycle(lw.into_iter().chain(log_a).chain([lse_w, lse_a, s]));
        (Expectation { g, r, pi, ll, q }, q_previous)
    }

    /// The M-step from the E-step `e` at `atoms`: new atoms.
    fn maximise(&self, atoms: &[Vec<f64>], e: &Expectation) -> Vec<Vec<f64>> {
        let n = self.n;
        let k = atoms.len();
        let mut next = atoms.to_vec();
        // Gate: Newton step on β_0 … β_{k−2}; β_{k−1} is the reference. Gradient
        // Σ_t (r_c − g_c) φ, negative Hessian blocks Σ_t g_c (δ_cc' − g_c') φφᵀ.
        let dg = self.gate.len();
        let free = (k - 1) * dg;
        if free > 0 {
            let mut grad = DVector::<f64>::zeros(free);
            let mut neg_h = DMatrix::<f64>::zeros(free, free);
            let mut w = self.buffer();
            for c in 0..k - 1 {
                for ((wt, r), g) in w.iter_mut().zip(&e.r[c]).zip(&e.g[c]) {
                    *wt = r - g;
                }
                for (p, col) in self.gate_cols.iter().enumerate() {
                    grad[c * dg + p] = dot(&w, col);
                }
                for c2 in c..k - 1 {
                    let delta = f64::from(u8::from(c == c2));
                    for ((wt, g), g2) in w.iter_mut().zip(&e.g[c]).zip(&e.g[c2]) {
                        *wt = g * (delta - g2);
                    }
                    let tri: Vec<f64> = self.gate_outer.iter().map(|o| dot(&w, o)).collect();
                    let block = symmetric(dg, &tri);
                    neg_h
                        .view_mut((c * dg, c2 * dg), (dg, dg))
                        .copy_from(&block);
                    neg_h
                        .view_mut((c2 * dg, c * dg), (dg, dg))
                        .copy_from(&block);
                }
            }
            self.recycle([w]);
            if let Some(d) = newton_direction(neg_h, grad) {
                for c in 0..k - 1 {
                    for (p, &q) in self.gate.iter().enumerate() {
                        next[c][q] += d[c * dg + p];
                    }
                }
            }
        }
        let de = self.expert.len();
        match self.model {
            Model::Gaussian => {
                // Σ_t r f fᵀ α = Σ_t r f (y − o); ν = Σ_t r (y − o − fᵀα)² / Σ_t r, expanded
                let mut rt = self.buffer();
                for (i, next_i) in next.iter_mut().enumerate() {
                    let wsum = sum(&e.r[i]);
                    if wsum < 1e-12 {
                        continue;
                    }
                    for ((v, r), y) in rt.iter_mut().zip(&e.r[i]).zip(&self.target) {
                        *v = r * y;
                    }
                    let yy = dot(&rt, &self.target);
                    let tri: Vec<f64> = self.mean_outer.iter().map(|o| dot(&e.r[i], o)).collect();
                    let a = symmetric(de, &tri);
                    let b =
                        DVector::from_iterator(de, self.mean_cols.iter().map(|col| dot(&rt, col)));
                    if let Some(sol) = a.clone().cholesky().map(|ch| ch.solve(&b)) {
                        for (p, &q) in self.expert.iter().enumerate() {
                            next_i[q] = sol[p];
                        }
                        if let Some(vq) = self.variance {
                            let ss = yy - 2.0 * sol.dot(&b) + (&a * &sol).dot(&sol);
                            next_i[vq] = (ss / wsum).max(1e-12);
                        }
                    }
                }
                self.recycle([rt]);
            }
            Model::Multinomial => {
                // one Newton step per atom on Σ_t r_i log π_{i, y_t}
                let c = self.classes;
                for (i, next_i) in next.iter_mut().enumerate() {
                    let mut grad = DVector::<f64>::zeros(de);
                    let mut neg_h = DMatrix::<f64>::zeros(de, de);
                    let mut mean = vec![0.0; de];
                    for t in 0..n {
                        let w = e.r[i][t];
                        if w == 0.0 {
                            continue;
                        }
                        let pi = &e.pi[(t * k + i) * c..(t * k + i + 1) * c];
                        mean.iter_mut().for_each(|m| *m = 0.0);
                        for (cc, &pc) in pi.iter().enumerate() {
                            let phi = &self.logit_phi[(t * c + cc) * de..(t * c + cc + 1) * de];
                            for p in 0..de {
                                mean[p] += pc * phi[p];
                                for q in 0..de {
                                    neg_h[(p, q)] += w * pc * phi[p] * phi[q];
                                }
                            }
                        }
                        let y = self.data.class[t];
                        let phi_y = &self.logit_phi[(t * c + y) * de..(t * c + y + 1) * de];
                        for p in 0..de {
                            grad[p] += w * (phi_y[p] - mean[p]);
                            for q in 0..de {
                                neg_h[(p, q)] -= w * mean[p] * mean[q];
                            }
                        }
                    }
                    if let Some(d) = newton_direction(neg_h, grad) {
                        for (p, &q) in self.expert.iter().enumerate() {
                            next_i[q] += d[p];
                        }
                    }
                }
            }
            Model::Regression => {}
        }
        next
    }

    /// Parameters moved by Newton steps (halved when $Q$ falls).
    fn newton_params(&self, k: usize) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = (0..k.saturating_sub(1))
            .flat_map(|i| self.gate.iter().map(move |&q| (i, q)))
            .collect();
        if self.model == Model::Multinomial {
            out.extend((0..k).flat_map(|i| self.expert.iter().map(move |&q| (i, q))));
        }
        out
    }

    /// One generalised EM step from `atoms` (whose E-step is `e`): the M-step, its Newton
    /// parts halved until $Q$ does not fall. `None` at a fixed point (no step increases $Q$).
    fn step(
        &self,
        atoms: &[Vec<f64>],
        e: &Expectation,
        newton: &[(usize, usize)],
    ) -> Option<(Vec<Vec<f64>>, Expectation)> {
        let proposal = self.maximise(atoms, e);
        let mut step = 1.0;
        for _ in 0..30 {
            let mut trial = proposal.clone();
            for &(i, q) in newton {
                trial[i][q] = atoms[i][q] + step * (proposal[i][q] - atoms[i][q]);
            }
            if trial.iter().flatten().all(|v| v.is_finite()) {
                let (e_new, q_old) = self.expect(&trial, Some(&e.r));
                if e_new.ll.is_finite() && q_old >= e.q - 1e-12 * e.q.abs() {
                    return Some((trial, e_new));
                }
                self.recycle_expectation(e_new);
            }
            step *= 0.5;
        }
        None
    }

    /// Whether extrapolated atoms are usable: finite, variances positive.
    fn admissible(&self, atoms: &[Vec<f64>]) -> bool {
        atoms.iter().flatten().all(|v| v.is_finite())
            && self
                .variance
                .is_none_or(|vq| atoms.iter().all(|a| a[vq] > 0.0))
    }

    /// Runs EM from `init`, accelerated by SQUAREM (Varadhan & Roland 2008, scheme S3): two EM
    /// steps $\theta_1 = F(\theta_0)$, $\theta_2 = F(\theta_1)$, with $r = \theta_1 - \theta_0$,
    /// $v = \theta_2 - 2\theta_1 + \theta_0$ and $\alpha = -\|r\|/\|v\|$, jump to
    /// $\theta_0 - 2\alpha r + \alpha^2 v$ and take one more EM step from there. The jump is kept
    /// only when its likelihood is at least that of $\theta_2$ (else $\alpha$ moves toward
    /// $-1$, where the jump is $\theta_2$), so the likelihood never decreases. Over-specified
    /// mixtures converge slowly under plain EM; this cuts the EM steps several times over.
    /// Without `settings.accelerate`, plain (generalised) EM. Iterations count EM steps; the fit stops when a cycle changes the log-likelihood by at
    /// most the tolerance (relative).
    pub(super) fn run(&self, init: Vec<Vec<f64>>, settings: &FitSettings) -> Fit {
        let k = init.len();
        let newton = self.newton_params(k);
        let mut atoms = init;
        let (mut e, _) = self.expect(&atoms, None);
        let mut status = FitStatus::IterationCap;
        let mut iterations = 0;
        if !e.ll.is_finite() {
            status = FitStatus::Failed(format!(
                "the log-likelihood at the initial atoms is {}",
                e.ll
            ));
        }
        let reached = |ll: f64| settings.target.is_some_and(|t| ll >= t);
        if status == FitStatus::IterationCap && reached(e.ll) {
            status = FitStatus::Reached;
        }
        while status == FitStatus::IterationCap && iterations < settings.max_iters {
            let start_ll = e.ll;
            let theta0 = atoms.clone();
            // two EM steps
            let mut fixed_point = false;
            let mut taken = Vec::new();
            let steps = if settings.accelerate { 2 } else { 1 };
            for _ in 0..steps {
                if iterations >= settings.max_iters {
                    break;
                }
                match self.step(&atoms, &e, &newton) {
                    Some((a, e_new)) => {
                        iterations += 1;
                        atoms = a;
                        self.recycle_expectation(std::mem::replace(&mut e, e_new));
                        taken.push(atoms.clone());
                        if reached(e.ll) {
                            break;
                        }
                    }
                    None => {
                        fixed_point = true;
                        break;
                    }
                }
            }
            if settings.accelerate
                && taken.len() == 2
                && iterations < settings.max_iters
                && !reached(e.ll)
            {
                let (t1, t2) = (&taken[0], &taken[1]);
                let flat = |a: &[Vec<f64>]| a.iter().flatten().copied().collect::<Vec<f64>>();
                let (f0, f1, f2) = (flat(&theta0), flat(t1), flat(t2));
                let r: Vec<f64> = f1.iter().zip(&f0).map(|(a, b)| a - b).collect();
                let v: Vec<f64> = f2
                    .iter()
                    .zip(&f1)
                    .zip(&r)
                    .map(|((a, b), r)| a - b - r)
                    .collect();
                let norm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt();
                let (rn, vn) = (norm(&r), norm(&v));
                let mut alpha = if vn > 0.0 { -rn / vn } else { -1.0 };
                while alpha < -1.0 {
                    let jump: Vec<f64> = f0
                        .iter()
                        .zip(&r)
                        .zip(&v)
                        .map(|((x, r), v)| x - 2.0 * alpha * r + alpha * alpha * v)
                        .collect();
                    let jump: Vec<Vec<f64>> =
                        jump.chunks(atoms[0].len()).map(<[f64]>::to_vec).collect();
                    if self.admissible(&jump) {
                        let (e_jump, _) = self.expect(&jump, None);
                        if !(e_jump.ll.is_finite() && e_jump.ll >= e.ll) {
                            self.recycle_expectation(e_jump);
                        } else {
                            // stabilise with one EM step from the jump
                            match self.step(&jump, &e_jump, &newton) {
                                Some((a, e_new)) => {
                                    iterations += 1;
                                    atoms = a;
                                    self.recycle_expectation(std::mem::replace(&mut e, e_new));
                                    self.recycle_expectation(e_jump);
                                }
                                None => {
                                    atoms = jump;
                                    self.recycle_expectation(std::mem::replace(&mut e, e_jump));
                                }
                            }
                            break;
                        }
                    }
                    alpha = (alpha - 1.0) / 2.0;
                    if alpha > -1.0 + 1e-9 {
                        break;
                    }
                }
            }
            let change = (e.ll - start_ll).abs() / start_ll.abs().max(1e-300);
            if reached(e.ll) {
                status = FitStatus::Reached;
            } else if fixed_point || change <= settings.tolerance {
                status = FitStatus::Converged;
            }
        }
        Fit {
            atoms,
            objective: e.ll,
            iterations,
            status,
            method: "em-irls",
        }
    }
}
