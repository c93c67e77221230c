//! Storage port for API tokens: create and revoke (each with its audit event, in one
//! transaction), look up by the token's hash, and note the last use (best effort, no audit:
//! every call is audited by the service that answers it).

use async_trait::async_trait;
use policy::api_tokens::Scope;
use uuid::Uuid;

use crate::audit::AuditDraft;
use crate::ports::StoreError;

/// A token for the REST API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiTokenRecord {
    pub id: Uuid,
    /// What it is for, as its creator named it (e.g. "iOS release pipeline").
    pub name: String,
    /// SHA-256 of the token; the token itself is shown once.
    pub token_hash: String,
    pub scopes: Vec<Scope>,
    /// Username of the admin who created it.
    pub created_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub last_used_at_ms: Option<i64>,
    pub last_used_ip: Option<String>,
}

/// A change to the tokens, applied in one transaction with its audit event.
#[derive(Clone, Debug)]
pub enum ApiTokenChange {
    Create(ApiTokenRecord),
    /// Revokes the token if it is neither revoked nor expired at `now_ms`, else `Conflict`.
    Revoke {
        id: Uuid,
        now_ms: i64,
    },
}

#[async_trait]
pub trait ApiTokenStore: Send + Sync {
    /// Every token, newest first.
    async fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreError>;
    async fn api_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ApiTokenRecord>, StoreError>;
    async fn apply_api_token_change(
        &self,
        change: &ApiTokenChange,
        event: AuditDraft,
    ) -> Result<(), StoreError>;
    /// Notes a use at `at_ms` from `ip` (never moves back in time).
    async fn touch_api_token(
        &self,
        id: Uuid,
        at_ms: i64,
        ip: Option<&str>,
    ) -> Result<(), StoreError>;
}
