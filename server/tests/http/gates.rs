//! The gate API and the bundle pipeline against the real console: an admin adds a gate, the
//! gate enrols with the one-time token and its own Ed25519 key, pulls signed bundles (verified
//! here with `jose`, as the gate does), reports status; the pusher delivers new versions to a
//! push listener and records its ACK or NACK; tokens work once; revoked gates are refused.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jose::ed25519::{PublicKey, SecretKey};
use serde_json::{json, Value};

use crate::support::soft_authenticator::SoftAuthenticator;
use crate::support::TestApp;

struct FakeGate {
    id: String,
    key: SecretKey,
    console_key: PublicKey,
}

impl FakeGate {
    async fn call(
        &self,
        app: &TestApp,
        method: &str,
        path: &str,
        body: &[u8],
        etag: Option<&str>,
    ) -> reqwest::Response {
        let ts = chrono::Utc::now().timestamp_millis();
        let auth = jose::gate_auth::authorization(&self.key, &self.id, method, path, ts, body);
        let mut req = app
            .client
            .request(
                method.parse().expect("method"),
                format!("{}{path}", app.base),
            )
            .header("authorization", auth)
            .body(body.to_vec());
        if let Some(e) = etag {
            req = req.header("if-none-match", e);
        }
        req.send().await.expect("gate call")
    }

    async fn pull(&self, app: &TestApp, etag: Option<&str>) -> reqwest::Response {
        self.call(app, "GET", "/gate-api/v1/bundle", b"", etag)
            .await
    }

    async fn status(&self, app: &TestApp, version: Option<i64>, error: Option<&str>) -> u16 {
        let body = json!({ "applied_version": version, "last_error": error }).to_string();
        self.call(app, "POST", "/gate-api/v1/status", body.as_bytes(), None)
            .await
            .status()
            .as_u16()
    }
}

fn token_of(command: &str) -> String {
    command
        .split_whitespace()
        .find_map(|w| w.strip_prefix("--token="))
        .expect("token in the command, attached with =")
        .to_owned()
}

async fn enrol(app: &TestApp, token: &str) -> (u16, Value, SecretKey) {
    let key = SecretKey::from_pkcs8(&SecretKey::generate_pkcs8().expect("key")).expect("key");
    let r = app
        .client
        .post(format!("{}/gate-api/v1/enroll", app.base))
        .json(&json!({ "token": token, "public_key": key.public_key().to_b64() }))
        .send()
        .await
        .expect("enrol");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null), key)
}

async fn fleet(app: &TestApp, cookie: &str) -> Value {
    let r = app.call("list_gates", &[], Some(cookie)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Creates a shadow-mode policy (5 per `per`, burst 2, keyed by IP) through the server fn.
async fn add_policy(app: &TestApp, cookie: &str, name: &str, prefix: &str, per: &str) {
    let spec = json!({
        "id": "", "name": name, "enabled": true, "order": 0,
        "matcher": { "path": { "prefix": prefix }, "methods": [], "client_ids": [], "ip_ranges": [], "header": null },
        "key": "ip", "limit": { "rate": 5, "per": per, "burst": 2 },
        "scope": "gate", "action": "reject", "mode": "shadow"
    });
    let r = app
        .call(
            "save_policy",
            &[("spec_json", &spec.to_string()), ("version", "")],
            Some(cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Waits until `check` holds for the fleet (bounded), returning it.
async fn until(app: &TestApp, cookie: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let f = fleet(app, cookie).await;
        if check(&f) {
            return f;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {f}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_gate_enrols_once_pulls_signed_bundles_and_is_refused_once_revoked() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    let mut cookie = app.setup_owner(&mut soft, "alice").await;
    assert_eq!(app.step_up(&mut soft, &mut cookie).await.status, 200);

    // Bad input is refused with the reason, nothing added.
    let r = app
        .call(
            "add_gate",
            &[("name", "edge 1"), ("labels", ""), ("push_url", "")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app
        .call(
            "add_gate",
            &[
                ("name", "edge-1"),
                ("labels", ""),
                ("push_url", "http://u:p@10.0.0.1:9090"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("user name or password"), "{}", r.body);

    let r = app
        .call(
            "add_gate",
            &[
                ("name", "edge-1"),
                ("labels", "region=eu, canary"),
                ("push_url", ""),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let added = r.json();
    let command = added["command"].as_str().expect("command").to_owned();
    assert!(command.starts_with(&format!("palisade-gate enroll --console {}", app.base)));
    let token = token_of(&command);
    let e = app.last_event().await;
    assert_eq!(e.action, "gates.add");
    assert!(!e.details.contains(&token), "the token is never audited");

    // The first version is published once a gate exists.
    let f = until(&app, &cookie, "the first version", |f| {
        !f["latest"].is_null()
    })
    .await;
    assert_eq!(f["latest"]["version"], 1);
    assert_eq!(f["gates"][0]["state"], "pending");

    // Junk and unknown tokens: 400, nothing audited.
    let before = app.audit_count().await;
    let (s, _, _) = enrol(&app, "not-a-token").await;
    assert_eq!(s, 400);
    let (s, _, _) = enrol(&app, &"A".repeat(43)).await;
    assert_eq!(s, 400);
    assert_eq!(app.audit_count().await, before);

    // Enrolment: the console's bundle key and id come back; the token works once.
    let (s, body, key) = enrol(&app, &token).await;
    assert_eq!(s, 200, "{body}");
    let gate = FakeGate {
        id: body["gate_id"].as_str().expect("gate id").to_owned(),
        key,
        console_key: PublicKey::from_b64(body["bundle_public_key"].as_str().expect("key"))
            .expect("a raw Ed25519 key"),
    };
    assert_eq!(gate.id, added["gate_id"]);
    let (s, again, _) = enrol(&app, &token).await;
    assert_eq!(s, 400, "a used token is refused: {again}");

    // Pull: a bundle signed by the key enrolment returned, ETag = its version; 304 when current.
    let r = gate.pull(&app, None).await;
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().expect("etag").to_owned();
    let signed: policy::bundle::SignedBundle = r.json().await.expect("envelope");
    let (bundle, v1_payload) =
        jose::envelope::open(&signed, &gate.console_key).expect("signature verifies");
    assert_eq!(etag, format!("\"{}\"", bundle.version));
    assert!(policy::bundle::validate_bundle(&bundle).is_empty());
    assert_eq!(bundle.issuer, app.base);
    let r = gate.pull(&app, Some(&etag)).await;
    assert_eq!(r.status(), 304);

    // Another console's key does not verify it.
    let stranger = SecretKey::from_pkcs8(&SecretKey::generate_pkcs8().expect("k")).expect("k");
    assert!(jose::envelope::open(&signed, &stranger.public_key()).is_err());

    // Signed calls only: a wrong key, a stale timestamp, no header → 401.
    let impostor = FakeGate {
        id: gate.id.clone(),
        key: stranger,
        console_key: gate.console_key,
    };
    assert_eq!(impostor.pull(&app, None).await.status(), 401);
    let stale = jose::gate_auth::authorization(
        &gate.key,
        &gate.id,
        "GET",
        "/gate-api/v1/bundle",
        chrono::Utc::now().timestamp_millis() - 10 * 60 * 1000,
        b"",
    );
    let r = app
        .client
        .get(format!("{}/gate-api/v1/bundle", app.base))
        .header("authorization", stale)
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), 401);
    assert_eq!(app.get("/gate-api/v1/bundle", None).await.status, 401);

    // Status: in sync after applying; the first apply of a version is audited once.
    assert_eq!(
        gate.status(&app, Some(bundle.version as i64), None).await,
        204
    );
    let e = app.last_event().await;
    assert_eq!(
        (e.action.as_str(), e.actor.as_str()),
        ("gates.apply", "gate:edge-1")
    );
    let n = app.audit_count().await;
    assert_eq!(
        gate.status(&app, Some(bundle.version as i64), None).await,
        204
    );
    assert_eq!(app.audit_count().await, n, "a heartbeat is not audited");
    let f = fleet(&app, &cookie).await;
    assert_eq!(f["gates"][0]["state"], "in_sync");

    // A change that affects enforcement publishes a new version with what changed.
    add_policy(&app, &cookie, "login", "/login", "minute").await;
    let f = until(&app, &cookie, "version 2", |f| f["latest"]["version"] == 2).await;
    assert_eq!(f["gates"][0]["state"], "behind");
    let changes = f["latest"]["changes"].to_string();
    assert!(changes.contains("policy \\\"login\\\" added"), "{changes}");
    let r = gate.pull(&app, Some(&etag)).await;
    assert_eq!(r.status(), 200);
    let signed: policy::bundle::SignedBundle = r.json().await.expect("envelope");
    let (v2, _) = jose::envelope::open(&signed, &gate.console_key).expect("verifies");
    assert_eq!(v2.version, 2);
    assert_eq!(v2.policies.len(), 1);
    // The chain: v2 names v1's payload hash.
    use sha2::Digest;
    assert_eq!(v2.prev_hash, hex::encode(sha2::Sha256::digest(&v1_payload)));

    // A refusal (NACK) is shown and audited once per reason.
    assert_eq!(
        gate.status(
            &app,
            Some(1),
            Some("bundle version 2: policy login is invalid")
        )
        .await,
        204
    );
    let e = app.last_event().await;
    assert_eq!(e.action, "gates.refuse");
    assert!(e.details.contains("policy login is invalid"));
    let f = fleet(&app, &cookie).await;
    assert_eq!(f["gates"][0]["state"], "refusing");
    assert!(f["gates"][0]["last_error"]
        .as_str()
        .is_some_and(|m| m.contains("invalid")));

    // The diff of two versions, by the page's server fn.
    let r = app
        .call("diff_bundles", &[("from", "1"), ("to", "2")], Some(&cookie))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("policy \\\"login\\\" added"), "{}", r.body);

    // Revoke (with a passkey confirmation): every call of the gate is refused from then on.
    // A fresh session: the step-up made at the start covers only that one.
    let mut cookie = app.sign_in(&mut soft, "alice").await;
    let id = gate.id.clone();
    let version = f["gates"][0]["version"].to_string();
    let r = app
        .call(
            "revoke_gate",
            &[("id", &id), ("version", &version)],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 403, "step-up required: {}", r.body);
    assert_eq!(app.step_up(&mut soft, &mut cookie).await.status, 200);
    let r = app
        .call(
            "revoke_gate",
            &[("id", &id), ("version", &version)],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.last_event().await.action, "gates.revoke");
    assert_eq!(gate.pull(&app, None).await.status(), 403);
    assert_eq!(gate.status(&app, Some(2), None).await, 403);
}

/// A push listener that answers like a gate's admin listener (`POST /v1/bundle`): it verifies
/// the signature with the console's key and ACKs, or NACKs with 422 when told to.
async fn push_listener(
    console_key: Arc<Mutex<Option<PublicKey>>>,
    refuse: Arc<Mutex<Option<String>>>,
) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/v1/bundle",
        post(move |body: axum::body::Bytes| {
            let (console_key, refuse) = (console_key.clone(), refuse.clone());
            async move {
                let signed: policy::bundle::SignedBundle =
                    serde_json::from_slice(&body).expect("envelope");
                let key = (*console_key.lock().expect("lock")).expect("key set");
                let (b, _) = jose::envelope::open(&signed, &key).expect("verifies");
                if let Some(reason) = refuse.lock().expect("lock").clone() {
                    return (
                        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                        axum::Json(
                            json!({ "status": "refused", "reason": reason, "applied_version": 1 }),
                        ),
                    );
                }
                (
                    axum::http::StatusCode::OK,
                    axum::Json(json!({ "status": "applied", "version": b.version })),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn new_versions_are_pushed_and_each_answer_is_recorded() {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    let console_key = Arc::new(Mutex::new(None));
    let refuse = Arc::new(Mutex::new(None::<String>));
    let url = push_listener(console_key.clone(), refuse.clone()).await;
    let r = app
        .call(
            "add_gate",
            &[("name", "edge-push"), ("labels", ""), ("push_url", &url)],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (s, body, _key) = enrol(&app, &token_of(r.json()["command"].as_str().expect("cmd"))).await;
    assert_eq!(s, 200, "{body}");
    *console_key.lock().expect("lock") =
        Some(PublicKey::from_b64(body["bundle_public_key"].as_str().expect("k")).expect("k"));

    // Enrolled: the pusher delivers the latest version; the ACK makes it in sync.
    let f = until(&app, &cookie, "the push ACK", |f| {
        f["gates"][0]["state"] == "in_sync"
    })
    .await;
    let v1 = f["latest"]["version"].as_i64().expect("version");

    // The gate refuses the next version: NACK recorded with its reason, gate "refusing".
    *refuse.lock().expect("lock") = Some("policy p is invalid".into());
    add_policy(&app, &cookie, "p", "/", "second").await;
    let f = until(&app, &cookie, "the NACK", |f| {
        f["gates"][0]["state"] == "refusing"
    })
    .await;
    assert_eq!(f["latest"]["version"], v1 + 1);
    assert_eq!(f["gates"][0]["last_error"], "policy p is invalid");

    // Once the gate accepts, a push retry (or "push now") brings it in sync.
    *refuse.lock().expect("lock") = None;
    let r = app.call("push_gates_now", &[], Some(&cookie)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let f = until(&app, &cookie, "the retried push", |f| {
        f["gates"][0]["state"] == "in_sync"
    })
    .await;
    assert_eq!(f["gates"][0]["applied_version"], v1 + 1);
    assert!(f["gates"][0]["last_error"].is_null());

    // A next signing key is "served" by a gate only once it runs a version holding it: while
    // the gate refuses, the Keys page names it as behind; once it applies, as serving.
    let key_set = |name: &'static str| {
        [
            ("name", name),
            ("alg", "EdDSA"),
            ("rotation_days", "90"),
            ("cache_window_min", "60"),
            ("max_token_lifetime_min", "15"),
            ("leeway_s", "60"),
            ("auto_rotate", "false"),
        ]
    };
    let r = app
        .call("create_key_set", &key_set("access"), Some(&cookie))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let set = r.json();
    until(&app, &cookie, "the key set's version applied", |f| {
        f["gates"][0]["state"] == "in_sync" && f["latest"]["version"] == v1 + 2
    })
    .await;
    *refuse.lock().expect("lock") = Some("not now".into());
    let r = app
        .call(
            "rotate_signing_key",
            &[
                ("id", set["id"].as_str().expect("id")),
                ("version", &set["version"].to_string()),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    until(
        &app,
        &cookie,
        "the refusal of the next key's version",
        |f| f["gates"][0]["state"] == "refusing" && f["latest"]["version"] == v1 + 3,
    )
    .await;
    let served = |sets: &Value| {
        sets[0]["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["state"] == "next")
            .map(|k| k["served_by"].clone())
            .expect("a next key")
    };
    let r = app.call("list_key_sets", &[], Some(&cookie)).await;
    assert_eq!(
        served(&r.json()),
        json!({ "serving": [], "behind": ["edge-push"] })
    );
    *refuse.lock().expect("lock") = None;
    app.call("push_gates_now", &[], Some(&cookie)).await;
    until(&app, &cookie, "the next key's version applied", |f| {
        f["gates"][0]["state"] == "in_sync"
    })
    .await;
    let r = app.call("list_key_sets", &[], Some(&cookie)).await;
    assert_eq!(
        served(&r.json()),
        json!({ "serving": ["edge-push"], "behind": [] })
    );
}
