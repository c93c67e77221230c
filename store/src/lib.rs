//! sqlx adapters for the domain's storage ports.
//!
//! SQLite is the embedded default (WAL, `synchronous = FULL` so an answered change survives
//! `kill -9`, foreign keys on, a busy timeout). Writes go through a single-connection pool, so
//! audit appends are serialised and the chain never forks; reads use a separate pool.
//! PostgreSQL support (mirrored migrations in `migrations/postgres`) is not built yet.

mod sqlite;
mod sqlite_certs;
mod sqlite_clients;
mod sqlite_keys;
mod sqlite_policies;
mod sqlite_sealed;

pub use sqlite::SqliteStore;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported database URL {0:?}: only sqlite: URLs are supported in this version (PostgreSQL is planned)")]
    Unsupported(String),
    #[error("cannot open the database: {0}")]
    Connect(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}
