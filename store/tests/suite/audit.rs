//! The audit chain: a change is written with its event or not at all (on every port),
//! concurrent appends keep one unbroken chain, answered appends survive a restart, and the table
//! refuses edits. PostgreSQL-only: replicas appending at once, a stuck writer, `TRUNCATE`.

use std::sync::Arc;

use domain::ports::certs::{CertChange, CertStore};
use domain::ports::clients::{ClientChange, ClientStore};
use domain::ports::keys::{KeyChange, KeyStore};
use domain::ports::policies::{PolicyChange, PolicyStore};
use domain::ports::sealed::SealedStore;
use domain::ports::{Store, StoreError};
use domain::setup::SetupTokenRecord;
use sqlx::{Connection, PgConnection};
use store::AUDIT_LOCK;

use crate::admins::owner;
use crate::support::{draft, TestBackend};

/// `events` (oldest first) have `seq` 1, 2, … and each is chained to its predecessor.
fn assert_linear(events: &[domain::audit::AuditEvent]) {
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
}

store_test!(a_change_whose_audit_event_cannot_be_written_is_not_written);
/// With the audit table gone (a full disk, a bad migration), no port writes its change;
/// with it back, the same change goes through with its event.
async fn a_change_whose_audit_event_cannot_be_written_is_not_written(db: &TestBackend) {
    let (rec, _token) = SetupTokenRecord::issue(domain::now_ms());
    db.issue_setup_token(&rec, draft("setup_link.issue"))
        .await
        .expect("issued");
    let set = crate::keys::key_set("s1", "tokens");
    db.apply_key_changes(
        &[
            KeyChange::InsertSet(set.clone()),
            KeyChange::InsertKey(crate::keys::signing_key("s1", "active")),
        ],
        draft("keys.create_set"),
    )
    .await
    .expect("key set");
    let sealed_before = db.sealed_values().await.expect("sealed");
    db.assert_audit(&["setup_link.issue", "keys.create_set"])
        .await;

    db.execute_raw("ALTER TABLE audit_events RENAME TO audit_events_gone")
        .await
        .expect("rename");
    let r = db
        .create_owner(
            &owner(&rec.token_hash, "alice"),
            domain::now_ms(),
            draft("admin.setup_owner"),
        )
        .await;
    assert!(r.is_err(), "create_owner must fail with its event: {r:?}");
    let r = db
        .apply_policy_changes(
            &[PolicyChange::Insert(crate::policies::policy(
                "p1", "limits", 1,
            ))],
            draft("policy.create"),
        )
        .await;
    assert!(r.is_err(), "policies: {r:?}");
    let r = db
        .apply_client_changes(
            &[ClientChange::Insert(crate::clients::client(
                "c1", "billing", None,
            ))],
            draft("client.create"),
        )
        .await;
    assert!(r.is_err(), "clients: {r:?}");
    let r = db
        .apply_key_changes(
            &[KeyChange::InsertSet(crate::keys::key_set("s2", "other"))],
            draft("keys.create_set"),
        )
        .await;
    assert!(r.is_err(), "keys: {r:?}");
    let r = db
        .apply_cert_changes(
            &[CertChange::InsertKey(crate::certs::tls_key("k1"))],
            draft("certs.create_key"),
        )
        .await;
    assert!(r.is_err(), "certs: {r:?}");
    let pairs: Vec<_> = sealed_before
        .iter()
        .map(|v| (v.clone(), vec![9, 9, 9]))
        .collect();
    let r = db.replace_sealed(&pairs, draft("keys.rewrap")).await;
    assert!(r.is_err(), "sealed: {r:?}");
    let r = db.record(draft("test.event_only")).await;
    assert!(r.is_err(), "an event-only append fails too: {r:?}");
    db.execute_raw("ALTER TABLE audit_events_gone RENAME TO audit_events")
        .await
        .expect("rename back");

    assert_eq!(db.count_admins().await.expect("count"), 0, "no admin");
    assert_eq!(
        db.setup_token(&rec.token_hash)
            .await
            .expect("read")
            .expect("exists")
            .used_at_ms,
        None,
        "token not consumed"
    );
    assert!(db.policies().await.expect("policies").is_empty());
    assert!(db.clients().await.expect("clients").is_empty());
    assert_eq!(db.key_sets().await.expect("sets"), vec![set]);
    assert_eq!(db.tls_key("k1").await.expect("tls key"), None);
    assert_eq!(db.sealed_values().await.expect("sealed"), sealed_before);
    db.assert_audit(&["setup_link.issue", "keys.create_set"])
        .await;

    db.create_owner(
        &owner(&rec.token_hash, "alice"),
        domain::now_ms(),
        draft("admin.setup_owner"),
    )
    .await
    .expect("owner created once the chain can be written");
    assert_eq!(db.count_admins().await.expect("count"), 1);
    db.assert_audit(&["setup_link.issue", "keys.create_set", "admin.setup_owner"])
        .await;
}

store_test!(concurrent_appends_form_one_unbroken_chain);
/// 100 appends at once through one store: one chain, every event in it exactly once.
async fn concurrent_appends_form_one_unbroken_chain(db: &TestBackend) {
    let store = db.store();
    let mut tasks = Vec::new();
    for i in 0..100 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.record(draft(&format!("test.{i}"))).await
        }));
    }
    for t in tasks {
        t.await.expect("joined").expect("every append succeeds");
    }
    assert_eq!(db.verify_audit(None).await.expect("walk"), Ok(100));
    let mut events = db.recent_audit(1000).await.expect("audit");
    events.reverse();
    assert_linear(&events);
    let mut actions = db.audit_actions().await;
    actions.sort();
    actions.dedup();
    assert_eq!(
        actions.len(),
        100,
        "every append is in the chain exactly once"
    );
}

store_test!(a_keyed_chain_is_written_and_verified_with_its_key_only);
/// Keying the chain stores the sealed key with the keying event; later appends are MAC'd
/// (concurrent ones too) and verify with the key; another process that has not loaded the key
/// cannot append (its row would break the chain), nor verify; a second keying is a duplicate.
async fn a_keyed_chain_is_written_and_verified_with_its_key_only(db: &TestBackend) {
    use domain::audit::{ChainError, ChainKey, CHAIN_KEYED_ACTION};
    let store = db.store();
    store
        .record(draft("test.before"))
        .await
        .expect("unkeyed append");
    let key = ChainKey::from_bytes(&[5; 32]);
    let keyed = store
        .key_audit_chain(b"sealed key bytes", key.clone(), draft(CHAIN_KEYED_ACTION))
        .await
        .expect("keyed");
    assert_eq!(keyed.seq, 2);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.record(draft(&format!("test.{i}"))).await
        }));
    }
    for t in tasks {
        t.await.expect("joined").expect("keyed append");
    }
    assert_eq!(store.verify_audit(None).await.expect("walk"), Ok(22));
    assert_eq!(
        store.sealed_chain_key().await.expect("read").as_deref(),
        Some(&b"sealed key bytes"[..])
    );
    let other = db.open().await;
    let r = other.record(draft("test.unkeyed")).await;
    assert!(
        matches!(&r, Err(StoreError::Other(m)) if m.contains("key is not loaded")),
        "{r:?}"
    );
    assert_eq!(
        other.verify_audit(None).await.expect("walk"),
        Err(ChainError::KeyMissing { seq: 2 })
    );
    other.use_chain_key(ChainKey::from_bytes(&[6; 32]));
    assert_eq!(
        other.verify_audit(None).await.expect("walk"),
        Err(ChainError::BadHash { seq: 2 }),
        "another key"
    );
    let again = store
        .key_audit_chain(
            b"other",
            ChainKey::from_bytes(&[7; 32]),
            draft(CHAIN_KEYED_ACTION),
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::Duplicate { .. })),
        "{again:?}"
    );
    assert_eq!(
        store.verify_audit(None).await.expect("walk"),
        Ok(22),
        "nothing half-written"
    );
}

store_test!(answered_changes_survive_a_reopen);
/// What was answered before a restart is there after it, and the schema is current.
async fn answered_changes_survive_a_reopen(db: &TestBackend) {
    {
        let s = db.open().await;
        for i in 0..10 {
            s.record(draft(&format!("test.{i}")))
                .await
                .expect("appended");
        }
    }
    let s = db.open().await;
    assert_eq!(s.verify_audit(None).await.expect("walk"), Ok(10));
    s.ready().await.expect("migrations applied");
}

store_test!(the_audit_table_refuses_update_and_delete);
/// Someone with write access to the database cannot edit or delete events through SQL.
async fn the_audit_table_refuses_update_and_delete(db: &TestBackend) {
    for i in 0..3 {
        db.record(draft(&format!("test.{i}")))
            .await
            .expect("append");
    }
    for sql in [
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 3",
        "DELETE FROM audit_events",
    ] {
        let r = db.execute_raw(sql).await;
        assert!(
            matches!(&r, Err(StoreError::Other(m)) if m.contains("append-only")),
            "{sql}: {r:?}"
        );
    }
    db.assert_audit(&["test.0", "test.1", "test.2"]).await;
    let events = db.recent_audit(10).await.expect("audit");
    assert!(events.iter().all(|e| e.actor != "mallory"));
}

postgres_test!(the_audit_table_refuses_truncate);
/// PostgreSQL only: `TRUNCATE` skips row triggers there and needs a trigger of its own
/// (SQLite has no `TRUNCATE`; its `DELETE FROM audit_events` is refused above).
async fn the_audit_table_refuses_truncate(db: &TestBackend) {
    for i in 0..3 {
        db.record(draft(&format!("test.{i}")))
            .await
            .expect("append");
    }
    let r = db.execute_raw("TRUNCATE audit_events").await;
    assert!(
        matches!(&r, Err(StoreError::Other(m)) if m.contains("append-only")),
        "{r:?}"
    );
    db.assert_audit(&["test.0", "test.1", "test.2"]).await;
}

postgres_test!(concurrent_appends_from_two_replicas_form_one_unbroken_chain);
/// PostgreSQL only: two console replicas (two pools) on one database appending at once
/// still form one chain, serialised by the advisory lock. An SQLite database belongs to one
/// console process, whose single writer connection serialises appends (tested above).
async fn concurrent_appends_from_two_replicas_form_one_unbroken_chain(db: &TestBackend) {
    let replicas = [db.store(), Arc::new(db.open().await)];
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
        assert_eq!(s.verify_audit(None).await.expect("walk"), Ok(100));
    }
    let mut events = replicas[1].recent_audit(1000).await.expect("audit");
    assert_eq!(events.len(), 100);
    events.reverse();
    assert_linear(&events);
    let mut actions: Vec<_> = events.iter().map(|e| e.action.clone()).collect();
    actions.sort();
    actions.dedup();
    assert_eq!(
        actions.len(),
        100,
        "every append is in the chain exactly once"
    );
}

postgres_test!(a_writer_stuck_holding_the_audit_lock_makes_writes_unavailable_not_forked);
/// PostgreSQL only (the advisory audit lock): a replica frozen in the middle of an append
/// makes the others' writes fail as `Unavailable` after the lock timeout, never fork the
/// chain, and they succeed again once it lets go.
async fn a_writer_stuck_holding_the_audit_lock_makes_writes_unavailable_not_forked(
    db: &TestBackend,
) {
    db.record(draft("test.0")).await.expect("append");
    let mut stuck = PgConnection::connect(&db.url()).await.expect("connect");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut stuck)
        .await
        .expect("lock");
    let r = db.record(draft("test.blocked")).await;
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
    db.record(draft("test.1"))
        .await
        .expect("append after the lock is released");
    db.assert_audit(&["test.0", "test.1"]).await;
}

store_test!(search_filters_exactly_and_pages_by_sequence);
/// The explorer's search on both databases: an action prefix and a substring of the details
/// are exact and case-sensitive (no LIKE wildcards: `_` and `%` are plain characters), and a
/// page before a sequence number holds the next older events.
async fn search_filters_exactly_and_pages_by_sequence(db: &TestBackend) {
    use domain::audit::AuditFilter;
    for (action, details) in [
        ("keys.rotate", "{\"note\":\"a_b\"}"),
        ("keys.revoke", "{\"note\":\"aXb\"}"),
        ("keysXrotate", "{\"note\":\"100%\"}"),
        ("pinsets.update", "{\"note\":\"A_B\"}"),
    ] {
        let d = draft(action).with_details(serde_json::from_str(details).expect("json"));
        db.record(d).await.expect("recorded");
    }
    let find = |f: AuditFilter, before: Option<i64>| {
        let db = db.store();
        async move {
            db.search_audit(&f, before, 10)
                .await
                .expect("search")
                .into_iter()
                .map(|e| e.action)
                .collect::<Vec<_>>()
        }
    };
    let prefix = |p: &str| AuditFilter {
        action: Some(p.into()),
        ..AuditFilter::default()
    };
    let text = |t: &str| AuditFilter {
        text: Some(t.into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        find(prefix("keys."), None).await,
        ["keys.revoke", "keys.rotate"]
    );
    assert_eq!(find(prefix("KEYS."), None).await, Vec::<String>::new());
    assert_eq!(find(text("a_b"), None).await, ["keys.rotate"]);
    assert_eq!(find(text("100%"), None).await, ["keysXrotate"]);
    assert_eq!(find(text("%"), None).await, ["keysXrotate"]);
    let all = db
        .store()
        .search_audit(&AuditFilter::default(), None, 2)
        .await
        .expect("page");
    let before = all.last().expect("two").seq;
    let older = db
        .store()
        .search_audit(&AuditFilter::default(), Some(before), 10)
        .await
        .expect("older");
    assert!(older.iter().all(|e| e.seq < before) && !older.is_empty());
}

/// A database of `dialect` migrated up to 0016 (before the details' text index) holding
/// `details` as events 1, 2, …, written as 0016's console would have: the state 0017 finds.
async fn log_before_the_text_index(
    dialect: store::Dialect,
    details: &[&str],
) -> crate::support::TestDatabase {
    let db = crate::support::TestDatabase::create(dialect).await;
    let (name, url) = match dialect {
        store::Dialect::Sqlite => ("sqlite", format!("{}?mode=rwc", db.url())),
        store::Dialect::Postgres => ("postgres", db.url()),
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(name);
    let mut migrator = sqlx::migrate::Migrator::new(dir.as_path())
        .await
        .expect("migrations");
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= 16)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
    migrator.run(&mut conn).await.expect("migrate to 0016");
    for (i, d) in details.iter().enumerate() {
        let seq = i as i64 + 1;
        sqlx::query(
            "INSERT INTO audit_events (seq, at, actor, ip, user_agent, action, target, outcome, \
             details, prev_hash, hash) \
             VALUES ($1, '2026-01-01T00:00:00.000000Z', 'system', NULL, NULL, 'test.before', \
             'test', 'success', $2, $3, $4)",
        )
        .bind(seq)
        .bind(*d)
        .bind(format!("{:064x}", seq - 1))
        .bind(format!("{seq:064x}"))
        .execute(&mut conn)
        .await
        .expect("event before 0017");
    }
    conn.close().await.expect("close");
    db
}

/// The explorer's text filter, wherever the details' trigram index (0017) serves it, finds
/// exactly the events whose details contain the text (Rust's `str::contains` over every event
/// is the reference): events written before the index existed and after it, case-sensitive,
/// with FTS5 query syntax (`"`, `*`, `OR`, `NEAR(`) and LIKE wildcards (`%`, `_`, `\`) as plain
/// characters, texts of one and two characters (no trigram), a text longer than the part the
/// index is asked about, non-ASCII text, every page of a paged search, the text beside another
/// filter, and an event edited by someone who dropped the append-only triggers first. Also an
/// actor with an outcome and an action prefix, tested on the actor's index entries (0018).
async fn text_search_finds_exactly_the_events_containing_it(dialect: store::Dialect) {
    use domain::audit::{Actor, AuditDraft, AuditFilter, Outcome};
    let before = [
        r#"{"note":"needle"}"#,
        r#"{"note":"Needle in a_b"}"#,
        r#"{"note":"100% sure*"}"#,
        r#"{"note":"say \"hi\" OR NEAR(x) \\d"}"#,
        r#"{"note":"aXb ab"}"#,
        r#"{"note":"é€😀 routine change of a key"}"#,
    ];
    let db = TestBackend::on(log_before_the_text_index(dialect, &before).await).await;
    let after = [
        ("alice", "needle again"),
        ("bob", "a%b and a_b"),
        ("alice", "NEEDLE"),
        ("bob", "quote \" inside"),
        ("alice", "routine change of a limit"),
        ("bob", "routine change of a limit, again"),
        ("alice", "routine change of a limit, again and again"),
        ("alice", "b"),
        ("bob", "ab\\%"),
    ];
    for (actor, note) in after {
        let actor = Actor {
            name: actor.into(),
            ip: None,
            user_agent: None,
        };
        let d = AuditDraft::new(&actor, "test.after", "t", Outcome::Success)
            .with_details(serde_json::json!({ "note": note }));
        db.record(d).await.expect("recorded after 0017");
    }
    let all = db.recent_audit(1000).await.expect("every event");
    assert_eq!(all.len(), before.len() + after.len());
    let expect = |f: &AuditFilter| -> Vec<i64> {
        all.iter()
            .filter(|e| e.details.contains(f.text.as_deref().unwrap_or_default()))
            .filter(|e| f.actor.as_ref().is_none_or(|a| &e.actor == a))
            .map(|e| e.seq)
            .collect()
    };
    let search = |f: AuditFilter, before: Option<i64>, limit: i64| {
        let db = db.store();
        async move {
            db.search_audit(&f, before, limit)
                .await
                .expect("search")
                .into_iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>()
        }
    };
    let texts = [
        "needle",
        "Needle",
        "NEEDLE",
        "eedl",
        "a_b",
        "a%b",
        "100%",
        "%",
        "_",
        "*",
        "e*",
        "\\\"hi\\\"",
        "\"note\":\"a",
        "\"",
        "\"\"",
        "OR NEAR(x)",
        "\\\\d",
        "b\\\\%",
        "ab",
        "b",
        "é€😀",
        "€😀",
        "routine change of a limit",
        "routine change of a limit, again",
        "routine change of a limit, again and again",
        "routine change of a limit, again and again and again",
        "routine change of a key",
        "not in any event",
        "xyz",
    ];
    for t in texts {
        let only = AuditFilter {
            text: Some(t.into()),
            ..AuditFilter::default()
        };
        let expected = expect(&only);
        assert_eq!(
            search(only.clone(), None, 100).await,
            expected,
            "text {t:?}"
        );
        // Page by page (two a page), as the explorer's "Older events" and the downloads do.
        let mut paged: Vec<i64> = Vec::new();
        let mut cursor = None;
        loop {
            let page = search(only.clone(), cursor, 2).await;
            paged.extend(&page);
            if page.len() < 2 {
                break;
            }
            cursor = page.last().copied();
        }
        assert_eq!(paged, expected, "text {t:?}, paged");
        let beside = AuditFilter {
            actor: Some("alice".into()),
            ..only
        };
        assert_eq!(
            search(beside.clone(), None, 100).await,
            expect(&beside),
            "text {t:?} with an actor"
        );
    }
    assert!(
        !expect(&AuditFilter {
            text: Some("needle".into()),
            ..AuditFilter::default()
        })
        .is_empty(),
        "the reference finds something"
    );
    // An actor with an outcome and an action prefix, which the actor's index carries (0018).
    for (outcome, prefix, some) in [
        (Outcome::Success, "test.a", true),
        (Outcome::Denied, "test.a", false),
        (Outcome::Success, "test.b", false),
    ] {
        let f = AuditFilter {
            actor: Some("alice".into()),
            outcome: Some(outcome),
            action: Some(prefix.into()),
            ..AuditFilter::default()
        };
        let expected: Vec<i64> = all
            .iter()
            .filter(|e| e.actor == "alice" && e.outcome == outcome && e.action.starts_with(prefix))
            .map(|e| e.seq)
            .collect();
        assert_eq!(expected.is_empty(), !some, "the reference");
        assert_eq!(search(f, None, 100).await, expected, "{outcome:?} {prefix}");
    }

    // A text in more events than the index is asked to list one by one (2,100 bulk events;
    // the cap is 2,000): beside an actor, the actor's events are tested instead, and the
    // answer is the same.
    db.execute_raw(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2100) \
         INSERT INTO audit_events (seq, at, actor, ip, user_agent, action, target, outcome, \
         details, prev_hash, hash) \
         SELECT 1000 + i, '2026-01-02T00:00:00.000000Z', \
         CASE WHEN i % 700 = 0 THEN 'alice' ELSE 'carol' END, NULL, NULL, 'test.bulk', 't', \
         'success', '{\"note\":\"bulk needle ' || i || '\"}', 'bulk', 'bulk' || i FROM n",
    )
    .await
    .expect("bulk events");
    let all = db.recent_audit(10_000).await.expect("every event");
    assert_eq!(all.len(), before.len() + after.len() + 2100);
    for (actor, text, some) in [
        ("alice", "bulk needle", true),
        ("alice", "needle", true),
        ("carol", "bulk needle 1", true),
        ("carol", "needle", true),
        ("bob", "needle", false),
        ("bob", "a_b", true),
    ] {
        let f = AuditFilter {
            actor: Some(actor.into()),
            text: Some(text.into()),
            ..AuditFilter::default()
        };
        let expected: Vec<i64> = all
            .iter()
            .filter(|e| e.actor == actor && e.details.contains(text))
            .map(|e| e.seq)
            .collect();
        assert_eq!(!expected.is_empty(), some, "the reference: {actor} {text}");
        assert_eq!(
            search(f.clone(), None, 5000).await,
            expected,
            "{actor} with {text:?}"
        );
        // A page from the middle: older than the reference's 10th event.
        if let Some(&cursor) = expected.get(9) {
            let older: Vec<i64> = expected.iter().copied().filter(|s| *s < cursor).collect();
            assert_eq!(
                search(f, Some(cursor), 5000).await,
                older,
                "{actor} with {text:?}, older than {cursor}"
            );
        }
    }

    // Someone with the database drops the append-only guard and rewrites an event's details:
    // the search follows the table (the hash chain is what reports the edit).
    let drop_guard = match dialect {
        store::Dialect::Sqlite => "DROP TRIGGER audit_events_no_update",
        store::Dialect::Postgres => "DROP TRIGGER audit_events_no_update ON audit_events",
    };
    db.execute_raw(drop_guard).await.expect("drop the guard");
    db.execute_raw(r#"UPDATE audit_events SET details = '{"note":"rewritten"}' WHERE seq = 1"#)
        .await
        .expect("edit");
    let find = |t: &str| {
        search(
            AuditFilter {
                text: Some(t.into()),
                ..AuditFilter::default()
            },
            None,
            100,
        )
    };
    assert_eq!(find("rewritten").await, [1]);
    assert!(!find("needle").await.contains(&1));
}

mod text_search_finds_exactly_the_events_containing_it {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::text_search_finds_exactly_the_events_containing_it(store::Dialect::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::text_search_finds_exactly_the_events_containing_it(store::Dialect::Postgres).await;
    }
}

/// A console whose PostgreSQL role may not create extensions (no CREATE on its database) still
/// migrates and starts: 0017 skips the trigram index with a warning, and the text filter gives
/// the same answers, by reading the events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_without_create_privilege_starts_without_the_trigram_index() {
    use domain::audit::{Actor, AuditDraft, AuditFilter, Outcome};
    let db = crate::support::TestDatabase::create(store::Dialect::Postgres).await;
    let url = db.url();
    let name = url.rsplit('/').next().expect("database name").to_owned();
    let role = format!("{name}_app");
    let mut admin = PgConnection::connect(&url)
        .await
        .expect("connect as postgres");
    // Identifiers cannot be bound; both are ours (hex digits and underscores).
    sqlx::raw_sql(&format!(
        "CREATE ROLE {role} LOGIN; REVOKE CREATE ON DATABASE {name} FROM PUBLIC; \
         GRANT USAGE, CREATE ON SCHEMA public TO {role}"
    ))
    .execute(&mut admin)
    .await
    .expect("a role without CREATE on the database");
    let as_role = url.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    let opened = store::SqlStore::open(&as_role).await;
    let outcome = async {
        let store = opened.map_err(|e| format!("the console did not start: {e}"))?;
        let trgm: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'audit_events_details_trgm'",
        )
        .fetch_one(&mut admin)
        .await
        .map_err(|e| e.to_string())?;
        if trgm != 0 {
            return Err("the trigram index exists although the role may not create it".into());
        }
        let actor = Actor {
            name: "alice".into(),
            ip: None,
            user_agent: None,
        };
        for note in ["needle in a haystack", "routine change", "another needle"] {
            store
                .record(
                    AuditDraft::new(&actor, "test.note", "t", Outcome::Success)
                        .with_details(serde_json::json!({ "note": note })),
                )
                .await
                .map_err(|e| e.to_string())?;
        }
        let found = store
            .search_audit(
                &AuditFilter {
                    text: Some("needle".into()),
                    ..AuditFilter::default()
                },
                None,
                100,
            )
            .await
            .map_err(|e| e.to_string())?;
        let notes: Vec<bool> = found.iter().map(|e| e.details.contains("needle")).collect();
        if notes != [true, true] {
            return Err(format!("the text search found {found:?}"));
        }
        drop(store);
        Ok::<(), String>(())
    }
    .await;
    // The role owns the tables the migrations made: drop them with it before the database.
    sqlx::raw_sql(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
        .execute(&mut admin)
        .await
        .expect("drop the role");
    outcome.expect("a console without CREATE privilege");
}
