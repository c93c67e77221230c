//! The `palisade` binary's commands: `admin bootstrap` and `audit verify` (intact, then after
//! each kind of tampering, naming the first bad row).

use std::process::Command;

use crate::support::soft_authenticator::SoftAuthenticator;
use crate::support::TestApp;

/// Runs the real binary with `args` on data directory `dir`: its exit code and its output.
pub(crate) fn palisade(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
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
    let mut cookie = app.setup_owner(&mut soft, "alice").await;
    assert_eq!(app.step_up(&mut soft, &mut cookie).await.status, 200);
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
        let raw = store::SqlStore::open(&url).await.expect("open");
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

/// Issue 13, item 6: a writer with the database file but not the master key deletes an event
/// and recomputes every later hash, as the unkeyed chain allowed; the keyed chain shows it.
/// Deleting events from the end needs no recomputing at all: a checkpoint kept elsewhere
/// shows that.
#[tokio::test]
async fn a_writer_without_the_key_cannot_rechain_the_log_and_a_checkpoint_catches_truncation() {
    let app = chain_with_events().await;
    let dir = app.dir.path();
    let out_file = dir.join("checkpoint.json");
    let (code, out) = palisade(
        dir,
        &[
            "audit",
            "checkpoint",
            "--out",
            out_file.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    let cp: domain::audit::Checkpoint =
        serde_json::from_str(&std::fs::read_to_string(&out_file).expect("file")).expect("json");
    let events = app.store.recent_audit(1000).await.expect("events");
    assert_eq!(
        cp.seq, events[0].seq,
        "the checkpoint names the newest event"
    );
    let (code, out) = palisade(
        dir,
        &[
            "audit",
            "verify",
            "--checkpoint",
            out_file.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("holds the checkpoint's event"), "{out}");

    let url = format!("sqlite://{}", dir.join("palisade.db").display());
    let raw = store::SqlStore::open(&url).await.expect("open");
    sqlx_exec(&raw, "DROP TRIGGER audit_events_no_update").await;
    sqlx_exec(&raw, "DROP TRIGGER audit_events_no_delete").await;
    // Truncation: the last two events go. The chain alone cannot tell; the checkpoint can.
    let newest = events[0].seq;
    sqlx_exec(
        &raw,
        &format!("DELETE FROM audit_events WHERE seq >= {}", newest - 1),
    )
    .await;
    let (code, out) = palisade(dir, &["audit", "verify"]);
    assert_eq!(
        code, 0,
        "without the checkpoint the shorter chain is intact: {out}"
    );
    let (code, out) = palisade(
        dir,
        &[
            "audit",
            "verify",
            "--checkpoint",
            out_file.to_str().expect("path"),
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("rows were deleted from the end"), "{out}");

    // Delete and re-chain: event 4 (after the chain was keyed) goes, and every later row is
    // renumbered and re-hashed with SHA-256, the only hash a writer without the key can make.
    let mut rows: Vec<domain::audit::AuditEvent> = app
        .store
        .recent_audit(1000)
        .await
        .expect("events")
        .into_iter()
        .rev()
        .collect();
    let keyed_at = rows
        .iter()
        .find(|e| e.action == domain::audit::CHAIN_KEYED_ACTION)
        .expect("the chain was keyed")
        .seq;
    let victim = keyed_at + 1;
    sqlx_exec(
        &raw,
        &format!("DELETE FROM audit_events WHERE seq >= {victim}"),
    )
    .await;
    rows.retain(|e| e.seq != victim);
    for i in (victim as usize - 1)..rows.len() {
        rows[i].seq = i as i64 + 1;
        rows[i].prev_hash = rows[i - 1].hash.clone();
        rows[i].hash = rows[i].compute_hash();
        let e = &rows[i];
        sqlx_exec(
            &raw,
            &format!(
                "INSERT INTO audit_events (seq, at, actor, ip, user_agent, action, target, outcome, details, prev_hash, hash) \
                 VALUES ({}, '{}', '{}', NULL, NULL, '{}', '{}', '{}', '{}', '{}', '{}')",
                e.seq, e.at, e.actor, e.action, e.target, e.outcome.as_str(), e.details.replace('\'', "''"), e.prev_hash, e.hash
            ),
        )
        .await;
    }
    let (code, out) = palisade(dir, &["audit", "verify"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&format!("BROKEN at row {victim}")), "{out}");
}

async fn sqlx_exec(store: &store::SqlStore, sql: &str) {
    store.execute_raw(sql).await.expect("raw sql");
}

#[tokio::test]
async fn audit_triggers_stop_in_place_edits() {
    let app = chain_with_events().await;
    let url = format!("sqlite://{}", app.dir.path().join("palisade.db").display());
    let raw = store::SqlStore::open(&url).await.expect("open");
    assert!(raw
        .execute_raw("UPDATE audit_events SET actor = 'x' WHERE seq = 1")
        .await
        .is_err());
    assert!(raw.execute_raw("DELETE FROM audit_events").await.is_err());
}

#[tokio::test]
async fn admin_bootstrap_prints_a_working_setup_url() {
    let app = TestApp::spawn().await;
    let port = app.port();
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
async fn a_plain_http_public_url_off_localhost_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = palisade(
        dir.path(),
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--public-url",
            "http://console.example.com",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("plain http") && out.contains("https://"),
        "{out}"
    );
    assert!(
        !dir.path().join("palisade.db").exists(),
        "nothing is created before the refusal"
    );
}

#[tokio::test]
async fn an_unknown_forwarding_header_refuses_to_start_and_names_the_choices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = palisade(
        dir.path(),
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--forwarded-header",
            "x-real-ip",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("x-forwarded-for or forwarded"), "{out}");
    assert!(!dir.path().join("palisade.db").exists(), "{out}");
}

#[tokio::test]
async fn verify_on_a_missing_database_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = palisade(dir.path(), &["audit", "verify"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no database"), "{out}");
}

/// A console child process, killed when the test ends, also when it fails: a leftover console
/// would keep its port, its database and every descriptor it inherited.
pub(crate) struct Console(std::process::Child);

impl std::ops::Deref for Console {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Console {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the real binary on a free port; returns the child and the printed setup URL.
fn start_binary(dir: &std::path::Path, port: u16) -> (Console, Option<String>) {
    start_binary_logging(dir, port, "error", std::process::Stdio::inherit())
}

/// [`start_binary`] with a `PALISADE_LOG` filter and where its log (stderr) goes.
fn start_binary_logging(
    dir: &std::path::Path,
    port: u16,
    log: &str,
    stderr: std::process::Stdio,
) -> (Console, Option<String>) {
    start_binary_with(dir, port, log, stderr, &[])
}

/// [`start_binary_logging`] with more `serve` flags.
pub(crate) fn start_binary_with(
    dir: &std::path::Path,
    port: u16,
    log: &str,
    stderr: std::process::Stdio,
    flags: &[&str],
) -> (Console, Option<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .args(flags)
        .env("PALISADE_DATA_DIR", dir)
        .env("PALISADE_LOG", log)
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
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
        Console(child),
        rx.recv_timeout(std::time::Duration::from_secs(3)).ok(),
    )
}

pub(crate) async fn wait_ready(base: &str) {
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
    let app = TestApp::attach(base.clone(), setup_url, dir).await;
    let mut soft = SoftAuthenticator::new();
    let mut cookie = app.setup_owner(&mut soft, "alice").await;
    assert_eq!(app.step_up(&mut soft, &mut cookie).await.status, 200);
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

#[tokio::test]
async fn keys_rewrap_reseals_every_private_key_under_the_new_master_key() {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    let r = app
        .call(
            "create_ca",
            &[
                ("common_name", "Rewrap Root CA"),
                ("key_type", "ecdsa-p256"),
                ("validity_days", "365"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (name, alg) in [("ed", "EdDSA"), ("ec", "ES256")] {
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
                Some(&cookie),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let dir = app.dir.path();
    let old = domain::seal::MasterKey::from_file_text(
        &std::fs::read_to_string(dir.join("master.key")).expect("old key file"),
    )
    .expect("old key");
    let db = store::SqlStore::open(&format!("sqlite://{}", dir.join("palisade.db").display()))
        .await
        .expect("open");
    use domain::ports::sealed::SealedStore;
    let before = db.sealed_values().await.expect("sealed");
    assert_eq!(
        before
            .iter()
            .filter(|v| v.table != "master_key_checks" && v.table != "audit_chain_keys")
            .count(),
        3,
        "the CA key and two signing keys (and the master key's check value, the chain key): {before:?}"
    );

    // The new key file must not be the current one.
    let (code, out) = palisade(
        dir,
        &[
            "keys",
            "rewrap",
            "--new-master-key-file",
            dir.join("master.key").to_str().expect("path"),
        ],
    );
    assert_eq!(code, 2, "{out}");
    let new_path = dir.join("master-2027.key");
    let (code, out) = palisade(
        dir,
        &[
            "keys",
            "rewrap",
            "--new-master-key-file",
            new_path.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Re-sealed 3 private keys"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&new_path)
            .expect("new key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the new key file is private");
    }
    let new =
        domain::seal::MasterKey::from_file_text(&std::fs::read_to_string(&new_path).expect("read"))
            .expect("new key");
    let after = db.sealed_values().await.expect("sealed");
    let kind = |v: &domain::ports::sealed::SealedValue| {
        domain::seal::Sealed::of_table(&v.table).expect("a known sealed table")
    };
    assert_eq!(after.len(), before.len());
    for v in &after {
        let b = before.iter().find(|b| b.id == v.id).expect("same records");
        assert_eq!(
            new.open(kind(v), &v.id, &v.sealed)
                .expect("opens with the new key"),
            old.open(kind(b), &b.id, &b.sealed)
                .expect("opened with the old key"),
            "same private key"
        );
        assert!(
            old.open(kind(v), &v.id, &v.sealed).is_err(),
            "the old key no longer opens it"
        );
        // Issue 13, item 7: the replaced ciphertext is in no file of the data directory.
        assert_eq!(
            crate::data_at_rest::anywhere_in(dir, &b.sealed),
            Vec::<String>::new(),
            "{} {}: the ciphertext under the old master key is still on disk",
            b.table,
            b.id
        );
    }
    let e = app.last_event().await;
    assert_eq!(e.action, "keys.rewrap_master_key");
    assert!(
        e.details.contains("\"signing_keys\":2") && e.details.contains("\"tls_keys\":1"),
        "{}",
        e.details
    );

    // Refused while a console serves the data directory. That console runs with the new key
    // (started with the old one it would refuse: the check value is sealed under the new key).
    std::fs::rename(dir.join("master.key"), dir.join("master-old.key")).expect("keep the old key");
    std::fs::copy(&new_path, dir.join("master.key")).expect("the new key in place");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let (mut child, _) = start_binary(dir, port);
    wait_ready(&format!("http://localhost:{port}")).await;
    let (code, out) = palisade(
        dir,
        &[
            "keys",
            "rewrap",
            "--new-master-key-file",
            dir.join("other.key").to_str().expect("path"),
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("a console is running"), "{out}");
    assert!(!dir.join("other.key").exists(), "nothing was created");
    child.kill().expect("kill");
    child.wait().expect("reaped");
    std::fs::rename(dir.join("master-old.key"), dir.join("master.key")).expect("the old key back");

    // A second rewrap with the OLD key file as current fails cleanly and changes nothing: the
    // check value, re-sealed under the new key, no longer opens with it.
    let (code, out) = palisade(
        dir,
        &[
            "keys",
            "rewrap",
            "--new-master-key-file",
            dir.join("third.key").to_str().expect("path"),
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("not the key this database was sealed with"),
        "{out}"
    );
    assert!(
        !dir.join("third.key").exists(),
        "a refused rewrap creates no key file"
    );
    assert_eq!(db.sealed_values().await.expect("sealed"), after);
}

#[tokio::test]
async fn a_trace_log_of_the_real_binary_never_contains_a_client_secret_or_an_api_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let base = format!("http://localhost:{port}");
    let log_path = dir.path().join("stderr.log");
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let (mut child, setup_url) = start_binary_logging(dir.path(), port, "trace", log_file.into());
    wait_ready(&base).await;
    let app = TestApp::attach(base.clone(), setup_url.expect("setup url"), dir).await;
    let cookie = app.confirmed_owner("alice").await;
    let draft = serde_json::json!({
        "name": "Billing", "description": "", "kind": "service", "platform": "server",
        "redirect_uris": [], "grant_types": ["client_credentials"], "scopes": [],
        "access_token_lifetime_s": 900, "auth_method": "client_secret_basic", "jwks": "", "policy_id": ""
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
    let first = r.json()["secret"].as_str().expect("secret").to_owned();
    let id = app.call("list_clients", &[], Some(&cookie)).await.json()["clients"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = app
        .call(
            "rotate_client_secret",
            &[("id", &id), ("version", "1"), ("grace_days", "7")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let second = r.json()["secret"].as_str().expect("secret").to_owned();
    // An API token, created and then used on the REST API (a call that passes the token check).
    let r = app
        .call(
            "create_api_token",
            &[("name", "ci"), ("scopes", "pinsets:read"), ("days", "7")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["secret"].as_str().expect("token").to_owned();
    let used = app
        .client
        .get(format!(
            "{base}/api/v1/pinsets/nowhere.example.com/export/ios"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("api call");
    assert_eq!(used.status(), 404, "the token passed its check");
    child.kill().expect("kill");
    child.wait().expect("reaped");
    let log = std::fs::read_to_string(&log_path).expect("log");
    // The capture is real: the trace log holds the statements that stored the secrets' hashes.
    assert!(
        log.contains("INSERT INTO client_secrets"),
        "trace log of {} bytes",
        log.len()
    );
    assert!(
        log.contains("INSERT INTO api_tokens"),
        "the token's row was traced"
    );
    assert!(
        !log.contains(&token[4..24]),
        "part of an API token was logged"
    );
    for secret in [&first, &second] {
        assert!(!log.contains(secret.as_str()), "a client secret was logged");
        let body = secret.trim_start_matches("psc_");
        assert!(
            !log.contains(&body[..20]),
            "part of a client secret was logged"
        );
    }
}
