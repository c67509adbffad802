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

/// The canonical relations of the column-scaled matrix `Js` (columns of unit norm, zero columns
/// left as zeros) whose null space is `N`.
///
/// Each RREF row is refitted on its support, then pruned: the smallest non-pivot entry is
/// removed (and the rest refitted) as long as the residual stays within `residual_tol`, so
/// noise-level entries never survive as terms of a relation.
pub fn canonical(
    Js: &DMatrix<f64>,
    N: &DMatrix<f64>,
    priority: &[usize],
    residual_tol: f64,
) -> Vec<ScaledRelation> {
    rref(N, priority, 1e-6)
        .into_iter()
        .map(|(pivot, row)| {
            let support: Vec<usize> = (0..row.len())
                .filter(|&c| c == pivot || row[c] != 0.0)
                .collect();
            let raw: Vec<(usize, f64)> = support.iter().map(|&c| (c, row[c])).collect();
            let mut best = match refit(Js, &support, pivot) {
                Some(r) if r.residual <= residual_tol => r,
                _ => {
                    let residual = residual(Js, &raw);
                    let mut entries = raw;
                    entries.sort_by_key(|&(c, _)| c != pivot);
                    return ScaledRelation {
                        pivot,
                        entries,
                        residual,
                    };
                }
            };
            // Prune: drop the smallest non-pivot entry while the relation still holds.
            while let Some(&(drop, _)) = best.entries[1..]
                .iter()
                .min_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            {
                let smaller: Vec<usize> = best
                    .entries
                    .iter()
                    .map(|e| e.0)
                    .filter(|&c| c != drop)
                    .collect();
                match refit(Js, &smaller, pivot) {
                    Some(r) if r.residual <= residual_tol => best = r,
                    _ => break,
                }
            }
            best
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
