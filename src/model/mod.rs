//! The case compiled once: the gate, the expert and the known pieces of a case as tapes, with
//! the parameters' names and roles and the input distribution.
//!
//! Every later stage reads the case through this one compilation: the family builds its
//! function $u = w\,(e - f^*)$ from [`Compiled::weight`] and [`Compiled::output`] (inlined, so
//! it evaluates exactly as if compiled in one piece), the local geometry evaluates those pieces,
//! and the rate check fits mixtures of [`Compiled::log_weight`] and the expert's
//! [`Compiled::mean`], [`Compiled::variance`] or [`Compiled::logits`]. A case is validated on
//! load, so compilation cannot fail here; an expression that no longer compiles (a case edited
//! in code) becomes a NaN constant that evaluation names precisely, and
//! [`crate::verify`] refuses such a case at the door.

use crate::case::{Case, Expression, Model, Role};
use crate::expr::{Env, Expr, ExprKind, Func, Op, Slot, Tape, TapeBuilder, Unary};

/// Input slot of $y$ in the expert's output tapes, after the $d$ entries of $x$.
pub fn y_slot(dim: usize) -> usize {
    dim
}

/// The compiled case.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The observation model.
    pub model: Model,
    /// Names of the scalar parameters, in the order of $\theta$.
    pub variables: Vec<String>,
    /// Their roles.
    pub roles: Vec<Role>,
    /// Whether the gate is normalized.
    pub normalized: bool,
    /// Top-K sparse gate: the number of atoms selected at each point.
    pub top_k: Option<usize>,
    /// Input dimension.
    pub dim: usize,
    /// The input box's lower end (inputs are uniform on $[low, high]^d$).
    pub low: f64,
    /// The input box's upper end.
    pub high: f64,
    /// Classes of a multinomial model (1 otherwise).
    pub classes: usize,
    /// The gate weight $w(x; \theta)$.
    pub weight: Tape,
    /// $\ell = \log w$: the argument of a top-level `exp` when the weight is written so (free of
    /// overflow), else the log of the weight.
    pub log_weight: Tape,
    /// The expert's mean (regression, gaussian).
    pub mean: Option<Tape>,
    /// The expert's variance (gaussian).
    pub variance: Option<Tape>,
    /// The expert's class logits (multinomial).
    pub logits: Vec<Tape>,
    /// The expert's output $e$ per class: the mean, the Gaussian density of $y$ (input slot
    /// [`y_slot`]) or the class probability.
    pub output: Vec<Tape>,
    /// The known component (`[fixed]`), if any.
    pub fixed: Option<Fixed>,
    /// The groups of a hierarchical gate, if any.
    pub groups: Option<Groups>,
}

/// The known component of a case, compiled: functions of $x$ (and $y$) without parameters.
#[derive(Clone, Debug)]
pub struct Fixed {
    /// Its weight $w_0(x)$.
    pub weight: Tape,
    /// $\log w_0$ when it sits inside the gate (normalized with the atoms).
    pub log_weight: Option<Tape>,
    /// Its true share $\lambda^*$ when it is mixed outside the gate.
    pub proportion: Option<f64>,
    /// Its mean (regression, gaussian).
    pub mean: Option<Tape>,
    /// Its variance (gaussian).
    pub variance: Option<Tape>,
    /// Its class logits (multinomial).
    pub logits: Vec<Tape>,
    /// Its output $e_0$ per class, as [`Compiled::output`].
    pub output: Vec<Tape>,
}

/// The group level of a hierarchical gate, compiled.
#[derive(Clone, Debug)]
pub struct Groups {
    /// $W(x;\gamma)$: inputs $x$, parameters $\gamma$.
    pub weight: Tape,
    /// $\gamma^*_g$ of each group (one unused zero when the weight has no parameters).
    pub values: Vec<Vec<f64>>,
    /// The group of each atom (0-based).
    pub of_atom: Vec<usize>,
    /// Names of the scalar group parameters.
    pub variables: Vec<String>,
}

/// Mean and variance tapes of a Gaussian model, when both are there.
fn gaussian_pair<'a>(
    model: Model,
    mean: &'a Option<Tape>,
    variance: &'a Option<Tape>,
) -> Option<(&'a Tape, &'a Tape)> {
    match (model, mean, variance) {
        (Model::Gaussian, Some(m), Some(v)) => Some((m, v)),
        _ => None,
    }
}

impl Compiled {
    /// Compiles the case's expressions.
    pub fn new(case: &Case) -> Compiled {
        let env = case.env();
        let classes = if case.model == Model::Multinomial {
            case.classes
        } else {
            1
        };
        let optional = |e: &Option<Expression>| e.as_ref().map(|e| tape(&e.expr, &env));
        let many = |es: &[Expression]| es.iter().map(|e| tape(&e.expr, &env)).collect();
        let outputs =
            |mean: &Option<Expression>, variance: &Option<Expression>, logits: &[Expression]| {
                (0..classes)
                    .map(|s| {
                        let mut b = TapeBuilder::new();
                        let e = expert_output(&mut b, case, (mean, variance, logits), s, &env);
                        b.finish(e)
                    })
                    .collect()
            };
        let fixed = case.fixed.as_ref().map(|f| Fixed {
            weight: tape(&f.weight.expr, &env),
            log_weight: f.in_gate().then(|| log_weight(&f.weight.expr, &env)),
            proportion: f.proportion,
            mean: optional(&f.mean),
            variance: optional(&f.variance),
            logits: many(&f.logits),
            output: outputs(&f.mean, &f.variance, &f.logits),
        });
        let groups = case.groups.as_ref().map(|g| Groups {
            weight: tape(&g.weight.expr, &g.env(case.dim)),
            values: g
                .values
                .iter()
                .map(|v| if v.is_empty() { vec![0.0] } else { v.clone() })
                .collect(),
            of_atom: g.of_atom.clone(),
            variables: g.variables(),
        });
        Compiled {
            model: case.model,
            variables: case.variables(),
            roles: case.variable_roles(),
            normalized: case.normalized,
            top_k: case.top_k,
            dim: case.dim,
            low: case.low,
            high: case.high,
            classes,
            weight: tape(&case.weight.expr, &env),
            log_weight: log_weight(&case.weight.expr, &env),
            mean: optional(&case.mean),
            variance: optional(&case.variance),
            logits: many(&case.logits),
            output: outputs(&case.mean, &case.variance, &case.logits),
            fixed,
            groups,
        }
    }

    /// The expert's mean and variance tapes of a Gaussian model.
    pub fn mean_variance(&self) -> Option<(&Tape, &Tape)> {
        gaussian_pair(self.model, &self.mean, &self.variance)
    }

    /// The known component's mean and variance tapes of a Gaussian model.
    pub fn fixed_mean_variance(&self) -> Option<(&Tape, &Tape)> {
        let f = self.fixed.as_ref()?;
        gaussian_pair(self.model, &f.mean, &f.variance)
    }
}

/// `e` pushed onto `b` as one scalar slot.
fn scalar(b: &mut TapeBuilder, e: &Expr, env: &Env) -> Slot {
    b.compile(e, env)
        .ok()
        .and_then(|v| v.scalar())
        .unwrap_or_else(|| b.push(Op::Const(f64::NAN)))
}

/// `e` as a tape of its own.
fn tape(e: &Expr, env: &Env) -> Tape {
    let mut b = TapeBuilder::new();
    let s = scalar(&mut b, e, env);
    b.finish(s)
}

/// The log-weight tape of a weight expression: the argument of a top-level `exp`, else the log.
fn log_weight(e: &Expr, env: &Env) -> Tape {
    match &e.kind {
        ExprKind::Call(Func::Exp, args) => tape(&args[0], env),
        _ => {
            let mut b = TapeBuilder::new();
            let w = scalar(&mut b, e, env);
            let l = b.push(Op::Unary(Unary::Log, w));
            b.finish(l)
        }
    }
}

/// The expert output $e$ of class `class` (mean, Gaussian density or class probability) from
/// the given mean, variance and logits expressions.
fn expert_output(
    b: &mut TapeBuilder,
    case: &Case,
    (mean, variance, logits): (&Option<Expression>, &Option<Expression>, &[Expression]),
    class: usize,
    env: &Env,
) -> Slot {
    let mark = b.len();
    let piece = |b: &mut TapeBuilder, e: &Option<Expression>| match e {
        Some(e) => scalar(b, &e.expr, env),
        None => b.push(Op::Const(f64::NAN)),
    };
    let out = match case.model {
        Model::Regression => piece(b, mean),
        Model::Gaussian => {
            let m = piece(b, mean);
            let v = piece(b, variance);
            let y = b.push(Op::Input(y_slot(case.dim)));
            let diff = b.push(Op::Sub(y, m));
            let sq = b.push(Op::PowI(diff, 2));
            let two = b.push(Op::Const(2.0));
            let twov = b.push(Op::Mul(two, v));
            let q = b.push(Op::Div(sq, twov));
            let nq = b.push(Op::Neg(q));
            let num = b.push(Op::Unary(Unary::Exp, nq));
            let tau = b.push(Op::Const(std::f64::consts::TAU));
            let tv = b.push(Op::Mul(tau, v));
            let den = b.push(Op::Unary(Unary::Sqrt, tv));
            b.push(Op::Div(num, den))
        }
        Model::Multinomial => {
            // softmax_s(l) = 1 / Σ_t exp(l_t − l_s): no overflow for large logits.
            let ls: Vec<Slot> = logits.iter().map(|l| scalar(b, &l.expr, env)).collect();
            let mut sum = b.push(Op::Const(1.0));
            for (t, &lt) in ls.iter().enumerate() {
                if t != class {
                    let d = b.push(Op::Sub(lt, ls[class]));
                    let e = b.push(Op::Unary(Unary::Exp, d));
                    sum = b.push(Op::Add(sum, e));
                }
            }
            let one = b.push(Op::Const(1.0));
            b.push(Op::Div(one, sum))
        }
    };
    b.describe_since(
        mark,
        match case.model {
            Model::Regression => "the expert's mean",
            Model::Gaussian => "the Gaussian density of y given the mean and variance",
            Model::Multinomial => "the class probability (softmax of the logits)",
        },
    );
    out
}

#[cfg(test)]
mod tests;
