//! Why a rate check cannot run.

use std::fmt;
use std::path::PathBuf;

/// Why a rate check cannot run.
#[derive(Debug)]
#[non_exhaustive]
pub enum RateError {
    /// The model cannot be simulated or fitted as asked.
    Unsupported(String),
    /// A case edited in code that no longer fits its model (files are checked on load).
    Case(crate::CaseShape),
    /// A setting out of its range.
    Setting {
        /// The setting (`fitted`, `n`, `replicates`, `restarts`).
        setting: &'static str,
        /// Its value.
        value: String,
        /// The range to use.
        fix: String,
    },
    /// Shard checkpoints that do not merge into one run.
    Merge(String),
    /// The checkpoint belongs to another run, or cannot be read or written.
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateError::Unsupported(m) | RateError::Merge(m) => f.write_str(m),
            RateError::Case(c) => write!(f, "the case does not fit its model: {c}"),
            RateError::Setting {
                setting,
                value,
                fix,
            } => write!(f, "{setting} {value}: {fix}"),
            RateError::Checkpoint { path, message } => {
                write!(f, "checkpoint {}: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for RateError {}
