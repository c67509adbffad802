//! Every error a user can trigger: exit code 2 and a message naming the file, the place and
//! the fix (snapshots of the rendered diagnostics, uncolored, width 80).

use crate::util::Dir;

const BASE: &str = r#"model = "regression"

[gate]
weight = "exp(dot(beta1, x) + beta0)"
normalized = true

[expert]
mean = "dot(a, x) + b"

[params]
beta1 = { shape = [1] }
beta0 = { role = "mass" }
a = { shape = [1] }
b = {}

[[atoms]]
beta1 = [2.0]
beta0 = 0.5
a = [1.5]
b = -0.5

[[atoms]]
beta1 = [-1.0]
beta0 = 0.0
a = [-2.0]
b = 0.3
"#;

/// Runs `moeid verify case.toml` on `text` and returns stderr, asserting exit code 2.
#[track_caller]
fn error_of(text: &str) -> String {
    let d = Dir::new();
    d.write("case.toml", text);
    let run = d.run(&["verify", "case.toml"]);
    assert_eq!(
        run.code(),
        2,
        "stdout: {}\nstderr: {}",
        run.stdout(),
        run.stderr()
    );
    assert!(run.stdout().is_empty(), "{}", run.stdout());
    run.stderr()
}

#[test]
fn unknown_key() {
    let e = error_of(&BASE.replace("normalized = true", "normalized = true\nnormalised = true"));
    assert!(e.contains("case.toml"), "{e}");
    insta::assert_snapshot!(e);
}

#[test]
fn toml_syntax() {
    insta::assert_snapshot!(error_of(&BASE.replace("b = {}", "b = {")));
}

#[test]
fn expression_syntax_has_a_caret_under_the_column() {
    insta::assert_snapshot!(error_of(&BASE.replace("dot(a, x) + b", "dot(a, x) + * b")));
}

#[test]
fn unknown_name_lists_the_declared_ones() {
    insta::assert_snapshot!(error_of(&BASE.replace("dot(beta1, x)", "dot(betta1, x)")));
}

#[test]
fn unknown_function_suggests_the_nearest() {
    insta::assert_snapshot!(error_of(&BASE.replace("exp(dot", "expp(dot")));
}

#[test]
fn shape_mismatch_names_the_subexpression() {
    insta::assert_snapshot!(error_of(
        &BASE
            .replace("dot(a, x) + b", "a * x + b")
            .replace("a = { shape = [1] }", "a = { shape = [2] }")
    ));
}

#[test]
fn atom_values_are_checked() {
    insta::assert_snapshot!(error_of(
        &BASE
            .replace("a = [1.5]\n", "")
            .replace("beta1 = [-1.0]", "beta1 = [-1.0, 2.0]")
    ));
}

#[test]
fn several_problems_are_listed_together() {
    let e = error_of(
        &BASE
            .replace("model = \"regression\"", "model = \"regresion\"")
            .replace("b = 0.3", "c = 0.3"),
    );
    assert!(
        e.contains("unknown model `regresion`") && e.contains("`c` is not a declared parameter"),
        "{e}"
    );
    insta::assert_snapshot!(e);
}

#[test]
fn non_finite_values_name_the_term_and_sample() {
    let text = BASE.replace("dot(a, x) + b", "log(dot(a, x) + b)");
    insta::assert_snapshot!(error_of(&text));
}

#[test]
fn normalized_gate_with_one_atom() {
    let one = BASE.split("[[atoms]]\nbeta1 = [-1.0]").next().unwrap();
    insta::assert_snapshot!(error_of(one));
}

#[test]
fn too_many_terms_suggests_a_lower_order() {
    let text = BASE
        .replace("shape = [1]", "shape = [8]")
        .replace("[2.0]", "[2.0, 1, 1, 1, 1, 1, 1, 1]")
        .replace("[-1.0]", "[-1.0, 1, 1, 1, 1, 1, 1, 1]")
        .replace("[1.5]", "[1.5, 1, 1, 1, 1, 1, 1, 1]")
        .replace("[-2.0]", "[-2.0, 1, 1, 1, 1, 1, 1, 1]")
        + "\n[inputs]\ndim = 8\n[verify]\norder = 4\n";
    insta::assert_snapshot!(error_of(&text));
}

#[test]
fn too_few_samples() {
    insta::assert_snapshot!(error_of(&(BASE.to_string() + "\n[verify]\nsamples = 10\n")));
}

#[test]
fn multinomial_needs_one_logit_per_class() {
    let text = BASE
        .replace(
            "model = \"regression\"",
            "model = \"multinomial\"\n\n[inputs]\nclasses = 3",
        )
        .replace(
            "mean = \"dot(a, x) + b\"",
            "logits = [\"dot(a, x) + b\", \"0\"]",
        );
    insta::assert_snapshot!(error_of(&text));
}

#[test]
fn missing_file() {
    let d = Dir::new();
    let run = d.run(&["verify", "nowhere.toml"]);
    assert_eq!(run.code(), 2);
    insta::assert_snapshot!(run.stderr());
}

#[test]
fn empty_directory() {
    let d = Dir::new();
    std::fs::create_dir(d.path().join("empty")).unwrap();
    let run = d.run(&["verify", "empty"]);
    assert_eq!(run.code(), 2);
    insta::assert_snapshot!(run.stderr());
}

#[test]
fn bad_command_line() {
    let d = Dir::new();
    let run = d.run(&["verify", "x.toml", "--order", "9"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("--order"), "{}", run.stderr());
}

#[test]
fn no_input_panics() {
    // A grab bag of hostile files: every one is an error (exit 2) with a message, never a panic.
    let bad = [
        "",
        "model = 3",
        "[[atoms]]\n[[atoms]]",
        &BASE.replace(
            "exp(dot(beta1, x) + beta0)",
            &("(".repeat(500) + "x" + &")".repeat(500)),
        ),
        &BASE.replace(
            "exp(dot(beta1, x) + beta0)",
            "exp(dot(beta1, x) + beta0)^1e308",
        ),
        &BASE.replace("beta0 = 0.5", "beta0 = 1e308"),
        &BASE.replace("b = 0.3", "b = nan"),
        &BASE.replace("shape = [1]", "shape = [-1]"),
        &BASE.replace("shape = [1]", "shape = [1, 2]"),
        &(BASE.to_string() + "\n[inputs]\nlow = 1.0\nhigh = -1.0\n"),
        &(BASE.to_string() + "\n[verify]\norder = 0\nseed = -1\n"),
        "\u{0}\u{1}garbage",
    ];
    let d = Dir::new();
    for (i, text) in bad.iter().enumerate() {
        d.write(&format!("bad{i}.toml"), text);
        let run = d.run(&["verify", &format!("bad{i}.toml")]);
        assert_eq!(
            run.code(),
            2,
            "case {i}: {}\n{}",
            run.stdout(),
            run.stderr()
        );
        assert!(
            !run.stderr().contains("panicked"),
            "case {i}: {}",
            run.stderr()
        );
        assert!(
            run.stderr().contains(&format!("bad{i}.toml")),
            "case {i} does not name the file: {}",
            run.stderr()
        );
    }
}
