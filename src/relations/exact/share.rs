//! Exact forms found at one atom, tried at the others. Each atom's null space is read in its own
//! canonical basis, and the coefficient fit of one atom can fail where another's succeeds (a
//! coefficient depending on a parameter that is not among the relation's directions, a larger
//! atom with a smaller degree budget). A structural relation holds on its whole stratum, so a
//! form recognised at atom `b` is the exact form of a numeric relation of atom `a` when both have
//! the same terms and the same pivot, the form evaluated at atom `a` gives atom `a`'s
//! coefficients, and it holds in high precision at a fresh stratum point of atom `a`. The same
//! relation then gets the same text and status at every atom where it holds.

use super::{stratum, verify, Exact};
use crate::family::{Design, SamplePoints};
use crate::relations::{Relation, RelationClass};

/// Relative agreement required between a numeric relation's coefficients and a borrowed form's
/// (f64 null vectors in scaled coordinates hold about eight digits).
const MATCH_TOL: f64 = 1e-6;

/// Whether a relation can take part: a per-atom relation of several terms, not singular.
fn eligible(r: &Relation) -> bool {
    r.class != RelationClass::Singular && r.terms.len() > 1 && !r.is_cross_atom()
}

/// The borrowed form's coefficients in `rel`'s term order, when both have the same terms and
/// pivot and the form, evaluated at `theta`, gives `rel`'s coefficients.
fn matching(rel: &Relation, form: &Relation, theta: &[f64]) -> Option<Vec<super::Coef>> {
    let exact = form.exact.as_ref()?;
    if form.terms.len() != rel.terms.len() || form.terms[0].alpha != rel.terms[0].alpha {
        return None;
    }
    let coefs: Vec<super::Coef> = rel
        .terms
        .iter()
        .map(|t| {
            let k = form.terms.iter().position(|f| f.alpha == t.alpha)?;
            Some(exact.coefs[k].clone())
        })
        .collect::<Option<_>>()?;
    let values: Vec<f64> = coefs.iter().map(|c| c.eval(theta)).collect();
    let pivot = rel.terms[0].coef;
    if values[0] == 0.0 || pivot == 0.0 {
        return None;
    }
    let own: Vec<f64> = rel.terms.iter().map(|t| t.coef / pivot).collect();
    let scale = own.iter().fold(1.0f64, |m, c| m.max(c.abs()));
    let agree = values
        .iter()
        .zip(&own)
        .all(|(v, o)| (v / values[0] - o).abs() <= MATCH_TOL * scale);
    agree.then_some(coefs)
}

/// Gives each numeric per-atom relation of `per_atom` the exact form of the same relation found
/// at another atom, where one exists and holds there (see the module documentation). Returns
/// how many relations took a borrowed form.
pub fn share(
    design: &Design,
    points: &SamplePoints,
    atoms: &[Vec<f64>],
    per_atom: &mut [&mut Vec<Relation>],
    seed: u64,
) -> usize {
    let forms: Vec<Relation> = per_atom
        .iter()
        .flat_map(|rels| rels.iter())
        .filter(|r| eligible(r) && r.exact.as_ref().is_some_and(|e| e.verified))
        .cloned()
        .collect();
    if forms.is_empty() {
        return 0;
    }
    let points = &points.first(60);
    let mut count = 0;
    for (i, rels) in per_atom.iter_mut().enumerate() {
        for (k, rel) in rels.iter_mut().enumerate() {
            if !eligible(rel) || rel.exact_form_found() {
                continue;
            }
            let atom = rel.terms[0].atom;
            let theta = &atoms[atom];
            for form in forms.iter().filter(|f| f.terms[0].atom != atom) {
                let Some(coefs) = matching(rel, form, theta) else {
                    continue;
                };
                let s = seed.wrapping_add((1000 * i + k) as u64);
                let Some(fresh) = stratum(design, atoms, 1, s).pop() else {
                    continue;
                };
                if !verify(design, points, &fresh, rel, &coefs) {
                    continue;
                }
                rel.exact = Some(Exact {
                    coefs,
                    verified: true,
                    names: design.variables.clone(),
                });
                // it holds at a fresh point of this atom's stratum: structural by definition
                rel.structural = Some(true);
                count += 1;
                break;
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::MultiIndex;
    use crate::relations::exact::{Basis, Coef, Rational};
    use crate::relations::{test_relation, Term};

    fn relation(atom: usize, coefs: &[f64]) -> Relation {
        // ∂u/∂a (pivot), ∂u/∂b, u
        let dirs: [&[u16]; 3] = [&[0], &[1], &[]];
        test_relation(
            dirs.iter()
                .zip(coefs)
                .map(|(d, &coef)| Term {
                    atom,
                    alpha: MultiIndex::new(d.to_vec()),
                    coef,
                })
                .collect(),
        )
    }

    fn monomial(q: i64, powers: Vec<(usize, i32)>) -> Coef {
        Coef {
            terms: vec![(
                Rational::from_integer(q),
                Basis {
                    powers,
                    factor: None,
                },
            )],
        }
    }

    #[test]
    fn a_form_found_at_one_atom_matches_another_atoms_decimals() {
        // the form ∂u/∂a − 2·b·∂u/∂b + (1/a)·u = 0, found at atom 2 (a = 2, b = 0.5)
        let mut form = relation(1, &[1.0, -1.0, 0.5]);
        let coefs = vec![
            monomial(1, vec![]),
            monomial(-2, vec![(1, 1)]),
            monomial(1, vec![(0, -1)]),
        ];
        form.exact = Some(Exact {
            coefs: coefs.clone(),
            verified: true,
            names: Vec::new(),
        });
        // atom 1 at a = 4, b = 0.25: coefficients 1, −0.5, 0.25, written with pivot 2
        let numeric = relation(0, &[2.0, -1.0, 0.5]);
        assert_eq!(matching(&numeric, &form, &[4.0, 0.25]), Some(coefs));
        // other decimals, other terms or another pivot: no match
        assert!(matching(&relation(0, &[1.0, -1.0, 0.5]), &form, &[4.0, 0.25]).is_none());
        let mut other = numeric.clone();
        other.terms[2].alpha = MultiIndex::new(vec![1, 1]);
        assert!(matching(&other, &form, &[4.0, 0.25]).is_none());
        let mut swapped = numeric.clone();
        swapped.terms.swap(0, 1);
        assert!(matching(&swapped, &form, &[4.0, 0.25]).is_none());
    }
}
