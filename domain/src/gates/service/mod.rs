//! The gates service: adding, enrolling and revoking gates and authenticating their calls
//! (`enrolment`), recording what they report and which gates serve a key (`reports`), signing
//! and publishing bundle versions when what they enforce changes (`publish`), and the
//! gate-wide settings (`settings`). This file holds the service, its types and the fleet view.
//! Pushing is the server's job (it owns the network); this service says what to push and
//! records the answers.

mod enrolment;
mod publish;
mod reports;
mod settings;
mod tls;

pub use reports::{check_usage, GateUsage, MAX_TOKENS_PER_REPORT, MAX_USAGE_ENTRIES};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use jose::ed25519::{PublicKey, SecretKey};
use policy::bundle::{Bundle, SignedBundle};
use policy::gates::GateState;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::audit::{Actor, AuditDraft, Outcome};
use crate::audited::{action, Audit, Target, Version};
use crate::gates::bundle::{compose, content_sha256, finish, sha256_hex, GateSettings};
use crate::gates::{parse_labels, parse_name, parse_push_url, state_of, ENROL_TOKEN_TTL_MS};
use crate::ports::clients::ClientStore;
use crate::ports::gates::{
    BundleRecord, GateChange, GateRecord, GateReport, GateSettingsRecord, GateStore, ReportedError,
    SignerRecord,
};
use crate::ports::keys::KeyStore;
use crate::ports::policies::PolicyStore;
use crate::ports::StoreError;
use crate::seal::MasterKey;
use crate::tokens::{looks_like_token, random_token, token_hash};
use crate::{now_ms, Error};

/// The id of the one bundle signer row (also the AAD of its sealed key).
const SIGNER_ID: &str = "bundle-signer";
/// The longest NACK reason kept.
const MAX_REASON_CHARS: usize = 500;

/// A gate just added: its record, the one-time token and the command to run, shown once.
pub struct NewGate {
    pub gate: GateRecord,
    pub token: SecretString,
    pub command: String,
}

/// What an enrolled gate is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolled {
    pub gate_id: String,
    pub bundle_public_key: String,
    pub console_id: String,
}

/// One gate as the fleet view shows it.
#[derive(Clone, Debug)]
pub struct GateView {
    pub record: GateRecord,
    pub state: GateState,
}

/// The fleet against the latest version.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub gates: Vec<GateView>,
    pub latest: Option<BundleRecord>,
    /// Why the current configuration could not be published, if it could not.
    pub publish_error: Option<String>,
}

struct Signer {
    key: SecretKey,
    record: SignerRecord,
}

pub struct GatesService {
    store: Arc<dyn GateStore>,
    policies: Arc<dyn PolicyStore>,
    clients: Arc<dyn ClientStore>,
    keys: Arc<dyn KeyStore>,
    certs: Arc<dyn crate::ports::certs::CertStore>,
    master_key: Arc<MasterKey>,
    audit: Audit,
    public_url: String,
    signer: Mutex<Option<Arc<Signer>>>,
    publish_error: Mutex<Option<String>>,
    /// Bumped by "push now"; the pusher skips its retry waits when it moves.
    push_requests: AtomicU64,
}

fn store_error(e: StoreError, name: &str) -> Error {
    match e {
        StoreError::Duplicate { table: "gates", .. } => {
            Error::Conflict(format!("a gate named {name:?} exists already"))
        }
        StoreError::Conflict(m) => Error::Conflict(m),
        other => Error::Store(other),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl GatesService {
    #[allow(clippy::too_many_arguments)] // the stores and keys it is built from, each named
    pub fn new(
        store: Arc<dyn GateStore>,
        policies: Arc<dyn PolicyStore>,
        clients: Arc<dyn ClientStore>,
        keys: Arc<dyn KeyStore>,
        certs: Arc<dyn crate::ports::certs::CertStore>,
        master_key: Arc<MasterKey>,
        audit: Audit,
        public_url: &url::Url,
    ) -> Self {
        GatesService {
            store,
            policies,
            clients,
            keys,
            certs,
            master_key,
            audit,
            public_url: public_url.as_str().trim_end_matches('/').to_owned(),
            signer: Mutex::new(None),
            publish_error: Mutex::new(None),
            push_requests: AtomicU64::new(0),
        }
    }

    pub(super) async fn find(&self, id: &str) -> Result<GateRecord, Error> {
        self.store
            .gate(id)
            .await?
            .ok_or_else(|| Error::NotFound("this gate no longer exists; reload the page".into()))
    }

    /// Every gate with its state against the latest version.
    pub async fn fleet(&self) -> Result<Fleet, Error> {
        let latest = self.store.latest_bundle().await?;
        let now = now_ms();
        let gates = self
            .store
            .gates()
            .await?
            .into_iter()
            .map(|g| GateView {
                state: state_of(
                    &g,
                    latest.as_ref().map(|l| (l.version, l.issued_at_ms)),
                    now,
                ),
                record: g,
            })
            .collect();
        Ok(Fleet {
            gates,
            latest,
            publish_error: lock(&self.publish_error).clone(),
        })
    }

    /// Asks the pusher to send the latest version to every gate behind now, skipping retry
    /// waits (audited: an operator forced traffic to the fleet).
    pub async fn push_now(&self, actor: &Actor) -> Result<(), Error> {
        let latest = self.store.latest_bundle().await?;
        let draft = AuditDraft::new(actor, action::GATES_PUSH_NOW, "gates", Outcome::Success)
            .with_details(json!({ "version": latest.map(|l| l.version) }));
        self.audit.event(draft).await?;
        self.push_requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// How many times "push now" was asked (the pusher compares it with what it saw).
    pub fn push_requests(&self) -> u64 {
        self.push_requests.load(Ordering::Relaxed)
    }

    /// The gate `id` as the push worker and the gate API see it.
    pub async fn gate(&self, id: &str) -> Result<Option<GateRecord>, Error> {
        Ok(self.store.gate(id).await?)
    }
}
