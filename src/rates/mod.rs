//! Estimation rates: what the local geometry predicts (docs/theory.md §7), and what fits measure
//! (docs/theory.md §6).
//!
//! - [`predict`]: the rates the cells of the local geometry give, per cell size;
//! - [`model`], [`simulate`], [`fit`]: the mixture being fitted, data drawn from the truth,
//!   least squares and EM;
//! - [`settings`]: a check's settings and their fingerprint; [`checkpoint`]: the fits on disk;
//! - [`sweep`]: the fits over fitted sizes, sample sizes and replicates, parallel and resumable;
//! - [`loss`]: Voronoi losses with the softmax translation removed;
//! - [`slope`]: slopes of log mean loss on log $n$ with bootstrap intervals;
//! - [`summary`]: losses, slopes and the agreement with the prediction;
//! - [`check()`]: a whole check from a case and overrides (command line and Python).

mod check;
pub mod checkpoint;
pub mod decision;
mod error;
pub mod fit;
pub mod loss;
pub mod merge;
pub mod model;
pub mod orbit;
pub mod plan;
mod predict;
pub mod settings;
pub mod simulate;
pub mod slope;
pub mod summary;
pub mod sweep;

pub use check::{check, check_overrides, RateCheck, MAX_EXTRA_ATOMS, MAX_RESTARTS};
pub use error::{MergeError, RateError, Unsupported};
pub use merge::{merge, Merged};
pub use plan::{plan, Shard, Task};
pub use predict::{predict, Group, NoRate, Prediction, Rate};
pub use settings::{RateOverrides, RateSettings};
pub use summary::{stored, Agreement, RateReport, RateRow};
pub use sweep::{feasible, run, simulable, Progress};

/// The peer protocol's truth (docs/theory.md §6), for unit tests: the catalogue's case
/// (softmax gate, Gaussian experts 15 − 20x and −5 + 20x, noise sd 0.3 and 0.4, x in [0, 1]).
#[cfg(test)]
pub(crate) fn peer_case() -> crate::case::Case {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/cases/gaussian-2305.03288/softmax-gaussian-peer.toml"
    );
    crate::case::Case::load(path).expect("the catalogue's peer case")
}
