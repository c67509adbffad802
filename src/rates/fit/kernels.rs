//! Loops over samples, written so the compiler vectorises them: column sums with four
//! accumulators in a fixed order (so results do not depend on the machine), and an
//! exponential for non-positive arguments without a library call.

/// $e^x$ for $x \le 0$, to within 2 ulp of the correctly rounded value; 0 below $x = -708$ (the
/// normal range ends there; an EM weight of $e^{-708}$ next to one of order 1 is zero in
/// double precision anyway).
///
/// $x = k \ln 2 + r$ with $|r| \le \ln 2 / 2$ (Cody–Waite, $\ln 2$ in two parts, $k$ rounded to
/// nearest by the $1.5 \cdot 2^{52}$ trick, which also leaves $k$ in the low bits), then $e^r$ by
/// its Taylor polynomial of degree 13 (remainder below $4 \cdot 10^{-18}$) and $2^k$ built from
/// bits. Pure IEEE operations: the same bits on every machine, unlike the platform's `exp`.
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    const INV_LN2: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
                                                // a comparison, not `max`, so that NaN propagates
    let clamped = if x < -708.0 { -708.0 } else { x };
    let shifted = clamped * INV_LN2 + ROUND;
    let k = shifted - ROUND;
    let r = (clamped - k * LN2_HI) - k * LN2_LO;
    // Σ_{j ≤ 13} r^j / j!, Horner
    let mut p = 1.0 / 6_227_020_800.0;
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    let scale = f64::from_bits(shifted.to_bits().wrapping_add(1023) << 52);
    if x < -708.0 {
        0.0
    } else {
        p * scale
    }
}

/// $\sum_t a_t b_t$, in four interleaved partial sums.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// $\sum_t a_t$, in four interleaved partial sums.
pub fn sum(a: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let c = a.chunks_exact(4);
    let rest: f64 = c.remainder().iter().sum();
    for x in c {
        for l in 0..4 {
            acc[l] += x[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + rest
}

/// `out[t] = offset[t] + Σ_p coef[p] · columns[p][t]`.
pub fn affine(out: &mut [f64], offset: &[f64], columns: &[Vec<f64>], coef: &[f64]) {
    out.copy_from_slice(offset);
    for (col, &c) in columns.iter().zip(coef) {
        for (o, v) in out.iter_mut().zip(col) {
            *o += c * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_the_library_on_its_range() {
        let mut worst: f64 = 0.0;
        for i in 0..=200_000 {
            let x = -708.0 * f64::from(i) / 200_000.0;
            let (a, b) = (exp_nonpositive(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(worst <= 2.0 * f64::EPSILON, "relative error {worst:e}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-709.0), 0.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive(f64::NAN).is_nan());
    }

    #[test]
    fn sums_match_sequential_ones() {
        let a: Vec<f64> = (0..103).map(|i| f64::from(i).sin()).collect();
        let b: Vec<f64> = (0..103).map(|i| f64::from(i).cos()).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-13);
        assert!((sum(&a) - a.iter().sum::<f64>()).abs() < 1e-13);
        let mut out = vec![0.0; 103];
        affine(&mut out, &b, std::slice::from_ref(&a), &[2.0]);
        assert!((out[7] - (b[7] + 2.0 * a[7])).abs() < 1e-15);
    }
}
