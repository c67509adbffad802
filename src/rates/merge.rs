//! Merging the checkpoints of a sharded run (`moeid rates merge OUT SHARD...`) into the one
//! checkpoint that `moeid rates` and `moeid report` read: every shard of the run present once,
//! all of the same run, every planned fit present once.

use super::checkpoint::{self, FitRecord, Header};
use super::{MergeError, RateError};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a merge wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    /// The merged checkpoint's header (a whole run).
    pub header: Header,
    /// Fits written.
    pub fits: usize,
    /// Shards merged.
    pub shards: usize,
}

/// The whole run's command: the shard's without `--shard`, writing to `out`.
fn whole_command(shard_command: &str, out: &Path) -> String {
    let base = shard_command
        .rsplit_once(" --shard ")
        .map_or(shard_command, |(b, _)| b);
    let base = base.rsplit_once(" --out ").map_or(base, |(b, _)| b);
    format!("{base} --out {}", out.display())
}

/// Merges the shard checkpoints `shards` into a new checkpoint `out`.
///
/// # Errors
/// [`MergeError`] naming a file that is not a shard, a shard of another run, a shard given
/// twice or missing, a shard that has not finished its fits, or a fit found twice;
/// [`RateError::Checkpoint`] when a file cannot be read or `out` cannot be written. `out` is
/// never overwritten.
pub fn merge(out: &Path, shards: &[PathBuf]) -> Result<Merged, RateError> {
    if out.exists() {
        return Err(MergeError::OutExists(out.to_path_buf()).into());
    }
    if shards.is_empty() {
        return Err(MergeError::NoShards.into());
    }
    let mut reference: Option<(Header, &PathBuf)> = None;
    let mut seen: BTreeMap<usize, &PathBuf> = BTreeMap::new();
    let mut fits: BTreeMap<(usize, usize, usize), (FitRecord, &PathBuf)> = BTreeMap::new();
    for path in shards {
        let contents = checkpoint::read(path, None)?;
        let h = contents.header;
        let Some(shard) = h.shard.clone() else {
            return Err(MergeError::NotAShard(path.clone()).into());
        };
        match &reference {
            None => reference = Some((h.clone(), path)),
            Some((r, first)) => {
                let rs = r.shard.as_ref().map_or(0, |s| s.count);
                if !(r.case == h.case
                    && r.fingerprint == h.fingerprint
                    && r.fitted == h.fitted
                    && r.n == h.n
                    && r.replicates == h.replicates
                    && r.restarts == h.restarts
                    && r.seed == h.seed
                    && rs == shard.count)
                {
                    return Err(MergeError::OtherRun {
                        path: path.clone(),
                        first: (*first).clone(),
                        case: h.case,
                        index: shard.index,
                        count: shard.count,
                        command: h.command,
                    }
                    .into());
                }
            }
        }
        if let Some(other) = seen.insert(shard.index, path) {
            return Err(MergeError::Twice {
                index: shard.index,
                count: shard.count,
                first: other.clone(),
                second: path.clone(),
            }
            .into());
        }
        if contents.records.len() < shard.fits {
            return Err(MergeError::Unfinished {
                path: path.clone(),
                index: shard.index,
                count: shard.count,
                held: contents.records.len(),
                fits: shard.fits,
                command: h.command,
            }
            .into());
        }
        for r in contents.records {
            let key = (r.k, r.n, r.replicate);
            if let Some((_, other)) = fits.get(&key) {
                return Err(MergeError::FitTwice {
                    k: key.0,
                    n: key.1,
                    replicate: key.2,
                    first: (*other).clone(),
                    second: path.clone(),
                }
                .into());
            }
            fits.insert(key, (r, path));
        }
    }
    let (header, _) = reference.expect("at least one shard");
    let count = header.shard.as_ref().map_or(1, |s| s.count);
    let missing: Vec<usize> = (1..=count).filter(|i| !seen.contains_key(i)).collect();
    if !missing.is_empty() {
        let example = header
            .command
            .rsplit_once(" --shard ")
            .map_or(header.command.clone(), |(b, _)| b.to_string());
        return Err(MergeError::Missing {
            missing,
            count,
            command: example
                .rsplit_once(" --out ")
                .map_or(example.as_str(), |(b, _)| b)
                .to_string(),
        }
        .into());
    }
    let planned = header.fitted.len() * header.n.len() * header.replicates;
    if fits.len() != planned {
        return Err(MergeError::Incomplete {
            held: fits.len(),
            planned,
        }
        .into());
    }
    let whole = Header {
        command: whole_command(&header.command, out),
        shard: None,
        ..header
    };
    let mut text = serde_json::to_string(&whole).unwrap_or_default() + "\n";
    for (record, _) in fits.values() {
        text.push_str(&serde_json::to_string(record).unwrap_or_default());
        text.push('\n');
    }
    let io = |e: std::io::Error| RateError::Checkpoint {
        path: out.to_path_buf(),
        message: format!("cannot write it: {e}; check that its folder exists and is writable"),
    };
    let tmp = out.with_extension("merging");
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, out).map_err(io)?;
    Ok(Merged {
        header: whole,
        fits: fits.len(),
        shards: count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_command_drops_the_shard_and_writes_to_out() {
        assert_eq!(
            whole_command(
                "moeid rates c.toml --fitted 2,3 --n 300,600 --replicates 2 --restarts 1 --seed 1 --out s2.jsonl --shard 2/4",
                Path::new("all.jsonl")
            ),
            "moeid rates c.toml --fitted 2,3 --n 300,600 --replicates 2 --restarts 1 --seed 1 --out all.jsonl"
        );
    }

    #[test]
    fn merge_errors_name_the_shards_and_join_the_top_level_error() {
        let missing = MergeError::Missing {
            missing: vec![2, 4],
            count: 4,
            command: "moeid rates c.toml --n 300,600".into(),
        };
        assert_eq!(
            missing.to_string(),
            "shards 2/4, 4/4 missing; run moeid rates c.toml --n 300,600 with --shard I/4 (and its own --out), then merge again"
        );
        let one = MergeError::Missing {
            missing: vec![3],
            count: 4,
            command: "moeid rates c.toml".into(),
        };
        assert!(one.to_string().starts_with("shard 3/4 missing; "));
        let error: crate::Error = RateError::from(missing.clone()).into();
        assert_eq!(error.to_string(), missing.to_string());
        let code = miette::Diagnostic::code(&error).map(|c| c.to_string());
        assert_eq!(code.as_deref(), Some("moeid::rates"));
    }
}
