//! Every relation of theory.md §4 is found, with the right class and coefficients.

#![allow(non_snake_case)]

use crate::util::verify;
use moeid::relations::RelationClass;
use moeid::Verification;
use nalgebra::{DMatrix, DVector};

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Verifies a design of `tests/designs/` (not in the catalogue), cells of one atom only.
fn verify_design(file: &str) -> Verification {
    let path = crate::util::root().join("tests/designs").join(file);
    let text = std::fs::read_to_string(path).unwrap();
    let case = moeid::Case::parse(&text, file).unwrap();
    moeid::verify(&case, &crate::util::verdict_only()).unwrap()
}

/// The reported relations of `atom` (0-based) as (class, text).
fn texts(v: &Verification, atom: usize) -> Vec<(RelationClass, String)> {
    v.relations.atoms[atom]
        .relations
        .iter()
        .map(|r| (r.class, moeid::report::relation::text(r, &v.variables)))
        .collect()
}

#[track_caller]
fn has(v: &Verification, atom: usize, class: RelationClass, text: &str) {
    let t = texts(v, atom);
    assert!(
        t.iter().any(|(c, s)| *c == class && s == text),
        "{}: no {class} `{text}` at atom {}; found {t:#?}",
        v.case.name,
        atom + 1
    );
}

/// The identifiable combinations shown for the invariance with this exact text.
fn combinations(v: &Verification, atom: usize, text: &str) -> Vec<String> {
    v.relations.atoms[atom]
        .relations
        .iter()
        .find(|r| moeid::report::relation::text(r, &v.variables) == text)
        .and_then(|r| {
            let roles = v.case.variable_roles();
            Some(moeid::report::relation::combinations(
                r,
                r.exact.as_ref()?,
                &v.variables,
                &roles,
            ))
        })
        .unwrap_or_default()
}

/// Every relation of the atom other than singular terms has a verified exact form.
#[track_caller]
fn all_exact(v: &Verification, atom: usize) {
    for r in v.relations.atoms[atom]
        .relations
        .iter()
        .filter(|r| r.class != RelationClass::Singular)
    {
        let ok = r.exact.as_ref().is_some_and(|e| e.verified);
        assert!(
            ok,
            "{}: no verified exact form for {}",
            v.case.name,
            moeid::report::relation::numeric_text(r, &v.variables)
        );
    }
}

/// Relative residual of `expected` (a relation $\sum c_\alpha \partial^\alpha u = 0$ given as
/// (term label, coefficient)) against the span of the relations reported at `atom`: 0 when the
/// reported relations imply it.
fn residual(v: &Verification, atom: usize, expected: &[(&str, f64)]) -> f64 {
    let rels: Vec<Vec<(String, f64)>> = v.relations.atoms[atom]
        .relations
        .iter()
        .filter(|r| r.class != RelationClass::Singular)
        .map(|r| {
            r.terms
                .iter()
                .map(|t| (t.alpha.label(&v.variables, "u"), t.coef))
                .collect()
        })
        .collect();
    let mut keys: Vec<String> = expected.iter().map(|e| e.0.to_string()).collect();
    for r in &rels {
        for (k, _) in r {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let index = |k: &str| keys.iter().position(|x| x == k).unwrap();
    let mut A = DMatrix::zeros(keys.len(), rels.len().max(1));
    for (j, r) in rels.iter().enumerate() {
        for (k, c) in r {
            A[(index(k), j)] = *c;
        }
    }
    let mut b = DVector::zeros(keys.len());
    for (k, c) in expected {
        b[index(k)] = *c;
    }
    let x = A.clone().svd(true, true).solve(&b, 1e-12).unwrap();
    (A * x - &b).norm() / b.norm()
}

#[track_caller]
fn implied(v: &Verification, atom: usize, expected: &[(&str, f64)]) {
    let r = residual(v, atom, expected);
    assert!(
        r < 1e-8,
        "{}: {expected:?} not implied at atom {} (residual {r:e})",
        v.case.name,
        atom + 1
    );
}

#[test]
fn relation_1_softmax_any_activation_is_a_coupling() {
    let v = verify("softmax-2503.03213/ffn-tanh.toml");
    for j in 0..2 {
        has(&v, j, RelationClass::Coupling, "∂²u/∂beta1[0]∂b = ∂u/∂a[0]");
        has(&v, j, RelationClass::Mass, "∂u/∂beta0 = u");
    }
    assert_eq!(v.verdict.kind.name(), "identifiable");
    // the checker itself can fail: a relation that does not hold is not implied
    assert!(residual(&v, 0, &[("∂²u/∂a[0]²", 1.0)]) > 0.5);
    let gauge: Vec<String> = v
        .relations
        .cross
        .iter()
        .map(|r| moeid::report::relation::text(r, &v.variables))
        .collect();
    assert!(gauge.contains(&"u₁ + u₂ = 0".to_string()), "{gauge:?}");
    assert!(v
        .relations
        .cross
        .iter()
        .all(|r| r.class == RelationClass::Gauge));
}

#[test]
fn relation_2_linear_experts_interaction() {
    let v = verify("softmax-2503.03213/linear.toml");
    for j in 0..2 {
        has(&v, j, RelationClass::Interaction, "∂²u/∂a[0]² = 0");
        has(&v, j, RelationClass::Interaction, "∂²u/∂b² = 0");
        has(&v, j, RelationClass::Coupling, "∂²u/∂a[0]∂b = 0");
        has(&v, j, RelationClass::Coupling, "∂²u/∂beta1[0]∂b = ∂u/∂a[0]");
    }
    assert_eq!(v.verdict.kind.name(), "interaction");
    assert!(v.relations.atoms.iter().all(|a| a.psd.interaction));
}

#[test]
fn relation_3_constant_expert_leaves_the_product_of_weights() {
    let v = verify("theory/exp-constant.toml");
    // ∂u/∂β0 = η ∂u/∂η, with η = 0.7
    implied(&v, 0, &[("∂u/∂beta0", 1.0), ("∂u/∂eta", -0.7)]);
    has(&v, 0, RelationClass::Mass, "∂u/∂beta0 = u");
    has(
        &v,
        0,
        RelationClass::Invariance,
        "eta·∂u/∂eta − ∂u/∂beta0 = 0",
    );
    assert_eq!(
        combinations(&v, 0, "eta·∂u/∂eta − ∂u/∂beta0 = 0"),
        ["beta0 + log(eta)"]
    );
    all_exact(&v, 0);
    assert_eq!(v.verdict.kind.name(), "degenerate");
}

#[test]
fn relation_4_sigmoid_any_activation_is_a_coupling() {
    let v = verify("sigmoid-2405.13997/tanh-regime2.toml");
    has(
        &v,
        0,
        RelationClass::Coupling,
        "∂²u/∂beta1∂b = ∂²u/∂beta0∂a",
    );
    all_exact(&v, 0);
    assert_eq!(v.verdict.kind.name(), "identifiable");
    let g = verify("sigmoid-2405.13997/gelu-regime2.toml");
    has(
        &g,
        0,
        RelationClass::Coupling,
        "∂²u/∂beta1∂b = ∂²u/∂beta0∂a",
    );
}

#[test]
fn relation_5_regime_1_point_relations() {
    let v = verify("sigmoid-2405.13997/linear-regime1.toml");
    let c = 1.0 - sigmoid(-0.4);
    let (a, b) = (1.5, 0.2);
    implied(
        &v,
        0,
        &[("∂u/∂beta0", 1.0), ("∂u/∂a", -c * a), ("∂u/∂b", -c * b)],
    );
    implied(&v, 0, &[("∂²u/∂beta1∂b", 1.0), ("∂u/∂a", -c)]);
    // exact forms, coefficients in σ(β0)
    has(
        &v,
        0,
        RelationClass::Mass,
        "∂u/∂beta0 = (1 − sigmoid(beta0))·u",
    );
    has(
        &v,
        0,
        RelationClass::Invariance,
        "a·∂u/∂a − u + b·∂u/∂b = 0",
    );
    has(
        &v,
        0,
        RelationClass::Coupling,
        "a·∂²u/∂beta1∂b + (−1 + sigmoid(beta0))·u + (1 − sigmoid(beta0))·b·∂u/∂b = 0",
    );
    all_exact(&v, 0);
    let mass = v.relations.atoms[0]
        .relations
        .iter()
        .find(|r| r.class == RelationClass::Mass)
        .unwrap();
    assert_eq!(mass.structural, Some(false), "β0 is a mass only at β1 = 0");
    assert!((mass.terms[1].coef + c).abs() < 1e-10);
    assert_eq!(v.verdict.kind.name(), "degenerate");
}

#[test]
fn relation_6_joint_temperature_scaling() {
    let v = verify("theory/sigmoid-temperature-joint.toml");
    // τ ∂τ u + β1 ∂β1 u + β0 ∂β0 u = 0 at both atoms
    implied(
        &v,
        0,
        &[("∂u/∂tau", 0.5), ("∂u/∂beta1[0]", 2.0), ("∂u/∂beta0", -0.5)],
    );
    implied(
        &v,
        1,
        &[("∂u/∂tau", 0.5), ("∂u/∂beta1[0]", -1.5), ("∂u/∂beta0", 0.3)],
    );
    assert!(texts(&v, 0)
        .iter()
        .any(|(c, _)| *c == RelationClass::Invariance));
    assert_eq!(v.verdict.kind.name(), "degenerate");
}

#[test]
fn relation_7_temperature_on_the_slope() {
    let v = verify("softmax-2503.03213/dense-to-sparse.toml");
    implied(&v, 0, &[("∂u/∂tau", 0.5), ("∂u/∂beta1[0]", 2.0)]);
    implied(&v, 1, &[("∂u/∂tau", 0.5), ("∂u/∂beta1[0]", -1.0)]);
    for j in 0..2 {
        has(
            &v,
            j,
            RelationClass::Invariance,
            "beta1[0]·∂u/∂beta1[0] + tau·∂u/∂tau = 0",
        );
        assert_eq!(
            combinations(&v, j, "beta1[0]·∂u/∂beta1[0] + tau·∂u/∂tau = 0"),
            ["beta1[0]/tau"]
        );
    }
    assert_eq!(v.verdict.kind.name(), "degenerate");
}

#[test]
fn relation_8_heat_type_pde_is_a_coupling() {
    let v = verify("theory/sigmoid-euclidean-squared.toml");
    // Σ_k ∂²u/∂β1k² = 4 ∂²u/∂β0∂τ − (2d/τ) ∂u/∂β0 with d = 1, multiplied by τ
    for j in 0..2 {
        has(
            &v,
            j,
            RelationClass::Coupling,
            "tau·∂²u/∂beta1[0]² + 2·∂u/∂beta0 − 4·tau·∂²u/∂beta0∂tau = 0",
        );
        all_exact(&v, j);
        assert!(
            !v.relations.atoms[j].psd.interaction,
            "the whole null space has no PSD block"
        );
    }
    assert_eq!(v.verdict.kind.name(), "identifiable");
}

#[test]
fn relation_9_multinomial_coupling_and_vanishing_slopes() {
    let v = verify("multinomial-2310.14188/softmax-k2-generic.toml");
    for j in 0..2 {
        has(
            &v,
            j,
            RelationClass::Coupling,
            "∂²u/∂beta1[0]∂b0 = ∂u/∂a0[0]",
        );
    }
    assert_eq!(v.verdict.kind.name(), "identifiable");
    // with a vanishing slope, extra relations appear at that atom only
    let w = verify("multinomial-2310.14188/softmax-k2-vanishing.toml");
    assert!(texts(&w, 0).len() > texts(&w, 1).len());
    let c = 1.0 - 2.0 * sigmoid(-0.5);
    implied(&w, 0, &[("∂²u/∂b0²", 1.0), ("∂u/∂b0", -c)]);
    has(
        &w,
        0,
        RelationClass::Interaction,
        "∂²u/∂b0² = (1 − 2·sigmoid(b0))·∂u/∂b0",
    );
}

#[test]
fn relation_10_modified_gate_removes_relation_9() {
    let v = verify("multinomial-2310.14188/modified-tanh-k2-generic.toml");
    for j in 0..2 {
        assert!(
            residual(&v, j, &[("∂²u/∂beta1[0]∂b0", 1.0), ("∂u/∂a0[0]", -1.0)]) > 1e-3,
            "atom {}: {:#?}",
            j + 1,
            texts(&v, j)
        );
    }
}

#[test]
fn relation_11_cosine_router_scaling_invariance() {
    let v = verify("routers/cosine.toml");
    implied(&v, 0, &[("∂u/∂beta1[0]", 1.0), ("∂u/∂beta1[1]", 0.5)]);
    implied(&v, 1, &[("∂u/∂beta1[0]", -0.7), ("∂u/∂beta1[1]", 1.2)]);
    let field = "beta1[0]·∂u/∂beta1[0] + beta1[1]·∂u/∂beta1[1] = 0";
    for j in 0..2 {
        has(&v, j, RelationClass::Invariance, field);
        assert_eq!(combinations(&v, j, field), ["beta1[1]/beta1[0]"]);
        all_exact(&v, j);
    }
    assert_eq!(v.verdict.kind.name(), "degenerate");
}

#[test]
fn relation_12_perturbed_cosine_router_has_none() {
    let v = verify("routers/cosine-perturbed.toml");
    for j in 0..2 {
        assert!(residual(&v, j, &[("∂u/∂beta1[0]", 1.0), ("∂u/∂beta1[1]", 0.5)]) > 1e-3);
        assert!(texts(&v, j)
            .iter()
            .all(|(c, _)| *c != RelationClass::Invariance));
    }
    assert_eq!(v.verdict.kind.name(), "identifiable");
}

#[test]
fn gaussian_experts_heat_equation() {
    let v = verify("gaussian-2305.03288/softmax-gaussian.toml");
    for j in 0..2 {
        has(&v, j, RelationClass::Interaction, "∂²u/∂b² = 2·∂u/∂nu");
        has(
            &v,
            j,
            RelationClass::Coupling,
            "∂²u/∂beta1[0]∂nu = (1/2)·∂²u/∂a[0]∂b",
        );
        all_exact(&v, j);
    }
    assert_eq!(v.verdict.kind.name(), "interaction");
}

#[test]
fn null_vectors_annihilate_the_family() {
    // ‖J v‖ ≤ tol·‖v‖ for every reported relation (in scaled coordinates).
    for name in [
        "softmax-2503.03213/linear.toml",
        "gaussian-2305.03288/softmax-gaussian.toml",
        "routers/cosine.toml",
    ] {
        let v = verify(name);
        for a in &v.relations.atoms {
            for r in a
                .relations
                .iter()
                .filter(|r| r.class != RelationClass::Singular)
            {
                assert!(
                    r.residual < 1e-9,
                    "{name}: {} has residual {:e}",
                    moeid::report::relation::text(r, &v.variables),
                    r.residual
                );
            }
        }
    }
}

#[test]
fn verdicts_do_not_depend_on_the_seed() {
    for path in crate::util::all_cases() {
        let case = moeid::Case::load(&path).unwrap();
        let kinds: Vec<&str> = [1u64, 2, 3]
            .iter()
            .map(|&seed| {
                let v = moeid::verify(
                    &case,
                    &moeid::Options {
                        seed: Some(seed),
                        ..crate::util::verdict_only()
                    },
                )
                .unwrap();
                v.verdict.kind.name()
            })
            .collect();
        assert!(
            kinds.iter().all(|k| *k == kinds[0]),
            "{}: {kinds:?}",
            case.name
        );
    }
}

/// A parameter shared by every expert that enters each normalized score the same way cancels
/// in the normalisation: the mixture does not depend on it. No atom alone shows it (its
/// direction gamma·sin(3x) is none of the atom's own), so it used to be a "gauge" relation
/// and the verdict `interaction`. The mixture's Jacobian, one summed column per shared
/// parameter, finds the invariance: `degenerate`, with the invariance printed.
#[test]
fn a_shared_offset_in_every_score_is_an_invariance_of_the_mixture() {
    let text =
        std::fs::read_to_string(crate::util::root().join("tests/designs/shared-gate-offset.toml"))
            .unwrap();
    let case = moeid::Case::parse(&text, "shared-gate-offset.toml").unwrap();
    let v = moeid::verify(&case, &crate::util::verdict_only()).unwrap();
    assert_eq!(
        v.verdict.kind.name(),
        "degenerate",
        "{}",
        moeid::report::text::reason(&v.verdict.reason, &v.variables)
    );
    let invariances: Vec<String> = v
        .relations
        .cross
        .iter()
        .filter(|r| r.class == RelationClass::Invariance)
        .map(|r| moeid::report::relation::text(r, &v.variables))
        .collect();
    assert_eq!(invariances, vec!["∂u₁/∂gamma + ∂u₂/∂gamma = 0".to_string()]);
    assert!(
        moeid::report::text::reason(&v.verdict.reason, &v.variables)
            .contains("invariance of the mixture"),
        "{}",
        moeid::report::text::reason(&v.verdict.reason, &v.variables)
    );
    // the gauge of the plain softmax stays gauge, and no gauge repeats the invariance
    let gauge: Vec<String> = v
        .relations
        .cross
        .iter()
        .filter(|r| r.class == RelationClass::Gauge)
        .map(|r| moeid::report::relation::text(r, &v.variables))
        .collect();
    assert!(gauge.contains(&"u₁ + u₂ = 0".to_string()), "{gauge:?}");
    assert!(!gauge.contains(&invariances[0]), "{gauge:?}");
    // the same design with gamma as each expert's own parameter has no invariance of the
    // mixture: gamma_j·sin(3x) differs between experts
    let own = text
        .replace("gamma = { role = \"shared\" }", "gamma = {}")
        .replace("[shared]\ngamma = 0.7\n", "")
        .replace("b = -0.5\n", "b = -0.5\ngamma = 0.7\n")
        .replace("b = 0.3\n", "b = 0.3\ngamma = -0.4\n");
    let case = moeid::Case::parse(&own, "own.toml").unwrap();
    let v = moeid::verify(&case, &crate::util::verdict_only()).unwrap();
    assert_eq!(
        v.verdict.kind.name(),
        "interaction",
        "{}",
        moeid::report::text::reason(&v.verdict.reason, &v.variables)
    );
    assert!(v
        .relations
        .cross
        .iter()
        .all(|r| r.class == RelationClass::Gauge));
}

/// The temperature shared by every expert: the per-atom invariance (beta1·∂beta1 + tau·∂tau)
/// is also found as the mixture's, with tau once, up to the translation gauge of beta1 (the
/// sparsest form eliminates atom 1's beta1: the beta1 coefficients differ by
/// (beta1_2 − beta1_1)/tau, as the scaling's do).
#[test]
fn a_shared_temperature_scaling_is_the_mixtures_invariance_too() {
    let v = verify("softmax-2503.03213/dense-to-sparse.toml");
    assert_eq!(v.verdict.kind.name(), "degenerate");
    let mixture: Vec<&moeid::relations::Relation> = v
        .relations
        .cross
        .iter()
        .filter(|r| r.class == RelationClass::Invariance)
        .collect();
    assert_eq!(mixture.len(), 1);
    let r = mixture[0];
    let index = |name: &str| v.variables.iter().position(|n| n == name).unwrap();
    let (b, tau) = (index("beta1[0]"), index("tau"));
    let coef = |atom: usize, var: usize| {
        r.terms
            .iter()
            .filter(|t| t.atom == atom && t.alpha.directions() == [var as u16])
            .map(|t| t.coef)
            .sum::<f64>()
    };
    assert!((coef(0, tau) - 1.0).abs() < 1e-6 && (coef(1, tau) - 1.0).abs() < 1e-6);
    let t = v.case.atoms[0][tau];
    let expected = (v.case.atoms[1][b] - v.case.atoms[0][b]) / t;
    assert!(
        (coef(1, b) - coef(0, b) - expected).abs() < 1e-6,
        "{}",
        moeid::report::relation::text(r, &v.variables)
    );
}

/// A shared parameter moves every atom of a cell alike: second-order coefficients on it cannot
/// cancel (docs/theory.md §3). The output weight of an always-active shared expert is linear
/// (∂²u/∂c0² = 0) and stays a coupling; the same linearity in a per-atom output weight is an
/// interaction.
#[test]
fn a_shared_parameter_cannot_make_an_interaction() {
    let v = verify("sigmoid-2505.10860/softmax-shared-expert.toml");
    assert_eq!(v.verdict.kind.name(), "identifiable");
    has(&v, 0, RelationClass::Coupling, "∂²u/∂c0² = 0");
    let v = verify("softmax-2503.03213/ffn-tanh-output-weight.toml");
    assert_eq!(v.verdict.kind.name(), "interaction");
    has(&v, 0, RelationClass::Interaction, "∂²u/∂c² = 0");
    // a shared scale in front of linear experts is an invariance of the mixture
    let v = verify("zero-init-2502.03029/gated-linear.toml");
    assert_eq!(v.verdict.kind.name(), "degenerate");
    let v = verify("zero-init-2502.03029/gated-ffn.toml");
    assert_eq!(v.verdict.kind.name(), "identifiable");
}

/// A Gaussian gate's couplings have coefficients with several parameters and a common
/// denominator (issue "Verdict fidelity"): s·∂²u/∂c∂a = c·∂u/∂a + (s − c²)·∂u/∂b + 2s²·∂²u/∂s∂b
/// and 4s²·∂²u/∂s∂ν = 2(c² − s)·∂u/∂ν + ∂²u/∂a² − 2c·∂²u/∂a∂b, the same exact form at both atoms;
/// the gauge relations whose exact form is not found say so in the text output.
#[test]
fn a_gaussian_gate_couplings_are_exact_and_numeric_relations_say_so() {
    let v = verify("gaussian-gate-2305.07572/gaussian-gate-gaussian-expert.toml");
    for atom in 0..2 {
        all_exact(&v, atom);
        has(
            &v,
            atom,
            RelationClass::Coupling,
            "s·∂²u/∂c[0]∂a[0] − c[0]·∂u/∂a[0] + (−s + c[0]^2)·∂u/∂b − 2·s^2·∂²u/∂s∂b = 0",
        );
        has(
            &v,
            atom,
            RelationClass::Coupling,
            "4·s^2·∂²u/∂s∂nu + (2·s − 2·c[0]^2)·∂u/∂nu − ∂²u/∂a[0]² + 2·c[0]·∂²u/∂a[0]∂b = 0",
        );
    }
    let numeric: Vec<_> = v
        .relations
        .cross
        .iter()
        .filter(|r| !r.exact_form_found())
        .collect();
    assert!(!numeric.is_empty(), "the gauge relations with decimals");
    let text = moeid::report::text::render(&v);
    for r in numeric {
        let line = text
            .lines()
            .find(|l| l.contains(&moeid::report::relation::text_with(r, &v.variables, 6)))
            .expect("printed");
        assert!(
            line.ends_with("(structural; exact form not found)"),
            "{line}"
        );
    }
    assert!(text.contains(moeid::report::text::STATUS_LEGEND));
    // a case whose relations are all exact prints no legend
    let v = verify("gaussian-2305.03288/softmax-gaussian.toml");
    assert!(v
        .relations
        .atoms
        .iter()
        .all(|a| a.relations.iter().all(|r| r.exact_form_found())));
    assert!(!moeid::report::text::render(&v).contains("exact form not found"));
}

/// The heat equation of Gaussian experts with the variance written exp(l): one relation,
/// ∂²u/∂b² = 2e^{−l}·∂u/∂l, found exactly at every atom (not a decimal per atom).
#[test]
fn a_variance_written_exp_l_gives_one_exact_heat_equation() {
    let v = verify_design("exp-variance.toml");
    for atom in 0..2 {
        has(
            &v,
            atom,
            RelationClass::Interaction,
            "∂²u/∂b² = 2·exp(−l)·∂u/∂l",
        );
        all_exact(&v, atom);
    }
    assert_eq!(v.verdict.kind.name(), "interaction");
}

/// A cross-atom relation's coefficients may mix its atoms' parameters: the translation gauge of
/// `exp(beta1·x / tau + beta0)` with a shared `tau`, once each atom's invariance has removed its
/// `∂u/∂beta1`, is `Σ_j (tau/beta1_j)·∂u_j/∂tau = 0`, written with each atom's subscript.
#[test]
fn a_gauge_relation_mixing_two_atoms_has_its_exact_form() {
    let v = verify("softmax-2503.03213/dense-to-sparse.toml");
    let text = "beta1[0]₂·∂u₁/∂tau + beta1[0]₁·∂u₂/∂tau = 0";
    let r = v
        .relations
        .cross
        .iter()
        .find(|r| moeid::report::relation::text(r, &v.variables) == text)
        .unwrap_or_else(|| panic!("no `{text}` among {:#?}", v.relations.cross));
    assert_eq!(r.class, RelationClass::Gauge);
    assert_eq!(r.status(), "structural");
    let sympy = moeid::report::sympy::relation(r, &v.variables).unwrap();
    assert!(sympy.contains("Symbol('beta1[0]₂')"), "{sympy}");
    // the gauge of the Gaussian gate: Σ_j s_j ∂u_j/∂c_j with the masses' terms
    let v = verify("gaussian-gate-2305.07572/gaussian-gate-linear.toml");
    assert!(v
        .relations
        .cross
        .iter()
        .any(|r| moeid::report::relation::text(r, &v.variables)
            == "s₁·∂u₁/∂c[0] + (−c[0]₁ + c[0]₂)·u₂ + s₂·∂u₂/∂c[0] = 0"));
}

/// Two atoms with the same gate whose experts share a linear term `a·x`: the mixture is
/// ½(h₁ + h₂), so trading `a` between them changes nothing — a first-order cross-atom relation
/// that no atom shows alone and that is not the gate's gauge. Before the gauge was computed it
/// was labelled gauge and the verdict was `interaction`; the softmax translations stay gauge.
#[test]
fn a_cross_atom_relation_outside_the_gauge_is_an_invariance() {
    let v = verify_design("same-gate-trade.toml");
    assert_eq!(
        v.verdict.kind.name(),
        "degenerate",
        "{}",
        moeid::report::text::reason(&v.verdict.reason, &v.variables)
    );
    let class_of = |text: &str| {
        v.relations
            .cross
            .iter()
            .find(|r| moeid::report::relation::text(r, &v.variables) == text)
            .map(|r| r.class)
    };
    assert_eq!(
        class_of("∂u₁/∂a − ∂u₂/∂a = 0"),
        Some(RelationClass::Invariance)
    );
    assert!(moeid::report::text::reason(&v.verdict.reason, &v.variables)
        .contains("∂u₁/∂a − ∂u₂/∂a = 0"));
    // the cells of each atom cannot see it; the prediction carries it at every cell size
    for rate in &v.predicted.by_size {
        assert_eq!(
            rate,
            &moeid::rates::Rate::NotIdentifiable(vec!["a".to_string()])
        );
    }
    assert_eq!(class_of("u₁ + u₂ = 0"), Some(RelationClass::Gauge));
    assert_eq!(
        class_of("∂u₁/∂beta1[0] + ∂u₂/∂beta1[0] = 0"),
        Some(RelationClass::Gauge)
    );
    // a design with distinct gates: every cross-atom relation is the translation gauge
    let v = verify("softmax-2503.03213/linear.toml");
    assert!(!v.relations.cross.is_empty());
    assert!(v
        .relations
        .cross
        .iter()
        .all(|r| r.class == RelationClass::Gauge));
    assert_eq!(v.verdict.kind.name(), "interaction");
}

#[test]
fn a_group_slope_written_as_a_product_is_an_invariance_of_the_group_level() {
    // W = exp(gamma1·gamma2·x + gamma0): only the product moves the mixture, one direction per
    // group, (gamma1, −gamma2)/norm up to sign; the common intercept shift is the group gauge
    let v = verify_design("group-scale-trade.toml");
    assert_eq!(
        v.verdict.kind.name(),
        "degenerate",
        "{}",
        moeid::report::text::reason(&v.verdict.reason, &v.variables)
    );
    assert!(
        moeid::report::text::reason(&v.verdict.reason, &v.variables).contains("group parameters")
    );
    let level = v.relations.groups.as_ref().unwrap();
    assert!(level.clear);
    assert_eq!(level.invariances.len(), 2);
    let truth = &v.case.groups.as_ref().unwrap().values;
    for (g, dir) in level.invariances.iter().enumerate() {
        // variables: gamma1[0], gamma0, gamma2
        assert!(
            dir.iter().all(|&(grp, var, _)| grp == g && var != 1),
            "{dir:?}"
        );
        let (g1, g2) = (truth[g][0], truth[g][2]);
        let coef = |var| dir.iter().find(|e| e.1 == var).unwrap().2;
        // γ2·δγ1 + γ1·δγ2 = 0
        assert!((g2 * coef(0) + g1 * coef(2)).abs() < 1e-6, "{dir:?}");
    }
    // the experts of each group are untouched by it
    assert!(v
        .relations
        .cross
        .iter()
        .all(|r| r.class != RelationClass::Invariance));
}

#[test]
fn the_hierarchical_softmax_has_a_gauge_per_group_and_identifiable_groups() {
    let path = crate::util::root().join("cases/softmax-2503.03213/hierarchical.toml");
    let case = moeid::Case::load(path).unwrap();
    let v = moeid::verify(&case, &crate::util::verdict_only()).unwrap();
    assert_eq!(
        v.verdict.kind.name(),
        "identifiable",
        "{}",
        moeid::report::text::reason(&v.verdict.reason, &v.variables)
    );
    let level = v.relations.groups.as_ref().unwrap();
    // the gauge: the same shift of both groups' gamma1 and of both gamma0
    assert_eq!((level.gauge, level.invariances.len()), (2, 0));
    let gauges: Vec<String> = v
        .relations
        .cross
        .iter()
        .filter(|r| r.class == RelationClass::Gauge)
        .map(|r| moeid::report::relation::text(r, &v.variables))
        .collect();
    // within each group, never across groups
    assert!(gauges.contains(&"u₁ + u₂ = 0".to_string()), "{gauges:?}");
    assert!(gauges.contains(&"u₃ + u₄ = 0".to_string()), "{gauges:?}");
    assert!(
        !gauges.iter().any(|g| g.contains("u₂") && g.contains("u₃")),
        "{gauges:?}"
    );
}

#[test]
fn second_order_gauge_relations_are_explained_by_the_orbit_in_any_parametrization() {
    // the Gaussian gate in moment parameters (c, s: a curved gauge orbit) and in natural ones
    // (log-affine: a straight orbit) describe one model; their second-order cross relations
    // are the orbit's, never a relation beyond it
    let moments = {
        let path =
            crate::util::root().join("cases/gaussian-gate-2305.07572/gaussian-gate-linear.toml");
        moeid::verify(
            &moeid::Case::load(path).unwrap(),
            &crate::util::verdict_only(),
        )
        .unwrap()
    };
    let natural = verify_design("gllim-natural.toml");
    let second = |v: &Verification| {
        let cross: Vec<&moeid::relations::Relation> = v
            .relations
            .cross
            .iter()
            .filter(|r| r.order() == 2)
            .collect();
        assert!(
            cross.iter().all(|r| r.class == RelationClass::Gauge),
            "{:?}",
            cross
                .iter()
                .map(|r| (r.class, moeid::report::relation::text(r, &v.variables)))
                .collect::<Vec<_>>()
        );
        cross.len()
    };
    assert_eq!(second(&moments), 2);
    assert_eq!(second(&natural), 2);
    assert_eq!(moments.verdict.kind, natural.verdict.kind);
}

#[test]
fn a_mixture_invariance_names_what_stays_identifiable() {
    // a shared offset cancelled by the normalisation is lost whole; a slope traded between two
    // atoms at equal rates keeps its sum
    let text = moeid::report::text::render(&verify_design("shared-gate-offset.toml"));
    assert!(
        text.contains("identifiable: every parameter but gamma"),
        "{text}"
    );
    let v = verify_design("same-gate-trade.toml");
    let text = moeid::report::text::render(&v);
    assert!(text.contains("identifiable: a₁ + a₂"), "{text}");
    // the invariance is reported once: the second-order test does not find it again
    let same: Vec<RelationClass> = v
        .relations
        .cross
        .iter()
        .filter(|r| moeid::report::relation::text(r, &v.variables) == "∂u₁/∂a − ∂u₂/∂a = 0")
        .map(|r| r.class)
        .collect();
    assert_eq!(same, vec![RelationClass::Invariance]);
}
