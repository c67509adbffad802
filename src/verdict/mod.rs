//! Relations → a verdict (docs/theory.md §3).
//!
//! At the analysed order $r$:
//! - **degenerate**: some atom has an invariance (a relation among terms of order $\le 1$, other
//!   than a mass relation), the mixture has one that no single atom shows (through a shared
//!   parameter, or a first-order cross-atom relation outside a normalized gate's gauge), or the
//!   atoms are not distinct (a cross-atom relation of an unnormalized gate);
//! - **interaction**: no invariance, but the exact PSD test finds a nonzero semidefinite
//!   second-order block in some atom's null space, or a second-order cross-atom relation beyond
//!   the gauge orbit has semidefinite blocks of one sign;
//! - **identifiable** (at order $r$): neither. Couplings, masses, gauge relations and singular
//!   terms do not change the verdict.
//!
//! A fixed component mixed outside the gate whose share trades against the atoms' parameters
//! at first order makes the verdict degenerate too ([`with_fixed`]).

use crate::rank::Certificate;
use crate::relations::{Distinguishability, Relation, RelationClass, Relations};
use std::fmt;

/// The three verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerdictKind {
    /// No invariance and no interaction at the analysed order.
    Identifiable,
    /// No invariance, but an interaction.
    Interaction,
    /// An invariance: not (locally) identifiable.
    Degenerate,
}

impl VerdictKind {
    /// The name used in case files and output.
    pub fn name(self) -> &'static str {
        match self {
            VerdictKind::Identifiable => "identifiable",
            VerdictKind::Interaction => "interaction",
            VerdictKind::Degenerate => "degenerate",
        }
    }
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The verdict of one atom.
#[derive(Clone, Debug, PartialEq)]
pub struct AtomVerdict {
    /// Atom (0-based).
    pub atom: usize,
    /// Its verdict.
    pub kind: VerdictKind,
    /// Whether the atom has a (holding) mass parameter.
    pub has_mass: bool,
}

/// The verdict of a case and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The verdict.
    pub kind: VerdictKind,
    /// The analysed order $r$.
    pub order: usize,
    /// Per atom.
    pub atoms: Vec<AtomVerdict>,
    /// Why (in one sentence: [`crate::report::text::reason`]).
    pub reason: Reason,
    /// The weakest certificate among the decisions the verdict rests on: every atom's rank
    /// decision, its relations, its PSD test, and cross-atom relations of unnormalized gates.
    pub certificate: Certificate,
}

/// Why a verdict is what it is: data, worded in [`crate::report::text::reason`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// An atom's invariance: $u$ does not change along a direction.
    Invariance {
        /// The atom (0-based).
        atom: usize,
        /// The relation.
        relation: Relation,
    },
    /// An invariance of the mixture that no single atom shows.
    MixtureInvariance(Relation),
    /// A cross-atom relation of an unnormalized gate: the atoms are not distinct functions.
    NotDistinct(Relation),
    /// A nonzero semidefinite second-order block at an atom (`atom` and `relation`), in a
    /// cross-atom relation beyond the gauge orbit (`atom` none), or in a combination.
    Interaction {
        /// The atom (0-based) of the first interaction, if at an atom.
        atom: Option<usize>,
        /// The relation, if one is named.
        relation: Option<Relation>,
        /// The analysed order.
        order: usize,
    },
    /// No invariance and no interaction.
    Identifiable {
        /// The analysed order.
        order: usize,
        /// Couplings found (harmless).
        couplings: usize,
    },
    /// A fixed component's share in the span of the atoms' terms of order ≤ 1.
    FixedShare {
        /// Terms of the span.
        terms: usize,
        /// Rank without the share's direction.
        rank_without: usize,
        /// Rank with it.
        rank_with: usize,
    },
    /// Directions of the group parameters beyond the group gauge that leave the mixture
    /// unchanged at first order.
    Groups {
        /// Number of directions.
        directions: usize,
        /// The group parameters they move.
        moved: Vec<String>,
    },
}

/// Decides the verdict from the relations at order `order`.
///
/// `has_mass[j]` says whether atom $j$ has a mass parameter.
pub fn decide(relations: &Relations, order: usize, has_mass: &[bool]) -> Verdict {
    let mut atoms = Vec::new();
    let mut first_invariance: Option<(usize, &Relation)> = None;
    let mut first_interaction: Option<(usize, &Relation)> = None;
    for ar in &relations.atoms {
        let inv = ar
            .relations
            .iter()
            .find(|r| r.class == RelationClass::Invariance);
        let inter: Vec<&Relation> = ar
            .relations
            .iter()
            .filter(|r| r.class == RelationClass::Interaction)
            .collect();
        let interaction = ar.psd.interaction || !inter.is_empty();
        let kind = if inv.is_some() {
            VerdictKind::Degenerate
        } else if interaction {
            VerdictKind::Interaction
        } else {
            VerdictKind::Identifiable
        };
        if let (Some(r), None) = (inv, first_invariance) {
            first_invariance = Some((ar.atom, r));
        }
        if let (Some(r), None) = (inter.first(), first_interaction) {
            first_interaction = Some((ar.atom, r));
        }
        atoms.push(AtomVerdict {
            atom: ar.atom,
            kind,
            has_mass: has_mass.get(ar.atom).copied().unwrap_or(false),
        });
    }
    let cross = relations
        .cross
        .iter()
        .find(|r| r.class == RelationClass::CrossAtom);
    let shared = relations
        .cross
        .iter()
        .find(|r| r.class == RelationClass::Invariance);
    // a second-order relation between atoms beyond the gauge orbit, semidefinite blocks
    let cross_interaction = relations
        .cross
        .iter()
        .find(|r| r.class == RelationClass::Interaction);
    let count = |c: RelationClass| {
        relations
            .atoms
            .iter()
            .flat_map(|a| &a.relations)
            .filter(|r| r.class == c)
            .count()
    };
    let (kind, reason) = if let Some((j, r)) = first_invariance {
        (
            VerdictKind::Degenerate,
            Reason::Invariance {
                atom: j,
                relation: r.clone(),
            },
        )
    } else if let Some(r) = shared {
        (
            VerdictKind::Degenerate,
            Reason::MixtureInvariance(r.clone()),
        )
    } else if let Some(r) = cross {
        (VerdictKind::Degenerate, Reason::NotDistinct(r.clone()))
    } else if atoms.iter().any(|a| a.kind == VerdictKind::Interaction)
        || cross_interaction.is_some()
    {
        let (atom, relation) = match (first_interaction, cross_interaction) {
            (Some((j, r)), _) => (Some(j), Some(r.clone())),
            (None, Some(r)) => (None, Some(r.clone())),
            (None, None) => (None, None),
        };
        (
            VerdictKind::Interaction,
            Reason::Interaction {
                atom,
                relation,
                order,
            },
        )
    } else {
        (
            VerdictKind::Identifiable,
            Reason::Identifiable {
                order,
                couplings: count(RelationClass::Coupling),
            },
        )
    };
    let mut certificate = Certificate::Certified;
    for ar in &relations.atoms {
        certificate = certificate.and(ar.certificate);
        if !ar.psd.decided {
            certificate = certificate.and(Certificate::Undecided);
        }
        for r in ar
            .relations
            .iter()
            .filter(|r| r.class != RelationClass::Singular)
        {
            certificate = certificate.and(r.certificate);
        }
    }
    for r in shared.iter().chain(&cross_interaction) {
        certificate = certificate.and(r.certificate);
    }
    if relations
        .cross
        .iter()
        .any(|r| r.class == RelationClass::CrossAtom)
    {
        certificate = certificate.and(relations.joint_certificate);
    }
    Verdict {
        kind,
        order,
        atoms,
        reason,
        certificate,
    }
}

/// The verdict with a fixed component's distinguishability test (docs/theory.md §8): a share
/// $\lambda$ mixed outside the gate whose direction $e_0 - f_G^*$ lies in the span of the
/// atoms' terms of order ≤ 1 is an invariance of the model, so the verdict becomes degenerate
/// (an invariance the atoms already have keeps its own reason). The test is decided in f64:
/// the certificate is at most numerical.
pub fn with_fixed(mut verdict: Verdict, d: &Distinguishability) -> Verdict {
    let Some(first) = d.first_order.as_ref().filter(|t| !t.distinguishable) else {
        return verdict;
    };
    if verdict.kind != VerdictKind::Degenerate {
        verdict.kind = VerdictKind::Degenerate;
        verdict.reason = Reason::FixedShare {
            terms: first.terms,
            rank_without: first.rank_without,
            rank_with: first.rank_with,
        };
    }
    verdict.certificate = verdict.certificate.and(if first.clear {
        Certificate::Numerical
    } else {
        Certificate::Undecided
    });
    verdict
}

/// The verdict with a hierarchical gate's group level (docs/theory.md §10): a direction of the
/// group parameters beyond the group gauge along which the mixture does not move at first order
/// is an invariance, so the verdict becomes degenerate (an invariance the experts already have
/// keeps its own reason). Decided in f64: the certificate is at most numerical.
pub fn with_groups(
    mut verdict: Verdict,
    level: &crate::relations::GroupLevel,
    group_variables: &[String],
) -> Verdict {
    verdict.certificate = verdict.certificate.and(if level.clear {
        Certificate::Numerical
    } else {
        Certificate::Undecided
    });
    if level.invariances.is_empty() {
        return verdict;
    }
    if verdict.kind != VerdictKind::Degenerate {
        let mut moved: Vec<String> = Vec::new();
        for &(_, v, _) in level.invariances.iter().flatten() {
            if !moved.contains(&group_variables[v]) {
                moved.push(group_variables[v].clone());
            }
        }
        verdict.kind = VerdictKind::Degenerate;
        verdict.reason = Reason::Groups {
            directions: level.invariances.len(),
            moved,
        };
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::MultiIndex;
    use crate::relations::psd::PsdOutcome;
    use crate::relations::{AtomRelations, Term};

    fn term(atom: usize, dirs: &[u16], coef: f64) -> Term {
        Term {
            atom,
            alpha: MultiIndex::new(dirs.to_vec()),
            coef,
        }
    }

    fn relation(class: RelationClass, terms: Vec<Term>, certificate: Certificate) -> Relation {
        Relation {
            class,
            structural: Some(true),
            terms,
            residual: 0.0,
            pure_power: false,
            kink: None,
            certificate,
            exact: None,
        }
    }

    fn psd(interaction: bool, decided: bool) -> PsdOutcome {
        PsdOutcome {
            interaction,
            lambda: 0.0,
            weights: Vec::new(),
            decided,
        }
    }

    fn atom(j: usize, relations: Vec<Relation>, psd: PsdOutcome) -> AtomRelations {
        AtomRelations {
            atom: j,
            relations,
            psd,
            free: Vec::new(),
            certificate: Certificate::Certified,
        }
    }

    fn relations(atoms: Vec<AtomRelations>, cross: Vec<Relation>) -> Relations {
        Relations {
            atoms,
            cross,
            joint: None,
            joint_certificate: Certificate::Numerical,
            failed_perturbations: 0,
            groups: None,
        }
    }

    fn coupling(j: usize) -> Relation {
        // ∂²u/∂beta1∂b = ∂u/∂a
        relation(
            RelationClass::Coupling,
            vec![term(j, &[0, 3], 1.0), term(j, &[2], -1.0)],
            Certificate::Certified,
        )
    }

    #[test]
    fn couplings_alone_are_identifiable_and_counted() {
        let r = relations(
            vec![
                atom(0, vec![coupling(0)], psd(false, true)),
                atom(1, vec![coupling(1)], psd(false, true)),
            ],
            Vec::new(),
        );
        let v = decide(&r, 2, &[true, true]);
        assert_eq!(v.kind, VerdictKind::Identifiable);
        assert_eq!(
            v.reason,
            Reason::Identifiable {
                order: 2,
                couplings: 2
            }
        );
        assert_eq!(v.certificate, Certificate::Certified);
    }

    #[test]
    fn a_psd_block_is_an_interaction_and_an_invariance_beats_it() {
        let inter = relations(
            vec![
                atom(0, vec![coupling(0)], psd(true, true)),
                atom(1, Vec::new(), psd(false, true)),
            ],
            Vec::new(),
        );
        let v = decide(&inter, 2, &[true, true]);
        assert_eq!(v.kind, VerdictKind::Interaction);
        assert_eq!(v.atoms[0].kind, VerdictKind::Interaction);
        assert_eq!(v.atoms[1].kind, VerdictKind::Identifiable);
        // an invariance on atom 2 (∂u/∂a = 0) makes the case degenerate, named in the reason
        let inv = relation(
            RelationClass::Invariance,
            vec![term(1, &[2], 1.0)],
            Certificate::Certified,
        );
        let both = relations(
            vec![
                atom(0, vec![coupling(0)], psd(true, true)),
                atom(1, vec![inv], psd(false, true)),
            ],
            Vec::new(),
        );
        let v = decide(&both, 2, &[true, true]);
        assert_eq!(v.kind, VerdictKind::Degenerate);
        assert!(
            matches!(&v.reason, Reason::Invariance { atom: 1, relation }
                if relation.class == RelationClass::Invariance && relation.terms[0].atom == 1),
            "{:?}",
            v.reason
        );
    }

    #[test]
    fn a_cross_atom_relation_of_an_unnormalized_gate_is_degenerate_but_gauge_is_not() {
        let gauge = relation(
            RelationClass::Gauge,
            vec![term(0, &[], 1.0), term(1, &[], 1.0)],
            Certificate::Numerical,
        );
        let r = relations(
            vec![
                atom(0, Vec::new(), psd(false, true)),
                atom(1, Vec::new(), psd(false, true)),
            ],
            vec![gauge.clone()],
        );
        assert_eq!(decide(&r, 2, &[true, true]).kind, VerdictKind::Identifiable);
        let cross = Relation {
            class: RelationClass::CrossAtom,
            ..gauge
        };
        let r = relations(
            vec![
                atom(0, Vec::new(), psd(false, true)),
                atom(1, Vec::new(), psd(false, true)),
            ],
            vec![cross],
        );
        let v = decide(&r, 2, &[false, false]);
        assert_eq!(v.kind, VerdictKind::Degenerate);
        assert!(
            matches!(&v.reason, Reason::NotDistinct(r) if r.class == RelationClass::CrossAtom),
            "{:?}",
            v.reason
        );
        // it rests on the joint decision, numerical here
        assert_eq!(v.certificate, Certificate::Numerical);
    }

    #[test]
    fn an_undecided_psd_test_or_relation_weakens_the_certificate() {
        let undecided = relations(vec![atom(0, Vec::new(), psd(false, false))], Vec::new());
        assert_eq!(
            decide(&undecided, 2, &[true]).certificate,
            Certificate::Undecided
        );
        let numerical = relation(
            RelationClass::Coupling,
            vec![term(0, &[0, 3], 1.0), term(0, &[2], -1.0)],
            Certificate::Numerical,
        );
        let r = relations(vec![atom(0, vec![numerical], psd(false, true))], Vec::new());
        assert_eq!(decide(&r, 2, &[true]).certificate, Certificate::Numerical);
    }

    #[test]
    fn a_cross_atom_interaction_beyond_the_orbit_makes_the_verdict_interaction() {
        let inter = relation(
            RelationClass::Interaction,
            vec![term(0, &[0, 0], 1.0), term(1, &[1, 1], 2.0)],
            Certificate::Numerical,
        );
        let r = relations(
            vec![
                atom(0, vec![], psd(false, true)),
                atom(1, vec![], psd(false, true)),
            ],
            vec![inter],
        );
        let v = decide(&r, 2, &[false, false]);
        assert_eq!(v.kind, VerdictKind::Interaction);
        assert!(
            matches!(
                &v.reason,
                Reason::Interaction {
                    atom: None,
                    relation: Some(_),
                    order: 2
                }
            ),
            "{:?}",
            v.reason
        );
        assert_eq!(v.certificate, Certificate::Numerical);
    }
}
