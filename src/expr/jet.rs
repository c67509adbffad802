//! Hyper-dual jets over any scalar: the project's own forward-mode AD, for `rug::Float`.
//!
//! num-dual carries only `f32`/`f64`. A [`Jet`] of order $k \le 4$ over a scalar `S` holds the
//! $2^k$ coefficients of $\varepsilon_T = \prod_{i \in T} \varepsilon_i$ for every subset $T$ of
//! $k$ nilpotent infinitesimals ($\varepsilon_i^2 = 0$). Seeding parameter $\theta_p$ as
//! $\theta_p + \sum_{i : d_i = p} \varepsilon_i$ makes the coefficient of
//! $\varepsilon_1\cdots\varepsilon_k$ the mixed partial $\partial_{d_1}\cdots\partial_{d_k} f$,
//! exactly as the num-dual types do for `f64` (the test suite checks the two agree).
//!
//! Products are subset convolutions, $(ab)_S = \sum_{T \subseteq S} a_T\, b_{S \setminus T}$, and
//! a primitive $f$ is applied through its Taylor expansion at the real part,
//! $f(a_0 + h) = \sum_{j \le k} f^{(j)}(a_0)\, h^j / j!$, with the derivatives $f^{(j)}$ written in
//! closed form for every primitive (erf included: $\operatorname{erf}' = \tfrac{2}{\sqrt\pi}
//! e^{-z^2}$, then Hermite-type recurrences).

use super::number::Number;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Highest order a [`Jet`] carries.
pub const MAX_JET_ORDER: usize = 4;

/// A hyper-dual number of order $k$ over the scalar `S` (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Jet<S> {
    /// Coefficients indexed by the bitmask of the subset $T$; length $2^k$.
    c: Vec<S>,
}

impl<S: Number> Jet<S> {
    /// A variable with value `re` and unit infinitesimals in the directions marked by `hits`
    /// (the first `order` entries are used).
    pub fn seed(re: S, order: usize, hits: &[bool]) -> Jet<S> {
        let zero = re.constant(0.0);
        let mut c = vec![zero; 1 << order];
        for (i, &h) in hits.iter().take(order).enumerate() {
            if h {
                c[1 << i] = re.constant(1.0);
            }
        }
        c[0] = re;
        Jet { c }
    }

    /// The coefficient of $\varepsilon_1\cdots\varepsilon_k$: the mixed partial derivative.
    pub fn top(&self) -> &S {
        &self.c[self.c.len() - 1]
    }

    /// The real part.
    pub fn value(&self) -> &S {
        &self.c[0]
    }

    fn order_mask(&self) -> usize {
        self.c.len() - 1
    }

    fn like(&self, v: f64) -> Jet<S> {
        let zero = self.c[0].constant(0.0);
        let mut c = vec![zero; self.c.len()];
        c[0] = self.c[0].constant(v);
        Jet { c }
    }

    fn zip(self, other: Jet<S>, f: impl Fn(S, S) -> S) -> Jet<S> {
        // A constant jet (length 1) meets a full one: broadcast its real part.
        if self.c.len() != other.c.len() {
            let n = self.c.len().max(other.c.len());
            let pad = |j: Jet<S>| {
                if j.c.len() == n {
                    j
                } else {
                    let mut c = vec![j.c[0].constant(0.0); n];
                    c[0] = j.c[0].clone();
                    Jet { c }
                }
            };
            return pad(self).zip(pad(other), f);
        }
        Jet {
            c: self
                .c
                .into_iter()
                .zip(other.c)
                .map(|(a, b)| f(a, b))
                .collect(),
        }
    }

    /// Applies $f$ given $f^{(j)}(a_0)$ for $j = 0..k$: $\sum_j f^{(j)}(a_0) h^j / j!$.
    fn chain(&self, derivs: Vec<S>) -> Jet<S> {
        let mut h = self.clone();
        h.c[0] = h.c[0].constant(0.0);
        let mut out = self.like(0.0);
        out.c[0] = derivs[0].clone();
        let mut power = self.like(1.0); // h^0
        let mut factorial = 1.0;
        for (j, d) in derivs.iter().enumerate().skip(1) {
            power = power.product(&h);
            factorial *= j as f64;
            let scale = d.div_ref(&d.constant(factorial));
            for (o, p) in out.c.iter_mut().zip(&power.c).skip(1) {
                o.mul_acc(&scale, p);
            }
        }
        out
    }

    /// Number of derivatives the chain rule needs: $k + 1$.
    fn n_derivs(&self) -> usize {
        self.order_mask().count_ones() as usize + 1
    }
}

impl<S: Number> Add for Jet<S> {
    type Output = Jet<S>;
    fn add(self, o: Jet<S>) -> Jet<S> {
        self.zip(o, |a, b| a + b)
    }
}

impl<S: Number> Sub for Jet<S> {
    type Output = Jet<S>;
    fn sub(self, o: Jet<S>) -> Jet<S> {
        self.zip(o, |a, b| a - b)
    }
}

impl<S: Number> Neg for Jet<S> {
    type Output = Jet<S>;
    fn neg(self) -> Jet<S> {
        Jet {
            c: self.c.into_iter().map(|a| -a).collect(),
        }
    }
}

impl<S: Number> Mul for Jet<S> {
    type Output = Jet<S>;
    fn mul(self, o: Jet<S>) -> Jet<S> {
        self.product(&o)
    }
}

impl<S: Number> Jet<S> {
    /// $a\,b$: a subset convolution, or a scaling when one side is a constant.
    fn product(&self, o: &Jet<S>) -> Jet<S> {
        if self.c.len() != o.c.len() {
            // One side is a constant: scale.
            let (k, j) = if self.c.len() == 1 {
                (&self.c[0], o)
            } else {
                (&o.c[0], self)
            };
            return Jet {
                c: j.c.iter().map(|a| a.mul_ref(k)).collect(),
            };
        }
        let n = self.c.len();
        let mut c = Vec::with_capacity(n);
        for s in 0..n {
            // Σ over submasks t of s of a_t b_{s∖t}
            let mut acc = self.c[0].constant(0.0);
            let mut t = s;
            loop {
                acc.mul_acc(&self.c[t], &o.c[s & !t]);
                if t == 0 {
                    break;
                }
                t = (t - 1) & s;
            }
            c.push(acc);
        }
        Jet { c }
    }

    /// $a / b$: a scaling when $b$ is a constant, else $a$ times $1/b$ by the chain rule.
    fn quotient(&self, o: &Jet<S>) -> Jet<S> {
        if o.c.len() == 1 {
            let k = &o.c[0];
            return Jet {
                c: self.c.iter().map(|a| a.div_ref(k)).collect(),
            };
        }
        // 1/x: d_j = (−1)^j j! / x^{j+1}
        let x = o.c[0].clone();
        let inv = x.constant(1.0) / x.clone();
        let mut derivs = vec![inv.clone()];
        let mut fact = 1.0;
        let mut p = inv.clone();
        for j in 1..o.n_derivs() {
            fact *= j as f64;
            p = p * inv.clone();
            let sign = if j % 2 == 1 { -fact } else { fact };
            derivs.push(p.clone() * x.constant(sign));
        }
        self.product(&o.chain(derivs))
    }

    /// Coefficient-wise `f` from references when the lengths agree (else by value, padding the
    /// constant side).
    fn zip_ref(&self, other: &Jet<S>, f: impl Fn(&S, &S) -> S, g: impl Fn(S, S) -> S) -> Jet<S> {
        if self.c.len() != other.c.len() {
            return self.clone().zip(other.clone(), g);
        }
        Jet {
            c: self.c.iter().zip(&other.c).map(|(a, b)| f(a, b)).collect(),
        }
    }
}

impl<S: Number> Div for Jet<S> {
    type Output = Jet<S>;
    fn div(self, o: Jet<S>) -> Jet<S> {
        self.quotient(&o)
    }
}

impl<S: Number> Number for Jet<S> {
    fn constant(&self, v: f64) -> Self {
        self.like(v)
    }
    fn add_ref(&self, o: &Self) -> Self {
        self.zip_ref(o, S::add_ref, |a, b| a + b)
    }
    fn sub_ref(&self, o: &Self) -> Self {
        self.zip_ref(o, S::sub_ref, |a, b| a - b)
    }
    fn mul_ref(&self, o: &Self) -> Self {
        self.product(o)
    }
    fn div_ref(&self, o: &Self) -> Self {
        self.quotient(o)
    }

    fn re(&self) -> f64 {
        self.c[0].re()
    }

    fn finite(&self) -> bool {
        self.c.iter().all(Number::finite)
    }

    fn exp(&self) -> Self {
        let e = self.c[0].exp();
        self.chain(vec![e; self.n_derivs()])
    }

    fn ln(&self) -> Self {
        let x = &self.c[0];
        let inv = x.constant(1.0) / x.clone();
        let mut d = vec![x.ln()];
        let mut p = x.constant(1.0);
        let mut fact = 1.0;
        for j in 1..self.n_derivs() {
            p = p * inv.clone();
            let sign = if j % 2 == 1 { fact } else { -fact };
            d.push(p.clone() * x.constant(sign));
            fact *= j as f64;
        }
        self.chain(d)
    }

    fn ln_1p(&self) -> Self {
        let one_plus = self.clone() + self.like(1.0);
        let mut r = one_plus.ln();
        r.c[0] = self.c[0].ln_1p();
        r
    }

    fn sqrt(&self) -> Self {
        self.powf(0.5)
    }

    fn powi(&self, n: i32) -> Self {
        let x = &self.c[0];
        let mut d = Vec::new();
        let mut coef = 1.0;
        for j in 0..self.n_derivs() {
            let e = n - j as i32;
            if coef == 0.0 {
                d.push(x.constant(0.0));
            } else {
                d.push(x.powi(e) * x.constant(coef));
            }
            coef *= e as f64;
        }
        self.chain(d)
    }

    fn powf(&self, a: f64) -> Self {
        let x = &self.c[0];
        let mut d = Vec::new();
        let mut coef = 1.0;
        for j in 0..self.n_derivs() {
            let e = a - j as f64;
            d.push(if a == 0.5 && j == 0 {
                x.sqrt()
            } else {
                x.powf(e) * x.constant(coef)
            });
            coef *= e;
        }
        self.chain(d)
    }

    fn sin(&self) -> Self {
        let (s, c) = (self.c[0].sin(), self.c[0].cos());
        let cycle = [s.clone(), c.clone(), -s, -c];
        self.chain((0..self.n_derivs()).map(|j| cycle[j % 4].clone()).collect())
    }

    fn cos(&self) -> Self {
        let (s, c) = (self.c[0].sin(), self.c[0].cos());
        let cycle = [c.clone(), -s.clone(), -c, s];
        self.chain((0..self.n_derivs()).map(|j| cycle[j % 4].clone()).collect())
    }

    fn tanh(&self) -> Self {
        // t' = 1 − t², t'' = −2 t t', t''' = −2 (t'² + t t''), t'''' = −2 (3 t' t'' + t t''')
        let t = self.c[0].tanh();
        let two = t.constant(2.0);
        let d1 = t.constant(1.0) - t.clone() * t.clone();
        let d2 = -(two.clone() * t.clone() * d1.clone());
        let d3 = -(two.clone() * (d1.clone() * d1.clone() + t.clone() * d2.clone()));
        let d4 = -(two * (t.constant(3.0) * d1.clone() * d2.clone() + t.clone() * d3.clone()));
        let all = [t, d1, d2, d3, d4];
        self.chain(all[..self.n_derivs()].to_vec())
    }

    fn erf(&self) -> Self {
        // erf' = g = 2/√π e^{−z²}; erf'' = −2z g; erf''' = (4z² − 2) g; erf'''' = (−8z³ + 12z) g
        let z = self.c[0].clone();
        let two_over_sqrt_pi = z.constant(2.0) / z.constant(std::f64::consts::PI).sqrt();
        let g = (-(z.clone() * z.clone())).exp() * two_over_sqrt_pi;
        let z2 = z.clone() * z.clone();
        let all = [
            z.erf(),
            g.clone(),
            z.constant(-2.0) * z.clone() * g.clone(),
            (z.constant(4.0) * z2.clone() - z.constant(2.0)) * g.clone(),
            (z.constant(-8.0) * z2 * z.clone() + z.constant(12.0) * z.clone()) * g,
        ];
        self.chain(all[..self.n_derivs()].to_vec())
    }
}

impl Number for rug::Float {
    fn constant(&self, v: f64) -> Self {
        rug::Float::with_val(self.prec(), v)
    }
    fn re(&self) -> f64 {
        self.to_f64()
    }
    fn exp(&self) -> Self {
        self.clone().exp()
    }
    fn ln(&self) -> Self {
        self.clone().ln()
    }
    fn ln_1p(&self) -> Self {
        self.clone().ln_1p()
    }
    fn sqrt(&self) -> Self {
        self.clone().sqrt()
    }
    fn powi(&self, n: i32) -> Self {
        use rug::ops::Pow;
        self.clone().pow(n)
    }
    fn powf(&self, a: f64) -> Self {
        use rug::ops::Pow;
        self.clone().pow(a)
    }
    fn sin(&self) -> Self {
        self.clone().sin()
    }
    fn cos(&self) -> Self {
        self.clone().cos()
    }
    fn tanh(&self) -> Self {
        self.clone().tanh()
    }
    fn erf(&self) -> Self {
        self.clone().erf()
    }
    fn pow(&self, w: &Self) -> Self {
        use rug::ops::Pow;
        self.clone().pow(w)
    }
    fn mul_acc(&mut self, a: &Self, b: &Self) {
        *self += a * b;
    }
    // Rounded to the left operand's precision, as `a.clone() + b.clone()` is.
    fn add_ref(&self, o: &Self) -> Self {
        rug::Float::with_val(self.prec(), self + o)
    }
    fn sub_ref(&self, o: &Self) -> Self {
        rug::Float::with_val(self.prec(), self - o)
    }
    fn mul_ref(&self, o: &Self) -> Self {
        rug::Float::with_val(self.prec(), self * o)
    }
    fn div_ref(&self, o: &Self) -> Self {
        rug::Float::with_val(self.prec(), self / o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Derivative, Number};
    use num_dual::{Dual64, HyperDual, HyperDual64, HyperHyperDual64};

    /// f(z) built from every primitive, evaluated as a jet of order k over f64 and as the
    /// num-dual type of order k: the top coefficients agree.
    fn f<N: Number>(z: N) -> N {
        let a = z.exp() * z.tanh() + z.sin() * z.cos().powi(2);
        let b = (z.clone() * z.constant(0.3) + z.constant(2.0)).ln() + z.erf() + z.gelu();
        let c = z.sigmoid() * z.softplus() / (z.constant(1.5) + z.clone() * z.clone()).sqrt();
        let d = (z.clone() + z.constant(3.0)).powf(1.7) + z.abs() * z.relu();
        a + b + c + d
    }

    #[test]
    fn jets_over_f64_agree_with_num_dual_at_every_order() {
        for &z in &[-0.8, 0.3, 1.1] {
            let want = [
                f(z),
                f(Dual64::seed(z, [true; 4])).top(),
                f(HyperDual64::seed(z, [true; 4])).top(),
                f(HyperHyperDual64::seed(z, [true; 4])).top(),
                f(HyperDual::<HyperDual64>::seed(z, [true; 4])).top(),
            ];
            for (k, w) in want.iter().enumerate() {
                let got = *f(Jet::seed(z, k, &[true; 4])).top();
                assert!(
                    (got - w).abs() <= 1e-13 * w.abs().max(1.0),
                    "order {k}: {got} vs {w}"
                );
            }
        }
    }

    #[test]
    fn jets_over_mpfr_match_f64_and_are_more_precise() {
        let z = 0.3;
        let want = *f(Jet::seed(z, 3, &[true; 4])).top();
        let hp = f(Jet::seed(rug::Float::with_val(256, z), 3, &[true; 4]));
        assert!((hp.top().to_f64() - want).abs() < 1e-12 * want.abs());
        // exp(z)^(1/2)^2 = exp(z), fourth derivative, exactly to ~2^-250
        let x = Jet::seed(rug::Float::with_val(256, 0.7), 4, &[true; 4]);
        let y = x.exp().sqrt().powi(2);
        let diff = y.top().clone() - rug::Float::with_val(256, 0.7).exp();
        assert!(diff.abs().to_f64() < 1e-70);
    }

    #[test]
    fn operations_from_references_equal_those_by_value() {
        let f = |v: f64| rug::Float::with_val(200, v);
        let x = Jet::seed(f(0.7), 3, &[true, false, true]).tanh();
        let y = Jet::seed(f(-1.3), 3, &[true, true, false]).exp();
        let k = Jet::seed(f(2.5), 0, &[]); // a constant jet: the padded branches
        for (a, b) in [(&x, &y), (&y, &x), (&x, &k), (&k, &y)] {
            assert_eq!(a.add_ref(b), a.clone() + b.clone());
            assert_eq!(a.sub_ref(b), a.clone() - b.clone());
            assert_eq!(a.mul_ref(b), a.clone() * b.clone());
            assert_eq!(a.div_ref(b), a.clone() / b.clone());
        }
        let (p, q) = (f(1.0) / f(3.0), f(-2.0).exp());
        assert_eq!(p.mul_ref(&q), p.clone() * q.clone());
        assert_eq!(p.div_ref(&q), p.clone() / q.clone());
        assert_eq!(p.sub_ref(&q), p.clone() - q.clone());
        assert_eq!(p.add_ref(&q).prec(), 200);
    }

    #[test]
    fn mixed_directions() {
        // u = x1² x2 with directions (x1, x1, x2): ∂³u/∂x1²∂x2 = 2
        let x1 = Jet::seed(0.4, 3, &[true, true, false]);
        let x2 = Jet::seed(1.3, 3, &[false, false, true]);
        let u = x1.clone() * x1 * x2;
        assert!((u.top() - 2.0).abs() < 1e-15);
    }
}
