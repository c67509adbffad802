//! An exact relation as text and LaTeX (denominators cleared, solved for its pivot when it
//! can be) and the identifiable combinations of an invariance.

use super::coef::{latex_name, magnitude, Coef, Rational};
use crate::case::Role;
use crate::relations::{subscript, Relation, Term};
use num_integer::Integer;

/// The coefficients with denominators cleared: multiplied through by the parameters in
/// denominators and by the rational denominators (unless every coefficient is a plain rational).
/// The relation's text and LaTeX are written with these.
pub fn cleared(coefs: &[Coef]) -> Vec<Coef> {
    let mut neg_powers: Vec<(usize, i32)> = Vec::new();
    let mut den_lcm = 1i64;
    for c in coefs {
        for (q, b) in &c.terms {
            den_lcm = den_lcm.lcm(q.denom());
            for &(v, e) in &b.powers {
                if e < 0 {
                    match neg_powers.iter_mut().find(|x| x.0 == v) {
                        Some(x) => x.1 = x.1.max(-e),
                        None => neg_powers.push((v, -e)),
                    }
                }
            }
        }
    }
    // Only clear denominators when something is not a plain rational combination.
    let plain = coefs.iter().all(Coef::is_rational);
    let (factor, powers) = if plain {
        (Rational::ONE, Vec::new())
    } else {
        (Rational::new(den_lcm, 1), neg_powers)
    };
    coefs.iter().map(|c| c.scale(factor, &powers)).collect()
}

/// Text and LaTeX, denominators cleared: multiply through by the parameters in denominators and
/// by the rational denominators; a relation whose pivot keeps coefficient 1 is written solved
/// for it, others as a sum equal to zero.
pub(super) fn render(rel: &Relation, coefs: &[Coef], names: &[String]) -> (String, String) {
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
pub(super) fn append(
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
    let f = shown.factor_text(names);
    let body = if f == "1" {
        label.to_string()
    } else {
        format!("{f}·{label}")
    };
    let lf = shown.latex(names);
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
pub(super) fn combinations(
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
pub(super) fn difference(b: &str, c: Rational, a: &str) -> String {
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

pub(super) fn fmt_q(q: Rational) -> String {
    if q.is_integer() {
        q.numer().to_string()
    } else {
        format!("({}/{})", q.numer(), q.denom())
    }
}
