//! The `palisade` console server: CLI, configuration, startup, HTTP middleware (sessions,
//! Origin check, security headers), health endpoints and background jobs. It serves the
//! Leptos app from `app` and wires the `domain` services to the `store` adapters.
//!
//! Routes are grouped by area, each module with its own `router()` (`health`, `site`,
//! `downloads`, `ui`), composed in `startup`, behind the middleware of `middleware`; the API
//! gates call (`gate_api`) sits outside the browser session and Origin checks and is
//! authenticated by the gates' signatures; so does the REST API (`api_v1`), authenticated by
//! API tokens. `bundle_push` publishes and pushes bundles.

pub mod api_v1;
pub mod bundle_push;
pub mod cli;
pub mod config;
pub mod deadlines;
pub mod downloads;
pub mod forwarding;
pub mod gate_api;
pub mod health;
pub mod master_key;
pub mod middleware;
pub mod probe;
pub mod release_cli;
pub mod site;
pub mod startup;
pub mod ui;
