//! Storage port for OAuth clients and their secrets. Writes are batches applied with their
//! audit event in one transaction; client updates carry the version they replace (a stale edit
//! gets `Conflict`). Secrets are stored as Argon2id PHC strings only.

use async_trait::async_trait;
use policy::client::{AuthMethod, ClientKind, Platform};

use crate::audit::AuditDraft;
use crate::ports::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRecord {
    /// Row id (UUID).
    pub id: String,
    /// The public OAuth `client_id`.
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub kind: ClientKind,
    pub platform: Platform,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub access_token_lifetime_s: i64,
    pub auth_method: AuthMethod,
    /// The client's public JWKS (private_key_jwt only).
    pub jwks_json: Option<String>,
    pub policy_id: Option<String>,
    pub enabled: bool,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRecord {
    pub id: String,
    pub client_row_id: String,
    /// Argon2id PHC string; never the secret.
    pub phc_hash: String,
    /// The first characters of the secret, to tell secrets apart.
    pub hint: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub last_used_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

/// What gates reported of a client's use: tokens issued (running total) and when the report
/// that counted the last one arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientUsageRecord {
    pub client_row_id: String,
    pub tokens_issued: i64,
    pub last_token_at_ms: Option<i64>,
}

/// One gate report's usage, checked by the service (counts positive, times not in the future).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageReport {
    /// When the report arrived: the time recorded for the tokens it counts.
    pub now_ms: i64,
    /// `(secret id, last used ms)`: a secret's last use moves only forward.
    pub secrets: Vec<(String, i64)>,
    /// `(OAuth client_id, tokens issued since the gate's previous report)`, added up.
    pub tokens: Vec<(String, i64)>,
}

#[derive(Clone, Debug)]
pub enum ClientChange {
    Insert(ClientRecord),
    /// Replaces the row if its stored version is `replaces`.
    Update {
        record: ClientRecord,
        replaces: i64,
    },
    Delete {
        id: String,
        replaces: i64,
    },
    AddSecret(SecretRecord),
    /// Sets the expiry of an unrevoked secret that has none or a later one.
    ExpireSecret {
        id: String,
        expires_at_ms: i64,
    },
    RevokeSecret {
        id: String,
        revoked_at_ms: i64,
    },
}

#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    async fn apply_client_changes(
        &self,
        changes: &[ClientChange],
        event: AuditDraft,
    ) -> Result<(), StoreError>;
    /// All clients by name.
    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError>;
    /// Every secret of every client, newest first.
    async fn client_secrets(&self) -> Result<Vec<SecretRecord>, StoreError>;
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// The secrets of one client (its row id), newest first.
    async fn secrets_of(&self, client_row_id: &str) -> Result<Vec<SecretRecord>, StoreError>;
    /// Records what a gate reported using, in one transaction and without an audit event (it
    /// is telemetry, not a change by anyone, and arrives every few seconds per gate): each
    /// secret's last use becomes the later of the stored and the reported time; each client's
    /// token count grows by the reported number. Ids of secrets or clients that do not exist
    /// (deleted meanwhile, or never) are ignored.
    async fn record_client_usage(&self, usage: &UsageReport) -> Result<(), StoreError>;
    /// The usage of every client gates reported on.
    async fn client_usage(&self) -> Result<Vec<ClientUsageRecord>, StoreError>;
}
