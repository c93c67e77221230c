//! The signing-keys service: key sets, their keys' lifecycle (`next → active → retired →
//! removed`, and `revoked`), the manual "rotate" and the emergency revoke, and the steps the
//! background rotation job runs. Each step is one batch guarded by the set's version and
//! written with its audit event in one transaction, so a crash leaves the set either before or
//! after a step, never between; the next run of [`KeysService::run_due`] resumes from there.

use std::sync::Arc;

use policy::jwk::{Jwk, JwkSet};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::jwk::public_jwk;
use super::lifecycle::{
    due_steps, manual_rotation_check, KeyState, KeyTimes, PlanStep, SetTiming, Step,
};
use super::{truncate, SigningAlg};
use crate::audit::Actor;
use crate::audited::{action, Audit, Target, Version};
use crate::ports::keys::{KeyChange, KeySetRecord, KeyStore, SigningKeyRecord};
use crate::ports::StoreError;
use crate::seal::{MasterKey, Sealed};
use crate::{now_ms, Error};
use policy::keys::{in_flight_until_ms, in_flight_window_s};

/// Why a step was taken, as audited: by "Rotate now" (see also [`job_applies`]).
const MANUAL: &str = "manual rotation";

/// What a key set's page shows.
#[derive(Clone, Debug)]
pub struct KeySetView {
    pub set: KeySetRecord,
    pub keys: Vec<SigningKeyRecord>,
    /// The published keys (next, active, retired), as the gate and relying parties read them.
    pub jwks: JwkSet,
}

/// The settings an admin chooses for a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetSettings {
    pub name: String,
    pub alg: String,
    pub timing: SetTiming,
    pub auto_rotate: bool,
}

fn timing_of(s: &KeySetRecord) -> SetTiming {
    SetTiming {
        rotation_period_s: s.rotation_period_s,
        cache_window_s: s.cache_window_s,
        max_token_lifetime_s: s.max_token_lifetime_s,
        leeway_s: s.leeway_s,
    }
}

fn times_of(k: &SigningKeyRecord) -> KeyTimes {
    KeyTimes {
        id: k.id.clone(),
        state: k.state,
        created_at_ms: k.created_at_ms,
        activated_at_ms: k.activated_at_ms,
        retired_at_ms: k.retired_at_ms,
        promote_at_ms: k.promote_at_ms,
    }
}

/// The JWK Set of a set's published keys, active first, then next, then retired.
pub fn jwks_of(keys: &[SigningKeyRecord]) -> Result<JwkSet, Error> {
    let rank = |s: KeyState| match s {
        KeyState::Active => 0,
        KeyState::Next => 1,
        _ => 2,
    };
    let mut published: Vec<&SigningKeyRecord> =
        keys.iter().filter(|k| k.state.is_published()).collect();
    published.sort_by_key(|k| (rank(k.state), std::cmp::Reverse(k.created_at_ms)));
    let keys = published
        .into_iter()
        .map(|k| {
            serde_json::from_str::<Jwk>(&k.public_jwk_json)
                .map_err(|e| Error::Internal(format!("key {}: stored JWK: {e}", k.id)))
        })
        .collect::<Result<_, _>>()?;
    Ok(JwkSet { keys })
}

fn key_json(k: &SigningKeyRecord) -> Value {
    json!({ "kid": k.kid, "alg": k.alg, "state": k.state })
}

fn store_error(e: StoreError, name: &str) -> Error {
    match e {
        StoreError::Duplicate {
            table: "key_sets", ..
        } => Error::Conflict(format!("a key set named {name:?} exists already")),
        StoreError::Duplicate {
            table: "signing_keys",
            ..
        } => Error::Conflict(
            "another rotation of this key set won meanwhile; reload to see its keys".into(),
        ),
        StoreError::Conflict(m) => Error::Conflict(m),
        other => Error::Store(other),
    }
}

/// The PKCS #8 of a published key's private half, opened from the seal [`KeysService`] put on
/// it when it generated the key (AES-256-GCM under the master key, AAD: the key's id), zeroized
/// when dropped. For the one use that needs it outside this service: sealing the token key set's
/// active key to a gate. A key out of the JWKS has no private half any more: `Internal` (the
/// caller asked for a key it should not need; a delivery is retried with the next version).
pub fn open_private(
    master_key: &MasterKey,
    key: &SigningKeyRecord,
) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    let sealed = key.sealed_private.as_deref().ok_or_else(|| {
        Error::Internal(format!(
            "the key {} is no longer published: its private half was erased",
            truncate(&key.kid)
        ))
    })?;
    let pkcs8 = master_key
        .open(Sealed::SigningKey, &key.id, sealed)
        .map(zeroize::Zeroizing::new)
        .map_err(|e| Error::Internal(format!("signing key {}: {e}", key.id)))?;
    // The private half must be the key the JWKS publishes (its kid is the RFC 7638 thumbprint
    // of that public key): tokens signed by another key would fail everywhere.
    let matches = SigningAlg::parse(&key.alg)
        .zip(crate::certs::load_pkcs8(&pkcs8).ok())
        .and_then(|(alg, k)| public_jwk(alg, k.spki_der()).ok())
        .and_then(|jwk| super::jwk::thumbprint(&jwk).ok())
        .is_some_and(|t| t == key.kid);
    if !matches {
        return Err(Error::Internal(format!(
            "signing key {}: the sealed private key is not the published key {}",
            key.id,
            truncate(&key.kid)
        )));
    }
    Ok(pkcs8)
}

/// Which enrolled gates serve a published key: they run a bundle that holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Serving {
    /// Names of the enrolled, non-revoked gates that hold the key.
    pub serving: Vec<String>,
    /// Names of the enrolled, non-revoked gates that do not hold it yet.
    pub behind: Vec<String>,
}

impl Serving {
    /// Every enrolled gate serves the key (also true when there is no gate).
    pub fn everywhere(&self) -> bool {
        self.behind.is_empty()
    }
}

/// Answers [`Serving`] for a `kid` (the gates service does, from the bundles gates ACKed).
#[async_trait::async_trait]
pub trait KeyServing: Send + Sync {
    async fn serving(&self, kid: &str) -> Result<Serving, Error>;
}

pub struct KeysService {
    store: Arc<dyn KeyStore>,
    master_key: Arc<MasterKey>,
    audit: Audit,
    /// When set, the rotation job promotes a next key only once every gate serves it.
    serving: Option<Arc<dyn KeyServing>>,
}

impl KeysService {
    pub fn new(store: Arc<dyn KeyStore>, master_key: Arc<MasterKey>, audit: Audit) -> Self {
        KeysService {
            store,
            master_key,
            audit,
            serving: None,
        }
    }

    /// Gates promotions on the gates: a next key becomes active only when its cache window has
    /// passed and every enrolled, non-revoked gate runs a bundle that holds it.
    pub fn with_serving(mut self, serving: Arc<dyn KeyServing>) -> Self {
        self.serving = Some(serving);
        self
    }

    /// Which gates serve `kid` (empty when gates are not wired in).
    pub async fn serving(&self, kid: &str) -> Result<Serving, Error> {
        match &self.serving {
            Some(s) => s.serving(kid).await,
            None => Ok(Serving::default()),
        }
    }

    pub async fn list(&self) -> Result<Vec<KeySetView>, Error> {
        let mut out = Vec::new();
        for set in self.store.key_sets().await? {
            let keys = self.store.signing_keys(&set.id).await?;
            out.push(KeySetView {
                jwks: jwks_of(&keys)?,
                set,
                keys,
            });
        }
        Ok(out)
    }

    /// One set by id or name.
    pub async fn get(&self, id_or_name: &str) -> Result<KeySetView, Error> {
        let set = self
            .store
            .key_set(id_or_name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no key set {id_or_name:?}")))?;
        let keys = self.store.signing_keys(&set.id).await?;
        Ok(KeySetView {
            jwks: jwks_of(&keys)?,
            set,
            keys,
        })
    }

    async fn find(&self, id: &str, version: &str) -> Result<KeySetView, Error> {
        let expected = Version::parse(version, "key set")?;
        let view = self.get(id).await?;
        expected.expect(
            view.set.version,
            &format!("the key set {:?}", view.set.name),
        )?;
        Ok(view)
    }

    async fn commit(
        &self,
        actor: &Actor,
        action: &str,
        changes: &[KeyChange],
        set: &KeySetRecord,
        details: Value,
    ) -> Result<(), Error> {
        let event = Audit::success(actor, action, &Target::key_set(&set.id), details);
        self.store
            .apply_key_changes(changes, event)
            .await
            .map_err(|e| store_error(e, &set.name))
    }

    /// A fresh key for `set` in `state`, its private half sealed (AAD: the key's id).
    async fn new_key(
        &self,
        set: &KeySetRecord,
        state: KeyState,
        now: i64,
    ) -> Result<SigningKeyRecord, Error> {
        let alg = SigningAlg::parse(&set.alg)
            .ok_or_else(|| Error::Internal(format!("set {}: unknown alg {}", set.id, set.alg)))?;
        let generated = crate::certs::generate(alg.key_type()).await?;
        let jwk = public_jwk(alg, &generated.spki_der)?;
        let kid = jwk
            .kid
            .clone()
            .ok_or_else(|| Error::Internal("JWK without kid".into()))?;
        let id = uuid::Uuid::new_v4().to_string();
        let sealed = self
            .master_key
            .seal(Sealed::SigningKey, &id, generated.pkcs8.expose_secret());
        Ok(SigningKeyRecord {
            id,
            set_id: set.id.clone(),
            kid,
            alg: set.alg.clone(),
            state,
            public_jwk_json: serde_json::to_string(&jwk)
                .map_err(|e| Error::Internal(e.to_string()))?,
            sealed_private: Some(sealed),
            created_at_ms: now,
            activated_at_ms: (state == KeyState::Active).then_some(now),
            retired_at_ms: None,
            removed_at_ms: None,
            revoked_at_ms: None,
            revoke_reason: None,
            promote_at_ms: None,
        })
    }

    fn bump(set: &KeySetRecord, now: i64) -> KeyChange {
        KeyChange::UpdateSet {
            record: KeySetRecord {
                version: Version::new(set.version).next().get(),
                updated_at_ms: now,
                ..set.clone()
            },
            replaces: set.version,
        }
    }

    /// Creates a set and its first key, active at once: nobody can have cached a JWKS of a set
    /// that did not exist, so the first key needs no cache window.
    pub async fn create_set(
        &self,
        actor: &Actor,
        settings: &SetSettings,
    ) -> Result<KeySetView, Error> {
        let action = action::KEYS_CREATE_SET;
        let name = settings.name.trim().to_owned();
        // One target for the attempt and its outcome: the new set's id is chosen up front.
        let id = uuid::Uuid::new_v4().to_string();
        self.audit.run(actor, action, &Target::key_set(&id), async {
            check_name(&name)?;
            let alg = SigningAlg::parse(&settings.alg).ok_or_else(|| {
                Error::invalid(format!("algorithm {:?} is not offered: choose EdDSA, ES256 or RS256", settings.alg))
            })?;
            settings.timing.validate().map_err(Error::invalid)?;
            let now = now_ms();
            let set = KeySetRecord {
                id: id.clone(),
                name: name.clone(),
                alg: alg.label().to_owned(),
                rotation_period_s: settings.timing.rotation_period_s,
                cache_window_s: settings.timing.cache_window_s,
                max_token_lifetime_s: settings.timing.max_token_lifetime_s,
                leeway_s: settings.timing.leeway_s,
                auto_rotate: settings.auto_rotate,
                version: Version::FIRST.get(),
                created_at_ms: now,
                updated_at_ms: now,
            };
            let key = self.new_key(&set, KeyState::Active, now).await?;
            let details = json!({
                "alg": set.alg, "rotation_period_s": set.rotation_period_s,
                "cache_window_s": set.cache_window_s, "max_token_lifetime_s": set.max_token_lifetime_s,
                "leeway_s": set.leeway_s, "auto_rotate": set.auto_rotate, "first_key": key_json(&key),
            });
            self.commit(
                actor,
                action,
                &[KeyChange::InsertSet(set.clone()), KeyChange::InsertKey(key.clone())],
                &set,
                details,
            )
            .await?;
            Ok(KeySetView {
                jwks: jwks_of(std::slice::from_ref(&key))?,
                set,
                keys: vec![key],
            })
        })
        .await
    }

    /// Changes a set's timing and automatic rotation (its name and algorithm stay).
    pub async fn update_set(
        &self,
        actor: &Actor,
        id: &str,
        version: &str,
        timing: &SetTiming,
        auto_rotate: bool,
    ) -> Result<(), Error> {
        let action = action::KEYS_UPDATE_SET;
        self.audit.run(actor, action, &Target::key_set(id), async {
            let view = self.find(id, version).await?;
            timing.validate().map_err(Error::invalid)?;
            let old = &view.set;
            // A retired key is removed `lifetime + leeway` after its retirement: shortening that
            // now would drop it while tokens it signed under the old lifetime are still valid.
            let old_grace = in_flight_window_s(old.max_token_lifetime_s, old.leeway_s);
            let new_grace = in_flight_window_s(timing.max_token_lifetime_s, timing.leeway_s);
            if new_grace < old_grace {
                if let Some(k) = view.keys.iter().find(|k| k.state == KeyState::Retired) {
                    let safe = in_flight_until_ms(
                        k.retired_at_ms.unwrap_or(0),
                        old.max_token_lifetime_s,
                        old.leeway_s,
                    );
                    return Err(Error::Conflict(format!(
                        "key {} is retired and must stay published until {} (tokens it signed live up to {} + leeway); \
                         shorten the token lifetime or leeway after that",
                        k.kid.chars().take(10).collect::<String>(),
                        minute(safe),
                        super::lifecycle::span(old.max_token_lifetime_s)
                    )));
                }
            }
            let now = now_ms();
            let record = KeySetRecord {
                rotation_period_s: timing.rotation_period_s,
                cache_window_s: timing.cache_window_s,
                max_token_lifetime_s: timing.max_token_lifetime_s,
                leeway_s: timing.leeway_s,
                auto_rotate,
                version: Version::new(old.version).next().get(),
                updated_at_ms: now,
                ..old.clone()
            };
            let details = json!({
                "before": { "rotation_period_s": old.rotation_period_s, "cache_window_s": old.cache_window_s,
                            "max_token_lifetime_s": old.max_token_lifetime_s, "leeway_s": old.leeway_s, "auto_rotate": old.auto_rotate },
                "after": { "rotation_period_s": record.rotation_period_s, "cache_window_s": record.cache_window_s,
                           "max_token_lifetime_s": record.max_token_lifetime_s, "leeway_s": record.leeway_s, "auto_rotate": record.auto_rotate },
            });
            let change = KeyChange::UpdateSet { record, replaces: old.version };
            self.commit(actor, action, &[change], old, details).await
        })
        .await
    }

    /// Applies one lifecycle step to the set as it is now (`view` was read just before).
    async fn apply_step(
        &self,
        actor: &Actor,
        view: &KeySetView,
        step: &Step,
        why: &str,
        now: i64,
    ) -> Result<String, Error> {
        let set = &view.set;
        let manual = why == MANUAL;
        let key = |id: &str| {
            view.keys
                .iter()
                .find(|k| k.id == id)
                .cloned()
                .ok_or_else(|| Error::Internal(format!("key {id} vanished")))
        };
        match step {
            Step::CreateNext => {
                let mut next = self.new_key(set, KeyState::Next, now).await?;
                // "Rotate now" finishes by itself: the key takes over when its window ends.
                let takes_over = now + set.cache_window_s * 1000;
                if manual {
                    next.promote_at_ms = Some(takes_over);
                }
                let details = json!({ "step": step.kind(), "why": why, "key": key_json(&next),
                    "signs_from_earliest": chrono::DateTime::from_timestamp_millis(takes_over).map(|t| t.to_rfc3339()),
                    "takes_over_at": next.promote_at_ms.and_then(chrono::DateTime::from_timestamp_millis).map(|t| t.to_rfc3339()) });
                self.commit(
                    actor,
                    action::KEYS_CREATE_NEXT,
                    &[Self::bump(set, now), KeyChange::InsertKey(next.clone())],
                    set,
                    details,
                )
                .await?;
                Ok(if manual {
                    format!(
                        "key {} published as next; it takes over automatically at {} (after the cache window), once every enrolled gate serves it",
                        next.kid.chars().take(10).collect::<String>() + "…",
                        minute(takes_over)
                    )
                } else {
                    format!(
                        "key {} published as next; it can sign after the cache window",
                        next.kid
                    )
                })
            }
            Step::Promote { next_id, active_id } => {
                let next = key(next_id)?;
                let mut changes = vec![Self::bump(set, now)];
                let mut details = json!({ "step": step.kind(), "why": why, "activated": next.kid });
                if let Some(active_id) = active_id {
                    let active = key(active_id)?;
                    details["retired"] = json!(active.kid);
                    details["published_until"] = json!(chrono::DateTime::from_timestamp_millis(
                        in_flight_until_ms(now, set.max_token_lifetime_s, set.leeway_s)
                    )
                    .map(|t| t.to_rfc3339()));
                    changes.push(KeyChange::UpdateKey {
                        record: SigningKeyRecord {
                            state: KeyState::Retired,
                            retired_at_ms: Some(now),
                            ..active
                        },
                        from_state: KeyState::Active,
                    });
                }
                changes.push(KeyChange::UpdateKey {
                    record: SigningKeyRecord {
                        state: KeyState::Active,
                        activated_at_ms: Some(now),
                        ..next.clone()
                    },
                    from_state: KeyState::Next,
                });
                self.commit(actor, action::KEYS_PROMOTE, &changes, set, details)
                    .await?;
                Ok(format!("key {} is now active", next.kid))
            }
            Step::Remove { id } => {
                let k = key(id)?;
                let details = json!({ "step": step.kind(), "why": why, "key": key_json(&k) });
                let change = KeyChange::UpdateKey {
                    record: SigningKeyRecord {
                        state: KeyState::Removed,
                        removed_at_ms: Some(now),
                        sealed_private: None,
                        ..k.clone()
                    },
                    from_state: KeyState::Retired,
                };
                self.commit(
                    actor,
                    action::KEYS_REMOVE,
                    &[Self::bump(set, now), change],
                    set,
                    details,
                )
                .await?;
                Ok(format!("key {} removed from the JWKS", k.kid))
            }
        }
    }

    /// "Rotate now": publishes a next key, or promotes the next key once it has been published
    /// for the cache window. Concurrent calls with the same `version`: one wins, the rest 409.
    pub async fn rotate(&self, actor: &Actor, id: &str, version: &str) -> Result<String, Error> {
        let action = action::KEYS_ROTATE;
        self.audit
            .run(actor, action, &Target::key_set(id), async {
                let view = self.find(id, version).await?;
                let times: Vec<KeyTimes> = view.keys.iter().map(times_of).collect();
                let now = now_ms();
                let step =
                    manual_rotation_check(&timing_of(&view.set), &times, now).map_err(|m| {
                        match view
                            .keys
                            .iter()
                            .find(|k| k.state == KeyState::Next && k.promote_at_ms.is_some())
                        {
                            Some(k) => Error::Conflict(format!(
                        "a rotation is already under way: key {}… takes over automatically at {}",
                        k.kid.chars().take(10).collect::<String>(),
                        minute(k.promote_at_ms.unwrap_or(now))
                    )),
                            None => Error::Conflict(m),
                        }
                    })?;
                self.apply_step(actor, &view, &step, MANUAL, now).await
            })
            .await
    }

    /// Emergency revoke: the key leaves the JWKS at once and its private half is erased. If it
    /// was the active key, the next key takes over at once, or a new key is generated active.
    pub async fn revoke(
        &self,
        actor: &Actor,
        id: &str,
        version: &str,
        key_id: &str,
        reason: &str,
    ) -> Result<String, Error> {
        let action = action::KEYS_REVOKE;
        self.audit.run(actor, action, &Target::key_set(id), async {
            let reason = reason.trim();
            if reason.chars().count() < 10 {
                return Err(Error::invalid("say why the key is revoked (at least 10 characters); it goes into the audit log"));
            }
            let view = self.find(id, version).await?;
            let set = &view.set;
            let k = view
                .keys
                .iter()
                .find(|k| k.id == key_id || k.kid == key_id)
                .cloned()
                .ok_or_else(|| Error::invalid("this key is not in the set"))?;
            if !k.state.is_published() {
                return Err(Error::Conflict(format!("key {} is {} already", k.kid, k.state)));
            }
            let now = now_ms();
            let mut changes = vec![
                Self::bump(set, now),
                KeyChange::UpdateKey {
                    record: SigningKeyRecord {
                        state: KeyState::Revoked,
                        revoked_at_ms: Some(now),
                        revoke_reason: Some(reason.to_owned()),
                        sealed_private: None,
                        ..k.clone()
                    },
                    from_state: k.state,
                },
            ];
            let mut details = json!({ "key": key_json(&k), "reason": reason });
            let mut outcome = format!("key {} revoked and removed from the JWKS", k.kid);
            if k.state == KeyState::Active {
                let next = view.keys.iter().find(|x| x.state == KeyState::Next);
                let successor = match next {
                    Some(n) => {
                        changes.push(KeyChange::UpdateKey {
                            record: SigningKeyRecord {
                                state: KeyState::Active,
                                activated_at_ms: Some(now),
                                ..n.clone()
                            },
                            from_state: KeyState::Next,
                        });
                        n.kid.clone()
                    }
                    None => {
                        let fresh = self.new_key(set, KeyState::Active, now).await?;
                        changes.push(KeyChange::InsertKey(fresh.clone()));
                        fresh.kid
                    }
                };
                details["successor"] = json!(successor);
                outcome.push_str(&format!("; key {successor} signs from now on"));
            }
            self.commit(actor, action, &changes, set, details).await?;
            Ok(outcome)
        })
        .await
    }

    /// The background job's pass: every due step of every automatically rotated set (and the
    /// removal of expired retired keys of every set), each in its own transaction. Returns what was done; a failed step is logged and retried on the
    /// next pass (the job is idempotent: it recomputes the plan from the stored state).
    pub async fn run_due(&self, now: i64) -> Vec<Result<String, Error>> {
        let actor = Actor {
            name: "rotation job".into(),
            ip: None,
            user_agent: None,
        };
        let mut done = Vec::new();
        let sets = match self.store.key_sets().await {
            Ok(s) => s,
            Err(e) => return vec![Err(e.into())],
        };
        for set in sets {
            // One step at a time, re-reading the set after each, until nothing is due.
            for _ in 0..8 {
                let view = match self.get(&set.id).await {
                    Ok(v) => v,
                    Err(e) => {
                        done.push(Err(e));
                        break;
                    }
                };
                let times: Vec<KeyTimes> = view.keys.iter().map(times_of).collect();
                // A set rotated by hand still has its retired keys removed when their tokens expired.
                let Some(step) = due_steps(&timing_of(&view.set), &times, now)
                    .into_iter()
                    .find(|s| job_applies(view.set.auto_rotate, s, &times))
                else {
                    break;
                };
                // A next key signs only once every gate can verify what it signs.
                if let Step::Promote { next_id, .. } = &step {
                    let kid = view
                        .keys
                        .iter()
                        .find(|k| &k.id == next_id)
                        .map(|k| k.kid.clone());
                    if let Some(kid) = kid {
                        match self.serving(&kid).await {
                            Ok(s) if s.everywhere() => {}
                            Ok(s) => {
                                tracing::info!(set = %view.set.name, kid = %kid, behind = ?s.behind,
                                    "promotion waits until every gate serves the next key");
                                break;
                            }
                            Err(e) => {
                                done.push(Err(e));
                                break;
                            }
                        }
                    }
                }
                let r = self
                    .apply_step(&actor, &view, &step, "scheduled rotation", now)
                    .await;
                let failed = r.is_err();
                done.push(r.map(|m| format!("{}: {m}", view.set.name)));
                if failed {
                    break;
                }
            }
        }
        done
    }
}

/// Which due steps the rotation job applies: all of them for an automatically rotated set; for a
/// set rotated by hand, the removal of expired retired keys and the promotion a "Rotate now"
/// asked for.
fn job_applies(auto_rotate: bool, step: &Step, keys: &[KeyTimes]) -> bool {
    auto_rotate
        || match step {
            Step::Remove { .. } => true,
            Step::Promote { next_id, .. } => keys
                .iter()
                .any(|k| &k.id == next_id && k.promote_at_ms.is_some()),
            Step::CreateNext => false,
        }
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "the key set name must be 1–64 letters, digits, '-', '_' or '.' (e.g. access-tokens)",
        ))
    }
}

/// `YYYY-MM-DD HH:MM UTC`, as the pages show instants.
fn minute(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// A step of the rotation job's plan, for the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub at_ms: i64,
    pub step: PlanStep,
    /// The key concerned (the next key for `promote`); empty for a key not created yet.
    pub key_id: String,
    pub description: String,
}

/// The next steps the rotation job will take for this set, found by running [`due_steps`] (the
/// job's own rule) over a projection of the set's keys at each instant a rule can fire.
pub fn plan(view: &KeySetView) -> Vec<Planned> {
    plan_at(view, now_ms())
}

pub fn plan_at(view: &KeySetView, now: i64) -> Vec<Planned> {
    let timing = timing_of(&view.set);
    let mut keys: Vec<KeyTimes> = view.keys.iter().map(times_of).collect();
    let kid_of = |id: &str| {
        view.keys
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.kid.chars().take(10).collect::<String>() + "…")
            .unwrap_or_else(|| "the new key".to_owned())
    };
    let mut out = Vec::new();
    let mut t = now;
    for round in 0..12 {
        if out.len() >= 4 {
            break;
        }
        // The instants at which a rule of `due_steps` can change its answer (and, first, now).
        let mut candidates: Vec<i64> = if round == 0 { vec![t] } else { Vec::new() };
        for k in &keys {
            match k.state {
                KeyState::Active => {
                    let since = k.activated_at_ms.unwrap_or(k.created_at_ms);
                    candidates
                        .push(since + (timing.rotation_period_s - timing.cache_window_s) * 1000);
                    candidates.push(since + timing.rotation_period_s * 1000);
                }
                KeyState::Next => {
                    candidates.push(k.created_at_ms + timing.cache_window_s * 1000);
                    candidates.extend(k.promote_at_ms);
                }
                KeyState::Retired => {
                    if let Some(r) = k.retired_at_ms {
                        candidates.push(in_flight_until_ms(
                            r,
                            timing.max_token_lifetime_s,
                            timing.leeway_s,
                        ));
                    }
                }
                _ => {}
            }
        }
        let Some(at) = candidates.into_iter().filter(|c| *c >= t).min() else {
            break;
        };
        let steps: Vec<Step> = due_steps(&timing, &keys, at)
            .into_iter()
            .filter(|s| job_applies(view.set.auto_rotate, s, &keys))
            .collect();
        if steps.is_empty() {
            t = at + 1;
            continue;
        }
        for step in steps {
            match &step {
                Step::CreateNext => {
                    let id = format!("planned-{round}");
                    out.push(Planned {
                        at_ms: at,
                        step: step.kind(),
                        key_id: String::new(),
                        description: format!(
                            "a new key is generated and published as next; it can sign from {}",
                            minute(at + timing.cache_window_s * 1000)
                        ),
                    });
                    keys.push(KeyTimes {
                        id,
                        state: KeyState::Next,
                        created_at_ms: at,
                        activated_at_ms: None,
                        retired_at_ms: None,
                        promote_at_ms: None,
                    });
                }
                Step::Promote { next_id, active_id } => {
                    out.push(Planned {
                        at_ms: at,
                        step: step.kind(),
                        key_id: if next_id.starts_with("planned-") {
                            String::new()
                        } else {
                            next_id.clone()
                        },
                        description: match active_id {
                            Some(a) => format!(
                                "{} becomes active; {} is retired (published {} more)",
                                kid_of(next_id),
                                kid_of(a),
                                super::lifecycle::span(in_flight_window_s(
                                    timing.max_token_lifetime_s,
                                    timing.leeway_s
                                ))
                            ),
                            None => format!("{} becomes active", kid_of(next_id)),
                        },
                    });
                    for k in keys.iter_mut() {
                        if Some(&k.id) == active_id.as_ref() {
                            k.state = KeyState::Retired;
                            k.retired_at_ms = Some(at);
                        } else if &k.id == next_id {
                            k.state = KeyState::Active;
                            k.activated_at_ms = Some(at);
                        }
                    }
                }
                Step::Remove { id } => {
                    out.push(Planned {
                        at_ms: at,
                        step: step.kind(),
                        key_id: id.clone(),
                        description: format!(
                            "{} leaves the JWKS (every token it signed has expired) and its private key is erased",
                            kid_of(id)
                        ),
                    });
                    for k in keys.iter_mut().filter(|k| &k.id == id) {
                        k.state = KeyState::Removed;
                    }
                }
            }
        }
        t = at + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opened_private_key_must_be_the_published_one() {
        let mk = MasterKey::generate();
        let alg = SigningAlg::EdDSA;
        let gen = || crate::certs::generate_key(alg.key_type()).expect("key");
        let (a, b) = (gen(), gen());
        let kid = super::super::jwk::thumbprint(&public_jwk(alg, &a.spki_der).expect("jwk"))
            .expect("thumbprint");
        let mut rec = view(false).keys.remove(0);
        rec.kid = kid;
        rec.sealed_private = Some(mk.seal(Sealed::SigningKey, &rec.id, a.pkcs8.expose_secret()));
        assert!(open_private(&mk, &rec).is_ok());
        // Another key sealed for the same row (a restore that mixed rows, a bug): refused.
        rec.sealed_private = Some(mk.seal(Sealed::SigningKey, &rec.id, b.pkcs8.expose_secret()));
        let e = open_private(&mk, &rec).expect_err("refused");
        assert!(e.to_string().contains("not the published key"), "{e}");
    }

    fn view(auto_rotate: bool) -> KeySetView {
        let set = KeySetRecord {
            id: "s".into(),
            name: "access-tokens".into(),
            alg: "EdDSA".into(),
            rotation_period_s: 90 * 86_400,
            cache_window_s: 3600,
            max_token_lifetime_s: 900,
            leeway_s: 60,
            auto_rotate,
            version: 1,
            created_at_ms: 0,
            updated_at_ms: 0,
        };
        let key = SigningKeyRecord {
            id: "k1".into(),
            set_id: "s".into(),
            kid: "kid-one-abcdef".into(),
            alg: "EdDSA".into(),
            state: KeyState::Active,
            public_jwk_json: "{}".into(),
            sealed_private: Some(vec![1]),
            created_at_ms: 0,
            activated_at_ms: Some(0),
            retired_at_ms: None,
            removed_at_ms: None,
            revoked_at_ms: None,
            revoke_reason: None,
            promote_at_ms: None,
        };
        KeySetView {
            set,
            keys: vec![key],
            jwks: JwkSet::default(),
        }
    }

    #[test]
    fn the_plan_is_the_jobs_own_schedule_of_one_full_rotation() {
        let day = 86_400_000;
        let p = plan_at(&view(true), 1000);
        let steps: Vec<(PlanStep, i64)> = p.iter().map(|s| (s.step, s.at_ms)).collect();
        assert_eq!(
            &steps[..3],
            &[
                (PlanStep::CreateNext, 90 * day - 3_600_000),
                (PlanStep::Promote, 90 * day),
                (PlanStep::Remove, 90 * day + 960_000),
            ]
        );
        assert_eq!(p[2].key_id, "k1");
        // A set rotated by hand: the job only removes expired retired keys, so nothing is planned.
        assert!(plan_at(&view(false), 1000).is_empty());
    }
}
