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
//! - $\sigma(\theta_v)$ times such monomials (the constants a sigmoid gate produces),
//!
//! simplest forms first. A recognised form is accepted only when it also holds in high precision
//! at a fresh stratum point, with a residual that falls like $2^{-p}$ from 128 to 256 bits.
//!
//! # Why not PSLQ at the truth
//! Integer relation finding at one point needs that point to be generic; case files use round
//! values ($\tau = 0.5$, $\beta_1 = 2$) for which the basis itself is rationally dependent, so
//! every coefficient has many "exact forms". Several generic points make the fit unique.

use super::{Relation, Term};
use crate::case::Role;
use crate::expr::Number;
use crate::family::{Design, MultiIndex, SamplePoints};
use crate::rank::certify::HpFamilies;
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rug::Float;
use std::fmt::Write;

/// A rational $p/q$, $q > 0$.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rational {
    /// Numerator.
    pub num: i64,
    /// Denominator (positive).
    pub den: i64,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

impl Rational {
    /// `num/den` in lowest terms with a positive denominator.
    pub fn new(num: i64, den: i64) -> Rational {
        let g = gcd(num, den).max(1) * den.signum();
        Rational {
            num: num / g,
            den: den / g,
        }
    }

    fn value(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// The closest rational with denominator at most `max_den` (continued fractions), if it is
    /// within `tol` (relative) of `x`.
    pub fn recognise(x: f64, max_den: i64, tol: f64) -> Option<Rational> {
        if !x.is_finite() || x.abs() > 1e6 {
            return None;
        }
        let (mut h0, mut h1, mut k0, mut k1) = (0i64, 1i64, 1i64, 0i64);
        let mut y = x;
        for _ in 0..40 {
            let a = y.floor();
            if a.abs() > 1e9 {
                break;
            }
            let a = a as i64;
            let (h2, k2) = (a * h1 + h0, a * k1 + k0);
            if k2 > max_den {
                break;
            }
            (h0, h1, k0, k1) = (h1, h2, k1, k2);
            let r = Rational::new(h1, k1);
            if (r.value() - x).abs() <= tol * x.abs().max(1e-300) {
                return Some(r);
            }
            let frac = y - a as f64;
            if frac.abs() < 1e-15 {
                break;
            }
            y = 1.0 / frac;
        }
        None
    }

    fn mul(self, o: Rational) -> Rational {
        Rational::new(self.num * o.num, self.den * o.den)
    }
}

/// A basis function: $\prod_v \theta_v^{e_v}$, optionally times $\sigma(\theta_s)$.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Basis {
    /// `(variable, exponent)`, sorted, nonzero exponents.
    pub powers: Vec<(usize, i32)>,
    /// The variable of a $\sigma(\theta_s)$ factor.
    pub sigmoid: Option<usize>,
}

impl Basis {
    fn one() -> Basis {
        Basis {
            powers: Vec::new(),
            sigmoid: None,
        }
    }

    fn degree(&self) -> i32 {
        self.powers.iter().map(|p| p.1.abs()).sum::<i32>() + i32::from(self.sigmoid.is_some()) * 3
    }

    fn eval<N: Number>(&self, theta: &[N]) -> N {
        let mut v = theta[0].constant(1.0);
        for &(var, e) in &self.powers {
            v = v * theta[var].powi(e);
        }
        if let Some(s) = self.sigmoid {
            v = v * theta[s].sigmoid();
        }
        v
    }
}

/// A parameter name in LaTeX: `beta1[0]` → `\beta_{1,0}`, `tau` → `\tau`, `a[1]` → `a_{1}`.
pub fn latex_name(name: &str) -> String {
    const GREEK: [&str; 24] = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
        "nu",
        "xi",
        "pi",
        "rho",
        "sigma",
        "tau",
        "upsilon",
        "phi",
        "chi",
        "psi",
        "omega",
        "varepsilon",
    ];
    let (base, index) = match name.split_once('[') {
        Some((b, rest)) => (b, Some(rest.trim_end_matches(']'))),
        None => (name, None),
    };
    let letters: String = base
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let rest = &base[letters.len()..];
    let head = if GREEK.contains(&letters.as_str()) {
        format!("\\{letters}")
    } else if letters.len() == 1 {
        letters.clone()
    } else {
        format!("\\mathrm{{{letters}}}")
    };
    let mut subs: Vec<&str> = Vec::new();
    let rest = rest.trim_start_matches('_');
    if !rest.is_empty() {
        subs.push(rest);
    }
    if let Some(i) = index {
        subs.push(i);
    }
    if subs.is_empty() {
        head
    } else {
        format!("{head}_{{{}}}", subs.join(","))
    }
}

/// A coefficient $\sum_k q_k B_k$.
#[derive(Clone, Debug, PartialEq)]
pub struct Coef {
    /// The terms.
    pub terms: Vec<(Rational, Basis)>,
}

impl Coef {
    fn eval<N: Number>(&self, theta: &[N]) -> N {
        let mut v = theta[0].constant(0.0);
        for (q, b) in &self.terms {
            v = v + b.eval(theta) * theta[0].constant(q.num as f64)
                / theta[0].constant(q.den as f64);
        }
        v
    }

    /// The coefficient as text, e.g. `−2/tau`, `(1 − sigmoid(beta0))·a` (relative to the
    /// pivot's coefficient 1).
    pub fn text(&self, names: &[String]) -> String {
        let t = self.factor_text(names);
        match t.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
            Some(inner) if !inner.contains('(') && self.terms.len() == 1 => inner.to_string(),
            _ => t,
        }
    }

    /// Multiplies by $q \prod \theta^{e}$.
    fn scale(&self, q: Rational, powers: &[(usize, i32)]) -> Coef {
        Coef {
            terms: self
                .terms
                .iter()
                .map(|(r, b)| {
                    let mut p = b.powers.clone();
                    for &(v, e) in powers {
                        match p.iter_mut().find(|x| x.0 == v) {
                            Some(x) => x.1 += e,
                            None => p.push((v, e)),
                        }
                    }
                    p.retain(|x| x.1 != 0);
                    p.sort_unstable();
                    (
                        r.mul(q),
                        Basis {
                            powers: p,
                            sigmoid: b.sigmoid,
                        },
                    )
                })
                .collect(),
        }
    }

    fn is_one(&self) -> bool {
        self.terms.len() == 1
            && self.terms[0].0 == Rational::new(1, 1)
            && self.terms[0].1 == Basis::one()
    }

    /// Whether every term is a pure rational (no parameter).
    fn is_rational(&self) -> bool {
        self.terms.iter().all(|(_, b)| *b == Basis::one())
    }

    /// Text of the coefficient as a factor: `2`, `tau`, `(2/tau)`, `(−1 + sigmoid(b))`.
    fn factor_text(&self, names: &[String]) -> String {
        if let Some((inner, m)) = self.factored() {
            let mt = term_text(Rational::new(1, 1), &m, names, false);
            let mt = if mt.contains('/') {
                format!("({mt})")
            } else {
                mt
            };
            return format!("{}·{mt}", inner.factor_text(names));
        }
        let parts: Vec<(bool, String)> = self
            .terms
            .iter()
            .map(|(q, b)| {
                (
                    q.num < 0,
                    term_text(Rational::new(q.num.abs(), q.den), b, names, false),
                )
            })
            .collect();
        if parts.len() == 1 {
            let (neg, s) = &parts[0];
            let s = if s.contains('/') {
                format!("({s})")
            } else {
                s.clone()
            };
            return if *neg { format!("−{s}") } else { s };
        }
        let mut out = String::from("(");
        for (i, (neg, s)) in parts.iter().enumerate() {
            let sign = match (i, neg) {
                (0, false) => "",
                (0, true) => "−",
                (_, false) => " + ",
                (_, true) => " − ",
            };
            let _ = write!(out, "{sign}{s}");
        }
        out.push(')');
        out
    }

    /// $(q_1 + q_2 \sigma)\,m$ split as $(q_1 + q_2\sigma,\ m)$ when two terms share a
    /// non-constant monomial $m$.
    fn factored(&self) -> Option<(Coef, Basis)> {
        if self.terms.len() != 2
            || self.terms[0].1.powers != self.terms[1].1.powers
            || self.terms[0].1.powers.is_empty()
        {
            return None;
        }
        let m = Basis {
            powers: self.terms[0].1.powers.clone(),
            sigmoid: None,
        };
        let inner = Coef {
            terms: self
                .terms
                .iter()
                .map(|(q, b)| {
                    (
                        *q,
                        Basis {
                            powers: Vec::new(),
                            sigmoid: b.sigmoid,
                        },
                    )
                })
                .collect(),
        };
        Some((inner, m))
    }

    fn latex(&self, names: &[String]) -> String {
        if let Some((inner, m)) = self.factored() {
            return format!(
                "{}\\thinspace {}",
                inner.latex(names),
                term_text(Rational::new(1, 1), &m, names, true)
            );
        }
        let mut out = String::new();
        for (i, (q, b)) in self.terms.iter().enumerate() {
            let s = term_text(Rational::new(q.num.abs(), q.den), b, names, true);
            let sign = match (i, q.num < 0) {
                (0, false) => "",
                (0, true) => "-",
                (_, false) => " + ",
                (_, true) => " - ",
            };
            out.push_str(sign);
            out.push_str(&s);
        }
        if self.terms.len() > 1 {
            format!("({out})")
        } else {
            out
        }
    }
}

/// One term $q\,B$ ($q > 0$) as text (`2/tau`, `sigmoid(b)·a`) or LaTeX (`\frac{2}{\tau}`).
fn term_text(q: Rational, b: &Basis, names: &[String], latex: bool) -> String {
    let name = |v: usize| {
        if latex {
            latex_name(&names[v])
        } else {
            names[v].clone()
        }
    };
    let mut num: Vec<String> = Vec::new();
    let mut den: Vec<String> = Vec::new();
    if q.num != 1 {
        num.push(q.num.to_string());
    }
    if q.den != 1 {
        den.push(q.den.to_string());
    }
    if let Some(s) = b.sigmoid {
        num.push(if latex {
            format!("\\sigma({})", name(s))
        } else {
            format!("sigmoid({})", name(s))
        });
    }
    for &(v, e) in &b.powers {
        let base = name(v);
        let t = match (e.abs(), latex) {
            (1, _) => base,
            (k, true) => format!("{base}^{{{k}}}"),
            (k, false) => format!("{base}^{k}"),
        };
        if e > 0 {
            num.push(t);
        } else {
            den.push(t);
        }
    }
    let join = if latex { " " } else { "·" };
    let n = if num.is_empty() {
        "1".to_string()
    } else {
        num.join(join)
    };
    match (den.len(), latex) {
        (0, _) => n,
        (_, true) => format!("\\frac{{{n}}}{{{}}}", den.join(" ")),
        (1, false) => format!("{n}/{}", den[0]),
        (_, false) => format!("{n}/({})", den.join("·")),
    }
}

/// A relation with exact coefficients.
#[derive(Clone, Debug, PartialEq)]
pub struct Exact {
    /// One coefficient per term of the relation (same order; the pivot's is 1 before clearing).
    pub coefs: Vec<Coef>,
    /// The relation as text, e.g. `tau·∂u/∂tau + beta1[0]·∂u/∂beta1[0] = 0`.
    pub text: String,
    /// The relation in LaTeX.
    pub latex: String,
    /// Whether the symbolic form held in high precision at a fresh stratum point, with a
    /// residual falling like $2^{-p}$ from 128 to 256 bits.
    pub verified: bool,
    /// Identifiable combinations, for invariances whose field is a scaling or a translation.
    pub combinations: Vec<String>,
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
                    if !next.contains(&p) {
                        next.push(p);
                    }
                }
            }
        }
        for p in &next {
            out.push(Basis {
                powers: p.clone(),
                sigmoid: None,
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

/// The variables a coefficient may depend on, when nonzero at the truth: all of them for a small
/// atom; for a larger one the relation's directions, the atom's masses and shared parameters.
fn variables(theta: &[f64], rel: &Relation, extra: &[usize]) -> Vec<usize> {
    let live: Vec<usize> = (0..theta.len()).filter(|&v| theta[v] != 0.0).collect();
    if live.len() <= 6 {
        return live;
    }
    let mut vars: Vec<usize> = rel
        .terms
        .iter()
        .flat_map(|t| t.alpha.directions().iter().map(|&d| d as usize))
        .chain(extra.iter().copied())
        .filter(|&v| theta[v] != 0.0)
        .collect();
    vars.sort_unstable();
    vars.dedup();
    vars
}

/// The single-term basis: monomials of degree ≤ 4 in `live` (lower for many variables), and
/// $\sigma(\theta_s)$ times monomials of degree ≤ 2; simplest first.
fn basis(live: &[usize]) -> Vec<Basis> {
    let (d1, _) = degrees(live.len());
    let mut all = monomials(live, d1);
    for &s in live {
        for m in monomials(live, d1.min(2)) {
            all.push(Basis {
                powers: m.powers,
                sigmoid: Some(s),
            });
        }
    }
    all.sort_by_key(Basis::degree);
    all
}

/// Two-term candidates: $(m, m\,\sigma(\theta_s))$ for monomials of degree ≤ 4 (the
/// $(q_1 + q_2 \sigma)\,m$ of sigmoid gates), and pairs of monomials of degree ≤ 2.
fn pairs(live: &[usize]) -> Vec<(Basis, Basis)> {
    let (_, d2) = degrees(live.len());
    let mut out = Vec::new();
    for m in monomials(live, d2) {
        for &s in live {
            out.push((
                m.clone(),
                Basis {
                    powers: m.powers.clone(),
                    sigmoid: Some(s),
                },
            ));
        }
    }
    let low = monomials(live, d2.min(2));
    for (a, x) in low.iter().enumerate() {
        for y in &low[a + 1..] {
            out.push((x.clone(), y.clone()));
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
        if let Some(r) = Rational::recognise(values[0] / col[0], MAX_DEN, FIT_TOL) {
            if agrees(&|i| r.value() * col[i]) {
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
        let (Some(ra), Some(rb)) = (
            Rational::recognise(qa, MAX_DEN, 1e-6),
            Rational::recognise(qb, MAX_DEN, 1e-6),
        ) else {
            continue;
        };
        if ra.num == 0 || rb.num == 0 {
            continue;
        }
        if agrees(&|i| ra.value() * x[i] + rb.value() * y[i]) {
            return Some(Coef {
                terms: vec![(ra, bx.clone()), (rb, by.clone())],
            });
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
    let (singles, doubles) = if cross {
        // Cross-atom relations mix atoms: only rational constants are tried.
        (vec![Basis::one()], Vec::new())
    } else {
        let live = variables(&atoms[rel.terms[0].atom], rel, extra);
        (basis(&live), pairs(&live))
    };
    let mut coefs = Vec::new();
    for (k, t) in rel.terms.iter().enumerate() {
        if k == 0 {
            coefs.push(Coef {
                terms: vec![(Rational::new(1, 1), Basis::one())],
            });
            continue;
        }
        let values: Vec<f64> = samples.iter().map(|(_, c)| c[k]).collect();
        let thetas: Vec<&Vec<f64>> = samples.iter().map(|(cfg, _)| &cfg[t.atom]).collect();
        coefs.push(fit(&values, &thetas, &singles, &doubles)?);
    }
    let verified = verify(design, points, fresh, rel, &coefs);
    let (text, latex) = render(rel, &coefs, &design.variables);
    let combinations =
        if rel.order() <= 1 && !cross && rel.terms.iter().all(|t| t.alpha.order() == 1) {
            combinations(rel, &coefs, &design.variables, &design.roles)
        } else {
            Vec::new()
        };
    Some(Exact {
        coefs,
        text,
        latex,
        verified,
        combinations,
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
        let mut residual = vec![Float::with_val(prec, 0); n];
        let mut largest = f64::NEG_INFINITY;
        for ((t, c), col) in rel.terms.iter().zip(coefs).zip(&cols) {
            let k = c.eval(&thetas[t.atom]);
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

/// The coefficients with denominators cleared: multiplied through by the parameters in
/// denominators and by the rational denominators (unless every coefficient is a plain rational).
/// The relation's text and LaTeX are written with these.
pub fn cleared(coefs: &[Coef]) -> Vec<Coef> {
    let mut neg_powers: Vec<(usize, i32)> = Vec::new();
    let mut den_lcm = 1i64;
    for c in coefs {
        for (q, b) in &c.terms {
            den_lcm = den_lcm / gcd(den_lcm, q.den) * q.den;
            for &(v, e) in &b.powers {
                if e < 0 {
                    match neg_powers.iter_mut().find(|x| x.0 == v) {
                        Some(x) => x.1 = x.1.max(-e),
                        None => neg_powers.push((v, -e)),
                    }
                }
            }
        }
    }
    // Only clear denominators when something is not a plain rational combination.
    let plain = coefs.iter().all(Coef::is_rational);
    let (factor, powers) = if plain {
        (Rational::new(1, 1), Vec::new())
    } else {
        (Rational::new(den_lcm, 1), neg_powers)
    };
    coefs.iter().map(|c| c.scale(factor, &powers)).collect()
}

/// Text and LaTeX, denominators cleared: multiply through by the parameters in denominators and
/// by the rational denominators; a relation whose pivot keeps coefficient 1 is written solved
/// for it, others as a sum equal to zero.
fn render(rel: &Relation, coefs: &[Coef], names: &[String]) -> (String, String) {
    let cross = rel.is_cross_atom();
    let cleared = cleared(coefs);
    let label = |t: &Term| {
        if cross {
            t.alpha
                .label(names, &format!("u{}", super::subscript(t.atom + 1)))
        } else {
            t.alpha.label(names, "u")
        }
    };
    let latex_label = |t: &Term| {
        let u = if cross {
            format!("u_{{{}}}", t.atom + 1)
        } else {
            "u".to_string()
        };
        if t.alpha.order() == 0 {
            return u;
        }
        let ds: Vec<String> = t
            .alpha
            .names(names)
            .iter()
            .map(|n| format!("\\partial_{{{}}}", latex_name(n)))
            .collect();
        format!("{} {u}", ds.join(""))
    };
    let solved = cleared[0].is_one() && !cross;
    let mut text = String::new();
    let mut latex = String::new();
    if solved {
        text.push_str(&label(&rel.terms[0]));
        text.push_str(" = ");
        latex.push_str(&latex_label(&rel.terms[0]));
        latex.push_str(" = ");
        if rel.terms.len() == 1 {
            text.push('0');
            latex.push('0');
        }
        for (i, (t, c)) in rel.terms.iter().zip(&cleared).enumerate().skip(1) {
            let negated = Coef {
                terms: c
                    .terms
                    .iter()
                    .map(|(q, b)| (Rational::new(-q.num, q.den), b.clone()))
                    .collect(),
            };
            append(
                &mut text,
                &mut latex,
                i == 1,
                &negated,
                &label(t),
                &latex_label(t),
                names,
            );
        }
    } else {
        for (i, (t, c)) in rel.terms.iter().zip(&cleared).enumerate() {
            append(
                &mut text,
                &mut latex,
                i == 0,
                c,
                &label(t),
                &latex_label(t),
                names,
            );
        }
        text.push_str(" = 0");
        latex.push_str(" = 0");
    }
    (text, latex)
}

#[allow(clippy::too_many_arguments)]
fn append(
    text: &mut String,
    latex: &mut String,
    first: bool,
    c: &Coef,
    label: &str,
    latex_label: &str,
    names: &[String],
) {
    let single = c.terms.len() == 1;
    let negative = single && c.terms[0].0.num < 0;
    let shown = if negative {
        Coef {
            terms: vec![(
                Rational::new(-c.terms[0].0.num, c.terms[0].0.den),
                c.terms[0].1.clone(),
            )],
        }
    } else {
        c.clone()
    };
    let f = shown.factor_text(names);
    let body = if f == "1" {
        label.to_string()
    } else {
        format!("{f}·{label}")
    };
    let lf = shown.latex(names);
    let lbody = if lf == "1" {
        latex_label.to_string()
    } else {
        format!("{lf}\\thinspace {latex_label}")
    };
    match (first, negative) {
        (true, false) => {
            text.push_str(&body);
            latex.push_str(&lbody);
        }
        (true, true) => {
            text.push_str(&format!("−{body}"));
            latex.push_str(&format!("-{lbody}"));
        }
        (false, false) => {
            text.push_str(&format!(" + {body}"));
            latex.push_str(&format!(" + {lbody}"));
        }
        (false, true) => {
            text.push_str(&format!(" − {body}"));
            latex.push_str(&format!(" - {lbody}"));
        }
    }
}

/// For an invariance $\sum_k \lambda_k \partial_k u = 0$ whose field is a scaling
/// ($\lambda_k = q_k \theta_k$) or a translation ($\lambda_k = q_k$), possibly mixed: the
/// combinations that stay constant along it, measured against a reference parameter (a shared
/// one when there is one, as $\tau$ in $\beta_1/\tau$): ratios $\theta_k/\theta_r$ for scalings,
/// differences for translations, $\theta_k - c\log\theta_r$ or $\theta_k e^{-c\theta_r}$ mixed.
fn combinations(rel: &Relation, coefs: &[Coef], names: &[String], roles: &[Role]) -> Vec<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Scale(Rational),
        Shift(Rational),
    }
    let mut fields = Vec::new();
    for (t, c) in rel.terms.iter().zip(coefs) {
        if c.terms.len() != 1 || c.terms[0].1.sigmoid.is_some() {
            return Vec::new();
        }
        fields.push((
            t.alpha.directions()[0] as usize,
            c.terms[0].0,
            c.terms[0].1.powers.clone(),
        ));
    }
    let pivot = fields[0].0;
    // The field is known up to a common factor: try λ_k = c_k θ_pivot, then λ_k = c_k.
    let classify = |times_pivot: bool| -> Option<Vec<(usize, Kind)>> {
        fields
            .iter()
            .map(|(v, q, p)| {
                let mut powers = p.clone();
                if times_pivot {
                    match powers.iter_mut().find(|x| x.0 == pivot) {
                        Some(x) => x.1 += 1,
                        None => powers.push((pivot, 1)),
                    }
                    powers.retain(|x| x.1 != 0);
                }
                if powers == vec![(*v, 1)] {
                    Some((*v, Kind::Scale(*q)))
                } else if powers.is_empty() {
                    Some((*v, Kind::Shift(*q)))
                } else {
                    None
                }
            })
            .collect()
    };
    let Some(kinds) = classify(true).or_else(|| classify(false)) else {
        return Vec::new();
    };
    let r = kinds
        .iter()
        .position(|(v, _)| roles[*v] == Role::Shared)
        .unwrap_or(0);
    let (vr, kr) = kinds[r];
    let a = &names[vr];
    kinds
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != r)
        .map(|(_, &(v, k))| {
            let b = &names[v];
            let ratio = |x: Rational, y: Rational| Rational::new(x.num * y.den, x.den * y.num);
            match (kr, k) {
                (Kind::Scale(qr), Kind::Scale(q)) if qr == q => format!("{b}/{a}"),
                (Kind::Scale(qr), Kind::Scale(q)) => format!("{b}^{}/{a}^{}", fmt_q(qr), fmt_q(q)),
                (Kind::Shift(qr), Kind::Shift(q)) => difference(b, ratio(q, qr), a),
                (Kind::Shift(qr), Kind::Scale(q)) => {
                    let c = ratio(q, qr);
                    format!(
                        "{b}·exp({}{a})",
                        if c == Rational::new(1, 1) {
                            "−".to_string()
                        } else {
                            format!("−{}·", fmt_q(c))
                        }
                    )
                }
                (Kind::Scale(qr), Kind::Shift(q)) => {
                    difference(b, ratio(q, qr), &format!("log({a})"))
                }
            }
        })
        .collect()
}

/// `b − c·a` with the sign and a unit coefficient folded in.
fn difference(b: &str, c: Rational, a: &str) -> String {
    let mag = Rational::new(c.num.abs(), c.den);
    let term = if mag == Rational::new(1, 1) {
        a.to_string()
    } else {
        format!("{}·{a}", fmt_q(mag))
    };
    if c.num < 0 {
        format!("{b} + {term}")
    } else {
        format!("{b} − {term}")
    }
}

fn fmt_q(q: Rational) -> String {
    if q.den == 1 {
        q.num.to_string()
    } else {
        format!("({}/{})", q.num, q.den)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rationals() {
        assert_eq!(
            Rational::recognise(0.5, 60, 1e-9),
            Some(Rational::new(1, 2))
        );
        assert_eq!(
            Rational::recognise(-4.0, 60, 1e-9),
            Some(Rational::new(-4, 1))
        );
        assert_eq!(
            Rational::recognise(1.0 / 3.0, 60, 1e-9),
            Some(Rational::new(1, 3))
        );
        assert_eq!(Rational::recognise(std::f64::consts::PI, 60, 1e-9), None);
    }

    #[test]
    fn latex_names() {
        assert_eq!(latex_name("beta1[0]"), "\\beta_{1,0}");
        assert_eq!(latex_name("tau"), "\\tau");
        assert_eq!(latex_name("a[1]"), "a_{1}");
        assert_eq!(latex_name("nu"), "\\nu");
        assert_eq!(latex_name("w_out"), "w_{out}");
        assert_eq!(latex_name("gain"), "\\mathrm{gain}");
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
        assert_eq!(c.factor_text(&["p".into(), "tau".into()]), "−(2/tau)");
        let v: Vec<f64> = thetas
            .iter()
            .map(|t| -1.0 + 1.0 / (1.0 + (-t[0]).exp()))
            .collect();
        let c = fit(&v, &refs, &b, &d).unwrap();
        assert_eq!(
            c.factor_text(&["beta0".into(), "tau".into()]),
            "(−1 + sigmoid(beta0))"
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
        assert_eq!(
            c.factor_text(&["beta0".into(), "a".into(), "b".into()]),
            "(1 − sigmoid(beta0))·(b/a^2)"
        );
        // β1/τ², degree 3, single term
        let v: Vec<f64> = thetas.iter().map(|t| t[1] / (t[0] * t[0])).collect();
        let c = fit(&v, &refs, &basis(&live), &pairs(&live)).unwrap();
        assert_eq!(
            c.factor_text(&["tau".into(), "beta1".into(), "b".into()]),
            "(beta1/tau^2)"
        );
    }
}
