//! The decision of a rate check (docs/theory.md §6): `agrees`, `disagrees`, `consistent` or
//! `inconclusive`, from the window's slope and its straightness, or from the slopes measured
//! along a flat direction (the rules are in [`super::summary`]'s module docs).

use super::slope::Slope;
use super::summary::{Agreement, ParamSlope, DECISIVE, STILL};

/// The decision for a polynomial prediction `p` from the asymptotic window's slopes (`w`). With
/// one atom per true one the rate is sharp (the parametric $n^{-1/2}$): two-sided, the mean's
/// window interval within ±[`DECISIVE`] and straight, the median's window a second witness
/// ([`sharp`]). With several, the local geometry's rate is the worst case — an upper bound on
/// the error that fits started near the truth may beat: `agrees` when the whole interval of the
/// mean's slope is at least as steep as predicted (within 0.1) *and* the median's slope is too
/// (so that a few far-off fits, which dominate a mean, cannot carry the decision alone),
/// `disagrees` when both are clearly shallower.
pub(super) fn decide(p: f64, w: &Window, worst_case: bool) -> (Agreement, String, bool) {
    if worst_case {
        return worst_or_none(p, w);
    }
    sharp(p, w)
}

/// The slopes a decision reads: the asymptotic window's (upper half of the sizes) of the mean
/// and of the median loss, the mean's slopes on the window's first and last three sizes (the
/// straightness test), and the number of sizes in the window.
#[derive(Clone, Copy, Debug)]
pub(super) struct Window {
    pub mean: Option<Slope>,
    pub median: Option<Slope>,
    pub mean_ends: (Option<Slope>, Option<Slope>),
    pub sizes: usize,
}

fn half(s: &Slope) -> f64 {
    (s.high - s.low) / 2.0
}

/// Whether the slopes of a window's first and last three sizes agree.
fn straight(ends: (Option<Slope>, Option<Slope>)) -> bool {
    match ends {
        (Some(a), Some(b)) => (a.slope - b.slope).abs() <= 0.2f64.max(half(&a) + half(&b)),
        _ => true,
    }
}

fn worst_or_none(p: f64, win: &Window) -> (Agreement, String, bool) {
    let straight = straight(win.mean_ends);
    let Some(w) = win.mean else {
        return (
            Agreement::Inconclusive,
            "no slope (a size without a loss)".into(),
            false,
        );
    };
    if win.sizes < 3 {
        return too_few(win.sizes, straight);
    }
    worst(p, w, win.median, straight)
}

fn too_few(sizes: usize, straight: bool) -> (Agreement, String, bool) {
    (
        Agreement::Inconclusive,
        format!("{sizes} sizes in the window; use at least 6 sizes"),
        straight,
    )
}

/// The two-sided decision against the sharp rate of one atom per true one. The mean loss's
/// window decides (its interval within ±[`DECISIVE`], the window straight), and the median
/// loss's window is a second witness: the theorems bound the loss in probability
/// ($O_P(n^{-1/2})$; with one atom per true one $\sqrt n$ times the error converges in
/// distribution), which fixes every quantile's rate but not the mean's — a few fits stuck far
/// off, rarer as $n$ grows, can make a mean fall as steeply as they like. So `agrees` needs the
/// median's interval to reach the prediction's ±0.1 band too, and `disagrees` needs it to lie
/// beyond that band on the mean's side; a mean and a median pointing different ways is
/// `inconclusive`. (Deciding on the median alone was measured and not kept: its bootstrap
/// interval is 1.5–2 times the mean's, see the README's rate tables.)
fn sharp(p: f64, win: &Window) -> (Agreement, String, bool) {
    let straight = straight(win.mean_ends);
    let Some(w) = win.mean else {
        return (
            Agreement::Inconclusive,
            "no slope (a size without a loss)".into(),
            false,
        );
    };
    if win.sizes < 3 {
        return too_few(win.sizes, straight);
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
            win.mean_ends.0.map_or(0.0, |s| s.slope),
            win.mean_ends.1.map_or(0.0, |s| s.slope),
        );
        return (
            Agreement::Inconclusive,
            format!(
                "the window bends: {a:+.2} on its smaller sizes, {b:+.2} on its larger; larger n"
            ),
            straight,
        );
    }
    let show = |s: &Slope| format!("{:+.2} [{:+.2}, {:+.2}]", s.slope, s.low, s.high);
    let Some(m) = win.median else {
        return (
            Agreement::Inconclusive,
            format!(
                "window {} but no median slope (a size without a positive median loss)",
                show(&w)
            ),
            straight,
        );
    };
    let tol = half(&w).max(0.1);
    let mean_agrees = (w.slope - p).abs() <= tol;
    // Where the median's interval lies against the prediction's ±0.1 band.
    let median_steeper = m.high < p - 0.1;
    let median_shallower = m.low > p + 0.1;
    let median_agrees = !median_steeper && !median_shallower;
    let median_beyond_like_mean = if w.slope < p {
        median_steeper
    } else {
        median_shallower
    };
    if mean_agrees && median_agrees {
        (
            Agreement::Agrees,
            format!(
                "window {:+.2} within {tol:.2} of {p:+.2} (median {})",
                w.slope,
                show(&m)
            ),
            true,
        )
    } else if !mean_agrees && median_beyond_like_mean {
        (
            Agreement::Disagrees,
            format!(
                "window {:+.2} beyond {tol:.2} of {p:+.2}, and the median's {} too",
                w.slope,
                show(&m)
            ),
            true,
        )
    } else {
        (
            Agreement::Inconclusive,
            format!(
                "the mean's window {} and the median's {} point different ways against {p:+.2}: a few far-off fits carry the mean; more replicates or larger n",
                show(&w),
                show(&m)
            ),
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
