//! Escalation: borderline f64 rank decisions recomputed in high precision.
//!
//! A family whose f64 decision is not [`Rank::clear`] (or every family, when certification is
//! requested, or one whose null space is read for relations off too small a gap:
//! [`Rank::relations_need_hp`]) is evaluated again at 128 and 256 bits by the project's own AD over MPFR, factorised
//! by the pivoted QR of [`hp`], and its rank decided by precision doubling; when an entry is still
//! unclear the pair moves to (256, 512) and (512, 1024). The decision becomes a [`Rank`] whose
//! compact factor is $R P^T$ (rounded to f64) and whose null space comes from the high-precision
//! triangular solve, so the relation stage runs unchanged on it.
//!
//! A decision reached this way is [`Certificate::Certified`]: independent columns have $|R_{kk}|$
//! that stay put under doubling (far above the $2^{-p}$ evaluation and rounding error), and
//! dependent ones fall like $2^{-p}$.

use super::hp::{self, HpQr};
use super::{Rank, Tolerance};
use crate::family::{FamilyError, HpFamilies, MultiIndex};
use nalgebra::DMatrix;
use rug::Float;
use std::fmt;

/// How far a decision can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Certificate {
    /// Decided in f64 with a clear gap only.
    Numerical,
    /// Decided by precision doubling in high precision.
    Certified,
    /// High precision up to the limit did not settle it; the f64 decision stands.
    Undecided,
}

impl Certificate {
    /// The name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Certificate::Numerical => "numerical",
            Certificate::Certified => "certified",
            Certificate::Undecided => "undecided",
        }
    }

    /// The weaker of two certificates.
    pub fn and(self, other: Certificate) -> Certificate {
        use Certificate::*;
        match (self, other) {
            (Undecided, _) | (_, Undecided) => Undecided,
            (Numerical, _) | (_, Numerical) => Numerical,
            _ => Certified,
        }
    }
}

impl fmt::Display for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Precision pairs tried, in order.
pub const PRECISION_PAIRS: [(u32, u32); 3] = [(128, 256), (256, 512), (512, 1024)];

/// The rank of the family `terms` decided in high precision, as a [`Rank`], with its
/// certificate ([`Certificate::Undecided`] and `None` when even 1024 bits do not settle it).
///
/// # Errors
/// [`FamilyError::NonFinite`].
pub fn escalate(
    hp_families: &mut HpFamilies,
    terms: &[(usize, MultiIndex)],
    tol: &Tolerance,
) -> Result<Option<Rank>, FamilyError> {
    for (p, p2) in PRECISION_PAIRS {
        let lo = hp::qr_pivoted(hp_families.columns(terms, p)?, p);
        let hi = hp::qr_pivoted(hp_families.columns(terms, p2)?, p2);
        if let Some(rank) = hp::decide(&lo, &hi) {
            return Ok(Some(rank_from_hp(&hi, rank, tol)));
        }
    }
    Ok(None)
}

/// A [`Rank`] from a high-precision factorisation and a decided rank.
fn rank_from_hp(qr: &HpQr, rank: usize, tol: &Tolerance) -> Rank {
    let n = qr.r.len();
    let compact = qr.compact();
    // Singular values: f64 SVD of R for the kept part (accurate to ~1e-16 of σ1); the
    // discarded part shown by its high-precision |R_kk| (the evidence of the gap).
    let svd = compact.clone().svd(false, false);
    let mut s: Vec<f64> = svd.singular_values.iter().copied().collect();
    s.sort_by(|a, b| b.total_cmp(a));
    let diag = qr.log2_diag();
    let r11 = diag.first().copied().unwrap_or(0.0);
    let s1 = s.first().copied().unwrap_or(1.0);
    // Values below what an f64 SVD of R resolves are shown by their |R_kk| instead.
    let mut values: Vec<f64> = s.iter().take(rank).copied().collect();
    for (k, v) in values.iter_mut().enumerate() {
        if *v < 1e-12 * s1 {
            if let Some(d) = diag.get(k) {
                *v = s1 * (d - r11).exp2();
            }
        }
    }
    for d in diag.iter().skip(rank) {
        values.push(s1 * (d - r11).exp2());
    }
    let live = n - qr.zero_columns.len();
    values.truncate(live);
    let gap_decades = match (values.get(rank.wrapping_sub(1)), values.get(rank)) {
        (Some(a), Some(b)) if rank > 0 => (a / b.max(f64::MIN_POSITIVE)).log10(),
        (Some(a), None) => (a / (f64::EPSILON * s1)).log10(),
        _ => f64::INFINITY,
    };
    let _ = tol;
    Rank {
        n,
        rank,
        singular_values: values,
        scale: qr.norms.clone(),
        zero_columns: qr.zero_columns.clone(),
        gap_decades,
        clear: true,
        null_space: qr.null_space(rank),
        compact,
    }
}

/// Whether a relation on `support` (as `(atom, term)`) holds in high precision: its support's
/// columns are dependent under precision doubling (the smallest $|R_{kk}|$ falls like
/// $2^{-p}$) and again at fresh sample points. A one-term relation (a vanishing derivative)
/// holds when its column falls like $2^{-p}$ relative to the largest `reference` column.
///
/// # Errors
/// [`FamilyError::NonFinite`].
pub fn relation_holds(
    hp_families: &mut HpFamilies,
    fresh: &mut HpFamilies,
    support: &[(usize, MultiIndex)],
    reference: &[(usize, MultiIndex)],
) -> Result<bool, FamilyError> {
    let (p, p2) = PRECISION_PAIRS[0];
    // log2 of each support column's norm relative to the largest reference column.
    let relative = |fams: &mut HpFamilies, prec: u32| -> Result<Vec<f64>, FamilyError> {
        let refs = fams.columns(reference, prec)?;
        let r = refs
            .iter()
            .map(|c| log2_norm(c))
            .fold(f64::NEG_INFINITY, f64::max);
        Ok(fams
            .columns(support, prec)?
            .iter()
            .map(|c| log2_norm(c) - r)
            .collect())
    };
    let zero = |x: f64, prec: u32| x < -0.75 * prec as f64;
    let fresh_holds = holds_at(fresh, support, reference, p2)?;
    let (lo, hi) = (relative(hp_families, p)?, relative(hp_families, p2)?);
    if support.len() == 1 {
        return Ok(zero(lo[0], p) && zero(hi[0], p2) && fresh_holds);
    }
    if (0..support.len()).any(|i| zero(hi[i], p2)) {
        // a vanishing column makes a shorter relation: this one is not minimal
        return Ok(false);
    }
    // log2 of the smallest |R_kk| relative to |R_11|.
    let smallest = |qr: &HpQr| -> f64 {
        let d = qr.log2_diag();
        if d.len() < support.len() {
            return f64::NEG_INFINITY;
        }
        d[d.len() - 1] - d[0]
    };
    let a = smallest(&hp::qr_pivoted(hp_families.columns(support, p)?, p));
    let b = smallest(&hp::qr_pivoted(hp_families.columns(support, p2)?, p2));
    // An exact zero (−∞) at either precision counts as falling, provided the other is a zero too.
    let falls = match (a.is_finite(), b.is_finite()) {
        (false, false) => true,
        (true, false) => zero(a, p),
        (false, true) => zero(b, p2),
        (true, true) => hp::classify(a, b, p, p2) == hp::Movement::Zero,
    };
    Ok(falls && fresh_holds)
}

/// Whether a relation on `support` holds at one precision: a one-term relation when its column
/// is below $2^{-3p/4}$ of the largest `reference` column; a longer one when no column vanishes
/// and the smallest $|R_{kk}|$ of the support is below $2^{-3p/4}\,|R_{11}|$.
///
/// # Errors
/// [`FamilyError::NonFinite`].
pub fn holds_at(
    hp_families: &mut HpFamilies,
    support: &[(usize, MultiIndex)],
    reference: &[(usize, MultiIndex)],
    prec: u32,
) -> Result<bool, FamilyError> {
    let threshold = -0.75 * prec as f64;
    let refs = hp_families.columns(reference, prec)?;
    let r = refs
        .iter()
        .map(|c| log2_norm(c))
        .fold(f64::NEG_INFINITY, f64::max);
    let cols = hp_families.columns(support, prec)?;
    let rel: Vec<f64> = cols.iter().map(|c| log2_norm(c) - r).collect();
    if support.len() == 1 {
        return Ok(rel[0] < threshold);
    }
    if rel.iter().any(|&x| x < threshold) {
        return Ok(false);
    }
    let d = hp::qr_pivoted(cols, prec).log2_diag();
    Ok(d.len() < support.len() || d[d.len() - 1] - d[0] < threshold)
}

/// $\tfrac12 \log_2 \sum_i c_i^2$.
fn log2_norm(c: &[Float]) -> f64 {
    let mut s = Float::with_val(c.first().map_or(64, Float::prec), 0);
    for v in c {
        s += v * v;
    }
    hp::log2_abs(&s) / 2.0
}

/// `(atom, term)` for $u$ and every first derivative of the atoms in `support`: the scale a
/// vanishing column is measured against.
pub fn reference_terms(support: &[(usize, MultiIndex)], n_vars: usize) -> Vec<(usize, MultiIndex)> {
    let mut reference: Vec<(usize, MultiIndex)> = Vec::new();
    for a in support.iter().map(|s| s.0) {
        if reference.iter().any(|(b, _)| *b == a) {
            continue;
        }
        reference.push((a, MultiIndex::zero()));
        for d in 0..n_vars {
            reference.push((a, MultiIndex::new(vec![d as u16])));
        }
    }
    reference
}

/// The f64 matrix of `columns` (tests and diagnostics).
pub fn to_f64(columns: &[Vec<Float>]) -> DMatrix<f64> {
    let m = columns.first().map_or(0, Vec::len);
    DMatrix::from_fn(m, columns.len(), |i, j| columns[j][i].to_f64())
}

/// Escalation state of one verification: high-precision families at the sample points and at
/// a fresh sample set, and whether every decision is to be certified.
pub struct Escalation<'a> {
    /// Families at the verification's sample points.
    pub hp: HpFamilies<'a>,
    /// Families at fresh sample points (relations must hold there too).
    pub fresh: HpFamilies<'a>,
    /// Certify every decision, not only the unclear ones.
    pub all: bool,
    /// Rank tolerances (for the f64 side).
    pub tol: Tolerance,
    /// Decisions escalated.
    pub escalations: usize,
}

impl Escalation<'_> {
    /// The decision for the family `terms` given its f64 rank: kept when clear (and not
    /// certifying everything), else recomputed in high precision.
    ///
    /// # Errors
    /// [`FamilyError::NonFinite`].
    pub fn decide(
        &mut self,
        f64_rank: Rank,
        terms: &[(usize, MultiIndex)],
    ) -> Result<(Rank, Certificate), FamilyError> {
        let keep = f64_rank.clear && !self.all;
        self.settle(f64_rank, terms, keep)
    }

    /// As [`Escalation::decide`], for a family whose null space is read for relations: also
    /// recomputed when the gap is too small for accurate null vectors
    /// ([`Rank::relations_need_hp`]).
    ///
    /// # Errors
    /// [`FamilyError::NonFinite`].
    pub fn decide_for_relations(
        &mut self,
        f64_rank: Rank,
        terms: &[(usize, MultiIndex)],
    ) -> Result<(Rank, Certificate), FamilyError> {
        let keep = f64_rank.clear && !self.all && !f64_rank.relations_need_hp(&self.tol);
        self.settle(f64_rank, terms, keep)
    }

    fn settle(
        &mut self,
        f64_rank: Rank,
        terms: &[(usize, MultiIndex)],
        keep: bool,
    ) -> Result<(Rank, Certificate), FamilyError> {
        if keep {
            return Ok((f64_rank, Certificate::Numerical));
        }
        self.escalations += 1;
        match escalate(&mut self.hp, terms, &self.tol)? {
            Some(r) => Ok((r, Certificate::Certified)),
            None => Ok((f64_rank, Certificate::Undecided)),
        }
    }

    /// The certificate of a relation on `support` found in a family decided with `family`.
    ///
    /// # Errors
    /// [`FamilyError::NonFinite`].
    pub fn relation(
        &mut self,
        family: Certificate,
        support: &[(usize, MultiIndex)],
    ) -> Result<Certificate, FamilyError> {
        if family == Certificate::Numerical {
            return Ok(Certificate::Numerical);
        }
        let reference = reference_terms(support, self.hp.n_vars());
        Ok(
            if relation_holds(&mut self.hp, &mut self.fresh, support, &reference)? {
                Certificate::Certified
            } else {
                Certificate::Undecided
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns x, x², and x + x² + δ·x³ at `prec` bits on 30 points of (0, 1].
    fn columns(delta: &str, prec: u32) -> Vec<Vec<Float>> {
        let d = Float::with_val(prec, Float::parse(delta).unwrap());
        let xs: Vec<Float> = (1..=30)
            .map(|i| Float::with_val(prec, i) / Float::with_val(prec, 30))
            .collect();
        let c0: Vec<Float> = xs.clone();
        let c1: Vec<Float> = xs.iter().map(|x| Float::with_val(prec, x * x)).collect();
        let c2: Vec<Float> = xs
            .iter()
            .map(|x| {
                let x2 = Float::with_val(prec, x * x);
                let x3 = Float::with_val(prec, &x2 * x);
                Float::with_val(prec, x + &x2) + Float::with_val(prec, &d * &x3)
            })
            .collect();
        vec![c0, c1, c2]
    }

    fn decided(delta: &str) -> Option<Rank> {
        for (p, p2) in PRECISION_PAIRS {
            let lo = hp::qr_pivoted(columns(delta, p), p);
            let hi = hp::qr_pivoted(columns(delta, p2), p2);
            if let Some(rank) = hp::decide(&lo, &hi) {
                return Some(rank_from_hp(&hi, rank, &Tolerance::default()));
            }
        }
        None
    }

    #[test]
    fn an_exact_dependence_is_certified_with_its_null_vector() {
        let r = decided("0").expect("decided");
        assert_eq!(r.rank, 2);
        let v = r.null_space.column(0);
        // in the scaled coordinates of the factorisation: c2 − c0 − c1 = 0 up to the scales
        let unscaled: Vec<f64> = (0..3).map(|k| v[k] / r.scale[k]).collect();
        let ratio = |k: usize| unscaled[k] / unscaled[2];
        assert!(
            (ratio(0) + 1.0).abs() < 1e-9 && (ratio(1) + 1.0).abs() < 1e-9,
            "{unscaled:?}"
        );
    }

    #[test]
    fn an_effect_below_f64_but_above_the_precision_is_independent() {
        // δ = 1e-20: an f64 SVD calls the three columns dependent, precision doubling does not
        let f64_rank = crate::rank::analyse(&to_f64(&columns("1e-20", 128)), &Tolerance::default());
        assert_eq!(f64_rank.rank, 2);
        let r = decided("1e-20").expect("decided");
        assert_eq!(r.rank, 3);
    }

    #[test]
    fn certificates_combine_to_the_weakest() {
        use Certificate::*;
        assert_eq!(Certified.and(Certified), Certified);
        assert_eq!(Certified.and(Numerical), Numerical);
        assert_eq!(Numerical.and(Undecided), Undecided);
        let support = [(1, MultiIndex::new(vec![0, 1]))];
        let reference = reference_terms(&support, 2);
        assert_eq!(reference.len(), 3);
        assert!(reference.iter().all(|(a, _)| *a == 1));
    }
}
