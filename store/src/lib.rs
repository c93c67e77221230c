//! sqlx adapters for the domain's storage ports: one type, [`SqlStore`], on SQLite or
//! PostgreSQL, each query written once (see [`db`] for what differs between the two).
//!
//! SQLite is the embedded default (WAL, `synchronous = FULL` so an answered change survives
//! `kill -9`, foreign keys on, a busy timeout). Writes go through a single-connection pool, so
//! audit appends are serialised and the chain never forks; reads use a separate pool.
//!
//! PostgreSQL serves several console replicas sharing one database (`synchronous_commit = on`
//! on every connection, write transactions at READ COMMITTED). Audit appends from every
//! connection of every replica are serialised by a transaction-scoped advisory lock, so the
//! chain never forks there either; a lock timeout turns a stuck writer into `Unavailable`.
//!
//! Both apply mirrored, numbered migrations (`migrations/sqlite`, `migrations/postgres`) at
//! open. Modules follow the domain's nouns: one file per port.

mod admins;
mod admins_manage;
mod api_tokens;
mod audit;
mod certs;
mod clients;
pub mod db;
mod forwarding;
mod gates;
mod keys;
mod pinsets;
mod policies;
mod rows;
mod sealed;

pub use db::{Dialect, SqlStore, ADMINS_LOCK, AUDIT_LOCK};

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported database URL {0:?}: use a sqlite: URL (e.g. sqlite:///var/lib/palisade/palisade.db) or a postgres: / postgresql: URL (e.g. postgres://palisade@db.example/palisade)")]
    Unsupported(String),
    #[error("cannot open the database: {0}")]
    Connect(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}
