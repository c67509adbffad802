//! Numbers, coefficients and parameter names in words: decimals (`0.3`, `1e-300`), linear
//! combinations (`a·X + b·Y − Z`), exact coefficients as text (`−2/tau`) and LaTeX
//! (`\frac{2}{\tau}`), parameter names in LaTeX (`beta1[0]` → `\beta_{1,0}`).

use crate::relations::exact::{magnitude, Basis, Coef, Factor, Rational};
use std::fmt::Write;

/// `a·X + b·Y − Z` with coefficients of 6 significant digits (1 omitted).
pub fn linear_combination(terms: impl Iterator<Item = (f64, String)>, digits: usize) -> String {
    let mut out = String::new();
    for (i, (c, name)) in terms.enumerate() {
        let neg = c < 0.0;
        let mag = format_coef_digits(c.abs(), digits);
        let body = if mag == "1" {
            name
        } else {
            format!("{mag}·{name}")
        };
        match (i, neg) {
            (0, false) => out.push_str(&body),
            (0, true) => out.push_str(&format!("−{body}")),
            (_, false) => out.push_str(&format!(" + {body}")),
            (_, true) => out.push_str(&format!(" − {body}")),
        }
    }
    out
}

/// A share in (0, 1) as written (`0.3`), in scientific notation near 0 or 1 (`1e-300`), where
/// plain decimals would run to hundreds of digits.
pub fn format_share(p: f64) -> String {
    if (1e-4..=1.0 - 1e-4).contains(&p) {
        format!("{p}")
    } else {
        format!("{p:e}")
    }
}

/// A coefficient with 6 significant digits, trailing zeros removed; integers printed plainly.
pub fn format_coef(c: f64) -> String {
    format_coef_digits(c, 6)
}

/// A coefficient with `digits` significant digits, trailing zeros removed; integers (to 1e-9)
/// printed plainly.
pub fn format_coef_digits(c: f64, digits: usize) -> String {
    let digits = digits.clamp(1, 17) as i32;
    if !c.is_finite() {
        return format!("{c}");
    }
    let r = c.round();
    if (c - r).abs() <= 1e-9 * c.abs().max(1.0) && r.abs() < 1e9 {
        return format!("{}", r as i64);
    }
    let a = c.abs();
    if (1e-3..1e6).contains(&a) {
        let decimals = digits - 1 - a.log10().floor() as i32;
        let s = format!("{c:.*}", decimals.max(0) as usize);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        let s = format!("{c:.*e}", (digits - 1) as usize);
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        format!("{m}e{e}")
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

/// As text (`sigmoid(b)`, `exp(−l)`) or LaTeX (`\sigma(b)`, `e^{-l}`).
pub fn factor(f: Factor, names: &[String], latex: bool) -> String {
    let name = |v: usize| {
        if latex {
            latex_name(&names[v])
        } else {
            names[v].clone()
        }
    };
    match (f, latex) {
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

/// The coefficient as text, e.g. `−2/tau`, `(1 − sigmoid(beta0))·a` (relative to the
/// pivot's coefficient 1).
pub fn coef(c: &Coef, names: &[String]) -> String {
    let t = coef_factor(c, names);
    match t.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        Some(inner) if !inner.contains('(') && c.terms.len() == 1 => inner.to_string(),
        _ => t,
    }
}

/// Text of the coefficient as a factor: `2`, `tau`, `(2/tau)`, `(−1 + sigmoid(b))`.
pub fn coef_factor(c: &Coef, names: &[String]) -> String {
    if let Some((inner, m)) = c.factored() {
        let mt = term(Rational::ONE, &m, names, false);
        let mt = if mt.contains('/') {
            format!("({mt})")
        } else {
            mt
        };
        return format!("{}·{mt}", coef_factor(&inner, names));
    }
    let parts: Vec<(bool, String)> = c
        .terms
        .iter()
        .map(|(q, b)| (*q.numer() < 0, term(magnitude(*q), b, names, false)))
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

/// The coefficient in LaTeX (`\frac{2}{\tau}`, `(1 - \sigma(b))\thinspace a`).
pub fn coef_latex(c: &Coef, names: &[String]) -> String {
    if let Some((inner, m)) = c.factored() {
        return format!(
            "{}\\thinspace {}",
            coef_latex(&inner, names),
            term(Rational::ONE, &m, names, true)
        );
    }
    let mut out = String::new();
    for (i, (q, b)) in c.terms.iter().enumerate() {
        let s = term(magnitude(*q), b, names, true);
        let sign = match (i, *q.numer() < 0) {
            (0, false) => "",
            (0, true) => "-",
            (_, false) => " + ",
            (_, true) => " - ",
        };
        out.push_str(sign);
        out.push_str(&s);
    }
    if c.terms.len() > 1 {
        format!("({out})")
    } else {
        out
    }
}

/// One term $q\,B$ ($q > 0$) as text (`2/tau`, `sigmoid(b)·a`) or LaTeX (`\frac{2}{\tau}`).
pub fn term(q: Rational, b: &Basis, names: &[String], latex: bool) -> String {
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
        num.push(factor(f, names, latex));
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

#[cfg(test)]
mod tests {
    use super::{format_share, latex_name};

    #[test]
    fn shares_are_short_near_zero_and_one() {
        assert_eq!(format_share(0.3), "0.3");
        assert_eq!(format_share(1e-300), "1e-300");
        assert_eq!(format_share(0.99999), "9.9999e-1");
        assert!(format_share(f64::MIN_POSITIVE).len() < 30);
    }

    #[test]
    fn latex_names() {
        assert_eq!(latex_name("beta1[0]"), "\\beta_{1,0}");
        assert_eq!(latex_name("tau"), "\\tau");
        assert_eq!(latex_name("a[1]"), "a_{1}");
        assert_eq!(latex_name("nu"), "\\nu");
        assert_eq!(latex_name("w_out"), "w_{out}");
        assert_eq!(latex_name("gain"), "\\mathrm{gain}");
        assert_eq!(latex_name("beta1[0]₂"), "\\beta^{(2)}_{1,0}");
        assert_eq!(latex_name("s₁₂"), "s^{(12)}");
    }
}
