//! The settings of a rate check, resolved from the case's `[rates]`, the command line and
//! defaults, and their fingerprint.

use super::checkpoint::{Header, ShardHeader, FORMAT};
use super::{Prediction, Rate};
use crate::case::Case;
use std::collections::BTreeMap;
use std::path::Path;

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
    /// Numbers of fitted atoms whose cells are predicted flat or not identifiable: their start
    /// noise is held (no decay, and [`super::sweep::HELD`] times larger), so that fits start
    /// away from the truth along the flat direction and whether they move is measured, not
    /// the start noise's own decay.
    pub held: Vec<usize>,
    /// Numbers of fitted atoms whose cells are not identifiable (an invariance): their starts
    /// are also spread along the invariance's tangents ([`super::orbit::START`]), so
    /// that whether fits move along it is measured, not how close they started.
    pub orbit: Vec<usize>,
    /// Per number of fitted atoms whose cells are flat (split atoms moving along a curve), the
    /// flat parameters (indices): the split atoms of a cell start [`super::sweep::SPREAD`]
    /// apart in each, around their mean, so that whether fits bring them together is measured
    /// on a spread that starts the same in every fit.
    pub spread: BTreeMap<usize, Vec<usize>>,
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
    /// The shard of the fits this run makes (all of them when `None`); not part of the
    /// fingerprint: every shard of a run shares it.
    pub shard: Option<super::Shard>,
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
    /// `--shard` (or the SLURM or `MOEID_SHARD` variables).
    pub shard: Option<super::Shard>,
}

impl RateSettings {
    /// The settings of `case`: its `[rates]` table with `overrides` on top, defaults for the
    /// rest (fitted $k^*$ and $k^* + 1$; 8 sizes from $10^3$ to $10^5$ for EM, to
    /// $5\cdot10^4$ for least squares; 20 replicates; the
    /// peer protocol's initialisation noise $0.005, 0.05 \times n^{-0.083}$, held constant for
    /// the fitted sizes whose cells `prediction` says are flat or not identifiable (unless the
    /// case sets `init_decay`); EM: tolerance
    /// $10^{-6}$ on the log-likelihood and 2000 iterations, as the peer; least squares:
    /// tolerance $10^{-9}$ on the mean squared error and 1000 iterations, because L-BFGS
    /// crawls along weakly identified directions and stops near its start at $10^{-6}$).
    pub fn resolve(
        case: &Case,
        o: &RateOverrides,
        prediction: Option<&Prediction>,
    ) -> RateSettings {
        let r = &case.rates;
        let k = case.atoms.len();
        let fitted = o
            .fitted
            .clone()
            .or(r.fitted.clone())
            .unwrap_or(vec![k, k + 1]);
        let held: Vec<usize> = match (prediction, r.init_decay) {
            (Some(p), None) => fitted
                .iter()
                .copied()
                .filter(|&f| {
                    matches!(
                        p.at(f + 1 - k.min(f)),
                        Rate::Flat { .. }
                            | Rate::NotIdentifiable(_)
                            | Rate::SlowerThanPolynomial(_)
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        // (the orbit's scores are the atoms' alone: none beside a fixed component, see Orbit)
        let orbit: Vec<usize> = match (prediction, r.init_decay) {
            (Some(p), None) if case.fixed.is_none() => fitted
                .iter()
                .copied()
                .filter(|&f| matches!(p.at(f + 1 - k.min(f)), Rate::NotIdentifiable(_)))
                .collect(),
            _ => Vec::new(),
        };
        // (the names only with a prediction: a verified case, whose parameters are laid out)
        let spread: BTreeMap<usize, Vec<usize>> = match (prediction, r.init_decay) {
            (Some(p), None) => {
                let names = case.variables();
                fitted
                    .iter()
                    .filter_map(|&f| match p.at(f + 1 - k.min(f)) {
                        Rate::Flat { flat, .. } if f > k => Some((
                            f,
                            flat.iter()
                                .filter_map(|n| names.iter().position(|v| v == n))
                                .collect(),
                        )),
                        _ => None,
                    })
                    .collect()
            }
            _ => BTreeMap::new(),
        };
        let regression = case.model == crate::case::Model::Regression;
        let mut s = RateSettings {
            fitted,
            // Least squares (L-BFGS, hundreds of iterations on over-specified fits) costs ten
            // times an EM fit: its default grid stops at 5·10⁴.
            n: o.n.clone().or(r.n.clone()).unwrap_or_else(|| {
                crate::case::parse_grid(if regression {
                    "1e3..5e4:8"
                } else {
                    "1e3..1e5:8"
                })
                .unwrap_or_default()
            }),
            replicates: o.replicates.or(r.replicates).unwrap_or(20),
            restarts: o.restarts.or(r.restarts).unwrap_or(1),
            noise: r.noise.unwrap_or(0.1),
            exponents: r.exponents.iter().cloned().collect(),
            init_gate: r.init_gate.unwrap_or(0.005),
            init_expert: r.init_expert.unwrap_or(0.05),
            init_decay: r.init_decay.unwrap_or(0.083),
            held,
            orbit,
            spread,
            max_iters: r.max_iters.unwrap_or(if regression { 1000 } else { 2000 }),
            tolerance: r.tolerance.unwrap_or(if regression { 1e-9 } else { 1e-6 }),
            seed: o.seed.or(r.seed).unwrap_or(case.seed),
            bootstrap: 1000,
            accelerate: r.accelerate.unwrap_or(true),
            shard: o.shard,
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
        eat(case.model.name().as_bytes());
        eat(&[u8::from(case.normalized)]);
        for e in case.expressions() {
            eat(e.text.as_bytes());
        }
        for (name, role) in case.variables().iter().zip(case.variable_roles()) {
            eat(name.as_bytes());
            eat(format!("{role:?}").as_bytes());
        }
        for a in case.atoms.iter().flatten() {
            eat(&a.to_bits().to_le_bytes());
        }
        // (only with a share, so that the fingerprints of other checks stay as they were)
        if let Some(l) = case.fixed.as_ref().and_then(|f| f.proportion) {
            eat(b"fixed.proportion");
            eat(&l.to_bits().to_le_bytes());
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
        for v in &self.held {
            eat(&v.to_le_bytes());
        }
        eat(&super::sweep::HELD.to_bits().to_le_bytes());
        // (only when used, so that the fingerprints of other checks stay as they were)
        if !self.orbit.is_empty() {
            for v in &self.orbit {
                eat(&v.to_le_bytes());
            }
            eat(&super::orbit::START.to_bits().to_le_bytes());
            eat(&(super::orbit::SAMPLES as u64).to_le_bytes());
        }
        if !self.spread.is_empty() {
            for (k, vars) in &self.spread {
                eat(&k.to_le_bytes());
                for v in vars {
                    eat(&v.to_le_bytes());
                }
            }
            eat(&super::sweep::SPREAD.to_bits().to_le_bytes());
        }
        eat(&self.seed.to_le_bytes());
        format!("{h:016x}")
    }

    /// The command that runs exactly this check of `case` into `out`.
    pub fn command(&self, case: &Case, out: &Path) -> String {
        let list = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        let shard = self
            .shard
            .map(|s| format!(" --shard {s}"))
            .unwrap_or_default();
        format!(
            "moeid rates {} --fitted {} --n {} --replicates {} --restarts {} --seed {} --out {}{shard}",
            case.path,
            list(&self.fitted),
            list(&self.n),
            self.replicates,
            self.restarts,
            self.seed,
            out.display()
        )
    }

    /// The checkpoint header of this check of `case` into `out`.
    pub fn header(&self, case: &Case, out: &Path) -> Header {
        Header {
            moeid_checkpoint: FORMAT,
            case: case.name.clone(),
            fingerprint: self.fingerprint(case),
            fitted: self.fitted.clone(),
            n: self.n.clone(),
            replicates: self.replicates,
            restarts: self.restarts,
            seed: self.seed,
            command: self.command(case, out),
            shard: self.shard.map(|s| ShardHeader {
                index: s.index,
                count: s.count,
                fits: super::plan(case, self, s.count)
                    .iter()
                    .filter(|t| t.shard == s.index)
                    .count(),
            }),
        }
    }
}
