//! Truncated univariate Taylor series: $a(t) = \sum_{k < L} a_k t^k$.
//!
//! A [`Series`] of length $L$ carries the Taylor coefficients of a function of one variable
//! $t$ up to $t^{L-1}$; arithmetic and every primitive propagate them exactly (up to rounding)
//! by the classical recurrences (Griewank & Walther, *Evaluating Derivatives*, 2nd ed., ch. 13):
//! products are Cauchy products, quotients and $e^a$, $\ln a$, $\sqrt a$, $a^p$, $\sin$,
//! $\cos$, $\tanh$, $\operatorname{erf}$ solve the linear ODE each one satisfies, e.g.
//! $b = e^a \Rightarrow b' = a' b \Rightarrow b_k = \tfrac1k \sum_{j=1}^k j\, a_j b_{k-j}$.
//!
//! The expression evaluator runs over it like over any [`Number`]; the local geometry uses it
//! for the Taylor coefficients of primitives at a point ([`crate::expr::Taylor`]).

use super::number::Number;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A truncated Taylor series in one variable (see the module docs). Series of different
/// lengths combine at the shorter length, except a constant (length 1), which broadcasts.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    c: Vec<f64>,
}

// The recurrences read best with the indices of the formulas.
#[allow(clippy::needless_range_loop)]
impl Series {
    /// The series $a_0 + t$ of length `len` (a variable at `a0`).
    pub fn variable(a0: f64, len: usize) -> Series {
        let mut c = vec![0.0; len.max(1)];
        c[0] = a0;
        if len > 1 {
            c[1] = 1.0;
        }
        Series { c }
    }

    /// A series from its coefficients $a_0, a_1, \dots$.
    pub fn from_coefficients(c: Vec<f64>) -> Series {
        assert!(!c.is_empty(), "a series has at least one coefficient");
        Series { c }
    }

    /// The coefficients $a_0, \dots, a_{L-1}$.
    pub fn coefficients(&self) -> &[f64] {
        &self.c
    }

    /// $L$.
    pub fn len(&self) -> usize {
        self.c.len()
    }

    /// Never true (a series has at least its constant term).
    pub fn is_empty(&self) -> bool {
        self.c.is_empty()
    }

    fn zeros(&self) -> Series {
        Series {
            c: vec![0.0; self.c.len()],
        }
    }

    /// The two operands at a common length: a constant broadcasts, otherwise the shorter wins.
    fn common(a: Series, b: Series) -> (Series, Series) {
        match (a.c.len(), b.c.len()) {
            (x, y) if x == y => (a, b),
            (1, y) => {
                let mut c = vec![0.0; y];
                c[0] = a.c[0];
                (Series { c }, b)
            }
            (x, 1) => {
                let mut c = vec![0.0; x];
                c[0] = b.c[0];
                (a, Series { c })
            }
            (x, y) => {
                let n = x.min(y);
                (
                    Series {
                        c: a.c[..n].to_vec(),
                    },
                    Series {
                        c: b.c[..n].to_vec(),
                    },
                )
            }
        }
    }

    /// $b$ with $b' = g\,a'$, $b_0$ given: $b_k = \tfrac1k\sum_{j=1}^k j\,a_j g_{k-j}$.
    fn integrate(&self, b0: f64, g: &Series) -> Series {
        let n = self.c.len();
        let mut b = vec![0.0; n];
        b[0] = b0;
        for k in 1..n {
            let s: f64 = (1..=k).map(|j| j as f64 * self.c[j] * g.c[k - j]).sum();
            b[k] = s / k as f64;
        }
        Series { c: b }
    }
}

impl Add for Series {
    type Output = Series;
    fn add(self, o: Series) -> Series {
        let (mut a, b) = Series::common(self, o);
        a.c.iter_mut().zip(&b.c).for_each(|(x, y)| *x += y);
        a
    }
}

impl Sub for Series {
    type Output = Series;
    fn sub(self, o: Series) -> Series {
        let (mut a, b) = Series::common(self, o);
        a.c.iter_mut().zip(&b.c).for_each(|(x, y)| *x -= y);
        a
    }
}

impl Neg for Series {
    type Output = Series;
    fn neg(mut self) -> Series {
        self.c.iter_mut().for_each(|x| *x = -*x);
        self
    }
}

impl Mul for Series {
    type Output = Series;
    fn mul(self, o: Series) -> Series {
        let (a, b) = Series::common(self, o);
        let n = a.c.len();
        let c = (0..n)
            .map(|k| (0..=k).map(|j| a.c[j] * b.c[k - j]).sum())
            .collect();
        Series { c }
    }
}

impl Div for Series {
    type Output = Series;
    fn div(self, o: Series) -> Series {
        let (a, b) = Series::common(self, o);
        let n = a.c.len();
        let mut c = vec![0.0; n];
        for k in 0..n {
            let s: f64 = (1..=k).map(|j| b.c[j] * c[k - j]).sum();
            c[k] = (a.c[k] - s) / b.c[0];
        }
        Series { c }
    }
}

impl Number for Series {
    fn constant(&self, v: f64) -> Self {
        Series { c: vec![v] }
    }

    fn re(&self) -> f64 {
        self.c[0]
    }

    fn exp(&self) -> Self {
        let n = self.c.len();
        let mut e = vec![0.0; n];
        e[0] = self.c[0].exp();
        for k in 1..n {
            let s: f64 = (1..=k).map(|j| j as f64 * self.c[j] * e[k - j]).sum();
            e[k] = s / k as f64;
        }
        Series { c: e }
    }

    fn ln(&self) -> Self {
        let mut r = self.ln_of(self.c[0]);
        r.c[0] = self.c[0].ln();
        r
    }

    fn ln_1p(&self) -> Self {
        let mut r = self.ln_of(1.0 + self.c[0]);
        r.c[0] = self.c[0].ln_1p();
        r
    }

    fn sqrt(&self) -> Self {
        let n = self.c.len();
        let mut s = vec![0.0; n];
        s[0] = self.c[0].sqrt();
        for k in 1..n {
            let acc: f64 = (1..k).map(|j| s[j] * s[k - j]).sum();
            s[k] = (self.c[k] - acc) / (2.0 * s[0]);
        }
        Series { c: s }
    }

    fn powi(&self, n: i32) -> Self {
        // Repeated squaring: exact for a zero constant term, where a^p has no recurrence.
        let mut base = self.clone();
        let mut out = self.constant(1.0);
        let mut e = n.unsigned_abs();
        while e > 0 {
            if e & 1 == 1 {
                out = out * base.clone();
            }
            e >>= 1;
            if e > 0 {
                base = base.clone() * base;
            }
        }
        if n < 0 {
            self.constant(1.0) / out
        } else {
            out
        }
    }

    fn powf(&self, p: f64) -> Self {
        if p == p.round() && p.abs() <= 64.0 {
            return self.powi(p as i32);
        }
        // b = a^p: a b' = p a' b, so b_k = Σ_{j=1}^k (p j − (k − j)) a_j b_{k−j} / (k a_0).
        let n = self.c.len();
        let a0 = self.c[0];
        let mut b = vec![0.0; n];
        b[0] = a0.powf(p);
        for k in 1..n {
            let s: f64 = (1..=k)
                .map(|j| (p * j as f64 - (k - j) as f64) * self.c[j] * b[k - j])
                .sum();
            b[k] = s / (k as f64 * a0);
        }
        Series { c: b }
    }

    fn sin(&self) -> Self {
        self.sin_cos().0
    }

    fn cos(&self) -> Self {
        self.sin_cos().1
    }

    fn tanh(&self) -> Self {
        // t' = (1 − t²) a': t_k from w = 1 − t² up to k − 1, then w_k = −(t²)_k.
        let n = self.c.len();
        let mut t = vec![0.0; n];
        let mut w = vec![0.0; n];
        t[0] = self.c[0].tanh();
        w[0] = 1.0 - t[0] * t[0];
        for k in 1..n {
            let s: f64 = (1..=k).map(|j| j as f64 * self.c[j] * w[k - j]).sum();
            t[k] = s / k as f64;
            w[k] = -(0..=k).map(|j| t[j] * t[k - j]).sum::<f64>();
        }
        Series { c: t }
    }

    fn erf(&self) -> Self {
        // erf' = 2/√π e^{−a²}.
        let g = (-(self.clone() * self.clone())).exp()
            * self.constant(std::f64::consts::FRAC_2_SQRT_PI);
        self.integrate(libm::erf(self.c[0]), &g)
    }
}

impl Series {
    /// $\ln$ of the series whose constant term is replaced by `a0` (for $\ln$ and
    /// $\ln(1 + \cdot)$): $l_k = (a_k - \tfrac1k\sum_{j=1}^{k-1} j\,l_j a_{k-j}) / a_0$.
    fn ln_of(&self, a0: f64) -> Series {
        let n = self.c.len();
        let mut l = vec![0.0; n];
        for k in 1..n {
            let s: f64 = (1..k).map(|j| j as f64 * l[j] * self.c[k - j]).sum();
            l[k] = (self.c[k] - s / k as f64) / a0;
        }
        Series { c: l }
    }

    fn sin_cos(&self) -> (Series, Series) {
        let n = self.c.len();
        let mut s = vec![0.0; n];
        let mut c = vec![0.0; n];
        s[0] = self.c[0].sin();
        c[0] = self.c[0].cos();
        for k in 1..n {
            let ss: f64 = (1..=k).map(|j| j as f64 * self.c[j] * c[k - j]).sum();
            let cc: f64 = (1..=k).map(|j| j as f64 * self.c[j] * s[k - j]).sum();
            s[k] = ss / k as f64;
            c[k] = -cc / k as f64;
        }
        (Series { c: s }, Series { c })
    }

    /// Zero series of the same length (for callers that accumulate).
    pub fn zeros_like(&self) -> Series {
        self.zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Derivative, Jet};
    use num_dual::{Dual64, HyperDual, HyperDual64, HyperHyperDual64};

    /// Every primitive at once (as the jet tests): the series coefficients $k!\,a_k$ are the
    /// derivatives num-dual computes.
    fn f<N: Number>(z: N) -> N {
        let a = z.exp() * z.tanh() + z.sin() * z.cos().powi(2);
        let b = (z.clone() * z.constant(0.3) + z.constant(2.0)).ln() + z.erf() + z.gelu();
        let c = z.sigmoid() * z.softplus() / (z.constant(1.5) + z.clone() * z.clone()).sqrt();
        let d = (z.clone() + z.constant(3.0)).powf(1.7) + z.abs() * z.relu() + z.powi(-2);
        let e = (z.clone() * z.constant(0.1)).ln_1p() + z.pow(&z.constant(0.5));
        a + b + c + d + e
    }

    #[test]
    fn coefficients_are_the_derivatives_over_factorials() {
        for &z in &[0.3, 1.1, 2.5] {
            let s = f(Series::variable(z, 5));
            let want = [
                f(z),
                f(Dual64::seed(z, [true; 4])).top(),
                f(HyperDual64::seed(z, [true; 4])).top(),
                f(HyperHyperDual64::seed(z, [true; 4])).top(),
                f(HyperDual::<HyperDual64>::seed(z, [true; 4])).top(),
            ];
            let mut fact = 1.0;
            for (k, w) in want.iter().enumerate() {
                if k > 0 {
                    fact *= k as f64;
                }
                let got = s.coefficients()[k] * fact;
                assert!(
                    (got - w).abs() <= 1e-12 * w.abs().max(1.0),
                    "z = {z}, order {k}: {got} vs {w}"
                );
            }
        }
    }

    #[test]
    fn high_orders_match_closed_forms() {
        // e^{2t}: 2^k / k!; 1/(1 − t): 1; tanh and erf against jets at order 4 are covered above,
        // so here orders beyond 4, where only the recurrences speak.
        let t = Series::variable(0.0, 12);
        let e = (t.clone() * t.constant(2.0)).exp();
        let mut fact = 1.0;
        for k in 0..12 {
            if k > 0 {
                fact *= k as f64;
            }
            let want = 2f64.powi(k as i32) / fact;
            assert!((e.coefficients()[k] - want).abs() < 1e-14 * want.max(1.0));
        }
        let g = t.constant(1.0) / (t.constant(1.0) - t.clone());
        assert!(g.coefficients().iter().all(|c| (c - 1.0).abs() < 1e-15));
        // sin² + cos² = 1 and (√a)² = a, to every order
        let a = Series::variable(0.7, 12) * Series::variable(0.7, 12) + t.constant(0.4);
        let one = a.sin().powi(2) + a.cos().powi(2);
        assert!((one.coefficients()[0] - 1.0).abs() < 1e-15);
        assert!(one.coefficients()[1..].iter().all(|c| c.abs() < 1e-13));
        let back = a.sqrt().powi(2) - a.clone();
        assert!(back.coefficients().iter().all(|c| c.abs() < 1e-13));
        // tanh = (e^{2a} − 1)/(e^{2a} + 1); erf' = 2/√π e^{−a²} integrates back
        let two_a = a.clone() * a.constant(2.0);
        let th = (two_a.exp() - a.constant(1.0)) / (two_a.exp() + a.constant(1.0)) - a.tanh();
        assert!(th.coefficients().iter().all(|c| c.abs() < 1e-13));
        let x = Jet::seed(0.3, 4, &[true; 4]);
        let jet = *x.erf().top();
        let ser = Series::variable(0.3, 5).erf().coefficients()[4] * 24.0;
        assert!((jet - ser).abs() < 1e-12);
    }
}
