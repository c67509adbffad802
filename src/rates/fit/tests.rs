use super::*;
use crate::case::{Case, Model};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The peer protocol's truth ([`crate::rates::peer_case`]).
fn peer() -> Case {
    crate::rates::peer_case()
}

fn settings(generic: bool) -> FitSettings {
    FitSettings {
        tolerance: 1e-8,
        max_iters: 500,
        generic,
        accelerate: true,
        target: None,
    }
}

fn perturbed(atoms: &[Vec<f64>], size: f64, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    atoms
        .iter()
        .map(|a| {
            a.iter()
                .map(|v| v + size * (rng.random_range(-1.0..1.0)))
                .collect()
        })
        .collect()
}

#[test]
fn em_recovers_the_peer_truth_and_beats_its_likelihood() {
    let case = peer();
    let model = MixtureModel::new(&case);
    let data = model
        .simulate(&case.atoms, 4000, 0.0, &mut ChaCha8Rng::seed_from_u64(3))
        .unwrap();
    let init = perturbed(&case.atoms, 0.05, 4);
    let fit = fit(&model, &data, init, &settings(false));
    assert_eq!(fit.method, "em-irls");
    assert_eq!(fit.status, FitStatus::Converged, "{fit:?}");
    // the MLE is at least as likely as the truth
    let (lw, le) = log_terms(&model, &data, &case.atoms);
    let truth = e_step(&lw, &le).1;
    assert!(fit.objective >= truth - 1e-6, "{} < {truth}", fit.objective);
    // expert slopes and intercepts within a few standard errors; the gate modulo translation
    let a = &fit.atoms;
    assert!(
        (a[0][2] + 20.0).abs() < 1.0 && (a[0][3] - 15.0).abs() < 1.0,
        "{a:?}"
    );
    assert!(
        (a[1][2] - 20.0).abs() < 1.0 && (a[1][3] + 5.0).abs() < 1.0,
        "{a:?}"
    );
    assert!(((a[0][0] - a[1][0]) - 25.0).abs() < 5.0, "{a:?}");
}

#[test]
fn the_fast_and_generic_m_steps_reach_the_same_likelihood() {
    let case = peer();
    let model = MixtureModel::new(&case);
    let data = model
        .simulate(&case.atoms, 300, 0.0, &mut ChaCha8Rng::seed_from_u64(5))
        .unwrap();
    let init = perturbed(&case.atoms, 0.02, 6);
    let fast = fit(&model, &data, init.clone(), &settings(false));
    let generic = fit(&model, &data, init, &settings(true));
    assert_eq!((fast.method, generic.method), ("em-irls", "em-lbfgs"));
    let gap = (fast.objective - generic.objective).abs() / fast.objective.abs();
    assert!(gap < 1e-4, "{} vs {}", fast.objective, generic.objective);
}

#[test]
fn em_never_decreases_the_likelihood() {
    let case = peer();
    let model = MixtureModel::new(&case);
    let data = model
        .simulate(&case.atoms, 500, 0.0, &mut ChaCha8Rng::seed_from_u64(7))
        .unwrap();
    // three atoms for two: the over-specified, slowly converging regime
    let mut init = perturbed(&case.atoms, 0.1, 8);
    init.push(init[1].clone());
    let mut last = f64::NEG_INFINITY;
    for iters in 1..12 {
        let s = FitSettings {
            tolerance: 0.0,
            max_iters: iters,
            generic: false,
            accelerate: true,
            target: None,
        };
        let f = fit(&model, &data, init.clone(), &s);
        assert!(
            f.objective >= last - 1e-9,
            "iteration {iters}: {} < {last}",
            f.objective
        );
        last = f.objective;
    }
}

/// The peer's EM (plain EM, IRLS gate, weighted least squares experts, relative tolerance
/// 10⁻⁶) from the peer's initialisation, against the accelerated fit, over-specified (k = 3):
/// the accelerated fit's likelihood is never lower. Plain EM stops early where the likelihood
/// is flat (over-specified mixtures), which is why.
#[test]
fn accelerated_em_is_at_least_as_likely_as_plain_em() {
    let case = peer();
    let model = MixtureModel::new(&case);
    let rates =
        crate::rates::RateSettings::resolve(&case, &crate::rates::RateOverrides::default(), None);
    for seed in 0..4 {
        let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
        let n = 5000;
        let data = model.simulate(&case.atoms, n, 0.0, &mut rng).unwrap();
        let init = crate::rates::sweep::initial(&model, &case.atoms, 3, n, &rates, None, &mut rng);
        let mut s = FitSettings {
            tolerance: 1e-6,
            max_iters: 2000,
            generic: false,
            accelerate: false,
            target: None,
        };
        let plain = fit(&model, &data, init.clone(), &s);
        s.accelerate = true;
        let fast = fit(&model, &data, init, &s);
        assert_eq!(fast.status, FitStatus::Converged);
        assert!(
            fast.objective >= plain.objective - 1e-6 * plain.objective.abs(),
            "seed {seed}: {} < {}",
            fast.objective,
            plain.objective
        );
    }
}

#[test]
fn least_squares_recovers_a_sigmoid_tanh_expert() {
    let case = Case::builder("s", Model::Regression)
        .gate("sigmoid(b1 * x[0] + b0)", false)
        .mean("tanh(a * x[0] + b)")
        .scalar("b1")
        .scalar("b0")
        .scalar("a")
        .scalar("b")
        .atom(&[
            ("b1", &[2.0]),
            ("b0", &[-0.5]),
            ("a", &[1.5]),
            ("b", &[0.2]),
        ])
        .build()
        .unwrap();
    let model = MixtureModel::new(&case);
    let data = model
        .simulate(&case.atoms, 1000, 0.01, &mut ChaCha8Rng::seed_from_u64(1))
        .unwrap();
    let f = fit(
        &model,
        &data,
        perturbed(&case.atoms, 0.1, 2),
        &settings(false),
    );
    assert_eq!(f.method, "least-squares");
    assert!(f.status != FitStatus::Failed(String::new()));
    for (got, want) in f.atoms[0].iter().zip(&case.atoms[0]) {
        assert!((got - want).abs() < 0.05, "{:?}", f.atoms);
    }
}

#[test]
fn multinomial_em_fast_path() {
    let case = Case::builder("m", Model::Multinomial)
        .classes(2)
        .gate("exp(dot(beta1, x) + beta0)", true)
        .logits(&["dot(a, x) + b", "0"])
        .vector("beta1", 1)
        .mass("beta0")
        .vector("a", 1)
        .scalar("b")
        .atom(&[
            ("beta1", &[3.0]),
            ("beta0", &[0.5]),
            ("a", &[4.0]),
            ("b", &[-1.0]),
        ])
        .atom(&[
            ("beta1", &[-3.0]),
            ("beta0", &[0.0]),
            ("a", &[-4.0]),
            ("b", &[1.5]),
        ])
        .build()
        .unwrap();
    let model = MixtureModel::new(&case);
    let data = model
        .simulate(&case.atoms, 600, 0.0, &mut ChaCha8Rng::seed_from_u64(9))
        .unwrap();
    let init = perturbed(&case.atoms, 0.05, 10);
    let fast = fit(&model, &data, init.clone(), &settings(false));
    let generic = fit(&model, &data, init, &settings(true));
    assert_eq!(fast.method, "em-irls");
    assert!((fast.objective - generic.objective).abs() / fast.objective.abs() < 1e-4);
    let (lw, le) = log_terms(&model, &data, &case.atoms);
    assert!(fast.objective >= e_step(&lw, &le).1 - 1e-6);
}

#[test]
fn unnormalized_probability_models_are_refused_with_a_reason() {
    let case = Case::builder("u", Model::Gaussian)
        .gate("sigmoid(dot(beta1, x))", false)
        .mean("b")
        .variance("nu")
        .vector("beta1", 1)
        .scalar("b")
        .scalar("nu")
        .atom(&[("beta1", &[1.0]), ("b", &[0.0]), ("nu", &[1.0])])
        .build()
        .unwrap();
    let model = MixtureModel::new(&case);
    let err = model
        .simulate(&case.atoms, 10, 0.0, &mut ChaCha8Rng::seed_from_u64(1))
        .unwrap_err();
    assert_eq!(err, super::super::simulate::SimulationError::Unnormalized);
    assert!(err.to_string().contains("normalized = true"));
}

/// A search heading to infinity makes the backtracking line search halve about a thousand
/// times per iteration; the evaluation budget ends it as an error, not a hang.
#[test]
fn the_evaluation_budget_ends_a_runaway_search_as_an_error() {
    struct Flat;
    impl CostFunction for Flat {
        type Param = Vec<f64>;
        type Output = f64;
        fn cost(&self, _: &Vec<f64>) -> Result<f64, argmin::core::Error> {
            Ok(f64::INFINITY)
        }
    }
    let b = Budgeted {
        inner: Flat,
        calls: AtomicUsize::new(0),
        budget: 80,
    };
    for _ in 0..80 {
        assert!(b.cost(&vec![0.0]).is_ok());
    }
    let err = b.cost(&vec![0.0]).unwrap_err().to_string();
    assert!(err.contains("diverged: more than 80 evaluations"), "{err}");
}

/// Two softmax-gated experts beside a known component: inside the gate (the softmax reference,
/// weight 1) or mixed outside with share 0.3.
fn with_fixed(model: Model, outside: bool) -> Case {
    let expert: &[(&str, &str)] = match model {
        Model::Regression => &[("mean", "0.3 * x[0] - 0.2")],
        _ => &[("mean", "0"), ("variance", "1")],
    };
    let mut b = Case::builder("fixed", model)
        .gate("exp(dot(beta1, x) + beta0)", true)
        .mean("dot(a, x) + b");
    if model == Model::Gaussian {
        b = b.variance("nu");
    }
    b = if outside {
        b.fixed_with_proportion(0.3, expert)
    } else {
        b.fixed("1", expert)
    };
    b = b
        .vector("beta1", 1)
        .mass("beta0")
        .vector("a", 1)
        .scalar("b");
    if model == Model::Gaussian {
        b = b.scalar("nu");
    }
    let atom = |beta1: f64, beta0: f64, a: f64, bb: f64, nu: f64| {
        let mut v: Vec<(&str, Vec<f64>)> = vec![
            ("beta1", vec![beta1]),
            ("beta0", vec![beta0]),
            ("a", vec![a]),
            ("b", vec![bb]),
        ];
        if model == Model::Gaussian {
            v.push(("nu", vec![nu]));
        }
        v
    };
    for a in [
        atom(1.5, 0.0, -1.0, 0.5, 0.3),
        atom(-1.0, -0.5, 2.0, -0.5, 0.5),
    ] {
        let refs: Vec<(&str, &[f64])> = a.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        b = b.atom(&refs);
    }
    b.build().unwrap()
}

/// The [`with_fixed`] case compiled, its truth in the model's parameters (η appended outside the
/// gate) and `n` samples drawn from it.
fn fixed_setup(
    model: Model,
    outside: bool,
    n: usize,
    noise: f64,
    seed: u64,
) -> (MixtureModel, Vec<Vec<f64>>, Data) {
    let case = with_fixed(model, outside);
    let model = MixtureModel::new(&case);
    let truth = model.truth(&case.atoms);
    let data = model
        .simulate(&truth, n, noise, &mut ChaCha8Rng::seed_from_u64(seed))
        .unwrap();
    (model, truth, data)
}

/// Central finite differences of `cost` at `flat`.
fn numeric_gradient(cost: impl Fn(&[f64]) -> f64, flat: &[f64]) -> Vec<f64> {
    (0..flat.len())
        .map(|i| {
            let h = 1e-6 * (1.0 + flat[i].abs());
            let (mut up, mut down) = (flat.to_vec(), flat.to_vec());
            up[i] += h;
            down[i] -= h;
            (cost(&up) - cost(&down)) / (2.0 * h)
        })
        .collect()
}

fn assert_close(analytic: &[f64], numeric: &[f64], what: &str) {
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        assert!(
            (a - n).abs() <= 1e-5 * (1.0 + n.abs()),
            "{what}: coordinate {i}: analytic {a}, numeric {n}"
        );
    }
}

#[test]
fn gradients_with_a_fixed_component_match_finite_differences() {
    for outside in [false, true] {
        // least squares
        let (model, truth, data) = fixed_setup(Model::Regression, outside, 300, 0.1, 5);
        assert_eq!(truth[0].len(), 4 + usize::from(outside));
        let at = perturbed(&truth, 0.3, 6);
        let layout = model.layout(at.len());
        let flat = layout.flatten(&at);
        let problem = LeastSquares {
            model: &model,
            data: &data,
            layout: layout.clone(),
            cache: Mutex::new(None),
        };
        let (_, g) = problem.compute(&flat);
        let numeric = numeric_gradient(|p| problem.compute(p).0, &flat);
        assert_close(&g, &numeric, &format!("least squares, outside {outside}"));
        // the expected complete log-likelihood of EM
        let (model, truth, data) = fixed_setup(Model::Gaussian, outside, 300, 0.0, 7);
        let (lw, le) = log_terms(&model, &data, &truth);
        assert_eq!(lw[0].len(), 3, "two atoms and the fixed component");
        let (r, _) = e_step(&lw, &le);
        let at = perturbed(&truth, 0.2, 8);
        let layout = model.layout(at.len());
        let flat = layout.flatten(&at);
        let q = ExpectedLogLik {
            model: &model,
            data: &data,
            r: &r,
            layout,
        };
        let (_, g) = q.compute(&flat);
        let numeric = numeric_gradient(|p| q.compute(p).0, &flat);
        assert_close(&g, &numeric, &format!("EM's Q, outside {outside}"));
    }
}

#[test]
fn em_with_a_fixed_component_recovers_its_share_and_the_atoms() {
    for outside in [false, true] {
        let (model, truth, data) = fixed_setup(Model::Gaussian, outside, 4000, 0.0, 9);
        let init = perturbed(&truth, 0.1, 10);
        let quick = FitSettings {
            tolerance: 1e-6,
            max_iters: 100,
            ..settings(false)
        };
        let fit = fit(&model, &data, init, &quick);
        assert_eq!(
            fit.method, "em-lbfgs",
            "no fast path beside a fixed component"
        );
        assert_ne!(fit.status.name(), "failed", "{fit:?}");
        // at least as likely as the truth
        let (lw, le) = log_terms(&model, &data, &truth);
        let at_truth = e_step(&lw, &le).1;
        assert!(
            fit.objective >= at_truth - 1e-6,
            "{} < {at_truth}",
            fit.objective
        );
        for (fitted, true_atom) in fit.atoms.iter().zip(&truth) {
            // expert slope and intercept (indices 2, 3)
            for v in [2, 3] {
                assert!(
                    (fitted[v] - true_atom[v]).abs() < 0.3,
                    "outside {outside}: {:?} against {truth:?}",
                    fit.atoms
                );
            }
        }
        if outside {
            let share = model.share(&fit.atoms[0]).unwrap();
            assert!((share - 0.3).abs() < 0.05, "share {share}");
        }
    }
}

#[test]
fn least_squares_beside_a_fixed_component_recovers_the_truth() {
    for outside in [false, true] {
        let (model, truth, data) = fixed_setup(Model::Regression, outside, 20_000, 0.05, 11);
        let init = perturbed(&truth, 0.1, 12);
        let fit = fit(&model, &data, init, &settings(false));
        assert_ne!(fit.status.name(), "failed", "{fit:?}");
        // the mean squared error reaches the noise level
        assert!(
            -fit.objective < 0.05f64.powi(2) * 1.05,
            "{}",
            -fit.objective
        );
        if outside {
            let share = model.share(&fit.atoms[0]).unwrap();
            assert!((share - 0.3).abs() < 0.05, "share {share}");
        }
    }
}

/// A target log-likelihood stops the fit at the first step that reaches it: fewer steps than
/// the fit to convergence, an objective at or above the target, and `reached`; a target above
/// the maximum runs to the fit's own end and says how that ended.
#[test]
fn a_target_likelihood_stops_the_fit_where_it_is_reached() {
    let case = peer();
    let model = MixtureModel::new(&case);
    let data = model
        .simulate(&case.atoms, 2000, 0.0, &mut ChaCha8Rng::seed_from_u64(11))
        .unwrap();
    let mut init = perturbed(&case.atoms, 0.1, 12);
    init.push(init[1].clone());
    for accelerate in [true, false] {
        let s = FitSettings {
            tolerance: 1e-10,
            max_iters: 500,
            generic: false,
            accelerate,
            target: None,
        };
        let full = fit(&model, &data, init.clone(), &s);
        let start = fit(
            &model,
            &data,
            init.clone(),
            &FitSettings { max_iters: 0, ..s },
        );
        assert_eq!(full.status, FitStatus::Converged);
        let target = start.objective + 0.5 * (full.objective - start.objective);
        let early = fit(
            &model,
            &data,
            init.clone(),
            &FitSettings {
                target: Some(target),
                ..s
            },
        );
        assert_eq!(early.status, FitStatus::Reached, "accelerate {accelerate}");
        assert!(early.objective >= target);
        assert!(early.iterations < full.iterations, "{early:?} {full:?}");
        let beyond = FitSettings {
            target: Some(full.objective + 1.0),
            ..s
        };
        let f = fit(&model, &data, init.clone(), &beyond);
        assert_eq!(f.status, FitStatus::Converged);
        assert_eq!(f.objective, full.objective);
    }
}
