//! The store's test suite, one body per test run on both databases: each `store_test!` is
//! `<module>::<test>::sqlite` (a temporary file) and `<module>::<test>::postgres` (a fresh
//! database on the local server, required: without it those tests fail, they never skip).
//! The few tests of what only PostgreSQL has (several console replicas on one database, the
//! advisory audit lock, `TRUNCATE`) exist only as `::postgres` and say why.
//!
//! Every mutating test checks the audit side too: each applied change wrote exactly one event,
//! each refused one none, and the chain verifies at the end (`TestBackend::assert_audit`).
//!
//! `cargo test -p store -- sqlite` or `-- postgres` runs one dialect.

#[macro_use]
mod support;

mod admins;
mod admins_manage;
mod audit;
mod certs;
mod clients;
mod forwarding;
mod gates;
mod keys;
mod pinsets;
mod policies;
mod schema;
mod sealed;
