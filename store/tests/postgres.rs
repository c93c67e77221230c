//! The PostgreSQL store against a real server (PostgreSQL at 127.0.0.1:5432, trust auth, as
//! on CI): migrations apply idempotently, changes and their audit events commit together or
//! not at all, two replicas appending at once keep one unbroken chain, the schema holds "one
//! active key per set", stale versions lose with `Conflict`, a stuck writer turns into
//! `Unavailable`, rotation keeps every invariant, and the audit table refuses edits.
//!
//! Every test creates its own database and drops it at the end (even when it fails). Without
//! a reachable server the tests fail: they never skip silently.

use std::sync::Arc;
use std::time::Duration;

use domain::admins::{Admin, Role, StoredPasskey};
use domain::audit::{Actor, AuditDraft, Outcome};
use domain::keys::service::KeysService;
use domain::ports::keys::{KeyChange, KeySetRecord, KeyStore, SigningKeyRecord};
use domain::ports::policies::{PolicyChange, PolicyRecord, PolicyStore};
use domain::ports::{NewOwner, Store, StoreError};
use domain::seal::MasterKey;
use domain::sessions::SessionRecord;
use domain::setup::SetupTokenRecord;
use sqlx::{Connection, PgConnection};
use store::PgStore;
use uuid::Uuid;

mod common;
use common::{assert_invariants, rotate_every_two_hours, settings, timing, Rotation};

/// The maintenance database the tests create their own databases from.
const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The key `PgStore` takes its audit advisory lock on ("palisade" in ASCII).
const AUDIT_LOCK: i64 = 0x7061_6c69_7361_6465;

async fn admin_connection() -> PgConnection {
    let hint = "PostgreSQL at 127.0.0.1:5432 is required for these tests (user postgres, trust \
                auth, as on CI); start it and run them again";
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(ADMIN_URL)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => panic!("{hint}: {e}"),
        Err(_) => panic!("{hint}: no answer within 10 s"),
    }
}

/// A fresh database `palisade_t_<random>`, dropped (with any connection still open to it) when
/// the value is dropped, also when the test panics.
struct TestDb {
    name: String,
}

impl TestDb {
    async fn create() -> TestDb {
        let name = format!("palisade_t_{}", Uuid::new_v4().simple());
        let mut admin = admin_connection().await;
        // An identifier cannot be bound; the name is ours (hex digits only).
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.expect("close");
        TestDb { name }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    async fn open(&self) -> PgStore {
        PgStore::open(&self.url()).await.expect("open")
    }

    /// A connection outside the store, playing another client of the same database.
    async fn raw(&self) -> PgConnection {
        PgConnection::connect(&self.url()).await.expect("connect")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop cannot await: drop the database from a runtime of its own on another thread.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut admin = PgConnection::connect(ADMIN_URL).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("dropping test database {}: {dropped:?}", self.name);
        }
    }
}

fn draft(action: &str) -> AuditDraft {
    AuditDraft::new(&Actor::system(), action, "test", Outcome::Success)
}

fn owner(token_hash: &str, username: &str) -> NewOwner {
    let id = Uuid::new_v4();
    NewOwner {
        setup_token_hash: token_hash.to_owned(),
        admin: Admin {
            id,
            username: username.into(),
            display_name: "T".into(),
            role: Role::Owner,
            disabled: false,
            created_at_ms: 1,
        },
        passkey: StoredPasskey {
            id: Uuid::new_v4(),
            admin_id: id,
            credential_id: Uuid::new_v4().to_string(),
            passkey_json: "{}".into(),
            created_at_ms: 1,
            last_used_at_ms: None,
        },
        session: SessionRecord {
            stepped_up_at_ms: None,
            id_hash: Uuid::new_v4().to_string(),
            admin_id: id,
            created_at_ms: 1,
            last_seen_at_ms: 1,
            ip: None,
            user_agent: None,
        },
    }
}

async fn audit_rows(s: &PgStore) -> usize {
    s.recent_audit(100_000).await.expect("audit").len()
}

#[tokio::test]
async fn migrations_apply_once_and_reopening_is_idempotent() {
    let db = TestDb::create().await;
    // Two replicas starting at once on an empty database, then a restart.
    let url = db.url();
    let (a, b) = tokio::join!(PgStore::open(&url), PgStore::open(&url));
    let (a, b) = (a.expect("first replica"), b.expect("second replica"));
    a.record(draft("test.before_restart"))
        .await
        .expect("append");
    drop(a);
    let c = db.open().await;
    for s in [&b, &c] {
        s.ready().await.expect("schema current");
    }
    let mut raw = db.raw().await;
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut raw)
            .await
            .expect("migrations table");
    assert_eq!(
        applied,
        migration_files("postgres")
            .iter()
            .map(|f| (
                f.split('_')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(-1),
                true
            ))
            .collect::<Vec<(i64, bool)>>(),
        "each migration applied exactly once"
    );
    raw.close().await.expect("close");
    assert_eq!(c.verify_audit().await.expect("walk"), Ok(1), "data kept");
    assert!(matches!(
        PgStore::open("sqlite://nope.db").await,
        Err(store::OpenError::Unsupported(_))
    ));
}

#[tokio::test]
async fn a_change_whose_audit_event_cannot_be_written_is_not_written() {
    let db = TestDb::create().await;
    let s = db.open().await;
    let (rec, _token) = SetupTokenRecord::issue(domain::now_ms());
    s.issue_setup_token(&rec, draft("setup_link.issue"))
        .await
        .expect("issued");
    // Break the audit table the way a bad migration would: appends now fail.
    s.execute_raw("ALTER TABLE audit_events RENAME TO audit_events_gone")
        .await
        .expect("rename");
    let r = s
        .create_owner(
            &owner(&rec.token_hash, "alice"),
            domain::now_ms(),
            draft("admin.setup_owner"),
        )
        .await;
    assert!(r.is_err(), "the change must fail with its event");
    s.execute_raw("ALTER TABLE audit_events_gone RENAME TO audit_events")
        .await
        .expect("rename back");
    assert_eq!(
        s.count_admins().await.expect("count"),
        0,
        "no admin without its audit event"
    );
    assert_eq!(
        s.setup_token(&rec.token_hash)
            .await
            .expect("read")
            .expect("exists")
            .used_at_ms,
        None,
        "token not consumed"
    );
    assert_eq!(s.verify_audit().await.expect("walk"), Ok(1));
    // And with the table back, the same change goes through with its event.
    s.create_owner(
        &owner(&rec.token_hash, "alice"),
        domain::now_ms(),
        draft("admin.setup_owner"),
    )
    .await
    .expect("owner created");
    assert_eq!(s.count_admins().await.expect("count"), 1);
    assert_eq!(s.verify_audit().await.expect("walk"), Ok(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_from_two_replicas_form_one_unbroken_chain() {
    let db = TestDb::create().await;
    let replicas = [Arc::new(db.open().await), Arc::new(db.open().await)];
    let mut tasks = Vec::new();
    for i in 0..100 {
        let s = replicas[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            s.record(draft(&format!("test.{i}"))).await
        }));
    }
    for t in tasks {
        t.await.expect("joined").expect("every append succeeds");
    }
    for s in &replicas {
        assert_eq!(s.verify_audit().await.expect("walk"), Ok(100));
    }
    let mut events = replicas[0].recent_audit(1000).await.expect("audit");
    assert_eq!(events.len(), 100);
    events.reverse();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1, "sequential seq");
        if i > 0 {
            assert_eq!(
                e.prev_hash,
                events[i - 1].hash,
                "chained to its predecessor"
            );
        }
    }
    let mut actions: Vec<_> = events.iter().map(|e| e.action.clone()).collect();
    actions.sort();
    actions.dedup();
    assert_eq!(
        actions.len(),
        100,
        "every append is in the chain exactly once"
    );
}

#[tokio::test]
async fn a_writer_stuck_holding_the_audit_lock_makes_writes_unavailable_not_forked() {
    let db = TestDb::create().await;
    let s = db.open().await;
    s.record(draft("test.0")).await.expect("append");
    // Another replica frozen in the middle of an append.
    let mut stuck = db.raw().await;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut stuck)
        .await
        .expect("lock");
    let r = s.record(draft("test.blocked")).await;
    assert!(
        matches!(r, Err(StoreError::Unavailable(_))),
        "a lock timeout is Unavailable: {r:?}"
    );
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut stuck)
        .await
        .expect("unlock");
    stuck.close().await.expect("close");
    s.record(draft("test.1"))
        .await
        .expect("append after the lock is released");
    assert_eq!(s.verify_audit().await.expect("walk"), Ok(2));
}

fn key_set(id: &str) -> KeySetRecord {
    let t = timing();
    KeySetRecord {
        id: id.into(),
        name: format!("set-{id}"),
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

fn signing_key(set_id: &str, state: &str) -> SigningKeyRecord {
    let id = Uuid::new_v4().to_string();
    SigningKeyRecord {
        kid: format!("kid-{id}"),
        id,
        set_id: set_id.into(),
        alg: "EdDSA".into(),
        state: state.into(),
        public_jwk_json: "{}".into(),
        sealed_private: Some(vec![1, 2, 3]),
        created_at_ms: 1,
        activated_at_ms: (state == "active").then_some(1),
        retired_at_ms: None,
        removed_at_ms: None,
        revoked_at_ms: None,
        revoke_reason: None,
        promote_at_ms: None,
    }
}

#[tokio::test]
async fn the_schema_allows_one_active_and_one_next_key_per_set() {
    let db = TestDb::create().await;
    let s = db.open().await;
    s.apply_key_changes(
        &[
            KeyChange::InsertSet(key_set("a")),
            KeyChange::InsertKey(signing_key("a", "active")),
            KeyChange::InsertSet(key_set("b")),
            KeyChange::InsertKey(signing_key("b", "active")),
            KeyChange::InsertKey(signing_key("a", "next")),
        ],
        draft("keys.create_set"),
    )
    .await
    .expect("one active per set, one next");
    for state in ["active", "next"] {
        let second = s
            .apply_key_changes(
                &[KeyChange::InsertKey(signing_key("a", state))],
                draft("keys.insert"),
            )
            .await;
        assert!(
            matches!(second, Err(StoreError::Conflict(_))),
            "a second {state} key: {second:?}"
        );
    }
    // A key of an unknown set: foreign key, also Conflict.
    let orphan = s
        .apply_key_changes(
            &[KeyChange::InsertKey(signing_key("nope", "next"))],
            draft("keys.insert"),
        )
        .await;
    assert!(matches!(orphan, Err(StoreError::Conflict(_))), "{orphan:?}");
    let states = |keys: Vec<SigningKeyRecord>| {
        let mut states: Vec<_> = keys.into_iter().map(|k| k.state).collect();
        states.sort();
        states
    };
    assert_eq!(
        states(s.signing_keys("a").await.expect("keys")),
        vec!["active", "next"]
    );
    assert_eq!(
        states(s.signing_keys("b").await.expect("keys")),
        vec!["active"]
    );
    assert_eq!(audit_rows(&s).await, 1, "refused batches left no event");
    assert_eq!(s.verify_audit().await.expect("walk"), Ok(1));
}

fn policy(version: i64, name: &str) -> PolicyRecord {
    PolicyRecord {
        id: "p1".into(),
        name: name.into(),
        position: 1,
        enabled: true,
        mode: "shadow".into(),
        spec_json: "{}".into(),
        version,
        created_at_ms: 1,
        updated_at_ms: version,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_policy_version_loses_with_conflict() {
    let db = TestDb::create().await;
    let s = db.open().await;
    s.apply_policy_changes(
        &[PolicyChange::Insert(policy(1, "v1"))],
        draft("policy.create"),
    )
    .await
    .expect("insert");
    s.apply_policy_changes(
        &[PolicyChange::Update {
            record: policy(2, "v2"),
            replaces: 1,
        }],
        draft("policy.update"),
    )
    .await
    .expect("update from the current version");
    for stale in [
        PolicyChange::Update {
            record: policy(2, "stale"),
            replaces: 1,
        },
        PolicyChange::Delete {
            id: "p1".into(),
            replaces: 1,
        },
    ] {
        let r = s.apply_policy_changes(&[stale], draft("policy.x")).await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    }
    // Two replicas editing version 2 at the same moment: exactly one wins.
    let other = db.open().await;
    let edit = |name: &str| {
        [PolicyChange::Update {
            record: policy(3, name),
            replaces: 2,
        }]
    };
    let (edit1, edit2) = (edit("by-replica-1"), edit("by-replica-2"));
    let (r1, r2) = tokio::join!(
        s.apply_policy_changes(&edit1, draft("policy.update")),
        other.apply_policy_changes(&edit2, draft("policy.update"))
    );
    let wins = [&r1, &r2].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{r1:?} {r2:?}");
    assert!(
        [&r1, &r2]
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::Conflict(_)))),
        "{r1:?} {r2:?}"
    );
    let stored = s.policies().await.expect("policies");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].version, 3);
    let winner = if r1.is_ok() {
        "by-replica-1"
    } else {
        "by-replica-2"
    };
    assert_eq!(stored[0].name, winner);
    assert_eq!(audit_rows(&s).await, 3, "one event per applied change");
    assert_eq!(s.verify_audit().await.expect("walk"), Ok(3));
}

#[tokio::test]
async fn two_full_rotations_keep_every_invariant() {
    let db = TestDb::create().await;
    let store = Arc::new(db.open().await);
    let master = Arc::new(MasterKey::generate());
    let svc = KeysService::new(store.clone(), master.clone());
    let view = svc
        .create_set(&Actor::system(), &settings("ES256"))
        .await
        .expect("create");
    // 75 days at a 30-day period: promoted at ~30 and ~60 days, each old key removed after.
    let Rotation {
        promotions,
        removals,
    } = rotate_every_two_hours(
        &store,
        &svc,
        &view.set.id,
        &master,
        view.set.created_at_ms,
        75,
    )
    .await;
    assert_eq!((promotions, removals), (2, 2));
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
    assert!(events.iter().all(|e| e.outcome == Outcome::Success));
    assert!(store.verify_audit().await.expect("verify").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_running_the_rotation_job_at_once_keep_every_invariant() {
    let db = TestDb::create().await;
    let stores = [Arc::new(db.open().await), Arc::new(db.open().await)];
    let master = Arc::new(MasterKey::generate());
    let services = [
        KeysService::new(stores[0].clone(), master.clone()),
        KeysService::new(stores[1].clone(), master.clone()),
    ];
    let view = services[0]
        .create_set(&Actor::system(), &settings("EdDSA"))
        .await
        .expect("create");
    let t = timing();
    let t0 = view.set.created_at_ms;
    let mut applied = 0;
    // One full rotation, both replicas' jobs firing at the same instants.
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
        assert_invariants(&stores[0], &view.set.id, &master).await;
        // Whoever lost catches up on its next pass: nothing is left due.
        for svc in &services {
            for r in svc.run_due(t0 + o).await {
                r.expect("catch-up step");
                applied += 1;
            }
        }
    }
    assert_eq!(applied, 3, "each step applied exactly once");
    let keys = assert_invariants(&stores[1], &view.set.id, &master).await;
    assert_eq!(common::shape(&keys), vec!["removed", "active"]);
    assert_eq!(audit_rows(&stores[0]).await, 4, "create + three steps");
    assert!(stores[1].verify_audit().await.expect("verify").is_ok());
}

#[tokio::test]
async fn the_audit_table_refuses_update_delete_and_truncate() {
    let db = TestDb::create().await;
    let s = db.open().await;
    for i in 0..3 {
        s.record(draft(&format!("test.{i}"))).await.expect("append");
    }
    for sql in [
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 3",
        "TRUNCATE audit_events",
    ] {
        let r = s.execute_raw(sql).await;
        assert!(
            matches!(&r, Err(StoreError::Other(m)) if m.contains("append-only")),
            "{sql}: {r:?}"
        );
    }
    assert_eq!(s.verify_audit().await.expect("walk"), Ok(3));
    assert_eq!(audit_rows(&s).await, 3);
}

/// The migration file names of one backend, sorted.
fn migration_files(backend: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("migrations dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

#[test]
fn the_two_backends_have_the_same_migrations() {
    let pg = migration_files("postgres");
    assert!(pg.len() >= 5, "{pg:?}");
    assert_eq!(
        migration_files("sqlite"),
        pg,
        "every migration exists for both backends, same name"
    );
}
