//! The console's side of the gates' token endpoint (issue 12, item 1): the admin picks the key
//! set that signs the gates' tokens; a gate that registered an X25519 encryption key receives
//! that set's active private key sealed to it alone with every bundle it pulls (opened here with
//! `jose::sealed::open`, as the gate does, and used to sign a JWT that verifies against the
//! bundle's JWKS); a gate without one receives the bundle without it; a malformed key is
//! refused whole; a key registered later in a status report is audited with its fingerprint;
//! the usage gates report shows on the Clients page's data.

use std::time::{Duration, Instant};

use jose::ed25519::{PublicKey, SecretKey};
use jose::sealed::GateKey;
use policy::bundle::{Bundle, SignedBundle};
use serde_json::{json, Value};

use crate::support::soft_authenticator::SoftAuthenticator;
use crate::support::TestApp;

pub(crate) struct Gate {
    pub(crate) id: String,
    pub(crate) key: SecretKey,
    pub(crate) console_key: PublicKey,
}

impl Gate {
    pub(crate) async fn call(
        &self,
        app: &TestApp,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> reqwest::Response {
        let ts = chrono::Utc::now().timestamp_millis();
        let auth = jose::gate_auth::authorization(&self.key, &self.id, method, path, ts, body);
        app.client
            .request(
                method.parse().expect("method"),
                format!("{}{path}", app.base),
            )
            .header("authorization", auth)
            .body(body.to_vec())
            .send()
            .await
            .expect("gate call")
    }

    /// The latest envelope, verified with the console's key, once it names a token key set.
    async fn pull_with_token_key_set(&self, app: &TestApp) -> (SignedBundle, Bundle, Vec<u8>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.call(app, "GET", "/gate-api/v1/bundle", b"").await;
            if r.status() == 200 {
                let signed: SignedBundle = r.json().await.expect("envelope");
                let (bundle, payload) = jose::envelope::open(&signed, &self.console_key)
                    .expect("signed by the console");
                if bundle.token_key_set.is_some() {
                    return (signed, bundle, payload);
                }
            }
            assert!(Instant::now() < deadline, "no bundle with a token key set");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn status(&self, app: &TestApp, body: &Value) -> reqwest::Response {
        self.call(
            app,
            "POST",
            "/gate-api/v1/status",
            body.to_string().as_bytes(),
        )
        .await
    }
}

/// Adds a gate and enrols it, with `encryption_key` in the request when given.
pub(crate) async fn enrolled(
    app: &TestApp,
    cookie: &str,
    name: &str,
    encryption_key: Option<&str>,
) -> Gate {
    let r = app
        .call(
            "add_gate",
            &[("name", name), ("labels", ""), ("push_url", "")],
            Some(cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let command = r.json()["command"].as_str().expect("command").to_owned();
    let token = command
        .split_whitespace()
        .find_map(|w| w.strip_prefix("--token="))
        .expect("token")
        .to_owned();
    let key = SecretKey::from_pkcs8(&SecretKey::generate_pkcs8().expect("key")).expect("key");
    let mut body = json!({ "token": token, "public_key": key.public_key().to_b64() });
    if let Some(k) = encryption_key {
        body["encryption_key"] = json!(k);
    }
    let r = app
        .client
        .post(format!("{}/gate-api/v1/enroll", app.base))
        .json(&body)
        .send()
        .await
        .expect("enrol");
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.expect("json");
    Gate {
        id: answer["gate_id"].as_str().expect("id").to_owned(),
        key,
        console_key: PublicKey::from_b64(answer["bundle_public_key"].as_str().expect("key"))
            .expect("key"),
    }
}

pub(crate) fn new_gate_key() -> GateKey {
    GateKey::from_bytes(&*GateKey::generate_bytes()).expect("32 bytes")
}

async fn save_settings(
    app: &TestApp,
    cookie: &str,
    token_key_set: &str,
    version: &str,
) -> crate::support::Reply {
    app.call(
        "save_gate_settings",
        &[
            ("issuer", &app.base),
            ("audiences", "api"),
            ("require_typ_at_jwt", "true"),
            ("routes", "prefix / * none"),
            ("token_key_set", token_key_set),
            ("tls_hostname", ""),
            ("version", version),
        ],
        Some(cookie),
    )
    .await
}

async fn events(app: &TestApp, action: &str) -> Vec<domain::audit::AuditEvent> {
    app.store
        .recent_audit(500)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

#[tokio::test]
async fn a_gate_receives_the_token_signing_key_sealed_to_it_and_reports_usage() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    let mut cookie = app.setup_owner(&mut soft, "alice").await;
    assert_eq!(app.step_up(&mut soft, &mut cookie).await.status, 200);

    // A key set for the tokens (ES256: a PKCS #8 other than Ed25519 travels too) and a client.
    let r = app
        .call(
            "create_key_set",
            &[
                ("name", "gate-tokens"),
                ("alg", "ES256"),
                ("rotation_days", "90"),
                ("cache_window_min", "60"),
                ("max_token_lifetime_min", "15"),
                ("leeway_s", "60"),
                ("auto_rotate", "true"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let draft = json!({
        "name": "orders-backend", "description": "", "kind": "service", "platform": "server",
        "redirect_uris": [], "grant_types": ["client_credentials"], "scopes": ["orders:read"],
        "access_token_lifetime_s": 900, "auth_method": "client_secret_basic", "jwks": "",
        "policy_id": ""
    });
    let r = app
        .call(
            "save_client",
            &[
                ("id", ""),
                ("version", ""),
                ("draft_json", &draft.to_string()),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let client_id = r.json()["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned();

    // The settings: an unknown key set is refused by name, audited, nothing saved.
    let r = save_settings(&app, &cookie, "no-such-set", "").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("no key set named") && r.body.contains("gate-tokens"),
        "{}",
        r.body
    );
    assert_eq!(app.last_event().await.action, "gates.settings");
    let s = app.call("gate_settings", &[], Some(&cookie)).await.json();
    assert_eq!(s["token_key_set"], "");
    assert_eq!(s["version"], "");
    assert!(s["key_sets"]
        .as_array()
        .expect("choices")
        .contains(&json!("gate-tokens")));
    let r = save_settings(&app, &cookie, "gate-tokens", "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let saved = app.last_event().await;
    assert_eq!(saved.action, "gates.settings");
    assert!(
        saved.details.contains("\"token_key_set\":\"gate-tokens\""),
        "{}",
        saved.details
    );
    assert_eq!(
        app.call("gate_settings", &[], Some(&cookie)).await.json()["token_key_set"],
        "gate-tokens"
    );

    // A malformed encryption key at enrolment: 400, and the token still works afterwards.
    let r = app
        .call(
            "add_gate",
            &[("name", "edge-new"), ("labels", ""), ("push_url", "")],
            Some(&cookie),
        )
        .await;
    let command = r.json()["command"].as_str().expect("command").to_owned();
    let token = command
        .split_whitespace()
        .find_map(|w| w.strip_prefix("--token="))
        .expect("token")
        .to_owned();
    let key = SecretKey::from_pkcs8(&SecretKey::generate_pkcs8().expect("key")).expect("key");
    for bad in [
        "short",
        "AAAA",
        &"A".repeat(44),
        "not base64 at all, with spaces!!!!!!!!!!!!!",
    ] {
        let r = app
            .client
            .post(format!("{}/gate-api/v1/enroll", app.base))
            .json(&json!({ "token": token, "public_key": key.public_key().to_b64(), "encryption_key": bad }))
            .send()
            .await
            .expect("enrol");
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.expect("json");
        assert!(
            body["error"].as_str().expect("error").contains("X25519"),
            "{body}"
        );
    }
    let fleet = app.call("list_gates", &[], Some(&cookie)).await.json();
    let pending = fleet["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .find(|g| g["name"] == "edge-new")
        .expect("gate");
    assert_eq!(pending["state"], "pending", "nothing was registered");

    // A gate with an encryption key and an older one without.
    let new_key = new_gate_key();
    let upgraded = enrolled(&app, &cookie, "edge-1", Some(&new_key.public_b64())).await;
    let older = enrolled(&app, &cookie, "edge-old", None).await;
    let enrol_event = events(&app, "gates.enrol")
        .await
        .into_iter()
        .next()
        .expect("enrol event");
    assert!(
        enrol_event.details.contains("\"encryption_key\":null"),
        "{}",
        enrol_event.details
    );
    let fingerprint = domain::gates::encryption_key_fingerprint(&new_key.public_b64());
    assert!(
        events(&app, "gates.enrol")
            .await
            .iter()
            .any(|e| e.details.contains(&fingerprint)),
        "the enrolment records the key's fingerprint"
    );

    // The gate with a key opens its secrets: made for it, this version and this payload.
    let (signed, bundle, payload) = upgraded.pull_with_token_key_set(&app).await;
    assert_eq!(bundle.token_key_set.as_deref(), Some("gate-tokens"));
    let sealed = signed
        .secrets
        .as_ref()
        .expect("secrets for a gate with an encryption key");
    let hash = domain::gates::bundle::sha256_hex(&payload);
    let secrets = jose::sealed::open(
        sealed,
        &upgraded.console_key,
        &new_key,
        &upgraded.id,
        bundle.version,
        &hash,
    )
    .expect("the gate opens its secrets");
    assert!(
        jose::sealed::open(
            sealed,
            &upgraded.console_key,
            &new_key,
            &older.id,
            bundle.version,
            &hash
        )
        .is_err(),
        "bound to the gate they were sealed for"
    );
    assert_eq!(secrets.signing_keys.len(), 1, "the active key only");
    let sk = &secrets.signing_keys[0];
    let set = bundle
        .key_sets
        .iter()
        .find(|s| s.name == "gate-tokens")
        .expect("the set in the bundle");
    let active = set
        .keys
        .iter()
        .find(|k| k.state == "active")
        .expect("active key");
    assert_eq!(
        (sk.key_set.as_str(), sk.kid.as_str(), sk.alg.as_str()),
        ("gate-tokens", active.kid.as_str(), "ES256")
    );
    assert_eq!(set.max_token_lifetime_s, 900);
    // The private key signs a token that verifies against the bundle's JWKS for that kid.
    let pkcs8 = {
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
        URL_SAFE_NO_PAD
            .decode(&sk.pkcs8)
            .expect("base64url PKCS #8")
    };
    let alg = jose::Alg::parse(&sk.alg).expect("alg");
    let token = jose::jwt::sign_jwt(alg, &pkcs8, &sk.kid, &json!({ "sub": client_id }))
        .expect("the PKCS #8 signs");
    let jwks = policy::jwk::JwkSet {
        keys: set.keys.iter().map(|k| k.jwk.clone()).collect(),
    };
    let claims = jose::jwt::verify_jwt(&jwks, &token).expect("verifies with the bundle's JWKS");
    assert_eq!(claims["sub"], json!(client_id));
    // The private key is in the database nowhere but sealed, and in no audit event.
    assert!(app
        .store
        .recent_audit(500)
        .await
        .expect("audit")
        .iter()
        .all(|e| !e.details.contains(&sk.pkcs8)));
    // The client travels with its secret's hash (never the secret) and its token settings.
    let c = bundle
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
        .expect("client");
    assert_eq!(c.auth_method, "client_secret_basic");
    assert_eq!(c.token_lifetime_s, 900);
    assert_eq!(c.secrets.len(), 1);
    assert!(c.secrets[0].phc.starts_with("$argon2id$"));
    // ETag/304 as before.
    let etag = format!("\"{}\"", bundle.version);
    let ts = chrono::Utc::now().timestamp_millis();
    let r = app
        .client
        .get(format!("{}/gate-api/v1/bundle", app.base))
        .header(
            "authorization",
            jose::gate_auth::authorization(
                &upgraded.key,
                &upgraded.id,
                "GET",
                "/gate-api/v1/bundle",
                ts,
                b"",
            ),
        )
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("pull");
    assert_eq!(r.status(), 304);

    // The older gate gets the same bundle without secrets; the Gates page data says so.
    let (signed_old, bundle_old, _) = older.pull_with_token_key_set(&app).await;
    assert!(signed_old.secrets.is_none());
    assert_eq!(bundle_old.version, bundle.version);
    assert_eq!(
        signed_old.payload, signed.payload,
        "one published bundle, secrets added per gate"
    );
    let fleet = app.call("list_gates", &[], Some(&cookie)).await.json();
    assert_eq!(fleet["token_key_set"], "gate-tokens");
    let old_info = fleet["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .find(|g| g["name"] == "edge-old")
        .expect("gate")
        .clone();
    assert_eq!(old_info["encryption_key"], Value::Null);

    // A malformed key in a report: 400, nothing recorded (not even the heartbeat).
    let before = app.audit_count().await;
    let r = older
        .status(&app, &json!({ "applied_version": bundle.version, "last_error": null, "encryption_key": "AAAA" }))
        .await;
    assert_eq!(r.status(), 400);
    let fleet = app.call("list_gates", &[], Some(&cookie)).await.json();
    let old_info = fleet["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .find(|g| g["name"] == "edge-old")
        .expect("gate")
        .clone();
    assert_ne!(
        old_info["applied_version"],
        json!(bundle.version),
        "nothing half-applied"
    );
    assert_eq!(app.audit_count().await, before);

    // The upgraded older gate registers its key in a report: audited with the fingerprint,
    // and its next pull carries its secrets.
    let later_key = new_gate_key();
    let r = older
        .status(&app, &json!({ "applied_version": bundle.version, "last_error": null, "encryption_key": later_key.public_b64() }))
        .await;
    assert_eq!(r.status(), 204);
    let registered = events(&app, "gates.encryption_key").await;
    assert_eq!(registered.len(), 1);
    assert!(registered[0]
        .details
        .contains(&domain::gates::encryption_key_fingerprint(
            &later_key.public_b64()
        )));
    assert_eq!(registered[0].actor, "gate:edge-old");
    // The same key again is no change: no second event.
    let r = older
        .status(&app, &json!({ "applied_version": bundle.version, "last_error": null, "encryption_key": later_key.public_b64() }))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(events(&app, "gates.encryption_key").await.len(), 1);
    let (signed_old, bundle_old, payload_old) = older.pull_with_token_key_set(&app).await;
    let opened = jose::sealed::open(
        signed_old.secrets.as_ref().expect("secrets now"),
        &older.console_key,
        &later_key,
        &older.id,
        bundle_old.version,
        &domain::gates::bundle::sha256_hex(&payload_old),
    )
    .expect("opens with the key it registered");
    assert_eq!(opened.signing_keys[0].kid, active.kid);

    // Usage: the secret's last use and the tokens issued show in the clients' data; unknown
    // ids are ignored; usage writes no audit event.
    let list = app.call("list_clients", &[], Some(&cookie)).await.json();
    let listed = list["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .find(|c| c["client_id"] == json!(client_id))
        .expect("client")
        .clone();
    let secret_id = listed["secrets"][0]["id"]
        .as_str()
        .expect("secret id")
        .to_owned();
    assert_eq!(listed["secrets"][0]["last_used_at_ms"], Value::Null);
    assert_eq!(listed["tokens_issued"], 0);
    let used_at = chrono::Utc::now().timestamp_millis() - 5_000;
    // Heartbeats first, so the applies are recorded (and audited) before usage is counted.
    for (g, v) in [(&upgraded, bundle.version), (&older, bundle_old.version)] {
        let r = g
            .status(&app, &json!({ "applied_version": v, "last_error": null }))
            .await;
        assert_eq!(r.status(), 204);
    }
    let before = app.audit_count().await;
    let r = upgraded
        .status(
            &app,
            &json!({ "applied_version": bundle.version, "last_error": null,
                     "usage": { "secrets": { secret_id.clone(): used_at, "unknown-secret": used_at },
                                "tokens": { client_id.clone(): 3, "unknown-client": 9 } } }),
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = older
        .status(
            &app,
            &json!({ "applied_version": bundle_old.version, "last_error": null,
                     "usage": { "secrets": { secret_id.clone(): used_at - 60_000 }, "tokens": { client_id.clone(): 2 } } }),
        )
        .await;
    assert_eq!(r.status(), 204);
    let list = app.call("list_clients", &[], Some(&cookie)).await.json();
    let listed = list["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .find(|c| c["client_id"] == json!(client_id))
        .expect("client")
        .clone();
    assert_eq!(
        listed["secrets"][0]["last_used_at_ms"],
        json!(used_at),
        "the later use wins"
    );
    assert_eq!(listed["tokens_issued"], 5);
    assert!(listed["last_token_at_ms"]
        .as_i64()
        .is_some_and(|t| t >= used_at));
    assert_eq!(
        app.audit_count().await,
        before,
        "usage writes no audit event"
    );
    assert!(app
        .store
        .recent_audit(500)
        .await
        .expect("audit")
        .iter()
        .all(|e| !e.details.contains("unknown-client")));
    // A negative count is refused whole.
    let r = upgraded
        .status(&app, &json!({ "applied_version": bundle.version, "last_error": null, "usage": { "tokens": { client_id.clone(): -1 } } }))
        .await;
    assert_eq!(r.status(), 400);
    let list = app.call("list_clients", &[], Some(&cookie)).await.json();
    let listed = list["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .find(|c| c["client_id"] == json!(client_id))
        .expect("client")
        .clone();
    assert_eq!(listed["tokens_issued"], 5);

    // A report bigger than the browser's 64 KiB limit (a gate with many clients) is accepted;
    // more entries than a report may name is refused whole; past 1 MiB the body is refused.
    let many: serde_json::Map<String, Value> = (0..3_000)
        .map(|i| (format!("client-that-does-not-exist-{i:05}"), json!(1)))
        .collect();
    let body = json!({ "applied_version": bundle.version, "last_error": null,
                       "usage": { "tokens": many, "secrets": { secret_id.clone(): used_at + 1 } } });
    assert!(body.to_string().len() > server::startup::BODY_LIMIT);
    assert_eq!(upgraded.status(&app, &body).await.status(), 204);
    let too_many: serde_json::Map<String, Value> = (0..=domain::gates::service::MAX_USAGE_ENTRIES)
        .map(|i| (format!("c{i}"), json!(1)))
        .collect();
    let r = upgraded
        .status(&app, &json!({ "applied_version": bundle.version, "last_error": null, "usage": { "tokens": too_many } }))
        .await;
    assert_eq!(r.status(), 400);
    let huge = json!({ "applied_version": bundle.version, "last_error": "x".repeat(server::startup::GATE_API_BODY_LIMIT) });
    assert_eq!(upgraded.status(&app, &huge).await.status(), 413);
    let list = app.call("list_clients", &[], Some(&cookie)).await.json();
    let listed = list["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .find(|c| c["client_id"] == json!(client_id))
        .expect("client")
        .clone();
    assert_eq!(listed["secrets"][0]["last_used_at_ms"], json!(used_at + 1));
    assert_eq!(listed["tokens_issued"], 5);

    // "none": the next bundle names no token key set and carries no secrets.
    let version = app.call("gate_settings", &[], Some(&cookie)).await.json()["version"]
        .as_str()
        .expect("version")
        .to_owned();
    let r = save_settings(&app, &cookie, "", &version).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = upgraded.call(&app, "GET", "/gate-api/v1/bundle", b"").await;
        let signed: SignedBundle = r.json().await.expect("envelope");
        let (b, _) = jose::envelope::open(&signed, &upgraded.console_key).expect("signed");
        if b.token_key_set.is_none() {
            assert!(signed.secrets.is_none());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no bundle without the token key set"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
