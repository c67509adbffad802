//! `gate.top_k`: a top-K sparse gate. K counts atoms, so it lies between 1 and the number of
//! atoms minus one (K equal to the number of atoms is the dense gate).

use super::*;

impl Validator<'_> {
    pub(super) fn top_k(&mut self, raw: &RawCase, atoms: usize) -> Option<usize> {
        let spanned = raw.gate.get_ref().top_k.as_ref()?;
        let k = *spanned.get_ref();
        if k < 1 {
            self.report(
                "moeid::case::top_k",
                spanned.span(),
                format!("`gate.top_k = {k}` selects no expert"),
                "at least 1",
                Some("top_k is the number of experts selected at each input: 1, 2, … up to the number of atoms minus one".into()),
            );
            return None;
        }
        // With no valid atom the count is unknown (reported already).
        if atoms > 0 && k as usize >= atoms {
            self.report(
                "moeid::case::top_k",
                spanned.span(),
                format!("`gate.top_k = {k}` selects every one of the {atoms} atoms: the gate is not sparse"),
                "not below the number of atoms",
                Some(format!(
                    "remove `top_k` for a dense gate, or set it below {atoms} (or add atoms)"
                )),
            );
            return None;
        }
        Some(k as usize)
    }
}
