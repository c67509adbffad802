//! The gate's own parameters and the derivatives of its log-weight: what the gauge of a
//! normalized gate is made of (docs/theory.md §3). Adding one function $g(x)$ to every atom's
//! log-weight leaves the normalized gate unchanged; a move of the gate parameters does that
//! when $\sum_v \delta\theta_{jv}\,\partial_v \log w_j(x)$ is the same function for every atom $j$.

use super::{Design, SamplePoints};
use crate::case::Role;
use nalgebra::DMatrix;

impl Design {
    /// The parameters of the gate alone: in the weight, in no expert output, not shared.
    pub fn gate_only(&self) -> Vec<usize> {
        let weight = self.compiled.weight.params();
        (0..self.n_vars())
            .filter(|&v| weight.contains(v) && self.roles[v] != Role::Shared)
            .filter(|&v| !self.compiled.output.iter().any(|t| t.params().contains(v)))
            .collect()
    }

    /// $\partial \log w / \partial\theta_v$ for each of `vars` (columns) at every sample point
    /// (rows), at the parameter vector `theta`. `None` where a weight is zero or not finite.
    pub fn log_weight_gradient(
        &self,
        points: &SamplePoints,
        theta: &[f64],
        vars: &[usize],
    ) -> Option<DMatrix<f64>> {
        let (mut inputs, mut values, mut adjoints) = (Vec::new(), Vec::new(), Vec::new());
        let mut grad = vec![0.0; theta.len()];
        let mut out = DMatrix::zeros(points.len(), vars.len());
        for i in 0..points.len() {
            inputs.clear();
            points.fill_inputs(i, super::PLAIN, &mut inputs);
            let w = self.compiled.weight.gradient(
                &inputs,
                theta,
                &mut values,
                &mut adjoints,
                &mut grad,
            );
            if !w.is_finite() || w == 0.0 {
                return None;
            }
            for (c, &v) in vars.iter().enumerate() {
                out[(i, c)] = grad[v] / w;
            }
        }
        out.iter().all(|x| x.is_finite()).then_some(out)
    }
}

impl Design {
    /// $\partial^2 \log w / \partial\theta_a \partial\theta_b$ for every pair of `vars` at every
    /// sample point, at `theta`: one `vars × vars` matrix per point. `None` where a weight is
    /// zero or not finite.
    pub fn log_weight_hessian(
        &self,
        points: &SamplePoints,
        theta: &[f64],
        vars: &[usize],
    ) -> Option<Vec<DMatrix<f64>>> {
        use crate::expr::Derivative;
        use num_dual::HyperDual64;
        let l = self.log_weight_gradient(points, theta, vars)?;
        let n = vars.len();
        let mut out = vec![DMatrix::zeros(n, n); points.len()];
        let mut slots = Vec::new();
        let mut inputs = Vec::new();
        for a in 0..n {
            for b in a..n {
                let alpha = super::MultiIndex::new(vec![vars[a] as u16, vars[b] as u16]);
                let seeded: Vec<HyperDual64> = super::seed(theta, &alpha);
                for (i, h) in out.iter_mut().enumerate() {
                    points.fill_inputs(i, super::PLAIN, &mut inputs);
                    let x: Vec<HyperDual64> =
                        inputs.iter().map(|&v| HyperDual64::from(v)).collect();
                    let w = self.compiled.weight.eval(&x, &seeded, &mut slots);
                    let v = w.top() / w.re - l[(i, a)] * l[(i, b)];
                    if !v.is_finite() {
                        return None;
                    }
                    h[(a, b)] = v;
                    h[(b, a)] = v;
                }
            }
        }
        Some(out)
    }
}
