//! A normalized gate divides each weight by their sum over experts (softmax-like, or the
//! renormalized sigmoid σ_i / Σ_j σ_j): the weights must be positive, or the sum can vanish
//! and change sign. Checked at the true atoms over a fixed set of inputs in the box.

use super::*;
use rand::{RngExt, SeedableRng};

/// Inputs checked besides the box's two extreme corners.
const INPUTS: usize = 64;

impl Validator<'_> {
    /// Reports the first input where a normalized gate's weight is negative at a true atom
    /// (the box's corners and the seeded inputs), or where every atom's weight is 0 so that
    /// their sum vanishes (the seeded inputs only: a corner of a high-dimensional box lies far
    /// beyond what uniform samples reach).
    pub(super) fn positive_weights(
        &mut self,
        weight: &Expression,
        env: &Env,
        atoms: &[Vec<f64>],
        (dim, low, high): (usize, f64, f64),
        span: R<usize>,
    ) {
        let mut b = TapeBuilder::new();
        let Some(out) = b.compile(&weight.expr, env).ok().and_then(|v| v.scalar()) else {
            return;
        };
        let tape = b.finish(out);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let corners = [vec![low; dim], vec![high; dim]];
        let inputs = corners
            .into_iter()
            .map(|x| (x, true))
            .chain((0..INPUTS).map(|_| {
                let x = (0..dim).map(|_| rng.random_range(low..high)).collect();
                (x, false)
            }));
        let mut slots = Vec::new();
        let valid: Vec<(usize, &Vec<f64>)> = atoms
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
            .collect();
        for (x, corner) in inputs {
            let w: Vec<f64> = valid
                .iter()
                .map(|(_, theta)| tape.eval(&x, theta, &mut slots))
                .collect();
            let negative = w.iter().position(|w| w.is_finite() && *w < 0.0);
            let vanishing = !corner && !w.is_empty() && w.iter().all(|w| *w == 0.0);
            let message = match (negative, vanishing) {
                (Some(j), _) => {
                    let shown = if w[j].abs() < 1e-3 {
                        format!("{:.3e}", w[j])
                    } else {
                        format!("{:.3}", w[j])
                    };
                    format!(
                        "`gate.weight` is {shown} at atom {} and x = {x:.3?}: a normalized gate divides each weight by their sum over experts, so the weights must be positive",
                        valid[j].0 + 1
                    )
                }
                (None, true) => format!(
                    "`gate.weight` is 0 at every atom at x = {x:.3?}: a normalized gate divides each weight by their sum over experts, which vanishes there"
                ),
                (None, false) => continue,
            };
            self.report(
                "moeid::case::weight",
                span,
                message,
                "not positive everywhere",
                Some(if negative.is_some() {
                    "write the weight as exp(score) (softmax-like) or sigmoid(score) (a renormalized sigmoid), or set `gate.normalized = false`".into()
                } else {
                    "the weights must not all be 0 at an input (an exp of a score below about −745 underflows to 0): keep the scores above that over the box (smaller parameter values or a smaller box), or set `gate.normalized = false`".into()
                }),
            );
            return;
        }
    }
}
