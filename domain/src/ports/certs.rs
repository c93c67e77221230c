//! Storage port for certificates, TLS keys, hostnames and CSRs (pin sets, apps and releases
//! have their own port, [`crate::ports::pinsets`]).
//!
//! Writes are batches of [`CertChange`] applied with their audit event in one transaction; a
//! batch either applies whole or not at all. Pin-set writes carry the version they replace, so
//! two admins editing at once cannot silently overwrite each other (the loser gets `Conflict`).

use async_trait::async_trait;
use policy::certs::{CertKind, CertStatus};

use crate::audit::AuditDraft;
use crate::ports::pinsets::PinsetChange;
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
    pub kind: CertKind,
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
    pub status: CertStatus,
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
    /// A pin-set step written in the same transaction as the certificate change it follows
    /// (issuing or rotating a certificate changes its hostname's pin set); built by
    /// [`crate::pinsets::service::PinsetsService`], the only author of pin-set changes.
    Pinset(PinsetChange),
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
}
