//! Levenberg–Marquardt for nonlinear least squares: the coefficient systems of the local
//! geometry, and least-squares fits of the rate check.
//!
//! Minimises $\tfrac12\|r(x)\|^2$ by damped Gauss–Newton steps
//! $(J^\top J + \lambda\,\mathrm{diag}(J^\top J))\,\delta = -J^\top r$ (Marquardt's scaling),
//! accepting a step when it lowers the residual and adapting $\lambda$ (Nielsen's rule). The
//! problems here are zero-residual when the coefficient system is solvable, so Gauss–Newton
//! converges quadratically there, and a stall far from zero is the evidence of infeasibility.
//!
//! (The `levenberg-marquardt` crate, a MINPACK port, pins nalgebra 0.34: a second copy of
//! nalgebra beside num-dual's 0.35 and conversions at every call. This is 80 lines.)
//!
//! # References
//! Nielsen, H. B. (1999), *Damping parameter in Marquardt's method*, IMM-REP-1999-05.

use nalgebra::{DMatrix, DVector};

/// What a minimisation reached.
#[derive(Clone, Debug, PartialEq)]
pub struct Minimum {
    /// The minimiser found.
    pub x: Vec<f64>,
    /// $\|r(x)\|$ there.
    pub residual: f64,
    /// Iterations used.
    pub iterations: usize,
    /// Whether a stopping rule other than the iteration cap ended it.
    pub converged: bool,
}

/// Stopping rules.
#[derive(Clone, Copy, Debug)]
pub struct Stop {
    /// Stop when $\|r\|$ falls below this.
    pub residual: f64,
    /// Most iterations.
    pub iterations: usize,
    /// Stop when ten accepted steps together lower $\|r\|$ by less than this fraction.
    pub stall: f64,
    /// Stop when, above this residual, fifty accepted steps have not halved it: a start that
    /// creeps that slowly will not reach zero in any reasonable time (0: never).
    pub creeping_above: f64,
    /// Stop (converged) at an accepted step that lowers $\|r\|^2$ by less than this fraction
    /// (0: never).
    pub relative: f64,
}

impl Default for Stop {
    fn default() -> Stop {
        Stop {
            residual: 1e-13,
            iterations: 200,
            stall: 1e-3,
            creeping_above: 0.0,
            relative: 0.0,
        }
    }
}

/// Minimises $\|r(x)\|$ from `x0`. `eval(x)` returns the residual and its Jacobian, or `None`
/// where they are not finite (the step is then refused as if it raised the residual).
pub fn minimise(
    x0: Vec<f64>,
    stop: Stop,
    mut eval: impl FnMut(&[f64]) -> Option<(DVector<f64>, DMatrix<f64>)>,
) -> Minimum {
    minimise_normal(x0, stop, |x| {
        let (r, j) = eval(x)?;
        let jt = j.transpose();
        Some(Normal {
            cost: r.norm_squared(),
            jtj: &jt * &j,
            jtr: &jt * &r,
        })
    })
}

/// A least-squares problem at a point, in normal-equation form: $\|r\|^2$, $J^\top J$,
/// $J^\top r$ (callers with many residuals accumulate these without forming $J$).
pub struct Normal {
    /// $\|r\|^2$.
    pub cost: f64,
    /// $J^\top J$.
    pub jtj: DMatrix<f64>,
    /// $J^\top r$.
    pub jtr: DVector<f64>,
}

/// [`minimise`] on normal equations. [`Minimum::residual`] is $\|r\|$; `stop.stall` also ends
/// the search at the first accepted step that lowers $\|r\|^2$ by less than `stop.relative`
/// of itself (the tolerance of a fit with a nonzero residual).
pub fn minimise_normal(
    x0: Vec<f64>,
    stop: Stop,
    mut eval: impl FnMut(&[f64]) -> Option<Normal>,
) -> Minimum {
    let Some(mut at) = eval(&x0) else {
        return Minimum {
            x: x0,
            residual: f64::INFINITY,
            iterations: 0,
            converged: false,
        };
    };
    let mut x = x0;
    let mut lambda = 1e-3;
    let mut nu = 2.0;
    let mut history: Vec<f64> = vec![at.cost.sqrt()];
    let mut it = 0;
    let mut converged = false;
    while it < stop.iterations && at.cost.sqrt() > stop.residual {
        it += 1;
        let norm = at.cost.sqrt();
        let diag: Vec<f64> = (0..at.jtj.nrows())
            .map(|i| at.jtj[(i, i)].max(1e-12 * (1.0 + at.jtj[(i, i)])))
            .collect();
        let mut damped = at.jtj.clone();
        for (i, d) in diag.iter().enumerate() {
            damped[(i, i)] += lambda * d.max(1e-30);
        }
        let step = match damped.cholesky() {
            Some(c) => -c.solve(&at.jtr),
            None => {
                lambda *= nu;
                nu *= 2.0;
                if lambda > 1e16 {
                    break;
                }
                continue;
            }
        };
        let trial: Vec<f64> = x.iter().zip(step.iter()).map(|(a, b)| a + b).collect();
        let accepted = match eval(&trial) {
            Some(next) if next.cost < at.cost => {
                // Gain ratio of the actual to the predicted reduction (Nielsen).
                let predicted = step.dot(
                    &(step.component_mul(&DVector::from_vec(diag.clone())) * lambda - &at.jtr),
                );
                let rho = (at.cost - next.cost) / predicted.max(1e-300);
                lambda *= (1.0f64 / 3.0).max(1.0 - (2.0 * rho - 1.0).powi(3));
                lambda = lambda.max(1e-15);
                nu = 2.0;
                let gain = (at.cost - next.cost) / at.cost.max(f64::MIN_POSITIVE);
                x = trial;
                at = next;
                if gain < stop.relative {
                    converged = true;
                    break;
                }
                true
            }
            _ => false,
        };
        let norm_now = at.cost.sqrt();
        if accepted {
            history.push(norm_now);
            let h = history.len();
            if h > 10 && history[h - 11] - norm_now < stop.stall * history[h - 11] {
                break;
            }
            if stop.creeping_above > 0.0
                && norm_now > stop.creeping_above
                && h > 50
                && norm_now > 0.5 * history[h - 51]
            {
                break;
            }
        } else {
            lambda *= nu;
            nu *= 2.0;
            if lambda > 1e16 {
                // No step lowers the cost any more: a minimum (to rounding).
                converged = norm > 0.0;
                break;
            }
        }
    }
    let residual = at.cost.sqrt();
    Minimum {
        x,
        residual,
        iterations: it,
        converged: converged || residual <= stop.residual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock_reaches_zero_residual() {
        // r = (10 (y − x²), 1 − x): zero at (1, 1).
        let m = minimise(vec![-1.2, 1.0], Stop::default(), |x| {
            let r = DVector::from_vec(vec![10.0 * (x[1] - x[0] * x[0]), 1.0 - x[0]]);
            let j = DMatrix::from_row_slice(2, 2, &[-20.0 * x[0], 10.0, -1.0, 0.0]);
            Some((r, j))
        });
        assert!(m.residual < 1e-12, "{m:?}");
        assert!((m.x[0] - 1.0).abs() < 1e-10 && (m.x[1] - 1.0).abs() < 1e-10);
    }

    #[test]
    fn an_inconsistent_system_stalls_at_its_least_squares_value() {
        // r = (x − 1, x + 1): minimum ‖r‖ = √2 at x = 0.
        let m = minimise(vec![3.0], Stop::default(), |x| {
            Some((
                DVector::from_vec(vec![x[0] - 1.0, x[0] + 1.0]),
                DMatrix::from_row_slice(2, 1, &[1.0, 1.0]),
            ))
        });
        assert!((m.residual - 2f64.sqrt()).abs() < 1e-9, "{m:?}");
        assert!(m.x[0].abs() < 1e-6);
    }
}
