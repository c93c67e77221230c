//! The SQLite implementation of [`domain::ports::Store`].

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
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection, SqlitePool};
use uuid::Uuid;

use crate::OpenError;

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

pub struct SqliteStore {
    /// One connection: every write, and so every audit append, is serialised.
    pub(crate) write: SqlitePool,
    pub(crate) read: SqlitePool,
}

pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_FULL (13), SQLITE_IOERR (10) and their
            // extended codes: the database cannot take the change now.
            let primary = code.parse::<i64>().map(|c| c & 0xff).unwrap_or(-1);
            if matches!(primary, 5 | 6 | 10 | 13) {
                StoreError::Unavailable(db.message().to_owned())
            } else if db.is_unique_violation()
                || db.is_foreign_key_violation()
                || db.message().contains("FOREIGN KEY constraint failed")
            {
                StoreError::Conflict(db.message().to_owned())
            } else {
                StoreError::Other(db.message().to_owned())
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL and applies migrations; a
    /// failed migration is an error the caller must treat as fatal.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        if !url.starts_with("sqlite:") {
            return Err(OpenError::Unsupported(url.to_owned()));
        }
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts.clone())
            .await?;
        MIGRATOR.run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        Ok(SqliteStore { write, read })
    }

    /// Runs one SQL statement outside the ports. Only for tests that play an attacker with
    /// write access to the database file; the console itself never calls it.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        sqlx::query(sql)
            .execute(&self.write)
            .await
            .map(|r| r.rows_affected())
            .map_err(map_err)
    }
}

/// Appends `draft` after the newest event, inside the caller's transaction.
pub(crate) async fn append(
    conn: &mut SqliteConnection,
    draft: AuditDraft,
) -> Result<AuditEvent, sqlx::Error> {
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
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

fn admin_from_row(row: &SqliteRow) -> Result<Admin, StoreError> {
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

fn event_from_row(row: &SqliteRow) -> Result<AuditEvent, sqlx::Error> {
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

async fn insert_passkey(conn: &mut SqliteConnection, p: &StoredPasskey) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO passkeys (id, admin_id, credential_id, passkey_json, created_at_ms, last_used_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
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

async fn insert_session(conn: &mut SqliteConnection, s: &SessionRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, admin_id, created_at_ms, last_seen_at_ms, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)",
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

const ADMIN_COLUMNS: &str = "id, username, display_name, role, disabled, created_at_ms";
const EVENT_COLUMNS: &str =
    "seq, at, actor, ip, user_agent, action, target, outcome, details, prev_hash, hash";

#[async_trait]
impl Store for SqliteStore {
    async fn ready(&self) -> Result<(), StoreError> {
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
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

    async fn count_admins(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM admins")
            .fetch_one(&self.read)
            .await
            .map_err(map_err)
    }

    async fn admin_by_username(&self, username: &str) -> Result<Option<Admin>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ADMIN_COLUMNS} FROM admins WHERE username = ?"
        ))
        .bind(username)
        .fetch_optional(&self.read)
        .await
        .map_err(map_err)?;
        row.as_ref().map(admin_from_row).transpose()
    }

    async fn admin_by_id(&self, id: Uuid) -> Result<Option<Admin>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ADMIN_COLUMNS} FROM admins WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await
            .map_err(map_err)?;
        row.as_ref().map(admin_from_row).transpose()
    }

    async fn passkeys_of(&self, admin_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, admin_id, credential_id, passkey_json, created_at_ms, last_used_at_ms FROM passkeys WHERE admin_id = ? ORDER BY created_at_ms",
        )
        .bind(admin_id.to_string())
        .fetch_all(&self.read)
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
            "SELECT token_hash, created_at_ms, expires_at_ms, used_at_ms FROM setup_tokens WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
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
        let mut tx = self.write.begin().await.map_err(map_err)?;
        sqlx::query("INSERT INTO setup_tokens (token_hash, created_at_ms, expires_at_ms, used_at_ms) VALUES (?, ?, ?, NULL)")
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
        let mut tx = self.write.begin().await.map_err(map_err)?;
        let used = sqlx::query(
            "UPDATE setup_tokens SET used_at_ms = ? WHERE token_hash = ? AND used_at_ms IS NULL AND expires_at_ms > ?",
        )
        .bind(now_ms)
        .bind(&owner.setup_token_hash)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if used.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "the setup link was used or expired meanwhile".into(),
            ));
        }
        let a = &owner.admin;
        sqlx::query(&format!(
            "INSERT INTO admins ({ADMIN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
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
            "INSERT INTO ceremonies (id_hash, kind, state_json, expires_at_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(&c.id_hash)
        .bind(&c.kind)
        .bind(&c.state_json)
        .bind(c.expires_at_ms)
        .execute(&self.write)
        .await
        .map(|_| ())
        .map_err(map_err)
    }

    async fn take_ceremony(&self, id_hash: &str) -> Result<Option<Ceremony>, StoreError> {
        sqlx::query_as::<_, (String, String, String, i64)>(
            "DELETE FROM ceremonies WHERE id_hash = ? RETURNING id_hash, kind, state_json, expires_at_ms",
        )
        .bind(id_hash)
        .fetch_optional(&self.write)
        .await
        .map(|r| r.map(|(id_hash, kind, state_json, expires_at_ms)| Ceremony { id_hash, kind, state_json, expires_at_ms }))
        .map_err(map_err)
    }

    async fn sign_in(&self, s: &NewSignIn, event: AuditDraft) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await.map_err(map_err)?;
        if let Some(old) = &s.replaces_session_hash {
            sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
                .bind(old)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        if let Some(p) = &s.passkey {
            sqlx::query("UPDATE passkeys SET passkey_json = ?, last_used_at_ms = ? WHERE id = ?")
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
        let mut tx = self.write.begin().await.map_err(map_err)?;
        let affected = sqlx::query("UPDATE sessions SET stepped_up_at_ms = ? WHERE id_hash = ?")
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
        sqlx::query("UPDATE passkeys SET passkey_json = ?, last_used_at_ms = ? WHERE id = ?")
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
            "SELECT id_hash, admin_id, created_at_ms, last_seen_at_ms, ip, user_agent, stepped_up_at_ms FROM sessions WHERE id_hash = ?",
        )
        .bind(id_hash)
        .fetch_optional(&self.read)
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
        sqlx::query("UPDATE sessions SET last_seen_at_ms = ? WHERE id_hash = ?")
            .bind(now_ms)
            .bind(id_hash)
            .execute(&self.write)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn sign_out(&self, id_hash: &str, event: AuditDraft) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await.map_err(map_err)?;
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
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
        let mut tx = self.write.begin().await.map_err(map_err)?;
        let s =
            sqlx::query("DELETE FROM sessions WHERE last_seen_at_ms <= ? OR created_at_ms <= ?")
                .bind(now_ms - idle_ms)
                .bind(now_ms - absolute_ms)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        let c = sqlx::query("DELETE FROM ceremonies WHERE expires_at_ms <= ?")
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(s.rows_affected() + c.rows_affected())
    }

    async fn record(&self, event: AuditDraft) -> Result<AuditEvent, StoreError> {
        let mut tx = self.write.begin().await.map_err(map_err)?;
        let e = append(&mut tx, event).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(e)
    }

    async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq DESC LIMIT ?"
        ))
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| event_from_row(r).map_err(map_err))
            .collect()
    }

    async fn verify_audit(&self) -> Result<Result<i64, ChainError>, StoreError> {
        let mut verifier = ChainVerifier::default();
        let query = format!("SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq");
        let mut rows = sqlx::query(&query).fetch(&self.read);
        while let Some(row) = rows.try_next().await.map_err(map_err)? {
            let event = event_from_row(&row).map_err(map_err)?;
            if let Err(e) = verifier.check(&event) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(verifier.verified()))
    }
}
