//! The `palisade` console server: CLI, configuration, startup, HTTP middleware (sessions,
//! Origin check, security headers), health endpoints and background jobs. It serves the
//! Leptos app from `app` and wires the `domain` services to the `store` adapters.

pub mod cli;
pub mod config;
pub mod downloads;
pub mod master_key;
pub mod middleware;
pub mod site;
pub mod startup;
