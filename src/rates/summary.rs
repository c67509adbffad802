//! The summary of a rate check: Voronoi losses of every fit, slopes against $n$, agreement with
//! the predicted rates (docs/theory.md §6–7).

use super::checkpoint::{read, FitRecord};
use super::loss::LossSpec;
use super::model::MixtureModel;
use super::slope::{slope, Slope};
use super::{Group, Prediction, Rate, RateError, RateSettings};
use crate::case::Case;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Agreement of a measured slope with the prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// Within the tolerance (the larger of 0.1 and the interval's half-width).
    Agrees,
    /// Outside it.
    Disagrees,
    /// No numeric prediction, or no slope.
    NoPrediction,
}

impl Agreement {
    /// The name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Agreement::Agrees => "agrees",
            Agreement::Disagrees => "disagrees",
            Agreement::NoPrediction => "no prediction",
        }
    }
}

/// Mean loss at one sample size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// Sample size.
    pub n: usize,
    /// Mean loss over the fits that did not fail.
    pub mean: f64,
    /// Median loss over them.
    pub median: f64,
    /// Standard deviation over them.
    pub sd: f64,
    /// Fits used.
    pub fits: usize,
}

/// The result for one number of fitted atoms.
#[derive(Clone, Debug, PartialEq)]
pub struct RateRow {
    /// Fitted atoms.
    pub k: usize,
    /// Slope of the total loss.
    pub slope: Option<Slope>,
    /// Slope of $\log(\text{median loss})$ on $\log n$: robust to a few wild fits, which
    /// dominate the mean of over-specified fits at small $n$.
    pub median_slope: Option<f64>,
    /// Slopes of the group losses.
    pub groups: BTreeMap<String, Option<Slope>>,
    /// Predicted slope of the loss, when the verdict gives one.
    pub predicted: Option<f64>,
    /// The predicted rate as text, with the reason when there is no number.
    pub predicted_text: String,
    /// Agreement.
    pub agreement: Agreement,
    /// Mean loss per size.
    pub points: Vec<Point>,
    /// Fits in total, converged, stopped at the cap, failed.
    pub counts: [usize; 4],
    /// Why fits failed or gave no loss, one line per fit: `n = 1000, replicate 3: ...`.
    pub failures: Vec<String>,
}

/// The rate check of one case.
#[derive(Clone, Debug, PartialEq)]
pub struct RateReport {
    /// Case name.
    pub case: String,
    /// The verifier's verdict, when verification succeeded.
    pub verdict: Option<String>,
    /// Settings used.
    pub settings: RateSettings,
    /// One row per number of fitted atoms.
    pub rows: Vec<RateRow>,
    /// Fits run now (the rest came from the checkpoint).
    pub fitted_now: usize,
}

impl RateReport {
    /// When every fit failed or gave no loss: the number of fits, and the first failure with
    /// its number of fitted atoms.
    pub fn all_failed(&self) -> Option<(usize, usize, &str)> {
        let fits: usize = self.rows.iter().map(|r| r.counts[0]).sum();
        let lost: usize = self.rows.iter().map(|r| r.failures.len()).sum();
        let (k, first) = self
            .rows
            .iter()
            .find_map(|r| Some((r.k, r.failures.first()?)))?;
        (lost == fits).then_some((fits, k, first.as_str()))
    }
}

/// The slope of the Voronoi loss that a predicted rate implies (docs/theory.md §7). Exact-specified
/// cells are linear in $\Delta\theta$, so a rate $n^{-1/2}$ is a slope $-1/2$. In
/// over-specified cells parameter $v$ enters as $|\Delta\theta_v|^{e_v}$ and converges like
/// $n^{-1/(2 s_v)}$, so its term falls like $n^{-e_v/(2 s_v)}$; with the computed exponents
/// ($e_v = s_v$) every term, and the mass term, falls like $n^{-1/2}$. With exponents of the
/// user's the slowest term sets the slope. A flat or not identifiable direction does not
/// converge: slope 0.
pub fn predicted_slope(
    rate: &Rate,
    exact_specified: bool,
    exponent: &dyn Fn(&str) -> Option<f64>,
) -> (Option<f64>, String) {
    let groups = match rate {
        Rate::Polynomial(g) => g,
        Rate::Flat { .. } | Rate::NotIdentifiable(_) | Rate::SlowerThanPolynomial(_) => {
            return (Some(0.0), rate.to_string())
        }
        Rate::None(why) => return (None, why.clone()),
    };
    if exact_specified {
        let slowest = groups.iter().map(Group::rate).fold(f64::INFINITY, f64::min);
        return (Some(-slowest.min(0.5)), rate.to_string());
    }
    let slowest = groups
        .iter()
        .flat_map(|g| {
            g.params
                .iter()
                .map(move |p| exponent(p).unwrap_or(g.s) / (2.0 * g.s))
        })
        .fold(0.5f64, f64::min);
    (Some(-slowest), rate.to_string())
}

/// The summary of the fits stored in `checkpoint` by an earlier `run` with `settings` (same
/// fingerprint), without fitting anything: the fitted sizes, sample sizes and replicates are
/// those found in the file. `None` when the file does not exist or holds no fit.
///
/// # Errors
/// [`RateError::Checkpoint`] when the file belongs to another run or cannot be read.
pub fn stored(
    case: &Case,
    settings: &RateSettings,
    prediction: Option<(&Prediction, &str)>,
    checkpoint: &Path,
) -> Result<Option<RateReport>, RateError> {
    if !checkpoint.exists() {
        return Ok(None);
    }
    let mut records = read(checkpoint, &settings.fingerprint(case))?;
    if records.is_empty() {
        return Ok(None);
    }
    records.sort_by_key(|r| (r.k, r.n, r.replicate));
    records.dedup_by_key(|r| (r.k, r.n, r.replicate));
    let mut s = settings.clone();
    s.fitted = records
        .iter()
        .map(|r| r.k)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    s.n = records
        .iter()
        .map(|r| r.n)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    s.replicates = records.iter().map(|r| r.replicate + 1).max().unwrap_or(0);
    let model = MixtureModel::new(case);
    Ok(Some(summarise(case, &model, &s, &records, prediction, 0)))
}

pub(super) fn summarise(
    case: &Case,
    model: &MixtureModel,
    settings: &RateSettings,
    records: &[FitRecord],
    prediction: Option<(&Prediction, &str)>,
    fitted_now: usize,
) -> RateReport {
    // Loss exponents per cell size from the prediction (the local geometry), the user's first.
    let computed: Vec<BTreeMap<String, f64>> = prediction
        .map(|(p, _)| {
            (2..=p.by_size.len())
                .map(|m| {
                    model
                        .variables
                        .iter()
                        .filter_map(|name| Some((name.clone(), p.at(m).exponent(name)?)))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let spec = LossSpec::new(model, &settings.exponents, &computed);
    let k_star = case.atoms.len();
    let mut rows = Vec::new();
    for &k in &settings.fitted {
        let mine: Vec<&FitRecord> = records
            .iter()
            .filter(|r| r.k == k && settings.n.contains(&r.n) && r.replicate < settings.replicates)
            .collect();
        let count = |s: &str| mine.iter().filter(|r| r.status == s).count();
        let counts = [
            mine.len(),
            count("converged"),
            count("cap"),
            count("failed"),
        ];
        let mut total: Vec<Vec<f64>> = Vec::new();
        let mut groups: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
        let mut points = Vec::new();
        let mut failures = Vec::new();
        for (m, &n) in settings.n.iter().enumerate() {
            let mut losses = Vec::new();
            for r in mine.iter().filter(|r| r.n == n) {
                let why = |what: &str| format!("n = {n}, replicate {}: {what}", r.replicate);
                if r.status == "failed" || r.atoms.is_empty() {
                    failures.push(why(r.error.as_deref().unwrap_or("no fitted atoms")));
                    continue;
                }
                let loss = spec.loss(&case.atoms, &r.atoms);
                if loss.total.is_finite() {
                    losses.push(loss);
                } else {
                    failures.push(why(&format!(
                        "the Voronoi loss is {} (fit left out)",
                        loss.total
                    )));
                }
            }
            let t: Vec<f64> = losses.iter().map(|l| l.total).collect();
            // No loss at this size (every fit failed): NaN, shown as "—" and left out of slopes.
            let mean = if t.is_empty() {
                f64::NAN
            } else {
                t.iter().sum::<f64>() / t.len() as f64
            };
            let sd = (t.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                / (t.len().max(2) - 1) as f64)
                .sqrt();
            let mut sorted = t.clone();
            sorted.sort_by(f64::total_cmp);
            let median = match sorted.len() {
                0 => f64::NAN,
                l if l % 2 == 1 => sorted[l / 2],
                l => 0.5 * (sorted[l / 2 - 1] + sorted[l / 2]),
            };
            points.push(Point {
                n,
                mean,
                median,
                sd,
                fits: t.len(),
            });
            total.push(t);
            for l in &losses {
                for (g, v) in &l.groups {
                    groups
                        .entry(g.clone())
                        .or_insert_with(|| vec![Vec::new(); settings.n.len()])[m]
                        .push(*v);
                }
            }
        }
        let seed = settings.seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let s = slope(&settings.n, &total, settings.bootstrap, seed);
        let (xs, ys): (Vec<f64>, Vec<f64>) = points
            .iter()
            .filter(|p| p.median > 0.0 && p.median.is_finite())
            .map(|p| ((p.n as f64).ln(), p.median.ln()))
            .unzip();
        let median_slope =
            (xs.len() >= 2 && xs.len() == points.len()).then(|| super::slope::ols(&xs, &ys));
        let group_slopes = groups
            .iter()
            .map(|(g, l)| (g.clone(), slope(&settings.n, l, settings.bootstrap, seed)))
            .collect();
        let exact = k == k_star;
        let (predicted, predicted_text) = match prediction {
            Some((p, _)) => {
                // A fit of k atoms on k* true ones puts k − k* + 1 in one cell at worst.
                let m = k + 1 - k_star.min(k);
                let rate = p.at(m);
                let user = |name: &str| {
                    let base = name.split('[').next().unwrap_or(name);
                    settings
                        .exponents
                        .get(name)
                        .or_else(|| settings.exponents.get(base))
                        .copied()
                };
                predicted_slope(rate, exact, &user)
            }
            None => (None, "no verdict".into()),
        };
        let agreement = match (predicted, s) {
            (Some(p), Some(s)) => {
                let tol = ((s.high - s.low) / 2.0).max(0.1);
                if (s.slope - p).abs() <= tol {
                    Agreement::Agrees
                } else {
                    Agreement::Disagrees
                }
            }
            _ => Agreement::NoPrediction,
        };
        rows.push(RateRow {
            k,
            slope: s,
            median_slope,
            groups: group_slopes,
            predicted,
            predicted_text,
            agreement,
            points,
            counts,
            failures,
        });
    }
    RateReport {
        case: case.name.clone(),
        verdict: prediction.map(|(_, v)| v.to_string()),
        settings: settings.clone(),
        rows,
        fitted_now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicted_slopes() {
        let none = |_: &str| None;
        let g = |s: f64, p: &str| Group {
            params: vec![p.into()],
            s,
        };
        let exact = Rate::Polynomial(vec![g(1.0, "a")]);
        assert_eq!(predicted_slope(&exact, true, &none).0, Some(-0.5));
        // computed exponents: every term falls like n^-1/2
        let over = Rate::Polynomial(vec![g(4.0, "b"), g(2.0, "a")]);
        assert_eq!(predicted_slope(&over, false, &none).0, Some(-0.5));
        // the user's exponent 2 on b (s = 4): |Δb|^2 ~ n^-1/4
        let user = |p: &str| (p == "b").then_some(2.0);
        assert_eq!(predicted_slope(&over, false, &user).0, Some(-0.25));
        let flat = Rate::Flat {
            flat: vec!["a".into()],
            rest: vec![],
        };
        assert_eq!(predicted_slope(&flat, false, &none).0, Some(0.0));
        assert_eq!(
            predicted_slope(&Rate::None("x".into()), false, &none).0,
            None
        );
    }
}
