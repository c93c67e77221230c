//! Palisade's domain: entities, the rules that govern them, the services that apply those rules,
//! the storage ports the `store` crate implements, secrets at rest, and the audit chain.
//!
//! Plain Rust: no leptos, axum or sqlx here, so every rule is testable without a server and the
//! storage can be swapped (SQLite today, PostgreSQL next) behind [`ports::Store`].
//! Every change goes through a port method that also takes its [`audit::AuditDraft`]; the store
//! writes both in one transaction, so a change without its audit event cannot be written.

pub mod admins;
pub mod api_tokens;
pub mod audit;
pub mod audited;
pub mod auth;
pub mod certs;
pub mod clients;
pub mod console;
pub mod error;
pub mod forwarding;
pub mod gates;
pub mod keys;
pub mod pins;
pub mod pinsets;
pub mod policies;
pub mod ports;
pub mod refusals;
pub mod seal;
pub mod sessions;
pub mod setup;
pub mod throttle;
pub mod tokens;

pub use error::Error;

/// Milliseconds since the Unix epoch, the unit of every stored instant except audit times.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
