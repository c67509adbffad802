//! Data drawn from the true model: $x$ uniform on the input box; regression
//! $y = f(x) + \varepsilon$ with Gaussian noise; gaussian and multinomial models draw the
//! expert from the gate probabilities, then $y$ from it.

use super::model::{logsumexp, MixtureModel};
use crate::case::Model;
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
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationError(pub String);

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
            return Err(SimulationError(
                "a gaussian or multinomial mixture needs weights that sum to one: set `gate.normalized = true` (rate checks of unnormalized gates support regression models)".into(),
            ));
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
            let g = self.gates(&x, atoms, &mut scratch);
            match self.model {
                Model::Regression => {
                    let mean = self.mean.as_ref().expect("regression has a mean");
                    let f: f64 = g
                        .iter()
                        .zip(atoms)
                        .map(|(gi, a)| gi * mean.eval(&x, a, &mut scratch))
                        .sum();
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
                    if self.model == Model::Gaussian {
                        let m = self.mean.as_ref().expect("gaussian has a mean").eval(
                            &x,
                            &atoms[l],
                            &mut scratch,
                        );
                        let v = self
                            .variance
                            .as_ref()
                            .expect("gaussian has a variance")
                            .eval(&x, &atoms[l], &mut scratch);
                        if v.is_nan() || v <= 0.0 {
                            return Err(SimulationError(format!(
                                "the variance of atom {} is {v} at sample {sample} (x = {x:?})",
                                l + 1
                            )));
                        }
                        data.y.push(m + v.sqrt() * normal(rng));
                    } else {
                        let logits: Vec<f64> = self
                            .logits
                            .iter()
                            .map(|t| t.eval(&x, &atoms[l], &mut scratch))
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
                return Err(SimulationError(format!(
                    "the simulated response is not finite at sample {sample} (x = {x:?})"
                )));
            }
            data.x.extend(x);
        }
        Ok(data)
    }
}
