//! The certificates service: the internal CA, issuing with a pre-generated next key, rotation
//! guarded by the planner, CSRs for an external CA, imports, and the pin tool.
//!
//! Invariants: every private key is sealed under the master key with its key id as AAD before it
//! is stored; each operation is one batch (change + audit event in one transaction), so a crash
//! never leaves a hostname without its current certificate, its next key, or a pin set that
//! holds both (QUALITY.md, crash mid cert rotation).

mod ca;
mod csr;
mod download;
mod import;
mod issue;
mod pintool;
mod rotate;

use std::sync::Arc;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretSlice};
use serde_json::json;

use crate::admins::Role;
use crate::audit::{Actor, AuditDraft, Outcome};
use crate::audited::{action, Audit, Target};
use crate::certs::probe::ProbeNetwork;
use crate::certs::{
    accept_signed_cert, create_csr, create_root_ca, import_chain, issue_server_cert, parse_sans,
    pins_in_pem, CaMaterial, CaParams, CertError, CertInfo, FoundPin, KeySource, KeyType,
    ServerCertParams,
};
use crate::pins::Pin;
use crate::pinsets::service::{initial_set, rotated_set, PinsetsService};
use crate::pinsets::{
    parse_hostname, plan_rotation, rotation_blocked, KeyCustody, PinRole, Verdict,
};
use crate::ports::certs::{
    CertChange, CertRecord, CertStore, CsrRecord, HostnameRecord, TlsKeyRecord,
};
use crate::ports::StoreError;
use crate::seal::{MasterKey, Sealed};
use crate::{now_ms, Error};
use policy::certs::{
    CertKind, CertStatus, CA_INTERMEDIATE_DEFAULT_DAYS, CA_MAX_DAYS, CA_ROOT_DEFAULT_DAYS,
    SERVER_DEFAULT_DAYS, SERVER_MAX_DAYS,
};

impl From<CertError> for Error {
    fn from(e: CertError) -> Self {
        if e.is_internal() {
            Error::Internal(e.to_string())
        } else {
            Error::Invalid(format!("{e} [{}]", e.code()))
        }
    }
}

/// A hostname as the Certificates page shows it.
#[derive(Clone, Debug)]
pub struct HostnameState {
    pub hostname: String,
    pub current: Option<CertRecord>,
    pub next_pin: Option<String>,
    pub ca_subject: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CertsOverview {
    pub cas: Vec<CertRecord>,
    pub hostnames: Vec<HostnameState>,
    pub certificates: Vec<CertRecord>,
    /// Each CSR with the pin of its key.
    pub csrs: Vec<(CsrRecord, String)>,
    /// Per certificate id: why its private key cannot be downloaded, `None` when it can (a
    /// current server or imported certificate whose key the console holds).
    pub key_refusals: std::collections::HashMap<String, Option<String>>,
}

/// Which key a rotation moves to (`next` or `fresh`): a `policy` enum, so the Certificates
/// page and its server fns use the same type.
pub use policy::certs::RotationTarget;

pub use download::{
    chain_summary, download_stem, ChainDownload, ChainSummary, KeyDownload, KeyTicket,
    KEY_TICKET_TTL_MS,
};

#[derive(Clone, Debug)]
pub struct RotationPlan {
    pub hostname: String,
    pub target: RotationTarget,
    /// The new leaf key's pin, or a note when the key does not exist yet (fresh).
    pub new_pin: String,
    pub verdicts: Vec<Verdict>,
    pub blocked: bool,
}

pub struct CertsService {
    audit: Audit,
    store: Arc<dyn CertStore>,
    pinsets: Arc<PinsetsService>,
    master_key: Arc<MasterKey>,
    /// The network side of the pin tool's live probe.
    probe: Arc<dyn ProbeNetwork>,
    /// Where one-time key-download tickets are kept (hashed, expiring, taken once: the
    /// ceremonies of [`crate::ports::Store`]).
    tickets: Arc<dyn crate::ports::Store>,
    /// Live probes per admin ([`PROBES_PER_ADMIN`]) and at once ([`PROBES_AT_ONCE`]).
    probe_limits: std::sync::Mutex<policy::gcra::Limiter>,
    probing: tokio::sync::Semaphore,
    started: std::time::Instant,
}

/// Live probes an admin may start: 10 at once, then one every 6 s.
pub const PROBES_PER_ADMIN: policy::gcra::Quota = policy::gcra::Quota::per_minute(10, 9);
/// Live probes running at once, across admins (each holds a socket for up to 15 s).
pub const PROBES_AT_ONCE: usize = 4;

fn key_type_of(s: &str) -> Result<KeyType, Error> {
    match s {
        "ecdsa-p256" | "" => Ok(KeyType::EcdsaP256),
        "rsa-2048" => Ok(KeyType::Rsa2048),
        "ed25519" => Ok(KeyType::Ed25519),
        other => Err(Error::invalid(format!(
            "unknown key type {other:?}; use ecdsa-p256, rsa-2048 or ed25519"
        ))),
    }
}

fn key_type_from_label(label: &str) -> KeyType {
    match label {
        "RSA 2048" => KeyType::Rsa2048,
        "Ed25519" => KeyType::Ed25519,
        _ => KeyType::EcdsaP256,
    }
}

fn days(s: &str, default: u32, max: u32, what: &str) -> Result<u32, Error> {
    policy::certs::parse_days(s, default, max, what).map_err(Error::invalid)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn pem_of(info: &CertInfo) -> String {
    crate::certs::encode_pem(crate::certs::PemLabel::Certificate, &info.der)
}

fn cert_record(
    info: &CertInfo,
    kind: CertKind,
    hostname: Option<&str>,
    chain_pem: String,
    key_id: Option<String>,
    issuer_id: Option<String>,
) -> CertRecord {
    CertRecord {
        id: new_id(),
        kind,
        hostname: hostname.map(str::to_owned),
        subject: info.display_name(),
        issuer: info.issuer.clone(),
        sans: info.sans.clone(),
        serial_hex: info.serial_hex.clone(),
        key_type: info.key_type.clone(),
        not_before: crate::audit::format_time(info.not_before),
        not_after: crate::audit::format_time(info.not_after),
        spki_pin: info.spki_pin.to_base64(),
        cert_sha256: info.cert_sha256_pin.to_base64(),
        cert_pem: pem_of(info),
        chain_pem,
        key_id,
        issuer_id,
        status: CertStatus::Active,
        created_at_ms: now_ms(),
    }
}

impl CertsService {
    pub fn new(
        store: Arc<dyn CertStore>,
        pinsets: Arc<PinsetsService>,
        master_key: Arc<MasterKey>,
        audit: Audit,
        probe: Arc<dyn ProbeNetwork>,
        tickets: Arc<dyn crate::ports::Store>,
    ) -> Self {
        CertsService {
            store,
            pinsets,
            master_key,
            audit,
            probe,
            tickets,
            probe_limits: std::sync::Mutex::new(policy::gcra::Limiter::new(PROBES_PER_ADMIN, 4096)),
            probing: tokio::sync::Semaphore::new(PROBES_AT_ONCE),
            started: std::time::Instant::now(),
        }
    }

    /// A key record with its private half sealed under the master key (AAD: the key id).
    fn key_record(
        &self,
        key_type: &str,
        spki_der: &[u8],
        pkcs8: Option<&SecretSlice<u8>>,
    ) -> TlsKeyRecord {
        let id = new_id();
        let sealed_private =
            pkcs8.map(|k| self.master_key.seal(Sealed::TlsKey, &id, k.expose_secret()));
        TlsKeyRecord {
            id,
            key_type: key_type.to_owned(),
            spki_der: spki_der.to_vec(),
            pin: Pin::of_spki_der(spki_der).to_base64(),
            sealed_private,
            created_at_ms: now_ms(),
        }
    }

    async fn open_key(&self, key_id: &str) -> Result<SecretSlice<u8>, Error> {
        open_tls_key(&*self.store, &self.master_key, key_id).await
    }

    /// The hostname's pre-generated next key record.
    async fn next_key_record(&self, h: &HostnameRecord) -> Result<TlsKeyRecord, Error> {
        let id = h
            .next_key_id
            .clone()
            .ok_or_else(|| Error::invalid(format!("{} has no next key", h.hostname)))?;
        self.store
            .tls_key(&id)
            .await?
            .ok_or_else(|| Error::Internal("next key missing".into()))
    }

    /// The hostname's next key: id, opened private key, pin.
    async fn next_key(
        &self,
        h: &HostnameRecord,
    ) -> Result<(String, SecretSlice<u8>, String), Error> {
        let k = self.next_key_record(h).await?;
        Ok((k.id.clone(), self.open_key(&k.id).await?, k.pin))
    }

    async fn ca_material(&self, ca_id: &str) -> Result<(CertRecord, CaMaterial), Error> {
        let ca = self
            .store
            .certificate(ca_id)
            .await?
            .filter(|c| c.kind.is_ca())
            .ok_or_else(|| Error::invalid("choose an internal CA to issue from"))?;
        let key_id = ca
            .key_id
            .clone()
            .ok_or_else(|| Error::Internal("CA without key".into()))?;
        let key = self.open_key(&key_id).await?;
        let der = crate::certs::parse_pem(ca.cert_pem.as_bytes())?
            .into_iter()
            .next()
            .map(|b| b.der.clone())
            .ok_or_else(|| Error::Internal("CA certificate PEM empty".into()))?;
        Ok((
            ca,
            CaMaterial {
                cert_der: der,
                key_pkcs8: key,
            },
        ))
    }

    pub async fn overview(&self) -> Result<CertsOverview, Error> {
        let certificates = self.store.certificates().await?;
        let cas: Vec<CertRecord> = certificates
            .iter()
            .filter(|c| c.kind.is_ca())
            .cloned()
            .collect();
        let mut hostnames = Vec::new();
        for h in self.store.hostnames().await? {
            let current = h
                .current_cert_id
                .as_ref()
                .and_then(|id| certificates.iter().find(|c| &c.id == id).cloned());
            let next_pin = match &h.next_key_id {
                Some(id) => self.store.tls_key(id).await?.map(|k| k.pin),
                None => None,
            };
            let ca_subject = h
                .ca_id
                .as_ref()
                .and_then(|id| cas.iter().find(|c| &c.id == id).map(|c| c.subject.clone()));
            hostnames.push(HostnameState {
                hostname: h.hostname,
                current,
                next_pin,
                ca_subject,
            });
        }
        let mut csrs = Vec::new();
        for c in self.store.csrs().await? {
            let pin = self
                .store
                .tls_key(&c.key_id)
                .await?
                .map(|k| k.pin)
                .unwrap_or_default();
            csrs.push((c, pin));
        }
        let mut key_refusals = std::collections::HashMap::new();
        for c in &certificates {
            key_refusals.insert(c.id.clone(), self.key_refusal(c).await?);
        }
        Ok(CertsOverview {
            cas,
            hostnames,
            certificates,
            csrs,
            key_refusals,
        })
    }
}

/// The private key (PKCS #8) of TLS key `key_id`, opened from its seal under the master key:
/// for the certificates service and for the gates service, which seals it again to the gates
/// that serve its certificate.
pub(crate) async fn open_tls_key(
    store: &dyn CertStore,
    master_key: &MasterKey,
    key_id: &str,
) -> Result<SecretSlice<u8>, Error> {
    let rec = store
        .tls_key(key_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("key {key_id} missing")))?;
    let sealed = rec.sealed_private.ok_or_else(|| {
        Error::invalid("the private key of this certificate is not held by the console")
    })?;
    let plain = zeroize::Zeroizing::new(
        master_key
            .open(Sealed::TlsKey, &rec.id, &sealed)
            .map_err(|e| Error::Internal(format!("key {key_id}: {e}")))?,
    );
    // The private key must be the one whose public key the row (and its certificates and
    // pins) carry.
    let key = crate::certs::load_pkcs8(&plain)
        .map_err(|e| Error::Internal(format!("key {key_id}: {e}")))?;
    if !crate::certs::same_public_key(key.spki_der(), &rec.spki_der) {
        return Err(Error::Internal(format!(
            "key {key_id}: the sealed private key does not match the public key on record"
        )));
    }
    Ok(key.into_pkcs8())
}
