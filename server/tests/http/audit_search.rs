//! The audit explorer's search through HTTP (`search_audit`, `/download/audit.{csv,jsonl}`):
//! filters, pages that stay put while events arrive, exports that equal the filtered view, and
//! a CSV that a spreadsheet cannot run.

use domain::audit::{Actor, AuditDraft, Outcome};
use serde_json::{json, Value};

use crate::certs::ok;
use crate::support::TestApp;

/// Appends `n` events `test.event` (every third denied) by `actor`.
async fn events(app: &TestApp, actor: &str, n: usize) {
    let who = Actor {
        name: actor.into(),
        ip: Some("192.0.2.1".into()),
        user_agent: None,
    };
    for i in 0..n {
        let outcome = if i % 3 == 0 {
            Outcome::Denied
        } else {
            Outcome::Success
        };
        // Event 7's target is what an attacker would plant for a spreadsheet to run.
        let target = if i == 7 {
            "=SUM(1,2)".to_owned()
        } else {
            format!("thing:{i}")
        };
        let draft = AuditDraft::new(&who, "test.event", &target, outcome).with_details(
            json!({ "n": i, "note": if i == 7 { "=HYPERLINK(\"x\")" } else { "plain, text" } }),
        );
        app.store.record(draft).await.expect("record");
    }
}

fn seqs(page: &Value) -> Vec<i64> {
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event"]["seq"].as_i64().expect("seq"))
        .collect()
}

async fn search(app: &TestApp, cookie: &str, query: Value, before: Option<i64>) -> Value {
    let mut args = vec![];
    let q = query.as_object().expect("object").clone();
    let keys: Vec<(String, String)> = q
        .iter()
        .map(|(k, v)| (format!("query[{k}]"), v.as_str().expect("text").to_owned()))
        .collect();
    for (k, v) in &keys {
        args.push((k.as_str(), v.as_str()));
    }
    let b = before.map(|b| b.to_string());
    if let Some(b) = &b {
        args.push(("before", b.as_str()));
    }
    ok(app, cookie, "search_audit", &args).await
}

#[tokio::test]
async fn filters_pages_and_exports_agree() {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    events(&app, "robot", 150).await;
    events(&app, "other", 5).await;

    // Action prefix and actor: exactly robot's 150, newest first, a page of 100 then 50.
    let q = json!({ "action": "test.", "actor": "robot" });
    let first = search(&app, &cookie, q.clone(), None).await;
    let page1 = seqs(&first);
    assert_eq!(page1.len(), 100);
    assert!(page1.windows(2).all(|w| w[0] > w[1]), "newest first");
    let older = first["older"].as_i64().expect("an older page");
    // New events arrive between the pages: the second page does not move.
    events(&app, "robot", 3).await;
    let second = search(&app, &cookie, q.clone(), Some(older)).await;
    let page2 = seqs(&second);
    assert_eq!(page2.len(), 50, "{second}");
    assert!(second["older"].is_null());
    assert!(page1.last() > page2.first());

    // Outcome and text.
    let denied = search(
        &app,
        &cookie,
        json!({ "actor": "robot", "outcome": "denied" }),
        None,
    )
    .await;
    assert!(denied["events"]
        .as_array()
        .expect("events")
        .iter()
        .all(|e| e["event"]["outcome"] == "denied"));
    let texts = search(&app, &cookie, json!({ "text": "HYPERLINK" }), None).await;
    assert_eq!(seqs(&texts).len(), 1, "{texts}");
    let none = search(&app, &cookie, json!({ "action": "TEST." }), None).await;
    assert_eq!(
        seqs(&none).len(),
        0,
        "the action filter is case-sensitive on both databases"
    );
    // Time range: everything is from today; nothing before 2000.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let since = search(
        &app,
        &cookie,
        json!({ "actor": "other", "since": today }),
        None,
    )
    .await;
    assert_eq!(seqs(&since).len(), 5);
    let until = search(
        &app,
        &cookie,
        json!({ "actor": "other", "until": "2000-01-01" }),
        None,
    )
    .await;
    assert_eq!(seqs(&until).len(), 0);
    // Bad input: a 400 that names the part.
    let r = app
        .call(
            "search_audit",
            &[("query[since]", "yesterday")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("since"), "{}", r.body);

    // The CSV export holds the same rows as the filtered view (153 now), newest first.
    let csv = app
        .get(
            "/download/audit.csv?action=test.&actor=robot",
            Some(&cookie),
        )
        .await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "seq,at,actor,ip,user_agent,action,target,outcome,details"
    );
    assert_eq!(lines.len(), 1 + 153);
    let newest = search(
        &app,
        &cookie,
        json!({ "action": "test.", "actor": "robot" }),
        None,
    )
    .await;
    assert!(
        lines[1].starts_with(&format!("{},", seqs(&newest)[0])),
        "{}",
        lines[1]
    );
    // A field a spreadsheet would run is defused; commas and quotes are quoted (RFC 4180).
    let row7 = lines
        .iter()
        .find(|l| l.contains("SUM(1,2)"))
        .expect("row 7");
    assert!(row7.contains(",\"'=SUM(1,2)\","), "{row7}");
    assert!(row7.contains("\"{\"\"n\"\":7,"), "details quoted: {row7}");
    let jsonl = app
        .get("/download/audit.jsonl?actor=other", Some(&cookie))
        .await;
    let rows: Vec<Value> = jsonl
        .body
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r["actor"] == "other"));
    // Without a session: no export.
    let anonymous = app.get("/download/audit.csv", None).await;
    assert_ne!(anonymous.status, 200);
}

/// A policy edit as the explorer shows it: the changed field with its old and new value, the
/// unchanged ones paired up, and the event found by its target.
#[tokio::test]
async fn an_edit_reads_as_a_field_by_field_change() {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    let who = Actor {
        name: "alice".into(),
        ip: None,
        user_agent: None,
    };
    let draft = AuditDraft::new(&who, "policies.update", "policy:p1", Outcome::Success)
        .with_details(json!({
            "before": { "name": "login", "rate": { "per_s": 5, "burst": 10 } },
            "after": { "name": "login", "rate": { "per_s": 2, "burst": 10 } },
        }));
    app.store.record(draft).await.expect("record");
    let page = search(&app, &cookie, json!({ "target": "policy:p1" }), None).await;
    let rows = page["events"].as_array().expect("events");
    assert_eq!(rows.len(), 1, "{page}");
    let changes = rows[0]["changes"].as_array().expect("changes");
    let find = |field: &str| {
        changes
            .iter()
            .find(|c| c["field"] == field)
            .unwrap_or_else(|| panic!("{field} in {page}"))
            .clone()
    };
    assert_eq!(
        find("rate.per_s"),
        json!({ "field": "rate.per_s", "before": "5", "after": "2" })
    );
    assert_eq!(find("rate.burst")["before"], find("rate.burst")["after"]);
    assert_eq!(find("name")["after"], "login");
    assert_eq!(changes.len(), 3);
}
