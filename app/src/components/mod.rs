//! Reusable widgets.

pub mod forms;
pub mod passkey;
pub mod shell;
