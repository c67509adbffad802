//! What a running `verify` has done so far, and what it is expected to cost before it starts.
//!
//! The library never prints: it updates a [`Progress`] the caller may share with a display (the
//! command line draws a bar from it when the estimated cost is more than a few seconds).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Progress of one `verify`: the current stage and the steps done out of the steps planned.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicUsize,
    total: AtomicUsize,
    stage: Mutex<&'static str>,
}

impl Progress {
    /// A fresh progress record.
    pub fn new() -> Progress {
        Progress::default()
    }

    /// The stage now running (`""` before the start).
    pub fn stage(&self) -> &'static str {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Steps done and steps planned.
    pub fn steps(&self) -> (usize, usize) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn plan(&self, total: usize) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    pub(crate) fn enter(&self, stage: &'static str) {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = stage;
    }

    pub(crate) fn step(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Updates an optional progress record.
pub(crate) fn enter(p: Option<&Progress>, stage: &'static str) {
    if let Some(p) = p {
        p.enter(stage);
        p.step();
    }
}

/// The size of a verification, known before it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    /// True atoms.
    pub atoms: usize,
    /// Scalar parameters per atom.
    pub params: usize,
    /// Analysed order.
    pub order: usize,
    /// Columns of the joint family (the terms the mass rule keeps, over every atom).
    pub terms: usize,
    /// Sample points.
    pub samples: usize,
    /// Largest cell size of the local geometry.
    pub cells: usize,
    /// Wall-clock seconds on one core: a range (see [`Cost::range`]).
    pub seconds: (f64, f64),
}

impl Cost {
    /// The range of seconds on one core. The SVDs of the families grow like $N T^2$ ($N$
    /// samples, $T$ terms) and the local geometry with the atoms, the parameters and the cells;
    /// how long the geometry's searches run depends on what they find (an interaction takes
    /// longer than a strongly identifiable cell), so the range is wide. Fitted to single-thread
    /// timings of the catalogue and of 2 to 8 dimensional designs at orders 2 and 3 (78 of 79
    /// inside; README, "Performance"): it tells a second from an hour, not the exact second.
    /// The upper end also holds an escalation of the families to high precision, which unclear
    /// f64 decisions need (most of them at order 4): $T$ columns at about $T$ points, order-$r$
    /// jets at 128 and 256 bits, $\approx 4\cdot10^{-5}\,T^2 r^2$ s (softmax × tanh at order 4:
    /// 28.6 s for 6 parameters per atom, over 4 minutes for 8).
    pub fn range(
        atoms: usize,
        params: usize,
        order: usize,
        terms: usize,
        samples: usize,
        cells: usize,
    ) -> (f64, f64) {
        let svd = samples as f64 * (terms as f64).powi(2);
        let (a, p, c) = (atoms as f64, params as f64, cells as f64);
        let escalation = 4e-5 * (terms as f64 * order as f64).powi(2);
        (
            1.5e-9 * svd + 5e-4 * a * p * p,
            8e-9 * svd + 0.012 * a * p * p * c * c + escalation,
        )
    }
}

#[cfg(test)]
mod cost_tests {
    use super::Cost;

    /// Measured single-thread times must fall inside the range (README, "Cost and progress"):
    /// an escalated order-4 design (softmax × tanh, 6 parameters per atom, 28.6 s) and a
    /// catalogue-sized order-2 case (under a second: its range stays within seconds).
    #[test]
    fn the_range_holds_an_escalated_order_4_design() {
        let (low, high) = Cost::range(2, 6, 4, 254, 1260, 3);
        assert!(low < 28.6 && 28.6 < high, "({low}, {high})");
        let (low, high) = Cost::range(2, 5, 2, 40, 300, 3);
        assert!(low < 0.1 && high < 10.0, "({low}, {high})");
    }
}
