//! Sample points $(x_i, y_i)$ and the scalars they are lifted to.

use rug::Float;

/// A value and a precision, from which a scalar type is built (`f64` ignores the precision).
#[derive(Clone, Copy, Debug)]
pub struct HpScalar(pub f64, pub u32);

impl From<HpScalar> for Float {
    fn from(v: HpScalar) -> Float {
        Float::with_val(v.1, v.0)
    }
}

impl From<HpScalar> for f64 {
    fn from(v: HpScalar) -> f64 {
        v.0
    }
}

/// Sample points $(x_i, y_i)$, $i = 1..N$.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplePoints {
    pub(super) dim: usize,
    /// $x$, row after row ($N \times d$).
    pub(super) x: Vec<f64>,
    /// $y$ (the class index for multinomial models; unused for regression).
    pub(super) y: Vec<f64>,
    /// Class of each point (multinomial; else 0).
    pub(super) class: Vec<usize>,
    /// Top-K gates: whether atom `j` is selected at point `i` (entry `i * atoms + j`), from the
    /// true atoms' gate weights; `None` for a dense gate (every atom selected everywhere).
    pub(super) selected: Option<Selection>,
}

/// Which atoms a top-K gate selects at each point.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Selection {
    /// Number of atoms.
    pub(super) atoms: usize,
    /// `atoms` flags per point.
    pub(super) flags: Vec<bool>,
}

impl SamplePoints {
    /// $N$.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The first `n` points (all of them when there are fewer).
    pub fn first(&self, n: usize) -> SamplePoints {
        let n = n.min(self.len());
        SamplePoints {
            dim: self.dim,
            x: self.x[..n * self.dim].to_vec(),
            y: self.y[..n].to_vec(),
            class: self.class[..n].to_vec(),
            selected: self.selected.as_ref().map(|s| Selection {
                atoms: s.atoms,
                flags: s.flags[..n * s.atoms].to_vec(),
            }),
        }
    }

    /// Whether atom `atom` (0-based, its Voronoi cell for split atoms) is selected by the gate
    /// at point `i`: always for a dense gate, and for a top-K gate when the atom is among the
    /// K largest true gate weights there. An atom index beyond the true atoms (none is made) is
    /// taken as selected.
    pub fn selected(&self, i: usize, atom: usize) -> bool {
        match &self.selected {
            Some(s) if atom < s.atoms => s.flags[i * s.atoms + atom],
            _ => true,
        }
    }

    /// The share of points at which atom `atom` is selected (1 for a dense gate).
    pub fn selected_share(&self, atom: usize) -> f64 {
        if self.is_empty() {
            return 1.0;
        }
        let hits = (0..self.len()).filter(|&i| self.selected(i, atom)).count();
        hits as f64 / self.len() as f64
    }

    /// The tape inputs at point `i`: $x$, $y$, then the atom's reference ($f^*$, or its
    /// group's mean) and its scale (1 for a flat gate).
    pub(super) fn fill_inputs(&self, i: usize, (fstar, scale): (f64, f64), out: &mut Vec<f64>) {
        out.clear();
        out.extend_from_slice(&self.x[i * self.dim..(i + 1) * self.dim]);
        out.push(self.y[i]);
        out.push(fstar);
        out.push(scale);
    }

    pub(super) fn inputs(&self, i: usize, reference: (f64, f64)) -> Vec<f64> {
        let mut v = Vec::new();
        self.fill_inputs(i, reference, &mut v);
        v
    }

    /// The point as text, for error messages.
    pub fn describe(&self, i: usize) -> String {
        let x = &self.x[i * self.dim..(i + 1) * self.dim];
        format!("x = {x:?}, y = {}", self.y[i])
    }
}
