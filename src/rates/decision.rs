//! The decision of a rate check (docs/theory.md §6): `agrees`, `disagrees`, `consistent` or
//! `inconclusive`, from the window's slope and its straightness, or from the slopes measured
//! along a flat direction (the rules are in [`super::summary`]'s module docs).

use super::slope::Slope;
use super::summary::{Agreement, ParamSlope, DECISIVE, STILL};

/// The decision for a polynomial prediction `p` from the window's slope of the mean loss, of
/// the median loss (`median`), and the mean's slopes on the window's first and last three sizes
/// (the straightness test). With one atom per true one the rate is sharp (the parametric
/// $n^{-1/2}$): two-sided, and the interval must be within ±[`DECISIVE`]. With several, the
/// local geometry's rate is the worst case — an upper bound on the error that fits started near
/// the truth may beat: `agrees` when the whole interval of the mean's slope is at least as steep
/// as predicted (within 0.1) *and* the median's slope is too (so that a few far-off fits, which
/// dominate a mean, cannot carry the decision alone), `disagrees` when both are clearly
/// shallower.
pub(super) fn decide(
    p: f64,
    window: Option<Slope>,
    median: Option<Slope>,
    ends: (Option<Slope>, Option<Slope>),
    sizes: usize,
    worst_case: bool,
) -> (Agreement, String, bool) {
    let Some(w) = window else {
        return (
            Agreement::Inconclusive,
            "no slope (a size without a loss)".into(),
            false,
        );
    };
    let half = |s: &Slope| (s.high - s.low) / 2.0;
    let straight = match ends {
        (Some(a), Some(b)) => (a.slope - b.slope).abs() <= 0.2f64.max(half(&a) + half(&b)),
        _ => true,
    };
    if sizes < 3 {
        return (
            Agreement::Inconclusive,
            format!("{sizes} sizes in the window; use at least 6 sizes"),
            straight,
        );
    }
    if worst_case {
        return worst(p, w, median, straight);
    }
    if half(&w) > DECISIVE {
        return (
            Agreement::Inconclusive,
            format!(
                "window interval ±{:.2} wider than ±{DECISIVE}; more replicates or larger n",
                half(&w)
            ),
            straight,
        );
    }
    if !straight {
        let (a, b) = (
            ends.0.map_or(0.0, |s| s.slope),
            ends.1.map_or(0.0, |s| s.slope),
        );
        return (
            Agreement::Inconclusive,
            format!(
                "the window bends: {a:+.2} on its smaller sizes, {b:+.2} on its larger; larger n"
            ),
            straight,
        );
    }
    let tol = half(&w).max(0.1);
    if (w.slope - p).abs() <= tol {
        (
            Agreement::Agrees,
            format!("window {:+.2} within {tol:.2} of {p:+.2}", w.slope),
            true,
        )
    } else {
        (
            Agreement::Disagrees,
            format!("window {:+.2} beyond {tol:.2} of {p:+.2}", w.slope),
            true,
        )
    }
}

/// The decision for a flat or not identifiable prediction from the slopes measured along the
/// flat direction (see the module docs); `in_window` sizes in the window.
pub(super) fn decide_flat(flat: &[ParamSlope], in_window: usize) -> (Agreement, String) {
    let shrinking: Vec<&ParamSlope> = flat
        .iter()
        .filter(|f| f.measured.is_some_and(|m| m.high < STILL))
        .collect();
    // Consistent needs evidence: every slope measured, at or above STILL, with an
    // interval at most ±DECISIVE wide.
    let weak: Vec<&ParamSlope> = flat
        .iter()
        .filter(|f| {
            f.measured
                .is_none_or(|m| m.slope < STILL || (m.high - m.low) / 2.0 > DECISIVE)
        })
        .collect();
    if let Some(f) = shrinking.first() {
        (
            Agreement::Disagrees,
            format!(
                "the spread along {} shrinks ({:+.2})",
                f.name,
                f.measured.map_or(0.0, |m| m.slope)
            ),
        )
    } else if in_window < 3 {
        (
            Agreement::Inconclusive,
            "too few sizes in the window to measure along the flat direction".into(),
        )
    } else if let Some(f) = weak.first() {
        (
            Agreement::Inconclusive,
            match f.measured {
                None => format!("no spread to measure along {}", f.name),
                Some(m) => format!(
                    "the spread along {} is not measured well enough: {:+.2} [{:+.2}, {:+.2}] (a decision needs a slope above {STILL} within ±{DECISIVE})",
                    f.name, m.slope, m.low, m.high
                ),
            },
        )
    } else {
        (
            Agreement::Consistent,
            format!(
                "the spread along {} does not shrink ({})",
                flat.iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                flat.iter()
                    .map(|f| format!("{:+.2}", f.measured.map_or(0.0, |m| m.slope)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }
}

/// The one-sided decision against a worst-case slope `p` (see [`decide`]).
fn worst(p: f64, w: Slope, median: Option<Slope>, straight: bool) -> (Agreement, String, bool) {
    let show = |s: &Slope| format!("{:+.2} [{:+.2}, {:+.2}]", s.slope, s.low, s.high);
    // The mean's whole interval decides; the median's slope, which a few far-off fits cannot
    // move, must point the same way.
    let (steep, shallow) = (w.high <= p + 0.1, w.low > p + 0.1);
    let Some(m) = median else {
        return (
            Agreement::Inconclusive,
            format!(
                "window {} but no median slope (a size without a positive median loss)",
                show(&w)
            ),
            straight,
        );
    };
    let typical = m.slope <= p + 0.1;
    let (agreement, why) = if steep && typical {
        (
            Agreement::Agrees,
            format!(
                "window {} (median {:+.2}) at least as steep as the worst case {p:+.2}",
                show(&w),
                m.slope
            ),
        )
    } else if shallow && !typical {
        (
            Agreement::Disagrees,
            format!(
                "window {} (median {:+.2}) shallower than the worst case {p:+.2}",
                show(&w),
                m.slope
            ),
        )
    } else if steep || shallow {
        (
            Agreement::Inconclusive,
            format!(
                "the mean's window {} is {} the worst case {p:+.2} but the median's slope {:+.2} is not: a few far-off fits carry the mean; more replicates or larger n",
                show(&w),
                if steep { "steeper than" } else { "shallower than" },
                m.slope
            ),
        )
    } else {
        (
            Agreement::Inconclusive,
            format!(
                "window {} straddles the worst case {p:+.2}; more replicates or larger n",
                show(&w)
            ),
        )
    };
    (agreement, why, straight)
}
