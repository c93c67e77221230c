//! The gates service: adding, enrolling and revoking gates, authenticating their calls,
//! recording what they report, and publishing signed bundle versions when what they enforce
//! changes. Pushing is the server's job (it owns the network); this service says what to push
//! and records the answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use jose::ed25519::{PublicKey, SecretKey};
use policy::bundle::{Bundle, SignedBundle};
use policy::gates::GateState;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::bundle::{compose, content_sha256, finish, sha256_hex, GateSettings};
use super::{parse_labels, parse_name, parse_push_url, state_of, ENROL_TOKEN_TTL_MS};
use crate::audit::{Actor, AuditDraft, Outcome};
use crate::audited::{action, Audit, Target, Version};
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
    pub fn new(
        store: Arc<dyn GateStore>,
        policies: Arc<dyn PolicyStore>,
        clients: Arc<dyn ClientStore>,
        keys: Arc<dyn KeyStore>,
        master_key: Arc<MasterKey>,
        audit: Audit,
        public_url: &url::Url,
    ) -> Self {
        GatesService {
            store,
            policies,
            clients,
            keys,
            master_key,
            audit,
            public_url: public_url.as_str().trim_end_matches('/').to_owned(),
            signer: Mutex::new(None),
            publish_error: Mutex::new(None),
            push_requests: AtomicU64::new(0),
        }
    }

    /// The shell command that enrols a gate with `token`.
    pub fn enrol_command(&self, token: &str) -> String {
        format!(
            "palisade-gate enroll --console {} --token {token} --data-dir /var/lib/palisade-gate",
            self.public_url
        )
    }

    /// Adds a gate and returns its one-time enrolment token (valid one hour) and command.
    pub async fn add(
        &self,
        actor: &Actor,
        name: &str,
        labels: &str,
        push_url: &str,
    ) -> Result<NewGate, Error> {
        let id = uuid::Uuid::new_v4().to_string();
        let target = Target::gate(&id);
        self.audit
            .run(actor, action::GATES_ADD, &target, async {
                let name = parse_name(name)?;
                let labels = parse_labels(labels)?;
                let push_url = parse_push_url(push_url)?;
                let token = random_token();
                let now = now_ms();
                let gate = GateRecord {
                    id: id.clone(),
                    name: name.clone(),
                    labels,
                    push_url,
                    public_key: None,
                    enrol_token_hash: Some(token_hash(token.expose_secret())),
                    enrol_expires_at_ms: Some(now + ENROL_TOKEN_TTL_MS),
                    enrolled_at_ms: None,
                    revoked_at_ms: None,
                    applied_version: None,
                    applied_at_ms: None,
                    last_seen_ms: None,
                    last_error: None,
                    last_error_at_ms: None,
                    version: Version::FIRST.get(),
                    created_at_ms: now,
                    updated_at_ms: now,
                };
                let event = Audit::success(
                    actor,
                    action::GATES_ADD,
                    &target,
                    json!({ "name": gate.name, "labels": gate.labels, "push_url": gate.push_url,
                            "token_expires_at_ms": gate.enrol_expires_at_ms }),
                );
                self.store
                    .apply_gate_change(&GateChange::Insert(Box::new(gate.clone())), event)
                    .await
                    .map_err(|e| store_error(e, &name))?;
                let command = self.enrol_command(token.expose_secret());
                Ok(NewGate {
                    gate,
                    token,
                    command,
                })
            })
            .await
    }

    /// A new enrolment token for a gate that has not enrolled yet (the earlier one stops working).
    pub async fn new_token(
        &self,
        actor: &Actor,
        id: &str,
        version: &str,
    ) -> Result<NewGate, Error> {
        let target = Target::gate(id);
        self.audit
            .run(actor, action::GATES_NEW_TOKEN, &target, async {
                let expected = Version::parse(version, "gate")?;
                let g = self.find(id).await?;
                expected.expect(g.version, &format!("the gate {:?}", g.name))?;
                if g.revoked_at_ms.is_some() || g.public_key.is_some() {
                    return Err(Error::Conflict(format!(
                        "the gate {:?} is {}: it needs no enrolment token",
                        g.name,
                        if g.revoked_at_ms.is_some() {
                            "revoked"
                        } else {
                            "enrolled"
                        }
                    )));
                }
                let token = random_token();
                let expires = now_ms() + ENROL_TOKEN_TTL_MS;
                let change = GateChange::NewToken {
                    id: g.id.clone(),
                    token_hash: token_hash(token.expose_secret()),
                    expires_at_ms: expires,
                    replaces: g.version,
                };
                let event = Audit::success(
                    actor,
                    action::GATES_NEW_TOKEN,
                    &target,
                    json!({ "name": g.name, "token_expires_at_ms": expires }),
                );
                self.store
                    .apply_gate_change(&change, event)
                    .await
                    .map_err(|e| store_error(e, &g.name))?;
                let command = self.enrol_command(token.expose_secret());
                let gate = self.find(id).await?;
                Ok(NewGate {
                    gate,
                    token,
                    command,
                })
            })
            .await
    }

    /// Revokes a gate: its calls are refused from now on and nothing is pushed to it.
    pub async fn revoke(&self, actor: &Actor, id: &str, version: &str) -> Result<(), Error> {
        let target = Target::gate(id);
        self.audit
            .run(actor, action::GATES_REVOKE, &target, async {
                let expected = Version::parse(version, "gate")?;
                let g = self.find(id).await?;
                expected.expect(g.version, &format!("the gate {:?}", g.name))?;
                if g.revoked_at_ms.is_some() {
                    return Err(Error::Conflict(format!(
                        "the gate {:?} is revoked already",
                        g.name
                    )));
                }
                let event = Audit::success(
                    actor,
                    action::GATES_REVOKE,
                    &target,
                    json!({ "name": g.name, "applied_version": g.applied_version }),
                );
                let change = GateChange::Revoke {
                    id: g.id.clone(),
                    now_ms: now_ms(),
                    replaces: g.version,
                };
                self.store
                    .apply_gate_change(&change, event)
                    .await
                    .map_err(|e| store_error(e, &g.name))
            })
            .await
    }

    async fn find(&self, id: &str) -> Result<GateRecord, Error> {
        self.store
            .gate(id)
            .await?
            .ok_or_else(|| Error::NotFound("this gate no longer exists; reload the page".into()))
    }

    /// A gate registers its public key with its one-time token. Unknown tokens are refused
    /// without an audit row (anyone can send junk); a known token that is expired, used or
    /// whose gate is revoked is refused and audited against that gate.
    pub async fn enrol(
        &self,
        token: &str,
        public_key: &str,
        ip: Option<String>,
    ) -> Result<Enrolled, Error> {
        let unknown = || {
            Error::invalid("this enrolment token is not valid: it was never issued, was used already, or was replaced")
        };
        if !looks_like_token(token) {
            return Err(unknown());
        }
        let hash = token_hash(token);
        let g = self
            .store
            .gate_by_token_hash(&hash)
            .await?
            .ok_or_else(unknown)?;
        let actor = Actor {
            name: format!("gate:{}", g.name),
            ip,
            user_agent: None,
        };
        let target = Target::gate(&g.id);
        self.audit
            .run(&actor, action::GATES_ENROL, &target, async {
                let key = PublicKey::from_b64(public_key).map_err(|e| {
                    Error::invalid(format!("the gate's public key is not a raw Ed25519 key in base64url: {e}"))
                })?;
                let now = now_ms();
                if g.enrol_expires_at_ms.is_none_or(|t| t <= now) {
                    return Err(Error::invalid(format!(
                        "the enrolment token of gate {:?} expired; issue a new command on the Gates page",
                        g.name
                    )));
                }
                let signer = self.signer().await?;
                let event = Audit::success(
                    &actor,
                    action::GATES_ENROL,
                    &target,
                    json!({ "name": g.name, "key_id": key.key_id() }),
                );
                let change = GateChange::Enrol {
                    id: g.id.clone(),
                    token_hash: hash.clone(),
                    public_key: key.to_b64(),
                    now_ms: now,
                };
                self.store.apply_gate_change(&change, event).await.map_err(|e| match e {
                    StoreError::Duplicate { .. } => Error::Conflict(
                        "this public key is registered for another gate already; enrol with a fresh data directory".into(),
                    ),
                    other => store_error(other, &g.name),
                })?;
                Ok(Enrolled {
                    gate_id: g.id.clone(),
                    bundle_public_key: signer.record.public_key.clone(),
                    console_id: signer.record.console_id.clone(),
                })
            })
            .await
    }

    /// Checks a gate's signed call (`Authorization: PalisadeGate …`) and returns the gate. Not
    /// audited: a gate calls every few seconds; the caller logs refusals.
    pub async fn authenticate(
        &self,
        header: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<GateRecord, Error> {
        let auth = jose::gate_auth::parse(header).map_err(|_| Error::Unauthenticated)?;
        let g = self
            .store
            .gate(&auth.gate_id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if g.revoked_at_ms.is_some() {
            return Err(Error::Forbidden);
        }
        let key = g
            .public_key
            .as_deref()
            .and_then(|k| PublicKey::from_b64(k).ok())
            .ok_or(Error::Unauthenticated)?;
        if (now_ms() - auth.ts_ms).abs() > super::MAX_CLOCK_SKEW_MS {
            return Err(Error::Unauthenticated);
        }
        jose::gate_auth::verify(&auth, &key, method, path_and_query, body)
            .map_err(|_| Error::Unauthenticated)?;
        Ok(g)
    }

    /// Records what a gate runs (from its status call or a push answer). The first apply of a
    /// version and a new refusal reason are audited; the routine heartbeat is not.
    pub async fn report(
        &self,
        gate: &GateRecord,
        applied_version: Option<i64>,
        error: ReportedError,
    ) -> Result<(), Error> {
        let error = match error {
            ReportedError::Refused(e) => {
                let e = e.trim();
                ReportedError::Refused(if e.chars().count() > MAX_REASON_CHARS {
                    format!("{}…", e.chars().take(MAX_REASON_CHARS).collect::<String>())
                } else {
                    e.to_owned()
                })
            }
            other => other,
        };
        let actor = Actor {
            name: format!("gate:{}", gate.name),
            ip: None,
            user_agent: None,
        };
        let target = Target::gate(&gate.id);
        let event = match &error {
            ReportedError::Refused(reason) if Some(reason) != gate.last_error.as_ref() => Some(
                AuditDraft::new(
                    &actor,
                    action::GATES_REFUSE,
                    target.as_str(),
                    Outcome::Failure,
                )
                .with_details(json!({ "reason": reason, "applied_version": applied_version })),
            ),
            _ if applied_version.is_some() && applied_version != gate.applied_version => {
                Some(Audit::success(
                    &actor,
                    action::GATES_APPLY,
                    &target,
                    json!({ "version": applied_version, "previous": gate.applied_version }),
                ))
            }
            _ => None,
        };
        let report = GateReport {
            gate_id: gate.id.clone(),
            now_ms: now_ms(),
            applied_version,
            error,
            seen: (gate.applied_version, gate.last_error.clone()),
        };
        Ok(self.store.record_gate_report(&report, event).await?)
    }

    /// The console's bundle key: loaded and opened once, created (and audited) on first use.
    async fn signer(&self) -> Result<Arc<Signer>, Error> {
        if let Some(s) = lock(&self.signer).clone() {
            return Ok(s);
        }
        let record = match self.store.bundle_signer().await? {
            Some(r) => r,
            None => {
                let der = zeroize::Zeroizing::new(
                    SecretKey::generate_pkcs8().map_err(|e| Error::Internal(e.to_string()))?,
                );
                let key =
                    SecretKey::from_pkcs8(&der).map_err(|e| Error::Internal(e.to_string()))?;
                let record = SignerRecord {
                    id: SIGNER_ID.into(),
                    console_id: uuid::Uuid::new_v4().to_string(),
                    public_key: key.public_key().to_b64(),
                    sealed_private: self.master_key.seal(SIGNER_ID, &der),
                    created_at_ms: now_ms(),
                };
                let event = AuditDraft::new(
                    &Actor::system(),
                    action::GATES_SIGNER_CREATE,
                    "bundle_signer",
                    Outcome::Success,
                )
                .with_details(
                    json!({ "key_id": key.public_key().key_id(), "console_id": record.console_id }),
                );
                match self.store.create_bundle_signer(&record, event).await {
                    Ok(()) => record,
                    // Another replica created it first: use theirs.
                    Err(StoreError::Duplicate { .. }) => self
                        .store
                        .bundle_signer()
                        .await?
                        .ok_or_else(|| Error::Internal("bundle signer vanished".into()))?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let der = zeroize::Zeroizing::new(
            self.master_key
                .open(&record.id, &record.sealed_private)
                .map_err(|e| {
                    Error::Internal(format!("the bundle signing key does not open: {e}"))
                })?,
        );
        let key = SecretKey::from_pkcs8(&der).map_err(|e| Error::Internal(e.to_string()))?;
        let signer = Arc::new(Signer { key, record });
        *lock(&self.signer) = Some(signer.clone());
        Ok(signer)
    }

    /// The gate-wide settings, or the defaults while none are saved.
    pub async fn settings(&self) -> Result<GateSettings, Error> {
        match self.store.gate_settings().await? {
            Some(r) => GateSettings::of_record(&r),
            None => Ok(GateSettings::defaults(&self.public_url)),
        }
    }

    /// Saves the gate-wide settings (`version` as shown; "" while the defaults apply) after
    /// checking that a bundle built with them would be accepted by the gates.
    pub async fn save_settings(
        &self,
        actor: &Actor,
        settings: GateSettings,
        version: &str,
    ) -> Result<(), Error> {
        let target = Target::gate_settings();
        self.audit
            .run(
                actor,
                action::GATES_SETTINGS,
                &target,
                self.put_settings(actor, settings, version),
            )
            .await
    }

    /// [`Self::save_settings`] from the settings form's text: the issuer, the audiences
    /// (separated by commas or spaces) and the routes, one per line ([`policy::routes`]). The
    /// text is read inside the same audited run, so a refused line is recorded as a refusal of
    /// `gates.settings` like any other.
    pub async fn save_settings_text(
        &self,
        actor: &Actor,
        issuer: &str,
        audiences: &str,
        require_typ_at_jwt: bool,
        routes: &str,
        version: &str,
    ) -> Result<(), Error> {
        let target = Target::gate_settings();
        self.audit
            .run(actor, action::GATES_SETTINGS, &target, async {
                let settings = GateSettings {
                    issuer: super::parse_issuer(issuer)?,
                    audiences: super::parse_audiences(audiences)?,
                    require_typ_at_jwt,
                    routes: super::parse_routes(routes)?,
                    version: None,
                };
                self.put_settings(actor, settings, version).await
            })
            .await
    }

    /// The work of [`Self::save_settings`], not audited when refused (its callers are).
    async fn put_settings(
        &self,
        actor: &Actor,
        settings: GateSettings,
        version: &str,
    ) -> Result<(), Error> {
        let target = Target::gate_settings();
        let current = self.settings().await?;
        let replaces = match version.trim() {
            "" => None,
            v => Some(Version::parse(v, "gate settings")?),
        };
        if current.version != replaces.map(Version::get) {
            return Err(Error::Conflict(
                "the gate settings were changed by someone else meanwhile; reload and retry".into(),
            ));
        }
        let probe = self.compose_with(&settings).await?;
        finish(probe, 1, None, now_ms())?;
        let next = replaces.map_or(Version::FIRST, Version::next);
        let record = GateSettingsRecord {
            issuer: settings.issuer.clone(),
            audiences: settings.audiences.clone(),
            require_typ_at_jwt: settings.require_typ_at_jwt,
            routes_json: serde_json::to_string(&settings.routes)
                .map_err(|e| Error::Internal(e.to_string()))?,
            version: next.get(),
            updated_at_ms: now_ms(),
        };
        let event = Audit::success(
            actor,
            action::GATES_SETTINGS,
            &target,
            json!({ "issuer": record.issuer, "audiences": record.audiences,
                    "require_typ_at_jwt": record.require_typ_at_jwt,
                    "routes": settings.routes }),
        );
        self.store
            .put_gate_settings(&record, replaces.map(Version::get), event)
            .await
            .map_err(|e| store_error(e, "settings"))
    }

    async fn compose_with(&self, settings: &GateSettings) -> Result<Bundle, Error> {
        let signer = self.signer().await?;
        let policies = self
            .policies
            .policies()
            .await?
            .iter()
            .map(crate::policies::to_policy)
            .collect::<Result<Vec<_>, _>>()?;
        let clients = self.clients.clients().await?;
        let mut sets = Vec::new();
        for s in self.keys.key_sets().await? {
            let keys = self.keys.signing_keys(&s.id).await?;
            sets.push((s, keys));
        }
        compose(
            &signer.record.console_id,
            settings,
            policies,
            &clients,
            &sets,
        )
    }

    /// Publishes a new version if what gates enforce differs from the latest version; returns
    /// the new version, or `None` when nothing changed. `cause` says who or what led to it.
    pub async fn publish(&self, cause: &str) -> Result<Option<BundleRecord>, Error> {
        let result = self.publish_inner(cause).await;
        *lock(&self.publish_error) = match &result {
            Err(Error::Invalid(m)) => Some(m.clone()),
            _ => None,
        };
        result
    }

    async fn publish_inner(&self, cause: &str) -> Result<Option<BundleRecord>, Error> {
        let settings = self.settings().await?;
        let content = self.compose_with(&settings).await?;
        let content_hash = content_sha256(&content)?;
        let latest = self.store.latest_bundle().await?;
        if latest
            .as_ref()
            .is_some_and(|l| l.content_sha256 == content_hash)
        {
            return Ok(None);
        }
        let previous = latest.as_ref().map(open_unverified).transpose()?;
        let version = latest.as_ref().map_or(1, |l| l.version + 1);
        let bundle = finish(
            content,
            version,
            latest.as_ref().map(|l| l.payload_sha256.as_str()),
            now_ms(),
        )?;
        let changes = super::diff::changes(previous.as_ref(), &bundle);
        let signer = self.signer().await?;
        let payload = bundle
            .to_payload()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let envelope = jose::envelope::seal_bytes(&payload, &signer.key);
        let envelope =
            serde_json::to_string(&envelope).map_err(|e| Error::Internal(e.to_string()))?;
        let record = BundleRecord {
            version,
            issued_at_ms: bundle.issued_at_ms,
            payload_sha256: sha256_hex(&payload),
            content_sha256: content_hash,
            size: i64::try_from(envelope.len()).unwrap_or(i64::MAX),
            envelope,
            cause: cause.to_owned(),
            changes: changes.clone(),
        };
        let event = AuditDraft::new(
            &Actor::system(),
            action::BUNDLES_PUBLISH,
            Target::bundle(version).as_str(),
            Outcome::Success,
        )
        .with_details(
            json!({ "version": version, "cause": cause, "changes": changes,
                              "size": record.size, "payload_sha256": record.payload_sha256 }),
        );
        match self.store.publish_bundle(&record, event).await {
            Ok(()) => Ok(Some(record)),
            // Another replica published this version meanwhile; the next pass compares again.
            Err(StoreError::Duplicate { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn latest(&self) -> Result<Option<BundleRecord>, Error> {
        Ok(self.store.latest_bundle().await?)
    }

    pub async fn history(&self, limit: i64) -> Result<Vec<BundleRecord>, Error> {
        Ok(self.store.bundles(limit).await?)
    }

    /// What changed from version `from` to version `to`.
    pub async fn diff(&self, from: i64, to: i64) -> Result<Vec<String>, Error> {
        let get = |v: i64| async move {
            self.store
                .bundle(v)
                .await?
                .ok_or_else(|| Error::NotFound(format!("bundle version {v} does not exist")))
        };
        let (a, b) = (get(from).await?, get(to).await?);
        Ok(super::diff::changes(
            Some(&open_unverified(&a)?),
            &open_unverified(&b)?,
        ))
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

#[async_trait::async_trait]
impl crate::keys::service::KeyServing for GatesService {
    /// A gate serves `kid` when it runs a version at or after the first one of the unbroken
    /// run of versions (up to the latest) that hold the key: every version since holds it.
    async fn serving(&self, kid: &str) -> Result<crate::keys::service::Serving, Error> {
        let gates: Vec<GateRecord> = self
            .store
            .gates()
            .await?
            .into_iter()
            .filter(|g| g.public_key.is_some() && g.revoked_at_ms.is_none())
            .collect();
        let mut out = crate::keys::service::Serving::default();
        if gates.is_empty() {
            return Ok(out);
        }
        let mut first: Option<i64> = None;
        for b in self.store.bundles(1000).await? {
            let holds = open_unverified(&b)?
                .key_sets
                .iter()
                .any(|s| s.keys.iter().any(|k| k.kid == kid));
            if !holds {
                break;
            }
            first = Some(b.version);
        }
        for g in gates {
            let serves = matches!((first, g.applied_version), (Some(f), Some(a)) if a >= f);
            if serves {
                out.serving.push(g.name);
            } else {
                out.behind.push(g.name);
            }
        }
        Ok(out)
    }
}

/// The bundle inside a stored envelope (written by this console; its signature is not
/// re-checked here).
fn open_unverified(r: &BundleRecord) -> Result<Bundle, Error> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let env: SignedBundle = serde_json::from_str(&r.envelope)
        .map_err(|e| Error::Internal(format!("stored bundle {}: {e}", r.version)))?;
    let payload = URL_SAFE_NO_PAD
        .decode(env.payload)
        .map_err(|e| Error::Internal(format!("stored bundle {}: {e}", r.version)))?;
    Bundle::from_payload(&payload)
        .map_err(|e| Error::Internal(format!("stored bundle {}: {e}", r.version)))
}
