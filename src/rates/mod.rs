//! Estimation rates: what the verdict predicts (theory.md §3).
//!
//! The empirical rate check (simulation, fits, slopes) belongs here too; today the stage holds
//! the predictions, always shown with their rule and source.

mod predict;

pub use predict::{predict, Prediction, Rate};
