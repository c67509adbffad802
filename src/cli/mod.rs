//! The command line: clap arguments as typed → resolved configuration → one function per
//! subcommand. Stages below never see clap types.

use clap::{Parser, Subcommand, ValueEnum};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use moeid::case::{ExpertKind, GateKind};
use moeid::{Case, Error, Options, Verification};
use names::Names;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod names;
mod progress;
mod rates;
mod report;
use report::report;

/// Verify the identifiability of mixture-of-experts gate designs.
#[derive(Debug, Parser)]
#[command(name = "moeid", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify cases: verdict, relations as PDEs, predicted rates.
    ///
    /// PATH is a case file (TOML) or a directory searched recursively for `*.toml`.
    Verify {
        /// Case files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        analysis: AnalysisArgs,
        /// Output format: `text` (for people) or `json` (one object per line).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Print what each case would cost (terms, samples, estimated seconds) and stop.
        #[arg(long)]
        estimate: bool,
    },
    /// Measure estimation rates: simulate from the case's truth, fit over-specified mixtures at
    /// growing n, and compare the slopes of the Voronoi loss with the verdict's prediction.
    ///
    /// Settings come from the case's [rates] table, then these options, then defaults. With
    /// --out every finished fit is appended to FILE (JSON lines) and a rerun resumes from it.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Rates {
        /// `plan` or `merge` (see below); without one, the rate check of CASE runs.
        #[command(subcommand)]
        action: Option<RatesAction>,
        /// The case file.
        #[arg(required = true)]
        case: Option<PathBuf>,
        #[command(flatten)]
        grid: GridArgs,
        /// Run only the I-th of N cost-balanced shards of the fits (e.g. 2/8), each shard with its
        /// own --out; `moeid rates merge` joins them. Default: SLURM_ARRAY_TASK_ID and
        /// SLURM_ARRAY_TASK_COUNT (or MOEID_SHARD=I/N) when set, else every fit.
        #[arg(long, value_parser = moeid::rates::Shard::parse)]
        shard: Option<moeid::rates::Shard>,
        /// Checkpoint file (JSON lines): finished fits are appended, a rerun skips them.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write markdown reports: one page per case (verdict, ranks, relations, rates, plots) and
    /// an index, OUT/README.md.
    ///
    /// Rate results stored by `moeid rates --out OUT/data/CASE.jsonl` are used when present;
    /// with --rates the rate check runs first (resuming from that file).
    Report {
        /// Case files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The report folder.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Run the rate check of each case first.
        #[arg(long)]
        rates: bool,
    },
    /// Write a ready-to-edit case file for a new design, every key explained.
    ///
    /// The file verifies as written: edit the expressions and the atoms, then run
    /// `moeid verify NAME.toml`.
    New {
        /// Name of the design (the file is NAME.toml unless --out says otherwise).
        name: String,
        /// The gate to start from.
        #[arg(long, default_value = "softmax", value_parser = clap::builder::PossibleValuesParser::new(GateKind::ALL.map(GateKind::name)))]
        gate: String,
        /// The expert to start from.
        #[arg(long, default_value = "gelu", value_parser = clap::builder::PossibleValuesParser::new(ExpertKind::ALL.map(ExpertKind::name)))]
        expert: String,
        /// Input dimension of the design (default: 1, the cosine router 2); vector parameters
        /// get this many values.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=moeid::case::MAX_DIM as i64))]
        dim: Option<u16>,
        /// Where to write the file (default: NAME.toml).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Verify cases and compare each verdict with the case's `[expect]`.
    ///
    /// Exits with 1 when a verdict differs from its expectation, printing both.
    Check {
        /// Case files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        analysis: AnalysisArgs,
    },
}

#[derive(Debug, clap::Args)]
struct AnalysisArgs {
    /// Highest derivative order (1 to 4); overrides the case's `verify.order`.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4))]
    order: Option<u8>,
    /// Seed of every random choice; overrides the case's `verify.seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Certify every rank decision and relation in high precision (MPFR, precision doubling),
    /// not only those whose f64 gap is unclear.
    #[arg(long)]
    certify: bool,
    /// Largest cell size M of the local geometry (1 to 6): rates of 1..M fitted atoms per true
    /// atom [default: 3].
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=moeid::geometry::MAX_CELLS as i64))]
    cells: Option<u8>,
    /// Stop with an error (exit 2) naming the cases still running after this many seconds.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_seconds: Option<u64>,
}

/// The grid of a rate check (each overrides the case's `[rates]`).
#[derive(Debug, clap::Args)]
struct GridArgs {
    /// Numbers of fitted atoms, comma separated (default: k* and k* + 1).
    #[arg(long, value_delimiter = ',')]
    fitted: Option<Vec<usize>>,
    /// Sample sizes: LOW..HIGH:COUNT, log-spaced (e.g. 1e3..1e5:12), or one size.
    #[arg(long)]
    n: Option<String>,
    /// Replicates per sample size.
    #[arg(long)]
    replicates: Option<usize>,
    /// Restarts per fit (the best likelihood is kept).
    #[arg(long)]
    restarts: Option<usize>,
    /// Seed of the simulations and initialisations.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum RatesAction {
    /// Every fit of the rate check (k, n, replicate, seed) with its estimated cost and shard.
    Plan {
        /// The case file.
        case: PathBuf,
        #[command(flatten)]
        grid: GridArgs,
        /// Number of cost-balanced shards.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=10_000))]
        shards: u16,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Join the checkpoints of every shard of one run into OUT, the checkpoint `moeid rates`
    /// and `moeid report` read: each shard present once, all of one run, every fit once.
    Merge {
        /// The merged checkpoint (a new file).
        out: PathBuf,
        /// Every shard's checkpoint.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

impl AnalysisArgs {
    fn options(&self) -> Options {
        Options {
            order: self.order.map(usize::from),
            seed: self.seed,
            certify: self.certify,
            cells: self.cells.map(usize::from),
            progress: None,
        }
    }
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(REFUSED)
        }
    }
}

/// The exit code of refused input (a bad case, option, path or checkpoint).
const REFUSED: u8 = 2;

/// Prints `error: {message}` and gives the exit code of refused input.
fn refuse<M: std::fmt::Display>(message: M) -> std::io::Result<ExitCode> {
    eprintln!("error: {message}");
    Ok(ExitCode::from(REFUSED))
}

/// Prints a rendered diagnostic (its own `error:` lines) and gives the exit code of refused
/// input.
fn refuse_with(rendered: &str) -> std::io::Result<ExitCode> {
    eprint!("{rendered}");
    Ok(ExitCode::from(REFUSED))
}

/// The exit codes: 0 fine, 1 an expectation not met, 2 bad input.
fn exit(failed_check: bool, errors: bool) -> ExitCode {
    ExitCode::from(if errors {
        2
    } else if failed_check {
        1
    } else {
        0
    })
}

fn run(cli: Cli) -> std::io::Result<ExitCode> {
    match cli.command {
        Command::Verify {
            paths,
            analysis,
            format,
            estimate: true,
        } => estimate(&paths, &analysis.options(), format),
        Command::Verify {
            paths,
            analysis,
            format,
            estimate: false,
        } => verify(&paths, &analysis.options(), analysis.max_seconds, format),
        Command::Check { paths, analysis } => {
            check(&paths, &analysis.options(), analysis.max_seconds)
        }
        Command::New {
            name,
            gate,
            expert,
            dim,
            out,
            force,
        } => new(&name, &gate, &expert, dim.map(usize::from), out, force),
        Command::Rates {
            action:
                Some(RatesAction::Plan {
                    case,
                    grid,
                    shards,
                    format,
                }),
            ..
        } => rates::plan(&case, grid, usize::from(shards), format),
        Command::Rates {
            action: Some(RatesAction::Merge { out, shards }),
            ..
        } => rates::merge(&out, &shards),
        Command::Rates {
            action: None,
            case,
            grid,
            shard,
            out,
            format,
        } => match case {
            Some(case) => rates::rates(&case, grid, shard, out, format),
            None => refuse(format_args!(
                "give the case file: moeid rates CASE (or moeid rates plan|merge)"
            )),
        },
        Command::Report { paths, out, rates } => report(&paths, &out, rates),
    }
}

fn new(
    name: &str,
    gate: &str,
    expert: &str,
    dim: Option<usize>,
    out: Option<PathBuf>,
    force: bool,
) -> std::io::Result<ExitCode> {
    // clap restricts both to their possible values
    let (Some(g), Some(e)) = (GateKind::from_name(gate), ExpertKind::from_name(expert)) else {
        return refuse(format_args!("unknown gate `{gate}` or expert `{expert}`"));
    };
    if let Some(d) = dim.filter(|&d| d < moeid::case::min_dim(g)) {
        return refuse(format_args!(
            "--dim {d}: the {} gate needs inputs of dimension at least {}; use --dim {}",
            g.name(),
            moeid::case::min_dim(g),
            moeid::case::min_dim(g)
        ));
    }
    if out.is_none() {
        if let Some(why) = moeid::report::markdown::unsafe_file_name(name) {
            return refuse(format_args!("`{name}` cannot name a file in this folder ({why}); use letters, digits, '-', '_' and '.', or choose the path with --out"));
        }
    }
    let path = out.unwrap_or_else(|| PathBuf::from(format!("{name}.toml")));
    if path.exists() && !force {
        return refuse(format_args!(
            "{} already exists; choose another name or --out, or pass --force to overwrite it",
            path.display()
        ));
    }
    if let Err(err) = std::fs::write(&path, moeid::case::template(name, g, e, dim)) {
        return refuse(format_args!(
            "cannot write {}: {err}; check that its folder exists, or choose another --out",
            path.display()
        ));
    }
    println!(
        "wrote {}; check it with: moeid verify {}",
        path.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Renders a diagnostic: colors and the terminal's width on a terminal, plain at width 80
/// otherwise (so logs and tests are stable).
pub fn render(e: &dyn Diagnostic) -> String {
    let tty = std::io::stderr().is_terminal();
    let theme = if tty {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut handler = GraphicalReportHandler::new_themed(theme);
    if !tty {
        handler = handler.with_width(80);
    }
    let mut s = String::new();
    if handler.render_report(&mut s, e).is_err() {
        s = format!("error: {e}\n");
    }
    s
}

fn load_and_verify(path: &Path, options: &Options) -> Result<Verification, Error> {
    let case = Case::load(path)?;
    moeid::verify(&case, options)
}

/// Verifies `files` in parallel and hands each result to `each` in file order, as soon as every
/// earlier one has been handed over. Past `max_seconds` (when given) it names the cases still
/// running and exits with code 2. A case whose name an earlier file has is not handed over:
/// the error names both files, and the result is `true`.
fn verify_in_order(
    files: &[PathBuf],
    options: &Options,
    max_seconds: Option<u64>,
    mut each: impl FnMut(usize, &Path, Result<Verification, Error>) -> std::io::Result<()>,
) -> std::io::Result<bool> {
    let started = std::time::Instant::now();
    let mut names = Names::default();
    let mut duplicate = false;
    let progress: Vec<std::sync::Arc<moeid::Progress>> =
        files.iter().map(|_| Default::default()).collect();
    let display = progress::Display::start(files, options, &progress);
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            use rayon::prelude::*;
            files
                .par_iter()
                .enumerate()
                .for_each_with(tx, |tx, (i, f)| {
                    let options = Options {
                        progress: Some(progress[i].clone()),
                        ..options.clone()
                    };
                    let _ = tx.send((i, load_and_verify(f, &options)));
                });
        });
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0;
        while next < files.len() {
            let received = match max_seconds {
                None => rx.recv().ok(),
                Some(limit) => {
                    let left =
                        std::time::Duration::from_secs(limit).saturating_sub(started.elapsed());
                    match rx.recv_timeout(left) {
                        Ok(r) => Some(r),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                            let running: Vec<String> = (next..files.len())
                                .filter(|i| !pending.contains_key(i))
                                .take(3)
                                .map(|i| files[i].display().to_string())
                                .collect();
                            let _ = std::io::stdout().flush();
                            display.finish();
                            eprintln!(
                                "error: {} still running after --max-seconds {limit}; raise the limit, or verify with a lower --order, fewer --cells or fewer parameters",
                                running.join(", ")
                            );
                            // the workers cannot be interrupted: end the process
                            std::process::exit(2);
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => None,
                    }
                }
            };
            let Some((i, result)) = received else { break };
            pending.insert(i, result);
            while let Some(result) = pending.remove(&next) {
                let file = &files[next];
                let earlier = match &result {
                    Ok(v) => names.earlier(&v.case.name, file),
                    Err(_) => None,
                };
                match earlier {
                    None => display.suspend(|| each(next, file, result))?,
                    Some(first) => display.suspend(|| {
                        duplicate = true;
                        let _ = std::io::stdout().flush();
                        let name = result.as_ref().map(|v| v.case.name.as_str()).unwrap_or("");
                        eprintln!(
                            "{}",
                            Names::error(
                                name,
                                file,
                                &first,
                                "their verdicts could not be told apart"
                            )
                        );
                    }),
                }
                next += 1;
            }
        }
        Ok(())
    });
    display.finish();
    result.map(|()| duplicate)
}

/// `verify --estimate`: the cost of each case, without running it.
fn estimate(paths: &[PathBuf], options: &Options, format: Format) -> std::io::Result<ExitCode> {
    let Some(files) = case_files(paths) else {
        return Ok(ExitCode::from(REFUSED));
    };
    let mut stdout = std::io::stdout().lock();
    let mut errors = false;
    for f in &files {
        match Case::load(f)
            .map_err(Error::from)
            .and_then(|c| moeid::cost(&c, options))
        {
            Ok(c) => match format {
                Format::Text => writeln!(stdout, "{}", moeid::report::text::cost(f, &c))?,
                Format::Json => writeln!(stdout, "{}", moeid::report::json::cost(f, &c))?,
            },
            Err(e) => {
                errors = true;
                stdout.flush()?;
                eprint!("{}", render(&e));
            }
        }
    }
    Ok(exit(false, errors))
}

fn verify(
    paths: &[PathBuf],
    options: &Options,
    max_seconds: Option<u64>,
    format: Format,
) -> std::io::Result<ExitCode> {
    let Some(files) = case_files(paths) else {
        return Ok(ExitCode::from(REFUSED));
    };
    let mut stdout = std::io::stdout().lock();
    let mut errors = false;
    let duplicate = verify_in_order(&files, options, max_seconds, |i, _, result| {
        match result {
            Ok(v) => match format {
                Format::Text => {
                    if i > 0 {
                        writeln!(stdout)?;
                    }
                    write!(stdout, "{}", moeid::report::text::render(&v))?;
                }
                Format::Json => writeln!(stdout, "{}", moeid::report::json::render(&v))?,
            },
            Err(e) => {
                errors = true;
                stdout.flush()?;
                eprint!("{}", render(&e));
            }
        }
        Ok(())
    })?;
    Ok(exit(false, errors || duplicate))
}

fn check(
    paths: &[PathBuf],
    options: &Options,
    max_seconds: Option<u64>,
) -> std::io::Result<ExitCode> {
    let Some(files) = case_files(paths) else {
        return Ok(ExitCode::from(REFUSED));
    };
    let mut stdout = std::io::stdout().lock();
    let (mut errors, mut failed, mut passed, mut unchecked) = (false, 0, 0, 0);
    let duplicate = verify_in_order(&files, options, max_seconds, |_, f, result| {
        match result {
            Ok(v) => {
                let got = v.verdict.kind.name();
                match v.case.expect.as_deref() {
                    None => {
                        unchecked += 1;
                        writeln!(
                            stdout,
                            "none  {}: {got} (no [expect] in {})",
                            v.case.name,
                            f.display()
                        )?;
                    }
                    Some(want) if want == got => {
                        passed += 1;
                        writeln!(stdout, "ok    {}: {got}", v.case.name)?;
                    }
                    Some(want) => {
                        failed += 1;
                        writeln!(
                            stdout,
                            "FAIL  {}: expected {want}, found {got}",
                            v.case.name
                        )?;
                        writeln!(stdout, "      file: {}", f.display())?;
                        writeln!(
                            stdout,
                            "      why:  {}",
                            moeid::report::text::reason(&v.verdict.reason, &v.variables)
                        )?;
                    }
                }
            }
            Err(e) => {
                errors = true;
                stdout.flush()?;
                eprint!("{}", render(&e));
            }
        }
        Ok(())
    })?;
    let errors = errors || duplicate;
    writeln!(
        stdout,
        "\n{passed} as expected, {failed} changed, {unchecked} without expectation{}",
        if errors {
            ", some cases could not be verified (see above)"
        } else {
            ""
        }
    )?;
    Ok(exit(failed > 0, errors))
}

/// The case files under `paths`; `None` after saying there are none.
fn case_files(paths: &[PathBuf]) -> Option<Vec<PathBuf>> {
    let files = moeid::case::find(paths);
    if files.is_empty() {
        no_cases(paths);
        return None;
    }
    Some(files)
}

fn no_cases(paths: &[PathBuf]) {
    eprintln!(
        "error: no case files (*.toml) under {}; pass case files or folders that hold them, e.g. cases/",
        show(paths)
    );
}

fn show(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
