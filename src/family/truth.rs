//! The truth seen from the family: sample points drawn from the true model, $f^*$ at them (in
//! f64 and in high precision), and the fixed component (`[fixed]`) that is part of both.

use super::points::Selection;
use super::{Design, FamilyError, SamplePoints};
use crate::case::Model;
use crate::expr::Number;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rug::Float;

impl Design {
    /// Whether the case has a fixed component (`[fixed]`), inside or outside the gate.
    pub fn has_fixed(&self) -> bool {
        self.compiled.fixed.is_some()
    }

    /// Whether the case has a fixed component inside the gate (its weight joins the
    /// normalization).
    pub fn has_fixed_in_gate(&self) -> bool {
        self.has_fixed() && self.fixed_proportion().is_none()
    }

    /// The true share $\lambda^*$ of a fixed component mixed outside the gate
    /// (`fixed.proportion`): $f = \lambda f_0 + (1 - \lambda) f_G$.
    pub fn fixed_proportion(&self) -> Option<f64> {
        self.compiled.fixed.as_ref().and_then(|f| f.proportion)
    }

    /// The fixed component's weight $w_0$ and output $e_0$ at sample `i` over any [`Number`]
    /// (`like` gives the number type), if the case has one *inside the gate*. A component
    /// mixed outside it (`proportion`) is not part of the gated mixture whose terms the
    /// family and the cells analyse: its share only scales that mixture's differences by
    /// $1 - \lambda^*$, and its own direction is the distinguishability test's
    /// ([`Design::fixed_output_at`]).
    pub fn fixed_at<N: Number>(
        &self,
        points: &SamplePoints,
        i: usize,
        like: &N,
        slots: &mut Vec<N>,
    ) -> Option<(N, N)> {
        if self.fixed_proportion().is_some() {
            return None;
        }
        self.fixed_output_at(points, i, like, slots)
    }

    /// The fixed component's weight and output at sample `i`, wherever it is mixed.
    pub fn fixed_output_at<N: Number>(
        &self,
        points: &SamplePoints,
        i: usize,
        like: &N,
        slots: &mut Vec<N>,
    ) -> Option<(N, N)> {
        let f = self.compiled.fixed.as_ref()?;
        let mut raw = Vec::with_capacity(self.dim + 2);
        points.fill_inputs(i, super::PLAIN, &mut raw);
        let inputs: Vec<N> = raw.iter().map(|&v| like.constant(v)).collect();
        let theta = std::slice::from_ref(like);
        let w = f.weight.eval(&inputs, theta, slots);
        let e = f.output[points.class[i]].eval(&inputs, theta, slots);
        Some((w, e))
    }

    /// Draws `n` sample points: $x$ uniform on the input box; $y$ a class drawn uniformly
    /// (multinomial) or $h_j(x) + \sqrt{\nu_j(x)}\,U(-3, 3)$ for a random atom $j$ (gaussian).
    ///
    /// # Errors
    /// [`FamilyError::NonFinite`] when a mean or variance is not finite (or the variance is not
    /// positive) at a drawn point.
    pub fn sample(
        &self,
        atoms: &[Vec<f64>],
        n: usize,
        seed: u64,
    ) -> Result<SamplePoints, FamilyError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Vec::with_capacity(n * self.dim);
        let mut y = Vec::with_capacity(n);
        let mut class = Vec::with_capacity(n);
        let mut flags = Vec::new();
        let mut slots = Vec::new();
        for i in 0..n {
            let at = x.len();
            for _ in 0..self.dim {
                x.push(rng.random_range(self.compiled.low..self.compiled.high));
            }
            let mut inputs = x[at..].to_vec();
            inputs.extend([0.0, 0.0, 1.0]);
            let chosen = match self.top_k {
                Some(k) => {
                    let picked = self.select(&inputs, atoms, k, &mut slots).map_err(|j| {
                        FamilyError::NonFinite {
                            origin: None,
                            atom: j + 1,
                            term: "the gate weight w (ranked by the top-K gate)".into(),
                            sample: i,
                            point: format!("x = {:?}", &x[at..]),
                            value: f64::NAN,
                        }
                    })?;
                    flags.extend_from_slice(&picked);
                    Some(picked)
                }
                None => None,
            };
            match (self.model, self.compiled.mean_variance()) {
                (Model::Multinomial, _) => {
                    let s = rng.random_range(0..self.u.len());
                    class.push(s);
                    y.push(s as f64);
                }
                (Model::Gaussian, Some((mean, var))) => {
                    // A random selected atom, or the fixed component (drawn like one more atom).
                    let candidates: Vec<usize> = (0..atoms.len())
                        .filter(|&j| chosen.as_ref().is_none_or(|c| c[j]))
                        .chain(self.compiled.fixed.is_some().then_some(atoms.len()))
                        .collect();
                    let j = candidates[rng.random_range(0..candidates.len())];
                    let z: f64 = rng.random_range(-3.0..3.0);
                    let (m, v) = match self.compiled.fixed_mean_variance() {
                        Some((fm, fv)) if j == atoms.len() => (
                            fm.eval(&inputs, &[0.0], &mut slots),
                            fv.eval(&inputs, &[0.0], &mut slots),
                        ),
                        _ => (
                            mean.eval(&inputs, &atoms[j], &mut slots),
                            var.eval(&inputs, &atoms[j], &mut slots),
                        ),
                    };
                    let yi = m + v.sqrt() * z;
                    if !(v > 0.0 && yi.is_finite()) {
                        return Err(FamilyError::NonFinite {
                            origin: None,
                            atom: j + 1,
                            term: "the expert variance".into(),
                            sample: i,
                            point: format!("x = {:?}", &x[at..]),
                            value: v,
                        });
                    }
                    class.push(0);
                    y.push(yi);
                }
                _ => {
                    class.push(0);
                    y.push(0.0);
                }
            }
        }
        Ok(SamplePoints {
            dim: self.dim,
            x,
            y,
            class,
            selected: self.top_k.map(|_| Selection {
                atoms: atoms.len(),
                flags,
            }),
        })
    }

    /// The atoms a top-K gate selects at the point `inputs`: the `k` largest gate weights of
    /// `atoms` (ties to the lower index). `Err(j)` when atom `j`'s weight is not finite.
    fn select(
        &self,
        inputs: &[f64],
        atoms: &[Vec<f64>],
        k: usize,
        slots: &mut Vec<f64>,
    ) -> Result<Vec<bool>, usize> {
        let mut weights = Vec::with_capacity(atoms.len());
        for (j, theta) in atoms.iter().enumerate() {
            let w: f64 = self.compiled.weight.eval(inputs, theta, slots);
            if !w.is_finite() {
                return Err(j);
            }
            weights.push((j, w));
        }
        weights.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut picked = vec![false; atoms.len()];
        for &(j, _) in weights.iter().take(k) {
            picked[j] = true;
        }
        Ok(picked)
    }

    /// $f^*$ at every sample point for the configuration `atoms` (zeros for unnormalized gates,
    /// where $u$ does not use it): $f^* = \sum_j w_j e_j / \sum_j w_j$, a fixed component
    /// inside the gate included; one mixed outside it (`proportion`) is not: this is the gated
    /// mixture $f_G^*$ whose terms $u = w\,(e - f_G^*)$ are analysed.
    ///
    /// # Errors
    /// [`FamilyError::NonFinite`] when $f^*$ is not finite (e.g. every weight underflows).
    pub fn fstar(
        &self,
        points: &SamplePoints,
        atoms: &[Vec<f64>],
    ) -> Result<Vec<f64>, FamilyError> {
        if !self.normalized {
            return Ok(vec![0.0; points.len()]);
        }
        if self.is_grouped() {
            return self.grouped_reference(points, atoms, points.len());
        }
        let mut out = Vec::with_capacity(points.len());
        for (i, (num, den)) in self.gated(points, atoms)?.into_iter().enumerate() {
            let f = num / den;
            if !f.is_finite() {
                return Err(FamilyError::NonFinite {
                    origin: None,
                    atom: 0,
                    term: "the true model output f* (every gate weight is zero)".into(),
                    sample: i,
                    point: points.describe(i),
                    value: f,
                });
            }
            out.push(f);
        }
        Ok(out)
    }

    /// The gated mixture at every sample point as $(\sum_j w_j e_j, \sum_j w_j)$ over the
    /// selected atoms, a fixed component inside the gate included; for unnormalized gates the
    /// sum of weights is 1 (the mixture is the numerator).
    ///
    /// # Errors
    /// [`FamilyError::NonFinite`] when a weight or output is not finite.
    pub fn gated(
        &self,
        points: &SamplePoints,
        atoms: &[Vec<f64>],
    ) -> Result<Vec<(f64, f64)>, FamilyError> {
        let mut slots = Vec::new();
        let mut out = Vec::with_capacity(points.len());
        for i in 0..points.len() {
            let inputs = points.inputs(i, super::PLAIN);
            let (mut num, mut den) = (0.0, 0.0);
            for (j, theta) in atoms.iter().enumerate() {
                if !points.selected(i, j) {
                    continue;
                }
                let w: f64 = self.compiled.weight.eval(&inputs, theta, &mut slots);
                let e: f64 = self.compiled.output[points.class[i]].eval(&inputs, theta, &mut slots);
                let tapes = [
                    &self.compiled.weight,
                    &self.compiled.output[points.class[i]],
                ];
                for ((value, term), tape) in [(w, "the gate weight w"), (e, "the expert output e")]
                    .into_iter()
                    .zip(tapes)
                {
                    if !value.is_finite() {
                        return Err(FamilyError::NonFinite {
                            origin: tape.first_non_finite(&inputs, theta),
                            atom: j + 1,
                            term: term.into(),
                            sample: i,
                            point: points.describe(i),
                            value,
                        });
                    }
                }
                num += w * e;
                den += w;
            }
            if let Some((w, e)) = self.fixed_at(points, i, &0.0, &mut slots) {
                if !(w.is_finite() && e.is_finite()) {
                    return Err(FamilyError::NonFinite {
                        origin: None,
                        atom: 0,
                        term: "the fixed component's weight or output".into(),
                        sample: i,
                        point: points.describe(i),
                        value: if w.is_finite() { e } else { w },
                    });
                }
                num += w * e;
                den += w;
            }
            out.push((num, if self.normalized { den } else { 1.0 }));
        }
        Ok(out)
    }

    /// $f^*$ at the first `n_points` sample points in `prec`-bit arithmetic (zeros for
    /// unnormalized gates).
    ///
    /// # Errors
    /// [`FamilyError::NonFinite`] as for [`Design::fstar`].
    pub fn fstar_hp(
        &self,
        points: &SamplePoints,
        atoms: &[Vec<f64>],
        prec: u32,
        n_points: usize,
    ) -> Result<Vec<Float>, FamilyError> {
        let n_points = n_points.min(points.len());
        let zero = Float::with_val(prec, 0);
        if !self.normalized {
            return Ok(vec![zero; n_points]);
        }
        let thetas: Vec<Vec<Float>> = atoms
            .iter()
            .map(|t| t.iter().map(|&v| Float::with_val(prec, v)).collect())
            .collect();
        if self.is_grouped() {
            return self.grouped_reference(points, &thetas, n_points);
        }
        let mut slots = Vec::new();
        let mut out = Vec::with_capacity(n_points);
        for i in 0..n_points {
            let inputs: Vec<Float> = points
                .inputs(i, super::PLAIN)
                .iter()
                .map(|&v| Float::with_val(prec, v))
                .collect();
            let (mut num, mut den) = (zero.clone(), zero.clone());
            for (j, theta) in thetas.iter().enumerate() {
                if !points.selected(i, j) {
                    continue;
                }
                let w = self.compiled.weight.eval(&inputs, theta, &mut slots);
                let e = self.compiled.output[points.class[i]].eval(&inputs, theta, &mut slots);
                num += w.clone() * e;
                den += w;
            }
            if let Some((w, e)) = self.fixed_at(points, i, &zero, &mut slots) {
                num += w.clone() * e;
                den += w;
            }
            let f = num / den;
            if !f.is_finite() {
                return Err(FamilyError::NonFinite {
                    origin: None,
                    atom: 0,
                    term: "the true model output f*".into(),
                    sample: i,
                    point: points.describe(i),
                    value: f.to_f64(),
                });
            }
            out.push(f);
        }
        Ok(out)
    }
}
