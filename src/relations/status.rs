//! A relation's status and exact form: structural or at this point, certified, recognised.

use super::*;

/// Structural or at this point, tested in f64 or, for escalated families, in high precision.
pub(super) fn set_structural(
    design: &Design,
    perturbed: &structural::Perturbations,
    relations: &mut [Relation],
    cert: Certificate,
) {
    if cert == Certificate::Numerical {
        for rel in relations.iter_mut() {
            rel.structural = perturbed.persists(design, rel);
        }
    } else {
        let refs: Vec<&Relation> = relations.iter().collect();
        let found = perturbed.persists_hp(design, &refs);
        for (rel, s) in relations.iter_mut().zip(found) {
            rel.structural = s;
        }
    }
}

/// Exact forms of every relation (see [`exact`]), in parallel.
pub(super) fn recognise_all(
    design: &Design,
    perturbed: &structural::Perturbations,
    relations: &mut [Relation],
    extra: &[usize],
    seed: u64,
) {
    use rayon::prelude::*;
    let found: Vec<Option<exact::Exact>> = relations
        .par_iter()
        .enumerate()
        .map(|(k, rel)| {
            if rel.class == RelationClass::Singular {
                return None;
            }
            let hp = rel.certificate != Certificate::Numerical;
            exact::recognise(
                design,
                perturbed.points(),
                perturbed.truth(),
                rel,
                extra,
                seed.wrapping_add(k as u64),
                hp,
            )
        })
        .collect();
    for (rel, e) in relations.iter_mut().zip(found) {
        rel.exact = e;
    }
}

/// The certificates of `relations` (each on its own support) for a family decided with `cert`.
pub(super) fn certify_relations(
    relations: &mut [Relation],
    cert: Certificate,
    escalation: &mut Escalation,
) -> Result<(), FamilyError> {
    for rel in relations
        .iter_mut()
        .filter(|r| r.class != RelationClass::Singular)
    {
        let support: Vec<(usize, MultiIndex)> = rel
            .terms
            .iter()
            .map(|t| (t.atom, t.alpha.clone()))
            .collect();
        rel.certificate = escalation.relation(cert, &support)?;
    }
    Ok(())
}
