//! Does the span of symmetric blocks contain a nonzero positive semidefinite matrix?
//!
//! Given symmetric $B_1, \dots, B_m \in \mathbb{R}^{P \times P}$, decide whether some
//! $S(w) = \sum_j w_j B_j$ is positive semidefinite and nonzero (negating $w$ covers the
//! negative semidefinite case). A nonzero PSD matrix has positive trace, so the question is
//! the sign of
//! $$t^* = \max_{w,\,t} \; t \quad \text{s.t.} \quad S(w) - tI \succeq 0,\; \operatorname{tr} S(w) = 1,$$
//! and the answer is yes iff $t^* \ge -\mathrm{tol}$.
//!
//! # Normalisation
//! The answer is invariant under a congruence $B_j \mapsto D B_j D$, but $t^*$ is not, so the
//! blocks are first balanced: indices whose entries are negligible in every block (below
//! $10^{-10}$ of that block's largest entry) are dropped (a principal submatrix of a PSD matrix
//! is PSD, and a dropped index only adds an eigenvalue $\approx 0$), and a diagonal $D$ is chosen
//! by Ruiz equilibration so that $\max_k D_{ii} M_{ik} D_{kk} = 1$ for every row of the pattern
//! $M_{ik} = \max_j |B_{j,ik}| / \max |B_j|$. The reported $t^*$ and the tolerance refer to this
//! balanced problem; with dropped indices $t^*$ is capped at $0$.
//!
//! # Method
//! 1. Cheap exact check: a single block $\pm B_j$ that is PSD up to tolerance is a witness.
//! 2. Vectorise the blocks (upper triangle, off-diagonal entries times $\sqrt 2$, so that the
//!    Euclidean product is the Frobenius one) and take an orthonormal basis $C_1, \dots, C_q$ of
//!    their span from the SVD (singular values below $10^{-10}\sigma_1$ dropped); the right
//!    singular vectors map a combination of the $C_k$ back to least-norm weights $w$.
//! 3. If $q = 0$ or the trace vector $\tau_k = \operatorname{tr} C_k$ vanishes, every element is
//!    traceless, hence never PSD and nonzero: no, with $t^* = -\infty$.
//! 4. Otherwise write $z = z_0 + N y$ with $\tau^\top z_0 = 1$ and $N$ an orthonormal basis of
//!    $\tau^\perp$, so that $S = A_0 + \sum_i y_i A_i$ with traceless, orthonormal $A_i$, and
//!    minimise the self-concordant barrier $\psi_\mu(y, t) = -t/\mu - \log\det F$,
//!    $F = A_0 + \sum_i y_i A_i - tI$, by damped Newton steps (gradient $-\operatorname{tr}
//!    (F^{-1}\partial_a F)$, Hessian $\operatorname{tr}(F^{-1}\partial_a F F^{-1}\partial_b F)$,
//!    with $\partial_t F = -I$; it is positive definite because $-I \notin \operatorname{span}
//!    \{A_i\}$), then $\mu \leftarrow \mu/10$. Every iterate keeps $F \succ 0$ (Cholesky).
//! 5. Decision: an iterate with $t \ge -\mathrm{tol}$ proves yes ($\lambda_{\min}(S) > t$). At a
//!    centre $t(\mu) \le t^* \le t(\mu) + P\mu$, so $t(\mu) + P\mu < -\mathrm{tol}$ proves no.
//!    At the iteration cap (or a numerical failure) the sign of $t(\mu) + P\mu/2 + \mathrm{tol}$
//!    decides, flagged as not [`PsdOutcome::decided`]; so is a decision that needed
//!    $P\mu < 10^{-13}$, the rounding level (which only happens for $\mathrm{tol} \lesssim 10^{-12}$).
//!
//! # References
//! docs/theory.md §3 (interactions as PSD second-order blocks); tech-notes.md, "The PSD test";
//! Boyd & Vandenberghe, *Convex Optimization*, §9.6 and §11.3 (damped Newton, barrier method);
//! D. Ruiz, "A scaling algorithm to equilibrate both rows and columns norms in matrices" (2001).

#![allow(non_snake_case)]

use nalgebra::{Cholesky, DMatrix, DVector, SymmetricEigen, SVD};

/// Outcome of the PSD test.
#[derive(Clone, Debug, PartialEq)]
pub struct PsdOutcome {
    /// Whether some combination is PSD and nonzero.
    pub interaction: bool,
    /// The optimum $t^* = \max \lambda_{\min}(S(w))$ subject to $\operatorname{tr} S(w) = 1$ (−∞
    /// when no combination has nonzero trace) of the balanced blocks (see the module docs). When
    /// `interaction` is true it is $\lambda_{\min}$ of the witness, a lower bound $\ge -$`tol`;
    /// otherwise the last barrier estimate, within $P\mu$ below $t^*$. NaN for invalid input.
    pub lambda: f64,
    /// Weights on the input blocks of a witness (empty when `interaction` is false); S(w) is PSD
    /// (not NSD) with trace 1.
    pub weights: Vec<f64>,
    /// Whether the barrier method reached a decision within its iteration cap. False also for
    /// invalid input and for decisions at the rounding level (see the module docs).
    pub decided: bool,
}

/// Relative cut on singular values of the vectorised blocks.
const RANK_CUT: f64 = 1e-10;
/// An index whose entries are below this fraction of every block's largest entry is dropped.
const ROW_CUT: f64 = 1e-10;
/// Relative size under which the trace vector counts as zero.
const TRACE_CUT: f64 = 1e-12;
/// Decisions that need $P\mu$ below this are at the rounding level and flagged as not decided.
const RESOLUTION: f64 = 1e-13;
const MAX_OUTER: usize = 60;
const MAX_NEWTON: usize = 50;
const MU_FACTOR: f64 = 0.1;

/// Decides whether some nonzero combination of the symmetric `blocks` is positive semidefinite.
///
/// `tol` (default $10^{-7}$, used when `tol` is not finite and nonnegative) is the margin on
/// $t^*$, i.e. relative to the trace. Non-symmetric blocks are symmetrised; blocks of unequal or
/// non-square shape, or with non-finite entries, give no with `decided = false`.
pub fn psd_combination(blocks: &[DMatrix<f64>], tol: f64) -> PsdOutcome {
    let tol = Some(tol)
        .filter(|t| t.is_finite() && *t >= 0.0)
        .unwrap_or(1e-7);
    let no = |lambda: f64, decided: bool| PsdOutcome {
        interaction: false,
        lambda,
        weights: Vec::new(),
        decided,
    };
    let P = blocks.first().map_or(0, |b| b.nrows());
    if blocks
        .iter()
        .any(|b| b.nrows() != P || b.ncols() != P || b.iter().any(|x| !x.is_finite()))
    {
        return no(f64::NAN, false);
    }
    let sym: Vec<DMatrix<f64>> = blocks
        .iter()
        .map(|b| b * 0.5 + b.transpose() * 0.5)
        .collect();
    let scale = sym
        .iter()
        .flat_map(|b| b.iter())
        .fold(0.0_f64, |a, x| a.max(x.abs()));
    if scale == 0.0 {
        return no(f64::NEG_INFINITY, true);
    }
    let sym: Vec<DMatrix<f64>> = sym.into_iter().map(|b| b / scale).collect();
    let (keep, d) = equilibrate(&sym);
    let cap = |lambda: f64| {
        if keep.len() < P {
            lambda.min(0.0)
        } else {
            lambda
        }
    };
    let balanced: Vec<DMatrix<f64>> = sym
        .iter()
        .map(|b| {
            DMatrix::from_fn(keep.len(), keep.len(), |i, k| {
                d[i] * b[(keep[i], keep[k])] * d[k]
            })
        })
        .collect();
    // A witness found on the balanced blocks, mapped to the input blocks with trace 1.
    let yes = |w: DVector<f64>, lambda: f64, decided: bool| {
        let trace: f64 = w.iter().zip(&sym).map(|(wj, b)| wj * b.trace()).sum();
        let norm = if trace > 0.0 && trace.is_finite() {
            trace * scale
        } else {
            scale
        };
        PsdOutcome {
            interaction: true,
            lambda: cap(lambda),
            weights: w.iter().map(|wj| wj / norm).collect(),
            decided,
        }
    };

    // Cheap exact check: a single block, or its negative, that is PSD up to tolerance.
    let largest = balanced.iter().map(|b| b.norm()).fold(0.0_f64, f64::max);
    let mut best: Option<(usize, f64, f64)> = None;
    for (j, b) in balanced.iter().enumerate() {
        let trace = b.trace();
        if b.norm() <= RANK_CUT * largest || trace.abs() <= TRACE_CUT * b.norm() {
            continue;
        }
        let Some((lo, hi)) = eigen_range(b) else {
            continue;
        };
        let (sign, lambda) = if trace > 0.0 {
            (1.0, lo / trace)
        } else {
            (-1.0, hi / trace)
        };
        if lambda >= -tol && best.is_none_or(|(_, _, l)| lambda > l) {
            best = Some((j, sign / trace.abs(), lambda));
        }
    }
    if let Some((j, wj, lambda)) = best {
        let mut w = DVector::zeros(blocks.len());
        w[j] = wj;
        return yes(w, lambda, true);
    }

    let Some((C, coef)) = span_basis(&balanced) else {
        return no(f64::NAN, false);
    };
    let tau = DVector::from_iterator(C.len(), C.iter().map(|c| c.trace()));
    let tau_norm = tau.norm();
    if C.is_empty() || tau_norm <= TRACE_CUT * (keep.len() as f64).sqrt() {
        return no(f64::NEG_INFINITY, true);
    }
    // z0 with tau·z0 = 1; N: columns 1.. of the Householder reflection mapping tau to e_0.
    let z0 = &tau / (tau_norm * tau_norm);
    let q = C.len();
    let mut v = &tau / tau_norm;
    v[0] += if v[0] >= 0.0 { 1.0 } else { -1.0 };
    let H = DMatrix::identity(q, q) - &v * v.transpose() * (2.0 / v.norm_squared());
    let N = H.columns(1, q - 1).into_owned();
    let combine = |z: &DVector<f64>| {
        C.iter()
            .zip(z.iter())
            .fold(DMatrix::zeros(keep.len(), keep.len()), |s, (c, zk)| {
                s + c * *zk
            })
    };
    let A0 = combine(&z0);
    let A: Vec<DMatrix<f64>> = (0..q - 1)
        .map(|i| combine(&N.column(i).into_owned()))
        .collect();

    let run = barrier(&A0, &A, tol);
    let z = z0 + &N * &run.y;
    if run.interaction {
        yes(&coef * z, run.lambda, run.decided)
    } else {
        no(cap(run.lambda), run.decided)
    }
}

/// Indices kept (some block has an entry above [`ROW_CUT`] of its largest there) and the Ruiz
/// scaling $D$ on them, which makes every row maximum of $D M D$ equal to 1.
fn equilibrate(blocks: &[DMatrix<f64>]) -> (Vec<usize>, Vec<f64>) {
    let P = blocks.first().map_or(0, |b| b.nrows());
    let mut M = DMatrix::<f64>::zeros(P, P);
    for b in blocks {
        let s = b.amax();
        if s > 0.0 {
            M.zip_apply(b, |m, x| *m = m.max(x.abs() / s));
        }
    }
    let keep: Vec<usize> = (0..P).filter(|&i| M.row(i).max() > ROW_CUT).collect();
    let M = M.select_rows(&keep).select_columns(&keep);
    let mut d = vec![1.0; keep.len()];
    for _ in 0..200 {
        let r: Vec<f64> = (0..keep.len())
            .map(|i| (0..keep.len()).fold(0.0_f64, |a, k| a.max(d[i] * M[(i, k)] * d[k])))
            .collect();
        if r.iter().all(|ri| (ri - 1.0).abs() < 1e-6) {
            break;
        }
        d.iter_mut().zip(&r).for_each(|(di, ri)| *di /= ri.sqrt());
    }
    (keep, d)
}

/// Orthonormal basis $C_k$ (Frobenius) of the span of `blocks`, and the map `coef` ($m \times q$)
/// with $\sum_k z_k C_k = \sum_j (\mathrm{coef}\, z)_j B_j$ (least-norm weights).
fn span_basis(blocks: &[DMatrix<f64>]) -> Option<(Vec<DMatrix<f64>>, DMatrix<f64>)> {
    let (P, m) = (blocks.first().map_or(0, |b| b.nrows()), blocks.len());
    let pairs: Vec<(usize, usize)> = (0..P).flat_map(|i| (i..P).map(move |k| (i, k))).collect();
    if pairs.is_empty() || m == 0 {
        return Some((Vec::new(), DMatrix::zeros(m, 0)));
    }
    let weight = |i: usize, k: usize| {
        if i == k {
            1.0
        } else {
            std::f64::consts::SQRT_2
        }
    };
    let X = DMatrix::from_fn(pairs.len(), m, |r, j| {
        let (i, k) = pairs[r];
        weight(i, k) * blocks[j][(i, k)]
    });
    let svd = SVD::try_new(X, true, true, f64::EPSILON, 10_000)?;
    let (U, Vt) = (svd.u?, svd.v_t?);
    let sigma = svd.singular_values;
    let q = sigma
        .iter()
        .take_while(|&&s| s > RANK_CUT * sigma[0] && s > 0.0)
        .count();
    let C = (0..q)
        .map(|c| {
            let mut Ck = DMatrix::zeros(P, P);
            for (r, &(i, k)) in pairs.iter().enumerate() {
                Ck[(i, k)] = U[(r, c)] / weight(i, k);
                Ck[(k, i)] = Ck[(i, k)];
            }
            Ck
        })
        .collect();
    let coef = DMatrix::from_fn(m, q, |j, c| Vt[(c, j)] / sigma[c]);
    Some((C, coef))
}

/// Smallest and largest eigenvalue of a symmetric matrix.
fn eigen_range(S: &DMatrix<f64>) -> Option<(f64, f64)> {
    let eig = SymmetricEigen::try_new(S.clone(), f64::EPSILON, 10_000)?;
    let (lo, hi) = (eig.eigenvalues.min(), eig.eigenvalues.max());
    (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
}

/// Result of the barrier method: the decision, $\lambda_{\min}$ of the last $S$, and its $y$.
struct BarrierRun {
    interaction: bool,
    lambda: f64,
    y: DVector<f64>,
    decided: bool,
}

/// Damped Newton barrier method for $\max t$ s.t. $A_0 + \sum_i y_i A_i - tI \succeq 0$.
fn barrier(A0: &DMatrix<f64>, A: &[DMatrix<f64>], tol: f64) -> BarrierRun {
    let P = A0.nrows();
    let n = A.len();
    let S_of = |y: &DVector<f64>| {
        A.iter()
            .zip(y.iter())
            .fold(A0.clone(), |s, (a, yi)| s + a * *yi)
    };
    let F_of = |x: &DVector<f64>| {
        let y = x.rows(0, n).into_owned();
        S_of(&y) - DMatrix::identity(P, P) * x[n]
    };
    let lambda_min =
        |x: &DVector<f64>| eigen_range(&S_of(&x.rows(0, n).into_owned())).map_or(f64::NAN, |r| r.0);
    let done = |x: &DVector<f64>, interaction: bool, decided: bool| BarrierRun {
        interaction,
        lambda: lambda_min(x),
        y: x.rows(0, n).into_owned(),
        decided,
    };
    let Some((lo, hi)) = eigen_range(A0) else {
        return done(&DVector::zeros(n + 1), false, false);
    };
    let spread = (hi - lo).max(1.0 / P as f64);
    let mut x = DVector::zeros(n + 1);
    x[n] = lo - spread;
    let mut mu = spread / P as f64;
    // Decisions taken with P μ below the rounding level of the problem are not clear.
    let clear = |mu: f64| P as f64 * mu >= RESOLUTION;
    let cap = |x: &DVector<f64>, mu: f64| done(x, x[n] + 0.5 * P as f64 * mu >= -tol, false);
    for _ in 0..MAX_OUTER {
        for _ in 0..MAX_NEWTON {
            let Some((dx, decrement)) = newton_direction(&F_of(&x), A, mu) else {
                return cap(&x, mu);
            };
            if decrement < 1e-6 {
                break;
            }
            // Damped Newton: a step 1/(1 + δ) stays inside the Dikin ellipsoid.
            let mut step = if decrement > 0.25 {
                1.0 / (1.0 + decrement)
            } else {
                1.0
            };
            let Some(next) = (0..60).find_map(|_| {
                let trial = &x + &dx * step;
                step *= 0.5;
                Cholesky::new(F_of(&trial)).map(|_| trial)
            }) else {
                return cap(&x, mu);
            };
            x = next;
            if x[n] >= -tol {
                return done(&x, true, clear(mu));
            }
        }
        if x[n] + P as f64 * mu < -tol {
            return done(&x, false, clear(mu));
        }
        if lambda_min(&x) >= -tol {
            return done(&x, true, clear(mu));
        }
        mu *= MU_FACTOR;
        if P as f64 * mu < 1e-3 * RESOLUTION {
            break;
        }
    }
    cap(&x, mu)
}

/// Newton direction of $\psi_\mu = -t/\mu - \log\det F$ at $F \succ 0$ and the Newton
/// decrement $\sqrt{-g^\top \Delta}$; `None` if $F$ is not positive definite or the system fails.
fn newton_direction(F: &DMatrix<f64>, A: &[DMatrix<f64>], mu: f64) -> Option<(DVector<f64>, f64)> {
    let P = F.nrows();
    let n = A.len();
    let Linv = Cholesky::new(F.clone())?
        .l()
        .solve_lower_triangular(&DMatrix::identity(P, P))?;
    // G_a = L^{-1} (∂_a F) L^{-T}: the y-directions, then t with ∂_t F = -I.
    let mut G: Vec<DMatrix<f64>> = A.iter().map(|a| &Linv * a * Linv.transpose()).collect();
    G.push(-(&Linv * Linv.transpose()));
    let mut g = DVector::from_iterator(n + 1, G.iter().map(|Ga| -Ga.trace()));
    g[n] -= 1.0 / mu;
    let H = DMatrix::from_fn(n + 1, n + 1, |a, b| G[a].dot(&G[b]));
    // Jacobi scaling before the Cholesky solve.
    let s = H.diagonal().map(|h| 1.0 / h.max(f64::MIN_POSITIVE).sqrt());
    let Hs = DMatrix::from_diagonal(&s) * H * DMatrix::from_diagonal(&s);
    let rhs = -g.component_mul(&s);
    let chol = Cholesky::new(Hs.clone())
        .or_else(|| Cholesky::new(Hs + DMatrix::identity(n + 1, n + 1) * 1e-12))?;
    let dx = chol.solve(&rhs).component_mul(&s);
    let decrement = (-g.dot(&dx)).max(0.0).sqrt();
    (dx.iter().all(|v| v.is_finite()) && decrement.is_finite()).then_some((dx, decrement))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const TOL: f64 = 1e-7;

    fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        let v: f64 = rng.random_range(0.0..std::f64::consts::TAU);
        (-2.0 * u.ln()).sqrt() * v.cos()
    }

    fn random_symmetric(rng: &mut ChaCha8Rng, P: usize) -> DMatrix<f64> {
        let G = DMatrix::from_fn(P, P, |_, _| gaussian(rng));
        (&G + G.transpose()) * 0.5
    }

    fn unit(P: usize, i: usize, k: usize) -> DMatrix<f64> {
        let mut E = DMatrix::zeros(P, P);
        E[(i, k)] = 1.0;
        E[(k, i)] = 1.0;
        E
    }

    fn lambda_range(S: &DMatrix<f64>) -> (f64, f64) {
        eigen_range(S).expect("eigenvalues")
    }

    /// The input blocks' combination with the reported weights.
    fn witness(blocks: &[DMatrix<f64>], out: &PsdOutcome) -> DMatrix<f64> {
        assert_eq!(out.weights.len(), blocks.len());
        let P = blocks[0].nrows();
        blocks
            .iter()
            .zip(&out.weights)
            .fold(DMatrix::zeros(P, P), |s, (b, w)| s + b * *w)
    }

    /// Asserts a YES outcome with a witness of trace 1 that is PSD up to `slack`.
    fn assert_witness(blocks: &[DMatrix<f64>], out: &PsdOutcome, slack: f64) {
        assert!(out.interaction, "{out:?}");
        let S = witness(blocks, out);
        assert!((S.trace() - 1.0).abs() < 1e-8, "trace {}", S.trace());
        let (lo, _) = lambda_range(&S);
        assert!(lo >= -slack * S.norm(), "witness λ_min {lo}");
    }

    /// Exact answer for a single block: B or −B is PSD and nonzero.
    fn single_block_answer(B: &DMatrix<f64>) -> bool {
        let (lo, hi) = lambda_range(B);
        let t = B.trace();
        (t > 0.0 && lo >= -TOL * t) || (t < 0.0 && hi <= -TOL * t)
    }

    #[test]
    fn single_rank_one_block_is_yes_with_lambda_zero() {
        for k in 0..3 {
            let blocks = vec![unit(3, k, k) * 2.5];
            let out = psd_combination(&blocks, TOL);
            assert!(out.interaction && out.decided, "{out:?}");
            assert!(out.lambda.abs() < 1e-6, "{out:?}");
            assert_witness(&blocks, &out, 1e-12);
        }
        // Negated: an NSD block counts, the witness is still PSD.
        let blocks = vec![unit(3, 1, 1) * -3.0];
        let out = psd_combination(&blocks, TOL);
        assert!(out.lambda.abs() < 1e-6);
        assert_witness(&blocks, &out, 1e-12);
    }

    #[test]
    fn rank_one_hidden_in_a_span_is_yes() {
        // E_00 = B1 + B2 with both blocks indefinite; the optimum is exactly λ = 0.
        let T = unit(3, 0, 1) + unit(3, 1, 2) * 0.5 - unit(3, 2, 2);
        let blocks = vec![unit(3, 0, 0) + &T, -&T * 2.0];
        for b in &blocks {
            assert!(!single_block_answer(b));
        }
        let out = psd_combination(&blocks, TOL);
        assert!(out.decided, "{out:?}");
        assert!(out.lambda.abs() < 1e-6, "{out:?}");
        assert_witness(&blocks, &out, 1e-6);
    }

    #[test]
    fn off_diagonal_coupling_is_no() {
        let blocks = vec![unit(3, 0, 0) + unit(3, 0, 1) * 0.7];
        let out = psd_combination(&blocks, TOL);
        assert!(!out.interaction && out.decided, "{out:?}");
        assert!(out.lambda < -0.1, "{out:?}");
        assert!(out.weights.is_empty());
    }

    #[test]
    fn heat_type_block_is_no() {
        // Σ_k ∂²/∂β1k² − 4 ∂²/∂β0∂τ in d = 2: diag(2, 2, 0, 0) with −4 at (2, 3).
        let blocks = vec![(unit(4, 0, 0) + unit(4, 1, 1)) * 2.0 - unit(4, 2, 3) * 4.0];
        let out = psd_combination(&blocks, TOL);
        assert!(!out.interaction && out.decided, "{out:?}");
        assert!(out.lambda < -0.1, "{out:?}");
    }

    #[test]
    fn indefinite_blocks_with_psd_sum_are_yes() {
        let B1 = DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, -1.0]));
        for B2 in [vec![0.0, 2.0], vec![-1.0, 3.0], vec![-0.5, 2.0]] {
            let blocks = vec![B1.clone(), DMatrix::from_diagonal(&DVector::from_vec(B2))];
            let out = psd_combination(&blocks, TOL);
            assert!(out.decided, "{out:?}");
            assert_witness(&blocks, &out, 1e-9);
        }
        // A coupled 3×3 pair: each block indefinite, their sum positive definite.
        let T = unit(3, 0, 2) * 3.0 - unit(3, 1, 1) * 2.0;
        let blocks = vec![DMatrix::identity(3, 3) + &T, -&T];
        let out = psd_combination(&blocks, TOL);
        assert!(out.decided && out.lambda > 0.1, "{out:?}");
        assert_witness(&blocks, &out, 1e-9);
    }

    #[test]
    fn traceless_span_is_no_with_minus_infinity() {
        let blocks = vec![
            unit(3, 0, 0) - unit(3, 1, 1),
            unit(3, 0, 1),
            unit(3, 1, 2) * 2.0,
            (unit(3, 0, 0) - unit(3, 1, 1)) * -3.0 + unit(3, 0, 1),
        ];
        let out = psd_combination(&blocks, TOL);
        assert!(!out.interaction && out.decided, "{out:?}");
        assert_eq!(out.lambda, f64::NEG_INFINITY);
    }

    #[test]
    fn empty_zero_and_invalid_inputs() {
        let out = psd_combination(&[], TOL);
        assert!(!out.interaction && out.decided && out.weights.is_empty());
        let out = psd_combination(&[DMatrix::zeros(3, 3), DMatrix::zeros(3, 3)], TOL);
        assert!(!out.interaction && out.decided);
        assert_eq!(out.lambda, f64::NEG_INFINITY);
        assert!(!psd_combination(&[DMatrix::zeros(0, 0)], TOL).interaction);
        let mut nan = unit(3, 0, 0);
        nan[(1, 2)] = f64::NAN;
        let out = psd_combination(&[unit(3, 0, 0), nan], TOL);
        assert!(!out.interaction && !out.decided);
        let out = psd_combination(&[unit(3, 0, 0), unit(2, 0, 0)], TOL);
        assert!(!out.interaction && !out.decided);
        let out = psd_combination(&[DMatrix::from_element(2, 3, 1.0)], TOL);
        assert!(!out.interaction && !out.decided);
        // Non-symmetric input is symmetrised: [[1, 2], [0, 1]] ~ [[1, 1], [1, 1]] is PSD.
        let blocks = vec![DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 0.0, 1.0])];
        let out = psd_combination(&blocks, TOL);
        assert!(out.interaction && out.lambda.abs() < 1e-9, "{out:?}");
        // Huge and tiny magnitudes, and a bad tolerance.
        for scale in [1e300, 1e-300] {
            let blocks = vec![unit(2, 0, 1) * scale, unit(2, 0, 0) * scale * 1e-5];
            let out = psd_combination(&blocks, f64::NAN);
            assert!(out.interaction && out.decided, "{out:?}");
            assert_witness(&blocks, &out, 1e-12);
        }
    }

    #[test]
    fn duplicates_do_not_change_the_answer() {
        let yes = vec![unit(3, 0, 0) + unit(3, 1, 2), -unit(3, 1, 2) * 0.5];
        let no = vec![unit(3, 0, 0) + unit(3, 0, 1) * 0.7, unit(3, 1, 2)];
        for (blocks, answer) in [(yes, true), (no, false)] {
            let mut extended = blocks.clone();
            extended.push(blocks[0].clone());
            extended.push(&blocks[0] * 2.0 - &blocks[1] * 3.0);
            extended.push(DMatrix::zeros(3, 3));
            extended.push(blocks[1].clone());
            for set in [&blocks, &extended] {
                let out = psd_combination(set, TOL);
                assert_eq!(out.interaction, answer, "{out:?}");
                assert!(out.decided);
                if answer {
                    assert_witness(set, &out, 1e-6);
                }
            }
        }
    }

    /// Random instances: `m` Gaussian blocks, or a planted rank-one PSD matrix split into
    /// indefinite pieces plus Gaussian blocks.
    fn random_instance(
        rng: &mut ChaCha8Rng,
        P: usize,
        m: usize,
        planted: bool,
    ) -> Vec<DMatrix<f64>> {
        let mut blocks: Vec<DMatrix<f64>> = (0..m).map(|_| random_symmetric(rng, P)).collect();
        if planted {
            let v = DVector::from_fn(P, |_, _| gaussian(rng));
            let T1 = random_symmetric(rng, P);
            let T2 = random_symmetric(rng, P);
            blocks.push(&v * v.transpose() + &T1 - &T2);
            blocks.push(T2 * 2.0);
            blocks.push(-T1 - &blocks[m + 1] * 0.5);
        }
        blocks
    }

    #[test]
    fn planted_rank_one_instances_are_found() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for trial in 0..40 {
            let P = 2 + trial % 8;
            let m = trial % 4;
            let blocks = random_instance(&mut rng, P, m, true);
            let out = psd_combination(&blocks, TOL);
            assert!(out.decided, "trial {trial}: {out:?}");
            assert_witness(&blocks, &out, 1e-6);
        }
    }

    #[test]
    fn single_gaussian_blocks_match_the_exact_answer() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut yes = [0; 5];
        for trial in 0..200 {
            let P = [1, 2, 3, 4, 4][trial % 5];
            let blocks = vec![random_symmetric(&mut rng, P)];
            let out = psd_combination(&blocks, TOL);
            assert_eq!(
                out.interaction,
                single_block_answer(&blocks[0]),
                "trial {trial}: {out:?}"
            );
            assert!(out.decided);
            yes[trial % 5] += out.interaction as usize;
        }
        assert_eq!(yes[0], 40, "P = 1 is always YES");
        assert!(yes[3] + yes[4] < 20, "P = 4 is mostly NO: {yes:?}");
        assert!(yes[1] > 0, "P = 2 has some YES: {yes:?}");
    }

    #[test]
    fn two_blocks_match_a_sweep_over_the_circle() {
        // t* = max over θ of λ_min(S)/tr S with S = cos θ B1 + sin θ B2; its sign is invariant.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut compared, mut yes) = (0, 0);
        for trial in 0..60 {
            let P = 2 + trial % 3;
            let blocks = random_instance(&mut rng, P, 2, false);
            let sweep = (0..20_000)
                .map(|s| {
                    let theta = std::f64::consts::TAU * s as f64 / 20_000.0;
                    let S = &blocks[0] * theta.cos() + &blocks[1] * theta.sin();
                    let t = S.trace();
                    if t > 1e-9 {
                        lambda_range(&S).0 / t
                    } else {
                        f64::NEG_INFINITY
                    }
                })
                .fold(f64::NEG_INFINITY, f64::max);
            if sweep.abs() < 1e-2 {
                continue;
            }
            let out = psd_combination(&blocks, TOL);
            assert_eq!(
                out.interaction,
                sweep > 0.0,
                "trial {trial}: sweep {sweep}, {out:?}"
            );
            assert!(out.decided);
            compared += 1;
            yes += out.interaction as usize;
        }
        assert!(
            compared > 40 && yes > 5 && yes < compared,
            "{compared} {yes}"
        );
    }

    #[test]
    fn answer_is_invariant_under_diagonal_congruence() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut yes = 0;
        for trial in 0..60 {
            let P = 2 + trial % 6;
            let blocks = random_instance(&mut rng, P, 1 + trial % 4, trial % 3 == 0);
            let d = DVector::from_fn(P, |_, _| 10f64.powf(rng.random_range(-3.0..3.0)));
            let D = DMatrix::from_diagonal(&d);
            let scaled: Vec<DMatrix<f64>> = blocks.iter().map(|b| &D * b * &D).collect();
            let (a, b) = (psd_combination(&blocks, TOL), psd_combination(&scaled, TOL));
            assert_eq!(a.interaction, b.interaction, "trial {trial}: {a:?} {b:?}");
            assert!(a.decided && b.decided, "trial {trial}: {a:?} {b:?}");
            if b.interaction {
                assert_witness(&scaled, &b, 1e-6);
            }
            yes += a.interaction as usize;
        }
        assert!(yes > 15 && yes < 50, "{yes}");
    }
}
