//! The scalar types expressions are evaluated over.
//!
//! [`Number`] is the one numeric interface of the evaluator: plain `f64` for values, and the
//! num-dual types for derivatives. A derivative of order $k$ along directions
//! $e_{d_1}, \dots, e_{d_k}$ (repetitions allowed) is the coefficient of
//! $\varepsilon_1 \cdots \varepsilon_k$ when every parameter $\theta_p$ is seeded as
//! $\theta_p + \sum_{i : d_i = p} \varepsilon_i$ with nilpotent $\varepsilon_i^2 = 0$:
//!
//! | order | type |
//! |---|---|
//! | 0 | `f64` |
//! | 1 | `Dual64` |
//! | 2 | `HyperDual64` |
//! | 3 | `HyperHyperDual64` |
//! | 4 | `HyperDual<HyperDual64>` |
//!
//! num-dual has no `erf`; it is added here through the chain rule on the public fields of each
//! type, with $\operatorname{erf}'(z) = \tfrac{2}{\sqrt\pi} e^{-z^2}$.

use num_dual::{Dual, DualNum, HyperDual, HyperHyperDual};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A scalar the expression evaluator can compute with.
///
/// The provided methods build the activations from the primitives so that every
/// implementation shares one definition (and the same branches for numerical stability).
pub trait Number:
    Clone
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// The constant `v`, of the same kind as `self` (e.g. the same precision).
    fn constant(&self, v: f64) -> Self;
    /// The value (the real part of a dual number), rounded to `f64`.
    fn re(&self) -> f64;
    /// Whether every derivative part is exactly zero (a constant). `false` when not known.
    fn derivative_free(&self) -> bool {
        false
    }
    /// Whether the value and every derivative part are exactly zero.
    fn all_zero(&self) -> bool {
        self.re() == 0.0 && self.derivative_free()
    }
    /// Whether the value and every derivative part are finite (only the value where the parts
    /// are not inspected).
    fn finite(&self) -> bool {
        self.re().is_finite()
    }
    /// $e^z$
    fn exp(&self) -> Self;
    /// $\ln z$
    fn ln(&self) -> Self;
    /// $\ln(1+z)$, accurate for small $z$
    fn ln_1p(&self) -> Self;
    /// $\sqrt z$
    fn sqrt(&self) -> Self;
    /// $z^n$, $n$ an integer (negative bases allowed)
    fn powi(&self, n: i32) -> Self;
    /// $z^a$, $a$ a real constant
    fn powf(&self, a: f64) -> Self;
    /// $\sin z$
    fn sin(&self) -> Self;
    /// $\cos z$
    fn cos(&self) -> Self;
    /// $\tanh z$
    fn tanh(&self) -> Self;
    /// the error function
    fn erf(&self) -> Self;

    /// `self += a · b` (types with costly temporaries override it).
    fn mul_acc(&mut self, a: &Self, b: &Self) {
        *self = self.clone() + a.clone() * b.clone();
    }

    /// `self + o` from references: the same value as `self.clone() + o.clone()` (types with
    /// costly clones, the MPFR jets, override it to skip the copies).
    fn add_ref(&self, o: &Self) -> Self {
        self.clone() + o.clone()
    }

    /// `self - o` from references (see [`Number::add_ref`]).
    fn sub_ref(&self, o: &Self) -> Self {
        self.clone() - o.clone()
    }

    /// `self · o` from references (see [`Number::add_ref`]).
    fn mul_ref(&self, o: &Self) -> Self {
        self.clone() * o.clone()
    }

    /// `self / o` from references (see [`Number::add_ref`]).
    fn div_ref(&self, o: &Self) -> Self {
        self.clone() / o.clone()
    }

    /// $z^w = e^{w \ln z}$
    fn pow(&self, w: &Self) -> Self {
        (w.clone() * self.ln()).exp()
    }

    /// $\sigma(z) = 1/(1+e^{-z})$, evaluated without overflow on either side.
    fn sigmoid(&self) -> Self {
        let one = self.constant(1.0);
        if self.re() >= 0.0 {
            one.clone() / (one + (-self.clone()).exp())
        } else {
            let e = self.exp();
            e.clone() / (one + e)
        }
    }

    /// $\log(1 + e^z)$, evaluated without overflow.
    fn softplus(&self) -> Self {
        if self.re() > 0.0 {
            self.clone() + (-self.clone()).exp().ln_1p()
        } else {
            self.exp().ln_1p()
        }
    }

    /// $|z|$; the branch is taken on the value, so derivatives are those of $\pm z$.
    fn abs(&self) -> Self {
        if self.re() >= 0.0 {
            self.clone()
        } else {
            -self.clone()
        }
    }

    /// $\max(z, 0)$; derivatives are those of $z$ or of $0$.
    fn relu(&self) -> Self {
        if self.re() > 0.0 {
            self.clone()
        } else {
            self.clone() * self.constant(0.0)
        }
    }

    /// The exact GELU $z\,\Phi(z) = \tfrac z2\,(1 + \operatorname{erf}(z/\sqrt2))$.
    fn gelu(&self) -> Self {
        let half = self.constant(0.5);
        let inner = (self.clone() / self.constant(2.0).sqrt()).erf();
        half * self.clone() * (self.constant(1.0) + inner)
    }
}

impl Number for f64 {
    fn derivative_free(&self) -> bool {
        true
    }
    fn constant(&self, v: f64) -> Self {
        v
    }
    fn re(&self) -> f64 {
        *self
    }
    fn exp(&self) -> Self {
        f64::exp(*self)
    }
    fn ln(&self) -> Self {
        f64::ln(*self)
    }
    fn ln_1p(&self) -> Self {
        f64::ln_1p(*self)
    }
    fn sqrt(&self) -> Self {
        f64::sqrt(*self)
    }
    fn powi(&self, n: i32) -> Self {
        f64::powi(*self, n)
    }
    fn powf(&self, a: f64) -> Self {
        f64::powf(*self, a)
    }
    fn sin(&self) -> Self {
        f64::sin(*self)
    }
    fn cos(&self) -> Self {
        f64::cos(*self)
    }
    fn tanh(&self) -> Self {
        f64::tanh(*self)
    }
    fn erf(&self) -> Self {
        libm::erf(*self)
    }
    fn pow(&self, w: &Self) -> Self {
        f64::powf(*self, *w)
    }
}

/// The derivatives $(\operatorname{erf}', \operatorname{erf}'', \operatorname{erf}''')$ at `z`,
/// computed in `z`'s own type (so nested duals propagate).
fn erf_derivatives<T: Number>(z: &T) -> (T, T, T) {
    let d1 = (-(z.clone() * z.clone())).exp() * z.constant(std::f64::consts::FRAC_2_SQRT_PI);
    let d2 = z.constant(-2.0) * z.clone() * d1.clone();
    let d3 = (z.constant(4.0) * z.clone() * z.clone() - z.constant(2.0)) * d1.clone();
    (d1, d2, d3)
}

/// The methods every num-dual type forwards to [`DualNum`].
macro_rules! forward_dual_num {
    () => {
        fn constant(&self, v: f64) -> Self {
            Self::from(v)
        }
        fn exp(&self) -> Self {
            DualNum::exp(self)
        }
        // A function of a constant is a constant: without this, a derivative that is infinite
        // where the function is finite (sqrt and powf at 0, ln at 0) times a zero derivative
        // part would be NaN in every direction, and a NaN in ∂u/∂b from `sqrt(b)` would be
        // blamed on the first term evaluated, not on b.
        fn ln(&self) -> Self {
            if Number::derivative_free(self) {
                return Self::from(Number::re(self).ln());
            }
            DualNum::ln(self)
        }
        fn ln_1p(&self) -> Self {
            if Number::derivative_free(self) {
                return Self::from(Number::re(self).ln_1p());
            }
            DualNum::ln_1p(self)
        }
        fn sqrt(&self) -> Self {
            if Number::derivative_free(self) {
                return Self::from(Number::re(self).sqrt());
            }
            DualNum::sqrt(self)
        }
        fn powi(&self, n: i32) -> Self {
            DualNum::powi(self, n)
        }
        fn powf(&self, a: f64) -> Self {
            if Number::derivative_free(self) {
                return Self::from(Number::re(self).powf(a));
            }
            DualNum::powf(self, a)
        }
        fn sin(&self) -> Self {
            DualNum::sin(self)
        }
        fn cos(&self) -> Self {
            DualNum::cos(self)
        }
        // num-dual's tanh is sinh/cosh, whose derivative parts are ∞/∞ = NaN past |z| ≈ 355
        // (a saturated unit): tanh z = (1 − e^{−2z})/(1 + e^{−2z}) for z ≥ 0, odd for z < 0.
        fn tanh(&self) -> Self {
            if Number::re(self).abs() < 20.0 {
                return DualNum::tanh(self);
            }
            let one = Self::from(1.0);
            if Number::re(self) >= 0.0 {
                let e = DualNum::exp(&(self.clone() * Self::from(-2.0)));
                (one.clone() - e.clone()) / (one + e)
            } else {
                let e = DualNum::exp(&(self.clone() * Self::from(2.0)));
                (e.clone() - one.clone()) / (e + one)
            }
        }
    };
}

impl<T> Number for Dual<T>
where
    T: Number + DualNum<Primitive = f64> + Copy,
    Dual<T>: DualNum<Primitive = f64> + From<f64>,
{
    forward_dual_num!();
    fn re(&self) -> f64 {
        Number::re(&self.re)
    }
    fn derivative_free(&self) -> bool {
        self.re.derivative_free() && self.eps.all_zero()
    }
    fn finite(&self) -> bool {
        self.re.finite() && self.eps.finite()
    }
    fn erf(&self) -> Self {
        let (d1, _, _) = erf_derivatives(&self.re);
        Dual::new(self.re.erf(), self.eps * d1)
    }
}

impl<T> Number for HyperDual<T>
where
    T: Number + DualNum<Primitive = f64> + Copy,
    HyperDual<T>: DualNum<Primitive = f64> + From<f64>,
{
    forward_dual_num!();
    fn re(&self) -> f64 {
        Number::re(&self.re)
    }
    fn derivative_free(&self) -> bool {
        self.re.derivative_free()
            && self.eps1.all_zero()
            && self.eps2.all_zero()
            && self.eps1eps2.all_zero()
    }
    fn finite(&self) -> bool {
        [&self.re, &self.eps1, &self.eps2, &self.eps1eps2]
            .iter()
            .all(|e| e.finite())
    }
    fn erf(&self) -> Self {
        let (d1, d2, _) = erf_derivatives(&self.re);
        HyperDual::new(
            self.re.erf(),
            self.eps1 * d1,
            self.eps2 * d1,
            self.eps1eps2 * d1 + self.eps1 * self.eps2 * d2,
        )
    }
}

impl<T> Number for HyperHyperDual<T>
where
    T: Number + DualNum<Primitive = f64> + Copy,
    HyperHyperDual<T>: DualNum<Primitive = f64> + From<f64>,
{
    forward_dual_num!();
    fn re(&self) -> f64 {
        Number::re(&self.re)
    }
    fn derivative_free(&self) -> bool {
        self.re.derivative_free()
            && [
                &self.eps1,
                &self.eps2,
                &self.eps3,
                &self.eps1eps2,
                &self.eps1eps3,
                &self.eps2eps3,
                &self.eps1eps2eps3,
            ]
            .iter()
            .all(|e| e.all_zero())
    }
    fn finite(&self) -> bool {
        [
            &self.re,
            &self.eps1,
            &self.eps2,
            &self.eps3,
            &self.eps1eps2,
            &self.eps1eps3,
            &self.eps2eps3,
            &self.eps1eps2eps3,
        ]
        .iter()
        .all(|e| e.finite())
    }
    fn erf(&self) -> Self {
        let (d1, d2, d3) = erf_derivatives(&self.re);
        let s = self;
        HyperHyperDual::new(
            s.re.erf(),
            s.eps1 * d1,
            s.eps2 * d1,
            s.eps3 * d1,
            s.eps1eps2 * d1 + s.eps1 * s.eps2 * d2,
            s.eps1eps3 * d1 + s.eps1 * s.eps3 * d2,
            s.eps2eps3 * d1 + s.eps2 * s.eps3 * d2,
            s.eps1eps2eps3 * d1
                + (s.eps1 * s.eps2eps3 + s.eps2 * s.eps1eps3 + s.eps3 * s.eps1eps2) * d2
                + s.eps1 * s.eps2 * s.eps3 * d3,
        )
    }
}

/// A number type that carries one mixed partial derivative of a fixed order.
///
/// `seed(value, hits)` builds a variable whose infinitesimal parts are set for the directions
/// `i` with `hits[i]`; `top()` reads the coefficient of $\varepsilon_1\cdots\varepsilon_k$.
pub trait Derivative: Number + Copy {
    /// The derivative order $k$ this type carries.
    const ORDER: usize;
    /// A variable with value `re` and unit infinitesimals in the directions marked by `hits`.
    fn seed(re: f64, hits: [bool; 4]) -> Self;
    /// The coefficient of $\varepsilon_1 \cdots \varepsilon_k$: the mixed partial derivative.
    fn top(&self) -> f64;
}

impl Derivative for f64 {
    const ORDER: usize = 0;
    fn seed(re: f64, _: [bool; 4]) -> Self {
        re
    }
    fn top(&self) -> f64 {
        *self
    }
}

fn unit(hit: bool) -> f64 {
    if hit {
        1.0
    } else {
        0.0
    }
}

impl Derivative for Dual<f64> {
    const ORDER: usize = 1;
    fn seed(re: f64, h: [bool; 4]) -> Self {
        Dual::new(re, unit(h[0]))
    }
    fn top(&self) -> f64 {
        self.eps
    }
}

impl Derivative for HyperDual<f64> {
    const ORDER: usize = 2;
    fn seed(re: f64, h: [bool; 4]) -> Self {
        HyperDual::new(re, unit(h[0]), unit(h[1]), 0.0)
    }
    fn top(&self) -> f64 {
        self.eps1eps2
    }
}

impl Derivative for HyperHyperDual<f64> {
    const ORDER: usize = 3;
    fn seed(re: f64, h: [bool; 4]) -> Self {
        HyperHyperDual::new(re, unit(h[0]), unit(h[1]), unit(h[2]), 0.0, 0.0, 0.0, 0.0)
    }
    fn top(&self) -> f64 {
        self.eps1eps2eps3
    }
}

impl Derivative for HyperDual<HyperDual<f64>> {
    const ORDER: usize = 4;
    fn seed(re: f64, h: [bool; 4]) -> Self {
        let inner = HyperDual::new(re, unit(h[2]), unit(h[3]), 0.0);
        let z = HyperDual::from_re(0.0);
        HyperDual::new(
            inner,
            HyperDual::from_re(unit(h[0])),
            HyperDual::from_re(unit(h[1])),
            z,
        )
    }
    fn top(&self) -> f64 {
        self.eps1eps2.eps1eps2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_dual::{Dual64, HyperDual64, HyperHyperDual64};

    /// erf and its first four derivatives at z, in closed form.
    fn erf_closed(z: f64) -> [f64; 5] {
        let g = std::f64::consts::FRAC_2_SQRT_PI * (-z * z).exp();
        [
            libm::erf(z),
            g,
            -2.0 * z * g,
            (4.0 * z * z - 2.0) * g,
            (-8.0 * z * z * z + 12.0 * z) * g,
        ]
    }

    #[test]
    fn erf_derivatives_match_closed_form_at_every_order() {
        for &z in &[-1.3, -0.2, 0.0, 0.7, 2.1] {
            let want = erf_closed(z);
            let d1 = Number::erf(&Dual64::seed(z, [true; 4])).top();
            let d2 = Number::erf(&HyperDual64::seed(z, [true; 4])).top();
            let d3 = Number::erf(&HyperHyperDual64::seed(z, [true; 4])).top();
            let d4 = Number::erf(&HyperDual::<HyperDual64>::seed(z, [true; 4])).top();
            for (got, want) in [d1, d2, d3, d4].iter().zip(&want[1..]) {
                assert!(
                    (got - want).abs() <= 1e-14 * (1.0 + want.abs()),
                    "{got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn fourth_order_type_gives_fourth_derivative() {
        // d^4/dz^4 exp(2z) = 16 exp(2z)
        let z = 0.3;
        let v = Number::exp(&(HyperDual::<HyperDual64>::seed(z, [true; 4]) * HyperDual::from(2.0)));
        assert!((v.top() - 16.0 * (2.0 * z).exp()).abs() < 1e-12);
    }

    #[test]
    fn activations_are_stable_far_out() {
        assert_eq!(Number::sigmoid(&-800.0f64), 0.0);
        assert_eq!(Number::sigmoid(&800.0f64), 1.0);
        assert_eq!(Number::softplus(&800.0f64), 800.0);
        assert!(Number::softplus(&-800.0f64) >= 0.0);
        let s = Number::sigmoid(&Dual64::seed(-40.0, [true; 4]));
        assert!(s.top().is_finite() && s.top() > 0.0);
    }

    /// The audit found it: a saturated `tanh` unit (argument 392) gave NaN derivatives, since
    /// num-dual's tanh is sinh/cosh (∞/∞).
    #[test]
    fn tanh_is_finite_when_saturated_and_continuous_at_the_switch() {
        for z in [400.0, -400.0, 1e4] {
            let t = Number::tanh(&HyperHyperDual64::seed(z, [true; 4]));
            assert!(Number::finite(&t), "{z}: {t:?}");
            assert_eq!(t.re, f64::signum(z));
            assert_eq!(t.eps1eps2eps3, 0.0);
        }
        // the closed forms t' = 1/cosh², t'' = −2 t t', relative, on the stable branch (|z| ≥ 20,
        // where sinh/cosh loses t'' to cancellation) and on num-dual's (|z| < 20)
        for z in [3.0, -7.5, 19.9, 20.0001, -20.5, 25.0, 300.0] {
            let a = Number::tanh(&HyperDual64::seed(z, [true; 4]));
            let (t, d1) = (f64::tanh(z), 1.0 / f64::cosh(z).powi(2));
            let d2 = -2.0 * t * d1;
            assert!((a.re - t).abs() <= 1e-15, "{z}: {} {t}", a.re);
            for (got, want) in [(a.eps1, d1), (a.eps1eps2, d2)] {
                if z.abs() < 19.0 || z.abs() >= 20.0 {
                    assert!(
                        (got - want).abs() <= 1e-9 * want.abs(),
                        "{z}: {got} against {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn gelu_is_the_erf_form() {
        let z: f64 = 0.8;
        let want = 0.5 * z * (1.0 + libm::erf(z / 2f64.sqrt()));
        assert!((Number::gelu(&z) - want).abs() < 1e-16);
    }
}

#[cfg(test)]
mod constant_tests {
    use super::*;
    use num_dual::{Dual64, HyperDual64};

    #[test]
    fn a_function_of_a_constant_is_a_constant() {
        // sqrt at 0 of a constant: no NaN from 0 × ∞ in the derivative parts
        let zero = Dual64::from(0.0);
        let r = Number::sqrt(&zero);
        assert_eq!((r.re, r.eps), (0.0, 0.0));
        // a variable at 0 still has its singular derivative
        let var = Dual64::new(0.0, 1.0);
        assert!(!Number::sqrt(&var).eps.is_finite());
        // nested: a constant of a second-order dual
        let c = HyperDual64::from(0.0);
        assert!(Number::derivative_free(&c));
        let r = Number::ln(&HyperDual64::from(0.0));
        assert!(r.re == f64::NEG_INFINITY && r.eps1 == 0.0 && r.eps1eps2 == 0.0);
        assert!(!Number::derivative_free(&HyperDual64::new(
            1.0, 0.0, 0.0, 1.0
        )));
    }
}
