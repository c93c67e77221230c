//! The gate-wide settings through the server fns: the defaults until saved, a save with routes
//! as text (one per line) and audiences, the next bundle version carrying them; a bad line
//! refused with its number and audited as a failure; a stale version refused as a conflict.

use std::time::{Duration, Instant};

use domain::audit::Outcome;
use serde_json::Value;

use crate::support::soft_authenticator::SoftAuthenticator;
use crate::support::TestApp;

async fn settings(app: &TestApp, cookie: &str) -> Value {
    let r = app.call("gate_settings", &[], Some(cookie)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

async fn save(
    app: &TestApp,
    cookie: &str,
    audiences: &str,
    typ: &str,
    routes: &str,
    version: &str,
) -> crate::support::Reply {
    app.call(
        "save_gate_settings",
        &[
            ("issuer", &app.base),
            ("audiences", audiences),
            ("require_typ_at_jwt", typ),
            ("routes", routes),
            ("token_key_set", ""),
            ("tls_hostname", ""),
            ("version", version),
        ],
        Some(cookie),
    )
    .await
}

/// The latest bundle version once it is at least `version` (bounded wait).
async fn latest_at_least(app: &TestApp, cookie: &str, version: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.call("list_gates", &[], Some(cookie)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let f = r.json();
        if f["latest"]["version"]
            .as_i64()
            .is_some_and(|v| v >= version)
        {
            return f["latest"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for version {version}: {f}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The newest `gates.settings` event.
async fn last_settings_event(app: &TestApp) -> domain::audit::AuditEvent {
    app.store
        .recent_audit(50)
        .await
        .expect("audit")
        .into_iter()
        .find(|e| e.action == "gates.settings")
        .expect("a gates.settings event")
}

#[tokio::test]
async fn gate_settings_are_saved_from_text_published_and_refused_with_the_line() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    let mut cookie = app.setup_owner(&mut soft, "alice").await;
    assert_eq!(app.step_up(&mut soft, &mut cookie).await.status, 200);

    // The defaults until saved: the console as issuer, no audience, everything through.
    let s = settings(&app, &cookie).await;
    assert_eq!(s["issuer"], app.base.as_str());
    assert_eq!(s["audiences"], "");
    assert_eq!(s["require_typ_at_jwt"], true);
    assert_eq!(s["routes"], "prefix / * none");
    assert_eq!(s["version"], "");

    let r = app
        .call(
            "add_gate",
            &[("name", "edge-1"), ("labels", ""), ("push_url", "")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    latest_at_least(&app, &cookie, 1).await;

    // Saved: read back in canonical form, audited, and in the next version.
    let routes = "# public first\nprefix /public GET none\n\nexact /health none\nprefix /api * bearer read:items";
    let r = save(
        &app,
        &cookie,
        "orders-api https://api.example, orders-api",
        "false",
        routes,
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = last_settings_event(&app).await;
    assert_eq!(e.outcome, Outcome::Success);
    assert!(e.details.contains("read:items"), "{}", e.details);
    let s = settings(&app, &cookie).await;
    assert_eq!(s["version"], "1");
    assert_eq!(s["audiences"], "orders-api, https://api.example");
    assert_eq!(s["require_typ_at_jwt"], false);
    assert_eq!(
        s["routes"],
        "prefix /public GET none\nexact /health * none\nprefix /api * bearer read:items"
    );
    let latest = latest_at_least(&app, &cookie, 2).await;
    let changes = latest["changes"].to_string();
    assert!(
        changes.contains("route added: prefix /api * bearer read:items"),
        "{changes}"
    );
    assert!(
        changes.contains("route removed: prefix / * none"),
        "{changes}"
    );
    assert!(changes.contains("audiences"), "{changes}");

    // A bad line: 400 naming the line, audited as a refusal, nothing saved.
    let r = save(
        &app,
        &cookie,
        "orders-api",
        "true",
        "prefix /public GET none\nprefix api * bearer",
        "1",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Line 2"), "{}", r.body);
    assert!(r.body.contains("must start with"), "{}", r.body);
    let e = last_settings_event(&app).await;
    assert_eq!(e.outcome, Outcome::Failure);
    assert!(e.details.contains("Line 2"), "{}", e.details);
    assert_eq!(settings(&app, &cookie).await["version"], "1");

    // A bearer route with no audience: the gates would refuse the bundle.
    let r = save(&app, &cookie, " , ", "true", "prefix / * bearer", "1").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("no audience"), "{}", r.body);

    // A stale version: 409, audited, nothing saved.
    let r = save(&app, &cookie, "orders-api", "true", "prefix / * none", "1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = save(&app, &cookie, "other", "true", "prefix / * none", "1").await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("reload"), "{}", r.body);
    let e = last_settings_event(&app).await;
    assert_eq!(e.outcome, Outcome::Failure);
    let r = save(&app, &cookie, "other", "true", "prefix / * none", "").await;
    assert_eq!(r.status, 409, "{}", r.body);
    let s = settings(&app, &cookie).await;
    assert_eq!(s["version"], "2");
    assert_eq!(s["audiences"], "orders-api");
}
