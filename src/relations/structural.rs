//! Structural or at-this-point: does a relation persist at perturbed atoms?
//!
//! Every parameter is perturbed, $\theta'_p = \theta_p (1 + s z)$ for $\theta_p \ne 0$ (signs and
//! positivity kept) and $\theta'_p = s z$ for $\theta_p = 0$, with $z \sim U(-1, 1)$ and $s$ the
//! perturbation size; shared parameters move together. At each perturbed configuration the
//! relation's support is evaluated again (with $f^*$ of the perturbed truth). The relation is
//! structural when, at every configuration, the support's columns are dependent with a null
//! vector that uses every one of them (for a one-term relation: the column vanishes).

use super::{Relation, Settings};
use crate::case::Role;
use crate::family::HpFamilies;
use crate::family::{Design, MultiIndex, SamplePoints};
use crate::rank::certify::{holds_at, reference_terms, PRECISION_PAIRS};
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Perturbed configurations of the truth.
pub struct Perturbations {
    points: SamplePoints,
    truth: Vec<Vec<f64>>,
    configs: Vec<Config>,
    /// Draws that could not be evaluated (redrawn).
    pub failed: usize,
    zero_max: f64,
    zero_column: f64,
}

struct Config {
    atoms: Vec<Vec<f64>>,
    fstar: Vec<f64>,
    /// Per atom: the largest norm among $u$ and its first derivatives (the reference for
    /// "this column vanishes").
    reference: Vec<f64>,
}

const TRIES: usize = 10;

impl Perturbations {
    /// Draws `settings.perturbations` configurations that evaluate to finite values.
    pub fn draw(
        design: &Design,
        points: &SamplePoints,
        atoms: &[Vec<f64>],
        settings: &Settings,
    ) -> Perturbations {
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed ^ 0x9e37_79b9_7f4a_7c15);
        let mut configs = Vec::new();
        let mut failed = 0;
        let p = design.n_vars();
        let first: Vec<MultiIndex> = std::iter::once(MultiIndex::zero())
            .chain((0..p).map(|d| MultiIndex::new(vec![d as u16])))
            .collect();
        'configs: for _ in 0..settings.perturbations {
            for _ in 0..TRIES {
                let perturbed = perturb(design, atoms, settings.perturbation_size, &mut rng);
                let Ok(fstar) = design.fstar(points, &perturbed) else {
                    failed += 1;
                    continue;
                };
                let mut reference = Vec::new();
                let mut ok = true;
                for (j, theta) in perturbed.iter().enumerate() {
                    match design.columns(points, &fstar, theta, &first, j + 1) {
                        Ok(m) => {
                            reference.push(m.column_iter().map(|c| c.norm()).fold(0.0, f64::max))
                        }
                        Err(_) => {
                            ok = false;
                            break;
                        }
                    }
                }
                if ok {
                    configs.push(Config {
                        atoms: perturbed,
                        fstar,
                        reference,
                    });
                    continue 'configs;
                }
                failed += 1;
            }
        }
        Perturbations {
            points: points.clone(),
            truth: atoms.to_vec(),
            configs,
            failed,
            zero_max: settings.rank.zero_max,
            zero_column: settings.rank.zero_column,
        }
    }

    /// The sample points.
    pub fn points(&self) -> &SamplePoints {
        &self.points
    }

    /// The true configuration.
    pub fn truth(&self) -> &[Vec<f64>] {
        &self.truth
    }

    /// Whether `rel` holds with the same support at every configuration (`None` when no
    /// configuration could be evaluated).
    pub fn persists(&self, design: &Design, rel: &Relation) -> Option<bool> {
        if self.configs.is_empty() {
            return None;
        }
        let mut tested = 0;
        // A dependence among a few columns is decided by a few dozen points.
        let points = self.points.first(2 * rel.terms.len() + 30);
        for cfg in &self.configs {
            let fstar = &cfg.fstar[..points.len() * design.stride()];
            let mut J = DMatrix::zeros(points.len(), rel.terms.len());
            let mut ok = true;
            for (c, t) in rel.terms.iter().enumerate() {
                match design.columns(
                    &points,
                    fstar,
                    &cfg.atoms[t.atom],
                    std::slice::from_ref(&t.alpha),
                    t.atom + 1,
                ) {
                    Ok(m) => J.set_column(c, &m.column(0)),
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                continue;
            }
            tested += 1;
            let reference = rel
                .terms
                .iter()
                .map(|t| cfg.reference[t.atom])
                .fold(0.0, f64::max);
            if !same_support_dependence(&J, reference, self.zero_max, self.zero_column) {
                return Some(false);
            }
        }
        (tested > 0).then_some(true)
    }
}

impl Perturbations {
    /// As [`Perturbations::persists`] for each of `rels`, in high precision (for families whose
    /// f64 decision was unclear): a relation must hold at 256 bits at every configuration.
    pub fn persists_hp(&self, design: &Design, rels: &[&Relation]) -> Vec<Option<bool>> {
        if self.configs.is_empty() {
            return vec![None; rels.len()];
        }
        let supports: Vec<Vec<(usize, MultiIndex)>> = rels
            .iter()
            .map(|r| r.terms.iter().map(|t| (t.atom, t.alpha.clone())).collect())
            .collect();
        let references: Vec<Vec<(usize, MultiIndex)>> = supports
            .iter()
            .map(|s| reference_terms(s, design.n_vars()))
            .collect();
        let widest = supports
            .iter()
            .zip(&references)
            .map(|(s, r)| s.len() + r.len())
            .max()
            .unwrap_or(0);
        let n = (widest + 20).min(self.points.len());
        let prec = PRECISION_PAIRS[0].1;
        let mut out = vec![Some(true); rels.len()];
        for cfg in &self.configs {
            // One cache per configuration, shared by every relation.
            let mut hp = HpFamilies::new(design, &self.points, &cfg.atoms, n);
            for (k, (support, reference)) in supports.iter().zip(&references).enumerate() {
                if out[k] != Some(true) {
                    continue;
                }
                out[k] = match holds_at(&mut hp, support, reference, prec) {
                    Ok(true) => Some(true),
                    Ok(false) => Some(false),
                    Err(_) => None,
                };
            }
        }
        out
    }
}

/// Whether the columns of `J` are dependent through a null vector that uses all of them.
fn same_support_dependence(
    J: &DMatrix<f64>,
    reference: f64,
    zero_max: f64,
    zero_column: f64,
) -> bool {
    let norms: Vec<f64> = J.column_iter().map(|c| c.norm()).collect();
    let zero = |n: f64| n <= zero_column * reference.max(f64::MIN_POSITIVE);
    if J.ncols() == 1 {
        return zero(norms[0]);
    }
    if norms.iter().any(|&n| zero(n)) {
        return false;
    }
    let A = DMatrix::from_fn(J.nrows(), J.ncols(), |i, j| J[(i, j)] / norms[j]);
    let B = if A.nrows() > 2 * A.ncols() {
        A.qr().r()
    } else {
        A
    };
    let svd = B.svd(false, true);
    let s = &svd.singular_values;
    let (Some(v_t), Some(imin)) = (
        svd.v_t.as_ref(),
        s.iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|p| p.0),
    ) else {
        return false;
    };
    if s[imin] > zero_max * s.max() {
        return false;
    }
    let v = v_t.row(imin);
    let big = v.amax();
    v.iter().all(|x| x.abs() > 1e-6 * big)
}

#[allow(non_snake_case)]
fn perturb(design: &Design, atoms: &[Vec<f64>], size: f64, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let mut draw = |v: f64| {
        let z: f64 = rng.random_range(-1.0..1.0);
        if v == 0.0 {
            size * z
        } else {
            v * (1.0 + size * z)
        }
    };
    let shared: Vec<f64> = atoms[0]
        .iter()
        .zip(&design.roles)
        .map(|(&v, role)| if *role == Role::Shared { draw(v) } else { v })
        .collect();
    atoms
        .iter()
        .map(|theta| {
            theta
                .iter()
                .zip(&design.roles)
                .enumerate()
                .map(|(p, (&v, role))| {
                    if *role == Role::Shared {
                        shared[p]
                    } else {
                        draw(v)
                    }
                })
                .collect()
        })
        .collect()
}
