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
mod decision;
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
pub use predict::{predict, rate_text, Group, Prediction, Rate};
pub use settings::{RateOverrides, RateSettings};
pub use summary::{stored, Agreement, RateReport, RateRow};
pub use sweep::{feasible, run, simulable, Progress};

#[cfg(test)]
/// The peer protocol's truth (docs/theory.md §6), for unit tests: softmax gate, Gaussian experts 15 − 20x and
/// −5 + 20x, noise sd 0.3 and 0.4, x in [0, 1].
pub(crate) fn peer_case() -> crate::case::Case {
    crate::case::Case::builder("peer", crate::case::Model::Gaussian)
        .inputs(1, 0.0, 1.0)
        .gate("exp(dot(beta1, x) + beta0)", true)
        .mean("dot(a, x) + b")
        .variance("nu")
        .vector("beta1", 1)
        .mass("beta0")
        .vector("a", 1)
        .scalar("b")
        .scalar("nu")
        .atom(&[
            ("beta1", &[25.0]),
            ("beta0", &[-8.0]),
            ("a", &[-20.0]),
            ("b", &[15.0]),
            ("nu", &[0.09]),
        ])
        .atom(&[
            ("beta1", &[0.0]),
            ("beta0", &[0.0]),
            ("a", &[20.0]),
            ("b", &[-5.0]),
            ("nu", &[0.16]),
        ])
        .build()
        .unwrap()
}
