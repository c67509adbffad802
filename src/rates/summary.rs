//! The summary of a rate check: Voronoi losses of every fit, slopes against $n$, and a decision
//! against the predicted rates (docs/theory.md §6–7).
//!
//! Per number of fitted atoms $k$ (a cell of at most $m = k - k^* + 1$ atoms):
//! - the mean, median and 10%-trimmed mean loss per size, and the share of fits whose split
//!   atoms' masses collapsed (an atom of a split cell below 5% of its true atom's mass);
//! - the slope of $\log(\text{mean loss})$ on $\log n$ over every size, and over the
//!   **asymptotic window** (the upper half of the sizes) and the lower half, each with a
//!   bootstrap interval; the curve is *straight* when the two halves agree;
//! - per parameter, the slope of its error (the largest over the atoms of the largest cells)
//!   against the local geometry's $-1/(2s)$; for a flat parameter, the slope of the spread of
//!   split atoms (or of its error with one atom); for an invariance, the slope of the median
//!   length of the fits' coordinates on its tangents ([`super::orbit`]), relative to where the
//!   start was placed on it;
//! - the decision (in `decision.rs`): with one atom per true one, **agrees** / **disagrees** when the
//!   window's interval is at most ±0.25 wide and the window straight (the slopes of its first
//!   and last three sizes agree), and the median loss's window slope bears it out (its interval
//!   reaches the prediction's ±0.1 band, or lies beyond it on the mean's side); with several,
//!   the computed rate is a worst case, an upper bound on the error: **agrees** when the whole interval of the mean's window slope is at
//!   least as steep and so is the median's window slope, **disagrees** when both are clearly
//!   shallower; **inconclusive** otherwise — never "agrees" on no evidence, nor on a few far-off fits.
//!   For a flat or not identifiable prediction, **consistent** when nothing measured along the
//!   flat direction shrinks (every window slope above −0.15 with an interval within ±0.25),
//!   **disagrees** when something clearly does (an interval below −0.15), **inconclusive**
//!   otherwise.

use super::checkpoint::{read, FitRecord};
use super::decision::{decide, decide_flat, Why, Window};
use super::loss::{Loss, LossSpec};
use super::model::MixtureModel;
use super::orbit::Orbit;
use super::slope::{ols, slope, slope_of, Centre, Slope};
use super::sweep::task_seed;
use super::{Group, Prediction, Rate, RateError, RateSettings};
use crate::case::Case;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Widest window interval (half-width) that still decides.
pub const DECISIVE: f64 = 0.25;
/// A spread whose window slope stays above this does not shrink.
pub const STILL: f64 = -0.15;
/// The name of the measurement along an invariance (the projection on its tangents).
pub const INVARIANCE: &str = "invariance";
/// An atom of a split cell below this share of its true atom's mass has collapsed.
pub const COLLAPSED: f64 = 0.05;

/// Agreement of the measurements with the prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// The window slope matches the predicted one, the curve straight, the interval narrow.
    Agrees,
    /// It does not (with the same evidence), or a flat direction's spread shrinks.
    Disagrees,
    /// Too little evidence: a wide interval, a bending curve, or too few sizes.
    Inconclusive,
    /// A flat or not identifiable prediction, and the spread along it does not shrink.
    Consistent,
    /// No numeric prediction, or no slope.
    NoPrediction,
}

impl Agreement {
    /// The name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Agreement::Agrees => "agrees",
            Agreement::Disagrees => "disagrees",
            Agreement::Inconclusive => "inconclusive",
            Agreement::Consistent => "consistent",
            Agreement::NoPrediction => "no prediction",
        }
    }
}

/// Losses at one sample size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// Sample size.
    pub n: usize,
    /// Mean loss over the fits that did not fail.
    pub mean: f64,
    /// Median loss over them.
    pub median: f64,
    /// Mean after dropping the largest and smallest 10%.
    pub trimmed: f64,
    /// Standard deviation over them.
    pub sd: f64,
    /// Fits used.
    pub fits: usize,
    /// Share of them whose split atoms' masses collapsed.
    pub collapsed: f64,
}

/// A parameter's measured slope beside the local geometry's.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSlope {
    /// The parameter.
    pub name: String,
    /// Slope of the log mean error (or spread) over the window.
    pub measured: Option<Slope>,
    /// $-1/(2s)$ from the cells, 0 for a flat direction.
    pub predicted: Option<f64>,
}

/// The result for one number of fitted atoms.
#[derive(Clone, Debug, PartialEq)]
pub struct RateRow {
    /// Fitted atoms.
    pub k: usize,
    /// The largest cell a fit can have: $k - k^* + 1$.
    pub cell: usize,
    /// Slope of the mean loss over every size.
    pub slope: Option<Slope>,
    /// Slope over the asymptotic window (the upper half of the sizes).
    pub window: Option<Slope>,
    /// Slope over the lower half.
    pub lower: Option<Slope>,
    /// Whether the window's first and last three sizes agree.
    pub straight: bool,
    /// Window slope of the median loss with its bootstrap interval (the second witness of
    /// every decision).
    pub median_window: Option<Slope>,
    /// Slope of $\log(\text{median loss})$ on $\log n$: robust to a few wild fits, which
    /// dominate the mean of over-specified fits at small $n$.
    pub median_slope: Option<f64>,
    /// Slope of the 10%-trimmed mean.
    pub trimmed_slope: Option<f64>,
    /// Slopes of the group losses.
    pub groups: BTreeMap<String, Option<Slope>>,
    /// Per polynomial parameter, its error's slope against the prediction.
    pub params: Vec<ParamSlope>,
    /// Per flat or not identifiable parameter, the slope of the spread along it.
    pub spreads: Vec<ParamSlope>,
    /// Predicted slope of the loss.
    pub predicted: Option<f64>,
    /// The predicted rate at this cell size (none without a verdict; worded by
    /// [`crate::report::rate::predicted`]).
    pub rate: Option<Rate>,
    /// The decision.
    pub agreement: Agreement,
    /// Why (worded by [`crate::report::rates::why`]).
    pub why: Why,
    /// Losses per size.
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
    /// Checkpoint records set aside as damaged (and refitted when the check ran).
    pub damaged: usize,
    /// Checkpoint records read without a checksum (a format-1 file), taken as written.
    pub unchecked: usize,
    /// The command that reproduces the checkpoint, when there is one.
    pub command: Option<String>,
    /// The fitted parameters' names (what a rate's reason refers to).
    pub variables: Vec<String>,
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
) -> Option<f64> {
    let groups = match rate {
        Rate::Polynomial(g) => g,
        Rate::Flat { .. } | Rate::NotIdentifiable(_) | Rate::SlowerThanPolynomial(_) => {
            return Some(0.0)
        }
        Rate::None(_) => return None,
    };
    if exact_specified {
        let slowest = groups.iter().map(Group::rate).fold(f64::INFINITY, f64::min);
        return Some(-slowest.min(0.5));
    }
    let slowest = groups
        .iter()
        .flat_map(|g| {
            g.params
                .iter()
                .map(move |p| exponent(p).unwrap_or(g.s) / (2.0 * g.s))
        })
        .fold(0.5f64, f64::min);
    Some(-slowest)
}

/// The summary of the fits stored in `checkpoint` by an earlier run of this case (same
/// fingerprint), without fitting anything: the grid is the one its header records. `None` when
/// the file does not exist or holds no fit.
///
/// # Errors
/// [`RateError::Checkpoint`] when the file is not a checkpoint, belongs to another run, or
/// cannot be read.
pub fn stored(
    case: &Case,
    settings: &RateSettings,
    prediction: Option<(&Prediction, &str)>,
    checkpoint: &Path,
) -> Result<Option<RateReport>, RateError> {
    crate::check_shape(case).map_err(RateError::Case)?;
    if !checkpoint.exists() {
        return Ok(None);
    }
    let model = MixtureModel::new(case);
    let contents = read(checkpoint, Some(model.variables.len()))?;
    if contents.header.fingerprint != settings.fingerprint(case) {
        return Err(RateError::Checkpoint {
            path: checkpoint.to_path_buf(),
            message: format!(
                "it holds a run of other fit settings (its command: `{}`); rerun it, or remove the file",
                contents.header.command_at(checkpoint)
            ),
        });
    }
    if contents.records.is_empty() {
        return Ok(None);
    }
    let mut s = settings.clone();
    s.fitted = contents.header.fitted.clone();
    s.n = contents.header.n.clone();
    s.replicates = contents.header.replicates;
    let mut report = summarise(case, &model, &s, &contents.records, prediction, 0);
    report.damaged = contents.damaged;
    report.unchecked = contents.unchecked;
    report.command = Some(contents.header.command_at(checkpoint));
    Ok(Some(report))
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn trimmed(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let cut = s.len() / 10;
    mean(&s[cut..s.len() - cut])
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        l if l % 2 == 1 => s[l / 2],
        l => 0.5 * (s[l / 2 - 1] + s[l / 2]),
    }
}

/// OLS slope of log `y` on log `n` when every `y` is positive, else `None`.
fn log_slope(n: &[usize], y: &[f64]) -> Option<f64> {
    (y.len() >= 2 && y.iter().all(|v| *v > 0.0 && v.is_finite())).then(|| {
        let x: Vec<f64> = n.iter().map(|n| (*n as f64).ln()).collect();
        let y: Vec<f64> = y.iter().map(|v| v.ln()).collect();
        ols(&x, &y)
    })
}

/// The sizes of the window (upper half, the middle one included) and of the lower half.
fn halves(len: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    (len / 2..len, 0..len.div_ceil(2))
}

/// Along an invariance: the length of the fit's coordinates on it, relative to its start's
/// when the start was placed on it (`placed`, the start recomputed from the task's `seed`).
fn along_orbit(spec: &LossSpec, loss: &Loss, placed: bool, seed: u64) -> Option<f64> {
    let norm = |c: &[f64]| c.iter().map(|x| x * x).sum::<f64>().sqrt();
    let fitted = norm(loss.orbit.as_ref()?);
    let value = if placed {
        fitted / norm(&spec.orbit()?.start(seed))
    } else {
        fitted
    };
    value.is_finite().then_some(value)
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
    // Along an invariance, the fits' projection on its tangents (see [`Orbit`]).
    let invariant = prediction.is_some_and(|(p, _)| {
        p.by_size
            .iter()
            .any(|r| matches!(r, Rate::NotIdentifiable(_)))
    });
    let truth = model.truth(&case.atoms);
    let orbit = if invariant {
        Orbit::new(model, &truth, settings.noise, settings.seed)
    } else {
        None
    };
    let spec = LossSpec::new(model, &settings.exponents, &computed).with_orbit(orbit);
    let k_star = case.atoms.len();
    let sizes = settings.n.len();
    let (upper, lower) = halves(sizes);
    let mut rows = Vec::new();
    for &k in &settings.fitted {
        let cell = k + 1 - k_star.min(k);
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
        let mut errors: BTreeMap<usize, Vec<Vec<f64>>> = BTreeMap::new();
        let mut spreads: BTreeMap<usize, Vec<Vec<f64>>> = BTreeMap::new();
        let mut orbits: Vec<Vec<f64>> = vec![Vec::new(); sizes];
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
                let loss = spec.loss(&truth, &r.atoms);
                if loss.total.is_finite() {
                    let seed = task_seed(settings.seed, &case.name, k, n, r.replicate);
                    if let Some(o) = along_orbit(&spec, &loss, settings.orbit.contains(&k), seed) {
                        orbits[m].push(o);
                    }
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
            let mu = mean(&t);
            let sd = (t.iter().map(|v| (v - mu).powi(2)).sum::<f64>()
                / (t.len().max(2) - 1) as f64)
                .sqrt();
            let collapsed = if t.is_empty() {
                0.0
            } else {
                losses.iter().filter(|l| l.lightest < COLLAPSED).count() as f64 / t.len() as f64
            };
            points.push(Point {
                n,
                mean: mu,
                median: median(&t),
                trimmed: if t.is_empty() { f64::NAN } else { trimmed(&t) },
                sd,
                fits: t.len(),
                collapsed,
            });
            total.push(t);
            for l in &losses {
                for (g, v) in &l.groups {
                    groups
                        .entry(g.clone())
                        .or_insert_with(|| vec![Vec::new(); sizes])[m]
                        .push(*v);
                }
                for (v, e) in &l.errors {
                    errors.entry(*v).or_insert_with(|| vec![Vec::new(); sizes])[m].push(*e);
                }
                for (v, e) in &l.spreads {
                    spreads.entry(*v).or_insert_with(|| vec![Vec::new(); sizes])[m].push(*e);
                }
            }
        }
        if std::env::var("MOEID_DEBUG_ORBIT").is_ok() {
            for (m, o) in orbits.iter().enumerate() {
                let mut o = o.clone();
                o.sort_by(f64::total_cmp);
                eprintln!(
                    "k={k} n={} orbit {:?}",
                    settings.n[m],
                    o.iter().map(|v| format!("{v:.3}")).collect::<Vec<_>>()
                );
            }
        }
        let seed = settings.seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let boot = |n: &[usize], l: &[Vec<f64>]| slope(n, l, settings.bootstrap, seed);
        let s = boot(&settings.n, &total);
        let window = boot(&settings.n[upper.clone()], &total[upper.clone()]);
        let lower_slope = boot(&settings.n[lower.clone()], &total[lower.clone()]);
        let median_window = slope_of(
            Centre::Median,
            &settings.n[upper.clone()],
            &total[upper.clone()],
            settings.bootstrap,
            seed,
        );
        // The window's first and last three sizes: is the curve straight there?
        let mean_ends = if upper.len() >= 4 {
            let a = upper.start..upper.start + 3;
            let b = upper.end - 3..upper.end;
            (
                boot(&settings.n[a.clone()], &total[a]),
                boot(&settings.n[b.clone()], &total[b]),
            )
        } else {
            (None, None)
        };
        let windows = Window {
            mean: window,
            median: median_window,
            mean_ends,
            sizes: upper.len(),
        };
        let medians: Vec<f64> = points.iter().map(|p| p.median).collect();
        let trims: Vec<f64> = points.iter().map(|p| p.trimmed).collect();
        let median_slope = log_slope(&settings.n, &medians);
        let trimmed_slope = log_slope(&settings.n, &trims);
        let group_slopes = groups
            .iter()
            .map(|(g, l)| (g.clone(), boot(&settings.n, l)))
            .collect();
        let exact = k == k_star;
        let rate = prediction.map(|(p, _)| p.at(cell));
        let predicted = match rate {
            Some(rate) => {
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
            None => None,
        };
        let flat_names: Vec<String> = match rate {
            Some(Rate::Flat { flat, .. }) => flat.clone(),
            Some(Rate::NotIdentifiable(p)) | Some(Rate::SlowerThanPolynomial(p)) => p.clone(),
            _ => Vec::new(),
        };
        let name = |v: usize| model.variables[v].clone();
        let params: Vec<ParamSlope> = errors
            .iter()
            .filter(|(v, _)| !flat_names.contains(&name(**v)))
            .map(|(v, l)| ParamSlope {
                name: name(*v),
                measured: boot(&settings.n[upper.clone()], &l[upper.clone()]),
                predicted: rate
                    .and_then(|r| r.exponent(&name(*v)))
                    .map(|s| -1.0 / (2.0 * s)),
            })
            .collect();
        // Along an invariance: the fits' projection on its tangents. Along a flat direction:
        // the spread of split atoms, or with one atom the error itself.
        let along = if cell > 1 { &spreads } else { &errors };
        // Both with the median: fits still far from the truth at small n are outside the
        // first-order picture (their split atoms wander).
        let still = |name: String, l: &[Vec<f64>]| ParamSlope {
            name,
            measured: slope_of(
                Centre::Median,
                &settings.n[upper.clone()],
                &l[upper.clone()],
                settings.bootstrap,
                seed,
            ),
            predicted: Some(0.0),
        };
        let flat_slopes: Vec<ParamSlope> = if matches!(rate, Some(Rate::NotIdentifiable(_)))
            && orbits.iter().any(|o| !o.is_empty())
        {
            vec![still(INVARIANCE.into(), &orbits)]
        } else {
            along
                .iter()
                .filter(|(v, _)| flat_names.contains(&name(**v)))
                .map(|(v, l)| still(name(*v), l))
                .collect()
        };
        let in_window = upper.len();
        let (agreement, why, straight) = match (rate, predicted) {
            (Some(Rate::Polynomial(_)), Some(p)) => decide(p, &windows, cell > 1),
            (Some(_), Some(_)) if !flat_slopes.is_empty() => {
                let (a, why) = decide_flat(&flat_slopes, in_window);
                (a, why, false)
            }
            _ => (Agreement::NoPrediction, Why::NoPrediction, false),
        };
        rows.push(RateRow {
            k,
            cell,
            slope: s,
            window,
            lower: lower_slope,
            straight,
            median_window,
            median_slope,
            trimmed_slope,
            groups: group_slopes,
            params,
            spreads: flat_slopes,
            predicted,
            rate: rate.cloned(),
            agreement,
            why,
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
        damaged: 0,
        unchecked: 0,
        command: None,
        variables: model.variables.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Reason;
    use crate::rates::NoRate;

    #[test]
    fn predicted_slopes() {
        let none = |_: &str| None;
        let g = |s: f64, p: &str| Group {
            params: vec![p.into()],
            s,
        };
        let exact = Rate::Polynomial(vec![g(1.0, "a")]);
        assert_eq!(predicted_slope(&exact, true, &none), Some(-0.5));
        // computed exponents: every term falls like n^-1/2
        let over = Rate::Polynomial(vec![g(4.0, "b"), g(2.0, "a")]);
        assert_eq!(predicted_slope(&over, false, &none), Some(-0.5));
        // the user's exponent 2 on b (s = 4): |Δb|^2 ~ n^-1/4
        let user = |p: &str| (p == "b").then_some(2.0);
        assert_eq!(predicted_slope(&over, false, &user), Some(-0.25));
        let flat = Rate::Flat {
            flat: vec!["a".into()],
            rest: vec![],
        };
        assert_eq!(predicted_slope(&flat, false, &none), Some(0.0));
        assert_eq!(
            predicted_slope(
                &Rate::None(NoRate::CannotSplit(Reason::NoMass)),
                false,
                &none
            ),
            None
        );
    }
}
