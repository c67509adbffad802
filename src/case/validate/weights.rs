//! A normalized gate divides each weight by their sum over experts (softmax-like, or the
//! renormalized sigmoid σ_i / Σ_j σ_j): the weights must be positive, or the sum can vanish
//! and change sign. Checked at the true atoms over a fixed set of inputs in the box.

use super::*;
use rand::{RngExt, SeedableRng};

/// Inputs checked besides the box's two extreme corners.
const INPUTS: usize = 64;

impl Validator<'_> {
    /// Reports the first input and atom where a normalized gate's weight is finite but not
    /// positive.
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
            .chain((0..INPUTS).map(|_| (0..dim).map(|_| rng.random_range(low..high)).collect()));
        let mut slots = Vec::new();
        for x in inputs {
            for (j, theta) in atoms.iter().enumerate().filter(|(_, t)| !t.is_empty()) {
                let w: f64 = tape.eval(&x, theta, &mut slots);
                if w.is_finite() && w <= 0.0 {
                    let (what, help) = if w == 0.0 {
                        (
                            "0 (it underflows)".to_string(),
                            "an exp or sigmoid of a score below about −745 is 0 in f64: bring the atom's values or the input box to a smaller score",
                        )
                    } else {
                        (
                            format!("{w:.3}"),
                            "write the weight as exp(score) (softmax-like) or sigmoid(score) (a renormalized sigmoid), or set `gate.normalized = false`",
                        )
                    };
                    self.report(
                        "moeid::case::weight",
                        span,
                        format!(
                            "`gate.weight` is {what} at atom {} and x = {x:.3?}: a normalized gate divides each weight by their sum over experts, so the weights must be positive",
                            j + 1
                        ),
                        "not positive everywhere",
                        Some(help.into()),
                    );
                    return;
                }
            }
        }
    }
}
