//! The SQLite store against a real database file: changes and their audit events commit
//! together or not at all, concurrent appends keep one unbroken chain, ceremonies are taken
//! once, and answered changes survive a reopen.

use std::sync::Arc;

use domain::admins::{Admin, Role, StoredPasskey};
use domain::audit::{Actor, AuditDraft, Outcome};
use domain::ports::{Ceremony, NewOwner, Store, StoreError};
use domain::sessions::SessionRecord;
use domain::setup::SetupTokenRecord;
use store::SqliteStore;
use uuid::Uuid;

async fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .expect("open")
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

#[tokio::test]
async fn a_change_whose_audit_event_cannot_be_written_is_not_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(&dir).await;
    let (rec, _token) = SetupTokenRecord::issue(domain::now_ms());
    s.issue_setup_token(&rec, draft("setup_link.issue"))
        .await
        .expect("issued");
    // Break the audit table the way a full disk or a bad migration would: appends now fail.
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
}

#[tokio::test]
async fn a_setup_token_creates_one_owner_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(&dir).await;
    let (rec, _token) = SetupTokenRecord::issue(domain::now_ms());
    s.issue_setup_token(&rec, draft("setup_link.issue"))
        .await
        .expect("issued");
    let now = domain::now_ms();
    s.create_owner(
        &owner(&rec.token_hash, "alice"),
        now,
        draft("admin.setup_owner"),
    )
    .await
    .expect("first wins");
    let second = s
        .create_owner(
            &owner(&rec.token_hash, "bob"),
            now,
            draft("admin.setup_owner"),
        )
        .await;
    assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
    assert_eq!(s.count_admins().await.expect("count"), 1);
    // An expired token is refused in the same transaction.
    let (old, _t) = SetupTokenRecord::issue(now - 2 * domain::setup::SETUP_TOKEN_TTL_MS);
    s.issue_setup_token(&old, draft("setup_link.issue"))
        .await
        .expect("issued");
    assert!(matches!(
        s.create_owner(&owner(&old.token_hash, "carol"), now, draft("x"))
            .await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn concurrent_appends_form_one_unbroken_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(open(&dir).await);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.record(draft(&format!("test.{i}"))).await
        }));
    }
    for t in tasks {
        t.await.expect("joined").expect("appended");
    }
    assert_eq!(s.verify_audit().await.expect("walk"), Ok(100));
}

#[tokio::test]
async fn ceremonies_are_taken_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(&dir).await;
    let c = Ceremony {
        id_hash: "h".into(),
        kind: "sign_in".into(),
        state_json: "{}".into(),
        expires_at_ms: i64::MAX,
    };
    s.put_ceremony(&c).await.expect("put");
    assert_eq!(s.take_ceremony("h").await.expect("take"), Some(c));
    assert_eq!(s.take_ceremony("h").await.expect("take again"), None);
}

#[tokio::test]
async fn answered_changes_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = open(&dir).await;
        for i in 0..10 {
            s.record(draft(&format!("test.{i}")))
                .await
                .expect("appended");
        }
    }
    let s = open(&dir).await;
    assert_eq!(s.verify_audit().await.expect("walk"), Ok(10));
    s.ready().await.expect("migrations applied");
}
