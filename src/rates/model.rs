//! The mixture model being fitted: $k$ atoms of the case's gate and expert.
//!
//! Each atom $i$ has the case's parameter vector $\theta_i$ (shared entries equal across atoms).
//! The fitted parameters are laid out as one flat vector: every atom's non-shared entries, then
//! the shared ones once ([`Layout`]). The gate enters through the log-weight
//! $\ell_i(x) = \log w(x; \theta_i)$ (compiled from the argument of `exp(...)` when the weight is
//! written so, which keeps softmax gates free of overflow); normalized gates use
//! $g_i = e^{\ell_i} / \sum_j e^{\ell_j}$, unnormalized ones $g_i = e^{\ell_i}$.
//!
//! A `[fixed]` component ([`FixedPart`]) is a known function of $x$ (and $y$): inside the gate its
//! log-weight joins the normalization as one more component; mixed outside with a share
//! $\lambda$, $f = \lambda f_0 + (1 - \lambda) f_G$, the share is estimated through
//! $\eta = \operatorname{logit} \lambda$, a shared pseudo-parameter appended to $\theta$ and named
//! [`SHARE`].
//!
//! Gradients come from reverse mode on the tapes ([`Tape::gradient`]).

use crate::case::{Case, Model, Role};
use crate::expr::Tape;
use crate::model::Compiled;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Where each fitted parameter lives in the flat vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Number of atoms.
    pub k: usize,
    /// Scalar parameters per atom ($P$).
    pub p: usize,
    /// Indices (in $\theta$) of the per-atom parameters.
    pub own: Vec<usize>,
    /// Indices (in $\theta$) of the shared parameters.
    pub shared: Vec<usize>,
}

impl Layout {
    /// Length of the flat vector.
    pub fn len(&self) -> usize {
        self.k * self.own.len() + self.shared.len()
    }

    /// Whether there is nothing to fit.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Position in the flat vector of $\theta_{i,v}$.
    pub fn index(&self, atom: usize, v: usize) -> usize {
        match self.own.iter().position(|&o| o == v) {
            Some(j) => atom * self.own.len() + j,
            None => self.k * self.own.len() + self.shared.iter().position(|&s| s == v).unwrap_or(0),
        }
    }

    /// The atoms' full parameter vectors from a flat vector.
    pub fn atoms(&self, flat: &[f64]) -> Vec<Vec<f64>> {
        (0..self.k)
            .map(|i| (0..self.p).map(|v| flat[self.index(i, v)]).collect())
            .collect()
    }

    /// The flat vector of `atoms` (shared entries taken from the first atom).
    pub fn flatten(&self, atoms: &[Vec<f64>]) -> Vec<f64> {
        let mut out = vec![0.0; self.len()];
        for (i, a) in atoms.iter().enumerate() {
            for v in 0..self.p {
                out[self.index(i, v)] = a[v];
            }
        }
        out
    }
}

/// $\log \sum_i e^{a_i}$.
pub fn logsumexp(a: &[f64]) -> f64 {
    let m = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + a.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// The name of $\eta = \operatorname{logit} \lambda$, the estimated share of a fixed component mixed
/// outside the gate (a dot keeps it apart from every parameter name).
pub const SHARE: &str = "fixed.logit_share";

/// A known component beside the atoms (`[fixed]`): functions of $x$ only.
#[derive(Clone, Debug)]
pub struct FixedPart {
    /// $\log w_0(x)$ when it sits inside the gate.
    pub log_weight: Option<Tape>,
    /// When it is mixed outside the gate: the index of $\eta$ in $\theta$ and the true share
    /// $\lambda^*$.
    pub share: Option<(usize, f64)>,
    /// Its mean (regression, gaussian).
    pub mean: Option<Tape>,
    /// Its variance (gaussian).
    pub variance: Option<Tape>,
    /// Its class logits (multinomial).
    pub logits: Vec<Tape>,
}

/// $\sigma(\eta)$.
pub fn sigmoid(eta: f64) -> f64 {
    1.0 / (1.0 + (-eta).exp())
}

/// The compiled pieces of the case, for fitting and simulation.
#[derive(Clone, Debug)]
pub struct MixtureModel {
    /// The observation model.
    pub model: Model,
    /// Whether the gate is normalized.
    pub normalized: bool,
    /// Input dimension.
    pub dim: usize,
    /// Input box.
    pub low: f64,
    /// Input box.
    pub high: f64,
    /// $\ell(x; \theta) = \log w$.
    pub log_weight: Tape,
    /// Expert mean (regression, gaussian).
    pub mean: Option<Tape>,
    /// Expert variance (gaussian).
    pub variance: Option<Tape>,
    /// Class logits (multinomial).
    pub logits: Vec<Tape>,
    /// Parameter names.
    pub variables: Vec<String>,
    /// Parameter roles.
    pub roles: Vec<Role>,
    /// Parameters each piece depends on: gate, expert.
    pub gate_params: Vec<usize>,
    /// See `gate_params`.
    pub expert_params: Vec<usize>,
    /// The `[fixed]` component, if any.
    pub fixed: Option<FixedPart>,
}

fn params_of(t: &Tape, p: usize) -> Vec<usize> {
    (0..p).filter(|&v| t.params().contains(v)).collect()
}

impl MixtureModel {
    /// Compiles the case ([`Compiled::new`]; validated on load, so compilation cannot fail).
    pub fn new(case: &Case) -> MixtureModel {
        MixtureModel::from_compiled(&Compiled::new(case))
    }

    /// The fitted model over the case's one compilation: its log-weight and expert tapes, and
    /// the share of a fixed component mixed outside the gate as one more shared parameter.
    pub fn from_compiled(compiled: &Compiled) -> MixtureModel {
        let log_weight = compiled.log_weight.clone();
        let p = compiled.variables.len();
        let mean = compiled.mean.clone();
        let variance = compiled.variance.clone();
        let logits = compiled.logits.clone();
        let gate_params = params_of(&log_weight, p);
        let mut expert_params: Vec<usize> = Vec::new();
        for t in mean.iter().chain(&variance).chain(&logits) {
            for v in params_of(t, p) {
                if !expert_params.contains(&v) {
                    expert_params.push(v);
                }
            }
        }
        expert_params.sort_unstable();
        let mut variables = compiled.variables.clone();
        let mut roles = compiled.roles.clone();
        let fixed = compiled.fixed.as_ref().map(|f| FixedPart {
            log_weight: f.log_weight.clone(),
            share: f.proportion.map(|l| (p, l)),
            mean: f.mean.clone(),
            variance: f.variance.clone(),
            logits: f.logits.clone(),
        });
        if fixed.as_ref().is_some_and(|f| f.share.is_some()) {
            variables.push(SHARE.into());
            roles.push(Role::Shared);
        }
        MixtureModel {
            model: compiled.model,
            normalized: compiled.normalized,
            dim: compiled.dim,
            low: compiled.low,
            high: compiled.high,
            log_weight,
            mean,
            variance,
            logits,
            variables,
            roles,
            gate_params,
            expert_params,
            fixed,
        }
    }

    /// The true atoms in this model's parameter vectors: the case's, with
    /// $\eta^* = \operatorname{logit} \lambda^*$ appended when a fixed component's share is
    /// estimated.
    pub fn truth(&self, atoms: &[Vec<f64>]) -> Vec<Vec<f64>> {
        match self.fixed.as_ref().and_then(|f| f.share) {
            Some((_, l)) => atoms
                .iter()
                .map(|a| {
                    let mut a = a.clone();
                    a.push((l / (1.0 - l)).ln());
                    a
                })
                .collect(),
            None => atoms.to_vec(),
        }
    }

    /// The share $\lambda = \sigma(\eta)$ of a fixed component mixed outside the gate, at `theta`.
    pub fn share(&self, theta: &[f64]) -> Option<f64> {
        let (v, _) = self.fixed.as_ref()?.share?;
        theta.get(v).map(|&e| sigmoid(e))
    }

    /// $\log w_0(x)$ of a fixed component inside the gate (`theta` only supplies the scalar type;
    /// the component has no parameters).
    pub fn fixed_log_weight(
        &self,
        x: &[f64],
        theta: &[f64],
        scratch: &mut Vec<f64>,
    ) -> Option<f64> {
        let t = self.fixed.as_ref()?.log_weight.as_ref()?;
        Some(t.eval(x, theta, scratch))
    }

    /// The layout for `k` atoms.
    pub fn layout(&self, k: usize) -> Layout {
        let p = self.variables.len();
        Layout {
            k,
            p,
            own: (0..p).filter(|&v| self.roles[v] != Role::Shared).collect(),
            shared: (0..p).filter(|&v| self.roles[v] == Role::Shared).collect(),
        }
    }

    /// Parameters $v$ with $\partial \ell / \partial \theta_v \equiv 1$ (an exponential mass:
    /// the weight is $e^{\theta_v}$ times the rest) that no expert uses.
    pub fn exp_masses(&self) -> Vec<usize> {
        let p = self.variables.len();
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let (mut v, mut a, mut g) = (Vec::new(), Vec::new(), vec![0.0; p]);
        let mut ones: Vec<usize> = self
            .gate_params
            .iter()
            .copied()
            .filter(|q| !self.expert_params.contains(q))
            .collect();
        for _ in 0..6 {
            let x: Vec<f64> = (0..self.dim)
                .map(|_| rng.random_range(self.low..self.high))
                .collect();
            let t: Vec<f64> = (0..p).map(|_| rng.random_range(0.2..1.2)).collect();
            self.log_weight.gradient(&x, &t, &mut v, &mut a, &mut g);
            ones.retain(|&q| (g[q] - 1.0).abs() < 1e-12);
        }
        ones
    }

    /// Gate parameters that enter the log-weight affinely with coefficients free of $\theta$:
    /// for a normalized gate, a common translation of them across atoms changes nothing.
    pub fn translation_params(&self) -> Vec<usize> {
        // a fixed component inside the gate is a reference: no common translation is free
        if !self.normalized || self.fixed.as_ref().is_some_and(|f| f.log_weight.is_some()) {
            return Vec::new();
        }
        let p = self.variables.len();
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let (mut v, mut a) = (Vec::new(), Vec::new());
        let (mut g1, mut g2) = (vec![0.0; p], vec![0.0; p]);
        let mut keep: Vec<usize> = self
            .gate_params
            .iter()
            .copied()
            .filter(|q| !self.expert_params.contains(q) && self.roles[*q] != Role::Shared)
            .collect();
        for _ in 0..6 {
            let x: Vec<f64> = (0..self.dim)
                .map(|_| rng.random_range(self.low..self.high))
                .collect();
            let t1: Vec<f64> = (0..p).map(|_| rng.random_range(0.5..1.5)).collect();
            let t2: Vec<f64> = (0..p).map(|_| rng.random_range(-1.5..-0.5)).collect();
            self.log_weight.gradient(&x, &t1, &mut v, &mut a, &mut g1);
            self.log_weight.gradient(&x, &t2, &mut v, &mut a, &mut g2);
            keep.retain(|&q| (g1[q] - g2[q]).abs() <= 1e-12 * (1.0 + g1[q].abs()));
        }
        keep
    }

    /// Whether `tape` is affine in the parameters it uses, with coefficients that do not depend on
    /// them (checked at random inputs and parameters: the gradient does not move with $\theta$).
    pub fn is_affine(&self, tape: &Tape, seed: u64) -> bool {
        let p = self.variables.len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut v, mut a) = (Vec::new(), Vec::new());
        let (mut g1, mut g2) = (vec![0.0; p], vec![0.0; p]);
        for _ in 0..6 {
            let x: Vec<f64> = (0..self.dim)
                .map(|_| rng.random_range(self.low..self.high))
                .collect();
            let t1: Vec<f64> = (0..p).map(|_| rng.random_range(0.5..1.5)).collect();
            let t2: Vec<f64> = (0..p).map(|_| rng.random_range(-1.5..-0.5)).collect();
            tape.gradient(&x, &t1, &mut v, &mut a, &mut g1);
            tape.gradient(&x, &t2, &mut v, &mut a, &mut g2);
            if g1
                .iter()
                .zip(&g2)
                .any(|(a, b)| (a - b).abs() > 1e-12 * (1.0 + a.abs()))
            {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(weight: &str, mean: &str, normalized: bool) -> Case {
        Case::builder("t", Model::Regression)
            .gate(weight, normalized)
            .mean(mean)
            .vector("beta1", 1)
            .mass("beta0")
            .vector("a", 1)
            .scalar("b")
            .atom(&[
                ("beta1", &[2.0]),
                ("beta0", &[0.5]),
                ("a", &[1.5]),
                ("b", &[-0.5]),
            ])
            .atom(&[
                ("beta1", &[-1.0]),
                ("beta0", &[0.0]),
                ("a", &[-2.0]),
                ("b", &[0.3]),
            ])
            .build()
            .unwrap()
    }

    #[test]
    fn log_weight_of_an_exp_gate_is_its_argument() {
        let m = MixtureModel::new(&case("exp(dot(beta1, x) + beta0)", "dot(a, x) + b", true));
        let l: f64 = m
            .log_weight
            .eval(&[0.5], &[2.0, 0.5, 1.5, -0.5], &mut Vec::new());
        assert!((l - 1.5).abs() < 1e-15);
        assert!(m.is_affine(&m.log_weight, 1));
        assert!(m.is_affine(m.mean.as_ref().unwrap(), 1));
        assert_eq!(
            (m.gate_params.clone(), m.expert_params.clone()),
            (vec![0, 1], vec![2, 3])
        );
        assert_eq!(m.exp_masses(), [1]);
        assert_eq!(m.translation_params(), [0, 1]);
        let m = MixtureModel::new(&case(
            "sigmoid(dot(beta1, x) + beta0)",
            "tanh(dot(a, x) + b)",
            false,
        ));
        assert!(!m.is_affine(&m.log_weight, 1));
        assert!(!m.is_affine(m.mean.as_ref().unwrap(), 1));
    }

    #[test]
    fn layout_round_trip() {
        let c = Case::builder("t", Model::Regression)
            .gate("exp(dot(beta1, x) / tau + beta0)", true)
            .mean("dot(a, x) + b")
            .vector("beta1", 1)
            .mass("beta0")
            .shared("tau", 0.5)
            .vector("a", 1)
            .scalar("b")
            .atom(&[
                ("beta1", &[2.0]),
                ("beta0", &[0.5]),
                ("a", &[1.5]),
                ("b", &[-0.5]),
            ])
            .atom(&[
                ("beta1", &[-1.0]),
                ("beta0", &[0.0]),
                ("a", &[-2.0]),
                ("b", &[0.3]),
            ])
            .build()
            .unwrap();
        let m = MixtureModel::new(&c);
        let l = m.layout(3);
        assert_eq!(l.len(), 3 * 4 + 1);
        let atoms = vec![c.atoms[0].clone(), c.atoms[1].clone(), c.atoms[0].clone()];
        assert_eq!(l.atoms(&l.flatten(&atoms)), atoms);
    }

    #[test]
    fn the_fits_and_the_family_read_one_compilation() {
        let c = case("exp(dot(beta1, x) + beta0)", "dot(a, x) + b", true);
        let compiled = Compiled::new(&c);
        let fitted = MixtureModel::from_compiled(&compiled);
        let design = crate::family::Design::from_compiled(compiled.clone());
        assert_eq!(fitted.log_weight, compiled.log_weight);
        assert_eq!(fitted.mean, compiled.mean);
        assert_eq!(design.compiled().weight, compiled.weight);
        assert_eq!(design.compiled().output, compiled.output);
        assert_eq!(
            (&design.variables, &design.roles),
            (&fitted.variables, &fitted.roles)
        );
    }
}
