//! Issue 12, item 2, for servers that are not behind a gate: a certificate's chain downloads as
//! stored (checked with `openssl`), and its private key downloads once per ticket, only after a
//! passkey confirmation, only for roles with `certs:issue`, audited without the key.

use std::path::Path;
use std::process::Command;

use domain::ports::certs::CertStore;
use serde_json::Value;

use crate::certs::{ok, openssl};
use crate::support::{Reply, TestApp};

const KEY_ACTION: &str = "certs.download_key";

fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Runs `openssl args` in `dir`; its stdout.
fn openssl_out(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A root CA and a certificate for `api.example.com` issued from it; the certificate's view.
async fn issued(app: &TestApp, cookie: &str) -> Value {
    let ca = ok(
        app,
        cookie,
        "create_ca",
        &[
            ("common_name", "Test Root"),
            ("key_type", "ecdsa-p256"),
            ("validity_days", "3650"),
        ],
    )
    .await;
    ok(
        app,
        cookie,
        "issue_cert",
        &[
            ("ca_id", ca["id"].as_str().expect("ca id")),
            ("hostname", "api.example.com"),
            ("extra_sans", ""),
            ("key_type", "ecdsa-p256"),
            ("validity_days", "90"),
        ],
    )
    .await
}

/// The certificate `id` as the Certificates page lists it.
async fn listed(app: &TestApp, cookie: &str, id: &str) -> Value {
    let all = ok(app, cookie, "list_certs", &[]).await;
    all["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .expect("listed")
}

/// Asks for a key-download link; the reply.
async fn ticket(app: &TestApp, cookie: &str, id: &str) -> Reply {
    app.call("create_key_download", &[("cert_id", id)], Some(cookie))
        .await
}

async fn events(app: &TestApp) -> Vec<domain::audit::AuditEvent> {
    app.store.recent_audit(10_000).await.expect("audit")
}

#[tokio::test]
async fn the_chain_is_the_stored_one_and_the_key_leaves_once_after_a_passkey_audited_without_it() {
    assert!(
        openssl(),
        "this test needs the openssl CLI (apt-get install openssl)"
    );
    let app = TestApp::spawn().await;
    let mut soft = crate::support::soft_authenticator::SoftAuthenticator::new();
    let mut cookie = app.setup_owner(&mut soft, "alice").await;
    assert_eq!(app.step_up(&mut soft, &mut cookie).await.status, 200);
    let cert = issued(&app, &cookie).await;
    let id = cert["id"].as_str().expect("id").to_owned();
    let view = listed(&app, &cookie, &id).await;
    assert_eq!(view["chain_certs"], 2, "{view}");
    assert_eq!(view["chain_has_root"], true, "{view}");
    assert_eq!(view["key_unavailable"], Value::Null, "{view}");

    // The chain: the stored bytes, as a PEM attachment named after the hostname; a read, so
    // not audited.
    let before = app.audit_count().await;
    let chain = app
        .get(&format!("/download/cert-chain/{id}"), Some(&cookie))
        .await;
    assert_eq!(chain.status, 200, "{}", chain.body);
    assert_eq!(header(&chain, "content-type"), "application/x-pem-file");
    assert_eq!(
        header(&chain, "content-disposition"),
        "attachment; filename=\"api.example.com.chain.pem\""
    );
    assert_eq!(app.audit_count().await, before, "reads are not audited");
    let url = format!("sqlite://{}", app.dir.path().join("palisade.db").display());
    let certs = store::SqlStore::open(&url).await.expect("store");
    let stored = certs.certificate(&id).await.expect("read").expect("stored");
    assert_eq!(chain.body, stored.chain_pem);
    assert!(stored.chain_pem.starts_with(&stored.cert_pem), "leaf first");

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("chain.pem"), &chain.body).expect("write");
    std::fs::write(dir.path().join("leaf.pem"), &stored.cert_pem).expect("write");
    let fp = |f: &str| {
        openssl_out(
            dir.path(),
            &["x509", "-noout", "-fingerprint", "-sha256", "-in", f],
        )
    };
    assert_eq!(
        fp("chain.pem"),
        fp("leaf.pem"),
        "the chain starts with the leaf"
    );
    // The chain verifies: its leaf against the root it carries.
    let verified = openssl_out(dir.path(), &["verify", "-CAfile", "chain.pem", "chain.pem"]);
    assert!(verified.contains("OK"), "{verified}");

    // Without a passkey confirmation in this session: refused, audited.
    let mut fresh = app.sign_in(&mut soft, "alice").await;
    let r = ticket(&app, &fresh, &id).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("Confirm with your passkey first"),
        "{}",
        r.body
    );
    let e = app.last_event().await;
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str()),
        (KEY_ACTION, "denied")
    );

    // A step-up later: a link, which downloads the key once.
    assert_eq!(app.step_up(&mut soft, &mut fresh).await.status, 200);
    let r = ticket(&app, &fresh, &id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let link = r.json()["url"].as_str().expect("url").to_owned();
    assert!(
        link.starts_with(&format!("/download/cert-key/{id}?ticket=")),
        "{link}"
    );
    assert!(r.json()["expires_in_s"].as_u64().expect("ttl") <= 60);

    // The link is bound to the session that asked for it: another session of the same admin
    // (stepped up too) gets nothing, and spends it.
    let spent = ticket(&app, &fresh, &id).await.json()["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let r = app.get(&spent, Some(&cookie)).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(!r.body.contains("PRIVATE KEY"));
    assert_eq!(
        app.get(&spent, Some(&fresh)).await.status,
        404,
        "spent once"
    );

    let before = app.audit_count().await;
    let key = app.get(&link, Some(&fresh)).await;
    assert_eq!(key.status, 200, "{}", key.body);
    assert_eq!(header(&key, "content-type"), "application/x-pem-file");
    assert_eq!(header(&key, "cache-control"), "no-store");
    assert_eq!(
        header(&key, "content-disposition"),
        "attachment; filename=\"api.example.com.key.pem\""
    );
    assert!(
        key.body.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "PKCS #8: {}",
        &key.body[..30.min(key.body.len())]
    );
    assert_eq!(app.audit_count().await, before + 1, "one row per download");

    // The key belongs to the certificate: openssl derives the same public key from both.
    std::fs::write(dir.path().join("key.pem"), &key.body).expect("write");
    let from_key = openssl_out(dir.path(), &["pkey", "-in", "key.pem", "-pubout"]);
    let from_cert = openssl_out(
        dir.path(),
        &["x509", "-in", "leaf.pem", "-noout", "-pubkey"],
    );
    assert_eq!(from_key, from_cert);

    // Audited with the certificate, hostname and pin; the key is in no audit row.
    let e = app.last_event().await;
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str(), e.actor.as_str()),
        (KEY_ACTION, "success", "alice")
    );
    assert_eq!(e.target, format!("certificate:{id}"));
    let details: Value = serde_json::from_str(&e.details).expect("details");
    assert_eq!(details["hostname"], "api.example.com");
    assert_eq!(details["spki_pin"], cert["spki_pin"]);
    assert_eq!(details["certificate"], id.as_str());
    let body_lines: Vec<&str> = key
        .body
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!body_lines.is_empty());
    for e in events(&app).await {
        for line in &body_lines {
            assert!(
                !e.details.contains(line),
                "key material in audit row {}: {}",
                e.seq,
                e.action
            );
        }
        assert!(!e.details.contains("PRIVATE KEY"), "row {}", e.seq);
    }

    // Once per ticket: the same link again is refused, and that is audited too.
    let again = app.get(&link, Some(&fresh)).await;
    assert_eq!(again.status, 404, "{}", again.body);
    assert!(
        again.body.contains("already used or has expired"),
        "{}",
        again.body
    );
    assert!(!again.body.contains("PRIVATE KEY"));
    let e = app.last_event().await;
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str()),
        (KEY_ACTION, "failure")
    );
    let details: Value = serde_json::from_str(&e.details).expect("details");
    assert_eq!(details["spki_pin"], cert["spki_pin"], "{details}");

    // A ticket is for one certificate: used on another's path it is refused (and spent).
    let other = ticket(&app, &fresh, &id).await.json()["url"]
        .as_str()
        .expect("url")
        .replace(&id, "00000000-0000-0000-0000-000000000000");
    assert_eq!(app.get(&other, Some(&fresh)).await.status, 404);

    // Bad input: a clear 4xx each, audited, never a key.
    let no_ticket = app
        .get(&format!("/download/cert-key/{id}"), Some(&fresh))
        .await;
    assert_eq!(no_ticket.status, 400, "{}", no_ticket.body);
    assert!(
        no_ticket.body.contains("one-time link"),
        "{}",
        no_ticket.body
    );
    for bad in [
        format!("/download/cert-key/{id}?ticket=short"),
        format!("/download/cert-key/{id}?ticket={}", "A".repeat(43)),
        format!("/download/cert-key/{}?ticket=x", "x".repeat(5000)),
        format!("/download/cert-key/{id}?ticket=%00%ff"),
    ] {
        let r = app.get(&bad, Some(&fresh)).await;
        assert!((400..500).contains(&r.status), "{bad}: {}", r.status);
        assert!(!r.body.contains("PRIVATE KEY"));
    }
    let r = ticket(&app, &fresh, "no-such-certificate").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        app.get("/download/cert-chain/no-such-certificate", Some(&fresh))
            .await
            .status,
        404
    );

    // No key for a CA, nor for a certificate whose key the console does not hold, nor for a
    // superseded one: importing the chain without its key replaces the issued certificate.
    let ca_id = stored.issuer_id.clone().expect("issued by the CA");
    let r = ticket(&app, &fresh, &ca_id).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("never hands out a CA"), "{}", r.body);
    let imported = ok(
        &app,
        &fresh,
        "import_cert",
        &[
            ("hostname", "api.example.com"),
            ("chain_pem", &chain.body),
            ("key_pem", ""),
        ],
    )
    .await;
    let imported_id = imported["id"].as_str().expect("id");
    let view = listed(&app, &fresh, imported_id).await;
    assert!(
        view["key_unavailable"]
            .as_str()
            .is_some_and(|s| s.contains("does not hold")),
        "{view}"
    );
    let r = ticket(&app, &fresh, imported_id).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("does not hold"), "{}", r.body);
    let r = ticket(&app, &fresh, &id).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("superseded"), "{}", r.body);
    let e = app.last_event().await;
    assert_eq!(
        (e.action.as_str(), e.outcome.as_str()),
        (KEY_ACTION, "failure")
    );
}

#[tokio::test]
async fn operators_and_auditors_never_get_a_key_and_an_admin_does() {
    let app = TestApp::spawn().await;
    let owner = app.confirmed_owner("olivia").await;
    let cert = issued(&app, &owner).await;
    let id = cert["id"].as_str().expect("id").to_owned();
    let link = ticket(&app, &owner, &id).await.json()["url"]
        .as_str()
        .expect("url")
        .to_owned();

    for (role, name) in [("operator", "oscar"), ("auditor", "audrey")] {
        let (mut soft, mut cookie) = app.invite(&owner, role, name).await;
        assert_eq!(app.step_up(&mut soft, &mut cookie).await.status, 200);
        // They read the chain.
        let chain = app
            .get(&format!("/download/cert-chain/{id}"), Some(&cookie))
            .await;
        assert_eq!(chain.status, 200, "{role}: {}", chain.body);
        assert_eq!(listed(&app, &cookie, &id).await["id"], id.as_str());
        // Never a ticket, never the key, even with the owner's link: refused and audited.
        let r = ticket(&app, &cookie, &id).await;
        assert_eq!(r.status, 403, "{role}: {}", r.body);
        assert!(r.body.contains("certs:issue"), "{role}: {}", r.body);
        let e = app.last_event().await;
        assert_eq!(
            (e.action.as_str(), e.outcome.as_str(), e.actor.as_str()),
            (KEY_ACTION, "denied", name)
        );
        let r = app.get(&link, Some(&cookie)).await;
        assert_eq!(r.status, 403, "{role}: {}", r.body);
        assert!(!r.body.contains("PRIVATE KEY"));
        let e = app.last_event().await;
        assert_eq!(
            (e.action.as_str(), e.outcome.as_str(), e.actor.as_str()),
            (KEY_ACTION, "denied", name)
        );
    }
    // The owner's link was not spent by their attempts.
    assert_eq!(app.get(&link, Some(&owner)).await.status, 200);

    let (mut soft, mut admin) = app.invite(&owner, "admin", "adam").await;
    assert_eq!(
        ticket(&app, &admin, &id).await.status,
        403,
        "needs a step-up"
    );
    assert_eq!(app.step_up(&mut soft, &mut admin).await.status, 200);
    let link = ticket(&app, &admin, &id).await.json()["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let key = app.get(&link, Some(&admin)).await;
    assert_eq!(key.status, 200, "{}", key.body);
    assert!(key.body.starts_with("-----BEGIN PRIVATE KEY-----"));
    // Anonymous: never.
    assert_ne!(app.get(&link, None).await.status, 200);
}
