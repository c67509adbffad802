//! Shape checking and lowering: [`Expr`] → [`Tape`], a flat list of scalar operations.
//!
//! Vectors exist only at compile time: `dot(beta1, x)` becomes the scalar products and sums of
//! its entries, so evaluation is a loop over [`Op`]s generic over [`Number`](super::Number) with no recursion
//! and no allocation beyond one slot buffer. Each slot records the set of parameters it depends
//! on, which is what the derivative family needs to tell a genuine zero from a kink (the second
//! derivative of `relu`/`abs` is a Dirac mass that sampling cannot see).

use super::ast::{BinOp, Expr, ExprKind, Func, Span};
use super::parse::nearest;
use super::tape::{operands, Kink, Op, ParamSet, Slot, Tape, Unary};
use std::fmt;
use std::sync::Arc;

/// The shape of a value: a scalar or a vector of `n` entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One number.
    Scalar,
    /// `n` numbers.
    Vector(usize),
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Scalar => f.write_str("a scalar"),
            Shape::Vector(n) => write!(f, "a vector of {n}"),
        }
    }
}

/// What a name stands for during compilation.
#[derive(Clone, Debug, PartialEq)]
pub enum Binding {
    /// Entries `offset..offset+len` of the input slice (`x` is one of these).
    Input {
        /// First input index.
        offset: usize,
        /// Shape of the value.
        shape: Shape,
    },
    /// Entries `offset..` of the parameter vector $\theta$.
    Param {
        /// First parameter index.
        offset: usize,
        /// Shape of the value.
        shape: Shape,
    },
}

/// Names visible to an expression, in declaration order (used to list them in errors).
#[derive(Clone, Debug, Default)]
pub struct Env {
    names: Vec<(String, Binding)>,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Env {
        Env::default()
    }

    /// Declares `name`.
    pub fn bind(&mut self, name: impl Into<String>, binding: Binding) {
        self.names.push((name.into(), binding));
    }

    fn get(&self, name: &str) -> Option<&Binding> {
        self.names.iter().find(|(n, _)| n == name).map(|(_, b)| b)
    }

    /// The declared names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|(n, _)| n.as_str())
    }
}

/// Why an expression does not compile.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CompileErrorKind {
    /// A name that is neither declared nor built in.
    UnknownName {
        /// The name.
        name: String,
        /// The closest declared name, when one is close.
        suggestion: Option<String>,
        /// Every declared name.
        declared: Vec<String>,
    },
    /// An operation whose operand shapes do not fit.
    Shape {
        /// What was attempted, e.g. "`a * b` multiplies two vectors".
        message: String,
        /// How to fix it.
        help: String,
    },
    /// `v[i]` with `i` past the end of `v`.
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// The vector's length.
        len: usize,
    },
}

/// A compile error: what, and where in the expression text.
#[derive(Clone, Debug, PartialEq)]
pub struct CompileError {
    /// What went wrong.
    pub kind: CompileErrorKind,
    /// The offending sub-expression.
    pub span: Span,
}

impl CompileError {
    /// A suggestion for the fix.
    pub fn help(&self) -> Option<String> {
        match &self.kind {
            CompileErrorKind::UnknownName {
                suggestion,
                declared,
                ..
            } => {
                let list = declared.join(", ");
                Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`? declared: {list}, pi"),
                    None => format!("declared: {list}, pi; declare parameters under [params]"),
                })
            }
            CompileErrorKind::Shape { help, .. } => Some(help.clone()),
            CompileErrorKind::IndexOutOfRange { len, .. } => {
                Some(format!("indices run from 0 to {}", len.saturating_sub(1)))
            }
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CompileErrorKind::UnknownName { name, .. } => write!(f, "unknown name `{name}`"),
            CompileErrorKind::Shape { message, .. } => f.write_str(message),
            CompileErrorKind::IndexOutOfRange { index, len } => {
                write!(f, "index {index} is out of range for a vector of {len}")
            }
        }
    }
}

impl std::error::Error for CompileError {}

/// A compiled value: one slot, or one slot per vector entry.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar.
    Scalar(Slot),
    /// A vector.
    Vector(Vec<Slot>),
}

impl Value {
    fn shape(&self) -> Shape {
        match self {
            Value::Scalar(_) => Shape::Scalar,
            Value::Vector(v) => Shape::Vector(v.len()),
        }
    }

    /// The entries (a scalar has one).
    fn entries(&self) -> Vec<Slot> {
        match self {
            Value::Scalar(s) => vec![*s],
            Value::Vector(v) => v.clone(),
        }
    }

    /// The scalar slot, if the value is a scalar or a vector of one entry.
    pub fn scalar(&self) -> Option<Slot> {
        match self {
            Value::Scalar(s) => Some(*s),
            Value::Vector(v) if v.len() == 1 => Some(v[0]),
            Value::Vector(_) => None,
        }
    }
}

/// At most this many characters of a sub-expression are kept to name it in messages.
const ORIGIN_CHARS: usize = 80;

/// The sub-expression as written, cut after [`ORIGIN_CHARS`] characters with `…`: rendering
/// stops there, so naming every node of a long expression costs linear time and memory.
fn short_text(expr: &Expr) -> String {
    struct Limited(String, usize);
    impl fmt::Write for Limited {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for c in s.chars() {
                if self.1 == 0 {
                    return Err(fmt::Error);
                }
                self.0.push(c);
                self.1 -= 1;
            }
            Ok(())
        }
    }
    let mut w = Limited(String::new(), ORIGIN_CHARS);
    if fmt::write(&mut w, format_args!("{expr}")).is_err() {
        w.0.push('…');
    }
    w.0
}

/// Builds a [`Tape`] from expressions and explicit operations.
#[derive(Clone, Debug, Default)]
pub struct TapeBuilder {
    ops: Vec<Op>,
    deps: Vec<ParamSet>,
    kinks: Vec<Kink>,
    origins: Vec<Option<Arc<str>>>,
    /// Per slot, its value when it depends on constants only (folded or not).
    known: Vec<Option<f64>>,
}

fn shape_error(span: Span, message: String, help: impl Into<String>) -> CompileError {
    CompileError {
        kind: CompileErrorKind::Shape {
            message,
            help: help.into(),
        },
        span,
    }
}

impl TapeBuilder {
    /// An empty builder.
    pub fn new() -> TapeBuilder {
        TapeBuilder::default()
    }

    /// Number of operations so far (a mark for [`TapeBuilder::describe_since`]).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no operation was added yet.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Names the operations added since `mark` that no sub-expression names (e.g. `the
    /// Gaussian density of y`), for error messages.
    pub fn describe_since(&mut self, mark: usize, text: &str) {
        let text: Arc<str> = text.into();
        for o in self.origins[mark..].iter_mut().filter(|o| o.is_none()) {
            *o = Some(text.clone());
        }
    }

    /// Appends an operation and returns its slot. An operation on constants is folded into
    /// one constant only when the f64 result is exact: otherwise (`sqrt(2 * pi * 0.5)`, `1 /
    /// 3`, `exp(1)`) it stays an operation, so that high-precision evaluation computes it in
    /// its own precision — folded in f64, a fixed Gaussian density's normalizer differed from
    /// the same density with a variance parameter by 1e-17 at 256 bits, and certification lost
    /// an exact relation. Its value is still known to the builder (exponents, shapes).
    pub fn push(&mut self, op: Op) -> Slot {
        let value = self.fold(&op);
        let slot = match value {
            Some(c) if self.exact(&op, c) => self.push_raw(Op::Const(c)),
            _ => self.push_raw(op),
        };
        if value.is_some() {
            self.known[slot as usize] = value;
        }
        slot
    }

    /// Whether folding `op` into the f64 `value` loses nothing (error-free transformations).
    fn exact(&self, op: &Op, value: f64) -> bool {
        // operands that are themselves kept operations stay so (their value is rounded)
        if !operands(op)
            .iter()
            .all(|s| matches!(self.ops[*s as usize], Op::Const(_)))
        {
            return false;
        }
        let c = |s: &Slot| self.constant(*s).unwrap_or(f64::NAN);
        let two_sum_exact = |x: f64, y: f64| {
            let bb = value - x;
            (x - (value - bb)) + (y - bb) == 0.0
        };
        match op {
            Op::Neg(_) => true,
            Op::Add(a, b) => two_sum_exact(c(a), c(b)),
            Op::Sub(a, b) => two_sum_exact(c(a), -c(b)),
            // an fma remainder is exact only for a normal result (a product that underflows
            // leaves a remainder below the subnormals, rounded to 0); 0 from a zero operand
            Op::Mul(a, b) if value == 0.0 => c(a) == 0.0 || c(b) == 0.0,
            Op::Mul(a, b) => value.abs() >= f64::MIN_POSITIVE && c(a).mul_add(c(b), -value) == 0.0,
            Op::Div(a, _) if value == 0.0 => c(a) == 0.0,
            Op::Div(a, b) => value.abs() >= f64::MIN_POSITIVE && value.mul_add(c(b), -c(a)) == 0.0,
            Op::PowI(a, n) => match n {
                0 | 1 => true,
                2 if value == 0.0 => c(a) == 0.0,
                2 => value >= f64::MIN_POSITIVE && c(a).mul_add(c(a), -value) == 0.0,
                _ => false,
            },
            _ => false,
        }
    }

    fn push_raw(&mut self, op: Op) -> Slot {
        let d = |s: &Slot| self.deps[*s as usize];
        let deps = match &op {
            Op::Const(_) | Op::Input(_) => ParamSet::default(),
            Op::Param(p) => ParamSet::single(*p),
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) | Op::Pow(a, b) => {
                d(a).union(d(b))
            }
            Op::Neg(a) | Op::PowI(a, _) | Op::PowF(a, _) | Op::Unary(_, a) => d(a),
        };
        self.known.push(match op {
            Op::Const(c) => Some(c),
            _ => None,
        });
        self.ops.push(op);
        self.deps.push(deps);
        self.origins.push(None);
        (self.ops.len() - 1) as Slot
    }

    fn constant(&self, s: Slot) -> Option<f64> {
        self.known[s as usize]
    }

    fn fold(&self, op: &Op) -> Option<f64> {
        let c = |s: &Slot| self.constant(*s);
        let v = match op {
            Op::Add(a, b) => c(a)? + c(b)?,
            Op::Sub(a, b) => c(a)? - c(b)?,
            Op::Mul(a, b) => c(a)? * c(b)?,
            Op::Div(a, b) => c(a)? / c(b)?,
            Op::Neg(a) => -c(a)?,
            Op::PowI(a, n) => c(a)?.powi(*n),
            Op::PowF(a, p) => c(a)?.powf(*p),
            Op::Pow(a, b) => c(a)?.powf(c(b)?),
            Op::Unary(f, a) => f.apply(&c(a)?),
            Op::Const(_) | Op::Input(_) | Op::Param(_) => return None,
        };
        v.is_finite().then_some(v)
    }

    /// Records a kink at `arg` (a `relu` or `abs` argument) when it depends on parameters.
    fn note_kink(&mut self, arg: Slot, text: impl FnOnce() -> String) {
        let params = self.deps[arg as usize];
        if !params.is_empty() {
            self.kinks.push(Kink {
                params,
                text: text(),
            });
        }
    }

    /// Finishes the tape with `output` as its result, dropping operations it does not use.
    pub fn finish(self, output: Slot) -> Tape {
        let n = output as usize + 1;
        let mut live = vec![false; n];
        live[n - 1] = true;
        for i in (0..n).rev() {
            if live[i] {
                for s in operands(&self.ops[i]) {
                    live[s as usize] = true;
                }
            }
        }
        let mut new_index = vec![0 as Slot; n];
        let mut ops = Vec::new();
        let mut deps = Vec::new();
        let mut origins = Vec::new();
        for i in (0..n).filter(|&i| live[i]) {
            new_index[i] = ops.len() as Slot;
            let m = |s: &Slot| new_index[*s as usize];
            ops.push(match &self.ops[i] {
                Op::Add(a, b) => Op::Add(m(a), m(b)),
                Op::Sub(a, b) => Op::Sub(m(a), m(b)),
                Op::Mul(a, b) => Op::Mul(m(a), m(b)),
                Op::Div(a, b) => Op::Div(m(a), m(b)),
                Op::Pow(a, b) => Op::Pow(m(a), m(b)),
                Op::Neg(a) => Op::Neg(m(a)),
                Op::PowI(a, k) => Op::PowI(m(a), *k),
                Op::PowF(a, c) => Op::PowF(m(a), *c),
                Op::Unary(f, a) => Op::Unary(*f, m(a)),
                op @ (Op::Const(_) | Op::Input(_) | Op::Param(_)) => op.clone(),
            });
            deps.push(self.deps[i]);
            origins.push(self.origins[i].clone());
        }
        Tape {
            output: (ops.len() - 1) as Slot,
            ops,
            deps,
            kinks: self.kinks,
            origins,
        }
    }

    /// Compiles `expr` in `env`, checking shapes.
    ///
    /// # Errors
    /// Unknown names, shape mismatches and out-of-range indices, each with the span of the
    /// offending sub-expression.
    pub fn compile(&mut self, expr: &Expr, env: &Env) -> Result<Value, CompileError> {
        let start = self.ops.len();
        let value = self.compile_node(expr, env)?;
        // the operations this node made itself (its operands' are already named)
        if self.origins[start..].iter().any(Option::is_none) {
            let text: Arc<str> = short_text(expr).into();
            for o in self.origins[start..].iter_mut().filter(|o| o.is_none()) {
                *o = Some(text.clone());
            }
        }
        Ok(value)
    }

    fn compile_node(&mut self, expr: &Expr, env: &Env) -> Result<Value, CompileError> {
        match &expr.kind {
            ExprKind::Num(v) => Ok(Value::Scalar(self.push(Op::Const(*v)))),
            ExprKind::Name(name) => self.name(name, expr.span, env),
            ExprKind::Index(inner, i) => {
                let v = self.compile(inner, env)?;
                match v {
                    Value::Vector(entries) => {
                        entries
                            .get(*i)
                            .map(|s| Value::Scalar(*s))
                            .ok_or(CompileError {
                                kind: CompileErrorKind::IndexOutOfRange {
                                    index: *i,
                                    len: entries.len(),
                                },
                                span: expr.span,
                            })
                    }
                    Value::Scalar(_) => Err(shape_error(
                        expr.span,
                        format!("`{inner}` is a scalar and cannot be indexed"),
                        "declare the parameter with `shape = [n]` to index it",
                    )),
                }
            }
            ExprKind::Neg(inner) => {
                let v = self.compile(inner, env)?;
                Ok(self.map(&v, |b, s| b.push(Op::Neg(s))))
            }
            ExprKind::Binary(op, a, b) => {
                let va = self.compile(a, env)?;
                let vb = self.compile(b, env)?;
                if *op == BinOp::Pow {
                    return self.power(&va, vb, b);
                }
                self.binary(*op, expr, va, vb)
            }
            ExprKind::Call(func, args) => self.call(*func, expr, args, env),
        }
    }

    fn name(&mut self, name: &str, span: Span, env: &Env) -> Result<Value, CompileError> {
        let shaped = |b: &mut TapeBuilder, offset: usize, shape: Shape, input: bool| {
            let at = |b: &mut TapeBuilder, i| {
                b.push(if input {
                    Op::Input(offset + i)
                } else {
                    Op::Param(offset + i)
                })
            };
            match shape {
                Shape::Scalar => Value::Scalar(at(b, 0)),
                Shape::Vector(n) => Value::Vector((0..n).map(|i| at(b, i)).collect()),
            }
        };
        match env.get(name) {
            Some(Binding::Input { offset, shape }) => Ok(shaped(self, *offset, *shape, true)),
            Some(Binding::Param { offset, shape }) => Ok(shaped(self, *offset, *shape, false)),
            None if name == "pi" => Ok(Value::Scalar(self.push(Op::Const(std::f64::consts::PI)))),
            None => {
                let declared: Vec<String> = env.names().map(String::from).collect();
                let suggestion = nearest(name, env.names().chain(["pi"])).map(String::from);
                Err(CompileError {
                    kind: CompileErrorKind::UnknownName {
                        name: name.to_string(),
                        suggestion,
                        declared,
                    },
                    span,
                })
            }
        }
    }

    fn map(&mut self, v: &Value, mut f: impl FnMut(&mut TapeBuilder, Slot) -> Slot) -> Value {
        match v {
            Value::Scalar(s) => Value::Scalar(f(self, *s)),
            Value::Vector(e) => Value::Vector(e.iter().map(|s| f(self, *s)).collect()),
        }
    }

    fn binary(
        &mut self,
        op: BinOp,
        expr: &Expr,
        a: Value,
        b: Value,
    ) -> Result<Value, CompileError> {
        let make = |x: Slot, y: Slot| match op {
            BinOp::Add => Op::Add(x, y),
            BinOp::Sub => Op::Sub(x, y),
            BinOp::Mul => Op::Mul(x, y),
            BinOp::Div => Op::Div(x, y),
            BinOp::Pow => Op::Pow(x, y),
        };
        match (&a, &b) {
            (Value::Scalar(x), Value::Scalar(y)) => Ok(Value::Scalar(self.push(make(*x, *y)))),
            (Value::Vector(x), Value::Vector(y)) if x.len() == y.len() => {
                if matches!(op, BinOp::Add | BinOp::Sub) || x.len() == 1 {
                    Ok(Value::Vector(
                        x.iter()
                            .zip(y)
                            .map(|(x, y)| self.push(make(*x, *y)))
                            .collect(),
                    ))
                } else {
                    Err(shape_error(
                        expr.span,
                        format!(
                            "`{expr}` {} two vectors",
                            if op == BinOp::Mul {
                                "multiplies"
                            } else {
                                "divides"
                            }
                        ),
                        "use dot(v, w) for the inner product, or index the entries",
                    ))
                }
            }
            (Value::Vector(x), Value::Scalar(y))
                if x.len() == 1 || matches!(op, BinOp::Mul | BinOp::Div) =>
            {
                Ok(Value::Vector(
                    x.iter().map(|x| self.push(make(*x, *y))).collect(),
                ))
            }
            (Value::Scalar(x), Value::Vector(y)) if y.len() == 1 || op == BinOp::Mul => Ok(
                Value::Vector(y.iter().map(|y| self.push(make(*x, *y))).collect()),
            ),
            _ => Err(shape_error(
                expr.span,
                format!("`{expr}` combines {} and {}", a.shape(), b.shape()),
                match op {
                    BinOp::Add | BinOp::Sub => "both sides of + and - must have the same shape",
                    BinOp::Div => "a vector can be divided by a scalar only",
                    _ => "vectors can be scaled by scalars; use dot(v, w) for inner products",
                },
            )),
        }
    }

    fn power(&mut self, base: &Value, e: Value, exp: &Expr) -> Result<Value, CompileError> {
        let Some(es) = e.scalar() else {
            return Err(shape_error(
                exp.span,
                format!("the exponent `{exp}` is {}", e.shape()),
                "exponents must be scalars",
            ));
        };
        let op = |b: &mut TapeBuilder, s: Slot| match b.constant(es) {
            Some(c) if c == c.trunc() && c.abs() <= 64.0 => b.push(Op::PowI(s, c as i32)),
            Some(c) => b.push(Op::PowF(s, c)),
            None => b.push(Op::Pow(s, es)),
        };
        Ok(self.map(base, op))
    }

    fn call(
        &mut self,
        func: Func,
        expr: &Expr,
        args: &[Expr],
        env: &Env,
    ) -> Result<Value, CompileError> {
        let vals = args
            .iter()
            .map(|a| self.compile(a, env))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(u) = Unary::of(func) {
            let v = &vals[0];
            if u.has_kink() {
                for s in v.entries() {
                    self.note_kink(s, || expr.to_string());
                }
            }
            return Ok(self.map(v, |b, s| b.push(Op::Unary(u, s))));
        }
        match func {
            Func::Pow => self.power(&vals[0], vals[1].clone(), &args[1]),
            Func::Dot => {
                let (x, y) = (vals[0].entries(), vals[1].entries());
                if x.len() != y.len() {
                    return Err(shape_error(
                        expr.span,
                        format!(
                            "`{expr}` takes the inner product of {} and {}",
                            vals[0].shape(),
                            vals[1].shape()
                        ),
                        "both arguments of dot must have the same length",
                    ));
                }
                let mut acc = self.push(Op::Mul(x[0], y[0]));
                for (a, b) in x.iter().zip(&y).skip(1) {
                    let p = self.push(Op::Mul(*a, *b));
                    acc = self.push(Op::Add(acc, p));
                }
                Ok(Value::Scalar(acc))
            }
            Func::Sum | Func::Sqnorm | Func::Norm => {
                let entries = vals[0].entries();
                let term = |b: &mut TapeBuilder, s: Slot| {
                    if func == Func::Sum {
                        s
                    } else {
                        b.push(Op::PowI(s, 2))
                    }
                };
                if func == Func::Norm && entries.len() == 1 {
                    // ‖z‖ = |z| in one dimension: a kink, recorded as such.
                    self.note_kink(entries[0], || expr.to_string());
                    return Ok(Value::Scalar(self.push(Op::Unary(Unary::Abs, entries[0]))));
                }
                let mut acc = term(self, entries[0]);
                for s in &entries[1..] {
                    let t = term(self, *s);
                    acc = self.push(Op::Add(acc, t));
                }
                if func == Func::Norm {
                    acc = self.push(Op::Unary(Unary::Sqrt, acc));
                }
                Ok(Value::Scalar(acc))
            }
            _ => unreachable!("unary functions are handled above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse;

    fn env() -> Env {
        let mut env = Env::new();
        env.bind(
            "x",
            Binding::Input {
                offset: 0,
                shape: Shape::Vector(2),
            },
        );
        env.bind(
            "beta1",
            Binding::Param {
                offset: 0,
                shape: Shape::Vector(2),
            },
        );
        env.bind(
            "beta0",
            Binding::Param {
                offset: 2,
                shape: Shape::Scalar,
            },
        );
        env.bind(
            "tau",
            Binding::Param {
                offset: 3,
                shape: Shape::Scalar,
            },
        );
        env
    }

    fn compile(text: &str) -> Result<Tape, CompileError> {
        let mut b = TapeBuilder::new();
        let v = b.compile(&parse(text).unwrap(), &env())?;
        let s = v.scalar().expect("scalar");
        Ok(b.finish(s))
    }

    #[test]
    fn evaluates_vector_expressions() {
        let theta = [0.5, -1.0, 0.25, 2.0];
        let x = [0.3, 0.7];
        let mut slots = Vec::new();
        let t = compile("-sqnorm(x - beta1)/tau + beta0").unwrap();
        let want = -((0.3f64 - 0.5).powi(2) + (0.7f64 + 1.0).powi(2)) / 2.0 + 0.25;
        assert!((t.eval(&x, &theta, &mut slots) - want).abs() < 1e-15);
        let t = compile("dot(beta1, tanh(x)) + norm(x) * pi").unwrap();
        let want = 0.5 * 0.3f64.tanh() - 0.7f64.tanh()
            + (0.3f64.powi(2) + 0.7f64.powi(2)).sqrt() * std::f64::consts::PI;
        assert!((t.eval(&x, &theta, &mut slots) - want).abs() < 1e-15);
        let t = compile("(x[0] - beta1[1])^2 * 2^-1").unwrap();
        assert!((t.eval(&x, &theta, &mut slots) - 0.5 * 1.3f64.powi(2)).abs() < 1e-15);
    }

    #[test]
    fn integer_powers_accept_negative_bases() {
        let t = compile("(beta0 - 1)^2").unwrap();
        assert!((t.eval(&[0.0, 0.0], &[0.0, 0.0, -1.0, 1.0], &mut Vec::new()) - 4.0).abs() < 1e-15);
    }

    #[test]
    fn dependencies_and_kinks() {
        let t = compile("relu(beta1[0] * x[0] + beta0) + abs(x[1])").unwrap();
        assert_eq!(t.kinks().len(), 1, "abs(x[1]) has no parameter inside");
        let k = &t.kinks()[0];
        assert!(k.params.contains(0) && k.params.contains(2) && !k.params.contains(1));
        assert_eq!(k.text, "relu(beta1[0] * x[0] + beta0)");
        assert!(t.params().contains(0) && !t.params().contains(3));
    }

    #[test]
    fn shape_errors_name_the_subexpression() {
        let err = compile("beta1 * x").unwrap_err();
        assert_eq!(err.to_string(), "`beta1 * x` multiplies two vectors");
        assert_eq!(err.span, Span::new(0, 9));
        let err = compile("beta1 + tau").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`beta1 + tau` combines a vector of 2 and a scalar"
        );
        let err = compile("x[2]").unwrap_err();
        assert!(matches!(
            err.kind,
            CompileErrorKind::IndexOutOfRange { index: 2, len: 2 }
        ));
        let err = compile("beta0[0]").unwrap_err();
        assert!(err.to_string().contains("scalar"));
        let err = compile("betta1[0]").unwrap_err();
        assert_eq!(err.to_string(), "unknown name `betta1`");
        assert!(err.help().unwrap().starts_with("did you mean `beta1`?"));
        let err = compile("x ^ beta1").unwrap_err();
        assert!(err.to_string().contains("exponent"));
    }

    #[test]
    fn reverse_mode_matches_forward_mode() {
        use num_dual::Dual64;
        let exprs = [
            "-sqnorm(x - beta1)/tau + beta0",
            "sigmoid(dot(beta1, tanh(x)) / tau) * gelu(beta0 * x[0]) + softplus(beta1[1] - x[1])",
            "exp(dot(beta1, x) / (norm(beta1) * norm(x))) + erf(beta0)^3 + log(tau) * sqrt(tau)",
            "relu(beta1[0] * x[0] + beta0) + abs(beta1[1] - 0.2) + sin(tau) * cos(beta0) + tau^beta0",
        ];
        let theta = [0.4, -0.7, 0.3, 1.3];
        let x = [0.25, -0.6];
        for text in exprs {
            let t = compile(text).unwrap();
            let (mut v, mut adj, mut g) = (Vec::new(), Vec::new(), vec![0.0; 4]);
            let val = t.gradient(&x, &theta, &mut v, &mut adj, &mut g);
            for (p, &gp) in g.iter().enumerate() {
                let th: Vec<Dual64> = theta
                    .iter()
                    .enumerate()
                    .map(|(q, &v)| {
                        if q == p {
                            Dual64::new(v, 1.0)
                        } else {
                            Dual64::from(v)
                        }
                    })
                    .collect();
                let xs: Vec<Dual64> = x.iter().map(|&v| Dual64::from(v)).collect();
                let d = t.eval(&xs, &th, &mut Vec::new());
                assert!((d.re - val).abs() < 1e-14 * val.abs().max(1.0));
                assert!(
                    (d.eps - gp).abs() < 1e-12 * d.eps.abs().max(1.0),
                    "{text}: ∂/∂θ{p} {} vs {}",
                    gp,
                    d.eps
                );
            }
        }
    }

    /// A non-finite value is traced to the innermost sub-expression, as written, that made it.
    #[test]
    fn the_first_non_finite_operation_names_its_subexpression() {
        let t = compile("exp(beta0) * (1 + sqrt(tau - 1)) + log(beta1[0])").unwrap();
        let x = [0.5, 0.5];
        // tau = 0: sqrt(−1) is the first NaN (log(beta1[0]) at 2 is fine)
        let got = t.first_non_finite(&x, &[2.0, 0.0, 0.0, 0.0]);
        assert_eq!(got.as_deref(), Some("`sqrt(tau - 1)`"));
        // every value finite: nothing named
        assert_eq!(t.first_non_finite(&x, &[2.0, 0.0, 0.0, 5.0]), None);
        // beta0 = 800: the exp overflows first
        let got = t.first_non_finite(&x, &[2.0, 0.0, 800.0, 5.0]);
        assert_eq!(got.as_deref(), Some("`exp(beta0)`"));
        // a derivative part: sqrt at 0 has an infinite derivative in tau only
        use num_dual::Dual64;
        let theta = [2.0, 0.0, 0.0, 1.0].map(Dual64::from);
        let mut theta_tau = theta;
        theta_tau[3].eps = 1.0;
        let xs = x.map(Dual64::from);
        assert_eq!(t.first_non_finite(&xs, &theta), None);
        let got = t.first_non_finite(&xs, &theta_tau);
        assert_eq!(got.as_deref(), Some("`sqrt(tau - 1)`"));
    }

    #[test]
    fn constants_fold() {
        let t = compile("2 * pi * tau").unwrap();
        assert_eq!(t.len(), 3);
    }

    /// Only exact folds: an inexact constant expression is kept, so high precision computes it
    /// in its own precision (a Gaussian normalizer folded in f64 broke an exact relation at
    /// 256 bits), while its value stays known (`x^(1/2)` is still a constant power).
    #[test]
    fn inexact_constants_are_computed_in_the_evaluation_precision() {
        // 2 · 0.5 and 1 + 2 are exact: one constant each, then the product with tau
        assert_eq!(compile("(2 * 0.5) * (1 + 2) * tau").unwrap().len(), 3);
        // sqrt(2 pi 0.5) is not: kept as an operation
        let t = compile("sqrt(2 * pi * 0.5) * tau").unwrap();
        assert!(t.len() > 3, "{}", t.len());
        let prec = 256;
        let theta: Vec<rug::Float> = [0.0, 0.0, 0.0, 1.0]
            .iter()
            .map(|&v| rug::Float::with_val(prec, v))
            .collect();
        let x: Vec<rug::Float> = [0.0, 0.0]
            .iter()
            .map(|&v| rug::Float::with_val(prec, v))
            .collect();
        let got = t.eval(&x, &theta, &mut Vec::new());
        let want = rug::Float::with_val(prec, std::f64::consts::PI).sqrt();
        assert_eq!(got, want, "computed at 256 bits, not rounded to f64");
        let rounded = rug::Float::with_val(prec, std::f64::consts::PI.sqrt());
        assert_ne!(got, rounded);
        // a product that underflows is not exact (the fma remainder rounds to 0 too)
        assert!(compile("(1e-200 * 1e-200) * tau").unwrap().len() > 3);
        assert_eq!(compile("(0 * 1e-200) * tau").unwrap().len(), 3);
        // long sub-expressions are named by their first 80 characters
        let long = format!("log({} - 1e9)", vec!["tau"; 100].join(" + "));
        let t = compile(&long).unwrap();
        let named = t
            .first_non_finite(&[0.0, 0.0], &[0.0, 0.0, 0.0, 1.0])
            .unwrap();
        assert!(
            named.starts_with("`log(tau + tau") && named.ends_with("…`"),
            "{named}"
        );
        assert!(named.chars().count() <= 84, "{named}");
        // its value is known to the builder: a constant exponent is a power, not exp(w ln z)
        let p = compile("beta0^(1/3)").unwrap();
        assert!(
            p.ops.iter().any(|op| matches!(op, Op::PowF(_, _))),
            "{:?}",
            p.ops
        );
    }
}
