//! Storage port for pin sets, the apps they ship in and the app releases that shipped them.
//!
//! Writes are batches of [`PinsetChange`] applied with their audit event in one transaction. A
//! pin-set write carries the version it replaces, so two admins editing at once cannot silently
//! overwrite each other (the loser gets `Conflict`). Certificate changes that move a pin set
//! carry the same steps inside their own batch ([`crate::ports::certs::CertChange::Pinset`]).

use async_trait::async_trait;

use policy::certs::AppPlatform;

use crate::audit::AuditDraft;
use crate::ports::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinsetRecord {
    pub hostname: String,
    pub include_subdomains: bool,
    /// `YYYY-MM-DD`.
    pub expires_on: String,
    pub version: i64,
    /// JSON array of pin entries (see `crate::pinsets`).
    pub pins_json: String,
    pub updated_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRecord {
    pub id: String,
    pub name: String,
    pub platform: AppPlatform,
    pub bundle_id: String,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseRecord {
    pub id: String,
    pub app_id: String,
    pub version: String,
    pub released_on: String,
    pub hostname: String,
    pub pinset_version: i64,
    /// The exact pin set shipped, as JSON.
    pub pinset_json: String,
    pub export_format: String,
    pub supported: bool,
    pub created_at_ms: i64,
}

/// One step of a batch.
#[derive(Clone, Debug)]
pub enum PinsetChange {
    /// Writes the pin set if its stored version is `replaces` (`None`: it must not exist yet).
    Put {
        record: PinsetRecord,
        replaces: Option<i64>,
    },
    InsertApp(AppRecord),
    InsertRelease(ReleaseRecord),
    SetReleaseSupported {
        id: String,
        supported: bool,
    },
}

#[async_trait]
pub trait PinsetStore: Send + Sync + 'static {
    async fn apply_pinset_changes(
        &self,
        changes: &[PinsetChange],
        event: AuditDraft,
    ) -> Result<(), StoreError>;

    /// Every pin set, by hostname.
    async fn pinsets(&self) -> Result<Vec<PinsetRecord>, StoreError>;
    async fn pinset(&self, hostname: &str) -> Result<Option<PinsetRecord>, StoreError>;
    /// Every app, by name then platform.
    async fn apps(&self) -> Result<Vec<AppRecord>, StoreError>;
    /// The app registered for `platform` and `bundle_id`, if any.
    async fn app(
        &self,
        platform: AppPlatform,
        bundle_id: &str,
    ) -> Result<Option<AppRecord>, StoreError>;
    /// Every release, newest first.
    async fn releases(&self) -> Result<Vec<ReleaseRecord>, StoreError>;
}
