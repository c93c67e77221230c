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
}
