//! Cross-atom relations: the null space of the joint family reduced to each atom's
//! independent terms (the gauge relations of a normalized gate; for an unnormalized gate, atoms
//! that are not distinct).

use super::*;

pub(super) fn cross_atom(
    design: &Design,
    families: &[AtomFamily],
    atoms: &[AtomRelations],
    perturbed: &structural::Perturbations,
    escalation: &mut Escalation,
    settings: &Settings,
) -> Result<(Vec<Relation>, Rank, Certificate), FamilyError> {
    // The joint family reduced to each atom's independent terms: its null space holds exactly
    // the relations that need more than one atom.
    let mut cols: Vec<(usize, usize)> = Vec::new();
    for (fam, ar) in families.iter().zip(atoms) {
        cols.extend(ar.free.iter().map(|&i| (fam.atom, i)));
    }
    let n_rows = families[0].matrix.nrows();
    let J = DMatrix::from_fn(n_rows, cols.len(), |i, c| {
        let (a, t) = cols[c];
        families[a].matrix[(i, t)]
    });
    let joint_terms: Vec<(usize, MultiIndex)> = cols
        .iter()
        .map(|&(a, t)| (a, families[a].terms[t].clone()))
        .collect();
    let (r, cert) =
        escalation.decide_for_relations(rank::analyse(&J, &settings.rank), &joint_terms)?;
    let terms: Vec<&MultiIndex> = cols.iter().map(|&(a, t)| &families[a].terms[t]).collect();
    let mut idx: Vec<usize> = (0..cols.len()).collect();
    idx.sort_by_key(|&c| {
        (
            std::cmp::Reverse(terms[c].order()),
            cols[c].0,
            terms[c].clone(),
        )
    });
    let rels = canonical(&r.compact, &r.null_space, &idx, residual_tol(&r));
    // A common translation of the log-weights is a gauge only when every weight moves with it:
    // a fixed component's weight inside the gate does not (one mixed outside it is not in u).
    let class = if design.normalized && !design.has_fixed_in_gate() {
        RelationClass::Gauge
    } else {
        RelationClass::CrossAtom
    };
    let mut out = Vec::new();
    for s in rels {
        let mut rel = from_scaled(&s, &r.scale, class, |c| (cols[c].0, terms[c].clone()));
        // Per-atom relations cannot appear here (each atom keeps independent terms only); a
        // one-atom relation would mean the reduction failed numerically: keep it, classified.
        if !rel.is_cross_atom() {
            rel.class = RelationClass::Coupling;
        }
        out.push(rel);
    }
    set_structural(design, perturbed, &mut out, cert);
    certify_relations(&mut out, cert, escalation)?;
    recognise_all(design, perturbed, &mut out, &[], settings.seed);
    Ok((out, r, cert))
}
