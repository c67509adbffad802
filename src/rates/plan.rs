//! The plan of a rate check: every fit $(k, n, r)$ with its seed and a cost estimate, and its
//! split into cost-balanced shards for a cluster (SLURM job arrays, HyperQueue).
//!
//! The cost of a fit is taken as $n \cdot k \cdot (P + d)$ (samples × atoms × parameters and
//! inputs: one EM step or one gradient touches each once); the number of steps is unknown in
//! advance and assumed alike. Shards are filled largest fit first, each fit to the shard with
//! the least cost so far (longest processing time first), so the largest fits do not all land
//! on one worker, as they do when fits are split by index.

use super::RateSettings;
use crate::case::Case;
use std::fmt;

/// One planned fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// Fitted atoms.
    pub k: usize,
    /// Sample size.
    pub n: usize,
    /// Replicate.
    pub replicate: usize,
    /// The fit's seed (from the run's seed and the task's coordinates alone).
    pub seed: u64,
    /// Estimated cost, in units of $n \cdot k \cdot (P + d)$.
    pub cost: f64,
    /// The shard (1-based) that runs it.
    pub shard: usize,
}

/// The `i`-th of `count` shards (1-based), as `--shard i/count` writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1 to `count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

/// Most shards of one run.
pub const MAX_SHARDS: usize = 10_000;

impl Shard {
    /// Parses `i/N` with $1 \le i \le N \le$ [`MAX_SHARDS`].
    ///
    /// # Errors
    /// A message with the form to use.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!("`{text}` is not a shard; write I/N with 1 <= I <= N <= {MAX_SHARDS}, e.g. --shard 2/8")
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard of a SLURM job array (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`,
    /// `SLURM_ARRAY_TASK_MIN`), or of `MOEID_SHARD` (`i/N`, e.g. from HyperQueue's
    /// `HQ_TASK_ID`), when set.
    ///
    /// # Errors
    /// A message naming the variables when they are set but not a shard.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, String> {
        if let Some(s) = get("MOEID_SHARD") {
            return Shard::parse(&s)
                .map(Some)
                .map_err(|e| format!("MOEID_SHARD: {e}"));
        }
        let (Some(id), Some(count)) = (get("SLURM_ARRAY_TASK_ID"), get("SLURM_ARRAY_TASK_COUNT"))
        else {
            return Ok(None);
        };
        let min = get("SLURM_ARRAY_TASK_MIN").unwrap_or_else(|| "0".into());
        let num = |v: &str, name: &str| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| format!("{name} = `{v}` is not a number"))
        };
        let (id, count, min) = (
            num(&id, "SLURM_ARRAY_TASK_ID")?,
            num(&count, "SLURM_ARRAY_TASK_COUNT")?,
            num(&min, "SLURM_ARRAY_TASK_MIN")?,
        );
        let index = id
            .checked_sub(min)
            .map(|i| i + 1)
            .filter(|&i| i <= count)
            .ok_or_else(|| {
                format!("SLURM_ARRAY_TASK_ID {id} is outside the array ({count} tasks from {min}); use a contiguous array, e.g. --array=0-{}", count.saturating_sub(1))
            })?;
        Shard::parse(&format!("{index}/{count}")).map(Some)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Every fit of the check of `case` with `settings`, assigned to `shards` cost-balanced shards
/// (1 for an unsharded run), in the order (k, n, replicate). `settings` should pass
/// [`feasible`](super::feasible) (which bounds the number of fits); shards beyond the number
/// of fits stay empty and are not allocated.
pub fn plan(case: &Case, settings: &RateSettings, shards: usize) -> Vec<Task> {
    let width = (case.variables().len() + case.dim) as f64;
    let mut tasks = Vec::new();
    for &k in &settings.fitted {
        for &n in &settings.n {
            for replicate in 0..settings.replicates {
                tasks.push(Task {
                    k,
                    n,
                    replicate,
                    seed: super::sweep::task_seed(settings.seed, &case.name, k, n, replicate),
                    cost: n as f64 * k as f64 * width,
                    shard: 1,
                });
            }
        }
    }
    let shards = shards.clamp(1, tasks.len().max(1));
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_by(|&a, &b| {
        tasks[b].cost.total_cmp(&tasks[a].cost).then_with(|| {
            (tasks[a].k, tasks[a].n, tasks[a].replicate).cmp(&(
                tasks[b].k,
                tasks[b].n,
                tasks[b].replicate,
            ))
        })
    });
    let mut load = vec![0.0f64; shards];
    for i in order {
        let lightest = (0..shards)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        load[lightest] += tasks[i].cost;
        tasks[i].shard = lightest + 1;
    }
    tasks
}

/// The estimated cost of each shard (index 0 is shard 1).
pub fn loads(tasks: &[Task], shards: usize) -> Vec<f64> {
    let mut load = vec![0.0; shards.max(1)];
    for t in tasks {
        if let Some(l) = load.get_mut(t.shard - 1) {
            *l += t.cost;
        }
    }
    load
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_refuse() {
        assert_eq!(Shard::parse("2/8"), Ok(Shard { index: 2, count: 8 }));
        for bad in ["0/8", "9/8", "2", "a/b", "1/0", "1/100000"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slurm_arrays_from_zero_or_one() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let zero = env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
        ]);
        assert_eq!(
            Shard::from_env(zero),
            Ok(Some(Shard { index: 1, count: 4 }))
        );
        let one = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ]);
        assert_eq!(Shard::from_env(one), Ok(Some(Shard { index: 4, count: 4 })));
        let outside = env(&[
            ("SLURM_ARRAY_TASK_ID", "9"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(Shard::from_env(outside).is_err());
        assert_eq!(Shard::from_env(env(&[])), Ok(None));
        let hq = env(&[("MOEID_SHARD", "3/5")]);
        assert_eq!(Shard::from_env(hq), Ok(Some(Shard { index: 3, count: 5 })));
    }
}
