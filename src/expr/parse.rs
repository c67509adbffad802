//! Text → [`Expr`]: a hand-written lexer and recursive-descent parser.
//!
//! Grammar (lowest precedence first; `^` is right-associative and binds tighter than unary
//! minus, so `-x^2` is `-(x^2)` and `2^-1` is allowed):
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '/') unary)*
//! unary   := '-' unary | power
//! power   := postfix ('^' unary)?
//! postfix := primary ('[' INTEGER ']')*
//! primary := NUMBER | NAME | NAME '(' expr (',' expr)* ')' | '(' expr ')'
//! ```
//!
//! Errors carry the byte span of the offending token; nesting is limited to
//! [`MAX_DEPTH`] levels so hostile input cannot overflow the stack.

use super::ast::{BinOp, Expr, ExprKind, Func, Span};
use std::fmt;

/// Deepest nesting of parentheses, calls and unary minus the parser accepts.
pub const MAX_DEPTH: usize = 64;

/// Most tokens an expression may have (bounds the height of the tree, so every recursive
/// walk over it stays well inside a thread's stack).
pub const MAX_TOKENS: usize = 2000;

/// What went wrong while parsing an expression.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A character that cannot start any token.
    UnexpectedChar(char),
    /// A token where something else was needed.
    Unexpected {
        /// What the parser wanted, e.g. "an operand".
        expected: &'static str,
        /// What it found, e.g. "`)`".
        found: String,
    },
    /// A call of a name that is not a built-in function.
    UnknownFunction {
        /// The name called.
        name: String,
        /// The closest built-in name, if any is close.
        suggestion: Option<&'static str>,
    },
    /// A built-in function called with the wrong number of arguments.
    Arity {
        /// The function.
        func: &'static str,
        /// Arguments it takes.
        expected: usize,
        /// Arguments given.
        found: usize,
    },
    /// A number literal that does not parse or is not finite.
    BadNumber(String),
    /// An index that is not a non-negative integer.
    BadIndex(String),
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// More than [`MAX_TOKENS`] tokens.
    TooLong,
    /// The expression is empty.
    Empty,
}

/// A parse error: what, and where in the expression text.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Where, in bytes of the expression text.
    pub span: Span,
}

impl ParseError {
    /// A suggestion for the fix, when one is known.
    pub fn help(&self) -> Option<String> {
        match &self.kind {
            ParseErrorKind::UnknownFunction { suggestion, .. } => Some(match suggestion {
                Some(s) => format!("did you mean `{s}`? functions: {}", function_list()),
                None => format!("functions: {}", function_list()),
            }),
            ParseErrorKind::Arity { func, expected, .. } => Some(format!(
                "`{func}` takes {expected} argument{}",
                if *expected == 1 { "" } else { "s" }
            )),
            ParseErrorKind::TooDeep | ParseErrorKind::TooLong => {
                Some("split the expression or remove redundant parentheses".into())
            }
            ParseErrorKind::Unexpected { expected, .. } if *expected == "`)`" => {
                Some("every `(` needs a matching `)`".into())
            }
            ParseErrorKind::BadIndex(_) => {
                Some("indices are written as integers, e.g. `beta1[0]`".into())
            }
            ParseErrorKind::UnexpectedChar(_) => {
                Some("operators are + - * / ^; names are letters, digits and `_`".into())
            }
            _ => None,
        }
    }
}

/// The built-in function names, comma separated.
pub fn function_list() -> String {
    Func::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::UnexpectedChar(c) => write!(f, "unexpected character `{c}`"),
            ParseErrorKind::Unexpected { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ParseErrorKind::UnknownFunction { name, .. } => write!(f, "unknown function `{name}`"),
            ParseErrorKind::Arity {
                func,
                expected,
                found,
            } => write!(
                f,
                "`{func}` takes {expected} argument{}, found {found}",
                if *expected == 1 { "" } else { "s" }
            ),
            ParseErrorKind::BadNumber(s) => write!(f, "`{s}` is not a finite number"),
            ParseErrorKind::BadIndex(s) => write!(f, "`{s}` is not a valid index"),
            ParseErrorKind::TooDeep => {
                write!(f, "expression nested deeper than {MAX_DEPTH} levels")
            }
            ParseErrorKind::TooLong => write!(f, "expression longer than {MAX_TOKENS} tokens"),
            ParseErrorKind::Empty => write!(f, "empty expression"),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(String),
    Name(String),
    Op(char),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(s) => format!("number `{s}`"),
            Tok::Name(s) => format!("`{s}`"),
            Tok::Op(c) => format!("`{c}`"),
            Tok::End => "end of expression".into(),
        }
    }
}

fn lex(text: &str) -> Result<Vec<(Tok, Span)>, ParseError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if out.len() >= MAX_TOKENS {
            return Err(ParseError {
                kind: ParseErrorKind::TooLong,
                span: Span::new(i, text.len()),
            });
        }
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                let mut j = i + 1;
                if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                    j += 1;
                }
                if j < bytes.len() && bytes[j].is_ascii_digit() {
                    i = j;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            out.push((Tok::Num(text[start..i].to_string()), Span::new(start, i)));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Name(text[start..i].to_string()), Span::new(start, i)));
        } else if b"+-*/^(),[]".contains(&c) {
            out.push((Tok::Op(c as char), Span::new(i, i + 1)));
            i += 1;
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(ParseError {
                kind: ParseErrorKind::UnexpectedChar(ch),
                span: Span::new(i, i + ch.len_utf8()),
            });
        }
    }
    out.push((Tok::End, Span::new(text.len(), text.len())));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    depth: usize,
}

/// Parses one expression.
///
/// # Errors
/// A [`ParseError`] with the span of the first offending token.
///
/// # Example
/// ```
/// let e = moeid::expr::parse("exp(dot(beta1, x) + beta0)").unwrap();
/// assert_eq!(e.to_string(), "exp(dot(beta1, x) + beta0)");
/// ```
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let toks = lex(text)?;
    if toks.len() == 1 {
        return Err(ParseError {
            kind: ParseErrorKind::Empty,
            span: Span::new(0, text.len()),
        });
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    let (tok, span) = p.peek();
    if *tok != Tok::End {
        let found = tok.describe();
        return Err(ParseError {
            kind: ParseErrorKind::Unexpected {
                expected: "an operator or the end of the expression",
                found,
            },
            span,
        });
    }
    Ok(e)
}

impl Parser {
    fn peek(&self) -> (&Tok, Span) {
        let (t, s) = &self.toks[self.pos];
        (t, *s)
    }

    fn bump(&mut self) -> (Tok, Span) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn is_op(&self, c: char) -> bool {
        matches!(self.peek().0, Tok::Op(o) if *o == c)
    }

    fn expect_op(&mut self, c: char, expected: &'static str) -> Result<Span, ParseError> {
        if self.is_op(c) {
            Ok(self.bump().1)
        } else {
            let (tok, span) = self.peek();
            Err(ParseError {
                kind: ParseErrorKind::Unexpected {
                    expected,
                    found: tok.describe(),
                },
                span,
            })
        }
    }

    fn enter(&mut self, span: Span) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError {
                kind: ParseErrorKind::TooDeep,
                span,
            });
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.term()?;
        loop {
            let op = if self.is_op('+') {
                BinOp::Add
            } else if self.is_op('-') {
                BinOp::Sub
            } else {
                return Ok(lhs);
            };
            self.bump();
            let rhs = self.term()?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr::new(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span);
        }
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.unary()?;
        loop {
            let op = if self.is_op('*') {
                BinOp::Mul
            } else if self.is_op('/') {
                BinOp::Div
            } else {
                return Ok(lhs);
            };
            self.bump();
            let rhs = self.unary()?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr::new(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span);
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.is_op('-') {
            let (_, start) = self.bump();
            self.enter(start)?;
            let e = self.unary()?;
            self.depth -= 1;
            let span = start.to(e.span);
            return Ok(Expr::new(ExprKind::Neg(Box::new(e)), span));
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.postfix()?;
        if self.is_op('^') {
            let (_, at) = self.bump();
            self.enter(at)?;
            let exp = self.unary()?;
            self.depth -= 1;
            let span = base.span.to(exp.span);
            return Ok(Expr::new(
                ExprKind::Binary(BinOp::Pow, Box::new(base), Box::new(exp)),
                span,
            ));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.primary()?;
        while self.is_op('[') {
            self.bump();
            let (tok, span) = self.bump();
            let index = match &tok {
                Tok::Num(s) if s.bytes().all(|b| b.is_ascii_digit()) => {
                    s.parse::<usize>().map_err(|_| ParseError {
                        kind: ParseErrorKind::BadIndex(s.clone()),
                        span,
                    })?
                }
                Tok::Num(s) | Tok::Name(s) => {
                    return Err(ParseError {
                        kind: ParseErrorKind::BadIndex(s.clone()),
                        span,
                    })
                }
                other => {
                    return Err(ParseError {
                        kind: ParseErrorKind::Unexpected {
                            expected: "an index",
                            found: other.describe(),
                        },
                        span,
                    })
                }
            };
            let close = self.expect_op(']', "`]`")?;
            let span = e.span.to(close);
            e = Expr::new(ExprKind::Index(Box::new(e), index), span);
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let (tok, span) = self.bump();
        match tok {
            Tok::Num(s) => match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Expr::new(ExprKind::Num(v), span)),
                _ => Err(ParseError {
                    kind: ParseErrorKind::BadNumber(s),
                    span,
                }),
            },
            Tok::Name(name) => {
                if !self.is_op('(') {
                    return Ok(Expr::new(ExprKind::Name(name), span));
                }
                let Some(func) = Func::from_name(&name) else {
                    let suggestion = nearest(&name, Func::ALL.iter().map(|f| f.name()));
                    return Err(ParseError {
                        kind: ParseErrorKind::UnknownFunction { name, suggestion },
                        span,
                    });
                };
                let (_, open) = self.bump();
                self.enter(open)?;
                let mut args = vec![self.expr()?];
                while self.is_op(',') {
                    self.bump();
                    args.push(self.expr()?);
                }
                let close = self.expect_op(')', "`,` or `)`")?;
                self.depth -= 1;
                let full = span.to(close);
                if args.len() != func.arity() {
                    return Err(ParseError {
                        kind: ParseErrorKind::Arity {
                            func: func.name(),
                            expected: func.arity(),
                            found: args.len(),
                        },
                        span: full,
                    });
                }
                Ok(Expr::new(ExprKind::Call(func, args), full))
            }
            Tok::Op('(') => {
                self.enter(span)?;
                let e = self.expr()?;
                self.expect_op(')', "`)`")?;
                self.depth -= 1;
                Ok(e)
            }
            other => Err(ParseError {
                kind: ParseErrorKind::Unexpected {
                    expected: "a number, a name or `(`",
                    found: other.describe(),
                },
                span,
            }),
        }
    }
}

/// The candidate closest to `name` by edit distance, if it is close enough to be a likely typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len().max(name.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn round_trip(text: &str, printed: &str) {
        let e = parse(text).unwrap();
        assert_eq!(e.to_string(), printed);
        assert_eq!(parse(printed).unwrap().to_string(), printed);
    }

    #[test]
    fn precedence_and_printing() {
        round_trip("a+b*c", "a + b * c");
        round_trip("(a+b)*c", "(a + b) * c");
        round_trip("-x^2", "-x^2");
        round_trip("(-x)^2", "(-x)^2");
        round_trip("2^-1", "2^-1");
        round_trip("a^b^c", "a^b^c");
        round_trip("(a^b)^c", "(a^b)^c");
        round_trip("a-(b-c)", "a - (b - c)");
        round_trip("a/(b*c)", "a / (b * c)");
        round_trip(
            "-sqnorm(x - beta1)/tau + beta0",
            "-sqnorm(x - beta1) / tau + beta0",
        );
        round_trip("dot(beta1, tanh(x))", "dot(beta1, tanh(x))");
        round_trip("(a+b)[0]", "(a + b)[0]");
        round_trip("1e-7*x[1]", "1e-7 * x[1]");
    }

    #[test]
    fn minus_binds_looser_than_power() {
        let e = parse("-x^2").unwrap();
        assert!(matches!(e.kind, ExprKind::Neg(_)));
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let err = parse("exp(a * x + )").unwrap_err();
        assert_eq!(err.span, Span::new(12, 13));
        assert_eq!(
            err.to_string(),
            "expected a number, a name or `(`, found `)`"
        );

        let err = parse("expp(x)").unwrap_err();
        assert_eq!(err.span, Span::new(0, 4));
        assert_eq!(
            err.help().unwrap().split('?').next(),
            Some("did you mean `exp`")
        );

        let err = parse("dot(x)").unwrap_err();
        assert!(matches!(
            err.kind,
            ParseErrorKind::Arity {
                expected: 2,
                found: 1,
                ..
            }
        ));

        let err = parse("a $ b").unwrap_err();
        assert_eq!(err.span, Span::new(2, 3));

        let err = parse("(a + b").unwrap_err();
        assert_eq!(err.span, Span::new(6, 6));

        assert_eq!(parse("  ").unwrap_err().kind, ParseErrorKind::Empty);
        assert!(matches!(
            parse("v[1.5]").unwrap_err().kind,
            ParseErrorKind::BadIndex(_)
        ));
        assert!(matches!(
            parse("1e999").unwrap_err().kind,
            ParseErrorKind::BadNumber(_)
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "(".repeat(900) + "x" + &")".repeat(900);
        assert_eq!(parse(&deep).unwrap_err().kind, ParseErrorKind::TooDeep);
        let minus = "-".repeat(1000) + "x";
        assert_eq!(parse(&minus).unwrap_err().kind, ParseErrorKind::TooDeep);
        let long = vec!["x"; 5000].join("+");
        assert_eq!(parse(&long).unwrap_err().kind, ParseErrorKind::TooLong);
        let ok = "(".repeat(MAX_DEPTH) + "x" + &")".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn nearest_name() {
        assert_eq!(nearest("betta1", ["beta1", "beta0", "a"]), Some("beta1"));
        assert_eq!(nearest("zzz", ["beta1", "beta0"]), None);
    }
}
