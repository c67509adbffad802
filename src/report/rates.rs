//! Rate checks → text and JSON.

use crate::rates::decision::Why;
use crate::rates::slope::Slope;
use crate::rates::summary::{Agreement, ParamSlope, DECISIVE, STILL};
use crate::rates::{RateReport, RateRow};
use serde_json::{json, Value};
use std::fmt::Write;

pub(super) fn fmt_slope(s: Option<crate::rates::slope::Slope>) -> String {
    match s {
        Some(s) => format!("{:+.2} [{:+.2}, {:+.2}]", s.slope, s.low, s.high),
        None => "—".into(),
    }
}

pub(super) fn opt(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| format!("{v:+.2}"))
}

fn show(s: &Slope) -> String {
    format!("{:+.2} [{:+.2}, {:+.2}]", s.slope, s.low, s.high)
}

/// Why a row of a rate check decided as it did, in words; `variables` names the parameters.
pub fn why(row: &RateRow, variables: &[String]) -> String {
    reason(&row.why, &predicted(row, variables))
}

/// The predicted rate of a row, in words.
pub fn predicted(row: &RateRow, variables: &[String]) -> String {
    super::rate::predicted(row.rate.as_ref(), variables)
}

/// A decision's reason in words; `predicted_text` says why there is no prediction.
fn reason(why: &Why, predicted_text: &str) -> String {
    const MORE: &str = "more replicates or larger n";
    match why {
        Why::NoPrediction => predicted_text.into(),
        Why::NoSlope => "no slope (a size without a loss)".into(),
        Why::TooFewSizes(n) => format!("{n} sizes in the window; use at least 6 sizes"),
        Why::Wide(half) => {
            format!("window interval ±{half:.2} wider than ±{DECISIVE}; {MORE}")
        }
        Why::Bends(a, b) => format!(
            "the window bends: {a:+.2} on its smaller sizes, {b:+.2} on its larger; larger n"
        ),
        Why::NoMedian(w) => format!(
            "window {} but no median slope (a size without a positive median loss)",
            show(w)
        ),
        Why::Sharp {
            outcome,
            window,
            tol,
            predicted: p,
            median,
        } => match outcome {
            Agreement::Agrees => format!(
                "window {:+.2} within {tol:.2} of {p:+.2} (median {})",
                window.slope,
                show(median)
            ),
            Agreement::Disagrees => format!(
                "window {:+.2} beyond {tol:.2} of {p:+.2}, and the median's {} too",
                window.slope,
                show(median)
            ),
            // the mean away from the prediction, the median at it: far-off fits
            _ if (window.slope - p).abs() > *tol => format!(
                "the mean's window {} and the median's {} point different ways against {p:+.2}: a few far-off fits carry the mean; {MORE}",
                show(window),
                show(median)
            ),
            _ => format!(
                "the mean's window {} is within {tol:.2} of {p:+.2} but the median's {} lies beyond it: the median does not bear the mean out; {MORE}",
                show(window),
                show(median)
            ),
        },
        Why::Worst {
            outcome,
            window,
            median,
            predicted: p,
        } => format!(
            "window {} (median {median:+.2}) {} the worst case {p:+.2}",
            show(window),
            if *outcome == Agreement::Agrees {
                "at least as steep as"
            } else {
                "shallower than"
            }
        ),
        Why::FarOff {
            window,
            steeper,
            median,
            predicted: p,
        } => format!(
            "the mean's window {} is {} the worst case {p:+.2} but the median's slope {median:+.2} is not: a few far-off fits carry the mean; {MORE}",
            show(window),
            if *steeper { "steeper than" } else { "shallower than" },
        ),
        Why::Straddles {
            window,
            predicted: p,
        } => format!(
            "window {} straddles the worst case {p:+.2}; {MORE}",
            show(window)
        ),
        Why::Shrinks { name, slope } => format!("the spread along {name} shrinks ({slope:+.2})"),
        Why::FlatTooFewSizes => {
            "too few sizes in the window to measure along the flat direction".into()
        }
        Why::NotMeasured(name) => format!("no spread to measure along {name}"),
        Why::Weak { name, slope: m } => format!(
            "the spread along {name} is not measured well enough: {} (a decision needs a slope above {STILL} within ±{DECISIVE})",
            show(m)
        ),
        Why::StaysPut(list) => format!(
            "the spread along {} does not shrink ({})",
            list.iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            list.iter()
                .map(|(_, s)| format!("{s:+.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `beta1[0] -0.26 (-0.25)`: measured window slope and predicted, per parameter.
pub fn params(list: &[ParamSlope]) -> String {
    list.iter()
        .map(|p| {
            format!(
                "{} {} ({})",
                p.name,
                p.measured
                    .map_or("—".into(), |m| format!("{:+.2}", m.slope)),
                opt(p.predicted)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rate check as a table: per fitted size, the window slope of the mean Voronoi loss with
/// its 95% interval, the slopes over every size, of the median and the trimmed mean, the
/// predicted slope and the decision with its reason; then per-parameter slopes and the losses
/// per sample size.
pub fn render(r: &RateReport) -> String {
    let mut s = String::new();
    let st = &r.settings;
    let verdict = r.verdict.as_deref().unwrap_or("not verified");
    let _ = writeln!(s, "{}: rate check (verdict {verdict})", r.case);
    let ns = match (st.n.first(), st.n.last()) {
        (Some(a), Some(b)) => format!("n {a}..{b} ({} sizes)", st.n.len()),
        _ => "no sizes".into(),
    };
    let total: usize = r.rows.iter().map(|row| row.counts[0]).sum();
    let _ = writeln!(
        s,
        "  {ns} × {} replicates, {} restart{}, seed {}, tolerance {:e}{}, start noise × n^-{}{}; {total} fits ({} run now)",
        st.replicates,
        st.restarts,
        if st.restarts == 1 { "" } else { "s" },
        st.seed,
        st.tolerance,
        if st.accelerate { "" } else { ", plain EM" },
        st.init_decay,
        held_text(st),
        r.fitted_now
    );
    if r.damaged > 0 {
        let _ = writeln!(
            s,
            "  {} damaged checkpoint record{} set aside ({} run again)",
            r.damaged,
            if r.damaged == 1 { "" } else { "s" },
            if r.damaged == 1 {
                "a fit it held is"
            } else {
                "fits they held are"
            }
        );
    }
    if r.unchecked > 0 {
        let _ = writeln!(
            s,
            "  {} checkpoint record{} without a checksum (written by an older moeid, format 1) taken as written: an edit to {} cannot be detected; rerun into a new --out to have every record checked",
            r.unchecked,
            if r.unchecked == 1 { "" } else { "s" },
            if r.unchecked == 1 { "it" } else { "them" }
        );
    }
    let _ = writeln!(
        s,
        "  k  m  window slope [95%]     all sizes  median  trimmed  predicted  decision"
    );
    for row in &r.rows {
        let _ = writeln!(
            s,
            "  {:<2} {:<2} {:<22} {:<10} {:<7} {:<8} {:<10} {}: {}",
            row.k,
            row.cell,
            fmt_slope(row.window),
            opt(row.slope.map(|x| x.slope)),
            opt(row.median_slope),
            opt(row.trimmed_slope),
            opt(row.predicted),
            row.agreement.name(),
            why(row, &r.variables)
        );
    }
    for row in &r.rows {
        let _ = writeln!(
            s,
            "  k = {}: predicted {}",
            row.k,
            predicted(row, &r.variables)
        );
        if !row.params.is_empty() {
            let _ = writeln!(
                s,
                "         parameter errors, window slope (predicted): {}",
                params(&row.params)
            );
        }
        if !row.spreads.is_empty() {
            let _ = writeln!(
                s,
                "         along the flat direction, window slope: {}",
                params(&row.spreads)
            );
        }
        let groups: Vec<String> = row
            .groups
            .iter()
            .map(|(g, sl)| format!("{g} {}", fmt_slope(*sl)))
            .collect();
        if !groups.is_empty() {
            let _ = writeln!(s, "         groups {}", groups.join("; "));
        }
        let pts: Vec<String> = row
            .points
            .iter()
            .map(|p| match p.fits {
                0 => format!("{}: —", p.n),
                _ => format!("{}: {:.3e}", p.n, p.mean),
            })
            .collect();
        let _ = writeln!(s, "         mean loss {}", pts.join(", "));
        if row.points.iter().any(|p| p.collapsed > 0.0) {
            let _ = writeln!(
                s,
                "         split atoms collapsed {}",
                row.points
                    .iter()
                    .map(|p| format!("{:.0}%", 100.0 * p.collapsed))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if let Some(first) = row.failures.first() {
            let _ = writeln!(
                s,
                "         {} fit{} without a loss; first: {first}",
                row.failures.len(),
                if row.failures.len() == 1 { "" } else { "s" }
            );
        }
    }
    if let Some(c) = &r.command {
        let _ = writeln!(s, "  reproduce: {c}");
    }
    s
}

fn slope_json(s: &Option<crate::rates::slope::Slope>) -> Value {
    match s {
        Some(s) => json!({"slope": s.slope, "low": s.low, "high": s.high}),
        None => Value::Null,
    }
}

fn params_json(list: &[ParamSlope]) -> Value {
    list.iter()
        .map(|p| {
            json!({
                "param": p.name,
                "window": slope_json(&p.measured),
                "predicted": p.predicted,
            })
        })
        .collect()
}

fn row_json(row: &RateRow, variables: &[String]) -> Value {
    json!({
        "k": row.k,
        "cell": row.cell,
        "slope": slope_json(&row.slope),
        "window": slope_json(&row.window),
        "lower": slope_json(&row.lower),
        "straight": row.straight,
        "median_window": slope_json(&row.median_window),
        "median_slope": row.median_slope,
        "trimmed_slope": row.trimmed_slope,
        "predicted": row.predicted,
        "predicted_rate": predicted(row, variables),
        "agreement": row.agreement.name(),
        "why": why(row, variables),
        "params": params_json(&row.params),
        "flat": params_json(&row.spreads),
        "fits": {"total": row.counts[0], "converged": row.counts[1], "cap": row.counts[2], "failed": row.counts[3]},
        "groups": row.groups.iter().map(|(g, s)| (g.clone(), slope_json(s))).collect::<serde_json::Map<_, _>>(),
        "points": row.points,
        "failures": row.failures,
    })
}

/// How the starts of the flat and not identifiable sizes were set, for the header line.
fn held_text(st: &crate::rates::RateSettings) -> String {
    let ks = |v: &mut dyn Iterator<Item = usize>| {
        v.map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
    };
    let mut parts = Vec::new();
    if !st.held.is_empty() {
        parts.push(format!(
            "held for k = {}, predicted flat",
            ks(&mut st.held.iter().copied())
        ));
    }
    if !st.spread.is_empty() {
        parts.push(format!(
            "split atoms {} apart in the flat parameters for k = {}",
            crate::rates::sweep::SPREAD,
            ks(&mut st.spread.keys().copied())
        ));
    }
    if !st.orbit.is_empty() {
        parts.push(format!(
            "placed on the invariance for k = {}",
            ks(&mut st.orbit.iter().copied())
        ));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

/// The rate check as JSON (deterministic for a seed: no timings).
pub fn json(r: &RateReport) -> Value {
    json!({
        "case": r.case,
        "verdict": r.verdict,
        "settings": {
            "fitted": r.settings.fitted,
            "n": r.settings.n,
            "replicates": r.settings.replicates,
            "restarts": r.settings.restarts,
            "noise": r.settings.noise,
            "exponents": r.settings.exponents,
            "init_gate": r.settings.init_gate,
            "init_expert": r.settings.init_expert,
            "init_decay": r.settings.init_decay,
            "held": r.settings.held,
            "orbit_start": r.settings.orbit,
            "spread_start": r.settings.spread,
            "max_iters": r.settings.max_iters,
            "tolerance": r.settings.tolerance,
            "seed": r.settings.seed,
            "accelerate": r.settings.accelerate,
        },
        "damaged": r.damaged,
        "unchecked": r.unchecked,
        "command": r.command,
        "rows": r.rows.iter().map(|row| row_json(row, &r.variables)).collect::<Vec<_>>(),
    })
}

/// The plan of a rate check as text: per shard its fits and estimated cost, then every fit.
pub fn plan_text(case: &str, tasks: &[crate::rates::Task], shards: usize) -> String {
    let loads = crate::rates::plan::loads(tasks, shards);
    let total: f64 = loads.iter().sum();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "plan of {case}: {} fits in {shards} shard{}; cost = n·k·(parameters + inputs), relative to the mean shard",
        tasks.len(),
        if shards == 1 { "" } else { "s" }
    );
    let mean = total / shards.max(1) as f64;
    for (i, l) in loads.iter().enumerate() {
        let count = tasks.iter().filter(|t| t.shard == i + 1).count();
        let _ = writeln!(
            s,
            "  shard {}/{shards}: {count} fits, cost {:.3}",
            i + 1,
            l / mean.max(f64::MIN_POSITIVE)
        );
    }
    let _ = writeln!(
        s,
        "\n  {:>3} {:>9} {:>9} {:>20} {:>12} {:>6}",
        "k", "n", "replicate", "seed", "cost", "shard"
    );
    for t in tasks {
        let _ = writeln!(
            s,
            "  {:>3} {:>9} {:>9} {:>20} {:>12.4e} {:>6}",
            t.k, t.n, t.replicate, t.seed, t.cost, t.shard
        );
    }
    s
}

/// The plan of a rate check as JSON: `fits` (k, n, replicate, seed, cost, shard) and `shards`
/// (index, fits, cost).
pub fn plan_json(case: &str, tasks: &[crate::rates::Task], shards: usize) -> Value {
    let loads = crate::rates::plan::loads(tasks, shards);
    json!({
        "case": case,
        "shards": loads.iter().enumerate().map(|(i, l)| json!({
            "index": i + 1,
            "fits": tasks.iter().filter(|t| t.shard == i + 1).count(),
            "cost": l,
        })).collect::<Vec<_>>(),
        "fits": tasks.iter().map(|t| json!({
            "k": t.k,
            "n": t.n,
            "replicate": t.replicate,
            "seed": t.seed,
            "cost": t.cost,
            "shard": t.shard,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(slope: f64) -> Slope {
        Slope {
            slope,
            low: slope - 0.1,
            high: slope + 0.1,
        }
    }

    #[test]
    fn reasons_in_words() {
        let sharp = |outcome| Why::Sharp {
            outcome,
            window: s(-0.8),
            tol: 0.1,
            predicted: -0.5,
            median: s(-0.55),
        };
        assert_eq!(
            reason(&sharp(Agreement::Agrees), ""),
            "window -0.80 within 0.10 of -0.50 (median -0.55 [-0.65, -0.45])"
        );
        assert!(reason(&sharp(Agreement::Inconclusive), "")
            .starts_with("the mean's window -0.80 [-0.90, -0.70] and the median's -0.55 [-0.65, -0.45] point different ways against -0.50: a few far-off fits carry the mean"));
        let steep_median = Why::Sharp {
            outcome: Agreement::Inconclusive,
            window: s(-0.55),
            tol: 0.1,
            predicted: -0.5,
            median: s(-0.9),
        };
        assert!(reason(&steep_median, "").contains("the median does not bear the mean out"));
        let worst = Why::Worst {
            outcome: Agreement::Disagrees,
            window: s(-0.1),
            median: -0.12,
            predicted: -0.5,
        };
        assert_eq!(
            reason(&worst, ""),
            "window -0.10 [-0.20, +0.00] (median -0.12) shallower than the worst case -0.50"
        );
        assert_eq!(reason(&Why::NoPrediction, "no verdict"), "no verdict");
        let put = Why::StaysPut(vec![("a[0]".into(), 0.01), ("b".into(), -0.02)]);
        assert_eq!(
            reason(&put, ""),
            "the spread along a[0], b does not shrink (+0.01, -0.02)"
        );
    }
}
