//! The decision of a rate check (docs/theory.md §6): `agrees`, `disagrees`, `consistent` or
//! `inconclusive`, from the window's slope and its straightness, or from the slopes measured
//! along a flat direction (the rules are in [`super::summary`]'s module docs).

use super::slope::Slope;
use super::summary::{Agreement, ParamSlope, DECISIVE, STILL};

/// Why a rate check decided as it did: the data of the decision, worded in
/// [`crate::report::rates`].
#[derive(Clone, Debug, PartialEq)]
pub enum Why {
    /// No prediction to compare with ([`super::RateRow::rate`] says why).
    NoPrediction,
    /// A size without a loss: no slope.
    NoSlope,
    /// Fewer than three sizes in the window.
    TooFewSizes(usize),
    /// The mean's window interval is wider than ±[`DECISIVE`] (its half-width).
    Wide(f64),
    /// The mean's window bends: the slopes of its first and of its last three sizes.
    Bends(f64, f64),
    /// The mean's window, but no median slope (a size without a positive median loss).
    NoMedian(Slope),
    /// One atom per true one: the mean's window `window` within (`agrees`) or beyond
    /// (`disagrees`) `tol` of `predicted`, and the median's window `median` bearing it out, or
    /// (`inconclusive`) the two pointing different ways.
    Sharp {
        outcome: Agreement,
        window: Slope,
        tol: f64,
        predicted: f64,
        median: Slope,
    },
    /// Several atoms per true one: the mean's window and the median's slope both at least as
    /// steep as the worst case (`agrees`) or both clearly shallower (`disagrees`).
    Worst {
        outcome: Agreement,
        window: Slope,
        median: f64,
        predicted: f64,
    },
    /// Several atoms per true one: the mean's window steeper (or shallower) than the worst case
    /// but not the median's slope — a few far-off fits carry the mean.
    FarOff {
        window: Slope,
        steeper: bool,
        median: f64,
        predicted: f64,
    },
    /// Several atoms per true one: the mean's window interval straddles the worst case.
    Straddles { window: Slope, predicted: f64 },
    /// Along a flat direction: the spread along `name` shrinks (its window slope).
    Shrinks { name: String, slope: f64 },
    /// Along a flat direction: too few sizes in the window.
    FlatTooFewSizes,
    /// Along a flat direction: no spread measured along `name`.
    NotMeasured(String),
    /// Along a flat direction: the spread along `name` measured too loosely to decide.
    Weak { name: String, slope: Slope },
    /// Along a flat direction: nothing shrinks (each name with its window slope).
    StaysPut(Vec<(String, f64)>),
}

/// The decision for a polynomial prediction `p` from the asymptotic window's slopes (`w`). With
/// one atom per true one the rate is sharp (the parametric $n^{-1/2}$): two-sided, the mean's
/// window interval within ±[`DECISIVE`] and straight, the median's window a second witness
/// ([`sharp`]). With several, the local geometry's rate is the worst case — an upper bound on
/// the error that fits started near the truth may beat: `agrees` when the whole interval of the
/// mean's slope is at least as steep as predicted (within 0.1) *and* the median's slope is too
/// (so that a few far-off fits, which dominate a mean, cannot carry the decision alone),
/// `disagrees` when both are clearly shallower.
pub(super) fn decide(p: f64, win: &Window, worst_case: bool) -> (Agreement, Why, bool) {
    let straight = straight(win.mean_ends);
    let Some(w) = win.mean else {
        return inconclusive(Why::NoSlope, false);
    };
    if win.sizes < 3 {
        return inconclusive(Why::TooFewSizes(win.sizes), straight);
    }
    if worst_case {
        worst(p, w, win.median, straight)
    } else {
        sharp(p, w, win, straight)
    }
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

fn inconclusive(why: Why, straight: bool) -> (Agreement, Why, bool) {
    (Agreement::Inconclusive, why, straight)
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
fn sharp(p: f64, w: Slope, win: &Window, straight: bool) -> (Agreement, Why, bool) {
    if half(&w) > DECISIVE {
        return inconclusive(Why::Wide(half(&w)), straight);
    }
    if !straight {
        let (a, b) = (
            win.mean_ends.0.map_or(0.0, |s| s.slope),
            win.mean_ends.1.map_or(0.0, |s| s.slope),
        );
        return inconclusive(Why::Bends(a, b), straight);
    }
    let Some(m) = win.median else {
        return inconclusive(Why::NoMedian(w), straight);
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
    let outcome = if mean_agrees && median_agrees {
        Agreement::Agrees
    } else if !mean_agrees && median_beyond_like_mean {
        Agreement::Disagrees
    } else {
        Agreement::Inconclusive
    };
    (
        outcome,
        Why::Sharp {
            outcome,
            window: w,
            tol,
            predicted: p,
            median: m,
        },
        true,
    )
}

/// The decision for a flat or not identifiable prediction from the slopes measured along the
/// flat direction (see the module docs); `in_window` sizes in the window.
pub(super) fn decide_flat(flat: &[ParamSlope], in_window: usize) -> (Agreement, Why) {
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
            Why::Shrinks {
                name: f.name.clone(),
                slope: f.measured.map_or(0.0, |m| m.slope),
            },
        )
    } else if in_window < 3 {
        (Agreement::Inconclusive, Why::FlatTooFewSizes)
    } else if let Some(f) = weak.first() {
        (
            Agreement::Inconclusive,
            match f.measured {
                None => Why::NotMeasured(f.name.clone()),
                Some(m) => Why::Weak {
                    name: f.name.clone(),
                    slope: m,
                },
            },
        )
    } else {
        (
            Agreement::Consistent,
            Why::StaysPut(
                flat.iter()
                    .map(|f| (f.name.clone(), f.measured.map_or(0.0, |m| m.slope)))
                    .collect(),
            ),
        )
    }
}

/// The one-sided decision against a worst-case slope `p` (see [`decide`]).
fn worst(p: f64, w: Slope, median: Option<Slope>, straight: bool) -> (Agreement, Why, bool) {
    // The mean's whole interval decides; the median's slope, which a few far-off fits cannot
    // move, must point the same way.
    let (steep, shallow) = (w.high <= p + 0.1, w.low > p + 0.1);
    let Some(m) = median else {
        return inconclusive(Why::NoMedian(w), straight);
    };
    let typical = m.slope <= p + 0.1;
    let worst = |outcome| Why::Worst {
        outcome,
        window: w,
        median: m.slope,
        predicted: p,
    };
    let (agreement, why) = if steep && typical {
        (Agreement::Agrees, worst(Agreement::Agrees))
    } else if shallow && !typical {
        (Agreement::Disagrees, worst(Agreement::Disagrees))
    } else if steep || shallow {
        (
            Agreement::Inconclusive,
            Why::FarOff {
                window: w,
                steeper: steep,
                median: m.slope,
                predicted: p,
            },
        )
    } else {
        (
            Agreement::Inconclusive,
            Why::Straddles {
                window: w,
                predicted: p,
            },
        )
    };
    (agreement, why, straight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistent_needs_a_narrow_interval_and_a_clear_shrink_disagrees() {
        let along = |slope: f64, half: f64| ParamSlope {
            name: "invariance".into(),
            measured: Some(Slope {
                slope,
                low: slope - half,
                high: slope + half,
            }),
            predicted: Some(0.0),
        };
        assert_eq!(decide_flat(&[along(0.0, 0.01)], 4).0, Agreement::Consistent);
        // the same slope on weak evidence, or too few sizes: no decision
        assert_eq!(
            decide_flat(&[along(0.0, 0.4)], 4).0,
            Agreement::Inconclusive
        );
        assert_eq!(
            decide_flat(&[along(0.0, 0.01)], 2).0,
            Agreement::Inconclusive
        );
        // below STILL but not clearly: inconclusive; clearly: disagrees
        assert_eq!(
            decide_flat(&[along(-0.3, 0.2)], 4).0,
            Agreement::Inconclusive
        );
        let (a, why) = decide_flat(&[along(0.0, 0.01), along(-0.5, 0.1)], 4);
        assert_eq!(a, Agreement::Disagrees, "{why:?}");
        let unmeasured = ParamSlope {
            measured: None,
            ..along(0.0, 0.0)
        };
        assert_eq!(decide_flat(&[unmeasured], 4).0, Agreement::Inconclusive);
    }

    fn s(slope: f64, half: f64) -> Option<Slope> {
        Some(Slope {
            slope,
            low: slope - half,
            high: slope + half,
        })
    }

    fn win(
        mean: Option<Slope>,
        median: Option<Slope>,
        ends: (Option<Slope>, Option<Slope>),
        sizes: usize,
    ) -> Window {
        Window {
            mean,
            median,
            mean_ends: ends,
            sizes,
        }
    }

    #[test]
    fn never_agrees_on_no_evidence() {
        // a wide interval, a bend, too few sizes: inconclusive whatever the slope
        let ends = |a, b| (s(a, 0.05), s(b, 0.05));
        let two = |w, e, n| decide(-0.5, &win(w, w, e, n), false).0;
        assert_eq!(
            two(s(-0.5, 0.9), ends(-0.5, -0.5), 4),
            Agreement::Inconclusive
        );
        assert_eq!(
            two(s(-0.5, 0.05), ends(-1.5, -0.5), 4),
            Agreement::Inconclusive
        );
        assert_eq!(
            two(s(-0.5, 0.05), ends(-0.5, -0.5), 2),
            Agreement::Inconclusive
        );
        assert_eq!(two(s(-0.52, 0.05), ends(-0.5, -0.5), 4), Agreement::Agrees);
        assert_eq!(
            two(s(-0.9, 0.05), ends(-0.9, -0.9), 4),
            Agreement::Disagrees
        );
        // a worst case: steeper agrees, shallower disagrees, straddling is inconclusive
        let worst = |w, m| decide(-0.5, &win(w, m, ends(-1.0, -1.0), 4), true).0;
        assert_eq!(worst(s(-1.5, 0.5), s(-0.9, 0.2)), Agreement::Agrees);
        assert_eq!(worst(s(-0.1, 0.1), s(-0.1, 0.1)), Agreement::Disagrees);
        assert_eq!(worst(s(-0.5, 0.3), s(-0.5, 0.3)), Agreement::Inconclusive);
        // one far-off fit makes the mean steep; the median, which it cannot move, is not
        let (a, why, _) = decide(
            -0.5,
            &win(s(-9.6, 4.0), s(-0.3, 0.2), ends(-1.0, -1.0), 4),
            true,
        );
        assert_eq!(a, Agreement::Inconclusive, "{why:?}");
        assert!(matches!(why, Why::FarOff { steeper: true, .. }), "{why:?}");
        // neither clearly shallower alone: a shallow mean with a steep median is no disagreement
        assert_eq!(worst(s(-0.1, 0.1), s(-0.9, 0.1)), Agreement::Inconclusive);
        // the median's interval may straddle: its slope points the way, the mean's interval decides
        assert_eq!(worst(s(-1.5, 0.5), s(-0.9, 0.6)), Agreement::Agrees);
        assert_eq!(worst(s(-1.5, 0.2), None), Agreement::Inconclusive);
    }

    #[test]
    fn the_median_witnesses_a_sharp_decision() {
        let ends = |a, b| (s(a, 0.05), s(b, 0.05));
        let sharp = |mean, median| decide(-0.5, &win(mean, median, ends(-0.5, -0.5), 4), false);
        // both at -1/2: agrees, and the reason shows the median
        let (a, why, _) = sharp(s(-0.52, 0.1), s(-0.45, 0.3));
        assert_eq!(a, Agreement::Agrees, "{why:?}");
        assert!(
            matches!(why, Why::Sharp { median, .. } if median.slope == -0.45),
            "{why:?}"
        );
        // a few far-off fits make the mean steeper than -1/2; the median stays at it: no
        // disagreement on their evidence
        let (a, why, _) = sharp(s(-0.8, 0.2), s(-0.59, 0.15));
        assert_eq!(a, Agreement::Inconclusive, "{why:?}");
        assert!(
            matches!(
                why,
                Why::Sharp {
                    outcome: Agreement::Inconclusive,
                    ..
                }
            ),
            "{why:?}"
        );
        // both clearly steeper (or shallower): disagrees
        assert_eq!(sharp(s(-0.93, 0.2), s(-0.99, 0.25)).0, Agreement::Disagrees);
        assert_eq!(sharp(s(-0.2, 0.05), s(-0.2, 0.05)).0, Agreement::Disagrees);
        // a mean at -1/2 whose median lies clearly away is no agreement either
        assert_eq!(
            sharp(s(-0.55, 0.1), s(-0.9, 0.15)).0,
            Agreement::Inconclusive
        );
        // the median beyond the band on the other side from the mean is no witness
        assert_eq!(
            sharp(s(-0.9, 0.05), s(-0.2, 0.05)).0,
            Agreement::Inconclusive
        );
        assert_eq!(sharp(s(-0.5, 0.05), None).0, Agreement::Inconclusive);
    }
}
