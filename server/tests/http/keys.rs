//! Signing keys through the server fns: a key set's first key is active at once, "Rotate now"
//! publishes a next key (seen in the downloaded JWKS) and refuses to promote it before the cache
//! window, 50 concurrent rotations leave exactly one winner, the emergency revoke removes a key
//! from the JWKS at once, and the JWKS download is `application/jwk-set+json`.

use serde_json::Value;

use crate::support::soft_authenticator::SoftAuthenticator;
use crate::support::TestApp;

pub(crate) async fn create(app: &TestApp, cookie: &str, name: &str, alg: &str) -> Value {
    let r = app
        .call(
            "create_key_set",
            &[
                ("name", name),
                ("alg", alg),
                ("rotation_days", "90"),
                ("cache_window_min", "60"),
                ("max_token_lifetime_min", "15"),
                ("leeway_s", "60"),
                ("auto_rotate", "true"),
            ],
            Some(cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

async fn set(app: &TestApp, cookie: &str, name: &str) -> Value {
    let list = app.call("list_key_sets", &[], Some(cookie)).await.json();
    list.as_array()
        .expect("sets")
        .iter()
        .find(|s| s["name"] == name)
        .expect("set listed")
        .clone()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

async fn download(app: &TestApp, cookie: &str, name: &str) -> Value {
    let r = app
        .get(&format!("/download/jwks/{name}"), Some(cookie))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/jwk-set+json");
    serde_json::from_str(&r.body).expect("JWKS JSON")
}

#[tokio::test]
async fn rotate_publishes_next_then_refuses_early_promotion_and_revoke_removes_at_once() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    let mut cookie = app.setup_owner(&mut soft, "alice").await;

    let r = app
        .call(
            "create_key_set",
            &[
                ("name", "bad name!"),
                ("alg", "EdDSA"),
                ("rotation_days", "90"),
                ("cache_window_min", "60"),
                ("max_token_lifetime_min", "15"),
                ("leeway_s", "60"),
                ("auto_rotate", "true"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app
        .call(
            "create_key_set",
            &[
                ("name", "x"),
                ("alg", "HS256"),
                ("rotation_days", "90"),
                ("cache_window_min", "60"),
                ("max_token_lifetime_min", "15"),
                ("leeway_s", "60"),
                ("auto_rotate", "true"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 400, "HS256 is not offered: {}", r.body);

    let created = create(&app, &cookie, "access-tokens", "EdDSA").await;
    assert_eq!(created["keys"].as_array().expect("keys").len(), 1);
    assert_eq!(created["keys"][0]["state"], "active");
    let jwks = download(&app, &cookie, "access-tokens").await;
    assert_eq!(
        kids(&jwks),
        vec![created["keys"][0]["kid"].as_str().expect("kid")]
    );
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "no private member is published"
    );
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    // The page shows the same JWKS as the download.
    let s = set(&app, &cookie, "access-tokens").await;
    assert_eq!(
        serde_json::from_str::<Value>(s["jwks"].as_str().expect("jwks")).expect("json"),
        jwks
    );
    assert!(s["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .any(|p| p["step"] == "create_next"));

    // Rotate now: a next key is published (both in the JWKS), audited.
    let r = app
        .call(
            "rotate_signing_key",
            &[
                ("id", s["id"].as_str().expect("id")),
                ("version", &s["version"].to_string()),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.last_event().await.action, "keys.create_next");
    let s = set(&app, &cookie, "access-tokens").await;
    let next = s["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["state"] == "next")
        .expect("next key")
        .clone();
    // "Rotate now" finishes by itself: the plan promotes the key when its 60-minute window ends.
    let takes_over = next["created_at_ms"].as_i64().expect("created") + 60 * 60_000;
    assert_eq!(next["promote_at_ms"].as_i64(), Some(takes_over));
    assert!(
        s["plan"]
            .as_array()
            .expect("plan")
            .iter()
            .any(|p| p["step"] == "promote" && p["at_ms"] == takes_over),
        "{}",
        s["plan"]
    );
    let jwks = download(&app, &cookie, "access-tokens").await;
    assert_eq!(jwks["keys"].as_array().expect("keys").len(), 2);
    assert!(kids(&jwks).contains(&next["kid"].as_str().expect("kid").to_owned()));

    // Promoting before the cache window has passed is refused, saying when it becomes safe.
    let before = app.audit_count().await;
    let r = app
        .call(
            "rotate_signing_key",
            &[
                ("id", s["id"].as_str().expect("id")),
                ("version", &s["version"].to_string()),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        app.audit_count().await,
        before + 1,
        "the refusal is audited"
    );

    // Emergency revoke of the active key: reason required; the key leaves the JWKS now and the
    // next key signs from now on.
    let active = s["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["state"] == "active")
        .expect("active")
        .clone();
    let args = |reason: &'static str| {
        vec![
            ("id", s["id"].as_str().expect("id").to_owned()),
            ("version", s["version"].to_string()),
            ("key_id", active["id"].as_str().expect("id").to_owned()),
            ("reason", reason.to_owned()),
        ]
    };
    let call = |a: Vec<(&'static str, String)>, cookie: String| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = a.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call("revoke_signing_key", &pairs, Some(&cookie)).await
        }
    };
    // Without a fresh passkey confirmation the revoke is refused (403) and audited.
    let before = app.audit_count().await;
    let r = call(
        args("private key found in a public repository"),
        cookie.clone(),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("Confirm with your passkey"), "{}", r.body);
    assert_eq!(app.audit_count().await, before + 1);
    assert_eq!(
        app.last_event().await.outcome,
        domain::audit::Outcome::Denied
    );
    assert_eq!(
        kids(&download(&app, &cookie, "access-tokens").await).len(),
        2,
        "nothing revoked"
    );
    // A step-up ceremony started in another session does not count for this one.
    let other = app.sign_in(&mut soft, "alice").await;
    let started = app.call("start_step_up", &[], Some(&other)).await.json();
    let options: Value =
        serde_json::from_str(started["options"].as_str().expect("options")).expect("json");
    let assertion = soft.authenticate(&options, &app.base);
    let r = app
        .call(
            "finish_step_up",
            &[
                ("ceremony_id", started["ceremony_id"].as_str().expect("id")),
                ("credential", &assertion.to_string()),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(app.last_event().await.action, "admin.step_up");
    assert_eq!(
        call(
            args("private key found in a public repository"),
            cookie.clone()
        )
        .await
        .status,
        403
    );
    // Confirmed with the passkey: the revoke goes through. The session continues under a new
    // id; the cookie from before the step-up no longer works.
    let before_step_up = cookie.clone();
    let r = app.step_up(&mut soft, &mut cookie).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(cookie, before_step_up);
    assert_eq!(
        app.call("current_admin", &[], Some(&before_step_up))
            .await
            .status,
        401
    );
    assert_eq!(
        app.call("current_admin", &[], Some(&cookie)).await.status,
        200
    );
    assert_eq!(app.last_event().await.action, "admin.step_up");
    assert_eq!(call(args("oops"), cookie.clone()).await.status, 400);
    let r = call(
        args("private key found in a public repository"),
        cookie.clone(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = app.last_event().await;
    assert_eq!(e.action, "keys.revoke");
    assert!(e.details.contains("public repository"));
    let jwks = download(&app, &cookie, "access-tokens").await;
    assert_eq!(
        kids(&jwks),
        vec![next["kid"].as_str().expect("kid").to_owned()],
        "revoked key gone at once"
    );
    let s = set(&app, &cookie, "access-tokens").await;
    let now_active = s["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["state"] == "active")
        .expect("active");
    assert_eq!(now_active["kid"], next["kid"]);

    assert_eq!(
        app.get("/download/jwks/nope", Some(&cookie)).await.status,
        404
    );
    assert_ne!(
        app.get("/download/jwks/access-tokens", None).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_rotations_exactly_one_succeeds() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    let cookie = app.setup_owner(&mut soft, "alice").await;
    let created = create(&app, &cookie, "race", "ES256").await;
    let id = created["id"].as_str().expect("id").to_owned();
    let version = created["version"].to_string();
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, cookie, id, version) = (app.clone(), cookie.clone(), id.clone(), version.clone());
        tasks.push(tokio::spawn(async move {
            app.call(
                "rotate_signing_key",
                &[("id", &id), ("version", &version)],
                Some(&cookie),
            )
            .await
            .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    let s = set(&app, &cookie, "race").await;
    let states: Vec<&str> = s["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["state"].as_str().expect("state"))
        .collect();
    assert_eq!(states, vec!["active", "next"]);
}

/// QUALITY.md "expensive work": RSA key generation is bounded by a semaphore; requests beyond
/// it are refused at once with 429 and Retry-After instead of queueing up CPU work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_rsa_key_sets_are_bounded_and_the_rest_get_429() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let mut soft = SoftAuthenticator::new();
    let cookie = app.setup_owner(&mut soft, "alice").await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (app, cookie) = (app.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let name = format!("rsa-{i}");
            let r = app
                .call(
                    "create_key_set",
                    &[
                        ("name", &name),
                        ("alg", "RS256"),
                        ("rotation_days", "90"),
                        ("cache_window_min", "60"),
                        ("max_token_lifetime_min", "15"),
                        ("leeway_s", "60"),
                        ("auto_rotate", "true"),
                    ],
                    Some(&cookie),
                )
                .await;
            (r.status, r.headers.get("retry-after").is_some())
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task"));
    }
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let refused = results.iter().filter(|(s, _)| *s == 429).count();
    assert_eq!(ok + refused, 50, "only 200 or 429: {results:?}");
    assert!(ok >= 1 && refused >= 1, "{ok} created, {refused} refused");
    assert!(
        results
            .iter()
            .filter(|(s, _)| *s == 429)
            .all(|(_, retry)| *retry),
        "429 carries Retry-After"
    );
    let sets = app.call("list_key_sets", &[], Some(&cookie)).await.json();
    assert_eq!(
        sets.as_array().map(Vec::len),
        Some(ok),
        "exactly the answered sets exist"
    );
    for s in sets.as_array().expect("sets") {
        assert_eq!(s["keys"][0]["alg"], "RS256");
    }
}
