//! Verification → text and JSON.
//!
//! Text is for people: one compact block per case, readable at a glance. JSON is for programs:
//! one object per case, fields documented in README.md. Both are deterministic for a seed.

pub mod cells;
pub mod coef;
pub mod files;
pub mod json;
pub mod latex;
pub mod markdown;
mod page;
pub mod plot;
pub mod rate;
pub mod rates;
pub mod relation;
pub mod sympy;
pub mod text;
