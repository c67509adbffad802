//! The rate check: simulate, fit, measure, compare (docs/theory.md §6).
//!
//! For every number of fitted atoms $k$, sample size $n$ and replicate $r$, one task draws data
//! from the true model, initialises $k$ atoms near the truth, fits, and records the fitted atoms.
//! Tasks run in parallel (rayon); each is seeded from (seed, case, $k$, $n$, $r$) alone, so the
//! results do not depend on the thread count or the order. Each finished fit is appended to the
//! checkpoint as one JSON line; a rerun with the same checkpoint skips finished fits, so a run
//! killed at any moment and resumed ends with the same summary.
//!
//! The summary computes the Voronoi loss of every fit ([`LossSpec`]), the slope of
//! $\log(\text{mean loss})$ on $\log n$ with a bootstrap interval over replicates ([`slope`]),
//! and compares it with the slope the verdict predicts.

use super::fit::{fit, FitSettings, FitStatus};
use super::loss::LossSpec;
use super::model::MixtureModel;
use super::simulate::Data;
use super::slope::{slope, Slope};
use super::{Group, Prediction, Rate};
use crate::case::Case;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{BufRead, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Settings of a rate check, resolved (case `[rates]`, then the command line, then defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct RateSettings {
    /// Numbers of fitted atoms.
    pub fitted: Vec<usize>,
    /// Sample sizes.
    pub n: Vec<usize>,
    /// Replicates per size.
    pub replicates: usize,
    /// Restarts per fit (best objective kept).
    pub restarts: usize,
    /// Regression noise standard deviation.
    pub noise: f64,
    /// Exponents of over-specified cells, by parameter name.
    pub exponents: BTreeMap<String, f64>,
    /// Initialisation noise (gate, expert) times $n^{-\text{decay}}$.
    pub init_gate: f64,
    /// See `init_gate`.
    pub init_expert: f64,
    /// See `init_gate`.
    pub init_decay: f64,
    /// Iteration cap per fit.
    pub max_iters: usize,
    /// Relative change of the objective that stops a fit.
    pub tolerance: f64,
    /// Seed.
    pub seed: u64,
    /// Bootstrap resamples of the slope interval.
    pub bootstrap: usize,
    /// SQUAREM acceleration of EM.
    pub accelerate: bool,
}

/// Command-line overrides of the case's `[rates]`.
#[derive(Clone, Debug, Default)]
pub struct RateOverrides {
    /// `--fitted`.
    pub fitted: Option<Vec<usize>>,
    /// `--n`.
    pub n: Option<Vec<usize>>,
    /// `--replicates`.
    pub replicates: Option<usize>,
    /// `--restarts`.
    pub restarts: Option<usize>,
    /// `--seed`.
    pub seed: Option<u64>,
}

impl RateSettings {
    /// The settings of `case`: its `[rates]` table with `overrides` on top, defaults for the
    /// rest (fitted $k^*$ and $k^* + 1$; 8 sizes from $10^3$ to $10^5$; 20 replicates; the
    /// peer protocol's initialisation noise $0.005, 0.05 \times n^{-0.083}$; EM: tolerance
    /// $10^{-6}$ on the log-likelihood and 2000 iterations, as the peer; least squares:
    /// tolerance $10^{-9}$ on the mean squared error and 1000 iterations, because L-BFGS
    /// crawls along weakly identified directions and stops near its start at $10^{-6}$).
    pub fn resolve(case: &Case, o: &RateOverrides) -> RateSettings {
        let r = &case.rates;
        let k = case.atoms.len();
        let regression = case.model == crate::case::Model::Regression;
        let mut s = RateSettings {
            fitted: o
                .fitted
                .clone()
                .or(r.fitted.clone())
                .unwrap_or(vec![k, k + 1]),
            n: o.n
                .clone()
                .or(r.n.clone())
                .unwrap_or_else(|| crate::case::parse_grid("1e3..1e5:8").unwrap_or_default()),
            replicates: o.replicates.or(r.replicates).unwrap_or(20),
            restarts: o.restarts.or(r.restarts).unwrap_or(1),
            noise: r.noise.unwrap_or(0.1),
            exponents: r.exponents.iter().cloned().collect(),
            init_gate: r.init_gate.unwrap_or(0.005),
            init_expert: r.init_expert.unwrap_or(0.05),
            init_decay: r.init_decay.unwrap_or(0.083),
            max_iters: r.max_iters.unwrap_or(if regression { 1000 } else { 2000 }),
            tolerance: r.tolerance.unwrap_or(if regression { 1e-9 } else { 1e-6 }),
            seed: o.seed.or(r.seed).unwrap_or(case.seed),
            bootstrap: 1000,
            accelerate: r.accelerate.unwrap_or(true),
        };
        // a size or atom count given twice is one cell of the sweep
        for v in [&mut s.fitted, &mut s.n] {
            v.sort_unstable();
            v.dedup();
        }
        s
    }

    /// A fingerprint of everything a fit depends on (not the loss exponents, which only the
    /// summary uses): checkpoints of another run are refused.
    pub fn fingerprint(&self, case: &Case) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        eat(case.name.as_bytes());
        for e in case.expressions() {
            eat(e.text.as_bytes());
        }
        for a in case.atoms.iter().flatten() {
            eat(&a.to_bits().to_le_bytes());
        }
        for v in [
            self.noise,
            self.init_gate,
            self.init_expert,
            self.init_decay,
            self.tolerance,
            case.low,
            case.high,
        ] {
            eat(&v.to_bits().to_le_bytes());
        }
        for v in [self.restarts, self.max_iters, usize::from(self.accelerate)] {
            eat(&v.to_le_bytes());
        }
        eat(&self.seed.to_le_bytes());
        format!("{h:016x}")
    }
}

/// One finished fit, as stored in the checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitRecord {
    /// [`RateSettings::fingerprint`] of the run.
    pub fingerprint: String,
    /// Fitted atoms.
    pub k: usize,
    /// Sample size.
    pub n: usize,
    /// Replicate.
    pub replicate: usize,
    /// `converged`, `cap` or `failed`.
    pub status: String,
    /// Fitting method.
    pub method: String,
    /// Iterations of the best restart.
    pub iterations: usize,
    /// Objective of the best restart (log-likelihood, or minus the mean squared error).
    pub objective: Option<f64>,
    /// The fitted atoms (full parameter vectors).
    pub atoms: Vec<Vec<f64>>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Why a rate check cannot run.
#[derive(Debug)]
#[non_exhaustive]
pub enum RateError {
    /// The model cannot be simulated or fitted as asked.
    Unsupported(String),
    /// The checkpoint belongs to another run, or cannot be read or written.
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateError::Unsupported(m) => f.write_str(m),
            RateError::Checkpoint { path, message } => {
                write!(f, "checkpoint {}: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for RateError {}

/// Agreement of a measured slope with the prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// Within the tolerance (the larger of 0.1 and the interval's half-width).
    Agrees,
    /// Outside it.
    Disagrees,
    /// No numeric prediction, or no slope.
    NoPrediction,
}

impl Agreement {
    /// The name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Agreement::Agrees => "agrees",
            Agreement::Disagrees => "disagrees",
            Agreement::NoPrediction => "no prediction",
        }
    }
}

/// Mean loss at one sample size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// Sample size.
    pub n: usize,
    /// Mean loss over the fits that did not fail.
    pub mean: f64,
    /// Median loss over them.
    pub median: f64,
    /// Standard deviation over them.
    pub sd: f64,
    /// Fits used.
    pub fits: usize,
}

/// The result for one number of fitted atoms.
#[derive(Clone, Debug, PartialEq)]
pub struct RateRow {
    /// Fitted atoms.
    pub k: usize,
    /// Slope of the total loss.
    pub slope: Option<Slope>,
    /// Slope of $\log(\text{median loss})$ on $\log n$: robust to a few wild fits, which
    /// dominate the mean of over-specified fits at small $n$.
    pub median_slope: Option<f64>,
    /// Slopes of the group losses.
    pub groups: BTreeMap<String, Option<Slope>>,
    /// Predicted slope of the loss, when the verdict gives one.
    pub predicted: Option<f64>,
    /// The predicted rate as text, with the reason when there is no number.
    pub predicted_text: String,
    /// Agreement.
    pub agreement: Agreement,
    /// Mean loss per size.
    pub points: Vec<Point>,
    /// Fits in total, converged, stopped at the cap, failed.
    pub counts: [usize; 4],
    /// Why fits failed or gave no loss, one line per fit: `n = 1000, replicate 3: ...`.
    pub failures: Vec<String>,
}

/// The rate check of one case.
#[derive(Clone, Debug, PartialEq)]
pub struct RateReport {
    /// Case name.
    pub case: String,
    /// The verifier's verdict, when verification succeeded.
    pub verdict: Option<String>,
    /// Settings used.
    pub settings: RateSettings,
    /// One row per number of fitted atoms.
    pub rows: Vec<RateRow>,
    /// Fits run now (the rest came from the checkpoint).
    pub fitted_now: usize,
}

impl RateReport {
    /// When every fit failed or gave no loss: the number of fits, and the first failure with
    /// its number of fitted atoms.
    pub fn all_failed(&self) -> Option<(usize, usize, &str)> {
        let fits: usize = self.rows.iter().map(|r| r.counts[0]).sum();
        let lost: usize = self.rows.iter().map(|r| r.failures.len()).sum();
        let (k, first) = self
            .rows
            .iter()
            .find_map(|r| Some((r.k, r.failures.first()?)))?;
        (lost == fits).then_some((fits, k, first.as_str()))
    }
}

/// The slope of the Voronoi loss that a predicted rate implies (docs/theory.md §7). Exact-specified
/// cells are linear in $\Delta\theta$, so a rate $n^{-1/2}$ is a slope $-1/2$. In
/// over-specified cells parameter $v$ enters as $|\Delta\theta_v|^{e_v}$ and converges like
/// $n^{-1/(2 s_v)}$, so its term falls like $n^{-e_v/(2 s_v)}$; with the computed exponents
/// ($e_v = s_v$) every term, and the mass term, falls like $n^{-1/2}$. With exponents of the
/// user's the slowest term sets the slope. A flat or not identifiable direction does not
/// converge: slope 0.
pub fn predicted_slope(
    rate: &Rate,
    exact_specified: bool,
    exponent: &dyn Fn(&str) -> Option<f64>,
) -> (Option<f64>, String) {
    let groups = match rate {
        Rate::Polynomial(g) => g,
        Rate::Flat { .. } | Rate::NotIdentifiable(_) | Rate::SlowerThanPolynomial(_) => {
            return (Some(0.0), rate.to_string())
        }
        Rate::None(why) => return (None, why.clone()),
    };
    if exact_specified {
        let slowest = groups.iter().map(Group::rate).fold(f64::INFINITY, f64::min);
        return (Some(-slowest.min(0.5)), rate.to_string());
    }
    let slowest = groups
        .iter()
        .flat_map(|g| {
            g.params
                .iter()
                .map(move |p| exponent(p).unwrap_or(g.s) / (2.0 * g.s))
        })
        .fold(0.5f64, f64::min);
    (Some(-slowest), rate.to_string())
}

fn task_seed(seed: u64, case: &str, k: usize, n: usize, r: usize) -> u64 {
    // SplitMix64 over the task's coordinates
    let mut z = seed ^ 0x2545_f491_4f6c_dd1d;
    let mut mix = |v: u64| {
        z = z.wrapping_add(v).wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut x = z;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z = x ^ (x >> 31);
    };
    for b in case.bytes() {
        mix(u64::from(b));
    }
    mix(k as u64);
    mix(n as u64);
    mix(r as u64);
    z
}

/// Initial atoms: each true atom at least once, the rest assigned at random, plus noise of sd
/// `gate`·$n^{-\text{decay}}$ on gate parameters and `expert`·$n^{-\text{decay}}$ on the others;
/// the mass of a duplicated true atom is split evenly (the peer protocol, docs/theory.md §6).
pub fn initial(
    model: &MixtureModel,
    truth: &[Vec<f64>],
    k: usize,
    n: usize,
    s: &RateSettings,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<f64>> {
    let mut which: Vec<usize> = (0..truth.len()).collect();
    while which.len() < k {
        which.push(rng.random_range(0..truth.len()));
    }
    // shuffle (Fisher–Yates)
    for i in (1..which.len()).rev() {
        let j = rng.random_range(0..=i);
        which.swap(i, j);
    }
    let masses = model.exp_masses();
    let scale = (n as f64).powf(-s.init_decay);
    let mut atoms: Vec<Vec<f64>> = which.iter().map(|&j| truth[j].clone()).collect();
    for (i, a) in atoms.iter_mut().enumerate() {
        let copies = which.iter().filter(|&&j| j == which[i]).count();
        for &m in &masses {
            a[m] -= (copies as f64).ln();
        }
        for (v, x) in a.iter_mut().enumerate() {
            if model.roles[v] == crate::case::Role::Shared {
                continue;
            }
            let sd = if model.gate_params.contains(&v) {
                s.init_gate
            } else {
                s.init_expert
            };
            let z: f64 = {
                let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
                let u2: f64 = rng.random_range(0.0..1.0);
                (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            };
            *x += sd * scale * z;
        }
    }
    // shared parameters: one value for all atoms
    for v in 0..model.variables.len() {
        if model.roles[v] == crate::case::Role::Shared {
            let sd = s.init_gate * scale;
            let z: f64 = rng.random_range(-1.0..1.0);
            let value = atoms[0][v] + sd * z;
            for a in atoms.iter_mut() {
                a[v] = value;
            }
        }
    }
    atoms
}

/// Runs one task.
fn run_task(
    model: &MixtureModel,
    case: &Case,
    s: &RateSettings,
    fingerprint: &str,
    k: usize,
    n: usize,
    r: usize,
) -> FitRecord {
    let mut rng = ChaCha8Rng::seed_from_u64(task_seed(s.seed, &case.name, k, n, r));
    let record =
        |status: &str, method: &str, iterations, objective: Option<f64>, atoms, error| FitRecord {
            fingerprint: fingerprint.to_string(),
            k,
            n,
            replicate: r,
            status: status.into(),
            method: String::from(method),
            iterations,
            objective,
            atoms,
            error,
        };
    let data: Data = match model.simulate(&case.atoms, n, s.noise, &mut rng) {
        Ok(d) => d,
        Err(e) => return record("failed", "simulation", 0, None, Vec::new(), Some(e.0)),
    };
    let settings = FitSettings {
        tolerance: s.tolerance,
        max_iters: s.max_iters,
        generic: false,
        accelerate: s.accelerate,
    };
    let mut best: Option<super::fit::Fit> = None;
    for _ in 0..s.restarts {
        let init = initial(model, &case.atoms, k, n, s, &mut rng);
        let f = fit(model, &data, init, &settings);
        let better = match (&best, &f.status) {
            (_, FitStatus::Failed(_)) => best.is_none(),
            (None, _) => true,
            (Some(b), _) => matches!(b.status, FitStatus::Failed(_)) || f.objective > b.objective,
        };
        if better {
            best = Some(f);
        }
    }
    let f = best.expect("at least one restart");
    let error = match &f.status {
        FitStatus::Failed(m) => Some(m.clone()),
        _ => None,
    };
    let objective = f.objective.is_finite().then_some(f.objective);
    record(
        f.status.name(),
        f.method,
        f.iterations,
        objective,
        f.atoms,
        error,
    )
}

/// Reads a checkpoint without changing it: the complete lines, all of this run (by
/// fingerprint).
fn read(path: &Path, fingerprint: &str) -> Result<Vec<FitRecord>, RateError> {
    let text = std::fs::read(path).map_err(|e| RateError::Checkpoint {
        path: path.to_path_buf(),
        message: format!("cannot read it: {e}; give --out the path of a file"),
    })?;
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    parse(path, &text[..complete], fingerprint)
}

fn parse(path: &Path, text: &[u8], fingerprint: &str) -> Result<Vec<FitRecord>, RateError> {
    let err = |message: String| RateError::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let not_ours = |e: &dyn fmt::Display| {
            err(format!(
                "line {}: {e}; it is not a moeid checkpoint: write to another --out file",
                i + 1
            ))
        };
        let line = line.map_err(|e| not_ours(&e))?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: FitRecord = serde_json::from_str(&line).map_err(|e| not_ours(&e))?;
        if rec.fingerprint != fingerprint {
            return Err(err(format!(
                "line {} belongs to another run (different case, seed or fit settings); write to another --out file or delete this one",
                i + 1
            )));
        }
        out.push(rec);
    }
    Ok(out)
}

/// Reads a checkpoint: the records of this run (by fingerprint). A trailing partial line (a
/// run killed while writing) is cut off.
fn load(path: &Path, fingerprint: &str) -> Result<Vec<FitRecord>, RateError> {
    let err = |message: String| RateError::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    let io = |e: std::io::Error| {
        err(format!(
            "cannot read or repair it: {e}; give --out the path of a file you can write"
        ))
    };
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut text).map_err(io)?;
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete < text.len() {
        file.set_len(complete as u64).map_err(io)?;
        file.seek(std::io::SeekFrom::End(0)).map_err(io)?;
    }
    parse(path, &text[..complete], fingerprint)
}

/// How to report progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on standard error.
    Bar,
    /// Nothing.
    Quiet,
}

/// Most numbers one fit may hold (inputs, responses, per-atom columns): 1.6 GB of f64.
pub const MAX_FIT_VALUES: usize = 200_000_000;

/// Most numbers the fits running at once may hold together (8 GB of f64): fewer threads run
/// when each fit is large.
pub const MAX_SWEEP_VALUES: usize = 1_000_000_000;

/// Runs the rate check of `case` (see the module docs). `prediction` is the verifier's
/// (exact-specified and over-specified rates) with its verdict, when available.
///
/// # Errors
/// [`RateError`] when the model cannot be simulated or the checkpoint is unusable. Fits that
/// fail are recorded and counted, not errors.
pub fn run(
    case: &Case,
    settings: &RateSettings,
    prediction: Option<(&Prediction, &str)>,
    checkpoint: Option<&Path>,
    progress: Progress,
) -> Result<RateReport, RateError> {
    let model = MixtureModel::new(case);
    if model.model != crate::case::Model::Regression && !model.normalized {
        return Err(RateError::Unsupported(format!(
            "case {}: a {} mixture needs gate weights that sum to one; rate checks of unnormalized gates support regression models (set `gate.normalized = true` or `model = \"regression\"`)",
            case.name,
            model.model.name()
        )));
    }
    let (n_max, k_max) = (
        settings.n.iter().copied().max().unwrap_or(0),
        settings.fitted.iter().copied().max().unwrap_or(0),
    );
    // inputs, responses and per-atom columns (responsibilities, gate values) of one fit
    let values = n_max.saturating_mul(case.dim + 2 + 3 * k_max);
    if values > MAX_FIT_VALUES {
        return Err(RateError::Unsupported(format!(
            "case {}: one fit at n = {n_max} with {k_max} atoms in dimension {} holds about {} \
             MB of data, more than the limit of {} MB; use smaller sample sizes (`rates.n` or --n)",
            case.name,
            case.dim,
            values * 8 / 1_000_000,
            MAX_FIT_VALUES * 8 / 1_000_000
        )));
    }
    let fingerprint = settings.fingerprint(case);
    let mut records = match checkpoint {
        Some(p) => load(p, &fingerprint)?,
        None => Vec::new(),
    };
    let done: BTreeSet<(usize, usize, usize)> =
        records.iter().map(|r| (r.k, r.n, r.replicate)).collect();
    let mut tasks = Vec::new();
    for &k in &settings.fitted {
        for &n in &settings.n {
            for r in 0..settings.replicates {
                if !done.contains(&(k, n, r)) {
                    tasks.push((k, n, r));
                }
            }
        }
    }
    // Largest fits first: better load balance.
    tasks.sort_by_key(|&(k, n, r)| (std::cmp::Reverse(n * k), k, r));
    let writer = match checkpoint {
        Some(p) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| RateError::Checkpoint {
                    path: p.to_path_buf(),
                    message: format!(
                        "cannot open it for writing: {e}; check that its folder exists and is \
                         writable, or choose another --out"
                    ),
                })?,
        )),
        None => None,
    };
    let bar = match progress {
        Progress::Bar => indicatif::ProgressBar::new(tasks.len() as u64),
        Progress::Quiet => indicatif::ProgressBar::hidden(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} fits, {elapsed} elapsed, {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let write_error: Mutex<Option<String>> = Mutex::new(None);
    let run_all = || -> Vec<FitRecord> {
        tasks
            .par_iter()
            .map(|&(k, n, r)| {
                let rec = run_task(&model, case, settings, &fingerprint, k, n, r);
                if let Some(w) = &writer {
                    let line = serde_json::to_string(&rec).unwrap_or_default() + "\n";
                    if let Ok(mut f) = w.lock() {
                        if let Err(e) = f.write_all(line.as_bytes()).and_then(|_| f.flush()) {
                            if let Ok(mut slot) = write_error.lock() {
                                slot.get_or_insert(e.to_string());
                            }
                        }
                    }
                }
                bar.inc(1);
                rec
            })
            .collect()
    };
    // As many fits at once as the memory budget allows (results do not depend on it: each task
    // is seeded on its own).
    let at_once = (MAX_SWEEP_VALUES / values.max(1)).max(1);
    let new = if at_once < rayon::current_num_threads() {
        match rayon::ThreadPoolBuilder::new().num_threads(at_once).build() {
            Ok(pool) => pool.install(run_all),
            Err(_) => run_all(),
        }
    } else {
        run_all()
    };
    bar.finish_and_clear();
    if let (Some(p), Ok(Some(e))) = (checkpoint, write_error.into_inner()) {
        return Err(RateError::Checkpoint {
            path: p.to_path_buf(),
            message: format!(
                "writing failed: {e}; the fits written so far are kept, rerun to resume"
            ),
        });
    }
    let fitted_now = new.len();
    records.extend(new);
    records.sort_by_key(|r| (r.k, r.n, r.replicate));
    records.dedup_by_key(|r| (r.k, r.n, r.replicate));
    Ok(summarise(
        case, &model, settings, &records, prediction, fitted_now,
    ))
}

/// The summary of the fits stored in `checkpoint` by an earlier `run` with `settings` (same
/// fingerprint), without fitting anything: the fitted sizes, sample sizes and replicates are
/// those found in the file. `None` when the file does not exist or holds no fit.
///
/// # Errors
/// [`RateError::Checkpoint`] when the file belongs to another run or cannot be read.
pub fn stored(
    case: &Case,
    settings: &RateSettings,
    prediction: Option<(&Prediction, &str)>,
    checkpoint: &Path,
) -> Result<Option<RateReport>, RateError> {
    if !checkpoint.exists() {
        return Ok(None);
    }
    let mut records = read(checkpoint, &settings.fingerprint(case))?;
    if records.is_empty() {
        return Ok(None);
    }
    records.sort_by_key(|r| (r.k, r.n, r.replicate));
    records.dedup_by_key(|r| (r.k, r.n, r.replicate));
    let mut s = settings.clone();
    s.fitted = records
        .iter()
        .map(|r| r.k)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    s.n = records
        .iter()
        .map(|r| r.n)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    s.replicates = records.iter().map(|r| r.replicate + 1).max().unwrap_or(0);
    let model = MixtureModel::new(case);
    Ok(Some(summarise(case, &model, &s, &records, prediction, 0)))
}

fn summarise(
    case: &Case,
    model: &MixtureModel,
    settings: &RateSettings,
    records: &[FitRecord],
    prediction: Option<(&Prediction, &str)>,
    fitted_now: usize,
) -> RateReport {
    // Loss exponents per cell size from the prediction (the local geometry), the user's first.
    let computed: Vec<BTreeMap<String, f64>> = prediction
        .map(|(p, _)| {
            (2..=p.by_size.len())
                .map(|m| {
                    model
                        .variables
                        .iter()
                        .filter_map(|name| Some((name.clone(), p.at(m).exponent(name)?)))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let spec = LossSpec::new(model, &settings.exponents, &computed);
    let k_star = case.atoms.len();
    let mut rows = Vec::new();
    for &k in &settings.fitted {
        let mine: Vec<&FitRecord> = records
            .iter()
            .filter(|r| r.k == k && settings.n.contains(&r.n) && r.replicate < settings.replicates)
            .collect();
        let count = |s: &str| mine.iter().filter(|r| r.status == s).count();
        let counts = [
            mine.len(),
            count("converged"),
            count("cap"),
            count("failed"),
        ];
        let mut total: Vec<Vec<f64>> = Vec::new();
        let mut groups: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
        let mut points = Vec::new();
        let mut failures = Vec::new();
        for (m, &n) in settings.n.iter().enumerate() {
            let mut losses = Vec::new();
            for r in mine.iter().filter(|r| r.n == n) {
                let why = |what: &str| format!("n = {n}, replicate {}: {what}", r.replicate);
                if r.status == "failed" || r.atoms.is_empty() {
                    failures.push(why(r.error.as_deref().unwrap_or("no fitted atoms")));
                    continue;
                }
                let loss = spec.loss(&case.atoms, &r.atoms);
                if loss.total.is_finite() {
                    losses.push(loss);
                } else {
                    failures.push(why(&format!(
                        "the Voronoi loss is {} (fit left out)",
                        loss.total
                    )));
                }
            }
            let t: Vec<f64> = losses.iter().map(|l| l.total).collect();
            // No loss at this size (every fit failed): NaN, shown as "—" and left out of slopes.
            let mean = if t.is_empty() {
                f64::NAN
            } else {
                t.iter().sum::<f64>() / t.len() as f64
            };
            let sd = (t.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                / (t.len().max(2) - 1) as f64)
                .sqrt();
            let mut sorted = t.clone();
            sorted.sort_by(f64::total_cmp);
            let median = match sorted.len() {
                0 => f64::NAN,
                l if l % 2 == 1 => sorted[l / 2],
                l => 0.5 * (sorted[l / 2 - 1] + sorted[l / 2]),
            };
            points.push(Point {
                n,
                mean,
                median,
                sd,
                fits: t.len(),
            });
            total.push(t);
            for l in &losses {
                for (g, v) in &l.groups {
                    groups
                        .entry(g.clone())
                        .or_insert_with(|| vec![Vec::new(); settings.n.len()])[m]
                        .push(*v);
                }
            }
        }
        let seed = settings.seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let s = slope(&settings.n, &total, settings.bootstrap, seed);
        let (xs, ys): (Vec<f64>, Vec<f64>) = points
            .iter()
            .filter(|p| p.median > 0.0 && p.median.is_finite())
            .map(|p| ((p.n as f64).ln(), p.median.ln()))
            .unzip();
        let median_slope =
            (xs.len() >= 2 && xs.len() == points.len()).then(|| super::slope::ols(&xs, &ys));
        let group_slopes = groups
            .iter()
            .map(|(g, l)| (g.clone(), slope(&settings.n, l, settings.bootstrap, seed)))
            .collect();
        let exact = k == k_star;
        let (predicted, predicted_text) = match prediction {
            Some((p, _)) => {
                // A fit of k atoms on k* true ones puts k − k* + 1 in one cell at worst.
                let m = k + 1 - k_star.min(k);
                let rate = p.at(m);
                let user = |name: &str| {
                    let base = name.split('[').next().unwrap_or(name);
                    settings
                        .exponents
                        .get(name)
                        .or_else(|| settings.exponents.get(base))
                        .copied()
                };
                predicted_slope(rate, exact, &user)
            }
            None => (None, "no verdict".into()),
        };
        let agreement = match (predicted, s) {
            (Some(p), Some(s)) => {
                let tol = ((s.high - s.low) / 2.0).max(0.1);
                if (s.slope - p).abs() <= tol {
                    Agreement::Agrees
                } else {
                    Agreement::Disagrees
                }
            }
            _ => Agreement::NoPrediction,
        };
        rows.push(RateRow {
            k,
            slope: s,
            median_slope,
            groups: group_slopes,
            predicted,
            predicted_text,
            agreement,
            points,
            counts,
            failures,
        });
    }
    RateReport {
        case: case.name.clone(),
        verdict: prediction.map(|(_, v)| v.to_string()),
        settings: settings.clone(),
        rows,
        fitted_now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_seeds_differ_and_repeat() {
        let a = task_seed(1, "c", 2, 1000, 0);
        assert_eq!(a, task_seed(1, "c", 2, 1000, 0));
        assert_ne!(a, task_seed(1, "c", 2, 1000, 1));
        assert_ne!(a, task_seed(1, "c", 3, 1000, 0));
        assert_ne!(a, task_seed(2, "c", 2, 1000, 0));
    }

    #[test]
    fn predicted_slopes() {
        let none = |_: &str| None;
        let g = |s: f64, p: &str| Group {
            params: vec![p.into()],
            s,
        };
        let exact = Rate::Polynomial(vec![g(1.0, "a")]);
        assert_eq!(predicted_slope(&exact, true, &none).0, Some(-0.5));
        // computed exponents: every term falls like n^-1/2
        let over = Rate::Polynomial(vec![g(4.0, "b"), g(2.0, "a")]);
        assert_eq!(predicted_slope(&over, false, &none).0, Some(-0.5));
        // the user's exponent 2 on b (s = 4): |Δb|^2 ~ n^-1/4
        let user = |p: &str| (p == "b").then_some(2.0);
        assert_eq!(predicted_slope(&over, false, &user).0, Some(-0.25));
        let flat = Rate::Flat {
            flat: vec!["a".into()],
            rest: vec![],
        };
        assert_eq!(predicted_slope(&flat, false, &none).0, Some(0.0));
        assert_eq!(
            predicted_slope(&Rate::None("x".into()), false, &none).0,
            None
        );
    }
}
