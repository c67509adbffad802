//! moeid's EM against the authors' (meteoritsSim `emNMoE`, R/C++) on the very same data: the
//! time moeid needs to reach the peer's final log-likelihood, K = 2, 3, 4 fitted experts,
//! n = 10⁵ (README, Performance).
//!
//! The peer's figures are stored in `benches/data/peer-emnmoe-n1e5.csv` (its CPU seconds per
//! fit on one core and its final log-likelihood, from `../shared/tools/peer/time_emnmoe.R`);
//! the data sets it drew are read from `$PEER_DIR/data/n100000_r{rep}.csv` (that script writes
//! them; the README gives the setup). Without them the bench says so and measures nothing.
//!
//! Before timing, each stored row is checked: moeid's log-likelihood at the peer's fitted
//! parameters must equal the peer's to 10⁻⁶ relative (same model, same data, same constant;
//! the peer reports the likelihood of its last E-step, one M-step before its final parameters),
//! else the comparison would be meaningless and the bench stops. moeid stops as soon as its
//! log-likelihood reaches the peer's, past its own stopping rule (the summary says `no` if the
//! iteration cap comes first). Two starts: the peer's own start of that very fit (its draws
//! replayed, `benches/data/peer-starts-n1e5.csv`) and moeid's rate-check start. Plain EM from the
//! peer's start, with the peer's stopping rule, lands where the peer did (a check that the
//! starts and the algorithm are the peer's: the summary's last column).
//!
//! Run on one core like the peer: `RAYON_NUM_THREADS=1 taskset -c 0 cargo bench --bench peer`.

use criterion::{criterion_group, criterion_main, Criterion};
use moeid::rates::fit::{fit, FitSettings, FitStatus};
use moeid::rates::model::MixtureModel;
use moeid::rates::simulate::Data;
use moeid::rates::sweep::initial;
use moeid::rates::{RateOverrides, RateSettings};
use moeid::Case;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One fit of the peer: K, replicate, CPU seconds, final log-likelihood, fitted atoms.
struct PeerFit {
    k: usize,
    rep: usize,
    cpu: f64,
    loglik: f64,
    atoms: Vec<Vec<f64>>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn numbers(field: &str) -> Vec<f64> {
    field
        .split(';')
        .map(|v| v.trim().parse().expect("a number in the peer's figures"))
        .collect()
}

/// The peer's rows. Its parameters: `alpha` (q+1)×(K−1) and `beta` (p+1)×K column-major,
/// intercept first; component K is the gate's reference. In the case's order θ = (β1, β0, a, b,
/// ν).
fn peer_fits() -> Vec<PeerFit> {
    let text = std::fs::read_to_string(root().join("benches/data/peer-emnmoe-n1e5.csv"))
        .expect("the stored peer figures");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let k: usize = f[0].parse().expect("K");
            let (alpha, beta, sigma2) = (numbers(f[8]), numbers(f[9]), numbers(f[10]));
            let atoms = (0..k)
                .map(|i| {
                    let (b0, b1) = if i + 1 < k {
                        (alpha[2 * i], alpha[2 * i + 1])
                    } else {
                        (0.0, 0.0)
                    };
                    vec![b1, b0, beta[2 * i + 1], beta[2 * i], sigma2[i]]
                })
                .collect();
            PeerFit {
                k,
                rep: f[2].parse().expect("rep"),
                cpu: f[5].parse().expect("cpu"),
                loglik: f[7].parse().expect("loglik"),
                atoms,
            }
        })
        .collect()
}

fn read_data(path: &Path) -> Option<Data> {
    let text = std::fs::read_to_string(path).ok()?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let (a, b) = line.split_once(',')?;
        x.push(a.trim().parse().ok()?);
        y.push(b.trim().parse().ok()?);
    }
    Some(Data {
        dim: 1,
        x,
        y,
        class: Vec::new(),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Where a fit starts.
#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    /// The peer's own start for that fit (`benches/data/peer-starts-n1e5.csv`: the draws of
    /// its `initParam(nearTrue = TRUE)`, meteoritsSim R/ParamNMoE.R, replayed in R with the
    /// seed `time_emnmoe.R` sets before each fit).
    Peer,
    /// moeid's rate-check start (`rates::sweep::initial`, docs/theory.md §6).
    Ours,
}

/// The peer's starts by (K, rep), in the case's order θ = (β1, β0, a, b, ν). Its start copies
/// true experts with one normal draw added to both gate coefficients and one to both expert
/// coefficients, no mass correction for copies, and the variance at the true *standard
/// deviation* plus a small draw (the script passes sd 0.3, 0.4 as `sigmak_0`, used as σ²).
fn peer_starts() -> BTreeMap<(usize, usize), Vec<Vec<f64>>> {
    let text = std::fs::read_to_string(root().join("benches/data/peer-starts-n1e5.csv"))
        .expect("the stored peer starts");
    let mut starts: BTreeMap<(usize, usize), Vec<Vec<f64>>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<f64> = line
            .split(',')
            .map(|v| v.parse().expect("a number in the peer's starts"))
            .collect();
        starts
            .entry((f[0] as usize, f[2] as usize))
            .or_default()
            .push(vec![f[5], f[4], f[7], f[6], f[8]]);
    }
    starts
}

fn bench_peer(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("PEER_DIR").map(PathBuf::from) else {
        eprintln!(
            "peer bench: PEER_DIR is not set; it needs the peer's data sets (README, Performance)"
        );
        return;
    };
    let case = Case::load(root().join("cases/gaussian-2305.03288/softmax-gaussian-peer.toml"))
        .expect("the peer case loads");
    let model = MixtureModel::new(&case);
    let settings = RateSettings::resolve(&case, &RateOverrides::default(), None);
    let peer = peer_fits();
    let starts = peer_starts();
    let mut data: BTreeMap<usize, Data> = BTreeMap::new();
    for p in &peer {
        if let std::collections::btree_map::Entry::Vacant(slot) = data.entry(p.rep) {
            let path = dir.join(format!("data/n100000_r{}.csv", p.rep));
            let Some(d) = read_data(&path) else {
                eprintln!("peer bench: {} is missing or unreadable", path.display());
                return;
            };
            slot.insert(d);
        }
    }
    let at = |target: Option<f64>, max_iters: usize| FitSettings {
        tolerance: settings.tolerance,
        max_iters,
        generic: false,
        accelerate: true,
        target,
    };
    // The same model: moeid's log-likelihood at the peer's parameters is the peer's.
    for p in &peer {
        let ours = fit(&model, &data[&p.rep], p.atoms.clone(), &at(None, 0)).objective;
        // the peer reports the likelihood of its E-step, one M-step before its final
        // parameters: ours there is the same or a little higher
        assert!(
            ours >= p.loglik - 1e-6 * p.loglik.abs() && ours - p.loglik < 1e-6 * p.loglik.abs(),
            "K {} rep {}: moeid's log-likelihood at the peer's fit is {ours}, the peer's {}",
            p.k,
            p.rep,
            p.loglik
        );
    }
    let start = |p: &PeerFit, protocol: Protocol| {
        let mut rng = ChaCha8Rng::seed_from_u64(0x7065_6572 + 100 * p.k as u64 + p.rep as u64);
        match protocol {
            Protocol::Peer => starts[&(p.k, p.rep)].clone(),
            Protocol::Ours => initial(&model, &case.atoms, p.k, 100_000, &settings, None, &mut rng),
        }
    };
    // The summary: per K, medians over replicates of each replicate's median of 5 runs.
    for protocol in [Protocol::Peer, Protocol::Ours] {
        eprintln!(
            "{}",
            match protocol {
                Protocol::Peer => "moeid from the peer's own start of each fit:",
                Protocol::Ours => "moeid from its own rate-check start:",
            }
        );
        summary(
            &peer,
            &data,
            &|p| start(p, protocol),
            &|t| at(t, settings.max_iters),
            &model,
        );
    }
    let mut group = c.benchmark_group("peer");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for p in peer.iter().filter(|p| p.rep == 0) {
        let s = FitSettings {
            tolerance: 1e-13,
            ..at(Some(p.loglik), settings.max_iters)
        };
        let init = start(p, Protocol::Peer);
        group.bench_function(format!("to-peer-loglik-k{}-n1e5-r0", p.k), |b| {
            b.iter(|| fit(&model, &data[&p.rep], init.clone(), &s))
        });
    }
    group.finish();
}

/// Prints, per stored row, moeid's median time (5 runs) to the peer's log-likelihood, and per
/// K the medians over replicates.
fn summary(
    peer: &[PeerFit],
    data: &BTreeMap<usize, Data>,
    start: &dyn Fn(&PeerFit) -> Vec<Vec<f64>>,
    at: &dyn Fn(Option<f64>) -> FitSettings,
    model: &MixtureModel,
) {
    eprintln!(
        "K  rep  peer CPU s  moeid s  ratio  EM steps  reached  final ll − peer ll: moeid  plain EM (steps)"
    );
    let mut ratios: BTreeMap<usize, Vec<(f64, f64, f64)>> = BTreeMap::new();
    for p in peer {
        let d = &data[&p.rep];
        // on to the target past moeid's own stopping rule (the two stop within 10⁻⁶ of each
        // other): the time to the peer's likelihood, or `no` at the iteration cap
        let s = FitSettings {
            tolerance: 1e-13,
            ..at(Some(p.loglik))
        };
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let init = start(p);
            let t = Instant::now();
            let f = fit(model, d, init, &s);
            times.push(t.elapsed().as_secs_f64());
            last = Some(f);
        }
        let f = last.expect("five runs");
        let own = fit(model, d, start(p), &at(None));
        // the peer's algorithm (plain EM) from the same start and with its stopping rule
        let plain = fit(
            model,
            d,
            start(p),
            &FitSettings {
                accelerate: false,
                ..at(None)
            },
        );
        let t = median(times);
        eprintln!(
            "{}  {}    {:.3}       {:.4}   {:>5.1}  {:>3}       {}                          {:+.3}  {:+.3} ({})",
            p.k,
            p.rep,
            p.cpu,
            t,
            p.cpu / t,
            f.iterations,
            if f.status == FitStatus::Reached {
                "yes"
            } else {
                "no "
            },
            own.objective - p.loglik,
            plain.objective - p.loglik,
            plain.iterations
        );
        ratios.entry(p.k).or_default().push((p.cpu, t, p.cpu / t));
    }
    for (k, rows) in &ratios {
        let peer_cpu = median(rows.iter().map(|r| r.0).collect());
        let ours = median(rows.iter().map(|r| r.1).collect());
        let ratio = median(rows.iter().map(|r| r.2).collect());
        eprintln!(
            "K = {k}: peer {peer_cpu:.3} s, moeid to the peer's likelihood {ours:.4} s, median ratio {ratio:.1}×"
        );
    }
}

criterion_group!(benches, bench_peer);
criterion_main!(benches);
