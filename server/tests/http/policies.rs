//! Rate-limit policies through the server fns: validated on the server too, created in shadow
//! mode, every change audited with before/after, stale edits refused, order kept.

use crate::support::TestApp;
use serde_json::{json, Value};

fn spec(name: &str, path: &str) -> Value {
    json!({
        "id": "", "name": name, "enabled": true, "order": 0,
        "matcher": { "path": { "prefix": path }, "methods": [], "client_ids": [], "ip_ranges": [], "header": null },
        "key": "ip",
        "limit": { "rate": 10, "per": "second", "burst": 5 },
        "scope": "cluster", "action": "reject", "mode": "enforce"
    })
}

async fn save(app: &TestApp, cookie: &str, spec: &Value, version: &str) -> crate::support::Reply {
    app.call(
        "save_policy",
        &[("spec_json", &spec.to_string()), ("version", version)],
        Some(cookie),
    )
    .await
}

#[tokio::test]
async fn policies_are_validated_start_in_shadow_and_every_change_is_audited() {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;

    // Server-side validation refuses what the browser would refuse, with the reason, audited.
    let mut bad = spec("bad", "api");
    bad["limit"]["rate"] = json!(0);
    let before = app.audit_count().await;
    let r = save(&app, &cookie, &bad, "").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not valid"), "{}", r.body);
    assert_eq!(app.audit_count().await, before + 1);
    assert_eq!(
        app.last_event().await.outcome,
        domain::audit::Outcome::Failure
    );
    let r = save(&app, &cookie, &json!({"name": "x"}), "").await;
    assert_eq!(r.status, 400, "malformed JSON is a 400: {}", r.body);

    // Created in shadow even when the request asks for enforce.
    let r = save(&app, &cookie, &spec("broad", "/"), "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let broad = r.json();
    assert_eq!(broad["policy"]["mode"], "shadow");
    assert_eq!(broad["version"], 1);
    let e = app.last_event().await;
    assert_eq!(e.action, "policies.create");
    assert!(e.details.contains("\"after\""));

    // A narrower policy after a broader one with the same key is reported unreachable.
    let narrow = save(&app, &cookie, &spec("narrow", "/api/"), "")
        .await
        .json();
    let list = app.call("list_policies", &[], Some(&cookie)).await.json();
    assert_eq!(list["policies"][0]["policy"]["name"], "broad");
    assert_eq!(list["policies"][1]["policy"]["name"], "narrow");
    let set_issues = list["set_issues"].as_array().expect("set issues");
    assert!(
        set_issues
            .iter()
            .any(|i| i["policy_id"] == narrow["policy"]["id"]),
        "{list}"
    );

    // Reorder: narrow moves up; both rows change in one audited step.
    let id = narrow["policy"]["id"].as_str().expect("id");
    let r = app
        .call(
            "move_policy",
            &[("id", id), ("direction", "up"), ("version", "1")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = app.call("list_policies", &[], Some(&cookie)).await.json();
    assert_eq!(list["policies"][0]["policy"]["name"], "narrow");
    assert_eq!(app.last_event().await.action, "policies.reorder");

    // Explicit switch to enforce, audited with before/after; a stale version is a conflict.
    let r = app
        .call(
            "set_policy_mode",
            &[("id", id), ("mode", "enforce"), ("version", "1")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 409, "stale version: {}", r.body);
    let r = app
        .call(
            "set_policy_mode",
            &[("id", id), ("mode", "enforce"), ("version", "2")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = app.last_event().await;
    assert_eq!(e.action, "policies.enforce");
    assert!(
        e.details.contains("\"before\"") && e.details.contains("\"enforce\""),
        "{}",
        e.details
    );

    // An edit keeps the mode and the place; names stay unique.
    let mut edited = spec("narrow", "/api/");
    edited["id"] = json!(id);
    edited["limit"]["rate"] = json!(20);
    edited["mode"] = json!("shadow");
    let r = save(&app, &cookie, &edited, "3").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["policy"]["mode"],
        "enforce",
        "an edit cannot silently leave enforce mode"
    );
    let dup = save(&app, &cookie, &spec("broad", "/x"), "").await;
    assert_eq!(dup.status, 409, "{}", dup.body);

    let r = app
        .call(
            "delete_policy",
            &[("id", id), ("version", "4")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.call("list_policies", &[], Some(&cookie)).await.json()["policies"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert!(app.store.verify_audit(None).await.expect("walk").is_ok());
}
