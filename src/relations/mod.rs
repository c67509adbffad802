//! Null vectors → relations: canonical form, class, structural or at this point.
//!
//! A relation is a linear PDE satisfied by $u$ at an atom, $\sum_\alpha c_\alpha
//! \partial^\alpha u = 0$ (docs/theory.md §2). This stage
//! 1. turns each atom's null space into canonical sparse relations ([`canonical`]);
//! 2. classifies them (docs/theory.md §3): **mass** ($\partial_m u = c\,u$), **invariance** (orders
//!    $\le 1$ only), **coupling** (order-2 terms whose second-order block is not semidefinite,
//!    or any relation through order-3+ terms), **interaction** (a nonzero semidefinite block),
//!    and decides interactions over the null space of $F_2$ with the exact PSD test ([`psd`]):
//!    third-order coefficients are $O(\Delta^3)$ and cannot cancel second-order ones;
//! 3. finds cross-atom relations in the joint family (the **gauge** relations of a normalized
//!    gate), expressed through each atom's independent terms;
//! 4. repeats the family at perturbed atoms: a relation that persists with the same support is
//!    **structural**, otherwise it holds only **at this point**;
//! 5. lists the terms set aside at kinks as **singular**.

#![allow(non_snake_case)]

pub mod canonical;
mod cross;
mod distinguish;
pub mod exact;
mod format;
mod gauge;
mod groups;
mod orbit;
pub mod psd;
mod shared;
mod status;
use shared::{restrict_shared, shared_entries};
use status::{certify_relations, recognise_all, set_structural};
mod structural;

use crate::family::{AtomFamily, Design, FamilyError, MultiIndex, SamplePoints};
use crate::rank::certify::Escalation;
use crate::rank::{self, Certificate, Rank, Tolerance};
use canonical::{canonical, ScaledRelation};
pub use distinguish::{distinguish, Distinguishability, SpanTest};
pub(crate) use format::subscript;
pub use groups::GroupLevel;
use nalgebra::{DMatrix, DVector};
pub use psd::PsdOutcome;
use std::fmt;

/// The class of a relation (docs/theory.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RelationClass {
    /// $\partial u/\partial\theta_m = c\,u$: $\theta_m$ acts as a mixture weight.
    Mass,
    /// A cross-atom relation of a normalized gate (its translation invariance).
    Gauge,
    /// A cross-atom relation of an unnormalized gate: the atoms are not distinct.
    CrossAtom,
    /// Only terms of order $\le 1$: a direction along which $u$ does not change.
    Invariance,
    /// Order-2 terms whose second-order block is not semidefinite (harmless at order 2).
    Coupling,
    /// A nonzero semidefinite second-order block: Voronoi-cell coefficients can cancel.
    Interaction,
    /// A term that differentiates a kink twice (a Dirac mass): set aside, not a relation.
    Singular,
}

impl RelationClass {
    /// The name used in output.
    pub fn name(self) -> &'static str {
        match self {
            RelationClass::Mass => "mass",
            RelationClass::Gauge => "gauge",
            RelationClass::CrossAtom => "cross-atom",
            RelationClass::Invariance => "invariance",
            RelationClass::Coupling => "coupling",
            RelationClass::Interaction => "interaction",
            RelationClass::Singular => "singular",
        }
    }
}

impl fmt::Display for RelationClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One term $c_\alpha\,\partial^\alpha u(\cdot;\theta^*_j)$ of a relation.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    /// Atom (0-based).
    pub atom: usize,
    /// The derivative.
    pub alpha: MultiIndex,
    /// The coefficient (the pivot's is 1).
    pub coef: f64,
}

/// A relation $\sum c_\alpha \partial^\alpha u = 0$ with its class.
#[derive(Clone, Debug, PartialEq)]
pub struct Relation {
    /// Its class.
    pub class: RelationClass,
    /// `Some(true)`: persists at perturbed atoms; `Some(false)`: only at this point; `None`:
    /// not tested (perturbed evaluations failed).
    pub structural: Option<bool>,
    /// The terms, pivot first (coefficient 1).
    pub terms: Vec<Term>,
    /// $\|\tilde J v\|/\|v\|$ in scaled coordinates.
    pub residual: f64,
    /// Whether some term is a pure power $\partial^2 u/\partial\theta_k^2$ (a necessary sign of
    /// an interaction, not sufficient: docs/theory.md §3).
    pub pure_power: bool,
    /// For singular terms: the kinked sub-expression.
    pub kink: Option<String>,
    /// `Certified` when the relation holds under precision doubling and at fresh sample points.
    pub certificate: Certificate,
    /// The relation with exact coefficients, when they were recognised.
    pub exact: Option<exact::Exact>,
}

impl Relation {
    /// Highest order among the terms.
    pub fn order(&self) -> usize {
        self.terms
            .iter()
            .map(|t| t.alpha.order())
            .max()
            .unwrap_or(0)
    }

    /// Whether the relation involves more than one atom.
    /// Whether the printed relation is exact: a verified exact form, a single term
    /// (`∂²u/∂a² = 0`) or a singular term. Otherwise its coefficients are decimals valid at this
    /// configuration only.
    pub fn exact_form_found(&self) -> bool {
        self.class == RelationClass::Singular
            || self.terms.len() == 1
            || self.exact.as_ref().is_some_and(|e| e.verified)
    }

    /// Its status as printed: `structural`, `at this point` or `untested` (none for singular
    /// terms).
    pub fn status(&self) -> &'static str {
        match (self.class, self.structural) {
            (RelationClass::Singular, _) => "",
            (_, Some(true)) => "structural",
            (_, Some(false)) => "at this point",
            (_, None) => "untested",
        }
    }

    pub fn is_cross_atom(&self) -> bool {
        self.terms.iter().any(|t| t.atom != self.terms[0].atom)
    }
}

/// Settings of the relation analysis.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Rank tolerances.
    pub rank: Tolerance,
    /// Seed of the perturbations for the structural test.
    pub seed: u64,
    /// Number of perturbed configurations.
    pub perturbations: usize,
    /// Relative size of a perturbation.
    pub perturbation_size: f64,
    /// Tolerance of the PSD test.
    pub psd_tol: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rank: Tolerance::default(),
            seed: 1,
            perturbations: 3,
            perturbation_size: 0.25,
            psd_tol: 1e-7,
        }
    }
}

/// The relations of one atom and the PSD test on its null space.
#[derive(Clone, Debug)]
pub struct AtomRelations {
    /// Atom (0-based).
    pub atom: usize,
    /// Canonical relations, classified, in pivot-priority order, followed by singular terms.
    pub relations: Vec<Relation>,
    /// The exact PSD test on the whole null space (docs/theory.md §3).
    pub psd: PsdOutcome,
    /// Terms of the family that are independent of the others (non-pivots), by index.
    pub free: Vec<usize>,
    /// Certificate of the family's rank decision.
    pub certificate: Certificate,
}

/// Everything this stage finds.
#[derive(Clone, Debug)]
pub struct Relations {
    /// Per atom.
    pub atoms: Vec<AtomRelations>,
    /// Cross-atom relations of the joint family.
    pub cross: Vec<Relation>,
    /// The rank decision of the joint family (reduced to each atom's independent terms).
    pub joint: Option<Rank>,
    /// Its certificate.
    pub joint_certificate: Certificate,
    /// Perturbed configurations that could not be evaluated (and were redrawn).
    pub failed_perturbations: usize,
    /// The group level's first-order test of a hierarchical gate.
    pub groups: Option<GroupLevel>,
}

/// Pivot priority of the terms: highest order first; masses first among first-order terms;
/// then lexicographically; `u` last.
fn priority(terms: &[MultiIndex], is_mass: impl Fn(usize) -> bool) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..terms.len()).collect();
    idx.sort_by_key(|&i| {
        let t = &terms[i];
        let mass = t.order() == 1 && is_mass(t.directions()[0] as usize);
        (std::cmp::Reverse(t.order()), !mass, t.clone())
    });
    idx
}

/// Largest residual $\|\tilde J v\|/\|v\|$ of an accepted relation: the geometric middle of the
/// rank gap, $\sqrt{\sigma_k \sigma_{k+1}}$ (values floored at $\varepsilon\sigma_1$), so a
/// relation is accepted when it is closer to the discarded values than to the kept ones.
fn residual_tol(r: &Rank) -> f64 {
    let s = &r.singular_values;
    let s1 = r.sigma_max().max(f64::MIN_POSITIVE);
    let floor = f64::EPSILON * s1;
    let kept = if r.rank > 0 { s[r.rank - 1] } else { s1 };
    let dropped = s.get(r.rank).copied().unwrap_or(0.0).max(floor);
    (kept.max(floor) * dropped).sqrt()
}

/// The symmetric second-order block $S$ of a relation over the non-mass parameters, balanced by
/// the first-order column norms: $S_{kk} = 2 c_{kk}$, $S_{kl} = c_{kl}$, then $D S D$ with
/// $D_{kk} = \|\partial_k u\|$ (a congruence: semidefiniteness is unchanged).
fn second_order_block(terms: &[Term], first_norms: &[f64]) -> DMatrix<f64> {
    let p = first_norms.len();
    let mut S = DMatrix::zeros(p, p);
    for t in terms.iter().filter(|t| t.alpha.order() == 2) {
        let d = t.alpha.directions();
        let (k, l) = (d[0] as usize, d[1] as usize);
        if k == l {
            S[(k, k)] += 2.0 * t.coef;
        } else {
            S[(k, l)] += t.coef;
            S[(l, k)] += t.coef;
        }
    }
    for k in 0..p {
        for l in 0..p {
            S[(k, l)] *= first_norms[k] * first_norms[l];
        }
    }
    S
}

fn classify(
    rel: &Relation,
    masses: &[usize],
    first_norms: &[f64],
    shared: &[usize],
    tol: f64,
) -> RelationClass {
    let orders: Vec<usize> = rel.terms.iter().map(|t| t.alpha.order()).collect();
    let max = orders.iter().copied().max().unwrap_or(0);
    if rel.terms.len() == 2 && max == 1 && orders.contains(&0) {
        let t = rel
            .terms
            .iter()
            .find(|t| t.alpha.order() == 1)
            .map(|t| t.alpha.directions()[0] as usize);
        if t.is_some_and(|v| masses.contains(&v)) {
            return RelationClass::Mass;
        }
    }
    if max <= 1 {
        return RelationClass::Invariance;
    }
    // A relation through order-3+ terms cannot cancel second-order coefficients: those are
    // O(Δ²) and third-order ones O(Δ³). Only the null space of F_2 decides interactions.
    if max >= 3 {
        return RelationClass::Coupling;
    }
    let block = second_order_block(&rel.terms, first_norms);
    if !shared_entries(&block, shared).iter().all(|v| *v == 0.0) {
        // its second-order coefficients on a shared parameter cannot be met (see
        // `restrict_shared`)
        return RelationClass::Coupling;
    }
    if psd::psd_combination(&[block], tol).interaction {
        RelationClass::Interaction
    } else {
        RelationClass::Coupling
    }
}

/// Runs the stage (see the module docs).
///
/// `families[j]` and `ranks[j]` are atom $j$'s family of the analysed order and its rank
/// decision; `atoms` the true configuration with `fstar` at `points`.
///
/// # Errors
/// [`FamilyError`] when evaluating the joint family fails (perturbed configurations that fail
/// are redrawn, then skipped).
pub fn analyse(
    design: &Design,
    points: &SamplePoints,
    atoms: &[Vec<f64>],
    families: &[AtomFamily],
    ranks: &[(Rank, Certificate)],
    escalation: &mut Escalation,
    settings: &Settings,
) -> Result<Relations, FamilyError> {
    let perturbed = structural::Perturbations::draw(design, points, atoms, settings);
    let mut out = Vec::new();
    for (fam, (r, cert)) in families.iter().zip(ranks) {
        out.push(atom_relations(
            design, fam, r, *cert, &perturbed, escalation, settings,
        )?);
    }
    let (mut cross, joint, joint_certificate) = if families.len() >= 2 {
        let (c, j, cert) =
            cross::cross_atom(design, families, &out, &perturbed, escalation, settings)?;
        (c, Some(j), cert)
    } else {
        (Vec::new(), None, Certificate::Numerical)
    };
    // one relation, one text: a form recognised at one atom is tried where it was not found
    let mut per_atom: Vec<&mut Vec<Relation>> = out.iter_mut().map(|a| &mut a.relations).collect();
    exact::share(
        design,
        perturbed.points(),
        perturbed.truth(),
        &mut per_atom,
        settings.seed,
    );
    let mut invariances = shared::shared_invariances(design, families, settings);
    // Structural when the support stays dependent at perturbed atoms; the per-atom support test
    // does not sum a shared parameter's columns, so a failure there is no evidence: untested.
    set_structural(design, &perturbed, &mut invariances, Certificate::Numerical);
    for r in &mut invariances {
        r.structural = r.structural.filter(|&s| s);
    }
    let mut beyond =
        gauge::beyond_gauge(design, points, atoms, families, &out, &mut cross, settings);
    set_structural(design, &perturbed, &mut beyond, Certificate::Numerical);
    invariances.extend(beyond);
    let mut second = orbit::beyond_orbit(
        design,
        points,
        atoms,
        families,
        &out,
        (&mut cross, &invariances),
        settings,
    );
    set_structural(design, &perturbed, &mut second, Certificate::Numerical);
    // a gauge relation on the very terms of such an invariance is that invariance
    let support = |r: &Relation| {
        let mut s: Vec<(usize, MultiIndex)> =
            r.terms.iter().map(|t| (t.atom, t.alpha.clone())).collect();
        s.sort();
        s
    };
    cross.retain(|g| {
        g.class != RelationClass::Gauge || invariances.iter().all(|i| support(i) != support(g))
    });
    cross.extend(invariances);
    cross.extend(second);
    let groups = groups::group_level(design, points, atoms, families, settings);
    Ok(Relations {
        atoms: out,
        cross,
        joint,
        joint_certificate,
        failed_perturbations: perturbed.failed,
        groups,
    })
}

fn atom_relations(
    design: &Design,
    fam: &AtomFamily,
    r: &Rank,
    cert: Certificate,
    perturbed: &structural::Perturbations,
    escalation: &mut Escalation,
    settings: &Settings,
) -> Result<AtomRelations, FamilyError> {
    let masses: Vec<usize> = fam
        .masses
        .iter()
        .filter(|m| m.holds || m.declared)
        .map(|m| m.var)
        .collect();
    let order = priority(&fam.terms, |v| masses.contains(&v));
    let scaled_rels = canonical(&r.compact, &r.null_space, &order, residual_tol(r));
    let p = design.n_vars();
    // First-order column norms, for balancing second-order blocks; masses excluded (their
    // higher derivatives are not in the family).
    let mut first_norms = vec![0.0; p];
    for (i, t) in fam.terms.iter().enumerate() {
        if t.order() == 1 {
            let v = t.directions()[0] as usize;
            if !masses.contains(&v) {
                first_norms[v] = fam.matrix.column(i).norm();
            }
        }
    }
    for n in first_norms.iter_mut() {
        if *n == 0.0 {
            *n = 1.0;
        }
    }
    let pivots: Vec<usize> = scaled_rels.iter().map(|s| s.pivot).collect();
    let free: Vec<usize> = (0..fam.terms.len())
        .filter(|i| !pivots.contains(i))
        .collect();
    let shared: Vec<usize> = (0..p)
        .filter(|&v| design.roles[v] == crate::case::Role::Shared)
        .collect();
    let mut relations: Vec<Relation> = scaled_rels
        .iter()
        .map(|s| to_relation(s, fam, r, settings, &masses, &first_norms, &shared))
        .collect();
    tie_masses(&mut relations);
    // The exact PSD test over the null space of F_2 (docs/theory.md §3): the relations of order at
    // most 2, which the RREF (highest orders as pivots) lists apart from the others.
    let blocks: Vec<DMatrix<f64>> = relations
        .iter()
        .map(|rel| {
            if rel.order() <= 2 {
                second_order_block(&rel.terms, &first_norms)
            } else {
                DMatrix::zeros(p, p)
            }
        })
        .collect();
    let (basis, restricted) = restrict_shared(&blocks, &shared);
    let mut psd = psd::psd_combination(&restricted, settings.psd_tol);
    if !psd.weights.is_empty() {
        psd.weights = (&basis * DVector::from_column_slice(&psd.weights))
            .iter()
            .copied()
            .collect();
    }
    // A witness is shown only when it adds information: with an invariance the atom is
    // degenerate anyway (and the invariance direction itself gives a rank-one PSD block).
    let shown = |c| relations.iter().any(|r: &Relation| r.class == c);
    if psd.interaction && !shown(RelationClass::Interaction) && !shown(RelationClass::Invariance) {
        if let Some(w) = witness(&relations, &psd.weights, fam, r) {
            relations.push(w);
        }
    }
    set_structural(design, perturbed, &mut relations, cert);
    certify_relations(&mut relations, cert, escalation)?;
    let extra: Vec<usize> = (0..p)
        .filter(|&v| masses.contains(&v) || design.roles[v] == crate::case::Role::Shared)
        .collect();
    recognise_all(design, perturbed, &mut relations, &extra, settings.seed);
    for s in &fam.singular {
        relations.push(Relation {
            class: RelationClass::Singular,
            structural: None,
            terms: vec![Term {
                atom: fam.atom,
                alpha: s.alpha.clone(),
                coef: 1.0,
            }],
            residual: 0.0,
            pure_power: false,
            kink: Some(s.kink.clone()),
            certificate: Certificate::Numerical,
            exact: None,
        });
    }
    Ok(AtomRelations {
        atom: fam.atom,
        relations,
        psd,
        free,
        certificate: cert,
    })
}

/// Two masses in one atom are one weight: $\partial_{m_1} u = c_1 u$ and $\partial_{m_2} u = c_2 u$
/// leave the direction $c_2 \partial_{m_1} - c_1 \partial_{m_2}$ unidentified (only the product
/// of the two weights is). The first mass relation stays; each later one becomes that
/// invariance, $\partial_{m_i} u = (c_i / c_1)\,\partial_{m_1} u$.
fn tie_masses(relations: &mut [Relation]) {
    let mut first: Option<Term> = None;
    for rel in relations
        .iter_mut()
        .filter(|r| r.class == RelationClass::Mass)
    {
        // A mass relation reads ∂_m u − c u = 0, pivot first: c = −(coefficient of u).
        let c = -rel
            .terms
            .iter()
            .find(|t| t.alpha.order() == 0)
            .map_or(0.0, |t| t.coef);
        match &first {
            None => {
                first = Some(Term {
                    atom: rel.terms[0].atom,
                    alpha: rel.terms[0].alpha.clone(),
                    coef: c,
                })
            }
            Some(f) if f.coef != 0.0 => {
                rel.terms = vec![
                    rel.terms[0].clone(),
                    Term {
                        atom: f.atom,
                        alpha: f.alpha.clone(),
                        coef: -c / f.coef,
                    },
                ];
                rel.class = RelationClass::Invariance;
            }
            Some(_) => {}
        }
    }
}

/// Converts a scaled relation to original units and classifies it.
/// A canonical null vector as a relation of class `class`, unclassified further: column `c` is
/// the term `term(c)` (atom, multi-index); coefficients back in unscaled coordinates (`scale`:
/// the column norms), the pivot's 1.
fn from_scaled(
    s: &ScaledRelation,
    scale: &[f64],
    class: RelationClass,
    term: impl Fn(usize) -> (usize, MultiIndex),
) -> Relation {
    Relation {
        class,
        structural: None,
        terms: s
            .entries
            .iter()
            .map(|&(c, v)| {
                let (atom, alpha) = term(c);
                Term {
                    atom,
                    alpha,
                    coef: v * scale[s.pivot] / scale[c],
                }
            })
            .collect(),
        residual: s.residual,
        pure_power: false,
        kink: None,
        certificate: Certificate::Numerical,
        exact: None,
    }
}

/// A structural coupling with these terms, for unit tests.
#[cfg(test)]
pub(crate) fn test_relation(terms: Vec<Term>) -> Relation {
    Relation {
        class: RelationClass::Coupling,
        structural: Some(true),
        terms,
        residual: 0.0,
        pure_power: false,
        kink: None,
        certificate: Certificate::Numerical,
        exact: None,
    }
}

fn to_relation(
    s: &ScaledRelation,
    fam: &AtomFamily,
    r: &Rank,
    settings: &Settings,
    masses: &[usize],
    first_norms: &[f64],
    shared: &[usize],
) -> Relation {
    let mut rel = from_scaled(s, &r.scale, RelationClass::Coupling, |c| {
        (fam.atom, fam.terms[c].clone())
    });
    rel.pure_power = rel.terms.iter().any(|t| {
        let d = t.alpha.directions();
        d.len() == 2 && d[0] == d[1]
    });
    rel.class = classify(&rel, masses, first_norms, shared, settings.psd_tol);
    rel
}

/// The PSD witness $\sum_j w_j v_j$ as a relation (normalised to its largest-priority term).
fn witness(
    relations: &[Relation],
    weights: &[f64],
    fam: &AtomFamily,
    r: &Rank,
) -> Option<Relation> {
    let mut coef: Vec<f64> = vec![0.0; fam.terms.len()];
    for (rel, &w) in relations.iter().zip(weights) {
        for t in &rel.terms {
            let i = fam.terms.iter().position(|a| a == &t.alpha)?;
            coef[i] += w * t.coef;
        }
    }
    let scaled_entries: Vec<(usize, f64)> = coef
        .iter()
        .enumerate()
        .filter(|(_, c)| **c != 0.0)
        .map(|(i, c)| (i, c * r.scale[i]))
        .collect();
    let big = scaled_entries.iter().map(|e| e.1.abs()).fold(0.0, f64::max);
    let kept: Vec<(usize, f64)> = scaled_entries
        .into_iter()
        .filter(|e| e.1.abs() > 1e-9 * big)
        .collect();
    let pivot = kept
        .iter()
        .max_by_key(|e| {
            (
                fam.terms[e.0].order(),
                std::cmp::Reverse(fam.terms[e.0].clone()),
            )
        })?
        .0;
    let pc = coef[pivot];
    let mut terms: Vec<Term> = kept
        .iter()
        .map(|&(i, _)| Term {
            atom: fam.atom,
            alpha: fam.terms[i].clone(),
            coef: coef[i] / pc,
        })
        .collect();
    terms.sort_by_key(|t| t.alpha != fam.terms[pivot]);
    let residual = canonical::residual(&r.compact, &kept);
    Some(Relation {
        class: RelationClass::Interaction,
        structural: None,
        pure_power: true,
        terms,
        residual,
        kink: None,
        certificate: Certificate::Numerical,
        exact: None,
    })
}

#[cfg(test)]
mod tests;
