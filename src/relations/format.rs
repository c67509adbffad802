//! Relation coefficients and linear combinations as text: `a·X + b·Y − Z`, subscripts.

pub(crate) fn subscript(n: usize) -> String {
    n.to_string()
        .chars()
        .map(|c| {
            ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'][c.to_digit(10).unwrap_or(0) as usize]
        })
        .collect()
}

/// `a·X + b·Y − Z` with coefficients of 6 significant digits (1 omitted).
pub(crate) fn linear_combination(
    terms: impl Iterator<Item = (f64, String)>,
    digits: usize,
) -> String {
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

#[cfg(test)]
mod tests {
    use super::format_share;

    #[test]
    fn shares_are_short_near_zero_and_one() {
        assert_eq!(format_share(0.3), "0.3");
        assert_eq!(format_share(1e-300), "1e-300");
        assert_eq!(format_share(0.99999), "9.9999e-1");
        assert!(format_share(f64::MIN_POSITIVE).len() < 30);
    }
}
