//! Storage port for managing admins: invites, roles, disabling, sessions and passkeys. Every
//! change commits with its audit event, and no change may leave the console without an enabled
//! owner (the adapter checks it inside the transaction and answers `Conflict`).

use async_trait::async_trait;
use uuid::Uuid;

use crate::admins::{Admin, Role, StoredPasskey};
use crate::audit::AuditDraft;
use crate::ports::StoreError;
use crate::sessions::SessionRecord;

/// The `Conflict` message of a sign-in or step-up whose passkey counter did not move forward
/// inside the transaction (two assertions raced, or a cloned authenticator): the domain audits
/// it as a possible clone.
pub const PASSKEY_COUNTER_CONFLICT: &str = "the passkey's signature counter did not move forward";

/// A one-time invitation to become an admin with a given role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteRecord {
    pub id: Uuid,
    /// SHA-256 of the token in the invite link; the token itself is shown once.
    pub token_hash: String,
    pub role: Role,
    /// Who it is meant for, as the inviter wrote it (may be empty).
    pub label: String,
    /// Username of the admin who created it.
    pub created_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub used_at_ms: Option<i64>,
    /// Username of the admin it created.
    pub used_by: Option<String>,
    pub revoked_at_ms: Option<i64>,
}

/// A change to the admins, applied in one transaction with its audit event.
#[derive(Clone, Debug)]
pub enum AdminChange {
    Invite(InviteRecord),
    /// Revokes the invite if it is still open at `now_ms` (unused, unrevoked, unexpired), else
    /// `Conflict`.
    RevokeInvite {
        id: Uuid,
        now_ms: i64,
    },
    /// Consumes the invite with `token_hash` (open at `now_ms`, else `Conflict`) and creates
    /// `admin` (with the invite's role), its passkey and its first session. A taken username is
    /// `Duplicate { table: "admins" }`.
    AcceptInvite {
        token_hash: String,
        admin: Box<Admin>,
        passkey: Box<StoredPasskey>,
        session: Box<SessionRecord>,
        now_ms: i64,
    },
    /// Changes the admin's role if it is still `from` (else `Conflict`) and ends all their
    /// sessions.
    SetRole {
        admin_id: Uuid,
        from: Role,
        to: Role,
    },
    /// Disables (ending all their sessions) or re-enables an admin.
    SetDisabled {
        admin_id: Uuid,
        disabled: bool,
    },
    /// Ends the admin's sessions: the one `only` names, or every one except `keep`.
    EndSessions {
        admin_id: Uuid,
        only: Option<String>,
        keep: Option<String>,
    },
    /// Registers another passkey for an existing admin.
    AddPasskey(StoredPasskey),
    RenamePasskey {
        admin_id: Uuid,
        id: Uuid,
        name: String,
    },
    /// Removes the passkey, unless it is the admin's last one (`Conflict`).
    RevokePasskey {
        admin_id: Uuid,
        id: Uuid,
    },
}

#[async_trait]
pub trait AdminStore: Send + Sync + 'static {
    /// Every admin, by username.
    async fn admins(&self) -> Result<Vec<Admin>, StoreError>;
    /// Invites, newest first (at most `limit`).
    async fn invites(&self, limit: i64) -> Result<Vec<InviteRecord>, StoreError>;
    async fn invite_by_token(&self, token_hash: &str) -> Result<Option<InviteRecord>, StoreError>;
    /// Every stored session (live or not yet purged), newest first.
    async fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError>;
    /// Applies the change with its event; the number of rows it touched (for
    /// [`AdminChange::EndSessions`], the sessions ended). `NotFound`-like misses (an admin,
    /// invite or passkey that does not exist) are `Conflict` with a message for the admin.
    async fn apply_admin_change(
        &self,
        change: &AdminChange,
        event: AuditDraft,
    ) -> Result<u64, StoreError>;
}
