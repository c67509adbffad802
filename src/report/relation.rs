//! Relations in words: as a PDE in parameter names (exact when recognised, else with decimal
//! coefficients), in LaTeX, and the identifiable combinations an invariance leaves.

use super::coef::{coef_factor, coef_latex, latex_name, linear_combination};
use crate::case::Role;
use crate::relations::exact::{cleared, magnitude, Coef, Exact, Rational};
use crate::relations::{subscript, Relation, RelationClass, Term};

/// The relation as a PDE in parameter names: its exact form when one was recognised and
/// verified (`tau·∂u/∂tau + beta1[0]·∂u/∂beta1[0] = 0`), else [`numeric_text`].
pub fn text(r: &Relation, variables: &[String]) -> String {
    match &r.exact {
        Some(e) if e.verified => exact(r, e).0,
        _ => numeric_text(r, variables),
    }
}

/// The relation with its floating-point coefficients (6 significant digits).
///
/// Per-atom relations solve for the pivot: `∂²u/∂beta1[0]∂b = ∂u/∂a[0]`; cross-atom
/// relations are written as a sum with atom subscripts: `u₁ + u₂ = 0`.
pub fn numeric_text(r: &Relation, variables: &[String]) -> String {
    numeric_text_with(r, variables, 6)
}

/// As [`text`], with numeric coefficients to `digits` significant digits (the
/// stable form for snapshots: 4 digits hide rounding noise).
pub fn text_with(r: &Relation, variables: &[String], digits: usize) -> String {
    match &r.exact {
        Some(e) if e.verified => exact(r, e).0,
        _ => numeric_text_with(r, variables, digits),
    }
}

/// The relation with floating-point coefficients to `digits` significant digits.
pub fn numeric_text_with(r: &Relation, variables: &[String], digits: usize) -> String {
    let cross = r.is_cross_atom();
    let name = |t: &Term| {
        if cross {
            t.alpha
                .label(variables, &format!("u{}", subscript(t.atom + 1)))
        } else {
            t.alpha.label(variables, "u")
        }
    };
    if r.class == RelationClass::Singular {
        let t = &r.terms[0];
        return format!(
            "{} is singular: a Dirac mass at the kink of {}, invisible to sampling",
            name(t),
            r.kink.as_deref().unwrap_or("a non-smooth function")
        );
    }
    if cross {
        return format!(
            "{} = 0",
            linear_combination(r.terms.iter().map(|t| (t.coef, name(t))), digits)
        );
    }
    let lhs = name(&r.terms[0]);
    let rhs: Vec<(f64, String)> = r.terms[1..].iter().map(|t| (-t.coef, name(t))).collect();
    if rhs.is_empty() {
        format!("{lhs} = 0")
    } else {
        format!("{lhs} = {}", linear_combination(rhs.into_iter(), digits))
    }
}

/// The text and LaTeX of a relation in its exact form.
pub fn exact(rel: &Relation, e: &Exact) -> (String, String) {
    render(rel, &e.coefs, &e.names)
}

/// The combinations of parameters that stay constant along an invariance whose exact field is
/// a scaling or a translation (`beta1[0]/tau`, `a − b`); none for other relations.
pub fn combinations(
    rel: &Relation,
    e: &Exact,
    variables: &[String],
    roles: &[Role],
) -> Vec<String> {
    if rel.order() <= 1 && !rel.is_cross_atom() && rel.terms.iter().all(|t| t.alpha.order() == 1) {
        combinations_of(rel, &e.coefs, variables, roles)
    } else {
        Vec::new()
    }
}

/// Text and LaTeX, denominators cleared: multiply through by the parameters in denominators and
/// by the rational denominators; a relation whose pivot keeps coefficient 1 is written solved
/// for it, others as a sum equal to zero.
fn render(rel: &Relation, coefs: &[Coef], names: &[String]) -> (String, String) {
    let cross = rel.is_cross_atom();
    let cleared = cleared(coefs);
    let label = |t: &Term| {
        if cross {
            t.alpha.label(names, &format!("u{}", subscript(t.atom + 1)))
        } else {
            t.alpha.label(names, "u")
        }
    };
    let latex_label = |t: &Term| {
        let u = if cross {
            format!("u_{{{}}}", t.atom + 1)
        } else {
            "u".to_string()
        };
        if t.alpha.order() == 0 {
            return u;
        }
        let ds: Vec<String> = t
            .alpha
            .names(names)
            .iter()
            .map(|n| format!("\\partial_{{{}}}", latex_name(n)))
            .collect();
        format!("{} {u}", ds.join(""))
    };
    let solved = cleared[0].is_one() && !cross;
    let mut text = String::new();
    let mut latex = String::new();
    if solved {
        text.push_str(&label(&rel.terms[0]));
        text.push_str(" = ");
        latex.push_str(&latex_label(&rel.terms[0]));
        latex.push_str(" = ");
        if rel.terms.len() == 1 {
            text.push('0');
            latex.push('0');
        }
        for (i, (t, c)) in rel.terms.iter().zip(&cleared).enumerate().skip(1) {
            let negated = Coef {
                terms: c.terms.iter().map(|(q, b)| (-q, b.clone())).collect(),
            };
            append(
                &mut text,
                &mut latex,
                i == 1,
                &negated,
                &label(t),
                &latex_label(t),
                names,
            );
        }
    } else {
        for (i, (t, c)) in rel.terms.iter().zip(&cleared).enumerate() {
            append(
                &mut text,
                &mut latex,
                i == 0,
                c,
                &label(t),
                &latex_label(t),
                names,
            );
        }
        text.push_str(" = 0");
        latex.push_str(" = 0");
    }
    (text, latex)
}

#[allow(clippy::too_many_arguments)]
fn append(
    text: &mut String,
    latex: &mut String,
    first: bool,
    c: &Coef,
    label: &str,
    latex_label: &str,
    names: &[String],
) {
    let single = c.terms.len() == 1;
    let negative = single && *c.terms[0].0.numer() < 0;
    let shown = if negative {
        Coef {
            terms: vec![(-c.terms[0].0, c.terms[0].1.clone())],
        }
    } else {
        c.clone()
    };
    let f = coef_factor(&shown, names);
    let body = if f == "1" {
        label.to_string()
    } else {
        format!("{f}·{label}")
    };
    let lf = coef_latex(&shown, names);
    let lbody = if lf == "1" {
        latex_label.to_string()
    } else {
        format!("{lf}\\thinspace {latex_label}")
    };
    match (first, negative) {
        (true, false) => {
            text.push_str(&body);
            latex.push_str(&lbody);
        }
        (true, true) => {
            text.push_str(&format!("−{body}"));
            latex.push_str(&format!("-{lbody}"));
        }
        (false, false) => {
            text.push_str(&format!(" + {body}"));
            latex.push_str(&format!(" + {lbody}"));
        }
        (false, true) => {
            text.push_str(&format!(" − {body}"));
            latex.push_str(&format!(" - {lbody}"));
        }
    }
}

/// For an invariance $\sum_k \lambda_k \partial_k u = 0$ whose field is a scaling
/// ($\lambda_k = q_k \theta_k$) or a translation ($\lambda_k = q_k$), possibly mixed: the
/// combinations that stay constant along it, measured against a reference parameter (a shared
/// one when there is one, as $\tau$ in $\beta_1/\tau$): ratios $\theta_k/\theta_r$ for scalings,
/// differences for translations, $\theta_k - c\log\theta_r$ or $\theta_k e^{-c\theta_r}$ mixed.
fn combinations_of(
    rel: &Relation,
    coefs: &[Coef],
    names: &[String],
    roles: &[Role],
) -> Vec<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Scale(Rational),
        Shift(Rational),
    }
    let mut fields = Vec::new();
    for (t, c) in rel.terms.iter().zip(coefs) {
        if c.terms.len() != 1 || c.terms[0].1.factor.is_some() {
            return Vec::new();
        }
        fields.push((
            t.alpha.directions()[0] as usize,
            c.terms[0].0,
            c.terms[0].1.powers.clone(),
        ));
    }
    let pivot = fields[0].0;
    // The field is known up to a common factor: try λ_k = c_k θ_pivot, then λ_k = c_k.
    let classify = |times_pivot: bool| -> Option<Vec<(usize, Kind)>> {
        fields
            .iter()
            .map(|(v, q, p)| {
                let mut powers = p.clone();
                if times_pivot {
                    match powers.iter_mut().find(|x| x.0 == pivot) {
                        Some(x) => x.1 += 1,
                        None => powers.push((pivot, 1)),
                    }
                    powers.retain(|x| x.1 != 0);
                }
                if powers == vec![(*v, 1)] {
                    Some((*v, Kind::Scale(*q)))
                } else if powers.is_empty() {
                    Some((*v, Kind::Shift(*q)))
                } else {
                    None
                }
            })
            .collect()
    };
    let Some(kinds) = classify(true).or_else(|| classify(false)) else {
        return Vec::new();
    };
    let r = kinds
        .iter()
        .position(|(v, _)| roles[*v] == Role::Shared)
        .unwrap_or(0);
    let (vr, kr) = kinds[r];
    let a = &names[vr];
    kinds
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != r)
        .map(|(_, &(v, k))| {
            let b = &names[v];
            let ratio = |x: Rational, y: Rational| x / y;
            match (kr, k) {
                (Kind::Scale(qr), Kind::Scale(q)) if qr == q => format!("{b}/{a}"),
                (Kind::Scale(qr), Kind::Scale(q)) => format!("{b}^{}/{a}^{}", fmt_q(qr), fmt_q(q)),
                (Kind::Shift(qr), Kind::Shift(q)) => difference(b, ratio(q, qr), a),
                (Kind::Shift(qr), Kind::Scale(q)) => {
                    let c = ratio(q, qr);
                    format!(
                        "{b}·exp({}{a})",
                        if c == Rational::ONE {
                            "−".to_string()
                        } else {
                            format!("−{}·", fmt_q(c))
                        }
                    )
                }
                (Kind::Scale(qr), Kind::Shift(q)) => {
                    difference(b, ratio(q, qr), &format!("log({a})"))
                }
            }
        })
        .collect()
}

/// `b − c·a` with the sign and a unit coefficient folded in.
fn difference(b: &str, c: Rational, a: &str) -> String {
    let mag = magnitude(c);
    let term = if mag == Rational::ONE {
        a.to_string()
    } else {
        format!("{}·{a}", fmt_q(mag))
    };
    if *c.numer() < 0 {
        format!("{b} + {term}")
    } else {
        format!("{b} − {term}")
    }
}

fn fmt_q(q: Rational) -> String {
    if q.is_integer() {
        q.numer().to_string()
    } else {
        format!("({}/{})", q.numer(), q.denom())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::MultiIndex;

    fn relation(terms: &[(usize, &[u16], f64)]) -> Relation {
        crate::relations::test_relation(
            terms
                .iter()
                .map(|&(atom, dirs, coef)| Term {
                    atom,
                    alpha: MultiIndex::new(dirs.to_vec()),
                    coef,
                })
                .collect(),
        )
    }

    #[test]
    fn texts_solve_for_the_pivot_and_name_atoms_of_cross_relations() {
        let names = ["beta0", "a", "b", "nu"].map(String::from).to_vec();
        let heat = relation(&[(0, &[2, 2], 1.0), (0, &[3], -2.0)]);
        assert_eq!(numeric_text(&heat, &names), "∂²u/∂b² = 2·∂u/∂nu");
        assert_eq!(text(&heat, &names), "∂²u/∂b² = 2·∂u/∂nu");
        let gauge = relation(&[(0, &[], 1.0), (1, &[], 1.0)]);
        assert_eq!(numeric_text(&gauge, &names), "u₁ + u₂ = 0");
        let odd = relation(&[(0, &[1], 1.0), (0, &[2], -0.123456789)]);
        assert_eq!(text_with(&odd, &names, 3), "∂u/∂a = 0.123·∂u/∂b");
    }

    #[test]
    fn an_exact_invariance_is_written_cleared_and_names_what_stays_identifiable() {
        use crate::relations::exact::Basis;
        // ∂u/∂tau + (beta1/tau)·∂u/∂beta1 = 0: the scaling (beta1, tau) → (c·beta1, c·tau)
        let names = ["beta1", "tau"].map(String::from).to_vec();
        let mut r = relation(&[(0, &[1], 1.0), (0, &[0], 2.0)]);
        let e = Exact {
            coefs: vec![
                Coef {
                    terms: vec![(
                        Rational::ONE,
                        Basis {
                            powers: Vec::new(),
                            factor: None,
                        },
                    )],
                },
                Coef {
                    terms: vec![(
                        Rational::ONE,
                        Basis {
                            powers: vec![(0, 1), (1, -1)],
                            factor: None,
                        },
                    )],
                },
            ],
            verified: true,
            names: names.clone(),
        };
        r.exact = Some(e.clone());
        let (t, latex) = exact(&r, &e);
        assert_eq!(t, "tau·∂u/∂tau + beta1·∂u/∂beta1 = 0");
        assert_eq!(text(&r, &names), t);
        assert!(latex.contains("\\tau") && latex.ends_with("= 0"), "{latex}");
        let roles = [Role::PerExpert, Role::Shared];
        assert_eq!(combinations(&r, &e, &names, &roles), ["beta1/tau"]);
        // a second-order relation has no such combinations
        let heat = relation(&[(0, &[1, 1], 1.0), (0, &[0], 2.0)]);
        assert!(combinations(&heat, &e, &names, &roles).is_empty());
    }
}
