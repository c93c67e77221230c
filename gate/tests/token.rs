//! The gate's token endpoint (issue 12, item 1), against a gate started in-process and enrolled
//! (its secrets are sealed to its own `encryption.key`): each client authentication method
//! gets an RFC 9068 token that the gate's own bearer check accepts; wrong, expired, replayed or
//! doubled credentials get RFC 6749 §5.2 errors; failed authentications run out per client and
//! answer 429 before anything is verified; secrets sealed for another gate or bundle are
//! refused with the bundle; a third-party client library (Authlib) and JOSE library (PyJWT)
//! agree ([`python_oauth_client_gets_and_uses_tokens_with_each_method`]).

mod common;

use std::path::Path;

use argon2::password_hash::{PasswordHasher, SaltString};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use common::*;
use gate::Gate;
use jose::{Alg, Typ};
use policy::bundle::{Bundle, BundleClient, BundleSecret, SignedBundle};
use policy::jwk::JwkSet;
use policy::secrets::{GateSecrets, SecretSigningKey};
use serde_json::{json, Value};

const BASIC_SECRET: &str = "psc_basic-secret-for-tests";
const POST_SECRET: &str = "psc_post-secret-for-tests";
const GRACE_SECRET: &str = "psc_old-secret-in-grace";
const EXPIRED_SECRET: &str = "psc_old-secret-expired";

fn phc(secret: &str) -> String {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut salt);
    argon2::Argon2::default()
        .hash_password(
            secret.as_bytes(),
            &SaltString::encode_b64(&salt).expect("salt"),
        )
        .expect("hash")
        .to_string()
}

fn secret(id: &str, value: &str, expires_at_ms: Option<i64>) -> BundleSecret {
    BundleSecret {
        id: id.into(),
        phc: phc(value),
        expires_at_ms,
    }
}

fn client(
    id: &str,
    method: &str,
    secrets: Vec<BundleSecret>,
    jwks: Option<JwkSet>,
) -> BundleClient {
    BundleClient {
        client_id: id.into(),
        kind: "service".into(),
        enabled: true,
        policy_id: None,
        scopes: vec!["read".into(), "write".into()],
        auth_method: method.into(),
        grant_types: vec!["client_credentials".into()],
        token_lifetime_s: 600,
        secrets,
        jwks,
    }
}

/// The signing key of the token set, and the client key of `svc-jwt`.
struct Keys {
    signing: TokenKey,
    client: TokenKey,
}

fn token_bundle(version: u64, k: &Keys) -> Bundle {
    let now_ms = now_s() * 1000;
    let mut b = bundle(version, vec![k.signing.bundle_key("active")], vec![]);
    b.token_key_set = Some("main".into());
    b.clients.extend([
        client(
            "svc-basic",
            "client_secret_basic",
            vec![
                secret("sec-basic", BASIC_SECRET, None),
                secret("sec-grace", GRACE_SECRET, Some(now_ms + 3_600_000)),
                secret("sec-expired", EXPIRED_SECRET, Some(now_ms - 1_000)),
            ],
            None,
        ),
        client(
            "svc-post",
            "client_secret_post",
            vec![secret("sec-post", POST_SECRET, None)],
            None,
        ),
        client(
            "svc-jwt",
            "private_key_jwt",
            vec![],
            Some(JwkSet {
                keys: vec![k.client.jwk.clone()],
            }),
        ),
    ]);
    b
}

fn secrets_of(k: &Keys) -> GateSecrets {
    GateSecrets {
        signing_keys: vec![SecretSigningKey {
            key_set: "main".into(),
            kid: k.signing.kid(),
            alg: k.signing.alg.label().into(),
            pkcs8: URL_SAFE_NO_PAD.encode(&k.signing.pkcs8),
        }],
        certificates: vec![],
    }
}

async fn ready_gate(dir: &Path) -> (Gate, Keys) {
    ready_gate_with(dir, |_| {}).await
}

/// An enrolled gate (settings changed by `adjust`) running a token bundle with its signing
/// key delivered.
async fn ready_gate_with(dir: &Path, adjust: impl FnOnce(&mut gate::Settings)) -> (Gate, Keys) {
    let console = Console::new();
    let (gate, recipient) = enrolled_gate(dir, &console, adjust).await;
    let k = Keys {
        signing: TokenKey::new(Alg::EdDSA),
        client: TokenKey::new(Alg::ES256),
    };
    let (status, body) = push(
        &gate,
        deliver(
            &console,
            &token_bundle(1, &k),
            Some((&secrets_of(&k), GATE_ID, &recipient)),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (gate, k)
}

/// POSTs a token request; returns status, headers and JSON body.
async fn token_request(
    gate: &Gate,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = http()
        .post(format!("http://{}/oauth/token", gate.addr))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.expect("token request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.expect("json"))
}

const CC: (&str, &str) = ("grant_type", "client_credentials");

#[tokio::test]
async fn secrets_get_tokens_the_gate_accepts_and_bad_ones_get_rfc6749_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (gate, k) = ready_gate(dir.path()).await;

    // client_secret_basic: a token typed at+jwt, signed by the active key, for the client's
    // scopes, living the client's 600 s (under the set's 3,600 s cap).
    let (status, headers, body) =
        token_request(&gate, Some(("svc-basic", BASIC_SECRET)), &[CC]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "read write");
    let token = body["access_token"].as_str().expect("token");
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().expect("h"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["kid"], k.signing.kid());
    // The gate's own bearer check accepts it on a protected route.
    let (status, _, echo) = get(&gate, "/api/items", Some(token)).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["headers"]["x-palisade-client"], "svc-basic");

    // client_secret_post, with a narrower scope and an RFC 8707 resource.
    let (status, _, body) = token_request(
        &gate,
        None,
        &[
            CC,
            ("client_id", "svc-post"),
            ("client_secret", POST_SECRET),
            ("scope", "read"),
            ("resource", "other"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read");
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                body["access_token"]
                    .as_str()
                    .expect("t")
                    .split('.')
                    .nth(1)
                    .expect("c"),
            )
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(claims["aud"], "other");
    assert_eq!(claims["sub"], "svc-post");
    assert_eq!(claims["client_id"], "svc-post");
    assert_eq!(claims["iss"], ISSUER);

    // A secret in its grace period still works; one whose grace ended does not.
    let (status, _, _) = token_request(&gate, Some(("svc-basic", GRACE_SECRET)), &[CC]).await;
    assert_eq!(status, 200);
    let (status, headers, body) =
        token_request(&gate, Some(("svc-basic", EXPIRED_SECRET)), &[CC]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert!(headers["www-authenticate"]
        .to_str()
        .expect("ascii")
        .starts_with("Basic"));

    // The method must be the registered one: svc-post's secret over Basic is refused.
    let (status, _, body) = token_request(&gate, Some(("svc-post", POST_SECRET)), &[CC]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // RFC 6749 §5.2 errors for the request itself.
    type Form<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Form, u16, &str); 6] = [
        (&[("grant_type", "password")], 400, "unsupported_grant_type"),
        (&[], 400, "invalid_request"),
        (&[CC, ("scope", "admin")], 400, "invalid_scope"),
        (
            &[CC, ("resource", "https://elsewhere")],
            400,
            "invalid_target",
        ),
        (
            &[CC, ("scope", "read"), ("scope", "write")],
            400,
            "invalid_request",
        ),
        (
            &[
                CC,
                ("client_id", "svc-post"),
                ("client_secret", POST_SECRET),
            ],
            400,
            "invalid_request",
        ),
    ];
    for (form, want_status, want_error) in cases {
        let (status, _, body) = token_request(&gate, Some(("svc-basic", BASIC_SECRET)), form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (want_status, Some(want_error)),
            "{form:?}: {body}"
        );
    }
    // No client authentication at all.
    let (status, _, body) = token_request(&gate, None, &[CC, ("client_id", "svc-basic")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Not a form.
    let r = http()
        .post(format!("http://{}/oauth/token", gate.addr))
        .basic_auth("svc-basic", Some(BASIC_SECRET))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 400);

    // Metadata (RFC 8414) and the JWKS.
    let (status, _, meta) = get(&gate, "/.well-known/oauth-authorization-server", None).await;
    assert_eq!(status, 200);
    assert_eq!(meta["issuer"], ISSUER);
    assert_eq!(meta["token_endpoint"], format!("{ISSUER}/oauth/token"));
    assert_eq!(meta["grant_types_supported"], json!(["client_credentials"]));
    let (status, _, jwks) = get(&gate, "/.well-known/jwks.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"][0]["kid"], k.signing.kid());
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "no private member in the JWKS"
    );

    // What the gate reports to the console: each secret's last use, tokens per client.
    let usage = gate.shared.usage.take().expect("usage");
    assert_eq!(usage.tokens["svc-basic"], 2);
    assert_eq!(usage.tokens["svc-post"], 1);
    assert!(usage.secrets.contains_key("sec-basic") && usage.secrets.contains_key("sec-grace"));
    assert!(!usage.secrets.contains_key("sec-expired"));
    let m = metrics(&gate).await;
    assert!(m.contains("palisade_gate_tokens_issued_total 3"), "{m}");
    gate.stop().await;
}

#[tokio::test]
async fn failed_authentications_run_out_before_anything_is_verified() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (gate, _k) = ready_gate(dir.path()).await;
    for i in 0..10 {
        let (status, _, body) = token_request(&gate, Some(("svc-basic", "guess")), &[CC]).await;
        assert_eq!(status, 401, "guess {i}: {body}");
    }
    let (status, headers, body) = token_request(&gate, Some(("svc-basic", "guess")), &[CC]).await;
    assert_eq!(status, 429, "{body}");
    let retry: u64 = headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=6).contains(&retry), "{retry}");
    // While the budget is spent, even the right secret is not checked: a guesser learns nothing.
    let (status, _, _) = token_request(&gate, Some(("svc-basic", BASIC_SECRET)), &[CC]).await;
    assert_eq!(status, 429);
    // Another client is not affected by svc-basic's budget (the IP budget is 30).
    let (status, _, _) = token_request(
        &gate,
        None,
        &[
            CC,
            ("client_id", "svc-post"),
            ("client_secret", POST_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let m = metrics(&gate).await;
    assert!(
        m.contains("palisade_gate_token_refusals_total{error=\"invalid_client\"} 12"),
        "{m}"
    );
    gate.stop().await;
}

fn assertion(k: &Keys, aud: &str, jti: &str, lifetime_s: i64) -> String {
    let now = now_s();
    k.client.token_typed(
        Typ::Jwt,
        &json!({"iss": "svc-jwt", "sub": "svc-jwt", "aud": aud, "jti": jti, "iat": now, "exp": now + lifetime_s}),
    )
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[tokio::test]
async fn client_assertions_are_verified_and_used_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (gate, k) = ready_gate(dir.path()).await;
    let endpoint = format!("{ISSUER}/oauth/token");
    let send = |a: String| {
        let gate_addr = gate.addr;
        async move {
            let r = http()
                .post(format!("http://{gate_addr}/oauth/token"))
                .form(&[
                    CC,
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", &a),
                ])
                .send()
                .await
                .expect("request");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let first = assertion(&k, &endpoint, "a-1", 60);
    let (status, body) = send(first.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, echo) = get(&gate, "/api/items", body["access_token"].as_str()).await;
    assert_eq!(status, 200);
    assert_eq!(echo["headers"]["x-palisade-client"], "svc-jwt");
    // The same assertion again: replay.
    let (status, body) = send(first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // The issuer is an accepted audience too; another audience is not.
    assert_eq!(send(assertion(&k, ISSUER, "a-2", 60)).await.0, 200);
    assert_eq!(
        send(assertion(&k, "https://other.example/token", "a-3", 60))
            .await
            .0,
        401
    );
    // An assertion living longer than an hour is refused (it would outlive the memory).
    assert_eq!(send(assertion(&k, &endpoint, "a-4", 7_200)).await.0, 401);
    // Signed by a key the client did not register.
    let stranger = Keys {
        signing: TokenKey::new(Alg::EdDSA),
        client: TokenKey::new(Alg::ES256),
    };
    assert_eq!(
        send(assertion(&stranger, &endpoint, "a-5", 60)).await.0,
        401
    );
    // An access token is not an assertion, even one with the right claims.
    let at = k.client.token_typed(
        Typ::AccessToken,
        &json!({"iss": "svc-jwt", "sub": "svc-jwt", "aud": endpoint, "jti": "a-6", "exp": now_s() + 60}),
    );
    assert_eq!(send(at).await.0, 401);
    gate.stop().await;
}

#[tokio::test]
async fn secrets_for_another_gate_or_bundle_are_refused_and_missing_ones_only_stop_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let (gate, recipient) = enrolled_gate(dir.path(), &console, |_| {}).await;
    let k = Keys {
        signing: TokenKey::new(Alg::RS256),
        client: TokenKey::new(Alg::ES256),
    };
    let s = secrets_of(&k);
    // Sealed for another gate id: the whole bundle is refused, nothing applied.
    let (status, body) = push(
        &gate,
        deliver(
            &console,
            &token_bundle(1, &k),
            Some((&s, "gate-2", &recipient)),
        ),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .expect("reason")
            .contains("not this one"),
        "{body}"
    );
    // Sealed to another gate's key.
    let other =
        jose::sealed::GateKey::from_bytes(&*jose::sealed::GateKey::generate_bytes()).expect("key");
    let (status, _) = push(
        &gate,
        deliver(
            &console,
            &token_bundle(1, &k),
            Some((&s, GATE_ID, &other.public_b64())),
        ),
    )
    .await;
    assert_eq!(status, 422);
    // Secrets of version 1 travelling with version 2.
    let mut env: SignedBundle = serde_json::from_slice(&deliver(
        &console,
        &token_bundle(1, &k),
        Some((&s, GATE_ID, &recipient)),
    ))
    .expect("env");
    let mut v2: SignedBundle =
        jose::envelope::seal(&token_bundle(2, &k), &console.key).expect("seal");
    v2.secrets = env.secrets.take();
    let (status, _) = push(&gate, serde_json::to_vec(&v2).expect("json")).await;
    assert_eq!(status, 422);
    // No secrets: the bundle applies (limits, routes, tokens checks all work), the token
    // endpoint answers 503 temporarily_unavailable.
    let b1 = token_bundle(1, &k);
    let (status, _) = push(&gate, deliver(&console, &b1, None)).await;
    assert_eq!(status, 200);
    let (status, _, body) = token_request(&gate, Some(("svc-basic", BASIC_SECRET)), &[CC]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{body}"
    );
    // The same version again with its secrets: taken, and tokens are issued (RS256 here).
    let (status, body) = push(
        &gate,
        deliver(&console, &b1, Some((&s, GATE_ID, &recipient))),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = token_request(&gate, Some(("svc-basic", BASIC_SECRET)), &[CC]).await;
    assert_eq!(status, 200, "{body}");
    // The gate keeps the envelope with its sealed secrets as last-known-good: a restart issues
    // tokens at once, and the private key is nowhere in clear on disk.
    gate.stop().await;
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        assert!(
            !bytes
                .windows(k.signing.pkcs8.len())
                .any(|w| w == k.signing.pkcs8.as_slice()),
            "the signing key is in clear in the data directory"
        );
        let b64 = URL_SAFE_NO_PAD.encode(&k.signing.pkcs8);
        assert!(!String::from_utf8_lossy(&bytes).contains(&b64[..64]));
    }
    let up = upstream().await;
    let gate = Gate::start(settings(dir.path(), up, None))
        .await
        .expect("restarts");
    let (status, _, body) = token_request(&gate, Some(("svc-basic", BASIC_SECRET)), &[CC]).await;
    assert_eq!(status, 200, "{body}");
    gate.stop().await;
}

#[tokio::test]
async fn without_a_token_key_set_the_paths_are_ordinary_routes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let (gate, _) = enrolled_gate(dir.path(), &console, |_| {}).await;
    let k = Keys {
        signing: TokenKey::new(Alg::EdDSA),
        client: TokenKey::new(Alg::ES256),
    };
    let mut b = token_bundle(1, &k);
    b.token_key_set = None;
    assert_eq!(push(&gate, deliver(&console, &b, None)).await.0, 200);
    let (status, _, body) = token_request(&gate, Some(("svc-basic", BASIC_SECRET)), &[CC]).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("no_route")));
    gate.stop().await;
}

/// The Python virtualenv with Authlib, PyJWT and requests (`scripts/install-deps.sh`).
fn python() -> std::path::PathBuf {
    let venv = std::env::var_os("PALISADE_OAUTH_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/oauth-venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/install-deps.sh (it creates the test virtualenv with Authlib and PyJWT)",
        py.display()
    );
    py
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_oauth_client_gets_and_uses_tokens_with_each_method() {
    let py = python();
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let (gate, recipient) = enrolled_gate(dir.path(), &console, |_| {}).await;
    let k = Keys {
        signing: TokenKey::new(Alg::EdDSA),
        client: TokenKey::new(Alg::RS256),
    };
    let issuer = format!("http://{}", gate.addr);
    let mut b = token_bundle(1, &k);
    b.issuer = issuer.clone();
    assert_eq!(
        push(
            &gate,
            deliver(&console, &b, Some((&secrets_of(&k), GATE_ID, &recipient)))
        )
        .await
        .0,
        200
    );
    let pem_path = dir.path().join("client-key.pem");
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD
            .encode(&k.client.pkcs8)
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    std::fs::write(&pem_path, pem).expect("pem");
    let cfg = json!({
        "gate": issuer,
        "audience": AUDIENCE,
        "clients": [
            {"id": "svc-basic", "method": "client_secret_basic", "secret": BASIC_SECRET},
            {"id": "svc-post", "method": "client_secret_post", "secret": POST_SECRET},
            {"id": "svc-jwt", "method": "private_key_jwt", "key_pem": pem_path, "kid": k.client.kid(), "alg": "RS256"},
        ],
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/oauth_client.py");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&py)
            .arg(&script)
            .env("PALISADE_OAUTH_TEST", cfg.to_string())
            .env("NO_PROXY", "127.0.0.1")
            .output()
    })
    .await
    .expect("joined")
    .expect("python runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(report["metadata"]["issuer"], issuer);
    for (method, client) in [
        ("client_secret_basic", "svc-basic"),
        ("client_secret_post", "svc-post"),
        ("private_key_jwt", "svc-jwt"),
    ] {
        let r = &report["results"][method];
        assert_eq!(r["ok"], true, "{method}: {r}");
        assert_eq!(r["typ"], "at+jwt", "{method}");
        assert_eq!(r["kid"], k.signing.kid(), "{method}");
        assert_eq!(r["scope"], "read", "{method}");
        assert_eq!(r["claims"]["client_id"], client, "{method}");
        assert_eq!(r["claims"]["aud"], AUDIENCE, "{method}");
        assert_eq!(r["api_status"], 200, "{method}: {r}");
        assert_eq!(
            r["api_body"]["headers"]["x-palisade-client"], client,
            "{method}"
        );
    }
    let wrong = report["wrong_secret"].as_str().expect("text");
    assert!(wrong.contains("invalid_client"), "{wrong}");
    gate.stop().await;
}

#[tokio::test]
async fn a_gate_in_decision_mode_issues_tokens_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (gate, _k) = ready_gate_with(dir.path(), |s| {
        s.mode = gate::serve::Mode::Decision;
        s.upstream = String::new();
    })
    .await;
    let (status, _, body) = token_request(&gate, Some(("svc-basic", BASIC_SECRET)), &[CC]).await;
    assert_eq!(status, 200, "{body}");
    // The token it issued is admitted by the same gate's check endpoint (nginx auth_request).
    let r = http()
        .get(format!("http://{}/auth_request", gate.addr))
        .header("x-original-method", "GET")
        .header("x-original-uri", "/api/items")
        .bearer_auth(body["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("check");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-palisade-client"], "svc-basic");
    gate.stop().await;
}
