//! Why a family could not be evaluated.

use super::{MAX_ENTRIES, MAX_SAMPLES, MAX_TERMS};

/// Why a family could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum FamilyError {
    /// An evaluation gave NaN or an infinity.
    #[error(
        "{term}{} is {value} at sample {sample} ({point}){}; check the atom's values (a variance or temperature that must be positive, a log or sqrt of a negative number, an overflowing exp) and the input box",
        at_atom(*atom),
        first_turns(origin)
    )]
    #[diagnostic(code(moeid::family::non_finite))]
    NonFinite {
        /// Atom (1-based).
        atom: usize,
        /// The term, e.g. `∂u/∂tau`.
        term: String,
        /// Sample index (0-based).
        sample: usize,
        /// The sample point, e.g. `x = [0.31], y = 0`.
        point: String,
        /// The value obtained.
        value: f64,
        /// The sub-expression where the evaluation first turns non-finite, e.g. `` `sqrt(b)` ``.
        origin: Option<String>,
    },
    /// More family terms than [`MAX_TERMS`].
    #[error(
        "the joint family would have {terms} terms ({atoms} atoms × {} terms: {params} parameters per atom at order {order}); the limit is {MAX_TERMS}: use a lower `verify.order`, fewer parameters or fewer atoms",
        terms / atoms.max(&1)
    )]
    #[diagnostic(code(moeid::family::too_many_terms))]
    TooManyTerms {
        /// Terms requested (all atoms together).
        terms: usize,
        /// Atoms.
        atoms: usize,
        /// Parameters per atom.
        params: usize,
        /// Order.
        order: usize,
    },
    /// A joint family matrix with more than [`MAX_ENTRIES`] entries.
    #[error(
        "the joint family matrix would be {samples} samples × {terms} terms, more than the limit of {MAX_ENTRIES} entries; use fewer `verify.samples` (0 picks 3 per term), a lower `verify.order` or fewer parameters"
    )]
    #[diagnostic(code(moeid::family::matrix_too_large))]
    MatrixTooLarge {
        /// Rows: sample points.
        samples: usize,
        /// Columns: terms of the joint family.
        terms: usize,
    },
    /// Fewer sample points than family terms, or more than [`MAX_SAMPLES`].
    #[error("{}", samples_message(*samples, *terms))]
    #[diagnostic(code(moeid::family::samples))]
    Samples {
        /// Points requested.
        samples: usize,
        /// Terms in the joint family.
        terms: usize,
    },
}

fn at_atom(atom: usize) -> String {
    if atom > 0 {
        format!(" at atom {atom}")
    } else {
        String::new()
    }
}

fn first_turns(origin: &Option<String>) -> String {
    match origin {
        Some(o) => format!("; it first turns non-finite in {o}"),
        None => String::new(),
    }
}

fn samples_message(samples: usize, terms: usize) -> String {
    if samples > MAX_SAMPLES {
        format!(
            "verify.samples = {samples} is more than the limit {MAX_SAMPLES}; use 0 (automatic) or fewer points"
        )
    } else {
        format!(
            "verify.samples = {samples} is fewer than the {terms} family terms, so every family would look dependent; use 0 (automatic) or at least {}",
            3 * terms
        )
    }
}
