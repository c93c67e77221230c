//! Bundles at the gate (QUALITY.md "bad bundle"): readiness follows the first apply; pushes are
//! ACKed (200 applied / current) or NACKed (409 older or replayed, 422 truncated, bit-flipped,
//! signed by another key, invalid policy) with the applied bundle kept in force; the
//! last-known-good is applied at restart with no console around; `/metrics` parses and counts.

mod common;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use common::*;
use gate::Gate;
use jose::Alg;
use policy::model::{Mode, Period};

#[tokio::test]
async fn pushes_are_acked_or_refused_and_the_old_bundle_stays() {
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let gate = start(dir.path(), up, &console).await;
    let admin = format!("http://{}", gate.admin_addr);
    let c = http();
    assert_eq!(
        c.get(format!("{admin}/healthz"))
            .send()
            .await
            .expect("h")
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{admin}/readyz"))
            .send()
            .await
            .expect("r")
            .status(),
        503
    );
    assert_eq!(
        get(&gate, "/public", None).await.0,
        503,
        "no bundle: not ready"
    );

    let key = TokenKey::new(Alg::EdDSA);
    let v2 = bundle(2, vec![key.bundle_key("active")], vec![]);
    let (status, body) = push(&gate, console.sign(&v2)).await;
    assert_eq!(
        (status, body.clone()),
        (200, serde_json::json!({"status": "applied", "version": 2}))
    );
    assert_eq!(
        c.get(format!("{admin}/readyz"))
            .send()
            .await
            .expect("r")
            .status(),
        200
    );
    let (status, body) = push(&gate, console.sign(&v2)).await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"status": "current", "version": 2}))
    );

    let good = console.sign(&bundle(3, vec![key.bundle_key("active")], vec![]));
    let mut flipped = good.clone();
    {
        // One bit of the payload, inside its base64url, flipped.
        let env: serde_json::Value = serde_json::from_slice(&good).expect("json");
        let mut payload = URL_SAFE_NO_PAD
            .decode(env["payload"].as_str().expect("payload"))
            .expect("b64");
        let i = payload.len() / 2;
        payload[i] ^= 0x01;
        let mut env = env.clone();
        env["payload"] = serde_json::json!(URL_SAFE_NO_PAD.encode(payload));
        flipped = serde_json::to_vec(&env).unwrap_or(flipped);
    }
    let other_console = Console::new();
    let mut invalid_policy = policy("bad", 1, 0, Period::Second, 1, Mode::Enforce);
    invalid_policy.limit.rate = 0;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            422,
            "corrupt envelope",
        ),
        ("one bit flipped", flipped, 422, "signature does not verify"),
        (
            "signed by another console",
            other_console.sign(&bundle(3, vec![], vec![])),
            422,
            "not by the trusted key",
        ),
        (
            "older version replayed",
            console.sign(&bundle(1, vec![key.bundle_key("active")], vec![])),
            409,
            "older than the applied version 2",
        ),
        (
            "same version, other content",
            console.sign(&bundle(2, vec![], vec![])),
            409,
            "already applied with other content",
        ),
        (
            "a policy the validator rejects",
            console.sign(&bundle(3, vec![], vec![invalid_policy])),
            422,
            "policies[0]",
        ),
        (
            "a JWK whose kid is not its thumbprint",
            {
                let mut k = key.bundle_key("active");
                k.jwk.kid = Some("x".into());
                k.kid = "x".into();
                console.sign(&bundle(3, vec![k], vec![]))
            },
            422,
            "kid",
        ),
        ("not JSON", b"hello".to_vec(), 422, "corrupt envelope"),
    ];
    for (what, bytes, want, needle) in cases {
        let (status, body) = push(&gate, bytes).await;
        assert_eq!(status, want, "{what}: {body}");
        assert_eq!(body["status"], "refused", "{what}");
        assert_eq!(body["applied_version"], 2, "{what}");
        let reason = body["reason"].as_str().expect("reason");
        assert!(reason.contains(needle), "{what}: {reason}");
        // The applied bundle is still in force.
        assert_eq!(gate.shared.current().expect("applied").version, 2, "{what}");
        assert_eq!(get(&gate, "/public/x", None).await.0, 200, "{what}");
    }
    // A body above 8 MiB is refused before it is read whole.
    let big = vec![b'x'; policy::bundle::MAX_BUNDLE_BYTES + 1];
    let r = c
        .post(format!("{admin}/v1/bundle"))
        .body(big)
        .send()
        .await
        .expect("push");
    assert_eq!(r.status().as_u16(), 413);
    // Then a good newer version applies.
    let (status, body) = push(&gate, good).await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(3)));

    let parsed = parse_prometheus(&metrics(&gate).await);
    assert_eq!(sample(&parsed, "palisade_gate_bundle_version"), 3.0);
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_bundle_applies_total{result=\"applied\"}"
        ),
        2.0
    );
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_bundle_applies_total{result=\"current\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_bundle_applies_total{result=\"refused\"}"
        ),
        8.0
    );
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_requests_total{outcome=\"not_ready\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(&parsed, "palisade_gate_requests_total{outcome=\"proxied\"}"),
        8.0
    );
    gate.stop().await;
}

#[tokio::test]
async fn the_last_known_good_bundle_is_enforced_at_restart() {
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let gate = start(dir.path(), up, &console).await;
    let key = TokenKey::new(Alg::EdDSA);
    let strict = policy("p1", 1, 1, Period::Minute, 0, Mode::Enforce);
    assert_eq!(
        push(
            &gate,
            console.sign(&bundle(7, vec![key.bundle_key("active")], vec![strict]))
        )
        .await
        .0,
        200
    );
    // A refused push afterwards does not touch the file.
    assert_eq!(
        push(&gate, console.sign(&bundle(3, vec![], vec![])))
            .await
            .0,
        409
    );
    gate.stop().await;
    let on_disk = std::fs::read(dir.path().join("bundle.json")).expect("bundle.json");
    let env: policy::bundle::SignedBundle = serde_json::from_slice(&on_disk).expect("envelope");
    assert!(!env.signature.is_empty());

    // Restart with no console anywhere: ready at once, enforcing version 7.
    let gate = start(dir.path(), up, &console).await;
    assert_eq!(gate.shared.current().map(|s| s.version), Some(7));
    let r = http()
        .get(format!("http://{}/readyz", gate.admin_addr))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), 200);
    assert_eq!(get(&gate, "/limited", None).await.0, 200);
    assert_eq!(
        get(&gate, "/limited", None).await.0,
        429,
        "the policy of version 7 is enforced"
    );
    assert_eq!(
        get(&gate, "/api/x", Some(&key.token(&claims()))).await.0,
        200
    );
    gate.stop().await;

    // A corrupted file is refused at start (logged), the gate starts not ready.
    let mut bad = on_disk.clone();
    let n = bad.len();
    bad.truncate(n - 10);
    std::fs::write(dir.path().join("bundle.json"), &bad).expect("write");
    let gate = start(dir.path(), up, &console).await;
    assert!(gate.shared.current().is_none());
    gate.stop().await;
}

#[tokio::test]
async fn without_a_trusted_key_every_bundle_is_refused() {
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let gate = Gate::start(settings(dir.path(), up, None))
        .await
        .expect("starts");
    let (status, body) = push(&gate, console.sign(&bundle(1, vec![], vec![]))).await;
    assert_eq!(status, 422);
    assert!(
        body["reason"]
            .as_str()
            .expect("reason")
            .contains("no trusted bundle key"),
        "{body}"
    );
    assert_eq!(body["applied_version"], serde_json::Value::Null);
    gate.stop().await;
}
