//! `moeid report`: every case verified (and its rate check, with `--rates`), one page each and
//! an index, written atomically into the chosen folder.

use super::*;

pub(super) fn report(paths: &[PathBuf], out: &Path, run_rates: bool) -> std::io::Result<ExitCode> {
    let Some(files) = case_files(paths) else {
        return Ok(ExitCode::from(REFUSED));
    };
    if let Err(e) = std::fs::create_dir_all(out.join("data")) {
        return refuse(format_args!(
            "cannot create {}: {e}; choose a folder for --out",
            out.join("data").display()
        ));
    }
    moeid::report::markdown::remove_stray_temporaries(out);
    let version = env!("CARGO_PKG_VERSION");
    let mut rows = Vec::new();
    let mut errors = false;
    let mut names = Names::default();
    for f in &files {
        let v = match load_and_verify(f, &Options::default()) {
            Ok(v) => v,
            Err(e) => {
                errors = true;
                eprint!("{}", render(&e));
                continue;
            }
        };
        let case = &v.case;
        // The case's name names its page and data file: never a path, never twice.
        if let Some(why) = moeid::report::markdown::unsafe_file_name(&case.name) {
            errors = true;
            eprintln!(
                "error: {}: the case name `{}` cannot name a report page ({why}); set `name` to letters, digits, '-', '_' and '.'",
                f.display(),
                case.name
            );
            continue;
        }
        if let Some(first) = names.earlier(&case.name, f) {
            errors = true;
            eprintln!(
                "{}",
                Names::error(
                    &case.name,
                    f,
                    &first,
                    "their report pages would overwrite each other"
                )
            );
            continue;
        }
        let settings = moeid::rates::RateSettings::resolve(
            case,
            &moeid::rates::RateOverrides::default(),
            Some(&v.predicted),
        );
        let data = out.join("data").join(format!("{}.jsonl", case.name));
        let prediction = Some((&v.predicted, v.verdict.kind.name()));
        let rates = if run_rates {
            let progress = if std::io::stderr().is_terminal() {
                moeid::rates::Progress::Bar
            } else {
                moeid::rates::Progress::Quiet
            };
            moeid::rates::run(case, &settings, prediction, Some(&data), progress).map(Some)
        } else {
            moeid::rates::stored(case, &settings, prediction, &data)
        };
        let rates = match rates {
            Ok(r) => r,
            // a model the rate check cannot fit: the page says so, the run goes on
            Err(moeid::rates::RateError::Unsupported(
                u @ (moeid::rates::Unsupported::TopK { .. }
                | moeid::rates::Unsupported::Unnormalized { .. }),
            )) => {
                eprintln!("note: {u}");
                None
            }
            Err(e) => {
                errors = true;
                eprintln!("error: {e}");
                None
            }
        };
        match moeid::report::markdown::write_case(&v, rates.as_ref(), out, version) {
            Ok(row) => rows.push(row),
            Err(e) => {
                errors = true;
                eprintln!("error: {e}");
            }
        }
    }
    let index = moeid::report::markdown::index(&rows, version);
    if let Err(e) = moeid::report::markdown::write_atomic(&out.join("README.md"), index.as_bytes())
    {
        return refuse(format_args!("{}: {e}", out.join("README.md").display()));
    }
    println!(
        "wrote {} reports and {}",
        rows.len(),
        out.join("README.md").display()
    );
    Ok(exit(false, errors))
}
