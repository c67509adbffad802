//! Truncated multivariate Taylor polynomials: every derivative of a function up to a total
//! degree, in one evaluation.
//!
//! A [`Taylor`] holds the coefficients $T_\alpha = \partial^\alpha f / \alpha!$ of
//! $f(\theta^* + h) = \sum_{|\alpha| \le R} T_\alpha h^\alpha + O(|h|^{R+1})$ for every
//! multi-index $\alpha$ over $P$ variables with $|\alpha| \le R$ (graded order: degree, then
//! lexicographic, as [`TaylorSpace::monomials`] lists them). Products are truncated Cauchy
//! products over a precomputed multiplication table; a primitive $g$ is applied by composing
//! its univariate Taylor coefficients at the constant term ([`Series`]) with $h = a - a_0$ by
//! Horner's rule, so every primitive of the expression language is covered at any degree.
//!
//! The cost of a product is the number of pairs $(\alpha, \beta)$ with
//! $|\alpha| + |\beta| \le R$, $\binom{2P + R}{R}$ (3003 for $P = 4$, $R = 6$); callers check it
//! with [`TaylorSpace::products`] before choosing a degree.

use super::number::Number;
use super::series::Series;
use std::collections::HashMap;
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::sync::Arc;

/// The monomials of a Taylor polynomial space and its multiplication table.
#[derive(Debug)]
pub struct TaylorSpace {
    vars: usize,
    degree: usize,
    monomials: Vec<Vec<u8>>,
    /// `ends[d]`: number of monomials of degree $\le d$.
    ends: Vec<usize>,
    /// Triples $(i, j, k)$ with $\alpha_i + \alpha_j = \alpha_k$.
    table: Vec<(u32, u32, u32)>,
    index: HashMap<Vec<u8>, usize>,
}

impl TaylorSpace {
    /// The space of polynomials of total degree $\le$ `degree` in `vars` variables.
    pub fn new(vars: usize, degree: usize) -> Arc<TaylorSpace> {
        let mut monomials: Vec<Vec<u8>> = vec![vec![0; vars]];
        let mut ends = vec![1];
        let mut last: Vec<Vec<u8>> = vec![vec![0; vars]];
        for _ in 1..=degree {
            // Degree d from degree d − 1 by raising one variable at or after the last raised
            // one: each monomial once, in lexicographic order of the raised positions.
            let mut next: Vec<Vec<u8>> = Vec::new();
            for m in &last {
                let first = m.iter().rposition(|&e| e > 0).unwrap_or(0);
                for v in first..vars {
                    let mut n = m.clone();
                    n[v] += 1;
                    next.push(n);
                }
            }
            next.sort_by(|a, b| b.cmp(a));
            monomials.extend(next.iter().cloned());
            ends.push(monomials.len());
            last = next;
        }
        let index: HashMap<Vec<u8>, usize> = monomials
            .iter()
            .enumerate()
            .map(|(i, m)| (m.clone(), i))
            .collect();
        let mut table = Vec::new();
        for (i, a) in monomials.iter().enumerate() {
            let da: usize = a.iter().map(|&e| e as usize).sum();
            for (j, b) in monomials.iter().enumerate().take(ends[degree - da]) {
                let sum: Vec<u8> = a.iter().zip(b).map(|(x, y)| x + y).collect();
                table.push((i as u32, j as u32, index[&sum] as u32));
            }
        }
        Arc::new(TaylorSpace {
            vars,
            degree,
            monomials,
            ends,
            table,
            index,
        })
    }

    /// Number of pairs a product visits: $\binom{2P + R}{R}$.
    pub fn products(vars: usize, degree: usize) -> usize {
        (0..degree).fold(1usize, |acc, i| {
            acc.saturating_mul(2 * vars + degree - i) / (i + 1)
        })
    }

    /// Number of monomials of degree at most $R$ in $P$ variables: $\binom{P + R}{R}$.
    pub fn size(vars: usize, degree: usize) -> usize {
        (0..degree).fold(1usize, |acc, i| {
            acc.saturating_mul(vars + degree - i) / (i + 1)
        })
    }

    /// $P$.
    pub fn vars(&self) -> usize {
        self.vars
    }

    /// $R$.
    pub fn degree(&self) -> usize {
        self.degree
    }

    /// The exponent vectors, graded: degree 0, then 1, ...
    pub fn monomials(&self) -> &[Vec<u8>] {
        &self.monomials
    }

    /// Number of monomials of degree at most `d`.
    pub fn up_to(&self, d: usize) -> usize {
        self.ends[d.min(self.degree)]
    }

    /// Position of the monomial with exponents `alpha`.
    pub fn position(&self, alpha: &[u8]) -> Option<usize> {
        self.index.get(alpha).copied()
    }
}

/// A truncated Taylor polynomial (see the module docs). A constant is stored as one
/// coefficient and broadcasts.
#[derive(Clone, Debug)]
pub struct Taylor {
    space: Arc<TaylorSpace>,
    c: Vec<f64>,
}

impl Taylor {
    /// The variable $\theta_v = $ `value` $+$ `scale` $\cdot h_v$.
    pub fn variable(space: &Arc<TaylorSpace>, value: f64, v: usize, scale: f64) -> Taylor {
        let mut c = vec![0.0; space.monomials.len()];
        c[0] = value;
        if space.degree >= 1 {
            c[1 + v] = scale;
        }
        Taylor {
            space: space.clone(),
            c,
        }
    }

    /// The constant `value`.
    pub fn constant_in(space: &Arc<TaylorSpace>, value: f64) -> Taylor {
        Taylor {
            space: space.clone(),
            c: vec![value],
        }
    }

    /// The coefficients $T_\alpha$ in the order of [`TaylorSpace::monomials`] (all of them,
    /// zeros for a constant).
    pub fn coefficients(&self) -> Vec<f64> {
        let mut c = self.c.clone();
        c.resize(self.space.monomials.len(), 0.0);
        c
    }

    fn full(&self) -> Vec<f64> {
        self.coefficients()
    }

    fn is_constant(&self) -> bool {
        self.c.len() == 1
    }

    fn with(&self, c: Vec<f64>) -> Taylor {
        Taylor {
            space: self.space.clone(),
            c,
        }
    }

    /// $\sum_k g_k (a - a_0)^k$ with the univariate coefficients $g_k$ of $g$ at $a_0$.
    fn compose(&self, g: impl Fn(&Series) -> Series) -> Taylor {
        let a0 = self.c[0];
        let coefs = g(&Series::variable(a0, self.space.degree + 1));
        let coefs = coefs.coefficients();
        if self.is_constant() {
            return self.with(vec![coefs[0]]);
        }
        let mut h = self.clone();
        h.c[0] = 0.0;
        let mut out = self.with(vec![coefs[self.space.degree]]);
        for k in (0..self.space.degree).rev() {
            out = out * h.clone();
            out.c[0] += coefs[k];
        }
        out
    }

    fn zip(self, o: Taylor, f: impl Fn(f64, f64) -> f64) -> Taylor {
        match (self.is_constant(), o.is_constant()) {
            (true, true) => self.with(vec![f(self.c[0], o.c[0])]),
            _ => {
                let (a, b) = (self.full(), o.full());
                self.with(a.iter().zip(&b).map(|(x, y)| f(*x, *y)).collect())
            }
        }
    }
}

impl Add for Taylor {
    type Output = Taylor;
    fn add(self, o: Taylor) -> Taylor {
        self.zip(o, |a, b| a + b)
    }
}

impl Sub for Taylor {
    type Output = Taylor;
    fn sub(self, o: Taylor) -> Taylor {
        self.zip(o, |a, b| a - b)
    }
}

impl Neg for Taylor {
    type Output = Taylor;
    fn neg(mut self) -> Taylor {
        self.c.iter_mut().for_each(|x| *x = -*x);
        self
    }
}

impl Mul for Taylor {
    type Output = Taylor;
    fn mul(self, o: Taylor) -> Taylor {
        match (self.is_constant(), o.is_constant()) {
            (true, true) => self.with(vec![self.c[0] * o.c[0]]),
            (true, false) => {
                let s = self.c[0];
                o.with(o.c.iter().map(|x| x * s).collect())
            }
            (false, true) => {
                let s = o.c[0];
                self.with(self.c.iter().map(|x| x * s).collect())
            }
            (false, false) => {
                let mut out = vec![0.0; self.c.len()];
                for &(i, j, k) in &self.space.table {
                    out[k as usize] += self.c[i as usize] * o.c[j as usize];
                }
                self.with(out)
            }
        }
    }
}

impl Div for Taylor {
    type Output = Taylor;
    // a / b = a · (1/b), with 1/b by composition.
    #[allow(clippy::suspicious_arithmetic_impl)]
    fn div(self, o: Taylor) -> Taylor {
        if o.is_constant() {
            let s = o.c[0];
            return self.with(self.c.iter().map(|x| x / s).collect());
        }
        let inv = o.compose(|s| s.constant(1.0) / s.clone());
        self * inv
    }
}

impl Number for Taylor {
    fn constant(&self, v: f64) -> Self {
        self.with(vec![v])
    }
    fn re(&self) -> f64 {
        self.c[0]
    }
    fn exp(&self) -> Self {
        self.compose(|s| s.exp())
    }
    fn ln(&self) -> Self {
        self.compose(|s| s.ln())
    }
    fn ln_1p(&self) -> Self {
        self.compose(|s| s.ln_1p())
    }
    fn sqrt(&self) -> Self {
        self.compose(|s| s.sqrt())
    }
    fn powi(&self, n: i32) -> Self {
        if self.c[0] != 0.0 {
            return self.compose(|s| s.powi(n));
        }
        // A zero constant term: exact repeated products.
        let mut out = self.constant(1.0);
        for _ in 0..n.unsigned_abs() {
            out = out * self.clone();
        }
        if n < 0 {
            self.constant(1.0) / out
        } else {
            out
        }
    }
    fn powf(&self, a: f64) -> Self {
        if a == a.round() && a.abs() <= 64.0 {
            return self.powi(a as i32);
        }
        self.compose(|s| s.powf(a))
    }
    fn sin(&self) -> Self {
        self.compose(|s| s.sin())
    }
    fn cos(&self) -> Self {
        self.compose(|s| s.cos())
    }
    fn tanh(&self) -> Self {
        self.compose(|s| s.tanh())
    }
    fn erf(&self) -> Self {
        self.compose(|s| s.erf())
    }
    fn sigmoid(&self) -> Self {
        self.compose(|s| s.sigmoid())
    }
    fn softplus(&self) -> Self {
        self.compose(|s| s.softplus())
    }
    fn gelu(&self) -> Self {
        self.compose(|s| s.gelu())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Derivative;
    use num_dual::{Dual64, HyperDual64};

    #[test]
    fn space_sizes_and_order() {
        let s = TaylorSpace::new(3, 4);
        assert_eq!(s.monomials().len(), TaylorSpace::size(3, 4));
        assert_eq!(s.up_to(1), 4);
        assert_eq!(s.monomials()[1], vec![1, 0, 0]);
        assert_eq!(s.monomials()[3], vec![0, 0, 1]);
        assert_eq!(s.monomials()[4], vec![2, 0, 0]);
        assert_eq!(s.table.len(), TaylorSpace::products(3, 4));
        for (i, m) in s.monomials().iter().enumerate() {
            assert_eq!(s.position(m), Some(i));
        }
    }

    /// A function of two variables through every primitive: first and second coefficients
    /// agree with num-dual, and a product identity holds to degree 6.
    fn g<N: Number>(x: N, y: N) -> N {
        let a = (x.clone() * y.clone()).exp().tanh() + x.sigmoid() * y.gelu();
        let b = (x.clone() + y.clone() * y.constant(0.5) + y.constant(2.0)).ln() / y.cosh_like();
        a + b + x.erf() * y.softplus() + (x.clone() * x.clone() + y.constant(1.0)).powf(1.5)
    }

    trait CoshLike {
        fn cosh_like(&self) -> Self;
    }
    impl<N: Number> CoshLike for N {
        fn cosh_like(&self) -> Self {
            (self.exp() + (-self.clone()).exp()) * self.constant(0.5)
        }
    }

    #[test]
    fn coefficients_match_num_dual() {
        let (x0, y0) = (0.4, -0.7);
        let s = TaylorSpace::new(2, 6);
        let t = g(
            Taylor::variable(&s, x0, 0, 1.0),
            Taylor::variable(&s, y0, 1, 1.0),
        )
        .coefficients();
        let dx = g(Dual64::seed(x0, [true; 4]), Dual64::seed(y0, [false; 4])).top();
        let dy = g(Dual64::seed(x0, [false; 4]), Dual64::seed(y0, [true; 4])).top();
        let dxy = g(
            HyperDual64::seed(x0, [true, false, false, false]),
            HyperDual64::seed(y0, [false, true, false, false]),
        )
        .top();
        let dyy = g(
            HyperDual64::seed(x0, [false; 4]),
            HyperDual64::seed(y0, [true; 4]),
        )
        .top();
        let at = |a: &[u8]| t[s.position(a).unwrap()];
        assert!((at(&[0, 0]) - g(x0, y0)).abs() < 1e-14);
        assert!((at(&[1, 0]) - dx).abs() < 1e-13);
        assert!((at(&[0, 1]) - dy).abs() < 1e-13);
        assert!((at(&[1, 1]) - dxy).abs() < 1e-12);
        assert!((at(&[0, 2]) * 2.0 - dyy).abs() < 1e-12);
    }

    #[test]
    fn high_degree_identities() {
        // e^{x+y} = e^x e^y and (x y)^3 = x^3 y^3 to degree 6, scaled variables included.
        let s = TaylorSpace::new(2, 6);
        let x = Taylor::variable(&s, 0.3, 0, 0.5);
        let y = Taylor::variable(&s, -0.2, 1, 2.0);
        let a = (x.clone() + y.clone()).exp() - x.exp() * y.exp();
        assert!(a.coefficients().iter().all(|c| c.abs() < 1e-13));
        let b = (x.clone() * y.clone()).powi(3) - x.powi(3) * y.powi(3);
        assert!(b.coefficients().iter().all(|c| c.abs() < 1e-13));
        // e^{x} at 0.3 + 0.5 h: coefficient of h^k is e^{0.3} 0.5^k / k!
        let e = x.exp().coefficients();
        let mut fact = 1.0;
        for k in 0..=6u8 {
            if k > 0 {
                fact *= k as f64;
            }
            let want = 0.3f64.exp() * 0.5f64.powi(k as i32) / fact;
            assert!((e[s.position(&[k, 0]).unwrap()] - want).abs() < 1e-15);
        }
    }
}
