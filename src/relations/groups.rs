//! The group level of a hierarchical gate (docs/theory.md §10). The number of groups is taken
//! as known: each true group has one fitted group, whose parameters move at first order. They
//! are identifiable when the group columns $\frac{S}{A}\partial_v W(x;\gamma^*_g)(m^*_g - f^*)$
//! are independent of each other and of the experts' terms of order ≤ 1, apart from the group
//! gauge: the moves of every group's log-weight by one common function of $x$ (e.g. the same
//! shift of every group's intercept), which the normalization over the groups cancels.
//! A shared parameter's columns are left out (as in the cross-atom test): a group direction
//! that only a shared parameter's move would compensate is not seen.

use super::*;

/// What the group level's first-order test found.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupLevel {
    /// Group columns tested (groups × group parameters).
    pub columns: usize,
    /// Dimension of the group gauge: moves of every group's log-weight by one common nonzero
    /// function (a group's own invariances, where its weight does not move, are not counted).
    pub gauge: usize,
    /// Directions of the group parameters beyond the gauge along which the mixture does not
    /// move at first order (the experts' terms may move with them): each a unit vector of
    /// `(group, variable, coefficient)` entries.
    pub invariances: Vec<Vec<(usize, usize, f64)>>,
    /// Whether every rank decision was clear in f64 (otherwise no invariance is claimed).
    pub clear: bool,
}

/// Singular value of a group direction's residual off the gauge above which it is new.
const OUTSIDE: f64 = 1e-4;

/// The group level's test, `None` for a flat gate or a gate without group parameters;
/// undecided (not clear) when a column cannot be evaluated.
pub fn group_level(
    design: &Design,
    points: &SamplePoints,
    atoms: &[Vec<f64>],
    families: &[AtomFamily],
    settings: &Settings,
) -> Option<GroupLevel> {
    let (count, p) = (design.group_count(), design.group_variables().len());
    if count == 0 || p == 0 {
        return None;
    }
    // a column that cannot be evaluated leaves the group parameters untested: undecided
    let undecided = GroupLevel {
        columns: p * count,
        gauge: 0,
        invariances: Vec::new(),
        clear: false,
    };
    let Ok(T) = design.group_columns(points, atoms) else {
        return Some(undecided);
    };
    // the experts' terms of order ≤ 1 (a shared parameter's columns move every atom at once:
    // left out, as in the cross-atom test)
    let (_, L) = super::gauge::joint_columns(design, families, 1);
    let rows = points.len();
    let mut M = DMatrix::zeros(rows, T.ncols() + L.ncols());
    M.columns_mut(0, T.ncols()).copy_from(&T);
    M.columns_mut(T.ncols(), L.ncols()).copy_from(&L);
    let joint = rank::analyse(&M, &settings.rank);
    let experts = rank::analyse(&L, &settings.rank);
    // the gauge: null vectors of [Λ_1, −Λ_g] stacked over the groups g ≥ 2
    let Some(logs) = (0..count)
        .map(|g| design.group_log_gradient(points, g))
        .collect::<Option<Vec<DMatrix<f64>>>>()
    else {
        return Some(undecided);
    };
    let mut C = DMatrix::zeros(rows * (count - 1).max(1), p * count);
    for g in 1..count {
        for i in 0..rows {
            for v in 0..p {
                C[((g - 1) * rows + i, v)] = logs[0][(i, v)];
                C[((g - 1) * rows + i, g * p + v)] = -logs[g][(i, v)];
            }
        }
    }
    let gauge = rank::analyse(&C, &settings.rank);
    // each group's own invariances (its log-weight does not move at all) are no gauge: the
    // gauge proper is the rest of C's null space
    let own: Vec<Rank> = logs
        .iter()
        .map(|l| rank::analyse(l, &settings.rank))
        .collect();
    let clear = joint.clear && experts.clear && gauge.clear && own.iter().all(|r| r.clear);
    let mut kernel: Vec<DVector<f64>> = Vec::new();
    for (g, r) in own.iter().enumerate() {
        for q in 0..r.null_space.ncols() {
            let mut v = DVector::zeros(p * count);
            for c in 0..p {
                v[g * p + c] = r.null_space[(c, q)] / r.scale[c];
            }
            orthonormal_push(&mut kernel, v);
        }
    }
    let mut both = kernel.clone();
    let mut gauge_basis: Vec<DVector<f64>> = Vec::new();
    for q in 0..gauge.null_space.ncols() {
        let v = DVector::from_fn(p * count, |c, _| gauge.null_space[(c, q)] / gauge.scale[c]);
        if let Some(w) = orthonormal_push(&mut both, v) {
            gauge_basis.push(w);
        }
    }
    let mut out = GroupLevel {
        columns: p * count,
        gauge: gauge_basis.len(),
        invariances: Vec::new(),
        clear,
    };
    let extra = joint
        .nullity()
        .saturating_sub(experts.nullity() + gauge_basis.len());
    if !clear || extra == 0 {
        return Some(out);
    }
    // the group parts of the joint null vectors, off the gauge: their leading directions
    let Q = gauge_basis;
    let Z = DMatrix::from_fn(p * count, joint.null_space.ncols(), |c, q| {
        joint.null_space[(c, q)] / joint.scale[c]
    });
    let mut R = Z.clone();
    for q in &Q {
        let proj = q * (q.transpose() * &R);
        R -= proj;
    }
    let svd = R.svd(true, false);
    let u = svd.u.expect("left singular vectors requested");
    let top = svd.singular_values.max().max(f64::MIN_POSITIVE);
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&a, &b| svd.singular_values[b].total_cmp(&svd.singular_values[a]));
    let keep: Vec<usize> = order
        .into_iter()
        .take(extra)
        .take_while(|&k| svd.singular_values[k] > OUTSIDE * top)
        .collect();
    // the sparsest basis of their span: reduced row echelon form, one pivot each
    let mut B = u.select_columns(&keep).transpose();
    let (rows_b, cols_b) = B.shape();
    let mut row = 0;
    for c in 0..cols_b {
        if row == rows_b {
            break;
        }
        let Some(piv) = (row..rows_b).max_by(|&a, &b| B[(a, c)].abs().total_cmp(&B[(b, c)].abs()))
        else {
            break;
        };
        if B[(piv, c)].abs() < 1e-6 {
            continue;
        }
        B.swap_rows(row, piv);
        let lead = B[(row, c)];
        B.row_mut(row).scale_mut(1.0 / lead);
        for r in 0..rows_b {
            if r != row {
                let f = B[(r, c)];
                let pivot_row = B.row(row).clone_owned();
                let new = B.row(r) - pivot_row * f;
                B.set_row(r, &new);
            }
        }
        row += 1;
    }
    for r in 0..rows_b {
        let dir = B.row(r).transpose().normalize();
        // sign: the first entry positive
        let first = dir.iter().position(|x| x.abs() > 1e-6).unwrap_or(0);
        let sign = if dir[first] < 0.0 { -1.0 } else { 1.0 };
        out.invariances.push(
            (0..p * count)
                .map(|c| (c / p, c % p, sign * dir[c]))
                .filter(|e| e.2.abs() > 1e-6)
                .collect(),
        );
    }
    Some(out)
}

/// Adds `v` to the orthonormal `basis` when it leaves its span; returns the new unit vector.
fn orthonormal_push(basis: &mut Vec<DVector<f64>>, v: DVector<f64>) -> Option<DVector<f64>> {
    let scale = v.norm();
    let mut r = v;
    for q in basis.iter() {
        r -= q * q.dot(&r);
    }
    (r.norm() > 1e-6 * scale.max(f64::MIN_POSITIVE)).then(|| {
        let w = r.normalize();
        basis.push(w.clone());
        w
    })
}
