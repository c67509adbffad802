//! The Taylor family: every derivative term of each atom, evaluated at sample points.
//!
//! For a case with atoms $\theta^*_1, \dots, \theta^*_{k^*}$ the function analysed is
//! (docs/theory.md §1)
//!
//! $$u(x, y; \theta) = w(x; \theta)\, e(x, y; \theta)$$
//!
//! for unnormalized gates, and $u = w\,(e - f^*)$ for normalized ones, where $f^*$ is the true
//! model's output (regression function, density or class probability). The family of order $r$
//! of atom $j$ is (docs/theory.md §2)
//!
//! $$F_r = \{\partial^\alpha u(\cdot;\theta^*_j) : |\alpha| \le r\},$$
//!
//! with $\alpha$ over all of the atom's parameters (shared ones included), except that
//! - derivatives through a *mass* parameter ($\partial u/\partial\theta_m = c\,u$) beyond the
//!   first are dropped, and $u$ itself belongs to the family only when the atom has a mass;
//! - derivatives that differentiate a `relu`/`abs` argument twice are *singular* (a Dirac mass
//!   at the kink that sampling cannot see) and are set aside, not analysed.
//!
//! Each column is computed by forward-mode AD (num-dual): one evaluation per sample point and
//! multi-index, with the number type matching $|\alpha|$ ([`crate::expr::Derivative`]).
//! Columns are computed in parallel; the result does not depend on the thread count.

mod error;
mod gate;
mod groups;
mod hp;
mod multi_index;
mod points;
mod truth;

pub use error::FamilyError;
pub use hp::HpFamilies;
pub use multi_index::MultiIndex;
pub use points::{HpScalar, SamplePoints};

use crate::case::{Case, Model, Role};
use crate::expr::{Derivative, Jet, Kink, Number, Op, Tape, TapeBuilder};
use crate::model::Compiled;
use nalgebra::DMatrix;
use num_dual::{Dual64, HyperDual, HyperDual64, HyperHyperDual64};
use rayon::prelude::*;
use rug::Float;

/// Most columns a joint family may have.
pub const MAX_TERMS: usize = 2500;
/// Most sample points.
pub const MAX_SAMPLES: usize = 200_000;
/// Most entries of the joint family matrix (samples × terms): 200 MB of f64.
pub const MAX_ENTRIES: usize = 25_000_000;
/// Fewest sample points chosen automatically.
pub const MIN_SAMPLES: usize = 200;

/// The function $u$ of a case and what is needed to evaluate it: built from the case's one
/// compilation ([`Compiled`]).
#[derive(Clone, Debug)]
pub struct Design {
    /// Names of the scalar parameters, in the order of $\theta$.
    pub variables: Vec<String>,
    /// Their roles.
    pub roles: Vec<Role>,
    /// Whether the gate is normalized.
    pub normalized: bool,
    /// Top-K sparse gate: the number of atoms selected at each point (docs/theory.md §9).
    pub top_k: Option<usize>,
    /// The observation model.
    pub model: Model,
    /// Input dimension.
    pub dim: usize,
    /// $u$, one tape per class for multinomial models. Inputs: $x$, $y$, $f^*$, the scale.
    u: Vec<Tape>,
    /// The gate, the expert and the known pieces: $w$ and $e$ for $f^*$, the mean and variance
    /// for sampling $y$, the fixed component (part of $f^*$ and of every mixture), the groups.
    compiled: Compiled,
    /// Kinks of $u$, deduplicated.
    pub kinks: Vec<Kink>,
}

/// The reference and scale of tape inputs that use neither.
const PLAIN: (f64, f64) = (0.0, 1.0);

/// Input slot of $f^*(x, y)$ (of the group's mean $m^*_g$ for a hierarchical gate), after $x$
/// and $y$ ([`crate::model::y_slot`]).
fn fstar_slot(dim: usize) -> usize {
    dim + 1
}

/// Input slot of the atom's scale ($c^*_g$ of its group for a hierarchical gate, else 1).
fn scale_slot(dim: usize) -> usize {
    dim + 2
}

impl Design {
    /// Compiles the case ([`Compiled::new`]) and builds $u$ from it (docs/theory.md §1).
    pub fn new(case: &Case) -> Design {
        Design::from_compiled(Compiled::new(case))
    }

    /// Builds $u = w\,(e - f^*)$ (normalized gates; times the group's scale when hierarchical)
    /// or $u = w\,e$ from the compiled weight and expert output, one tape per class.
    pub fn from_compiled(compiled: Compiled) -> Design {
        let dim = compiled.dim;
        let u: Vec<Tape> = compiled
            .output
            .iter()
            .map(|output| {
                let mut b = TapeBuilder::new();
                let w = b.inline(&compiled.weight);
                let e = b.inline(output);
                let mark = b.len();
                let out = if compiled.normalized {
                    let f = b.push(Op::Input(fstar_slot(dim)));
                    let d = b.push(Op::Sub(e, f));
                    let u = b.push(Op::Mul(w, d));
                    if compiled.groups.is_some() {
                        let c = b.push(Op::Input(scale_slot(dim)));
                        b.push(Op::Mul(c, u))
                    } else {
                        u
                    }
                } else {
                    b.push(Op::Mul(w, e))
                };
                b.describe_since(mark, "the product of the gate weight and the expert");
                b.finish(out)
            })
            .collect();
        let mut kinks: Vec<Kink> = Vec::new();
        for k in u.iter().flat_map(|t| t.kinks()) {
            if !kinks
                .iter()
                .any(|q| q.text == k.text && q.params == k.params)
            {
                kinks.push(k.clone());
            }
        }
        Design {
            variables: compiled.variables.clone(),
            roles: compiled.roles.clone(),
            normalized: compiled.normalized,
            top_k: compiled.top_k,
            model: compiled.model,
            dim,
            u,
            compiled,
            kinks,
        }
    }

    /// The case's one compilation this design is built from.
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// Number of scalar parameters per atom.
    pub fn n_vars(&self) -> usize {
        self.variables.len()
    }

    /// $u(x_i, y_i; \theta)$ at sample `i` over any [`Number`], with the reference vector
    /// `fstar` ([`Design::fstar`]), for a parameter vector of atom `atom`'s cell (0-based; zero
    /// where a top-K gate does not select it).
    pub fn u_at<N: Number>(
        &self,
        points: &SamplePoints,
        i: usize,
        fstar: &[f64],
        (theta, atom): (&[N], usize),
        slots: &mut Vec<N>,
    ) -> N {
        let like = &theta[0];
        if !points.selected(i, atom) {
            return like.constant(0.0);
        }
        let mut raw = Vec::with_capacity(self.dim + 3);
        points.fill_inputs(i, self.reference(fstar, i, atom), &mut raw);
        let inputs: Vec<N> = raw.iter().map(|&v| like.constant(v)).collect();
        self.u[points.class[i]].eval(&inputs, theta, slots)
    }

    /// The gate weight $w$ and the expert output $e$ (mean, density or class probability) at
    /// sample `i` over any [`Number`]: the pieces of $f_G = \sum_i w_i e_i / \sum_i w_i$
    /// (normalized) or $\sum_i w_i e_i$. For a parameter vector of atom `atom`'s cell (0-based);
    /// both are zero where a top-K gate does not select it.
    pub fn weight_output_at<N: Number>(
        &self,
        points: &SamplePoints,
        i: usize,
        (theta, atom): (&[N], usize),
        slots: &mut Vec<N>,
    ) -> (N, N) {
        let like = &theta[0];
        if !points.selected(i, atom) {
            return (like.constant(0.0), like.constant(0.0));
        }
        let mut raw = Vec::with_capacity(self.dim + 3);
        points.fill_inputs(i, PLAIN, &mut raw);
        let inputs: Vec<N> = raw.iter().map(|&v| like.constant(v)).collect();
        let w = self.compiled.weight.eval(&inputs, theta, slots);
        let e = self.compiled.output[points.class[i]].eval(&inputs, theta, slots);
        (w, e)
    }

    /// The columns $\partial^\alpha u(\cdot; \theta)$ for every $\alpha$ in `alphas`, at every
    /// sample point: an $N \times |\alpha\text{s}|$ matrix. `atom` (1-based) only names errors.
    ///
    /// # Errors
    /// [`FamilyError::NonFinite`] naming the term and the sample.
    pub fn columns(
        &self,
        points: &SamplePoints,
        fstar: &[f64],
        theta: &[f64],
        alphas: &[MultiIndex],
        atom: usize,
    ) -> Result<DMatrix<f64>, FamilyError> {
        // Every column, then the first failure in term order: the error named does not depend
        // on which thread failed first.
        let cols: Vec<Vec<f64>> = alphas
            .par_iter()
            .map(|alpha| self.column(points, fstar, theta, alpha, atom))
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Result<_, _>>()?;
        let n = points.len();
        Ok(DMatrix::from_fn(n, alphas.len(), |i, j| cols[j][i]))
    }

    /// The columns $\partial^\alpha u(\cdot;\theta)$ in `prec`-bit arithmetic, by the project's
    /// own AD ([`Jet`] over `rug::Float`), for the first `n_points` sample points. Returns one
    /// vector per column.
    ///
    /// # Errors
    /// [`FamilyError::NonFinite`] naming the term and the sample.
    #[allow(clippy::too_many_arguments)]
    pub fn columns_hp(
        &self,
        points: &SamplePoints,
        fstar: &[Float],
        theta: &[f64],
        alphas: &[MultiIndex],
        prec: u32,
        n_points: usize,
        atom: usize,
    ) -> Result<Vec<Vec<Float>>, FamilyError> {
        let n_points = n_points.min(points.len());
        // the first failure in term order, whichever thread found it first
        let columns: Vec<Result<Vec<Float>, FamilyError>> = alphas
            .par_iter()
            .map(|alpha| {
                let column =
                    self.column_jet(points, fstar, (theta, atom - 1), alpha, prec, n_points);
                match column.iter().position(|v| !v.is_finite()) {
                    Some(i) => Err(FamilyError::NonFinite {
                        origin: None,
                        atom,
                        term: alpha.label(&self.variables, "u"),
                        sample: i,
                        point: points.describe(i),
                        value: column[i].to_f64(),
                    }),
                    None => Ok(column),
                }
            })
            .collect();
        columns.into_iter().collect()
    }

    /// One column with [`Jet`]s over any [`Number`] scalar made by `scalar`.
    fn column_jet<S>(
        &self,
        points: &SamplePoints,
        fstar: &[S],
        (theta, atom): (&[f64], usize),
        alpha: &MultiIndex,
        prec: u32,
        n_points: usize,
    ) -> Vec<S>
    where
        S: Number + From<HpScalar>,
    {
        let k = alpha.order();
        let dirs = alpha.directions();
        let seeded: Vec<Jet<S>> = theta
            .iter()
            .enumerate()
            .map(|(p, &v)| {
                let hits: Vec<bool> = dirs.iter().map(|&d| d as usize == p).collect();
                Jet::seed(S::from(HpScalar(v, prec)), k, &hits)
            })
            .collect();
        let mut slots = Vec::new();
        (0..n_points)
            .map(|i| {
                if !points.selected(i, atom) {
                    return S::from(HpScalar(0.0, prec));
                }
                let mut inputs: Vec<Jet<S>> = points
                    .inputs(i, PLAIN)
                    .iter()
                    .map(|&v| Jet::seed(S::from(HpScalar(v, prec)), 0, &[]))
                    .collect();
                let (f, c) = match self.reference_index(i, atom) {
                    None => (fstar[i].clone(), S::from(HpScalar(1.0, prec))),
                    Some((r, s)) => (fstar[r].clone(), fstar[s].clone()),
                };
                inputs[fstar_slot(self.dim)] = Jet::seed(f, 0, &[]);
                inputs[scale_slot(self.dim)] = Jet::seed(c, 0, &[]);
                self.u[points.class[i]]
                    .eval(&inputs, &seeded, &mut slots)
                    .top()
                    .clone()
            })
            .collect()
    }

    /// The columns by the project's own AD over `f64` ([`Jet`]): the same numbers as
    /// [`Design::columns`] (num-dual) up to rounding; used to cross-check the two AD paths.
    pub fn columns_jet_f64(
        &self,
        points: &SamplePoints,
        fstar: &[f64],
        theta: &[f64],
        alphas: &[MultiIndex],
        atom: usize,
    ) -> DMatrix<f64> {
        let cols: Vec<Vec<f64>> = alphas
            .par_iter()
            .map(|a| self.column_jet(points, fstar, (theta, atom - 1), a, 53, points.len()))
            .collect();
        DMatrix::from_fn(points.len(), alphas.len(), |i, j| cols[j][i])
    }

    fn column(
        &self,
        points: &SamplePoints,
        fstar: &[f64],
        theta: &[f64],
        alpha: &MultiIndex,
        atom: usize,
    ) -> Result<Vec<f64>, FamilyError> {
        let at = (theta, atom - 1);
        let values = match alpha.order() {
            0 => self.column_of::<f64>(points, fstar, at, alpha),
            1 => self.column_of::<Dual64>(points, fstar, at, alpha),
            2 => self.column_of::<HyperDual64>(points, fstar, at, alpha),
            3 => self.column_of::<HyperHyperDual64>(points, fstar, at, alpha),
            _ => self.column_of::<HyperDual<HyperDual64>>(points, fstar, at, alpha),
        };
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            let point = (points, fstar, i);
            let origin = match alpha.order() {
                0 => self.origin_of::<f64>(point, at, alpha),
                1 => self.origin_of::<Dual64>(point, at, alpha),
                2 => self.origin_of::<HyperDual64>(point, at, alpha),
                3 => self.origin_of::<HyperHyperDual64>(point, at, alpha),
                _ => self.origin_of::<HyperDual<HyperDual64>>(point, at, alpha),
            };
            return Err(FamilyError::NonFinite {
                origin,
                atom,
                term: alpha.label(&self.variables, "u"),
                sample: i,
                point: points.describe(i),
                value: values[i],
            });
        }
        Ok(values)
    }

    /// Where the column `alpha` first turns non-finite at sample `i`: the sub-expression of
    /// the first operation of $u$ with a value or derivative part that is not finite.
    fn origin_of<N: Derivative>(
        &self,
        (points, fstar, i): (&SamplePoints, &[f64], usize),
        (theta, atom): (&[f64], usize),
        alpha: &MultiIndex,
    ) -> Option<String> {
        let seeded: Vec<N> = seed(theta, alpha);
        let mut inputs = Vec::with_capacity(self.dim + 3);
        points.fill_inputs(i, self.reference(fstar, i, atom), &mut inputs);
        let inputs: Vec<N> = inputs.iter().map(|&v| seeded[0].constant(v)).collect();
        self.u[points.class[i]].first_non_finite(&inputs, &seeded)
    }

    fn column_of<N: Derivative>(
        &self,
        points: &SamplePoints,
        fstar: &[f64],
        (theta, atom): (&[f64], usize),
        alpha: &MultiIndex,
    ) -> Vec<f64> {
        let seeded: Vec<N> = seed(theta, alpha);
        let mut slots = Vec::new();
        let mut inputs = Vec::with_capacity(self.dim + 3);
        let mut inputs_n: Vec<N> = Vec::with_capacity(self.dim + 3);
        let like = seeded[0];
        (0..points.len())
            .map(|i| {
                if !points.selected(i, atom) {
                    return 0.0;
                }
                points.fill_inputs(i, self.reference(fstar, i, atom), &mut inputs);
                inputs_n.clear();
                inputs_n.extend(inputs.iter().map(|&v| like.constant(v)));
                self.u[points.class[i]]
                    .eval(&inputs_n, &seeded, &mut slots)
                    .top()
            })
            .collect()
    }
}

/// The parameters seeded for the derivative `alpha` in the number type `N`.
fn seed<N: Derivative>(theta: &[f64], alpha: &MultiIndex) -> Vec<N> {
    debug_assert_eq!(N::ORDER, alpha.order());
    let dirs = alpha.directions();
    theta
        .iter()
        .enumerate()
        .map(|(p, &v)| {
            let mut hits = [false; 4];
            for (h, &d) in hits.iter_mut().zip(dirs) {
                *h = d as usize == p;
            }
            N::seed(v, hits)
        })
        .collect()
}

/// A parameter $\theta_m$ with $\partial u/\partial\theta_m = c\,u$ at the atom.
#[derive(Clone, Debug, PartialEq)]
pub struct Mass {
    /// Index of the parameter in $\theta$.
    pub var: usize,
    /// The constant $c$.
    pub c: f64,
    /// Whether the case declares it (`role = "mass"`); otherwise it was detected.
    pub declared: bool,
    /// Whether $\partial u/\partial\theta_m = c\,u$ holds numerically (a declared mass may not).
    pub holds: bool,
}

/// A term set aside because it differentiates a kink twice.
#[derive(Clone, Debug, PartialEq)]
pub struct Singular {
    /// The term.
    pub alpha: MultiIndex,
    /// The kinked sub-expression, e.g. `relu(a * x[0] + b)`.
    pub kink: String,
}

/// The family $F_r$ of one atom at the sample points.
#[derive(Clone, Debug)]
pub struct AtomFamily {
    /// Atom index (0-based).
    pub atom: usize,
    /// The analysed terms, by order then lexicographically.
    pub terms: Vec<MultiIndex>,
    /// $J_{i\alpha} = \partial^\alpha u(x_i, y_i; \theta^*_j)$, unscaled ($N \times$ terms).
    pub matrix: DMatrix<f64>,
    /// Masses of the atom.
    pub masses: Vec<Mass>,
    /// Terms set aside as singular.
    pub singular: Vec<Singular>,
}

impl AtomFamily {
    /// Columns of order at most `r`, as indices into `terms` (a prefix, by construction).
    pub fn up_to_order(&self, r: usize) -> usize {
        self.terms.iter().take_while(|t| t.order() <= r).count()
    }
}

/// Relative residual below which $\partial u/\partial\theta_m = c\,u$ is taken to hold.
pub const MASS_TOLERANCE: f64 = 1e-9;

/// Builds the family of order `order` of atom `j` (docs/theory.md §2–3).
///
/// Mass parameters are the declared ones plus those detected from
/// $\|\partial_m u - c\,u\| \le$ `MASS_TOLERANCE` $\cdot \|\partial_m u\|$, $c = \langle u,
/// \partial_m u\rangle / \|u\|^2$. Shared parameters are never masses.
///
/// # Errors
/// [`FamilyError::NonFinite`] naming the term and sample.
pub fn atom_family(
    design: &Design,
    points: &SamplePoints,
    fstar: &[f64],
    theta: &[f64],
    j: usize,
    order: usize,
) -> Result<AtomFamily, FamilyError> {
    let p = design.n_vars();
    let first: Vec<MultiIndex> = std::iter::once(MultiIndex::zero())
        .chain((0..p).map(|d| MultiIndex::new(vec![d as u16])))
        .collect();
    let low = design.columns(points, fstar, theta, &first, j + 1)?;
    let u = low.column(0);
    let uu = u.dot(&u);
    let mut masses = Vec::new();
    for m in 0..p {
        if design.roles[m] == Role::Shared {
            continue;
        }
        let du = low.column(m + 1);
        let c = if uu > 0.0 { u.dot(&du) / uu } else { 0.0 };
        let resid = (du - u * c).norm();
        let holds = uu > 0.0 && du.norm() > 0.0 && resid <= MASS_TOLERANCE * du.norm();
        let declared = design.roles[m] == Role::Mass;
        if holds || declared {
            masses.push(Mass {
                var: m,
                c,
                declared,
                holds,
            });
        }
    }
    let is_mass = |d: u16| masses.iter().any(|m| m.var == d as usize);
    let mut terms = Vec::new();
    let mut singular = Vec::new();
    for alpha in MultiIndex::all(p, order) {
        if alpha.order() == 0 && masses.is_empty() {
            continue;
        }
        if alpha.order() >= 2 && alpha.directions().iter().any(|&d| is_mass(d)) {
            continue;
        }
        if let Some(k) = design.kinks.iter().find(|k| alpha.count_in(k.params) >= 2) {
            singular.push(Singular {
                alpha,
                kink: k.text.clone(),
            });
            continue;
        }
        terms.push(alpha);
    }
    let matrix = design.columns(points, fstar, theta, &terms, j + 1)?;
    Ok(AtomFamily {
        atom: j,
        terms,
        matrix,
        masses,
        singular,
    })
}

/// Number of columns the family of order `order` has at most, given `masses` declared mass
/// parameters among the `n_vars`: the mass rule keeps no term of order $\ge 2$ through a mass, so
/// $\binom{P - M + r}{r} + M$ (kinks and masses detected at the atoms remove more).
pub fn max_terms_kept(n_vars: usize, masses: usize, order: usize) -> usize {
    let masses = masses.min(n_vars);
    if order == 0 {
        return 1;
    }
    max_terms(n_vars - masses, order).saturating_add(masses)
}

/// Number of columns the family of order `order` will have, at most (before masses and kinks
/// remove some): $\binom{P + r}{r}$.
pub fn max_terms(n_vars: usize, order: usize) -> usize {
    (0..order).fold(1usize, |acc, i| {
        acc.saturating_mul(n_vars + order - i) / (i + 1)
    })
}

#[cfg(test)]
mod tests;
