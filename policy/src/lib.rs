//! The wire model shared by the console and the gate.
//!
//! Pure Rust with serde, serde_json and base64 only (all already in the browser bundle), so
//! it builds for wasm32 (the console's browser code runs the same rules) and for the gate, which
//! must never depend on `domain`, `store` or `app`. No clock, no I/O, no floating point in any
//! decision: time comes in as integer nanoseconds.
//!
//! - [`gcra`]: the rate-limit decision (ITU-T I.371 GCRA) and the bounded per-key [`gcra::Limiter`].
//! - [`model`]: rate-limit policies (match, key, limit, scope, action, mode) and how a request
//!   selects the policies that apply to it.
//! - [`cidr`]: IPv4/IPv6 address ranges (RFC 4632, RFC 4291 §2.3).
//! - [`forwarded`]: the client's address behind trusted proxies (`X-Forwarded-For` or RFC 7239
//!   `Forwarded`, whichever the deployment's proxies write).
//! - [`validate`]: precise messages for one policy and for a set (unreachable policies, duplicates).
//! - [`preview`]: what a policy would do to synthetic traffic, through the same [`gcra::Gcra`].
//! - [`effective`]: the limit a client really gets with N gates.
//! - [`jwk`]: public JSON Web Keys and key sets (RFC 7517), and the check of a client's pasted
//!   public JWKS for `private_key_jwt` (RFC 7523).
//! - [`redirect`]: which OAuth redirect URIs a client may register (RFC 6749 §3.1.2, RFC 8252,
//!   RFC 9700 §4.1).
//!
//! - [`client`]: the OAuth client registration form, its three templates, and client kinds,
//!   platforms, authentication methods (which of them use a secret) and secret statuses.
//! - [`keys`]: signing-key states, the steps of the rotation job's plan, key-set timing bounds
//!   and the in-flight window of a key's tokens (max token lifetime + leeway).
//! - [`certs`]: certificate kinds and statuses, validity limits (CA maximum, server maximum, the
//!   public-CA warning threshold and schedule), rotation targets and the platforms of the apps
//!   that ship pin sets.
//!
//! - [`access`]: the console's roles, permissions and the table joining them.
//! - [`api_tokens`]: the scopes and lifetimes of tokens for the REST API.
//! - [`bundle`]: the signed config bundle the console sends every gate (format, envelope, checks).
//! - [`routes`]: the gate's routes as text, one per line (read with line-numbered issues, printed
//!   back), as the console's gate settings form edits them.
//! - [`gates`]: a gate's state in the fleet, as the console derives and shows it.
//! - [`secrets`]: the private material sealed for one gate (signing keys), as it travels.

pub mod access;
pub mod api_tokens;
pub mod bundle;
pub mod certs;
pub mod cidr;
pub mod client;
pub mod effective;
pub mod forwarded;
pub mod gates;
pub mod gcra;
pub mod jwk;
pub mod keys;
pub mod model;
pub mod preview;
pub mod redirect;
pub mod routes;
pub mod secrets;
pub mod validate;
