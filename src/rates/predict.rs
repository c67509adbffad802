//! Predicted rates from a verdict (theory.md §3, table "Predicted rates").

use crate::verdict::{Verdict, VerdictKind};
use std::fmt;

/// A predicted parameter-estimation rate.
#[derive(Clone, Debug, PartialEq)]
pub enum Rate {
    /// $n^{-a/b}$.
    Polynomial {
        /// Numerator of the exponent.
        num: u32,
        /// Denominator of the exponent.
        den: u32,
        /// What the rate applies to, when it needs saying (e.g. "Voronoi loss n^-1/2").
        note: Option<String>,
    },
    /// Polynomial with an exponent that depends on the number of fitted atoms per true atom.
    PolynomialDepending(String),
    /// Slower than $n^{-a}$ for every $a > 0$.
    SlowerThanPolynomial,
    /// Not identifiable along an invariance.
    NotIdentifiable,
    /// No prediction, and why.
    None(String),
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Polynomial { num, den, note } => {
                write!(f, "n^-{num}/{den}")?;
                if let Some(n) = note {
                    write!(f, " ({n})")?;
                }
                Ok(())
            }
            Rate::PolynomialDepending(s) => f.write_str(s),
            Rate::SlowerThanPolynomial => f.write_str("slower than any polynomial"),
            Rate::NotIdentifiable => f.write_str("not identifiable along the invariance"),
            Rate::None(why) => write!(f, "no prediction ({why})"),
        }
    }
}

/// Predicted rates for exact-specified and over-specified atoms.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// One fitted atom per true atom.
    pub exact: Rate,
    /// Several fitted atoms per true atom.
    pub over: Rate,
    /// The rule applied.
    pub rule: String,
    /// Where the rule comes from.
    pub source: String,
}

fn poly(num: u32, den: u32) -> Rate {
    Rate::Polynomial {
        num,
        den,
        note: None,
    }
}

/// The rates theory.md §3 attaches to `verdict`.
///
/// Over-specified atoms need a mass parameter: without one, several fitted atoms cannot share
/// one true atom (the sum of two sigmoid atoms is not a sigmoid atom), and the estimator
/// converges to a best over-specified approximation instead (arXiv 2405.13997, Regime 2).
pub fn predict(verdict: &Verdict) -> Prediction {
    let source = "theory.md §3 (pattern of arXiv 2503.03213, 2405.13997, 2310.14188, 2602.01466)"
        .to_string();
    let massless = verdict.atoms.iter().any(|a| !a.has_mass);
    let no_split = || {
        Rate::None("no mass parameter: several fitted atoms cannot share one true atom (arXiv 2405.13997, Regime 2)".into())
    };
    match verdict.kind {
        VerdictKind::Degenerate => Prediction {
            exact: Rate::NotIdentifiable,
            over: Rate::NotIdentifiable,
            rule: "degenerate: an invariance leaves a direction of parameters unidentified".into(),
            source,
        },
        VerdictKind::Identifiable if verdict.order >= 2 => Prediction {
            exact: poly(1, 2),
            over: if massless {
                no_split()
            } else {
                Rate::Polynomial {
                    num: 1,
                    den: 4,
                    note: Some("Voronoi loss n^-1/2".into()),
                }
            },
            rule: format!(
                "identifiable at order {} (strong identifiability)",
                verdict.order
            ),
            source,
        },
        VerdictKind::Identifiable => Prediction {
            exact: poly(1, 2),
            over: Rate::None("identifiable at order 1 only; analyse order 2".into()),
            rule: "identifiable at order 1 only".into(),
            source,
        },
        VerdictKind::Interaction => Prediction {
            // No invariance means the order-1 family has only mass relations: it is clean.
            exact: poly(1, 2),
            over: if massless {
                no_split()
            } else if verdict.homogeneous_interaction {
                Rate::SlowerThanPolynomial
            } else {
                Rate::PolynomialDepending(
                    "polynomial n^-1/(2r̄), r̄ = the order at which the coefficient system becomes trivially solvable (Gaussian heat PDE: r̄ = 4 with one extra fitted atom, 6 with two)".into(),
                )
            },
            rule: if verdict.homogeneous_interaction {
                "interaction through a vanishing second-order term (the system never becomes solvable, as for linear experts)".into()
            } else {
                "interaction of heat type (a pure power tied to lower orders)".into()
            },
            source,
        },
    }
}
