//! moeid: identifiability of mixture-of-experts gate designs.
pub mod case;
pub mod expr;
pub mod family;
