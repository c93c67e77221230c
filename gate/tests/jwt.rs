//! Bearer tokens at the gate (QUALITY.md "gate JWT"): the forged-token set is refused with 401
//! and `WWW-Authenticate: Bearer error="invalid_token"`, tokens of every signing key (active,
//! retired; EdDSA, ES256, RS256) pass, a `next` key's tokens do not, scopes are enforced (403),
//! spoofed `X-Palisade-*` headers never reach the upstream, and the tokens `jose` signs verify
//! with an independent JOSE library (`jsonwebtoken`).

mod common;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use common::*;
use jose::{Alg, Typ};
use serde_json::{json, Value};

struct Keys {
    active: TokenKey,
    retired: TokenKey,
    rsa: TokenKey,
    next: TokenKey,
}

fn keys() -> Keys {
    Keys {
        active: TokenKey::new(Alg::EdDSA),
        retired: TokenKey::new(Alg::ES256),
        rsa: TokenKey::new(Alg::RS256),
        next: TokenKey::new(Alg::EdDSA),
    }
}

fn published(k: &Keys) -> Vec<policy::bundle::BundleKey> {
    vec![
        k.active.bundle_key("active"),
        k.retired.bundle_key("retired"),
        k.rsa.bundle_key("retired"),
        k.next.bundle_key("next"),
    ]
}

fn with(key: &str, v: Value) -> Value {
    let mut c = claims();
    c[key] = v;
    c
}

#[tokio::test]
async fn forged_tokens_get_401_and_real_ones_200() {
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let gate = start(dir.path(), up, &console).await;
    let k = keys();
    let (status, _) = push(&gate, console.sign(&bundle(1, published(&k), vec![]))).await;
    assert_eq!(status, 200);

    // Every signing key passes: active and retired, every algorithm.
    for key in [&k.active, &k.retired, &k.rsa] {
        let (status, _, body) = get(&gate, "/api/items", Some(&key.token(&claims()))).await;
        assert_eq!(status, 200, "{:?}: {body}", key.alg);
        assert_eq!(body["headers"]["x-palisade-client"], "app-1");
        assert_eq!(body["headers"]["x-palisade-subject"], "user-1");
    }

    let kid = k.active.kid();
    let now = now_s();
    let removed = TokenKey::new(Alg::EdDSA);
    let hs256 = {
        use ring::hmac;
        let header =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#));
        let body = URL_SAFE_NO_PAD.encode(claims().to_string());
        let input = format!("{header}.{body}");
        let secret = serde_json::to_vec(&k.active.jwk).expect("jwk");
        let mac = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    };
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}"}}"#)),
        URL_SAFE_NO_PAD.encode(claims().to_string())
    );
    let embedded_jwk = serde_json::to_string(&removed.jwk).expect("jwk");
    let forged: Vec<(&str, String)> = vec![
        ("alg none", none),
        ("HS256 keyed with the public key", hs256),
        (
            "unknown kid",
            removed.raw(
                &format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{}"}}"#, "nope"),
                &claims(),
            ),
        ),
        (
            "kid with a path payload",
            k.active.raw(
                r#"{"alg":"EdDSA","typ":"at+jwt","kid":"../../../../etc/passwd"}"#,
                &claims(),
            ),
        ),
        (
            "kid with SQL",
            k.active.raw(
                r#"{"alg":"EdDSA","typ":"at+jwt","kid":"x' OR '1'='1"}"#,
                &claims(),
            ),
        ),
        (
            "jku header",
            k.active.raw(
                &format!(
                    r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}","jku":"http://evil/jwks"}}"#
                ),
                &claims(),
            ),
        ),
        (
            "x5u header",
            k.active.raw(
                &format!(
                    r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}","x5u":"http://evil/cert"}}"#
                ),
                &claims(),
            ),
        ),
        (
            "embedded jwk header",
            removed.raw(
                &format!(
                    r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{}","jwk":{embedded_jwk}}}"#,
                    removed.kid()
                ),
                &claims(),
            ),
        ),
        (
            "expired beyond leeway",
            k.active.token(&with("exp", json!(now - 31))),
        ),
        (
            "not yet valid beyond leeway",
            k.active.token(&with("nbf", json!(now + 60))),
        ),
        (
            "issued in the future",
            k.active.token(&with("iat", json!(now + 60))),
        ),
        (
            "wrong iss",
            k.active.token(&with("iss", json!("https://evil.test"))),
        ),
        (
            "wrong aud",
            k.active.token(&with("aud", json!("someone-else"))),
        ),
        ("no exp", {
            let mut c = claims();
            c.as_object_mut().expect("obj").remove("exp");
            k.active.token(&c)
        }),
        (
            "typ JWT where at+jwt is required",
            k.active.token_typed(Typ::Jwt, &claims()),
        ),
        ("key no longer in the bundle", removed.token(&claims())),
        (
            "key published as next (does not sign yet)",
            k.next.token(&claims()),
        ),
        (
            "disabled client",
            k.active.token(&with("client_id", json!("app-off"))),
        ),
        (
            "unregistered client",
            k.active.token(&with("client_id", json!("app-x"))),
        ),
        (
            "alg of another key type",
            k.active.raw(
                &format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{kid}"}}"#),
                &claims(),
            ),
        ),
        (
            "deeply nested claims",
            k.active.raw(
                &format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}"}}"#),
                &serde_json::from_str::<Value>(&format!(
                    "{{\"a\":{}{}}}",
                    "[".repeat(100),
                    "]".repeat(100)
                ))
                .expect("json"),
            ),
        ),
        ("tampered claims", {
            let t = k.active.token(&claims());
            let p: Vec<&str> = t.split('.').collect();
            format!(
                "{}.{}.{}",
                p[0],
                URL_SAFE_NO_PAD.encode(with("scope", json!("read write admin")).to_string()),
                p[2]
            )
        }),
        (
            "1 MB token",
            format!("{}.{}.{}", "a".repeat(10), "b".repeat(1024 * 1024), "c"),
        ),
    ];
    for (what, token) in &forged {
        let (status, headers, body) = get(&gate, "/api/items", Some(token)).await;
        assert_eq!(status, 401, "{what}: {body}");
        let challenge = headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer realm=\"palisade\", error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        assert_eq!(body["error"], "invalid_token", "{what}");
    }
    // Within the leeway: still accepted.
    let (status, _, _) = get(
        &gate,
        "/api/items",
        Some(&k.active.token(&with("exp", json!(now - 5)))),
    )
    .await;
    assert_eq!(status, 200);
    // No token: 401 without an error code (RFC 6750 §3.1); not a Bearer token: 400.
    let (status, headers, _) = get(&gate, "/api/items", None).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"palisade\"");
    let r = http()
        .get(format!("http://{}/api/items", gate.addr))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 400);
    // A missing scope: 403 insufficient_scope naming it.
    let (status, headers, _) = get(&gate, "/admin/users", Some(&k.active.token(&claims()))).await;
    assert_eq!(status, 403);
    assert!(headers["www-authenticate"]
        .to_str()
        .expect("ascii")
        .contains("error=\"insufficient_scope\", scope=\"admin\""));
    // A scope in the token that the client's registration lacks does not count.
    let (status, _, _) = get(
        &gate,
        "/admin/users",
        Some(&k.active.token(&with("scope", json!("read admin")))),
    )
    .await;
    assert_eq!(status, 403);
    // Nothing above was a 5xx, and the metrics counted the refusals.
    let text = metrics(&gate).await;
    let parsed = parse_prometheus(&text);
    assert!(
        sample(
            &parsed,
            "palisade_gate_requests_total{outcome=\"unauthorized\"}"
        ) >= forged.len() as f64 + 1.0
    );
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_requests_total{outcome=\"upstream_error\"}"
        ),
        0.0
    );
    assert!(sample(&parsed, "palisade_gate_jwt_verify_seconds_count") >= 3.0);
    gate.stop().await;
}

#[tokio::test]
async fn a_token_is_cached_but_never_past_its_exp_nor_past_a_key_removal() {
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let gate = start(dir.path(), up, &console).await;
    let k = keys();
    assert_eq!(
        push(&gate, console.sign(&bundle(1, published(&k), vec![])))
            .await
            .0,
        200
    );
    let token = k.active.token(&claims());
    for _ in 0..3 {
        assert_eq!(get(&gate, "/api/a", Some(&token)).await.0, 200);
    }
    let parsed = parse_prometheus(&metrics(&gate).await);
    assert_eq!(
        sample(&parsed, "palisade_gate_token_cache_total{result=\"hit\"}"),
        2.0
    );
    // Remove the key: the next bundle refuses the cached token at once.
    let rest = vec![k.retired.bundle_key("active")];
    assert_eq!(
        push(&gate, console.sign(&bundle(2, rest, vec![]))).await.0,
        200
    );
    assert_eq!(get(&gate, "/api/a", Some(&token)).await.0, 401);
    // A token whose exp passes while cached (leeway 0 for this key set) is refused after it.
    let mut b = bundle(3, published(&k), vec![]);
    b.key_sets[0].leeway_s = 0;
    assert_eq!(push(&gate, console.sign(&b)).await.0, 200);
    let short = k.active.token(&with("exp", json!(now_s() + 2)));
    assert_eq!(get(&gate, "/api/a", Some(&short)).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(get(&gate, "/api/a", Some(&short)).await.0, 401);
    gate.stop().await;
}

#[tokio::test]
async fn spoofed_palisade_headers_never_reach_the_upstream() {
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let gate = start(dir.path(), up, &console).await;
    let k = keys();
    assert_eq!(
        push(&gate, console.sign(&bundle(1, published(&k), vec![])))
            .await
            .0,
        200
    );
    let send = |path: &str, token: Option<String>| {
        let mut r = http()
            .get(format!("http://{}{path}", gate.addr))
            .header("x-palisade-client", "admin-console")
            .header("X-Palisade-Subject", "root")
            .header("x-forwarded-for", "6.6.6.6")
            .header("forwarded", "for=7.7.7.7")
            .header("connection", "x-drop-me")
            .header("x-drop-me", "1");
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        r.send()
    };
    let body: Value = send("/public/x?q=1", None)
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let h = &body["headers"];
    assert!(h.get("x-palisade-client").is_none(), "{body}");
    assert!(h.get("x-palisade-subject").is_none(), "{body}");
    assert!(
        h.get("x-drop-me").is_none(),
        "Connection-listed fields are hop-by-hop: {body}"
    );
    assert_eq!(
        h["x-forwarded-for"], "127.0.0.1",
        "an untrusted peer's XFF is replaced: {body}"
    );
    assert!(
        h.get("forwarded").is_none(),
        "the header the proxies do not write is removed: {body}"
    );
    assert_eq!(body["path"], "/public/x?q=1");
    let body: Value = send("/api/x", Some(k.active.token(&claims())))
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(body["headers"]["x-palisade-client"], "app-1");
    assert_eq!(body["headers"]["x-palisade-subject"], "user-1");
    // Dot segments are resolved before routing: /public/../api needs a token.
    let (status, _, _) = get(&gate, "/public/%2e%2e/api/x", None).await;
    assert_eq!(status, 401);
    let (status, _, body) = get(&gate, "/nowhere", None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("no_route")));
    gate.stop().await;
}

#[test]
fn tokens_signed_by_jose_verify_with_jsonwebtoken() {
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
    for alg in [Alg::EdDSA, Alg::ES256, Alg::RS256] {
        let key = TokenKey::new(alg);
        let token = key.token(&claims());
        let header = decode_header(&token).expect("header");
        assert_eq!(header.kid.as_deref(), Some(key.kid().as_str()));
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let set = json!({"keys": [key.jwk]});
        let theirs: jsonwebtoken::jwk::JwkSet = serde_json::from_value(set).expect("their JWKS");
        let decoding = DecodingKey::from_jwk(theirs.find(&key.kid()).expect("kid")).expect("key");
        let their_alg = match alg {
            Alg::EdDSA => Algorithm::EdDSA,
            Alg::ES256 => Algorithm::ES256,
            Alg::RS256 => Algorithm::RS256,
        };
        let mut v = Validation::new(their_alg);
        v.set_audience(&[AUDIENCE]);
        v.set_issuer(&[ISSUER]);
        let data = decode::<Value>(&token, &decoding, &v)
            .unwrap_or_else(|e| panic!("{alg}: jsonwebtoken refuses jose's token: {e}"));
        assert_eq!(data.claims, claims_without_time(&token));
    }
}

/// The claims of `token` as signed (their times were fixed when signing).
fn claims_without_time(token: &str) -> Value {
    let body = token.split('.').nth(1).expect("claims");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).expect("b64")).expect("json")
}
