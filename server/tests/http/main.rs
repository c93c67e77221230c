//! HTTP tests against the real console on port 0 with a temp database (one test binary, so
//! the heavy link happens once).

#[path = "../support/mod.rs"]
mod support;

mod access;
mod api_reads;
mod api_tokens;
mod audit_search;
mod cert_downloads;
mod certs;
mod cli;
mod clients;
mod data_at_rest;
mod faults;
mod forwarding;
mod gate_settings;
mod gate_tls;
mod gate_tokens;
mod gates;
mod keys;
mod master_key;
mod openapi;
mod passkeys;
mod permissions;
mod pinsets;
mod policies;
mod probe;
mod slow_clients;
