//! Receiving a bundle (push, pull or the last-known-good on disk) and applying it.
//!
//! In this order, one bundle at a time: the envelope parses (size cap first); its key id names
//! the trusted console key and the Ed25519 signature verifies over the payload bytes; the
//! version is greater than the applied one (equal with the same payload: "current"; lower, or
//! equal with other content: refused, no replay); [`policy::bundle::validate_bundle`] finds
//! nothing (every policy through the console's own `policy::validate`); every published JWK is
//! a valid key whose `kid` is its thumbprint; secrets sealed to this gate, if the envelope
//! carries any, open ([`jose::sealed::open`]: the console's signature, this gate's id, this
//! bundle's version and payload hash, this gate's `encryption.key`). Only then is the whole
//! [`Enforcement`] built and swapped in at once; then the envelope is written to `bundle.json`
//! (write, fsync, rename). A refused bundle changes nothing: the applied one stays in force.
//! A bundle that names a token key set but arrives without the key's private half applies (its
//! routes and limits matter more), and the token endpoint answers 503 until the same version
//! arrives with it.
//!
//! Trusted key: the `bundle_public_key` of `console.json`; without it, the key given with
//! `--bundle-public-key`; without either, every bundle is refused.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use jose::ed25519::PublicKey;
use jose::sealed::GateKey;
use policy::bundle::{validate_bundle, SignedBundle};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::data_dir::{DataDir, BUNDLE_JSON};
use crate::metrics::Metrics;
use crate::state::{Enforcement, Limits};
use crate::token::signer::TokenIssuing;

/// What every part of the gate shares: the applied state, the metrics, the clock.
pub struct Shared {
    current: RwLock<Option<Arc<Enforcement>>>,
    pub metrics: Metrics,
    /// The token endpoint's usage, until the next status report.
    pub usage: crate::usage::Usage,
    /// The Redis limiter of `cluster`-scoped policies, when `--redis` is given.
    pub cluster: std::sync::OnceLock<Arc<crate::cluster::ClusterLimiter>>,
    started: Instant,
}

impl Shared {
    pub fn new() -> Self {
        Shared {
            current: RwLock::new(None),
            metrics: Metrics::default(),
            usage: crate::usage::Usage::default(),
            cluster: std::sync::OnceLock::new(),
            started: Instant::now(),
        }
    }

    /// The applied state, if any: one pointer read under a read lock.
    pub fn current(&self) -> Option<Arc<Enforcement>> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn swap(&self, next: Arc<Enforcement>) {
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(next);
    }

    /// Monotonic nanoseconds since start: the rate limiters' clock.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Default for Shared {
    fn default() -> Self {
        Shared::new()
    }
}

/// The answer to one bundle: the push response (ACK/NACK) and what is reported to the console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyResult {
    Applied {
        version: u64,
    },
    Current {
        version: u64,
    },
    /// 409: older, or the applied version with other content (replay).
    Stale {
        reason: String,
        applied: Option<u64>,
    },
    /// 422: bad signature, wrong key, corrupt, invalid.
    Invalid {
        reason: String,
        applied: Option<u64>,
    },
}

impl ApplyResult {
    pub fn status(&self) -> u16 {
        match self {
            ApplyResult::Applied { .. } | ApplyResult::Current { .. } => 200,
            ApplyResult::Stale { .. } => 409,
            ApplyResult::Invalid { .. } => 422,
        }
    }

    /// The JSON body of the push response.
    pub fn body(&self) -> serde_json::Value {
        match self {
            ApplyResult::Applied { version } => json!({"status": "applied", "version": version}),
            ApplyResult::Current { version } => json!({"status": "current", "version": version}),
            ApplyResult::Stale { reason, applied } | ApplyResult::Invalid { reason, applied } => {
                json!({"status": "refused", "reason": reason, "applied_version": applied})
            }
        }
    }

    pub fn refusal(&self) -> Option<&str> {
        match self {
            ApplyResult::Stale { reason, .. } | ApplyResult::Invalid { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// What was applied last: version and payload hash.
#[derive(Clone, Debug, Default)]
struct Applied {
    version: Option<u64>,
    payload_sha256: [u8; 32],
}

/// What opens the secrets sealed to this gate: its id at the console and its X25519 key.
struct SecretsKey {
    gate_id: String,
    key: GateKey,
}

/// Applies bundles one at a time.
pub struct Applier {
    shared: Arc<Shared>,
    dir: DataDir,
    trusted: Option<PublicKey>,
    secrets_key: Option<SecretsKey>,
    limits: Limits,
    applied: tokio::sync::Mutex<Applied>,
    last_error: Mutex<Option<String>>,
}

impl Applier {
    pub fn new(
        shared: Arc<Shared>,
        dir: DataDir,
        trusted: Option<PublicKey>,
        limits: Limits,
    ) -> Self {
        Applier {
            shared,
            dir,
            trusted,
            secrets_key: None,
            limits,
            applied: tokio::sync::Mutex::new(Applied::default()),
            last_error: Mutex::new(None),
        }
    }

    /// Lets this applier open secrets sealed to gate `gate_id` with `key` (an enrolled gate);
    /// without it, an envelope carrying secrets is refused.
    pub fn opening_secrets(mut self, gate_id: String, key: GateKey) -> Self {
        self.secrets_key = Some(SecretsKey { gate_id, key });
        self
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub async fn applied_version(&self) -> Option<u64> {
        self.applied.lock().await.version
    }

    /// The last refusal or persistence failure since the last clean apply.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_last_error(&self, e: Option<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = e;
    }

    /// Verifies and applies an envelope; `persist` writes it to `bundle.json` once applied
    /// (false for the copy just read from there). `source` is for the log.
    pub async fn apply(&self, bytes: &[u8], persist: bool, source: &str) -> ApplyResult {
        let mut applied = self.applied.lock().await;
        let result = self.check_and_swap(bytes, &mut applied);
        let m = &self.shared.metrics;
        use std::sync::atomic::Ordering::Relaxed;
        match &result {
            ApplyResult::Applied { version } => {
                m.applies_applied.fetch_add(1, Relaxed);
                m.bundle_version.store(*version, Relaxed);
                tracing::info!(version, source, "bundle applied");
                self.set_last_error(None);
                if persist {
                    let dir = self.dir.clone();
                    let bytes = bytes.to_vec();
                    let written = tokio::task::spawn_blocking(move || {
                        dir.write_atomic(BUNDLE_JSON, &bytes, 0o644)
                    })
                    .await;
                    let failure = match written {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e.to_string()),
                        Err(e) => Some(e.to_string()),
                    };
                    if let Some(e) = failure {
                        m.persist_errors.fetch_add(1, Relaxed);
                        tracing::error!(version, error = %e, "bundle applied but not written to disk");
                        self.set_last_error(Some(format!(
                            "version {version} applied but not saved as last-known-good: {e}"
                        )));
                    }
                }
            }
            ApplyResult::Current { version } => {
                m.applies_current.fetch_add(1, Relaxed);
                tracing::debug!(version, source, "bundle already applied");
            }
            ApplyResult::Stale { reason, .. } | ApplyResult::Invalid { reason, .. } => {
                m.applies_refused.fetch_add(1, Relaxed);
                tracing::warn!(source, reason = %reason, "bundle refused; the applied one stays in force");
                self.set_last_error(Some(reason.clone()));
            }
        }
        result
    }

    fn check_and_swap(&self, bytes: &[u8], applied: &mut Applied) -> ApplyResult {
        let current = applied.version;
        let invalid = |reason: String| ApplyResult::Invalid {
            reason,
            applied: current,
        };
        let Some(trusted) = &self.trusted else {
            return invalid(
                "no trusted bundle key: the gate is not enrolled (no console.json) and no \
                 --bundle-public-key was given"
                    .into(),
            );
        };
        let signed = match SignedBundle::from_json(bytes) {
            Ok(s) => s,
            Err(e) => return invalid(format!("corrupt envelope: {e}")),
        };
        let (bundle, payload) = match jose::envelope::open(&signed, trusted) {
            Ok(x) => x,
            Err(e) => return invalid(format!("{e} [{}]", e.code())),
        };
        let hash: [u8; 32] = Sha256::digest(&payload).into();
        if let Some(v) = current {
            let same = bundle.version == v && hash == applied.payload_sha256;
            // The applied version again, now with the signing key it lacked (the gate
            // registered its encryption key after the version was published): take it.
            let completes = same
                && signed.secrets.is_some()
                && self
                    .shared
                    .current()
                    .is_some_and(|st| !st.tokens.is_ready());
            if same && !completes {
                return ApplyResult::Current { version: v };
            }
            if bundle.version <= v && !completes {
                return ApplyResult::Stale {
                    reason: if bundle.version == v {
                        format!("version {v} is already applied with other content")
                    } else {
                        format!(
                            "version {} is older than the applied version {v} (replay refused)",
                            bundle.version
                        )
                    },
                    applied: current,
                };
            }
        }
        let issues = validate_bundle(&bundle);
        if !issues.is_empty() {
            return invalid(policy::bundle::BundleError::Invalid(issues).to_string());
        }
        let secrets = match (&signed.secrets, &self.secrets_key) {
            (None, _) => None,
            (Some(_), None) => {
                return invalid(
                    "the bundle carries sealed secrets but this gate is not enrolled, so it \
                     cannot open them"
                        .into(),
                )
            }
            (Some(sealed), Some(k)) => {
                let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
                match jose::sealed::open(sealed, trusted, &k.key, &k.gate_id, bundle.version, &hex)
                {
                    Ok(s) => Some(s),
                    Err(e) => return invalid(format!("sealed secrets: {e} [{}]", e.code())),
                }
            }
        };
        let certificates = match secrets.as_ref().map(load_certificates).transpose() {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => return invalid(e),
        };
        if let Some(facts) = &bundle.tls_certificate {
            match certificates.iter().find(|c| c.hostname == facts.hostname) {
                Some(c) if c.cert_sha256() != facts.cert_sha256 => {
                    return invalid(format!(
                        "the certificate delivered for {} is not the one the bundle names",
                        facts.hostname
                    ))
                }
                Some(_) => {}
                None => tracing::warn!(
                    hostname = %facts.hostname,
                    "the bundle names a certificate to serve but its key was not delivered to this gate: no HTTPS until it is"
                ),
            }
        }
        let tokens = TokenIssuing::of(&bundle, secrets.as_ref());
        if let TokenIssuing::Unavailable(why) = &tokens {
            tracing::warn!(version = bundle.version, reason = %why, "the token endpoint cannot issue tokens with this bundle");
        }
        let version = bundle.version;
        let previous = self.shared.current();
        let next = match Enforcement::build(
            bundle,
            previous.as_deref(),
            self.limits,
            &self.shared.metrics,
        ) {
            Ok(e) => e,
            Err(e) => return invalid(format!("the bundle is invalid: {e}")),
        };
        let mut next = next;
        next.tokens = tokens;
        next.certificates = certificates;
        if self.shared.cluster.get().is_none() && next.policies.iter().any(|p| p.scope.is_cluster())
        {
            crate::proxy::warn_cluster_scope_once();
        }
        self.shared.swap(Arc::new(next));
        applied.version = Some(version);
        applied.payload_sha256 = hash;
        ApplyResult::Applied { version }
    }
}

/// The TLS certificates among opened secrets, each loaded and its key checked against its leaf.
fn load_certificates(
    secrets: &policy::secrets::GateSecrets,
) -> Result<Vec<crate::tls::ServedCert>, String> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    secrets
        .certificates
        .iter()
        .map(|c| {
            let der = zeroize::Zeroizing::new(URL_SAFE_NO_PAD.decode(&c.pkcs8).map_err(|_| {
                format!(
                    "certificate of {}: the private key is not base64url",
                    c.hostname
                )
            })?);
            crate::tls::load(&c.hostname, &c.names, &c.chain_pem, &der)
        })
        .collect()
}
