//! The certificates service: the internal CA, issuing with a pre-generated next key, rotation
//! guarded by the planner, CSRs for an external CA, imports, and the pin tool.
//!
//! Invariants: every private key is sealed under the master key with its key id as AAD before it
//! is stored; each operation is one batch (change + audit event in one transaction), so a crash
//! never leaves a hostname without its current certificate, its next key, or a pin set that
//! holds both (QUALITY.md, crash mid cert rotation).

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
use crate::seal::MasterKey;
use crate::{now_ms, Error};
use policy::certs::{
    CA_INTERMEDIATE_DEFAULT_DAYS, CA_MAX_DAYS, CA_ROOT_DEFAULT_DAYS, SERVER_DEFAULT_DAYS,
    SERVER_MAX_DAYS,
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
}

/// Which key a rotation moves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationTarget {
    /// The pre-generated next key, whose pin shipped as the backup pin.
    NextKey,
    /// A key generated now, which no shipped app knows.
    FreshKey,
}

impl RotationTarget {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "next" => Ok(RotationTarget::NextKey),
            "fresh" => Ok(RotationTarget::FreshKey),
            _ => Err(Error::invalid(
                "rotation target must be \"next\" or \"fresh\"",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RotationTarget::NextKey => "next",
            RotationTarget::FreshKey => "fresh",
        }
    }
}

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
}

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
    kind: &str,
    hostname: Option<&str>,
    chain_pem: String,
    key_id: Option<String>,
    issuer_id: Option<String>,
) -> CertRecord {
    CertRecord {
        id: new_id(),
        kind: kind.to_owned(),
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
        status: "active".into(),
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
    ) -> Self {
        CertsService {
            store,
            pinsets,
            master_key,
            audit,
            probe,
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
        let sealed_private = pkcs8.map(|k| self.master_key.seal(&id, k.expose_secret()));
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
        let rec = self
            .store
            .tls_key(key_id)
            .await?
            .ok_or_else(|| Error::Internal(format!("key {key_id} missing")))?;
        let sealed = rec.sealed_private.ok_or_else(|| {
            Error::invalid("the private key of this certificate is not held by the console")
        })?;
        let plain = self
            .master_key
            .open(&rec.id, &sealed)
            .map_err(|e| Error::Internal(format!("key {key_id}: {e}")))?;
        Ok(SecretSlice::from(plain))
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
            .filter(|c| c.kind == "root_ca" || c.kind == "intermediate_ca")
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
            .filter(|c| c.kind == "root_ca" || c.kind == "intermediate_ca")
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
        Ok(CertsOverview {
            cas,
            hostnames,
            certificates,
            csrs,
        })
    }

    /// Creates a self-signed root CA; its key is sealed.
    pub async fn create_root_ca(
        &self,
        actor: &Actor,
        common_name: &str,
        key_type: &str,
        validity_days: &str,
    ) -> Result<CertRecord, Error> {
        self.create_ca(actor, None, common_name, key_type, validity_days)
            .await
    }

    /// Creates an intermediate CA under `parent_id`; its key is sealed. Certificates issued from
    /// it carry the chain leaf → intermediate → root.
    pub async fn create_intermediate_ca(
        &self,
        actor: &Actor,
        parent_id: &str,
        common_name: &str,
        key_type: &str,
        validity_days: &str,
    ) -> Result<CertRecord, Error> {
        self.create_ca(actor, Some(parent_id), common_name, key_type, validity_days)
            .await
    }

    /// A root CA (no parent, 10 years by default) or an intermediate (5 years by default).
    async fn create_ca(
        &self,
        actor: &Actor,
        parent_id: Option<&str>,
        common_name: &str,
        key_type: &str,
        validity_days: &str,
    ) -> Result<CertRecord, Error> {
        let action = action::CERTS_CREATE_CA;
        let result =
            async {
                let parent = match parent_id {
                    Some(id) => Some(self.ca_material(id).await?),
                    None => None,
                };
                let default_days = if parent.is_some() {
                    CA_INTERMEDIATE_DEFAULT_DAYS
                } else {
                    CA_ROOT_DEFAULT_DAYS
                };
                let params = CaParams {
                    common_name: common_name.trim().to_owned(),
                    organization: None,
                    key_type: key_type_of(key_type)?,
                    validity_days: days(validity_days, default_days, CA_MAX_DAYS, "CA validity")?,
                };
                let parent_material = parent.as_ref().map(|(_, material)| material.clone());
                let issued = crate::certs::with_key_generation(params.key_type, move || {
                    match &parent_material {
                        Some(material) => crate::certs::create_intermediate_ca(material, &params),
                        None => create_root_ca(&params),
                    }
                })
                .await??;
                Ok::<_, Error>((parent.map(|(rec, _)| rec), issued))
            }
            .await;
        let (parent, issued) = match result {
            Ok(r) => r,
            Err(e) => {
                return Err(self
                    .audit
                    .refused(actor, action, &Target::ca(common_name), e)
                    .await)
            }
        };
        let key = self.key_record(
            &issued.info.key_type,
            &issued.spki_der,
            Some(&issued.key_pkcs8),
        );
        let (kind, chain) = match &parent {
            Some(p) => (
                "intermediate_ca",
                format!("{}{}", issued.cert_pem, p.chain_pem),
            ),
            None => ("root_ca", issued.cert_pem.clone()),
        };
        let cert = cert_record(
            &issued.info,
            kind,
            None,
            chain,
            Some(key.id.clone()),
            parent.as_ref().map(|p| p.id.clone()),
        );
        let event = AuditDraft::new(
            actor,
            action,
            format!("ca:{}", cert.subject),
            Outcome::Success,
        )
        .with_details(json!({
            "subject": cert.subject, "parent": parent.as_ref().map(|p| p.subject.clone()),
            "serial": cert.serial_hex, "key_type": cert.key_type,
            "not_after": cert.not_after, "spki_pin": cert.spki_pin,
        }));
        let changes = [
            CertChange::InsertKey(key),
            CertChange::InsertCert(cert.clone()),
        ];
        self.store.apply_cert_changes(&changes, event).await?;
        Ok(cert)
    }

    /// Issues the first certificate of a hostname from an internal CA: a current key, a next key
    /// (its pin is the backup pin apps ship), the certificate, and pin set version 1.
    pub async fn issue(
        &self,
        actor: &Actor,
        ca_id: &str,
        hostname: &str,
        extra_sans: &str,
        key_type: &str,
        validity_days: &str,
    ) -> Result<CertRecord, Error> {
        let action = action::CERTS_ISSUE;
        let target = Target::hostname(hostname);
        match self
            .issue_inner(
                actor,
                action,
                ca_id,
                hostname,
                extra_sans,
                key_type,
                validity_days,
            )
            .await
        {
            Ok(c) => Ok(c),
            Err(e) => Err(self.audit.refused(actor, action, &target, e).await),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn issue_inner(
        &self,
        actor: &Actor,
        action: &str,
        ca_id: &str,
        hostname: &str,
        extra_sans: &str,
        key_type: &str,
        validity_days: &str,
    ) -> Result<CertRecord, Error> {
        let host =
            parse_hostname(hostname).map_err(|e| Error::invalid(format!("Hostname: {e}")))?;
        let mut names = vec![host.clone()];
        names.extend(
            extra_sans
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
        let sans = parse_sans(&names)?;
        let validity = days(
            validity_days,
            SERVER_DEFAULT_DAYS,
            SERVER_MAX_DAYS,
            "Validity",
        )?;
        let key_type = key_type_of(key_type)?;
        if self.store.hostname(&host).await?.is_some() {
            return Err(Error::Conflict(format!(
                "{host} already has a certificate; rotate it instead"
            )));
        }
        let (ca, material) = self.ca_material(ca_id).await?;
        let current = crate::certs::generate(key_type).await?;
        let next = crate::certs::generate(key_type).await?;
        let issued = issue_server_cert(
            &material,
            &ServerCertParams {
                sans,
                validity_days: validity,
                key: KeySource::Existing(current.pkcs8.clone()),
            },
        )?;
        let current_key =
            self.key_record(key_type.label(), &current.spki_der, Some(&current.pkcs8));
        let next_key = self.key_record(key_type.label(), &next.spki_der, Some(&next.pkcs8));
        let chain = format!("{}{}", issued.cert_pem, ca.chain_pem);
        let cert = cert_record(
            &issued.info,
            "server",
            Some(&host),
            chain,
            Some(current_key.id.clone()),
            Some(ca.id.clone()),
        );
        let set = initial_set(&host, current.pin(), next.pin(), Utc::now().date_naive());
        let event = AuditDraft::new(actor, action, Target::hostname(&host).as_str(), Outcome::Success).with_details(json!({
            "ca": ca.subject, "serial": cert.serial_hex, "sans": cert.sans, "key_type": cert.key_type,
            "validity_days": validity, "not_after": cert.not_after,
            "current_pin": current_key.pin, "next_pin": next_key.pin, "pinset_version": set.version,
        }));
        let changes = vec![
            CertChange::InsertKey(current_key.clone()),
            CertChange::InsertKey(next_key.clone()),
            CertChange::InsertCert(cert.clone()),
            CertChange::UpsertHostname(HostnameRecord {
                hostname: host.clone(),
                ca_id: Some(ca.id.clone()),
                current_cert_id: Some(cert.id.clone()),
                next_key_id: Some(next_key.id.clone()),
                created_at_ms: now_ms(),
            }),
            self.pinsets.put_step(&set, None)?,
        ];
        self.store
            .apply_cert_changes(&changes, event)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate { .. } | StoreError::Conflict(_) => Error::Conflict(format!(
                    "{host} already has a certificate; rotate it instead"
                )),
                other => Error::Store(other),
            })?;
        Ok(cert)
    }

    /// Pins of the CA chain above a hostname's leaf (what stays the same across a rotation).
    async fn issuer_pins(&self, h: &HostnameRecord) -> Result<Vec<Pin>, Error> {
        let (live, _) = self.pinsets.live_chain(&h.hostname).await?;
        Ok(live.into_iter().skip(1).collect())
    }

    /// What rotating `hostname` to `target` would do to every recorded release.
    pub async fn plan(&self, hostname: &str, target: &str) -> Result<RotationPlan, Error> {
        let target = RotationTarget::parse(target)?;
        let host = parse_hostname(hostname).map_err(|e| Error::invalid(e.to_string()))?;
        let h = self
            .store
            .hostname(&host)
            .await?
            .ok_or_else(|| Error::invalid(format!("unknown hostname {host}")))?;
        let mut chain = self.issuer_pins(&h).await?;
        let new_pin = match target {
            RotationTarget::NextKey => {
                let pin = self.next_key_record(&h).await?.pin;
                chain.insert(
                    0,
                    Pin::parse(&pin).map_err(|e| Error::Internal(e.to_string()))?,
                );
                pin
            }
            RotationTarget::FreshKey => {
                "a new key, generated at rotation (no app has its pin)".to_owned()
            }
        };
        let releases = self.pinsets.shipped(&host).await?;
        let verdicts = plan_rotation(&releases, &chain, Utc::now().date_naive());
        let blocked = rotation_blocked(&verdicts);
        Ok(RotationPlan {
            hostname: host,
            target,
            new_pin,
            verdicts,
            blocked,
        })
    }

    /// Rotates `hostname`'s certificate to `target`; refused while the plan is blocked unless
    /// an owner gives a written reason (recorded in the audit event).
    pub async fn rotate(
        &self,
        actor: &Actor,
        role: Role,
        hostname: &str,
        target: &str,
        override_reason: &str,
    ) -> Result<CertRecord, Error> {
        let action = action::CERTS_ROTATE;
        let audit_target = Target::hostname(hostname);
        let plan = match self.plan(hostname, target).await {
            Ok(p) => p,
            Err(e) => return Err(self.audit.refused(actor, action, &audit_target, e).await),
        };
        let broken: Vec<String> = plan
            .verdicts
            .iter()
            .filter(|v| v.supported && !v.ok)
            .map(|v| format!("{} {} ({})", v.app, v.version, v.platform))
            .collect();
        let reason = override_reason.trim();
        if plan.blocked {
            if reason.is_empty() {
                let e = Error::Conflict(format!("Rotation blocked: it would break {}. Ship the new pin first, or have an owner override with a reason.", broken.join(", ")));
                return Err(self
                    .audit_denied(actor, action, &audit_target, &e, &broken)
                    .await);
            }
            if role != Role::Owner {
                let e = Error::Forbidden;
                return Err(self
                    .audit_denied(actor, action, &audit_target, &e, &broken)
                    .await);
            }
            if reason.chars().count() < 10 {
                let e =
                    Error::invalid("Write the reason for the override (at least 10 characters).");
                return Err(self.audit.refused(actor, action, &audit_target, e).await);
            }
        }
        match self
            .rotate_inner(
                actor,
                action,
                &plan,
                &broken,
                (plan.blocked).then_some(reason),
            )
            .await
        {
            Ok(c) => Ok(c),
            Err(e) => Err(self.audit.refused(actor, action, &audit_target, e).await),
        }
    }

    async fn audit_denied(
        &self,
        actor: &Actor,
        action: &str,
        target: &Target,
        err: &Error,
        broken: &[String],
    ) -> Error {
        let draft = AuditDraft::new(actor, action, target.as_str(), Outcome::Denied)
            .with_details(json!({ "reason": err.to_string(), "would_break": broken }));
        match self.store.apply_cert_changes(&[], draft).await {
            Ok(()) => match err {
                Error::Forbidden => Error::Forbidden,
                other => Error::Conflict(other.to_string()),
            },
            Err(e) => Error::Store(e),
        }
    }

    async fn rotate_inner(
        &self,
        actor: &Actor,
        action: &str,
        plan: &RotationPlan,
        broken: &[String],
        override_reason: Option<&str>,
    ) -> Result<CertRecord, Error> {
        let host = &plan.hostname;
        let h = self
            .store
            .hostname(host)
            .await?
            .ok_or_else(|| Error::invalid("unknown hostname"))?;
        let ca_id = h.ca_id.clone().ok_or_else(|| {
            Error::invalid(format!("{host} is signed by an external CA: create a CSR for its next key and upload the signed certificate"))
        })?;
        let old = match &h.current_cert_id {
            Some(id) => self.store.certificate(id).await?,
            None => None,
        };
        let key_type = old
            .as_ref()
            .map(|c| key_type_from_label(&c.key_type))
            .unwrap_or_default();
        let sans = match &old {
            Some(c) => parse_sans(&c.sans)?,
            None => parse_sans(std::slice::from_ref(host))?,
        };
        let (ca, material) = self.ca_material(&ca_id).await?;
        let mut changes = Vec::new();
        let (leaf_key_id, leaf_pkcs8, leaf_pin) = match plan.target {
            RotationTarget::NextKey => self.next_key(&h).await?,
            RotationTarget::FreshKey => {
                let fresh = crate::certs::generate(key_type).await?;
                let rec = self.key_record(key_type.label(), &fresh.spki_der, Some(&fresh.pkcs8));
                let out = (rec.id.clone(), fresh.pkcs8.clone(), rec.pin.clone());
                changes.push(CertChange::InsertKey(rec));
                out
            }
        };
        let issued = issue_server_cert(
            &material,
            &ServerCertParams {
                sans,
                validity_days: 90,
                key: KeySource::Existing(leaf_pkcs8),
            },
        )?;
        let next = crate::certs::generate(key_type).await?;
        let next_key = self.key_record(key_type.label(), &next.spki_der, Some(&next.pkcs8));
        let chain = format!("{}{}", issued.cert_pem, ca.chain_pem);
        let cert = cert_record(
            &issued.info,
            "server",
            Some(host),
            chain,
            Some(leaf_key_id),
            Some(ca.id.clone()),
        );
        let old_set = self.pinsets.current(host).await?;
        let new_set = match &old_set {
            Some(s) => rotated_set(s, issued.info.spki_pin, next.pin()),
            None => initial_set(
                host,
                issued.info.spki_pin,
                next.pin(),
                Utc::now().date_naive(),
            ),
        };
        changes.push(CertChange::InsertKey(next_key.clone()));
        changes.push(CertChange::InsertCert(cert.clone()));
        if let Some(o) = &old {
            changes.push(CertChange::SupersedeCert { id: o.id.clone() });
        }
        changes.push(CertChange::UpsertHostname(HostnameRecord {
            next_key_id: Some(next_key.id.clone()),
            current_cert_id: Some(cert.id.clone()),
            ..h.clone()
        }));
        changes.push(
            self.pinsets
                .put_step(&new_set, old_set.as_ref().map(|s| s.version))?,
        );
        let event = AuditDraft::new(actor, action, Target::hostname(host).as_str(), Outcome::Success).with_details(json!({
            "target": plan.target.as_str(), "old_serial": old.as_ref().map(|c| c.serial_hex.clone()),
            "new_serial": cert.serial_hex, "new_pin": leaf_pin, "next_pin": next_key.pin,
            "pinset_version": new_set.version, "override_reason": override_reason, "would_break": broken,
        }));
        self.store
            .apply_cert_changes(&changes, event)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate { .. } => Error::Conflict(format!(
                    "another change to {host} landed meanwhile; reload and retry"
                )),
                StoreError::Conflict(m) => Error::Conflict(format!(
                    "another change to {host} landed meanwhile; reload and retry ({m})"
                )),
                other => Error::Store(other),
            })?;
        Ok(cert)
    }

    /// A CSR for an external CA: for an existing hostname it carries the next key; for a new
    /// hostname, a new current key (and a next key is prepared).
    pub async fn create_csr(
        &self,
        actor: &Actor,
        hostname: &str,
    ) -> Result<(CsrRecord, String), Error> {
        let action = action::CERTS_CREATE_CSR;
        let target = Target::hostname(hostname);
        match self.create_csr_inner(actor, action, hostname).await {
            Ok(r) => Ok(r),
            Err(e) => Err(self.audit.refused(actor, action, &target, e).await),
        }
    }

    async fn create_csr_inner(
        &self,
        actor: &Actor,
        action: &str,
        hostname: &str,
    ) -> Result<(CsrRecord, String), Error> {
        let host =
            parse_hostname(hostname).map_err(|e| Error::invalid(format!("Hostname: {e}")))?;
        let sans = parse_sans(std::slice::from_ref(&host))?;
        let mut changes = Vec::new();
        let (key_id, pkcs8, pin) = match self.store.hostname(&host).await? {
            Some(h) => self.next_key(&h).await?,
            None => {
                let current = crate::certs::generate(KeyType::default()).await?;
                let next = crate::certs::generate(KeyType::default()).await?;
                let ck = self.key_record(
                    KeyType::default().label(),
                    &current.spki_der,
                    Some(&current.pkcs8),
                );
                let nk = self.key_record(
                    KeyType::default().label(),
                    &next.spki_der,
                    Some(&next.pkcs8),
                );
                let out = (ck.id.clone(), current.pkcs8.clone(), ck.pin.clone());
                changes.push(CertChange::InsertKey(ck));
                changes.push(CertChange::InsertKey(nk.clone()));
                changes.push(CertChange::UpsertHostname(HostnameRecord {
                    hostname: host.clone(),
                    ca_id: None,
                    current_cert_id: None,
                    next_key_id: Some(nk.id),
                    created_at_ms: now_ms(),
                }));
                out
            }
        };
        let csr_pem = create_csr(pkcs8.expose_secret(), &sans, &host)?;
        let csr = CsrRecord {
            id: new_id(),
            hostname: host.clone(),
            key_id,
            csr_pem,
            created_at_ms: now_ms(),
            fulfilled_by: None,
        };
        changes.push(CertChange::InsertCsr(csr.clone()));
        let event = AuditDraft::new(
            actor,
            action,
            Target::hostname(&host).as_str(),
            Outcome::Success,
        )
        .with_details(json!({ "csr": csr.id, "key_pin": pin }));
        self.store.apply_cert_changes(&changes, event).await?;
        Ok((csr, pin))
    }

    /// Accepts the certificate signed for a CSR (only with the CSR's key) and makes it current.
    pub async fn accept_signed(
        &self,
        actor: &Actor,
        csr_id: &str,
        chain_pem: &str,
    ) -> Result<CertRecord, Error> {
        let action = action::CERTS_ACCEPT_SIGNED;
        let result = async {
            let csr = self
                .store
                .csr(csr_id)
                .await?
                .ok_or_else(|| Error::invalid("unknown CSR"))?;
            if csr.fulfilled_by.is_some() {
                return Err(Error::Conflict("this CSR was already fulfilled".into()));
            }
            let key = self
                .store
                .tls_key(&csr.key_id)
                .await?
                .ok_or_else(|| Error::Internal("CSR key missing".into()))?;
            let chain = accept_signed_cert(&key.spki_der, chain_pem.as_bytes(), Utc::now())?;
            self.make_current(
                actor,
                action,
                &csr.hostname,
                chain.certs,
                Some(key),
                Some(csr.id.clone()),
                chain.warnings,
            )
            .await
        }
        .await;
        match result {
            Ok(c) => Ok(c),
            Err(e) => Err(self
                .audit
                .refused(actor, action, &Target::csr(csr_id), e)
                .await),
        }
    }

    /// Imports a chain (leaf first) with an optional key for `hostname`.
    pub async fn import(
        &self,
        actor: &Actor,
        hostname: &str,
        chain_pem: &str,
        key_pem: &str,
    ) -> Result<CertRecord, Error> {
        let action = action::CERTS_IMPORT;
        let result = async {
            let key_pem = key_pem.trim();
            let chain = import_chain(
                chain_pem.as_bytes(),
                (!key_pem.is_empty()).then_some(key_pem.as_bytes()),
                Utc::now(),
            )?;
            let host =
                parse_hostname(hostname).map_err(|e| Error::invalid(format!("Hostname: {e}")))?;
            let leaf = chain.leaf().clone();
            if !leaf.sans.iter().any(|s| {
                s == &host
                    || (s.starts_with("*.")
                        && host
                            .split_once('.')
                            .is_some_and(|(_, rest)| rest == &s[2..]))
            }) {
                return Err(Error::invalid(format!(
                    "the certificate does not name {host} (its names: {})",
                    leaf.sans.join(", ")
                )));
            }
            let key = self.key_record(&leaf.key_type, &leaf.spki_der, chain.key_pkcs8.as_ref());
            let mut changes = vec![CertChange::InsertKey(key.clone())];
            let cert = self
                .make_current_changes(&host, chain.certs, Some(key), &mut changes)
                .await?;
            // The imported key is new to shipped apps: the planner must allow it.
            self.check_plan_for(&host, &cert).await?;
            let event = AuditDraft::new(
                actor,
                action,
                Target::hostname(&host).as_str(),
                Outcome::Success,
            )
            .with_details(json!({
                "subject": cert.subject, "serial": cert.serial_hex, "spki_pin": cert.spki_pin,
                "with_private_key": !key_pem.is_empty(), "warnings": chain.warnings,
            }));
            self.store.apply_cert_changes(&changes, event).await?;
            Ok(cert)
        }
        .await;
        match result {
            Ok(c) => Ok(c),
            Err(e) => Err(self
                .audit
                .refused(actor, action, &Target::hostname(hostname), e)
                .await),
        }
    }

    async fn check_plan_for(&self, host: &str, cert: &CertRecord) -> Result<(), Error> {
        let mut chain: Vec<Pin> = pins_in_pem(cert.chain_pem.as_bytes())?
            .into_iter()
            .map(|f| f.pin)
            .collect();
        if chain.is_empty() {
            chain.extend(Pin::parse(&cert.spki_pin).ok());
        }
        let verdicts = plan_rotation(
            &self.pinsets.shipped(host).await?,
            &chain,
            Utc::now().date_naive(),
        );
        if rotation_blocked(&verdicts) {
            let broken: Vec<String> = verdicts
                .iter()
                .filter(|v| v.supported && !v.ok)
                .map(|v| format!("{} {}", v.app, v.version))
                .collect();
            return Err(Error::Conflict(format!(
                "this certificate's key would break {}; ship its pin first",
                broken.join(", ")
            )));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn make_current(
        &self,
        actor: &Actor,
        action: &str,
        host: &str,
        certs: Vec<CertInfo>,
        key: Option<TlsKeyRecord>,
        csr_id: Option<String>,
        warnings: Vec<String>,
    ) -> Result<CertRecord, Error> {
        let mut changes = Vec::new();
        let cert = self
            .make_current_changes(host, certs, key, &mut changes)
            .await?;
        self.check_plan_for(host, &cert).await?;
        if let Some(id) = &csr_id {
            changes.push(CertChange::FulfilCsr {
                id: id.clone(),
                cert_id: cert.id.clone(),
            });
        }
        let event = AuditDraft::new(actor, action, Target::hostname(host).as_str(), Outcome::Success).with_details(json!({
            "csr": csr_id, "subject": cert.subject, "issuer": cert.issuer, "serial": cert.serial_hex,
            "spki_pin": cert.spki_pin, "warnings": warnings,
        }));
        self.store.apply_cert_changes(&changes, event).await?;
        Ok(cert)
    }

    /// The changes that make an externally signed chain current for `host`, keeping a next key.
    async fn make_current_changes(
        &self,
        host: &str,
        certs: Vec<CertInfo>,
        key: Option<TlsKeyRecord>,
        changes: &mut Vec<CertChange>,
    ) -> Result<CertRecord, Error> {
        let leaf = certs.first().ok_or_else(|| Error::invalid("empty chain"))?;
        let chain_pem: String = certs.iter().map(pem_of).collect();
        let cert = cert_record(
            leaf,
            "imported",
            Some(host),
            chain_pem,
            key.as_ref().map(|k| k.id.clone()),
            None,
        );
        let existing = self.store.hostname(host).await?;
        let leaf_key_was_next = matches!((&existing, &key), (Some(h), Some(k)) if h.next_key_id.as_deref() == Some(k.id.as_str()));
        let next_key_id = match &existing {
            Some(h) if !leaf_key_was_next && h.next_key_id.is_some() => h.next_key_id.clone(),
            _ => {
                let next = crate::certs::generate(key_type_from_label(&leaf.key_type)).await?;
                let rec = self.key_record(next.key_type.label(), &next.spki_der, Some(&next.pkcs8));
                let id = rec.id.clone();
                changes.push(CertChange::InsertKey(rec));
                Some(id)
            }
        };
        let next_pin = match &next_key_id {
            Some(id) => match changes.iter().find_map(|c| match c {
                CertChange::InsertKey(k) if &k.id == id => Some(k.pin.clone()),
                _ => None,
            }) {
                Some(p) => p,
                None => self
                    .store
                    .tls_key(id)
                    .await?
                    .map(|k| k.pin)
                    .unwrap_or_default(),
            },
            None => String::new(),
        };
        let next_pin = Pin::parse(&next_pin).map_err(|e| Error::Internal(e.to_string()))?;
        changes.push(CertChange::InsertCert(cert.clone()));
        if let Some(old) = existing.as_ref().and_then(|h| h.current_cert_id.clone()) {
            changes.push(CertChange::SupersedeCert { id: old });
        }
        changes.push(CertChange::UpsertHostname(HostnameRecord {
            hostname: host.to_owned(),
            ca_id: None,
            current_cert_id: Some(cert.id.clone()),
            next_key_id,
            created_at_ms: existing
                .as_ref()
                .map(|h| h.created_at_ms)
                .unwrap_or_else(now_ms),
        }));
        let old_set = self.pinsets.current(host).await?;
        let mut set = match &old_set {
            Some(s) => rotated_set(s, leaf.spki_pin, next_pin),
            None => initial_set(host, leaf.spki_pin, next_pin, Utc::now().date_naive()),
        };
        if key.as_ref().is_none_or(|k| k.sealed_private.is_none()) {
            for p in set
                .pins
                .iter_mut()
                .filter(|p| p.role == PinRole::CurrentLeaf)
            {
                p.custody = KeyCustody::Unknown;
            }
        }
        changes.push(
            self.pinsets
                .put_step(&set, old_set.as_ref().map(|s| s.version))?,
        );
        Ok(cert)
    }

    /// Pins of everything in `input` (the pin tool; nothing stored).
    pub fn pins_in(&self, input: &str) -> Result<Vec<FoundPin>, Error> {
        Ok(pins_in_pem(input.as_bytes())?)
    }

    /// Connects to `target` (`host:port`) and returns the pins of the chain it presents.
    /// Link-local and metadata addresses are refused (SSRF guard); the attempt is audited.
    pub async fn probe(&self, actor: &Actor, target: &str) -> Result<Vec<FoundPin>, Error> {
        let action = action::CERTS_PROBE;
        let audit_target = format!(
            "probe:{}",
            target.trim().chars().take(200).collect::<String>()
        );
        let policy = crate::certs::probe::ProbePolicy::default();
        let result = match crate::certs::probe::fetch_presented_chain(
            self.probe.as_ref(),
            target.trim(),
            &policy,
        )
        .await
        {
            Ok(chain) => {
                let mut found = Vec::new();
                for (i, der) in chain.certs_der.iter().enumerate() {
                    let info = crate::certs::cert_info(der)?;
                    let place = if i == 0 {
                        "leaf".to_owned()
                    } else {
                        format!("chain #{i}")
                    };
                    found.push(FoundPin {
                        pin: info.spki_pin,
                        description: format!(
                            "{place}: {} (issuer {}, expires {})",
                            info.display_name(),
                            info.issuer,
                            info.not_after.format("%Y-%m-%d")
                        ),
                        source: crate::certs::PinSource::Certificate,
                    });
                }
                Ok((chain.address, found))
            }
            Err(e) => Err(Error::Invalid(format!("{e} [{}]", e.code()))),
        };
        let (outcome, details) = match &result {
            Ok((addr, found)) => (
                Outcome::Success,
                json!({ "address": addr.to_string(), "certificates": found.len() }),
            ),
            Err(e) => (Outcome::Failure, json!({ "reason": e.to_string() })),
        };
        let draft = AuditDraft::new(actor, action, audit_target, outcome).with_details(details);
        self.store.apply_cert_changes(&[], draft).await?;
        result.map(|(_, found)| found)
    }

    /// The PEM of a CSR (for download).
    pub async fn csr_pem(&self, id: &str) -> Result<Option<CsrRecord>, Error> {
        Ok(self.store.csr(id).await?)
    }
}
