//! Unit tests of the relation stage: classes, pivot priority and the canonical basis.

use super::*;

fn term(atom: usize, dirs: &[u16], coef: f64) -> Term {
    Term {
        atom,
        alpha: MultiIndex::new(dirs.to_vec()),
        coef,
    }
}

fn relation(terms: Vec<Term>) -> Relation {
    test_relation(terms)
}

#[test]
fn mass_invariance_coupling_and_interaction_are_told_apart() {
    let norms = [1.0, 1.0, 1.0, 1.0];
    // ∂u/∂beta0 = u with beta0 a mass: a mass relation; the same with `a`: an invariance
    let mass = relation(vec![term(0, &[0], 1.0), term(0, &[], -1.0)]);
    assert_eq!(
        classify(&mass, &[0], &norms, &[], 1e-7),
        RelationClass::Mass
    );
    let inv = relation(vec![term(0, &[1], 1.0), term(0, &[], -1.0)]);
    assert_eq!(
        classify(&inv, &[0], &norms, &[], 1e-7),
        RelationClass::Invariance
    );
    // the heat equation ∂²u/∂b² = 2 ∂u/∂nu: a semidefinite block in b, an interaction
    let heat = relation(vec![term(0, &[2, 2], 1.0), term(0, &[3], -2.0)]);
    assert_eq!(
        classify(&heat, &[0], &norms, &[], 1e-7),
        RelationClass::Interaction
    );
    // ∂²u/∂a∂b = ∂u/∂nu: an indefinite block (eigenvalues ±1/2), a coupling
    let mixed = relation(vec![term(0, &[1, 2], 1.0), term(0, &[3], -1.0)]);
    assert_eq!(
        classify(&mixed, &[0], &norms, &[], 1e-7),
        RelationClass::Coupling
    );
    // the same heat equation in a shared `b`: its square cannot be met in a cell (every atom
    // moves alike), a coupling
    assert_eq!(
        classify(&heat, &[0], &norms, &[2], 1e-7),
        RelationClass::Coupling
    );
    // through a third-order term: a coupling whatever its block
    let third = relation(vec![term(0, &[2, 2, 2], 1.0), term(0, &[2, 2], 1.0)]);
    assert_eq!(
        classify(&third, &[0], &norms, &[], 1e-7),
        RelationClass::Coupling
    );
}

#[test]
fn the_joint_test_keeps_combinations_free_of_shared_entries() {
    // Two blocks over (a, s) with s shared: B1 = diag(1, 0) + off-diagonal s entries, B2 the
    // off-diagonal entries alone. Only B1 − B2 = diag(1, 0) has no shared entry.
    let mut b1 = DMatrix::zeros(2, 2);
    b1[(0, 0)] = 1.0;
    b1[(0, 1)] = 0.5;
    b1[(1, 0)] = 0.5;
    let mut b2 = DMatrix::zeros(2, 2);
    b2[(0, 1)] = 0.5;
    b2[(1, 0)] = 0.5;
    let (basis, restricted) = restrict_shared(&[b1.clone(), b2.clone()], &[1]);
    assert_eq!(restricted.len(), 1);
    let r = &restricted[0];
    assert!(r[(0, 1)].abs() < 1e-12 && r[(1, 1)].abs() < 1e-12 && r[(0, 0)].abs() > 0.5);
    assert!((basis[(0, 0)] + basis[(1, 0)]).abs() < 1e-12);
    // without shared parameters nothing changes
    let (basis, same) = restrict_shared(&[b1.clone(), b2.clone()], &[]);
    assert_eq!(same, vec![b1, b2]);
    assert_eq!(basis, DMatrix::identity(2, 2));
}

#[test]
fn pivots_are_highest_order_first_then_masses() {
    let terms = vec![
        MultiIndex::zero(),
        MultiIndex::new(vec![1]),
        MultiIndex::new(vec![0]),
        MultiIndex::new(vec![1, 2]),
    ];
    assert_eq!(priority(&terms, |v| v == 0), vec![3, 2, 1, 0]);
    assert_eq!(priority(&terms, |_| false), vec![3, 2, 1, 0]);
    assert_eq!(priority(&terms, |v| v == 1), vec![3, 1, 2, 0]);
}

#[test]
fn orders_cross_atom_relations_and_subscripts() {
    let heat = relation(vec![term(0, &[2, 2], 1.0), term(0, &[3], -2.0)]);
    assert_eq!(heat.order(), 2);
    assert!(!heat.is_cross_atom());
    let gauge = relation(vec![term(0, &[], 1.0), term(1, &[], 1.0)]);
    assert!(gauge.is_cross_atom());
    assert_eq!(subscript(12), "₁₂");
}

#[test]
fn the_canonical_basis_of_a_known_null_space_is_sparse() {
    // columns c0, c1, c2 = c0 + c1 (up to noise), c3 independent: one relation, c2 − c0 − c1
    let n = 40;
    let J = DMatrix::from_fn(n, 4, |i, j| {
        let x = i as f64 / n as f64;
        match j {
            0 => x,
            1 => x * x,
            2 => x + x * x + 1e-14 * (i as f64).sin(),
            _ => (3.0 * x).exp(),
        }
    });
    let r = crate::rank::analyse(&J, &crate::rank::Tolerance::default());
    assert_eq!(r.rank, 3);
    let rels = canonical::canonical(&r.compact, &r.null_space, &[2, 1, 0, 3], residual_tol(&r));
    assert_eq!(rels.len(), 1);
    let rel = &rels[0];
    assert_eq!(rel.pivot, 2);
    let support: Vec<usize> = rel.entries.iter().map(|e| e.0).collect();
    assert_eq!(support, vec![2, 0, 1], "no entry on the independent column");
    // in original units the coefficients are 1, −1, −1
    for &(c, v) in &rel.entries[1..] {
        let original = v * r.scale[rel.pivot] / r.scale[c];
        assert!((original + 1.0).abs() < 1e-6, "{c}: {original}");
    }
}
