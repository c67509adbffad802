//! The pipeline's shape, checked: no module uses a later stage (`crate::<stage>` paths read off
//! every source file, comments aside), so data flows one way.

use crate::util::root;

/// The stages in pipeline order; `expr` is the leaf language, `cli` the binary's front end.
const STAGES: [&str; 11] = [
    "expr",
    "case",
    "model",
    "family",
    "rank",
    "relations",
    "verdict",
    "geometry",
    "rates",
    "report",
    "cli",
];

fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(line, stage)` of every `crate::<stage>` on a line that is not a comment.
fn uses(text: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            // `crate::a::b` or a group `crate::{a::b, c}` (one line)
            let heads: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(str::trim)
                    .collect(),
                None => vec![rest],
            };
            for head in heads {
                let name: String = head
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(stage) = STAGES.iter().find(|s| **s == name) {
                    found.push((n + 1, *stage));
                }
            }
        }
    }
    found
}

#[test]
fn no_module_uses_a_later_stage() {
    let src = root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut backward = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs");
        let Some(at) = STAGES.iter().position(|s| *s == module) else {
            continue; // lib.rs, error.rs, main.rs: the facade over every stage
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, stage) in uses(&text) {
            if STAGES.iter().position(|s| *s == stage).unwrap() > at {
                backward.push(format!(
                    "src/{}:{line}: {module} uses the later stage {stage}",
                    rel.display()
                ));
            }
        }
    }
    assert!(
        backward.is_empty(),
        "backward imports (stage order {STAGES:?}):\n{}",
        backward.join("\n")
    );
}

#[test]
fn the_check_sees_a_backward_import() {
    assert_eq!(
        uses(
            "use crate::report::text;\n// crate::cli in a comment\nlet x = crate::rank::f();\nuse crate::{Error, verdict::V};"
        ),
        vec![(1, "report"), (3, "rank"), (4, "verdict")]
    );
}
