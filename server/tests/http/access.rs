//! Deny-by-default access, the Origin check on every server fn, security headers, body limit.

use crate::support::soft_authenticator::SoftAuthenticator;
use crate::support::TestApp;
use reqwest::header::{HeaderMap, HeaderValue};

/// Every page of the console (keep in step with `app::components::shell::AREAS`).
const PAGES: &[&str] = &[
    "/",
    "/clients",
    "/keys",
    "/certificates",
    "/pin-sets",
    "/rate-limits",
    "/gates",
    "/audit",
    "/admins",
    "/no-such-page",
];
/// Server fns open to anonymous callers (setup and sign-in): the only exceptions to "every
/// server fn needs a session", named here by hand so that opening another one is a visible edit.
const PUBLIC_FNS: &[&str] = &[
    "check_setup_link",
    "start_setup",
    "finish_setup",
    "start_login",
    "finish_login",
    "check_invite",
    "start_invite",
    "finish_invite",
];

/// Every server fn compiled into the console, by endpoint name, from server_fn's registry: a new
/// one is covered by these tests without being listed anywhere.
fn all_fns() -> Vec<&'static str> {
    let prefix = format!("{}/", server::ui::FN_PREFIX);
    let paths = server::ui::server_fn_paths();
    let names: Vec<&'static str> = paths
        .iter()
        .map(|p| {
            p.strip_prefix(prefix.as_str())
                .unwrap_or_else(|| panic!("server fn {p} outside {prefix}"))
        })
        .collect();
    // The registry is really read: the fns this file and the harness call are in it.
    for known in PUBLIC_FNS
        .iter()
        .chain(&["sign_out", "current_admin", "start_step_up"])
    {
        assert!(names.contains(known), "{known} not registered: {names:?}");
    }
    names
}

/// Every server fn that needs a session: all of them but [`PUBLIC_FNS`].
fn protected_fns() -> Vec<&'static str> {
    all_fns()
        .into_iter()
        .filter(|f| !PUBLIC_FNS.contains(f))
        .collect()
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_login_and_server_fns_answer_401() {
    let app = TestApp::spawn().await;
    for page in PAGES {
        let r = app.get(page, None).await;
        assert_eq!(r.status, 303, "{page}");
        assert_eq!(
            r.headers.get("location").and_then(|v| v.to_str().ok()),
            Some("/login"),
            "{page}"
        );
    }
    for f in protected_fns() {
        let r = app.call(f, &[("limit", "10")], None).await;
        assert_eq!(r.status, 401, "{f}: {}", r.body);
    }
    // Downloads (exports, CSRs) are behind the session too.
    for path in [
        "/download/pinsets/api.example.com/android",
        "/download/csr/x",
        "/download/jwks/access-tokens",
    ] {
        let r = app.get(path, None).await;
        assert_eq!(r.status, 303, "{path}");
    }
    // A forged or stale cookie is the same as none.
    let r = app
        .call(
            "current_admin",
            &[],
            Some("palisade_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .await;
    assert_eq!(r.status, 401);
    for open in ["/login", "/healthz", "/readyz", "/favicon.ico"] {
        assert_eq!(app.get(open, None).await.status, 200, "{open}");
    }
    let setup = app.get(&app.setup_url.replace(&app.base, ""), None).await;
    assert_eq!(setup.status, 200);
    assert!(setup.body.contains("Set up Palisade"));
}

#[tokio::test]
async fn signed_in_admin_reaches_every_page() {
    let app = TestApp::spawn().await;
    let cookie = app
        .setup_owner(&mut SoftAuthenticator::new(), "alice")
        .await;
    for page in &PAGES[..PAGES.len() - 1] {
        let r = app.get(page, Some(&cookie)).await;
        assert_eq!(r.status, 200, "{page}");
        assert!(r.body.contains("Sign out"), "{page} shows the shell");
    }
    let r = app.get("/admins", Some(&cookie)).await;
    assert!(
        r.body.contains("Roles and permissions") && r.body.contains("Invites"),
        "/admins is built"
    );
    let r = app.get("/gates", Some(&cookie)).await;
    assert!(
        !r.body.contains("Not built yet") && r.body.contains("Add gate"),
        "/gates is built"
    );
    let r = app.get("/keys", Some(&cookie)).await;
    assert!(
        !r.body.contains("Not built yet") && r.body.contains("Signing keys"),
        "/keys is built"
    );
    assert_eq!(app.get("/no-such-page", Some(&cookie)).await.status, 404);
    // Visiting /login while signed in goes to the dashboard.
    assert_eq!(
        app.get("/login", Some(&cookie))
            .await
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/")
    );
}

#[tokio::test]
async fn server_fns_answer_under_fn_and_leave_api_to_the_rest_api() {
    let app = TestApp::spawn().await;
    let cookie = app
        .setup_owner(&mut SoftAuthenticator::new(), "alice")
        .await;
    assert!(
        server::ui::server_fn_paths()
            .iter()
            .all(|p| p.starts_with("/fn/")),
        "{:?}",
        server::ui::server_fn_paths()
    );
    let post = |path: &str| {
        app.client
            .post(format!("{}{path}", app.base))
            .header("origin", &app.base)
            .header("sec-fetch-site", "same-origin")
            .header("cookie", &cookie)
            .send()
    };
    let r = post("/fn/current_admin").await.expect("request");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap_or_default().contains("alice"));
    // `/api` belongs to the REST API: no server fn answers there.
    assert_eq!(
        post("/api/current_admin")
            .await
            .expect("request")
            .status()
            .as_u16(),
        404
    );
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).expect("header"));
    }
    h
}

#[tokio::test]
async fn cross_origin_calls_to_every_server_fn_are_refused_audited_and_change_nothing() {
    let app = TestApp::spawn().await;
    let cookie = app
        .setup_owner(&mut SoftAuthenticator::new(), "alice")
        .await;
    let sibling = app.base.replace("localhost", "evil.localhost");
    let cases: Vec<(&str, HeaderMap)> = vec![
        (
            "foreign Origin",
            headers(&[("origin", "https://evil.example")]),
        ),
        ("Origin: null", headers(&[("origin", "null")])),
        ("no Origin, no Sec-Fetch-Site", HeaderMap::new()),
        (
            "sibling subdomain",
            headers(&[("origin", &sibling), ("sec-fetch-site", "same-site")]),
        ),
        (
            "cross-site fetch metadata",
            headers(&[("origin", &app.base), ("sec-fetch-site", "cross-site")]),
        ),
        (
            "null Origin from a cross-site form",
            headers(&[("origin", "null"), ("sec-fetch-site", "cross-site")]),
        ),
        (
            "same-origin metadata with a foreign Origin",
            headers(&[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "same-origin"),
            ]),
        ),
    ];
    for f in all_fns() {
        for (what, h) in &cases {
            let before = app.audit_count().await;
            let r = app
                .call_with(f, &[("limit", "1")], Some(&cookie), h.clone())
                .await;
            assert_eq!(r.status, 403, "{f} with {what}: {}", r.body);
            assert_eq!(
                app.audit_count().await,
                before + 1,
                "{f} with {what}: one audit row"
            );
            let e = app.last_event().await;
            assert_eq!(
                (e.action.as_str(), e.outcome),
                ("request.cross_origin", domain::audit::Outcome::Denied)
            );
        }
    }
    // Form encodings a cross-site page could send are refused the same way.
    for ct in [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
    ] {
        let r = app
            .client
            .post(format!("{}{}/sign_out", app.base, server::ui::FN_PREFIX))
            .header("content-type", ct)
            .header("origin", "https://evil.example")
            .header("cookie", &cookie)
            .body("a=b")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 403, "{ct}");
    }
    // A cross-site GET to a server fn is refused too.
    let current_admin = format!("{}{}/current_admin", app.base, server::ui::FN_PREFIX);
    let r = app
        .client
        .get(current_admin)
        .header("sec-fetch-site", "cross-site")
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 403);
    // The session survived all of it.
    assert_eq!(
        app.call("current_admin", &[], Some(&cookie)).await.status,
        200
    );
}

#[tokio::test]
async fn a_plain_same_origin_form_post_is_accepted() {
    // With Referrer-Policy: no-referrer, Chromium sends `Origin: null` on form posts but
    // `Sec-Fetch-Site: same-origin`; the sign-out button relies on this.
    let app = TestApp::spawn().await;
    let cookie = app
        .setup_owner(&mut SoftAuthenticator::new(), "alice")
        .await;
    let h = headers(&[
        ("origin", "null"),
        ("sec-fetch-site", "same-origin"),
        ("accept", "text/html"),
    ]);
    let r = app.call_with("sign_out", &[], Some(&cookie), h).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(
        r.headers.get("location").and_then(|v| v.to_str().ok()),
        Some("/login")
    );
    assert_eq!(
        app.call("current_admin", &[], Some(&cookie)).await.status,
        401
    );
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_a_nonced_hydration_script() {
    let app = TestApp::spawn().await;
    let cookie = app
        .setup_owner(&mut SoftAuthenticator::new(), "alice")
        .await;
    for (path, c) in [
        ("/login", None),
        ("/", Some(cookie.as_str())),
        ("/audit", Some(cookie.as_str())),
    ] {
        let r = app.get(path, c).await;
        let h = |name: &str| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let csp = h("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .expect("script nonce");
        assert!(
            r.body.contains(&format!("nonce=\"{nonce}\"")),
            "{path}: the hydration script carries the CSP nonce"
        );
        assert_eq!(h("x-content-type-options"), "nosniff");
        assert_eq!(h("referrer-policy"), "no-referrer");
        assert_eq!(h("cache-control"), "no-store", "{path}");
        let permissions = h("permissions-policy");
        assert!(permissions.contains("camera=()"), "{path}: {permissions}");
        assert!(
            permissions.contains("publickey-credentials-get=(self)"),
            "{path}: passkeys stay allowed: {permissions}"
        );
        assert!(
            h("strict-transport-security").is_empty(),
            "no HSTS over plain HTTP"
        );
        // Every inline script is nonced.
        for tag in r.body.split("<script").skip(1) {
            let open = tag.split('>').next().unwrap_or_default();
            assert!(
                open.contains("nonce=") || open.contains("src="),
                "{path}: un-nonced inline script <script{open}>"
            );
        }
    }
    // Nonces differ per response.
    let a = app
        .get("/login", None)
        .await
        .headers
        .get("content-security-policy")
        .cloned();
    let b = app
        .get("/login", None)
        .await
        .headers
        .get("content-security-policy")
        .cloned();
    assert_ne!(a, b);
}

#[tokio::test]
async fn oversized_bodies_get_413_and_health_endpoints_answer() {
    let app = TestApp::spawn().await;
    let big = "a".repeat(server::startup::BODY_LIMIT + 1);
    let r = app.call("start_login", &[("username", &big)], None).await;
    assert_eq!(r.status, 413);
    // The refusal carries the security headers like every other answer.
    for name in [
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "permissions-policy",
        "cache-control",
    ] {
        assert!(r.headers.contains_key(name), "413 without {name}");
    }
    assert_eq!(app.get("/healthz", None).await.body, "ok\n");
    assert_eq!(app.get("/readyz", None).await.body, "ready\n");
}

#[tokio::test]
async fn an_expired_session_pressing_sign_out_lands_on_login() {
    let app = TestApp::spawn().await;
    let h = headers(&[
        ("origin", &app.base),
        ("sec-fetch-site", "same-origin"),
        ("accept", "text/html,application/xhtml+xml"),
    ]);
    let r = app
        .call_with("sign_out", &[], Some("palisade_session=stale"), h)
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.headers.get("location").and_then(|v| v.to_str().ok()),
        Some("/login")
    );
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_cut_off_at_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let port = app.port();
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    // The harness sets a 2 s header timeout; the server must close (or answer 408) well before 6 s.
    let read = tokio::time::timeout(std::time::Duration::from_secs(6), slow.read(&mut buf)).await;
    let elapsed = started.elapsed();
    match read {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => assert!(
            String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Ok(Err(_)) => {}
        Err(_) => panic!("the connection was still open after 6 s"),
    }
    assert!(
        elapsed >= std::time::Duration::from_millis(1500),
        "closed too early: {elapsed:?}"
    );
    // Other clients are served meanwhile and after.
    assert_eq!(app.get("/healthz", None).await.status, 200);
}
