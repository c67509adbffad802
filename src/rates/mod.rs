//! Estimation rates: what the local geometry predicts (docs/theory.md §7), and what fits measure
//! (docs/theory.md §6).
//!
//! - [`predict`]: the rates the cells of the local geometry give, per cell size;
//! - [`model`], [`simulate`], [`fit`]: the mixture being fitted, data drawn from the truth,
//!   least squares and EM;
//! - [`loss`]: Voronoi losses with the softmax translation removed;
//! - [`slope`]: slopes of log mean loss on log $n$ with bootstrap intervals;
//! - [`run`]: the sweep over fitted sizes, sample sizes and replicates, resumable.

pub mod fit;
pub mod loss;
pub mod model;
mod predict;
pub mod run;
pub mod simulate;
pub mod slope;

pub use predict::{predict, rate_text, Group, Prediction, Rate};
pub use run::{
    run, Agreement, Progress, RateError, RateOverrides, RateReport, RateRow, RateSettings,
};
