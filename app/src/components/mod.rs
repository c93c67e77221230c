//! Reusable widgets.

pub mod access;
pub mod forms;
pub mod join;
pub mod passkey;
pub mod shell;
pub mod time;
pub mod timeline;
