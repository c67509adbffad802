//! Relations → a verdict (docs/theory.md §3).
//!
//! At the analysed order $r$:
//! - **degenerate**: some atom has an invariance (a relation among terms of order $\le 1$, other
//!   than a mass relation), or the atoms are not distinct (a cross-atom relation of an
//!   unnormalized gate);
//! - **interaction**: no invariance, but the exact PSD test finds a nonzero semidefinite
//!   second-order block in some atom's null space;
//! - **identifiable** (at order $r$): neither. Couplings, masses, gauge relations and singular
//!   terms do not change the verdict.

use crate::rank::Certificate;
use crate::relations::{Relation, RelationClass, Relations};
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
    /// The reason, in one sentence.
    pub reason: String,
    /// The weakest certificate among the decisions the verdict rests on: every atom's rank
    /// decision, its relations, its PSD test, and cross-atom relations of unnormalized gates.
    pub certificate: Certificate,
}

/// Decides the verdict from the relations at order `order`.
///
/// `variables` names the parameters in the reason; `has_mass[j]` says whether atom $j$ has a
/// mass parameter.
pub fn decide(
    relations: &Relations,
    order: usize,
    variables: &[String],
    has_mass: &[bool],
) -> Verdict {
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
    let count = |c: RelationClass| {
        relations
            .atoms
            .iter()
            .flat_map(|a| &a.relations)
            .filter(|r| r.class == c)
            .count()
    };
    let at = |r: &Relation| match r.structural {
        Some(false) => " (at this point only)",
        _ => "",
    };
    let (kind, reason) = if let Some((j, r)) = first_invariance {
        (
            VerdictKind::Degenerate,
            format!(
                "atom {}: {}{} is an invariance: u does not change along this direction, so the parameters are not locally identifiable",
                j + 1,
                r.text(variables),
                at(r)
            ),
        )
    } else if let Some(r) = cross {
        (
            VerdictKind::Degenerate,
            format!(
                "{}: the atoms are not distinct functions, so the configuration is not identifiable",
                r.text(variables)
            ),
        )
    } else if atoms.iter().any(|a| a.kind == VerdictKind::Interaction) {
        let what = match first_interaction {
            Some((j, r)) => format!("atom {}: {}{}", j + 1, r.text(variables), at(r)),
            None => "a combination of relations".into(),
        };
        (
            VerdictKind::Interaction,
            format!("{what} has a nonzero positive semidefinite second-order block, so Voronoi-cell coefficients can cancel at order {order}"),
        )
    } else {
        let couplings = count(RelationClass::Coupling);
        let note = match couplings {
            0 => String::new(),
            1 => " (1 coupling, harmless)".into(),
            n => format!(" ({n} couplings, harmless)"),
        };
        (
            VerdictKind::Identifiable,
            format!("no invariance and no interaction up to order {order}{note}"),
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
