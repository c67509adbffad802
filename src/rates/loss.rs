//! Voronoi losses between a fitted mixture and the truth (docs/theory.md §6).
//!
//! Every fitted atom is assigned to its nearest true atom (Euclidean distance over the
//! comparable parameters: per-atom, not masses), which splits the fitted atoms into Voronoi
//! cells $A_j$. With mixture weights $p_i$ (from the exponential masses, normalized for a
//! normalized gate; 1 without a mass),
//!
//! $$D = \sum_j \Big|\sum_{i \in A_j} p_i - p^*_j\Big| + \sum_{|A_j| = 1} \sum_{i \in A_j} p_i
//! \|\Delta\theta_i\| + \sum_{|A_j| > 1} \sum_{i \in A_j} p_i \sum_v |\Delta\theta_{iv}|^{e_v}
//! + \sum_{\text{shared}} |\Delta\theta_v|,$$
//!
//! with exponents $e_v$ (default 2) for over-specified cells. A normalized gate is identified only
//! up to a common translation of the parameters entering its log-weight affinely: before
//! comparing, the fitted atoms are shifted by the weighted mean offset $c = \sum_i p_i
//! (\theta_i - \theta^*_{j(i)}) / \sum_i p_i$ on those parameters, alternating with the assignment.
//! (The peer implementation compares unaligned gates, so a fit that duplicates its reference
//! expert shows a loss near 1 at every $n$.)
//!
//! Per-group losses restrict the sums to the gate's parameters, the expert's, the mass term and
//! the shared parameters.

use super::model::MixtureModel;
use super::orbit::Orbit;
use crate::case::Role;
use std::collections::BTreeMap;

/// The loss and its parts.
#[derive(Clone, Debug, PartialEq)]
pub struct Loss {
    /// $D$.
    pub total: f64,
    /// Per group: `mass`, `gate`, `expert`, `shared` (only groups that exist).
    pub groups: BTreeMap<String, f64>,
    /// Number of fitted atoms in each true atom's cell.
    pub cells: Vec<usize>,
    /// Per comparable parameter (index into $\theta$), $\max_i |\Delta\theta_{iv}|$ over the
    /// atoms of the largest cells (the over-specified ones when there are any): the error the
    /// local geometry predicts a rate for.
    pub errors: BTreeMap<usize, f64>,
    /// Per comparable parameter, the largest spread $\max_i\theta_{iv} - \min_i\theta_{iv}$
    /// within a cell of several atoms (0 without one): how far split atoms stay apart.
    pub spreads: BTreeMap<usize, f64>,
    /// The smallest mass of an atom in a cell of several atoms, relative to its true atom's
    /// mass (1 without such a cell).
    pub lightest: f64,
    /// With an [`Orbit`]: where the fit lies along the invariances ([`Orbit::coordinates`];
    /// `None` also when a true atom has no fitted atom).
    pub orbit: Option<Vec<f64>>,
}

/// What the loss compares, fixed per model.
#[derive(Clone, Debug)]
pub struct LossSpec {
    masses: Vec<usize>,
    comparable: Vec<usize>,
    translation: Vec<usize>,
    shared: Vec<usize>,
    gate: Vec<usize>,
    expert: Vec<usize>,
    /// `exponents[m - 2][v]`: exponent of parameter $v$ in cells of $m \ge 2$ atoms (the last
    /// row serves larger cells).
    exponents: Vec<Vec<f64>>,
    normalized: bool,
    /// A fixed component inside the gate: masses are normalized with its weight, taken as 1
    /// (exact for the softmax reference `weight = "1"`).
    reference: bool,
    /// The estimated share of a fixed component outside the gate ($\eta$, a shared entry): its
    /// error is reported with the parameters'.
    share: Option<usize>,
    orbit: Option<Orbit>,
}

impl LossSpec {
    /// The comparable parameters (per-atom, not masses, not shared), indices into $\theta$.
    pub fn comparable(&self) -> &[usize] {
        &self.comparable
    }

    /// The spec for `model`. Over-specified cells of $m$ atoms use, per parameter, the
    /// exponent `user` gives by name (`beta1[0]`) or base name (`beta1`), else `computed[m - 2]`
    /// (the local geometry's $s$), else 2.
    pub fn new(
        model: &MixtureModel,
        user: &BTreeMap<String, f64>,
        computed: &[BTreeMap<String, f64>],
    ) -> LossSpec {
        let p = model.variables.len();
        let masses = model.exp_masses();
        let shared: Vec<usize> = (0..p).filter(|&v| model.roles[v] == Role::Shared).collect();
        let comparable: Vec<usize> = (0..p)
            .filter(|v| !masses.contains(v) && !shared.contains(v))
            .collect();
        let translation: Vec<usize> = model
            .translation_params()
            .into_iter()
            .filter(|v| comparable.contains(v))
            .collect();
        let empty = [BTreeMap::new()];
        let rows = if computed.is_empty() {
            &empty[..]
        } else {
            computed
        };
        let exps = rows
            .iter()
            .map(|row| {
                model
                    .variables
                    .iter()
                    .map(|name| {
                        let base = name.split('[').next().unwrap_or(name);
                        user.get(name)
                            .or_else(|| user.get(base))
                            .or_else(|| row.get(name))
                            .copied()
                            .unwrap_or(2.0)
                    })
                    .collect()
            })
            .collect();
        LossSpec {
            gate: comparable
                .iter()
                .copied()
                .filter(|v| model.gate_params.contains(v))
                .collect(),
            expert: comparable
                .iter()
                .copied()
                .filter(|v| !model.gate_params.contains(v))
                .collect(),
            masses,
            comparable,
            translation,
            shared,
            exponents: exps,
            normalized: model.normalized,
            reference: model.fixed.as_ref().is_some_and(|f| f.log_weight.is_some()),
            share: model.fixed.as_ref().and_then(|f| f.share).map(|(v, _)| v),
            orbit: None,
        }
    }

    /// The invariances the spec measures along, if any.
    pub fn orbit(&self) -> Option<&Orbit> {
        self.orbit.as_ref()
    }

    /// The same spec, also measuring how far fits lie along `orbit`'s invariances.
    /// Its common translations are removed like a normalized gate's (see [`Orbit::translations`]).
    pub fn with_orbit(mut self, orbit: Option<Orbit>) -> LossSpec {
        if let Some(o) = &orbit {
            for &v in o.translations() {
                if self.comparable.contains(&v) && !self.translation.contains(&v) {
                    self.translation.push(v);
                }
            }
            self.translation.sort_unstable();
        }
        self.orbit = orbit;
        self
    }

    fn weights(&self, atoms: &[Vec<f64>]) -> Vec<f64> {
        if self.masses.is_empty() {
            let w = if self.normalized {
                1.0 / atoms.len() as f64
            } else {
                1.0
            };
            return vec![w; atoms.len()];
        }
        let raw: Vec<f64> = atoms
            .iter()
            .map(|a| self.masses.iter().map(|&m| a[m]).sum::<f64>())
            .collect();
        if self.normalized {
            let top = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let top = if self.reference { top.max(0.0) } else { top };
            let e: Vec<f64> = raw.iter().map(|r| (r - top).exp()).collect();
            let s: f64 = e.iter().sum::<f64>() + if self.reference { (-top).exp() } else { 0.0 };
            e.iter().map(|v| v / s).collect()
        } else {
            raw.iter().map(|r| r.exp()).collect()
        }
    }

    /// The loss of `fitted` against `truth`.
    ///
    /// Atoms whose length is not the model's (or no atom at all) give a NaN loss, which the
    /// summary leaves out as a failed fit.
    pub fn loss(&self, truth: &[Vec<f64>], fitted: &[Vec<f64>]) -> Loss {
        let p = truth.first().map_or(0, Vec::len);
        let needed = self
            .comparable
            .iter()
            .chain(&self.masses)
            .chain(&self.shared)
            .map(|v| v + 1)
            .max()
            .unwrap_or(0);
        if truth.is_empty()
            || fitted.is_empty()
            || p < needed
            || truth.iter().chain(fitted).any(|a| a.len() != p)
        {
            return Loss {
                total: f64::NAN,
                groups: BTreeMap::new(),
                cells: vec![0; truth.len()],
                errors: BTreeMap::new(),
                spreads: BTreeMap::new(),
                lightest: f64::NAN,
                orbit: None,
            };
        }
        let p = self.weights(fitted);
        let p_star = self.weights(truth);
        let mut shift = vec![0.0; truth.first().map_or(0, Vec::len)];
        let mut assign = vec![0; fitted.len()];
        for _ in 0..5 {
            for (i, a) in fitted.iter().enumerate() {
                let dist = |j: usize| -> f64 {
                    self.comparable
                        .iter()
                        .map(|&v| (a[v] - shift[v] - truth[j][v]).powi(2))
                        .sum()
                };
                assign[i] = (0..truth.len())
                    .min_by(|&x, &y| dist(x).total_cmp(&dist(y)))
                    .unwrap_or(0);
            }
            let total: f64 = p.iter().sum();
            for &v in &self.translation {
                shift[v] = fitted
                    .iter()
                    .zip(&assign)
                    .zip(&p)
                    .map(|((a, &j), w)| w * (a[v] - truth[j][v]))
                    .sum::<f64>()
                    / total.max(f64::MIN_POSITIVE);
            }
        }
        let mut cells = vec![0; truth.len()];
        for &j in &assign {
            cells[j] += 1;
        }
        let row = |m: usize| &self.exponents[(m.max(2) - 2).min(self.exponents.len() - 1)];
        let mut groups: BTreeMap<String, f64> = BTreeMap::new();
        let mut mass = 0.0;
        for (j, w_star) in p_star.iter().enumerate() {
            let s: f64 = assign
                .iter()
                .zip(&p)
                .filter(|(a, _)| **a == j)
                .map(|(_, w)| w)
                .sum();
            mass += (s - w_star).abs();
        }
        let part = |vars: &[usize]| -> f64 {
            let mut d = 0.0;
            for (i, a) in fitted.iter().enumerate() {
                let j = assign[i];
                let delta: Vec<(usize, f64)> = vars
                    .iter()
                    .map(|&v| (v, a[v] - shift[v] - truth[j][v]))
                    .collect();
                if cells[j] == 1 {
                    d += p[i] * delta.iter().map(|(_, x)| x * x).sum::<f64>().sqrt();
                } else {
                    d += p[i]
                        * delta
                            .iter()
                            .map(|&(v, x)| x.abs().powf(row(cells[j])[v]))
                            .sum::<f64>();
                }
            }
            d
        };
        let comparable = part(&self.comparable);
        let shared: f64 = self
            .shared
            .iter()
            .map(|&v| (fitted[0][v] - truth[0][v]).abs())
            .sum();
        if !self.masses.is_empty() || self.normalized {
            groups.insert("mass".into(), mass);
        }
        if !self.gate.is_empty() {
            groups.insert("gate".into(), part(&self.gate));
        }
        if !self.expert.is_empty() {
            groups.insert("expert".into(), part(&self.expert));
        }
        if !self.shared.is_empty() {
            groups.insert("shared".into(), shared);
        }
        let largest = cells.iter().copied().max().unwrap_or(0);
        let mut errors = BTreeMap::new();
        if let Some(v) = self.share {
            errors.insert(v, (fitted[0][v] - truth[0][v]).abs());
        }
        let mut spreads = BTreeMap::new();
        for &v in &self.comparable {
            let mut err: f64 = 0.0;
            let mut spread: f64 = 0.0;
            for (j, &size) in cells.iter().enumerate() {
                let values: Vec<f64> = fitted
                    .iter()
                    .zip(&assign)
                    .filter(|(_, a)| **a == j)
                    .map(|(f, _)| f[v] - shift[v])
                    .collect();
                if size == largest {
                    for x in &values {
                        err = err.max((x - truth[j][v]).abs());
                    }
                }
                if size > 1 {
                    let (lo, hi) = values
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                            (a.min(*x), b.max(*x))
                        });
                    spread = spread.max(hi - lo);
                }
            }
            errors.insert(v, err);
            spreads.insert(v, spread);
        }
        let lightest = assign
            .iter()
            .zip(&p)
            .filter(|(j, _)| cells[**j] > 1)
            .map(|(j, w)| w / p_star[*j].max(f64::MIN_POSITIVE))
            .fold(1.0, f64::min);
        let orbit = self
            .orbit
            .as_ref()
            .and_then(|o| o.coordinates(truth, fitted, &assign));
        Loss {
            total: mass + comparable + shared,
            groups,
            cells,
            errors,
            spreads,
            lightest,
            orbit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> (LossSpec, Vec<Vec<f64>>) {
        let case = crate::rates::peer_case();
        let model = MixtureModel::new(&case);
        (LossSpec::new(&model, &BTreeMap::new(), &[]), case.atoms)
    }

    #[test]
    fn the_truth_has_zero_loss_and_a_translated_truth_too() {
        let (s, truth) = spec();
        assert!(s.loss(&truth, &truth).total < 1e-15);
        // add 3 to every beta1 and 1 to every beta0: the same softmax
        let moved: Vec<Vec<f64>> = truth
            .iter()
            .map(|a| vec![a[0] + 3.0, a[1] + 1.0, a[2], a[3], a[4]])
            .collect();
        let l = s.loss(&truth, &moved);
        assert!(l.total < 1e-12, "{l:?}");
    }

    #[test]
    fn duplicating_the_reference_expert_is_small_not_one() {
        // The peer's defect: a fit that splits the reference expert in two (with the gate
        // shifted) must have a small loss, not ≈ 1.
        let (s, truth) = spec();
        let mut fitted = truth.clone();
        fitted[1][1] -= std::f64::consts::LN_2; // half the weight each
        let mut dup = fitted[1].clone();
        dup[2] += 0.01;
        fitted.push(dup);
        for a in &mut fitted {
            a[0] += 7.0; // a common translation of the gate
        }
        let l = s.loss(&truth, &fitted);
        assert_eq!(l.cells, [1, 2]);
        assert!(l.total < 1e-3, "{l:?}");
    }

    #[test]
    fn an_empty_cell_costs_its_weight() {
        let (s, truth) = spec();
        let fitted = vec![truth[0].clone(), truth[0].clone()];
        let l = s.loss(&truth, &fitted);
        assert_eq!(l.cells, [2, 0]);
        assert!(l.groups["mass"] > 0.5, "{l:?}");
    }

    #[test]
    fn exponents_apply_in_over_specified_cells() {
        let (_, truth) = spec();
        let case_model = MixtureModel::new(&crate::rates::peer_case());
        let ex: BTreeMap<String, f64> = [("b".to_string(), 4.0)].into_iter().collect();
        let s = LossSpec::new(&case_model, &ex, &[]);
        let mut fitted = truth.clone();
        let mut second = truth[1].clone();
        second[3] += 0.1;
        fitted.push(second);
        fitted[1][1] -= std::f64::consts::LN_2;
        fitted[2][1] -= std::f64::consts::LN_2;
        let l = s.loss(&truth, &fitted);
        // one atom off by 0.1 in b, exponent 4, weight of the cell half of p*_2
        let p2 = s.weights(&truth)[1] / 2.0;
        assert!(
            (l.groups["expert"] - p2 * 1e-4).abs() < 1e-9 * p2.max(1.0),
            "{l:?}"
        );
    }
}
