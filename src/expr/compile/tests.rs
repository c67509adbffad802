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

#[test]
fn inlined_pieces_are_the_tape_compiled_in_one_piece() {
    // w · (e − y): compiled into one builder, and built from two finished tapes
    let (w, e) = (
        "exp(dot(beta1, x) / tau + beta0)",
        "relu(beta0 * x[1]) + sqrt(2 * pi * tau)",
    );
    let (pw, pe) = (parse(w).unwrap(), parse(e).unwrap());
    let product = |b: &mut TapeBuilder, w: Slot, e: Slot| {
        let y = b.push(Op::Input(2));
        let d = b.push(Op::Sub(e, y));
        b.push(Op::Mul(w, d))
    };
    let mut b = TapeBuilder::new();
    let sw = b.compile(&pw, &env()).unwrap().scalar().unwrap();
    let se = b.compile(&pe, &env()).unwrap().scalar().unwrap();
    let out = product(&mut b, sw, se);
    let whole = b.finish(out);
    let mut b = TapeBuilder::new();
    let sw = b.inline(&compile(w).unwrap());
    let se = b.inline(&compile(e).unwrap());
    let out = product(&mut b, sw, se);
    let inlined = b.finish(out);
    // the same operations, origins and kinks: the same values to the bit
    assert_eq!(inlined, whole);
    assert_eq!(inlined.kinks().len(), 1);
    let (x, theta) = ([0.3, -0.7, 0.25], [1.5, -0.5, 0.2, 0.8]);
    let v = inlined.eval(&x, &theta, &mut Vec::new());
    assert_eq!(
        v.to_bits(),
        whole.eval(&x, &theta, &mut Vec::new()).to_bits()
    );
    assert!(v.is_finite() && v != 0.0);
}
