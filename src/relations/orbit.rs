//! Second-order cross-atom relations beyond the gauge orbit (docs/theory.md §3). The gauge of
//! a normalized gate is an orbit: configurations whose log-weights differ from the truth's by
//! one common function of $x$ give the same mixture, so $\Phi(\theta) = \sum_j u_j(\theta_j)$
//! vanishes along it. Along a curve $\theta(t)$ of the orbit with velocity $v$ (a first-order
//! gauge vector) and acceleration $a$,
//!
//! $$\sum_j \Bigl[\sum_{b,c} \partial_b\partial_c u_j\, v_{jb} v_{jc} + \sum_b \partial_b u_j\,
//! a_{jb}\Bigr] = 0,$$
//!
//! where $a$ solves $L_j a_j + v_j^\top H_j v_j = $ the same function for every atom $j$ ($L_j$,
//! $H_j$ the gradient and Hessian of $\log w_j$ in the gate's own parameters). These relations,
//! for every pair of gauge vectors, with each atom's own relations and the first-order gauge,
//! span what the normalization explains at order 2. A second-order null direction of the joint
//! family outside that span is a relation between atoms no gauge explains: classified by its
//! second-order blocks, an **interaction** when they are semidefinite of one sign (the Voronoi
//! coefficients of split atoms in different cells can cancel), a coupling otherwise.

use super::gauge::{gauge_vectors, group_pairs, has_gauge, Joint};
use super::*;

/// Relative residual of the acceleration's least-squares solve below which the orbit's
/// second-order relation is taken to hold.
const SOLVE_TOL: f64 = 1e-6;

/// Relabels the second-order relations of `cross` (labelled gauge) that leave the span of the
/// gauge orbit's relations and each atom's own, and returns any further such direction as a
/// relation; both classified by their second-order blocks. Nothing changes when a decision is
/// not clear in f64, a needed term was set aside, or the families stop at order 1.
pub(super) fn beyond_orbit(
    design: &Design,
    points: &SamplePoints,
    atoms: &[Vec<f64>],
    families: &[AtomFamily],
    per_atom: &[AtomRelations],
    (cross, invariances): (&mut [Relation], &[Relation]),
    settings: &Settings,
) -> Vec<Relation> {
    if !has_gauge(design, families)
        || !families
            .iter()
            .any(|f| f.terms.iter().any(|t| t.order() == 2))
    {
        return Vec::new();
    }
    let Some(joint) = Joint::new(design, families, 2, settings) else {
        return Vec::new();
    };
    // a term through a mass dropped from the family is c times the term without it
    let expand = |f: usize, alpha: MultiIndex, x: f64| -> Option<Vec<(usize, f64)>> {
        if let Some(c) = joint.column(f, &alpha) {
            return Some(vec![(c, x)]);
        }
        let fam = &families[f];
        let dirs = alpha.directions().to_vec();
        let m = fam
            .masses
            .iter()
            .find(|m| m.holds && dirs.contains(&(m.var as u16)))?;
        let mut rest = dirs.clone();
        let at = rest.iter().position(|&d| d as usize == m.var)?;
        rest.remove(at);
        let reduced = if rest.is_empty() {
            MultiIndex::zero()
        } else {
            MultiIndex::new(rest)
        };
        joint.column(f, &reduced).map(|c| vec![(c, x * m.c)])
    };
    let mut known = joint.known(per_atom, 2);
    // the first-order cross relations already decided (gauge, invariances of the mixture) are
    // explained: only second-order relations are this test's
    for rel in cross.iter().chain(invariances).filter(|r| r.order() <= 1) {
        if let Some(v) = joint.embed(rel) {
            known.push(v.iter().copied().enumerate());
        }
    }
    let gate = design.gate_only();
    if !gate.is_empty() {
        let Some(vectors) = gauge_vectors(design, points, atoms, families, &gate, settings) else {
            return Vec::new();
        };
        // first order: the gauge vectors themselves
        for vector in &vectors {
            let mut entries = Vec::new();
            for &(f, v, x) in vector {
                let Some(e) = expand(f, MultiIndex::new(vec![v as u16]), x) else {
                    return Vec::new();
                };
                entries.extend(e);
            }
            known.push(joint.scaled(entries).into_iter());
        }
        // second order: the orbit's curves with velocity g_p + g_q (p ≤ q)
        let Some(hessians) = families
            .iter()
            .map(|f| design.log_weight_hessian(points, &atoms[f.atom], &gate))
            .collect::<Option<Vec<_>>>()
        else {
            return Vec::new();
        };
        let Some(logs) = families
            .iter()
            .map(|f| design.log_weight_gradient(points, &atoms[f.atom], &gate))
            .collect::<Option<Vec<_>>>()
        else {
            return Vec::new();
        };
        let g = gate.len();
        let dense = |vector: &[(usize, usize, f64)]| {
            let mut d = vec![vec![0.0; g]; families.len()];
            for &(f, v, x) in vector {
                if let Some(k) = gate.iter().position(|&q| q == v) {
                    d[f][k] += x;
                }
            }
            d
        };
        let pairs = group_pairs(design, families);
        for p in 0..vectors.len() {
            for q in p..vectors.len() {
                let (vp, vq) = (dense(&vectors[p]), dense(&vectors[q]));
                let v: Vec<Vec<f64>> = vp
                    .iter()
                    .zip(&vq)
                    .map(|(a, b)| {
                        if p == q {
                            a.clone()
                        } else {
                            a.iter().zip(b).map(|(x, y)| x + y).collect()
                        }
                    })
                    .collect();
                let Some(acc) = acceleration(&v, &logs, &hessians, &pairs, settings) else {
                    return Vec::new();
                };
                let mut entries = Vec::new();
                for (f, (vf, af)) in v.iter().zip(&acc).enumerate() {
                    for b in 0..g {
                        if af[b] != 0.0 {
                            let Some(e) = expand(f, MultiIndex::new(vec![gate[b] as u16]), af[b])
                            else {
                                return Vec::new();
                            };
                            entries.extend(e);
                        }
                        for c in b..g {
                            let x = vf[b] * vf[c] * if b == c { 1.0 } else { 2.0 };
                            if x == 0.0 {
                                continue;
                            }
                            let alpha = MultiIndex::new(vec![gate[b] as u16, gate[c] as u16]);
                            let Some(e) = expand(f, alpha, x) else {
                                return Vec::new();
                            };
                            entries.extend(e);
                        }
                    }
                }
                known.push(joint.scaled(entries).into_iter());
            }
        }
    }
    let p = design.n_vars();
    let mut beyond = joint.beyond(
        &known,
        cross,
        |rel| rel.order() == 2,
        |rel| second_order_class(rel, p),
    );
    beyond.retain(|r| r.order() == 2);
    beyond
}

/// The acceleration of an orbit curve with velocity `v` (per family, over the gate's own
/// parameters): a least-squares solution of $L_f a_f - L_j a_j = v_j^\top H_j v_j - v_f^\top
/// H_f v_f$ over the pairs $(f, j)$ of atoms normalized together. `None` when the system is not
/// consistent (the residual is not small).
fn acceleration(
    v: &[Vec<f64>],
    logs: &[DMatrix<f64>],
    hessians: &[Vec<DMatrix<f64>>],
    pairs: &[(usize, usize)],
    settings: &Settings,
) -> Option<Vec<Vec<f64>>> {
    let (k, g, rows) = (v.len(), v[0].len(), logs[0].nrows());
    if pairs.is_empty() {
        return Some(vec![vec![0.0; g]; k]);
    }
    let quad = |f: usize, i: usize| {
        let vf = DVector::from_column_slice(&v[f]);
        (vf.transpose() * &hessians[f][i] * &vf)[(0, 0)]
    };
    let mut A = DMatrix::zeros(rows * pairs.len(), g * k);
    let mut b = DVector::zeros(rows * pairs.len());
    for (q, &(f, j)) in pairs.iter().enumerate() {
        for i in 0..rows {
            for c in 0..g {
                A[(q * rows + i, f * g + c)] = logs[f][(i, c)];
                A[(q * rows + i, j * g + c)] = -logs[j][(i, c)];
            }
            b[q * rows + i] = quad(j, i) - quad(f, i);
        }
    }
    // rounding in a log-affine gate's (zero) Hessian is no curvature: the floor is the size of
    // the first-order terms
    let vnorm = v.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
    let scale = b.norm().max(1e-8 * A.norm() * vnorm);
    if b.norm() <= 1e-12 * A.norm() * vnorm {
        return Some(vec![vec![0.0; g]; k]);
    }
    let svd = A.clone().svd(true, true);
    let tol = settings.rank.zero_max.max(1e-12) * svd.singular_values.max();
    let x = svd.solve(&b, tol).ok()?;
    if (&A * &x - &b).norm() > SOLVE_TOL * scale {
        return None;
    }
    Some(
        (0..k)
            .map(|f| x.as_slice()[f * g..(f + 1) * g].to_vec())
            .collect(),
    )
}

/// A second-order relation's class from its blocks: [`RelationClass::Interaction`] when every
/// atom's symmetric matrix of second-order coefficients is semidefinite of one common sign (and
/// one is nonzero), [`RelationClass::Coupling`] otherwise.
fn second_order_class(rel: &Relation, p: usize) -> RelationClass {
    let mut blocks: Vec<(usize, DMatrix<f64>)> = Vec::new();
    for t in rel.terms.iter().filter(|t| t.alpha.order() == 2) {
        let d = t.alpha.directions();
        let (a, b) = (usize::from(d[0]), usize::from(d[1]));
        let at = match blocks.iter().position(|(j, _)| *j == t.atom) {
            Some(at) => at,
            None => {
                blocks.push((t.atom, DMatrix::zeros(p, p)));
                blocks.len() - 1
            }
        };
        let m = &mut blocks[at].1;
        if a == b {
            m[(a, a)] += t.coef;
        } else {
            m[(a, b)] += t.coef / 2.0;
            m[(b, a)] += t.coef / 2.0;
        }
    }
    let top = blocks.iter().map(|(_, m)| m.amax()).fold(0.0, f64::max);
    if top == 0.0 {
        return RelationClass::Coupling;
    }
    let tol = 1e-8 * top;
    let signs: Vec<(bool, bool)> = blocks
        .iter()
        .map(|(_, m)| {
            let e = m.clone().symmetric_eigenvalues();
            (e.iter().all(|&x| x >= -tol), e.iter().all(|&x| x <= tol))
        })
        .collect();
    if signs.iter().all(|s| s.0) || signs.iter().all(|s| s.1) {
        RelationClass::Interaction
    } else {
        RelationClass::Coupling
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(atom: usize, dirs: &[u16], coef: f64) -> Term {
        Term {
            atom,
            alpha: MultiIndex::new(dirs.to_vec()),
            coef,
        }
    }

    #[test]
    fn second_order_blocks_of_one_sign_are_an_interaction() {
        // ∂²u₁/∂a² + 2·∂²u₂/∂b² − ∂u₂/∂a = 0: both blocks positive semidefinite
        let psd = crate::relations::test_relation(vec![
            term(0, &[0, 0], 1.0),
            term(1, &[1, 1], 2.0),
            term(1, &[0], -1.0),
        ]);
        assert_eq!(second_order_class(&psd, 2), RelationClass::Interaction);
        // ∂²u₁/∂a² − ∂²u₂/∂b² = 0: one block each sign
        let mixed =
            crate::relations::test_relation(vec![term(0, &[0, 0], 1.0), term(1, &[1, 1], -1.0)]);
        assert_eq!(second_order_class(&mixed, 2), RelationClass::Coupling);
        // ∂²u₁/∂a∂b = ∂u₂/∂a: an indefinite block
        let cross =
            crate::relations::test_relation(vec![term(0, &[0, 1], 1.0), term(1, &[0], -1.0)]);
        assert_eq!(second_order_class(&cross, 2), RelationClass::Coupling);
        // a full square (a + b)² on one atom is semidefinite
        let square = crate::relations::test_relation(vec![
            term(0, &[0, 0], 1.0),
            term(0, &[0, 1], 2.0),
            term(0, &[1, 1], 1.0),
            term(1, &[0], 3.0),
        ]);
        assert_eq!(second_order_class(&square, 2), RelationClass::Interaction);
    }
}
