//! Storage port for forwarding the audit log to collectors: one cursor per destination (the
//! last event sent, at least once), its last error, and a lease so that one console replica
//! at a time sends to it.

use async_trait::async_trait;

use crate::audit::{AuditDraft, AuditEvent};
use crate::ports::StoreError;

/// Where forwarding to one destination stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardCursor {
    /// `tcp://host:port` or `tls://host:port`.
    pub destination: String,
    /// Every event up to this `seq` was taken by the receiver.
    pub sent_seq: i64,
    pub sent_at_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    /// The console process that holds the lease (random per start).
    pub holder: Option<String>,
    pub lease_until_ms: i64,
}

#[async_trait]
pub trait ForwardStore: Send + Sync {
    /// Adds `destination` with its cursor at 0 and `event`, in one transaction; `false` (and
    /// nothing written) when it exists.
    async fn add_forward_destination(
        &self,
        destination: &str,
        event: AuditDraft,
    ) -> Result<bool, StoreError>;
    /// Every destination ever forwarded to, by name.
    async fn forward_cursors(&self) -> Result<Vec<ForwardCursor>, StoreError>;
    /// Takes or renews the lease on `destination` for `holder` until `now_ms + lease_ms` when
    /// it is free, expired or already `holder`'s; the cursor when held, else `None`.
    async fn claim_forwarding(
        &self,
        destination: &str,
        holder: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<ForwardCursor>, StoreError>;
    /// Gives the lease up (at shutdown), if `holder` has it.
    async fn release_forwarding(&self, destination: &str, holder: &str) -> Result<(), StoreError>;
    /// Moves the cursor from `from_seq` to `to_seq` and clears the error, only if `holder`
    /// still holds the lease and the cursor is still at `from_seq`; whether it moved.
    async fn advance_forwarding(
        &self,
        destination: &str,
        holder: &str,
        from_seq: i64,
        to_seq: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Notes why sending failed (shown on the Audit page) if `holder` holds the lease.
    async fn note_forwarding_error(
        &self,
        destination: &str,
        holder: &str,
        error: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Up to `limit` events after `seq`, oldest first.
    async fn audit_after(&self, seq: i64, limit: i64) -> Result<Vec<AuditEvent>, StoreError>;
}
