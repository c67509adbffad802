//! Expressions → LaTeX for reports (GitHub renders `$...$`): `exp(dot(beta1, x) + beta0)` →
//! `\exp\left(\langle \beta_{1}, x \rangle + \beta_{0}\right)`.
//!
//! GitHub applies markdown backslash escapes inside `$...$` before MathJax sees the text, so
//! `\,` would arrive as `,`: only commands made of letters are emitted (`\thinspace`).

use super::coef::latex_name;
use crate::expr::{BinOp, Expr, ExprKind, Func};

/// Binding strength of a node as printed (atoms bind tightest).
fn precedence(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary(BinOp::Add | BinOp::Sub, ..) => 1,
        ExprKind::Binary(BinOp::Mul, ..) => 2,
        ExprKind::Neg(_) => 3,
        ExprKind::Binary(BinOp::Pow | BinOp::Div, ..) => 4,
        // already ending in a superscript: a power of it needs parentheses
        ExprKind::Call(Func::Pow | Func::Sqnorm, _) => 4,
        // a sum binds like one
        ExprKind::Call(Func::Sum, _) => 1,
        ExprKind::Num(v) if v.abs() >= 1e15 || (*v != 0.0 && v.abs() < 1e-5) => 2,
        // a fraction, a call or a name: one visual unit
        _ => 5,
    }
}

fn paren(e: &Expr, below: u8) -> String {
    if precedence(e) < below {
        format!("\\left({}\\right)", expr(e))
    } else {
        expr(e)
    }
}

/// A number: integers as written, tiny and huge ones as $m \times 10^{e}$.
fn number(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e15 || v.abs() < 1e-5) {
        let s = format!("{v:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        if m == "1" {
            format!("10^{{{e}}}")
        } else {
            format!("{m} \\times 10^{{{e}}}")
        }
    } else {
        format!("{v}")
    }
}

/// The expression in LaTeX, without the surrounding `$`.
pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Num(v) => number(*v),
        ExprKind::Name(n) if n == "pi" => "\\pi".into(),
        ExprKind::Name(n) => latex_name(n),
        ExprKind::Index(inner, i) => match &inner.kind {
            ExprKind::Name(n) if n != "pi" => latex_name(&format!("{n}[{i}]")),
            _ => format!("\\left({}\\right)_{{{i}}}", expr(inner)),
        },
        ExprKind::Neg(inner) => format!("-{}", paren(inner, 4)),
        ExprKind::Binary(op, a, b) => match op {
            BinOp::Add => format!("{} + {}", expr(a), paren(b, 2)),
            BinOp::Sub => format!("{} - {}", expr(a), paren(b, 2)),
            BinOp::Mul => {
                // a number at the start of the right operand needs a visible product sign
                let sep = if starts_with_number(b) {
                    " \\cdot "
                } else {
                    "\\thinspace "
                };
                format!("{}{sep}{}", paren(a, 2), paren(b, 4))
            }
            BinOp::Div => format!("\\frac{{{}}}{{{}}}", expr(a), expr(b)),
            BinOp::Pow => format!("{}^{{{}}}", paren(a, 5), expr(b)),
        },
        ExprKind::Call(f, args) => call(*f, args),
    }
}

/// Whether the operand, as printed, starts with a digit (`0.5^x`, `2 * y`), so that juxtaposition
/// would glue it to the number before.
fn starts_with_number(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Num(_) => true,
        ExprKind::Binary(BinOp::Pow, a, _) => precedence(a) >= 5 && starts_with_number(a),
        ExprKind::Binary(BinOp::Mul, a, _) => precedence(a) >= 2 && starts_with_number(a),
        ExprKind::Call(Func::Pow, args) => args
            .first()
            .is_some_and(|a| precedence(a) >= 5 && starts_with_number(a)),
        _ => false,
    }
}

fn call(f: Func, args: &[Expr]) -> String {
    let a = |i: usize| args.get(i).map(expr).unwrap_or_default();
    let wrapped = |name: &str| format!("{name}\\left({}\\right)", a(0));
    match f {
        Func::Exp => wrapped("\\exp"),
        Func::Log => wrapped("\\log"),
        Func::Sqrt => format!("\\sqrt{{{}}}", a(0)),
        Func::Abs => format!("\\left\\lvert {} \\right\\rvert", a(0)),
        Func::Sigmoid => wrapped("\\sigma"),
        Func::Softplus => wrapped("\\operatorname{softplus}"),
        Func::Tanh => wrapped("\\tanh"),
        Func::Relu => wrapped("\\operatorname{ReLU}"),
        Func::Gelu => wrapped("\\operatorname{GELU}"),
        Func::Erf => wrapped("\\operatorname{erf}"),
        Func::Sin => wrapped("\\sin"),
        Func::Cos => wrapped("\\cos"),
        Func::Pow => format!(
            "{}^{{{}}}",
            args.first().map(|e| paren(e, 5)).unwrap_or_default(),
            a(1)
        ),
        Func::Dot => format!("\\langle {}, {} \\rangle", a(0), a(1)),
        Func::Norm => format!("\\left\\lVert {} \\right\\rVert", a(0)),
        Func::Sqnorm => format!("\\left\\lVert {} \\right\\rVert^{{2}}", a(0)),
        Func::Sum => format!("\\textstyle\\sum_i \\left({}\\right)_i", a(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse;

    fn tex(s: &str) -> String {
        expr(&parse(s).unwrap())
    }

    /// A `^{...}` group followed directly by another `^`.
    fn double_exponent(t: &str) -> bool {
        let b = t.as_bytes();
        (0..b.len().saturating_sub(1)).any(|i| {
            if b[i] != b'^' || b[i + 1] != b'{' {
                return false;
            }
            let mut depth = 0;
            for (j, &c) in b.iter().enumerate().skip(i + 1) {
                match c {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return b.get(j + 1) == Some(&b'^');
                        }
                    }
                    _ => {}
                }
            }
            false
        })
    }

    #[test]
    fn gates_and_experts() {
        assert_eq!(
            tex("exp(dot(beta1, x) + beta0)"),
            "\\exp\\left(\\langle \\beta_{1}, x \\rangle + \\beta_{0}\\right)"
        );
        assert_eq!(
            tex("c * tanh(dot(a, x) + b)"),
            "c\\thinspace \\tanh\\left(\\langle a, x \\rangle + b\\right)"
        );
        assert_eq!(
            tex("sigmoid(-sqnorm(x - beta1) / tau)"),
            "\\sigma\\left(\\frac{-\\left\\lVert x - \\beta_{1} \\right\\rVert^{2}}{\\tau}\\right)"
        );
        assert_eq!(tex("a[0] * x[1]"), "a_{0}\\thinspace x_{1}");
        assert_eq!(tex("(a - b) * 2"), "\\left(a - b\\right) \\cdot 2");
        assert_eq!(tex("a - (b - c)"), "a - \\left(b - c\\right)");
        assert_eq!(tex("(a + b)^2"), "\\left(a + b\\right)^{2}");
        assert_eq!(tex("-x^2"), "-x^{2}");
        assert_eq!(tex("a * -b"), "a\\thinspace \\left(-b\\right)");
        assert_eq!(tex("(a / b)^2"), "\\left(\\frac{a}{b}\\right)^{2}");
        assert_eq!(tex("1e-11 * x[0]^2"), "10^{-11}\\thinspace x_{0}^{2}");
        assert_eq!(tex("2.5e-7 * pi"), "2.5 \\times 10^{-7}\\thinspace \\pi");
        assert_eq!(tex("2 * 0.5^x"), "2 \\cdot 0.5^{x}");
        assert_eq!(tex("2 * 3 * x"), "2 \\cdot 3\\thinspace x");
        assert_eq!(
            tex("sqnorm(x - a)^2"),
            "\\left(\\left\\lVert x - a \\right\\rVert^{2}\\right)^{2}"
        );
        assert_eq!(tex("pow(a, b)^2"), "\\left(a^{b}\\right)^{2}");
        assert_eq!(
            tex("sum(x)^2 + sum(x) * b"),
            "\\left(\\textstyle\\sum_i \\left(x\\right)_i\\right)^{2} + \\left(\\textstyle\\sum_i \\left(x\\right)_i\\right)\\thinspace b"
        );
    }

    #[test]
    fn braces_balance_for_every_function() {
        for f in Func::ALL {
            let args = vec!["(a + b)"; f.arity()].join(", ");
            let t = tex(&format!("-{}({args})^2 / 3", f.name()));
            let open = t.matches('{').count() - t.matches("\\{").count();
            let close = t.matches('}').count() - t.matches("\\}").count();
            assert_eq!(open, close, "{t}");
            assert_eq!(
                t.matches("\\left").count(),
                t.matches("\\right").count(),
                "{t}"
            );
            // no double superscript (MathJax: "Double exponent")
            assert!(!double_exponent(&t), "{t}");
            // nothing GitHub's markdown would unescape: only letter commands
            assert!(
                !t.contains("\\,") && !t.contains("\\{") && !t.contains("\\;"),
                "{t}"
            );
        }
    }
}
