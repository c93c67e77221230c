//! The console's bundle signer, composing, signing and publishing bundle versions, the
//! envelope each gate receives (with the private material sealed to it), and the history with
//! the diff of two versions.

use super::*;
use crate::seal::Sealed;
use policy::keys::KeyState;
use policy::secrets::{GateSecrets, SecretSigningKey};
use zeroize::Zeroize;

/// Private material on its way to one gate: its base64url PKCS #8 strings are zeroized when it
/// is dropped, sealed or not.
struct Unsealed(GateSecrets);

impl Drop for Unsealed {
    fn drop(&mut self) {
        for k in &mut self.0.signing_keys {
            k.pkcs8.zeroize();
        }
        for c in &mut self.0.certificates {
            c.pkcs8.zeroize();
        }
    }
}

impl GatesService {
    /// The console's bundle key: loaded and opened once, created (and audited) on first use.
    pub(super) async fn signer(&self) -> Result<Arc<Signer>, Error> {
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
                    sealed_private: self.master_key.seal(Sealed::BundleSigner, SIGNER_ID, &der),
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
                .open(Sealed::BundleSigner, &record.id, &record.sealed_private)
                .map_err(|e| {
                    Error::Internal(format!("the bundle signing key does not open: {e}"))
                })?,
        );
        let key = SecretKey::from_pkcs8(&der).map_err(|e| Error::Internal(e.to_string()))?;
        // The sealed key must be the one whose public half gates trust (a row whose sealed
        // value was swapped would otherwise sign bundles every gate refuses).
        if key.public_key().to_b64() != record.public_key {
            return Err(Error::Internal(
                "the bundle signing key does not match its public key on record".into(),
            ));
        }
        let signer = Arc::new(Signer { key, record });
        *lock(&self.signer) = Some(signer.clone());
        Ok(signer)
    }

    pub(super) async fn compose_with(&self, settings: &GateSettings) -> Result<Bundle, Error> {
        let signer = self.signer().await?;
        let policies = self
            .policies
            .policies()
            .await?
            .iter()
            .map(crate::policies::to_policy)
            .collect::<Result<Vec<_>, _>>()?;
        let clients = self.clients.clients().await?;
        let secrets = self.clients.client_secrets().await?;
        let mut sets = Vec::new();
        for s in self.keys.key_sets().await? {
            let keys = self.keys.signing_keys(&s.id).await?;
            sets.push((s, keys));
        }
        let mut bundle = compose(
            &signer.record.console_id,
            settings,
            policies,
            &clients,
            &secrets,
            &sets,
            now_ms(),
        )?;
        if let Some(hostname) = &settings.tls_hostname {
            bundle.tls_certificate = Some(self.served_certificate(hostname).await?.1);
        }
        Ok(bundle)
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

    pub(super) async fn publish_inner(&self, cause: &str) -> Result<Option<BundleRecord>, Error> {
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
        let changes = crate::gates::diff::changes(previous.as_ref(), &bundle);
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

    /// The envelope of the published version `latest` as `gate` receives it, by push or pull.
    /// When the bundle names a token key set or a TLS certificate and the gate registered an
    /// encryption key, the envelope carries `secrets`: the private half of the key that is
    /// active in that set *in this bundle* (so the gate signs with a `kid` its JWKS holds) and
    /// the chain and private key of the certificate the bundle names, sealed to the gate with
    /// [`jose::sealed::seal`], bound to this gate, this version and its payload hash, and signed
    /// by the console's bundle key. Otherwise it is the stored envelope as it is (a gate without
    /// an encryption key issues no tokens and serves no HTTPS). The stored envelope never holds
    /// secrets.
    ///
    /// A bundle that should carry a key which cannot be sealed (erased meanwhile, or a master
    /// key that does not open it) is an error, not a bundle without its key: the gate keeps the
    /// version it has and the delivery is retried (a newer version follows any key change).
    pub async fn envelope_for(
        &self,
        gate: &GateRecord,
        latest: &BundleRecord,
    ) -> Result<String, Error> {
        let Some(recipient) = gate.encryption_key.as_deref() else {
            return Ok(latest.envelope.clone());
        };
        let bundle = open_unverified(latest)?;
        if bundle.token_key_set.is_none() && bundle.tls_certificate.is_none() {
            return Ok(latest.envelope.clone());
        }
        let mut secrets = Unsealed(GateSecrets::default());
        if let Some(set_name) = bundle.token_key_set.as_deref() {
            secrets.0.signing_keys.push(
                self.signing_secret(&bundle, set_name, latest.version)
                    .await?,
            );
        }
        if let Some(facts) = &bundle.tls_certificate {
            secrets
                .0
                .certificates
                .push(self.certificate_secret(facts).await?);
        }
        let signer = self.signer().await?;
        let version = u64::try_from(latest.version)
            .map_err(|_| Error::Internal("negative bundle version".into()))?;
        let sealed = jose::sealed::seal(
            &secrets.0,
            recipient,
            &gate.id,
            version,
            &latest.payload_sha256,
            &signer.key,
        )
        .map_err(|e| {
            Error::Internal(format!(
                "sealing the signing key for gate {}: {e}",
                gate.name
            ))
        })?;
        drop(secrets);
        let mut envelope: SignedBundle = serde_json::from_str(&latest.envelope)
            .map_err(|e| Error::Internal(format!("stored bundle {}: {e}", latest.version)))?;
        envelope.secrets = Some(sealed);
        serde_json::to_string(&envelope).map_err(|e| Error::Internal(e.to_string()))
    }

    /// The private half of the key active in `set_name` *in this bundle* (version `version`),
    /// for sealing to one gate.
    async fn signing_secret(
        &self,
        bundle: &Bundle,
        set_name: &str,
        version: i64,
    ) -> Result<SecretSigningKey, Error> {
        let missing = |what: &str| {
            Error::Internal(format!(
                "bundle {version}: token key set {set_name:?}: {what}"
            ))
        };
        let kid = bundle
            .key_sets
            .iter()
            .find(|s| s.name == set_name)
            .and_then(|s| s.keys.iter().find(|k| k.state == KeyState::Active.as_str()))
            .map(|k| k.kid.clone())
            .ok_or_else(|| missing("no active key in the bundle"))?;
        let set = self
            .keys
            .key_sets()
            .await?
            .into_iter()
            .find(|s| s.name == set_name)
            .ok_or_else(|| missing("no such set any more"))?;
        let key = self
            .keys
            .signing_keys(&set.id)
            .await?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| missing("the bundle's active key is gone"))?;
        let pkcs8 = crate::keys::service::open_private(&self.master_key, &key)?;
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
        Ok(SecretSigningKey {
            key_set: set_name.to_owned(),
            kid: key.kid.clone(),
            alg: key.alg.clone(),
            pkcs8: URL_SAFE_NO_PAD.encode(&*pkcs8),
        })
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
        Ok(crate::gates::diff::changes(
            Some(&open_unverified(&a)?),
            &open_unverified(&b)?,
        ))
    }
}

/// The bundle inside a stored envelope (written by this console; its signature is not
/// re-checked here).
pub(super) fn open_unverified(r: &BundleRecord) -> Result<Bundle, Error> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let env: SignedBundle = serde_json::from_str(&r.envelope)
        .map_err(|e| Error::Internal(format!("stored bundle {}: {e}", r.version)))?;
    let payload = URL_SAFE_NO_PAD
        .decode(env.payload)
        .map_err(|e| Error::Internal(format!("stored bundle {}: {e}", r.version)))?;
    Bundle::from_payload(&payload)
        .map_err(|e| Error::Internal(format!("stored bundle {}: {e}", r.version)))
}
