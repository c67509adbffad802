//! High-precision rank decisions: column-pivoted Householder QR over MPFR, and precision
//! doubling.
//!
//! rug has no linear algebra, so this is the small part needed: a rank-revealing QR
//! $\tilde J P = Q R$ of the column-scaled family (columns of unit norm), computed at two
//! precisions $p < p'$. For an exactly dependent family the trailing $|R_{kk}|$ are evaluation
//! and rounding noise and fall like $2^{-p}$; a genuinely small value stays put. So each diagonal
//! entry is classified by how it moves from $p$ to $p'$ ([`classify`]); anything in between asks
//! for more precision.
//!
//! # References
//! tech-notes.md "rug": pivoted QR over `rug::Float`, $|R_{kk}|$ at 128 and 256 bits.

#![allow(non_snake_case)]

use nalgebra::DMatrix;
use rug::Float;

/// A column-pivoted QR factorisation $\tilde J P = Q R$ at one precision.
#[derive(Clone, Debug)]
pub struct HpQr {
    /// Precision in bits.
    pub prec: u32,
    /// Column norms before scaling (as f64; 1 for zero columns).
    pub norms: Vec<f64>,
    /// Columns that are zero to the working precision.
    pub zero_columns: Vec<usize>,
    /// $R$, stored by columns: `r[j]` is column $j$ of $R$ (its first $\min(j+1, m)$ entries).
    pub r: Vec<Vec<Float>>,
    /// `perm[j]` is the original column in position $j$.
    pub perm: Vec<usize>,
}

/// $\log_2 |x|$ (−∞ for zero).
pub fn log2_abs(x: &Float) -> f64 {
    if x.is_zero() {
        f64::NEG_INFINITY
    } else {
        // x = m · 2^e with 0.5 ≤ |m| < 1
        let (m, e) = x.to_f64_exp();
        m.abs().log2() + e as f64
    }
}

/// $\sum_i a_i b_i$ at `prec` bits, accumulated without temporaries.
fn dot(a: &[Float], b: &[Float], prec: u32) -> Float {
    let mut s = Float::with_val(prec, 0);
    for (x, y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

/// Factorises the columns `cols` ($m$ entries each) after scaling each to unit norm.
pub fn qr_pivoted(cols: Vec<Vec<Float>>, prec: u32) -> HpQr {
    let n = cols.len();
    let m = cols.first().map_or(0, Vec::len);
    let zero = Float::with_val(prec, 0);
    let norm = |c: &[Float]| -> Float { dot(c, c, prec).sqrt() };
    let raw_norms: Vec<Float> = cols.iter().map(|c| norm(c)).collect();
    let max_norm = raw_norms
        .iter()
        .map(log2_abs)
        .fold(f64::NEG_INFINITY, f64::max);
    // A column is zero when its norm is below 2^{-p/2} of the largest: far under any genuine value
    // and far above the rounding of an exactly zero derivative.
    let zero_columns: Vec<usize> = (0..n)
        .filter(|&j| log2_abs(&raw_norms[j]) < max_norm - prec as f64 / 2.0)
        .collect();
    let mut a: Vec<Vec<Float>> = cols
        .into_iter()
        .enumerate()
        .map(|(j, c)| {
            if zero_columns.contains(&j) {
                vec![zero.clone(); m]
            } else {
                c.into_iter().map(|v| v / &raw_norms[j]).collect()
            }
        })
        .collect();
    let norms: Vec<f64> = (0..n)
        .map(|j| {
            if zero_columns.contains(&j) {
                1.0
            } else {
                raw_norms[j].to_f64()
            }
        })
        .collect();
    let mut perm: Vec<usize> = (0..n).collect();
    let steps = n.min(m);
    for k in 0..steps {
        // pivot: the remaining column with the largest norm in rows k..m
        let (best, _) = (k..n).map(|j| (j, log2_abs(&norm(&a[j][k..])))).fold(
            (k, f64::NEG_INFINITY),
            |acc, x| if x.1 > acc.1 { x } else { acc },
        );
        a.swap(k, best);
        perm.swap(k, best);
        let alpha_norm = norm(&a[k][k..]);
        if alpha_norm.is_zero() {
            continue;
        }
        // Householder vector v = x − α e1 with α = −sign(x0)‖x‖
        let alpha = if a[k][k].is_sign_negative() {
            alpha_norm
        } else {
            -alpha_norm
        };
        let mut v: Vec<Float> = a[k][k..].to_vec();
        v[0] -= &alpha;
        let vv = dot(&v, &v, prec);
        if vv.is_zero() {
            continue;
        }
        let beta = Float::with_val(prec, 2) / vv;
        for col in a.iter_mut().skip(k + 1) {
            let f = dot(&v, &col[k..], prec) * &beta;
            for (x, y) in v.iter().zip(col[k..].iter_mut()) {
                *y -= &f * x;
            }
        }
        a[k][k] = alpha;
        for x in a[k][k + 1..].iter_mut() {
            *x = zero.clone();
        }
    }
    let r = a
        .into_iter()
        .enumerate()
        .map(|(j, mut c)| {
            c.truncate((j + 1).min(m));
            c
        })
        .collect();
    HpQr {
        prec,
        norms,
        zero_columns,
        r,
        perm,
    }
}

impl HpQr {
    /// $\log_2 |R_{kk}|$ for $k < \min(m, n)$.
    pub fn log2_diag(&self) -> Vec<f64> {
        (0..self.r.len())
            .filter(|&k| k < self.r[k].len())
            .map(|k| log2_abs(&self.r[k][k]))
            .collect()
    }

    /// $R P^T$ rounded to f64: a square stand-in for the scaled family with
    /// $\|\tilde J v\| = \|R P^T v\|$ (see [`super::Rank::compact`]).
    pub fn compact(&self) -> DMatrix<f64> {
        let n = self.r.len();
        let rows = self.r.iter().map(Vec::len).max().unwrap_or(0);
        let mut out = DMatrix::zeros(rows, n);
        for (j, col) in self.r.iter().enumerate() {
            for (i, v) in col.iter().enumerate() {
                out[(i, self.perm[j])] = v.to_f64();
            }
        }
        out
    }

    /// A basis of the null space for rank `k` (in scaled coordinates, original column order):
    /// the columns of $P \begin{pmatrix} -R_{11}^{-1} R_{12} \\ I \end{pmatrix}$, each of unit norm.
    pub fn null_space(&self, k: usize) -> DMatrix<f64> {
        let n = self.r.len();
        let prec = self.prec;
        let mut out = DMatrix::zeros(n, n.saturating_sub(k));
        for (c, j) in (k..n).enumerate() {
            // solve R11 x = R12[:, j] by back substitution
            let mut x = vec![Float::with_val(prec, 0); k];
            for i in (0..k).rev() {
                let mut s = self.r[j]
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| Float::with_val(prec, 0));
                for (l, xl) in x.iter().enumerate().take(k).skip(i + 1) {
                    s -= self.r[l][i].clone() * xl;
                }
                x[i] = s / &self.r[i][i];
            }
            let mut v = vec![0.0; n];
            for (i, xi) in x.iter().enumerate() {
                v[self.perm[i]] = -xi.to_f64();
            }
            v[self.perm[j]] = 1.0;
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            for (i, x) in v.iter().enumerate() {
                out[(i, c)] = x / norm;
            }
        }
        out
    }
}

/// How one diagonal entry moved from precision $p$ to $p' > p$.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Movement {
    /// It stayed (within 8 bits) above $2^{-p/2}$: a genuine value.
    Genuine,
    /// It fell with the precision and sits below $2^{-3p/4}$ at both: a numerical zero.
    Zero,
    /// Neither: more precision is needed.
    Unclear,
}

/// Classifies $\log_2|R_{kk}|$ at precision `p` (`lo`) and `p2` (`hi`), relative to $R_{11}$.
pub fn classify(lo: f64, hi: f64, p: u32, p2: u32) -> Movement {
    let (p, p2) = (p as f64, p2 as f64);
    if hi > -p / 2.0 && (hi - lo).abs() <= 8.0 {
        Movement::Genuine
    } else if lo < -0.75 * p && hi < -0.75 * p2 && hi - lo < -(p2 - p) / 2.0 {
        Movement::Zero
    } else {
        Movement::Unclear
    }
}

/// The rank decided by precision doubling from two factorisations of the same family, or
/// `None` when some entry is unclear. Diagonal entries are taken relative to $R_{11}$.
pub fn decide(lo: &HpQr, hi: &HpQr) -> Option<usize> {
    let (dl, dh) = (lo.log2_diag(), hi.log2_diag());
    let (r0l, r0h) = (dl.first().copied()?, dh.first().copied()?);
    let live = lo.r.len() - lo.zero_columns.len();
    let mut rank = 0;
    for k in 0..dl.len().min(dh.len()).min(live) {
        match classify(dl[k] - r0l, dh[k] - r0h, lo.prec, hi.prec) {
            Movement::Genuine => rank = k + 1,
            Movement::Zero => break,
            Movement::Unclear => return None,
        }
    }
    Some(rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns x^j e^{x} at m points, plus planted combinations, at precision `prec`.
    fn family(prec: u32, m: usize, small: f64) -> Vec<Vec<Float>> {
        let xs: Vec<Float> = (0..m)
            .map(|i| Float::with_val(prec, i as f64 / m as f64 - 0.5))
            .collect();
        let col = |f: &dyn Fn(&Float) -> Float| xs.iter().map(f).collect::<Vec<_>>();
        vec![
            col(&|x| x.clone().exp()),
            col(&|x| x.clone() * x.clone().exp()),
            // exactly dependent: 2·col0 − col1
            col(&|x| Float::with_val(prec, 2) * x.clone().exp() - x.clone() * x.clone().exp()),
            // genuinely small effect: col0 + small·x²
            col(&|x| x.clone().exp() + Float::with_val(prec, small) * x.clone() * x.clone()),
            // identically zero
            col(&|_| Float::with_val(prec, 0)),
        ]
    }

    #[test]
    fn precision_doubling_separates_zeros_from_small_values() {
        let lo = qr_pivoted(family(128, 40, 1e-12), 128);
        let hi = qr_pivoted(family(256, 40, 1e-12), 256);
        assert_eq!(lo.zero_columns, [4]);
        assert_eq!(
            decide(&lo, &hi),
            Some(3),
            "exp, x·exp and the 1e-12 effect are genuine"
        );
        let ns = hi.null_space(3);
        assert_eq!(ns.ncols(), 2);
        // the dependent column's null vector: col2 − 2·col0 + col1 (scaled coordinates)
        let c = hi.compact();
        for j in 0..2 {
            let v = ns.column(j);
            assert!((&c * v).norm() < 1e-14, "{}", (&c * v).norm());
        }
    }

    #[test]
    fn classification() {
        assert_eq!(classify(-40.0, -40.5, 128, 256), Movement::Genuine);
        assert_eq!(classify(-120.0, -250.0, 128, 256), Movement::Zero);
        assert_eq!(classify(-90.0, -100.0, 128, 256), Movement::Unclear);
    }
}
