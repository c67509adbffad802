//! Predicted rates from the local geometry (docs/theory.md §7): per number of fitted atoms per true
//! atom, how fast each parameter converges.
//!
//! A cell of $m$ fitted atoms with exponent $s_k$ for parameter $k$ converges like
//! $n^{-1/(2 s_k)}$; over the true atoms, the worst (largest) exponent of each parameter is the
//! one a fit with $m$ atoms in every cell can promise. $m = 1$ is the exact-specified rate,
//! $m = 2$ the first over-specified one.

use crate::geometry::{Cell, Cells, Outcome, Reason};
use std::collections::BTreeMap;

/// Parameters sharing an exponent $s$: they converge like $n^{-1/(2s)}$.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Parameter names.
    pub params: Vec<String>,
    /// The exponent $s$.
    pub s: f64,
}

impl Group {
    /// The rate exponent $1/(2s)$.
    pub fn rate(&self) -> f64 {
        1.0 / (2.0 * self.s)
    }
}

/// The rate for one cell size.
#[derive(Clone, Debug, PartialEq)]
pub enum Rate {
    /// Every parameter polynomial: groups, slowest first.
    Polynomial(Vec<Group>),
    /// Some parameters move along a flat curve (not identified, only a combination of them
    /// is); the others converge as the groups say.
    Flat {
        /// The flat parameters.
        flat: Vec<String>,
        /// The others.
        rest: Vec<Group>,
    },
    /// The coefficient system stays solvable up to the highest order tried.
    SlowerThanPolynomial(Vec<String>),
    /// An invariance: these parameters are not identifiable.
    NotIdentifiable(Vec<String>),
    /// No prediction, and why.
    None(NoRate),
}

/// Why a cell size has no predicted rate (worded in [`crate::report::rate`]).
#[derive(Clone, Debug, PartialEq)]
pub enum NoRate {
    /// Several fitted atoms cannot share one true atom.
    CannotSplit(Reason),
    /// The local geometry of this atom's cell is not decided.
    Undecided {
        /// The atom (0-based).
        atom: usize,
        /// Why.
        reason: Reason,
    },
}

impl Rate {
    /// The exponent $s$ of parameter `name`, when it has one.
    pub fn exponent(&self, name: &str) -> Option<f64> {
        let groups = match self {
            Rate::Polynomial(g) => g,
            Rate::Flat { rest, .. } => rest,
            _ => return None,
        };
        groups
            .iter()
            .find(|g| g.params.iter().any(|p| p == name))
            .map(|g| g.s)
    }

    /// The largest exponent $\bar r$ of a polynomial rate.
    pub fn r_bar(&self) -> Option<f64> {
        match self {
            Rate::Polynomial(g) => g.first().map(|g| g.s),
            _ => None,
        }
    }
}

/// Predicted rates per cell size, computed from the local geometry of each Voronoi cell
/// (docs/theory.md §7).
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// `by_size[m - 1]`: every true atom shared by $m$ fitted atoms.
    pub by_size: Vec<Rate>,
}

impl Prediction {
    /// One fitted atom per true atom.
    pub fn exact(&self) -> &Rate {
        &self.by_size[0]
    }

    /// Two fitted atoms per true atom (the first over-specified size), or the exact rate when
    /// only $M = 1$ was analysed.
    pub fn over(&self) -> &Rate {
        self.by_size.get(1).unwrap_or(&self.by_size[0])
    }

    /// The prediction once the mixture has invariances that no single atom shows (cross-atom
    /// relations of class invariance, docs/theory.md §3): the parameters they move are not
    /// identifiable at any cell size, whatever the cells of each atom say. `moved` lists them;
    /// they are named in `variables`' order.
    pub fn with_mixture_invariances(
        mut self,
        moved: &[String],
        variables: &[String],
    ) -> Prediction {
        if moved.is_empty() {
            return self;
        }
        for r in &mut self.by_size {
            let before: &[String] = match r {
                Rate::None(_) => continue,
                Rate::NotIdentifiable(v) => v,
                _ => &[],
            };
            let vars = variables
                .iter()
                .filter(|n| moved.contains(n) || before.contains(n))
                .cloned()
                .collect();
            *r = Rate::NotIdentifiable(vars);
        }
        self
    }

    /// The rate for cells of `m` atoms (the largest analysed size beyond it).
    pub fn at(&self, m: usize) -> &Rate {
        &self.by_size[m.clamp(1, self.by_size.len()) - 1]
    }
}

fn rate_of(cells: &[&Cell], variables: &[String]) -> Rate {
    let names = |f: &dyn Fn(&Cell) -> Vec<usize>| -> Vec<String> {
        let mut v: Vec<usize> = cells.iter().flat_map(|c| f(c)).collect();
        v.sort_unstable();
        v.dedup();
        v.into_iter().map(|i| variables[i].clone()).collect()
    };
    let flat_vars = |c: &Cell| -> Vec<usize> {
        c.coordinates
            .iter()
            .filter(|k| k.flat)
            .map(|k| k.var)
            .collect()
    };
    if let Some(c) = cells.iter().find(|c| c.outcome == Outcome::CannotSplit) {
        return Rate::None(NoRate::CannotSplit(
            c.reason.clone().unwrap_or(Reason::NoMass),
        ));
    }
    if cells.iter().any(|c| c.outcome == Outcome::NotIdentifiable) {
        return Rate::NotIdentifiable(names(&flat_vars));
    }
    if let Some(c) = cells.iter().find(|c| c.outcome == Outcome::Undecided) {
        return Rate::None(NoRate::Undecided {
            atom: c.atom,
            reason: c.reason.clone().unwrap_or(Reason::Empty),
        });
    }
    if cells
        .iter()
        .any(|c| c.outcome == Outcome::SlowerThanPolynomial)
    {
        return Rate::SlowerThanPolynomial(names(&|c: &Cell| {
            c.coordinates
                .iter()
                .filter(|k| k.capped)
                .map(|k| k.var)
                .collect()
        }));
    }
    // Worst exponent of each parameter over the atoms.
    let mut worst: BTreeMap<usize, f64> = BTreeMap::new();
    for c in cells {
        for k in &c.coordinates {
            if let Some(s) = k.exponent {
                let e = worst.entry(k.var).or_insert(s);
                *e = e.max(s);
            }
        }
    }
    let flat = names(&flat_vars);
    let flat_idx: Vec<usize> = cells.iter().flat_map(|c| flat_vars(c)).collect();
    let mut groups: Vec<Group> = Vec::new();
    let mut order: Vec<(usize, f64)> = worst
        .into_iter()
        .filter(|(v, _)| !flat_idx.contains(v))
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    for (v, s) in order {
        match groups.iter_mut().find(|g| (g.s - s).abs() < 1e-9) {
            Some(g) => g.params.push(variables[v].clone()),
            None => groups.push(Group {
                params: vec![variables[v].clone()],
                s,
            }),
        }
    }
    if flat.is_empty() {
        Rate::Polynomial(groups)
    } else {
        Rate::Flat { flat, rest: groups }
    }
}

/// The rates the cells give, per cell size (see the module docs).
pub fn predict(cells: &Cells, variables: &[String]) -> Prediction {
    let by_size = (1..=cells.max_cells)
        .map(|m| {
            let of: Vec<&Cell> = cells.of_size(m).collect();
            rate_of(&of, variables)
        })
        .collect();
    Prediction { by_size }
}
