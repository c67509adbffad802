//! Checkpoints: one JSON line per finished fit, read back to resume or to summarise.

use super::RateError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{BufRead, Seek};
use std::path::Path;

/// One finished fit, as stored in the checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitRecord {
    /// [`RateSettings::fingerprint`] of the run.
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
}

/// Reads a checkpoint without changing it: the complete lines, all of this run (by
/// fingerprint).
pub(super) fn read(path: &Path, fingerprint: &str) -> Result<Vec<FitRecord>, RateError> {
    let text = std::fs::read(path).map_err(|e| RateError::Checkpoint {
        path: path.to_path_buf(),
        message: format!("cannot read it: {e}; give --out the path of a file"),
    })?;
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    parse(path, &text[..complete], fingerprint)
}

fn parse(path: &Path, text: &[u8], fingerprint: &str) -> Result<Vec<FitRecord>, RateError> {
    let err = |message: String| RateError::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let not_ours = |e: &dyn fmt::Display| {
            err(format!(
                "line {}: {e}; it is not a moeid checkpoint: write to another --out file",
                i + 1
            ))
        };
        let line = line.map_err(|e| not_ours(&e))?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: FitRecord = serde_json::from_str(&line).map_err(|e| not_ours(&e))?;
        if rec.fingerprint != fingerprint {
            return Err(err(format!(
                "line {} belongs to another run (different case, seed or fit settings); write to another --out file or delete this one",
                i + 1
            )));
        }
        out.push(rec);
    }
    Ok(out)
}

/// Reads a checkpoint: the records of this run (by fingerprint). A trailing partial line (a
/// run killed while writing) is cut off.
pub(super) fn load(path: &Path, fingerprint: &str) -> Result<Vec<FitRecord>, RateError> {
    let err = |message: String| RateError::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    let io = |e: std::io::Error| {
        err(format!(
            "cannot read or repair it: {e}; give --out the path of a file you can write"
        ))
    };
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut text).map_err(io)?;
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete < text.len() {
        file.set_len(complete as u64).map_err(io)?;
        file.seek(std::io::SeekFrom::End(0)).map_err(io)?;
    }
    parse(path, &text[..complete], fingerprint)
}
