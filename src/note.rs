//! What `verify` points out beside the verdict: data here, words in [`crate::report`].

/// A note worth a reader's attention.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Note {
    /// A parameter declared a mass whose $\partial u/\partial\theta_m$ is not a multiple of
    /// $u$ at an atom; it is treated as a mass as declared.
    MassNotActing {
        /// The atom (1-based).
        atom: usize,
        /// The parameter.
        variable: String,
    },
    /// A top-K gate: the selected set is held at the truth's.
    TopK {
        /// K.
        k: usize,
        /// The share of the samples at which each atom is selected.
        selected: Vec<f64>,
    },
    /// A fixed component mixed outside the gate: the cells hold its share at the truth's.
    FixedShare {
        /// The true share $\lambda^*$.
        proportion: f64,
        /// Whether $\lambda$ trades against the atoms' parameters at first order.
        lost: bool,
    },
    /// Non-smooth primitives with parameter-dependent arguments, as written.
    Kinks(Vec<String>),
}
