//! The coefficient system of a Voronoi cell along a curve (docs/theory.md §7).
//!
//! A cell of $m$ fitted atoms approaches true atom $j$ along a formal curve in a parameter $t$:
//! atom $i$ has mass $p_i(t) = p^*(\mu_i + \sum_{\ell \ge 1} \pi_{i\ell} t^\ell)$ and
//! coordinates $\Delta_{ic}(t) = \sum_{\ell=1}^{L} a_{ic\ell}\, t^\ell$ (in the coordinates'
//! units; a shared coordinate has one series for the whole cell). Then
//!
//! $$\frac{f_G - f^*}{\text{denominator}} \propto \sum_i p_i(t)\,\tilde u(\theta^* +
//! \Delta_i(t)) - p^*\tilde u(\theta^*) = p^* \sum_n t^n \sum_\alpha C_{n\alpha}\, T_\alpha,
//! \qquad C_{n\alpha} = [t^n] \sum_i \frac{p_i(t)}{p^*}\, \Delta_i(t)^\alpha - [n = 0][\alpha = 0],$$
//!
//! and the curve makes $\|f_G - f^*\| = O(t^S)$ exactly when $R\,C_n = 0$ for $n < S$
//! ([`super::expansion::Expansion`]). The unknowns are the $a_{ic\ell}$, $\pi_{i\ell}$ and the
//! leading masses $\mu_i = c + (1 - mc)\,\mathrm{softmax}(s)_i$ (the floor $c = 1/(4m)$ of
//! docs/theory.md §7 keeps every atom's mass away from zero; $\sum_i \mu_i = 1$ makes $n = 0$
//! vanish). Coordinate $k$ is normalised to leading order $t^q$: $a_{1kq} = \pm 1$,
//! $|a_{ikq}| \le 1$ ($a_{ikq} = \sin z_i$), $a_{ik\ell} = 0$ for $\ell < q$, so that
//! $\max_i |\Delta_{ik}| \asymp t^q$ and a solution proves $\rho_k(\varepsilon) \lesssim
//! \varepsilon^{S/q}$. The residual and its exact Jacobian are polynomial in the unknowns.

use super::expansion::{Expansion, Frame};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, RngExt};

/// Largest curve coefficient (in coordinate units) before a penalty applies: a solvable system
/// that needs larger ones is one where another coordinate moves at a lower order, which the
/// search over $q$ covers.
const BOUND: f64 = 100.0;

/// Smallest curve coefficient that counts as motion (see [`Curve::leading`]).
pub const MOVES: f64 = 1e-3;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    Zero,
    Fixed(f64),
    Free(usize),
    Sine(usize),
}

/// What an unknown is, which fixes the rows of $C_n$ it can move: a coordinate coefficient at
/// $t^\ell$ enters monomials of degree $\le n - \ell + 1$ only, a mass correction at $t^\ell$
/// those of degree $\le n - \ell$, a leading mass every one.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Unknown {
    Coordinate(usize),
    Correction(usize),
    Mass,
}

/// A formal curve of a cell: the solution of a coefficient system.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// $a_{ic\ell}$, $\ell = 0..=L$ ($\ell = 0$ is zero).
    pub coef: Vec<Vec<Vec<f64>>>,
    /// Leading masses $\mu_i$ (fractions of $p^*$).
    pub mu: Vec<f64>,
    /// Mass corrections $\pi_{i\ell}$, $\ell = 1..=L$.
    pub corr: Vec<Vec<f64>>,
    /// The order reached: $\|f_G - f^*\| = O(t^S)$.
    pub order: usize,
}

impl Curve {
    /// Lowest $\ell$ at which coordinate `c` moves in some atom, or `None` if it does not
    /// move. A coefficient counts when it exceeds [`MOVES`] (curves are normalised to a unit
    /// leading coefficient): a spurious $10^{-5}$ that only enters quadratically passes a
    /// residual tolerance of $10^{-10}$ and must not count as motion.
    pub fn leading(&self, c: usize) -> Option<usize> {
        let l = self.coef[0][c].len();
        (1..l).find(|&ell| self.coef.iter().any(|a| a[c][ell].abs() > MOVES))
    }

    /// The coordinate offsets (in units) and masses (fractions of $p^*$) at parameter `t`.
    pub fn at(&self, t: f64) -> (Vec<Vec<f64>>, Vec<f64>) {
        let delta = self
            .coef
            .iter()
            .map(|a| {
                a.iter()
                    .map(|series| series.iter().rev().fold(0.0, |acc, v| acc * t + v))
                    .collect()
            })
            .collect();
        let mass = self
            .mu
            .iter()
            .zip(&self.corr)
            .map(|(m, c)| m + c.iter().rev().fold(0.0, |acc, v| acc * t + v) * t)
            .collect();
        (delta, mass)
    }

    /// The same curve for normalising coordinate `k` at order `q`: atoms reordered so that the
    /// largest $|a_{ikq}|$ comes first, $t$ rescaled so that it is $\pm 1$. `None` if
    /// coordinate `k` does not lead at order `q`.
    pub fn renormalised(&self, k: usize, q: usize) -> Option<(Curve, f64)> {
        if self.leading(k) != Some(q) {
            return None;
        }
        let first = (0..self.mu.len()).max_by(|&a, &b| {
            self.coef[a][k][q]
                .abs()
                .total_cmp(&self.coef[b][k][q].abs())
        })?;
        let lead = self.coef[first][k][q];
        let lambda = lead.abs().powf(1.0 / q as f64);
        let mut order: Vec<usize> = (0..self.mu.len()).collect();
        order.swap(0, first);
        let coef = order
            .iter()
            .map(|&i| {
                self.coef[i]
                    .iter()
                    .map(|s| {
                        s.iter()
                            .enumerate()
                            .map(|(ell, v)| v / lambda.powi(ell as i32))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let corr = order
            .iter()
            .map(|&i| {
                self.corr[i]
                    .iter()
                    .enumerate()
                    .map(|(l, v)| v / lambda.powi(l as i32 + 1))
                    .collect()
            })
            .collect();
        let mu = order.iter().map(|&i| self.mu[i]).collect();
        Some((
            Curve {
                coef,
                mu,
                corr,
                order: self.order,
            },
            lead.signum(),
        ))
    }
}

/// The coefficient system of one cell (see the module docs).
pub struct System<'a> {
    exp: &'a Expansion,
    m: usize,
    /// $L = S - 1$.
    len: usize,
    floor: f64,
    coef: Vec<Vec<Vec<Slot>>>,
    soft: Vec<usize>,
    corr: Vec<Vec<usize>>,
    unknowns: usize,
    /// Free unknowns subject to the coefficient bound.
    bounded: Vec<usize>,
    /// For monomial $\alpha$ ($\ne 0$): $(\beta, v)$ with $\alpha = \beta + e_v$.
    parent: Vec<(usize, usize)>,
    /// `lower[c][α]`: index of $\alpha - e_c$ and $\alpha_c$, when $\alpha_c > 0$.
    lower: Vec<Vec<Option<(usize, f64)>>>,
    /// Monomials of degree $\le n$, $n = 0..=L$.
    ends: Vec<usize>,
    /// Whether to use the strict blocks.
    strict: bool,
    /// What each unknown is.
    kinds: Vec<Unknown>,
}

fn mul_series(a: &[f64], b: &[f64], out: &mut [f64]) {
    for k in 0..out.len() {
        let mut s = 0.0;
        for j in 0..=k {
            s += a[j] * b[k - j];
        }
        out[k] = s;
    }
}

impl<'a> System<'a> {
    // Slots are laid out per coordinate index, shared ones first.
    #[allow(clippy::needless_range_loop)]
    /// The system making orders $1..S-1$ vanish for a cell of `m` atoms of `frame`, with
    /// coordinate `k` normalised at order `q` and sign `sign`. Needs an expansion of degree
    /// $\ge S - 1$.
    pub fn new(
        frame: &Frame,
        exp: &'a Expansion,
        m: usize,
        k: usize,
        q: usize,
        sign: f64,
        order: usize,
    ) -> System<'a> {
        let len = order - 1;
        assert!(
            exp.space.degree() >= len,
            "expansion degree below the system's"
        );
        let dim = frame.dim();
        let mut unknowns = 0;
        let next = |n: &mut usize| {
            *n += 1;
            *n - 1
        };
        let mut bounded = Vec::new();
        let mut shared_slots: Vec<Vec<Slot>> = vec![Vec::new(); dim];
        let mut coef = vec![vec![vec![Slot::Zero; len + 1]; dim]; m];
        for c in 0..dim {
            if frame.shared[c] {
                let mut slots = vec![Slot::Zero; len + 1];
                for (ell, slot) in slots.iter_mut().enumerate().skip(1) {
                    *slot = if c == k && ell < q {
                        Slot::Zero
                    } else if c == k && ell == q {
                        Slot::Fixed(sign)
                    } else {
                        let u = next(&mut unknowns);
                        bounded.push(u);
                        Slot::Free(u)
                    };
                }
                shared_slots[c] = slots;
            }
        }
        for (i, atom) in coef.iter_mut().enumerate() {
            for (c, series) in atom.iter_mut().enumerate() {
                if frame.shared[c] {
                    *series = shared_slots[c].clone();
                    continue;
                }
                for (ell, slot) in series.iter_mut().enumerate().skip(1) {
                    *slot = if c == k && ell < q {
                        Slot::Zero
                    } else if c == k && ell == q {
                        if i == 0 {
                            Slot::Fixed(sign)
                        } else {
                            Slot::Sine(next(&mut unknowns))
                        }
                    } else {
                        let u = next(&mut unknowns);
                        bounded.push(u);
                        Slot::Free(u)
                    };
                }
            }
        }
        let soft = if m > 1 {
            (0..m).map(|_| next(&mut unknowns)).collect()
        } else {
            Vec::new()
        };
        // Without a mass parameter the atom's weight is fixed: no mass corrections.
        let corrections = if frame.mass.is_some() { len } else { 0 };
        let corr: Vec<Vec<usize>> = (0..m)
            .map(|_| (0..corrections).map(|_| next(&mut unknowns)).collect())
            .collect();
        let space = &exp.space;
        let t = space.up_to(len);
        let monomials = &space.monomials()[..t];
        let parent = monomials
            .iter()
            .map(|a| match a.iter().rposition(|&e| e > 0) {
                None => (0, 0),
                Some(v) => {
                    let mut b = a.clone();
                    b[v] -= 1;
                    (space.position(&b).unwrap_or(0), v)
                }
            })
            .collect();
        let lower = (0..dim)
            .map(|c| {
                monomials
                    .iter()
                    .map(|a| {
                        (a[c] > 0).then(|| {
                            let mut b = a.clone();
                            b[c] -= 1;
                            (space.position(&b).unwrap_or(0), a[c] as f64)
                        })
                    })
                    .collect()
            })
            .collect();
        let ends = (0..=len).map(|n| space.up_to(n)).collect();
        let mut kinds = vec![Unknown::Mass; unknowns];
        for atom in &coef {
            for series in atom {
                for (ell, slot) in series.iter().enumerate() {
                    if let Slot::Free(u) | Slot::Sine(u) = *slot {
                        kinds[u] = Unknown::Coordinate(ell);
                    }
                }
            }
        }
        for c in &corr {
            for (l, &u) in c.iter().enumerate() {
                kinds[u] = Unknown::Correction(l + 1);
            }
        }
        System {
            exp,
            m,
            len,
            floor: 1.0 / (4.0 * m as f64),
            coef,
            soft,
            corr,
            unknowns,
            bounded,
            parent,
            lower,
            ends,
            strict: false,
            kinds,
        }
    }

    fn value(&self, s: Slot, x: &[f64]) -> (f64, f64) {
        match s {
            Slot::Zero => (0.0, 0.0),
            Slot::Fixed(v) => (v, 0.0),
            Slot::Free(u) => (x[u], 1.0),
            Slot::Sine(u) => (x[u].sin(), x[u].cos()),
        }
    }

    fn masses(&self, x: &[f64]) -> (Vec<f64>, DMatrix<f64>) {
        let m = self.m;
        if m == 1 {
            return (vec![1.0], DMatrix::zeros(1, 1));
        }
        let s: Vec<f64> = self.soft.iter().map(|&u| x[u]).collect();
        let top = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = s.iter().map(|v| (v - top).exp()).collect();
        let z: f64 = e.iter().sum();
        let sm: Vec<f64> = e.iter().map(|v| v / z).collect();
        let scale = 1.0 - m as f64 * self.floor;
        let mu = sm.iter().map(|v| self.floor + scale * v).collect();
        let d = DMatrix::from_fn(m, m, |i, j| {
            scale * (if i == j { sm[i] } else { 0.0 } - sm[i] * sm[j])
        });
        (mu, d)
    }

    /// The curve an unknown vector describes.
    pub fn curve(&self, x: &[f64]) -> Curve {
        let (mu, _) = self.masses(x);
        Curve {
            coef: self
                .coef
                .iter()
                .map(|a| {
                    a.iter()
                        .map(|s| s.iter().map(|&sl| self.value(sl, x).0).collect())
                        .collect()
                })
                .collect(),
            mu,
            corr: self
                .corr
                .iter()
                .map(|c| c.iter().map(|&u| x[u]).collect())
                .collect(),
            order: self.len + 1,
        }
    }

    /// The unknown vector closest to `curve` (extended with zeros or truncated).
    pub fn start_from(&self, curve: &Curve) -> Vec<f64> {
        let mut x = vec![0.0; self.unknowns];
        for (i, atom) in self.coef.iter().enumerate().take(curve.mu.len()) {
            for (c, series) in atom.iter().enumerate() {
                for (ell, &slot) in series.iter().enumerate() {
                    let v = curve.coef[i][c].get(ell).copied().unwrap_or(0.0);
                    match slot {
                        Slot::Free(u) => x[u] = v,
                        // off the bound, where sin has no slope
                        Slot::Sine(u) => x[u] = v.clamp(-0.98, 0.98).asin(),
                        _ => {}
                    }
                }
            }
        }
        if self.m > 1 {
            let scale = 1.0 - self.m as f64 * self.floor;
            for (i, &u) in self.soft.iter().enumerate() {
                let mu = curve.mu.get(i).copied().unwrap_or(1.0 / self.m as f64);
                x[u] = ((mu - self.floor).max(1e-6) / scale).ln();
            }
        }
        for (i, c) in self.corr.iter().enumerate() {
            for (l, &u) in c.iter().enumerate() {
                x[u] = curve
                    .corr
                    .get(i)
                    .and_then(|v| v.get(l))
                    .copied()
                    .unwrap_or(0.0);
            }
        }
        x
    }

    /// A random unknown vector.
    pub fn random_start(&self, rng: &mut impl Rng) -> Vec<f64> {
        let mut x: Vec<f64> = (0..self.unknowns)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        for &u in &self.soft {
            x[u] *= 0.7;
        }
        for c in &self.corr {
            for &u in c {
                x[u] *= 0.3;
            }
        }
        x
    }

    /// $\|(B_n C_n)_n\|$ of `curve` with the strict blocks
    /// ([`super::expansion::STRICT_FLOOR`]).
    pub fn strict_residual(&self, curve: &Curve) -> f64 {
        let x = self.start_from(curve);
        let strict = System {
            exp: self.exp,
            strict: true,
            ..self.clone_shape()
        };
        strict.evaluate(&x).map_or(f64::INFINITY, |(r, _)| r.norm())
    }

    fn clone_shape(&self) -> System<'a> {
        System {
            exp: self.exp,
            m: self.m,
            len: self.len,
            floor: self.floor,
            coef: self.coef.clone(),
            soft: self.soft.clone(),
            corr: self.corr.clone(),
            unknowns: self.unknowns,
            bounded: self.bounded.clone(),
            parent: self.parent.clone(),
            lower: self.lower.clone(),
            ends: self.ends.clone(),
            strict: self.strict,
            kinds: self.kinds.clone(),
        }
    }

    /// The rows of $C_n$ that unknown `u` can move (a prefix: monomials are ordered by degree);
    /// the others depend on it through exact zeros.
    fn support(&self, u: usize, n: usize) -> usize {
        match self.kinds[u] {
            Unknown::Coordinate(ell) if ell <= n => self.ends[n + 1 - ell],
            Unknown::Correction(ell) if ell <= n => self.ends[n - ell],
            Unknown::Mass => self.ends[n],
            _ => 0,
        }
    }

    /// `out` $= B_n\,\partial C_n/\partial x$, each group of unknowns with one support
    /// multiplied by the columns of $B_n$ it meets only (the Jacobian of a high order is
    /// triangular by degree: about a third of the full product's work at order 6).
    fn whitened_jacobian(
        &self,
        n: usize,
        rn: &DMatrix<f64>,
        dc: &DMatrix<f64>,
        out: &mut nalgebra::DMatrixViewMut<f64>,
    ) {
        let tn = self.ends[n];
        if tn <= 5 || self.unknowns <= 5 {
            // nalgebra's plain loop: keep it, for the same rounding
            out.copy_from(&(rn * dc));
            return;
        }
        let mut order: Vec<(usize, usize)> = (0..self.unknowns)
            .map(|u| (self.support(u, n), u))
            .filter(|&(s, _)| s > 0)
            .collect();
        order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut packed = DMatrix::zeros(tn, order.len());
        for (j, &(s, u)) in order.iter().enumerate() {
            packed
                .view_mut((0, j), (s, 1))
                .copy_from(&dc.view((0, u), (s, 1)));
        }
        let mut product = DMatrix::zeros(tn, order.len());
        let mut from = 0;
        while from < order.len() {
            let s = order[from].0;
            let to = from + order[from..].iter().take_while(|g| g.0 == s).count();
            dgemm(
                &rn.columns(0, s),
                &packed.view((0, from), (s, to - from)),
                &mut product.columns_mut(from, to - from),
            );
            from = to;
        }
        for (j, &(_, u)) in order.iter().enumerate() {
            out.column_mut(u).copy_from(&product.column(j));
        }
    }

    /// The residual $(B_n C_n)_{n = 1..S-1}$ with the coefficient bound, and its Jacobian.
    pub fn evaluate(&self, x: &[f64]) -> Option<(DVector<f64>, DMatrix<f64>)> {
        let (m, len) = (self.m, self.len);
        let w = len + 1;
        let t = self.ends[len];
        let dim = self.lower.len();
        let (mu, dmu) = self.masses(x);
        // p_i(t), Δ_ic(t), monomials M_iα(t) and W_iα = p_i M_iα
        let mut p = vec![vec![0.0; w]; m];
        for i in 0..m {
            p[i][0] = mu[i];
            for (l, &u) in self.corr[i].iter().enumerate() {
                p[i][l + 1] = x[u];
            }
        }
        let delta: Vec<Vec<Vec<f64>>> = self
            .coef
            .iter()
            .map(|a| {
                a.iter()
                    .map(|s| s.iter().map(|&sl| self.value(sl, x).0).collect())
                    .collect()
            })
            .collect();
        let mut mono = vec![vec![0.0; t * w]; m];
        let mut wgt = vec![vec![0.0; t * w]; m];
        for i in 0..m {
            mono[i][0] = 1.0;
            for a in 1..t {
                let (b, v) = self.parent[a];
                let (lo, hi) = mono[i].split_at_mut(a * w);
                mul_series(&lo[b * w..(b + 1) * w], &delta[i][v], &mut hi[..w]);
            }
            for a in 0..t {
                let (src, dst) = (
                    &mono[i][a * w..(a + 1) * w],
                    &mut wgt[i][a * w..(a + 1) * w],
                );
                mul_series(&p[i], src, dst);
            }
        }
        let rows: usize = self.ends[1..].iter().sum::<usize>() + self.bounded.len();
        let mut r = DVector::zeros(rows);
        let mut jac = DMatrix::zeros(rows, self.unknowns);
        let mut at = 0;
        for n in 1..=len {
            let tn = self.ends[n];
            let cn = DVector::from_fn(tn, |a, _| (0..m).map(|i| wgt[i][a * w + n]).sum());
            let mut dc = DMatrix::zeros(tn, self.unknowns);
            for i in 0..m {
                for c in 0..dim {
                    for ell in 1..=n {
                        let (u, f) = match self.coef[i][c][ell] {
                            Slot::Free(u) => (u, 1.0),
                            Slot::Sine(u) => (u, x[u].cos()),
                            _ => continue,
                        };
                        for a in 0..self.support(u, n) {
                            if let Some((b, e)) = self.lower[c][a] {
                                dc[(a, u)] += e * f * wgt[i][b * w + n - ell];
                            }
                        }
                    }
                }
                for (l, &u) in self.corr[i].iter().enumerate() {
                    let ell = l + 1;
                    if ell <= n {
                        for a in 0..self.support(u, n) {
                            dc[(a, u)] += mono[i][a * w + n - ell];
                        }
                    }
                }
                for (j, &u) in self.soft.iter().enumerate() {
                    let d = dmu[(i, j)];
                    if d != 0.0 {
                        for a in 0..tn {
                            dc[(a, u)] += mono[i][a * w + n] * d;
                        }
                    }
                }
            }
            let rn = if self.strict {
                &self.exp.strict[n]
            } else {
                &self.exp.blocks[n]
            };
            let res = rn * cn;
            r.rows_mut(at, tn).copy_from(&res);
            self.whitened_jacobian(n, rn, &dc, &mut jac.rows_mut(at, tn));
            at += tn;
        }
        for &u in &self.bounded {
            let over = x[u].abs() - BOUND;
            if over > 0.0 {
                r[at] = over;
                jac[(at, u)] = x[u].signum();
            }
            at += 1;
        }
        (r.iter().all(|v| v.is_finite()) && jac.iter().all(|v| v.is_finite())).then_some((r, jac))
    }
}

/// `out` $= AB$ by `matrixmultiply` whatever the shapes: the products of one order then sum
/// in the same order as the full product's (nalgebra sends thin shapes to a plain loop, whose
/// rounding differs), so skipping exact zeros leaves every bit as it was.
fn dgemm(
    a: &nalgebra::DMatrixView<f64>,
    b: &nalgebra::DMatrixView<f64>,
    out: &mut nalgebra::DMatrixViewMut<f64>,
) {
    let (m, k) = a.shape();
    let n = b.ncols();
    assert!(b.nrows() == k && out.shape() == (m, n), "dgemm: shapes");
    let (rsa, csa) = a.strides();
    let (rsb, csb) = b.strides();
    let (rsc, csc) = out.strides();
    // SAFETY: the pointers and strides are those of live nalgebra views of the shapes checked
    // above; `out` is borrowed mutably and does not alias `a` or `b`.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            0.0,
            out.as_mut_ptr(),
            rsc as isize,
            csc as isize,
        );
    }
}

impl Curve {
    /// The curve with $t \to t^2$ (orders doubled).
    pub fn stretched(&self) -> Curve {
        let c = self;
        let coef = c
            .coef
            .iter()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        let mut out = vec![0.0; 2 * s.len() - 1];
                        for (l, v) in s.iter().enumerate() {
                            out[2 * l] = *v;
                        }
                        out
                    })
                    .collect()
            })
            .collect();
        let corr = c
            .corr
            .iter()
            .map(|s| {
                let mut out = vec![0.0; 2 * s.len() + 1];
                for (l, v) in s.iter().enumerate() {
                    out[2 * (l + 1) - 1] = *v;
                }
                out
            })
            .collect();
        Curve {
            coef,
            mu: c.mu.clone(),
            corr,
            order: 2 * c.order,
        }
    }
}

#[cfg(test)]
#[path = "system_tests.rs"]
mod tests;
