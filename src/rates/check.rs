//! A whole rate check from a case and the user's overrides: the overrides checked, the cells
//! verified up to the largest size a fit can form, the settings resolved against the
//! prediction, then the sweep. The command line and the Python package both call this.

use super::{run, Progress, RateError, RateOverrides, RateReport, RateSettings};
use crate::case::{Case, MAX_REPLICATES};
use crate::{Error, Options, Verification};
use std::path::Path;

/// Most fitted atoms beyond the true ones.
pub const MAX_EXTRA_ATOMS: usize = 8;

/// Most random restarts per fit.
pub const MAX_RESTARTS: usize = 100;

/// What a rate check found, with the verification its prediction came from.
#[derive(Debug)]
pub struct RateCheck {
    /// The fits summarised and compared with the prediction.
    pub report: RateReport,
    /// The verification behind the prediction; an error when the case has no verdict (the
    /// check then runs without a prediction).
    pub verification: Result<Verification, Error>,
}

/// Checks the overrides against the case: fitted sizes from $k^*$ to $k^* + 8$, 1 to
/// [`MAX_REPLICATES`] replicates, 1 to [`MAX_RESTARTS`] restarts.
///
/// # Errors
/// [`RateError::Setting`] naming the setting, its value and the range to use.
pub fn check_overrides(case: &Case, o: &RateOverrides) -> Result<(), RateError> {
    let k_star = case.atoms.len();
    let bad = |setting: &'static str, value: String, fix: String| RateError::Setting {
        setting,
        value,
        fix,
    };
    if let Some(k) = o
        .fitted
        .iter()
        .flatten()
        .find(|&&k| k < k_star || k > k_star + MAX_EXTRA_ATOMS)
    {
        return Err(bad(
            "fitted",
            k.to_string(),
            format!(
                "the case has {k_star} true atoms; fit from {k_star} to {} atoms",
                k_star + MAX_EXTRA_ATOMS
            ),
        ));
    }
    if let Some(r) = o.replicates.filter(|r| !(1..=MAX_REPLICATES).contains(r)) {
        return Err(bad(
            "replicates",
            r.to_string(),
            format!("use 1 to {MAX_REPLICATES}"),
        ));
    }
    if let Some(r) = o.restarts.filter(|r| !(1..=MAX_RESTARTS).contains(r)) {
        return Err(bad(
            "restarts",
            r.to_string(),
            format!("use 1 to {MAX_RESTARTS}"),
        ));
    }
    if o.n.as_ref().is_some_and(|n| n.is_empty()) {
        return Err(bad(
            "n",
            "[]".into(),
            "give at least one sample size".into(),
        ));
    }
    Ok(())
}

/// Runs the rate check of `case` with `overrides` on top of its `[rates]` table, appending to
/// (and resuming from) `checkpoint` when one is given.
///
/// # Errors
/// A bad override, a model that cannot be simulated, or a checkpoint of another run.
pub fn check(
    case: &Case,
    overrides: &RateOverrides,
    checkpoint: Option<&Path>,
    progress: Progress,
) -> Result<RateCheck, RateError> {
    check_overrides(case, overrides)?;
    let k_star = case.atoms.len();
    // What the prediction changes (held and orbit starts) does not decide whether the run can
    // start: refuse at once, before the verification (minutes with many fitted atoms).
    let unpredicted = RateSettings::resolve(case, overrides, None);
    super::sweep::feasible(case, &unpredicted)?;
    let fitted = unpredicted.fitted;
    // Cells up to the largest a fit can form: k atoms on k* true ones put at most k − k* + 1
    // in one cell.
    let most = fitted.iter().copied().max().unwrap_or(k_star);
    let cells = (most + 1)
        .saturating_sub(k_star)
        .clamp(1, crate::geometry::MAX_CELLS);
    let verification = crate::verify(
        case,
        &Options {
            cells: Some(cells),
            ..Options::default()
        },
    );
    let prediction = verification
        .as_ref()
        .ok()
        .map(|v| (&v.predicted, v.verdict.kind.name()));
    let settings = RateSettings::resolve(case, overrides, prediction.map(|(p, _)| p));
    let report = run(case, &settings, prediction, checkpoint, progress)?;
    Ok(RateCheck {
        report,
        verification,
    })
}
