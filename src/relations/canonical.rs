//! Null space → canonical sparse relations.
//!
//! The null-space basis is brought to reduced row echelon form with the columns ordered by
//! *pivot priority* (highest order first, masses first among first-order terms, then
//! lexicographically), so each relation expresses its highest-order term through lower ones and
//! the basis is unique given the null space. Entries below the noise are dropped and each
//! relation's coefficients are refitted on its support (the smallest right singular vector of
//! the support's columns), which removes the noise the elimination spread over it.

#![allow(non_snake_case)]

use nalgebra::{DMatrix, DVector};

/// One relation in scaled coordinates: $\sum_{\alpha \in S} v_\alpha \tilde J_{:\alpha} = 0$,
/// $v_{\text{pivot}} = 1$.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaledRelation {
    /// Column index of the pivot (the term the relation solves for).
    pub pivot: usize,
    /// `(column, coefficient)`, pivot first with coefficient 1.
    pub entries: Vec<(usize, f64)>,
    /// $\|\tilde J v\| / \|v\|$.
    pub residual: f64,
}

/// Reduced row echelon form of the rows of `N^T` (`N`: $n \times m$ null basis), with columns
/// visited in `priority` order. Returns the rows (length $n$) with their pivot columns.
pub fn rref(N: &DMatrix<f64>, priority: &[usize], pivot_tol: f64) -> Vec<(usize, DVector<f64>)> {
    let (n, m) = N.shape();
    let mut rows: Vec<DVector<f64>> = (0..m).map(|c| N.column(c).into_owned()).collect();
    let mut pivots = Vec::new();
    let mut next = 0;
    for &col in priority {
        if next == m {
            break;
        }
        let (best, val) = (next..m)
            .map(|r| (r, rows[r][col].abs()))
            .fold((next, -1.0), |a, b| if b.1 > a.1 { b } else { a });
        let scale = rows[best].amax();
        if val <= pivot_tol * scale.max(f64::MIN_POSITIVE) || val == 0.0 {
            continue;
        }
        rows.swap(next, best);
        let p = rows[next][col];
        rows[next] /= p;
        for r in 0..m {
            if r != next {
                let f = rows[r][col];
                if f != 0.0 {
                    let pivot_row = rows[next].clone();
                    rows[r].axpy(-f, &pivot_row, 1.0);
                }
            }
        }
        pivots.push(col);
        next += 1;
    }
    debug_assert!(n >= next);
    pivots.into_iter().zip(rows).collect()
}

/// Thresholds tried, most aggressive first, to clear noise from an RREF row (relative to the
/// pivot, in scaled coordinates).
const THRESHOLDS: [f64; 4] = [1e-6, 1e-8, 1e-10, 0.0];

/// Largest support refitted by an SVD of its columns (larger ones keep the RREF coefficients).
const MAX_REFIT: usize = 400;

/// The canonical relations of a column-scaled matrix $\tilde J$ given by any `Js` with the same
/// Gram matrix (e.g. its compact factor $\Sigma V^T$), whose null space is `N`.
///
/// Each RREF row loses its noise-level entries: for the thresholds in [`THRESHOLDS`], most
/// aggressive first, the entries above the threshold form a support whose columns are refitted
/// (the smallest right singular vector); the first refit with residual $\le$ `residual_tol`
/// is the relation. Failing all, the RREF row is kept as it is.
pub fn canonical(
    Js: &DMatrix<f64>,
    N: &DMatrix<f64>,
    priority: &[usize],
    residual_tol: f64,
) -> Vec<ScaledRelation> {
    rref(N, priority, 1e-6)
        .into_iter()
        .map(|(pivot, row)| {
            let entries_at = |t: f64| -> Vec<(usize, f64)> {
                let mut e: Vec<(usize, f64)> = (0..row.len())
                    .filter(|&c| c == pivot || (row[c] != 0.0 && row[c].abs() > t))
                    .map(|c| (c, row[c]))
                    .collect();
                e.sort_by_key(|&(c, _)| c != pivot);
                e
            };
            // The most aggressive threshold whose support, refitted, still holds.
            for t in THRESHOLDS {
                let entries = entries_at(t);
                if entries.len() > MAX_REFIT {
                    continue;
                }
                let support: Vec<usize> = entries.iter().map(|e| e.0).collect();
                if let Some(r) = refit(Js, &support, pivot) {
                    if r.residual <= residual_tol {
                        return r;
                    }
                }
            }
            let entries = entries_at(0.0);
            let residual = residual(Js, &entries);
            ScaledRelation {
                pivot,
                entries,
                residual,
            }
        })
        .collect()
}

/// $\|\tilde J v\| / \|v\|$ for a sparse $v$.
pub fn residual(Js: &DMatrix<f64>, entries: &[(usize, f64)]) -> f64 {
    let mut r = DVector::zeros(Js.nrows());
    let mut norm2 = 0.0;
    for &(c, v) in entries {
        r.axpy(v, &Js.column(c), 1.0);
        norm2 += v * v;
    }
    r.norm() / norm2.sqrt().max(f64::MIN_POSITIVE)
}

/// The null vector of the support's columns (smallest right singular vector), pivot entry 1.
fn refit(Js: &DMatrix<f64>, support: &[usize], pivot: usize) -> Option<ScaledRelation> {
    let k = support.len();
    if k == 0 || Js.nrows() == 0 {
        // Nothing to refit (issue "Reliability": an expert constant in all its parameters
        // left an empty support, and the SVD of an empty matrix panicked).
        return None;
    }
    let A = DMatrix::from_fn(Js.nrows(), k, |i, j| Js[(i, support[j])]);
    let B = if A.nrows() > 2 * k { A.qr().r() } else { A };
    let svd = B.svd(false, true);
    let v_t = svd.v_t?;
    let (i_min, _) = svd
        .singular_values
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))?;
    let v = v_t.row(i_min);
    let p = support.iter().position(|&c| c == pivot)?;
    if v[p].abs() < 1e-8 {
        return None;
    }
    let mut entries: Vec<(usize, f64)> = support
        .iter()
        .zip(v.iter())
        .map(|(&c, &x)| (c, x / v[p]))
        .collect();
    entries.sort_by_key(|&(c, _)| c != pivot);
    let residual = residual(Js, &entries);
    Some(ScaledRelation {
        pivot,
        entries,
        residual,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::{analyse, Tolerance};
    use rand::{RngExt, SeedableRng};

    #[test]
    fn rref_is_independent_of_the_null_basis() {
        // columns: c0, c1, c2 = c0 + 2 c1, c3 = c1 − c0, c4 random
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let base = DMatrix::from_fn(50, 2, |_, _| rng.random_range(-1.0..1.0));
        let extra = DMatrix::from_fn(50, 1, |_, _| rng.random_range(-1.0..1.0));
        let J = DMatrix::from_fn(50, 5, |i, j| match j {
            0 => base[(i, 0)],
            1 => base[(i, 1)],
            2 => base[(i, 0)] + 2.0 * base[(i, 1)],
            3 => base[(i, 1)] - base[(i, 0)],
            _ => extra[(i, 0)],
        });
        let r = analyse(&J, &Tolerance::default());
        let Js = DMatrix::from_fn(50, 5, |i, j| J[(i, j)] / r.scale[j]);
        let priority = [3, 2, 4, 1, 0];
        let rels = canonical(&Js, &r.null_space, &priority, 1e-10);
        assert_eq!(rels.len(), 2);
        // pivots are the highest-priority columns: 3 and 2
        assert_eq!((rels[0].pivot, rels[1].pivot), (3, 2));
        // in original units: c3 = c1 − c0 and c2 = c0 + 2 c1 — no cross-contamination
        for rel in &rels {
            let cols: Vec<usize> = rel.entries.iter().map(|e| e.0).collect();
            assert!(!cols.contains(&4), "{rel:?}");
            let unscaled: Vec<(usize, f64)> = rel
                .entries
                .iter()
                .map(|&(c, v)| (c, v * r.scale[rel.pivot] / r.scale[c]))
                .collect();
            let coef = |c| unscaled.iter().find(|e| e.0 == c).map(|e| e.1).unwrap();
            if rel.pivot == 3 {
                assert!((coef(1) + 1.0).abs() < 1e-12 && (coef(0) - 1.0).abs() < 1e-12);
            } else {
                assert!((coef(0) + 1.0).abs() < 1e-12 && (coef(1) + 2.0).abs() < 1e-12);
            }
            assert!(rel.residual < 1e-14);
        }
    }
}
