//! Data drawn from the true model: $x$ uniform on the input box; regression
//! $y = f(x) + \varepsilon$ with Gaussian noise; gaussian and multinomial models draw the
//! expert from the gate probabilities, then $y$ from it.

use super::model::{logsumexp, MixtureModel};
use crate::case::Model;
use crate::expr::Tape;
use rand::{Rng, RngExt};

/// A sample $(x_t, y_t)_{t \le n}$.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    /// Input dimension.
    pub dim: usize,
    /// $x$, row after row.
    pub x: Vec<f64>,
    /// $y$ (regression, gaussian).
    pub y: Vec<f64>,
    /// Class (multinomial).
    pub class: Vec<usize>,
}

impl Data {
    /// $n$.
    pub fn len(&self) -> usize {
        self.x.len() / self.dim.max(1)
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    pub(crate) fn x(&self, t: usize) -> &[f64] {
        &self.x[t * self.dim..(t + 1) * self.dim]
    }
}

fn normal(rng: &mut impl Rng) -> f64 {
    // Box–Muller
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Why data cannot be drawn.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimulationError {
    /// A gaussian or multinomial mixture whose gate weights do not sum to one.
    #[error("a gaussian or multinomial mixture needs weights that sum to one: set `gate.normalized = true` (rate checks of unnormalized gates support regression models)")]
    Unnormalized,
    /// A Gaussian component's variance is not positive at a sample.
    #[error("the variance of {component} is {value} at sample {sample} (x = {x:?})")]
    Variance {
        /// `atom 2` or `the fixed component`.
        component: String,
        /// The variance.
        value: f64,
        /// The sample.
        sample: usize,
        /// Its input.
        x: Vec<f64>,
    },
    /// A simulated response is not finite.
    #[error("the simulated response is not finite at sample {sample} (x = {x:?})")]
    NotFinite {
        /// The sample.
        sample: usize,
        /// Its input.
        x: Vec<f64>,
    },
}

impl MixtureModel {
    /// Gate probabilities $g_i(x)$ of `atoms` at `x` (normalized or not).
    fn gates(&self, x: &[f64], atoms: &[Vec<f64>], scratch: &mut Vec<f64>) -> Vec<f64> {
        let l: Vec<f64> = atoms
            .iter()
            .map(|a| self.log_weight.eval(x, a, scratch))
            .collect();
        if self.normalized {
            let z = logsumexp(&l);
            l.iter().map(|v| (v - z).exp()).collect()
        } else {
            l.iter().map(|v| v.exp()).collect()
        }
    }

    /// The weights of the mixture's components at `x`: one per atom, then the fixed
    /// component's when there is one (inside the gate it joins the normalization; outside, its
    /// share $\lambda$ and $(1 - \lambda)$ times the gate).
    pub(crate) fn components(
        &self,
        x: &[f64],
        atoms: &[Vec<f64>],
        scratch: &mut Vec<f64>,
    ) -> Vec<f64> {
        let Some(fixed) = &self.fixed else {
            return self.gates(x, atoms, scratch);
        };
        if let Some(l) = self.share(&atoms[0]) {
            let mut g = self.gates(x, atoms, scratch);
            g.iter_mut().for_each(|v| *v *= 1.0 - l);
            g.push(l);
            return g;
        }
        let mut l: Vec<f64> = atoms
            .iter()
            .map(|a| self.log_weight.eval(x, a, scratch))
            .collect();
        l.push(
            fixed
                .log_weight
                .as_ref()
                .map_or(f64::NAN, |t| t.eval(x, &atoms[0], scratch)),
        );
        if self.normalized {
            let z = logsumexp(&l);
            l.iter().map(|v| (v - z).exp()).collect()
        } else {
            l.iter().map(|v| v.exp()).collect()
        }
    }

    /// The tapes of component `c` (an atom, or the fixed component after the atoms) and the
    /// parameters to evaluate them at.
    fn component<'a>(
        &'a self,
        c: usize,
        atoms: &'a [Vec<f64>],
    ) -> (Option<&'a Tape>, Option<&'a Tape>, &'a [Tape], &'a [f64]) {
        match (&self.fixed, c < atoms.len()) {
            (Some(f), false) => (f.mean.as_ref(), f.variance.as_ref(), &f.logits, &atoms[0]),
            _ => (
                self.mean.as_ref(),
                self.variance.as_ref(),
                &self.logits,
                &atoms[c.min(atoms.len() - 1)],
            ),
        }
    }

    /// Draws $n$ samples from the model with `atoms` (regression noise sd `noise`).
    ///
    /// # Errors
    /// A non-finite value, or an unnormalized gate with a probability model (its weights do
    /// not sum to one, so the mixture is not a distribution).
    pub fn simulate(
        &self,
        atoms: &[Vec<f64>],
        n: usize,
        noise: f64,
        rng: &mut impl Rng,
    ) -> Result<Data, SimulationError> {
        if self.model != Model::Regression && !self.normalized {
            return Err(SimulationError::Unnormalized);
        }
        let mut data = Data {
            dim: self.dim,
            x: Vec::with_capacity(n * self.dim),
            y: Vec::with_capacity(n),
            class: Vec::new(),
        };
        let mut scratch = Vec::new();
        for sample in 0..n {
            let x: Vec<f64> = (0..self.dim)
                .map(|_| rng.random_range(self.low..self.high))
                .collect();
            let g = self.components(&x, atoms, &mut scratch);
            match self.model {
                Model::Regression => {
                    let mut f = 0.0;
                    for (c, gc) in g.iter().enumerate() {
                        let (mean, _, _, theta) = self.component(c, atoms);
                        let mean = mean.expect("regression has a mean");
                        f += gc * mean.eval(&x, theta, &mut scratch);
                    }
                    data.y.push(f + noise * normal(rng));
                }
                Model::Gaussian | Model::Multinomial => {
                    let u: f64 = rng.random_range(0.0..1.0);
                    let mut acc = 0.0;
                    let mut l = g.len() - 1;
                    for (i, gi) in g.iter().enumerate() {
                        acc += gi;
                        if u < acc {
                            l = i;
                            break;
                        }
                    }
                    let (mean, variance, logits, theta) = self.component(l, atoms);
                    if self.model == Model::Gaussian {
                        let m = mean
                            .expect("gaussian has a mean")
                            .eval(&x, theta, &mut scratch);
                        let v = variance.expect("gaussian has a variance").eval(
                            &x,
                            theta,
                            &mut scratch,
                        );
                        if v.is_nan() || v <= 0.0 {
                            return Err(SimulationError::Variance {
                                component: if l < atoms.len() {
                                    format!("atom {}", l + 1)
                                } else {
                                    "the fixed component".into()
                                },
                                value: v,
                                sample,
                                x,
                            });
                        }
                        data.y.push(m + v.sqrt() * normal(rng));
                    } else {
                        let logits: Vec<f64> = logits
                            .iter()
                            .map(|t| t.eval(&x, theta, &mut scratch))
                            .collect();
                        let z = logsumexp(&logits);
                        let u: f64 = rng.random_range(0.0..1.0);
                        let mut acc = 0.0;
                        let mut s = logits.len() - 1;
                        for (c, lc) in logits.iter().enumerate() {
                            acc += (lc - z).exp();
                            if u < acc {
                                s = c;
                                break;
                            }
                        }
                        data.class.push(s);
                        data.y.push(s as f64);
                    }
                }
            }
            if data.y.last().is_some_and(|v| !v.is_finite()) {
                return Err(SimulationError::NotFinite { sample, x });
            }
            data.x.extend(x);
        }
        Ok(data)
    }
}
