//! The one store type, [`SqlStore`], over sqlx's `Any` driver: every query is written once,
//! with `$1 … $n` placeholders (PostgreSQL's, which sqlx's SQLite driver also binds by number),
//! and runs on SQLite or PostgreSQL. What truly differs between the two is a named method of
//! [`Dialect`]: how a connection is prepared, how a write transaction starts, how the audit
//! chain is kept linear, how text sorts, and which error codes mean "retry later".
//!
//! The schema keeps to the types `Any` carries without loss on both: TEXT, 64-bit integers
//! (flags as 0/1) and bytes.

use std::time::Duration;

use domain::audit::{AuditDraft, AuditEvent};
use domain::ports::StoreError;
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Executor as _, Transaction};

use crate::OpenError;

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Key of the transaction-scoped advisory lock every PostgreSQL audit append takes, on every
/// connection of every replica (the ASCII bytes of "palisade"). Held until commit or rollback.
pub const AUDIT_LOCK: i64 = 0x7061_6c69_7361_6465;

/// Key of the transaction-scoped advisory lock every PostgreSQL admin change (role, disabling,
/// passkeys, invites) takes before anything else, so that checks which need another change's
/// result (an enabled owner remains, an admin keeps a passkey) see it. Only admin changes take
/// it, always first, so it adds no lock cycle with the row locks and [`AUDIT_LOCK`] after it.
pub const ADMINS_LOCK: i64 = i64::from_be_bytes(*b"p-admins");

/// The database behind a [`SqlStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded: one writer connection serialises every write, so the chain never forks.
    Sqlite,
    /// Shared by console replicas: audit appends serialise on [`AUDIT_LOCK`].
    Postgres,
}

impl Dialect {
    /// The dialect a database URL names, or `Unsupported` with the URLs that work.
    pub fn of_url(url: &str) -> Result<Dialect, OpenError> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Dialect::Postgres)
        } else {
            Err(OpenError::Unsupported(url.to_owned()))
        }
    }

    pub(crate) fn migrator(self) -> &'static Migrator {
        match self {
            Dialect::Sqlite => &SQLITE_MIGRATOR,
            Dialect::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// Run on every new connection. SQLite: `synchronous = FULL` so an answered change survives
    /// `kill -9` (sqlx already turns foreign keys on and sets a 5 s busy timeout). PostgreSQL:
    /// `synchronous_commit = on` whatever the server's default; a write that cannot get its row
    /// locks or the audit lock within 10 s fails as `Unavailable` instead of hanging; a replica
    /// frozen inside a transaction is disconnected, which releases its locks.
    fn connection_setup(self, for_migrations: bool) -> &'static str {
        match (self, for_migrations) {
            // secure_delete: deleted and overwritten content is zeroed in the file, so a key
            // that is erased or re-sealed leaves no old ciphertext in the database pages.
            (Dialect::Sqlite, _) => "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON",
            // Migrations run without the lock timeout: a replica that starts while another
            // migrates waits for it instead of failing.
            (Dialect::Postgres, true) => "SET synchronous_commit = on",
            (Dialect::Postgres, false) => {
                "SET synchronous_commit = on; SET lock_timeout = '10s'; \
                 SET idle_in_transaction_session_timeout = '60s'"
            }
        }
    }

    /// How a write transaction starts. PostgreSQL: READ COMMITTED whatever the server default,
    /// which the advisory-lock protocol of [`Dialect::lock_audit`] relies on (each statement
    /// sees what committed before it).
    fn begin_statement(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL READ COMMITTED",
        }
    }

    /// Serialises audit appends until the caller's transaction ends. SQLite needs nothing: its
    /// one writer connection already serialises every write transaction.
    pub(crate) async fn lock_audit(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        match self {
            Dialect::Sqlite => Ok(()),
            Dialect::Postgres => sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(AUDIT_LOCK)
                .execute(conn)
                .await
                .map(|_| ()),
        }
    }

    /// Serialises admin changes until the caller's transaction ends (see [`ADMINS_LOCK`]).
    /// SQLite needs nothing: its one writer connection already serialises them.
    pub(crate) async fn lock_admins(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        match self {
            Dialect::Sqlite => Ok(()),
            Dialect::Postgres => sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(ADMINS_LOCK)
                .execute(conn)
                .await
                .map(|_| ()),
        }
    }

    /// `column` contains `param`'s text (exact, case-sensitive): `instr` on SQLite, `strpos`
    /// on PostgreSQL.
    pub(crate) fn contains(self, column: &str, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr({column}, {param}) > 0"),
            Dialect::Postgres => format!("strpos({column}, {param}) > 0"),
        }
    }

    /// How the trigram index of the audit details (migration 0017) can narrow a search for
    /// `text`: `None` below three characters (a text without a trigram; the exact test scans),
    /// and for a text with a NUL character (FTS5 reads its query only up to the first NUL and
    /// refuses it as an unterminated string).
    pub(crate) fn details_index(self, text: &str) -> Option<DetailsIndex> {
        if text.chars().count() < 3 || text.contains('\0') {
            return None;
        }
        Some(match self {
            Dialect::Sqlite => DetailsIndex::Fts5Match(fts5_phrase(text)),
            Dialect::Postgres => DetailsIndex::Like(like_pattern(text)),
        })
    }

    /// `column` as an operand whose own index SQLite will not use, so that another index leads
    /// (the unary `+`: "Disqualifying WHERE clause terms using unary-+" in SQLite's query
    /// planner document); the condition is still tested, on an index's entries where it
    /// carries the column. PostgreSQL plans with statistics: the column as it is.
    pub(crate) fn not_leading(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("+{column}"),
            Dialect::Postgres => column.to_owned(),
        }
    }

    /// Appended to a text column in `ORDER BY` so both databases list in byte order: SQLite's
    /// default (BINARY) collation already is; PostgreSQL's default follows the server locale.
    pub(crate) fn bytewise(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " COLLATE \"C\"",
        }
    }
}

/// What [`Dialect::details_index`] gives the audit search: a value to bind that the details'
/// trigram index serves. Either finds every event that contains the text and possibly others;
/// the search keeps the exact [`Dialect::contains`] test beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DetailsIndex {
    /// SQLite: an FTS5 query for `audit_details_fts MATCH` (see [`fts5_phrase`]).
    Fts5Match(String),
    /// PostgreSQL: a `LIKE` pattern, `%text%` with the text's wildcards escaped (see
    /// [`like_pattern`]), which the `pg_trgm` GIN index serves.
    Like(String),
}

/// At most this many characters of a text go into its FTS5 phrase. FTS5 walks the doclist of
/// every trigram of a phrase, so a text made only of trigrams that nearly every event has (a
/// piece of the JSON they all share) costs about a seventh of a scan of the log per character;
/// a longer text is narrowed by its first characters and the exact test does the rest. Fewer
/// would cap that sooner but drop the distinctive end of a text such as `"name":"policy 42"`,
/// and each event a shorter phrase lets through is read to be tested.
pub(crate) const FTS5_PHRASE_CHARS: usize = 32;

/// Beside another filter, a text the trigram index matches in at most this many events is
/// searched by testing those events only (each looked up by `seq`: a few milliseconds for all of
/// them); a text it matches in more is tested on the other filter's events instead.
pub(crate) const FTS_CANDIDATES: usize = 2_000;

/// The FTS5 query that finds the events whose details contain `text` (its first
/// [`FTS5_PHRASE_CHARS`] characters): one phrase, the text in double quotes with each `"`
/// doubled (FTS5 query syntax, "strings"; nothing else is special inside a string), which the
/// trigram tokenizer turns into the text's trigrams at consecutive positions, i.e. the text as
/// a substring. Bound as a parameter, never written into the SQL.
pub(crate) fn fts5_phrase(text: &str) -> String {
    let head: String = text.chars().take(FTS5_PHRASE_CHARS).collect();
    format!("\"{}\"", head.replace('"', "\"\""))
}

/// `%text%` for `LIKE` with `\`, `%` and `_` in `text` escaped by `\` (PostgreSQL's default
/// escape character), so the pattern means the text as a substring.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Every storage port of the domain, on SQLite or PostgreSQL.
pub struct SqlStore {
    pub(crate) dialect: Dialect,
    /// Where writes go: SQLite's single connection, or PostgreSQL's pool.
    pub(crate) write: AnyPool,
    /// Where reads go: a few SQLite connections beside the writer, or the same PostgreSQL pool.
    pub(crate) read: AnyPool,
    /// The audit chain's key once loaded (`Store::use_chain_key`); appends MAC with it.
    pub(crate) chain_key: std::sync::Arc<std::sync::RwLock<Option<domain::audit::ChainKey>>>,
}

impl SqlStore {
    /// Opens the database a `sqlite:` or `postgres:` URL names (creating a missing SQLite
    /// file) and applies migrations; a failed migration is an error the caller must treat as
    /// fatal. PostgreSQL replicas starting at once are safe: the migrator holds a database-wide
    /// advisory lock while it runs.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url)?;
        let options: AnyConnectOptions = dialect_url(dialect, url).parse()?;
        let pool = |max: u32, for_migrations: bool| {
            let setup = dialect.connection_setup(for_migrations);
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _| {
                    Box::pin(async move { conn.execute(setup).await.map(|_| ()) })
                })
        };
        match dialect {
            Dialect::Sqlite => {
                let write = pool(1, false).connect_with(options.clone()).await?;
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&write)
                    .await?;
                dialect.migrator().run(&write).await?;
                let read = pool(4, false).connect_with(options).await?;
                Ok(SqlStore {
                    dialect,
                    write,
                    read,
                    chain_key: Default::default(),
                })
            }
            Dialect::Postgres => {
                let migrate = pool(1, true).connect_with(options.clone()).await?;
                let migrated = dialect.migrator().run(&migrate).await;
                migrate.close().await;
                migrated?;
                let pool = pool(10, false).connect_with(options).await?;
                Ok(SqlStore {
                    dialect,
                    write: pool.clone(),
                    read: pool,
                    chain_key: Default::default(),
                })
            }
        }
    }

    /// Opens the database for reading only, as `palisade audit verify` does: no migration, no
    /// file created, SQLite opened with `mode=ro` (a database on read-only media, or a copy an
    /// auditor was handed, verifies as it is, without a single byte written).
    pub async fn open_read_only(url: &str) -> Result<Self, OpenError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url)?;
        let url = match dialect {
            Dialect::Sqlite => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=ro")
            }
            Dialect::Postgres => dialect_url(dialect, url),
        };
        let options: AnyConnectOptions = url.parse()?;
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(SqlStore {
            dialect,
            write: pool.clone(),
            read: pool,
            chain_key: Default::default(),
        })
    }

    /// The loaded chain key, if any.
    pub(crate) fn chain_key(&self) -> Option<domain::audit::ChainKey> {
        self.chain_key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// After a commit that erased or re-sealed private key material: on SQLite, moves every WAL
    /// frame into the database and truncates the WAL (`wal_checkpoint(TRUNCATE)`; the old page
    /// images with the ciphertext lived there), then `VACUUM`s so no free page keeps it either
    /// (`secure_delete` already zeroes what rows drop). PostgreSQL: nothing (its files are the
    /// server's; `VACUUM` there is the operator's schedule). A failure is logged, never an error
    /// for the change, which has committed.
    pub(crate) async fn scrub(&self) {
        if self.dialect != Dialect::Sqlite {
            return;
        }
        for step in [
            "PRAGMA wal_checkpoint(TRUNCATE)",
            "VACUUM",
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ] {
            if let Err(e) = sqlx::query(step).execute(&self.write).await {
                tracing::warn!(step, error = %e, "scrubbing erased key material from the database file failed");
                return;
            }
        }
    }

    /// Starts a write transaction (see [`Dialect::begin_statement`]).
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        self.write
            .begin_with(self.dialect.begin_statement())
            .await
            .map_err(map_err)
    }

    /// Appends `event` to the audit chain inside `tx`, then commits both: the change and its
    /// event are written together or not at all.
    pub(crate) async fn commit(
        &self,
        mut tx: Transaction<'static, Any>,
        event: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let key = self.chain_key();
        let sealed = crate::audit::append(self.dialect, &mut tx, event, key.as_ref()).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(sealed)
    }

    /// Every row a read query returns, mapped by `of`.
    pub(crate) async fn all<'q, T>(
        &self,
        query: Query<'q, Any, AnyArguments<'q>>,
        of: fn(&AnyRow) -> Result<T, sqlx::Error>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = query.fetch_all(&self.read).await.map_err(map_err)?;
        rows.iter()
            .map(of)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    /// The row a read query returns, if any, mapped by `of`.
    pub(crate) async fn one<'q, T>(
        &self,
        query: Query<'q, Any, AnyArguments<'q>>,
        of: fn(&AnyRow) -> Result<T, sqlx::Error>,
    ) -> Result<Option<T>, StoreError> {
        let row = query.fetch_optional(&self.read).await.map_err(map_err)?;
        row.as_ref().map(of).transpose().map_err(map_err)
    }

    /// The newest migration this build knows, and whether the database has applied it.
    pub(crate) async fn schema_current(&self) -> Result<(), StoreError> {
        let latest = self
            .dialect
            .migrator()
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.read)
                .await
                .map_err(map_err)?;
        if applied.unwrap_or(0) < latest {
            return Err(StoreError::Unavailable(format!(
                "schema at {applied:?}, expected {latest}"
            )));
        }
        Ok(())
    }

    /// Runs SQL outside the ports. Only for tests that play an attacker with write access to
    /// the database; the console itself never calls it.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        sqlx::raw_sql(sql)
            .execute(&self.write)
            .await
            .map(|r| r.rows_affected())
            .map_err(map_err)
    }
}

/// SQLite: create a missing database file (`mode=rwc`) unless the URL says otherwise.
fn dialect_url(dialect: Dialect, url: &str) -> String {
    match dialect {
        Dialect::Sqlite if !url.contains("mode=") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        }
        Dialect::Postgres if !url.contains("application_name=") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}application_name=palisade")
        }
        _ => url.to_owned(),
    }
}

/// SQLite result codes meaning "the database cannot take the change now": SQLITE_BUSY (5),
/// SQLITE_LOCKED (6), SQLITE_IOERR (10), SQLITE_FULL (13), with their extended codes.
fn sqlite_unavailable(code: i64) -> bool {
    matches!(code & 0xff, 5 | 6 | 10 | 13)
}

/// SQLSTATE classes meaning "retry later" rather than "this change is wrong": 08 connection
/// exception; 40 serialization failure or deadlock (rolled back, retryable); 53 insufficient
/// resources; 57 operator intervention (shutdown, cancelled by a timeout); 58 system error;
/// 55P03 lock_timeout expired; 25006 read-only transaction (a standby during a failover).
fn postgres_unavailable(code: &str) -> bool {
    matches!(code.get(..2), Some("08" | "40" | "53" | "57" | "58"))
        || matches!(code, "55P03" | "25006")
}

/// Maps a database error of either dialect (SQLite codes are numbers, SQLSTATEs are not).
/// Unique and foreign-key violations become typed errors naming `table`, the table the failed
/// statement wrote; nothing upstream needs to read the database's message.
pub(crate) fn map_err_on(table: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let unavailable = match code.parse::<i64>() {
                Ok(n) => sqlite_unavailable(n),
                Err(_) => postgres_unavailable(&code),
            };
            if unavailable {
                StoreError::Unavailable(db.message().to_owned())
            } else if db.is_unique_violation() {
                StoreError::Duplicate {
                    table,
                    detail: db.message().to_owned(),
                }
            } else if db.is_foreign_key_violation()
                // SQLite reports a deferred foreign-key failure at commit with the primary code.
                || db.message().contains("FOREIGN KEY constraint failed")
            {
                StoreError::InUse {
                    table,
                    detail: db.message().to_owned(),
                }
            } else {
                StoreError::Other(db.message().to_owned())
            }
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

/// [`map_err_on`] for statements that write no particular table (reads, commits).
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    map_err_on("")(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_their_dialect_and_others_are_refused() {
        assert_eq!(
            Dialect::of_url("sqlite:///x.db").ok(),
            Some(Dialect::Sqlite)
        );
        assert_eq!(
            Dialect::of_url("postgresql://db/x").ok(),
            Some(Dialect::Postgres)
        );
        assert!(matches!(
            Dialect::of_url("mysql://db/x"),
            Err(OpenError::Unsupported(_))
        ));
    }

    #[test]
    fn sqlite_urls_create_the_file_unless_told_otherwise() {
        assert_eq!(
            dialect_url(Dialect::Sqlite, "sqlite:///d/p.db"),
            "sqlite:///d/p.db?mode=rwc"
        );
        assert_eq!(
            dialect_url(Dialect::Sqlite, "sqlite:///d/p.db?mode=ro"),
            "sqlite:///d/p.db?mode=ro"
        );
        assert_eq!(
            dialect_url(Dialect::Postgres, "postgres://h/db?sslmode=disable"),
            "postgres://h/db?sslmode=disable&application_name=palisade"
        );
    }

    #[test]
    fn a_text_becomes_one_quoted_phrase_or_an_escaped_pattern() {
        assert_eq!(fts5_phrase("a\"b*c"), "\"a\"\"b*c\"");
        assert_eq!(fts5_phrase("\"\""), "\"\"\"\"\"\"");
        assert_eq!(fts5_phrase("NEAR(x) ^y*"), "\"NEAR(x) ^y*\"");
        assert_eq!(
            fts5_phrase(&"é".repeat(FTS5_PHRASE_CHARS + 3)),
            format!("\"{}\"", "é".repeat(FTS5_PHRASE_CHARS)),
            "characters, not bytes"
        );
        assert_eq!(like_pattern(r"5%_a\b"), r"%5\%\_a\\b%");
        assert_eq!(Dialect::Sqlite.details_index("ab"), None);
        assert_eq!(Dialect::Postgres.details_index("éé"), None);
        assert_eq!(Dialect::Sqlite.details_index("a\0b"), None);
        assert_eq!(
            Dialect::Postgres.details_index("a_b"),
            Some(DetailsIndex::Like(r"%a\_b%".into()))
        );
    }

    #[test]
    fn retryable_codes_of_both_dialects() {
        assert!(sqlite_unavailable(5) && sqlite_unavailable(261) && sqlite_unavailable(13));
        assert!(!sqlite_unavailable(19) && !sqlite_unavailable(2067));
        assert!(postgres_unavailable("55P03") && postgres_unavailable("40001"));
        assert!(!postgres_unavailable("23505") && !postgres_unavailable("23503"));
    }
}
