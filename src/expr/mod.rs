//! The expression language of case files.
//!
//! Text is parsed into an [`Expr`] ([`parse`]), shape-checked and lowered into a [`Tape`] of
//! scalar operations ([`TapeBuilder::compile`]), and evaluated over any [`Number`]: `f64` for
//! values, num-dual types for derivatives ([`Derivative`]).
//!
//! ```
//! use moeid::expr::{parse, Binding, Env, Shape, TapeBuilder};
//! let mut env = Env::new();
//! env.bind("x", Binding::Input { offset: 0, shape: Shape::Vector(1) });
//! env.bind("beta1", Binding::Param { offset: 0, shape: Shape::Vector(1) });
//! let mut b = TapeBuilder::new();
//! let v = b.compile(&parse("exp(dot(beta1, x))").unwrap(), &env).unwrap();
//! let tape = b.finish(v.scalar().unwrap());
//! let u: f64 = tape.eval(&[0.5], &[2.0], &mut Vec::new());
//! assert!((u - 1f64.exp()).abs() < 1e-15);
//! ```
//!
//! This module is a leaf: it knows nothing of cases, models or families.

mod ast;
mod compile;
mod jet;
mod number;
mod parse;
mod series;
mod tape;
mod taylor;

pub use ast::{BinOp, Expr, ExprKind, Func, Span};
pub use compile::{Binding, CompileError, CompileErrorKind, Env, Shape, TapeBuilder, Value};
pub use jet::{Jet, MAX_JET_ORDER};
pub use number::{Derivative, Number};
pub use parse::{function_list, nearest, parse, ParseError, ParseErrorKind, MAX_DEPTH, MAX_TOKENS};
pub use series::Series;
pub use tape::{Kink, Op, ParamSet, Slot, Tape, Unary};
pub use taylor::{Taylor, TaylorSpace};
