//! [`AdminStore`]: invites work once while open, a role change or disabling ends the admin's
//! sessions, the console always keeps an enabled owner, an admin keeps a passkey, a passkey's
//! signature counter only moves forward, and a new setup link replaces the earlier unused one.
//! A refused change writes nothing, not even its event.

use domain::admins::{Admin, Role, StoredPasskey};
use domain::ports::admins::{AdminChange, AdminStore, InviteRecord, PASSKEY_COUNTER_CONFLICT};
use domain::ports::{NewSignIn, Store, StoreError};
use domain::sessions::SessionRecord;
use domain::setup::SetupTokenRecord;
use futures_util::future::join_all;
use uuid::Uuid;

use crate::admins::{owner, session};
use crate::support::{draft, TestBackend};

const HOUR_MS: i64 = 3_600_000;

/// The first owner, `alice`, created with a setup link (two events).
async fn alice(db: &TestBackend) -> Admin {
    let (rec, _token) = SetupTokenRecord::issue(domain::now_ms());
    db.issue_setup_token(&rec, draft("setup_link.issue"))
        .await
        .expect("issued");
    let alice = owner(&rec.token_hash, "alice");
    db.create_owner(&alice, domain::now_ms(), draft("admin.setup_owner"))
        .await
        .expect("owner");
    alice.admin
}

fn passkey(admin_id: Uuid, created_at_ms: i64, sign_count: i64) -> StoredPasskey {
    StoredPasskey {
        id: Uuid::new_v4(),
        admin_id,
        credential_id: Uuid::new_v4().to_string(),
        passkey_json: "{}".into(),
        created_at_ms,
        last_used_at_ms: None,
        name: String::new(),
        aaguid: None,
        sign_count,
    }
}

/// An invite for `role` with token hash `token`, created at `created_at_ms` by alice.
fn invite(token: &str, role: Role, created_at_ms: i64, expires_at_ms: i64) -> InviteRecord {
    InviteRecord {
        id: Uuid::new_v4(),
        token_hash: token.into(),
        role,
        label: format!("for {token}"),
        created_by: "alice".into(),
        created_at_ms,
        expires_at_ms,
        used_at_ms: None,
        used_by: None,
        revoked_at_ms: None,
    }
}

/// Accepting the invite `token` as `username` (the role asked for is ignored: the invite's
/// counts); the change and the admin it creates.
fn accept(token: &str, username: &str, now_ms: i64) -> (AdminChange, Admin) {
    let id = Uuid::new_v4();
    let admin = Admin {
        id,
        username: username.into(),
        display_name: username.to_uppercase(),
        role: Role::Owner,
        disabled: false,
        created_at_ms: now_ms,
    };
    let change = AdminChange::AcceptInvite {
        token_hash: token.into(),
        admin: Box::new(admin.clone()),
        passkey: Box::new(StoredPasskey {
            name: "first".into(),
            aaguid: Some("ee882879-721c-4913-9775-3dfcce97072a".into()),
            ..passkey(id, now_ms, 0)
        }),
        session: Box::new(session(id, now_ms)),
        now_ms,
    };
    (change, admin)
}

/// Invites and accepts `username` with `role` (two events); the admin.
async fn add_admin(db: &TestBackend, username: &str, role: Role) -> Admin {
    let now = domain::now_ms();
    let token = format!("token-{username}");
    db.apply_admin_change(
        &AdminChange::Invite(invite(&token, role, now, now + HOUR_MS)),
        draft("admin.invite"),
    )
    .await
    .expect("invite");
    let (change, admin) = accept(&token, username, now);
    db.apply_admin_change(&change, draft("admin.accept_invite"))
        .await
        .expect("accept");
    Admin { role, ..admin }
}

/// Starts another session of `admin_id` at `at_ms` (one event); its hash.
async fn sign_in(db: &TestBackend, admin_id: Uuid, at_ms: i64) -> String {
    let s = session(admin_id, at_ms);
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
    s.id_hash
}

async fn sessions_of(db: &TestBackend, admin_id: Uuid) -> Vec<String> {
    let mut hashes: Vec<String> = db
        .sessions()
        .await
        .expect("sessions")
        .into_iter()
        .filter(|s| s.admin_id == admin_id)
        .map(|s| s.id_hash)
        .collect();
    hashes.sort();
    hashes
}

async fn admin(db: &TestBackend, id: Uuid) -> Admin {
    db.admin_by_id(id).await.expect("read").expect("the admin")
}

/// Everything an admin change can touch, and the audit chain.
#[derive(Debug, PartialEq)]
struct Snapshot {
    admins: Vec<Admin>,
    invites: Vec<InviteRecord>,
    sessions: Vec<SessionRecord>,
    passkeys: Vec<StoredPasskey>,
    audit: Vec<String>,
}

async fn snapshot(db: &TestBackend) -> Snapshot {
    let admins = db.admins().await.expect("admins");
    let mut passkeys = Vec::new();
    for a in &admins {
        passkeys.extend(db.passkeys_of(a.id).await.expect("passkeys"));
    }
    Snapshot {
        invites: db.invites(1000).await.expect("invites"),
        sessions: db.sessions().await.expect("sessions"),
        audit: db.audit_actions().await,
        admins,
        passkeys,
    }
}

/// `change` is refused with `Conflict` and nothing moved, the audit chain included; the
/// message.
async fn assert_refused(db: &TestBackend, change: AdminChange) -> String {
    let before = snapshot(db).await;
    let r = db.apply_admin_change(&change, draft("admin.refused")).await;
    let Err(StoreError::Conflict(message)) = r else {
        panic!("{change:?} must be a Conflict: {r:?}");
    };
    assert_eq!(snapshot(db).await, before, "{change:?} changed something");
    message
}

store_test!(invites_read_back_newest_first_and_are_revoked_only_while_open);
/// Invites read back field for field, newest first and by token; a taken token is a typed
/// `Duplicate`; revoking works once, and never on a used or expired invite.
async fn invites_read_back_newest_first_and_are_revoked_only_while_open(db: &TestBackend) {
    alice(db).await;
    let now = domain::now_ms();
    let older = invite("t-older", Role::Operator, now - 2_000, now + HOUR_MS);
    let newer = InviteRecord {
        label: String::new(),
        ..invite("t-newer", Role::Auditor, now - 1_000, now + HOUR_MS)
    };
    let expired = invite("t-expired", Role::Admin, now - 3 * HOUR_MS, now - HOUR_MS);
    for i in [&older, &newer, &expired] {
        db.apply_admin_change(&AdminChange::Invite(i.clone()), draft("admin.invite"))
            .await
            .expect("invite");
    }
    assert_eq!(
        db.invites(10).await.expect("invites"),
        vec![newer.clone(), older.clone(), expired.clone()]
    );
    assert_eq!(db.invites(1).await.expect("invites"), vec![newer.clone()]);
    assert_eq!(
        db.invite_by_token("t-older").await.expect("by token"),
        Some(older.clone())
    );
    assert_eq!(db.invite_by_token("t-none").await.expect("by token"), None);

    let before = snapshot(db).await;
    let taken = db
        .apply_admin_change(
            &AdminChange::Invite(invite("t-older", Role::Admin, now, now + HOUR_MS)),
            draft("admin.invite"),
        )
        .await;
    assert!(
        matches!(
            taken,
            Err(StoreError::Duplicate {
                table: "invites",
                ..
            })
        ),
        "{taken:?}"
    );
    assert_eq!(snapshot(db).await, before);

    let revoke = |id, now_ms| AdminChange::RevokeInvite { id, now_ms };
    assert_eq!(
        db.apply_admin_change(&revoke(older.id, now), draft("admin.revoke_invite"))
            .await
            .expect("revoke"),
        1
    );
    assert_eq!(
        db.invite_by_token("t-older").await.expect("by token"),
        Some(InviteRecord {
            revoked_at_ms: Some(now),
            ..older.clone()
        })
    );
    let again = assert_refused(db, revoke(older.id, now + 1)).await;
    assert!(again.contains("revoked"), "{again}");
    let late = assert_refused(db, revoke(expired.id, now)).await;
    assert!(late.contains("expired"), "{late}");
    let unknown = assert_refused(db, revoke(Uuid::new_v4(), now)).await;
    assert!(unknown.contains("does not exist"), "{unknown}");
    // A revoked invite cannot be accepted.
    assert_refused(db, accept("t-older", "bob", now).0).await;

    let (change, _) = accept("t-newer", "bob", now);
    db.apply_admin_change(&change, draft("admin.accept_invite"))
        .await
        .expect("accept");
    let used = assert_refused(db, revoke(newer.id, now)).await;
    assert!(used.contains("used"), "{used}");
    db.assert_audit(&[
        "setup_link.issue",
        "admin.setup_owner",
        "admin.invite",
        "admin.invite",
        "admin.invite",
        "admin.revoke_invite",
        "admin.accept_invite",
    ])
    .await;
}

store_test!(an_invite_creates_one_admin_with_its_role_once);
/// Accepting an invite creates the admin with the invite's role, its passkey and its session,
/// and uses the invite up: a second acceptance is a `Conflict` and creates nobody. An expired
/// invite is refused; a taken username is a typed `Duplicate` and leaves the invite open.
async fn an_invite_creates_one_admin_with_its_role_once(db: &TestBackend) {
    let alice = alice(db).await;
    let now = domain::now_ms();
    let i = invite("t-bob", Role::Operator, now, now + HOUR_MS);
    db.apply_admin_change(&AdminChange::Invite(i.clone()), draft("admin.invite"))
        .await
        .expect("invite");
    let (change, bob) = accept("t-bob", "bob", now + 5);
    assert_eq!(
        db.apply_admin_change(&change, draft("admin.accept_invite"))
            .await
            .expect("accept"),
        4,
        "the invite, the admin, the passkey and the session"
    );
    let AdminChange::AcceptInvite {
        passkey: first_passkey,
        session: first_session,
        ..
    } = &change
    else {
        unreachable!("accept() builds an AcceptInvite")
    };
    let bob = Admin {
        role: Role::Operator,
        ..bob
    };
    assert_eq!(
        db.admins().await.expect("admins"),
        vec![alice.clone(), bob.clone()]
    );
    assert_eq!(
        db.passkeys_of(bob.id).await.expect("passkeys"),
        vec![(**first_passkey).clone()]
    );
    assert_eq!(
        db.session(&first_session.id_hash).await.expect("read"),
        Some((**first_session).clone())
    );
    assert_eq!(
        db.invite_by_token("t-bob").await.expect("by token"),
        Some(InviteRecord {
            used_at_ms: Some(now + 5),
            used_by: Some("bob".into()),
            ..i
        })
    );

    let twice = assert_refused(db, accept("t-bob", "carol", now + 6).0).await;
    assert!(twice.contains("used"), "{twice}");
    assert_eq!(db.admin_by_username("carol").await.expect("read"), None);

    db.apply_admin_change(
        &AdminChange::Invite(invite(
            "t-old",
            Role::Admin,
            now - 2 * HOUR_MS,
            now - HOUR_MS,
        )),
        draft("admin.invite"),
    )
    .await
    .expect("invite");
    let expired = assert_refused(db, accept("t-old", "dave", now).0).await;
    assert!(expired.contains("expired"), "{expired}");
    let unknown = assert_refused(db, accept("t-none", "erin", now).0).await;
    assert!(unknown.contains("does not exist"), "{unknown}");

    db.apply_admin_change(
        &AdminChange::Invite(invite("t-again", Role::Admin, now, now + HOUR_MS)),
        draft("admin.invite"),
    )
    .await
    .expect("invite");
    let before = snapshot(db).await;
    let taken = db
        .apply_admin_change(
            &accept("t-again", "bob", now).0,
            draft("admin.accept_invite"),
        )
        .await;
    assert!(
        matches!(
            taken,
            Err(StoreError::Duplicate {
                table: "admins",
                ..
            })
        ),
        "{taken:?}"
    );
    assert_eq!(snapshot(db).await, before, "the invite stays open");
    assert_eq!(
        db.invite_by_token("t-again")
            .await
            .expect("by token")
            .and_then(|i| i.used_at_ms),
        None
    );
    db.apply_admin_change(
        &accept("t-again", "frank", now).0,
        draft("admin.accept_invite"),
    )
    .await
    .expect("the invite still works with a free username");
    db.assert_audit(&[
        "setup_link.issue",
        "admin.setup_owner",
        "admin.invite",
        "admin.accept_invite",
        "admin.invite",
        "admin.invite",
        "admin.accept_invite",
    ])
    .await;
}

store_test!(admins_and_sessions_list_in_order);
/// Admins list by username in byte order on both databases ('.' before '_', which a locale
/// collation reverses); sessions list newest first.
async fn admins_and_sessions_list_in_order(db: &TestBackend) {
    let alice = alice(db).await;
    let under = add_admin(db, "b_x", Role::Auditor).await;
    let dot = add_admin(db, "b.x", Role::Admin).await;
    assert_eq!(
        db.admins().await.expect("admins"),
        vec![alice.clone(), dot.clone(), under.clone()]
    );
    let late = sign_in(db, under.id, domain::now_ms() + 60_000).await;
    let early = sign_in(db, dot.id, 2).await;
    let listed: Vec<i64> = db
        .sessions()
        .await
        .expect("sessions")
        .iter()
        .map(|s| s.created_at_ms)
        .collect();
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert!(listed.windows(2).all(|w| w[0] >= w[1]), "{listed:?}");
    let sessions = db.sessions().await.expect("sessions");
    assert_eq!(sessions.first().map(|s| &s.id_hash), Some(&late));
    assert_eq!(sessions.last().map(|s| s.created_at_ms), Some(1));
    assert!(sessions.iter().any(|s| s.id_hash == early));
    db.assert_audit(&[
        "setup_link.issue",
        "admin.setup_owner",
        "admin.invite",
        "admin.accept_invite",
        "admin.invite",
        "admin.accept_invite",
        "session.sign_in",
        "session.sign_in",
    ])
    .await;
}

store_test!(a_role_change_ends_the_admins_sessions_and_refuses_a_stale_role);
/// Changing a role ends every session of that admin (and no one else's); a change made from
/// a role the admin no longer has is refused.
async fn a_role_change_ends_the_admins_sessions_and_refuses_a_stale_role(db: &TestBackend) {
    let alice = alice(db).await;
    let bob = add_admin(db, "bob", Role::Operator).await;
    sign_in(db, bob.id, 10).await;
    let alice_sessions = sessions_of(db, alice.id).await;
    assert_eq!(sessions_of(db, bob.id).await.len(), 2);

    let promote = AdminChange::SetRole {
        admin_id: bob.id,
        from: Role::Operator,
        to: Role::Admin,
    };
    assert_eq!(
        db.apply_admin_change(&promote, draft("admin.set_role"))
            .await
            .expect("set role"),
        3,
        "the admin and two sessions"
    );
    assert_eq!(admin(db, bob.id).await.role, Role::Admin);
    assert_eq!(sessions_of(db, bob.id).await, Vec::<String>::new());
    assert_eq!(sessions_of(db, alice.id).await, alice_sessions);

    let stale = assert_refused(db, promote).await;
    assert!(stale.contains("now admin"), "{stale}");
    assert_refused(
        db,
        AdminChange::SetRole {
            admin_id: Uuid::new_v4(),
            from: Role::Operator,
            to: Role::Admin,
        },
    )
    .await;
    db.assert_audit(&[
        "setup_link.issue",
        "admin.setup_owner",
        "admin.invite",
        "admin.accept_invite",
        "session.sign_in",
        "admin.set_role",
    ])
    .await;
}

store_test!(disabling_ends_the_admins_sessions);
/// Disabling ends every session of that admin; enabling again brings none back.
async fn disabling_ends_the_admins_sessions(db: &TestBackend) {
    let alice = alice(db).await;
    let bob = add_admin(db, "bob", Role::Admin).await;
    sign_in(db, bob.id, 10).await;
    let alice_sessions = sessions_of(db, alice.id).await;
    let set = |disabled| AdminChange::SetDisabled {
        admin_id: bob.id,
        disabled,
    };
    assert_eq!(
        db.apply_admin_change(&set(true), draft("admin.disable"))
            .await
            .expect("disable"),
        3
    );
    assert!(admin(db, bob.id).await.disabled);
    assert_eq!(sessions_of(db, bob.id).await, Vec::<String>::new());
    assert_eq!(sessions_of(db, alice.id).await, alice_sessions);
    assert_eq!(
        db.apply_admin_change(&set(false), draft("admin.enable"))
            .await
            .expect("enable"),
        1
    );
    assert!(!admin(db, bob.id).await.disabled);
    assert_eq!(sessions_of(db, bob.id).await, Vec::<String>::new());
    assert_refused(
        db,
        AdminChange::SetDisabled {
            admin_id: Uuid::new_v4(),
            disabled: true,
        },
    )
    .await;
    db.assert_audit(&[
        "setup_link.issue",
        "admin.setup_owner",
        "admin.invite",
        "admin.accept_invite",
        "session.sign_in",
        "admin.disable",
        "admin.enable",
    ])
    .await;
}

store_test!(the_last_enabled_owner_can_be_neither_demoted_nor_disabled);
/// The console keeps an enabled owner: the last one cannot be demoted or disabled (and keeps
/// their sessions), a disabled owner does not count, and with a second enabled owner either
/// change goes through.
async fn the_last_enabled_owner_can_be_neither_demoted_nor_disabled(db: &TestBackend) {
    let alice = alice(db).await;
    let demote = |admin_id| AdminChange::SetRole {
        admin_id,
        from: Role::Owner,
        to: Role::Admin,
    };
    let disable = |admin_id| AdminChange::SetDisabled {
        admin_id,
        disabled: true,
    };
    let m = assert_refused(db, demote(alice.id)).await;
    assert!(m.contains("at least one enabled owner"), "{m}");
    let m = assert_refused(db, disable(alice.id)).await;
    assert!(m.contains("at least one enabled owner"), "{m}");

    let bob = add_admin(db, "bob", Role::Owner).await;
    let carol = add_admin(db, "carol", Role::Owner).await;
    db.apply_admin_change(&disable(carol.id), draft("admin.disable"))
        .await
        .expect("carol disabled: alice and bob remain");
    db.apply_admin_change(&demote(alice.id), draft("admin.set_role"))
        .await
        .expect("alice demoted: bob remains");
    // Carol is an owner, but disabled: bob is the last enabled one.
    assert_refused(db, demote(bob.id)).await;
    assert_refused(db, disable(bob.id)).await;
    assert_eq!(admin(db, bob.id).await, bob);
    db.apply_admin_change(
        &AdminChange::SetDisabled {
            admin_id: carol.id,
            disabled: false,
        },
        draft("admin.enable"),
    )
    .await
    .expect("carol enabled");
    db.apply_admin_change(&disable(bob.id), draft("admin.disable"))
        .await
        .expect("bob disabled: carol remains");
    db.assert_audit(&[
        "setup_link.issue",
        "admin.setup_owner",
        "admin.invite",
        "admin.accept_invite",
        "admin.invite",
        "admin.accept_invite",
        "admin.disable",
        "admin.set_role",
        "admin.enable",
        "admin.disable",
    ])
    .await;
}

/// Applies every change at the same moment, each by its own writer (on PostgreSQL a console
/// replica of its own, connected beforehand); the results, in order.
async fn all_at_once(
    db: &TestBackend,
    changes: &[AdminChange],
    action: &str,
) -> Vec<Result<u64, StoreError>> {
    let mut writers = Vec::new();
    for _ in changes {
        let w = db.second_writer().await;
        w.admins().await.expect("connect");
        writers.push(w);
    }
    join_all(
        writers
            .iter()
            .zip(changes)
            .map(|(w, c)| w.apply_admin_change(c, draft(action))),
    )
    .await
}

/// Exactly `ok` of `results` went through and the others are `Conflict`s.
fn assert_applied(results: &[Result<u64, StoreError>], ok: usize) {
    let applied = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!((applied, refused), (ok, results.len() - ok), "{results:?}");
}

store_test!(owners_demoted_at_once_leave_one);
/// Four owners, each demoted by another writer at the same moment: each change alone is fine,
/// all together would leave none, so exactly three go through.
async fn owners_demoted_at_once_leave_one(db: &TestBackend) {
    let mut owners = vec![alice(db).await];
    for name in ["bob", "carol", "dave"] {
        owners.push(add_admin(db, name, Role::Owner).await);
    }
    let demotions: Vec<AdminChange> = owners
        .iter()
        .map(|o| AdminChange::SetRole {
            admin_id: o.id,
            from: Role::Owner,
            to: Role::Admin,
        })
        .collect();
    assert_applied(&all_at_once(db, &demotions, "admin.set_role").await, 3);
    let left = db
        .admins()
        .await
        .expect("admins")
        .into_iter()
        .filter(|a| a.role == Role::Owner)
        .count();
    assert_eq!(left, 1);
    let mut expected = vec!["setup_link.issue", "admin.setup_owner"];
    for _ in 0..3 {
        expected.extend(["admin.invite", "admin.accept_invite"]);
    }
    expected.extend(["admin.set_role"; 3]);
    db.assert_audit(&expected).await;
}

store_test!(sessions_end_one_or_all_but_the_kept_one);
/// Ending sessions: the one named (only if it is that admin's), or all but the one kept, or
/// all; the count is the sessions ended.
async fn sessions_end_one_or_all_but_the_kept_one(db: &TestBackend) {
    let alice = alice(db).await;
    let bob = add_admin(db, "bob", Role::Admin).await;
    let first = sessions_of(db, alice.id).await.remove(0);
    let second = sign_in(db, alice.id, 20).await;
    let third = sign_in(db, alice.id, 30).await;
    let bobs = sessions_of(db, bob.id).await;
    let end = |admin_id, only: Option<&String>, keep: Option<&String>| AdminChange::EndSessions {
        admin_id,
        only: only.cloned(),
        keep: keep.cloned(),
    };

    assert_eq!(
        db.apply_admin_change(&end(alice.id, Some(&second), None), draft("session.end"))
            .await
            .expect("end one"),
        1
    );
    let mut left = vec![first.clone(), third.clone()];
    left.sort();
    assert_eq!(sessions_of(db, alice.id).await, left);
    assert_eq!(
        db.apply_admin_change(&end(alice.id, Some(&bobs[0]), None), draft("session.end"))
            .await
            .expect("another admin's session"),
        0,
        "another admin's session is not ended"
    );
    assert_eq!(sessions_of(db, bob.id).await, bobs);
    assert_eq!(
        db.apply_admin_change(&end(alice.id, None, Some(&first)), draft("session.end"))
            .await
            .expect("end the others"),
        1
    );
    assert_eq!(sessions_of(db, alice.id).await, vec![first.clone()]);
    assert_eq!(
        db.apply_admin_change(&end(bob.id, None, None), draft("session.end"))
            .await
            .expect("end all"),
        1
    );
    assert_eq!(sessions_of(db, bob.id).await, Vec::<String>::new());
    assert_eq!(sessions_of(db, alice.id).await, vec![first]);
    assert_refused(db, end(Uuid::new_v4(), None, None)).await;
    db.assert_audit(&[
        "setup_link.issue",
        "admin.setup_owner",
        "admin.invite",
        "admin.accept_invite",
        "session.sign_in",
        "session.sign_in",
        "session.end",
        "session.end",
        "session.end",
        "session.end",
    ])
    .await;
}

store_test!(passkeys_are_added_renamed_and_revoked_but_never_the_last);
/// Another passkey reads back with its name and AAGUID; a taken credential is a typed
/// `Duplicate`; a passkey is renamed and revoked only through its own admin, and an admin's
/// last passkey cannot be revoked.
async fn passkeys_are_added_renamed_and_revoked_but_never_the_last(db: &TestBackend) {
    let alice = alice(db).await;
    let bob = add_admin(db, "bob", Role::Admin).await;
    let first = db.passkeys_of(alice.id).await.expect("passkeys").remove(0);
    let second = StoredPasskey {
        name: "YubiKey 5C".into(),
        aaguid: Some("cb69481e-8ff7-4039-93ec-0a2729a154a8".into()),
        sign_count: 7,
        last_used_at_ms: Some(9),
        ..passkey(alice.id, 2, 0)
    };
    assert_eq!(
        db.apply_admin_change(
            &AdminChange::AddPasskey(second.clone()),
            draft("passkey.add")
        )
        .await
        .expect("add"),
        1
    );
    assert_eq!(
        db.passkeys_of(alice.id).await.expect("passkeys"),
        vec![first.clone(), second.clone()]
    );
    let before = snapshot(db).await;
    let taken = db
        .apply_admin_change(
            &AdminChange::AddPasskey(StoredPasskey {
                credential_id: second.credential_id.clone(),
                ..passkey(bob.id, 3, 0)
            }),
            draft("passkey.add"),
        )
        .await;
    assert!(
        matches!(
            taken,
            Err(StoreError::Duplicate {
                table: "passkeys",
                ..
            })
        ),
        "{taken:?}"
    );
    assert_eq!(snapshot(db).await, before);
    assert_refused(db, AdminChange::AddPasskey(passkey(Uuid::new_v4(), 3, 0))).await;

    let rename = |admin_id, id| AdminChange::RenamePasskey {
        admin_id,
        id,
        name: "Laptop".into(),
    };
    assert_eq!(
        db.apply_admin_change(&rename(alice.id, first.id), draft("passkey.rename"))
            .await
            .expect("rename"),
        1
    );
    let first = StoredPasskey {
        name: "Laptop".into(),
        ..first
    };
    assert_eq!(
        db.passkeys_of(alice.id).await.expect("passkeys"),
        vec![first.clone(), second.clone()]
    );
    assert_refused(db, rename(bob.id, first.id)).await;
    assert_refused(db, rename(alice.id, Uuid::new_v4())).await;

    let revoke = |admin_id, id| AdminChange::RevokePasskey { admin_id, id };
    assert_refused(db, revoke(bob.id, first.id)).await;
    assert_eq!(
        db.apply_admin_change(&revoke(alice.id, first.id), draft("passkey.revoke"))
            .await
            .expect("revoke"),
        1
    );
    assert_eq!(
        db.passkeys_of(alice.id).await.expect("passkeys"),
        vec![second.clone()]
    );
    let last = assert_refused(db, revoke(alice.id, second.id)).await;
    assert!(last.contains("last passkey"), "{last}");
    let gone = assert_refused(db, revoke(alice.id, first.id)).await;
    assert!(gone.contains("does not exist"), "{gone}");
    assert_eq!(
        db.passkeys_of(alice.id).await.expect("passkeys"),
        vec![second]
    );
    db.assert_audit(&[
        "setup_link.issue",
        "admin.setup_owner",
        "admin.invite",
        "admin.accept_invite",
        "passkey.add",
        "passkey.rename",
        "passkey.revoke",
    ])
    .await;
}

store_test!(passkeys_revoked_at_once_leave_one);
/// An admin's four passkeys, each revoked by another writer at the same moment: three go, the
/// admin keeps the fourth.
async fn passkeys_revoked_at_once_leave_one(db: &TestBackend) {
    let alice = alice(db).await;
    let mut ids = vec![db.passkeys_of(alice.id).await.expect("passkeys")[0].id];
    for at in 2..5 {
        let p = passkey(alice.id, at, 0);
        ids.push(p.id);
        db.apply_admin_change(&AdminChange::AddPasskey(p), draft("passkey.add"))
            .await
            .expect("add");
    }
    let revocations: Vec<AdminChange> = ids
        .iter()
        .map(|&id| AdminChange::RevokePasskey {
            admin_id: alice.id,
            id,
        })
        .collect();
    assert_applied(&all_at_once(db, &revocations, "passkey.revoke").await, 3);
    assert_eq!(db.passkeys_of(alice.id).await.expect("passkeys").len(), 1);
    let mut expected = vec!["setup_link.issue", "admin.setup_owner"];
    expected.extend(["passkey.add"; 3]);
    expected.extend(["passkey.revoke"; 3]);
    db.assert_audit(&expected).await;
}

/// A sign-in with `p`, replacing the browser's session `replaces`; the new session.
fn signing_in(p: &StoredPasskey, replaces: &str, at_ms: i64) -> NewSignIn {
    NewSignIn {
        session: session(p.admin_id, at_ms),
        passkey: Some(StoredPasskey {
            last_used_at_ms: Some(at_ms),
            ..p.clone()
        }),
        replaces_session_hash: Some(replaces.to_owned()),
    }
}

/// `sign_in` is refused as a counter conflict and wrote nothing: no new session, the replaced
/// one kept, the passkey unchanged, no event.
async fn assert_counter_refused(db: &TestBackend, s: &NewSignIn) {
    let before = snapshot(db).await;
    let r = db.sign_in(s, draft("session.sign_in")).await;
    assert!(
        matches!(&r, Err(StoreError::Conflict(m)) if m == PASSKEY_COUNTER_CONFLICT),
        "{r:?}"
    );
    assert_eq!(snapshot(db).await, before);
}

store_test!(a_passkeys_signature_counter_only_moves_forward);
/// A sign-in or step-up whose counter is not above the stored one is a counter conflict and
/// writes nothing (0 to 0 stays allowed for authenticators that never count); a sign-in keeps
/// the name the admin gave the passkey meanwhile; two sign-ins with the same counter at once:
/// one wins.
async fn a_passkeys_signature_counter_only_moves_forward(db: &TestBackend) {
    let alice = alice(db).await;
    let browser = sessions_of(db, alice.id).await.remove(0);
    let stored = db.passkeys_of(alice.id).await.expect("passkeys").remove(0);
    assert_eq!(stored.sign_count, 0);

    let never_counts = signing_in(&stored, &browser, 10);
    db.sign_in(&never_counts, draft("session.sign_in"))
        .await
        .expect("0 after 0");
    let browser = never_counts.session.id_hash.clone();

    db.apply_admin_change(
        &AdminChange::RenamePasskey {
            admin_id: alice.id,
            id: stored.id,
            name: "Laptop".into(),
        },
        draft("passkey.rename"),
    )
    .await
    .expect("rename");
    // `stored` still has the old (empty) name, as a sign-in that read it before would.
    let five = StoredPasskey {
        sign_count: 5,
        ..stored.clone()
    };
    let counted = signing_in(&five, &browser, 20);
    db.sign_in(&counted, draft("session.sign_in"))
        .await
        .expect("5 after 0");
    let browser = counted.session.id_hash.clone();
    assert_eq!(
        db.passkeys_of(alice.id).await.expect("passkeys"),
        vec![StoredPasskey {
            name: "Laptop".into(),
            last_used_at_ms: Some(20),
            ..five.clone()
        }]
    );

    for count in [5, 4, 0] {
        let p = StoredPasskey {
            sign_count: count,
            ..stored.clone()
        };
        assert_counter_refused(db, &signing_in(&p, &browser, 30)).await;
    }
    let before = snapshot(db).await;
    let stale = db
        .step_up(
            &browser,
            "browser-stale",
            &five,
            40,
            draft("session.step_up"),
        )
        .await;
    assert!(
        matches!(&stale, Err(StoreError::Conflict(m)) if m == PASSKEY_COUNTER_CONFLICT),
        "{stale:?}"
    );
    assert_eq!(snapshot(db).await, before, "no step-up recorded");
    let six = StoredPasskey {
        sign_count: 6,
        ..five.clone()
    };
    db.step_up(
        &browser,
        "browser-renewed",
        &six,
        50,
        draft("session.step_up"),
    )
    .await
    .expect("6 after 5");
    // The step-up gave the session a new id.
    let browser = "browser-renewed".to_owned();
    assert_eq!(
        db.passkeys_of(alice.id)
            .await
            .expect("passkeys")
            .iter()
            .map(|p| p.sign_count)
            .collect::<Vec<_>>(),
        vec![6]
    );

    // Two assertions with the same counter racing: the first to commit wins.
    let seven = StoredPasskey {
        sign_count: 7,
        ..stored.clone()
    };
    let other = db.second_writer().await;
    let (x, y) = (
        signing_in(&seven, &browser, 60),
        signing_in(&seven, &browser, 61),
    );
    let (rx, ry) = tokio::join!(
        db.sign_in(&x, draft("session.sign_in")),
        other.sign_in(&y, draft("session.sign_in")),
    );
    let lost = [&rx, &ry]
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(m)) if m == PASSKEY_COUNTER_CONFLICT))
        .count();
    assert!(rx.is_ok() != ry.is_ok() && lost == 1, "{rx:?} {ry:?}");
    assert_eq!(sessions_of(db, alice.id).await.len(), 1, "one session");

    // A passkey removed meanwhile is not reported as a possible clone.
    let spare = passkey(alice.id, 3, 0);
    db.apply_admin_change(&AdminChange::AddPasskey(spare), draft("passkey.add"))
        .await
        .expect("add");
    db.apply_admin_change(
        &AdminChange::RevokePasskey {
            admin_id: alice.id,
            id: stored.id,
        },
        draft("passkey.revoke"),
    )
    .await
    .expect("revoke");
    let browser = sessions_of(db, alice.id).await.remove(0);
    let eight = StoredPasskey {
        sign_count: 8,
        ..stored
    };
    let r = db
        .sign_in(&signing_in(&eight, &browser, 70), draft("session.sign_in"))
        .await;
    assert!(
        matches!(&r, Err(StoreError::Conflict(m)) if m != PASSKEY_COUNTER_CONFLICT),
        "{r:?}"
    );
    assert_eq!(sessions_of(db, alice.id).await, vec![browser]);
    db.assert_audit(&[
        "setup_link.issue",
        "admin.setup_owner",
        "session.sign_in",
        "passkey.rename",
        "session.sign_in",
        "session.step_up",
        "session.sign_in",
        "passkey.add",
        "passkey.revoke",
    ])
    .await;
}

store_test!(a_new_setup_link_removes_the_earlier_unused_one);
/// Issuing a setup link revokes the earlier unused ones (they stop working at once); a used
/// one stays as the record of the setup.
async fn a_new_setup_link_removes_the_earlier_unused_one(db: &TestBackend) {
    let now = domain::now_ms();
    let (first, _t) = SetupTokenRecord::issue(now);
    let (second, _t) = SetupTokenRecord::issue(now + 1);
    for rec in [&first, &second] {
        db.issue_setup_token(rec, draft("setup_link.issue"))
            .await
            .expect("issued");
    }
    assert_eq!(db.setup_token(&first.token_hash).await.expect("read"), None);
    assert_eq!(
        db.setup_token(&second.token_hash).await.expect("read"),
        Some(second.clone())
    );
    let old = db
        .create_owner(
            &owner(&first.token_hash, "alice"),
            now + 2,
            draft("admin.setup_owner"),
        )
        .await;
    assert!(matches!(old, Err(StoreError::Conflict(_))), "{old:?}");
    assert_eq!(db.count_admins().await.expect("count"), 0);
    db.create_owner(
        &owner(&second.token_hash, "alice"),
        now + 2,
        draft("admin.setup_owner"),
    )
    .await
    .expect("the newest link works");
    let (third, _t) = SetupTokenRecord::issue(now + 3);
    db.issue_setup_token(&third, draft("setup_link.issue"))
        .await
        .expect("issued");
    assert_eq!(
        db.setup_token(&second.token_hash)
            .await
            .expect("read")
            .and_then(|r| r.used_at_ms),
        Some(now + 2),
        "a used link stays"
    );
    assert!(db
        .setup_token(&third.token_hash)
        .await
        .expect("read")
        .is_some());
    db.assert_audit(&[
        "setup_link.issue",
        "setup_link.issue",
        "admin.setup_owner",
        "setup_link.issue",
    ])
    .await;
}
