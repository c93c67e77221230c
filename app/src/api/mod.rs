//! Server fns, one module per area. Each is thin: build the request context, check the
//! caller's permission first, call a domain service, convert the result to a `View`.

pub mod admins;
pub mod api_tokens;
pub mod audit;
pub mod auth;
pub mod certs;
pub mod clients;
pub mod dashboard;
pub mod gates;
pub mod keys;
pub mod pinsets;
pub mod policies;
