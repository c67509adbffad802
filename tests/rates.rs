//! `moeid rates` as a user runs it: determinism across thread counts, resuming after kill -9,
//! refused checkpoints and bad options.

use crate::util::{root, Dir};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PEER: &str = "cases/gaussian-2305.03288/softmax-gaussian-peer.toml";

fn peer(d: &Dir) -> String {
    let text = std::fs::read_to_string(root().join(PEER)).unwrap();
    d.write("peer.toml", &text);
    "peer.toml".into()
}

/// Small sweep settings: both fitted sizes, three sizes, three replicates.
const SMALL: [&str; 6] = ["--fitted", "2,3", "--n", "300..1200:3", "--replicates", "3"];

/// The peer case with `from` replaced by `to` (which must occur), written as `name`.
fn peer_edited(d: &Dir, name: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(root().join(PEER)).unwrap();
    assert!(text.contains(from), "{from}");
    d.write(name, &text.replace(from, to));
}

fn json(run: &crate::util::Run) -> serde_json::Value {
    assert_eq!(run.code(), 0, "{}", run.stderr());
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

/// The summary without the reproduce command (which names the checkpoint file).
fn summary(run: &crate::util::Run) -> serde_json::Value {
    let mut v = json(run);
    v.as_object_mut().unwrap().remove("command");
    v
}

#[test]
fn rates_json_is_identical_for_one_and_two_threads_and_across_runs() {
    let d = Dir::new();
    let case = peer(&d);
    let mut args = vec!["rates", case.as_str(), "--format", "json"];
    args.extend(SMALL);
    let one = d.run_env(&args, &[("RAYON_NUM_THREADS", "1")]);
    let two = d.run_env(&args, &[("RAYON_NUM_THREADS", "2")]);
    let again = d.run_env(&args, &[("RAYON_NUM_THREADS", "2")]);
    let v = json(&one);
    assert_eq!(one.stdout(), two.stdout());
    assert_eq!(two.stdout(), again.stdout());
    // the summary is real: both sizes, every fit counted
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["fits"]["total"], 9);
        assert_eq!(row["points"].as_array().unwrap().len(), 3);
    }
}

#[test]
fn a_checkpoint_cut_anywhere_resumes_to_the_same_summary() {
    let d = Dir::new();
    let case = peer(&d);
    let mut args = vec![
        "rates",
        case.as_str(),
        "--format",
        "json",
        "--out",
        "full.jsonl",
    ];
    args.extend(SMALL);
    let full = d.run(&args);
    let reference = summary(&full);
    let bytes = std::fs::read(d.path().join("full.jsonl")).unwrap();
    // the header, then one line per fit
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 19);
    // a run killed mid-write leaves a prefix of the file, cut anywhere (even inside a line)
    for cut in [0, 1, bytes.len() / 3, bytes.len() / 2 + 7, bytes.len() - 2] {
        std::fs::write(d.path().join("cut.jsonl"), &bytes[..cut]).unwrap();
        let mut resumed_args = vec![
            "rates",
            case.as_str(),
            "--format",
            "json",
            "--out",
            "cut.jsonl",
        ];
        resumed_args.extend(SMALL);
        let resumed = d.run(&resumed_args);
        assert_eq!(summary(&resumed), reference, "cut at byte {cut}");
        let lines = std::fs::read_to_string(d.path().join("cut.jsonl")).unwrap();
        assert_eq!(
            lines.lines().count(),
            19,
            "cut at byte {cut}: the header and one line per fit"
        );
    }
    // a complete checkpoint: nothing left to fit, same summary
    let again = d.run(&args);
    assert_eq!(summary(&again), reference);
}

#[test]
fn a_run_killed_with_sigkill_resumes_to_the_same_summary() {
    let d = Dir::new();
    let case = peer(&d);
    let settings = [
        "--fitted",
        "2,3",
        "--n",
        "2000..20000:4",
        "--replicates",
        "6",
    ];
    let mut args = vec!["rates", case.as_str(), "--format", "json"];
    args.extend(settings);
    let uninterrupted = json(&d.run(&args));
    let total = 2 * 4 * 6;

    let mut with_out = args.clone();
    with_out.extend(["--out", "killed.jsonl"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_moeid"))
        .args(&with_out)
        .current_dir(d.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let file = d.path().join("killed.jsonl");
    let start = Instant::now();
    let count = || std::fs::read_to_string(&file).map_or(0, |t| t.matches('\n').count());
    // the header, then at least two fits
    while count() < 3 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL on Unix; it fails only if the run already ended, which the assert catches
    let _ = child.kill();
    let _ = child.wait();
    let fits_at_kill = count() - 1;
    assert!(
        (2..total).contains(&fits_at_kill),
        "killed after {fits_at_kill} of {total} fits"
    );
    let resumed = d.run(&with_out);
    let mut resumed = summary(&resumed);
    let mut uninterrupted = uninterrupted;
    resumed.as_object_mut().unwrap().remove("command");
    uninterrupted.as_object_mut().unwrap().remove("command");
    assert_eq!(resumed, uninterrupted);
}

#[test]
fn a_checkpoint_of_an_older_protocol_with_the_same_command_says_to_move_it_away() {
    let d = Dir::new();
    let case = peer(&d);
    let mut args = vec!["rates", case.as_str(), "--out", "c.jsonl"];
    args.extend(SMALL);
    assert_eq!(d.run(&args).code(), 0);
    // what a checkpoint written before the start protocol changed looks like
    let path = d.path().join("c.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let v: serde_json::Value = serde_json::from_str(&header).unwrap();
    let old = v["fingerprint"].as_str().unwrap().to_string();
    std::fs::write(&path, text.replacen(&old, "0123456789abcdef", 1)).unwrap();
    let run = d.run(&args);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("same command but other settings")
            && run.stderr().contains("move it away"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_checkpoint_of_another_run_is_refused() {
    let d = Dir::new();
    let case = peer(&d);
    let mut args = vec!["rates", case.as_str(), "--out", "c.jsonl"];
    args.extend(SMALL);
    assert_eq!(d.run(&args).code(), 0);
    args.extend(["--seed", "7"]);
    let run = d.run(&args);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("c.jsonl")
            && run.stderr().contains("holds another run")
            && run.stderr().contains("--seed 1 --out c.jsonl"),
        "{}",
        run.stderr()
    );
    d.write("junk.jsonl", "not json\n");
    let run = d.run(&[
        "rates",
        case.as_str(),
        "--out",
        "junk.jsonl",
        "--n",
        "300",
        "--replicates",
        "1",
    ]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("junk.jsonl") && run.stderr().contains("not a moeid checkpoint"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("junk.jsonl")).unwrap(),
        "not json\n"
    );
}

/// Issue "The rate check as an arbiter": `--n 1e3..3e3:2 --replicates 3` printed "agrees" on
/// no evidence. Two sizes leave one in the window: inconclusive, with the reason.
#[test]
fn a_tiny_grid_is_inconclusive() {
    let d = Dir::new();
    let case = peer(&d);
    let run = d.run(&[
        "rates",
        &case,
        "--n",
        "1e3..3e3:2",
        "--replicates",
        "3",
        "--format",
        "json",
    ]);
    let v = json(&run);
    for row in v["rows"].as_array().unwrap() {
        assert_eq!(row["agreement"], "inconclusive", "{row}");
        assert!(!row["why"].as_str().unwrap().is_empty());
    }
}

/// A checkpoint remembers its run: resuming with other sizes is refused with the command that
/// resumes the stored run, and that command, run from scratch, writes the same header and
/// records, byte for byte.
#[test]
fn the_reproduce_command_rewrites_the_checkpoint_byte_for_byte() {
    let d = Dir::new();
    let case = peer(&d);
    let mut args = vec!["rates", case.as_str(), "--out", "a.jsonl"];
    args.extend(SMALL);
    assert_eq!(d.run(&args).code(), 0);
    let first = std::fs::read(d.path().join("a.jsonl")).unwrap();
    let header: serde_json::Value =
        serde_json::from_str(std::str::from_utf8(&first).unwrap().lines().next().unwrap()).unwrap();
    let command = header["command"].as_str().unwrap().to_string();
    assert!(
        command.starts_with("moeid rates peer.toml --fitted 2,3 --n "),
        "{command}"
    );
    // other settings into the same file: refused, the file unchanged
    let mixed = d.run(&[
        "rates",
        &case,
        "--n",
        "300..900:3",
        "--replicates",
        "3",
        "--out",
        "a.jsonl",
    ]);
    assert_eq!(mixed.code(), 2);
    assert!(mixed.stderr().contains(&command), "{}", mixed.stderr());
    assert_eq!(std::fs::read(d.path().join("a.jsonl")).unwrap(), first);
    // the command from scratch: the same bytes
    std::fs::remove_file(d.path().join("a.jsonl")).unwrap();
    let words: Vec<&str> = command.split_whitespace().skip(1).collect();
    assert_eq!(d.run(&words).code(), 0);
    // Fits run in parallel and are appended as they finish: the header and every record are
    // the same bytes, in the order the threads finished them.
    let records = |bytes: &[u8]| {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines[1..].sort();
        lines
    };
    let again = std::fs::read(d.path().join("a.jsonl")).unwrap();
    assert_eq!(records(&again), records(&first));
}

#[test]
fn bad_options_name_the_option_and_the_fix() {
    let d = Dir::new();
    let case = peer(&d);
    for (args, expect) in [
        (
            vec!["--fitted", "1"],
            "--fitted 1: the case has 2 true atoms",
        ),
        (vec!["--n", "1e5..1e3"], "--n"),
        (vec!["--n", "lots"], "--n 1e3..1e5:12"),
        (vec!["--replicates", "0"], "--replicates 0: use 1 to"),
    ] {
        let mut all = vec!["rates", case.as_str()];
        all.extend(args.iter().copied());
        let run = d.run(&all);
        assert_eq!(run.code(), 2, "{args:?}");
        assert!(run.stderr().contains(expect), "{args:?}: {}", run.stderr());
    }
}

#[test]
fn an_unnormalized_gaussian_mixture_is_refused_with_the_fix() {
    let d = Dir::new();
    peer_edited(&d, "u.toml", "normalized = true", "normalized = false");
    let run = d.run(&["rates", "u.toml", "--n", "300", "--replicates", "1"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("normalized = true"),
        "{}",
        run.stderr()
    );
}

#[test]
fn fits_that_fail_are_reported_with_the_fit_and_the_sample() {
    let d = Dir::new();
    peer_edited(&d, "neg.toml", "nu = 0.16", "nu = -0.16");
    let run = d.run(&["rates", "neg.toml", "--n", "300", "--replicates", "2"]);
    assert_eq!(run.code(), 2, "{}\n{}", run.stdout(), run.stderr());
    // The verifier refuses the case (non-finite terms), the rate check runs and every
    // simulation fails: each message names the fit and the sample.
    let out = run.stdout();
    assert!(
        out.contains("fits without a loss; first: n = 300, replicate 0: the variance of atom 2 is -0.16 at sample"),
        "{out}"
    );
    let err = run.stderr();
    assert!(
        err.contains("neg.toml: every one of the 6 fits failed"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn sizes_given_twice_are_one_cell() {
    let d = Dir::new();
    let case = peer(&d);
    let run = d.run(&[
        "rates",
        &case,
        "--fitted",
        "2,2",
        "--n",
        "300",
        "--replicates",
        "2",
        "--format",
        "json",
    ]);
    let v = json(&run);
    assert_eq!(v["settings"]["fitted"], serde_json::json!([2]));
    assert_eq!(v["rows"][0]["fits"]["total"], 2);
}
