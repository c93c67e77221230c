//! OAuth clients through the server fns: the three templates, the redirect-URI linter on the
//! server, secrets shown once (never listed again, never in the audit log, the logs or the
//! database file, only an Argon2id hash; the log is checked on the real binary in `cli`), rotation with a grace period, revocation, the JWKS
//! check for private_key_jwt, and the binding to a rate-limit policy shown on both pages.

use serde_json::{json, Value};

use crate::support::soft_authenticator::SoftAuthenticator;
use crate::support::TestApp;

pub(crate) fn draft(kind: &str, name: &str) -> Value {
    let (grants, auth, redirects, platform) = match kind {
        "native" => (
            json!(["authorization_code", "refresh_token"]),
            "none",
            json!(["com.example.shop:/oauth/cb"]),
            "android",
        ),
        "service" => (
            json!(["client_credentials"]),
            "client_secret_basic",
            json!([]),
            "server",
        ),
        _ => (
            json!(["authorization_code"]),
            "client_secret_post",
            json!(["https://portal.example.com/cb"]),
            "web",
        ),
    };
    json!({
        "name": name, "description": "", "kind": kind, "platform": platform,
        "redirect_uris": redirects, "grant_types": grants, "scopes": ["orders:read"],
        "access_token_lifetime_s": 900, "auth_method": auth, "jwks": "", "policy_id": ""
    })
}

pub(crate) async fn save(
    app: &TestApp,
    cookie: &str,
    id: &str,
    version: &str,
    d: &Value,
) -> crate::support::Reply {
    app.call(
        "save_client",
        &[
            ("id", id),
            ("version", version),
            ("draft_json", &d.to_string()),
        ],
        Some(cookie),
    )
    .await
}

async fn client<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .find(|c| c["name"] == name)
        .expect("client listed")
}

/// Everything the console wrote to disk, as text (SQLite main file and WAL).
fn database_bytes(app: &TestApp) -> String {
    let mut all = Vec::new();
    for f in ["palisade.db", "palisade.db-wal"] {
        if let Ok(b) = std::fs::read(app.dir.path().join(f)) {
            all.extend(b);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test]
async fn the_three_kinds_of_client_secrets_once_rotation_with_grace_and_revocation() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    let mut cookie = app.setup_owner(&mut soft, "alice").await;
    assert_eq!(app.step_up(&mut soft, &mut cookie).await.status, 200);

    // Native app: public client, no secret; the linter refuses plain http to a remote host.
    let mut bad = draft("native", "Shop app");
    bad["redirect_uris"] = json!(["http://example.com/cb"]);
    let before = app.audit_count().await;
    let r = save(&app, &cookie, "", "", &bad).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("http://example.com/cb"), "{}", r.body);
    assert_eq!(
        app.audit_count().await,
        before + 1,
        "a refused registration is audited"
    );
    assert_eq!(
        app.last_event().await.outcome,
        domain::audit::Outcome::Failure
    );
    let r = save(&app, &cookie, "", "", &draft("native", "Shop app")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["secret"].is_null(),
        "a public client gets no secret"
    );
    let mut confidential_native = draft("native", "Leaky app");
    confidential_native["auth_method"] = json!("client_secret_basic");
    assert_eq!(
        save(&app, &cookie, "", "", &confidential_native)
            .await
            .status,
        400
    );

    // Service: its secret is in this one answer.
    let r = save(&app, &cookie, "", "", &draft("service", "Billing")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let created = r.json();
    let secret = created["secret"]
        .as_str()
        .expect("secret shown once")
        .to_owned();
    assert!(secret.starts_with("psc_") && secret.len() == 47, "{secret}");
    let client_id = created["client_id"].as_str().expect("client_id").to_owned();
    assert!(
        client_id.len() >= 22
            && client_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let e = app.last_event().await;
    assert_eq!(e.action, "clients.create");

    // Web app with client_secret_post.
    let r = save(&app, &cookie, "", "", &draft("web", "Portal")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let web_secret = r.json()["secret"].as_str().expect("secret").to_owned();

    // Never listed again: the list has hints and dates only.
    let list = app.call("list_clients", &[], Some(&cookie)).await;
    assert_eq!(list.status, 200);
    assert!(!list.body.contains(&secret) && !list.body.contains(&web_secret));
    let list = list.json();
    let billing = client(&list, "Billing").await.clone();
    assert_eq!(billing["secrets"].as_array().expect("secrets").len(), 1);
    assert_eq!(billing["secrets"][0]["status"], "active");
    assert!(secret.starts_with(
        billing["secrets"][0]["hint"]
            .as_str()
            .expect("hint")
            .trim_end_matches('…')
    ));

    // Stored only as an Argon2id hash (OWASP parameters) that verifies the secret.
    let stored: Vec<domain::ports::clients::SecretRecord> = {
        let s = store::SqlStore::open(&format!(
            "sqlite://{}",
            app.dir.path().join("palisade.db").display()
        ))
        .await
        .expect("open");
        domain::ports::clients::ClientStore::client_secrets(&s)
            .await
            .expect("secrets")
    };
    let billing_hash = &stored
        .iter()
        .find(|s| s.client_row_id == billing["id"].as_str().expect("id"))
        .expect("hash")
        .phc_hash;
    assert!(
        billing_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{billing_hash}"
    );
    assert!(domain::clients::secrets::verify_secret(
        billing_hash,
        &secret
    ));
    assert!(!domain::clients::secrets::verify_secret(
        billing_hash,
        &web_secret
    ));

    // Rotation: a new secret once; the old one stays valid for the grace period, then expires.
    let id = billing["id"].as_str().expect("id");
    let v = billing["version"].to_string();
    let r = app
        .call(
            "rotate_client_secret",
            &[("id", id), ("version", &v), ("grace_days", "7")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rotated = r.json()["secret"].as_str().expect("new secret").to_owned();
    assert_ne!(rotated, secret);
    let e = app.last_event().await;
    assert_eq!(e.action, "clients.rotate_secret");
    assert!(e.details.contains("\"grace_days\":7"), "{}", e.details);
    let list = app.call("list_clients", &[], Some(&cookie)).await.json();
    let billing = client(&list, "Billing").await.clone();
    let secrets = billing["secrets"].as_array().expect("secrets");
    assert_eq!(secrets.len(), 2);
    let old = secrets
        .iter()
        .find(|s| s["status"] == "grace")
        .expect("old secret in grace");
    let new = secrets
        .iter()
        .find(|s| s["status"] == "active")
        .expect("new secret active");
    let grace_ms = old["expires_at_ms"].as_i64().expect("expiry")
        - new["created_at_ms"].as_i64().expect("created");
    assert!(
        (grace_ms - 7 * 86_400_000).abs() < 60_000,
        "7 days of grace: {grace_ms}"
    );
    // A stale version is refused.
    let r = app
        .call(
            "rotate_client_secret",
            &[("id", id), ("version", &v), ("grace_days", "7")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = app
        .call(
            "rotate_client_secret",
            &[
                ("id", id),
                ("version", &billing["version"].to_string()),
                ("grace_days", "400"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // Revoke the old secret at once.
    let r = app
        .call(
            "revoke_client_secret",
            &[
                ("id", id),
                ("version", &billing["version"].to_string()),
                ("secret_id", old["id"].as_str().expect("id")),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = app.call("list_clients", &[], Some(&cookie)).await.json();
    let billing = client(&list, "Billing").await.clone();
    assert!(billing["secrets"]
        .as_array()
        .expect("s")
        .iter()
        .any(|s| s["status"] == "revoked"));

    // No secret in the audit log, the logs, or anywhere in the database file.
    let audit = app.store.recent_audit(10_000).await.expect("audit");
    for s in [&secret, &web_secret, &rotated] {
        assert!(audit
            .iter()
            .all(|e| !e.details.contains(s.as_str()) && !e.target.contains(s.as_str())));
        assert!(
            !database_bytes(&app).contains(s.as_str()),
            "secret found in the database file"
        );
    }
}

#[tokio::test]
async fn private_key_jwt_needs_a_public_jwks_and_clients_bind_to_policies() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    let mut cookie = app.setup_owner(&mut soft, "alice").await;
    assert_eq!(app.step_up(&mut soft, &mut cookie).await.status, 200);

    // RFC 7517 A.1's EC public key.
    let public = json!({"keys": [{"kty": "EC", "crv": "P-256",
        "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM", "use": "sig", "kid": "1"}]});
    let mut d = draft("service", "Partner");
    d["auth_method"] = json!("private_key_jwt");
    let mut private = public.clone();
    private["keys"][0]["d"] = json!("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE");
    d["jwks"] = json!(private.to_string());
    let r = save(&app, &cookie, "", "", &d).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.to_lowercase().contains("private"), "{}", r.body);
    d["jwks"] = json!(public.to_string());
    let r = save(&app, &cookie, "", "", &d).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["secret"].is_null(),
        "private_key_jwt clients have no secret"
    );

    // Bind a client to a policy: both pages show it; the policy cannot be deleted while bound.
    let spec = json!({
        "id": "", "name": "per-client", "enabled": true, "order": 0,
        "matcher": { "path": { "prefix": "/" }, "methods": [], "client_ids": [], "ip_ranges": [], "header": null },
        "key": "client", "limit": { "rate": 5, "per": "second", "burst": 2 },
        "scope": "cluster", "action": "reject", "mode": "shadow"
    });
    let p = app
        .call(
            "save_policy",
            &[("spec_json", &spec.to_string()), ("version", "")],
            Some(&cookie),
        )
        .await
        .json();
    let policy_id = p["policy"]["id"].as_str().expect("policy id").to_owned();
    let mut bound = draft("service", "Metered");
    bound["policy_id"] = json!(policy_id);
    let r = save(&app, &cookie, "", "", &bound).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = app.call("list_clients", &[], Some(&cookie)).await.json();
    assert_eq!(client(&list, "Metered").await["policy_name"], "per-client");
    assert_eq!(list["policies"][0]["name"], "per-client");
    let policies = app.call("list_policies", &[], Some(&cookie)).await.json();
    assert_eq!(policies["policies"][0]["clients"], json!(["Metered"]));
    let r = app
        .call(
            "delete_policy",
            &[("id", &policy_id), ("version", "1")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("bound to clients"), "{}", r.body);
    let mut ghost = draft("service", "Ghost");
    ghost["policy_id"] = json!("no-such-policy");
    assert_eq!(save(&app, &cookie, "", "", &ghost).await.status, 400);

    // Unbind by editing; the edit is audited with before/after; then the policy can go.
    let metered = client(&list, "Metered").await.clone();
    let mut edit = draft("service", "Metered");
    edit["description"] = json!("no longer metered");
    let r = save(
        &app,
        &cookie,
        metered["id"].as_str().expect("id"),
        &metered["version"].to_string(),
        &edit,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["secret"].is_null(), "editing keeps the secret");
    let e = app.last_event().await;
    assert_eq!(e.action, "clients.update");
    assert!(e.details.contains("\"before\"") && e.details.contains(&policy_id));
    let r = app
        .call(
            "delete_policy",
            &[("id", &policy_id), ("version", "1")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The type cannot change; disable and delete are audited.
    let list = app.call("list_clients", &[], Some(&cookie)).await.json();
    let metered = client(&list, "Metered").await.clone();
    let mut retype = edit.clone();
    retype["kind"] = json!("web");
    let r = save(
        &app,
        &cookie,
        metered["id"].as_str().expect("id"),
        &metered["version"].to_string(),
        &retype,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app
        .call(
            "set_client_enabled",
            &[
                ("id", metered["id"].as_str().expect("id")),
                ("enabled", "false"),
                ("version", &metered["version"].to_string()),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.last_event().await.action, "clients.disable");
    let version = (metered["version"].as_i64().expect("v") + 1).to_string();
    let delete_args = [
        ("id", metered["id"].as_str().expect("id")),
        ("version", version.as_str()),
    ];
    // A fresh session: the step-up made at the start covers only that one.
    let mut cookie = app.sign_in(&mut soft, "alice").await;
    let r = app.call("delete_client", &delete_args, Some(&cookie)).await;
    assert_eq!(
        r.status, 403,
        "deleting a client needs a passkey confirmation: {}",
        r.body
    );
    assert_eq!(app.step_up(&mut soft, &mut cookie).await.status, 200);
    let r = app.call("delete_client", &delete_args, Some(&cookie)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.last_event().await.action, "clients.delete");
}
