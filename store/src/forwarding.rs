//! [`domain::ports::forwarding::ForwardStore`]: the cursor of each collector the audit log is
//! forwarded to. Every write is one conditional statement on the lease holder, so a replica
//! whose lease ran out can neither move a cursor nor overwrite another's error.

use async_trait::async_trait;
use domain::audit::{AuditDraft, AuditEvent};
use domain::ports::forwarding::{ForwardCursor, ForwardStore};
use domain::ports::StoreError;

use crate::db::{map_err, map_err_on, SqlStore};
use crate::rows::{event_of, forward_cursor_of, EVENT_COLUMNS, FORWARD_COLUMNS};

/// The longest error text kept (a TLS alert or an OS error is far shorter).
const MAX_ERROR_CHARS: usize = 500;

#[async_trait]
impl ForwardStore for SqlStore {
    async fn add_forward_destination(
        &self,
        destination: &str,
        event: AuditDraft,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let added = sqlx::query(
            "INSERT INTO audit_forwarding (destination) VALUES ($1) ON CONFLICT (destination) DO NOTHING",
        )
        .bind(destination)
        .execute(&mut *tx)
        .await
        .map_err(map_err_on("audit_forwarding"))?
        .rows_affected()
            == 1;
        if !added {
            // Nothing to write: the transaction ends without an event.
            tx.rollback().await.map_err(map_err)?;
            return Ok(false);
        }
        self.commit(tx, event).await.map(|_| true)
    }

    async fn forward_cursors(&self) -> Result<Vec<ForwardCursor>, StoreError> {
        let sql = format!(
            "SELECT {FORWARD_COLUMNS} FROM audit_forwarding ORDER BY destination{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), forward_cursor_of).await
    }

    async fn claim_forwarding(
        &self,
        destination: &str,
        holder: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<ForwardCursor>, StoreError> {
        let sql = format!(
            "UPDATE audit_forwarding SET holder = $1, lease_until_ms = $2 \
             WHERE destination = $3 AND (holder IS NULL OR holder = $1 OR lease_until_ms <= $4) \
             RETURNING {FORWARD_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(holder)
            .bind(now_ms.saturating_add(lease_ms))
            .bind(destination)
            .bind(now_ms)
            .fetch_optional(&self.write)
            .await
            .map_err(map_err_on("audit_forwarding"))?;
        row.as_ref()
            .map(forward_cursor_of)
            .transpose()
            .map_err(map_err)
    }

    async fn release_forwarding(&self, destination: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE audit_forwarding SET holder = NULL, lease_until_ms = 0 \
             WHERE destination = $1 AND holder = $2",
        )
        .bind(destination)
        .bind(holder)
        .execute(&self.write)
        .await
        .map(|_| ())
        .map_err(map_err_on("audit_forwarding"))
    }

    async fn advance_forwarding(
        &self,
        destination: &str,
        holder: &str,
        from_seq: i64,
        to_seq: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE audit_forwarding SET sent_seq = $1, sent_at_ms = $2, last_error = NULL, \
             last_error_at_ms = NULL \
             WHERE destination = $3 AND holder = $4 AND sent_seq = $5 AND lease_until_ms > $2",
        )
        .bind(to_seq)
        .bind(now_ms)
        .bind(destination)
        .bind(holder)
        .bind(from_seq)
        .execute(&self.write)
        .await
        .map_err(map_err_on("audit_forwarding"))?;
        Ok(moved.rows_affected() == 1)
    }

    async fn note_forwarding_error(
        &self,
        destination: &str,
        holder: &str,
        error: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        sqlx::query(
            "UPDATE audit_forwarding SET last_error = $1, last_error_at_ms = $2 \
             WHERE destination = $3 AND holder = $4",
        )
        .bind(error)
        .bind(now_ms)
        .bind(destination)
        .bind(holder)
        .execute(&self.write)
        .await
        .map(|_| ())
        .map_err(map_err_on("audit_forwarding"))
    }

    async fn audit_after(&self, seq: i64, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        );
        self.all(sqlx::query(&sql).bind(seq).bind(limit.max(0)), event_of)
            .await
    }
}
