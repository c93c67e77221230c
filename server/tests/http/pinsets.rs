//! The pin sets' server fns through HTTP: an export is refused (server fn and download alike)
//! while the linter reports an error, and the pin tool agrees with openssl.

use std::process::Command;

use crate::certs::{ok, openssl};
use crate::support::TestApp;

#[tokio::test]
async fn export_is_refused_while_the_linter_fails() {
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
    let set = ok(&app, &cookie, "list_pinsets", &[]).await;
    let next = set[0]["pins"][1]["pin"]
        .as_str()
        .expect("next pin")
        .to_owned();
    // Removing the backup pin leaves one pin and no backup: export must be refused.
    ok(
        &app,
        &cookie,
        "remove_pin",
        &[
            ("hostname", "api.example.com"),
            ("pin", &next),
            ("version", "1"),
        ],
    )
    .await;
    let r = app
        .call(
            "export_pinset",
            &[("hostname", "api.example.com"), ("format", "ios")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Export refused"), "{}", r.body);
    // The download refuses it the same way (same error type, same status) as the server fn.
    let download = app
        .get("/download/pinsets/api.example.com/ios", Some(&cookie))
        .await;
    assert_eq!(download.status, 400, "{}", download.body);
    assert!(
        download.body.contains("Export refused"),
        "{}",
        download.body
    );
    // A stale version is a conflict, not a silent overwrite.
    let stale = app
        .call(
            "update_pinset",
            &[
                ("hostname", "api.example.com"),
                ("expires_on", "2027-06-01"),
                ("version", "1"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    // A placeholder offline pin is refused by the linter.
    ok(
        &app,
        &cookie,
        "add_pin",
        &[
            ("hostname", "api.example.com"),
            ("source", "offline"),
            ("pin", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
            ("label", "fake"),
            ("version", "2"),
        ],
    )
    .await;
    let set = ok(&app, &cookie, "list_pinsets", &[]).await;
    let codes: Vec<&str> = set[0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"placeholder_pin"), "{codes:?}");
    assert_eq!(set[0]["export_blocked"], true);
}

#[tokio::test]
async fn pin_tool_matches_openssl_and_refuses_garbage() {
    assert!(openssl(), "this test needs the openssl CLI");
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let o = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k.pem",
            "-out",
            "c.pem",
            "-days",
            "2",
            "-subj",
            "/CN=tool.example",
        ])
        .current_dir(dir.path())
        .output()
        .expect("openssl");
    assert!(o.status.success());
    let pipeline = "openssl x509 -in c.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64";
    let expected = Command::new("sh")
        .args(["-c", pipeline])
        .current_dir(dir.path())
        .output()
        .expect("sh");
    let expected = String::from_utf8_lossy(&expected.stdout).trim().to_owned();
    let pem = std::fs::read_to_string(dir.path().join("c.pem")).expect("read");
    let found = ok(&app, &cookie, "compute_pins", &[("input", &pem)]).await;
    assert_eq!(found[0]["pin"], expected.as_str());
    let bad = app
        .call(
            "compute_pins",
            &[(
                "input",
                "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
            )],
            Some(&cookie),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("pem.bad_base64"), "{}", bad.body);
    // The metadata address is refused before any connection.
    let probe = app
        .call(
            "probe_pins",
            &[("host_port", "169.254.169.254:80")],
            Some(&cookie),
        )
        .await;
    assert_eq!(probe.status, 400, "{}", probe.body);
    assert!(
        probe.body.contains("probe.refused_address"),
        "{}",
        probe.body
    );

    // The CLI prints the same line.
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("pin")
        .arg(dir.path().join("c.pem"))
        .output()
        .expect("runs");
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.starts_with(&format!("sha256/{expected}  ")), "{line}");
    assert!(line.contains("tool.example"), "{line}");
}

/// Issue 13, item 8: a signed-in admin cannot use the live probe to scan the console's own host
/// or networks (loopback, private, and their IPv6 transition forms are refused before any
/// connection, with the same answer whether a port is open or not), and probes are limited per
/// admin: the 11th in a minute is a 429, audited.
#[tokio::test]
async fn the_live_probe_cannot_scan_the_consoles_host_and_is_rate_limited() {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    // The console's own port (open) and port 1 (closed) give the same refusal.
    let port = app.port().to_string();
    let mut answers = Vec::new();
    for target in [format!("127.0.0.1:{port}"), "127.0.0.1:1".to_owned()] {
        let r = app
            .call("probe_pins", &[("host_port", &target)], Some(&cookie))
            .await;
        assert_eq!(r.status, 400, "{target}: {}", r.body);
        assert!(r.body.contains("probe.refused_address"), "{}", r.body);
        assert!(!r.body.contains("refused (os error"), "{}", r.body);
        answers.push(
            r.body
                .replace(&target, "T")
                .replace(&port, "P")
                .replace(":1", ":P"),
        );
    }
    assert_eq!(
        answers[0], answers[1],
        "an open and a closed port answer alike"
    );
    for target in [
        "10.0.0.5:443",
        "[2002:7f00:1::1]:443",
        "[64:ff9b:1:7f00:0:100::]:443",
    ] {
        let r = app
            .call("probe_pins", &[("host_port", target)], Some(&cookie))
            .await;
        assert_eq!(r.status, 400, "{target}: {}", r.body);
        assert!(
            r.body.contains("probe.refused_address"),
            "{target}: {}",
            r.body
        );
    }
    // 5 probes so far; the limit is 10 at once per admin.
    for i in 5..10 {
        let r = app
            .call(
                "probe_pins",
                &[("host_port", "10.0.0.5:443")],
                Some(&cookie),
            )
            .await;
        assert_eq!(r.status, 400, "probe {i}: {}", r.body);
    }
    let r = app
        .call(
            "probe_pins",
            &[("host_port", "10.0.0.5:443")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    let e = app.last_event().await;
    assert_eq!(
        (e.action.as_str(), e.outcome),
        ("certs.probe", domain::audit::Outcome::Denied)
    );
}
