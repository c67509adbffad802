//! Numerical rank and null space of a derivative matrix.
//!
//! Columns are scaled to unit norm, $\tilde J = J D^{-1}$ with $D = \operatorname{diag}(\|J_{:\alpha}\|)$,
//! and the singular values $\sigma_1 \ge \dots \ge \sigma_n$ of $\tilde J$ are computed (through a QR
//! factorisation first when $N > 2n$, which leaves them unchanged). The rank is the cut with the
//! largest gap $\log_{10}(\sigma_k / \sigma_{k+1})$ among the cuts whose discarded values are below
//! [`Tolerance::zero_max`]$\,\sigma_1$; with no such cut the family has full rank. The null space
//! is spanned by the right singular vectors past the rank, plus a unit vector for every column
//! that is identically zero (norm below [`Tolerance::zero_column`] times the largest column norm).
//!
//! # Tolerances
//! AD evaluates each entry to a few ulps, so an exact relation leaves $\sigma_{k+1} \approx
//! 10^{-17}$–$10^{-15}\,\sigma_1$ (measured on the catalogue). A decision is not [`Rank::clear`]
//! (and is escalated to high precision) when the gap is under 3 decades, the smallest kept value
//! is within $10^3 \varepsilon\,\sigma_1$ of the floor, a discarded value exceeds
//! [`Tolerance::noise_max`] (it may be genuine), or a column is suspiciously tiny
//! ([`Tolerance::tiny_column`]: the rounding noise of a derivative that vanishes exactly).
//! A clear decision whose null space is read for relations is escalated too when its gap is
//! under [`Tolerance::relation_gap_decades`] (8): the rank is right, but null vectors off by
//! $10^{-4}$ give relations of noise (an 18-term "gauge" relation with a $4.6\cdot10^6$
//! coefficient in place of $u_1 + u_2 = 0$, measured on the catalogue before this rule).
//!
//! # References
//! docs/theory.md §2 (numerical rank, null vectors as relations).

#![allow(non_snake_case)]

pub mod certify;
pub mod hp;

pub use certify::Certificate;

use nalgebra::{DMatrix, DVector};

/// Tolerances of the rank decision, relative to $\sigma_1$ (or to the largest column norm).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// A singular value above `zero_max`$\,\sigma_1$ is never counted as zero.
    pub zero_max: f64,
    /// A column whose norm is below `zero_column` times the largest column norm is identically zero.
    pub zero_column: f64,
    /// A gap of fewer decades than this makes the decision unclear.
    pub clear_gap_decades: f64,
    /// A rank-deficient cut needs at least this gap (decades); a smooth decay below it is
    /// ill-conditioning, not dependence.
    pub min_gap_decades: f64,
    /// A discarded value above `noise_max`$\,\sigma_1$ may be genuine: f64 evaluation leaves
    /// exact zeros at $10^{-17}$–$10^{-15}\,\sigma_1$ on the catalogue, so the decision is unclear.
    pub noise_max: f64,
    /// A column whose norm is below `tiny_column` times the largest (but not zero) may be
    /// rounding noise of a derivative that vanishes exactly: the decision is unclear.
    pub tiny_column: f64,
    /// A null space read off a gap of fewer decades than this is too noisy for relations: its
    /// vectors are off by about $10^{-\text{gap}}$, and the canonical basis tells a coefficient
    /// from noise at $10^{-6}$ of the pivot ([`crate::relations::canonical`]), so the family is
    /// recomputed in high precision before its relations are read ([`Rank::relations_need_hp`]).
    pub relation_gap_decades: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            zero_max: 1e-10,
            zero_column: 1e-12,
            clear_gap_decades: 3.0,
            min_gap_decades: 2.0,
            noise_max: 1e-14,
            tiny_column: 1e-8,
            relation_gap_decades: 8.0,
        }
    }
}

/// The rank decision for one matrix.
#[derive(Clone, Debug)]
pub struct Rank {
    /// Number of columns.
    pub n: usize,
    /// The numerical rank.
    pub rank: usize,
    /// Singular values of the column-scaled matrix (non-zero columns), descending.
    pub singular_values: Vec<f64>,
    /// Column norms $D$ (1 for identically zero columns).
    pub scale: Vec<f64>,
    /// Columns that are identically zero.
    pub zero_columns: Vec<usize>,
    /// Decades between the smallest kept and the largest discarded singular value (to
    /// `f64::EPSILON` at full rank).
    pub gap_decades: f64,
    /// Whether the decision is clear in f64 (see the module docs).
    pub clear: bool,
    /// Basis of the null space of $\tilde J$ (columns), $n \times (n - \text{rank})$.
    pub null_space: DMatrix<f64>,
    /// $\Sigma V^T$ over all $n$ columns (zero columns give zero columns): a square stand-in
    /// for $\tilde J$ with $\|\tilde J v\| = \|\Sigma V^T v\|$, so residuals and refits of
    /// relations cost $O(n^2)$ instead of $O(Nn)$.
    pub compact: DMatrix<f64>,
}

impl Rank {
    /// $\sigma_1$ (0 for an empty or zero matrix).
    pub fn sigma_max(&self) -> f64 {
        self.singular_values.first().copied().unwrap_or(0.0)
    }

    /// The smallest kept singular value $\sigma_{\text{rank}}$ (0 at rank 0).
    pub fn sigma_min_kept(&self) -> f64 {
        if self.rank == 0 {
            0.0
        } else {
            self.singular_values[self.rank - 1]
        }
    }

    /// Dimension of the null space.
    pub fn nullity(&self) -> usize {
        self.n - self.rank
    }

    /// Whether relations read from this decision's null space need it recomputed in high
    /// precision: there is a null space and its gap is under
    /// [`Tolerance::relation_gap_decades`].
    pub fn relations_need_hp(&self, tol: &Tolerance) -> bool {
        self.rank + self.zero_columns.len() < self.n && self.gap_decades < tol.relation_gap_decades
    }
}

/// Singular values (descending) and $V^T$ of `A`, through QR when `A` is tall.
fn svd(A: DMatrix<f64>) -> (DVector<f64>, DMatrix<f64>) {
    let (m, n) = A.shape();
    let B = if m > 2 * n { A.qr().r() } else { A };
    let svd = B.svd(false, true);
    let mut s = svd.singular_values;
    let mut v_t = svd.v_t.expect("requested V^T");
    // nalgebra sorts descending for `svd()`; keep the guarantee explicit.
    let mut idx: Vec<usize> = (0..s.len()).collect();
    idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    if idx.iter().enumerate().any(|(i, &j)| i != j) {
        let s0 = s.clone();
        let v0 = v_t.clone();
        for (i, &j) in idx.iter().enumerate() {
            s[i] = s0[j];
            v_t.set_row(i, &v0.row(j));
        }
    }
    (s, v_t)
}

/// Decides the rank of `J` and its null space.
///
/// # Example
/// ```
/// use nalgebra::DMatrix;
/// use moeid::rank::{analyse, Tolerance};
/// // third column = first + second
/// let J = DMatrix::from_fn(20, 3, |i, j| {
///     let x = i as f64 / 19.0;
///     [x, x * x, x + x * x][j]
/// });
/// let r = analyse(&J, &Tolerance::default());
/// assert_eq!((r.rank, r.nullity()), (2, 1));
/// ```
pub fn analyse(J: &DMatrix<f64>, tol: &Tolerance) -> Rank {
    // NaN or infinite entries would send the SVD into an endless iteration: treated as zero
    // columns (the family stage names such values as errors before they get here).
    let finite;
    let J = if J.iter().all(|v| v.is_finite()) {
        J
    } else {
        finite = J.map(|v| if v.is_finite() { v } else { 0.0 });
        &finite
    };
    let n = J.ncols();
    let norms: Vec<f64> = (0..n).map(|j| J.column(j).norm()).collect();
    let max_norm = norms.iter().copied().fold(0.0, f64::max);
    let zero_columns: Vec<usize> = (0..n)
        .filter(|&j| norms[j] <= tol.zero_column * max_norm)
        .collect();
    let live: Vec<usize> = (0..n).filter(|j| !zero_columns.contains(j)).collect();
    let scale: Vec<f64> = (0..n)
        .map(|j| {
            if zero_columns.contains(&j) {
                1.0
            } else {
                norms[j]
            }
        })
        .collect();
    let nl = live.len();
    let mut null_space = DMatrix::zeros(n, 0);
    let mut compact = DMatrix::zeros(0, n);
    let (singular_values, rank_live, gap, clear) = if nl == 0 {
        (Vec::new(), 0, f64::INFINITY, true)
    } else {
        let A = DMatrix::from_fn(J.nrows(), nl, |i, k| J[(i, live[k])] / scale[live[k]]);
        let (s, v_t) = svd(A);
        let s: Vec<f64> = s.iter().copied().collect();
        let (k, gap) = cut(&s, tol);
        let s1 = s[0];
        let tiny = live.iter().any(|&j| norms[j] < tol.tiny_column * max_norm);
        let clear = gap >= tol.clear_gap_decades
            && s[k - 1] > 1e3 * f64::EPSILON * s1
            && (k == s.len() || s[k] <= tol.noise_max * s1)
            && !tiny;
        let m = nl - k;
        compact = DMatrix::zeros(v_t.nrows(), n);
        for (r, &j) in live.iter().enumerate() {
            for i in 0..v_t.nrows() {
                compact[(i, j)] = s.get(i).copied().unwrap_or(0.0) * v_t[(i, r)];
            }
        }
        null_space = DMatrix::zeros(n, m);
        for c in 0..m {
            for (r, &j) in live.iter().enumerate() {
                null_space[(j, c)] = v_t[(k + c, r)];
            }
        }
        (s, k, gap, clear)
    };
    let mut full = DMatrix::zeros(n, null_space.ncols() + zero_columns.len());
    full.columns_mut(0, null_space.ncols())
        .copy_from(&null_space);
    for (c, &j) in zero_columns.iter().enumerate() {
        full[(j, null_space.ncols() + c)] = 1.0;
    }
    Rank {
        n,
        rank: rank_live,
        singular_values,
        scale,
        zero_columns,
        gap_decades: gap,
        clear,
        null_space: full,
        compact,
    }
}

/// The rank cut $k$ and its gap in decades (see the module docs).
///
/// Gaps are measured with every value floored at $\varepsilon\,\sigma_1$: below that floor
/// f64 cannot tell values apart, and an exact zero ($10^{-300}$) must not make a huge "gap"
/// under a value that is itself noise ($10^{-14}$).
fn cut(s: &[f64], tol: &Tolerance) -> (usize, f64) {
    let n = s.len();
    let s1 = s[0];
    if s1 == 0.0 {
        return (0, f64::INFINITY);
    }
    let floor = f64::EPSILON * s1;
    let at = |i: usize| s[i].max(floor);
    let zero = tol.zero_max * s1;
    // Full rank is a candidate when the last value cannot be a zero; its gap is to the floor.
    let mut best = (s[n - 1] > zero).then(|| (n, (at(n - 1) / floor).log10()));
    #[allow(clippy::needless_range_loop)] // k indexes two neighbours
    for k in 1..n {
        let gap = (at(k - 1) / at(k)).log10();
        let candidate = s[k] <= zero && gap >= tol.min_gap_decades;
        if candidate && best.is_none_or(|(_, g)| gap > g) {
            best = Some((k, gap));
        }
    }
    // No clear cut: full rank, with the (small) gap to the floor saying how unclear it is.
    best.unwrap_or((n, (at(n - 1) / floor).log10()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn random(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
    }

    #[track_caller]
    fn assert_null(J: &DMatrix<f64>, r: &Rank) {
        let scaled = DMatrix::from_fn(J.nrows(), J.ncols(), |i, j| J[(i, j)] / r.scale[j]);
        for c in 0..r.null_space.ncols() {
            let v = r.null_space.column(c);
            assert!((v.norm() - 1.0).abs() < 1e-12);
            let res = (&scaled * v).norm();
            let bound = 1e-12 * (J.nrows() as f64).sqrt();
            assert!(res <= bound, "‖J v‖ = {res:e}");
        }
    }

    #[test]
    fn full_rank_random_matrices() {
        for (rows, cols) in [(50, 5), (200, 30), (31, 30)] {
            let J = random(rows, cols, rows as u64);
            let r = analyse(&J, &Tolerance::default());
            assert_eq!(r.rank, cols);
            assert!(r.clear);
            assert_eq!(r.null_space.ncols(), 0);
        }
    }

    #[test]
    fn planted_dependencies_are_found_at_any_scale() {
        for scale in [1e-8, 1.0, 1e9] {
            let mut J = random(120, 12, 3);
            // column 11 = 2·col0 − 3·col5, column 10 = 0, columns rescaled wildly
            for i in 0..120 {
                J[(i, 11)] = 2.0 * J[(i, 0)] - 3.0 * J[(i, 5)];
                J[(i, 10)] = 0.0;
                J[(i, 3)] *= scale;
            }
            let r = analyse(&J, &Tolerance::default());
            assert_eq!(r.rank, 10, "scale {scale}");
            assert_eq!(r.zero_columns, [10]);
            assert_eq!(r.nullity(), 2);
            assert!(r.gap_decades > 10.0, "{}", r.gap_decades);
            // columns 1e-8 the size of others may be rounding noise: unclear, escalated
            assert_eq!(r.clear, scale == 1.0, "scale {scale}");
            assert_null(&J, &r);
        }
    }

    #[test]
    fn rank_is_invariant_under_column_scaling_and_row_count() {
        let base = random(300, 8, 11);
        let mut J = base.clone();
        for i in 0..300 {
            J[(i, 7)] = J[(i, 1)] + J[(i, 2)];
        }
        let r1 = analyse(&J, &Tolerance::default()).rank;
        let short = J.rows(0, 12).into_owned();
        let r2 = analyse(&short, &Tolerance::default()).rank;
        let mut scaled = J.clone();
        scaled.column_mut(4).scale_mut(1e6);
        let r3 = analyse(&scaled, &Tolerance::default()).rank;
        assert_eq!((r1, r2, r3), (7, 7, 7));
    }

    #[test]
    fn small_but_genuine_values_are_kept() {
        // A column that differs from another by 1e-7 of its size: nonzero, σ_min ≈ 5e-8.
        let mut J = random(100, 4, 5);
        for i in 0..100 {
            J[(i, 3)] = J[(i, 2)] * (1.0 + 1e-7 * J[(i, 0)]);
        }
        let r = analyse(&J, &Tolerance::default());
        assert_eq!(r.rank, 4);
    }

    #[test]
    fn exact_zeros_do_not_hide_noise_level_values() {
        // Spectrum 1, 1e-3, then a noise-level value and an exact zero: rank 2, not 3.
        let mut J = random(60, 4, 8);
        for i in 0..60 {
            J[(i, 2)] = J[(i, 0)] * (1.0 + 1e-3 * J[(i, 1)]);
            J[(i, 3)] = J[(i, 0)];
        }
        for i in 0..60 {
            J[(i, 2)] = J[(i, 0)] + 1e-3 * J[(i, 1)] * J[(i, 0)];
        }
        let r = analyse(&J, &Tolerance::default());
        assert_eq!(r.rank, 3);
        let mut K = J.clone();
        for i in 0..60 {
            // an exact duplicate and a column equal to col0 up to rounding noise
            K[(i, 2)] = J[(i, 0)] * 3.0 / 3.0 + J[(i, 0)] * 1e-15;
        }
        let r = analyse(&K, &Tolerance::default());
        assert_eq!(r.rank, 2, "{:?}", r.singular_values);
        assert!(r.gap_decades > 10.0);
    }

    #[test]
    fn a_clear_rank_over_a_small_gap_sends_its_null_space_to_high_precision() {
        // col4 = col0 + 1e-8·e (e a fresh direction: independent, σ ≈ 1e-8) and col5 = col2 +
        // col3 (exact, σ at the rounding floor): the rank is clear, the null vector is not.
        let mut J = random(80, 6, 9);
        let e = random(80, 1, 10);
        for i in 0..80 {
            J[(i, 4)] = J[(i, 0)] + 1e-8 * e[(i, 0)];
            J[(i, 5)] = J[(i, 2)] + J[(i, 3)];
        }
        let tol = Tolerance::default();
        let r = analyse(&J, &tol);
        assert_eq!(r.rank, 5, "{:?}", r.singular_values);
        assert!(r.clear, "gap {}", r.gap_decades);
        assert!(
            r.gap_decades < tol.relation_gap_decades,
            "{}",
            r.gap_decades
        );
        assert!(r.relations_need_hp(&tol));
        // the same dependence beside well-conditioned columns needs nothing more
        let mut K = random(80, 6, 9);
        for i in 0..80 {
            K[(i, 5)] = K[(i, 2)] + K[(i, 3)];
        }
        let r = analyse(&K, &tol);
        assert!(r.clear && !r.relations_need_hp(&tol), "{}", r.gap_decades);
        // a null space of identically zero columns only is exact, whatever the live gap
        let mut Z = random(80, 3, 9);
        Z.column_mut(1).fill(0.0);
        let near = Z.column(0) + Z.column(2) * 1e-9;
        Z.column_mut(2).copy_from(&near);
        let r = analyse(&Z, &tol);
        assert_eq!(r.zero_columns, [1]);
        assert!(!r.relations_need_hp(&tol));
    }

    #[test]
    fn zero_matrix() {
        let r = analyse(&DMatrix::zeros(10, 3), &Tolerance::default());
        assert_eq!((r.rank, r.nullity()), (0, 3));
    }
}
