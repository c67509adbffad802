//! Issue "Reliability: no panic, hang or data loss on hostile inputs": one regression test per
//! defect the probe found, named after it.

use crate::util::{case, root, Dir};

fn peer(d: &Dir) -> &'static str {
    let text = std::fs::read_to_string(
        root().join("cases/gaussian-2305.03288/softmax-gaussian-peer.toml"),
    )
    .unwrap();
    d.write("peer.toml", &text);
    "peer.toml"
}

#[test]
fn reliability_a_foreign_file_given_to_out_is_left_byte_for_byte() {
    let d = Dir::new();
    let case = peer(&d);
    for text in ["line one\nline two", "one line without a newline", ""] {
        d.write("notes.txt", text);
        let run = d.run(&[
            "rates",
            case,
            "--n",
            "300..600:2",
            "--replicates",
            "1",
            "--out",
            "notes.txt",
        ]);
        if text.is_empty() {
            // an empty file is taken as a new checkpoint
            assert_eq!(run.code(), 0, "{}", run.stderr());
            continue;
        }
        assert_eq!(run.code(), 2, "{}", run.stderr());
        assert!(
            run.stderr().contains("not a moeid checkpoint"),
            "{}",
            run.stderr()
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("notes.txt")).unwrap(),
            text
        );
    }
}

#[test]
fn reliability_case_names_never_write_outside_out_and_never_twice() {
    let d = Dir::new();
    let text =
        std::fs::read_to_string(root().join("cases/softmax-2503.03213/linear.toml")).unwrap();
    d.write(
        "cases/evil.toml",
        &text.replace("name = \"softmax-linear\"", "name = \"../escaped\""),
    );
    d.write("cases/a.toml", &text);
    d.write("cases/b.toml", &text);
    d.write(
        "cases/index.toml",
        &text.replace("name = \"softmax-linear\"", "name = \"readme\""),
    );
    let run = d.run(&["report", "cases", "--out", "out"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let err = run.stderr();
    assert!(
        err.contains("evil.toml") && err.contains("`../escaped`"),
        "{err}"
    );
    assert!(err.contains("b.toml") && err.contains("a.toml"), "{err}");
    assert!(!d.path().join("escaped.md").exists());
    // a case named after the index page would overwrite it
    assert!(
        err.contains("index.toml") && err.contains("README.md is the index page"),
        "{err}"
    );
    let index = std::fs::read_to_string(d.path().join("out/README.md")).unwrap();
    assert!(index.contains("softmax-linear.md"), "{index}");
    assert!(d.path().join("out/softmax-linear.md").exists());
    // verify and check: two files with one name are an error naming both; the first is
    // printed, the second not (its verdict could not be told apart in text, JSON or check)
    std::fs::remove_file(d.path().join("cases/evil.toml")).unwrap();
    std::fs::remove_file(d.path().join("cases/index.toml")).unwrap();
    for command in ["verify", "check"] {
        let run = d.run(&[command, "cases", "--cells", "1"]);
        assert_eq!(run.code(), 2, "{command}: {}", run.stderr());
        let err = run.stderr();
        assert!(
            err.contains("b.toml: the case name `softmax-linear` is also the name of")
                && err.contains("a.toml"),
            "{command}: {err}"
        );
        assert_eq!(
            run.stdout().matches("softmax-linear").count(),
            1,
            "{}",
            run.stdout()
        );
    }
    // the same file given twice is no clash
    let twice = d.run(&[
        "verify",
        "cases/a.toml",
        "cases/../cases/a.toml",
        "--cells",
        "1",
    ]);
    assert_eq!(twice.code(), 0, "{}", twice.stderr());
    // moeid new: a name is a file name, not a path
    let new = d.run(&["new", "../../somewhere/x"]);
    assert_eq!(new.code(), 2);
    assert!(new.stderr().contains("--out"), "{}", new.stderr());
}

#[test]
fn reliability_an_expert_constant_in_all_its_parameters_does_not_panic() {
    let d = Dir::new();
    let text =
        std::fs::read_to_string(root().join("cases/softmax-2503.03213/linear.toml")).unwrap();
    d.write(
        "zero.toml",
        &text.replace("dot(a, x) + b", "0*dot(a, x) + 0*b"),
    );
    for order in ["1", "2"] {
        let run = d.run(&["verify", "zero.toml", "--order", order]);
        assert_eq!(run.code(), 0, "{}", run.stderr());
        assert!(run.stdout().contains("DEGENERATE"), "{}", run.stdout());
        assert!(!run.stderr().contains("panicked"));
    }
}

#[cfg(unix)]
#[test]
fn reliability_special_files_and_symlink_loops_neither_hang_nor_grow() {
    let d = Dir::new();
    let fifo = d.path().join("pipe.toml");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        let run = d.run(&["verify", "pipe.toml"]);
        assert_eq!(run.code(), 2);
        assert!(
            run.stderr().contains("not a regular file"),
            "{}",
            run.stderr()
        );
    }
    std::os::unix::fs::symlink("/dev/zero", d.path().join("zero.toml")).unwrap();
    let run = d.run(&["verify", "zero.toml"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("not a regular file"),
        "{}",
        run.stderr()
    );
    // a folder that links to its parent: each folder walked once
    std::fs::create_dir_all(d.path().join("tree/loop")).unwrap();
    std::os::unix::fs::symlink("..", d.path().join("tree/loop/up")).unwrap();
    let text =
        std::fs::read_to_string(root().join("cases/softmax-2503.03213/ffn-tanh.toml")).unwrap();
    d.write("tree/loop/c.toml", &text);
    let found = moeid::case::find(&[d.path().join("tree/loop")]);
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn reliability_the_library_returns_errors_for_cases_edited_into_nonsense() {
    let base = case("softmax-2503.03213/ffn-tanh.toml");
    let verdict_only = crate::util::verdict_only();
    let mut short = base.clone();
    short.atoms[1].pop();
    let mut no_mean = base.clone();
    no_mean.mean = None;
    let mut empty_box = base.clone();
    empty_box.low = 1.0;
    empty_box.high = -1.0;
    let mut nan_box = base.clone();
    nan_box.low = f64::NAN;
    let mut one_atom = base.clone();
    one_atom.atoms.truncate(1);
    let mut order = base.clone();
    order.order = 99;
    for (what, c) in [
        ("an atom one value short", short),
        ("no mean", no_mean),
        ("low > high", empty_box),
        ("NaN low", nan_box),
        ("one atom, normalized gate", one_atom),
        ("order 99", order),
    ] {
        let r = std::panic::catch_unwind(|| moeid::verify(&c, &verdict_only));
        match r {
            Ok(Err(e)) => assert!(!e.to_string().is_empty(), "{what}"),
            Ok(Ok(_)) => panic!("{what}: verified"),
            Err(_) => panic!("{what}: panicked"),
        }
        if what == "order 99" {
            continue; // the rate check does not use the analysed order
        }
        // the rate check's entry points refuse the same cases at the door
        let tiny = moeid::rates::RateOverrides {
            fitted: Some(vec![2]),
            n: Some(vec![200]),
            replicates: Some(1),
            ..Default::default()
        };
        let settings = moeid::rates::RateSettings::resolve(&base, &tiny, None);
        let quiet = moeid::rates::Progress::Quiet;
        let run = std::panic::catch_unwind(|| moeid::rates::run(&c, &settings, None, None, quiet));
        match run {
            Ok(Err(e)) => assert!(
                e.to_string().contains("does not fit its model"),
                "{what}: {e}"
            ),
            Ok(Ok(_)) => panic!("{what}: rates::run ran"),
            Err(_) => panic!("{what}: rates::run panicked"),
        }
        let check = std::panic::catch_unwind(|| moeid::rates::check(&c, &tiny, None, quiet));
        assert!(
            matches!(check, Ok(Err(_))),
            "{what}: rates::check did not return an error"
        );
    }
    let zero = moeid::Options {
        order: Some(0),
        ..verdict_only.clone()
    };
    assert!(moeid::verify(&base, &zero).is_err());
}

#[test]
fn reliability_rates_without_restarts_is_an_error() {
    let c = case("softmax-2503.03213/ffn-tanh.toml");
    let mut s = moeid::rates::RateSettings::resolve(&c, &Default::default(), None);
    s.restarts = 0;
    s.n = vec![200];
    s.replicates = 1;
    let e = moeid::rates::run(&c, &s, None, None, moeid::rates::Progress::Quiet).unwrap_err();
    assert!(e.to_string().contains("restart"), "{e}");
}

#[test]
fn reliability_numeric_helpers_on_bad_input_return() {
    let nan = nalgebra::DMatrix::from_element(5, 3, f64::NAN);
    let r = moeid::rank::analyse(&nan, &moeid::rank::Tolerance::default());
    assert_eq!(r.rank, 0);
    assert!(moeid::rates::slope::ols(&[1.0, 2.0, 3.0], &[1.0, 2.0]).is_nan());
    // three sizes and two rows of losses: no slope, not one from the shorter input
    let rows = vec![vec![1.0, 1.1], vec![0.5, 0.6]];
    assert!(moeid::rates::slope::slope(&[100, 200, 400], &rows, 10, 1).is_none());
    // an absurd resample count is capped, not an allocation failure
    let three = vec![vec![1.0, 1.1], vec![0.5, 0.6], vec![0.2, 0.3]];
    assert!(moeid::rates::slope::slope(&[100, 200, 400], &three, usize::MAX, 1).is_some());
}

/// The corpus found it: when several derivative terms are not finite, the one the message
/// names depended on which thread failed first. Now the first in term order, at any thread
/// count. (The corpus input, a `tanh(1e6·…)` gate, is finite since tanh is evaluated stably;
/// here `sqrt((beta1[0] - 2)^2)` at beta1[0] = 2 makes the second-order terms through beta1[0] NaN: ∞ × 0.)
#[test]
fn reliability_a_non_finite_family_names_the_same_term_at_any_thread_count() {
    let d = Dir::new();
    let text =
        std::fs::read_to_string(root().join("cases/softmax-2503.03213/linear.toml")).unwrap();
    let text = text.replace(
        "weight = \"exp(dot(beta1, x) + beta0)\"",
        "weight = \"exp(dot(beta1, x) + beta0) * (1 + sqrt((beta1[0] - 2)^2))\"",
    );
    assert!(text.contains("sqrt((beta1[0] - 2)^2)"));
    d.write("case.toml", &text);
    let mut messages = std::collections::BTreeSet::new();
    for threads in ["1", "2", "8", "2", "8"] {
        let run = d.run_env(&["verify", "case.toml"], &[("RAYON_NUM_THREADS", threads)]);
        assert_eq!(run.code(), 2, "{}", run.stdout());
        messages.insert(run.stderr());
    }
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let message = messages.into_iter().next().unwrap();
    assert!(message.contains("∂²u/∂beta1[0]² at atom 1 is"), "{message}");
    assert!(message.contains("`sqrt((beta1[0] - 2)^2)`"), "{message}");
}

/// Long analyses have a cap: past `--max-seconds` the cases still running are named and the
/// run ends with exit code 2 (the whole catalogue takes far longer than a second here).
#[test]
fn reliability_verify_stops_at_max_seconds_naming_what_still_runs() {
    let started = std::time::Instant::now();
    let run = crate::util::Dir::run_in(
        &root(),
        &["verify", "cases/", "--max-seconds", "1", "--format", "json"],
    );
    let took = started.elapsed();
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("still running after --max-seconds 1"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains(".toml"), "{}", run.stderr());
    assert!(took.as_secs() < 15, "{took:?}");
    // what was printed before the cap is whole lines of JSON
    for line in run.stdout().lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    // an invalid cap is refused by the parser
    let zero = Dir::new().run(&["verify", "x.toml", "--max-seconds", "0"]);
    assert_eq!(zero.code(), 2);
}

#[test]
fn reliability_verify_reports_its_cost_before_and_its_progress_while_running() {
    let c = case("gaussian-2305.03288/softmax-gaussian-peer.toml");
    let progress = std::sync::Arc::new(moeid::Progress::new());
    assert_eq!(progress.steps(), (0, 0));
    let options = moeid::Options {
        progress: Some(progress.clone()),
        ..moeid::Options::default()
    };
    let cost = moeid::cost(&c, &options).unwrap();
    let v = moeid::verify(&c, &options).unwrap();
    // the sizes announced are the sizes used
    assert_eq!(cost.samples, v.counts.samples);
    assert_eq!((cost.atoms, cost.params, cost.order), (2, 5, v.order));
    let joint = v.families.iter().find(|f| f.atom.is_none()).unwrap();
    assert!(cost.terms >= joint.terms, "{cost:?} vs {}", joint.terms);
    assert!(0.0 < cost.seconds.0 && cost.seconds.0 < cost.seconds.1);
    // every planned step was taken, and the last stage is the end
    let (done, total) = progress.steps();
    assert_eq!(done, total);
    assert_eq!(total, 1 + 2 * v.order + 3);
    assert_eq!(progress.stage(), "done");
    // a bigger design is estimated to cost more; what verify refuses, cost refuses
    let order3 = moeid::Options {
        order: Some(3),
        ..moeid::Options::default()
    };
    assert!(moeid::cost(&c, &order3).unwrap().seconds.1 > cost.seconds.1);
    let order9 = moeid::Options {
        order: Some(9),
        ..moeid::Options::default()
    };
    assert!(moeid::cost(&c, &order9).is_err());
}

#[test]
fn reliability_verify_estimate_prints_sizes_and_runs_nothing() {
    let d = Dir::new();
    let case = peer(&d);
    let run = d.run(&["verify", "--estimate", case]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    assert!(
        out.starts_with("peer.toml: 2 atoms × 5 parameters at order 2 → ") && out.contains(" to "),
        "{out}"
    );
    let run = d.run(&[
        "verify",
        "--estimate",
        "--format",
        "json",
        "--order",
        "3",
        case,
    ]);
    let j: serde_json::Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(j["order"], 3);
    assert!(j["seconds_high"].as_f64().unwrap() > j["seconds_low"].as_f64().unwrap());
    d.write("bad.toml", "model = \"regression\"\n");
    let run = d.run(&["verify", "--estimate", "bad.toml"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("bad.toml"), "{}", run.stderr());
}

/// The audit found it: `sqrt(b)` at b = 0 has an infinite derivative in b only, but the AD
/// multiplied it by the zero derivative part of every other direction, and the NaN was blamed on
/// the first term evaluated (`∂u/∂beta1[0]`). A function of a constant is now a constant.
#[test]
fn reliability_a_singular_derivative_is_blamed_on_its_own_parameter() {
    let d = Dir::new();
    let text =
        std::fs::read_to_string(root().join("cases/softmax-2503.03213/ffn-tanh.toml")).unwrap();
    let text = text.replace(
        "mean = \"tanh(dot(a, x) + b)\"",
        "mean = \"tanh(dot(a, x)) + sqrt(b)\"",
    );
    // the first atom's b (the second `b = ` line; the first declares the parameter)
    let mut seen = 0;
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("b = ") {
                seen += 1;
                if seen == 2 {
                    return "b = 0.0".to_string();
                }
            }
            l.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("sqrt(b)") && text.contains("b = 0.0"),
        "{text}"
    );
    d.write("case.toml", &text);
    let run = d.run(&["verify", "case.toml"]);
    assert_eq!(run.code(), 2, "{}", run.stdout());
    assert!(run.stderr().contains("∂u/∂b at atom 1"), "{}", run.stderr());
    // and on the sub-expression that made it, as written
    assert!(
        run.stderr().contains("first turns non-finite in `sqrt(b)`"),
        "{}",
        run.stderr()
    );
}

/// The audit found it: a saturated `tanh` unit (a = 400: arguments up to ±400) made every
/// derivative NaN (num-dual's tanh is sinh/cosh, ∞/∞), blamed on `∂u/∂beta1[0]`. The values
/// are finite, so the case is analysed.
#[test]
fn reliability_a_saturated_tanh_is_analysed_not_nan() {
    let d = Dir::new();
    let text =
        std::fs::read_to_string(root().join("cases/softmax-2503.03213/ffn-tanh.toml")).unwrap();
    let text = text.replacen("a = [1.5]", "a = [400.0]", 1);
    assert!(text.contains("a = [400.0]"), "{text}");
    d.write("case.toml", &text);
    let run = d.run(&["verify", "case.toml", "--cells", "1"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(!run.stdout().contains("NaN"), "{}", run.stdout());
}

/// The audit found it: a format-1 checkpoint (records without checksums, still read) accepted
/// edited records silently. They are still read — they are the user's fits — but the summary
/// says how many were taken on trust and how to have them checked.
#[test]
fn reliability_records_without_checksums_are_counted_not_silently_trusted() {
    let d = Dir::new();
    let case = peer(&d);
    let args = [
        "rates",
        case,
        "--n",
        "300..600:2",
        "--replicates",
        "1",
        "--out",
        "c.jsonl",
    ];
    let first = d.run(&args);
    assert_eq!(first.code(), 0, "{}", first.stderr());
    assert!(!first.stdout().contains("without a checksum"));
    // the same file as an older moeid wrote it: format 1, no checksums
    let text = std::fs::read_to_string(d.path().join("c.jsonl")).unwrap();
    let old: String = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            if o.contains_key("moeid_checkpoint") {
                o.insert("moeid_checkpoint".into(), 1.into());
            }
            o.remove("checksum");
            v.to_string() + "\n"
        })
        .collect();
    let records = old.lines().count() - 1;
    assert!(records > 0);
    d.write("c.jsonl", &old);
    let again = d.run(&args);
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert!(
        again
            .stdout()
            .contains(&format!("{records} checkpoint records without a checksum")),
        "{}",
        again.stdout()
    );
}
