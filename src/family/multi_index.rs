//! Multi-indices $\alpha$ over the parameters of one atom.

use crate::expr::ParamSet;

/// A multi-index $\alpha$, stored as its sorted list of directions: $\partial^\alpha =
/// \partial_{d_1} \cdots \partial_{d_k}$ with $d_1 \le \dots \le d_k$ and $k = |\alpha|$.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MultiIndex {
    dirs: Vec<u16>,
}

impl MultiIndex {
    /// The empty multi-index: $\partial^0 u = u$.
    pub fn zero() -> MultiIndex {
        MultiIndex::default()
    }

    /// The multi-index with these directions (sorted here).
    pub fn new(mut dirs: Vec<u16>) -> MultiIndex {
        dirs.sort_unstable();
        MultiIndex { dirs }
    }

    /// $|\alpha|$.
    pub fn order(&self) -> usize {
        self.dirs.len()
    }

    /// The sorted directions.
    pub fn directions(&self) -> &[u16] {
        &self.dirs
    }

    /// $\alpha_p$: how many times parameter `p` is differentiated.
    pub fn count(&self, p: usize) -> usize {
        self.dirs.iter().filter(|&&d| d as usize == p).count()
    }

    /// How many of the directions fall in `set`.
    pub fn count_in(&self, set: ParamSet) -> usize {
        self.dirs
            .iter()
            .filter(|&&d| set.contains(d as usize))
            .count()
    }

    /// Every multi-index over `n` parameters with $|\alpha| \le r$, by order, then
    /// lexicographically: $\binom{n + r}{r}$ of them.
    pub fn all(n: usize, r: usize) -> Vec<MultiIndex> {
        let mut out = vec![MultiIndex::zero()];
        let mut level = vec![MultiIndex::zero()];
        for _ in 0..r {
            let mut next = Vec::new();
            for a in &level {
                let start = a.dirs.last().copied().unwrap_or(0);
                for d in start..n as u16 {
                    let mut dirs = a.dirs.clone();
                    dirs.push(d);
                    next.push(MultiIndex { dirs });
                }
            }
            out.extend(next.iter().cloned());
            level = next;
        }
        out
    }

    /// Parameter names of the directions, e.g. `["beta1[0]", "b"]` (empty for $u$).
    pub fn names(&self, variables: &[String]) -> Vec<String> {
        self.dirs
            .iter()
            .map(|&d| variables[d as usize].clone())
            .collect()
    }

    /// The derivative in Leibniz notation: `u`, `∂u/∂a`, `∂²u/∂a²`, `∂²u/∂beta1[0]∂b`.
    /// `u` is the function's name (e.g. `u₂` for atom 2 in cross-atom relations).
    pub fn label(&self, variables: &[String], u: &str) -> String {
        if self.dirs.is_empty() {
            return u.to_string();
        }
        let mut den = String::new();
        let mut i = 0;
        while i < self.dirs.len() {
            let d = self.dirs[i];
            let mut k = 1;
            while i + k < self.dirs.len() && self.dirs[i + k] == d {
                k += 1;
            }
            den.push('∂');
            den.push_str(&variables[d as usize]);
            if k > 1 {
                den.push_str(superscript(k));
            }
            i += k;
        }
        let order = self.dirs.len();
        if order == 1 {
            format!("∂{u}/{den}")
        } else {
            format!("∂{}{u}/{den}", superscript(order))
        }
    }
}

fn superscript(k: usize) -> &'static str {
    ["", "", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
        .get(k)
        .copied()
        .unwrap_or("ⁿ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binomial(n: usize, k: usize) -> usize {
        (0..k).fold(1, |acc, i| acc * (n - i) / (i + 1))
    }

    #[test]
    fn counts_are_binomial() {
        for n in 1..7 {
            for r in 0..5 {
                assert_eq!(
                    MultiIndex::all(n, r).len(),
                    binomial(n + r, r),
                    "n={n} r={r}"
                );
            }
        }
    }

    #[test]
    fn graded_order() {
        let all = MultiIndex::all(2, 2);
        let orders: Vec<_> = all.iter().map(MultiIndex::order).collect();
        assert_eq!(orders, [0, 1, 1, 2, 2, 2]);
        assert_eq!(all[4].directions(), [0, 1]);
    }

    #[test]
    fn labels() {
        let v: Vec<String> = ["beta1[0]", "b", "a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(MultiIndex::zero().label(&v, "u"), "u");
        assert_eq!(MultiIndex::new(vec![2]).label(&v, "u"), "∂u/∂a");
        assert_eq!(
            MultiIndex::new(vec![1, 0]).label(&v, "u"),
            "∂²u/∂beta1[0]∂b"
        );
        assert_eq!(MultiIndex::new(vec![2, 2]).label(&v, "u₂"), "∂²u₂/∂a²");
        assert_eq!(
            MultiIndex::new(vec![0, 0, 1]).label(&v, "u"),
            "∂³u/∂beta1[0]²∂b"
        );
    }
}
