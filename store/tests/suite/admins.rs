//! [`Store`]: the setup link creates one owner only, ceremonies are taken once, and sessions
//! are signed in, stepped up and signed out with their events.

use domain::admins::{Admin, Role, StoredPasskey};
use domain::ports::{Ceremony, NewOwner, NewSignIn, Store, StoreError};
use domain::sessions::SessionRecord;
use domain::setup::SetupTokenRecord;
use uuid::Uuid;

use crate::support::{draft, TestBackend};

/// A session of `admin_id` started at `at_ms`.
pub fn session(admin_id: Uuid, at_ms: i64) -> SessionRecord {
    SessionRecord {
        id_hash: Uuid::new_v4().to_string(),
        admin_id,
        created_at_ms: at_ms,
        last_seen_at_ms: at_ms,
        ip: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
        stepped_up_at_ms: None,
    }
}

/// The first owner, created with the setup link `token_hash`.
pub fn owner(token_hash: &str, username: &str) -> NewOwner {
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
            name: String::new(),
            aaguid: None,
            sign_count: 0,
        },
        session: session(id, 1),
    }
}

store_test!(a_setup_token_creates_one_owner_only);
/// Two uses of one setup link: the first creates the owner, the second is a `Conflict` and
/// creates nobody; an expired link is refused in the same transaction.
async fn a_setup_token_creates_one_owner_only(db: &TestBackend) {
    let (rec, _token) = SetupTokenRecord::issue(domain::now_ms());
    db.issue_setup_token(&rec, draft("setup_link.issue"))
        .await
        .expect("issued");
    let now = domain::now_ms();
    let alice = owner(&rec.token_hash, "alice");
    db.create_owner(&alice, now, draft("admin.setup_owner"))
        .await
        .expect("first wins");
    let second = db
        .create_owner(
            &owner(&rec.token_hash, "bob"),
            now,
            draft("admin.setup_owner"),
        )
        .await;
    assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
    assert_eq!(db.count_admins().await.expect("count"), 1);
    assert_eq!(
        db.admin_by_username("alice").await.expect("read"),
        Some(alice.admin.clone())
    );
    assert_eq!(db.admin_by_username("bob").await.expect("read"), None);
    assert_eq!(
        db.passkeys_of(alice.admin.id).await.expect("passkeys"),
        vec![alice.passkey.clone()]
    );
    assert_eq!(
        db.setup_token(&rec.token_hash)
            .await
            .expect("read")
            .expect("exists")
            .used_at_ms,
        Some(now),
        "the link is used up"
    );

    let (old, _t) = SetupTokenRecord::issue(now - 2 * domain::setup::SETUP_TOKEN_TTL_MS);
    db.issue_setup_token(&old, draft("setup_link.issue"))
        .await
        .expect("issued");
    let expired = db
        .create_owner(
            &owner(&old.token_hash, "carol"),
            now,
            draft("admin.setup_owner"),
        )
        .await;
    assert!(
        matches!(expired, Err(StoreError::Conflict(_))),
        "{expired:?}"
    );
    assert_eq!(db.count_admins().await.expect("count"), 1);
    db.assert_audit(&["setup_link.issue", "admin.setup_owner", "setup_link.issue"])
        .await;
}

store_test!(ceremonies_are_taken_once);
/// A WebAuthn ceremony answered twice: the second answer finds nothing.
async fn ceremonies_are_taken_once(db: &TestBackend) {
    let c = Ceremony {
        id_hash: "h".into(),
        kind: "sign_in".into(),
        state_json: "{}".into(),
        expires_at_ms: i64::MAX,
    };
    db.put_ceremony(&c).await.expect("put");
    assert_eq!(db.take_ceremony("h").await.expect("take"), Some(c));
    assert_eq!(db.take_ceremony("h").await.expect("take again"), None);
}

store_test!(sessions_are_signed_in_stepped_up_and_signed_out);
/// A sign-in replaces the browser's old session and records the passkey's use; a step-up
/// marks the live session; after sign-out the session is gone and a step-up on it is a
/// `Conflict` with no event; housekeeping drops idle sessions.
async fn sessions_are_signed_in_stepped_up_and_signed_out(db: &TestBackend) {
    let (rec, _token) = SetupTokenRecord::issue(domain::now_ms());
    db.issue_setup_token(&rec, draft("setup_link.issue"))
        .await
        .expect("issued");
    let alice = owner(&rec.token_hash, "alice");
    db.create_owner(&alice, domain::now_ms(), draft("admin.setup_owner"))
        .await
        .expect("owner");
    let first = alice.session.id_hash.clone();
    assert_eq!(
        db.session(&first).await.expect("read"),
        Some(alice.session.clone())
    );

    let fresh = session(alice.admin.id, 1_000);
    let used = StoredPasskey {
        last_used_at_ms: Some(1_000),
        passkey_json: r#"{"counter":1}"#.into(),
        sign_count: 1,
        ..alice.passkey.clone()
    };
    db.sign_in(
        &NewSignIn {
            session: fresh.clone(),
            passkey: Some(used.clone()),
            replaces_session_hash: Some(first.clone()),
        },
        draft("session.sign_in"),
    )
    .await
    .expect("sign in");
    assert_eq!(db.session(&first).await.expect("read"), None, "replaced");
    assert_eq!(
        db.session(&fresh.id_hash).await.expect("read"),
        Some(fresh.clone())
    );
    assert_eq!(
        db.passkeys_of(alice.admin.id).await.expect("passkeys"),
        vec![used.clone()]
    );

    let stepped = StoredPasskey {
        last_used_at_ms: Some(2_000),
        sign_count: 2,
        ..used.clone()
    };
    // A step-up gives the session a new id: the old one is gone.
    let renewed = "renewed-session-hash";
    db.step_up(
        &fresh.id_hash,
        renewed,
        &stepped,
        2_000,
        draft("session.step_up"),
    )
    .await
    .expect("step up");
    assert_eq!(
        db.passkeys_of(alice.admin.id).await.expect("passkeys"),
        vec![stepped.clone()]
    );
    assert_eq!(db.session(&fresh.id_hash).await.expect("read"), None);
    let after = db.session(renewed).await.expect("read").expect("renewed");
    assert_eq!(
        (after.stepped_up_at_ms, after.created_at_ms, after.admin_id),
        (Some(2_000), fresh.created_at_ms, alice.admin.id)
    );
    db.touch_session(renewed, 3_000).await.expect("touch");
    assert_eq!(
        db.session(renewed)
            .await
            .expect("read")
            .map(|s| s.last_seen_at_ms),
        Some(3_000)
    );

    db.sign_out(renewed, draft("session.sign_out"))
        .await
        .expect("sign out");
    assert_eq!(db.session(renewed).await.expect("read"), None);
    let late = db
        .step_up(
            renewed,
            "late-session-hash",
            &StoredPasskey {
                sign_count: 3,
                ..stepped
            },
            4_000,
            draft("session.step_up"),
        )
        .await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");

    let idle = session(alice.admin.id, 5_000);
    let live = session(alice.admin.id, 9_000);
    for s in [&idle, &live] {
        db.sign_in(
            &NewSignIn {
                session: s.clone(),
                passkey: None,
                replaces_session_hash: None,
            },
            draft("session.sign_in"),
        )
        .await
        .expect("sign in");
    }
    // Idle for 4 s at 10 s with a 3 s idle limit; the other was seen 1 s ago.
    assert_eq!(
        db.purge_expired(10_000, 3_000, 60_000)
            .await
            .expect("purge"),
        1
    );
    assert_eq!(db.session(&idle.id_hash).await.expect("read"), None);
    assert_eq!(db.session(&live.id_hash).await.expect("read"), Some(live));
    db.assert_audit(&[
        "setup_link.issue",
        "admin.setup_owner",
        "session.sign_in",
        "session.step_up",
        "session.sign_out",
        "session.sign_in",
        "session.sign_in",
    ])
    .await;
}
