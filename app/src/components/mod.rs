//! Reusable widgets.

pub mod passkey;
pub mod shell;
