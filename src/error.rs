//! The top-level error: one variant per stage that can fail.

use crate::case::CaseError;
use crate::family::FamilyError;
use miette::Diagnostic;
use std::fmt;

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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Case(e) => e.fmt(f),
            Error::Family { path, source } => write!(f, "case file {path}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Case(e) => e.source(),
            Error::Family { .. } => None,
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
        }
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            Error::Case(e) => e.help(),
            Error::Family { .. } => None,
        }
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        match self {
            Error::Case(e) => e.source_code(),
            Error::Family { .. } => None,
        }
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        match self {
            Error::Case(e) => e.labels(),
            Error::Family { .. } => None,
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self {
            Error::Case(e) => e.related(),
            Error::Family { .. } => None,
        }
    }
}

impl From<CaseError> for Error {
    fn from(e: CaseError) -> Self {
        Error::Case(e)
    }
}
