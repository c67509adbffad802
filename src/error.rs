//! The top-level error: one variant per stage that can fail.

use crate::case::CaseError;
use crate::family::FamilyError;
use crate::rates::RateError;
use miette::Diagnostic;

/// An [`crate::Options`] value out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// `cells` outside 1 to [`crate::geometry::MAX_CELLS`].
    #[error(
        "cells = {0}: the local geometry analyses cells of 1 to {max} fitted atoms; use --cells 1 to {max}",
        max = crate::geometry::MAX_CELLS
    )]
    Cells(usize),
    /// `order` outside 1 to [`crate::case::MAX_ORDER`].
    #[error(
        "order = {0}: derivative orders go from 1 to {max}; use --order 1 to {max}",
        max = crate::case::MAX_ORDER
    )]
    Order(usize),
    /// A case changed after loading no longer fits its model (the fields of [`crate::Case`]
    /// are public; `verify` checks them at the door).
    #[error(transparent)]
    Case(CaseShape),
}

/// What is wrong with a [`crate::Case`] built or edited in code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CaseShape {
    /// No atoms, or one with a normalized gate.
    #[error("the case has {got} atoms; it needs at least {want} (a normalized gate needs two)")]
    Atoms {
        /// Atoms given.
        got: usize,
        /// Fewest allowed.
        want: usize,
    },
    /// An atom with the wrong number of values.
    #[error("atom {atom} has {got} values; the case declares {want} scalar parameters")]
    AtomLength {
        /// The atom (1-based).
        atom: usize,
        /// Values given.
        got: usize,
        /// Scalar parameters declared.
        want: usize,
    },
    /// The model needs an expression the case lacks: `mean`, `variance` or `logits`.
    #[error("the model needs an expert `{0}`")]
    Missing(&'static str),
    /// The input box is empty or not finite.
    #[error("the input box [{low}, {high}] is empty or not finite; set low < high")]
    InputBox {
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    },
    /// A top-K gate that selects no atom or every atom.
    #[error(
        "a top-{k} gate over {atoms} atoms selects {}; set `gate.top_k` from 1 to {}",
        if *k == 0 { "no atom" } else { "every atom" },
        atoms.saturating_sub(1)
    )]
    TopK {
        /// K.
        k: usize,
        /// Atoms.
        atoms: usize,
    },
    /// The input dimension is outside `1..=MAX_DIM`.
    #[error(
        "the input dimension {0} is outside 1 to {max}; set `dim` in that range",
        max = crate::case::MAX_DIM
    )]
    Dimension(usize),
    /// A parameter whose offset, length or the running total breaks the layout of θ.
    #[error(
        "parameter `{0}` breaks the layout of θ (offsets one after another, 1 to {max} scalars in all)",
        max = crate::expr::ParamSet::CAPACITY
    )]
    Params(String),
    /// An expression that no longer compiles for the case (e.g. after its dimension changed).
    #[error(
        "`{key}` does not compile for this case ({message}); the expressions must fit the dimension and the parameters' shapes"
    )]
    Expression {
        /// Its key, e.g. `expert.mean`.
        key: String,
        /// Why, from the compiler.
        message: String,
    },
}

/// Why a case could not be verified.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// The case file could not be read or is invalid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Case(#[from] CaseError),
    /// The family could not be evaluated (non-finite values, limits).
    #[error("case file {path}: {error}")]
    #[diagnostic(forward(error))]
    Family {
        /// The case's file.
        path: String,
        /// What went wrong.
        error: FamilyError,
    },
    /// An option is out of range.
    #[error(transparent)]
    #[diagnostic(code(moeid::options))]
    Options(OptionsError),
    /// A rate check cannot run (unsupported model, settings, checkpoint, shards).
    #[error(transparent)]
    #[diagnostic(code(moeid::rates))]
    Rates(#[from] RateError),
}
