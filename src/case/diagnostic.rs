//! Errors in case files, rendered by miette with the offending text underlined.

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode, SourceSpan};
use std::fmt;
use std::sync::Arc;

/// One problem in a case file: what, where, and how to fix it.
#[derive(Debug, Clone)]
pub struct CaseDiagnostic {
    /// A stable code, e.g. `moeid::expr::unknown_name`.
    pub code: &'static str,
    /// What went wrong, as a sentence.
    pub message: String,
    /// The text the span points into (the case file, or an expression on its own).
    pub src: NamedSource<Arc<str>>,
    /// The offending bytes.
    pub span: SourceSpan,
    /// A short label under the span.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl fmt::Display for CaseDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CaseDiagnostic {}

impl Diagnostic for CaseDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(self.label.clone()),
            self.span,
        ))))
    }
}

/// Why a case could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum CaseError {
    /// The file could not be read.
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file was read but has problems; all of them are listed.
    Invalid {
        /// The file.
        path: String,
        /// Every problem found, in file order.
        problems: Vec<CaseDiagnostic>,
    },
}

impl CaseError {
    /// The problems found (empty for I/O errors).
    pub fn problems(&self) -> &[CaseDiagnostic] {
        match self {
            CaseError::Io { .. } => &[],
            CaseError::Invalid { problems, .. } => problems,
        }
    }
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseError::Io { path, .. } => write!(f, "cannot read case file {path}"),
            CaseError::Invalid { path, problems } if problems.len() == 1 => {
                write!(f, "case file {path}: {}", problems[0].message)
            }
            CaseError::Invalid { path, problems } => {
                write!(f, "case file {path} has {} problems", problems.len())
            }
        }
    }
}

impl std::error::Error for CaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaseError::Io { source, .. } => Some(source),
            CaseError::Invalid { .. } => None,
        }
    }
}

impl Diagnostic for CaseError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            CaseError::Io { .. } => Some(Box::new("moeid::case::io")),
            CaseError::Invalid { problems, .. } if problems.len() == 1 => problems[0].code(),
            CaseError::Invalid { .. } => Some(Box::new("moeid::case::invalid")),
        }
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            CaseError::Io { source, .. } => Some(Box::new(match source.kind() {
                std::io::ErrorKind::InvalidData => "case files are UTF-8 text; save it as UTF-8",
                std::io::ErrorKind::FileTooLarge => {
                    "case files are small TOML files; check the path"
                }
                _ => "check the path; cases are TOML files",
            })),
            CaseError::Invalid { problems, .. } if problems.len() == 1 => problems[0].help(),
            CaseError::Invalid { .. } => None,
        }
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        match self {
            CaseError::Invalid { problems, .. } if problems.len() == 1 => Some(&problems[0].src),
            _ => None,
        }
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        match self {
            CaseError::Invalid { problems, .. } if problems.len() == 1 => problems[0].labels(),
            _ => None,
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self {
            CaseError::Invalid { problems, .. } if problems.len() > 1 => {
                Some(Box::new(problems.iter().map(|p| p as &dyn Diagnostic)))
            }
            _ => None,
        }
    }
}
