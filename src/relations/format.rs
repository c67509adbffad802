//! Names of an atom's terms and parameters: subscripts (`u₂`, `beta1[0]₂`).

/// `n` in subscript digits (`12` → `₁₂`).
pub(crate) fn subscript(n: usize) -> String {
    n.to_string()
        .chars()
        .map(|c| {
            ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'][c.to_digit(10).unwrap_or(0) as usize]
        })
        .collect()
}
