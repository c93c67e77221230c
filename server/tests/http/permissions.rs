//! The permission matrix: every server fn, download and page × anonymous and every role, each
//! answer compared with the access tables (`app::access` for what a fn needs, `policy::access`
//! for what a role holds). Fns, pages and downloads are discovered (server_fn's registry, the
//! app's route list, the download table), so a new one without a rule fails here. A refusal by
//! role is a 403 naming the permission, audited as `denied` under the rule's action; a
//! step-up rule refuses a session without a recent passkey confirmation, and lets it through
//! after one.

use app::access::{self, Need};
use policy::access::{Permission, Role};

use crate::support::soft_authenticator::SoftAuthenticator;
use crate::support::{Reply, TestApp};

/// Fns an allowed call would disturb the rest of the walk with (ending the session).
const NOT_CALLED_WHEN_ALLOWED: &[&str] = &["sign_out"];

struct Caller {
    role: Role,
    username: &'static str,
    soft: SoftAuthenticator,
    cookie: String,
}

fn endpoints() -> Vec<&'static str> {
    let prefix = format!("{}/", server::ui::FN_PREFIX);
    server::ui::server_fn_paths()
        .into_iter()
        .map(|p| p.strip_prefix(prefix.as_str()).expect("under the prefix"))
        .collect()
}

fn forbidden_by_role(r: &Reply) -> bool {
    r.status == 403 && r.body.contains("does not allow this")
}

fn needs_step_up(r: &Reply) -> bool {
    r.status == 403 && r.body.contains("Confirm with your passkey first")
}

/// One team: the owner from setup, and an admin, an operator and an auditor who joined
/// through invites.
async fn team(app: &TestApp) -> Vec<Caller> {
    let mut owner_soft = SoftAuthenticator::new();
    let mut owner = app.setup_owner(&mut owner_soft, "olivia").await;
    assert_eq!(app.step_up(&mut owner_soft, &mut owner).await.status, 200);
    let mut callers = Vec::new();
    for (role, username) in [
        (Role::Admin, "adam"),
        (Role::Operator, "oscar"),
        (Role::Auditor, "audrey"),
    ] {
        let (soft, cookie) = app.invite(&owner, role.as_str(), username).await;
        callers.push(Caller {
            role,
            username,
            soft,
            cookie,
        });
    }
    callers.insert(
        0,
        Caller {
            role: Role::Owner,
            username: "olivia",
            soft: owner_soft,
            cookie: owner,
        },
    );
    callers
}

#[tokio::test]
async fn every_fn_download_and_page_answers_each_role_as_the_table_says() {
    let app = TestApp::spawn().await;
    let mut callers = team(&app).await;
    let fns = endpoints();
    assert!(fns.len() > 60, "the registry is read: {fns:?}");
    for f in &fns {
        assert!(
            access::server_fn(f).is_some(),
            "server fn {f} has no rule in app::access::SERVER_FNS"
        );
    }

    // Anonymous: public fns are reached (their empty arguments are refused, not the caller),
    // every other fn answers 401.
    for f in &fns {
        let rule = access::server_fn(f).expect("rule");
        let r = app.call(f, &[], None).await;
        if rule.need == Need::Public {
            assert!(
                ![401, 403].contains(&r.status),
                "{f} anonymous: {} {}",
                r.status,
                r.body
            );
        } else {
            assert_eq!(r.status, 401, "{f} anonymous: {}", r.body);
        }
    }

    // Each role, first without a step-up (the owner's setup session was stepped up for the
    // invites: sign in again for a fresh session), then stepped up.
    let mut checked = 0;
    for c in callers.iter_mut() {
        if c.role == Role::Owner {
            c.cookie = app.sign_in(&mut c.soft, c.username).await;
        }
        for stepped_up in [false, true] {
            if stepped_up {
                assert_eq!(app.step_up(&mut c.soft, &mut c.cookie).await.status, 200);
            }
            for f in &fns {
                let rule = access::server_fn(f).expect("rule");
                let allowed = rule.need.allows(Some(c.role));
                if allowed && NOT_CALLED_WHEN_ALLOWED.contains(f) {
                    continue;
                }
                let r = app.call(f, &[], Some(&c.cookie)).await;
                let who = format!("{f} as {} (step-up: {stepped_up})", c.role.as_str());
                assert_ne!(
                    r.status, 401,
                    "{who}: the session must survive the walk: {}",
                    r.body
                );
                if !allowed {
                    assert!(
                        forbidden_by_role(&r),
                        "{who} must be refused: {} {}",
                        r.status,
                        r.body
                    );
                    let p = rule.need.permission().expect("a permission refuses");
                    assert!(r.body.contains(p.as_str()), "{who}: names {}", p.as_str());
                    let e = app.last_event().await;
                    assert_eq!(
                        (e.action.as_str(), e.outcome.as_str(), e.actor.as_str()),
                        (rule.action, "denied", c.username),
                        "{who}: audited"
                    );
                } else if matches!(rule.need, Need::StepUp(_)) && !stepped_up {
                    assert!(
                        needs_step_up(&r),
                        "{who} needs a step-up: {} {}",
                        r.status,
                        r.body
                    );
                } else {
                    assert!(
                        !forbidden_by_role(&r) && !needs_step_up(&r),
                        "{who} must be let through: {} {}",
                        r.status,
                        r.body
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 400, "{checked}");

    // Downloads and pages: every download path and every page, each role.
    let downloads = [
        "/download/pinsets/api.example.com/android",
        "/download/csr/x",
        "/download/jwks/access-tokens",
        "/download/cert-chain/x",
        "/download/audit.csv",
        // Without a ticket: refused by role (403) or for the missing ticket (400), never a key.
        "/download/cert-key/x",
    ];
    for (prefix, _) in access::DOWNLOADS {
        assert!(
            downloads.iter().any(|d| d.starts_with(prefix)),
            "download {prefix} is not walked here"
        );
    }
    let pages: Vec<String> = server::ui::page_paths()
        .into_iter()
        .filter(|p| !["/login", "/setup", "/invite"].contains(&p.as_str()))
        .collect();
    assert!(pages.contains(&"/admins".to_owned()), "{pages:?}");
    for c in &callers {
        for d in downloads {
            let r = app.get(d, Some(&c.cookie)).await;
            let p = access::download(d).expect("a rule");
            let allowed = c.role.allows(p);
            assert_eq!(
                r.status == 403,
                !allowed,
                "{d} as {}: {}",
                c.role.as_str(),
                r.status
            );
        }
        for page in &pages {
            let r = app.get(page, Some(&c.cookie)).await;
            let allowed = c.role.allows(access::page(page));
            assert_eq!(
                r.status == 200,
                allowed,
                "{page} as {}: {}",
                c.role.as_str(),
                r.status
            );
        }
    }
    for d in downloads {
        assert_ne!(app.get(d, None).await.status, 200, "{d} anonymous");
    }
}

/// The promises made to each role, spelled out (independently of the tables above).
#[tokio::test]
async fn auditors_change_nothing_and_operators_rotate_but_do_not_revoke() {
    let app = TestApp::spawn().await;
    let mut callers = team(&app).await;
    let [_owner, _admin, operator, auditor] = &mut callers[..] else {
        panic!("four callers")
    };
    assert_eq!(
        app.step_up(&mut auditor.soft, &mut auditor.cookie)
            .await
            .status,
        200
    );
    assert_eq!(
        app.step_up(&mut operator.soft, &mut operator.cookie)
            .await
            .status,
        200
    );
    for f in [
        "save_policy",
        "delete_client",
        "create_ca",
        "revoke_signing_key",
        "add_gate",
        "create_invite",
        "push_gates_now",
        "rotate_signing_key",
        "probe_pins",
    ] {
        let r = app.call(f, &[], Some(&auditor.cookie)).await;
        assert!(
            forbidden_by_role(&r),
            "auditor {f}: {} {}",
            r.status,
            r.body
        );
    }
    for f in [
        "list_clients",
        "list_audit_events",
        "list_admins",
        "list_gates",
    ] {
        let r = app.call(f, &[], Some(&auditor.cookie)).await;
        assert!(!forbidden_by_role(&r), "auditor reads {f}: {}", r.status);
    }
    for f in [
        "rotate_signing_key",
        "rotate_cert",
        "export_for_release",
        "push_gates_now",
        "probe_pins",
    ] {
        let r = app.call(f, &[], Some(&operator.cookie)).await;
        assert!(
            !forbidden_by_role(&r),
            "operator {f}: {} {}",
            r.status,
            r.body
        );
    }
    for f in [
        "revoke_signing_key",
        "delete_client",
        "revoke_gate",
        "create_invite",
        "set_admin_role",
        "delete_policy",
        "rotate_client_secret",
    ] {
        let r = app.call(f, &[], Some(&operator.cookie)).await;
        assert!(
            forbidden_by_role(&r),
            "operator {f}: {} {}",
            r.status,
            r.body
        );
    }
    assert!(!Role::Operator.allows(Permission::KeysRevoke));
}
