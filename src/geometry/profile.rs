//! The definition itself, at finite $\varepsilon$: $\|f_G - f^*\|$ along a witness curve, and
//! flat configurations.
//!
//! [`profile`] evaluates $\rho(\varepsilon) = \|f_G - f^*\| / \|f^*\|$ at fresh sample points
//! for the configuration a witness curve gives at $\max_i|\Delta_{ik}| = \varepsilon$, every
//! other true atom exact, in MPFR when $\rho$ falls below what f64 resolves; the slope of
//! $\log\rho$ on $\log\varepsilon$ checks the order the coefficient system found.
//!
//! [`flat`] looks for an exact configuration: a cell with $\Delta_{1k} = \varepsilon$ and
//! $f_G = f^*$ to rounding, by Levenberg–Marquardt on $\sum_i \mu_i\tilde u(\theta_i) -
//! \tilde u(\theta^*)$ at the samples (the numerator of $f_G - f^*$), started from the witness.

use super::expansion::{Frame, Samples};
use super::lm::{self, Stop};
use super::system::Curve;
use super::Identified;
use crate::expr::{Number, TaylorSpace};
use crate::family::Design;
use nalgebra::{DMatrix, DVector};
use rug::Float;

/// $\rho$ along a witness.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// $\max_i |\Delta_{ik}|$ (in the coordinate's unit), increasing.
    pub eps: Vec<f64>,
    /// $\|f_G - f^*\| / \|f^*\|$ there.
    pub rho: Vec<f64>,
    /// Median of the local slopes of $\log\rho$ on $\log\varepsilon$ between neighbouring
    /// points (robust to the rounding floor of the witness at the smallest $\varepsilon$).
    pub slope: f64,
    /// Working precision (53: f64).
    pub bits: u32,
}

/// The parameter vectors of every atom for a cell configuration, each with the true atom whose
/// cell it belongs to: the cell's atoms replace true atom `frame.atom`; masses become the mass
/// parameter.
pub fn configuration(
    frame: &Frame,
    atoms: &[Vec<f64>],
    delta: &[Vec<f64>],
    mass: &[f64],
) -> Vec<(usize, Vec<f64>)> {
    let mut out: Vec<(usize, Vec<f64>)> = atoms
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != frame.atom)
        .map(|(j, a)| (j, a.clone()))
        .collect();
    for (d, &p) in delta.iter().zip(mass) {
        let mut t = frame.theta_at(d);
        if let Some(m) = &frame.mass {
            t[m.var] += p.ln() / m.c;
        }
        out.push((frame.atom, t));
    }
    out
}

/// The mixture's output at sample `i`; each atom with the true atom whose cell it belongs to.
fn mixture<N: Number>(design: &Design, s: &Samples, i: usize, atoms: &[(usize, Vec<N>)]) -> N {
    if design.is_grouped() {
        return design.grouped_output(&s.points, i, atoms);
    }
    let mut slots = Vec::new();
    let like = atoms[0].1[0].clone();
    let (mut num, mut den) = (like.constant(0.0), like.constant(0.0));
    for (cell, a) in atoms {
        let (w, e) = design.weight_output_at(&s.points, i, (a, *cell), &mut slots);
        num = num + w.clone() * e;
        den = den + w;
    }
    if let Some((w, e)) = design.fixed_at(&s.points, i, &like, &mut slots) {
        num = num + w.clone() * e;
        den = den + w;
    }
    if design.normalized {
        num / den
    } else {
        num
    }
}

/// $\|f_G - f^*\| / \|f^*\|$ for `config` against `truth`, in `bits` of precision.
pub fn distance(
    design: &Design,
    s: &Samples,
    truth: &[Vec<f64>],
    config: &[(usize, Vec<f64>)],
    bits: u32,
) -> f64 {
    let n = s.points.len();
    let truth: Vec<(usize, Vec<f64>)> = truth.iter().cloned().enumerate().collect();
    if bits <= 53 {
        let (mut d, mut f) = (0.0, 0.0);
        for i in 0..n {
            let a = mixture(design, s, i, config);
            let b = mixture(design, s, i, &truth);
            d += (a - b) * (a - b);
            f += b * b;
        }
        return (d / f.max(f64::MIN_POSITIVE)).sqrt();
    }
    let lift = |atoms: &[(usize, Vec<f64>)]| -> Vec<(usize, Vec<Float>)> {
        atoms
            .iter()
            .map(|(j, a)| (*j, a.iter().map(|&v| Float::with_val(bits, v)).collect()))
            .collect()
    };
    let (c, t) = (lift(config), lift(&truth));
    let (mut d, mut f) = (Float::with_val(bits, 0), Float::with_val(bits, 0));
    for i in 0..n {
        let a = mixture(design, s, i, &c);
        let b = mixture(design, s, i, &t);
        let diff = a - b.clone();
        d += diff.clone() * diff;
        f += b.clone() * b;
    }
    (d / f).sqrt().to_f64()
}

/// $\rho$ along `curve` (normalised on coordinate `k` at order `q`, reaching order `order`) at
/// `points` values of $\varepsilon$ between `lo` and `hi` (log-spaced).
#[allow(clippy::too_many_arguments)]
pub fn profile(
    design: &Design,
    frame: &Frame,
    atoms: &[Vec<f64>],
    s: &Samples,
    curve: &Curve,
    k: usize,
    q: usize,
    (lo, hi, points): (f64, f64, usize),
) -> Profile {
    let order = curve.order as f64 / q as f64;
    // The smallest ρ expected, and the precision that resolves it with room to spare.
    let floor = lo.powf(order);
    let bits = if floor > 1e-9 {
        53
    } else {
        (64.0 + 3.33 * (-floor.log10())).ceil().min(1024.0) as u32
    };
    let mut eps = Vec::new();
    let mut rho = Vec::new();
    for p in 0..points {
        let target = lo * (hi / lo).powf(p as f64 / (points - 1).max(1) as f64);
        let t = target.powf(1.0 / q as f64);
        let (delta, mass) = curve.at(t);
        let e = delta.iter().map(|d| d[k].abs()).fold(0.0, f64::max);
        if e.is_nan() || e <= 0.0 || mass.iter().any(|&m| m.is_nan() || m <= 0.0) {
            continue;
        }
        let config = configuration(frame, atoms, &delta, &mass);
        let r = distance(design, s, atoms, &config, bits);
        if r.is_finite() && r > 0.0 {
            eps.push(e);
            rho.push(r);
        }
    }
    let slope = super::median_slope(&eps, &rho);
    Profile {
        eps,
        rho,
        slope,
        bits,
    }
}

/// A flat configuration: offsets (units) and masses of a cell with $f_G = f^*$ to rounding.
#[derive(Clone, Debug, PartialEq)]
pub struct Flat {
    /// $\Delta_{ic}$ in units.
    pub delta: Vec<Vec<f64>>,
    /// Masses (fractions of $p^*$).
    pub mass: Vec<f64>,
    /// $\|f_G - f^*\|$ relative, at the configuration.
    pub residual: f64,
    /// $\varepsilon = |\Delta_{1k}|$.
    pub eps: f64,
}

/// Residual (relative to $\|\tilde u\|$) below which a configuration is exact: f64 steps reach
/// $10^{-16}$ on a genuinely flat curve, while a near-invariance with an effect of $10^{-11}$
/// (cases/escalation/small-effect.toml) stays at $3\cdot10^{-14}$ and above.
pub const FLAT_RESIDUAL: f64 = 1e-14;

/// Searches a flat configuration with $\Delta_{1k} = \pm\varepsilon$ near `curve` (see the
/// module docs); every offset stays within `10 ε` units.
pub fn flat(
    design: &Design,
    frame: &Frame,
    s: &Samples,
    curve: &Curve,
    k: usize,
    q: usize,
    eps: f64,
) -> Option<Flat> {
    let m = curve.mu.len();
    let dim = frame.dim();
    let t = eps.powf(1.0 / q as f64);
    let (mut delta0, mut mass0) = curve.at(t);
    // The atom that moves most along k at this ε carries the constraint Δ_1k = ±ε.
    let first = (0..m)
        .max_by(|&a, &b| delta0[a][k].abs().total_cmp(&delta0[b][k].abs()))
        .unwrap_or(0);
    delta0.swap(0, first);
    mass0.swap(0, first);
    let sign = delta0[0][k].signum();
    let lead = delta0[0][k].abs();
    if lead.is_nan() || lead <= 0.0 {
        return None;
    }
    // Unknowns: own offsets per atom (coordinate k of atom 0 fixed, of others ε·sin z),
    // shared offsets once, soft masses (m ≥ 2).
    let shared: Vec<usize> = (0..dim).filter(|&c| frame.shared[c]).collect();
    let own: Vec<usize> = (0..dim).filter(|&c| !frame.shared[c]).collect();
    let scale = eps / lead;
    let mut x = Vec::new();
    let mut index = vec![vec![None; dim]; m];
    for i in 0..m {
        for &c in &own {
            if c == k && i == 0 {
                continue;
            }
            index[i][c] = Some(x.len());
            x.push(if c == k {
                (delta0[i][c] * scale / eps).clamp(-0.98, 0.98).asin() // off the bound, where sin has no slope
            } else {
                delta0[i][c] * scale.min(1.0)
            });
        }
    }
    for &c in shared.iter().filter(|&&c| c != k) {
        let u = x.len();
        for row in index.iter_mut() {
            row[c] = Some(u);
        }
        x.push(delta0[0][c] * scale.min(1.0));
    }
    // Masses p_i = e^{s_i} (fractions of p*), free when the atom has a mass; the floor of
    // docs/theory.md §7 is checked on the result.
    let floor = 1.0 / (4.0 * m as f64);
    let soft0 = x.len();
    let free_mass = frame.mass.is_some();
    if free_mass {
        for &p in &mass0 {
            x.push(p.max(floor).ln());
        }
    }
    let space = TaylorSpace::new(dim, 1);
    let base = s.values(design, &frame.theta, frame.atom);
    let norm = base.iter().map(|v| v * v).sum::<f64>().sqrt();
    let unpack = |x: &[f64]| -> (Vec<Vec<f64>>, Vec<f64>, Vec<Vec<f64>>) {
        let mut delta = vec![vec![0.0; dim]; m];
        let mut dfac = vec![vec![0.0; dim]; m];
        for i in 0..m {
            for c in 0..dim {
                match index[i][c] {
                    None => {
                        delta[i][c] = sign * eps;
                    }
                    Some(u) if c == k && !frame.shared[c] => {
                        delta[i][c] = eps * x[u].sin();
                        dfac[i][c] = eps * x[u].cos();
                    }
                    Some(u) => {
                        delta[i][c] = x[u];
                        dfac[i][c] = 1.0;
                    }
                }
            }
        }
        let mu = if free_mass {
            x[soft0..].iter().map(|v| v.exp()).collect()
        } else {
            vec![1.0; m]
        };
        (delta, mu, dfac)
    };
    let n = s.points.len();
    let eval = |x: &[f64]| -> Option<(DVector<f64>, DMatrix<f64>)> {
        let (delta, mu, dfac) = unpack(x);
        let mut r = DVector::from_fn(n, |i, _| -base[i] / norm);
        let mut jac = DMatrix::zeros(n, x.len());
        let mut slots = Vec::new();
        for i in 0..m {
            let theta = frame.taylor(&space, &frame.theta_at(&delta[i]));
            for row in 0..n {
                let mut g = design
                    .u_at(&s.points, row, &s.fstar, (&theta, frame.atom), &mut slots)
                    .coefficients();
                g.iter_mut().for_each(|v| *v *= s.weight[row]);
                r[row] += mu[i] * g[0] / norm;
                for c in 0..dim {
                    if let Some(u) = index[i][c] {
                        jac[(row, u)] += mu[i] * g[1 + c] * dfac[i][c] / norm;
                    }
                }
                if free_mass {
                    jac[(row, soft0 + i)] += mu[i] * g[0] / norm;
                }
            }
        }
        (r.iter().all(|v| v.is_finite())).then_some((r, jac))
    };
    let start = x.clone();
    let min = lm::minimise(
        x,
        Stop {
            residual: FLAT_RESIDUAL * 1e-2,
            iterations: 400,
            stall: 1e-6,
            creeping_above: 1e-9,
            relative: 0.0,
        },
        eval,
    );
    // The f64 residual cannot go below the rounding of the expression itself (a catastrophic
    // cancellation leaves 10⁻⁸ of noise): when it stalls above the threshold, the start and
    // the end point are measured again in MPFR.
    let mut candidates = vec![(min.residual, min.x.clone())];
    if min.residual >= FLAT_RESIDUAL && min.residual < 1e-5 {
        for x in [&start, &min.x] {
            let (delta, mass, _) = unpack(x);
            let r = numerator_hp(design, frame, s, &delta, &mass, 192);
            candidates.push((r, x.clone()));
        }
    }
    let mut configs: Vec<(f64, Vec<Vec<f64>>, Vec<f64>)> = candidates
        .into_iter()
        .map(|(r, x)| {
            let (delta, mass, _) = unpack(&x);
            (r, delta, mass)
        })
        .collect();
    if min.residual >= FLAT_RESIDUAL && min.residual < 1e-5 {
        // The pure move of coordinate k (a parameter u does not depend on is flat alone).
        let mut delta = vec![vec![0.0; dim]; m];
        for (i, d) in delta.iter_mut().enumerate() {
            d[k] = if i == 0 {
                sign * eps
            } else {
                -sign * eps / (m - 1) as f64
            };
        }
        let mass = vec![1.0 / m as f64; m];
        let r = numerator_hp(design, frame, s, &delta, &mass, 192);
        configs.push((r, delta, mass));
    }
    configs.into_iter().find_map(|(residual, delta, mass)| {
        let far = delta.iter().flatten().any(|d| d.abs() > 10.0 * eps);
        let light = mass.iter().any(|&p| p < floor);
        (residual < FLAT_RESIDUAL && !far && !light).then_some(Flat {
            delta,
            mass,
            residual,
            eps,
        })
    })
}

/// $\|\sum_i p_i \tilde u(\theta_i) - \tilde u(\theta^*)\| / \|\tilde u(\theta^*)\|$ (weighted by
/// $1/D^*$) in `bits` of precision, for offsets `delta` (units) and masses `mass` (fractions).
pub fn numerator_hp(
    design: &Design,
    frame: &Frame,
    s: &Samples,
    delta: &[Vec<f64>],
    mass: &[f64],
    bits: u32,
) -> f64 {
    let lift = |t: &[f64]| -> Vec<Float> { t.iter().map(|&v| Float::with_val(bits, v)).collect() };
    let truth = lift(&frame.theta);
    let atoms: Vec<Vec<Float>> = delta.iter().map(|d| lift(&frame.theta_at(d))).collect();
    let (mut num, mut den) = (Float::with_val(bits, 0), Float::with_val(bits, 0));
    let mut slots = Vec::new();
    for i in 0..s.points.len() {
        let base = design.u_at(&s.points, i, &s.fstar, (&truth, frame.atom), &mut slots);
        let mut r = -base.clone();
        for (a, &p) in atoms.iter().zip(mass) {
            r += design.u_at(&s.points, i, &s.fstar, (a, frame.atom), &mut slots)
                * Float::with_val(bits, p);
        }
        let w = Float::with_val(bits, s.weight[i]);
        let (r, b) = (r * w.clone(), base * w);
        num += r.clone() * r;
        den += b.clone() * b;
    }
    (num / den).sqrt().to_f64()
}

/// What stays identified, read from the flat configurations found (one per flat coordinate):
/// a coordinate that never spreads keeps its value; one whose mass-weighted mean offset stays
/// zero wherever it spreads keeps its average; otherwise some non-linear combination.
pub fn identified(frame: &Frame, flats: &[&Flat]) -> Vec<Identified> {
    (0..frame.dim())
        .map(|c| {
            let var = frame.coords[c];
            let mut spreads = false;
            let mut average = true;
            for f in flats {
                let spread = f.delta.iter().map(|d| d[c].abs()).fold(0.0, f64::max);
                let total: f64 = f.mass.iter().sum();
                let mean: f64 = f
                    .delta
                    .iter()
                    .zip(&f.mass)
                    .map(|(d, p)| d[c] * p)
                    .sum::<f64>()
                    / total;
                // A flat configuration found by f64 steps carries ~1e-8 of noise in the
                // directions that do not move; a flat direction spreads by O(ε).
                if spread >= 1e-4 * f.eps {
                    spreads = true;
                    average &= mean.abs() <= 1e-4 * spread;
                }
            }
            match (spreads, average) {
                (false, _) => Identified::Equal(var),
                (true, true) => Identified::Average(var),
                (true, false) => Identified::Nonlinear(var),
            }
        })
        .collect()
}
