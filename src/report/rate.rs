//! Predicted rates → text: `n^-1/8 (b); n^-1/4 (beta1[0], a[0], nu)`, the flat and not
//! identifiable parameters, and why a cell size has no prediction.

use crate::geometry::Reason;
use crate::rates::{Group, NoRate, Rate};

/// How the predicted rates are obtained.
pub const RULE: &str = "computed from the local geometry of each Voronoi cell: the exponent s of ‖f_G − f*‖ ≍ ε^s per parameter, rate n^-1/(2s)";
/// Where [`RULE`] is explained.
pub const SOURCE: &str = "docs/theory.md §7";

/// `n^-1/8` for $s = 4$; a decimal exponent when $2s$ is not an integer.
pub fn rate_text(s: f64) -> String {
    let two_s = 2.0 * s;
    if (two_s - two_s.round()).abs() < 1e-9 {
        format!("n^-1/{}", two_s.round() as i64)
    } else {
        format!("n^-{:.3}", 1.0 / two_s)
    }
}

fn groups_text(groups: &[Group], all: bool) -> String {
    if all && groups.len() == 1 {
        return format!("{} (every parameter)", rate_text(groups[0].s));
    }
    groups
        .iter()
        .map(|g| format!("{} ({})", rate_text(g.s), g.params.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A predicted rate in words; `variables` names the coordinates a reason refers to.
pub fn rate(r: &Rate, variables: &[String]) -> String {
    match r {
        Rate::Polynomial(g) => groups_text(g, true),
        Rate::Flat { flat, rest } => {
            let mut s = format!("flat in {}", flat.join(", "));
            if !rest.is_empty() {
                s += &format!("; {}", groups_text(rest, false));
            }
            s
        }
        Rate::SlowerThanPolynomial(p) => format!("slower than any polynomial ({})", p.join(", ")),
        Rate::NotIdentifiable(p) => format!("not identifiable along {}", p.join(", ")),
        Rate::None(why) => format!("no prediction ({})", no_rate(why, variables)),
    }
}

/// Why a cell size has no predicted rate.
pub fn no_rate(why: &NoRate, variables: &[String]) -> String {
    match why {
        NoRate::CannotSplit(reason) => cell_reason(reason, variables),
        NoRate::Undecided { atom, reason } => format!(
            "undecided at atom {}: {}",
            atom + 1,
            cell_reason(reason, variables)
        ),
    }
}

/// The predicted rate a rate check compares with: the rate's words, the bare reason when
/// there is none, `no verdict` without a verification.
pub fn predicted(r: Option<&Rate>, variables: &[String]) -> String {
    match r {
        None => "no verdict".into(),
        Some(Rate::None(why)) => no_rate(why, variables),
        Some(r) => rate(r, variables),
    }
}

/// Why a cell has no exponents, in one sentence; `variables` names the coordinates.
pub fn cell_reason(reason: &Reason, variables: &[String]) -> String {
    match reason {
            Reason::NoMass => "no mass parameter: several fitted atoms cannot share one true atom (arXiv 2405.13997, Regime 2)".into(),
            Reason::PointMass(v) => format!(
                "`{}` acts as a mass only at this point, so several fitted atoms cannot share one true atom near it",
                variables[*v]
            ),
            Reason::Kink(v) => format!(
                "`{}` enters a relu/abs kink, whose second derivatives are Dirac masses: the expansion beyond order 1 does not hold",
                variables[*v]
            ),
            Reason::Budget { degree } => format!(
                "the coefficient system needs degree {degree}, beyond the limits for this many parameters"
            ),
            Reason::Empty => "u vanishes or is not finite at the samples".into(),
            Reason::Resolution(v) => format!(
                "the coefficient system for `{}` is not decided in f64 (an effect below its resolution); the verdict, in high precision, decides",
                variables[*v]
            ),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_their_absence_in_words() {
        let vars: Vec<String> = ["beta1", "a", "b"].map(String::from).to_vec();
        let g = |s: f64, p: &[&str]| Group {
            params: p.iter().map(|x| x.to_string()).collect(),
            s,
        };
        assert_eq!(
            rate(
                &Rate::Polynomial(vec![g(4.0, &["b"]), g(2.0, &["a"])]),
                &vars
            ),
            "n^-1/8 (b); n^-1/4 (a)"
        );
        assert_eq!(
            rate(&Rate::Polynomial(vec![g(1.0, &["a", "b"])]), &vars),
            "n^-1/2 (every parameter)"
        );
        let flat = Rate::Flat {
            flat: vec!["a".into()],
            rest: vec![g(2.0, &["beta1"])],
        };
        assert_eq!(rate(&flat, &vars), "flat in a; n^-1/4 (beta1)");
        let kink = NoRate::Undecided {
            atom: 1,
            reason: Reason::Kink(2),
        };
        assert!(rate(&Rate::None(kink.clone()), &vars)
            .starts_with("no prediction (undecided at atom 2: `b` enters a relu/abs kink"));
        assert!(predicted(Some(&Rate::None(kink)), &vars).starts_with("undecided at atom 2"));
        assert_eq!(predicted(None, &vars), "no verdict");
        assert_eq!(rate_text(3.0), "n^-1/6");
        assert_eq!(rate_text(1.25), "n^-0.400");
    }
}
