//! Exact coefficients: small rationals, basis functions (monomials, optionally times a
//! sigmoid) and their sums, with their text and LaTeX.

use crate::expr::Number;
use num_integer::Integer;

/// A rational $p/q$ in lowest terms, $q > 0$ (num-rational's `Ratio<i64>`).
pub type Rational = num_rational::Rational64;

/// Its value.
pub(super) fn value(q: Rational) -> f64 {
    *q.numer() as f64 / *q.denom() as f64
}

/// $|q|$.
pub fn magnitude(q: Rational) -> Rational {
    if *q.numer() < 0 {
        -q
    } else {
        q
    }
}

/// The closest rational to `x` with denominator at most `max_den` (continued fractions), if it
/// is within `tol` (relative) of `x`.
pub fn rational(x: f64, max_den: i64, tol: f64) -> Option<Rational> {
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
        if (value(r) - x).abs() <= tol * x.abs().max(1e-300) {
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

/// A transcendental factor of a basis function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    /// $\sigma(\theta_v)$ (the constants a sigmoid gate produces).
    Sigmoid(usize),
    /// $e^{k\theta_v}$, $k = \pm 1$ (a variance or weight written `exp(l)`).
    Exp(usize, i32),
}

impl Factor {
    fn eval<N: Number>(self, theta: &[N]) -> N {
        match self {
            Factor::Sigmoid(v) => theta[v].sigmoid(),
            Factor::Exp(v, k) => (theta[v].clone() * theta[v].constant(f64::from(k))).exp(),
        }
    }
}

/// A basis function: $\prod_v \theta_v^{e_v}$, optionally times a [`Factor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Basis {
    /// `(variable, exponent)`, sorted, nonzero exponents.
    pub powers: Vec<(usize, i32)>,
    /// A $\sigma(\theta_s)$ or $e^{\pm\theta_s}$ factor.
    pub factor: Option<Factor>,
}

impl Basis {
    pub(super) fn one() -> Basis {
        Basis {
            powers: Vec::new(),
            factor: None,
        }
    }

    pub(super) fn degree(&self) -> i32 {
        self.powers.iter().map(|p| p.1.abs()).sum::<i32>() + i32::from(self.factor.is_some()) * 3
    }

    pub(super) fn eval<N: Number>(&self, theta: &[N]) -> N {
        let mut v = theta[0].constant(1.0);
        for &(var, e) in &self.powers {
            v = v * theta[var].powi(e);
        }
        if let Some(f) = self.factor {
            v = v * f.eval(theta);
        }
        v
    }
}

/// A coefficient $\sum_k q_k B_k$.
#[derive(Clone, Debug, PartialEq)]
pub struct Coef {
    /// The terms.
    pub terms: Vec<(Rational, Basis)>,
}

impl Coef {
    pub(super) fn eval<N: Number>(&self, theta: &[N]) -> N {
        let mut v = theta[0].constant(0.0);
        for (q, b) in &self.terms {
            v = v + b.eval(theta) * theta[0].constant(*q.numer() as f64)
                / theta[0].constant(*q.denom() as f64);
        }
        v
    }

    /// Multiplies by $q \prod \theta^{e}$.
    pub(super) fn scale(&self, q: Rational, powers: &[(usize, i32)]) -> Coef {
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
                        r * q,
                        Basis {
                            powers: p,
                            factor: b.factor,
                        },
                    )
                })
                .collect(),
        }
    }

    pub fn is_one(&self) -> bool {
        self.terms.len() == 1 && self.terms[0].0 == Rational::ONE && self.terms[0].1 == Basis::one()
    }

    /// Whether every term is a pure rational (no parameter).
    pub(super) fn is_rational(&self) -> bool {
        self.terms.iter().all(|(_, b)| *b == Basis::one())
    }

    /// $(q_1 + q_2 \sigma)\,m$ split as $(q_1 + q_2\sigma,\ m)$ when two terms share a
    /// non-constant monomial $m$.
    pub fn factored(&self) -> Option<(Coef, Basis)> {
        if self.terms.len() != 2
            || self.terms[0].1.powers != self.terms[1].1.powers
            || self.terms[0].1.powers.is_empty()
        {
            return None;
        }
        let m = Basis {
            powers: self.terms[0].1.powers.clone(),
            factor: None,
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
                            factor: b.factor,
                        },
                    )
                })
                .collect(),
        };
        Some((inner, m))
    }
}

/// The coefficients with denominators cleared: multiplied through by the parameters in
/// denominators and by the rational denominators (unless every coefficient is a plain rational).
/// The relation's text and LaTeX are written with these.
pub fn cleared(coefs: &[Coef]) -> Vec<Coef> {
    let mut neg_powers: Vec<(usize, i32)> = Vec::new();
    let mut den_lcm = 1i64;
    for c in coefs {
        for (q, b) in &c.terms {
            den_lcm = den_lcm.lcm(q.denom());
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
        (Rational::ONE, Vec::new())
    } else {
        (Rational::new(den_lcm, 1), neg_powers)
    };
    coefs.iter().map(|c| c.scale(factor, &powers)).collect()
}
