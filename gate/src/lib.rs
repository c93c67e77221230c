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
//! - [`decision`]: whether a request is admitted (route, token, limits), for both modes.
//! - [`proxy`]: the reverse proxy's request path.
//! - [`decision_mode`]: answering nginx `auth_request` / Envoy `ext_authz` check requests.
//! - [`request`]: path normalisation, client IP, bearer extraction, hop-by-hop headers.
//! - [`admin`]: the admin listener's routes.
//! - [`console`]: enrolment, pull and status calls to the console.
//! - [`data_dir`]: the files of the data directory.
//! - [`metrics`]: counters and the Prometheus text.
//! - [`cluster`]: cluster-wide limits, their GCRA state in Redis.
//! - [`tls`]: HTTPS with the certificates the console delivers, swapped with each bundle.
//! - [`token`]: the OAuth token endpoint (client credentials), its metadata and JWKS.
//! - [`usage`]: the token endpoint's usage, reported to the console.

pub mod admin;
pub mod apply;
pub mod cli;
pub mod cluster;
pub mod console;
pub mod data_dir;
pub mod decision;
pub mod decision_mode;
pub mod error;
pub mod metrics;
pub mod proxy;
pub mod request;
pub mod serve;
pub mod state;
pub mod tls;
pub mod token;
pub mod usage;

pub use error::GateError;
pub use serve::{Gate, Settings};
