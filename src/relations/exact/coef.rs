//! Exact coefficients: small rationals, basis functions (monomials, optionally times a
//! sigmoid) and their sums, with their text and LaTeX.

use crate::expr::Number;
use std::fmt::Write;

/// A rational $p/q$ in lowest terms, $q > 0$ (num-rational's `Ratio<i64>`).
pub type Rational = num_rational::Rational64;

/// Its value.
pub(super) fn value(q: Rational) -> f64 {
    *q.numer() as f64 / *q.denom() as f64
}

/// $|q|$.
pub(super) fn magnitude(q: Rational) -> Rational {
    if *q.numer() < 0 {
        -q
    } else {
        q
    }
}

/// The closest rational to `x` with denominator at most `max_den` (continued fractions), if it
/// is within `tol` (relative) of `x`.
pub fn rational(x: f64, max_den: i64, tol: f64) -> Option<Rational> {
    if !x.is_finite() || x.abs() > 1e6 {
        return None;
    }
    let (mut h0, mut h1, mut k0, mut k1) = (0i64, 1i64, 1i64, 0i64);
    let mut y = x;
    for _ in 0..40 {
        let a = y.floor();
        if a.abs() > 1e9 {
            break;
        }
        let a = a as i64;
        let (h2, k2) = (a * h1 + h0, a * k1 + k0);
        if k2 > max_den {
            break;
        }
        (h0, h1, k0, k1) = (h1, h2, k1, k2);
        let r = Rational::new(h1, k1);
        if (value(r) - x).abs() <= tol * x.abs().max(1e-300) {
            return Some(r);
        }
        let frac = y - a as f64;
        if frac.abs() < 1e-15 {
            break;
        }
        y = 1.0 / frac;
    }
    None
}

/// A transcendental factor of a basis function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    /// $\sigma(\theta_v)$ (the constants a sigmoid gate produces).
    Sigmoid(usize),
    /// $e^{k\theta_v}$, $k = \pm 1$ (a variance or weight written `exp(l)`).
    Exp(usize, i32),
}

impl Factor {
    fn eval<N: Number>(self, theta: &[N]) -> N {
        match self {
            Factor::Sigmoid(v) => theta[v].sigmoid(),
            Factor::Exp(v, k) => (theta[v].clone() * theta[v].constant(f64::from(k))).exp(),
        }
    }

    /// As text (`sigmoid(b)`, `exp(−l)`) or LaTeX (`\sigma(b)`, `e^{-l}`).
    pub(super) fn text(self, names: &[String], latex: bool) -> String {
        let name = |v: usize| {
            if latex {
                latex_name(&names[v])
            } else {
                names[v].clone()
            }
        };
        match (self, latex) {
            (Factor::Sigmoid(v), true) => format!("\\sigma({})", name(v)),
            (Factor::Sigmoid(v), false) => format!("sigmoid({})", name(v)),
            (Factor::Exp(v, k), true) => {
                format!("e^{{{}{}}}", if k < 0 { "-" } else { "" }, name(v))
            }
            (Factor::Exp(v, k), false) => {
                format!("exp({}{})", if k < 0 { "−" } else { "" }, name(v))
            }
        }
    }
}

/// A basis function: $\prod_v \theta_v^{e_v}$, optionally times a [`Factor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Basis {
    /// `(variable, exponent)`, sorted, nonzero exponents.
    pub powers: Vec<(usize, i32)>,
    /// A $\sigma(\theta_s)$ or $e^{\pm\theta_s}$ factor.
    pub factor: Option<Factor>,
}

impl Basis {
    pub(super) fn one() -> Basis {
        Basis {
            powers: Vec::new(),
            factor: None,
        }
    }

    pub(super) fn degree(&self) -> i32 {
        self.powers.iter().map(|p| p.1.abs()).sum::<i32>() + i32::from(self.factor.is_some()) * 3
    }

    pub(super) fn eval<N: Number>(&self, theta: &[N]) -> N {
        let mut v = theta[0].constant(1.0);
        for &(var, e) in &self.powers {
            v = v * theta[var].powi(e);
        }
        if let Some(f) = self.factor {
            v = v * f.eval(theta);
        }
        v
    }
}

/// A parameter name in LaTeX: `beta1[0]` → `\beta_{1,0}`, `tau` → `\tau`, `a[1]` → `a_{1}`;
/// an atom's parameter in a cross-atom coefficient, `beta1[0]₂` → `\beta^{(2)}_{1,0}`.
pub fn latex_name(name: &str) -> String {
    const SUBSCRIPTS: &str = "₀₁₂₃₄₅₆₇₈₉";
    let plain = name.trim_end_matches(|c| SUBSCRIPTS.contains(c));
    if plain.len() < name.len() {
        let atom: String = name[plain.len()..]
            .chars()
            .filter_map(|c| SUBSCRIPTS.chars().position(|s| s == c))
            .map(|d| char::from(b'0' + d as u8))
            .collect();
        let inner = latex_name(plain);
        return match inner.split_once('_') {
            Some((head, sub)) => format!("{head}^{{({atom})}}_{sub}"),
            None => format!("{inner}^{{({atom})}}"),
        };
    }
    const GREEK: [&str; 24] = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
        "nu",
        "xi",
        "pi",
        "rho",
        "sigma",
        "tau",
        "upsilon",
        "phi",
        "chi",
        "psi",
        "omega",
        "varepsilon",
    ];
    let (base, index) = match name.split_once('[') {
        Some((b, rest)) => (b, Some(rest.trim_end_matches(']'))),
        None => (name, None),
    };
    let letters: String = base
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let rest = &base[letters.len()..];
    let head = if GREEK.contains(&letters.as_str()) {
        format!("\\{letters}")
    } else if letters.len() == 1 {
        letters.clone()
    } else {
        format!("\\mathrm{{{letters}}}")
    };
    let mut subs: Vec<&str> = Vec::new();
    let rest = rest.trim_start_matches('_');
    if !rest.is_empty() {
        subs.push(rest);
    }
    if let Some(i) = index {
        subs.push(i);
    }
    if subs.is_empty() {
        head
    } else {
        format!("{head}_{{{}}}", subs.join(","))
    }
}

/// A coefficient $\sum_k q_k B_k$.
#[derive(Clone, Debug, PartialEq)]
pub struct Coef {
    /// The terms.
    pub terms: Vec<(Rational, Basis)>,
}

impl Coef {
    pub(super) fn eval<N: Number>(&self, theta: &[N]) -> N {
        let mut v = theta[0].constant(0.0);
        for (q, b) in &self.terms {
            v = v + b.eval(theta) * theta[0].constant(*q.numer() as f64)
                / theta[0].constant(*q.denom() as f64);
        }
        v
    }

    /// The coefficient as text, e.g. `−2/tau`, `(1 − sigmoid(beta0))·a` (relative to the
    /// pivot's coefficient 1).
    pub fn text(&self, names: &[String]) -> String {
        let t = self.factor_text(names);
        match t.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
            Some(inner) if !inner.contains('(') && self.terms.len() == 1 => inner.to_string(),
            _ => t,
        }
    }

    /// Multiplies by $q \prod \theta^{e}$.
    pub(super) fn scale(&self, q: Rational, powers: &[(usize, i32)]) -> Coef {
        Coef {
            terms: self
                .terms
                .iter()
                .map(|(r, b)| {
                    let mut p = b.powers.clone();
                    for &(v, e) in powers {
                        match p.iter_mut().find(|x| x.0 == v) {
                            Some(x) => x.1 += e,
                            None => p.push((v, e)),
                        }
                    }
                    p.retain(|x| x.1 != 0);
                    p.sort_unstable();
                    (
                        r * q,
                        Basis {
                            powers: p,
                            factor: b.factor,
                        },
                    )
                })
                .collect(),
        }
    }

    pub(super) fn is_one(&self) -> bool {
        self.terms.len() == 1 && self.terms[0].0 == Rational::ONE && self.terms[0].1 == Basis::one()
    }

    /// Whether every term is a pure rational (no parameter).
    pub(super) fn is_rational(&self) -> bool {
        self.terms.iter().all(|(_, b)| *b == Basis::one())
    }

    /// Text of the coefficient as a factor: `2`, `tau`, `(2/tau)`, `(−1 + sigmoid(b))`.
    pub(super) fn factor_text(&self, names: &[String]) -> String {
        if let Some((inner, m)) = self.factored() {
            let mt = term_text(Rational::ONE, &m, names, false);
            let mt = if mt.contains('/') {
                format!("({mt})")
            } else {
                mt
            };
            return format!("{}·{mt}", inner.factor_text(names));
        }
        let parts: Vec<(bool, String)> = self
            .terms
            .iter()
            .map(|(q, b)| (*q.numer() < 0, term_text(magnitude(*q), b, names, false)))
            .collect();
        if parts.len() == 1 {
            let (neg, s) = &parts[0];
            let s = if s.contains('/') {
                format!("({s})")
            } else {
                s.clone()
            };
            return if *neg { format!("−{s}") } else { s };
        }
        let mut out = String::from("(");
        for (i, (neg, s)) in parts.iter().enumerate() {
            let sign = match (i, neg) {
                (0, false) => "",
                (0, true) => "−",
                (_, false) => " + ",
                (_, true) => " − ",
            };
            let _ = write!(out, "{sign}{s}");
        }
        out.push(')');
        out
    }

    /// $(q_1 + q_2 \sigma)\,m$ split as $(q_1 + q_2\sigma,\ m)$ when two terms share a
    /// non-constant monomial $m$.
    pub(super) fn factored(&self) -> Option<(Coef, Basis)> {
        if self.terms.len() != 2
            || self.terms[0].1.powers != self.terms[1].1.powers
            || self.terms[0].1.powers.is_empty()
        {
            return None;
        }
        let m = Basis {
            powers: self.terms[0].1.powers.clone(),
            factor: None,
        };
        let inner = Coef {
            terms: self
                .terms
                .iter()
                .map(|(q, b)| {
                    (
                        *q,
                        Basis {
                            powers: Vec::new(),
                            factor: b.factor,
                        },
                    )
                })
                .collect(),
        };
        Some((inner, m))
    }

    pub(super) fn latex(&self, names: &[String]) -> String {
        if let Some((inner, m)) = self.factored() {
            return format!(
                "{}\\thinspace {}",
                inner.latex(names),
                term_text(Rational::ONE, &m, names, true)
            );
        }
        let mut out = String::new();
        for (i, (q, b)) in self.terms.iter().enumerate() {
            let s = term_text(magnitude(*q), b, names, true);
            let sign = match (i, *q.numer() < 0) {
                (0, false) => "",
                (0, true) => "-",
                (_, false) => " + ",
                (_, true) => " - ",
            };
            out.push_str(sign);
            out.push_str(&s);
        }
        if self.terms.len() > 1 {
            format!("({out})")
        } else {
            out
        }
    }
}

/// One term $q\,B$ ($q > 0$) as text (`2/tau`, `sigmoid(b)·a`) or LaTeX (`\frac{2}{\tau}`).
pub(super) fn term_text(q: Rational, b: &Basis, names: &[String], latex: bool) -> String {
    let name = |v: usize| {
        if latex {
            latex_name(&names[v])
        } else {
            names[v].clone()
        }
    };
    let mut num: Vec<String> = Vec::new();
    let mut den: Vec<String> = Vec::new();
    if *q.numer() != 1 {
        num.push(q.numer().to_string());
    }
    if *q.denom() != 1 {
        den.push(q.denom().to_string());
    }
    if let Some(f) = b.factor {
        num.push(f.text(names, latex));
    }
    for &(v, e) in &b.powers {
        let base = name(v);
        let t = match (e.abs(), latex) {
            (1, _) => base,
            (k, true) => format!("{base}^{{{k}}}"),
            (k, false) => format!("{base}^{k}"),
        };
        if e > 0 {
            num.push(t);
        } else {
            den.push(t);
        }
    }
    let join = if latex { " " } else { "·" };
    let n = if num.is_empty() {
        "1".to_string()
    } else {
        num.join(join)
    };
    match (den.len(), latex) {
        (0, _) => n,
        (_, true) => format!("\\frac{{{n}}}{{{}}}", den.join(" ")),
        (1, false) => format!("{n}/{}", den[0]),
        (_, false) => format!("{n}/({})", den.join("·")),
    }
}
