//! A fixed component (`[fixed]`): part of the true model, never of the learned atoms; the
//! distinguishability test says whether the atoms' derivative terms can mimic it.

use moeid::case::CaseError;
use moeid::relations::RelationClass;
use moeid::{Case, Options};

use crate::errors::BASE as SOFTMAX_LINEAR;

fn verify(text: &str) -> moeid::Verification {
    let case = Case::parse(text, "fixed.toml").unwrap();
    moeid::verify(&case, &Options::default()).unwrap()
}

#[test]
fn an_x_dependent_prompt_gate_keeps_a_linear_f0_apart_and_a_constant_one_does_not() {
    let v = crate::util::verify("contaminated-2505.18455/linear-distinguishable.toml");
    let d = &v.distinguishability.as_ref().unwrap().test;
    assert!(d.distinguishable && d.clear, "{d:?}");
    assert_eq!(d.rank_with, d.rank_without + 1);
    assert!(d.residual > 1e-3, "{d:?}");
    assert_eq!(v.verdict.kind.name(), "interaction");

    let v = crate::util::verify("contaminated-2505.18455/linear-overlap.toml");
    let d = &v.distinguishability.as_ref().unwrap().test;
    assert!(!d.distinguishable, "{d:?}");
    assert_eq!(d.rank_with, d.rank_without);
    assert!(d.residual < 1e-9, "{d:?}");
    // f = (f0 + e^beta0 (a x + b)) / (1 + e^beta0) is a line: three parameters for two numbers.
    assert_eq!(v.verdict.kind.name(), "degenerate");
}

#[test]
fn a_fixed_copy_of_a_true_atom_is_not_distinguishable() {
    // w0 e0 equal to atom 1's w e at the truth is the column u of atom 1 with f* = 0.
    let text = format!(
        "{SOFTMAX_LINEAR}[fixed]\nweight = \"exp(2.0 * x[0] + 0.5)\"\nmean = \"1.5 * x[0] - 0.5\"\n"
    );
    let d = verify(&text).distinguishability.unwrap().test;
    assert!(!d.distinguishable, "{d:?}");
    assert!(d.residual < 1e-9, "{d:?}");
    // the same function slightly off the atom's parameters is outside the span
    let text = format!(
        "{SOFTMAX_LINEAR}[fixed]\nweight = \"exp(2.0 * x[0] + 0.5)\"\nmean = \"sin(1.5 * x[0]) - 0.5\"\n"
    );
    let d = verify(&text).distinguishability.unwrap().test;
    assert!(d.distinguishable, "{d:?}");
}

#[test]
fn a_fixed_weight_breaks_the_translation_gauge_of_a_softmax() {
    let gauge = |v: &moeid::Verification| {
        v.relations
            .cross
            .iter()
            .filter(|r| r.class == RelationClass::Gauge)
            .count()
    };
    let plain = verify(SOFTMAX_LINEAR);
    assert!(plain.distinguishability.is_none());
    assert!(
        gauge(&plain) > 0,
        "the plain softmax has its translation gauge"
    );
    let fixed = verify(&format!("{SOFTMAX_LINEAR}[fixed]\nmean = \"0.2\"\n"));
    assert_eq!(gauge(&fixed), 0, "{:#?}", fixed.relations.cross);
    assert!(
        fixed.relations.cross.is_empty(),
        "{:#?}",
        fixed.relations.cross
    );
}

#[test]
fn the_fixed_component_enters_the_true_model() {
    // One learned atom and a fixed one: without [fixed] a normalized gate needs two atoms.
    let one_atom = SOFTMAX_LINEAR
        .split("[[atoms]]")
        .take(2)
        .collect::<Vec<_>>()
        .join("[[atoms]]");
    assert!(Case::parse(&one_atom, "one.toml").is_err());
    let v = verify(&format!("{one_atom}[fixed]\nmean = \"sin(3 * x[0])\"\n"));
    assert!(v.distinguishability.unwrap().test.distinguishable);
    // with f0 = the atom's own expert, u = w (e - f*) vanishes: nothing to identify
    let same = format!("{one_atom}[fixed]\nmean = \"1.5 * x[0] - 0.5\"\n");
    let v = verify(&same);
    assert_eq!(
        v.verdict.kind.name(),
        "degenerate",
        "{}",
        moeid::report::text::reason(&v.verdict.reason, &v.variables)
    );
}

#[test]
fn reports_carry_the_test() {
    let v = crate::util::verify("contaminated-2505.18455/gaussian.toml");
    let json = moeid::report::json::render(&v);
    assert_eq!(json["fixed"]["distinguishable"], true);
    assert_eq!(json["fixed"]["expressions"][1]["key"], "fixed.mean");
    assert!(v.summary().contains("fixed       distinguishable"));
    let plain = crate::util::verify("softmax-2503.03213/linear.toml");
    assert!(moeid::report::json::render(&plain).get("fixed").is_none());
}

#[test]
fn the_builder_writes_a_fixed_component_like_a_file() {
    use moeid::case::Model;
    let contaminated = |name: &str, f0: &str| {
        Case::builder(name, Model::Regression)
            .gate("exp(dot(beta1, x) + beta0)", true)
            .mean("dot(a, x) + b")
            .fixed("1", &[("mean", f0)])
            .vector("beta1", 1)
            .mass("beta0")
            .vector("a", 1)
            .scalar("b")
            .atom(&[
                ("beta1", &[1.0]),
                ("beta0", &[0.0]),
                ("a", &[-1.5]),
                ("b", &[0.5]),
            ])
            .build()
    };
    let built = contaminated("contaminated", "0.3 * x[0] - 0.2").unwrap();
    let file = crate::util::case("contaminated-2505.18455/linear-distinguishable.toml");
    let texts = |c: &Case| -> Vec<String> {
        c.fixed
            .iter()
            .flat_map(|f| f.expressions())
            .map(|e| e.text.clone())
            .collect()
    };
    assert_eq!(texts(&built), texts(&file));
    let a = moeid::verify(&built, &crate::util::verdict_only()).unwrap();
    let b = moeid::verify(&file, &crate::util::verdict_only()).unwrap();
    assert_eq!(a.distinguishability, b.distinguishability);
    // a parameter in the fixed component is refused, as in a file
    let err = contaminated("bad", "b * x[0]").unwrap_err();
    assert!(err.to_string().contains("bad.toml"), "{err}");
    let CaseError::Invalid { problems, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(problems[0].code, "moeid::case::fixed");
}

/// `SOFTMAX_LINEAR` with a fixed component mixed outside the gate with share `share`.
fn outside(share: &str, mean: &str) -> String {
    format!("{SOFTMAX_LINEAR}[fixed]\nproportion = {share}\nmean = \"{mean}\"\n")
}

#[test]
fn a_share_outside_the_gate_leaves_the_atoms_family_as_it_is() {
    // f = λ f0 + (1 − λ) f_G: the atoms' terms are those of f_G alone, so every rank and relation
    // is the plain case's; only the test of λ's direction is added.
    let plain = verify(SOFTMAX_LINEAR);
    let mixed = verify(&outside("0.3", "sin(3 * x[0])"));
    assert_eq!(plain.families, mixed.families);
    assert_eq!(plain.relations.cross.len(), mixed.relations.cross.len());
    assert!(
        mixed
            .relations
            .cross
            .iter()
            .all(|r| r.class == RelationClass::Gauge),
        "the softmax keeps its translation gauge: {:#?}",
        mixed.relations.cross
    );
    assert_eq!(plain.verdict.kind, mixed.verdict.kind);
    let d = mixed.distinguishability.unwrap();
    assert_eq!(d.proportion, Some(0.3));
    let first = d.first_order.as_ref().unwrap();
    assert!(first.distinguishable && d.test.distinguishable, "{d:?}");
    assert!(first.terms < d.test.terms, "{d:?}");
}

#[test]
fn a_share_is_lost_exactly_when_the_gated_experts_can_absorb_it() {
    // Regression, f0 equal to atom 2's linear expert: f = e2 + (1 − λ) p1 (e1 − e2), and a change
    // of λ is undone by scaling the line e1 − e2 — at any gate slopes.
    for slope in ["2.0", "-1.0"] {
        let text = outside("0.3", "-2.0 * x[0] + 0.3")
            .replace("beta1 = [2.0]", &format!("beta1 = [{slope}]"));
        let d = verify(&text).distinguishability.unwrap();
        assert!(d.proportion_lost(), "slope {slope}: {d:?}");
        assert!(d.first_order.as_ref().unwrap().residual < 1e-9, "{d:?}");
    }
    // Densities cannot be rescaled: g0 equal to the second Gaussian expert's density keeps its
    // share when the gate varies with x ((1 − λ) p1(x) is no softmax probability) ...
    let v = crate::util::verify("deviated-2402.05220/gaussian-proportion-overlap.toml");
    let d = v.distinguishability.as_ref().unwrap();
    assert!(!d.proportion_lost(), "{d:?}");
    assert_eq!(v.verdict.kind.name(), "interaction");
    // ... and loses it with a gate constant in x. The Gaussian experts are otherwise an
    // interaction: the lost share alone makes the verdict degenerate, and says so.
    let v = crate::util::verify("deviated-2402.05220/gaussian-proportion-constant-gate.toml");
    assert!(v.distinguishability.as_ref().unwrap().proportion_lost());
    assert_eq!(v.verdict.kind.name(), "degenerate");
    assert!(
        moeid::report::text::reason(&v.verdict.reason, &v.variables)
            .contains("share λ is not identifiable"),
        "{}",
        moeid::report::text::reason(&v.verdict.reason, &v.variables)
    );
    assert!(
        v.verdict
            .atoms
            .iter()
            .all(|a| a.kind == moeid::verdict::VerdictKind::Interaction),
        "{:?}",
        v.verdict.atoms
    );
    assert!(
        v.summary().contains("NOT distinguishable at first order"),
        "{}",
        v.summary()
    );
}

#[test]
fn an_unnormalized_gate_tests_f0_against_the_weighted_sum() {
    // f = λ f0 + (1 − λ) Σ w e: λ's direction is f0 − Σ w e. With f0 = 0 it is −Σ w e, a sum of
    // the columns u = w e of the atoms (each in the family through its mass).
    let unnormalized = SOFTMAX_LINEAR.replace("normalized = true", "normalized = false");
    let v = verify(&format!(
        "{unnormalized}[fixed]\nproportion = 0.5\nmean = \"0\"\n"
    ));
    let d = v.distinguishability.as_ref().unwrap();
    assert!(d.proportion_lost(), "{d:?}");
    assert_eq!(v.verdict.kind.name(), "degenerate");
    let v = verify(&format!(
        "{unnormalized}[fixed]\nproportion = 0.5\nmean = \"sin(3 * x[0])\"\n"
    ));
    assert!(!v.distinguishability.unwrap().proportion_lost());
}

#[test]
fn a_share_is_reported_and_built_like_a_file() {
    let v = crate::util::verify("deviated-2402.05220/gaussian-proportion.toml");
    let json = moeid::report::json::render(&v);
    assert_eq!(json["fixed"]["proportion"], 0.3);
    assert_eq!(json["fixed"]["first_order"]["distinguishable"], true);
    // the weight is not an expression of a component outside the gate
    assert_eq!(json["fixed"]["expressions"][0]["key"], "fixed.mean");
    let files = moeid::report::markdown::Files::of(&v.case.name, false, false);
    let page = moeid::report::markdown::page(&v, None, &files, "test");
    assert!(page.contains("$\\lambda^* = 0.3$"), "{page}");
    assert!(!page.contains("w_0(x)"), "{page}");
    // the in-gate cases carry no such keys
    let inside = crate::util::verify("deviated-2402.05220/gaussian-two-experts.toml");
    assert!(moeid::report::json::render(&inside)["fixed"]
        .get("proportion")
        .is_none());

    use moeid::case::Model;
    let built = Case::builder("deviated", Model::Gaussian)
        .gate("exp(dot(beta1, x) + beta0)", true)
        .mean("dot(a, x) + b")
        .variance("nu")
        .fixed_with_proportion(0.3, &[("mean", "0"), ("variance", "1")])
        .vector("beta1", 1)
        .mass("beta0")
        .vector("a", 1)
        .scalar("b")
        .scalar("nu")
        .atom(&[
            ("beta1", &[1.5]),
            ("beta0", &[0.0]),
            ("a", &[-1.0]),
            ("b", &[0.5]),
            ("nu", &[0.3]),
        ])
        .atom(&[
            ("beta1", &[-1.0]),
            ("beta0", &[-0.5]),
            ("a", &[2.0]),
            ("b", &[-0.5]),
            ("nu", &[0.5]),
        ])
        .build()
        .unwrap();
    assert_eq!(built.fixed.as_ref().unwrap().proportion, Some(0.3));
    let file = crate::util::case("deviated-2402.05220/gaussian-proportion.toml");
    let a = moeid::verify(&built, &crate::util::verdict_only()).unwrap();
    let b = moeid::verify(&file, &crate::util::verdict_only()).unwrap();
    assert_eq!(a.distinguishability, b.distinguishability);
}
