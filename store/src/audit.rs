//! The audit chain's table: appending an event after the newest one, inside the transaction
//! of the change it records.

use chrono::Utc;
use domain::audit::{AuditDraft, AuditEvent};
use sqlx::AnyConnection;

use crate::db::Dialect;

/// Appends `draft` after the newest event, inside the caller's transaction.
///
/// [`Dialect::lock_audit`] serialises appends until the transaction ends (SQLite's single
/// writer already does); the `SELECT` after it sees the event the previous holder committed,
/// so two appends can never chain to the same predecessor (and the `seq` primary key would
/// refuse it if they tried).
pub(crate) async fn append(
    dialect: Dialect,
    conn: &mut AnyConnection,
    draft: AuditDraft,
) -> Result<AuditEvent, sqlx::Error> {
    dialect.lock_audit(conn).await?;
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
    Ok(event)
}
