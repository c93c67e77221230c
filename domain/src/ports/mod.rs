//! Storage ports: what the domain needs from a database, implemented by the `store` crate.
//!
//! Invariant: every method that changes state takes the [`AuditDraft`] describing it and must
//! write the change and the chained audit event in one transaction (fail closed: if the event
//! cannot be written, neither is the change). Event-only writes (refused attempts) go through
//! [`Store::record`].

use async_trait::async_trait;
use uuid::Uuid;

use crate::admins::{Admin, StoredPasskey};
use crate::audit::{AuditDraft, AuditEvent, ChainError, ChainKey, Checkpoint};
use crate::sessions::SessionRecord;
use crate::setup::SetupTokenRecord;

/// Why a store call failed. The adapters produce the typed variants from the database's error
/// codes, so services never read a database's message to tell a duplicate name from a row in use.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row of `table` with the same unique value (a name, a hostname) exists already.
    #[error("duplicate in {table}")]
    Duplicate {
        table: &'static str,
        /// The database's message, for the log only.
        detail: String,
    },
    /// A foreign key of `table` failed: the row is still referred to (delete), or the row it
    /// refers to is gone (insert, update).
    #[error("row of {table} in use or missing reference")]
    InUse {
        table: &'static str,
        /// The database's message, for the log only.
        detail: String,
    },
    /// A precondition checked inside the transaction failed (a stale version, a token used
    /// meanwhile); the message is written by the adapter for the admin.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database is locked, full or unreachable; the caller may retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Other(String),
}

/// A WebAuthn ceremony in progress, held server-side for five minutes and taken once; also
/// other one-time server-side state with the same rules (a certificate key-download ticket,
/// one minute), told apart by `kind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ceremony {
    /// Hash of the ceremony id handed to the browser.
    pub id_hash: String,
    pub kind: String,
    /// Serialised ceremony state (challenge and context); never sent to the browser.
    pub state_json: String,
    pub expires_at_ms: i64,
}

/// Everything that creates the first owner, applied together.
#[derive(Clone, Debug)]
pub struct NewOwner {
    pub setup_token_hash: String,
    pub admin: Admin,
    pub passkey: StoredPasskey,
    pub session: SessionRecord,
}

/// A successful sign-in, applied together: the new session, the passkey's updated counter,
/// and the removal of the session the browser held before (if any).
#[derive(Clone, Debug)]
pub struct NewSignIn {
    pub session: SessionRecord,
    pub passkey: Option<StoredPasskey>,
    pub replaces_session_hash: Option<String>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether the database answers and its schema is current.
    async fn ready(&self) -> Result<(), StoreError>;

    async fn count_admins(&self) -> Result<i64, StoreError>;
    async fn admin_by_username(&self, username: &str) -> Result<Option<Admin>, StoreError>;
    async fn admin_by_id(&self, id: Uuid) -> Result<Option<Admin>, StoreError>;
    async fn passkeys_of(&self, admin_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError>;

    async fn setup_token(&self, token_hash: &str) -> Result<Option<SetupTokenRecord>, StoreError>;
    async fn issue_setup_token(
        &self,
        record: &SetupTokenRecord,
        event: AuditDraft,
    ) -> Result<(), StoreError>;
    /// Consumes the setup token (it must be unused and unexpired at `now_ms`, else `Conflict`),
    /// creates the owner, its passkey and its session.
    async fn create_owner(
        &self,
        owner: &NewOwner,
        now_ms: i64,
        event: AuditDraft,
    ) -> Result<(), StoreError>;

    async fn put_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError>;
    /// Removes and returns the ceremony; a second call for the same id returns `None`.
    async fn take_ceremony(&self, id_hash: &str) -> Result<Option<Ceremony>, StoreError>;

    async fn sign_in(&self, sign_in: &NewSignIn, event: AuditDraft) -> Result<(), StoreError>;
    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError>;
    async fn touch_session(&self, id_hash: &str, now_ms: i64) -> Result<(), StoreError>;
    async fn sign_out(&self, id_hash: &str, event: AuditDraft) -> Result<(), StoreError>;
    /// Records a step-up on the live session `id_hash` at `now_ms` with the passkey's updated
    /// counter, and gives the session the new id `new_id_hash` (the old cookie stops working);
    /// `Conflict` if the session is gone.
    async fn step_up(
        &self,
        id_hash: &str,
        new_id_hash: &str,
        passkey: &StoredPasskey,
        now_ms: i64,
        event: AuditDraft,
    ) -> Result<(), StoreError>;
    /// Drops expired sessions and ceremonies (housekeeping, not a change by anyone).
    async fn purge_expired(
        &self,
        now_ms: i64,
        idle_ms: i64,
        absolute_ms: i64,
    ) -> Result<u64, StoreError>;

    /// Appends an event that accompanies no change (a refused or failed attempt).
    async fn record(&self, event: AuditDraft) -> Result<AuditEvent, StoreError>;
    /// The newest events first.
    async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError>;
    /// The newest `limit` events that pass `filter` and come before `before_seq` (keyset
    /// pagination: a page stays the same while new events arrive), newest first.
    async fn search_audit(
        &self,
        filter: &crate::audit::AuditFilter,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError>;
    /// Walks the whole chain in order with the loaded chain key (and, if given, a checkpoint
    /// the chain must still hold); the inner result names the first bad row.
    async fn verify_audit(
        &self,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<Result<i64, ChainError>, StoreError>;
    /// The chain key, sealed under the master key, once the chain is keyed.
    async fn sealed_chain_key(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Keys the chain: stores `sealed` (the key sealed under the master key) and appends
    /// `event`, MAC'd with `key`, in one transaction; appends use `key` from then on.
    /// `Duplicate` when another console keyed it first.
    async fn key_audit_chain(
        &self,
        sealed: &[u8],
        key: ChainKey,
        event: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Appends and verifies with `key` from now on (the key of an already keyed chain).
    fn use_chain_key(&self, key: ChainKey);
}

pub mod admins;
pub mod api_tokens;
pub mod certs;
pub mod clients;
pub mod forwarding;
pub mod gates;
pub mod keys;
pub mod pinsets;
pub mod policies;
pub mod sealed;
