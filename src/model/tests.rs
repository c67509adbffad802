use super::*;

fn case(weight: &str, model: Model) -> Case {
    let b = Case::builder("t", model).gate(weight, true);
    let b = match model {
        Model::Gaussian => b.mean("dot(a, x) + b").variance("nu"),
        _ => b.mean("dot(a, x) + b"),
    };
    let b = b
        .vector("beta1", 1)
        .mass("beta0")
        .vector("a", 1)
        .scalar("b");
    let (b, extra): (_, &[(&str, &[f64])]) = match model {
        Model::Gaussian => (b.scalar("nu"), &[("nu", &[0.5])]),
        _ => (b, &[]),
    };
    let atom = |s: f64| {
        let mut a: Vec<(&str, &[f64])> = vec![
            ("beta1", if s > 0.0 { &[2.0] } else { &[-1.0] }),
            ("beta0", &[0.5]),
            ("a", if s > 0.0 { &[1.5] } else { &[-2.0] }),
            ("b", &[-0.5]),
        ];
        a.extend_from_slice(extra);
        a
    };
    b.atom(&atom(1.0)).atom(&atom(-1.0)).build().unwrap()
}

#[test]
fn the_log_weight_is_the_argument_of_an_exp_gate_else_the_log() {
    let theta = [2.0, 0.5, 1.5, -0.5];
    let mut slots = Vec::new();
    let c = Compiled::new(&case("exp(dot(beta1, x) + beta0)", Model::Regression));
    let l: f64 = c.log_weight.eval(&[0.5], &theta, &mut slots);
    assert_eq!(l, 1.5);
    let c = Compiled::new(&case("sigmoid(dot(beta1, x) + beta0)", Model::Regression));
    let (l, w): (f64, f64) = (
        c.log_weight.eval(&[0.5], &theta, &mut slots),
        c.weight.eval(&[0.5], &theta, &mut slots),
    );
    assert!((l - w.ln()).abs() < 1e-15 && w < 1.0);
    assert_eq!((c.classes, c.output.len()), (1, 1));
    assert!(c.mean_variance().is_none() && c.fixed.is_none() && c.groups.is_none());
}

#[test]
fn the_gaussian_output_is_the_density_of_y() {
    let c = Compiled::new(&case("exp(dot(beta1, x) + beta0)", Model::Gaussian));
    let theta = [2.0, 0.5, 1.5, -0.5, 0.5];
    let (x, y) = (0.5, 0.9);
    let e: f64 = c.output[0].eval(&[x, y], &theta, &mut Vec::new());
    let (m, v) = (1.5 * x - 0.5, 0.5);
    let want = (-(y - m) * (y - m) / (2.0 * v)).exp() / (std::f64::consts::TAU * v).sqrt();
    assert!((e - want).abs() < 1e-15, "{e} against {want}");
    assert!(c.mean_variance().is_some());
}
