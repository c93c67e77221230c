//! Signing-key rotation against a real SQLite file: a simulated half year of automatic
//! rotation keeps every invariant at every tick (one active key, next published a cache window
//! before it signs, retired keys published until their tokens expired, every JWKS kid resolving
//! to a sealed key that opens), and a crash before or after any step's commit is resumed by the
//! next pass with nothing lost or doubled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use domain::audit::{Actor, AuditDraft};
use domain::keys::lifecycle::SetTiming;
use domain::keys::service::{KeysService, SetSettings};
use domain::ports::keys::{KeyChange, KeySetRecord, KeyStore, SigningKeyRecord};
use domain::ports::{Store, StoreError};
use domain::seal::MasterKey;
use store::SqliteStore;

mod common;
use common::{assert_invariants, rotate_every_two_hours, settings, shape, timing, Rotation};

async fn open(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    Arc::new(
        SqliteStore::open(&format!("sqlite://{}", dir.path().join("k.db").display()))
            .await
            .expect("open"),
    )
}

#[tokio::test]
async fn half_a_year_of_automatic_rotation_keeps_every_invariant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let master = Arc::new(MasterKey::generate());
    let svc = KeysService::new(store.clone(), master.clone());
    let actor = Actor::system();
    let view = svc
        .create_set(&actor, &settings("ES256"))
        .await
        .expect("create");
    let set_id = view.set.id.clone();
    let t0 = view.set.created_at_ms;
    let Rotation {
        promotions,
        removals,
    } = rotate_every_two_hours(&store, &svc, &set_id, &master, t0, 180).await;
    // 180 days at a 30-day period: 5 or 6 promotions, every retired key but the newest removed.
    assert!((5..=6).contains(&promotions), "{promotions} promotions");
    assert!(removals >= promotions - 1, "{removals} removals");
    let events = store.recent_audit(10_000).await.expect("audit");
    for action in [
        "keys.create_set",
        "keys.create_next",
        "keys.promote",
        "keys.remove",
    ] {
        assert!(
            events.iter().any(|e| e.action == action),
            "audited: {action}"
        );
    }
    assert!(events
        .iter()
        .all(|e| e.outcome == domain::audit::Outcome::Success));
    assert!(store.verify_audit().await.expect("verify").is_ok());
}

/// A store that "crashes" on its `n`-th batch: before the commit (nothing written) or after it
/// (written, but the caller never hears back).
struct Crashing {
    inner: Arc<SqliteStore>,
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
    async fn signing_keys(&self, set_id: &str) -> Result<Vec<SigningKeyRecord>, StoreError> {
        self.inner.signing_keys(set_id).await
    }
}

#[tokio::test]
async fn a_crash_before_or_after_any_rotation_step_is_resumed_by_the_next_pass() {
    let t = timing();
    // The instants of one full rotation: next published, promoted, old key removed.
    let offsets = [
        t.rotation_period_s * 1000 - t.cache_window_s * 1000,
        t.rotation_period_s * 1000,
        t.rotation_period_s * 1000 + (t.max_token_lifetime_s + t.leeway_s) * 1000,
    ];
    // Reference run without crashes.
    let reference = {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir).await;
        let master = Arc::new(MasterKey::generate());
        let svc = KeysService::new(store.clone(), master.clone());
        let v = svc
            .create_set(&Actor::system(), &settings("EdDSA"))
            .await
            .expect("create");
        for o in offsets {
            for r in svc.run_due(v.set.created_at_ms + o).await {
                r.expect("step");
            }
        }
        shape(&assert_invariants(&store, &v.set.id, &master).await)
    };
    assert_eq!(reference, vec!["removed", "active"]);

    // Batch 0 is create_set; batches 1..=3 are the three steps.
    for crash_at in 1..=3 {
        for after_commit in [false, true] {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = open(&dir).await;
            let master = Arc::new(MasterKey::generate());
            let crashing = Arc::new(Crashing {
                inner: store.clone(),
                calls: AtomicUsize::new(0),
                crash_at,
                after_commit,
            });
            let svc = KeysService::new(crashing, master.clone());
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
            // "Restart": a new store connection and service over the same file.
            let reopened = open(&dir).await;
            assert_invariants(&reopened, &v.set.id, &master).await;
            let svc = KeysService::new(reopened.clone(), master.clone());
            for o in offsets.into_iter().filter(|o| *o >= crashed_at) {
                for r in svc.run_due(v.set.created_at_ms + o).await {
                    r.expect("the resumed pass applies");
                }
            }
            // Running again changes nothing: the job is idempotent.
            assert!(svc
                .run_due(v.set.created_at_ms + offsets[2])
                .await
                .is_empty());
            let keys = assert_invariants(&reopened, &v.set.id, &master).await;
            assert_eq!(
                shape(&keys),
                reference,
                "crash at batch {crash_at}, after commit: {after_commit}"
            );
            assert!(reopened.verify_audit().await.expect("verify").is_ok());
        }
    }
}

#[tokio::test]
async fn the_token_lifetime_cannot_shrink_under_a_retired_key_that_still_covers_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let master = Arc::new(MasterKey::generate());
    let svc = KeysService::new(store.clone(), master.clone());
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
    assert!(set.keys.iter().any(|k| k.state == "retired"));
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
    // Lengthening is always safe.
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
    assert_invariants(&store, &set.set.id, &master).await;
}

#[tokio::test]
async fn rotate_now_finishes_by_itself_when_the_cache_window_ends_even_on_a_manual_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir).await;
    let master = Arc::new(MasterKey::generate());
    let svc = KeysService::new(store.clone(), master.clone());
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
    let keys = store.signing_keys(&v.set.id).await.expect("keys");
    let next = keys
        .iter()
        .find(|k| k.state == "next")
        .expect("next key")
        .clone();
    let at = next.promote_at_ms.expect("promotion requested");
    assert_eq!(at, next.created_at_ms + timing().cache_window_s * 1000);
    // Pressing again meanwhile says when the rotation completes.
    let again = svc
        .rotate(&actor, &v.set.id, &(v.set.version + 1).to_string())
        .await;
    assert!(again
        .expect_err("under way")
        .to_string()
        .contains("already under way"));
    // The job leaves it alone before the window, promotes it at the instant.
    assert!(svc.run_due(at - 1).await.is_empty());
    for r in svc.run_due(at).await {
        r.expect("promotion");
    }
    let keys = assert_invariants(&store, &v.set.id, &master).await;
    assert_eq!(
        keys.iter()
            .find(|k| k.id == next.id)
            .map(|k| k.state.as_str()),
        Some("active")
    );
    assert_eq!(keys.iter().filter(|k| k.state == "retired").count(), 1);
    // A manual set is otherwise left alone: no new next key is created by the job.
    assert!(svc
        .run_due(at + 100 * 86_400_000)
        .await
        .iter()
        .all(|r| r.as_ref().is_ok_and(|m| m.contains("removed"))));
}
