//! The families in high precision: columns of the Taylor terms evaluated over MPFR at a given
//! precision, cached by atom, term and precision, for the decisions that escalate
//! ([`crate::rank::certify`]) and the relations they certify.

use super::{Design, FamilyError, MultiIndex, SamplePoints};
use rug::Float;
use std::collections::HashMap;

/// High-precision evaluations of the families of one configuration, cached by atom, term and
/// precision.
pub struct HpFamilies<'a> {
    design: &'a Design,
    points: &'a SamplePoints,
    atoms: &'a [Vec<f64>],
    n_points: usize,
    fstar: HashMap<u32, Vec<Float>>,
    cache: HashMap<(usize, MultiIndex, u32), Vec<Float>>,
    /// Column evaluations done (for the record).
    pub evaluations: usize,
}

impl<'a> HpFamilies<'a> {
    /// Families of `atoms` at the first `n_points` of `points`.
    pub fn new(
        design: &'a Design,
        points: &'a SamplePoints,
        atoms: &'a [Vec<f64>],
        n_points: usize,
    ) -> HpFamilies<'a> {
        HpFamilies {
            design,
            points,
            atoms,
            n_points: n_points.min(points.len()),
            fstar: HashMap::new(),
            cache: HashMap::new(),
            evaluations: 0,
        }
    }

    /// Number of parameters per atom.
    pub fn n_vars(&self) -> usize {
        self.design.n_vars()
    }

    /// The columns of `terms` (as `(atom, term)`) at `prec` bits.
    ///
    /// # Errors
    /// [`FamilyError::NonFinite`].
    pub fn columns(
        &mut self,
        terms: &[(usize, MultiIndex)],
        prec: u32,
    ) -> Result<Vec<Vec<Float>>, FamilyError> {
        if !self.fstar.contains_key(&prec) {
            let f = self
                .design
                .fstar_hp(self.points, self.atoms, prec, self.n_points)?;
            self.fstar.insert(prec, f);
        }
        let fstar = &self.fstar[&prec];
        let mut by_atom: HashMap<usize, Vec<MultiIndex>> = HashMap::new();
        for (a, t) in terms {
            if !self.cache.contains_key(&(*a, t.clone(), prec)) {
                let list = by_atom.entry(*a).or_default();
                if !list.contains(t) {
                    list.push(t.clone());
                }
            }
        }
        let mut atoms: Vec<usize> = by_atom.keys().copied().collect();
        atoms.sort_unstable();
        for a in atoms {
            let list = &by_atom[&a];
            let cols = self.design.columns_hp(
                self.points,
                fstar,
                &self.atoms[a],
                list,
                prec,
                self.n_points,
                a + 1,
            )?;
            self.evaluations += list.len();
            for (t, c) in list.iter().zip(cols) {
                self.cache.insert((a, t.clone(), prec), c);
            }
        }
        Ok(terms
            .iter()
            .map(|(a, t)| self.cache[&(*a, t.clone(), prec)].clone())
            .collect())
    }
}
