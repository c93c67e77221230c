//! The `palisade` binary's commands: `admin bootstrap` and `audit verify` (intact, then after
//! each kind of tampering, naming the first bad row).

use std::process::Command;

use crate::support::soft_authenticator::SoftAuthenticator;
use crate::support::TestApp;

fn palisade(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .env("PALISADE_DATA_DIR", dir)
        .env("PALISADE_LOG", "error")
        .output()
        .expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

async fn chain_with_events() -> TestApp {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    let cookie = app.setup_owner(&mut soft, "alice").await;
    app.call("sign_out", &[], Some(&cookie)).await;
    app.sign_in(&mut soft, "alice").await;
    app.call("start_login", &[("username", "nobody")], None)
        .await;
    assert!(app.audit_count().await >= 5);
    app
}

#[tokio::test]
async fn audit_verify_passes_on_an_intact_chain_and_names_the_first_bad_row() {
    type Tamper = (&'static str, &'static str, &'static str);
    let cases: [Tamper; 4] = [
        (
            "edit",
            "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3",
            "row 3",
        ),
        ("delete", "DELETE FROM audit_events WHERE seq = 2", "row 3"),
        (
            "reorder",
            "UPDATE audit_events SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END WHERE seq IN (2, 3)",
            "row 2",
        ),
        (
            "forged hash",
            "UPDATE audit_events SET target = 'x', hash = 'ab' WHERE seq = 4",
            "row 4",
        ),
    ];
    for (what, sql, first_bad) in cases {
        let app = chain_with_events().await;
        let (code, out) = palisade(app.dir.path(), &["audit", "verify"]);
        assert_eq!(code, 0, "intact chain: {out}");
        assert!(out.contains("intact"), "{out}");

        let url = format!("sqlite://{}", app.dir.path().join("palisade.db").display());
        let raw = store::SqliteStore::open(&url).await.expect("open");
        // The triggers stop the application from editing history; an attacker with the file
        // drops them first. The chain must catch it anyway.
        sqlx_exec(&raw, "DROP TRIGGER audit_events_no_update").await;
        sqlx_exec(&raw, "DROP TRIGGER audit_events_no_delete").await;
        if what == "reorder" {
            sqlx_exec(&raw, "UPDATE audit_events SET seq = -2 WHERE seq = 2").await;
            sqlx_exec(&raw, "UPDATE audit_events SET seq = 2 WHERE seq = 3").await;
            sqlx_exec(&raw, "UPDATE audit_events SET seq = 3 WHERE seq = -2").await;
        } else {
            sqlx_exec(&raw, sql).await;
        }
        let (code, out) = palisade(app.dir.path(), &["audit", "verify"]);
        assert_ne!(code, 0, "{what}: {out}");
        assert!(
            out.contains(&format!("BROKEN at {first_bad}")),
            "{what}: {out}"
        );
    }
}

async fn sqlx_exec(store: &store::SqliteStore, sql: &str) {
    store.execute_raw(sql).await.expect("raw sql");
}

#[tokio::test]
async fn audit_triggers_stop_in_place_edits() {
    let app = chain_with_events().await;
    let url = format!("sqlite://{}", app.dir.path().join("palisade.db").display());
    let raw = store::SqliteStore::open(&url).await.expect("open");
    assert!(raw
        .execute_raw("UPDATE audit_events SET actor = 'x' WHERE seq = 1")
        .await
        .is_err());
    assert!(raw.execute_raw("DELETE FROM audit_events").await.is_err());
}

#[tokio::test]
async fn admin_bootstrap_prints_a_working_setup_url() {
    let app = TestApp::spawn().await;
    let port = app.base.rsplit(':').next().expect("port");
    let (code, out) = palisade(
        app.dir.path(),
        &["admin", "bootstrap", "--addr", &format!("127.0.0.1:{port}")],
    );
    assert_eq!(code, 0, "{out}");
    let url = out
        .lines()
        .find_map(|l| l.strip_prefix("Setup URL: "))
        .expect("Setup URL line")
        .to_owned();
    assert!(
        url.starts_with(&format!("{}/setup?token=", app.base)),
        "{url}"
    );
    let token = url.split("token=").nth(1).expect("token");
    let r = app
        .call("check_setup_link", &[("token", token)], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = app.last_event().await;
    assert_eq!(
        (e.action.as_str(), e.actor.as_str()),
        ("setup_link.issue", "cli")
    );
    assert!(
        !e.details.contains(token),
        "the token is never in the audit log"
    );
}

#[tokio::test]
async fn verify_on_a_missing_database_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = palisade(dir.path(), &["audit", "verify"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no database"), "{out}");
}

/// Starts the real binary on a free port; returns the child and the printed setup URL.
fn start_binary(dir: &std::path::Path, port: u16) -> (std::process::Child, Option<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("PALISADE_DATA_DIR", dir)
        .env("PALISADE_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("Setup URL: ") {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    (
        child,
        rx.recv_timeout(std::time::Duration::from_secs(3)).ok(),
    )
}

async fn wait_ready(base: &str) {
    for _ in 0..100 {
        if reqwest::get(format!("{base}/readyz"))
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("console at {base} never became ready");
}

#[tokio::test]
async fn answered_changes_survive_kill_9_and_the_chain_still_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let base = format!("http://localhost:{port}");
    let (mut child, setup_url) = start_binary(dir.path(), port);
    let setup_url = setup_url.expect("first start prints the setup URL");
    wait_ready(&base).await;
    let url = format!("sqlite://{}", dir.path().join("palisade.db").display());
    let app = TestApp {
        base: base.clone(),
        setup_url,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        store: std::sync::Arc::new(store::SqliteStore::open(&url).await.expect("open")),
        dir,
    };
    let mut soft = SoftAuthenticator::new();
    let cookie = app.setup_owner(&mut soft, "alice").await;
    let r = app
        .call(
            "create_ca",
            &[
                ("common_name", "Root"),
                ("key_type", "ecdsa-p256"),
                ("validity_days", ""),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let events = app.audit_count().await;

    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let (mut again, setup) = start_binary(app.dir.path(), port);
    assert!(
        setup.is_none(),
        "an owner exists: no new setup URL is printed"
    );
    wait_ready(&base).await;
    // The session, the CA and every audit event are still there.
    let me = app.call("current_admin", &[], Some(&cookie)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let certs = app.call("list_certs", &[], Some(&cookie)).await.json();
    assert_eq!(certs["cas"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.audit_count().await, events);
    again.kill().expect("SIGKILL");
    again.wait().expect("reaped");
    let (code, out) = palisade(app.dir.path(), &["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
}
