//! Cross-atom relations beyond the gauge (docs/theory.md §3). A first-order null vector of the
//! joint family is a direction along which the mixture does not move. Two kinds are expected:
//! each atom's own (its per-atom relations) and the gauge of a normalized gate — gate
//! parameters moved so that every atom's log-weight changes by the same function of $x$,
//! $\sum_v \delta\theta_{jv}\,\partial_v \log w_j(x) = g(x)$ for all $j$, which the
//! normalisation cancels ($\sum_j u_j = 0$ at the truth). The gauge is computed from the
//! log-weights' derivatives; a first-order null direction outside the span of both is an
//! invariance of the mixture that no single atom shows (e.g. two atoms with the same gate and
//! linear experts trade their slopes), classified as such, so the verdict is `degenerate`.

use super::*;
use crate::case::Role;

/// Singular value of the residual of a null direction off the known span (per-atom null vectors
/// and gauge vectors, orthonormalised) above which it is a new direction.
const OUTSIDE: f64 = 1e-4;

/// Embeds per-atom null vectors and gauge vectors into the columns `cols` of the first-order
/// joint family, in its scaled coordinates.
struct Known {
    n: usize,
    vectors: Vec<DVector<f64>>,
}

impl Known {
    fn push(&mut self, entries: impl Iterator<Item = (usize, f64)>) {
        let mut v = DVector::zeros(self.n);
        for (c, x) in entries {
            v[c] = x;
        }
        if v.norm() > 0.0 {
            self.vectors.push(v.normalize());
        }
    }

    /// An orthonormal basis of their span.
    fn basis(&self) -> DMatrix<f64> {
        if self.vectors.is_empty() {
            return DMatrix::zeros(self.n, 0);
        }
        let K = DMatrix::from_columns(&self.vectors);
        let svd = K.svd(true, false);
        let top = svd.singular_values.max();
        let u = svd.u.expect("left singular vectors requested");
        let keep: Vec<usize> = (0..svd.singular_values.len())
            .filter(|&i| svd.singular_values[i] > 1e-8 * top)
            .collect();
        u.select_columns(&keep)
    }
}

/// The gauge vectors: null vectors of $[L_1, -L_j]$ stacked over $j \ge 2$, with $L_j$ the
/// log-weight derivatives of atom $j$ in the gate-only parameters (for a hierarchical gate,
/// $[L_f, -L_j]$ with $f$ the first atom of $j$'s group: the gauge of each group); each as
/// `(family, variable, coefficient)` entries. `None` when undecided.
fn gauge_vectors(
    design: &Design,
    points: &SamplePoints,
    atoms: &[Vec<f64>],
    families: &[AtomFamily],
    gate: &[usize],
    settings: &Settings,
) -> Option<Vec<Vec<(usize, usize, f64)>>> {
    let l: Vec<DMatrix<f64>> = families
        .iter()
        .map(|f| design.log_weight_gradient(points, &atoms[f.atom], gate))
        .collect::<Option<_>>()?;
    let (rows, g, k) = (points.len(), gate.len(), families.len());
    // a hierarchical gate normalizes within each group: the gauge ties the atoms of a group
    let group = |f: usize| {
        design
            .groups_of_atoms()
            .get(families[f].atom)
            .copied()
            .unwrap_or(0)
    };
    let pairs: Vec<(usize, usize)> = (1..k)
        .filter_map(|j| (0..j).find(|&f| group(f) == group(j)).map(|f| (f, j)))
        .collect();
    let mut C = DMatrix::zeros(rows * pairs.len().max(1), g * k);
    for (q, &(f, j)) in pairs.iter().enumerate() {
        for i in 0..rows {
            for v in 0..g {
                C[(q * rows + i, f * g + v)] = l[f][(i, v)];
                C[(q * rows + i, j * g + v)] = -l[j][(i, v)];
            }
        }
    }
    let r = rank::analyse(&C, &settings.rank);
    if !r.clear {
        return None;
    }
    Some(
        (0..r.null_space.ncols())
            .map(|q| {
                (0..g * k)
                    .map(|c| (c / g, gate[c % g], r.null_space[(c, q)] / r.scale[c]))
                    .filter(|e| e.2 != 0.0)
                    .collect()
            })
            .collect(),
    )
}

/// The first-order invariances of the mixture that are neither one atom's nor the gauge: the
/// first-order relations of `cross` (the joint null space reduced to each atom's independent
/// terms, labelled gauge) that leave the gauge's span are relabelled
/// [`RelationClass::Invariance`], and any such direction they do not cover is returned as a
/// cross-atom invariance. Nothing changes for unnormalized, top-K or fixed-in-gate designs, or
/// when a decision is not clear in f64.
pub(super) fn beyond_gauge(
    design: &Design,
    points: &SamplePoints,
    atoms: &[Vec<f64>],
    families: &[AtomFamily],
    per_atom: &[AtomRelations],
    cross: &mut [Relation],
    settings: &Settings,
) -> Vec<Relation> {
    if !design.normalized
        || design.has_fixed_in_gate()
        || design.top_k.is_some()
        || families.len() < 2
    {
        return Vec::new();
    }
    let shared = |d: &u16| design.roles[usize::from(*d)] == Role::Shared;
    // every term of order ≤ 1 of every atom, shared parameters aside (see `shared`)
    let cols: Vec<(usize, usize)> = families
        .iter()
        .enumerate()
        .flat_map(|(f, fam)| {
            fam.terms
                .iter()
                .enumerate()
                .filter(|(_, a)| a.order() <= 1 && !a.directions().iter().any(shared))
                .map(move |(t, _)| (f, t))
        })
        .collect();
    let n = cols.len();
    let J = DMatrix::from_fn(families[0].matrix.nrows(), n, |i, c| {
        families[cols[c].0].matrix[(i, cols[c].1)]
    });
    let r = rank::analyse(&J, &settings.rank);
    if !r.clear || r.nullity() == 0 {
        return Vec::new();
    }
    let embed = |rel: &Relation| -> Option<DVector<f64>> {
        let mut v = DVector::zeros(n);
        for t in &rel.terms {
            let f = families.iter().position(|f| f.atom == t.atom)?;
            let c = (0..n).find(|&c| cols[c].0 == f && families[f].terms[cols[c].1] == t.alpha)?;
            v[c] = t.coef * r.scale[c];
        }
        Some(v)
    };
    // each atom's own first-order relations, as decided (and certified) for that atom
    let mut known = Known {
        n,
        vectors: Vec::new(),
    };
    for rel in per_atom
        .iter()
        .flat_map(|a| &a.relations)
        .filter(|r| r.class != RelationClass::Singular && r.order() <= 1)
    {
        if let Some(v) = embed(rel) {
            known.push(v.iter().copied().enumerate());
        }
    }
    let gate = design.gate_only();
    if !gate.is_empty() {
        let Some(vectors) = gauge_vectors(design, points, atoms, families, &gate, settings) else {
            return Vec::new();
        };
        let column = |f: usize, v: usize| {
            let alpha = MultiIndex::new(vec![v as u16]);
            (0..n).find(|&c| cols[c].0 == f && families[f].terms[cols[c].1] == alpha)
        };
        for vector in vectors {
            let entries: Option<Vec<(usize, f64)>> = vector
                .iter()
                .map(|&(f, v, x)| column(f, v).map(|c| (c, x * r.scale[c])))
                .collect();
            // a gauge direction through a term set aside cannot be written: no decision
            let Some(entries) = entries else {
                return Vec::new();
            };
            known.push(entries.into_iter());
        }
    }
    // the sparse relations of the whole first-order null space, kept where they leave the
    // known span (each kept one joins it)
    let mut Q = known.basis();
    let outside = |v: DVector<f64>, Q: &mut DMatrix<f64>| {
        let v = v.normalize();
        let off = &v - &*Q * (Q.transpose() * &v);
        let out = off.norm() > OUTSIDE;
        if out {
            let last = Q.ncols();
            *Q = Q.clone().insert_column(last, 0.0);
            Q.set_column(last, &off.normalize());
        }
        out
    };
    // the reduced relations first: a first-order one outside the gauge's span is no gauge
    let gauge_span = Q.clone();
    for rel in cross.iter_mut().filter(|g| g.class == RelationClass::Gauge) {
        if let Some(v) = embed(rel) {
            let mut probe = gauge_span.clone();
            if outside(v.clone(), &mut probe) {
                rel.class = RelationClass::Invariance;
                outside(v, &mut Q);
            }
        }
    }
    let terms: Vec<&MultiIndex> = cols.iter().map(|&(f, t)| &families[f].terms[t]).collect();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by_key(|&c| {
        (
            std::cmp::Reverse(terms[c].order()),
            cols[c].0,
            terms[c].clone(),
        )
    });
    let mut beyond = Vec::new();
    for s in canonical(&r.compact, &r.null_space, &idx, residual_tol(&r)) {
        let mut v = DVector::zeros(n);
        for &(c, x) in &s.entries {
            v[c] = x;
        }
        if outside(v, &mut Q) {
            beyond.push(s);
        }
    }
    beyond
        .into_iter()
        .map(|s| {
            from_scaled(&s, &r.scale, RelationClass::Invariance, |c| {
                (families[cols[c].0].atom, terms[c].clone())
            })
        })
        .filter(Relation::is_cross_atom)
        .collect()
}
