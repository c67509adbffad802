//! Distinguishability of a fixed component (docs/theory.md §8): is the fixed component's
//! direction outside the span of the learned atoms' derivative terms?
//!
//! - Inside the gate (`weight`): the direction is $w_0 e_0$, against the numerator family
//!   $\{\partial^\alpha (w\,e)(\cdot;\theta^*_j)\}$ of every atom up to the analysed order (the
//!   columns of $u$ with $f^* = 0$, so the fixed component itself does not enter them).
//! - Outside the gate (`proportion` $\lambda^*$, $f = \lambda f_0 + (1-\lambda) f_G$ with
//!   $\lambda$ estimated): the direction of $\lambda$ is $e_0 - f_G^*$; the gated mixture moves
//!   by $\sum_j \Delta u_j / W^*$ ($W^* = \sum_j w_j$ for normalized gates, 1 otherwise), so the
//!   column tested against the atoms' own family is $W^*(e_0 - f_G^*) = \sum_j w_j (e_0 - e_j)$.
//!   The test also runs with the terms of order ≤ 1 only: a first-order dependence means
//!   $\lambda$ trades against the atoms' parameters, and the verdict is degenerate.
//!
//! The component is distinguishable when adding its column raises the rank; then no
//! combination of the learned atoms' perturbations can mimic it to that order.

use crate::family::{AtomFamily, Design, FamilyError, SamplePoints};
use crate::rank::{self, Tolerance};
use nalgebra::DMatrix;

/// One rank test: the free family with and without the fixed component's column.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanTest {
    /// Whether the column is outside the span (the rank rises by one).
    pub distinguishable: bool,
    /// Columns of the free family.
    pub terms: usize,
    /// Its numerical rank.
    pub rank_without: usize,
    /// The rank with the fixed column added.
    pub rank_with: usize,
    /// $\|c - P\,c\| / \|c\|$ for the column $c$, $P$ the projection on the free family's span.
    pub residual: f64,
    /// Whether both rank decisions are clear in f64.
    pub clear: bool,
}

/// The outcome of the distinguishability test.
#[derive(Clone, Debug, PartialEq)]
pub struct Distinguishability {
    /// The test with the atoms' terms up to the analysed order.
    pub test: SpanTest,
    /// The true share $\lambda^*$ of a component mixed outside the gate; `None` inside it.
    pub proportion: Option<f64>,
    /// Outside the gate: the test with the terms of order ≤ 1, which decides whether
    /// $\lambda$ is identifiable beside the atoms.
    pub first_order: Option<SpanTest>,
}

impl Distinguishability {
    /// Whether the component's share $\lambda$ (outside the gate) trades against the atoms'
    /// parameters at first order: an invariance of the model.
    pub fn proportion_lost(&self) -> bool {
        self.first_order
            .as_ref()
            .is_some_and(|t| !t.distinguishable)
    }
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
    let proportion = design.fixed_proportion();
    let gated = match proportion {
        Some(_) => design.gated(points, atoms)?,
        None => Vec::new(),
    };
    let mut slots = Vec::new();
    let mut fixed = Vec::with_capacity(n);
    for i in 0..n {
        let (w, e) = design
            .fixed_output_at(points, i, &0.0, &mut slots)
            .expect("the design has a fixed component");
        let (v, what) = match gated.get(i) {
            // Σ_j w_j (e0 − e_j) (normalized), e0 − Σ_j w_j e_j (unnormalized)
            Some(&(num, den)) => (
                den * e - num,
                "the fixed component's direction W*(e0 − f_G*)",
            ),
            None => (w * e, "the fixed component w0 e0"),
        };
        if !v.is_finite() {
            return Err(FamilyError::NonFinite {
                origin: None,
                atom: 0,
                term: what.into(),
                sample: i,
                point: points.describe(i),
                value: v,
            });
        }
        fixed.push(v);
    }
    let free = |order: usize| -> Result<DMatrix<f64>, FamilyError> {
        let mut blocks = Vec::new();
        for fam in families {
            let k = fam.up_to_order(order);
            blocks.push(match proportion {
                Some(_) => fam.matrix.columns(0, k).into_owned(),
                None => {
                    let zeros = vec![0.0; n];
                    design.columns(
                        points,
                        &zeros,
                        &atoms[fam.atom],
                        &fam.terms[..k],
                        fam.atom + 1,
                    )?
                }
            });
        }
        let terms: usize = blocks.iter().map(|b| b.ncols()).sum();
        let mut m = DMatrix::zeros(n, terms);
        let mut at = 0;
        for b in &blocks {
            m.columns_mut(at, b.ncols()).copy_from(b);
            at += b.ncols();
        }
        Ok(m)
    };
    let test = span_test(&free(order)?, &fixed, tol);
    let first_order = match proportion {
        Some(_) if order > 1 => Some(span_test(&free(1)?, &fixed, tol)),
        Some(_) => Some(test.clone()),
        None => None,
    };
    Ok(Some(Distinguishability {
        test,
        proportion,
        first_order,
    }))
}

/// The rank of `free` with and without the column `fixed`.
fn span_test(free: &DMatrix<f64>, fixed: &[f64], tol: &Tolerance) -> SpanTest {
    let terms = free.ncols();
    let mut with = free.clone().insert_column(terms, 0.0);
    with.column_mut(terms).copy_from_slice(fixed);
    let without = rank::analyse(free, tol);
    let both = rank::analyse(&with, tol);
    SpanTest {
        distinguishable: both.rank > without.rank,
        terms,
        rank_without: without.rank,
        rank_with: both.rank,
        residual: residual(free, without.rank, fixed),
        clear: without.clear && both.clear,
    }
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
