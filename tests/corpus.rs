//! The hostile-input corpus (tests/corpus/README.md): every case file and command line gives its
//! expected exit code, never a panic, a run over 60 s or a peak memory over 2 GiB, and a message
//! that is snapshotted.

use crate::util::root;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Largest resident memory a run may reach.
const MEMORY_LIMIT_KIB: u64 = 2 << 20;

/// The peak resident memory of process `pid` so far, in KiB (`VmHWM`; `None` where /proc is
/// not there or the process has gone).
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// What one run of `moeid` did.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
    /// The largest peak resident memory read while it ran (KiB; 0 where it cannot be read).
    peak_kib: u64,
}

/// Exit code, stdout, stderr, time and peak memory of `moeid args` in `dir`; killed after 60 s
/// or beyond [`MEMORY_LIMIT_KIB`].
fn run(dir: &Path, args: &[&str]) -> Outcome {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_moeid"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Pipes drained while the child runs (a long message would otherwise fill them and stall it).
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let limit = Duration::from_secs(60);
    let mut peak = 0;
    let code = loop {
        // read before reaping: the high-water mark up to a few milliseconds before the end
        peak = peak.max(peak_kib(child.id()).unwrap_or(0));
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if started.elapsed() > limit || peak > MEMORY_LIMIT_KIB {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        took: started.elapsed(),
        peak_kib: peak,
    }
}

/// The first lines of a message, each cut to 100 characters: what the snapshot keeps.
fn head(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(4)
        .map(|l| {
            l.chars()
                .take(100)
                .map(|c| if c.is_control() { '�' } else { c })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n    ")
}

struct Entry {
    name: String,
    args: Vec<String>,
    file: Option<(String, Vec<u8>)>,
    expected: i32,
}

fn entries() -> Vec<Entry> {
    let corpus = root().join("tests/corpus");
    let expected: Vec<(String, i32)> = std::fs::read_to_string(corpus.join("expected.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let (n, c) = l.rsplit_once(' ').unwrap();
            (n.to_string(), c.parse().unwrap())
        })
        .collect();
    let mut out = Vec::new();
    for (name, code) in expected {
        let bytes = std::fs::read(corpus.join("cases").join(format!("{name}.toml"))).unwrap();
        out.push(Entry {
            args: vec![
                "verify".into(),
                "--cells".into(),
                "1".into(),
                "case.toml".into(),
            ],
            name,
            file: Some(("case.toml".into(), bytes)),
            expected: code,
        });
    }
    let checkpoints = std::fs::read_to_string(corpus.join("checkpoints.txt")).unwrap();
    for line in checkpoints
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, code) = line.rsplit_once(' ').unwrap();
        let bytes = std::fs::read(corpus.join("checkpoints").join(format!("{name}.jsonl")))
            .unwrap_or_else(|e| panic!("checkpoints/{name}.jsonl: {e}"));
        out.push(Entry {
            name: format!("checkpoint {name}"),
            args: "rates case.toml --n 300,400 --replicates 1 --out fits.jsonl"
                .split(' ')
                .map(String::from)
                .collect(),
            file: Some(("fits.jsonl".into(), bytes)),
            expected: code.parse().unwrap(),
        });
    }
    let commands = std::fs::read_to_string(corpus.join("commands.txt")).unwrap();
    for line in commands
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        out.push(Entry {
            name: line.to_string(),
            args: line
                .split_whitespace()
                .map(|t| {
                    if t == "\"\"" {
                        String::new()
                    } else {
                        t.to_string()
                    }
                })
                .collect(),
            file: None,
            expected: 2,
        });
    }
    out
}

#[test]
fn every_hostile_input_gives_its_exit_code_without_panic_or_hang() {
    let entries = entries();
    assert!(entries.len() >= 150, "{} inputs", entries.len());
    let valid =
        std::fs::read_to_string(root().join("cases/softmax-2503.03213/linear.toml")).unwrap();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let peak = std::sync::atomic::AtomicU64::new(0);
    let results: std::sync::Mutex<Vec<(usize, String)>> = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(e) = entries.get(i) else { break };
                let dir = tempfile::tempdir().unwrap();
                let d = dir.path();
                std::fs::write(d.join("case.toml"), &valid).unwrap();
                std::fs::create_dir_all(d.join("cases")).unwrap();
                std::fs::create_dir_all(d.join("folder")).unwrap();
                std::fs::write(d.join("cases/case.toml"), &valid).unwrap();
                std::fs::write(d.join("notes.txt"), "line one\nline two").unwrap();
                if let Some((name, bytes)) = &e.file {
                    std::fs::write(d.join(name), bytes).unwrap();
                }
                let args: Vec<&str> = e.args.iter().map(String::as_str).collect();
                let Outcome {
                    code,
                    stdout,
                    stderr,
                    took,
                    peak_kib,
                } = run(d, &args);
                peak.fetch_max(peak_kib, std::sync::atomic::Ordering::SeqCst);
                let mut problems = Vec::new();
                if peak_kib > MEMORY_LIMIT_KIB {
                    problems.push(format!("peak memory {} MiB", peak_kib >> 10));
                }
                if code != e.expected {
                    problems.push(format!("exit {code}, expected {}", e.expected));
                }
                if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
                    problems.push("panicked".into());
                }
                if took > Duration::from_secs(60) {
                    problems.push(format!("ran {took:?}"));
                }
                if code == 2 && !stdout.is_empty() && e.file.is_some() {
                    problems.push("an error with output on stdout".into());
                }
                if code == 2 && stderr.trim().is_empty() {
                    problems.push("exit 2 without a message".into());
                }
                // a file not recognised as this run's checkpoint is left as it was
                if let Some((name, bytes)) = &e.file {
                    if code == 2 && std::fs::read(d.join(name)).ok().as_ref() != Some(bytes) {
                        problems.push(format!("{name} was changed by a run that refused it"));
                    }
                }
                // the foreign file is never touched
                if std::fs::read_to_string(d.join("notes.txt")).unwrap() != "line one\nline two" {
                    problems.push("notes.txt was changed".into());
                }
                let line = if problems.is_empty() {
                    let shown = if code == 0 && e.args[0] == "rates" {
                        // what became of the checkpoint's records
                        stdout
                            .lines()
                            .find(|l| l.contains("checkpoint record"))
                            .map_or("no record set aside".to_string(), |l| l.trim().to_string())
                    } else if code == 0 {
                        stdout
                            .split(':')
                            .nth(1)
                            .unwrap_or("")
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_string()
                    } else {
                        head(&stderr)
                    };
                    format!(
                        "{} → {code}\n    {shown}",
                        e.name.chars().take(80).collect::<String>()
                    )
                } else {
                    format!("PROBLEM {}: {}\n{stderr}", e.name, problems.join("; "))
                };
                results.lock().unwrap().push((i, line));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);
    let lines: Vec<String> = results.into_iter().map(|r| r.1).collect();
    let problems: Vec<&String> = lines.iter().filter(|l| l.starts_with("PROBLEM")).collect();
    assert!(
        problems.is_empty(),
        "{}",
        problems
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // the memory guard measures something (on Linux, where /proc tells the peak)
    let peak = peak.into_inner();
    if cfg!(target_os = "linux") {
        assert!(peak > 0, "no peak memory could be read from /proc");
    }
    eprintln!(
        "largest peak resident memory over the corpus: {} MiB",
        peak >> 10
    );
    insta::assert_snapshot!("corpus_messages", lines.join("\n"));
}
