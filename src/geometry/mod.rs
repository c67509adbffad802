//! Rates from the local geometry of a Voronoi cell (docs/theory.md §7).
//!
//! For every true atom $j$ and cell size $m = 1..M$, how fast each coordinate $k$ of $m$
//! fitted atoms sharing atom $j$ converges: the exponent $s_k$ of the local inverse bound
//!
//! $$\rho_{m,k}(\varepsilon) = \min\{\|f_G - f_{G^*}\| : \max_i |\theta_{ik} - \theta^*_{jk}|
//! = \varepsilon, \text{every other atom exact, masses} \ge p^*_j/(4m)\} \asymp
//! \varepsilon^{s_k},$$
//!
//! so that coordinate $k$ converges like $n^{-1/(2 s_k)}$; or that the cell is *flat* (a curve
//! of configurations gives $f^*$ exactly), or that no cell can form (no mass parameter).
//!
//! How ([`search`]): the worst configurations lie on analytic curves (curve selection), so the
//! analysis looks for formal curves $\Delta_i(t)$, $p_i(t)$ along which $f_G - f^*$ vanishes to
//! the highest order $S$ in $t$, with coordinate $k$ leading at $t^q$: then
//! $\rho_k \lesssim \varepsilon^{S/q}$. Solvability of the coefficient system ([`system`]) at
//! each order is decided by Levenberg–Marquardt ([`lm`]) from warm and random starts, on the
//! Taylor expansion of the atom compressed once ([`expansion`]); the first order at which no
//! start solves it is the matching bound. Solvability beyond the generic order triggers a
//! search for an exact flat configuration at finite $\varepsilon$ ([`profile::flat`]). Every
//! exponent is checked against the definition: $\rho$ evaluated along the witness at finite
//! $\varepsilon$ (MPFR where f64 cannot resolve it), whose log–log slope must match.
//!
//! Deterministic for a seed, whatever the thread count: every start has its own seeded
//! generator, atoms run in parallel and are collected in order.

mod expansion;
pub(crate) mod lm;
pub mod profile;
mod search;
mod system;

pub use expansion::ExactMass;
pub use profile::Profile;

use crate::family::Design;
use rayon::prelude::*;

/// Largest cell size `--cells` accepts.
pub const MAX_CELLS: usize = 6;

/// What the analysis of one cell found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every coordinate has a finite exponent.
    Polynomial,
    /// Some coordinates move along a curve of configurations that reproduce $f^*$ exactly.
    Flat,
    /// The coefficient system is solvable at every order tried but no exact configuration was
    /// found.
    SlowerThanPolynomial,
    /// Without a mass parameter several atoms cannot approach one (the order-0 term).
    CannotSplit,
    /// Flat already with one atom: an invariance.
    NotIdentifiable,
    /// Not decided; the reason says why.
    Undecided,
}

impl Outcome {
    /// The name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Polynomial => "polynomial",
            Outcome::Flat => "flat",
            Outcome::SlowerThanPolynomial => "slower_than_polynomial",
            Outcome::CannotSplit => "cannot_split",
            Outcome::NotIdentifiable => "not_identifiable",
            Outcome::Undecided => "undecided",
        }
    }
}

/// Why a cell has no exponents.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// The atom has no parameter acting as a mass.
    NoMass,
    /// The parameter acts as a mass at this point only ($\partial u/\partial\theta = c\,u$
    /// with $c$ depending on the parameters), so split atoms do not stay near the truth.
    PointMass(usize),
    /// A coordinate enters a `relu`/`abs` argument: beyond order 1 the expansion does not hold
    /// in $L^2$.
    Kink(usize),
    /// The coefficient system needs a higher degree than the limits allow for this many
    /// coordinates.
    Budget {
        /// The degree that was needed.
        degree: usize,
    },
    /// $u$ vanishes or is not finite at the atom's samples.
    Empty,
    /// The coefficient system for this parameter cannot be decided in f64: its residual is
    /// neither clearly zero nor clearly not, or it stays solvable while the definition along
    /// the witness falls only like a low power of $\varepsilon$ (an effect below f64
    /// resolution, such as catastrophic cancellation in the expression).
    Resolution(usize),
}

/// The result for one coordinate of a cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Coordinate {
    /// The parameter (index into the case's variables).
    pub var: usize,
    /// $s_k$: the coordinate converges like $n^{-1/(2 s_k)}$. `None` when flat or undecided.
    pub exponent: Option<f64>,
    /// Whether it moves along an exact flat curve.
    pub flat: bool,
    /// The highest order $S$ the coefficient system reached with the coordinate leading at
    /// $t^q$, and that $q$.
    pub order: usize,
    /// See `order`.
    pub q: usize,
    /// Residual of the coefficient system at order $S + 1$ (best of every start), the evidence
    /// that no curve does better; `None` when the search stopped otherwise.
    pub next_residual: Option<f64>,
    /// Starts tried at order $S + 1$.
    pub starts: usize,
    /// Whether the bound $S/q \le \bar r / q$ closed the search over $q$.
    pub bounded: bool,
    /// Whether the system stayed solvable up to the highest order tried.
    pub capped: bool,
    /// For an exponent 2 in a split cell: how far the pure square $\partial_k^2 u$ lies from
    /// every other Taylor term (see [`ISOLATED`]); a clearly positive distance proves
    /// $s_k \le 2$.
    pub square_isolation: Option<f64>,
}

/// A pure square this far (relatively) from the span of the other Taylor terms is isolated.
pub const ISOLATED: f64 = 1e-3;

impl Coordinate {
    /// Whether the exponent is confirmed by the coefficient system: the next order is clearly
    /// unsolvable, or the $q$ bound closes it, or the coordinate is flat.
    pub fn confirmed(&self) -> bool {
        self.flat
            || self.bounded
            || self.next_residual.is_some_and(|r| r > search::UNSOLVED)
            || self.square_isolation.is_some_and(|d| d > ISOLATED)
    }
}

/// What stays identified in a flat cell, per coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identified {
    /// The coordinate keeps its true value in every atom of the cell.
    Equal(usize),
    /// Only its mass-weighted average over the cell is identified.
    Average(usize),
    /// Neither: some non-linear combination of it is.
    Nonlinear(usize),
}

/// The witness of a cell: the worst curve found for its slowest coordinate.
#[derive(Clone, Debug, PartialEq)]
pub struct Witness {
    /// The coordinate it was normalised on.
    pub var: usize,
    /// Order $S$ reached in $t$, and the order $q$ of the coordinate.
    pub order: usize,
    /// See `order`.
    pub q: usize,
    /// How each moving coordinate scales: $\Delta_c \propto \varepsilon^{e}$ (parameter index,
    /// $e$).
    pub scaling: Vec<(usize, f64)>,
    /// Leading masses of the cell's atoms (fractions of $p^*_j$).
    pub masses: Vec<f64>,
    /// $\rho$ along the witness at finite $\varepsilon$.
    pub profile: Option<Profile>,
}

/// One cell: true atom `atom` shared by `m` fitted atoms.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The true atom (0-based).
    pub atom: usize,
    /// Fitted atoms in the cell.
    pub m: usize,
    /// The outcome.
    pub outcome: Outcome,
    /// Per coordinate.
    pub coordinates: Vec<Coordinate>,
    /// The worst curve found.
    pub witness: Option<Witness>,
    /// For flat cells, what stays identified.
    pub identified: Vec<Identified>,
    /// The mass parameter of the atom, if it has one.
    pub mass: Option<usize>,
    /// Why the cell has no exponents, when it has none.
    pub reason: Option<Reason>,
}

impl Cell {
    /// $\bar r = \max_k s_k$ for a polynomial cell.
    pub fn r_bar(&self) -> Option<f64> {
        if self.outcome != Outcome::Polynomial {
            return None;
        }
        self.coordinates
            .iter()
            .filter_map(|c| c.exponent)
            .fold(None, |a: Option<f64>, s| Some(a.map_or(s, |a| a.max(s))))
    }

    /// Whether every exponent is confirmed by the coefficient system and the profile along the
    /// witness has the slope of the witness's coordinate (within 0.25).
    pub fn confirmed(&self) -> bool {
        match self.outcome {
            Outcome::Polynomial => {
                self.coordinates.iter().all(Coordinate::confirmed)
                    && self.witness.as_ref().is_some_and(|w| {
                        let want = w.order as f64 / w.q as f64;
                        w.profile
                            .as_ref()
                            .is_some_and(|p| (p.slope - want).abs() <= 0.25)
                    })
            }
            Outcome::Flat | Outcome::NotIdentifiable => true,
            Outcome::CannotSplit => true,
            Outcome::SlowerThanPolynomial | Outcome::Undecided => false,
        }
    }

    /// The exponent of parameter `var`, if the cell has one.
    pub fn exponent(&self, var: usize) -> Option<f64> {
        self.coordinates
            .iter()
            .find(|c| c.var == var)
            .and_then(|c| c.exponent)
    }
}

/// Settings of the cell analysis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Largest cell size $M$ (1 to [`MAX_CELLS`]).
    pub max_cells: usize,
    /// Seed of every random start.
    pub seed: u64,
}

/// The cells of every true atom, $m = 1..M$, atom by atom.
#[derive(Clone, Debug, PartialEq)]
pub struct Cells {
    /// Atom-major: atom 0 with $m = 1..M$, then atom 1, ...
    pub cells: Vec<Cell>,
    /// $M$.
    pub max_cells: usize,
}

impl Cells {
    /// The cells of size `m`, one per atom.
    pub fn of_size(&self, m: usize) -> impl Iterator<Item = &Cell> {
        self.cells.iter().filter(move |c| c.m == m)
    }
}

/// Least-squares slope of $\log y$ on $\log x$ (NaN with fewer than two points).
pub fn slope(x: &[f64], y: &[f64]) -> f64 {
    let pts: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| **a > 0.0 && **b > 0.0)
        .map(|(a, b)| (a.ln(), b.ln()))
        .collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return f64::NAN;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

/// The slope of $\log y$ on $\log x$ in the regime where $y$ is still above its rounding
/// floor: local slopes between neighbouring points are read from the largest $x$ down, and
/// the reading stops where a local slope falls below half of the first ones (the curve has
/// flattened onto the floor); the median of the slopes read is returned (NaN with fewer than
/// two points).
pub fn median_slope(x: &[f64], y: &[f64]) -> f64 {
    let mut pts: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| **a > 0.0 && **b > 0.0)
        .map(|(a, b)| (a.ln(), b.ln()))
        .collect();
    pts.sort_by(|a, b| b.0.total_cmp(&a.0));
    let local: Vec<f64> = pts
        .windows(2)
        .filter(|w| w[1].0 != w[0].0)
        .map(|w| (w[1].1 - w[0].1) / (w[1].0 - w[0].0))
        .collect();
    if local.is_empty() {
        return f64::NAN;
    }
    let mut head: Vec<f64> = local.iter().take(3).cloned().collect();
    head.sort_by(f64::total_cmp);
    let reference = head[head.len() / 2];
    let mut s: Vec<f64> = local
        .iter()
        .cloned()
        .take_while(|v| reference <= 0.0 || *v >= 0.5 * reference)
        .collect();
    if s.is_empty() {
        s = head;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// The cells of every atom of `atoms` for sizes `1..=settings.max_cells` (docs/theory.md §7).
pub fn analyse(design: &Design, atoms: &[Vec<f64>], settings: &Settings) -> Cells {
    let cells = (0..atoms.len())
        .into_par_iter()
        .map(|j| search::atom_cells(design, atoms, j, settings))
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect();
    Cells {
        cells,
        max_cells: settings.max_cells,
    }
}

/// A disagreement between the cells and the verdict (docs/theory.md §7, "consistency with §3"):
/// with one atom every exponent is 1 exactly when the order-1 family has only mass relations
/// (no invariance); with two, every exponent is at most 2 exactly when there is no interaction
/// and no invariance.
#[derive(Clone, Debug, PartialEq)]
pub struct Inconsistency {
    /// The atom (0-based).
    pub atom: usize,
    /// The cell size (1 or 2).
    pub m: usize,
    /// Whether the cell is generic (every exponent 1 at $m = 1$, at most 2 at $m = 2$).
    pub generic_cell: bool,
    /// The atom's verdict.
    pub verdict: crate::verdict::VerdictKind,
}

/// The cells of sizes 1 and 2 checked against the verdict (see [`Inconsistency`]); cells that
/// are undecided or cannot split are not compared, nor size 2 when the verdict is of order 1.
pub fn consistency(cells: &Cells, verdict: &crate::verdict::Verdict) -> Vec<Inconsistency> {
    use crate::verdict::VerdictKind;
    let mut out = Vec::new();
    for c in &cells.cells {
        if c.m > 2 || (c.m == 2 && verdict.order < 2) {
            continue;
        }
        let Some(av) = verdict.atoms.iter().find(|a| a.atom == c.atom) else {
            continue;
        };
        let limit = c.m as f64 + 1e-9;
        let generic_cell = match c.outcome {
            Outcome::Polynomial => c
                .coordinates
                .iter()
                .all(|k| k.exponent.is_some_and(|s| s <= limit)),
            Outcome::Flat | Outcome::NotIdentifiable | Outcome::SlowerThanPolynomial => false,
            Outcome::CannotSplit | Outcome::Undecided => continue,
        };
        let generic_verdict = if c.m == 1 {
            av.kind != VerdictKind::Degenerate
        } else {
            av.kind == VerdictKind::Identifiable
        };
        if generic_cell != generic_verdict {
            out.push(Inconsistency {
                atom: c.atom,
                m: c.m,
                generic_cell,
                verdict: av.kind,
            });
        }
    }
    out
}
