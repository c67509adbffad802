//! One atom's function, expanded at the truth: the frame of the cell analysis.
//!
//! For true atom $j$ the cell analysis works with $\tilde u(\theta) = u(\theta)$ with the mass
//! parameter (if any) held at its true value: an *exact exponential mass* $\theta_m$, one with
//! $u(\theta + \delta e_m) = e^{c\delta} u(\theta)$ for every $\theta$ and $\delta$ (the
//! $e^{\beta_0}$ of a softmax numerator, the $e^{\gamma}$ of a modified sigmoid), becomes the
//! atom's weight $p = p^* e^{c\,\Delta\theta_m}$. The other parameters are the cell's
//! *coordinates*, each measured in its natural unit
//! $s_c = \|\tilde u\| / \|\partial_c \tilde u\|$ (the change that moves $u$ by its own size),
//! so that exponents and witnesses do not depend on how a parameter is scaled.
//!
//! [`Expansion`] holds the Taylor coefficients $T_\alpha = \partial^\alpha \tilde u / \alpha!$
//! (coordinates in their units) at $N \ge 2|\{\alpha\}|$ sample points, compressed to the
//! triangular factor $R$ of the $N \times |\{\alpha\}|$ matrix (columns divided by
//! $\|\tilde u\|$): for any coefficient vector $C$, $\|\sum_\alpha C_\alpha T_\alpha\| /
//! \|\tilde u\| = \|R\,C\|$ exactly, so the coefficient system never revisits the samples.

use crate::case::Role;
use crate::expr::{Taylor, TaylorSpace};
use crate::family::{Design, SamplePoints};
use nalgebra::DMatrix;
use rayon::prelude::*;
use std::sync::Arc;

/// Highest expansion degree.
pub const MAX_DEGREE: usize = 9;
/// Largest product table ($\binom{2P+R}{R}$) an expansion may use: beyond it the degree is
/// capped and the analysis says so.
pub const MAX_PRODUCTS: usize = 20_000;
/// Most monomials an expansion may have (the coefficient system's columns).
pub const MAX_MONOMIALS: usize = 400;

/// An exact exponential mass: $u(\theta + \delta e_m) = e^{c\delta} u(\theta)$.
#[derive(Clone, Debug, PartialEq)]
pub struct ExactMass {
    /// The parameter.
    pub var: usize,
    /// The constant $c$.
    pub c: f64,
}

/// What the cell analysis of one true atom works in.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The true atom (0-based).
    pub atom: usize,
    /// Its parameters $\theta^*_j$ (shared ones included).
    pub theta: Vec<f64>,
    /// Parameter indices of the coordinates (every parameter but the mass).
    pub coords: Vec<usize>,
    /// Whether each coordinate is shared by all atoms (one value for the whole cell).
    pub shared: Vec<bool>,
    /// The atom's mass, when it has an exact one.
    pub mass: Option<ExactMass>,
    /// A parameter that acts as a mass at the atom ($\partial u/\partial\theta = c\,u$ there)
    /// but not exactly; the cell analysis cannot split such an atom.
    pub point_mass: Option<usize>,
    /// Natural unit of each coordinate.
    pub scales: Vec<f64>,
    /// Coordinates inside a `relu`/`abs` argument (their second derivatives are Dirac masses).
    pub kinked: Vec<bool>,
    /// $\|\tilde u\|$ over the frame's sample points.
    pub norm: f64,
}

/// Relative tolerance of the exact-mass test.
const MASS_TOLERANCE: f64 = 1e-9;

/// The samples and $f^*$ a frame is measured on.
///
/// For a normalized gate $f_G - f^* = \sum_i u(\theta_i) / \sum_i w(\theta_i)$, so $u$ is
/// measured with the weight $1/D^*(x)$, $D^* = \sum_j w(\theta^*_j)$: the norm of
/// $f_G - f^*$ to leading order. (Unweighted, a gate like $e^{25x - 8}$ has derivatives $10^7$
/// times its values where it dominates, and the coordinates' units lose their meaning.)
#[derive(Clone, Debug)]
pub struct Samples {
    /// The points.
    pub points: SamplePoints,
    /// $f^*$ there (zeros for unnormalized gates).
    pub fstar: Vec<f64>,
    /// $1/D^*$ there (ones for unnormalized gates).
    pub weight: Vec<f64>,
}

impl Samples {
    /// `n` points drawn with `seed` (see [`Design::sample`]).
    pub fn draw(design: &Design, atoms: &[Vec<f64>], n: usize, seed: u64) -> Option<Samples> {
        let points = design.sample(atoms, n, seed).ok()?;
        let fstar = design.fstar(&points, atoms).ok()?;
        let mut slots = Vec::new();
        let weight: Vec<f64> = (0..points.len())
            .map(|i| {
                if !design.normalized {
                    return 1.0;
                }
                let d: f64 = atoms
                    .iter()
                    .enumerate()
                    .map(|(j, a)| design.weight_output_at(&points, i, (a, j), &mut slots).0)
                    .sum();
                let w0 = design
                    .fixed_at(&points, i, &0.0, &mut slots)
                    .map_or(0.0, |f| f.0);
                1.0 / (d + w0)
            })
            .collect();
        if weight.iter().any(|w| !w.is_finite()) {
            return None;
        }
        Some(Samples {
            points,
            fstar,
            weight,
        })
    }

    /// The first `n` samples.
    pub fn first(&self, n: usize) -> Samples {
        let n = n.min(self.points.len());
        Samples {
            points: self.points.first(n),
            // entries per point: 1, or 2 per group for a hierarchical gate
            fstar: self.fstar[..n * (self.fstar.len() / self.points.len().max(1))].to_vec(),
            weight: self.weight[..n].to_vec(),
        }
    }

    /// $\tilde u / D^*$ at every point, in f64, for a parameter vector of atom `atom`'s cell.
    pub fn values(&self, design: &Design, theta: &[f64], atom: usize) -> Vec<f64> {
        let mut slots = Vec::new();
        (0..self.points.len())
            .map(|i| {
                design.u_at(&self.points, i, &self.fstar, (theta, atom), &mut slots)
                    * self.weight[i]
            })
            .collect()
    }
}

/// The unit of $\tilde u$ in `columns` (column 0: $\tilde u$, of norm `u0`, then the `first`
/// first derivatives): `u0`, or, where $\tilde u$ vanishes at the truth to rounding (a top-1
/// gate: one selected atom, so $e = f^*$), the largest first derivative's norm.
fn unit(u0: f64, columns: &DMatrix<f64>, first: usize) -> f64 {
    let d = (1..=first)
        .map(|c| columns.column(c).norm())
        .fold(0.0, f64::max);
    if u0 > 1e-13 * d {
        u0
    } else {
        d
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// $u$ is $e^{c\delta}$ times itself along `var`, at `theta` and at a perturbed point.
fn exact_mass(
    design: &Design,
    s: &Samples,
    (theta, atom): (&[f64], usize),
    var: usize,
) -> Option<f64> {
    let base = s.values(design, theta, atom);
    let b = norm(&base);
    if b == 0.0 {
        return None;
    }
    let shifted = |t: &[f64], d: f64| {
        let mut t = t.to_vec();
        t[var] += d;
        s.values(design, &t, atom)
    };
    // c from a unit step (a small one would lose digits to rounding: the cell's masses become
    // e^{c Δθ}, and an error in c shows as a mass error of that size), then the exponential
    // law at other steps and elsewhere.
    let up = shifted(theta, 1.0);
    let ratio: f64 = up.iter().zip(&base).map(|(a, b)| a * b).sum::<f64>()
        / base.iter().map(|v| v * v).sum::<f64>();
    let c = ratio.ln();
    if !c.is_finite() || c.abs() < 1e-6 {
        return None;
    }
    let mut other = theta.to_vec();
    for (v, t) in other.iter_mut().enumerate() {
        if v != var {
            *t += 0.05 * (1.0 + t.abs()) * if v % 2 == 0 { 1.0 } else { -1.0 };
        }
    }
    for at in [theta, other.as_slice()] {
        let base = s.values(design, at, atom);
        let bn = norm(&base);
        for d in [0.5, -0.3] {
            let got = shifted(at, d);
            let want: Vec<f64> = base.iter().map(|v| v * (c * d).exp()).collect();
            let err = norm(
                &got.iter()
                    .zip(&want)
                    .map(|(a, b)| a - b)
                    .collect::<Vec<_>>(),
            );
            if err.is_nan() || err > MASS_TOLERANCE * bn.max(f64::MIN_POSITIVE) {
                return None;
            }
        }
    }
    Some(c)
}

/// Whether $\partial u/\partial\theta_v = c\,u$ holds at `theta` (first order only).
fn acts_as_mass(design: &Design, s: &Samples, (theta, atom): (&[f64], usize), var: usize) -> bool {
    let space = TaylorSpace::new(1, 1);
    let mut slots = Vec::new();
    let (mut u, mut du) = (Vec::new(), Vec::new());
    for i in 0..s.points.len() {
        let th: Vec<Taylor> = theta
            .iter()
            .enumerate()
            .map(|(p, &t)| {
                if p == var {
                    Taylor::variable(&space, t, 0, 1.0)
                } else {
                    Taylor::constant_in(&space, t)
                }
            })
            .collect();
        let c = design
            .u_at(&s.points, i, &s.fstar, (&th, atom), &mut slots)
            .coefficients();
        u.push(c[0]);
        du.push(c[1]);
    }
    let uu: f64 = u.iter().map(|v| v * v).sum();
    if uu == 0.0 {
        return false;
    }
    let c = u.iter().zip(&du).map(|(a, b)| a * b).sum::<f64>() / uu;
    let res = norm(
        &du.iter()
            .zip(&u)
            .map(|(d, v)| d - c * v)
            .collect::<Vec<_>>(),
    );
    c != 0.0 && res <= MASS_TOLERANCE * norm(&du)
}

impl Frame {
    /// The frame of true atom `atom` of `atoms`, measured on `s`. `None` when $\tilde u$
    /// vanishes at the samples (nothing to analyse).
    pub fn new(design: &Design, atoms: &[Vec<f64>], atom: usize, s: &Samples) -> Option<Frame> {
        let theta = atoms[atom].clone();
        let p = design.n_vars();
        let probe = s.first(60);
        // Masses: declared ones first, then in parameter order.
        let mut candidates: Vec<usize> = (0..p)
            .filter(|&v| design.roles[v] != Role::Shared)
            .collect();
        candidates.sort_by_key(|&v| (design.roles[v] != Role::Mass, v));
        let mut mass = None;
        let mut point_mass = None;
        for &v in &candidates {
            if !acts_as_mass(design, &probe, (&theta, atom), v) {
                continue;
            }
            match exact_mass(design, &probe, (&theta, atom), v) {
                Some(c) if mass.is_none() => mass = Some(ExactMass { var: v, c }),
                None if mass.is_none() && point_mass.is_none() => point_mass = Some(v),
                _ => {}
            }
        }
        let coords: Vec<usize> = (0..p)
            .filter(|&v| mass.as_ref().map(|m| m.var) != Some(v))
            .collect();
        let shared = coords
            .iter()
            .map(|&v| design.roles[v] == Role::Shared)
            .collect();
        let kinked = coords
            .iter()
            .map(|&v| design.kinks.iter().any(|k| k.params.contains(v)))
            .collect();
        let mut frame = Frame {
            atom,
            theta,
            coords,
            shared,
            mass,
            point_mass,
            scales: vec![],
            kinked,
            norm: 0.0,
        };
        frame.scales = vec![1.0; frame.coords.len()];
        let first = Expansion::new(design, &frame, s, 1)?;
        let t = &first.columns;
        let u0 = unit(norm(t.column(0).as_slice()), t, frame.coords.len());
        frame.norm = first.norm;
        frame.scales = (0..frame.coords.len())
            .map(|c| {
                // A derivative at rounding level (a parameter u does not depend on, written so
                // that f64 sees noise) keeps the unit 1 rather than a huge one.
                let d = t.column(1 + c).norm();
                if d > 1e-8 * u0 {
                    u0 / d
                } else {
                    1.0
                }
            })
            .collect();
        Some(frame)
    }

    /// Number of coordinates.
    pub fn dim(&self) -> usize {
        self.coords.len()
    }

    /// The parameter vector at coordinate offsets `delta` (in units) from the truth.
    pub fn theta_at(&self, delta: &[f64]) -> Vec<f64> {
        let mut t = self.theta.clone();
        for (c, &v) in self.coords.iter().enumerate() {
            t[v] += delta[c] * self.scales[c];
        }
        t
    }

    /// The parameters `theta` as Taylor numbers of `space`: each coordinate of the frame a
    /// variable in its units, the other parameters constants.
    pub fn taylor(&self, space: &Arc<TaylorSpace>, theta: &[f64]) -> Vec<Taylor> {
        theta
            .iter()
            .enumerate()
            .map(|(v, &val)| match self.coords.iter().position(|&c| c == v) {
                Some(c) => Taylor::variable(space, val, c, self.scales[c]),
                None => Taylor::constant_in(space, val),
            })
            .collect()
    }
}

/// Directions seen more weakly than this fraction of the strongest are not whitened fully:
/// f64 columns carry noise of about $10^{-16}$ of their norm, which whitening divides by the
/// singular value, so the floor keeps that noise below $10^{-12}$ (far under
/// [`super::search::SOLVED`]) while a genuine direction at $10^{-8}$ (the weakest of a
/// degree-6 family) still weighs $10^{-4}$ (far over [`super::search::UNSOLVED`]). Exact
/// dependencies (the relations) land at $10^{-17}$ to $10^{-22}$ and fade out.
pub const WHITEN_FLOOR: f64 = 1e-4;

/// The floor of the strict blocks: a solution that leans on directions seen $10^{-12}$ to
/// $10^{-4}$ times more weakly than the strongest shows a large strict residual.
pub const STRICT_FLOOR: f64 = 1e-12;

/// $B = \mathrm{diag}(\sigma_i / \max(\sigma_i, \tau\sigma_1))\, V^\top$ for
/// $R = U \Sigma V^\top$: $\|B C\|$ is the distance of the coefficient vector $C$ from the
/// relations of the family, every genuine direction weighted alike however weakly the samples
/// see it, directions below the floor $\tau$ = [`WHITEN_FLOOR`] fading out smoothly. The
/// system $R C = 0$ and $B C = 0$ have the same solutions; $B$ makes residuals comparable
/// across orders (high-order directions are seen $10^{-4}$ times more weakly than first-order
/// ones) and the Jacobian well conditioned.
pub fn whiten(r: &DMatrix<f64>, floor: f64) -> DMatrix<f64> {
    let svd = r.clone().svd(false, true);
    let v_t = svd.v_t.expect("requested");
    let top = svd.singular_values.iter().cloned().fold(0.0, f64::max);
    let mut b = v_t;
    for (i, s) in svd.singular_values.iter().enumerate() {
        let f = if top > 0.0 {
            s / s.max(floor * top)
        } else {
            0.0
        };
        b.row_mut(i).scale_mut(f);
    }
    b
}

impl Expansion {
    /// The relative distance of the pure square $T_{2e_k} = \tfrac12\partial_k^2\tilde u$ from
    /// the span of every other Taylor term of degree at most 2. When it is clearly positive,
    /// the coefficient of that direction in $f_G - f^*$, $\sum_i p_i \Delta_{ik}^2 \ge
    /// \min_i p_i\,\varepsilon^2$, cannot be cancelled by any other term of order 2, so
    /// $\rho_k(\varepsilon) \gtrsim \varepsilon^2$ along every curve whose coordinates move like
    /// $O(\varepsilon)$: $s_k \le 2$ there (the search over $q$ covers the others). Higher
    /// degrees are left out on purpose: on a bounded sample, dozens of high-order terms nearly
    /// span every function, and the distance would shrink without meaning.
    pub fn isolation(&self, k: usize) -> f64 {
        let mut alpha = vec![0u8; self.space.vars()];
        alpha[k] = 2;
        let Some(target) = self.space.position(&alpha) else {
            return f64::NAN;
        };
        // The columns' geometry is the triangular factor's: R (T₂ × T₂) stands for the samples.
        let t2 = self.space.up_to(2);
        let r2 = self.r.view((0, 0), (t2, t2));
        let t = r2.column(target).into_owned();
        let others: Vec<usize> = (0..t2).filter(|&c| c != target).collect();
        let a = r2.select_columns(&others);
        let q = a.qr().q();
        let resid = &t - &q * (q.transpose() * &t);
        resid.norm() / t.norm().max(f64::MIN_POSITIVE)
    }
}

/// The compressed Taylor expansion of $\tilde u$ (see the module docs).
#[derive(Clone, Debug)]
pub struct Expansion {
    /// The monomials.
    pub space: Arc<TaylorSpace>,
    /// Per order $n$, the whitened block $B_n$ of the monomials of degree $\le n$ (see
    /// [`whiten`]).
    pub blocks: Vec<DMatrix<f64>>,
    /// The same with the floor [`STRICT_FLOOR`]: directions f64 sees only faintly weigh fully,
    /// noise is amplified to about $10^{-4}$.
    pub strict: Vec<DMatrix<f64>>,
    /// The uncompressed columns $T_\alpha / \|\tilde u\|$ at the samples ($N \times$ monomials).
    pub columns: DMatrix<f64>,
    /// Their triangular factor $R$ (monomials $\times$ monomials).
    pub r: DMatrix<f64>,
    /// $\|\tilde u\|$ at the samples.
    pub norm: f64,
}

impl Expansion {
    /// Degree a frame of `dim` coordinates can afford within the limits.
    pub fn affordable(dim: usize, wanted: usize) -> usize {
        let mut d = wanted.min(MAX_DEGREE);
        while d > 1
            && (TaylorSpace::products(dim, d) > MAX_PRODUCTS
                || TaylorSpace::size(dim, d) > MAX_MONOMIALS)
        {
            d -= 1;
        }
        d
    }

    /// The expansion of degree `degree` at the points of `s` (which must number at least the
    /// monomials). `None` when $\tilde u$ vanishes there or an evaluation is not finite.
    pub fn new(design: &Design, frame: &Frame, s: &Samples, degree: usize) -> Option<Expansion> {
        let space = TaylorSpace::new(frame.dim(), degree);
        let t = space.monomials().len();
        let n = s.points.len();
        if n < t {
            return None;
        }
        let rows: Vec<Vec<f64>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let theta = frame.taylor(&space, &frame.theta);
                let mut slots = Vec::new();
                let w = s.weight[i];
                let mut row = design
                    .u_at(&s.points, i, &s.fstar, (&theta, frame.atom), &mut slots)
                    .coefficients();
                row.iter_mut().for_each(|v| *v *= w);
                row
            })
            .collect();
        if rows.iter().flatten().any(|v| !v.is_finite()) {
            return None;
        }
        let mut columns = DMatrix::from_fn(n, t, |i, a| rows[i][a]);
        let u0 = unit(columns.column(0).norm(), &columns, frame.dim().min(t - 1));
        if u0.is_nan() || u0 <= 0.0 {
            return None;
        }
        columns /= u0;
        let r = columns.clone().qr().r();
        let block = |n: usize, floor: f64| {
            whiten(
                &r.view((0, 0), (space.up_to(n), space.up_to(n)))
                    .into_owned(),
                floor,
            )
        };
        let blocks = (0..=degree).map(|n| block(n, WHITEN_FLOOR)).collect();
        let strict = (0..=degree).map(|n| block(n, STRICT_FLOOR)).collect();
        Some(Expansion {
            space,
            blocks,
            strict,
            r: r.clone(),
            columns,
            norm: u0,
        })
    }
}
