//! The directions along which the true mixture does not change (its invariances), found from
//! data, and how far a fit lies along them (docs/theory.md §6).
//!
//! At the truth $\theta^*$ ($k^*$ atoms) the per-sample derivatives of the fitted objective
//! ([`score::rows`]) are stacked into a matrix $S$; a direction $v$ with $S v = 0$ at every
//! sample changes nothing the data can see. The common translation of a normalized gate's
//! affine parameters is such a direction, and the loss already removes it; the others, kept
//! orthonormal and orthogonal to those translations, are the invariances' tangents.
//!
//! A fit's statistical error lies, to first order, in the row space of $S$ (the fit moves along
//! gradients), which is orthogonal to every such tangent: the projection of a fit's deviation
//! on them is what it kept from its start and never learns. For a cell of several fitted atoms
//! the deviation is taken for the cell as a whole: the mass-weighted mean of its atoms'
//! parameters, and the log of their summed weight for the mass.

use super::fit::score;
use super::model::{Layout, MixtureModel};
use crate::case::Role;
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Samples drawn to find the invariances.
pub const SAMPLES: usize = 2000;
/// A singular value of the column-scaled rows below this, relative to the largest, is zero.
pub const NULL: f64 = 1e-8;

/// The invariance tangents at the truth.
#[derive(Clone, Debug)]
pub struct Orbit {
    layout: Layout,
    /// `layout.len()` × $d$, orthonormal columns.
    basis: DMatrix<f64>,
    masses: Vec<usize>,
    roles: Vec<Role>,
    translations: Vec<usize>,
}

/// Standard deviation of a start along each tangent (unit vectors over every atom's
/// parameters), for the fitted sizes whose cells are not identifiable.
pub const START: f64 = 0.2;

impl Orbit {
    /// The tangents of `model` at `truth`, from [`SAMPLES`] samples drawn with `seed`;
    /// `None` when there is none (or data cannot be drawn).
    pub fn new(model: &MixtureModel, truth: &[Vec<f64>], noise: f64, seed: u64) -> Option<Orbit> {
        // the per-sample scores below are the atoms' alone: not measured beside a fixed component
        if model.fixed.is_some() {
            return None;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6f72_6269_7400_0000);
        let data = model.simulate(truth, SAMPLES, noise, &mut rng).ok()?;
        let rows = score::rows(model, &data, truth);
        let layout = model.layout(truth.len());
        let l = layout.len();
        if l == 0 || rows.iter().flatten().any(|v| !v.is_finite()) {
            return None;
        }
        let s = DMatrix::from_fn(rows.len(), l, |t, c| rows[t][c]);
        // Null space of S, with columns scaled to unit norm so that units do not decide.
        let norms: Vec<f64> = (0..l).map(|c| s.column(c).norm()).collect();
        let mut null: Vec<Vec<f64>> = Vec::new();
        let live: Vec<usize> = (0..l).filter(|&c| norms[c] > 0.0).collect();
        for c in (0..l).filter(|c| norms[*c] == 0.0) {
            let mut e = vec![0.0; l];
            e[c] = 1.0;
            null.push(e);
        }
        if !live.is_empty() {
            let scaled = DMatrix::from_fn(rows.len(), live.len(), |t, j| {
                s[(t, live[j])] / norms[live[j]]
            });
            let svd = scaled.svd(false, true);
            let vt = svd.v_t?;
            let top = svd.singular_values.max();
            for (i, sigma) in svd.singular_values.iter().enumerate() {
                if *sigma <= NULL * top {
                    let mut v = vec![0.0; l];
                    for (j, &c) in live.iter().enumerate() {
                        v[c] = vt[(i, j)] / norms[c];
                    }
                    null.push(v);
                }
            }
        }
        // Common translations of a gate parameter across atoms that change nothing (those of a
        // normalized gate's affine parameters, and others such as beta1 under a shared
        // temperature): the loss removes them, the tangents are kept orthogonal to them.
        let null = orthonormal(&null);
        let translation = |v: usize| {
            let mut g = vec![0.0; l];
            for a in 0..layout.k {
                g[layout.index(a, v)] = 1.0;
            }
            g
        };
        let translations: Vec<usize> = if model.normalized {
            model
                .gate_params
                .iter()
                .copied()
                .filter(|&v| model.roles[v] != Role::Shared)
                .filter(|&v| {
                    let g = translation(v);
                    let len = (layout.k as f64).sqrt();
                    let inside: f64 = null
                        .iter()
                        .map(|q| q.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>().powi(2))
                        .sum();
                    (len * len - inside).max(0.0).sqrt() <= 1e-6 * len
                })
                .collect()
        } else {
            Vec::new()
        };
        let gauge = orthonormal(
            &translations
                .iter()
                .map(|&v| translation(v))
                .collect::<Vec<_>>(),
        );
        let projected: Vec<Vec<f64>> = null
            .into_iter()
            .map(|mut v| {
                for g in &gauge {
                    let c: f64 = v.iter().zip(g).map(|(a, b)| a * b).sum();
                    v.iter_mut().zip(g).for_each(|(a, b)| *a -= c * b);
                }
                v
            })
            // (unit vectors before: what is left of a translation is rounding)
            .filter(|v| v.iter().map(|x| x * x).sum::<f64>().sqrt() > 1e-6)
            .collect();
        let basis = orthonormal(&projected);
        if basis.is_empty() {
            return None;
        }
        Some(Orbit {
            basis: DMatrix::from_fn(l, basis.len(), |r, c| basis[c][r]),
            layout,
            masses: model.exp_masses(),
            roles: model.roles.clone(),
            translations,
        })
    }

    /// The gate parameters whose common translation across atoms changes nothing.
    pub fn translations(&self) -> &[usize] {
        &self.translations
    }

    /// Number of independent invariance directions.
    pub fn dim(&self) -> usize {
        self.basis.ncols()
    }

    /// The tangent vectors, one per direction, laid out like the fitted vector of $k^*$ atoms.
    pub fn directions(&self) -> Vec<Vec<f64>> {
        (0..self.dim())
            .map(|c| self.basis.column(c).iter().copied().collect())
            .collect()
    }

    /// The projection of a fit on the tangents, one coordinate per direction: `fitted`
    /// atoms, each assigned to a true atom by `assign`. `None` when a true atom has no fitted
    /// atom. A cell's parameters are the weighted mean of its atoms' (weights $e^{\text{mass}}$,
    /// equal without a mass), its mass the log of their summed weight.
    pub fn coordinates(
        &self,
        truth: &[Vec<f64>],
        fitted: &[Vec<f64>],
        assign: &[usize],
    ) -> Option<Vec<f64>> {
        let log_mass = |a: &[f64]| self.masses.iter().map(|&m| a[m]).sum::<f64>();
        let mut delta = vec![0.0; self.layout.len()];
        for (j, star) in truth.iter().enumerate() {
            let cell: Vec<usize> = (0..fitted.len()).filter(|&i| assign[i] == j).collect();
            if cell.is_empty() {
                return None;
            }
            let logs: Vec<f64> = cell.iter().map(|&i| log_mass(&fitted[i])).collect();
            let lse = super::model::logsumexp(&logs);
            let weights: Vec<f64> = logs.iter().map(|l| (l - lse).exp()).collect();
            let mean = |f: &dyn Fn(&[f64]) -> f64| -> f64 {
                cell.iter()
                    .zip(&weights)
                    .map(|(&i, w)| w * f(&fitted[i]))
                    .sum::<f64>()
            };
            // the log of the cell's summed weight, shared evenly by the mass parameters
            let excess = (lse - mean(&log_mass)) / self.masses.len().max(1) as f64;
            for v in 0..self.layout.p {
                let d = if self.roles[v] == Role::Shared {
                    fitted[0][v] - star[v]
                } else if self.masses.contains(&v) {
                    mean(&|a: &[f64]| a[v]) + excess - star[v]
                } else {
                    mean(&|a: &[f64]| a[v]) - star[v]
                };
                delta[self.layout.index(j, v)] = d;
            }
        }
        let d = nalgebra::DVector::from_vec(delta);
        Some((self.basis.transpose() * d).iter().copied().collect())
    }

    /// The length of [`Orbit::coordinates`] (NaN when a true atom has no fitted atom).
    pub fn coordinate(&self, truth: &[Vec<f64>], fitted: &[Vec<f64>], assign: &[usize]) -> f64 {
        self.coordinates(truth, fitted, assign)
            .map_or(f64::NAN, |c| c.iter().map(|x| x * x).sum::<f64>().sqrt())
    }

    /// Where a start spread along the invariance lies on it: [`START`] times independent
    /// standard normal draws, one per direction, from `seed` alone (so the summary can
    /// recompute it).
    pub fn start(&self, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7374_6172_7400_0000);
        (0..self.dim())
            .map(|_| {
                let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
                let u2: f64 = rng.random_range(0.0..1.0);
                START * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            })
            .collect()
    }

    /// Moves `atoms` (copies of the true atoms `which`) so that their coordinates on the
    /// invariance become `target`: every atom of a cell moves by the same vector, the
    /// combination of the tangents that closes the gap (shared parameters once).
    pub fn place(
        &self,
        truth: &[Vec<f64>],
        atoms: &mut [Vec<f64>],
        which: &[usize],
        target: &[f64],
    ) {
        let Some(now) = self.coordinates(truth, atoms, which) else {
            return;
        };
        let mut delta = vec![0.0; self.layout.len()];
        for (c, (t, x)) in target.iter().zip(&now).enumerate() {
            for (r, d) in delta.iter_mut().enumerate() {
                *d += (t - x) * self.basis[(r, c)];
            }
        }
        for (i, a) in atoms.iter_mut().enumerate() {
            for (v, x) in a.iter_mut().enumerate() {
                if self.roles[v] == Role::Shared {
                    *x += delta[self.layout.index(0, v)];
                } else {
                    *x += delta[self.layout.index(which[i], v)];
                }
            }
        }
    }
}

/// An orthonormal basis of the span of `vectors` (Gram–Schmidt twice, dropping vectors that
/// fall below 1e-6 of their length).
fn orthonormal(vectors: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = Vec::new();
    for v in vectors {
        let len0 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if len0 == 0.0 {
            continue;
        }
        let mut w = v.clone();
        for _ in 0..2 {
            for q in &out {
                let c: f64 = w.iter().zip(q).map(|(a, b)| a * b).sum();
                w.iter_mut().zip(q).for_each(|(a, b)| *a -= c * b);
            }
        }
        let len = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if len > 1e-6 * len0 {
            out.push(w.iter().map(|x| x / len).collect());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Case, Model};

    /// Two atoms of `exp(beta1 x / tau + beta0)` gates and tanh experts, `tau` shared or not.
    fn case(weight: &str, shared_tau: bool) -> Case {
        let mut b = Case::builder("t", Model::Regression)
            .gate(weight, true)
            .mean("tanh(dot(a, x) + b)")
            .vector("beta1", 1)
            .mass("beta0")
            .vector("a", 1)
            .scalar("b");
        let tau: &[(&str, &[f64])] = if !weight.contains("tau") {
            &[]
        } else if shared_tau {
            b = b.shared("tau", 0.5);
            &[]
        } else {
            b = b.scalar("tau");
            &[("tau", &[0.5])]
        };
        let atom = |beta: f64, a: f64, bias: f64| -> Vec<(&str, Vec<f64>)> {
            vec![
                ("beta1", vec![beta]),
                ("beta0", vec![0.2]),
                ("a", vec![a]),
                ("b", vec![bias]),
            ]
        };
        for (beta, a, bias) in [(2.0, 1.5, -0.5), (-1.0, -2.0, 0.3)] {
            let mut v = atom(beta, a, bias);
            v.extend(tau.iter().map(|(n, x)| (*n, x.to_vec())));
            let refs: Vec<(&str, &[f64])> = v.iter().map(|(n, x)| (*n, x.as_slice())).collect();
            b = b.atom(&refs);
        }
        b.build().unwrap()
    }

    #[test]
    fn the_temperature_scaling_is_found_and_nothing_else() {
        // Shared tau: one invariance, scaling every beta1 and tau together, tangent
        // (β1, β1', τ) = (2, −1, 0.5), kept orthogonal to the common translation of beta1
        // (also an invariance, removed by the loss): (1.5, −1.5, 0.5).
        let c = case("exp(dot(beta1, x) / tau + beta0)", true);
        let m = MixtureModel::new(&c);
        let o = Orbit::new(&m, &c.atoms, 0.1, 1).expect("an invariance");
        assert_eq!(o.dim(), 1);
        let d = &o.directions()[0];
        let lay = m.layout(2);
        let tau = m.variables.iter().position(|v| v == "tau").unwrap();
        let want = [
            (lay.index(0, 0), 1.5),
            (lay.index(1, 0), -1.5),
            (lay.index(0, tau), 0.5),
        ];
        let scale = d[want[0].0] / want[0].1;
        for (i, w) in want {
            assert!((d[i] - scale * w).abs() < 1e-6, "{d:?}");
        }
        let rest: f64 = (0..d.len())
            .filter(|i| !want.iter().any(|(j, _)| j == i))
            .map(|i| d[i].abs())
            .sum();
        assert!(rest < 1e-6, "{d:?}");
        assert_eq!(o.translations(), [0, 1]);
        // Without the temperature, the model is identifiable (the translation is not counted).
        let c = case("exp(dot(beta1, x) + beta0)", false);
        let m = MixtureModel::new(&c);
        let o = Orbit::new(&m, &c.atoms, 0.1, 1);
        assert!(o.is_none(), "{:?}", o.map(|o| o.directions()));
    }

    #[test]
    fn a_per_atom_temperature_gives_one_direction_per_atom() {
        let c = case("exp(dot(beta1, x) / tau + beta0)", false);
        let m = MixtureModel::new(&c);
        let o = Orbit::new(&m, &c.atoms, 0.1, 1).expect("invariances");
        assert_eq!(o.dim(), 2);
    }

    #[test]
    fn placing_a_start_reaches_its_target_and_the_truth_is_at_zero() {
        let c = case("exp(dot(beta1, x) / tau + beta0)", true);
        let m = MixtureModel::new(&c);
        let o = Orbit::new(&m, &c.atoms, 0.1, 1).unwrap();
        let truth = &c.atoms;
        assert!(o.coordinate(truth, truth, &[0, 1]) < 1e-12);
        // three atoms: the first true atom split in two with noise
        let which = [0, 1, 0];
        let mut atoms: Vec<Vec<f64>> = which.iter().map(|&j| truth[j].clone()).collect();
        atoms[0][1] -= 2f64.ln();
        atoms[2][1] -= 2f64.ln();
        atoms[2][2] += 0.3;
        atoms[0][0] += 0.1;
        let target = o.start(7);
        assert_eq!(target, o.start(7));
        o.place(truth, &mut atoms, &which, &target);
        let now = o.coordinates(truth, &atoms, &which).unwrap();
        assert!((now[0] - target[0]).abs() < 1e-12, "{now:?} {target:?}");
        // an empty cell has no coordinates
        assert!(o.coordinates(truth, &atoms, &[0, 0, 0]).is_none());
    }
}
