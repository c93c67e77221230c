//! API tokens and the REST API (`/api/v1`) through HTTP: what a CI job holding a token can and
//! cannot do, that the token is never stored or audited, that browser sessions do not work on
//! the API nor tokens on the console's pages, and that revoked, expired and over-rate tokens
//! are refused.

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::certs::ok;
use crate::support::{Reply, TestApp};

/// A signed-in owner (with a step-up) and a pin set for api.example.com that exports.
pub(crate) async fn console_with_a_pinset() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    let ca = ok(
        &app,
        &cookie,
        "create_ca",
        &[
            ("common_name", "Root"),
            ("key_type", "ecdsa-p256"),
            ("validity_days", ""),
        ],
    )
    .await;
    ok(
        &app,
        &cookie,
        "issue_cert",
        &[
            ("ca_id", ca["id"].as_str().expect("id")),
            ("hostname", "api.example.com"),
            ("extra_sans", ""),
            ("key_type", "ecdsa-p256"),
            ("validity_days", ""),
        ],
    )
    .await;
    (app, cookie)
}

/// Creates a token; returns (its info, the token).
pub(crate) async fn create_token(
    app: &TestApp,
    cookie: &str,
    name: &str,
    scopes: &str,
) -> (Value, String) {
    let v = ok(
        app,
        cookie,
        "create_api_token",
        &[("name", name), ("scopes", scopes), ("days", "30")],
    )
    .await;
    let secret = v["secret"].as_str().expect("secret").to_owned();
    (v["token"].clone(), secret)
}

pub(crate) async fn api(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = app.client.request(
        method.parse().expect("method"),
        format!("{}{path}", app.base),
    );
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let headers: HeaderMap = res.headers().clone();
    let body = res.text().await.expect("body");
    Reply {
        status,
        headers,
        body,
    }
}

pub(crate) fn is_problem(r: &Reply) -> bool {
    r.headers
        .get("content-type")
        .is_some_and(|v| v == "application/problem+json")
        && r.json()["status"] == r.status
}

#[tokio::test]
async fn a_ci_token_exports_and_records_a_release_within_its_scopes_and_nothing_else() {
    let (app, cookie) = console_with_a_pinset().await;
    let (ci, ci_token) = create_token(
        &app,
        &cookie,
        "iOS release pipeline",
        "pinsets:read releases:write",
    )
    .await;
    let (_, reader_token) = create_token(&app, &cookie, "dashboard", "pinsets:read").await;
    assert!(ci_token.starts_with("pat_"), "recognisable: {ci_token}");
    assert_eq!(ci["scopes"], "pinsets:read releases:write");
    assert_eq!(ci["state"], "active");

    // Read: the iOS export, as the page downloads it.
    let r = api(
        &app,
        "GET",
        "/api/v1/pinsets/api.example.com/export/ios",
        Some(&reader_token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let download = app
        .get("/download/pinsets/api.example.com/ios", Some(&cookie))
        .await;
    assert_eq!(r.body, download.body, "the API answers the page's file");
    assert_eq!(r.headers["x-pinset-version"], "1");

    // A read-only token cannot record a release: 403, audited, nothing recorded.
    let release = json!({"hostname": "api.example.com", "format": "ios",
                         "app": "com.example.bank", "version": "5.1.0"});
    let r = api(
        &app,
        "POST",
        "/api/v1/releases",
        Some(&reader_token),
        Some(release.clone()),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(is_problem(&r), "{:?} {}", r.headers, r.body);
    assert_eq!(
        app.last_event().await.outcome,
        domain::audit::Outcome::Denied
    );
    let releases = ok(&app, &cookie, "list_releases", &[]).await;
    assert_eq!(releases.as_array().map(Vec::len), Some(0), "{releases}");

    // The CI token records it: 201 with the file; the release is there, under the token.
    let r = api(
        &app,
        "POST",
        "/api/v1/releases",
        Some(&ci_token),
        Some(release.clone()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body, download.body);
    let releases = ok(&app, &cookie, "list_releases", &[]).await;
    let recorded = &releases[0];
    assert_eq!(recorded["version"], "5.1.0", "{releases}");
    assert_eq!(recorded["bundle_id"], "com.example.bank", "{releases}");
    let e = app.last_event().await;
    assert_eq!(e.action, "pinsets.export_for_release");
    assert_eq!(e.actor, format!("token:{}", ci["id"].as_str().expect("id")));
    assert_eq!(e.actor, ci["actor"].as_str().expect("actor"));
    // The same release again is a conflict, as a problem.
    let r = api(
        &app,
        "POST",
        "/api/v1/releases",
        Some(&ci_token),
        Some(release),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(is_problem(&r), "{}", r.body);

    // Bad input: a clear 400, nothing recorded.
    let r = api(&app, "POST", "/api/v1/releases", Some(&ci_token),
        Some(json!({"hostname": "api.example.com", "format": "json", "app": "com.example.bank", "version": "6"}))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.json()["detail"]
            .as_str()
            .expect("detail")
            .contains("\"platform\""),
        "{}",
        r.body
    );
    let r = api(&app, "GET", "/api/v1/nothing", Some(&ci_token), None).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(is_problem(&r));

    // Last use is shown on the list.
    let list = ok(&app, &cookie, "list_api_tokens", &[]).await;
    let shown = list["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["id"] == ci["id"])
        .expect("listed")
        .clone();
    assert!(shown["last_used_at_ms"].as_i64().is_some(), "{shown}");
    assert_eq!(shown["last_used_ip"], "127.0.0.1");

    // The token string is nowhere: not in the audit log, not in any file of the data directory.
    let events = app.store.recent_audit(10_000).await.expect("audit");
    for e in &events {
        assert!(
            !e.details.contains(&ci_token[4..]) && !e.target.contains(&ci_token[4..]),
            "{e:?}"
        );
    }
    for entry in std::fs::read_dir(app.dir.path()).expect("data dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            let needle = &ci_token.as_bytes()[4..];
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "the token is in {}",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn sessions_do_not_work_on_the_api_nor_tokens_on_the_console_and_dead_tokens_are_refused() {
    let (app, cookie) = console_with_a_pinset().await;
    let (t, token) = create_token(&app, &cookie, "ci", "pinsets:read").await;
    let path = "/api/v1/pinsets/api.example.com/export/ios";

    // A browser session is not a token.
    let r = app.get(path, Some(&cookie)).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.headers["www-authenticate"], "Bearer realm=\"palisade\"");
    // A token is not a session: the console's server fns and pages refuse it.
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    h.insert("origin", app.base.parse().expect("origin"));
    h.insert("sec-fetch-site", "same-origin".parse().expect("value"));
    let r = app.call_with("list_pinsets", &[], None, h).await;
    assert_ne!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("api.example.com"), "{}", r.body);

    // Junk and unknown tokens: 401, audited as refusals.
    for junk in [
        "",
        "pat_",
        "pat_x",
        &format!("pat_{}", "A".repeat(43)),
        &token[4..],
    ] {
        let r = api(&app, "GET", path, Some(junk), None).await;
        assert_eq!(r.status, 401, "{junk:?}: {}", r.body);
        assert!(is_problem(&r));
    }
    assert_eq!(app.last_event().await.action, "api.call");

    // Over the token's rate (20/s, bursts of 40): 429 with Retry-After.
    let mut statuses = Vec::new();
    for _ in 0..60 {
        statuses.push(api(&app, "GET", path, Some(&token), None).await.status);
    }
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(throttled > 0 && statuses[0] == 200, "{statuses:?}");

    // Revoked: refused at once.
    ok(
        &app,
        &cookie,
        "revoke_api_token",
        &[("id", t["id"].as_str().expect("id"))],
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = api(&app, "GET", path, Some(&token), None).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let again = app
        .call(
            "revoke_api_token",
            &[("id", t["id"].as_str().expect("id"))],
            Some(&cookie),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);

    // Expired: refused (the expiry moved into the past behind the console's back).
    let (_, other) = create_token(&app, &cookie, "ci-2", "pinsets:read").await;
    assert_eq!(api(&app, "GET", path, Some(&other), None).await.status, 200);
    let raw = store::SqlStore::open(&format!(
        "sqlite://{}",
        app.dir.path().join("palisade.db").display()
    ))
    .await
    .expect("raw connection");
    raw.execute_raw("UPDATE api_tokens SET expires_at_ms = created_at_ms + 1 WHERE name = 'ci-2'")
        .await
        .expect("expire");
    assert_eq!(api(&app, "GET", path, Some(&other), None).await.status, 401);
    let list = ok(&app, &cookie, "list_api_tokens", &[]).await;
    let states: Vec<&str> = list["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .filter_map(|t| t["state"].as_str())
        .collect();
    assert_eq!(states, ["expired", "revoked"]);
}

#[tokio::test]
async fn creating_a_token_checks_its_input() {
    let (app, cookie) = console_with_a_pinset().await;
    for (name, scopes, days, says) in [
        ("", "pinsets:read", "30", "name"),
        ("ci", "admin", "30", "“admin” is not a scope"),
        ("ci", "", "30", "at least one scope"),
        ("ci", "pinsets:read", "3650", "lifetime"),
    ] {
        let r = app
            .call(
                "create_api_token",
                &[("name", name), ("scopes", scopes), ("days", days)],
                Some(&cookie),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains(says), "{says}: {}", r.body);
    }
    let list = ok(&app, &cookie, "list_api_tokens", &[]).await;
    assert_eq!(list["tokens"].as_array().map(Vec::len), Some(0));
}

/// Runs `palisade release export` (the real binary) against the console with `token`.
fn release_export(
    app: &TestApp,
    token: &str,
    console: Option<&str>,
) -> (i32, String, std::path::PathBuf) {
    let out = app.dir.path().join("out").join("pins.plist");
    std::fs::create_dir_all(out.parent().expect("dir")).expect("out dir");
    let args = vec![
        "release",
        "export",
        "--console",
        console.unwrap_or(&app.base),
        "--hostname",
        "api.example.com",
        "--format",
        "ios",
        "--app",
        "com.example.bank",
        "--version",
        "5.1.0",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(&args)
        .env("PALISADE_API_TOKEN", token)
        .env("PALISADE_LOG", "error")
        .output()
        .expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    (run.status.code().unwrap_or(-1), text, out)
}

// Multi-threaded: the console answers on another thread while this one waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_release_cli_records_the_release_and_writes_the_file_in_one_call() {
    let (app, cookie) = console_with_a_pinset().await;
    let (_, reader) = create_token(&app, &cookie, "reader", "pinsets:read").await;
    let (ci, token) = create_token(
        &app,
        &cookie,
        "iOS release pipeline",
        "pinsets:read releases:write",
    )
    .await;

    // Without the scope: refused, said plainly, no file.
    let (code, out, file) = release_export(&app, &reader, None);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("403") && out.contains("permission"), "{out}");
    assert!(!file.exists());

    let (code, out, file) = release_export(&app, &token, None);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("recorded com.example.bank 5.1.0 (ios)"),
        "{out}"
    );
    let written = std::fs::read_to_string(&file).expect("file written");
    let page = app
        .get("/download/pinsets/api.example.com/ios", Some(&cookie))
        .await;
    assert_eq!(written, page.body, "the file is the page's iOS export");
    let releases = ok(&app, &cookie, "list_releases", &[]).await;
    assert_eq!(releases[0]["version"], "5.1.0", "{releases}");
    assert_eq!(
        app.last_event().await.actor,
        ci["actor"].as_str().expect("actor")
    );

    // Again: the console says it is already recorded; the file is left as it was.
    std::fs::remove_file(&file).expect("rm");
    let (code, out, file) = release_export(&app, &token, None);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("409"), "{out}");
    assert!(!file.exists());
    // No token, or a plain-http console elsewhere than localhost: refused before any call.
    let (code, out, _) = release_export(&app, "", None);
    assert_ne!(code, 0);
    assert!(out.contains("PALISADE_API_TOKEN"), "{out}");
    let (code, out, _) = release_export(&app, &token, Some("http://console.example.com"));
    assert_ne!(code, 0);
    assert!(out.contains("https://"), "{out}");
}

/// `GET /api/v1/audit`: an `audit:read` token reads the log with the explorer's filters, a page
/// at a time; its own reads are audited under it; other tokens are refused.
#[tokio::test]
async fn an_audit_read_token_reads_the_filtered_log_a_page_at_a_time() {
    let (app, cookie) = console_with_a_pinset().await;
    let (_, pins) = create_token(&app, &cookie, "pins", "pinsets:read").await;
    let (info, reader) = create_token(&app, &cookie, "siem", "audit:read").await;
    for _ in 0..3 {
        let r = api(
            &app,
            "GET",
            "/api/v1/pinsets/api.example.com/export/ios",
            Some(&pins),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let page = api(
        &app,
        "GET",
        "/api/v1/audit?action=api.pinsets.export&limit=2",
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let page = page.json();
    let events = page["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{page}");
    assert!(events.iter().all(|e| e["action"] == "api.pinsets.export"));
    assert!(
        events[0]["seq"].as_i64() > events[1]["seq"].as_i64(),
        "newest first"
    );
    let older = page["older"].as_i64().expect("a next page");
    let rest = api(
        &app,
        "GET",
        &format!("/api/v1/audit?action=api.pinsets.export&limit=2&before={older}"),
        Some(&reader),
        None,
    )
    .await
    .json();
    assert_eq!(rest["events"].as_array().map(Vec::len), Some(1), "{rest}");

    for query in ["outcome=maybe", "outcome=&action="] {
        let bad = api(
            &app,
            "GET",
            &format!("/api/v1/audit?{query}"),
            Some(&reader),
            None,
        )
        .await;
        assert_eq!(bad.status, 400, "{query}: {}", bad.body);
        assert!(is_problem(&bad), "{}", bad.body);
    }
    let refused = api(&app, "GET", "/api/v1/audit", Some(&pins), None).await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // Its reads are in the log under the token, the refused one as denied.
    let id = info["id"].as_str().expect("id");
    let mine = api(
        &app,
        "GET",
        &format!("/api/v1/audit?actor=token%3A{id}&action=api.audit.read"),
        Some(&reader),
        None,
    )
    .await
    .json();
    let outcomes: Vec<&str> = mine["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(
        outcomes,
        ["failure", "failure", "success", "success"],
        "the two refused reads, newest first, then the two answered: {mine}"
    );
    let denied = api(
        &app,
        "GET",
        "/api/v1/audit?action=api.audit.read&outcome=denied",
        Some(&reader),
        None,
    )
    .await
    .json();
    assert_eq!(
        denied["events"].as_array().map(Vec::len),
        Some(1),
        "{denied}"
    );
}
