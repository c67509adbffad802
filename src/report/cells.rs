//! The local geometry as text: one line per cell, warnings for disagreements with the verdict.

use super::rate::{cell_reason, rate_text};
use crate::geometry::{Cell, Identified, Inconsistency, Outcome, Reason};
use crate::verdict::VerdictKind;

fn superscript(e: f64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    if (e - 1.0).abs() < 1e-9 {
        return String::new();
    }
    if (e - e.round()).abs() < 1e-9 && e > 0.0 && e < 10.0 {
        return DIGITS[e.round() as usize].to_string();
    }
    if (2.0 * e - (2.0 * e).round()).abs() < 1e-9 {
        return format!("^{}/2", (2.0 * e).round() as i64);
    }
    format!("^{e:.3}")
}

/// `Δb ∝ ε, Δnu ∝ ε²` for a witness's scaling.
pub fn scaling(scaling: &[(usize, f64)], variables: &[String]) -> String {
    scaling
        .iter()
        .map(|(v, e)| format!("Δ{} ∝ ε{}", variables[*v], superscript(*e)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parameters grouped by exponent, slowest first: `b n^-1/8; beta1[0], a[0] n^-1/4`, or
/// `every parameter n^-1/4` when they share one.
fn groups(cell: &Cell, variables: &[String], every: bool) -> String {
    let mut g: Vec<(f64, Vec<&str>)> = Vec::new();
    for k in &cell.coordinates {
        if let Some(s) = k.exponent {
            match g.iter_mut().find(|(t, _)| (t - s).abs() < 1e-9) {
                Some((_, names)) => names.push(&variables[k.var]),
                None => g.push((s, vec![&variables[k.var]])),
            }
        }
    }
    g.sort_by(|a, b| b.0.total_cmp(&a.0));
    if every && g.len() == 1 {
        return format!("every parameter {}", rate_text(g[0].0));
    }
    g.iter()
        .map(|(s, names)| format!("{} {}", names.join(", "), rate_text(*s)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a flat cell keeps identified, in words.
pub fn identified(cell: &Cell, variables: &[String]) -> String {
    let pick = |f: &dyn Fn(&Identified) -> Option<usize>| -> Vec<&str> {
        cell.identified
            .iter()
            .filter_map(f)
            .map(|v| variables[v].as_str())
            .collect()
    };
    let avg = pick(&|i| match i {
        Identified::Average(v) => Some(*v),
        _ => None,
    });
    let equal = pick(&|i| match i {
        Identified::Equal(v) => Some(*v),
        _ => None,
    });
    let other = pick(&|i| match i {
        Identified::Nonlinear(v) => Some(*v),
        _ => None,
    });
    let mut parts = vec!["the cell's total mass".to_string()];
    if !avg.is_empty() {
        parts.push(format!("the mass-weighted average of {}", avg.join(", ")));
    }
    if !equal.is_empty() {
        parts.push(format!("{} (equal across the cell)", equal.join(", ")));
    }
    if !other.is_empty() {
        parts.push(format!(
            "a non-linear combination of {} (not its average)",
            other.join(", ")
        ));
    }
    parts.join("; ")
}

/// How a cell's result was reached, or why it is not confirmed.
fn how(cell: &Cell, variables: &[String]) -> String {
    let mut parts = Vec::new();
    let generic = if cell.m == 1 { 1.0 } else { 2.0 };
    let r_bar = cell.r_bar();
    if let Some(r) = r_bar.filter(|r| *r != generic) {
        parts.push(format!("r̄ = {}", trim(r)));
    }
    if let Some(w) = &cell.witness {
        if r_bar != Some(generic) {
            parts.push(format!("witness {}", scaling(&w.scaling, variables)));
        }
        if let Some(p) = &w.profile {
            parts.push(format!("ρ slope {:.2}", p.slope));
        }
    }
    if cell.confirmed() {
        parts.push("confirmed".into());
    } else {
        let ambiguous = cell
            .coordinates
            .iter()
            .filter(|k| !k.confirmed() && k.exponent.is_some())
            .map(|k| variables[k.var].as_str())
            .collect::<Vec<_>>();
        if ambiguous.is_empty() {
            parts.push("not confirmed: the profile's slope differs from the order".into());
        } else {
            parts.push(format!(
                "not confirmed for {}: the next order's residual is ambiguous in f64",
                ambiguous.join(", ")
            ));
        }
    }
    parts.join("; ")
}

/// `4` for 4.0, `2.5` for 2.5.
pub fn trim(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x}")
    }
}

/// One line for a cell: rates per parameter, and how they were decided.
pub fn line(cell: &Cell, variables: &[String]) -> String {
    let flat: Vec<&str> = cell
        .coordinates
        .iter()
        .filter(|k| k.flat)
        .map(|k| variables[k.var].as_str())
        .collect();
    let rest = groups(cell, variables, false);
    let with_rest = |head: String| {
        if rest.is_empty() {
            head
        } else {
            format!("{head}; {rest}")
        }
    };
    match cell.outcome {
        Outcome::Polynomial => format!(
            "{}  ({})",
            groups(cell, variables, true),
            how(cell, variables)
        ),
        Outcome::Flat => with_rest(format!(
            "flat in {} (identified: {})",
            flat.join(", "),
            identified(cell, variables)
        )),
        Outcome::NotIdentifiable => with_rest(format!(
            "not identifiable along {} (an invariance)",
            flat.join(", ")
        )),
        Outcome::SlowerThanPolynomial => {
            let capped: Vec<&str> = cell
                .coordinates
                .iter()
                .filter(|k| k.capped)
                .map(|k| variables[k.var].as_str())
                .collect();
            with_rest(format!(
                "slower than any polynomial in {} (the coefficient system is solvable to order {}, no exact flat configuration found)",
                capped.join(", "),
                2 * cell.m + 1
            ))
        }
        Outcome::CannotSplit => format!(
            "cannot split: {}",
            cell_reason(cell.reason.as_ref().unwrap_or(&Reason::NoMass), variables)
        ),
        Outcome::Undecided => format!(
            "undecided: {}",
            cell_reason(cell.reason.as_ref().unwrap_or(&Reason::Empty), variables)
        ),
    }
}

/// The stable part of [`line`]: rates per parameter and whether they are confirmed, without the
/// witness and the measured slope (which rounding can move between machines).
pub fn summary_line(cell: &Cell, variables: &[String]) -> String {
    let full = line(cell, variables);
    if cell.outcome != Outcome::Polynomial {
        return full;
    }
    let head = groups(cell, variables, true);
    let confirmed = if cell.confirmed() {
        "confirmed"
    } else {
        "not confirmed"
    };
    match cell.r_bar() {
        Some(r) if r != if cell.m == 1 { 1.0 } else { 2.0 } => {
            format!("{head}  (r̄ = {}; {confirmed})", trim(r))
        }
        _ => format!("{head}  ({confirmed})"),
    }
}

/// A disagreement with the verdict, as a warning.
pub fn warning(i: &Inconsistency) -> String {
    let cell = if i.m == 1 {
        if i.generic_cell {
            "every exponent is 1"
        } else {
            "some exponent exceeds 1"
        }
    } else if i.generic_cell {
        "every exponent is at most 2"
    } else {
        "some exponent exceeds 2 (or a direction is flat)"
    };
    let verdict = match i.verdict {
        VerdictKind::Identifiable => "identifiable",
        VerdictKind::Interaction => "an interaction",
        VerdictKind::Degenerate => "an invariance",
    };
    format!(
        "warning: atom {}, m = {}: the local geometry finds {cell} but the verdict finds {verdict} (docs/theory.md §7: the two should agree; f64 may not resolve this case)",
        i.atom + 1,
        i.m
    )
}
