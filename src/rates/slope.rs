//! Slopes of log mean loss on log $n$, with bootstrap intervals over replicates.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A fitted slope and its 95% bootstrap interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slope {
    /// Least-squares slope of $\log \bar D$ on $\log n$.
    pub slope: f64,
    /// 2.5% bootstrap quantile.
    pub low: f64,
    /// 97.5% bootstrap quantile.
    pub high: f64,
}

/// Least-squares slope of `y` on `x` (NaN when their lengths differ or fewer than two points).
pub fn ols(x: &[f64], y: &[f64]) -> f64 {
    if x.len() != y.len() || x.len() < 2 {
        return f64::NAN;
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    sxy / sxx
}

/// The centre of the replicates at one size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Centre {
    /// The mean (the loss: its expectation is what the rates bound).
    Mean,
    /// The median (a measurement that is meaningful only for fits in the local regime, such
    /// as the projection on an invariance: fits still far off are a minority it ignores).
    Median,
}

impl Centre {
    fn of(self, l: &[f64]) -> f64 {
        match self {
            Centre::Mean => l.iter().sum::<f64>() / l.len() as f64,
            Centre::Median => {
                let mut v = l.to_vec();
                v.sort_by(f64::total_cmp);
                let h = v.len() / 2;
                if v.len() % 2 == 1 {
                    v[h]
                } else {
                    0.5 * (v[h - 1] + v[h])
                }
            }
        }
    }
}

/// The slope of $\log(\text{mean loss})$ on $\log n$, `losses[m]` being the replicates at
/// `n[m]`; the interval from `resamples` bootstrap resamples of the replicates at each $n$.
/// `None` with fewer than two sizes or a size without a positive loss.
pub fn slope(n: &[usize], losses: &[Vec<f64>], resamples: usize, seed: u64) -> Option<Slope> {
    slope_of(Centre::Mean, n, losses, resamples, seed)
}

/// Most bootstrap resamples a slope draws (more are not more accurate at 95%).
pub const MAX_RESAMPLES: usize = 100_000;

/// [`slope`] with the replicates at each size summarised by `centre`. `None` also when `n` and
/// `losses` differ in length.
pub fn slope_of(
    centre: Centre,
    n: &[usize],
    losses: &[Vec<f64>],
    resamples: usize,
    seed: u64,
) -> Option<Slope> {
    if n.len() != losses.len() {
        return None;
    }
    let resamples = resamples.min(MAX_RESAMPLES);
    let pairs: Vec<(f64, &Vec<f64>)> = n
        .iter()
        .zip(losses)
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| ((*n as f64).ln(), l))
        .collect();
    if pairs.len() < 2 {
        return None;
    }
    let x: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let y: Vec<f64> = pairs.iter().map(|p| centre.of(p.1)).collect();
    if y.iter().any(|v| v.is_nan() || *v <= 0.0 || !v.is_finite()) {
        return None;
    }
    let y: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let s = ols(&x, &y);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut boot = Vec::with_capacity(resamples);
    let mut draw = Vec::new();
    for _ in 0..resamples {
        let yb: Vec<f64> = pairs
            .iter()
            .map(|(_, l)| {
                draw.clear();
                draw.extend((0..l.len()).map(|_| l[rng.random_range(0..l.len())]));
                centre.of(&draw).max(f64::MIN_POSITIVE).ln()
            })
            .collect();
        boot.push(ols(&x, &yb));
    }
    boot.sort_by(f64::total_cmp);
    let q = |f: f64| boot[((f * (boot.len() - 1) as f64).round() as usize).min(boot.len() - 1)];
    Some(Slope {
        slope: s,
        low: if boot.is_empty() { s } else { q(0.025) },
        high: if boot.is_empty() { s } else { q(0.975) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_planted_rate() {
        // D = 3 n^-1/2 × noise with mean 1
        let n: Vec<usize> = (0..8).map(|i| (1000.0 * 2f64.powi(i)) as usize).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let losses: Vec<Vec<f64>> = n
            .iter()
            .map(|&m| {
                (0..40)
                    .map(|_| 3.0 * (m as f64).powf(-0.5) * rng.random_range(0.5..1.5))
                    .collect()
            })
            .collect();
        let s = slope(&n, &losses, 500, 2).unwrap();
        assert!((s.slope + 0.5).abs() < 0.05, "{s:?}");
        assert!(
            s.low < s.slope && s.slope < s.high && s.high - s.low < 0.2,
            "{s:?}"
        );
    }

    #[test]
    fn the_median_ignores_a_minority_far_off() {
        // flat at 0.02, with two of 20 fits far off at the small sizes only
        let n: Vec<usize> = (0..6).map(|i| (1000.0 * 2f64.powi(i)) as usize).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let losses: Vec<Vec<f64>> = n
            .iter()
            .enumerate()
            .map(|(m, _)| {
                (0..20)
                    .map(|r| {
                        let far = if r < 2 && m < 3 { 50.0 } else { 0.0 };
                        0.02 * rng.random_range(0.5..1.5) + far
                    })
                    .collect()
            })
            .collect();
        let mean = slope(&n, &losses, 300, 1).unwrap();
        let median = slope_of(Centre::Median, &n, &losses, 300, 1).unwrap();
        assert!(mean.slope < -1.0, "{mean:?}");
        assert!(
            median.slope.abs() < 0.1 && median.high > -0.15,
            "{median:?}"
        );
    }

    #[test]
    fn degenerate_inputs() {
        assert!(slope(&[100], &[vec![1.0]], 10, 1).is_none());
        assert!(slope(&[100, 200], &[vec![0.0], vec![1.0]], 10, 1).is_none());
    }
}
