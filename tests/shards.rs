//! Rate sweeps in shards: a plan with cost-balanced shards, shards run as separate processes
//! (by --shard or by SLURM's variables), merged into the checkpoint of the whole run.

use crate::util::{root, Dir};

const PEER: &str = "cases/gaussian-2305.03288/softmax-gaussian-peer.toml";
const GRID: [&str; 6] = ["--fitted", "2,3", "--n", "300,600", "--replicates", "2"];

fn peer(d: &Dir) {
    d.write(
        "peer.toml",
        &std::fs::read_to_string(root().join(PEER)).unwrap(),
    );
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn the_peer_plan_in_four_shards_is_balanced_within_twenty_percent() {
    let d = Dir::new();
    peer(&d);
    let run = d.run(&[
        "rates",
        "plan",
        "peer.toml",
        "--shards",
        "4",
        "--format",
        "json",
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let plan = json(&run.stdout());
    let costs: Vec<f64> = plan["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["cost"].as_f64().unwrap())
        .collect();
    assert_eq!(costs.len(), 4);
    let (lo, hi) = costs
        .iter()
        .fold((f64::MAX, 0.0f64), |(l, h), &c| (l.min(c), h.max(c)));
    assert!(hi <= 1.2 * lo, "{costs:?}");
    // every fit of the default grid (k = 2, 3, 4 × 12 sizes × 20 replicates) once
    assert_eq!(plan["fits"].as_array().unwrap().len(), 3 * 12 * 20);
}

#[test]
fn shards_run_apart_and_merged_give_the_whole_runs_summary_byte_for_byte() {
    let d = Dir::new();
    peer(&d);
    for i in 1..=3 {
        let mut args = vec!["rates", "peer.toml"];
        args.extend(GRID);
        let shard = format!("{i}/3");
        let out = format!("s{i}.jsonl");
        args.extend(["--shard", &shard, "--out", &out]);
        assert_eq!(d.run(&args).code(), 0);
    }
    std::fs::create_dir_all(d.path().join("a")).unwrap();
    std::fs::create_dir_all(d.path().join("b")).unwrap();
    let merged = d.run(&[
        "rates",
        "merge",
        "a/fits.jsonl",
        "s3.jsonl",
        "s1.jsonl",
        "s2.jsonl",
    ]);
    assert_eq!(merged.code(), 0, "{}", merged.stderr());
    assert!(
        merged.stdout().contains("merged 3 shards, 8 fits"),
        "{}",
        merged.stdout()
    );
    // the whole run, then both summarised from their checkpoints
    let mut whole = vec!["rates", "peer.toml"];
    whole.extend(GRID);
    whole.extend(["--out", "b/fits.jsonl"]);
    assert_eq!(d.run(&whole).code(), 0);
    let summary = |dir: &str| {
        let mut args = vec!["rates", "../peer.toml"];
        args.extend(GRID);
        args.extend(["--out", "fits.jsonl", "--format", "json"]);
        let run = crate::util::Dir::run_in(&d.path().join(dir), &args);
        assert_eq!(run.code(), 0, "{}", run.stderr());
        run.stdout()
    };
    assert_eq!(summary("a"), summary("b"));
    // a merge never overwrites
    let again = d.run(&[
        "rates",
        "merge",
        "a/fits.jsonl",
        "s1.jsonl",
        "s2.jsonl",
        "s3.jsonl",
    ]);
    assert_eq!(again.code(), 2);
    assert!(
        again.stderr().contains("a/fits.jsonl exists"),
        "{}",
        again.stderr()
    );
}

#[test]
fn a_missing_or_foreign_shard_is_named() {
    let d = Dir::new();
    peer(&d);
    let shard = |i: usize, seed: &str, out: &str| {
        let mut args = vec!["rates", "peer.toml"];
        args.extend(GRID);
        let s = format!("{i}/3");
        args.extend(["--shard", &s, "--seed", seed, "--out", out]);
        assert_eq!(d.run(&args).code(), 0);
    };
    shard(1, "1", "s1.jsonl");
    shard(2, "1", "s2.jsonl");
    shard(3, "2", "other.jsonl");
    let missing = d.run(&["rates", "merge", "m.jsonl", "s1.jsonl", "s2.jsonl"]);
    assert_eq!(missing.code(), 2);
    assert!(
        missing.stderr().contains("shard 3/3 missing"),
        "{}",
        missing.stderr()
    );
    let foreign = d.run(&[
        "rates",
        "merge",
        "m.jsonl",
        "s1.jsonl",
        "s2.jsonl",
        "other.jsonl",
    ]);
    assert_eq!(foreign.code(), 2);
    assert!(
        foreign
            .stderr()
            .contains("other.jsonl: a shard of another run than s1.jsonl"),
        "{}",
        foreign.stderr()
    );
    let twice = d.run(&["rates", "merge", "m.jsonl", "s1.jsonl", "s1.jsonl"]);
    assert!(
        twice.stderr().contains("shard 1/3 given twice"),
        "{}",
        twice.stderr()
    );
    assert!(!d.path().join("m.jsonl").exists());
}

#[test]
fn slurm_array_variables_choose_the_shard() {
    let d = Dir::new();
    peer(&d);
    let mut args = vec!["rates", "peer.toml"];
    args.extend(GRID);
    args.extend(["--out", "s.jsonl"]);
    let run = d.run_env(
        &args,
        &[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_MIN", "4"),
        ],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let text = std::fs::read_to_string(d.path().join("s.jsonl")).unwrap();
    let header = json(text.lines().next().unwrap());
    assert_eq!(header["shard"]["index"], 2);
    assert_eq!(header["shard"]["count"], 3);
    assert!(header["command"].as_str().unwrap().ends_with("--shard 2/3"));
    assert_eq!(
        text.lines().count() - 1,
        header["shard"]["fits"].as_u64().unwrap() as usize
    );
    // a shard without its own checkpoint is refused
    let mut no_out = vec!["rates", "peer.toml"];
    no_out.extend(GRID);
    no_out.extend(["--shard", "1/2"]);
    let refused = d.run(&no_out);
    assert_eq!(refused.code(), 2);
    assert!(
        refused.stderr().contains("without --out"),
        "{}",
        refused.stderr()
    );
}
