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

use super::checkpoint::{self, FitRecord};
use super::fit::{fit, FitSettings, FitStatus};
use super::model::MixtureModel;
use super::orbit::Orbit;
use super::simulate::Data;
use super::summary::{summarise, RateReport};
use super::{Prediction, RateError, RateSettings, Unsupported};
use crate::case::Case;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

pub(crate) fn task_seed(seed: u64, case: &str, k: usize, n: usize, r: usize) -> u64 {
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
    orbit: Option<(&Orbit, &[f64])>,
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
    // Predicted-flat sizes start HELD times farther out, and stay there at every n: the
    // spread along the flat direction then dominates the parameters' own errors.
    let scale = if s.held.contains(&k) {
        HELD
    } else {
        (n as f64).powf(-s.init_decay)
    };
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
            *x += sd * scale * normal(rng);
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
    // Flat cells: the copies of a true atom start SPREAD apart in each flat parameter, evenly
    // spaced around their weighted mean (which the noise above set).
    if let Some(vars) = s.spread.get(&k) {
        let masses = model.exp_masses();
        for j in 0..truth.len() {
            let copies: Vec<usize> = (0..k).filter(|&i| which[i] == j).collect();
            if copies.len() < 2 {
                continue;
            }
            let log: Vec<f64> = copies
                .iter()
                .map(|&i| masses.iter().map(|&m| atoms[i][m]).sum())
                .collect();
            let top = log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = log.iter().map(|l| (l - top).exp()).collect();
            let total: f64 = w.iter().sum();
            let last = (copies.len() - 1) as f64;
            let t: Vec<f64> = (0..copies.len()).map(|c| c as f64 / last - 0.5).collect();
            let t_mean: f64 = t.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() / total;
            for &v in vars {
                let mean: f64 = copies
                    .iter()
                    .zip(&w)
                    .map(|(&i, b)| atoms[i][v] * b)
                    .sum::<f64>()
                    / total;
                for (c, &i) in copies.iter().enumerate() {
                    atoms[i][v] = mean + SPREAD * (t[c] - t_mean);
                }
            }
        }
    }
    // Along an invariance, the start is placed at `target` whatever the noise above put there.
    if let Some((o, target)) = orbit {
        o.place(truth, &mut atoms, &which, target);
    }
    atoms
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// How much farther the start noise of predicted-flat sizes is (see [`initial`]).
pub const HELD: f64 = 4.0;

/// How far apart the split atoms of a flat cell start in each flat parameter (see [`initial`]).
pub const SPREAD: f64 = 0.5;

/// What every task of one run shares.
struct Shared<'a> {
    model: &'a MixtureModel,
    case: &'a Case,
    settings: &'a RateSettings,
    fingerprint: &'a str,
    orbit: Option<&'a Orbit>,
}

/// Runs one task.
fn run_task(c: &Shared, k: usize, n: usize, r: usize) -> FitRecord {
    let (model, case, s, fingerprint, orbit) =
        (c.model, c.case, c.settings, c.fingerprint, c.orbit);
    let mut rng = ChaCha8Rng::seed_from_u64(task_seed(s.seed, &case.name, k, n, r));
    let record = |status: &str, method: &str, iterations, objective: Option<f64>, atoms, error| {
        FitRecord {
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
            checksum: None,
        }
        .sealed()
    };
    let truth = model.truth(&case.atoms);
    let data: Data = match model.simulate(&truth, n, s.noise, &mut rng) {
        Ok(d) => d,
        Err(e) => {
            return record(
                "failed",
                "simulation",
                0,
                None,
                Vec::new(),
                Some(e.to_string()),
            )
        }
    };
    let settings = FitSettings {
        tolerance: s.tolerance,
        max_iters: s.max_iters,
        generic: false,
        accelerate: s.accelerate,
        target: None,
    };
    // Sizes with an invariance: every restart starts at the same known spot on it.
    let target = orbit
        .filter(|_| s.orbit.contains(&k))
        .map(|o| (o, o.start(task_seed(s.seed, &case.name, k, n, r))));
    let mut best: Option<super::fit::Fit> = None;
    for _ in 0..s.restarts {
        let init = initial(
            model,
            &truth,
            k,
            n,
            s,
            target.as_ref().map(|(o, t)| (*o, t.as_slice())),
            &mut rng,
        );
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

/// Whether the case's model can be simulated and fitted at all.
///
/// # Errors
/// [`RateError::Unsupported`] naming why: a top-K gate, or a probability model whose gate
/// weights do not sum to one.
pub fn simulable(case: &Case) -> Result<(), RateError> {
    if let Some(k) = case.top_k {
        return Err(RateError::Unsupported(Unsupported::TopK {
            case: case.name.clone(),
            k,
        }));
    }
    if let Some(g) = &case.groups {
        return Err(RateError::Unsupported(Unsupported::Grouped {
            case: case.name.clone(),
            groups: g.values.len(),
        }));
    }
    if case.model != crate::case::Model::Regression && !case.normalized {
        return Err(RateError::Unsupported(Unsupported::Unnormalized {
            case: case.name.clone(),
            model: case.model.name(),
        }));
    }
    Ok(())
}

/// Whether `settings` can run on `case` at all: at least one restart, replicate, size and fitted
/// size of at least k*, a model that can be simulated, and one fit's data within the memory
/// limit. Cheap; the rate check calls it before the verification behind its prediction, so a
/// run that cannot start says so at once.
///
/// # Errors
/// [`RateError::Unsupported`] naming what to change.
pub fn feasible(case: &Case, settings: &RateSettings) -> Result<(), RateError> {
    crate::check_shape(case).map_err(RateError::Case)?;
    let k_star = case.atoms.len();
    if settings.restarts == 0
        || settings.replicates == 0
        || settings.n.is_empty()
        || settings.fitted.is_empty()
        || settings.fitted.iter().any(|&k| k < k_star)
    {
        return Err(RateError::Unsupported(Unsupported::NothingToFit {
            case: case.name.clone(),
            k_star,
            restarts: settings.restarts,
            replicates: settings.replicates,
            sizes: settings.n.len(),
            fitted: settings.fitted.clone(),
        }));
    }
    // the same ranges the case file and the command line are held to (a case edited in code
    // could ask for usize::MAX replicates: a run that never ends)
    let bad = |setting: &'static str, value: String, fix: String| {
        Err(RateError::Setting {
            setting,
            value,
            fix,
        })
    };
    let k_max = k_star + super::MAX_EXTRA_ATOMS;
    if let Some(k) = settings.fitted.iter().find(|&&k| k > k_max) {
        return bad(
            "fitted",
            k.to_string(),
            format!("fit {k_star} to {k_max} atoms"),
        );
    }
    if let Some(n) = settings
        .n
        .iter()
        .find(|&&n| !(1..=crate::case::MAX_N).contains(&n))
    {
        return bad(
            "n",
            n.to_string(),
            format!("use 1 to {}", crate::case::MAX_N),
        );
    }
    if settings.replicates > crate::case::MAX_REPLICATES {
        return bad(
            "replicates",
            settings.replicates.to_string(),
            format!("use 1 to {}", crate::case::MAX_REPLICATES),
        );
    }
    if settings.restarts > super::MAX_RESTARTS {
        return bad(
            "restarts",
            settings.restarts.to_string(),
            format!("use 1 to {}", super::MAX_RESTARTS),
        );
    }
    simulable(case)?;
    let (n_max, k_max) = largest_fit(settings);
    let values = fit_values(case, settings);
    if values > MAX_FIT_VALUES {
        return Err(RateError::Unsupported(Unsupported::TooLarge {
            case: case.name.clone(),
            n: n_max,
            k: k_max,
            dim: case.dim,
            megabytes: values * 8 / 1_000_000,
            limit: MAX_FIT_VALUES * 8 / 1_000_000,
        }));
    }
    Ok(())
}

/// The largest sample size and fitted size of `settings`.
fn largest_fit(settings: &RateSettings) -> (usize, usize) {
    (
        settings.n.iter().copied().max().unwrap_or(0),
        settings.fitted.iter().copied().max().unwrap_or(0),
    )
}

/// Numbers one fit of the largest size holds: inputs, responses and per-atom columns
/// (responsibilities, gate values).
fn fit_values(case: &Case, settings: &RateSettings) -> usize {
    let (n_max, k_max) = largest_fit(settings);
    n_max.saturating_mul(case.dim + 2 + 3 * k_max)
}

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
    feasible(case, settings)?;
    let model = MixtureModel::new(case);
    let fingerprint = settings.fingerprint(case);
    let params = model.variables.len();
    let (writer, mut records, damaged, unchecked) = match checkpoint {
        Some(p) => {
            let (file, contents) = checkpoint::open(p, &settings.header(case, p), params)?;
            let (damaged, unchecked) = (contents.damaged, contents.unchecked);
            (Some(Mutex::new(file)), contents.records, damaged, unchecked)
        }
        None => (None, Vec::new(), 0, 0),
    };
    let orbit = if settings.orbit.is_empty() {
        None
    } else {
        Orbit::new(
            &model,
            &model.truth(&case.atoms),
            settings.noise,
            settings.seed,
        )
    };
    let done: BTreeSet<(usize, usize, usize)> =
        records.iter().map(|r| (r.k, r.n, r.replicate)).collect();
    // This run's fits: all of them, or its shard's.
    let shards = settings.shard.map_or(1, |s| s.count);
    let mine = settings.shard.map_or(1, |s| s.index);
    let mut tasks: Vec<(usize, usize, usize)> = super::plan(case, settings, shards)
        .into_iter()
        .filter(|t| t.shard == mine && !done.contains(&(t.k, t.n, t.replicate)))
        .map(|t| (t.k, t.n, t.replicate))
        .collect();
    // Largest fits first: better load balance.
    tasks.sort_by_key(|&(k, n, r)| (std::cmp::Reverse(n * k), k, r));
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
    let shared = Shared {
        model: &model,
        case,
        settings,
        fingerprint: &fingerprint,
        orbit: orbit.as_ref(),
    };
    let run_all = || -> Vec<FitRecord> {
        tasks
            .par_iter()
            .map(|&(k, n, r)| {
                let rec = run_task(&shared, k, n, r);
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
    let at_once = (MAX_SWEEP_VALUES / fit_values(case, settings).max(1)).max(1);
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
    let mut report = summarise(case, &model, settings, &records, prediction, fitted_now);
    report.damaged = damaged;
    report.unchecked = unchecked;
    report.command = checkpoint.map(|p| settings.command(case, p));
    Ok(report)
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

    /// What cannot run says which case of [`Unsupported`] it is, with the numbers to change.
    #[test]
    fn infeasible_runs_say_why_in_structure() {
        let load = |p: &str| {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            Case::load(root.join(p)).unwrap()
        };
        let overrides = super::super::RateOverrides::default();
        let top = load("cases/topk-2309.13850/gaussian-top2-of-3.toml");
        let s = RateSettings::resolve(&top, &overrides, None);
        assert!(matches!(
            feasible(&top, &s),
            Err(RateError::Unsupported(Unsupported::TopK { k: 2, .. }))
        ));
        let case = load("cases/softmax-2503.03213/linear.toml");
        let mut s = RateSettings::resolve(&case, &overrides, None);
        assert!(feasible(&case, &s).is_ok());
        s.restarts = 0;
        let e = feasible(&case, &s).unwrap_err();
        assert!(
            matches!(
                &e,
                RateError::Unsupported(Unsupported::NothingToFit {
                    restarts: 0,
                    k_star: 2,
                    ..
                })
            ),
            "{e}"
        );
        assert!(e.to_string().contains("at least one restart"), "{e}");
        s.restarts = 1;
        s.n = vec![10_000_000];
        s.fitted = vec![10];
        let e = feasible(&case, &s).unwrap_err();
        let RateError::Unsupported(Unsupported::TooLarge {
            megabytes, limit, ..
        }) = e
        else {
            panic!("{e}")
        };
        assert!(megabytes > limit);
    }
}
