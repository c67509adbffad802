//! A hierarchical gate seen from the family (docs/theory.md §10). With group weights $W_g$,
//! within-group sums $B_g = \sum_{i \in g} w_i$ and group means $m_g = \sum_{i\in g} w_i e_i / B_g$,
//! the mixture is $f = \sum_g W_g m_g / A$, $A = \sum_g W_g$, and exactly
//!
//! $$\tfrac{S}{A}\,\textstyle\sum_g (W_g - W^*_g)(m^*_g - f^*) \;+\;
//!   \sum_g c_g \sum_{i \in g} w_i\,(e_i - m^*_g)$$
//!
//! is $S (f - f^*)$, with $S = \sum_g B_g$ and $c_g = (W_g/A)(S/B_g)$. So an expert of group $g$
//! is analysed like an atom of a normalized gate whose reference is its group's mean $m^*_g$
//! (not $f^*$), scaled by $c^*_g$; the group parameters enter only the first sum, whose
//! first-order columns are [`Design::group_columns`].

use super::{Design, FamilyError, SamplePoints};
use crate::expr::Number;
use nalgebra::DMatrix;

/// The two levels of a hierarchical gate at one point: per group $W_g$, $B_g$ and
/// $N_g = \sum_{i \in g} w_i e_i$.
struct Levels<N> {
    w: Vec<N>,
    b: Vec<N>,
    n: Vec<N>,
}

impl<N: Number> Levels<N> {
    fn mean(&self, g: usize) -> N {
        self.n[g].clone() / self.b[g].clone()
    }

    fn sum(v: &[N]) -> N {
        v[1..].iter().fold(v[0].clone(), |a, x| a + x.clone())
    }

    /// $(A, S, f^*)$.
    fn totals(&self) -> (N, N, N) {
        let a = Self::sum(&self.w);
        let s = Self::sum(&self.b);
        let f = (0..self.w.len())
            .map(|g| self.w[g].clone() * self.mean(g))
            .fold(a.constant(0.0), |x, y| x + y)
            / a.clone();
        (a, s, f)
    }
}

/// A value that is not finite at sample `i`: `(atom, term, value)`, atom 0 for the groups.
fn non_finite(
    points: &SamplePoints,
    i: usize,
    (atom, term, value): (usize, &str, f64),
) -> FamilyError {
    FamilyError::NonFinite {
        origin: None,
        atom,
        term: term.into(),
        sample: i,
        point: points.describe(i),
        value,
    }
}

impl Design {
    /// Whether the gate is hierarchical (`[[groups]]`).
    pub fn is_grouped(&self) -> bool {
        self.compiled.groups.is_some()
    }

    /// Number of groups (0 without groups).
    pub fn group_count(&self) -> usize {
        self.compiled.groups.as_ref().map_or(0, |g| g.values.len())
    }

    /// Names of the scalar group parameters (empty without groups).
    pub fn group_variables(&self) -> &[String] {
        self.compiled.groups.as_ref().map_or(&[], |g| &g.variables)
    }

    /// The group (0-based) of each atom (empty without groups).
    pub fn groups_of_atoms(&self) -> &[usize] {
        self.compiled.groups.as_ref().map_or(&[], |g| &g.of_atom)
    }

    /// Entries per sample point of the reference vector [`Design::fstar`] returns: 1 ($f^*$)
    /// for a flat gate, $2G$ (each group's $m^*_g$ and $c^*_g$) for a hierarchical one.
    pub fn stride(&self) -> usize {
        self.compiled
            .groups
            .as_ref()
            .map_or(1, |g| 2 * g.values.len())
    }

    /// Where atom `atom` (0-based) finds its reference and scale at sample `i` in a reference
    /// vector: `None` for a flat gate ($f^*$ at `i`, scale 1).
    pub(super) fn reference_index(&self, i: usize, atom: usize) -> Option<(usize, usize)> {
        let g = self.compiled.groups.as_ref()?;
        let k = g.of_atom.get(atom).copied().unwrap_or(0);
        let at = i * 2 * g.values.len() + 2 * k;
        Some((at, at + 1))
    }

    /// The reference and scale atom `atom` sees at sample `i`.
    pub(super) fn reference(&self, fstar: &[f64], i: usize, atom: usize) -> (f64, f64) {
        match self.reference_index(i, atom) {
            None => (fstar[i], 1.0),
            Some((r, s)) => (fstar[r], fstar[s]),
        }
    }

    /// The levels at sample `i` for `atoms`, over any [`Number`]. `Err(term)` names what is not
    /// finite.
    fn levels<N: Number>(
        &self,
        points: &SamplePoints,
        i: usize,
        (atoms, gammas): (&[Vec<N>], &[Vec<N>]),
        slots: &mut Vec<N>,
    ) -> Result<Levels<N>, FamilyError> {
        let fail = |e| non_finite(points, i, e);
        let groups = self.compiled.groups.as_ref().expect("a hierarchical gate");
        let like = atoms[0][0].clone();
        let zero = like.constant(0.0);
        let inputs: Vec<N> = points
            .inputs(i, super::PLAIN)
            .iter()
            .map(|&v| like.constant(v))
            .collect();
        let count = groups.values.len();
        let mut levels = Levels {
            w: Vec::with_capacity(count),
            b: vec![zero.clone(); count],
            n: vec![zero; count],
        };
        for gamma in gammas {
            let w = groups.weight.eval(&inputs, gamma, slots);
            if !w.finite() || w.re() <= 0.0 {
                return Err(fail((
                    0,
                    "the group weight W (positive and finite)",
                    w.re(),
                )));
            }
            levels.w.push(w);
        }
        for (j, theta) in atoms.iter().enumerate() {
            let w = self.compiled.weight.eval(&inputs, theta, slots);
            let e = self.compiled.output[points.class[i]].eval(&inputs, theta, slots);
            if !(w.finite() && e.finite()) {
                let (term, v) = if w.finite() {
                    ("the expert output e", e.re())
                } else {
                    ("the gate weight w", w.re())
                };
                return Err(fail((j + 1, term, v)));
            }
            let g = groups.of_atom[j];
            levels.n[g] = levels.n[g].clone() + w.clone() * e;
            levels.b[g] = levels.b[g].clone() + w;
        }
        Ok(levels)
    }

    /// The reference vector of a hierarchical gate over any [`Number`] (see
    /// [`Design::stride`]), for the first `n_points` points.
    pub(super) fn grouped_reference<N: Number>(
        &self,
        points: &SamplePoints,
        atoms: &[Vec<N>],
        n_points: usize,
    ) -> Result<Vec<N>, FamilyError> {
        let groups = self.compiled.groups.as_ref().expect("a hierarchical gate");
        let like = atoms[0][0].clone();
        let gammas: Vec<Vec<N>> = groups
            .values
            .iter()
            .map(|g| g.iter().map(|&v| like.constant(v)).collect())
            .collect();
        let mut slots = Vec::new();
        let mut out = Vec::with_capacity(n_points * self.stride());
        for i in 0..n_points {
            let l = self.levels(points, i, (atoms, &gammas), &mut slots)?;
            let (a, s, _) = l.totals();
            for g in 0..l.w.len() {
                let m = l.mean(g);
                let c = l.w[g].clone() / a.clone() * (s.clone() / l.b[g].clone());
                if !(m.finite() && c.finite()) {
                    return Err(non_finite(
                        points,
                        i,
                        (
                            0,
                            "the group mean m*_g (every weight of the group is zero)",
                            m.re(),
                        ),
                    ));
                }
                out.push(m);
                out.push(c);
            }
        }
        Ok(out)
    }

    /// The hierarchical mixture's output at sample `i` for `atoms`, each with the true atom
    /// whose cell (and so group) it belongs to; the groups at their true parameters.
    pub fn grouped_output<N: Number>(
        &self,
        points: &SamplePoints,
        i: usize,
        atoms: &[(usize, Vec<N>)],
    ) -> N {
        let groups = self.compiled.groups.as_ref().expect("a hierarchical gate");
        let like = atoms[0].1[0].clone();
        let zero = like.constant(0.0);
        let mut slots = Vec::new();
        let inputs: Vec<N> = points
            .inputs(i, super::PLAIN)
            .iter()
            .map(|&v| like.constant(v))
            .collect();
        let count = groups.values.len();
        let (mut n, mut b) = (vec![zero.clone(); count], vec![zero.clone(); count]);
        for (cell, theta) in atoms {
            let g = groups.of_atom.get(*cell).copied().unwrap_or(0);
            let w = self.compiled.weight.eval(&inputs, theta, &mut slots);
            let e = self.compiled.output[points.class[i]].eval(&inputs, theta, &mut slots);
            n[g] = n[g].clone() + w.clone() * e;
            b[g] = b[g].clone() + w;
        }
        let (mut num, mut den) = (zero.clone(), zero);
        for (g, gamma) in groups.values.iter().enumerate() {
            let gamma: Vec<N> = gamma.iter().map(|&v| like.constant(v)).collect();
            let w = groups.weight.eval(&inputs, &gamma, &mut slots);
            num = num + w.clone() * (n[g].clone() / b[g].clone());
            den = den + w;
        }
        num / den
    }

    /// The first-order columns of the group level at the truth: for each group $g$ and group
    /// parameter $v$ (column $gP + v$), $\frac{S}{A}\,\partial_v W(x;\gamma^*_g)\,(m^*_g - f^*)$.
    ///
    /// # Errors
    /// [`FamilyError::NonFinite`] naming the sample.
    pub fn group_columns(
        &self,
        points: &SamplePoints,
        atoms: &[Vec<f64>],
    ) -> Result<DMatrix<f64>, FamilyError> {
        let groups = self.compiled.groups.as_ref().expect("a hierarchical gate");
        let (count, p) = (groups.values.len(), groups.variables.len());
        let mut out = DMatrix::zeros(points.len(), count * p);
        if p == 0 {
            return Ok(out);
        }
        let mut slots = Vec::new();
        let (mut values, mut adjoints, mut grad) = (Vec::new(), Vec::new(), vec![0.0; p]);
        for i in 0..points.len() {
            let l = self.levels(points, i, (atoms, &groups.values), &mut slots)?;
            let (a, s, f) = l.totals();
            let inputs = points.inputs(i, super::PLAIN);
            for (g, gamma) in groups.values.iter().enumerate() {
                groups
                    .weight
                    .gradient(&inputs, gamma, &mut values, &mut adjoints, &mut grad);
                for v in 0..p {
                    let x = s / a * grad[v] * (l.mean(g) - f);
                    if !x.is_finite() {
                        return Err(non_finite(
                            points,
                            i,
                            (0, "a derivative of the group weight", x),
                        ));
                    }
                    out[(i, g * p + v)] = x;
                }
            }
        }
        Ok(out)
    }

    /// $\partial_v \log W(x;\gamma^*_g)$ for every group parameter (columns) at every sample
    /// point (rows), group `g`: what the group level's gauge is made of. `None` where a weight
    /// is zero or not finite.
    pub fn group_log_gradient(&self, points: &SamplePoints, g: usize) -> Option<DMatrix<f64>> {
        let groups = self.compiled.groups.as_ref()?;
        let p = groups.variables.len();
        let (mut values, mut adjoints, mut grad) = (Vec::new(), Vec::new(), vec![0.0; p]);
        let mut out = DMatrix::zeros(points.len(), p);
        for i in 0..points.len() {
            let inputs = points.inputs(i, super::PLAIN);
            let w = groups.weight.gradient(
                &inputs,
                &groups.values[g],
                &mut values,
                &mut adjoints,
                &mut grad,
            );
            if !w.is_finite() || w == 0.0 {
                return None;
            }
            for v in 0..p {
                out[(i, v)] = grad[v] / w;
            }
        }
        out.iter().all(|x| x.is_finite()).then_some(out)
    }
}
