//! The REST API's reads and certificate writes through HTTP: each area answers what its page
//! shows, only to a token with the area's scope (a refusal is a 403 problem, audited as
//! denied); every read is audited under the token; a CI job gets a CSR for a hostname's next
//! key, has an external CA (openssl) sign it, and uploads the certificate, which becomes the
//! hostname's current one.

use serde_json::{json, Value};

use crate::api_tokens::{api, console_with_a_pinset, create_token, is_problem};
use crate::certs::{ok, ExternalCa};
use crate::support::TestApp;

/// Every scope but `except`, space-separated.
fn all_scopes_but(except: &str) -> String {
    [
        "pinsets:read",
        "releases:write",
        "audit:read",
        "clients:read",
        "keys:read",
        "certs:read",
        "certs:write",
        "policies:read",
        "gates:read",
    ]
    .into_iter()
    .filter(|s| *s != except)
    .collect::<Vec<_>>()
    .join(" ")
}

/// The page's answer for `server_fn`, with the instants that differ between two reads removed.
async fn page(app: &TestApp, cookie: &str, server_fn: &str) -> Value {
    let mut v = ok(app, cookie, server_fn, &[]).await;
    without_now(&mut v);
    v
}

fn without_now(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("now_ms");
            m.values_mut().for_each(without_now);
        }
        Value::Array(a) => a.iter_mut().for_each(without_now),
        _ => {}
    }
}

#[tokio::test]
async fn each_area_reads_as_its_page_shows_it_to_its_scope_only_and_every_read_is_audited() {
    let (app, cookie) = console_with_a_pinset().await;
    // Something in every area: a client bound to a policy, a key set, a release (below).
    let spec = json!({
        "id": "", "name": "per-client", "enabled": true, "order": 0,
        "matcher": { "path": { "prefix": "/" }, "methods": [], "client_ids": [], "ip_ranges": [], "header": null },
        "key": "client", "limit": { "rate": 5, "per": "second", "burst": 2 },
        "scope": "cluster", "action": "reject", "mode": "shadow"
    });
    let policy = ok(
        &app,
        &cookie,
        "save_policy",
        &[("spec_json", &spec.to_string()), ("version", "")],
    )
    .await;
    let mut client = crate::clients::draft("service", "Orders backend");
    client["policy_id"] = policy["policy"]["id"].clone();
    let saved = crate::clients::save(&app, &cookie, "", "", &client).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let secret = saved.json()["secret"]
        .as_str()
        .expect("a confidential client's first secret")
        .to_owned();
    crate::keys::create(&app, &cookie, "access-tokens", "EdDSA").await;

    let (info, all) = create_token(&app, &cookie, "everything", &all_scopes_but("nothing")).await;
    let id = info["id"].as_str().expect("id").to_owned();
    let release = api(
        &app,
        "POST",
        "/api/v1/releases",
        Some(&all),
        Some(json!({"hostname": "api.example.com", "format": "ios", "app": "com.example.bank", "version": "5.1.0"})),
    )
    .await;
    assert_eq!(release.status, 201, "{}", release.body);

    // (path, scope, the page's server fn, the part of the API's answer the page's answer is)
    let reads: [(&str, &str, &str, Option<&str>); 7] = [
        (
            "/api/v1/pinsets",
            "pinsets:read",
            "list_pinsets",
            Some("pinsets"),
        ),
        (
            "/api/v1/releases",
            "pinsets:read",
            "list_releases",
            Some("releases"),
        ),
        (
            "/api/v1/clients",
            "clients:read",
            "list_clients",
            Some("clients"),
        ),
        (
            "/api/v1/keysets",
            "keys:read",
            "list_key_sets",
            Some("key_sets"),
        ),
        ("/api/v1/certificates", "certs:read", "list_certs", None),
        ("/api/v1/policies", "policies:read", "list_policies", None),
        ("/api/v1/gates", "gates:read", "list_gates", None),
    ];
    for (path, scope, server_fn, part) in reads {
        let r = api(&app, "GET", path, Some(&all), None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.headers["content-type"], "application/json", "{path}");
        let mut answer = r.json();
        without_now(&mut answer);
        let shown = page(&app, &cookie, server_fn).await;
        let expected = match part {
            // A client list page also lists the policies to bind to; the API, the clients.
            Some("clients") => shown["clients"].clone(),
            Some(_) => shown,
            None => shown,
        };
        let got = part.map_or(answer.clone(), |p| answer[p].clone());
        assert_eq!(got, expected, "{path} answers what the page shows");
        assert!(
            got.to_string().len() > 20 && got != json!([]),
            "{path}: the console has something here: {got}"
        );

        // Without the scope: 403, a problem, nothing of the area in it.
        let (_, lacking) = create_token(&app, &cookie, "lacking", &all_scopes_but(scope)).await;
        let refused = api(&app, "GET", path, Some(&lacking), None).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
        assert!(is_problem(&refused), "{path}: {}", refused.body);
        assert!(refused.json()["detail"]
            .as_str()
            .expect("detail")
            .contains(scope));
    }
    assert!(
        !app.get("/api/v1/clients", None)
            .await
            .body
            .contains(&secret)
            && !api(&app, "GET", "/api/v1/clients", Some(&all), None)
                .await
                .body
                .contains(&secret),
        "a client secret is never read back"
    );

    // One pin set, one client (by its OAuth client_id), one key set's JWKS.
    let one = api(
        &app,
        "GET",
        "/api/v1/pinsets/API.example.com",
        Some(&all),
        None,
    )
    .await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.json()["hostname"], "api.example.com");
    let missing = api(
        &app,
        "GET",
        "/api/v1/pinsets/nope.example.com",
        Some(&all),
        None,
    )
    .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(is_problem(&missing));
    let bad = api(
        &app,
        "GET",
        "/api/v1/pinsets/not%20a%20host",
        Some(&all),
        None,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let listed = page(&app, &cookie, "list_clients").await;
    let client_id = listed["clients"][0]["client_id"]
        .as_str()
        .expect("client_id");
    let c = api(
        &app,
        "GET",
        &format!("/api/v1/clients/{client_id}"),
        Some(&all),
        None,
    )
    .await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.json()["name"], "Orders backend");
    assert_eq!(c.json()["policy_name"], "per-client");
    assert_eq!(
        api(&app, "GET", "/api/v1/clients/nobody", Some(&all), None)
            .await
            .status,
        404
    );
    let jwks = api(
        &app,
        "GET",
        "/api/v1/keysets/access-tokens/jwks",
        Some(&all),
        None,
    )
    .await;
    assert_eq!(jwks.status, 200, "{}", jwks.body);
    assert_eq!(jwks.headers["content-type"], "application/jwk-set+json");
    let download = app.get("/download/jwks/access-tokens", Some(&cookie)).await;
    assert_eq!(jwks.json(), download.json(), "the JWKS the page downloads");
    assert_eq!(jwks.json()["keys"][0]["kty"], "OKP");
    assert!(
        jwks.json()["keys"][0].get("d").is_none(),
        "public keys only"
    );

    // Every read is in the log under the token; the refusals under their tokens, as denied.
    let log = api(
        &app,
        "GET",
        &format!("/api/v1/audit?actor=token%3A{id}&action=api.&limit=1000"),
        Some(&all),
        None,
    )
    .await
    .json();
    let events = log["events"].as_array().expect("events");
    for action in [
        "api.pinsets.read",
        "api.releases.read",
        "api.clients.read",
        "api.keys.read",
        "api.certs.read",
        "api.policies.read",
        "api.gates.read",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["action"] == action && e["outcome"] == "success"),
            "{action} audited: {log}"
        );
    }
    let denied = api(
        &app,
        "GET",
        "/api/v1/audit?action=api.&outcome=denied&limit=1000",
        Some(&all),
        None,
    )
    .await
    .json();
    assert_eq!(
        denied["events"].as_array().map(Vec::len),
        Some(7),
        "one denied read per area: {denied}"
    );
    assert!(
        !log.to_string().contains(&secret),
        "no secret in the audit log"
    );
}

#[tokio::test]
async fn a_ci_job_gets_a_csr_signed_by_an_external_ca_and_uploads_the_certificate() {
    let (app, cookie) = console_with_a_pinset().await;
    let (info, ci) = create_token(&app, &cookie, "cert pipeline", "certs:read certs:write").await;
    let (_, reader) = create_token(&app, &cookie, "reader", "certs:read").await;
    let before = api(&app, "GET", "/api/v1/certificates", Some(&ci), None)
        .await
        .json();
    let current = |v: &Value| {
        v["hostnames"]
            .as_array()
            .expect("hostnames")
            .iter()
            .find(|h| h["hostname"] == "api.example.com")
            .expect("the hostname")["current"]
            .clone()
    };
    let next_pin = before["hostnames"][0]["next_pin"].clone();

    // A certs:read token cannot ask for a CSR.
    let refused = api(
        &app,
        "POST",
        "/api/v1/csrs",
        Some(&reader),
        Some(json!({"hostname": "api.example.com"})),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(is_problem(&refused));

    // Bad bodies are problems, and nothing is created.
    for body in [
        json!({}),
        json!({"hostname": "api.example.com", "extra": 1}),
        json!({"hostname": "not a host"}),
    ] {
        let r = api(&app, "POST", "/api/v1/csrs", Some(&ci), Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(is_problem(&r), "{}", r.body);
    }
    let r = app
        .client
        .post(format!("{}/api/v1/csrs", app.base))
        .bearer_auth(&ci)
        .body("hostname=api.example.com")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400, "a form body is refused");
    assert_eq!(
        api(&app, "GET", "/api/v1/certificates", Some(&ci), None)
            .await
            .json()["csrs"],
        json!([])
    );

    let csr = api(
        &app,
        "POST",
        "/api/v1/csrs",
        Some(&ci),
        Some(json!({"hostname": "api.example.com"})),
    )
    .await;
    assert_eq!(csr.status, 201, "{}", csr.body);
    let csr = csr.json();
    assert_eq!(
        csr["pin"], next_pin,
        "the CSR carries the next key, whose pin apps ship"
    );
    let csr_id = csr["id"].as_str().expect("id");

    let ext = ExternalCa::new();
    let leaf = ext.sign(csr["csr_pem"].as_str().expect("pem"), "api.example.com");
    let upload = |chain: String| {
        let app = &app;
        let ci = ci.clone();
        async move {
            api(
                app,
                "POST",
                &format!("/api/v1/csrs/{csr_id}/certificate"),
                Some(&ci),
                Some(json!({ "chain_pem": chain })),
            )
            .await
        }
    };
    // A certificate for another key, and garbage, are refused; the current certificate stays.
    let wrong = upload(ext.sign_another_key("api.example.com") + &ext.ca_pem()).await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(is_problem(&wrong));
    let garbage =
        upload("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into()).await;
    assert_eq!(garbage.status, 400, "{}", garbage.body);
    let reader_upload = api(
        &app,
        "POST",
        &format!("/api/v1/csrs/{csr_id}/certificate"),
        Some(&reader),
        Some(json!({ "chain_pem": leaf.clone() })),
    )
    .await;
    assert_eq!(reader_upload.status, 403, "{}", reader_upload.body);
    let unchanged = api(&app, "GET", "/api/v1/certificates", Some(&ci), None)
        .await
        .json();
    assert_eq!(current(&unchanged), current(&before));

    let accepted = upload(leaf.clone() + &ext.ca_pem()).await;
    assert_eq!(accepted.status, 201, "{}", accepted.body);
    let cert = accepted.json();
    assert_eq!(cert["spki_pin"], next_pin);
    assert_eq!(cert["issuer"], "CN=External CA");
    let after = api(&app, "GET", "/api/v1/certificates", Some(&ci), None)
        .await
        .json();
    assert_eq!(
        current(&after)["id"],
        cert["id"],
        "the hostname's current certificate"
    );
    assert_eq!(after["csrs"][0]["fulfilled"], true);
    let again = upload(leaf + &ext.ca_pem()).await;
    assert!(
        again.status == 409 || again.status == 400,
        "a fulfilled CSR takes no second certificate: {} {}",
        again.status,
        again.body
    );

    // The changes are the console's own events, the token their actor.
    let id = info["id"].as_str().expect("id");
    let events = app.store.recent_audit(1000).await.expect("audit");
    for action in ["certs.create_csr", "certs.accept_signed"] {
        assert!(
            events.iter().any(|e| e.action == action
                && e.actor == format!("token:{id}")
                && e.outcome.as_str() == "success"),
            "{action} by the token"
        );
    }
}
