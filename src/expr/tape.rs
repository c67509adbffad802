//! The compiled form of an expression: a flat list of scalar operations over slots, evaluated
//! by a loop generic over [`Number`](super::Number), each slot with the set of parameters it depends on.

use super::ast::Func;
use super::number::Number;
use std::sync::Arc;

/// A slot of the tape.
pub type Slot = u32;

/// A scalar function applied by [`Op::Unary`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    /// $e^z$
    Exp,
    /// $\ln z$
    Log,
    /// $\sqrt z$
    Sqrt,
    /// $|z|$
    Abs,
    /// $\sigma(z)$
    Sigmoid,
    /// $\log(1+e^z)$
    Softplus,
    /// $\tanh z$
    Tanh,
    /// $\max(z,0)$
    Relu,
    /// $z\Phi(z)$
    Gelu,
    /// $\operatorname{erf} z$
    Erf,
    /// $\sin z$
    Sin,
    /// $\cos z$
    Cos,
}

impl Unary {
    pub(super) fn of(func: Func) -> Option<Unary> {
        Some(match func {
            Func::Exp => Unary::Exp,
            Func::Log => Unary::Log,
            Func::Sqrt => Unary::Sqrt,
            Func::Abs => Unary::Abs,
            Func::Sigmoid => Unary::Sigmoid,
            Func::Softplus => Unary::Softplus,
            Func::Tanh => Unary::Tanh,
            Func::Relu => Unary::Relu,
            Func::Gelu => Unary::Gelu,
            Func::Erf => Unary::Erf,
            Func::Sin => Unary::Sin,
            Func::Cos => Unary::Cos,
            Func::Pow | Func::Dot | Func::Norm | Func::Sqnorm | Func::Sum => return None,
        })
    }

    /// Whether the function has a kink (a derivative jump) at some point.
    pub fn has_kink(self) -> bool {
        matches!(self, Unary::Abs | Unary::Relu)
    }

    /// Applies the function.
    pub fn apply<N: Number>(self, z: &N) -> N {
        match self {
            Unary::Exp => z.exp(),
            Unary::Log => z.ln(),
            Unary::Sqrt => z.sqrt(),
            Unary::Abs => z.abs(),
            Unary::Sigmoid => z.sigmoid(),
            Unary::Softplus => z.softplus(),
            Unary::Tanh => z.tanh(),
            Unary::Relu => z.relu(),
            Unary::Gelu => z.gelu(),
            Unary::Erf => z.erf(),
            Unary::Sin => z.sin(),
            Unary::Cos => z.cos(),
        }
    }
}

/// One scalar operation. Operands are earlier slots.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A constant.
    Const(f64),
    /// Entry `i` of the input slice.
    Input(usize),
    /// Entry `i` of the parameter vector.
    Param(usize),
    /// `a + b`
    Add(Slot, Slot),
    /// `a - b`
    Sub(Slot, Slot),
    /// `a * b`
    Mul(Slot, Slot),
    /// `a / b`
    Div(Slot, Slot),
    /// `-a`
    Neg(Slot),
    /// `a ^ n`, integer `n`
    PowI(Slot, i32),
    /// `a ^ c`, real constant `c`
    PowF(Slot, f64),
    /// `a ^ b`
    Pow(Slot, Slot),
    /// `f(a)`
    Unary(Unary, Slot),
}

/// A set of parameter indices (at most [`ParamSet::CAPACITY`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ParamSet(u128);

impl ParamSet {
    /// Largest number of parameters a tape can have.
    pub const CAPACITY: usize = 128;

    /// The set `{p}`.
    pub fn single(p: usize) -> ParamSet {
        ParamSet(1u128 << p)
    }

    /// Union.
    pub fn union(self, other: ParamSet) -> ParamSet {
        ParamSet(self.0 | other.0)
    }

    /// Whether `p` is in the set.
    pub fn contains(self, p: usize) -> bool {
        p < Self::CAPACITY && self.0 >> p & 1 == 1
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// A non-smooth point of the function: a `relu` or `abs` whose argument depends on parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Kink {
    /// The parameters the argument depends on.
    pub params: ParamSet,
    /// The sub-expression, as written, e.g. `relu(a * x[0] + b)`.
    pub text: String,
}

/// A compiled scalar function of (inputs, parameters).
#[derive(Clone, Debug, PartialEq)]
pub struct Tape {
    pub(super) ops: Vec<Op>,
    pub(super) deps: Vec<ParamSet>,
    pub(super) kinks: Vec<Kink>,
    pub(super) output: Slot,
    /// Per slot, the innermost sub-expression (as written) that made it; `None` for operations
    /// added by the program (e.g. the Gaussian density around a mean and a variance).
    pub(super) origins: Vec<Option<Arc<str>>>,
}

impl Tape {
    /// The parameters the output depends on.
    pub fn params(&self) -> ParamSet {
        self.deps[self.output as usize]
    }

    /// The kinks of the function (non-smooth primitives with parameter-dependent arguments).
    pub fn kinks(&self) -> &[Kink] {
        &self.kinks
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the tape has no operations (never true for a compiled expression).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operation where the output's non-finite value (or any derivative part) arises,
    /// evaluated at `inputs` and `theta`, as the sub-expression that made it (e.g. `sqrt(b)`), or `"an
    /// operation of the model"` when the program added it. `None` when every slot is finite.
    pub fn first_non_finite<N: Number>(&self, inputs: &[N], theta: &[N]) -> Option<String> {
        let mut slots = Vec::with_capacity(self.ops.len());
        self.eval(inputs, theta, &mut slots);
        // From the output back along non-finite operands to the operation that made the first
        // non-finite value the output inherits (an overflow a later division absorbs is not
        // it); when the output is finite, the first non-finite slot anywhere.
        let mut i = self.output as usize;
        if slots[i].finite() {
            i = slots.iter().position(|v| !v.finite())?;
        }
        while let Some(s) = operands(&self.ops[i])
            .into_iter()
            .find(|s| !slots[*s as usize].finite())
        {
            i = s as usize;
        }
        Some(match &self.origins[i] {
            Some(text) => format!("`{text}`"),
            None => "an operation of the model (around the expressions)".to_string(),
        })
    }

    /// Evaluates the function at `inputs` and `theta`, using `slots` as scratch. Constants take
    /// the kind (precision) of `theta[0]`.
    ///
    /// # Panics
    /// If `theta` is empty, or `inputs` or `theta` are shorter than the environment the tape
    /// was compiled in.
    pub fn eval<N: Number>(&self, inputs: &[N], theta: &[N], slots: &mut Vec<N>) -> N {
        slots.clear();
        let like = &theta[0];
        for op in &self.ops {
            let s = |i: &Slot| &slots[*i as usize];
            let v = match op {
                Op::Const(c) => like.constant(*c),
                Op::Input(i) => inputs[*i].clone(),
                Op::Param(p) => theta[*p].clone(),
                Op::Add(a, b) => s(a).add_ref(s(b)),
                Op::Sub(a, b) => s(a).sub_ref(s(b)),
                Op::Mul(a, b) => s(a).mul_ref(s(b)),
                Op::Div(a, b) => s(a).div_ref(s(b)),
                Op::Neg(a) => -s(a).clone(),
                Op::PowI(a, n) => s(a).powi(*n),
                Op::PowF(a, c) => s(a).powf(*c),
                Op::Pow(a, b) => s(a).pow(s(b)),
                Op::Unary(f, a) => f.apply(s(a)),
            };
            slots.push(v);
        }
        slots[self.output as usize].clone()
    }
}

impl Tape {
    /// The value and the gradient with respect to $\theta$ in f64, by reverse mode: one
    /// forward sweep storing every slot, one backward sweep accumulating adjoints. `grad` is
    /// overwritten (length of `theta`); `values` and `adjoints` are scratch.
    ///
    /// At a kink (`relu`, `abs` at 0) the derivative taken is the one of the branch the value
    /// takes, as in the forward-mode types.
    pub fn gradient(
        &self,
        inputs: &[f64],
        theta: &[f64],
        values: &mut Vec<f64>,
        adjoints: &mut Vec<f64>,
        grad: &mut [f64],
    ) -> f64 {
        let out = self.eval(inputs, theta, values);
        adjoints.clear();
        adjoints.resize(self.ops.len(), 0.0);
        grad.iter_mut().for_each(|g| *g = 0.0);
        adjoints[self.output as usize] = 1.0;
        for (i, op) in self.ops.iter().enumerate().rev() {
            let a = adjoints[i];
            if a == 0.0 {
                continue;
            }
            let v = |s: &Slot| values[*s as usize];
            match op {
                Op::Const(_) | Op::Input(_) => {}
                Op::Param(p) => grad[*p] += a,
                Op::Add(x, y) => {
                    adjoints[*x as usize] += a;
                    adjoints[*y as usize] += a;
                }
                Op::Sub(x, y) => {
                    adjoints[*x as usize] += a;
                    adjoints[*y as usize] -= a;
                }
                Op::Mul(x, y) => {
                    let (vx, vy) = (v(x), v(y));
                    adjoints[*x as usize] += a * vy;
                    adjoints[*y as usize] += a * vx;
                }
                Op::Div(x, y) => {
                    let (vx, vy) = (v(x), v(y));
                    adjoints[*x as usize] += a / vy;
                    adjoints[*y as usize] -= a * vx / (vy * vy);
                }
                Op::Neg(x) => adjoints[*x as usize] -= a,
                Op::PowI(x, n) => {
                    let d = if *n == 0 {
                        0.0
                    } else {
                        *n as f64 * v(x).powi(n - 1)
                    };
                    adjoints[*x as usize] += a * d;
                }
                Op::PowF(x, c) => adjoints[*x as usize] += a * c * v(x).powf(c - 1.0),
                Op::Pow(x, y) => {
                    let (vx, vy, vz) = (v(x), v(y), values[i]);
                    adjoints[*x as usize] += a * vy * vx.powf(vy - 1.0);
                    adjoints[*y as usize] += a * vz * vx.ln();
                }
                Op::Unary(f, x) => {
                    let (z, fz) = (v(x), values[i]);
                    let d = match f {
                        Unary::Exp => fz,
                        Unary::Log => 1.0 / z,
                        Unary::Sqrt => 0.5 / fz,
                        Unary::Abs => {
                            if z >= 0.0 {
                                1.0
                            } else {
                                -1.0
                            }
                        }
                        Unary::Sigmoid => fz * (1.0 - fz),
                        Unary::Softplus => Number::sigmoid(&z),
                        Unary::Tanh => 1.0 - fz * fz,
                        Unary::Relu => {
                            if z > 0.0 {
                                1.0
                            } else {
                                0.0
                            }
                        }
                        Unary::Gelu => {
                            let phi = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
                            0.5 * (1.0 + libm::erf(z * std::f64::consts::FRAC_1_SQRT_2)) + z * phi
                        }
                        Unary::Erf => std::f64::consts::FRAC_2_SQRT_PI * (-z * z).exp(),
                        Unary::Sin => z.cos(),
                        Unary::Cos => -z.sin(),
                    };
                    adjoints[*x as usize] += a * d;
                }
            }
        }
        out
    }
}

/// `op` with each operand slot `s` replaced by `m(s)`.
pub(super) fn remap(op: &Op, m: impl Fn(Slot) -> Slot) -> Op {
    match *op {
        Op::Add(a, b) => Op::Add(m(a), m(b)),
        Op::Sub(a, b) => Op::Sub(m(a), m(b)),
        Op::Mul(a, b) => Op::Mul(m(a), m(b)),
        Op::Div(a, b) => Op::Div(m(a), m(b)),
        Op::Pow(a, b) => Op::Pow(m(a), m(b)),
        Op::Neg(a) => Op::Neg(m(a)),
        Op::PowI(a, k) => Op::PowI(m(a), k),
        Op::PowF(a, c) => Op::PowF(m(a), c),
        Op::Unary(f, a) => Op::Unary(f, m(a)),
        Op::Const(c) => Op::Const(c),
        Op::Input(i) => Op::Input(i),
        Op::Param(p) => Op::Param(p),
    }
}

pub(super) fn operands(op: &Op) -> Vec<Slot> {
    match op {
        Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) | Op::Pow(a, b) => {
            vec![*a, *b]
        }
        Op::Neg(a) | Op::PowI(a, _) | Op::PowF(a, _) | Op::Unary(_, a) => vec![*a],
        Op::Const(_) | Op::Input(_) | Op::Param(_) => vec![],
    }
}
