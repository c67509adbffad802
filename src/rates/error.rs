//! Why a rate check cannot run.

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

/// Why shard checkpoints do not merge into one run (each names the file and what to do).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// The output exists (a merge never overwrites).
    #[error("{} exists; merge into a new file (remove it, or choose another OUT)", .0.display())]
    OutExists(PathBuf),
    /// No shard given.
    #[error("no shard checkpoints given; pass every shard's --out file")]
    NoShards,
    /// A checkpoint of a whole run.
    #[error("{}: a whole run, not a shard (its command has no --shard); it needs no merge", .0.display())]
    NotAShard(PathBuf),
    /// A shard of another run than the first one given.
    #[error("{}: a shard of another run than {} (case {case}, {index} of {count} shards, command `{command}`); merge the shards of one run", .path.display(), .first.display())]
    OtherRun {
        /// The shard.
        path: PathBuf,
        /// The first shard given.
        first: PathBuf,
        /// Its case.
        case: String,
        /// Its index.
        index: usize,
        /// Its number of shards.
        count: usize,
        /// Its command.
        command: String,
    },
    /// One shard given twice.
    #[error("shard {index}/{count} given twice: {} and {}", .first.display(), .second.display())]
    Twice {
        /// The shard's index.
        index: usize,
        /// The number of shards.
        count: usize,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
    /// A shard that has not finished its fits.
    #[error("{}: shard {index}/{count} holds {held} of its {fits} fits; finish it with `{command}`", .path.display())]
    Unfinished {
        /// The shard.
        path: PathBuf,
        /// Its index.
        index: usize,
        /// The number of shards.
        count: usize,
        /// Fits it holds.
        held: usize,
        /// Fits it plans.
        fits: usize,
        /// Its command.
        command: String,
    },
    /// One fit in two shards.
    #[error("the fit k = {k}, n = {n}, replicate {replicate} is in {} and in {}; merge the shards of one run", .first.display(), .second.display())]
    FitTwice {
        /// Fitted atoms.
        k: usize,
        /// Sample size.
        n: usize,
        /// Replicate.
        replicate: usize,
        /// The first shard holding it.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// Shards of the run not given.
    #[error("shard{} {} missing; run {command} with --shard I/{count} (and its own --out), then merge again", if .missing.len() > 1 { "s" } else { "" }, .missing.iter().map(|i| format!("{i}/{count}")).collect::<Vec<_>>().join(", "))]
    Missing {
        /// The missing shards' indices.
        missing: Vec<usize>,
        /// The number of shards.
        count: usize,
        /// The run's command, without `--shard` and `--out`.
        command: String,
    },
    /// Fewer or more fits than the run plans.
    #[error("the shards hold {held} fits of the {planned} the run plans; rerun the shards with their commands")]
    Incomplete {
        /// Fits held.
        held: usize,
        /// Fits planned.
        planned: usize,
    },
}

/// Why a rate check cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RateError {
    /// The model cannot be simulated or fitted as asked.
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// A case edited in code that no longer fits its model (files are checked on load).
    #[error("the case does not fit its model: {0}")]
    Case(crate::CaseShape),
    /// A setting out of its range.
    #[error("{setting} {value}: {fix}")]
    Setting {
        /// The setting (`fitted`, `n`, `replicates`, `restarts`).
        setting: &'static str,
        /// Its value.
        value: String,
        /// The range to use.
        fix: String,
    },
    /// Shard checkpoints that do not merge into one run.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// The checkpoint belongs to another run, or cannot be read or written.
    #[error("checkpoint {}: {message}", .path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}
