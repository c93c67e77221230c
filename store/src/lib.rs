//! sqlx adapters for the domain's storage ports.
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
//! open and implement the same ports with the same semantics.

mod postgres;
mod postgres_certs;
mod postgres_clients;
mod postgres_keys;
mod postgres_policies;
mod postgres_sealed;
mod rows;
mod sqlite;
mod sqlite_certs;
mod sqlite_clients;
mod sqlite_keys;
mod sqlite_policies;
mod sqlite_sealed;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

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
