//! The wire model shared by the console and the gate.
//!
//! Pure Rust with serde only, so it builds for wasm32 (the console's browser code runs the same
//! rules) and for the gate, which must never depend on `domain`, `store` or `app`. No clock, no
//! I/O, no floating point in any decision: time comes in as integer nanoseconds.
//!
//! - [`gcra`]: the rate-limit decision (ITU-T I.371 GCRA) and the bounded per-key [`gcra::Limiter`].
//! - [`model`]: rate-limit policies (match, key, limit, scope, action, mode) and how a request
//!   selects the policies that apply to it.
//! - [`cidr`]: IPv4/IPv6 address ranges (RFC 4632, RFC 4291 §2.3).
//! - [`validate`]: precise messages for one policy and for a set (unreachable policies, duplicates).
//! - [`preview`]: what a policy would do to synthetic traffic, through the same [`gcra::Gcra`].
//! - [`effective`]: the limit a client really gets with N gates.
//!
//! The bundle format and the JWKS types arrive with the gate issue.

pub mod cidr;
pub mod effective;
pub mod gcra;
pub mod model;
pub mod preview;
pub mod validate;
