//! [`KeyStore`] and signing-key rotation on it: the schema holds "one active, at most one next
//! key per set"; version and state guards; a simulated half year of automatic rotation keeps
//! every invariant at every tick (one active key, next published a cache window before it
//! signs, retired keys published until their tokens expired, every JWKS kid resolving to a
//! sealed key that opens); a crash before or after any step's commit is resumed by the next
//! pass with nothing lost or doubled. PostgreSQL-only: two replicas running the job at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use domain::audit::{Actor, AuditDraft, Outcome};
use domain::audited::Audit;
use domain::keys::lifecycle::SetTiming;
use domain::keys::service::{jwks_of, KeysService, SetSettings};
use domain::keys::KeyState;
use domain::ports::keys::{KeyChange, KeySetRecord, KeyStore, SigningKeyRecord};
use domain::ports::{Store, StoreError};
use domain::seal::MasterKey;
use store::SqlStore;
use uuid::Uuid;

use crate::support::{draft, TestBackend};

const HOUR: i64 = 3_600_000;

fn timing() -> SetTiming {
    SetTiming {
        rotation_period_s: 30 * 86_400,
        cache_window_s: 6 * 3600,
        max_token_lifetime_s: 3600,
        leeway_s: 60,
    }
}

fn settings(alg: &str) -> SetSettings {
    SetSettings {
        name: "access-tokens".into(),
        alg: alg.into(),
        timing: timing(),
        auto_rotate: true,
    }
}

pub fn key_set(id: &str, name: &str) -> KeySetRecord {
    let t = timing();
    KeySetRecord {
        id: id.into(),
        name: name.into(),
        alg: "EdDSA".into(),
        rotation_period_s: t.rotation_period_s,
        cache_window_s: t.cache_window_s,
        max_token_lifetime_s: t.max_token_lifetime_s,
        leeway_s: t.leeway_s,
        auto_rotate: true,
        version: 1,
        created_at_ms: 1,
        updated_at_ms: 1,
    }
}

/// A key record of `state` (sealed bytes stand in for a real key: the store does not open them).
pub fn signing_key(set_id: &str, state: &str) -> SigningKeyRecord {
    let id = Uuid::new_v4().to_string();
    let state = KeyState::parse(state).expect("a key state");
    let published = state.is_published();
    SigningKeyRecord {
        kid: format!("kid-{id}"),
        sealed_private: published.then(|| id.as_bytes().to_vec()),
        id,
        set_id: set_id.into(),
        alg: "EdDSA".into(),
        state,
        public_jwk_json: "{}".into(),
        created_at_ms: 1,
        activated_at_ms: (state == KeyState::Active).then_some(1),
        retired_at_ms: (state == KeyState::Retired).then_some(2),
        removed_at_ms: None,
        revoked_at_ms: None,
        revoke_reason: None,
        promote_at_ms: None,
    }
}

/// The keys service as the console builds it: refusals recorded in the same audit chain.
fn service(keys: Arc<dyn KeyStore>, log: Arc<SqlStore>, master: &Arc<MasterKey>) -> KeysService {
    KeysService::new(keys, master.clone(), Audit::new(log))
}

/// QUALITY.md "No half state": checked on the stored rows, not on what the service says.
async fn assert_invariants(
    store: &dyn KeyStore,
    set_id: &str,
    key: &MasterKey,
) -> Vec<SigningKeyRecord> {
    let keys = store.signing_keys(set_id).await.expect("keys");
    let count = |s: KeyState| keys.iter().filter(|k| k.state == s).count();
    assert_eq!(
        count(KeyState::Active),
        1,
        "exactly one active key: {keys:#?}"
    );
    assert!(count(KeyState::Next) <= 1, "at most one next key");
    for k in &keys {
        let published = k.state.is_published();
        assert_eq!(k.sealed_private.is_some(), published, "{k:?}");
        if let Some(sealed) = &k.sealed_private {
            let pkcs8 = key
                .open(domain::seal::Sealed::SigningKey, &k.id, sealed)
                .expect("every published key opens");
            domain::certs::load_pkcs8(&pkcs8).expect("and is a usable private key");
        }
    }
    let jwks = jwks_of(&keys).expect("jwks");
    assert_eq!(
        jwks.keys.len(),
        keys.iter()
            .filter(|k| matches!(k.state.as_str(), "next" | "active" | "retired"))
            .count()
    );
    for j in &jwks.keys {
        let kid = j.kid.as_deref().expect("kid");
        let k = keys
            .iter()
            .find(|k| k.kid == kid)
            .expect("every JWKS kid resolves to a stored key");
        assert_eq!(
            domain::keys::thumbprint(j).expect("thumbprint"),
            k.kid,
            "kid = RFC 7638 thumbprint"
        );
    }
    keys
}

/// The actions of the chain's successful events, oldest first.
async fn successes(db: &TestBackend) -> Vec<String> {
    let mut events = db.recent_audit(10_000).await.expect("audit");
    events.reverse();
    events
        .into_iter()
        .filter(|e| e.outcome == Outcome::Success)
        .map(|e| e.action)
        .collect()
}

/// The states of a set's keys in creation order, e.g. `["removed", "retired", "active"]`.
fn shape(keys: &[SigningKeyRecord]) -> Vec<String> {
    keys.iter().map(|k| k.state.as_str().to_owned()).collect()
}

/// What a simulated stretch of rotation did.
#[derive(Debug, PartialEq)]
struct Rotation {
    promotions: usize,
    removals: usize,
}

/// Runs the rotation job every 2 hours from `from` to `to` (days after `t0`), checking the
/// invariants after every tick, and that a next key signs only after the cache window and a
/// retired key stays published until its tokens expired + leeway. Every step must apply.
async fn rotate_every_two_hours(
    store: &dyn KeyStore,
    svc: &KeysService,
    set_id: &str,
    master: &MasterKey,
    t0: i64,
    (from, to): (i64, i64),
) -> Rotation {
    let t = timing();
    let mut promotions = 0;
    let mut removals = 0;
    let mut last: Vec<SigningKeyRecord> = assert_invariants(store, set_id, master).await;
    for tick in (from * 12 + 1)..=(to * 12) {
        let now = t0 + tick * 2 * HOUR;
        for r in svc.run_due(now).await {
            r.expect("every due step applies");
        }
        let keys = assert_invariants(store, set_id, master).await;
        for k in &keys {
            let before = last.iter().find(|o| o.id == k.id);
            if k.state == KeyState::Active && before.is_some_and(|b| b.state == KeyState::Next) {
                promotions += 1;
                assert!(
                    k.activated_at_ms.expect("activated") - k.created_at_ms
                        >= t.cache_window_s * 1000,
                    "a next key signs only after the cache window"
                );
            }
            if k.state == KeyState::Removed && before.is_some_and(|b| b.state == KeyState::Retired)
            {
                removals += 1;
                let retired = k.retired_at_ms.expect("retired at");
                assert!(
                    k.removed_at_ms.expect("removed at") - retired
                        >= (t.max_token_lifetime_s + t.leeway_s) * 1000,
                    "a retired key stays published until its tokens expired + leeway"
                );
            }
        }
        last = keys;
    }
    Rotation {
        promotions,
        removals,
    }
}

store_test!(the_schema_allows_one_active_and_one_next_key_per_set);
/// Whatever the code above it does, the database refuses a second active or next key in a set
/// (`Duplicate` in signing_keys) and a key of an unknown set (`InUse` in signing_keys); a
/// refused batch writes nothing, its event included.
async fn the_schema_allows_one_active_and_one_next_key_per_set(db: &TestBackend) {
    db.apply_key_changes(
        &[
            KeyChange::InsertSet(key_set("a", "set-a")),
            KeyChange::InsertKey(signing_key("a", "active")),
            KeyChange::InsertSet(key_set("b", "set-b")),
            KeyChange::InsertKey(signing_key("b", "active")),
            KeyChange::InsertKey(signing_key("a", "next")),
        ],
        draft("keys.create_set"),
    )
    .await
    .expect("one active per set, one next");
    for state in ["active", "next"] {
        let second = db
            .apply_key_changes(
                &[
                    KeyChange::InsertKey(signing_key("b", "next")),
                    KeyChange::InsertKey(signing_key("a", state)),
                ],
                draft("keys.insert"),
            )
            .await;
        assert!(
            matches!(
                second,
                Err(StoreError::Duplicate {
                    table: "signing_keys",
                    ..
                })
            ),
            "a second {state} key: {second:?}"
        );
    }
    let orphan = db
        .apply_key_changes(
            &[KeyChange::InsertKey(signing_key("nope", "next"))],
            draft("keys.insert"),
        )
        .await;
    assert!(
        matches!(
            orphan,
            Err(StoreError::InUse {
                table: "signing_keys",
                ..
            })
        ),
        "{orphan:?}"
    );
    let states = |keys: Vec<SigningKeyRecord>| {
        let mut states: Vec<_> = keys.into_iter().map(|k| k.state.as_str()).collect();
        states.sort();
        states
    };
    assert_eq!(
        states(db.signing_keys("a").await.expect("keys")),
        ["active", "next"]
    );
    assert_eq!(
        states(db.signing_keys("b").await.expect("keys")),
        ["active"],
        "nothing of a refused batch is written"
    );
    db.assert_audit(&["keys.create_set"]).await;
}

store_test!(stale_set_versions_and_key_states_lose_with_conflict);
/// A set update from an old version, or a key update from a state the key has left, is a
/// `Conflict` that undoes its whole batch; a taken set name is `Duplicate` in key_sets.
async fn stale_set_versions_and_key_states_lose_with_conflict(db: &TestBackend) {
    let set = key_set("a", "set-a");
    let active = signing_key("a", "active");
    let next = SigningKeyRecord {
        created_at_ms: 2,
        ..signing_key("a", "next")
    };
    db.apply_key_changes(
        &[
            KeyChange::InsertSet(set.clone()),
            KeyChange::InsertKey(active.clone()),
            KeyChange::InsertKey(next.clone()),
        ],
        draft("keys.create_set"),
    )
    .await
    .expect("set");
    let v2 = KeySetRecord {
        version: 2,
        leeway_s: 120,
        updated_at_ms: 2,
        ..set.clone()
    };
    let retired = SigningKeyRecord {
        state: KeyState::Retired,
        retired_at_ms: Some(2),
        ..active.clone()
    };
    let promoted = SigningKeyRecord {
        state: KeyState::Active,
        activated_at_ms: Some(2),
        ..next.clone()
    };
    let promote = |replaces: i64, from_state: KeyState| {
        vec![
            KeyChange::UpdateSet {
                record: KeySetRecord {
                    version: replaces + 1,
                    ..v2.clone()
                },
                replaces,
            },
            KeyChange::UpdateKey {
                record: retired.clone(),
                from_state: KeyState::Active,
            },
            KeyChange::UpdateKey {
                record: promoted.clone(),
                from_state,
            },
        ]
    };
    let r = db
        .apply_key_changes(&promote(1, KeyState::Retired), draft("keys.promote"))
        .await;
    assert!(
        matches!(r, Err(StoreError::Conflict(_))),
        "stale state: {r:?}"
    );
    assert_eq!(db.key_sets().await.expect("sets"), vec![set.clone()]);
    assert_eq!(
        db.signing_keys("a").await.expect("keys"),
        vec![active.clone(), next.clone()],
        "nothing of the refused batch is written"
    );
    db.apply_key_changes(&promote(1, KeyState::Next), draft("keys.promote"))
        .await
        .expect("promote");
    let stored = db.signing_keys("a").await.expect("keys");
    assert_eq!(stored, vec![retired, promoted]);
    let r = db
        .apply_key_changes(
            &[KeyChange::UpdateSet {
                record: KeySetRecord {
                    version: 3,
                    ..set.clone()
                },
                replaces: 1,
            }],
            draft("keys.update_set"),
        )
        .await;
    assert!(
        matches!(r, Err(StoreError::Conflict(_))),
        "stale set: {r:?}"
    );
    assert_eq!(db.key_sets().await.expect("sets")[0].version, 2);
    let r = db
        .apply_key_changes(
            &[KeyChange::InsertSet(key_set("b", "set-a"))],
            draft("keys.create_set"),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::Duplicate {
                table: "key_sets",
                ..
            })
        ),
        "{r:?}"
    );
    db.assert_audit(&["keys.create_set", "keys.promote"]).await;
}

store_test!(a_key_set_is_found_by_id_or_by_name);
/// The keys page and the CLI name a set by id or by name; an id wins over another set whose
/// name happens to equal it.
async fn a_key_set_is_found_by_id_or_by_name(db: &TestBackend) {
    let alpha = key_set("x", "alpha");
    let tricky = key_set("y", "x");
    db.apply_key_changes(
        &[
            KeyChange::InsertSet(tricky.clone()),
            KeyChange::InsertSet(alpha.clone()),
        ],
        draft("keys.create_set"),
    )
    .await
    .expect("sets");
    assert_eq!(db.key_set("x").await.expect("by id"), Some(alpha.clone()));
    assert_eq!(db.key_set("alpha").await.expect("by name"), Some(alpha));
    assert_eq!(db.key_set("y").await.expect("by id"), Some(tricky));
    assert_eq!(db.key_set("nope").await.expect("missing"), None);
    db.assert_audit(&["keys.create_set"]).await;
}

store_test!(key_sets_are_listed_by_name_in_byte_order);
/// "B", "a", "Z" list as "B", "Z", "a" on both databases, whatever PostgreSQL's locale.
async fn key_sets_are_listed_by_name_in_byte_order(db: &TestBackend) {
    db.apply_key_changes(
        &[
            KeyChange::InsertSet(key_set("s1", "B")),
            KeyChange::InsertSet(key_set("s2", "a")),
            KeyChange::InsertSet(key_set("s3", "Z")),
        ],
        draft("keys.create_set"),
    )
    .await
    .expect("sets");
    let names: Vec<_> = db
        .key_sets()
        .await
        .expect("sets")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["B", "Z", "a"]);
    db.assert_audit(&["keys.create_set"]).await;
}

store_test!(half_a_year_of_automatic_rotation_keeps_every_invariant);
/// 75 days at a 30-day period: promoted at ~30 and ~60 days, each old key removed after; by
/// 180 days 5 or 6 promotions, every retired key but the newest removed. Every step audited.
async fn half_a_year_of_automatic_rotation_keeps_every_invariant(db: &TestBackend) {
    let store = db.store();
    let master = Arc::new(MasterKey::generate());
    let svc = service(store.clone(), store.clone(), &master);
    let view = svc
        .create_set(&Actor::system(), &settings("ES256"))
        .await
        .expect("create");
    let (set_id, t0) = (view.set.id.clone(), view.set.created_at_ms);
    let first = rotate_every_two_hours(&*store, &svc, &set_id, &master, t0, (0, 75)).await;
    assert_eq!(
        first,
        Rotation {
            promotions: 2,
            removals: 2
        }
    );
    let rest = rotate_every_two_hours(&*store, &svc, &set_id, &master, t0, (75, 180)).await;
    let promotions = first.promotions + rest.promotions;
    let removals = first.removals + rest.removals;
    assert!((5..=6).contains(&promotions), "{promotions} promotions");
    assert!(removals >= promotions - 1, "{removals} removals");
    let events = db.recent_audit(10_000).await.expect("audit");
    assert!(events.iter().all(|e| e.outcome == Outcome::Success));
    // Each step audited exactly once: the create, every next key, promotion and removal.
    let keys = db.signing_keys(&set_id).await.expect("keys");
    let count = |action: &str| events.iter().filter(|e| e.action == action).count();
    assert_eq!(count("keys.create_set"), 1);
    assert_eq!(count("keys.create_next"), keys.len() - 1);
    assert_eq!(count("keys.promote"), promotions);
    assert_eq!(count("keys.remove"), removals);
    assert_eq!(
        events.len(),
        keys.len() + promotions + removals,
        "{:?}",
        db.audit_actions().await
    );
    assert_eq!(
        db.verify_audit(None).await.expect("verify"),
        Ok(events.len() as i64)
    );
}

/// A store that "crashes" on its `n`-th batch: before the commit (nothing written) or after it
/// (written, but the caller never hears back).
struct Crashing {
    inner: Arc<SqlStore>,
    calls: AtomicUsize,
    crash_at: usize,
    after_commit: bool,
}

#[async_trait]
impl KeyStore for Crashing {
    async fn apply_key_changes(
        &self,
        changes: &[KeyChange],
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n == self.crash_at {
            if self.after_commit {
                self.inner.apply_key_changes(changes, event).await?;
            }
            return Err(StoreError::Unavailable("simulated crash".into()));
        }
        self.inner.apply_key_changes(changes, event).await
    }
    async fn key_sets(&self) -> Result<Vec<KeySetRecord>, StoreError> {
        self.inner.key_sets().await
    }
    async fn key_set(&self, id_or_name: &str) -> Result<Option<KeySetRecord>, StoreError> {
        self.inner.key_set(id_or_name).await
    }
    async fn signing_keys(&self, set_id: &str) -> Result<Vec<SigningKeyRecord>, StoreError> {
        self.inner.signing_keys(set_id).await
    }
}

store_test!(a_crash_before_or_after_any_rotation_step_is_resumed_by_the_next_pass);
/// For each of the three steps of a rotation, a crash just before or just after its commit,
/// then a restart: the resumed job reaches the same keys as a run without crashes, and running
/// it again changes nothing. Each crash runs on a fresh database of the same dialect.
async fn a_crash_before_or_after_any_rotation_step_is_resumed_by_the_next_pass(db: &TestBackend) {
    let t = timing();
    // The instants of one full rotation: next published, promoted, old key removed.
    let offsets = [
        t.rotation_period_s * 1000 - t.cache_window_s * 1000,
        t.rotation_period_s * 1000,
        t.rotation_period_s * 1000 + (t.max_token_lifetime_s + t.leeway_s) * 1000,
    ];
    let reference = {
        let master = Arc::new(MasterKey::generate());
        let svc = service(db.store(), db.store(), &master);
        let v = svc
            .create_set(&Actor::system(), &settings("EdDSA"))
            .await
            .expect("create");
        for o in offsets {
            for r in svc.run_due(v.set.created_at_ms + o).await {
                r.expect("step");
            }
        }
        shape(&assert_invariants(&**db, &v.set.id, &master).await)
    };
    assert_eq!(reference, ["removed", "active"]);

    // Batch 0 is create_set; batches 1..=3 are the three steps.
    for crash_at in 1..=3 {
        for after_commit in [false, true] {
            let fresh = TestBackend::create(db.dialect()).await;
            let master = Arc::new(MasterKey::generate());
            let crashing = Arc::new(Crashing {
                inner: fresh.store(),
                calls: AtomicUsize::new(0),
                crash_at,
                after_commit,
            });
            let svc = service(crashing, fresh.store(), &master);
            let v = svc
                .create_set(&Actor::system(), &settings("EdDSA"))
                .await
                .expect("create");
            let mut crashed_at = None;
            for o in offsets {
                let results = svc.run_due(v.set.created_at_ms + o).await;
                if results.iter().any(Result::is_err) {
                    crashed_at = Some(o);
                    break;
                }
            }
            let crashed_at = crashed_at.expect("the crash happened");
            drop(svc);
            // "Restart": a new store and service over the same database.
            let reopened = Arc::new(fresh.open().await);
            assert_invariants(&*reopened, &v.set.id, &master).await;
            let svc = service(reopened.clone(), reopened.clone(), &master);
            for o in offsets.into_iter().filter(|o| *o >= crashed_at) {
                for r in svc.run_due(v.set.created_at_ms + o).await {
                    r.expect("the resumed pass applies");
                }
            }
            assert!(
                svc.run_due(v.set.created_at_ms + offsets[2])
                    .await
                    .is_empty(),
                "running again changes nothing: the job is idempotent"
            );
            let keys = assert_invariants(&*reopened, &v.set.id, &master).await;
            let case = format!("crash at batch {crash_at}, after commit: {after_commit}");
            assert_eq!(shape(&keys), reference, "{case}");
            // Create plus three steps, each applied and audited once, the crashed one
            // included (a refusal the service records besides is not a step).
            assert_eq!(
                successes(&fresh).await,
                [
                    "keys.create_set",
                    "keys.create_next",
                    "keys.promote",
                    "keys.remove"
                ],
                "{case}"
            );
            assert!(
                reopened.verify_audit(None).await.expect("verify").is_ok(),
                "{case}"
            );
        }
    }
}

store_test!(the_token_lifetime_cannot_shrink_under_a_retired_key_that_still_covers_tokens);
/// Shortening the token lifetime while a retired key still covers tokens issued under the old
/// one is refused without bumping the version; lengthening it is accepted.
async fn the_token_lifetime_cannot_shrink_under_a_retired_key_that_still_covers_tokens(
    db: &TestBackend,
) {
    let master = Arc::new(MasterKey::generate());
    let svc = service(db.store(), db.store(), &master);
    let actor = Actor::system();
    let v = svc
        .create_set(&actor, &settings("EdDSA"))
        .await
        .expect("create");
    let t = timing();
    // Publish and promote: the first key is retired at the period.
    for o in [
        t.rotation_period_s * 1000 - t.cache_window_s * 1000,
        t.rotation_period_s * 1000,
    ] {
        for r in svc.run_due(v.set.created_at_ms + o).await {
            r.expect("step");
        }
    }
    let set = svc.get("access-tokens").await.expect("set");
    assert!(set.keys.iter().any(|k| k.state == KeyState::Retired));
    let shorter = SetTiming {
        max_token_lifetime_s: 600,
        ..t
    };
    let err = svc
        .update_set(
            &actor,
            &set.set.id,
            &set.set.version.to_string(),
            &shorter,
            true,
        )
        .await
        .expect_err("refused while a retired key is published");
    assert!(matches!(err, domain::Error::Conflict(_)), "{err}");
    assert!(
        err.to_string().contains("must stay published until"),
        "{err}"
    );
    let longer = SetTiming {
        max_token_lifetime_s: 7200,
        ..t
    };
    svc.update_set(
        &actor,
        &set.set.id,
        &(set.set.version + 1).to_string(),
        &longer,
        true,
    )
    .await
    .map_err(|e| e.to_string())
    .expect_err("the refusal did not bump the version: the old version is still current");
    svc.update_set(
        &actor,
        &set.set.id,
        &set.set.version.to_string(),
        &longer,
        true,
    )
    .await
    .expect("longer lifetime accepted");
    let stored = db.key_sets().await.expect("sets");
    assert_eq!(stored[0].max_token_lifetime_s, 7200);
    assert_invariants(&**db, &set.set.id, &master).await;
    assert!(db.verify_audit(None).await.expect("verify").is_ok());
}

store_test!(rotate_now_finishes_by_itself_when_the_cache_window_ends_even_on_a_manual_set);
/// "Rotate now" on a manually rotated set publishes a next key that the job promotes exactly
/// when its cache window ends; pressing again meanwhile says it is under way; the job creates
/// no further next key on a manual set.
async fn rotate_now_finishes_by_itself_when_the_cache_window_ends_even_on_a_manual_set(
    db: &TestBackend,
) {
    let master = Arc::new(MasterKey::generate());
    let svc = service(db.store(), db.store(), &master);
    let actor = Actor::system();
    let manual = SetSettings {
        auto_rotate: false,
        ..settings("EdDSA")
    };
    let v = svc.create_set(&actor, &manual).await.expect("create");
    let message = svc
        .rotate(&actor, &v.set.id, &v.set.version.to_string())
        .await
        .expect("rotate now");
    assert!(message.contains("takes over automatically"), "{message}");
    let keys = db.signing_keys(&v.set.id).await.expect("keys");
    let next = keys
        .iter()
        .find(|k| k.state == KeyState::Next)
        .expect("next key")
        .clone();
    let at = next.promote_at_ms.expect("promotion requested");
    assert_eq!(at, next.created_at_ms + timing().cache_window_s * 1000);
    let again = svc
        .rotate(&actor, &v.set.id, &(v.set.version + 1).to_string())
        .await;
    assert!(again
        .expect_err("under way")
        .to_string()
        .contains("already under way"));
    assert!(svc.run_due(at - 1).await.is_empty());
    for r in svc.run_due(at).await {
        r.expect("promotion");
    }
    let keys = assert_invariants(&**db, &v.set.id, &master).await;
    assert_eq!(
        keys.iter().find(|k| k.id == next.id).map(|k| k.state),
        Some(KeyState::Active)
    );
    assert_eq!(
        keys.iter().filter(|k| k.state == KeyState::Retired).count(),
        1
    );
    assert!(svc
        .run_due(at + 100 * 86_400_000)
        .await
        .iter()
        .all(|r| r.as_ref().is_ok_and(|m| m.contains("removed"))));
    assert!(db.verify_audit(None).await.expect("verify").is_ok());
}

postgres_test!(two_replicas_running_the_rotation_job_at_once_keep_every_invariant);
/// PostgreSQL only: two console replicas (two pools) run the rotation job at the same
/// instants; each step applies exactly once, the loser gets `Conflict` and catches up. An
/// SQLite database has one console process and one job.
async fn two_replicas_running_the_rotation_job_at_once_keep_every_invariant(db: &TestBackend) {
    let stores = [db.store(), Arc::new(db.open().await)];
    let master = Arc::new(MasterKey::generate());
    let services = [
        service(stores[0].clone(), stores[0].clone(), &master),
        service(stores[1].clone(), stores[1].clone(), &master),
    ];
    let view = services[0]
        .create_set(&Actor::system(), &settings("EdDSA"))
        .await
        .expect("create");
    let t = timing();
    let t0 = view.set.created_at_ms;
    let mut applied = 0;
    for o in [
        t.rotation_period_s * 1000 - t.cache_window_s * 1000,
        t.rotation_period_s * 1000,
        t.rotation_period_s * 1000 + (t.max_token_lifetime_s + t.leeway_s) * 1000,
    ] {
        let (a, b) = tokio::join!(services[0].run_due(t0 + o), services[1].run_due(t0 + o));
        for r in a.iter().chain(b.iter()) {
            match r {
                Ok(_) => applied += 1,
                Err(domain::Error::Store(StoreError::Conflict(_)) | domain::Error::Conflict(_)) => {
                }
                Err(e) => panic!("a concurrent step may only lose with Conflict: {e}"),
            }
        }
        assert_invariants(&*stores[0], &view.set.id, &master).await;
        // Whoever lost catches up on its next pass: nothing is left due.
        for svc in &services {
            for r in svc.run_due(t0 + o).await {
                r.expect("catch-up step");
                applied += 1;
            }
        }
    }
    assert_eq!(applied, 3, "each step applied exactly once");
    let keys = assert_invariants(&*stores[1], &view.set.id, &master).await;
    assert_eq!(shape(&keys), ["removed", "active"]);
    assert_eq!(
        successes(db).await,
        [
            "keys.create_set",
            "keys.create_next",
            "keys.promote",
            "keys.remove"
        ],
        "create + three steps, nothing for the losers"
    );
    assert!(stores[1].verify_audit(None).await.expect("verify").is_ok());
}

/// Gates as the rotation job sees them: the names of those that hold a kid and those behind.
struct FakeGates(std::sync::Mutex<domain::keys::service::Serving>);

#[async_trait]
impl domain::keys::service::KeyServing for FakeGates {
    async fn serving(&self, _kid: &str) -> Result<domain::keys::service::Serving, domain::Error> {
        Ok(self.0.lock().expect("lock").clone())
    }
}

store_test!(a_next_key_takes_over_only_once_every_gate_serves_it);
/// The rotation job promotes a due next key only when every enrolled gate runs a bundle that
/// holds it: with one gate behind, the key stays next past its promotion time; once that gate
/// serves it, the next pass promotes it.
async fn a_next_key_takes_over_only_once_every_gate_serves_it(db: &TestBackend) {
    let master = Arc::new(MasterKey::generate());
    let gates = Arc::new(FakeGates(std::sync::Mutex::new(
        domain::keys::service::Serving {
            serving: vec!["edge-1".into()],
            behind: vec!["edge-2".into()],
        },
    )));
    let svc = service(db.store(), db.store(), &master).with_serving(gates.clone());
    let actor = Actor::system();
    let manual = SetSettings {
        auto_rotate: false,
        ..settings("EdDSA")
    };
    let v = svc.create_set(&actor, &manual).await.expect("create");
    svc.rotate(&actor, &v.set.id, &v.set.version.to_string())
        .await
        .expect("rotate now");
    let next = db
        .signing_keys(&v.set.id)
        .await
        .expect("keys")
        .into_iter()
        .find(|k| k.state == KeyState::Next)
        .expect("next key");
    let at = next.promote_at_ms.expect("promotion requested");
    assert_eq!(
        svc.serving(&next.kid).await.expect("serving").behind,
        vec!["edge-2".to_string()]
    );

    // Due, but edge-2 does not serve it: nothing happens, however late.
    assert!(svc.run_due(at).await.is_empty());
    assert!(svc.run_due(at + 7 * 86_400_000).await.is_empty());
    let state =
        |keys: Vec<SigningKeyRecord>| keys.into_iter().find(|k| k.id == next.id).map(|k| k.state);
    assert_eq!(
        state(db.signing_keys(&v.set.id).await.expect("keys")),
        Some(KeyState::Next)
    );

    // edge-2 now runs a bundle with the key: the next pass promotes it.
    *gates.0.lock().expect("lock") = domain::keys::service::Serving {
        serving: vec!["edge-1".into(), "edge-2".into()],
        behind: vec![],
    };
    for r in svc.run_due(at + 7 * 86_400_000).await {
        r.expect("promotion");
    }
    let keys = assert_invariants(&**db, &v.set.id, &master).await;
    assert_eq!(state(keys), Some(KeyState::Active));
}
