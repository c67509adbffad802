//! Relations in exact form: coefficients recognised as expressions in the parameters.
//!
//! A relation $\sum_\alpha c_\alpha(\theta)\,\partial^\alpha u = 0$ (pivot coefficient 1) has
//! coefficients that are functions of the atom's parameters. At the truth alone they cannot be
//! told apart (with $\tau = 1/2$, $-4$ is both $-4$ and $-2/\tau$), so the relation is solved
//! again at *stratum points*: every nonzero parameter perturbed at random, every zero kept (a
//! point relation at $\beta_1 = 0$ lives on that stratum). Each coefficient is then fitted, at
//! the truth and the stratum points, by at most two terms $q_1 B_1 + q_2 B_2$ with small
//! rationals $q$ over a basis of
//! - monomials $\prod_v \theta_v^{e_v}$ with $\sum |e_v| \le 2$ (reciprocals included) in the
//!   parameters that are nonzero at the truth, and
//! - $\sigma(\theta_v)$ times such monomials (the constants a sigmoid gate produces), or
//!   $e^{\pm\theta_v}$ times them (a variance or weight written `exp(l)`),
//!
//! and failing those by two monomials over a common monomial denominator (`fit_with_denominator`);
//! simplest forms first. A recognised form is accepted only when it also holds in high precision
//! at a fresh stratum point, with a residual that falls like $2^{-p}$ from 128 to 256 bits.
//!
//! # Why not PSLQ at the truth
//! Integer relation finding at one point needs that point to be generic; case files use round
//! values ($\tau = 0.5$, $\beta_1 = 2$) for which the basis itself is rationally dependent, so
//! every coefficient has many "exact forms". Several generic points make the fit unique.

use super::Relation;
use crate::case::Role;
use crate::expr::Number;
use crate::family::HpFamilies;
use crate::family::{Design, MultiIndex, SamplePoints};
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rug::Float;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

mod coef;
mod frame;
mod share;

pub use coef::{cleared, magnitude, rational, Basis, Coef, Factor, Rational};
use frame::Frame;
pub use share::share;
/// A relation with exact coefficients (in words: [`crate::report::relation::exact`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Exact {
    /// One coefficient per term of the relation (same order; the pivot's is 1 before clearing).
    pub coefs: Vec<Coef>,
    /// Whether the symbolic form held in high precision at a fresh stratum point, with a
    /// residual falling like $2^{-p}$ from 128 to 256 bits.
    pub verified: bool,
    /// The names of the coefficients' variables: the parameters; for a cross-atom relation
    /// followed by each atom's parameters with its subscript (`beta1[0]₂`).
    pub names: Vec<String>,
}

/// Number of stratum points.
const STRATUM_POINTS: usize = 6;
/// Relative size of a stratum perturbation.
const STRATUM_SIZE: f64 = 0.3;
/// Largest denominator of a recognised rational.
const MAX_DEN: i64 = 60;
/// Relative agreement required of a fit across points (f64).
const FIT_TOL: f64 = 1e-8;

/// Points of the stratum of `atoms`: nonzero parameters perturbed, zeros kept, shared ones
/// moved together.
fn stratum(design: &Design, atoms: &[Vec<f64>], count: usize, seed: u64) -> Vec<Vec<Vec<f64>>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let shared: Vec<f64> = (0..design.n_vars())
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            atoms
                .iter()
                .map(|theta| {
                    theta
                        .iter()
                        .enumerate()
                        .map(|(p, &v)| {
                            let z = if design.roles[p] == Role::Shared {
                                shared[p]
                            } else {
                                rng.random_range(-1.0..1.0)
                            };
                            v * (1.0 + STRATUM_SIZE * z)
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The relation's coefficients (pivot 1) at configuration `atoms`, solved in f64 on its support.
fn coefficients_at(
    design: &Design,
    points: &SamplePoints,
    atoms: &[Vec<f64>],
    rel: &Relation,
) -> Option<Vec<f64>> {
    let fstar = design.fstar(points, atoms).ok()?;
    let mut J = DMatrix::zeros(points.len(), rel.terms.len());
    for (c, t) in rel.terms.iter().enumerate() {
        let m = design
            .columns(
                points,
                &fstar,
                &atoms[t.atom],
                std::slice::from_ref(&t.alpha),
                t.atom + 1,
            )
            .ok()?;
        J.set_column(c, &m.column(0));
    }
    let norms: Vec<f64> = J.column_iter().map(|c| c.norm()).collect();
    if norms.contains(&0.0) {
        return (rel.terms.len() == 1).then(|| vec![1.0]);
    }
    for (c, n) in norms.iter().enumerate() {
        J.column_mut(c).unscale_mut(*n);
    }
    let svd = J.svd(false, true);
    let s = &svd.singular_values;
    let (imin, smin) = s.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1))?;
    if *smin > 1e-9 * s.max() {
        return None;
    }
    let v = svd.v_t?.row(imin).into_owned();
    if v[0].abs() < 1e-12 {
        return None;
    }
    Some(
        (0..rel.terms.len())
            .map(|c| v[c] / norms[c] / (v[0] / norms[0]))
            .collect(),
    )
}

/// As [`coefficients_at`], in 128-bit arithmetic (for relations of escalated families, whose
/// f64 evaluations are unreliable).
fn coefficients_at_hp(
    design: &Design,
    points: &SamplePoints,
    atoms: &[Vec<f64>],
    rel: &Relation,
) -> Option<Vec<f64>> {
    let n = (rel.terms.len() + 10).min(points.len());
    let mut hp = HpFamilies::new(design, points, atoms, n);
    let support: Vec<(usize, MultiIndex)> = rel
        .terms
        .iter()
        .map(|t| (t.atom, t.alpha.clone()))
        .collect();
    let prec = 128;
    let qr = crate::rank::hp::qr_pivoted(hp.columns(&support, prec).ok()?, prec);
    let k = support.len();
    if k == 1 {
        return qr.zero_columns.contains(&0).then(|| vec![1.0]);
    }
    let d = qr.log2_diag();
    if !qr.zero_columns.is_empty() || d.len() < k || d[k - 1] - d[0] > -0.75 * prec as f64 {
        return None;
    }
    let v = qr.null_space(k - 1);
    let p = v[(0, 0)] / qr.norms[0];
    if p == 0.0 {
        return None;
    }
    Some((0..k).map(|c| v[(c, 0)] / qr.norms[c] / p).collect())
}

/// Monomials $\prod_v \theta_v^{e_v}$ over `live` variables with $\sum |e_v| \le$ `degree`,
/// lowest degree first.
fn monomials(live: &[usize], degree: i32) -> Vec<Basis> {
    let mut out = vec![Basis::one()];
    let mut frontier = vec![Vec::<(usize, i32)>::new()];
    for _ in 0..degree {
        let mut next = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for m in &frontier {
            // extend with a variable at or after the last one, keeping exponents sorted by var
            let start = m.last().map_or(0, |l: &(usize, i32)| {
                live.iter().position(|&v| v == l.0).unwrap_or(0)
            });
            for &v in &live[start..] {
                for sign in [1, -1] {
                    let mut p = m.clone();
                    match p.iter_mut().find(|x| x.0 == v) {
                        Some(x) if x.1.signum() == sign => x.1 += sign,
                        Some(_) => continue,
                        None => p.push((v, sign)),
                    }
                    if seen.insert(p.clone()) {
                        next.push(p);
                    }
                }
            }
        }
        for p in &next {
            out.push(Basis {
                powers: p.clone(),
                factor: None,
            });
        }
        frontier = next;
    }
    out
}

/// Degrees of the single-term and two-term bases for `n` variables: full for small designs,
/// lower for larger ones (the number of monomials grows like $n^d$).
fn degrees(n: usize) -> (i32, i32) {
    match n {
        0..=6 => (4, 4),
        7..=10 => (3, 2),
        _ => (2, 1),
    }
}

/// The single-term basis: monomials of degree ≤ 4 in `live` (lower for many variables), and
/// $\sigma(\theta_s)$ or $e^{\pm\theta_s}$ times monomials of degree ≤ 2; simplest first.
fn basis(live: &[usize]) -> Vec<Basis> {
    let (d1, _) = degrees(live.len());
    let mut all = monomials(live, d1);
    let low = monomials(live, d1.min(2));
    for &s in live {
        for m in &low {
            for factor in [Factor::Sigmoid(s), Factor::Exp(s, -1), Factor::Exp(s, 1)] {
                all.push(Basis {
                    powers: m.powers.clone(),
                    factor: Some(factor),
                });
            }
        }
    }
    all.sort_by_key(Basis::degree);
    all
}

/// The single-term and two-term candidates of one variable set.
type Bases = (Vec<Basis>, Vec<(Basis, Basis)>);

/// [`basis`] and [`pairs`] of `live`, built once per thread and variable set: a design with
/// many parameters recognises dozens of relations over the same variables, and the bases
/// (thousands of monomials) cost more than the fits.
fn bases(live: &[usize]) -> Rc<Bases> {
    thread_local! {
        static CACHE: RefCell<HashMap<Vec<usize>, Rc<Bases>>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(b) = cache.get(live) {
            return b.clone();
        }
        if cache.len() >= 64 {
            cache.clear();
        }
        let b = Rc::new((basis(live), pairs(live)));
        cache.insert(live.to_vec(), b.clone());
        b
    })
}

/// Two-term candidates: $(m, m\,\sigma(\theta_s))$ for monomials of degree ≤ 4 (the
/// $(q_1 + q_2 \sigma)\,m$ of sigmoid gates), and pairs of monomials, one of degree ≤ 2 and
/// one of degree ≤ 3, of total degree ≤ 4 (the $1 - c^2/s$ of a Gaussian gate's relation);
/// lower degrees for many variables.
fn pairs(live: &[usize]) -> Vec<(Basis, Basis)> {
    let (_, d2) = degrees(live.len());
    let mut out = Vec::new();
    let all = monomials(live, d2);
    for m in &all {
        for &s in live {
            out.push((
                m.clone(),
                Basis {
                    powers: m.powers.clone(),
                    factor: Some(Factor::Sigmoid(s)),
                },
            ));
        }
    }
    // `monomials` lists by degree, so the degree-≤2 ones are a prefix of the degree-≤3 ones.
    let low = all.iter().filter(|m| m.degree() <= 2).count();
    let mid: Vec<&Basis> = all.iter().filter(|m| m.degree() <= 3).collect();
    let most = (2 * d2.min(2)).max(d2.min(4));
    for (a, x) in mid[..low].iter().enumerate() {
        for y in &mid[a + 1..] {
            if x.degree() + y.degree() <= most {
                out.push(((*x).clone(), (*y).clone()));
            }
        }
    }
    out.sort_by_key(|(a, b)| a.degree() + b.degree());
    out
}

/// Fits `values[i] ≈ Σ q_k B_k(thetas[i])` with one basis function, else with a candidate pair.
fn fit(
    values: &[f64],
    thetas: &[&Vec<f64>],
    singles: &[Basis],
    doubles: &[(Basis, Basis)],
) -> Option<Coef> {
    let eval = |b: &Basis| -> Vec<f64> { thetas.iter().map(|t| b.eval(t.as_slice())).collect() };
    let scale = values.iter().map(|v| v.abs()).fold(0.0, f64::max);
    let agrees = |pred: &dyn Fn(usize) -> f64| {
        values
            .iter()
            .enumerate()
            .all(|(i, v)| (pred(i) - v).abs() <= FIT_TOL * scale.max(v.abs()))
    };
    for b in singles {
        let col = eval(b);
        if col.iter().any(|x| !x.is_finite() || *x == 0.0) {
            continue;
        }
        if let Some(r) = rational(values[0] / col[0], MAX_DEN, FIT_TOL) {
            if agrees(&|i| coef::value(r) * col[i]) {
                return Some(Coef {
                    terms: vec![(r, b.clone())],
                });
            }
        }
    }
    for (bx, by) in doubles {
        let (x, y) = (eval(bx), eval(by));
        if x.iter().chain(&y).any(|v| !v.is_finite()) {
            continue;
        }
        let (mut sxx, mut sxy, mut syy, mut sxv, mut syv) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..values.len() {
            sxx += x[i] * x[i];
            sxy += x[i] * y[i];
            syy += y[i] * y[i];
            sxv += x[i] * values[i];
            syv += y[i] * values[i];
        }
        let det = sxx * syy - sxy * sxy;
        if det.abs() <= 1e-12 * sxx * syy {
            continue;
        }
        let qa = (sxv * syy - syv * sxy) / det;
        let qb = (syv * sxx - sxv * sxy) / det;
        let (Some(ra), Some(rb)) = (rational(qa, MAX_DEN, 1e-6), rational(qb, MAX_DEN, 1e-6))
        else {
            continue;
        };
        if *ra.numer() == 0 || *rb.numer() == 0 {
            continue;
        }
        if agrees(&|i| coef::value(ra) * x[i] + coef::value(rb) * y[i]) {
            return Some(Coef {
                terms: vec![(ra, bx.clone()), (rb, by.clone())],
            });
        }
    }
    None
}

/// Fits `values[i] ≈ (q_1 x + q_2 y)/D` at `thetas[i]` over monomials `x, y, D` of `low`
/// (degree ≤ 2): a coefficient with a common denominator, $-(1 - c^2/s)/(2s) = (c^2 -
/// s)/(2s^2)$, whose two terms alone have degrees 1 and 4. Simplest first: denominators by
/// degree, then pairs by their total degree.
fn fit_with_denominator(values: &[f64], thetas: &[&Vec<f64>], low: &[Basis]) -> Option<Coef> {
    let cols: Vec<Option<Vec<f64>>> = low
        .iter()
        .map(|b| {
            let c: Vec<f64> = thetas.iter().map(|t| b.eval(t.as_slice())).collect();
            c.iter().all(|x| x.is_finite()).then_some(c)
        })
        .collect();
    let mut pairs: Vec<(usize, usize)> = (0..low.len())
        .flat_map(|a| (a + 1..low.len()).map(move |b| (a, b)))
        .filter(|&(a, b)| cols[a].is_some() && cols[b].is_some())
        .collect();
    pairs.sort_by_key(|&(a, b)| low[a].degree() + low[b].degree());
    let scale = values.iter().map(|v| v.abs()).fold(0.0, f64::max);
    for (d, den) in low.iter().enumerate().filter(|(_, b)| !b.powers.is_empty()) {
        let Some(dc) = &cols[d] else { continue };
        if dc.contains(&0.0) {
            continue;
        }
        let w: Vec<f64> = values.iter().zip(dc).map(|(v, d)| v * d).collect();
        for &(a, b) in &pairs {
            let (Some(x), Some(y)) = (&cols[a], &cols[b]) else {
                continue;
            };
            let (mut sxx, mut sxy, mut syy, mut sxw, mut syw) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for i in 0..w.len() {
                sxx += x[i] * x[i];
                sxy += x[i] * y[i];
                syy += y[i] * y[i];
                sxw += x[i] * w[i];
                syw += y[i] * w[i];
            }
            let det = sxx * syy - sxy * sxy;
            if det.abs() <= 1e-12 * sxx * syy {
                continue;
            }
            let qa = (sxw * syy - syw * sxy) / det;
            let qb = (syw * sxx - sxw * sxy) / det;
            let (Some(ra), Some(rb)) = (rational(qa, MAX_DEN, 1e-6), rational(qb, MAX_DEN, 1e-6))
            else {
                continue;
            };
            if *ra.numer() == 0 || *rb.numer() == 0 {
                continue;
            }
            let agrees = values.iter().enumerate().all(|(i, v)| {
                let pred = (coef::value(ra) * x[i] + coef::value(rb) * y[i]) / dc[i];
                (pred - v).abs() <= FIT_TOL * scale.max(v.abs())
            });
            if agrees {
                let inverse: Vec<(usize, i32)> = den.powers.iter().map(|&(v, e)| (v, -e)).collect();
                let num = Coef {
                    terms: vec![(ra, low[a].clone()), (rb, low[b].clone())],
                };
                return Some(num.scale(Rational::ONE, &inverse));
            }
        }
    }
    None
}

/// Recognises the exact form of `rel` (see the module docs), verifying it at 128 and 256 bits.
/// `extra` lists parameters besides the relation's directions that coefficients may involve
/// (masses, shared parameters). With `high_precision` the stratum coefficients are solved in
/// MPFR too.
pub fn recognise(
    design: &Design,
    points: &SamplePoints,
    atoms: &[Vec<f64>],
    rel: &Relation,
    extra: &[usize],
    seed: u64,
    high_precision: bool,
) -> Option<Exact> {
    let configs = stratum(design, atoms, STRATUM_POINTS + 1, seed);
    // A null vector of a few columns is pinned down by a few dozen points.
    let points = &points.first(2 * rel.terms.len() + 30);
    let (fresh, fitting) = configs.split_last()?;
    let mut samples: Vec<(Vec<Vec<f64>>, Vec<f64>)> = Vec::new();
    // at the truth the coefficients are the relation's own
    samples.push((atoms.to_vec(), rel.terms.iter().map(|t| t.coef).collect()));
    for cfg in fitting {
        let c = if high_precision {
            coefficients_at_hp(design, points, cfg, rel)?
        } else {
            coefficients_at(design, points, cfg, rel)?
        };
        samples.push((cfg.clone(), c));
    }
    let cross = rel.is_cross_atom();
    let frame = Frame::of(rel, design.n_vars());
    let gate = if cross {
        design.gate_only()
    } else {
        Vec::new()
    };
    let live = frame.live(&frame.theta(atoms), rel, extra, &gate, &design.roles);
    // Common denominators only where the full degrees are tried (few variables).
    let low = if degrees(live.len()).1 >= 4 {
        monomials(&live, 2)
    } else {
        Vec::new()
    };
    let bases = bases(&live);
    let (singles, doubles) = (&bases.0, &bases.1);
    let joint: Vec<Vec<f64>> = samples.iter().map(|(cfg, _)| frame.theta(cfg)).collect();
    let thetas: Vec<&Vec<f64>> = joint.iter().collect();
    let mut coefs = Vec::new();
    for k in 0..rel.terms.len() {
        if k == 0 {
            coefs.push(Coef {
                terms: vec![(Rational::ONE, Basis::one())],
            });
            continue;
        }
        let values: Vec<f64> = samples.iter().map(|(_, c)| c[k]).collect();
        coefs.push(
            fit(&values, &thetas, singles, doubles)
                .or_else(|| fit_with_denominator(&values, &thetas, &low))?,
        );
    }
    let verified = verify(design, points, fresh, rel, &coefs);
    let names = frame.names(&design.variables);
    Some(Exact {
        coefs,
        verified,
        names,
    })
}

/// The symbolic form holds at the fresh configuration `cfg`: the residual
/// $\|\sum_k C_k(\theta)\,\partial^{\alpha_k} u\|$ relative to its largest term falls below
/// $2^{-3p/4}$ at 128 and 256 bits.
fn verify(
    design: &Design,
    points: &SamplePoints,
    cfg: &[Vec<f64>],
    rel: &Relation,
    coefs: &[Coef],
) -> bool {
    // A symbolic identity that holds at a generic point to 2^-190 is no accident: three points suffice.
    let n = 3.min(points.len());
    let mut hp = HpFamilies::new(design, points, cfg, n);
    let support: Vec<(usize, MultiIndex)> = rel
        .terms
        .iter()
        .map(|t| (t.atom, t.alpha.clone()))
        .collect();
    for prec in [128u32, 256] {
        let Ok(cols) = hp.columns(&support, prec) else {
            return false;
        };
        let thetas: Vec<Vec<Float>> = cfg
            .iter()
            .map(|t| t.iter().map(|&v| Float::with_val(prec, v)).collect())
            .collect();
        let theta = Frame::of(rel, cfg[0].len()).theta(&thetas);
        let mut residual = vec![Float::with_val(prec, 0); n];
        let mut largest = f64::NEG_INFINITY;
        for (c, col) in coefs.iter().zip(&cols) {
            let k = c.eval(&theta);
            for (r, x) in residual.iter_mut().zip(col) {
                let term = k.clone() * x;
                largest = largest.max(crate::rank::hp::log2_abs(&term));
                *r += term;
            }
        }
        let worst = residual
            .iter()
            .map(crate::rank::hp::log2_abs)
            .fold(f64::NEG_INFINITY, f64::max);
        if worst - largest > -0.75 * prec as f64 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monomials_are_listed_once_by_degree_and_the_cache_gives_the_same_bases() {
        // signed monomials of degree ≤ 2 in 3 variables: 1 + 2·3 + (2·3 + 4·3) = 25
        let m = monomials(&[0, 2, 5], 2);
        assert_eq!(m.len(), 25);
        let distinct: std::collections::HashSet<_> = m.iter().map(|b| b.powers.clone()).collect();
        assert_eq!(distinct.len(), m.len());
        assert!(m.windows(2).all(|w| w[0].degree() <= w[1].degree()));
        // degree ≤ 3 in 8 variables (the many-parameter bases): the count the generator must hit
        let live: Vec<usize> = (0..8).collect();
        let n = 8usize;
        let (c2, c3) = (n * (n - 1) / 2, n * (n - 1) * (n - 2) / 6);
        let want = 1 + 2 * n + (2 * n + 4 * c2) + (2 * n + 4 * n * (n - 1) + 8 * c3);
        assert_eq!(monomials(&live, 3).len(), want);
        for live in [vec![0, 1], vec![0, 1, 2, 3, 4, 5, 6, 7]] {
            for _ in 0..2 {
                let b = bases(&live);
                assert!(b.0 == basis(&live) && b.1 == pairs(&live));
            }
        }
    }

    #[test]
    fn rationals() {
        assert_eq!(rational(0.5, 60, 1e-9), Some(Rational::new(1, 2)));
        assert_eq!(rational(-4.0, 60, 1e-9), Some(Rational::new(-4, 1)));
        assert_eq!(rational(1.0 / 3.0, 60, 1e-9), Some(Rational::new(1, 3)));
        assert_eq!(rational(std::f64::consts::PI, 60, 1e-9), None);
    }

    /// One term of [`form`]: numerator, denominator, powers, factor.
    type Term<'a> = (i64, i64, &'a [(usize, i32)], Option<Factor>);

    /// The coefficient Σ (n/d)·Π θ^e·factor.
    fn form(terms: &[Term]) -> Coef {
        Coef {
            terms: terms
                .iter()
                .map(|&(n, d, powers, factor)| {
                    (
                        Rational::new(n, d),
                        Basis {
                            powers: powers.to_vec(),
                            factor,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn fitting_finds_reciprocals_and_sigmoids() {
        // c(θ) = −2/θ1 and c(θ) = −1 + σ(θ0), at generic points
        let thetas: Vec<Vec<f64>> = (0..7)
            .map(|i| vec![0.3 + 0.1 * i as f64, 0.5 + 0.07 * i as f64])
            .collect();
        let refs: Vec<&Vec<f64>> = thetas.iter().collect();
        let live = [0, 1];
        let (b, d) = (basis(&live), pairs(&live));
        let v: Vec<f64> = thetas.iter().map(|t| -2.0 / t[1]).collect();
        let c = fit(&v, &refs, &b, &d).unwrap();
        assert_eq!(c, form(&[(-2, 1, &[(1, -1)], None)]), "−2/tau");
        let v: Vec<f64> = thetas
            .iter()
            .map(|t| -1.0 + 1.0 / (1.0 + (-t[0]).exp()))
            .collect();
        let c = fit(&v, &refs, &b, &d).unwrap();
        let sigmoid = Some(Factor::Sigmoid(0));
        assert_eq!(
            c,
            form(&[(-1, 1, &[], None), (1, 1, &[], sigmoid)]),
            "−1 + sigmoid(beta0)"
        );
        // (1 − σ(β0))·b/a², a degree-3 monomial times a sigmoid pair
        let thetas: Vec<Vec<f64>> = (0..7)
            .map(|i| {
                vec![
                    0.4 + 0.03 * i as f64,
                    1.5 - 0.1 * i as f64,
                    -0.5 + 0.04 * i as f64,
                ]
            })
            .collect();
        let refs: Vec<&Vec<f64>> = thetas.iter().collect();
        let v: Vec<f64> = thetas
            .iter()
            .map(|t| (1.0 - 1.0 / (1.0 + (-t[0]).exp())) * t[2] / (t[1] * t[1]))
            .collect();
        let live = [0, 1, 2];
        let c = fit(&v, &refs, &basis(&live), &pairs(&live)).unwrap();
        let b_over_a2: &[(usize, i32)] = &[(1, -2), (2, 1)];
        assert_eq!(
            c,
            form(&[(1, 1, b_over_a2, None), (-1, 1, b_over_a2, sigmoid)]),
            "(1 − sigmoid(beta0))·b/a²"
        );
        // β1/τ², degree 3, single term
        let v: Vec<f64> = thetas.iter().map(|t| t[1] / (t[0] * t[0])).collect();
        let c = fit(&v, &refs, &basis(&live), &pairs(&live)).unwrap();
        assert_eq!(c, form(&[(1, 1, &[(0, -2), (1, 1)], None)]), "beta1/tau²");
    }

    #[test]
    fn fitting_finds_a_common_denominator() {
        // (c² − s)/(2s²): terms of degrees 1 and 4, beyond the pairs; found over D = s²
        let thetas: Vec<Vec<f64>> = (0..7)
            .map(|i| vec![0.5 - 0.13 * i as f64, 0.3 + 0.05 * i as f64, 0.7])
            .collect();
        let refs: Vec<&Vec<f64>> = thetas.iter().collect();
        let live = [0, 1, 2];
        let v: Vec<f64> = thetas
            .iter()
            .map(|t| (t[0] * t[0] - t[1]) / (2.0 * t[1] * t[1]))
            .collect();
        assert!(fit(&v, &refs, &basis(&live), &pairs(&live)).is_none());
        let c = fit_with_denominator(&v, &refs, &monomials(&live, 2)).unwrap();
        assert_eq!(
            c,
            form(&[(-1, 2, &[(1, -1)], None), (1, 2, &[(0, 2), (1, -2)], None)]),
            "−1/(2s) + c²/(2s²)"
        );
        for t in &thetas {
            let want = (t[0] * t[0] - t[1]) / (2.0 * t[1] * t[1]);
            assert!((c.eval(t.as_slice()) - want).abs() < 1e-12);
        }
        // a value that is no such ratio is not forced into one
        let v: Vec<f64> = thetas.iter().map(|t| (t[0] + t[1]).exp()).collect();
        assert!(fit_with_denominator(&v, &refs, &monomials(&live, 2)).is_none());
    }
}
