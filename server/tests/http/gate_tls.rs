//! The console's side of HTTPS at the gates (issue 12, item 2): the admin names the hostname
//! whose current certificate gates serve; the bundle names that certificate (fingerprint and
//! pin); a gate with an encryption key receives its chain and private key sealed to it alone
//! (opened here with `jose::sealed::open`, as the gate does; the key's pin computed by the
//! `openssl` CLI is the certificate's); a rotation on the Certificates page makes a new version
//! that names, and delivers, the next key's certificate; a hostname gates cannot serve is
//! refused with the settings.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use policy::bundle::{Bundle, SignedBundle};
use sha2::{Digest, Sha256};

use crate::gate_tokens::{enrolled, new_gate_key, Gate};
use crate::support::TestApp;

async fn ok(app: &TestApp, cookie: &str, f: &str, args: &[(&str, &str)]) -> serde_json::Value {
    let r = app.call(f, args, Some(cookie)).await;
    assert_eq!(r.status, 200, "{f}: {}", r.body);
    r.json()
}

/// The base64 SHA-256 of the SubjectPublicKeyInfo of a PKCS #8 key, by the openssl CLI.
fn openssl_key_pin(pkcs8_der: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(["pkey", "-inform", "der", "-pubout", "-outform", "der"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl pkey");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(pkcs8_der)
        .expect("pipe");
    let out = child.wait_with_output().expect("openssl");
    assert!(out.status.success());
    base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        Sha256::digest(&out.stdout),
    )
}

/// Pulls until the bundle names a TLS certificate with pin `pin`; returns it with the opened
/// secrets.
async fn pull_serving(
    app: &TestApp,
    gate: &Gate,
    gate_key: &jose::sealed::GateKey,
    pin: &str,
) -> (Bundle, policy::secrets::GateSecrets) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = gate.call(app, "GET", "/gate-api/v1/bundle", b"").await;
        if r.status() == 200 {
            let signed: SignedBundle = r.json().await.expect("envelope");
            let (bundle, payload) =
                jose::envelope::open(&signed, &gate.console_key).expect("signed");
            if bundle
                .tls_certificate
                .as_ref()
                .is_some_and(|c| c.spki_pin == pin)
            {
                let hash = hex::encode(Sha256::digest(&payload));
                let sealed = signed.secrets.expect("secrets for this gate");
                let secrets = jose::sealed::open(
                    &sealed,
                    &gate.console_key,
                    gate_key,
                    &gate.id,
                    bundle.version,
                    &hash,
                )
                .expect("the gate opens them");
                return (bundle, secrets);
            }
        }
        assert!(Instant::now() < deadline, "no bundle serving pin {pin}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn save(
    app: &TestApp,
    cookie: &str,
    tls_hostname: &str,
    version: &str,
) -> crate::support::Reply {
    app.call(
        "save_gate_settings",
        &[
            ("issuer", &app.base),
            ("audiences", "api"),
            ("require_typ_at_jwt", "true"),
            ("routes", "prefix / * none"),
            ("token_key_set", ""),
            ("tls_hostname", tls_hostname),
            ("version", version),
        ],
        Some(cookie),
    )
    .await
}

#[tokio::test]
async fn gates_receive_the_current_certificate_sealed_and_a_rotation_reaches_them() {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    let ca = ok(
        &app,
        &cookie,
        "create_ca",
        &[
            ("common_name", "Test Root"),
            ("key_type", "ecdsa-p256"),
            ("validity_days", "3650"),
        ],
    )
    .await;
    let ca_id = ca["id"].as_str().expect("ca").to_owned();
    let cert = ok(
        &app,
        &cookie,
        "issue_cert",
        &[
            ("ca_id", &ca_id),
            ("hostname", "api.example.com"),
            ("extra_sans", ""),
            ("key_type", "ecdsa-p256"),
            ("validity_days", "90"),
        ],
    )
    .await;
    let current_pin = cert["spki_pin"].as_str().expect("pin").to_owned();
    let sets = ok(&app, &cookie, "list_pinsets", &[]).await;
    let next_pin = sets[0]["pins"][1]["pin"]
        .as_str()
        .expect("backup pin")
        .to_owned();

    let gate_key = new_gate_key();
    let gate = enrolled(&app, &cookie, "edge-1", Some(&gate_key.public_b64())).await;
    let plain = enrolled(&app, &cookie, "edge-old", None).await;

    // The choices are the hostnames with a servable certificate; an unknown one is refused.
    let settings = ok(&app, &cookie, "gate_settings", &[]).await;
    assert_eq!(
        settings["tls_hostnames"],
        serde_json::json!(["api.example.com"])
    );
    let r = save(&app, &cookie, "nowhere.example.com", "").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("nowhere.example.com"), "{}", r.body);
    let r = save(&app, &cookie, "api.example.com", "").await;
    assert_eq!(r.status, 200, "{}", r.body);

    let (bundle, secrets) = pull_serving(&app, &gate, &gate_key, &current_pin).await;
    let facts = bundle.tls_certificate.clone().expect("named");
    assert_eq!(facts.hostname, "api.example.com");
    assert_eq!(secrets.certificates.len(), 1);
    let c = &secrets.certificates[0];
    assert_eq!(c.names, vec!["api.example.com".to_string()]);
    let key = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &c.pkcs8)
        .expect("b64");
    assert_eq!(
        openssl_key_pin(&key),
        current_pin,
        "the delivered key is the certificate's"
    );
    assert!(
        c.chain_pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "{}",
        c.chain_pem
    );
    assert!(secrets.signing_keys.is_empty(), "no token key set chosen");
    // A gate without an encryption key gets the bundle without any secret.
    let r = plain.call(&app, "GET", "/gate-api/v1/bundle", b"").await;
    let signed: SignedBundle = r.json().await.expect("envelope");
    assert!(signed.secrets.is_none());

    // A rotation to the pre-shipped backup key: a new version names and delivers it.
    let rotated = ok(
        &app,
        &cookie,
        "rotate_cert",
        &[
            ("hostname", "api.example.com"),
            ("target", "next"),
            ("override_reason", ""),
        ],
    )
    .await;
    assert_eq!(rotated["spki_pin"], next_pin.as_str());
    let (after, secrets) = pull_serving(&app, &gate, &gate_key, &next_pin).await;
    assert!(after.version > bundle.version);
    let key = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &secrets.certificates[0].pkcs8,
    )
    .expect("b64");
    assert_eq!(openssl_key_pin(&key), next_pin);
    // The audit of the settings change names the hostname.
    let events: Vec<_> = app
        .store
        .recent_audit(200)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == "gates.settings" && e.outcome.as_str() == "success")
        .collect();
    assert!(events
        .iter()
        .any(|e| e.details.to_string().contains("api.example.com")));
}
