//! Storage port for JWT signing key sets and their keys. Every lifecycle step is one batch
//! applied with its audit event in one transaction, guarded by the set's version (a concurrent
//! step gets `Conflict`); the database itself holds "one active, at most one next key per set".

use async_trait::async_trait;
use policy::keys::KeyState;

use crate::audit::AuditDraft;
use crate::ports::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySetRecord {
    pub id: String,
    pub name: String,
    /// `EdDSA`, `ES256` or `RS256`.
    pub alg: String,
    pub rotation_period_s: i64,
    pub cache_window_s: i64,
    pub max_token_lifetime_s: i64,
    pub leeway_s: i64,
    pub auto_rotate: bool,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub id: String,
    pub set_id: String,
    /// RFC 7638 thumbprint of the public JWK.
    pub kid: String,
    pub alg: String,
    pub state: KeyState,
    pub public_jwk_json: String,
    /// PKCS #8 sealed under the master key (AAD = `id`); `None` once out of the JWKS.
    pub sealed_private: Option<Vec<u8>>,
    pub created_at_ms: i64,
    pub activated_at_ms: Option<i64>,
    pub retired_at_ms: Option<i64>,
    pub removed_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    pub revoke_reason: Option<String>,
    /// For a next key published by "Rotate now": when it takes over (end of its cache window).
    pub promote_at_ms: Option<i64>,
}

#[derive(Clone, Debug)]
pub enum KeyChange {
    InsertSet(KeySetRecord),
    /// Replaces the set row if its stored version is `replaces`. Every lifecycle step bumps
    /// the set's version, so two concurrent steps on one set cannot both commit.
    UpdateSet {
        record: KeySetRecord,
        replaces: i64,
    },
    InsertKey(SigningKeyRecord),
    /// Replaces the key row if its stored state is `from_state`.
    UpdateKey {
        record: SigningKeyRecord,
        from_state: KeyState,
    },
}

#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    async fn apply_key_changes(
        &self,
        changes: &[KeyChange],
        event: AuditDraft,
    ) -> Result<(), StoreError>;
    /// All key sets by name.
    async fn key_sets(&self) -> Result<Vec<KeySetRecord>, StoreError>;
    /// One set by id or by name.
    async fn key_set(&self, id_or_name: &str) -> Result<Option<KeySetRecord>, StoreError>;
    /// Every key of the set, oldest first.
    async fn signing_keys(&self, set_id: &str) -> Result<Vec<SigningKeyRecord>, StoreError>;
}
