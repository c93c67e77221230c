//! The PostgreSQL implementation of [`domain::ports::Store`], shared by several console replicas.
//!
//! Same semantics as the SQLite store: every change and its audit event commit in one
//! transaction; precondition, unique and foreign-key failures are `Conflict`; an unreachable,
//! full, locked or shutting-down server is `Unavailable`. What differs is how the audit chain
//! stays linear: SQLite serialises every write through one connection, PostgreSQL serves many
//! connections from many replicas, so [`append`] takes a transaction-scoped advisory lock
//! before it reads the newest event.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use domain::admins::{Admin, Role, StoredPasskey};
use domain::audit::{AuditDraft, AuditEvent, ChainError, ChainVerifier, Outcome};
use domain::ports::{Ceremony, NewOwner, NewSignIn, Store, StoreError};
use domain::sessions::SessionRecord;
use domain::setup::SetupTokenRecord;
use futures_util::TryStreamExt;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::OpenError;

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Key of the transaction-scoped advisory lock every audit append takes, on every connection of
/// every replica (the ASCII bytes of "palisade"). Held until commit or rollback.
const AUDIT_LOCK: i64 = 0x7061_6c69_7361_6465;

/// Every write transaction starts with this: the advisory-lock protocol in [`append`] relies on
/// each statement seeing what committed before it, whatever the server's default isolation.
const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

pub struct PgStore {
    pub(crate) pool: PgPool,
}

/// Whether a PostgreSQL error code (SQLSTATE) means "the database cannot take this now, retry
/// later" rather than "this change is wrong".
fn unavailable_code(code: &str) -> bool {
    // 08: connection exception; 40: serialization failure or deadlock (the transaction was
    // rolled back and can be retried); 53: insufficient resources (disk full, out of memory, too
    // many connections); 57: operator intervention (shutdown, statement cancelled by a timeout);
    // 58: system error (I/O); 55P03: lock_timeout expired; 25006: read-only transaction (a
    // standby, e.g. during a failover).
    matches!(code.get(..2), Some("08" | "40" | "53" | "57" | "58"))
        || matches!(code, "55P03" | "25006")
}

pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if unavailable_code(&code) {
                StoreError::Unavailable(db.message().to_owned())
            } else if db.is_unique_violation() || db.is_foreign_key_violation() {
                StoreError::Conflict(db.message().to_owned())
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

impl PgStore {
    /// Connects to a `postgres:` or `postgresql:` URL and applies migrations; a failed
    /// migration is an error the caller must treat as fatal. Replicas starting at once are
    /// safe: the migrator holds a database-wide advisory lock while it runs.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
            return Err(OpenError::Unsupported(url.to_owned()));
        }
        let mut base = PgConnectOptions::from_str(url)?;
        if base.get_application_name().is_none() {
            base = base.application_name("palisade");
        }
        // Durable: an answered change must survive a crash, whatever the server's default.
        let base = base.options([("synchronous_commit", "on")]);
        // Migrations on their own connection, without the lock timeout below: a replica that
        // starts while another migrates waits for it instead of failing.
        let migrate = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(base.clone())
            .await?;
        let migrated = MIGRATOR.run(&migrate).await;
        migrate.close().await;
        migrated?;
        // The counterpart of SQLite's busy timeout: a write that cannot get its row locks or
        // the audit lock in time fails as `Unavailable` instead of hanging; a replica frozen
        // inside a transaction is disconnected, which releases its locks.
        let opts = base.options([
            ("lock_timeout", "10s"),
            ("idle_in_transaction_session_timeout", "60s"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        Ok(PgStore { pool })
    }

    /// Starts a write transaction (see [`BEGIN`]).
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin_with(BEGIN).await.map_err(map_err)
    }

    /// Runs one SQL statement outside the ports. Only for tests that play an attacker with
    /// write access to the database; the console itself never calls it.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(map_err)
    }
}

/// Appends `draft` after the newest event, inside the caller's transaction.
///
/// The advisory lock serialises appends across connections and replicas until the caller's
/// transaction ends; the `SELECT` after it runs under READ COMMITTED with a fresh snapshot, so
/// it sees the event the previous lock holder committed. Two appends can therefore never chain
/// to the same predecessor (and the `seq` primary key would refuse it if they tried).
pub(crate) async fn append(
    conn: &mut PgConnection,
    draft: AuditDraft,
) -> Result<AuditEvent, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut *conn)
        .await?;
    let prev: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let event = AuditEvent::seal(
        draft,
        prev.as_ref().map(|(s, h)| (*s, h.as_str())),
        Utc::now(),
    );
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor, ip, user_agent, action, target, outcome, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(event.seq)
    .bind(&event.at)
    .bind(&event.actor)
    .bind(&event.ip)
    .bind(&event.user_agent)
    .bind(&event.action)
    .bind(&event.target)
    .bind(event.outcome.as_str())
    .bind(&event.details)
    .bind(&event.prev_hash)
    .bind(&event.hash)
    .execute(&mut *conn)
    .await?;
    Ok(event)
}

fn admin_from_row(row: &PgRow) -> Result<Admin, StoreError> {
    let id: String = row.try_get("id").map_err(map_err)?;
    let role: String = row.try_get("role").map_err(map_err)?;
    Ok(Admin {
        id: Uuid::parse_str(&id).map_err(|e| StoreError::Other(e.to_string()))?,
        username: row.try_get("username").map_err(map_err)?,
        display_name: row.try_get("display_name").map_err(map_err)?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Other(format!("unknown role {role}")))?,
        disabled: row.try_get::<i64, _>("disabled").map_err(map_err)? != 0,
        created_at_ms: row.try_get("created_at_ms").map_err(map_err)?,
    })
}

fn event_from_row(row: &PgRow) -> Result<AuditEvent, sqlx::Error> {
    let outcome: String = row.try_get("outcome")?;
    Ok(AuditEvent {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        // An unknown outcome text is tampering; `Denied` with a hash mismatch reports it.
        outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Denied),
        details: row.try_get("details")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

async fn insert_passkey(conn: &mut PgConnection, p: &StoredPasskey) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO passkeys (id, admin_id, credential_id, passkey_json, created_at_ms, last_used_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(p.id.to_string())
    .bind(p.admin_id.to_string())
    .bind(&p.credential_id)
    .bind(&p.passkey_json)
    .bind(p.created_at_ms)
    .bind(p.last_used_at_ms)
    .execute(conn)
    .await
    .map(|_| ())
}

async fn insert_session(conn: &mut PgConnection, s: &SessionRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, admin_id, created_at_ms, last_seen_at_ms, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&s.id_hash)
    .bind(s.admin_id.to_string())
    .bind(s.created_at_ms)
    .bind(s.last_seen_at_ms)
    .bind(&s.ip)
    .bind(&s.user_agent)
    .execute(conn)
    .await
    .map(|_| ())
}

macro_rules! admin_columns {
    () => {
        "id, username, display_name, role, disabled, created_at_ms"
    };
}
macro_rules! event_columns {
    () => {
        "seq, at, actor, ip, user_agent, action, target, outcome, details, prev_hash, hash"
    };
}

#[async_trait]
impl Store for PgStore {
    async fn ready(&self) -> Result<(), StoreError> {
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        if applied.unwrap_or(0) < latest {
            return Err(StoreError::Unavailable(format!(
                "schema at {applied:?}, expected {latest}"
            )));
        }
        Ok(())
    }

    async fn count_admins(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM admins")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn admin_by_username(&self, username: &str) -> Result<Option<Admin>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            admin_columns!(),
            " FROM admins WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(admin_from_row).transpose()
    }

    async fn admin_by_id(&self, id: Uuid) -> Result<Option<Admin>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            admin_columns!(),
            " FROM admins WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(admin_from_row).transpose()
    }

    async fn passkeys_of(&self, admin_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, admin_id, credential_id, passkey_json, created_at_ms, last_used_at_ms \
             FROM passkeys WHERE admin_id = $1 ORDER BY created_at_ms",
        )
        .bind(admin_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id").map_err(map_err)?;
                Ok(StoredPasskey {
                    id: Uuid::parse_str(&id).map_err(|e| StoreError::Other(e.to_string()))?,
                    admin_id,
                    credential_id: r.try_get("credential_id").map_err(map_err)?,
                    passkey_json: r.try_get("passkey_json").map_err(map_err)?,
                    created_at_ms: r.try_get("created_at_ms").map_err(map_err)?,
                    last_used_at_ms: r.try_get("last_used_at_ms").map_err(map_err)?,
                })
            })
            .collect()
    }

    async fn setup_token(&self, token_hash: &str) -> Result<Option<SetupTokenRecord>, StoreError> {
        sqlx::query_as::<_, (String, i64, i64, Option<i64>)>(
            "SELECT token_hash, created_at_ms, expires_at_ms, used_at_ms FROM setup_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map(|r| {
            r.map(|(token_hash, created_at_ms, expires_at_ms, used_at_ms)| SetupTokenRecord {
                token_hash,
                created_at_ms,
                expires_at_ms,
                used_at_ms,
            })
        })
        .map_err(map_err)
    }

    async fn issue_setup_token(
        &self,
        record: &SetupTokenRecord,
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO setup_tokens (token_hash, created_at_ms, expires_at_ms, used_at_ms) VALUES ($1, $2, $3, NULL)",
        )
        .bind(&record.token_hash)
        .bind(record.created_at_ms)
        .bind(record.expires_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        append(&mut tx, event).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn create_owner(
        &self,
        owner: &NewOwner,
        now_ms: i64,
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // Under READ COMMITTED a concurrent consumer of the same token waits for this row lock,
        // then re-checks `used_at_ms IS NULL` against the committed row and updates nothing.
        let used = sqlx::query(
            "UPDATE setup_tokens SET used_at_ms = $1 \
             WHERE token_hash = $2 AND used_at_ms IS NULL AND expires_at_ms > $1",
        )
        .bind(now_ms)
        .bind(&owner.setup_token_hash)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if used.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "the setup link was used or expired meanwhile".into(),
            ));
        }
        let a = &owner.admin;
        sqlx::query(concat!(
            "INSERT INTO admins (",
            admin_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(a.id.to_string())
        .bind(&a.username)
        .bind(&a.display_name)
        .bind(a.role.as_str())
        .bind(i64::from(a.disabled))
        .bind(a.created_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| match map_err(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("the username {} is taken", a.username))
            }
            other => other,
        })?;
        insert_passkey(&mut tx, &owner.passkey)
            .await
            .map_err(map_err)?;
        insert_session(&mut tx, &owner.session)
            .await
            .map_err(map_err)?;
        append(&mut tx, event).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn put_ceremony(&self, c: &Ceremony) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ceremonies (id_hash, kind, state_json, expires_at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&c.id_hash)
        .bind(&c.kind)
        .bind(&c.state_json)
        .bind(c.expires_at_ms)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    async fn take_ceremony(&self, id_hash: &str) -> Result<Option<Ceremony>, StoreError> {
        sqlx::query_as::<_, (String, String, String, i64)>(
            "DELETE FROM ceremonies WHERE id_hash = $1 RETURNING id_hash, kind, state_json, expires_at_ms",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map(|r| {
            r.map(|(id_hash, kind, state_json, expires_at_ms)| Ceremony {
                id_hash,
                kind,
                state_json,
                expires_at_ms,
            })
        })
        .map_err(map_err)
    }

    async fn sign_in(&self, s: &NewSignIn, event: AuditDraft) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        if let Some(old) = &s.replaces_session_hash {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(old)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        if let Some(p) = &s.passkey {
            sqlx::query(
                "UPDATE passkeys SET passkey_json = $1, last_used_at_ms = $2 WHERE id = $3",
            )
            .bind(&p.passkey_json)
            .bind(p.last_used_at_ms)
            .bind(p.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        insert_session(&mut tx, &s.session).await.map_err(map_err)?;
        append(&mut tx, event).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn step_up(
        &self,
        id_hash: &str,
        p: &StoredPasskey,
        now_ms: i64,
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let affected = sqlx::query("UPDATE sessions SET stepped_up_at_ms = $1 WHERE id_hash = $2")
            .bind(now_ms)
            .bind(id_hash)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if affected != 1 {
            return Err(StoreError::Conflict(
                "the session ended; sign in again".into(),
            ));
        }
        sqlx::query("UPDATE passkeys SET passkey_json = $1, last_used_at_ms = $2 WHERE id = $3")
            .bind(&p.passkey_json)
            .bind(p.last_used_at_ms)
            .bind(p.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        append(&mut tx, event).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id_hash, admin_id, created_at_ms, last_seen_at_ms, ip, user_agent, stepped_up_at_ms \
             FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        let Some(r) = row else { return Ok(None) };
        let admin_id: String = r.try_get("admin_id").map_err(map_err)?;
        Ok(Some(SessionRecord {
            id_hash: r.try_get("id_hash").map_err(map_err)?,
            admin_id: Uuid::parse_str(&admin_id).map_err(|e| StoreError::Other(e.to_string()))?,
            created_at_ms: r.try_get("created_at_ms").map_err(map_err)?,
            last_seen_at_ms: r.try_get("last_seen_at_ms").map_err(map_err)?,
            ip: r.try_get("ip").map_err(map_err)?,
            user_agent: r.try_get("user_agent").map_err(map_err)?,
            stepped_up_at_ms: r.try_get("stepped_up_at_ms").map_err(map_err)?,
        }))
    }

    async fn touch_session(&self, id_hash: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at_ms = $1 WHERE id_hash = $2")
            .bind(now_ms)
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn sign_out(&self, id_hash: &str, event: AuditDraft) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        append(&mut tx, event).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn purge_expired(
        &self,
        now_ms: i64,
        idle_ms: i64,
        absolute_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let s =
            sqlx::query("DELETE FROM sessions WHERE last_seen_at_ms <= $1 OR created_at_ms <= $2")
                .bind(now_ms - idle_ms)
                .bind(now_ms - absolute_ms)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        let c = sqlx::query("DELETE FROM ceremonies WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(s.rows_affected() + c.rows_affected())
    }

    async fn record(&self, event: AuditDraft) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let e = append(&mut tx, event).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(e)
    }

    async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM audit_events ORDER BY seq DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| event_from_row(r).map_err(map_err))
            .collect()
    }

    async fn verify_audit(&self) -> Result<Result<i64, ChainError>, StoreError> {
        let mut verifier = ChainVerifier::default();
        // One statement, so one snapshot: the walk sees a consistent prefix of the chain even
        // while other replicas append.
        let mut rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM audit_events ORDER BY seq"
        ))
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await.map_err(map_err)? {
            let event = event_from_row(&row).map_err(map_err)?;
            if let Err(e) = verifier.check(&event) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(verifier.verified()))
    }
}
