//! Enrolment, pull and status against a small test server that plays the console's side of
//! the `/gate-api/v1` contract (the real console endpoints are not built yet; this server
//! implements exactly what gate/README.md documents): `palisade-gate enroll` (the real binary)
//! registers the identity key and writes `console.json`; `palisade-gate serve` (the real
//! binary, configured through `PALISADE_GATE_*` variables) pulls the bundle with a valid
//! `PalisadeGate` signature, converges on a newer version, answers 304-current pulls, and
//! reports its applied version.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::*;
use jose::ed25519::PublicKey;
use serde_json::{json, Value};

const GATE: &str = env!("CARGO_BIN_EXE_palisade-gate");

#[derive(Default)]
struct FakeConsole {
    /// The console's bundle key, as enrolment hands it out.
    bundle_key: String,
    gate_key: Option<PublicKey>,
    token_used: bool,
    bundle: Option<(u64, Vec<u8>)>,
    pulls: Vec<Option<String>>,
    statuses: Vec<Value>,
    bad_signatures: u32,
}

type Shared = Arc<Mutex<FakeConsole>>;

fn authenticated(
    s: &FakeConsole,
    headers: &HeaderMap,
    method: &str,
    pq: &str,
    body: &[u8],
) -> bool {
    let Some(key) = s.gate_key else { return false };
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Ok(parsed) = jose::gate_auth::parse(auth) else {
        return false;
    };
    let fresh = (parsed.ts_ms / 1000 - now_s()).abs() < 60;
    parsed.gate_id == "gate-7"
        && fresh
        && jose::gate_auth::verify(&parsed, &key, method, pq, body).is_ok()
}

async fn enroll(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut s = s.lock().expect("lock");
    if body["token"] != "one-time-token" || s.token_used {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "the token is unknown, used or expired"})),
        )
            .into_response();
    }
    let Ok(key) = PublicKey::from_b64(body["public_key"].as_str().unwrap_or_default()) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "bad public key"})),
        )
            .into_response();
    };
    s.token_used = true;
    s.gate_key = Some(key);
    Json(json!({"gate_id": "gate-7", "bundle_public_key": s.bundle_key.clone(), "console_id": "console-test"})).into_response()
}

async fn bundle_get(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = s.lock().expect("lock");
    if !authenticated(&s, &headers, "GET", "/gate-api/v1/bundle", b"") {
        s.bad_signatures += 1;
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad gate signature"})),
        )
            .into_response();
    }
    let inm = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    s.pulls.push(inm.clone());
    match &s.bundle {
        Some((v, _)) if inm.as_deref() == Some(&format!("\"{v}\"")) => {
            StatusCode::NOT_MODIFIED.into_response()
        }
        Some((_, bytes)) => (StatusCode::OK, bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn status(State(s): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let mut s = s.lock().expect("lock");
    if !authenticated(&s, &headers, "POST", "/gate-api/v1/status", &body) {
        s.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    s.statuses
        .push(serde_json::from_slice(&body).expect("status JSON"));
    StatusCode::NO_CONTENT.into_response()
}

async fn fake_console(state: Shared) -> SocketAddr {
    let app = Router::new()
        .route("/gate-api/v1/enroll", post(enroll))
        .route("/gate-api/v1/bundle", get(bundle_get))
        .route("/gate-api/v1/status", post(status))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn enroll_then_pull_converges_and_reports() {
    let console = Console::new();
    let state: Shared = Arc::new(Mutex::new(FakeConsole {
        bundle_key: console.public_b64(),
        ..FakeConsole::default()
    }));
    let console_addr = fake_console(state.clone()).await;
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console_url = format!("http://{console_addr}");

    // A wrong token is refused with the console's message; nothing is written.
    let out = tokio::task::spawn_blocking({
        let (url, d) = (console_url.clone(), dir.path().to_path_buf());
        move || {
            Command::new(GATE)
                .args([
                    "enroll",
                    "--console",
                    &url,
                    "--token",
                    "wrong",
                    "--data-dir",
                ])
                .arg(&d)
                .output()
        }
    })
    .await
    .expect("join")
    .expect("run enroll");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the token is unknown, used or expired"));
    assert!(!dir.path().join("console.json").exists());

    let out = tokio::task::spawn_blocking({
        let (url, d) = (console_url.clone(), dir.path().to_path_buf());
        move || {
            Command::new(GATE)
                .arg("enroll")
                .env("PALISADE_GATE_CONSOLE", &url)
                .env("PALISADE_GATE_ENROLL_TOKEN", "one-time-token")
                .env("PALISADE_GATE_DATA_DIR", &d)
                .output()
        }
    })
    .await
    .expect("join")
    .expect("run enroll");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("console.json")).expect("console.json"),
    )
    .expect("json");
    assert_eq!(
        link,
        json!({"console_url": console_url, "gate_id": "gate-7", "bundle_public_key": console.public_b64()})
    );
    let registered = state.lock().expect("lock").gate_key.expect("registered");
    let on_disk = std::fs::read_to_string(dir.path().join("identity.pub")).expect("identity.pub");
    assert_eq!(on_disk.trim_end(), registered.to_b64());

    // The console has version 1; the gate pulls it at start.
    state.lock().expect("lock").bundle = Some((1, console.sign(&bundle(1, vec![], vec![]))));
    let (listen, admin) = (free_port(), free_port());
    let mut child = Command::new(GATE)
        .arg("serve")
        .env("PALISADE_GATE_LISTEN", listen.to_string())
        .env("PALISADE_GATE_ADMIN_LISTEN", admin.to_string())
        .env("PALISADE_GATE_UPSTREAM", format!("http://{up}"))
        .env("PALISADE_GATE_DATA_DIR", dir.path())
        .env("PALISADE_GATE_PULL_INTERVAL_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let c = http();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(r) = c.get(format!("http://{admin}/readyz")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the gate never became ready from a pull"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = c
        .get(format!("http://{listen}/public/x"))
        .send()
        .await
        .expect("proxied");
    assert_eq!(r.status(), 200);

    // The console publishes version 2: the gate converges within a pull interval and reports.
    let published = Instant::now();
    state.lock().expect("lock").bundle = Some((2, console.sign(&bundle(2, vec![], vec![]))));
    wait_for("status report of version 2", || {
        state
            .lock()
            .expect("lock")
            .statuses
            .iter()
            .any(|s| s["applied_version"] == 2)
    })
    .await;
    println!("pull converged on version 2 in {:?}", published.elapsed());
    // Later pulls say which version they hold and get 304.
    wait_for("a pull with If-None-Match \"2\"", || {
        state
            .lock()
            .expect("lock")
            .pulls
            .iter()
            .any(|p| p.as_deref() == Some("\"2\""))
    })
    .await;
    // A refused bundle (signed by another key) is reported with its reason; version 2 stays.
    let other = Console::new();
    state.lock().expect("lock").bundle = Some((3, other.sign(&bundle(3, vec![], vec![]))));
    wait_for("status report of the refusal", || {
        state.lock().expect("lock").statuses.iter().any(|s| {
            s["applied_version"] == 2
                && s["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("trusted key"))
        })
    })
    .await;
    let metrics = metrics_at(admin).await;
    assert_eq!(
        sample(&parse_prometheus(&metrics), "palisade_gate_bundle_version"),
        2.0
    );
    assert_eq!(
        state.lock().expect("lock").bad_signatures,
        0,
        "every call was signed correctly"
    );
    let _ = child.kill();
    let _ = child.wait();
}
