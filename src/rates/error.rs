//! Why a rate check cannot run.

use std::fmt;
use std::path::PathBuf;

/// What a rate check cannot do for a case (each names the case and what to change).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// Top-K sparse gates are not fitted (the selection moves with the parameters).
    #[error("case {case}: rate checks do not fit top-K sparse gates yet (`gate.top_k = {k}`); `moeid verify` analyses them with the selected set held fixed (identifiability, computed rates)")]
    TopK {
        /// The case.
        case: String,
        /// Its K.
        k: usize,
    },
    /// Hierarchical gates are not fitted (the fits know flat gates only).
    #[error("case {case}: rate checks do not fit hierarchical gates ([[groups]], {groups} groups) yet; `moeid verify` analyses them (identifiability, computed rates of the experts within each group, the group parameters' first-order check)")]
    Grouped {
        /// The case.
        case: String,
        /// Its number of groups.
        groups: usize,
    },
    /// A probability model (Gaussian, multinomial) whose gate weights do not sum to one.
    #[error("case {case}: a {model} mixture needs gate weights that sum to one; rate checks of unnormalized gates support regression models (set `gate.normalized = true` or `model = \"regression\"`)")]
    Unnormalized {
        /// The case.
        case: String,
        /// The model's name.
        model: &'static str,
    },
    /// Settings that leave nothing to fit.
    #[error("case {case}: a rate check needs at least one restart, one replicate, one sample size and fitted sizes of at least k* = {k_star} (got restarts {restarts}, replicates {replicates}, {sizes} sizes, fitted {fitted:?})")]
    NothingToFit {
        /// The case.
        case: String,
        /// True atoms.
        k_star: usize,
        /// Restarts asked for.
        restarts: usize,
        /// Replicates asked for.
        replicates: usize,
        /// Sample sizes given.
        sizes: usize,
        /// Fitted sizes given.
        fitted: Vec<usize>,
    },
    /// One fit's data over the memory limit.
    #[error("case {case}: one fit at n = {n} with {k} atoms in dimension {dim} holds about {megabytes} MB of data, more than the limit of {limit} MB; use smaller sample sizes (`rates.n` or --n)")]
    TooLarge {
        /// The case.
        case: String,
        /// The largest sample size.
        n: usize,
        /// The largest fitted size.
        k: usize,
        /// The input dimension.
        dim: usize,
        /// Its data, in MB.
        megabytes: usize,
        /// The limit, in MB.
        limit: usize,
    },
}

/// Why a rate check cannot run.
#[derive(Debug)]
#[non_exhaustive]
pub enum RateError {
    /// The model cannot be simulated or fitted as asked.
    Unsupported(Unsupported),
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
            RateError::Unsupported(u) => write!(f, "{u}"),
            RateError::Merge(m) => f.write_str(m),
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
