//! Storage port for certificates, TLS keys, hostnames, CSRs, pin sets, apps and releases.
//!
//! Writes are batches of [`CertChange`] applied with their audit event in one transaction; a
//! batch either applies whole or not at all. Pin-set writes carry the version they replace, so
//! two admins editing at once cannot silently overwrite each other (the loser gets `Conflict`).

use async_trait::async_trait;

use crate::audit::AuditDraft;
use crate::ports::StoreError;

/// A TLS key pair. The private half is only ever stored sealed under the master key with the
/// key's id as associated data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsKeyRecord {
    pub id: String,
    pub key_type: String,
    pub spki_der: Vec<u8>,
    pub pin: String,
    pub sealed_private: Option<Vec<u8>>,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertRecord {
    pub id: String,
    /// `root_ca`, `intermediate_ca`, `server` or `imported`.
    pub kind: String,
    pub hostname: Option<String>,
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub serial_hex: String,
    pub key_type: String,
    pub not_before: String,
    pub not_after: String,
    pub spki_pin: String,
    pub cert_sha256: String,
    pub cert_pem: String,
    pub chain_pem: String,
    pub key_id: Option<String>,
    pub issuer_id: Option<String>,
    /// `active` or `superseded`.
    pub status: String,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostnameRecord {
    pub hostname: String,
    pub ca_id: Option<String>,
    pub current_cert_id: Option<String>,
    pub next_key_id: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsrRecord {
    pub id: String,
    pub hostname: String,
    pub key_id: String,
    pub csr_pem: String,
    pub created_at_ms: i64,
    pub fulfilled_by: Option<String>,
}

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
    /// `android` or `ios`.
    pub platform: String,
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
// A batch holds a handful of steps for the length of one transaction: boxing the certificate
// would save nothing worth the noise at every call site.
#[allow(clippy::large_enum_variant)]
pub enum CertChange {
    InsertKey(TlsKeyRecord),
    InsertCert(CertRecord),
    /// Marks a certificate superseded (it stays listed).
    SupersedeCert {
        id: String,
    },
    UpsertHostname(HostnameRecord),
    InsertCsr(CsrRecord),
    FulfilCsr {
        id: String,
        cert_id: String,
    },
    /// Writes the pin set if its stored version is `replaces` (`None`: it must not exist yet).
    PutPinset {
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
pub trait CertStore: Send + Sync + 'static {
    async fn apply_cert_changes(
        &self,
        changes: &[CertChange],
        event: AuditDraft,
    ) -> Result<(), StoreError>;

    async fn tls_key(&self, id: &str) -> Result<Option<TlsKeyRecord>, StoreError>;
    async fn tls_key_by_pin(&self, pin: &str) -> Result<Option<TlsKeyRecord>, StoreError>;
    async fn certificates(&self) -> Result<Vec<CertRecord>, StoreError>;
    async fn certificate(&self, id: &str) -> Result<Option<CertRecord>, StoreError>;
    async fn hostnames(&self) -> Result<Vec<HostnameRecord>, StoreError>;
    async fn hostname(&self, hostname: &str) -> Result<Option<HostnameRecord>, StoreError>;
    async fn csrs(&self) -> Result<Vec<CsrRecord>, StoreError>;
    async fn csr(&self, id: &str) -> Result<Option<CsrRecord>, StoreError>;
    async fn pinsets(&self) -> Result<Vec<PinsetRecord>, StoreError>;
    async fn pinset(&self, hostname: &str) -> Result<Option<PinsetRecord>, StoreError>;
    async fn apps(&self) -> Result<Vec<AppRecord>, StoreError>;
    async fn releases(&self) -> Result<Vec<ReleaseRecord>, StoreError>;
}
