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
    /// masses and shared parameters (`extra`).
    pub(super) fn live(
        &self,
        theta: &[f64],
        rel: &Relation,
        extra: &[usize],
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
