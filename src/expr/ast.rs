//! The abstract syntax tree of the expression language.
//!
//! Every node carries the byte [`Span`] of the text it was parsed from, so later stages (shape
//! checking, compilation) can point at the offending sub-expression. `Display` prints an
//! expression back as text that parses to the same tree (minimal parentheses).

use std::fmt;

/// A half-open byte range `start..end` in the text an expression was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte of the range.
    pub start: usize,
    /// One past the last byte of the range.
    pub end: usize,
}

impl Span {
    /// The range `start..end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// Number of bytes covered (at least 1, so an error at the end of the text still shows a caret).
    pub fn len(self) -> usize {
        (self.end - self.start).max(1)
    }

    /// Whether the span covers no byte.
    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `a ^ b`
    Pow,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
        }
    }

    /// Binding strength: larger binds tighter.
    fn precedence(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => 1,
            BinOp::Mul | BinOp::Div => 2,
            BinOp::Pow => 4,
        }
    }
}

/// The built-in functions. Scalar functions apply elementwise to vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    /// $e^z$
    Exp,
    /// natural logarithm
    Log,
    /// $\sqrt z$
    Sqrt,
    /// $|z|$ (kink at 0)
    Abs,
    /// $\sigma(z) = 1/(1+e^{-z})$
    Sigmoid,
    /// $\log(1+e^z)$
    Softplus,
    /// $\tanh z$
    Tanh,
    /// $\max(z, 0)$ (kink at 0)
    Relu,
    /// $z\,\Phi(z) = \tfrac z2 (1 + \operatorname{erf}(z/\sqrt2))$, the exact GELU
    Gelu,
    /// the error function
    Erf,
    /// $\sin z$
    Sin,
    /// $\cos z$
    Cos,
    /// `pow(a, b)` = `a ^ b`
    Pow,
    /// `dot(v, w)` = $\sum_i v_i w_i$
    Dot,
    /// `norm(v)` = $\|v\|_2$ (kink at 0 when `v` has one entry)
    Norm,
    /// `sqnorm(v)` = $\|v\|_2^2$
    Sqnorm,
    /// `sum(v)` = $\sum_i v_i$
    Sum,
}

impl Func {
    /// Every function, in the order the documentation lists them.
    pub const ALL: [Func; 17] = [
        Func::Exp,
        Func::Log,
        Func::Sqrt,
        Func::Abs,
        Func::Sigmoid,
        Func::Softplus,
        Func::Tanh,
        Func::Relu,
        Func::Gelu,
        Func::Erf,
        Func::Sin,
        Func::Cos,
        Func::Pow,
        Func::Dot,
        Func::Norm,
        Func::Sqnorm,
        Func::Sum,
    ];

    /// The name used in expressions.
    pub fn name(self) -> &'static str {
        match self {
            Func::Exp => "exp",
            Func::Log => "log",
            Func::Sqrt => "sqrt",
            Func::Abs => "abs",
            Func::Sigmoid => "sigmoid",
            Func::Softplus => "softplus",
            Func::Tanh => "tanh",
            Func::Relu => "relu",
            Func::Gelu => "gelu",
            Func::Erf => "erf",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Pow => "pow",
            Func::Dot => "dot",
            Func::Norm => "norm",
            Func::Sqnorm => "sqnorm",
            Func::Sum => "sum",
        }
    }

    /// The function with this name, if any.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Number of arguments.
    pub fn arity(self) -> usize {
        match self {
            Func::Pow | Func::Dot => 2,
            _ => 1,
        }
    }
}

/// An expression node with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it was parsed from.
    pub span: Span,
}

/// The kinds of expression nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A number literal.
    Num(f64),
    /// A name: a parameter, the input `x`, or the constant `pi`.
    Name(String),
    /// `v[i]`: one entry of a vector.
    Index(Box<Expr>, usize),
    /// `-a`
    Neg(Box<Expr>),
    /// `a op b`
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `f(a, ...)`
    Call(Func, Vec<Expr>),
}

impl Expr {
    /// A node of this kind at this span.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// Binding strength of the node's outermost operator (atoms bind tightest).
    fn precedence(&self) -> u8 {
        match &self.kind {
            ExprKind::Binary(op, ..) => op.precedence(),
            ExprKind::Neg(_) => 3,
            ExprKind::Num(v) if *v < 0.0 || v.is_sign_negative() => 3,
            _ => 5,
        }
    }

    /// Visit every node, parents before children.
    pub fn walk(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Num(_) | ExprKind::Name(_) => {}
            ExprKind::Index(e, _) | ExprKind::Neg(e) => e.walk(f),
            ExprKind::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            ExprKind::Call(_, args) => args.iter().for_each(|a| a.walk(f)),
        }
    }
}

/// Formats a number so that it parses back to the same value.
pub(crate) fn fmt_number(v: f64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if v.is_finite() && v != 0.0 && (v.abs() >= 1e15 || v.abs() < 1e-5) {
        write!(f, "{v:e}")
    } else {
        write!(f, "{v}")
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Num(v) => fmt_number(*v, f),
            ExprKind::Name(n) => f.write_str(n),
            ExprKind::Index(e, i) => {
                if e.precedence() < 5 {
                    write!(f, "({e})[{i}]")
                } else {
                    write!(f, "{e}[{i}]")
                }
            }
            ExprKind::Neg(e) => {
                // `-a^b` parses as `-(a^b)` and `--a` as `-(-a)`, so a power or a negation
                // needs no parentheses (which would also deepen the nesting past the limit).
                if e.precedence() < 3 {
                    write!(f, "-({e})")
                } else {
                    write!(f, "-{e}")
                }
            }
            ExprKind::Binary(op, a, b) => {
                let p = op.precedence();
                // Left-associative + - * /, right-associative ^.
                let (left_paren, right_paren) = match op {
                    BinOp::Pow => (a.precedence() <= p, b.precedence() < 3),
                    _ => (a.precedence() < p, b.precedence() <= p),
                };
                if left_paren {
                    write!(f, "({a})")?;
                } else {
                    write!(f, "{a}")?;
                }
                match op {
                    BinOp::Pow => f.write_str("^")?,
                    _ => write!(f, " {} ", op.symbol())?,
                }
                if right_paren {
                    write!(f, "({b})")
                } else {
                    write!(f, "{b}")
                }
            }
            ExprKind::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}
