//! The variables a relation's coefficients are written in. A per-atom relation's coefficients
//! are functions of its atom's parameters: variable `v` is parameter `v`. A cross-atom relation's
//! may mix the atoms it involves (the translation gauge of `exp(beta1·x / tau + beta0)` with a
//! shared `tau` reads `beta1[0]₂·∂u₁/∂tau + beta1[0]₁·∂u₂/∂tau = 0` once each atom's invariance
//! has removed its `∂u/∂beta1`): variable `v < p` is then a shared parameter, and `p·(1 + s) + v`
//! is parameter `v` of the relation's `s`-th atom, named with that atom's subscript.

use crate::case::Role;
use crate::relations::{subscript, Relation};

/// Largest number of candidate variables of a cross-atom coefficient (all nonzero parameters of
/// its atoms when there are no more; else its directions, masses and shared parameters).
const CROSS_VARIABLES: usize = 10;

/// The atoms of a relation and the size of one atom's parameter vector.
pub(super) struct Frame {
    atoms: Vec<usize>,
    p: usize,
}

impl Frame {
    pub(super) fn of(rel: &Relation, p: usize) -> Frame {
        let mut atoms: Vec<usize> = rel.terms.iter().map(|t| t.atom).collect();
        atoms.sort_unstable();
        atoms.dedup();
        Frame { atoms, p }
    }

    fn cross(&self) -> bool {
        self.atoms.len() > 1
    }

    /// The variables' values at a configuration (one parameter vector per atom).
    pub(super) fn theta<T: Clone>(&self, cfg: &[Vec<T>]) -> Vec<T> {
        let mut out = cfg[self.atoms[0]].clone();
        if self.cross() {
            for &a in &self.atoms {
                out.extend(cfg[a].iter().cloned());
            }
        }
        out
    }

    /// The variable of parameter `v` of `atom`.
    fn var(&self, atom: usize, v: usize, roles: &[Role]) -> Option<usize> {
        if !self.cross() || roles[v] == Role::Shared {
            return Some(v);
        }
        let s = self.atoms.iter().position(|&a| a == atom)?;
        Some(self.p * (1 + s) + v)
    }

    /// The variables' names: the parameters, then (cross-atom) each atom's parameters with its
    /// subscript.
    pub(super) fn names(&self, variables: &[String]) -> Vec<String> {
        let mut out = variables.to_vec();
        if self.cross() {
            for &a in &self.atoms {
                out.extend(variables.iter().map(|n| format!("{n}{}", subscript(a + 1))));
            }
        }
        out
    }

    /// The variables a coefficient may depend on, when nonzero at `theta` (this frame's values):
    /// for a small atom (a few atoms) all of them; else the relation's directions, the atoms'
    /// masses and shared parameters (`extra`), and for a cross-atom relation the gate's own
    /// parameters (`gate`: a gauge relation's coefficients come from the gate).
    pub(super) fn live(
        &self,
        theta: &[f64],
        rel: &Relation,
        extra: &[usize],
        gate: &[usize],
        roles: &[Role],
    ) -> Vec<usize> {
        let limit = if self.cross() { CROSS_VARIABLES } else { 6 };
        let mut all: Vec<usize> = Vec::new();
        for &a in &self.atoms {
            all.extend((0..self.p).filter_map(|v| self.var(a, v, roles)));
        }
        all.sort_unstable();
        all.dedup();
        all.retain(|&v| theta[v] != 0.0);
        if all.len() <= limit {
            return all;
        }
        let mut vars: Vec<usize> = rel
            .terms
            .iter()
            .flat_map(|t| {
                t.alpha
                    .directions()
                    .iter()
                    .map(|&d| d as usize)
                    .chain(extra.iter().copied())
                    .chain(gate.iter().copied().filter(|_| self.cross()))
                    .filter_map(|v| self.var(t.atom, v, roles))
                    .collect::<Vec<_>>()
            })
            .filter(|&v| theta[v] != 0.0)
            .collect();
        vars.sort_unstable();
        vars.dedup();
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::MultiIndex;
    use crate::relations::{test_relation, Term};

    fn relation(terms: &[(usize, &[u16])]) -> Relation {
        test_relation(
            terms
                .iter()
                .map(|&(atom, d)| Term {
                    atom,
                    alpha: MultiIndex::new(d.to_vec()),
                    coef: 1.0,
                })
                .collect(),
        )
    }

    #[test]
    fn a_cross_atom_frame_names_each_atom_and_keeps_shared_parameters_once() {
        // parameters beta1, tau (shared), b; a relation of atoms 1 and 3 (0-based 0 and 2)
        let roles = [Role::PerExpert, Role::Shared, Role::PerExpert];
        let names: Vec<String> = ["beta1", "tau", "b"].map(String::from).to_vec();
        let rel = relation(&[(0, &[1]), (2, &[1])]);
        let f = Frame::of(&rel, 3);
        assert_eq!(
            f.names(&names),
            ["beta1", "tau", "b", "beta1₁", "tau₁", "b₁", "beta1₃", "tau₃", "b₃"]
        );
        let cfg = vec![
            vec![2.0, 0.5, 0.0],
            vec![9.0, 0.5, 9.0],
            vec![-1.0, 0.5, 0.3],
        ];
        let theta = f.theta(&cfg);
        assert_eq!(theta, [2.0, 0.5, 0.0, 2.0, 0.5, 0.0, -1.0, 0.5, 0.3]);
        // beta1 of each atom, tau once (as the plain variable), b of atom 3 only (zero at atom 1)
        assert_eq!(f.live(&theta, &rel, &[], &[], &roles), [1, 3, 6, 8]);
        // a per-atom relation is written in its atom's own parameters
        let own = relation(&[(2, &[0]), (2, &[2])]);
        let f = Frame::of(&own, 3);
        assert_eq!(f.names(&names), names);
        assert_eq!(f.theta(&cfg), cfg[2]);
        assert_eq!(f.live(&cfg[2], &own, &[], &[], &roles), [0, 1, 2]);
    }
}
