//! The clients service: register, edit, enable/disable and delete OAuth clients; create, rotate
//! (with a grace period) and revoke their secrets. Every attempt writes one audit event, in the
//! same transaction as the change; a secret appears only in the one answer that creates it,
//! never in the audit log (events name secrets by their id).

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::RngCore;
use secrecy::SecretString;
use serde_json::{json, Value};

use super::secrets::{generate_secret, hash_secret, hint_of};
use super::{check, ClientDraft, ClientKind, SecretStatus};
use crate::audit::Actor;
use crate::audited::{action, Audit, Target, Version};
use crate::ports::clients::{ClientChange, ClientRecord, ClientStore, SecretRecord};
use crate::ports::policies::PolicyStore;
use crate::ports::StoreError;
use crate::{now_ms, Error};

pub const DEFAULT_GRACE_DAYS: i64 = 7;
pub const MAX_GRACE_DAYS: i64 = 90;
const DAY_MS: i64 = 86_400_000;

/// A secret as listed: never the secret, only its hint and dates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretView {
    pub record: SecretRecord,
    /// Grace: valid until `expires_at_ms`.
    pub status: SecretStatus,
}

#[derive(Clone, Debug)]
pub struct ClientView {
    pub record: ClientRecord,
    pub secrets: Vec<SecretView>,
    /// Name of the bound rate-limit policy.
    pub policy_name: Option<String>,
    /// Tokens gates reported issuing to it, in total.
    pub tokens_issued: i64,
    /// When the gate report that counted its latest token arrived.
    pub last_token_at_ms: Option<i64>,
}

/// The answer to a change that created a secret: shown once, then gone.
pub struct Created {
    pub client: ClientRecord,
    pub secret: Option<SecretString>,
    pub warnings: Vec<String>,
}

pub fn secret_status(s: &SecretRecord, now_ms: i64) -> SecretStatus {
    SecretStatus::at(s.revoked_at_ms, s.expires_at_ms, now_ms)
}

fn valid(s: &SecretRecord, now_ms: i64) -> bool {
    secret_status(s, now_ms).is_valid()
}

/// A random, URL-safe `client_id`: 128 bits in base64url.
fn new_client_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// What the audit log records of a client: every field but secrets (it holds none).
fn as_json(c: &ClientRecord) -> Value {
    json!({
        "client_id": c.client_id, "name": c.name, "description": c.description, "kind": c.kind,
        "platform": c.platform, "redirect_uris": c.redirect_uris, "grant_types": c.grant_types,
        "scopes": c.scopes, "access_token_lifetime_s": c.access_token_lifetime_s,
        "auth_method": c.auth_method, "jwks": c.jwks_json.is_some(), "policy_id": c.policy_id,
        "enabled": c.enabled,
    })
}

fn store_error(e: StoreError, name: &str) -> Error {
    match e {
        StoreError::Duplicate {
            table: "clients", ..
        } => Error::Conflict(format!("a client named {name:?} exists already")),
        StoreError::InUse { .. } => Error::Conflict(
            "the chosen rate-limit policy no longer exists; reload and choose another".into(),
        ),
        StoreError::Conflict(m) => Error::Conflict(m),
        other => Error::Store(other),
    }
}

pub struct ClientsService {
    store: Arc<dyn ClientStore>,
    policies: Arc<dyn PolicyStore>,
    audit: Audit,
}

impl ClientsService {
    pub fn new(store: Arc<dyn ClientStore>, policies: Arc<dyn PolicyStore>, audit: Audit) -> Self {
        ClientsService {
            store,
            policies,
            audit,
        }
    }

    pub async fn list(&self) -> Result<Vec<ClientView>, Error> {
        let now = now_ms();
        let secrets = self.store.client_secrets().await?;
        let policies = self.policies.policies().await?;
        let usage = self.store.client_usage().await?;
        Ok(self
            .store
            .clients()
            .await?
            .into_iter()
            .map(|c| {
                let used = usage.iter().find(|u| u.client_row_id == c.id);
                ClientView {
                    tokens_issued: used.map_or(0, |u| u.tokens_issued),
                    last_token_at_ms: used.and_then(|u| u.last_token_at_ms),
                    secrets: secrets
                        .iter()
                        .filter(|s| s.client_row_id == c.id)
                        .map(|s| SecretView {
                            status: secret_status(s, now),
                            record: s.clone(),
                        })
                        .collect(),
                    policy_name: c.policy_id.as_ref().and_then(|pid| {
                        policies
                            .iter()
                            .find(|p| &p.id == pid)
                            .map(|p| p.name.clone())
                    }),
                    record: c,
                }
            })
            .collect())
    }

    async fn find(&self, id: &str, version: &str) -> Result<ClientRecord, Error> {
        let expected = Version::parse(version, "client")?;
        let c = self.store.client(id).await?.ok_or_else(|| {
            Error::NotFound("this client no longer exists; reload the page".into())
        })?;
        expected.expect(c.version, &format!("the client {:?}", c.name))?;
        Ok(c)
    }

    /// Whether saving `draft` over client `id` changes what only a passkey-confirmed admin may
    /// change: the redirect URIs or the authentication method (where tokens may go, and how
    /// the client proves itself). `false` when the update would refuse the draft anyway (unknown client, invalid form).
    pub async fn update_needs_step_up(&self, id: &str, draft: &ClientDraft) -> Result<bool, Error> {
        let (Some(old), Ok(checked)) = (self.store.client(id).await?, check(draft)) else {
            // Unknown client or invalid form: the update refuses it without changing anything.
            return Ok(false);
        };
        Ok(checked.auth_method != old.auth_method
            || checked.draft.redirect_uris != old.redirect_uris)
    }

    async fn commit(
        &self,
        actor: &Actor,
        action: &str,
        target: &Target,
        changes: &[ClientChange],
        name: &str,
        details: Value,
    ) -> Result<(), Error> {
        let event = Audit::success(actor, action, target, details);
        self.store
            .apply_client_changes(changes, event)
            .await
            .map_err(|e| store_error(e, name))
    }

    async fn check_policy(&self, policy_id: &str) -> Result<Option<String>, Error> {
        if policy_id.is_empty() {
            return Ok(None);
        }
        if self
            .policies
            .policies()
            .await?
            .iter()
            .any(|p| p.id == policy_id)
        {
            Ok(Some(policy_id.to_owned()))
        } else {
            Err(Error::invalid(
                "the chosen rate-limit policy does not exist; reload and choose another",
            ))
        }
    }

    async fn new_secret(
        &self,
        client_row_id: &str,
        now: i64,
    ) -> Result<(SecretString, SecretRecord), Error> {
        let secret = generate_secret();
        let record = SecretRecord {
            id: uuid::Uuid::new_v4().to_string(),
            client_row_id: client_row_id.to_owned(),
            phc_hash: hash_secret(&secret).await?,
            hint: hint_of(&secret),
            created_at_ms: now,
            expires_at_ms: None,
            last_used_at_ms: None,
            revoked_at_ms: None,
        };
        Ok((secret, record))
    }

    /// Registers a client; a client authenticating with a secret gets its first one, returned
    /// here and nowhere else.
    pub async fn create(&self, actor: &Actor, draft: &ClientDraft) -> Result<Created, Error> {
        let action = action::CLIENTS_CREATE;
        // One target for the attempt and its outcome: the new client's id is chosen up front.
        let id = uuid::Uuid::new_v4().to_string();
        let target = Target::client(&id);
        self.audit
            .run(actor, action, &target, async {
                let checked = check(draft)?;
                let d = &checked.draft;
                let now = now_ms();
                let record = ClientRecord {
                    id: id.clone(),
                    client_id: new_client_id(),
                    name: d.name.clone(),
                    description: d.description.clone(),
                    kind: checked.kind,
                    platform: checked.platform,
                    redirect_uris: d.redirect_uris.clone(),
                    grant_types: d.grant_types.clone(),
                    scopes: d.scopes.clone(),
                    access_token_lifetime_s: d.access_token_lifetime_s,
                    auth_method: checked.auth_method,
                    jwks_json: checked.jwks_json.clone(),
                    policy_id: self.check_policy(&d.policy_id).await?,
                    enabled: true,
                    version: Version::FIRST.get(),
                    created_at_ms: now,
                    updated_at_ms: now,
                };
                let mut changes = vec![ClientChange::Insert(record.clone())];
                let mut details = json!({ "after": as_json(&record) });
                let secret = if record.auth_method.uses_secret() {
                    let (secret, rec) = self.new_secret(&record.id, now).await?;
                    details["secret_id"] = json!(rec.id);
                    changes.push(ClientChange::AddSecret(rec));
                    Some(secret)
                } else {
                    None
                };
                self.commit(actor, action, &target, &changes, &record.name, details)
                    .await?;
                Ok(Created {
                    client: record,
                    secret,
                    warnings: checked.warnings,
                })
            })
            .await
    }

    /// Edits a client (its type and client_id stay). Switching to a secret-based method issues
    /// a first secret if none is valid; switching away revokes every secret at once.
    pub async fn update(
        &self,
        actor: &Actor,
        id: &str,
        version: &str,
        draft: &ClientDraft,
    ) -> Result<Created, Error> {
        let action = action::CLIENTS_UPDATE;
        self.audit.run(actor, action, &Target::client(id), async {
            let old = self.find(id, version).await?;
            if ClientKind::parse(draft.kind.trim()) != Some(old.kind) {
                return Err(Error::invalid(format!(
                    "a client's type cannot change (it is a {} client); register a new client instead",
                    old.kind
                )));
            }
            let checked = check(draft)?;
            let d = &checked.draft;
            let now = now_ms();
            let record = ClientRecord {
                name: d.name.clone(),
                description: d.description.clone(),
                platform: checked.platform,
                redirect_uris: d.redirect_uris.clone(),
                grant_types: d.grant_types.clone(),
                scopes: d.scopes.clone(),
                access_token_lifetime_s: d.access_token_lifetime_s,
                auth_method: checked.auth_method,
                jwks_json: checked.jwks_json.clone(),
                policy_id: self.check_policy(&d.policy_id).await?,
                version: Version::new(old.version).next().get(),
                updated_at_ms: now,
                ..old.clone()
            };
            let mut changes = vec![ClientChange::Update {
                record: record.clone(),
                replaces: old.version,
            }];
            let mut details = json!({ "before": as_json(&old), "after": as_json(&record) });
            let secrets: Vec<SecretRecord> = self
                .store
                .secrets_of(&old.id)
                .await?
                .into_iter()
                .filter(|s| valid(s, now))
                .collect();
            let mut secret = None;
            if record.auth_method.uses_secret() && secrets.is_empty() {
                let (s, rec) = self.new_secret(&record.id, now).await?;
                details["secret_id"] = json!(rec.id);
                changes.push(ClientChange::AddSecret(rec));
                secret = Some(s);
            } else if !record.auth_method.uses_secret() && !secrets.is_empty() {
                details["revoked_secret_ids"] = json!(secrets.iter().map(|s| &s.id).collect::<Vec<_>>());
                changes.extend(secrets.iter().map(|s| ClientChange::RevokeSecret {
                    id: s.id.clone(),
                    revoked_at_ms: now,
                }));
            }
            self.commit(actor, action, &Target::client(id), &changes, &record.name, details).await?;
            Ok(Created {
                client: record,
                secret,
                warnings: checked.warnings,
            })
        })
        .await
    }

    pub async fn set_enabled(
        &self,
        actor: &Actor,
        id: &str,
        enabled: bool,
        version: &str,
    ) -> Result<(), Error> {
        let action = action::switch(enabled, action::CLIENTS_ENABLE, action::CLIENTS_DISABLE);
        self.audit
            .run(actor, action, &Target::client(id), async {
                let old = self.find(id, version).await?;
                let record = ClientRecord {
                    enabled,
                    version: Version::new(old.version).next().get(),
                    updated_at_ms: now_ms(),
                    ..old.clone()
                };
                let change = ClientChange::Update {
                    record,
                    replaces: old.version,
                };
                self.commit(
                    actor,
                    action,
                    &Target::client(id),
                    &[change],
                    &old.name,
                    json!({ "client_id": old.client_id }),
                )
                .await
            })
            .await
    }

    /// Deletes the client and its secrets.
    pub async fn delete(&self, actor: &Actor, id: &str, version: &str) -> Result<(), Error> {
        let action = action::CLIENTS_DELETE;
        self.audit
            .run(actor, action, &Target::client(id), async {
                let old = self.find(id, version).await?;
                let change = ClientChange::Delete {
                    id: old.id.clone(),
                    replaces: old.version,
                };
                self.commit(
                    actor,
                    action,
                    &Target::client(id),
                    &[change],
                    &old.name,
                    json!({ "before": as_json(&old) }),
                )
                .await
            })
            .await
    }

    /// Issues a new secret; every other valid secret stays valid for `grace_days` more (0 =
    /// expires now), then expires.
    pub async fn rotate_secret(
        &self,
        actor: &Actor,
        id: &str,
        version: &str,
        grace_days: i64,
    ) -> Result<Created, Error> {
        let action = action::CLIENTS_ROTATE_SECRET;
        self.audit.run(actor, action, &Target::client(id), async {
            if !(0..=MAX_GRACE_DAYS).contains(&grace_days) {
                return Err(Error::invalid(format!(
                    "the grace period must be between 0 and {MAX_GRACE_DAYS} days"
                )));
            }
            let old = self.find(id, version).await?;
            if !old.auth_method.uses_secret() {
                return Err(Error::invalid(format!(
                    "{} authenticates with {}, not a secret: there is no secret to rotate",
                    old.name, old.auth_method
                )));
            }
            let now = now_ms();
            let until = now + grace_days * DAY_MS;
            let previous: Vec<SecretRecord> = self
                .store
                .secrets_of(&old.id)
                .await?
                .into_iter()
                .filter(|s| valid(s, now))
                .collect();
            let (secret, rec) = self.new_secret(&old.id, now).await?;
            let bump = ClientRecord {
                version: Version::new(old.version).next().get(),
                updated_at_ms: now,
                ..old.clone()
            };
            let mut changes = vec![
                ClientChange::Update {
                    record: bump.clone(),
                    replaces: old.version,
                },
                ClientChange::AddSecret(rec.clone()),
            ];
            // A secret already expiring sooner keeps its earlier expiry.
            let shortened: Vec<&SecretRecord> = previous
                .iter()
                .filter(|s| s.expires_at_ms.is_none_or(|t| t > until))
                .collect();
            changes.extend(shortened.iter().map(|s| ClientChange::ExpireSecret {
                id: s.id.clone(),
                expires_at_ms: until,
            }));
            let details = json!({
                "client_id": old.client_id,
                "secret_id": rec.id,
                "grace_days": grace_days,
                "previous_secret_ids": shortened.iter().map(|s| &s.id).collect::<Vec<_>>(),
                "previous_valid_until": chrono::DateTime::from_timestamp_millis(until).map(|t| t.to_rfc3339()),
            });
            self.commit(actor, action, &Target::client(id), &changes, &old.name, details).await?;
            Ok(Created {
                client: bump,
                secret: Some(secret),
                warnings: Vec::new(),
            })
        })
        .await
    }

    /// Revokes one secret at once (no grace).
    pub async fn revoke_secret(
        &self,
        actor: &Actor,
        id: &str,
        version: &str,
        secret_id: &str,
    ) -> Result<(), Error> {
        let action = action::CLIENTS_REVOKE_SECRET;
        self.audit.run(actor, action, &Target::client(id), async {
            let old = self.find(id, version).await?;
            let now = now_ms();
            let s = self
                .store
                .secrets_of(&old.id)
                .await?
                .into_iter()
                .find(|s| s.id == secret_id)
                .ok_or_else(|| Error::invalid("this secret does not belong to the client"))?;
            if s.revoked_at_ms.is_some() {
                return Err(Error::Conflict("this secret is revoked already".into()));
            }
            let bump = ClientRecord {
                version: Version::new(old.version).next().get(),
                updated_at_ms: now,
                ..old.clone()
            };
            let changes = [
                ClientChange::Update {
                    record: bump,
                    replaces: old.version,
                },
                ClientChange::RevokeSecret {
                    id: s.id.clone(),
                    revoked_at_ms: now,
                },
            ];
            let details = json!({ "client_id": old.client_id, "secret_id": s.id, "was": secret_status(&s, now) });
            self.commit(actor, action, &Target::client(id), &changes, &old.name, details).await
        })
        .await
    }
}
