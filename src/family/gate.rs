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
        let weight = self.weight.params();
        (0..self.n_vars())
            .filter(|&v| weight.contains(v) && self.roles[v] != Role::Shared)
            .filter(|&v| !self.output.iter().any(|t| t.params().contains(v)))
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
            let w = self
                .weight
                .gradient(&inputs, theta, &mut values, &mut adjoints, &mut grad);
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
