//! Invariances through shared parameters (docs/theory.md §3): a parameter shared by every
//! expert is one coordinate of the mixture, so its direction is $\sum_j \partial u_j/\partial s$,
//! not one column per atom. The first-order Jacobian of the mixture — one column per expert's own
//! parameter, one summed column per shared parameter — has the gauge of a normalized gate in its
//! null space (translations of the experts' own gate parameters), never a shared parameter: a
//! null vector that moves a shared parameter is an invariance of the mixture, which the
//! per-atom families cannot see (e.g. `gamma * g(x)` added to every score cancels in the
//! normalisation).

use super::*;

/// The invariances of the mixture that move a shared parameter, as cross-atom relations of
/// first-order terms (class [`RelationClass::Invariance`]); none when the decision is not clear
/// in f64.
pub(super) fn shared_invariances(
    design: &Design,
    families: &[AtomFamily],
    settings: &Settings,
) -> Vec<Relation> {
    let shared: Vec<usize> = (0..design.n_vars())
        .filter(|&v| design.roles[v] == crate::case::Role::Shared)
        .collect();
    if shared.is_empty() || families.len() < 2 {
        return Vec::new();
    }
    // (atom, variable) pairs summed into each column of the mixture's Jacobian
    let mut columns: Vec<Vec<(usize, usize)>> = shared
        .iter()
        .map(|&s| families.iter().map(|f| (f.atom, s)).collect())
        .collect();
    for f in families {
        for v in (0..design.n_vars()).filter(|v| !shared.contains(v)) {
            columns.push(vec![(f.atom, v)]);
        }
    }
    let first = |f: &AtomFamily, v: usize| {
        let alpha = MultiIndex::new(vec![v as u16]);
        f.terms.iter().position(|t| *t == alpha)
    };
    let rows = families[0].matrix.nrows();
    let mut J = DMatrix::zeros(rows, columns.len());
    for (c, parts) in columns.iter().enumerate() {
        for &(atom, v) in parts {
            let Some(f) = families.iter().find(|f| f.atom == atom) else {
                return Vec::new();
            };
            let Some(t) = first(f, v) else {
                return Vec::new(); // a first derivative set aside: no decision here
            };
            for i in 0..rows {
                J[(i, c)] += f.matrix[(i, t)];
            }
        }
    }
    let r = rank::analyse(&J, &settings.rank);
    if !r.clear || r.null_space.ncols() == 0 {
        return Vec::new();
    }
    // shared columns first as pivots: a row pivoted on one is a null vector that moves it
    let priority: Vec<usize> = (0..columns.len()).collect();
    canonical(&r.compact, &r.null_space, &priority, residual_tol(&r))
        .into_iter()
        .filter(|s| s.pivot < shared.len())
        .map(|s| {
            let terms = s
                .entries
                .iter()
                .flat_map(|&(c, v)| {
                    let coef = v * r.scale[s.pivot] / r.scale[c];
                    columns[c].iter().map(move |&(atom, var)| Term {
                        atom,
                        alpha: MultiIndex::new(vec![var as u16]),
                        coef,
                    })
                })
                .collect();
            Relation {
                class: RelationClass::Invariance,
                structural: None,
                terms,
                residual: s.residual,
                pure_power: false,
                kink: None,
                certificate: Certificate::Numerical,
                exact: None,
            }
        })
        .collect()
}

/// The entries of a second-order block in the rows of the shared parameters (negligible ones,
/// below $10^{-9}$ of the block's largest entry, set to zero).
pub(super) fn shared_entries(block: &DMatrix<f64>, shared: &[usize]) -> Vec<f64> {
    let top = block.amax();
    let mut out = Vec::new();
    for &k in shared {
        for l in 0..block.ncols() {
            let v = block[(k, l)];
            out.push(if v.abs() <= 1e-9 * top { 0.0 } else { v });
        }
    }
    out
}

/// The combinations of `blocks` whose entries in the rows of shared parameters vanish: an
/// orthonormal basis of those weight vectors (columns of the returned matrix) and the blocks
/// they give. A shared parameter moves every atom of a cell alike, so its second-order
/// coefficient with any parameter $l$ is $\Delta s \sum_i p_i \Delta\theta_{il}$, the first-order
/// coefficient of $l$ times $\Delta s \to 0$: a cancellation at order two cannot use those
/// entries (docs/theory.md §3).
pub(super) fn restrict_shared(
    blocks: &[DMatrix<f64>],
    shared: &[usize],
) -> (DMatrix<f64>, Vec<DMatrix<f64>>) {
    let m = blocks.len();
    let rows: Vec<Vec<f64>> = blocks.iter().map(|b| shared_entries(b, shared)).collect();
    let c = rows.first().map_or(0, Vec::len);
    if m == 0 || c == 0 || rows.iter().flatten().all(|v| *v == 0.0) {
        return (DMatrix::identity(m, m), blocks.to_vec());
    }
    // constraint matrix: one row per shared entry, one column per block
    let a = DMatrix::from_fn(c.max(m), m, |i, j| if i < c { rows[j][i] } else { 0.0 });
    let svd = a.svd(false, true);
    let Some(vt) = svd.v_t else {
        return (DMatrix::identity(m, m), blocks.to_vec());
    };
    let top = svd.singular_values.max();
    let keep: Vec<usize> = (0..m)
        .filter(|&i| svd.singular_values[i] <= 1e-9 * top)
        .collect();
    let basis = DMatrix::from_fn(m, keep.len(), |j, q| vt[(keep[q], j)]);
    let restricted = (0..keep.len())
        .map(|q| {
            let mut b = DMatrix::zeros(blocks[0].nrows(), blocks[0].ncols());
            for (j, bj) in blocks.iter().enumerate() {
                b += bj * basis[(j, q)];
            }
            b
        })
        .collect();
    (basis, restricted)
}
