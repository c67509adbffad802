//! Shape checking and lowering: [`Expr`] → [`Tape`], a flat list of scalar operations.
//!
//! Vectors exist only at compile time: `dot(beta1, x)` becomes the scalar products and sums of
//! its entries, so evaluation is a loop over [`Op`]s generic over [`Number`](super::Number) with no recursion
//! and no allocation beyond one slot buffer. Each slot records the set of parameters it depends
//! on, which is what the derivative family needs to tell a genuine zero from a kink (the second
//! derivative of `relu`/`abs` is a Dirac mass that sampling cannot see).

use super::ast::{BinOp, Expr, ExprKind, Func, Span};
use super::parse::nearest;
use super::tape::{operands, remap, Kink, Op, ParamSet, Slot, Tape, Unary};
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

    /// Appends every operation of a finished `tape` (same inputs, same parameters) and returns
    /// the slot of its output: the operations, their origins and kinks as they were compiled,
    /// so a function built from compiled pieces evaluates exactly as if its expressions had
    /// been compiled into this builder.
    pub fn inline(&mut self, tape: &Tape) -> Slot {
        let offset = self.ops.len() as Slot;
        for (op, origin) in tape.ops.iter().zip(&tape.origins) {
            let op = remap(op, |s| s + offset);
            let value = self.fold(&op);
            let slot = self.push_raw(op);
            if value.is_some() {
                self.known[slot as usize] = value;
            }
            self.origins[slot as usize] = origin.clone();
        }
        self.kinks.extend(tape.kinks.iter().cloned());
        tape.output + offset
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
            ops.push(remap(&self.ops[i], |s| new_index[s as usize]));
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
mod tests;
