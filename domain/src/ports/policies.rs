//! Storage port for rate-limit policies. Writes are batches applied with their audit event in
//! one transaction; updates carry the version they replace (a stale edit gets `Conflict`).

use async_trait::async_trait;

use crate::audit::AuditDraft;
use crate::ports::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRecord {
    pub id: String,
    pub name: String,
    pub position: i64,
    pub enabled: bool,
    /// `shadow` or `enforce`.
    pub mode: String,
    /// The `policy::Policy` as JSON.
    pub spec_json: String,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Clone, Debug)]
pub enum PolicyChange {
    Insert(PolicyRecord),
    /// Replaces the row if its stored version is `replaces`.
    Update {
        record: PolicyRecord,
        replaces: i64,
    },
    Delete {
        id: String,
        replaces: i64,
    },
}

#[async_trait]
pub trait PolicyStore: Send + Sync + 'static {
    async fn apply_policy_changes(
        &self,
        changes: &[PolicyChange],
        event: AuditDraft,
    ) -> Result<(), StoreError>;
    /// All policies in evaluation order.
    async fn policies(&self) -> Result<Vec<PolicyRecord>, StoreError>;
    async fn policy(&self, id: &str) -> Result<Option<PolicyRecord>, StoreError>;
}
