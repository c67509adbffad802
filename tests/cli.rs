//! The command line as a user runs it.

use crate::util::{root, Dir};

fn copy_case(d: &Dir, name: &str) -> String {
    let text = std::fs::read_to_string(root().join("cases").join(name)).unwrap();
    d.write(name, &text);
    name.to_string()
}

#[test]
fn verify_prints_a_verdict_per_case() {
    let d = Dir::new();
    copy_case(&d, "softmax-2503.03213/linear.toml");
    copy_case(&d, "softmax-2503.03213/ffn-tanh.toml");
    let run = d.run(&["verify", "."]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    assert!(
        out.contains("softmax-linear: INTERACTION at order 2"),
        "{out}"
    );
    assert!(
        out.contains("softmax-ffn-tanh: IDENTIFIABLE at order 2"),
        "{out}"
    );
    assert!(out.contains("∂²u/∂a[0]² = 0"), "{out}");
}

#[test]
fn json_has_one_object_per_case_with_the_documented_fields() {
    let d = Dir::new();
    copy_case(&d, "softmax-2503.03213/linear.toml");
    copy_case(&d, "gaussian-2305.03288/softmax-gaussian.toml");
    let run = d.run(&["verify", ".", "--format", "json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let lines: Vec<serde_json::Value> = run
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for v in &lines {
        for key in [
            "case",
            "verdict",
            "order",
            "families",
            "relations",
            "predicted",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        let fam = &v["families"][0];
        for key in ["order", "terms", "rank"] {
            assert!(fam.get(key).is_some(), "families lack {key}");
        }
        for r in v["relations"].as_array().unwrap() {
            for key in ["class", "structural", "text", "terms"] {
                assert!(r.get(key).is_some(), "relations lack {key}");
            }
            for t in r["terms"].as_array().unwrap() {
                assert!(t["atom"].is_u64() && t["d"].is_array() && t["coef"].is_f64());
            }
        }
    }
    let gauss = lines
        .iter()
        .find(|v| v["case"] == "gaussian-softmax-gaussian")
        .unwrap();
    let heat = gauss["relations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["text"] == "∂²u/∂b² = 2·∂u/∂nu")
        .expect("heat relation");
    assert_eq!(heat["class"], "interaction");
    assert_eq!(heat["terms"][0]["d"], serde_json::json!(["b", "b"]));
    assert_eq!(heat["terms"][1]["d"], serde_json::json!(["nu"]));
    assert!((heat["terms"][1]["coef"].as_f64().unwrap() + 2.0).abs() < 1e-9);
}

#[test]
fn options_override_the_case() {
    let d = Dir::new();
    copy_case(&d, "softmax-2503.03213/linear.toml");
    let run = d.run(&[
        "verify",
        "softmax-2503.03213/linear.toml",
        "--order",
        "1",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(v["order"], 1);
    // linear experts are identifiable at order 1: the interaction lives at order 2
    assert_eq!(v["verdict"], "identifiable");
}

#[test]
fn check_passes_and_fails_with_the_difference_printed() {
    let d = Dir::new();
    copy_case(&d, "softmax-2503.03213/ffn-tanh.toml");
    let run = d.run(&["check", "."]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    assert!(run
        .stdout()
        .contains("ok    softmax-ffn-tanh: identifiable"));
    let text = std::fs::read_to_string(d.path().join("softmax-2503.03213/ffn-tanh.toml")).unwrap();
    d.write(
        "softmax-2503.03213/ffn-tanh.toml",
        &text.replace("verdict = \"identifiable\"", "verdict = \"interaction\""),
    );
    let run = d.run(&["check", "."]);
    assert_eq!(run.code(), 1);
    let out = run.stdout();
    assert!(
        out.contains("FAIL  softmax-ffn-tanh: expected interaction, found identifiable"),
        "{out}"
    );
    assert!(out.contains("why:"), "{out}");
    assert!(out.contains("0 as expected, 1 changed"), "{out}");
}

#[test]
fn json_is_identical_for_one_and_two_threads_and_across_runs() {
    let d = Dir::new();
    for name in [
        "gaussian-2305.03288/softmax-gaussian.toml",
        "theory/sigmoid-euclidean-squared.toml",
        "routers/cosine.toml",
    ] {
        copy_case(&d, name);
    }
    let one = d.run_env(
        &["verify", ".", "--format", "json"],
        &[("RAYON_NUM_THREADS", "1")],
    );
    let two = d.run_env(
        &["verify", ".", "--format", "json"],
        &[("RAYON_NUM_THREADS", "2")],
    );
    let again = d.run_env(
        &["verify", ".", "--format", "json"],
        &[("RAYON_NUM_THREADS", "2")],
    );
    assert_eq!(one.code(), 0);
    assert_eq!(one.stdout(), two.stdout());
    assert_eq!(two.stdout(), again.stdout());
}

#[test]
fn errors_do_not_stop_other_cases() {
    let d = Dir::new();
    copy_case(&d, "softmax-2503.03213/ffn-tanh.toml");
    d.write("broken.toml", "model = \"regression\"");
    let run = d.run(&["verify", "."]);
    assert_eq!(run.code(), 2);
    assert!(run.stdout().contains("softmax-ffn-tanh: IDENTIFIABLE"));
    assert!(run.stderr().contains("broken.toml"));
}

#[test]
fn new_writes_a_case_that_verifies_and_never_overwrites() {
    let d = Dir::new();
    let run = d.run(&["new", "my-gate", "--gate", "sigmoid", "--expert", "gelu"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stdout().contains("wrote my-gate.toml"));
    let text = std::fs::read_to_string(d.path().join("my-gate.toml")).unwrap();
    assert!(text.contains("weight = \"sigmoid(dot(beta1, x) + beta0)\""));
    assert!(text.contains("mean = \"gelu(dot(a, x) + b)\""));
    let run = d.run(&["verify", "my-gate.toml"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stdout().starts_with("my-gate: "), "{}", run.stdout());
    // a second `new` refuses to overwrite
    let run = d.run(&["new", "my-gate"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("already exists"), "{}", run.stderr());
    assert_eq!(
        std::fs::read_to_string(d.path().join("my-gate.toml")).unwrap(),
        text
    );
}
