//! Issue #3 end to end through the server fns: CA → certificate with a next key → pin set →
//! exports recorded as releases → the planner keeps them green for the next key and blocks a
//! fresh key → rotation; CSR for an external CA checked by openssl; every step audited. The
//! pin sets' own server fns (exports, the pin tool) are tested in `pinsets.rs`.

use std::process::Command;

use crate::support::TestApp;
use serde_json::Value;

pub(crate) async fn ok(app: &TestApp, cookie: &str, f: &str, args: &[(&str, &str)]) -> Value {
    let r = app.call(f, args, Some(cookie)).await;
    assert_eq!(r.status, 200, "{f}: {}", r.body);
    r.json()
}

pub(crate) async fn actions(app: &TestApp) -> Vec<(String, String)> {
    app.store
        .recent_audit(1000)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| (e.action, e.outcome.as_str().to_owned()))
        .collect()
}

#[tokio::test]
async fn rotation_to_the_backup_key_keeps_releases_green_and_a_fresh_key_is_blocked() {
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
    let ca_id = ca["id"].as_str().expect("ca id").to_owned();
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
    assert_eq!(cert["sans"], serde_json::json!(["api.example.com"]));
    let current_pin = cert["spki_pin"].as_str().expect("pin").to_owned();

    let sets = ok(&app, &cookie, "list_pinsets", &[]).await;
    let set = &sets[0];
    assert_eq!(set["hostname"], "api.example.com");
    assert_eq!(set["version"], 1);
    assert_eq!(set["export_blocked"], false, "{set}");
    let pins: Vec<&Value> = set["pins"].as_array().expect("pins").iter().collect();
    assert_eq!(pins.len(), 2);
    assert_eq!(pins[0]["pin"], current_pin.as_str());
    assert_eq!(pins[0]["in_live_chain"], true);
    let next_pin = pins[1]["pin"].as_str().expect("next").to_owned();
    assert_eq!(pins[1]["role"], "next_key");
    assert_eq!(
        pins[1]["in_live_chain"], false,
        "the backup pin is not in the live chain"
    );

    let android = ok(
        &app,
        &cookie,
        "export_pinset",
        &[("hostname", "api.example.com"), ("format", "android")],
    )
    .await;
    let text = android["text"].as_str().expect("text");
    assert!(
        text.contains(&format!("<pin digest=\"SHA-256\">{current_pin}</pin>")),
        "{text}"
    );
    assert!(
        text.contains(&format!("<pin digest=\"SHA-256\">{next_pin}</pin>")),
        "{text}"
    );

    // The download carries exactly the same bytes.
    let dl = app
        .get("/download/pinsets/api.example.com/android", Some(&cookie))
        .await;
    assert_eq!(dl.status, 200);
    assert_eq!(dl.body, text);
    assert!(dl
        .headers
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .contains("network_security_config.xml"));

    for (platform, format, bundle) in [
        ("android", "android", "com.example.bank"),
        ("ios", "ios", "com.example.bank.ios"),
    ] {
        let e = ok(
            &app,
            &cookie,
            "export_for_release",
            &[
                ("hostname", "api.example.com"),
                ("format", format),
                ("app_name", "Example Bank"),
                ("platform", platform),
                ("bundle_id", bundle),
                ("version", "1.0.0"),
                ("released_on", "2026-11-28"),
            ],
        )
        .await;
        assert_eq!(e["pinset_version"], 1);
    }
    let releases = ok(&app, &cookie, "list_releases", &[]).await;
    assert_eq!(releases.as_array().map(Vec::len), Some(2));

    let plan = ok(
        &app,
        &cookie,
        "plan_rotation",
        &[("hostname", "api.example.com"), ("target", "next")],
    )
    .await;
    assert_eq!(plan["blocked"], false, "{plan}");
    assert_eq!(plan["new_pin"], next_pin.as_str());
    assert!(
        plan["verdicts"]
            .as_array()
            .expect("verdicts")
            .iter()
            .all(|v| v["ok"] == true),
        "{plan}"
    );

    let fresh = ok(
        &app,
        &cookie,
        "plan_rotation",
        &[("hostname", "api.example.com"), ("target", "fresh")],
    )
    .await;
    assert_eq!(fresh["blocked"], true, "{fresh}");
    assert!(
        fresh["verdicts"]
            .as_array()
            .expect("verdicts")
            .iter()
            .all(|v| v["ok"] == false),
        "{fresh}"
    );

    let refused = app
        .call(
            "rotate_cert",
            &[
                ("hostname", "api.example.com"),
                ("target", "fresh"),
                ("override_reason", ""),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("Example Bank 1.0.0"),
        "{}",
        refused.body
    );
    let short = app
        .call(
            "rotate_cert",
            &[
                ("hostname", "api.example.com"),
                ("target", "fresh"),
                ("override_reason", "because"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(
        short.status, 400,
        "an override needs a real reason: {}",
        short.body
    );

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
    assert_eq!(
        rotated["spki_pin"],
        next_pin.as_str(),
        "the new certificate carries the pre-shipped backup key"
    );

    let sets = ok(&app, &cookie, "list_pinsets", &[]).await;
    assert_eq!(sets[0]["version"], 2);
    assert_eq!(sets[0]["pins"][0]["pin"], next_pin.as_str());
    assert_ne!(
        sets[0]["pins"][1]["pin"],
        next_pin.as_str(),
        "a new next key was prepared"
    );
    // Both releases still match the live chain.
    let again = ok(
        &app,
        &cookie,
        "plan_rotation",
        &[("hostname", "api.example.com"), ("target", "next")],
    )
    .await;
    let overview = ok(&app, &cookie, "list_certs", &[]).await;
    assert_eq!(
        overview["hostnames"][0]["current"]["spki_pin"],
        next_pin.as_str()
    );
    assert!(again["verdicts"].as_array().map(Vec::len) == Some(2));

    let log = actions(&app).await;
    for action in [
        "certs.create_ca",
        "certs.issue",
        "pinsets.export_for_release",
        "certs.rotate",
    ] {
        assert!(
            log.iter().any(|(a, o)| a == action && o == "success"),
            "{action} audited: {log:?}"
        );
    }
    assert!(
        log.iter()
            .any(|(a, o)| a == "certs.rotate" && o == "denied"),
        "the blocked rotation is audited"
    );
    assert!(app
        .store
        .verify_audit(None)
        .await
        .expect("walk")
        .map_err(|e| e.seq())
        .is_ok());
}

pub(crate) fn openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A CA outside the console, made and run with the openssl CLI (an independent X.509
/// implementation): it verifies a CSR and signs it as a CA would.
pub(crate) struct ExternalCa {
    dir: tempfile::TempDir,
}

impl ExternalCa {
    pub(crate) fn new() -> ExternalCa {
        assert!(
            openssl(),
            "this test needs the openssl CLI (apt-get install openssl)"
        );
        let ca = ExternalCa {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        ca.run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=External CA",
        ]);
        ca
    }

    fn run(&self, args: &[&str]) {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn read(&self, f: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(f)).expect("read")
    }

    pub(crate) fn ca_pem(&self) -> String {
        self.read("ca.pem")
    }

    /// Checks the CSR's signature (`openssl req -verify`) and signs it for `hostname`, 30 days;
    /// the leaf certificate, PEM.
    pub(crate) fn sign(&self, csr_pem: &str, hostname: &str) -> String {
        std::fs::write(self.dir.path().join("req.pem"), csr_pem).expect("write");
        self.run(&["req", "-verify", "-noout", "-in", "req.pem"]);
        self.sign_file("req.pem", hostname)
    }

    /// A certificate for `hostname` on a key of its own, not the console's.
    pub(crate) fn sign_another_key(&self, hostname: &str) -> String {
        self.run(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other.csr",
            "-subj",
            &format!("/CN={hostname}"),
        ]);
        self.sign_file("other.csr", hostname)
    }

    fn sign_file(&self, csr: &str, hostname: &str) -> String {
        std::fs::write(
            self.dir.path().join("ext.cnf"),
            format!("subjectAltName=DNS:{hostname}\nbasicConstraints=CA:FALSE\n"),
        )
        .expect("write");
        self.run(&[
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
        ]);
        self.read("leaf.pem")
    }
}

#[tokio::test]
async fn csr_is_accepted_by_openssl_and_only_a_cert_for_its_key_is_accepted() {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    let csr = ok(
        &app,
        &cookie,
        "create_csr",
        &[("hostname", "ext.example.com")],
    )
    .await;
    let ext = ExternalCa::new();
    let leaf = ext.sign(csr["csr_pem"].as_str().expect("pem"), "ext.example.com");
    let other = ext.sign_another_key("ext.example.com");
    let csr_id = csr["id"].as_str().expect("id");

    let wrong = app
        .call(
            "upload_signed_cert",
            &[("csr_id", csr_id), ("chain_pem", &(other + &ext.ca_pem()))],
            Some(&cookie),
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(wrong.body.contains("key.mismatch"), "{}", wrong.body);

    let good = ok(
        &app,
        &cookie,
        "upload_signed_cert",
        &[("csr_id", csr_id), ("chain_pem", &(leaf + &ext.ca_pem()))],
    )
    .await;
    assert_eq!(good["spki_pin"], csr["pin"]);
    let overview = ok(&app, &cookie, "list_certs", &[]).await;
    assert_eq!(overview["hostnames"][0]["current"]["spki_pin"], csr["pin"]);
    assert!(overview["csrs"][0]["fulfilled"] == true);
}

#[tokio::test]
async fn an_owner_can_override_a_blocked_rotation_with_a_reason_and_the_dashboard_lists_expiries() {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    let ca = ok(
        &app,
        &cookie,
        "create_ca",
        &[
            ("common_name", "Root"),
            ("key_type", "ed25519"),
            ("validity_days", "365"),
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
            ("extra_sans", "192.0.2.10"),
            ("key_type", "ed25519"),
            ("validity_days", "20"),
        ],
    )
    .await;
    ok(
        &app,
        &cookie,
        "export_for_release",
        &[
            ("hostname", "api.example.com"),
            ("format", "okhttp"),
            ("app_name", "Bank"),
            ("platform", "android"),
            ("bundle_id", "com.example.bank"),
            ("version", "2.0"),
            ("released_on", "2026-11-01"),
        ],
    )
    .await;
    let reason = "Key compromise: incident 4711, releases forced to update";
    let rotated = ok(
        &app,
        &cookie,
        "rotate_cert",
        &[
            ("hostname", "api.example.com"),
            ("target", "fresh"),
            ("override_reason", reason),
        ],
    )
    .await;
    assert_eq!(rotated["key_type"], "Ed25519");
    let e = app.last_event().await;
    assert_eq!(
        (e.action.as_str(), e.outcome),
        ("certs.rotate", domain::audit::Outcome::Success)
    );
    assert!(
        e.details.contains(reason),
        "the override reason is audited: {}",
        e.details
    );
    assert!(
        e.details.contains("Bank 2.0"),
        "the broken release is named: {}",
        e.details
    );

    ok(
        &app,
        &cookie,
        "issue_cert",
        &[
            ("ca_id", ca["id"].as_str().expect("id")),
            ("hostname", "short.example.com"),
            ("extra_sans", ""),
            ("key_type", "ecdsa-p256"),
            ("validity_days", "10"),
        ],
    )
    .await;
    // An event whose actor and target are markup (audit fields hold text anyone can send).
    let markup = "<img src=x onerror=alert(1)>";
    let actor = domain::audit::Actor {
        name: markup.into(),
        ip: None,
        user_agent: None,
    };
    app.store
        .record(domain::audit::AuditDraft::new(
            &actor,
            "test.markup",
            markup,
            domain::audit::Outcome::Denied,
        ))
        .await
        .expect("recorded");
    // The dashboard's cards, rendered by the server as one HTML fragment.
    let html = ok(&app, &cookie, "dashboard", &[]).await;
    // (`<!>`: the renderer's empty comments between text nodes.)
    let html = html.as_str().expect("HTML").replace("<!>", "");
    assert!(html.contains("<strong>alice</strong>"), "{html}");
    assert!(html.contains(">No gate yet.</p>"), "{html}");
    // The newest events first: the last one recorded heads the list, eight in all.
    let last = app.last_event().await;
    let recent: Vec<&str> = html.split("<li class=\"outcome-").skip(1).collect();
    assert!(recent[0].starts_with("denied"), "{html}");
    assert!(
        !html.contains("<img") && html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "markup in an event is escaped: {html}"
    );
    assert_eq!(recent.len(), 8, "{html}");
    assert!(recent[0].contains(&last.action), "{html}");
    // The inventory's table, soonest first: (level, cells) per row.
    let rows: Vec<(&str, Vec<String>)> = html
        .split("<tr class=\"level-")
        .skip(1)
        .map(|row| {
            let row = &row[..row.find("</tr>").expect("row end")];
            let (level, rest) = row.split_once('"').expect("level");
            (level, text_cells(rest))
        })
        .collect();
    let days: Vec<i64> = rows
        .iter()
        .map(|(_, c)| c[3].parse().expect("days left"))
        .collect();
    assert!(
        days.windows(2).all(|w| w[0] <= w[1]),
        "soonest first: {days:?}"
    );
    assert!(rows.iter().any(|(_, c)| c[0] == "pin set"), "{rows:?}");
    assert_eq!(rows[0].1[0], "certificate", "{rows:?}");
    assert!(rows[0].1[1].starts_with("short.example.com"), "{rows:?}");
    assert_eq!(
        rows[0].0, "14",
        "10 days left is in the 14-day tier: {rows:?}"
    );
    assert_eq!(rows[0].1[4], "within 14 days", "{rows:?}");
    assert_eq!(
        rows.iter().filter(|(level, _)| *level != "ok").count(),
        1,
        "{rows:?}"
    );
}

/// The text of each `<td>` cell of a table row's HTML, tags and comments removed.
fn text_cells(row: &str) -> Vec<String> {
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let cell = &cell[cell.find('>').expect("cell start") + 1..];
            let cell = &cell[..cell.find("</td>").expect("cell end")];
            let mut text = String::new();
            let mut in_tag = false;
            for ch in cell.chars() {
                match ch {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text
        })
        .collect()
}

#[tokio::test]
async fn certificates_from_an_intermediate_carry_the_whole_chain_and_its_ca_pin_can_be_added() {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    let root = ok(
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
    let int = ok(
        &app,
        &cookie,
        "create_intermediate_ca",
        &[
            ("parent_id", root["id"].as_str().expect("id")),
            ("common_name", "Issuing"),
            ("key_type", "ecdsa-p256"),
            ("validity_days", ""),
        ],
    )
    .await;
    assert_eq!(int["kind"], "intermediate_ca");
    assert_eq!(int["issuer"], "CN=Root");
    ok(
        &app,
        &cookie,
        "issue_cert",
        &[
            ("ca_id", int["id"].as_str().expect("id")),
            ("hostname", "api.example.com"),
            ("extra_sans", ""),
            ("key_type", "ecdsa-p256"),
            ("validity_days", ""),
        ],
    )
    .await;
    let set = ok(
        &app,
        &cookie,
        "add_pin",
        &[
            ("hostname", "api.example.com"),
            ("source", "ca"),
            ("pin", ""),
            ("label", ""),
            ("version", "1"),
        ],
    )
    .await;
    let ca_pin = &set["pins"][2];
    assert_eq!(ca_pin["role"], "intermediate");
    assert_eq!(ca_pin["pin"], int["spki_pin"]);
    assert_eq!(
        ca_pin["in_live_chain"], true,
        "the intermediate is in the served chain: {set}"
    );
    let ios = ok(
        &app,
        &cookie,
        "export_pinset",
        &[("hostname", "api.example.com"), ("format", "ios")],
    )
    .await;
    assert!(
        ios["text"]
            .as_str()
            .unwrap_or("")
            .contains("NSPinnedCAIdentities"),
        "{ios}"
    );
}
