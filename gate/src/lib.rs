//! `palisade-gate`: the enforcement service. A reverse proxy in front of one upstream API that
//! applies the console's signed config bundles: route table, bearer JWT validation (RFC 6750,
//! RFC 8725, RFC 9068) and GCRA rate limits, with an admin listener for health, readiness,
//! metrics and bundle pushes, and a pull loop to the console.
//!
//! Depends on `policy` (wire model, validation, GCRA) and `jose` (JWT and Ed25519 envelopes),
//! never on `domain`, `store` or `app` (`scripts/check-gate-deps.sh` checks it).
//!
//! - [`cli`]: flags and env, `serve` and `enroll`.
//! - [`serve`]: startup and the listeners.
//! - [`apply`]: verifying and applying bundles, the shared state pointer.
//! - [`state`]: the enforcement state one bundle builds (routes, keys, limiters, token cache).
//! - [`proxy`]: the request path.
//! - [`request`]: path normalisation, client IP, bearer extraction, hop-by-hop headers.
//! - [`admin`]: the admin listener's routes.
//! - [`console`]: enrolment, pull and status calls to the console.
//! - [`data_dir`]: the files of the data directory.
//! - [`metrics`]: counters and the Prometheus text.

pub mod admin;
pub mod apply;
pub mod cli;
pub mod console;
pub mod data_dir;
pub mod error;
pub mod metrics;
pub mod proxy;
pub mod request;
pub mod serve;
pub mod state;

pub use error::GateError;
pub use serve::{Gate, Settings};
