//! Storage port for every value sealed under the master key, across tables, so the master key
//! can be rotated (`palisade keys rewrap`) in one transaction.

use async_trait::async_trait;

use crate::audit::AuditDraft;
use crate::ports::StoreError;

/// One sealed value: where it lives, its record id (the AAD it was sealed with) and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedValue {
    /// `tls_keys`, `signing_keys`, `bundle_signers` or `master_key_checks`.
    pub table: String,
    pub id: String,
    pub sealed: Vec<u8>,
}

#[async_trait]
pub trait SealedStore: Send + Sync + 'static {
    /// Every sealed value in the database.
    async fn sealed_values(&self) -> Result<Vec<SealedValue>, StoreError>;
    /// Replaces each `(old, new)` pair's bytes, all in one transaction with `event`; a value
    /// that changed meanwhile (its bytes differ from `old`) aborts everything with `Conflict`.
    async fn replace_sealed(
        &self,
        pairs: &[(SealedValue, Vec<u8>)],
        event: AuditDraft,
    ) -> Result<(), StoreError>;
    /// Stores the master key's check value (table `master_key_checks`, id `id`) with `event`;
    /// `Duplicate` when one is stored already.
    async fn put_master_key_check(
        &self,
        id: &str,
        sealed: &[u8],
        now_ms: i64,
        event: AuditDraft,
    ) -> Result<(), StoreError>;
}
