//! Distinguishability of a fixed component (docs/theory.md §8): is the fixed function
//! $w_0 e_0$ outside the span of the learned atoms' derivative terms?
//!
//! The free family here is the numerator family $\{\partial^\alpha (w\,e)(\cdot;\theta^*_j)\}$ of
//! every atom up to the analysed order (the columns of $u$ with $f^* = 0$, so the fixed
//! component itself does not enter them). The fixed function is distinguishable when adding
//! its column raises the rank; then no combination of the learned atoms' perturbations can
//! mimic it to that order.

use crate::family::{AtomFamily, Design, FamilyError, SamplePoints};
use crate::rank::{self, Tolerance};
use nalgebra::DMatrix;

/// The outcome of the distinguishability test.
#[derive(Clone, Debug, PartialEq)]
pub struct Distinguishability {
    /// Whether $w_0 e_0$ is outside the span (the rank rises by one).
    pub distinguishable: bool,
    /// Columns of the free family.
    pub terms: usize,
    /// Its numerical rank.
    pub rank_without: usize,
    /// The rank with the fixed column added.
    pub rank_with: usize,
    /// $\|w_0 e_0 - P\,w_0 e_0\| / \|w_0 e_0\|$, $P$ the projection on the free family's span.
    pub residual: f64,
    /// Whether both rank decisions are clear in f64.
    pub clear: bool,
}

/// Runs the test on the families' terms up to `order`; `None` without a fixed component.
///
/// # Errors
/// [`FamilyError::NonFinite`] when a column or the fixed function is not finite.
pub fn distinguish(
    design: &Design,
    points: &SamplePoints,
    atoms: &[Vec<f64>],
    families: &[AtomFamily],
    order: usize,
    tol: &Tolerance,
) -> Result<Option<Distinguishability>, FamilyError> {
    if !design.has_fixed() {
        return Ok(None);
    }
    let n = points.len();
    let zeros = vec![0.0; n];
    let mut blocks = Vec::new();
    for fam in families {
        let terms = &fam.terms[..fam.up_to_order(order)];
        blocks.push(design.columns(points, &zeros, &atoms[fam.atom], terms, fam.atom + 1)?);
    }
    let mut slots = Vec::new();
    let mut fixed = Vec::with_capacity(n);
    for i in 0..n {
        let (w, e) = design
            .fixed_at(points, i, &0.0, &mut slots)
            .expect("the design has a fixed component");
        let v = w * e;
        if !v.is_finite() {
            return Err(FamilyError::NonFinite {
                atom: 0,
                term: "the fixed component w0 e0".into(),
                sample: i,
                point: points.describe(i),
                value: v,
            });
        }
        fixed.push(v);
    }
    let terms: usize = blocks.iter().map(|b| b.ncols()).sum();
    let mut with = DMatrix::zeros(n, terms + 1);
    let mut at = 0;
    for b in &blocks {
        with.columns_mut(at, b.ncols()).copy_from(b);
        at += b.ncols();
    }
    with.column_mut(terms).copy_from_slice(&fixed);
    let free = with.columns(0, terms).into_owned();
    let without = rank::analyse(&free, tol);
    let both = rank::analyse(&with, tol);
    Ok(Some(Distinguishability {
        distinguishable: both.rank > without.rank,
        terms,
        rank_without: without.rank,
        rank_with: both.rank,
        residual: residual(&free, without.rank, &fixed),
        clear: without.clear && both.clear,
    }))
}

/// Relative distance of `v` from the span of the `rank` leading left singular vectors of the
/// column-scaled `m`.
fn residual(m: &DMatrix<f64>, rank: usize, v: &[f64]) -> f64 {
    let norm: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm == 0.0 {
        return 0.0;
    }
    let mut scaled = m.clone();
    for mut c in scaled.column_iter_mut() {
        let s = c.norm();
        if s > 0.0 {
            c /= s;
        }
    }
    let svd = scaled.svd(true, false);
    let Some(u) = svd.u else { return 1.0 };
    let v = nalgebra::DVector::from_column_slice(v);
    let basis = u.columns(0, rank.min(u.ncols()));
    let projected = basis * (basis.transpose() * &v);
    (v - projected).norm() / norm
}
