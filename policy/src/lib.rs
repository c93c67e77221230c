//! The wire model shared by the console and the gate.
//!
//! Pure Rust with serde only, so it builds for wasm32 (the console's browser code runs the same
//! rules) and for the gate, which must never depend on `domain`, `store` or `app`.
//! Today it holds the GCRA limiter; the bundle format, the full rate-limit policy model and the
//! JWKS types arrive with their issues (#5 and the gate issue).

pub mod gcra;
