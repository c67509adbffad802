//! `moeid rates` and its `plan` and `merge`: grid options → library overrides → one function
//! per action.

use super::{refuse, refuse_with, render, Format, GridArgs};
use moeid::{Case, Error};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub(super) fn rates(
    path: &Path,
    grid: GridArgs,
    shard: Option<moeid::rates::Shard>,
    out: Option<PathBuf>,
    format: Format,
) -> std::io::Result<ExitCode> {
    let bad = refuse::<String>;
    let case = match Case::load(path) {
        Ok(c) => c,
        Err(e) => {
            return refuse_with(&render(&Error::Case(e)));
        }
    };
    let shard = match shard {
        Some(s) => Some(s),
        None => match moeid::rates::Shard::from_env(|k| std::env::var(k).ok()) {
            Ok(s) => s,
            Err(e) => return bad(format!("{e}; or give --shard I/N")),
        },
    };
    let overrides = match overrides(grid, shard) {
        Ok(o) => o,
        Err(e) => return bad(e),
    };
    if let (Some(s), None) = (shard, &out) {
        return bad(format!(
            "shard {s} without --out: a shard's fits are kept only in its checkpoint; give each shard its own file, e.g. --out fits-{}.jsonl",
            s.index
        ));
    }
    let progress = if std::io::stderr().is_terminal() {
        moeid::rates::Progress::Bar
    } else {
        moeid::rates::Progress::Quiet
    };
    match moeid::rates::check(&case, &overrides, out.as_deref(), progress) {
        Ok(moeid::rates::RateCheck {
            report,
            verification,
        }) => {
            if let Err(e) = &verification {
                eprint!("{}", render(e));
                eprintln!("note: no verdict, so no predicted rates; the rate check ran anyway");
            }
            let mut stdout = std::io::stdout().lock();
            match format {
                Format::Text => write!(stdout, "{}", moeid::report::rates::render(&report))?,
                Format::Json => writeln!(stdout, "{}", moeid::report::rates::json(&report))?,
            }
            match report.all_failed() {
                Some((fits, k, first)) => {
                    stdout.flush()?;
                    let all = if fits == 1 {
                        format!("the only fit failed (k = {k})")
                    } else {
                        format!("every one of the {fits} fits failed; first (k = {k})")
                    };
                    bad(format!(
                        "{}: {all}: {first}; check the atoms' values and [rates] settings",
                        path.display()
                    ))
                }
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Err(e @ moeid::rates::RateError::Setting { .. }) => bad(setting_message(&e)),
        Err(e @ moeid::rates::RateError::Unsupported(_)) => bad(format!("{}: {e}", path.display())),
        Err(e) => bad(e.to_string()),
    }
}

/// The grid options as library overrides; the message of a bad `--n`.
fn overrides(
    grid: GridArgs,
    shard: Option<moeid::rates::Shard>,
) -> Result<moeid::rates::RateOverrides, String> {
    let n = match grid.n.map(|g| moeid::case::parse_grid(&g)) {
        Some(Ok(g)) => Some(g),
        Some(Err(e)) => return Err(format!("--n: {e}; write e.g. --n 1e3..1e5:12")),
        None => None,
    };
    Ok(moeid::rates::RateOverrides {
        fitted: grid.fitted,
        n,
        replicates: grid.replicates,
        restarts: grid.restarts,
        seed: grid.seed,
        shard,
    })
}

pub(super) fn plan(
    path: &Path,
    grid: GridArgs,
    shards: usize,
    format: Format,
) -> std::io::Result<ExitCode> {
    let case = match Case::load(path) {
        Ok(c) => c,
        Err(e) => {
            return refuse_with(&render(&Error::Case(e)));
        }
    };
    let overrides = match overrides(grid, None) {
        Ok(o) => o,
        Err(e) => {
            return refuse(e);
        }
    };
    if let Err(e) = moeid::rates::check_overrides(&case, &overrides) {
        return refuse(format_args!("{}", setting_message(&e)));
    }
    let settings = moeid::rates::RateSettings::resolve(&case, &overrides, None);
    if let Err(e) = moeid::rates::feasible(&case, &settings) {
        return refuse(format_args!("{}: {e}", path.display()));
    }
    let tasks = moeid::rates::plan(&case, &settings, shards);
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Text => write!(
            stdout,
            "{}",
            moeid::report::rates::plan_text(&case.name, &tasks, shards)
        )?,
        Format::Json => writeln!(
            stdout,
            "{}",
            moeid::report::rates::plan_json(&case.name, &tasks, shards)
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn merge(out: &Path, shards: &[PathBuf]) -> std::io::Result<ExitCode> {
    match moeid::rates::merge(out, shards) {
        Ok(m) => {
            println!(
                "merged {} shards, {} fits, into {}; resume or summarise it with `{}`",
                m.shards,
                m.fits,
                out.display(),
                m.header.command
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => refuse(e),
    }
}

/// A rate-check error as the command line words it (settings as their options).
fn setting_message(e: &moeid::rates::RateError) -> String {
    match e {
        moeid::rates::RateError::Setting {
            setting,
            value,
            fix,
        } => format!("--{setting} {value}: {fix}"),
        other => other.to_string(),
    }
}
