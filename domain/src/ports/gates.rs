//! Storage port for gates (enforcement nodes), the console's bundle signer, the gate-wide
//! settings and the published bundles. Admin changes carry their audit event and commit with
//! it; a gate's routine report (last seen, applied version) is written alone unless it is worth
//! an event (the first apply of a version, a refusal), which then commits with it.

use async_trait::async_trait;

use crate::audit::AuditDraft;
use crate::ports::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateRecord {
    pub id: String,
    pub name: String,
    pub labels: Vec<String>,
    /// Where the console pushes bundles (the gate's admin listener); "" = pull only.
    pub push_url: String,
    /// Base64url of the raw Ed25519 public key, once enrolled.
    pub public_key: Option<String>,
    /// Unpadded base64url of the gate's X25519 public key, which the private material it needs
    /// is sealed to (`jose::sealed`); `None`: an older gate, which receives none.
    pub encryption_key: Option<String>,
    /// SHA-256 of the one-time enrolment token, until it is used.
    pub enrol_token_hash: Option<String>,
    pub enrol_expires_at_ms: Option<i64>,
    pub enrolled_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    pub applied_version: Option<i64>,
    pub applied_at_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
    /// The gate's last refusal of a bundle (a NACK), cleared by its next apply.
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Clone, Debug)]
pub enum GateChange {
    Insert(Box<GateRecord>),
    /// Registers the gate's public key and clears its token, if the token is still the one
    /// stored, unused and unexpired at `now_ms` and the gate is not revoked (else `Conflict`).
    Enrol {
        id: String,
        token_hash: String,
        public_key: String,
        /// The gate's X25519 key, when it sent one.
        encryption_key: Option<String>,
        now_ms: i64,
    },
    /// Registers or replaces an enrolled, unrevoked gate's X25519 key, if the row still holds
    /// `replaces` (what the caller read; else `Conflict`). The gate's `version` (which guards
    /// the admin's changes) does not move: a gate's own report never makes an admin's pending
    /// revoke stale.
    SetEncryptionKey {
        id: String,
        encryption_key: String,
        replaces: Option<String>,
        now_ms: i64,
    },
    /// A new enrolment token for a gate not enrolled yet (replaces the earlier one).
    NewToken {
        id: String,
        token_hash: String,
        expires_at_ms: i64,
        replaces: i64,
    },
    Revoke {
        id: String,
        now_ms: i64,
        replaces: i64,
    },
}

/// What a gate reported (or what a push answered) about one gate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateReport {
    pub gate_id: String,
    pub now_ms: i64,
    /// The version it runs now (`None`: none yet).
    pub applied_version: Option<i64>,
    pub error: ReportedError,
    /// What the reporter read before (applied version, last error): an event is written only
    /// if the row still holds them, so two reports of one apply racing each other (a push answer
    /// and the gate's status call) audit it once.
    pub seen: (Option<i64>, Option<String>),
}

/// What a report says about the gate's last refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportedError {
    /// Nothing new (a pull): the stored refusal and its time stay.
    Keep,
    /// It applied or runs cleanly: the stored refusal is cleared.
    Clear,
    /// It refused a bundle just now, for this reason.
    Refused(String),
}

/// The console's Ed25519 key that signs every bundle (one row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerRecord {
    pub id: String,
    /// Sent to gates at enrolment, recorded in every bundle.
    pub console_id: String,
    pub public_key: String,
    /// PKCS #8 of the private key, sealed under the master key (AAD = `id`).
    pub sealed_private: Vec<u8>,
    pub created_at_ms: i64,
}

/// What every bundle carries besides policies, clients and keys (one row; absent = defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateSettingsRecord {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub require_typ_at_jwt: bool,
    /// `Vec<policy::bundle::Route>` as JSON.
    pub routes_json: String,
    /// The id of the key set whose active key signs the tokens gates issue; `None`: gates
    /// issue no tokens.
    pub token_key_set_id: Option<String>,
    /// The hostname whose current certificate gates serve over TLS; `None`: no HTTPS.
    pub tls_hostname: Option<String>,
    pub version: i64,
    pub updated_at_ms: i64,
}

/// One published bundle version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleRecord {
    pub version: i64,
    pub issued_at_ms: i64,
    /// Lowercase hex SHA-256 of the payload bytes (the next version's `prev_hash`).
    pub payload_sha256: String,
    /// Hash of the enforcement content alone (version, time and chain left out): equal
    /// content means nothing to publish.
    pub content_sha256: String,
    /// The `SignedBundle` JSON exactly as gates receive it.
    pub envelope: String,
    pub size: i64,
    /// Who or what caused it ("alice: policies.update", "rotation job").
    pub cause: String,
    /// What changed since the previous version, one line each, as a JSON list.
    pub changes: Vec<String>,
}

#[async_trait]
pub trait GateStore: Send + Sync + 'static {
    async fn apply_gate_change(
        &self,
        change: &GateChange,
        event: AuditDraft,
    ) -> Result<(), StoreError>;
    /// Records a gate's report; with an event when it is worth one (written together).
    async fn record_gate_report(
        &self,
        report: &GateReport,
        event: Option<AuditDraft>,
    ) -> Result<(), StoreError>;
    /// Every gate, revoked ones included, by name.
    async fn gates(&self) -> Result<Vec<GateRecord>, StoreError>;
    async fn gate(&self, id: &str) -> Result<Option<GateRecord>, StoreError>;
    async fn gate_by_token_hash(&self, token_hash: &str) -> Result<Option<GateRecord>, StoreError>;

    async fn bundle_signer(&self) -> Result<Option<SignerRecord>, StoreError>;
    /// Inserts the signer; `Duplicate` if another console replica created one first.
    async fn create_bundle_signer(
        &self,
        signer: &SignerRecord,
        event: AuditDraft,
    ) -> Result<(), StoreError>;

    async fn gate_settings(&self) -> Result<Option<GateSettingsRecord>, StoreError>;
    /// Writes the settings if the stored version is `replaces` (`None`: none stored yet),
    /// else `Conflict`.
    async fn put_gate_settings(
        &self,
        settings: &GateSettingsRecord,
        replaces: Option<i64>,
        event: AuditDraft,
    ) -> Result<(), StoreError>;

    /// Inserts a new version; `Duplicate` if that version exists (another replica won).
    async fn publish_bundle(
        &self,
        bundle: &BundleRecord,
        event: AuditDraft,
    ) -> Result<(), StoreError>;
    async fn latest_bundle(&self) -> Result<Option<BundleRecord>, StoreError>;
    async fn bundle(&self, version: i64) -> Result<Option<BundleRecord>, StoreError>;
    /// The newest `limit` versions, newest first.
    async fn bundles(&self, limit: i64) -> Result<Vec<BundleRecord>, StoreError>;
}
