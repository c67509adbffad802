//! Checkpoints: a header naming the run, then one JSON line per finished fit.
//!
//! The first line ([`Header`]) records the case, the fingerprint of everything a fit depends on,
//! the grid (fitted sizes, sample sizes, replicates) and the exact command that reproduces the
//! run. A file whose first line is not such a header is never written to, so a path given to
//! `--out` by mistake is left byte for byte as it was. A run with other settings is refused with
//! the command that resumes the one the file holds: fits of different runs never mix. A damaged
//! record (a line that does not parse, or whose fingerprint or atoms do not fit the run) is set
//! aside and refitted, not a reason to refuse the rest; a half-written last line (a run killed
//! while writing) is cut off before appending.

use super::RateError;
use serde::{Deserialize, Serialize};
use std::io::{Seek, Write};
use std::path::Path;

/// Format version of the header written: 2, records carry a checksum. Format 1 files (records
/// without checksums) are still read and resumed.
pub const FORMAT: u32 = 2;

/// Format versions read.
pub const FORMATS_READ: [u32; 2] = [1, FORMAT];

/// The first line of a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub moeid_checkpoint: u32,
    /// The case's name.
    pub case: String,
    /// [`super::RateSettings::fingerprint`] of the run.
    pub fingerprint: String,
    /// Numbers of fitted atoms.
    pub fitted: Vec<usize>,
    /// Sample sizes.
    pub n: Vec<usize>,
    /// Replicates per size.
    pub replicates: usize,
    /// Restarts per fit.
    pub restarts: usize,
    /// Seed.
    pub seed: u64,
    /// The command that runs (and resumes) exactly this check.
    pub command: String,
    /// The shard of the run this file holds (absent for a whole run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardHeader>,
}

/// Which shard of a run a checkpoint holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHeader {
    /// 1 to `count`.
    pub index: usize,
    /// Number of shards of the run.
    pub count: usize,
    /// Fits planned for this shard.
    pub fits: usize,
}

impl Header {
    /// Whether `other` is the same run (and the same shard of it).
    pub fn same_run(&self, other: &Header) -> bool {
        self.fingerprint == other.fingerprint
            && self.fitted == other.fitted
            && self.n == other.n
            && self.replicates == other.replicates
            && self.shard == other.shard
    }

    /// The header's command writing to `out`, the file it is read from: a checkpoint moved or
    /// copied since it was written (a cluster's scratch folder, a run in /tmp) is resumed or
    /// reproduced where it now is.
    pub fn command_at(&self, out: &Path) -> String {
        const OUT: &str = " --out ";
        let Some(at) = self.command.rfind(OUT) else {
            return self.command.clone();
        };
        let rest = &self.command[at + OUT.len()..];
        let tail = rest.find(" --").map_or("", |i| &rest[i..]);
        format!("{}{OUT}{}{tail}", &self.command[..at], out.display())
    }
}

/// One finished fit, as stored in the checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitRecord {
    /// [`super::RateSettings::fingerprint`] of the run.
    pub fingerprint: String,
    /// Fitted atoms.
    pub k: usize,
    /// Sample size.
    pub n: usize,
    /// Replicate.
    pub replicate: usize,
    /// `converged`, `cap` or `failed`.
    pub status: String,
    /// Fitting method.
    pub method: String,
    /// Iterations of the best restart.
    pub iterations: usize,
    /// Objective of the best restart (log-likelihood, or minus the mean squared error).
    pub objective: Option<f64>,
    /// The fitted atoms (full parameter vectors).
    pub atoms: Vec<Vec<f64>>,
    /// Why it failed.
    pub error: Option<String>,
    /// FNV-1a of the record written without it ([`FitRecord::sealed`]): an edited record no
    /// longer matches and is set aside as damaged. Required from format 2 on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl FitRecord {
    /// The checksum of the record's other fields.
    fn digest(&self) -> String {
        let bare = FitRecord {
            checksum: None,
            ..self.clone()
        };
        let text = serde_json::to_string(&bare).unwrap_or_default();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// The record with its checksum, as it is written.
    pub fn sealed(mut self) -> FitRecord {
        self.checksum = Some(self.digest());
        self
    }

    /// Whether the checksum matches (a format-1 record may have none).
    fn intact(&self, format: u32) -> bool {
        match &self.checksum {
            Some(c) => *c == self.digest(),
            None => format < 2,
        }
    }
}

/// What a checkpoint holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Contents {
    /// The run.
    pub header: Header,
    /// Its fits (the last one of each task when a task appears twice).
    pub records: Vec<FitRecord>,
    /// Lines set aside as damaged.
    pub damaged: usize,
    /// Records read without a checksum to check (a format-1 file, written before records
    /// carried one): taken as written.
    pub unchecked: usize,
}

fn err(path: &Path, message: String) -> RateError {
    RateError::Checkpoint {
        path: path.to_path_buf(),
        message,
    }
}

/// Parses the complete lines of a checkpoint (`text` up to its last newline). `atoms` checks
/// each record's shape: $(k, \text{parameters})$ per atom.
fn parse(path: &Path, text: &[u8], params: Option<usize>) -> Result<Contents, RateError> {
    let mut lines = text.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    // a checkpoint of a format this version does not read: say so, not "not a checkpoint"
    let format = std::str::from_utf8(first)
        .ok()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v.get("moeid_checkpoint")?.as_u64());
    if let Some(f) = format.filter(|f| !FORMATS_READ.iter().any(|&r| u64::from(r) == *f)) {
        return Err(err(
            path,
            format!(
                "it is a moeid checkpoint of format {f}, which this version does not read (it reads formats {FORMATS_READ:?}), so it was left as it was; use the moeid that wrote it, or write to another --out file"
            ),
        ));
    }
    let header: Header = std::str::from_utf8(first)
        .ok()
        .and_then(|l| serde_json::from_str(l).ok())
        .filter(|h: &Header| FORMATS_READ.contains(&h.moeid_checkpoint))
        .ok_or_else(|| {
            err(
                path,
                "it is not a moeid checkpoint (its first line is not a checkpoint header), so it was left as it was; write to another --out file".into(),
            )
        })?;
    let mut records = Vec::new();
    let mut damaged = 0;
    for line in lines {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let rec: Option<FitRecord> = std::str::from_utf8(line)
            .ok()
            .and_then(|l| serde_json::from_str(l).ok());
        match rec {
            Some(r)
                if r.intact(header.moeid_checkpoint)
                    && r.fingerprint == header.fingerprint
                    && header.fitted.contains(&r.k)
                    && header.n.contains(&r.n)
                    && r.replicate < header.replicates
                    && (r.atoms.is_empty()
                        || (r.atoms.len() == r.k
                            && r.atoms.iter().all(|a| params.is_none_or(|p| a.len() == p)))) =>
            {
                records.push(r)
            }
            _ => damaged += 1,
        }
    }
    records.sort_by_key(|r| (r.k, r.n, r.replicate));
    records.dedup_by_key(|r| (r.k, r.n, r.replicate));
    let unchecked = records.iter().filter(|r| r.checksum.is_none()).count();
    Ok(Contents {
        header,
        records,
        damaged,
        unchecked,
    })
}

/// Reads a checkpoint without changing it. `params` is the number of parameters per atom, when
/// known (each record's atoms are then checked against it).
///
/// # Errors
/// [`RateError::Checkpoint`] when it cannot be read or is not a checkpoint.
pub fn read(path: &Path, params: Option<usize>) -> Result<Contents, RateError> {
    let text = std::fs::read(path).map_err(|e| {
        err(
            path,
            format!("cannot read it: {e}; give --out the path of a file"),
        )
    })?;
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    parse(path, &text[..complete], params)
}

/// Opens the checkpoint of the run `header` for appending: creates it with the header, or
/// checks that an existing one holds this very run, cuts a half-written last line, and returns
/// what it holds.
///
/// # Errors
/// [`RateError::Checkpoint`] when the file is not a checkpoint (left unchanged), holds another
/// run (with the command that resumes it), or cannot be read or written.
pub fn open(
    path: &Path,
    header: &Header,
    params: usize,
) -> Result<(std::fs::File, Contents), RateError> {
    let io = |e: std::io::Error| {
        err(
            path,
            format!("cannot read or write it: {e}; check that its folder exists and is writable, or choose another --out"),
        )
    };
    let meta = std::fs::metadata(path);
    if meta.as_ref().is_ok_and(|m| !m.is_file()) {
        return Err(err(
            path,
            "it is not a regular file; give --out the path of a file".into(),
        ));
    }
    // Empty, or a prefix of this run's own header (a run killed while creating the file).
    let own = serde_json::to_string(header).unwrap_or_default() + "\n";
    let fresh = meta.as_ref().map_or(true, |m| m.len() == 0)
        || std::fs::read(path).is_ok_and(|t| !t.is_empty() && own.as_bytes().starts_with(&t));
    if fresh {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)
            .map_err(io)?;
        file.write_all(own.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        return Ok((
            file,
            Contents {
                header: header.clone(),
                records: Vec::new(),
                damaged: 0,
                unchecked: 0,
            },
        ));
    }
    let text = std::fs::read(path).map_err(io)?;
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let contents = parse(path, &text[..complete], Some(params))?;
    if !contents.header.same_run(header) && contents.header.command == header.command {
        return Err(err(
            path,
            format!(
                "it holds a run with the same command but other settings or another version of the protocol (fingerprint {}, this run {}: the case's model, its [rates] table or moeid's start protocol changed since it was written); its fits cannot be mixed with this run's: move it away and rerun `{}`",
                contents.header.fingerprint, header.fingerprint, header.command
            ),
        ));
    }
    if !contents.header.same_run(header) {
        return Err(err(
            path,
            format!(
                "it holds another run (case {}, {} sizes, {} replicates, fitted {:?}): resume it with `{}`, or write to another --out file",
                contents.header.case,
                contents.header.n.len(),
                contents.header.replicates,
                contents.header.fitted,
                contents.header.command_at(path)
            ),
        ));
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    if complete < text.len() {
        file.set_len(complete as u64).map_err(io)?;
    }
    file.seek(std::io::SeekFrom::End(0)).map_err(io)?;
    Ok((file, contents))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            moeid_checkpoint: FORMAT,
            case: "c".into(),
            fingerprint: "f".into(),
            fitted: vec![2],
            n: vec![100],
            replicates: 2,
            restarts: 1,
            seed: 1,
            command: "moeid rates c.toml --out x".into(),
            shard: None,
        }
    }

    #[test]
    fn a_foreign_file_is_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.txt");
        for text in ["line one\nline two", "one line", "{\"k\": 2}\n"] {
            std::fs::write(&p, text).unwrap();
            let e = open(&p, &header(), 1).unwrap_err();
            assert!(e.to_string().contains("not a moeid checkpoint"), "{e}");
            assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
        }
    }

    #[test]
    fn the_command_names_the_file_it_is_read_from() {
        let mut h = header();
        h.command = "moeid rates c.toml --fitted 2 --out /tmp/run/c.jsonl --shard 2/8".into();
        assert_eq!(
            h.command_at(Path::new("reports/data/c.jsonl")),
            "moeid rates c.toml --fitted 2 --out reports/data/c.jsonl --shard 2/8"
        );
        h.command = "moeid rates c.toml --out /tmp/c.jsonl".into();
        assert_eq!(
            h.command_at(Path::new("d/c.jsonl")),
            "moeid rates c.toml --out d/c.jsonl"
        );
    }

    #[test]
    fn another_run_is_refused_with_its_command_and_damaged_records_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.jsonl");
        let (mut f, c) = open(&p, &header(), 1).unwrap();
        assert!(c.records.is_empty());
        let rec = FitRecord {
            fingerprint: "f".into(),
            k: 2,
            n: 100,
            replicate: 0,
            status: "converged".into(),
            method: "em".into(),
            iterations: 3,
            objective: Some(1.0),
            atoms: vec![vec![0.5], vec![0.7]],
            error: None,
            checksum: None,
        }
        .sealed();
        let short = FitRecord {
            replicate: 1,
            atoms: vec![vec![0.5]],
            checksum: None,
            ..rec.clone()
        }
        .sealed();
        for r in [&rec, &short] {
            writeln!(f, "{}", serde_json::to_string(r).unwrap()).unwrap();
        }
        writeln!(f, "not json").unwrap();
        write!(f, "{{\"half").unwrap();
        drop(f);
        let mut other = header();
        other.n = vec![100, 200];
        other.command = "moeid rates c.toml --n 100,200 --out y".into();
        let e = open(&p, &other, 1).unwrap_err();
        // the command resumes the file where it is, not where it was first written
        let resume = format!("`moeid rates c.toml --out {}`", p.display());
        assert!(e.to_string().contains(&resume), "{e}");
        let (_, c) = open(&p, &header(), 1).unwrap();
        assert_eq!(c.records, [rec]);
        assert_eq!(c.damaged, 2);
        assert!(std::fs::read_to_string(&p).unwrap().ends_with("not json\n"));
    }

    #[test]
    fn edited_records_fail_their_checksum_and_format_1_files_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.jsonl");
        let (mut f, _) = open(&p, &header(), 1).unwrap();
        let rec = |replicate: usize| {
            FitRecord {
                fingerprint: "f".into(),
                k: 2,
                n: 100,
                replicate,
                status: "converged".into(),
                method: "em".into(),
                iterations: 3,
                objective: Some(1.0),
                atoms: vec![vec![0.5], vec![0.7]],
                error: None,
                checksum: None,
            }
            .sealed()
        };
        let edited = serde_json::to_string(&rec(0))
            .unwrap()
            .replace("0.7", "0.9");
        let unsealed = FitRecord {
            checksum: None,
            ..rec(1)
        };
        writeln!(f, "{edited}").unwrap();
        writeln!(f, "{}", serde_json::to_string(&unsealed).unwrap()).unwrap();
        drop(f);
        let c = read(&p, Some(1)).unwrap();
        assert!(c.records.is_empty());
        assert_eq!(c.damaged, 2);
        // a format-1 file: records without checksums are read
        let mut old = header();
        old.moeid_checkpoint = 1;
        let text = format!(
            "{}\n{}\n",
            serde_json::to_string(&old).unwrap(),
            serde_json::to_string(&unsealed).unwrap()
        );
        std::fs::write(&p, text).unwrap();
        let c = read(&p, Some(1)).unwrap();
        assert_eq!(c.records.len(), 1);
        assert_eq!(c.damaged, 0);
        // and counted, so the summary can say they were taken on trust
        assert_eq!(c.unchecked, 1);
    }
}
