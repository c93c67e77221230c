//! The audit chain's table: appending an event after the newest one, inside the transaction
//! of the change it records.

use chrono::Utc;
use domain::audit::{AuditDraft, AuditEvent, ChainKey};
use domain::ports::StoreError;
use sqlx::AnyConnection;

use crate::db::{map_err_on, Dialect};

/// Appends `draft` after the newest event, inside the caller's transaction.
///
/// [`Dialect::lock_audit`] serialises appends until the transaction ends (SQLite's single
/// writer already does); the `SELECT` after it sees the event the previous holder committed,
/// so two appends can never chain to the same predecessor (and the `seq` primary key would
/// refuse it if they tried).
///
/// With `key`, the event is MAC'd (the keyed chain). Without it, a database whose chain is
/// keyed refuses the append: an unkeyed row there would break the chain.
pub(crate) async fn append(
    dialect: Dialect,
    conn: &mut AnyConnection,
    draft: AuditDraft,
    key: Option<&ChainKey>,
) -> Result<AuditEvent, StoreError> {
    let on = map_err_on("audit_events");
    dialect.lock_audit(conn).await.map_err(&on)?;
    if key.is_none() {
        let keyed: Option<i64> = sqlx::query_scalar("SELECT 1 FROM audit_chain_keys LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(&on)?;
        if keyed.is_some() {
            return Err(StoreError::Other(
                "the audit chain is keyed but its key is not loaded; nothing was written".into(),
            ));
        }
    }
    let prev: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(&on)?;
    let event = AuditEvent::seal(
        draft,
        prev.as_ref().map(|(s, h)| (*s, h.as_str())),
        Utc::now(),
        key,
    );
    insert(conn, &event).await.map_err(&on)?;
    Ok(event)
}

/// Stores the sealed chain key and appends the keying event, MAC'd with the new key, in one
/// transaction (`conn` is the caller's).
pub(crate) async fn key_chain(
    dialect: Dialect,
    conn: &mut AnyConnection,
    sealed: &[u8],
    key: &ChainKey,
    event: AuditDraft,
    now_ms: i64,
) -> Result<AuditEvent, StoreError> {
    sqlx::query(
        "INSERT INTO audit_chain_keys (id, sealed_private, created_at_ms) VALUES ($1, $2, $3)",
    )
    .bind(domain::console::CHAIN_KEY_ID)
    .bind(sealed)
    .bind(now_ms)
    .execute(&mut *conn)
    .await
    .map_err(map_err_on("audit_chain_keys"))?;
    append(dialect, conn, event, Some(key)).await
}

async fn insert(conn: &mut AnyConnection, event: &AuditEvent) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor, ip, user_agent, action, target, outcome, details, \
         prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
    Ok(())
}
