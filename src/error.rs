//! The top-level error: one variant per stage that can fail.

use crate::case::CaseError;
use crate::family::FamilyError;
use miette::Diagnostic;
use std::fmt;

/// An [`crate::Options`] value out of range.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OptionsError {
    /// `cells` outside 1 to [`crate::geometry::MAX_CELLS`].
    Cells(usize),
    /// `order` outside 1 to [`crate::case::MAX_ORDER`].
    Order(usize),
    /// A case changed after loading no longer fits its model (the fields of [`crate::Case`]
    /// are public; `verify` checks them at the door).
    Case(CaseShape),
}

/// What is wrong with a [`crate::Case`] built or edited in code.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CaseShape {
    /// No atoms, or one with a normalized gate.
    Atoms {
        /// Atoms given.
        got: usize,
        /// Fewest allowed.
        want: usize,
    },
    /// An atom with the wrong number of values.
    AtomLength {
        /// The atom (1-based).
        atom: usize,
        /// Values given.
        got: usize,
        /// Scalar parameters declared.
        want: usize,
    },
    /// The model needs an expression the case lacks: `mean`, `variance` or `logits`.
    Missing(&'static str),
    /// The input box is empty or not finite.
    InputBox {
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    },
    /// A top-K gate that selects no atom or every atom.
    TopK {
        /// K.
        k: usize,
        /// Atoms.
        atoms: usize,
    },
    /// The input dimension is outside `1..=MAX_DIM`.
    Dimension(usize),
    /// A parameter whose offset, length or the running total breaks the layout of θ.
    Params(String),
    /// An expression that no longer compiles for the case (e.g. after its dimension changed).
    Expression {
        /// Its key, e.g. `expert.mean`.
        key: String,
        /// Why, from the compiler.
        message: String,
    },
}

impl fmt::Display for CaseShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseShape::Atoms { got, want } => write!(
                f,
                "the case has {got} atoms; it needs at least {want} (a normalized gate needs two)"
            ),
            CaseShape::AtomLength { atom, got, want } => write!(
                f,
                "atom {atom} has {got} values; the case declares {want} scalar parameters"
            ),
            CaseShape::Missing(what) => write!(f, "the model needs an expert `{what}`"),
            CaseShape::InputBox { low, high } => write!(
                f,
                "the input box [{low}, {high}] is empty or not finite; set low < high"
            ),
            CaseShape::TopK { k, atoms } => write!(
                f,
                "a top-{k} gate over {atoms} atoms selects {}; set `gate.top_k` from 1 to {}",
                if *k == 0 { "no atom" } else { "every atom" },
                atoms.saturating_sub(1)
            ),
            CaseShape::Params(name) => write!(
                f,
                "parameter `{name}` breaks the layout of θ (offsets one after another, 1 to {} \
                 scalars in all)",
                crate::expr::ParamSet::CAPACITY
            ),
            CaseShape::Dimension(d) => write!(
                f,
                "the input dimension {d} is outside 1 to {}; set `dim` in that range",
                crate::case::MAX_DIM
            ),
            CaseShape::Expression { key, message } => write!(
                f,
                "`{key}` does not compile for this case ({message}); the expressions must fit \
                 the dimension and the parameters' shapes"
            ),
        }
    }
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionsError::Cells(m) => write!(
                f,
                "cells = {m}: the local geometry analyses cells of 1 to {} fitted atoms; use --cells 1 to {}",
                crate::geometry::MAX_CELLS,
                crate::geometry::MAX_CELLS
            ),
            OptionsError::Case(c) => c.fmt(f),
            OptionsError::Order(r) => write!(
                f,
                "order = {r}: derivative orders go from 1 to {}; use --order 1 to {}",
                crate::case::MAX_ORDER,
                crate::case::MAX_ORDER
            ),
        }
    }
}

/// Why a case could not be verified.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The case file could not be read or is invalid.
    Case(CaseError),
    /// The family could not be evaluated (non-finite values, limits).
    Family {
        /// The case's file.
        path: String,
        /// What went wrong.
        source: FamilyError,
    },
    /// An option is out of range.
    Options(OptionsError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Case(e) => e.fmt(f),
            Error::Family { path, source } => write!(f, "case file {path}: {source}"),
            Error::Options(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Case(e) => e.source(),
            Error::Family { .. } | Error::Options(_) => None,
        }
    }
}

impl Diagnostic for Error {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            Error::Case(e) => e.code(),
            Error::Family { source, .. } => Some(Box::new(match source {
                FamilyError::NonFinite { .. } => "moeid::family::non_finite",
                FamilyError::TooManyTerms { .. } => "moeid::family::too_many_terms",
                FamilyError::Samples { .. } => "moeid::family::samples",
                FamilyError::MatrixTooLarge { .. } => "moeid::family::matrix_too_large",
            })),
            Error::Options(_) => Some(Box::new("moeid::options")),
        }
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            Error::Case(e) => e.help(),
            Error::Family { .. } | Error::Options(_) => None,
        }
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        match self {
            Error::Case(e) => e.source_code(),
            Error::Family { .. } | Error::Options(_) => None,
        }
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        match self {
            Error::Case(e) => e.labels(),
            Error::Family { .. } | Error::Options(_) => None,
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self {
            Error::Case(e) => e.related(),
            Error::Family { .. } | Error::Options(_) => None,
        }
    }
}

impl From<CaseError> for Error {
    fn from(e: CaseError) -> Self {
        Error::Case(e)
    }
}
