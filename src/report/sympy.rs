//! Relations and coefficients in ASCII that `sympy.sympify` parses: `Symbol('beta1[0]')` for
//! every parameter (names such as `beta`, `gamma` or `lambda` would otherwise parse as sympy's
//! functions or fail), `u` a function of every parameter (`u1`, `u2`, … for the atoms of a
//! cross-atom relation), `Derivative(u, Symbol('b'), Symbol('b'))`, exact rationals as `p/q`
//! and $\sigma(\theta)$ as `1/(1 + exp(-θ))`. A relation is `Eq(Σ c·∂u, 0)` with the cleared
//! coefficients of its exact text (or its decimal coefficients when it has no exact form).

use crate::relations::exact::{cleared, Basis, Coef, Factor};
use crate::relations::{Relation, RelationClass, Term};
use std::fmt::Write;

fn symbol(name: &str) -> String {
    format!(
        "Symbol('{}')",
        name.replace('\\', "\\\\").replace('\'', "\\'")
    )
}

fn basis(b: &Basis, names: &[String]) -> Vec<String> {
    let mut factors = Vec::new();
    match b.factor {
        Some(Factor::Sigmoid(s)) => {
            factors.push(format!("(1/(1 + exp(-{})))", symbol(&names[s])));
        }
        Some(Factor::Exp(s, k)) => {
            factors.push(format!(
                "exp({}{})",
                if k < 0 { "-" } else { "" },
                symbol(&names[s])
            ));
        }
        None => {}
    }
    for &(v, e) in &b.powers {
        factors.push(if e == 1 {
            symbol(&names[v])
        } else {
            format!("{}**({e})", symbol(&names[v]))
        });
    }
    factors
}

/// A coefficient $\sum_k q_k B_k$ as a sympy expression.
pub fn coefficient(c: &Coef, names: &[String]) -> String {
    if c.terms.is_empty() {
        return "0".into();
    }
    let terms: Vec<String> = c
        .terms
        .iter()
        .map(|(q, b)| {
            let mut factors = basis(b, names);
            let magnitude = match (q.numer().abs(), *q.denom()) {
                (1, 1) => None,
                (n, 1) => Some(n.to_string()),
                (n, d) => Some(format!("{n}/{d}")),
            };
            if let Some(m) = magnitude.or_else(|| factors.is_empty().then(|| "1".into())) {
                factors.insert(0, m);
            }
            let sign = if *q.numer() < 0 { "-" } else { "" };
            format!("{sign}{}", factors.join("*"))
        })
        .collect();
    terms.join(" + ")
}

fn derivative(t: &Term, cross: bool, names: &[String]) -> String {
    let u = if cross {
        format!("u{}", t.atom + 1)
    } else {
        "u".to_string()
    };
    let args: Vec<String> = names.iter().map(|n| symbol(n)).collect();
    let f = format!("Function('{u}')({})", args.join(", "));
    if t.alpha.order() == 0 {
        return f;
    }
    let mut s = format!("Derivative({f}");
    for n in t.alpha.names(names) {
        let _ = write!(s, ", {}", symbol(&n));
    }
    s.push(')');
    s
}

/// The relation as `Eq(Σ c·∂u, 0)`; `None` for a singular term, which is no equation.
pub fn relation(r: &Relation, names: &[String]) -> Option<String> {
    if r.class == RelationClass::Singular {
        return None;
    }
    let cross = r.is_cross_atom();
    let coefficients: Vec<String> = match &r.exact {
        Some(e) if e.verified => cleared(&e.coefs)
            .iter()
            .map(|c| coefficient(c, &e.names))
            .collect(),
        _ => r.terms.iter().map(|t| format!("({:?})", t.coef)).collect(),
    };
    let sum: Vec<String> = r
        .terms
        .iter()
        .zip(&coefficients)
        .map(|(t, c)| format!("({c})*{}", derivative(t, cross, names)))
        .collect();
    Some(format!("Eq({}, 0)", sum.join(" + ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relations::exact::Rational;

    #[test]
    fn rationals_powers_and_sigmoids() {
        let names = vec!["beta1[0]".to_string(), "tau".to_string()];
        let c = Coef {
            terms: vec![
                (
                    Rational::new(-2, 3),
                    Basis {
                        powers: vec![(1, -1)],
                        factor: None,
                    },
                ),
                (
                    Rational::new(1, 1),
                    Basis {
                        powers: vec![(1, 2)],
                        factor: Some(Factor::Sigmoid(0)),
                    },
                ),
            ],
        };
        assert_eq!(
            coefficient(&c, &names),
            "-2/3*Symbol('tau')**(-1) + (1/(1 + exp(-Symbol('beta1[0]'))))*Symbol('tau')**(2)"
        );
        assert_eq!(symbol("it's"), "Symbol('it\\'s')");
        let e = Coef {
            terms: vec![(
                Rational::new(2, 1),
                Basis {
                    powers: Vec::new(),
                    factor: Some(Factor::Exp(1, -1)),
                },
            )],
        };
        assert_eq!(coefficient(&e, &names), "2*exp(-Symbol('tau'))");
    }
}
