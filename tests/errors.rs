//! Every error a user can trigger: exit code 2 and a message naming the file, the place and
//! the fix (snapshots of the rendered diagnostics, uncolored, width 80).

use crate::util::Dir;

pub const BASE: &str = r#"model = "regression"

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

/// Appends `extra` to the base case.
fn plus(extra: &str) -> String {
    format!("{BASE}\n{extra}\n")
}

/// Every message of the case validator and the verifier's limits, one snapshot each (named
/// `every_message@NAME`): each names the file, points at the place and says what to do.
#[test]
fn every_message() {
    let multinomial = |inputs: &str| {
        BASE.replace(
            "model = \"regression\"",
            &format!("model = \"multinomial\"\n{inputs}"),
        )
        .replace(
            "mean = \"dot(a, x) + b\"",
            "logits = [\"dot(a, x) + b\", \"0\"]",
        )
    };
    let many_params = BASE
        .replace("a = { shape = [1] }", "a = { shape = [127] }")
        .replace("[1.5]", &format!("{:?}", vec![1.5; 127]))
        .replace("[-2.0]", &format!("{:?}", vec![-2.0; 127]))
        .replace("dot(a, x)", "sum(a) * x[0]");
    let top_k = |k: &str| {
        BASE.replace(
            "normalized = true\n",
            &format!("normalized = true\ntop_k = {k}\n"),
        )
    };
    let grouped = include_str!("../cases/softmax-2503.03213/hierarchical.toml");
    let cases: Vec<(&str, String)> = vec![
        ("missing_normalized", BASE.replace("normalized = true\n", "")),
        ("top_k_zero", top_k("0")),
        (
            "normalized_weight_not_positive",
            BASE.replace("exp(dot(beta1, x) + beta0)", "dot(beta1, x) + beta0"),
        ),
        (
            "input_box_of_infinite_width",
            BASE.replace(
                "[gate]",
                "[inputs]\ndim = 1\nlow = -1e308\nhigh = 1e308\n\n[gate]",
            ),
        ),
        (
            "mass_tied_to_the_expert",
            BASE.replace("mean = \"dot(a, x) + b\"", "mean = \"dot(a, x) + b * beta0\""),
        ),
        ("top_k_dense", top_k("2")),
        ("top_k_type", top_k("\"two\"")),
        ("missing_mean", BASE.replace("mean = \"dot(a, x) + b\"", "")),
        (
            "variance_in_regression",
            BASE.replace("mean = \"dot(a, x) + b\"", "mean = \"dot(a, x) + b\"\nvariance = \"b\""),
        ),
        (
            "logits_in_regression",
            BASE.replace("mean = \"dot(a, x) + b\"", "mean = \"dot(a, x) + b\"\nlogits = [\"b\"]"),
        ),
        ("multinomial_without_inputs", multinomial("")),
        ("multinomial_without_classes", multinomial("\n[inputs]\ndim = 1")),
        ("classes_out_of_range", multinomial("\n[inputs]\nclasses = 1")),
        ("classes_in_regression", plus("[inputs]\nclasses = 3")),
        ("dim_out_of_range", plus("[inputs]\ndim = 65")),
        ("empty_input_box", plus("[inputs]\nlow = 1.0\nhigh = -1.0")),
        ("unknown_expected_verdict", plus("[expect]\nverdict = \"identifiabel\"")),
        ("order_out_of_range", plus("[verify]\norder = 7")),
        ("negative_seed", plus("[verify]\nseed = -3")),
        ("negative_samples", plus("[verify]\nsamples = -3")),
        ("too_many_samples", plus("[verify]\nsamples = 300000")),
        (
            "matrix_too_large",
            // beta0 not declared a mass: the size check counts every term (70 per atom)
            BASE.replace("beta0 = { role = \"mass\" }", "beta0 = {}")
                + "\n[verify]\norder = 4\nsamples = 200000\n",
        ),
        ("wrong_toml_type", BASE.replace("normalized = true", "normalized = \"yes\"")),
        ("missing_toml_table", BASE.replace("[gate]", "[gait]")),
        ("reserved_parameter_name", BASE.replace("b = {}", "b = {}\nexp = {}")),
        ("vector_length_out_of_range", BASE.replace("a = { shape = [1] }", "a = { shape = [0] }")),
        ("matrix_parameter", BASE.replace("a = { shape = [1] }", "a = { shape = [2, 2] }")),
        ("unknown_role", BASE.replace("beta0 = { role = \"mass\" }", "beta0 = { role = \"massive\" }")),
        (
            "vector_mass",
            BASE.replace("beta1 = { shape = [1] }", "beta1 = { shape = [1], role = \"mass\" }"),
        ),
        (
            "no_parameters",
            BASE.replace("beta1 = { shape = [1] }\nbeta0 = { role = \"mass\" }\na = { shape = [1] }\nb = {}\n", ""),
        ),
        ("too_many_parameters", many_params),
        ("unused_parameter", BASE.replace("b = {}", "b = {}\nc = {}")),
        (
            "vector_valued_expression",
            BASE.replace("dot(a, x) + b", "a * (x[0] + b)")
                .replace("a = { shape = [1] }", "a = { shape = [2] }")
                .replace("[1.5]", "[1.5, 1.0]")
                .replace("[-2.0]", "[-2.0, 1.0]"),
        ),
        ("index_out_of_range", BASE.replace("dot(a, x) + b", "a[1] * x[0] + b")),
        ("nested_too_deep", BASE.replace("dot(a, x) + b", &format!("{}b{}", "(".repeat(70), ")".repeat(70)))),
        (
            "expression_too_long",
            BASE.replace(
                "mean = \"dot(a, x) + b\"",
                &format!("mean = \"\"\"\ndot(a, x){}\"\"\"", "\n + b + b + b + b + b".repeat(200)),
            ),
        ),
        ("bad_number", BASE.replace("dot(a, x) + b", "dot(a, x) + 1e999 * b")),
        ("wrong_arity", BASE.replace("dot(a, x) + b", "dot(a) + b")),
        (
            "group_parameter_in_the_expert_gate",
            grouped.replace("weight = \"exp(dot(beta1, x) + beta0)\"", "weight = \"exp(dot(beta1, x) + beta0 + gamma0)\""),
        ),
        (
            "per_expert_parameter_in_the_group_weight",
            grouped.replace("exp(dot(gamma1, x) + gamma0)", "exp(dot(gamma1, x) + gamma0 + b)"),
        ),
        ("groups_without_group_weight", grouped.replace("group_weight = \"exp(dot(gamma1, x) + gamma0)\"\n", "")),
        (
            "group_weight_without_groups",
            grouped.split("\n[[groups]]\n").next().unwrap().to_string()
                + "\n[[atoms]]\n"
                + grouped.split_once("\n[[atoms]]\n").unwrap().1,
        ),
        ("atom_without_group", grouped.replacen("group = 2\n", "", 1)),
        ("group_out_of_range", grouped.replacen("group = 2\n", "group = 3\n", 1)),
        ("group_without_value", grouped.replacen("gamma0 = 0.2\n", "", 1)),
        ("empty_group", grouped.replace("group = 2\n", "group = 1\n")),
        ("groups_unnormalized", grouped.replace("normalized = true", "normalized = false")),
        ("groups_with_top_k", grouped.replace("normalized = true", "normalized = true\ntop_k = 2")),
        (
            "only_group_parameters",
            grouped
                .replace("exp(dot(beta1, x) + beta0)", "1")
                .replace("tanh(dot(a, x) + b)", "x[0]")
                .replace("beta1 = { shape = [1] }\nbeta0 = { role = \"mass\" }\na = { shape = [1] }\nb = {}\n", "")
                .replace("beta1 = [2.0]\nbeta0 = 0.5\na = [1.5]\nb = -0.5\n", "")
                .replace("beta1 = [-0.6]\nbeta0 = -0.2\na = [-2.0]\nb = 0.3\n", "")
                .replace("beta1 = [0.8]\nbeta0 = 0.3\na = [0.8]\nb = 0.6\n", "")
                .replace("beta1 = [-1.2]\nbeta0 = 0.0\na = [-1.1]\nb = -0.4\n", ""),
        ),
        ("group_key_without_groups", BASE.replacen("[[atoms]]\n", "[[atoms]]\ngroup = 1\n", 1)),
        ("per_expert_value_in_shared", plus("[shared]\nb = 1.0")),
        ("unknown_name_in_shared", plus("[shared]\nzz = 1.0")),
        (
            "shared_parameter_without_value",
            BASE.replace("b = {}", "b = { role = \"shared\" }").replace("b = -0.5\n", "").replace("b = 0.3\n", ""),
        ),
        ("shared_value_in_an_atom", BASE.replace("b = {}", "b = { role = \"shared\" }") + "\n[shared]\nb = 1.0\n"),
        ("no_atoms", "atoms = []\n".to_string() + BASE.split("[[atoms]]").next().unwrap()),
        ("parameter_not_a_table", BASE.replace("b = {}", "b = []")),
        ("rates_replicates", plus("[rates]\nreplicates = 0")),
        ("rates_restarts", plus("[rates]\nrestarts = 1000")),
        ("rates_noise", plus("[rates]\nnoise = -1.0")),
        ("rates_tolerance", plus("[rates]\ntolerance = 0.0")),
        ("rates_fitted_range", plus("[rates]\nfitted = [1, 2]")),
        ("rates_fitted_empty", plus("[rates]\nfitted = []")),
        ("rates_n_grid", plus("[rates]\nn = \"1e5..1e3:4\"")),
        ("rates_n_type", plus("[rates]\nn = true")),
        ("rates_n_too_large", plus("[rates]\nn = [1000, 100000000]")),
        ("rates_seed", plus("[rates]\nseed = -1")),
        ("rates_unknown_exponent", plus("[rates]\nexponents = { zeta = 2 }")),
        ("rates_exponent_value", plus("[rates]\nexponents = { b = 0 }")),
        (
            "fixed_uses_a_parameter",
            plus("[fixed]\nmean = \"0.3 * x[0] + b\""),
        ),
        ("fixed_without_mean", plus("[fixed]\nweight = \"1\"")),
        (
            "fixed_variance_in_regression",
            plus("[fixed]\nmean = \"x[0]\"\nvariance = \"0.5\""),
        ),
        ("fixed_unknown_key", plus("[fixed]\nmean = \"x[0]\"\nscale = \"2\"")),
        (
            "fixed_logits_count",
            multinomial("\n[inputs]\nclasses = 2\n\n[fixed]\nlogits = [\"x[0]\"]"),
        ),
        ("fixed_proportion_range", plus("[fixed]\nproportion = 1.0\nmean = \"x[0]\"")),
        (
            "fixed_proportion_and_weight",
            plus("[fixed]\nproportion = 0.3\nweight = \"1\"\nmean = \"x[0]\""),
        ),
        (
            "fixed_proportion_one_normalized_atom",
            BASE.split("[[atoms]]").take(2).collect::<Vec<_>>().join("[[atoms]]")
                + "\n[fixed]\nproportion = 0.3\nmean = \"x[0]\"\n",
        ),
    ];
    for (name, text) in cases {
        let e = error_of(&text);
        assert!(
            e.contains("case.toml"),
            "{name} does not name the file: {e}"
        );
        assert!(!e.contains("panicked"), "{name}: {e}");
        insta::with_settings!({ snapshot_suffix => name, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("every_message", e);
        });
    }
}

#[test]
fn files_that_cannot_be_case_files() {
    let d = Dir::new();
    std::fs::write(d.path().join("big.toml"), vec![b'#'; 2 << 20]).unwrap();
    std::fs::write(d.path().join("binary.toml"), [0xff, 0xfe, 0x00, 0x41]).unwrap();
    for name in ["big.toml", "binary.toml"] {
        let run = d.run(&["verify", name]);
        assert_eq!(run.code(), 2, "{name}");
        insta::with_settings!({ snapshot_suffix => name, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("unreadable_file", run.stderr());
        });
    }
}

/// Every message of the command line (options, checkpoints, output files), one snapshot each
/// (`command_line@NAME`): exit code 2, the option or file named, the fix said.
#[test]
fn every_command_line_message() {
    let d = Dir::new();
    d.write("case.toml", BASE);
    let peer = std::fs::read_to_string(
        crate::util::root().join("cases/gaussian-2305.03288/softmax-gaussian-peer.toml"),
    )
    .unwrap();
    d.write("peer.toml", &peer);
    d.write(
        "unnormalized.toml",
        &peer.replace("normalized = true", "normalized = false"),
    );
    d.write("negative.toml", &peer.replace("nu = 0.16", "nu = -0.16"));
    d.write("fixed.toml", &plus("[fixed]\nmean = \"0.3 * x[0]\""));
    d.write(
        "top1.toml",
        &BASE.replace("normalized = true\n", "normalized = true\ntop_k = 1\n"),
    );
    d.write("junk.jsonl", "not json\n");
    d.write("a-file", "");
    std::fs::create_dir(d.path().join("empty")).unwrap();
    // a folder where the report page should go
    std::fs::create_dir_all(d.path().join("blocked/case.md")).unwrap();
    let quick = ["--fitted", "2", "--n", "300", "--replicates", "1"];
    let mut first = vec!["rates", "peer.toml", "--out", "run.jsonl"];
    first.extend(quick);
    assert_eq!(d.run(&first).code(), 0);

    let with_quick = |args: &[&'static str]| {
        let mut v = args.to_vec();
        v.extend(quick);
        v
    };
    // a fixed component is simulated and fitted (it was refused before): no error
    let fixed = d.run(&with_quick(&["rates", "fixed.toml"]));
    assert_eq!(fixed.code(), 0, "{}", fixed.stderr());
    assert!(fixed.stdout().contains("k = 2"), "{}", fixed.stdout());
    assert_eq!(d.run(&["rates", "plan", "fixed.toml"]).code(), 0);
    let runs: Vec<(&str, Vec<&str>)> = vec![
        (
            "verify_bad_order",
            vec!["verify", "case.toml", "--order", "9"],
        ),
        (
            "verify_unknown_option",
            vec!["verify", "case.toml", "--ordr", "2"],
        ),
        ("check_no_cases", vec!["check", "empty"]),
        ("rates_missing_case", vec!["rates", "nowhere.toml"]),
        ("rates_fitted", vec!["rates", "peer.toml", "--fitted", "1"]),
        (
            "rates_n_reversed",
            vec!["rates", "peer.toml", "--n", "1e5..1e3"],
        ),
        ("rates_n_words", vec!["rates", "peer.toml", "--n", "lots"]),
        (
            "rates_replicates",
            vec!["rates", "peer.toml", "--replicates", "0"],
        ),
        (
            "rates_restarts",
            vec!["rates", "peer.toml", "--restarts", "0"],
        ),
        (
            "rates_foreign_checkpoint",
            with_quick(&["rates", "peer.toml", "--out", "run.jsonl", "--seed", "7"]),
        ),
        (
            "rates_junk_checkpoint",
            with_quick(&["rates", "peer.toml", "--out", "junk.jsonl"]),
        ),
        (
            "rates_unnormalized_gaussian",
            with_quick(&["rates", "unnormalized.toml"]),
        ),
        (
            "rates_every_fit_failed",
            with_quick(&["rates", "negative.toml"]),
        ),
        ("rates_top_k", with_quick(&["rates", "top1.toml"])),
        ("new_exists", vec!["new", "case"]),
        (
            "new_cannot_write",
            vec!["new", "mine", "--out", "no/such/dir/mine.toml"],
        ),
        ("new_unknown_gate", vec!["new", "mine", "--gate", "sigmod"]),
        ("report_no_cases", vec!["report", "empty"]),
        (
            "report_out_is_a_file",
            vec!["report", "case.toml", "--out", "a-file"],
        ),
        (
            "report_page_cannot_be_written",
            vec!["report", "case.toml", "--out", "blocked"],
        ),
        (
            "rates_fit_too_large",
            vec!["rates", "peer.toml", "--n", "10000000", "--fitted", "10"],
        ),
        (
            "rates_checkpoint_is_a_folder",
            with_quick(&["rates", "peer.toml", "--out", "empty"]),
        ),
    ];
    for (name, args) in runs {
        let run = d.run(&args);
        assert_eq!(run.code(), 2, "{name}: {}\n{}", run.stdout(), run.stderr());
        let err = run.stderr();
        assert!(!err.contains("panicked"), "{name}: {err}");
        insta::with_settings!({ snapshot_suffix => name, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("command_line", err);
        });
    }
}

/// Parameters tied between gate and expert are written by using one per-expert parameter in
/// both; a renormalized sigmoid gate by `sigmoid(...)` with `normalized = true`. Both verify,
/// and the validation refuses their two mistakes (snapshots in `every_message`).
#[test]
fn tied_parameters_and_renormalized_sigmoid_gates_verify() {
    let tied = BASE.replace(
        "mean = \"dot(a, x) + b\"",
        "mean = \"dot(a, x) + b * beta1[0]\"",
    );
    let sigmoid = BASE.replace(
        "exp(dot(beta1, x) + beta0)",
        "sigmoid(dot(beta1, x) + beta0)",
    );
    for (what, text) in [("tied", tied), ("renormalized sigmoid", sigmoid)] {
        let case = moeid::Case::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let v = moeid::verify(&case, &crate::util::verdict_only());
        assert!(v.is_ok(), "{what}: {:?}", v.err());
    }
    // the tie is seen: the expert's mean moves with beta1 at each atom
    let case = moeid::Case::parse(
        &BASE.replace(
            "mean = \"dot(a, x) + b\"",
            "mean = \"dot(a, x) + b * beta1[0]\"",
        ),
        "t.toml",
    )
    .unwrap();
    let compiled = moeid::model::Compiled::new(&case);
    let beta1 = case
        .variables()
        .iter()
        .position(|n| n == "beta1[0]")
        .unwrap();
    assert!(compiled.mean.unwrap().params().contains(beta1));
}
