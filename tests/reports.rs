//! `moeid report`: every page is valid markdown, every plot valid SVG, the same inputs give the
//! same bytes, and the committed `reports/` folder stays parseable.

use crate::util::{root, Dir};
use std::path::Path;

fn check_folder(dir: &Path) -> usize {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("md") | Some("svg") => std::fs::read_to_string(&path).unwrap(),
            _ => continue,
        };
        if path.extension().unwrap() == "svg" {
            let doc = roxmltree::Document::parse(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                doc.root_element().tag_name().name(),
                "svg",
                "{}",
                path.display()
            );
            assert!(
                doc.descendants().any(|n| n.has_tag_name("text")),
                "{}: no labels",
                path.display()
            );
        } else {
            let mut tables = 0;
            let mut images = Vec::new();
            for event in pulldown_cmark::Parser::new_ext(
                &text,
                pulldown_cmark::Options::ENABLE_TABLES | pulldown_cmark::Options::ENABLE_MATH,
            ) {
                match event {
                    pulldown_cmark::Event::Start(pulldown_cmark::Tag::Table(_)) => tables += 1,
                    pulldown_cmark::Event::Start(pulldown_cmark::Tag::Image {
                        dest_url, ..
                    }) => images.push(dest_url.to_string()),
                    _ => {}
                }
            }
            assert!(tables >= 1, "{}: no table", path.display());
            for img in images {
                assert!(
                    dir.join(&img).exists(),
                    "{}: missing image {img}",
                    path.display()
                );
            }
            assert!(!text.contains("NaN"), "{}", path.display());
        }
        checked += 1;
    }
    checked
}

/// Copies cases of `cases/` into `d/cases/`, flattened (`routers/cosine.toml` →
/// `routers-cosine.toml`).
fn copy_cases(d: &Dir, names: &[&str]) {
    for name in names {
        let text = std::fs::read_to_string(root().join("cases").join(name)).unwrap();
        d.write(&format!("cases/{}", name.replace('/', "-")), &text);
    }
}

/// The stored rate results of the peer case in `d/OUT/data/`, as `moeid rates --out` leaves them.
fn store_peer_rates(d: &Dir, out: &str) {
    let name = "gaussian-softmax-gaussian-peer.jsonl";
    let data = std::fs::read_to_string(root().join("reports/data").join(name)).unwrap();
    d.write(&format!("{out}/data/{name}"), &data);
}

#[test]
fn reports_are_valid_markdown_and_svg_and_deterministic() {
    let d = Dir::new();
    copy_cases(
        &d,
        &[
            "softmax-2503.03213/linear.toml",
            "gaussian-2305.03288/softmax-gaussian-peer.toml",
            "routers/cosine.toml",
        ],
    );
    store_peer_rates(&d, "out");
    let run = d.run(&["report", "cases", "--out", "out"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = d.path().join("out");
    // three pages, three spectra, two profile plots (the cosine router has no polynomial cell to
    // profile), one convergence plot, the index
    assert_eq!(check_folder(&out), 10);
    let peer = std::fs::read_to_string(out.join("gaussian-softmax-gaussian-peer.md")).unwrap();
    // the k = 2 row of the measured table (k, over-specified atoms, window slope, ...) agrees
    assert!(
        peer.lines()
            .any(|l| l.starts_with("| 2 | 1 | -0.40 [") && l.contains("| agrees: window")),
        "{peer}"
    );
    let linear = std::fs::read_to_string(out.join("softmax-linear.md")).unwrap();
    assert!(linear.contains("No empirical check yet"), "{linear}");
    let index = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        index.contains("[softmax-linear](softmax-linear.md)"),
        "{index}"
    );
    // same inputs, same bytes
    let first: Vec<(String, Vec<u8>)> = files(&out);
    let again = d.run(&["report", "cases", "--out", "out"]);
    assert_eq!(again.code(), 0);
    assert_eq!(files(&out), first);
    // The slopes measured along the cells' witnesses depend on one solution of the coefficient
    // system among many (rounding can pick another on another CPU): redacted.
    insta::with_settings!({ filters => vec![
        (r"ρ slope -?\d+\.\d+", "ρ slope [slope]"),
        (r"\| Δ[^|]+\|", "| [witness curve] |"),
    ] }, {
        insta::assert_snapshot!("report_softmax_linear", linear);
        insta::assert_snapshot!("report_peer_with_rates", peer);
    });
    // an invariance, with its identifiable combinations
    let cosine = std::fs::read_to_string(out.join("router-cosine.md")).unwrap();
    assert!(
        cosine.contains("identifiable: `beta1[1]/beta1[0]`"),
        "{cosine}"
    );
    insta::assert_snapshot!("report_router_cosine", cosine);
}

/// Reports killed with SIGKILL at any moment: every file present is complete (the bytes of an
/// uninterrupted run), and the next run finishes the job and removes stray temporary files.
#[test]
fn reports_survive_sigkill() {
    use std::process::{Command, Stdio};
    let d = Dir::new();
    copy_cases(
        &d,
        &[
            "softmax-2503.03213/linear.toml",
            "softmax-2503.03213/ffn-tanh.toml",
            "theory/sigmoid-temperature-joint.toml",
            "gaussian-2305.03288/softmax-gaussian-peer.toml",
        ],
    );
    store_peer_rates(&d, "whole");
    assert_eq!(d.run(&["report", "cases", "--out", "whole"]).code(), 0);
    let whole = files(&d.path().join("whole"));
    // Kills at moments read off the output folder, not off a clock (a loaded machine moves every
    // timing): as soon as the j-th page is in place, or as soon as a temporary file is being
    // written, so kills land between pages and in the middle of one.
    let mut partial = 0;
    let moments = [1, 2, whole.len() / 2, whole.len() - 1];
    for i in 0..2 * moments.len() {
        let out = format!("cut{i}");
        store_peer_rates(&d, &out);
        let dir = d.path().join(&out);
        let (pages, mid_write) = (moments[i / 2], i % 2 == 1);
        // the pages' Reproduce line names the checkpoint where this run reads it
        let whole = at_out(&whole, &out);
        let mut child = Command::new(env!("CARGO_BIN_EXE_moeid"))
            .args(["report", "cases", "--out", &out])
            .current_dir(d.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            let present = names(&dir);
            let done = present.iter().filter(|n| !n.starts_with('.')).count();
            let writing = present.iter().any(|n| n.starts_with('.'));
            if done >= pages && (!mid_write || writing) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let written = files(&dir)
            .iter()
            .filter(|(n, _)| !n.starts_with('.'))
            .count();
        if written > 0 && written < whole.len() {
            partial += 1;
        }
        for (name, bytes) in files(&dir) {
            if name.starts_with('.') {
                continue; // a temporary file the kill left behind
            }
            let reference = whole.iter().find(|(n, _)| *n == name);
            assert_eq!(
                reference.map(|(_, b)| b),
                Some(&bytes),
                "{out}/{name} (killed after {pages} pages) is not a complete file"
            );
        }
        assert_eq!(d.run(&["report", "cases", "--out", &out]).code(), 0);
        assert_eq!(files(&dir), whole, "{out}: rerun after the kill");
    }
    assert!(
        partial >= moments.len(),
        "only {partial} kills landed while reports were being written"
    );
}

/// The names of the regular files in a folder (none when it does not exist yet).
fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The files of a report written to `whole/`, as written to `out/` (the rate check's command
/// names its checkpoint in the output folder).
fn at_out(whole: &[(String, Vec<u8>)], out: &str) -> Vec<(String, Vec<u8>)> {
    whole
        .iter()
        .map(|(name, bytes)| {
            let bytes = match std::str::from_utf8(bytes) {
                Ok(text) => text
                    .replace("--out whole/", &format!("--out {out}/"))
                    .into_bytes(),
                Err(_) => bytes.clone(),
            };
            (name.clone(), bytes)
        })
        .collect()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn the_committed_reports_parse() {
    let n = check_folder(&root().join("reports"));
    assert!(n > 48, "{n} files");
}
