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
pub(super) struct Known {
    n: usize,
    pub(super) vectors: Vec<DVector<f64>>,
}

impl Known {
    pub(super) fn new(n: usize) -> Known {
        Known {
            n,
            vectors: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, entries: impl Iterator<Item = (usize, f64)>) {
        let mut v = DVector::zeros(self.n);
        for (c, x) in entries {
            v[c] += x;
        }
        if v.norm() > 0.0 {
            self.vectors.push(v.normalize());
        }
    }

    /// An orthonormal basis of their span.
    pub(super) fn basis(&self) -> DMatrix<f64> {
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

/// Every atom's terms of order ≤ `order`, shared parameters aside (their columns move every
/// atom at once): `(family, term)` of each column, and the matrix of those columns.
pub(super) fn joint_columns(
    design: &Design,
    families: &[AtomFamily],
    order: usize,
) -> (Vec<(usize, usize)>, DMatrix<f64>) {
    let shared = |d: &u16| design.roles[usize::from(*d)] == Role::Shared;
    let cols: Vec<(usize, usize)> = families
        .iter()
        .enumerate()
        .flat_map(|(f, fam)| {
            fam.terms
                .iter()
                .enumerate()
                .filter(|(_, a)| a.order() <= order && !a.directions().iter().any(shared))
                .map(move |(t, _)| (f, t))
        })
        .collect();
    let J = DMatrix::from_fn(families[0].matrix.nrows(), cols.len(), |i, c| {
        families[cols[c].0].matrix[(i, cols[c].1)]
    });
    (cols, J)
}

/// The joint family of every atom's terms up to an order, shared parameters aside (their
/// columns move every atom at once), with its rank decided in f64.
pub(super) struct Joint<'a> {
    families: &'a [AtomFamily],
    /// `(family, term)` of each column.
    cols: Vec<(usize, usize)>,
    r: Rank,
}

impl<'a> Joint<'a> {
    /// `None` when the decision is not clear or there is no null space.
    pub(super) fn new(
        design: &Design,
        families: &'a [AtomFamily],
        order: usize,
        settings: &Settings,
    ) -> Option<Joint<'a>> {
        let (cols, J) = joint_columns(design, families, order);
        let r = rank::analyse(&J, &settings.rank);
        (r.clear && r.nullity() > 0).then_some(Joint { families, cols, r })
    }

    /// Number of columns.
    pub(super) fn len(&self) -> usize {
        self.cols.len()
    }

    /// The column of family `f`'s term `alpha`.
    pub(super) fn column(&self, f: usize, alpha: &MultiIndex) -> Option<usize> {
        (0..self.len())
            .find(|&c| self.cols[c].0 == f && &self.families[f].terms[self.cols[c].1] == alpha)
    }

    /// `entries` (column, coefficient) in the scaled coordinates of the null space.
    pub(super) fn scaled(&self, entries: Vec<(usize, f64)>) -> Vec<(usize, f64)> {
        entries
            .into_iter()
            .map(|(c, x)| (c, x * self.r.scale[c]))
            .collect()
    }

    /// A relation as a vector in scaled coordinates; `None` when a term is not a column.
    pub(super) fn embed(&self, rel: &Relation) -> Option<DVector<f64>> {
        let mut v = DVector::zeros(self.len());
        for t in &rel.terms {
            let f = self.families.iter().position(|f| f.atom == t.atom)?;
            let c = self.column(f, &t.alpha)?;
            v[c] += t.coef * self.r.scale[c];
        }
        Some(v)
    }

    /// Each atom's own relations of order ≤ `order` (as decided, and certified, for that atom).
    pub(super) fn known(&self, per_atom: &[AtomRelations], order: usize) -> Known {
        let mut known = Known::new(self.len());
        for rel in per_atom
            .iter()
            .flat_map(|a| &a.relations)
            .filter(|r| r.class != RelationClass::Singular && r.order() <= order)
        {
            if let Some(v) = self.embed(rel) {
                known.push(v.iter().copied().enumerate());
            }
        }
        known
    }

    /// The relations of `cross` that `select` picks and that leave the span of `known` are
    /// reclassified by `class`; the sparse relations of the null space that still leave it
    /// (each kept one joins the span) are returned, classified by `class`.
    pub(super) fn beyond(
        &self,
        known: &Known,
        cross: &mut [Relation],
        select: impl Fn(&Relation) -> bool,
        class: impl Fn(&Relation) -> RelationClass,
    ) -> Vec<Relation> {
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
        // the reduced relations first
        let explained = Q.clone();
        for rel in cross
            .iter_mut()
            .filter(|g| g.class == RelationClass::Gauge && select(g))
        {
            if let Some(v) = self.embed(rel) {
                if outside(v.clone(), &mut explained.clone()) {
                    rel.class = class(rel);
                    outside(v, &mut Q);
                }
            }
        }
        let (families, cols, r) = (self.families, &self.cols, &self.r);
        let terms: Vec<&MultiIndex> = cols.iter().map(|&(f, t)| &families[f].terms[t]).collect();
        let mut idx: Vec<usize> = (0..self.len()).collect();
        idx.sort_by_key(|&c| {
            (
                std::cmp::Reverse(terms[c].order()),
                cols[c].0,
                terms[c].clone(),
            )
        });
        canonical(&r.compact, &r.null_space, &idx, residual_tol(r))
            .into_iter()
            .filter(|s| {
                let mut v = DVector::zeros(self.len());
                for &(c, x) in &s.entries {
                    v[c] += x;
                }
                outside(v, &mut Q)
            })
            .map(|s| {
                let mut rel = from_scaled(&s, &r.scale, RelationClass::Coupling, |c| {
                    (families[cols[c].0].atom, terms[c].clone())
                });
                rel.class = class(&rel);
                rel
            })
            .filter(Relation::is_cross_atom)
            .collect()
    }
}

/// The gauge vectors: null vectors of $[L_1, -L_j]$ stacked over $j \ge 2$, with $L_j$ the
/// log-weight derivatives of atom $j$ in the gate-only parameters (for a hierarchical gate,
/// $[L_f, -L_j]$ with $f$ the first atom of $j$'s group: the gauge of each group); each as
/// `(family, variable, coefficient)` entries. `None` when undecided.
pub(super) fn gauge_vectors(
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
    let pairs = group_pairs(design, families);
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

/// Whether the atoms share a normalization whose gauge the cross-atom tests know: a dense
/// normalized gate without a fixed component inside it, and at least two atoms.
pub(super) fn has_gauge(design: &Design, families: &[AtomFamily]) -> bool {
    design.normalized
        && !design.has_fixed_in_gate()
        && design.top_k.is_none()
        && families.len() >= 2
}

/// The pairs `(f, j)` of families normalized together, `f` the first of `j`'s group (every
/// atom is in one group for a flat gate; a hierarchical gate normalizes within each group).
pub(super) fn group_pairs(design: &Design, families: &[AtomFamily]) -> Vec<(usize, usize)> {
    let group = |f: usize| {
        design
            .groups_of_atoms()
            .get(families[f].atom)
            .copied()
            .unwrap_or(0)
    };
    (1..families.len())
        .filter_map(|j| (0..j).find(|&f| group(f) == group(j)).map(|f| (f, j)))
        .collect()
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
    if !has_gauge(design, families) {
        return Vec::new();
    }
    let Some(joint) = Joint::new(design, families, 1, settings) else {
        return Vec::new();
    };
    let mut known = joint.known(per_atom, 1);
    let gate = design.gate_only();
    if !gate.is_empty() {
        let Some(vectors) = gauge_vectors(design, points, atoms, families, &gate, settings) else {
            return Vec::new();
        };
        for vector in vectors {
            let entries: Option<Vec<(usize, f64)>> = vector
                .iter()
                .map(|&(f, v, x)| {
                    joint
                        .column(f, &MultiIndex::new(vec![v as u16]))
                        .map(|c| (c, x))
                })
                .collect();
            // a gauge direction through a term set aside cannot be written: no decision
            let Some(entries) = entries else {
                return Vec::new();
            };
            known.push(joint.scaled(entries).into_iter());
        }
    }
    // a first-order relation outside the gauge's span is no gauge: an invariance
    joint.beyond(&known, cross, |_| true, |_| RelationClass::Invariance)
}
