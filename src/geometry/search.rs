//! The search over curves: per coordinate, the highest order the coefficient system reaches.
//!
//! For a cell of $m$ atoms and coordinate $k$ leading at $t^q$:
//! - order $S = 1$ always holds ($\sum_i\mu_i = 1$); with $m \ge 2$, $S = 2$ always holds
//!   too (split atoms whose mass-weighted mean offset is zero);
//! - beyond, order $S$ is tried from warm starts (the coordinate's last witness and every
//!   witness found so far in the cell, renormalised on $k$) and seeded random starts, with both
//!   signs of the normalisation; the first order no start solves is the matching bound;
//! - the first order beyond the generic one ($S = 2$ for $m = 1$, $S = 3$ for $m \ge 2$)
//!   means an invariance or an interaction: an exact flat configuration is then looked for at
//!   finite $\varepsilon$ before climbing further;
//! - orders are climbed up to $2m + 1$ (Ho & Nguyen's $\bar r(m) = 2m$ for the Gaussian heat
//!   equation is the largest the literature knows, and one more order confirms it);
//! - $q = 2$ (coordinate $k$ at $t^2$, others free to move at $t$) is tried for coordinates
//!   with $S_1 < \bar r / 2$: along such a curve another coordinate moves at order 1, whose own
//!   exponent bounds $S$ by $\bar r$, so $S/q \le \bar r/2$ and no $q$ beyond needs trying.

use super::expansion::{Expansion, Frame, Samples};
use super::lm::{self, Stop};
use super::profile::{self, Flat};
use super::system::{Curve, System};
use super::{Cell, Coordinate, Outcome, Reason, Settings, Witness};
use crate::family::Design;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A start whose residual falls below this solves the system.
pub const SOLVED: f64 = 1e-10;
/// A best residual above this is clear evidence that the system has no solution.
pub const UNSOLVED: f64 = 1e-6;
/// Random starts per order (besides the warm ones), alternating the normalisation's sign.
const RANDOM_STARTS: usize = 4;
/// Finite $\varepsilon$ (in units) of the flat search.
const FLAT_EPS: f64 = 0.1;

enum Attempt {
    Solved(Curve),
    Unsolved {
        residual: f64,
        starts: usize,
        best: Curve,
    },
}

struct AtomSearch<'a> {
    design: &'a Design,
    atoms: &'a [Vec<f64>],
    frame: Frame,
    samples: Samples,
    fresh: Samples,
    expansion: Option<Expansion>,
    failed: bool,
    /// Per coordinate, [`Expansion::isolation`] once computed.
    isolation: Vec<Option<f64>>,
    seed: u64,
    cap_degree: usize,
}

fn mix(seed: u64, parts: &[u64]) -> u64 {
    // splitmix64 over the parts: independent, reproducible streams per start.
    let mut z = seed ^ 0x9e37_79b9_7f4a_7c15;
    for &p in parts {
        z = z.wrapping_add(p.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
    }
    z
}

impl<'a> AtomSearch<'a> {
    /// Makes an expansion of degree at least `degree` available (degree 2 first, then the
    /// highest affordable at once: lower orders use its leading blocks).
    fn ensure(&mut self, degree: usize) -> bool {
        if self
            .expansion
            .as_ref()
            .is_some_and(|e| e.space.degree() >= degree)
        {
            return true;
        }
        if self.failed {
            return false;
        }
        let d = if degree <= 2 {
            degree
        } else {
            self.cap_degree.max(degree)
        };
        self.expansion = Expansion::new(self.design, &self.frame, &self.samples, d);
        self.failed = self.expansion.is_none();
        !self.failed
    }

    /// Tries to solve the system of order `order` for coordinate `k` at `q`.
    fn solve(
        &mut self,
        m: usize,
        k: usize,
        q: usize,
        order: usize,
        warm: &[Curve],
    ) -> Option<Attempt> {
        if !self.ensure(order - 1) {
            return None;
        }
        let (frame, seed, atom) = (&self.frame, self.seed, self.frame.atom);
        let exp = self.expansion.as_ref()?;
        let stop = Stop {
            residual: SOLVED * 1e-3,
            iterations: 300,
            stall: 1e-4,
            creeping_above: UNSOLVED,
            relative: 0.0,
        };
        let mut best = f64::INFINITY;
        let mut best_curve = None;
        let mut starts = 0;
        let mut tried: Vec<(f64, Vec<f64>)> = Vec::new();
        for c in warm {
            if let Some((c, sign)) = c.renormalised(k, q) {
                let sys = System::new(frame, exp, m, k, q, sign, order);
                tried.push((sign, sys.start_from(&c)));
            }
        }
        // The first order beyond the generic one is mostly reached from the split curve or
        // clearly out of reach: half the random starts there.
        let generic = if m == 1 { 1 } else { 2 };
        let random = if order == generic + 1 && q == 1 {
            RANDOM_STARTS / 2
        } else {
            RANDOM_STARTS
        };
        for r in 0..random {
            let sign = if r % 2 == 0 { 1.0 } else { -1.0 };
            let sys = System::new(frame, exp, m, k, q, sign, order);
            let mut rng = ChaCha8Rng::seed_from_u64(mix(
                seed,
                &[
                    atom as u64,
                    m as u64,
                    k as u64,
                    q as u64,
                    order as u64,
                    r as u64,
                ],
            ));
            tried.push((sign, sys.random_start(&mut rng)));
        }
        for (sign, x0) in tried {
            starts += 1;
            let sys = System::new(frame, exp, m, k, q, sign, order);
            let mut min = lm::minimise(x0, stop, |x| sys.evaluate(x));
            if min.residual < UNSOLVED && min.residual >= SOLVED {
                // Close: a slow approach to a singular solution; give it time.
                let long = Stop {
                    iterations: 3000,
                    stall: 1e-6,
                    creeping_above: 0.0,
                    relative: 0.0,
                    ..stop
                };
                min = lm::minimise(min.x, long, |x| sys.evaluate(x));
            }
            if min.residual < SOLVED {
                return Some(Attempt::Solved(sys.curve(&min.x)));
            }
            if min.residual < best {
                best = min.residual;
                best_curve = Some(sys.curve(&min.x));
            }
        }
        Some(Attempt::Unsolved {
            residual: best,
            starts,
            best: best_curve?,
        })
    }

    /// The order-2 witness every split cell has: atom 1 moves $+t$ along `k`, the others
    /// balance it so that the mass-weighted mean offset vanishes.
    fn split_curve(&self, m: usize, coords: &[usize]) -> Curve {
        let dim = self.frame.dim();
        let mu = vec![1.0 / m as f64; m];
        let coef = (0..m)
            .map(|i| {
                (0..dim)
                    .map(|c| {
                        let v = if !coords.contains(&c) {
                            0.0
                        } else if m == 1 || i == 0 {
                            1.0
                        } else {
                            -1.0 / (m - 1) as f64
                        };
                        vec![0.0, v]
                    })
                    .collect()
            })
            .collect();
        Curve {
            coef,
            mu,
            corr: vec![vec![0.0]; m],
            order: if m == 1 { 1 } else { 2 },
        }
    }

    /// An exact flat configuration near `curve`, at [`FLAT_EPS`] and at five times it (a
    /// near-invariance whose effect is below f64 at one $\varepsilon$ grows at the other).
    fn flat(&self, curve: &Curve, k: usize, q: usize) -> Option<Flat> {
        let f = profile::flat(self.design, &self.frame, &self.fresh, curve, k, q, FLAT_EPS)?;
        profile::flat(
            self.design,
            &self.frame,
            &self.fresh,
            curve,
            k,
            q,
            5.0 * FLAT_EPS,
        )?;
        Some(f)
    }

    /// Climbs from `from = (S, curve)` (a curve reaching order $S$ with coordinate `k` at
    /// $t^q$) while some start solves the next order, up to `top`. A flat configuration is
    /// looked for when the order `flat_at` is reached.
    #[allow(clippy::too_many_arguments)]
    fn climb(
        &mut self,
        m: usize,
        k: usize,
        q: usize,
        from: (usize, Curve),
        top: usize,
        pool: &mut Vec<Curve>,
        flat_at: Option<usize>,
    ) -> State {
        let (mut best, mut witness) = from;
        let mut state = State {
            coord: Coordinate {
                var: self.frame.coords[k],
                exponent: None,
                flat: false,
                order: best,
                q,
                next_residual: None,
                starts: 0,
                bounded: false,
                capped: false,
                square_isolation: None,
            },
            curve: witness.clone(),
            flat: None,
            reason: None,
        };
        let mut order = best + 1;
        while order <= top {
            if order - 1 > self.cap_degree {
                state.reason = Some(Reason::Budget { degree: order - 1 });
                break;
            }
            let mut warm = vec![witness.clone()];
            warm.extend(pool.iter().rev().take(3).cloned());
            match self.solve(m, k, q, order, &warm) {
                None => {
                    state.reason = Some(Reason::Empty);
                    break;
                }
                Some(Attempt::Solved(c)) => {
                    best = order;
                    witness = c.clone();
                    pool.push(c);
                    if Some(order) == flat_at {
                        state.flat = self.flat(&witness, k, q);
                        if state.flat.is_some() {
                            break;
                        }
                    }
                }
                Some(Attempt::Unsolved {
                    residual,
                    starts,
                    best: near,
                }) => {
                    // Neither clearly solved nor clearly not: the definition itself, at finite
                    // ε, decides whether the direction is flat.
                    if Some(order) == flat_at && residual <= UNSOLVED {
                        state.flat = self.flat(&near, k, q);
                        if state.flat.is_some() {
                            best = order;
                            witness = near;
                            break;
                        }
                    }
                    state.coord.next_residual = Some(residual);
                    state.coord.starts = starts;
                    break;
                }
            }
            order += 1;
        }
        // Solvable to the top: a flat curve the first search missed is near the top witness.
        if state.flat.is_none()
            && flat_at.is_some()
            && state.reason.is_none()
            && state.coord.next_residual.is_none()
            && best >= top
        {
            state.flat = self.flat(&witness, k, q);
        }
        state.coord.order = best;
        state.coord.flat = state.flat.is_some();
        let reached = state.flat.is_none()
            && state.reason.is_none()
            && state.coord.next_residual.is_none()
            && best >= top;
        // At q ≥ 2 the top is r̄ itself (see the module docs): reaching it closes the search.
        state.coord.capped = reached && q == 1;
        state.coord.bounded = reached && q >= 2;
        state.curve = witness;
        state
    }

    // Phases index the per-coordinate states while calling back into the search.
    #[allow(clippy::needless_range_loop)]
    fn cell(&mut self, m: usize, inherited: &[usize]) -> Cell {
        let dim = self.frame.dim();
        let mut cell = Cell {
            atom: self.frame.atom,
            m,
            outcome: Outcome::Undecided,
            coordinates: Vec::new(),
            witness: None,
            identified: Vec::new(),
            mass: self.frame.mass.as_ref().map(|m| m.var),
            reason: None,
        };
        if m >= 2 && self.frame.mass.is_none() {
            cell.outcome = Outcome::CannotSplit;
            cell.reason = Some(match self.frame.point_mass {
                Some(v) => Reason::PointMass(v),
                None => Reason::NoMass,
            });
            return cell;
        }
        if m >= 2 {
            if let Some(c) = (0..dim).find(|&c| self.frame.kinked[c]) {
                cell.reason = Some(Reason::Kink(self.frame.coords[c]));
                return cell;
            }
        }
        let top = 2 * m + 1;
        let generic = if m == 1 { 1 } else { 2 };
        let mut pool: Vec<Curve> = Vec::new();
        // Phase 1: every coordinate leading at t. Coordinates flat with one atom (an
        // invariance) are flat in every cell.
        let mut states: Vec<State> = (0..dim)
            .map(|k| {
                let start = self.split_curve(m, &[k]);
                if inherited.contains(&k) {
                    return State::inherited(self.frame.coords[k], start, generic);
                }
                self.climb(m, k, 1, (generic, start), top, &mut pool, Some(generic + 1))
            })
            .collect();
        let open = |s: &State| !s.coord.flat && s.reason.is_none() && !s.coord.capped;
        let r1 = states
            .iter()
            .filter(|s| open(s) && s.coord.q == 1)
            .map(|s| s.coord.order)
            .max()
            .unwrap_or(generic);
        let ratio = |s: &State| s.coord.order as f64 / s.coord.q as f64;
        // Phase 2: curves found for one coordinate are witnesses for the others (a coordinate
        // at t^o on a curve of order S: ratio S/o); climb on from the best of them.
        for _round in 0..3 {
            let mut changed = false;
            for k in 0..dim {
                if !open(&states[k]) {
                    continue;
                }
                let best = pool
                    .iter()
                    .filter_map(|c| c.leading(k).map(|o| (c.order as f64 / o as f64, o, c)))
                    .filter(|(_, o, _)| *o <= 2)
                    .max_by(|a, b| a.0.total_cmp(&b.0));
                let Some((r, o, c)) = best else { continue };
                if r <= ratio(&states[k]) + 1e-9 {
                    continue;
                }
                let (c, order) = (c.clone(), c.order);
                let up = if o == 1 { top } else { r1 };
                let st = self.climb(m, k, o, (order, c), up, &mut pool, None);
                states[k] = st;
                changed = true;
            }
            if !changed {
                break;
            }
        }
        // Phase 3: q = 2 where another coordinate may lead (see the module docs).
        for k in 0..dim {
            if !open(&states[k]) || states[k].coord.q != 1 || 2 * states[k].coord.order >= r1 {
                continue;
            }
            let s1 = states[k].coord.order;
            let stretched = states[k].curve.stretched();
            let st = self.climb(m, k, 2, (2 * s1, stretched), r1, &mut pool, None);
            if st.reason.is_none() && ratio(&st) > s1 as f64 {
                states[k] = st;
            } else {
                // The q = 2 search is the evidence that q = 1 is the worst.
                states[k].coord.bounded =
                    st.coord.order >= r1 || st.coord.next_residual.is_some_and(|r| r > UNSOLVED);
            }
        }
        for s in &mut states {
            if !open(s) {
                continue;
            }
            let c = &mut s.coord;
            // A curve with the coordinate at t^q and another at t has S ≤ r̄: reaching r̄ at
            // q ≥ 2, or 2 S₁ ≥ r̄ at q = 1, closes the search over q.
            if c.q >= 2 && c.order >= r1 {
                c.bounded = true;
                c.capped = false;
            }
            if c.q == 1 && 2 * c.order >= r1 {
                c.bounded = true;
            }
            c.exponent = Some(c.order as f64 / c.q as f64);
        }
        // Decisions f64 cannot make: the first order beyond the generic one neither clearly
        // solved nor clearly unsolved, or a system solvable to the top while the definition,
        // evaluated along its witness, falls only like a low power of ε (an effect below f64
        // resolution, not a slow rate).
        for k in 0..dim {
            let st = &states[k];
            if st.reason.is_some() || st.coord.flat {
                continue;
            }
            let ambiguous_first = st.coord.order == generic
                && st.coord.q == 1
                && st.coord.next_residual.is_some_and(|r| r <= UNSOLVED);
            let faint = st.coord.capped && self.ensure(st.coord.order - 1) && {
                let exp = self.expansion.as_ref().expect("ensured");
                let (c, sign) = st
                    .curve
                    .renormalised(k, st.coord.q)
                    .unwrap_or((st.curve.clone(), 1.0));
                let sys = System::new(&self.frame, exp, m, k, st.coord.q, sign, st.coord.order);
                sys.strict_residual(&c) > 1e-2
            };
            let low_profile = st.coord.capped && !faint && {
                let p = profile::profile(
                    self.design,
                    &self.frame,
                    self.atoms,
                    &self.fresh,
                    &st.curve,
                    k,
                    st.coord.q,
                    (0.01, 0.3, 5),
                );
                p.slope.is_nan() || p.slope < st.coord.order as f64 - 1.5
            };
            if ambiguous_first || faint || low_profile {
                states[k].reason = Some(Reason::Resolution(self.frame.coords[k]));
            }
        }
        // A split cell's exponent 2 is certified by an isolated pure square.
        if m >= 2 && self.ensure(2) {
            for (k, st) in states.iter_mut().enumerate() {
                if st.coord.exponent == Some(2.0) {
                    if self.isolation[k].is_none() {
                        let exp = self.expansion.as_ref().expect("ensured");
                        self.isolation[k] = Some(exp.isolation(k));
                    }
                    st.coord.square_isolation = self.isolation[k];
                }
            }
        }
        // Outcome.
        let any_flat = states.iter().any(|s| s.coord.flat);
        let reason = states.iter().find_map(|s| s.reason.clone());
        let capped = states.iter().any(|s| s.coord.capped);
        cell.outcome = if any_flat {
            if m == 1 || !inherited.is_empty() {
                Outcome::NotIdentifiable
            } else {
                Outcome::Flat
            }
        } else if reason.is_some() {
            Outcome::Undecided
        } else if capped {
            Outcome::SlowerThanPolynomial
        } else {
            Outcome::Polynomial
        };
        cell.reason = reason;
        let flats: Vec<&Flat> = states.iter().filter_map(|s| s.flat.as_ref()).collect();
        if !flats.is_empty() {
            cell.identified = profile::identified(&self.frame, &flats);
        }
        cell.witness = self.witness(m, generic, &states, cell.outcome);
        cell.coordinates = states.into_iter().map(|s| s.coord).collect();
        cell
    }

    /// The witness of the cell: the slowest coordinate's curve (a flat coordinate's for a flat
    /// cell; one curve moving every coordinate at $t$ when all are generic), with its profile.
    fn witness(
        &self,
        m: usize,
        generic: usize,
        states: &[State],
        outcome: Outcome,
    ) -> Option<Witness> {
        let dim = self.frame.dim();
        let key = |s: &State| {
            if s.coord.flat {
                f64::INFINITY
            } else {
                s.coord.order as f64 / s.coord.q as f64
            }
        };
        let k = (0..dim)
            .max_by(|&a, &b| key(&states[a]).total_cmp(&key(&states[b])).then(b.cmp(&a)))?;
        let generic_cell = states
            .iter()
            .all(|s| !s.coord.flat && s.coord.order == generic && s.coord.q == 1);
        let (curve, var_k, q) = if generic_cell {
            (self.split_curve(m, &(0..dim).collect::<Vec<_>>()), 0, 1)
        } else {
            (states[k].curve.clone(), k, states[k].coord.q)
        };
        let scaling = (0..dim)
            .filter_map(|c| {
                curve
                    .leading(c)
                    .map(|o| (self.frame.coords[c], o as f64 / q as f64))
            })
            .collect();
        let profile = (!states[k].coord.flat && outcome != Outcome::Undecided).then(|| {
            let order = curve.order as f64 / q as f64;
            let lo = 1e-3f64.max(1e-12f64.powf(1.0 / (order - 1.0).max(1.0)));
            profile::profile(
                self.design,
                &self.frame,
                self.atoms,
                &self.fresh,
                &curve,
                var_k,
                q,
                (lo.min(0.03), 0.3, 9),
            )
        });
        Some(Witness {
            var: self.frame.coords[var_k],
            order: curve.order,
            q,
            scaling,
            masses: curve.mu.clone(),
            profile,
        })
    }
}

/// One coordinate's search: its result, its witness curve and what stopped it.
struct State {
    coord: Coordinate,
    curve: Curve,
    flat: Option<Flat>,
    reason: Option<Reason>,
}

impl State {
    /// A coordinate flat along an invariance found with one atom.
    fn inherited(var: usize, curve: Curve, order: usize) -> State {
        State {
            coord: Coordinate {
                var,
                exponent: None,
                flat: true,
                order,
                q: 1,
                next_residual: None,
                starts: 0,
                bounded: false,
                capped: false,
                square_isolation: None,
            },
            curve,
            flat: None,
            reason: None,
        }
    }
}

/// Sample points for expansions: at least twice the monomials of the largest degree.
fn sample_count(dim: usize, degree: usize) -> usize {
    (2 * crate::expr::TaylorSpace::size(dim, degree) + 40).max(200)
}

/// The cells $m = 1..M$ of true atom `j`.
pub fn atom_cells(design: &Design, atoms: &[Vec<f64>], j: usize, settings: &Settings) -> Vec<Cell> {
    let dim = design.n_vars();
    let want = 2 * settings.max_cells;
    let cap_degree = Expansion::affordable(dim, want);
    let n = sample_count(dim, cap_degree);
    let empty = |m: usize| Cell {
        atom: j,
        m,
        outcome: Outcome::Undecided,
        coordinates: Vec::new(),
        witness: None,
        identified: Vec::new(),
        mass: None,
        reason: Some(Reason::Empty),
    };
    let seed = mix(settings.seed, &[0x6765_6f6d, j as u64]);
    let samples = Samples::draw(design, atoms, n, seed);
    let fresh = Samples::draw(design, atoms, 200, seed ^ 0x5ca1_ab1e);
    let (Some(samples), Some(fresh)) = (samples, fresh) else {
        return (1..=settings.max_cells).map(empty).collect();
    };
    let Some(frame) = Frame::new(design, atoms, j, &samples) else {
        return (1..=settings.max_cells).map(empty).collect();
    };
    let cap_degree = Expansion::affordable(frame.dim(), want);
    let isolation = vec![None; frame.dim()];
    let mut search = AtomSearch {
        design,
        atoms,
        frame,
        samples,
        fresh,
        expansion: None,
        failed: false,
        isolation,
        seed,
        cap_degree,
    };
    let mut cells: Vec<Cell> = Vec::new();
    let mut inherited = Vec::new();
    for m in 1..=settings.max_cells {
        let cell = search.cell(m, &inherited);
        if m == 1 {
            inherited = (0..search.frame.dim())
                .filter(|&k| cell.coordinates.get(k).is_some_and(|c| c.flat))
                .collect();
        }
        cells.push(cell);
    }
    cells
}
