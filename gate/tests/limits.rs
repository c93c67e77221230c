//! Rate limits at the gate: an enforced policy admits exactly burst + 1 requests at once and
//! then answers 429 with `Retry-After` and the RateLimit header fields; shadow mode never
//! refuses but counts; limiter state survives a bundle swap when the policy is unchanged; 100
//! bundle swaps under a concurrent load loop lose no request.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use jose::Alg;
use policy::model::{Mode, Period};

#[tokio::test]
async fn enforce_gives_429_with_headers_after_exactly_burst_plus_one() {
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let gate = start(dir.path(), up, &console).await;
    // 1 per minute, burst 4: a fresh key may send 5 at once (GCRA tolerance τ = 4·T), then one
    // per minute.
    let p = policy("per-ip", 1, 1, Period::Minute, 4, Mode::Enforce);
    let shadow = {
        let mut s = policy("shadow", 2, 1, Period::Minute, 0, Mode::Shadow);
        s.matcher.path = policy::model::PathMatch::Prefix("/public".into());
        s
    };
    assert_eq!(
        push(
            &gate,
            console.sign(&bundle(1, vec![], vec![p.clone(), shadow.clone()]))
        )
        .await
        .0,
        200
    );
    for i in 0..5 {
        assert_eq!(
            get(&gate, "/limited/x", None).await.0,
            200,
            "request {}",
            i + 1
        );
    }
    let (status, h, body) = get(&gate, "/limited/x", None).await;
    assert_eq!(status, 429, "{body}");
    let retry: u64 = h["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((59..=60).contains(&retry), "{retry}");
    assert_eq!(h["ratelimit-policy"], "\"per-ip\";q=1;w=60");
    assert_eq!(
        h["ratelimit"].to_str().expect("ascii"),
        format!("\"per-ip\";r=0;t={retry}")
    );
    assert_eq!(body["error"], "rate_limited");
    // Shadow: never refused, but counted.
    for _ in 0..10 {
        assert_eq!(get(&gate, "/public/y", None).await.0, 200);
    }
    // The state survives a swap that keeps the policy; a changed limit starts fresh.
    assert_eq!(
        push(
            &gate,
            console.sign(&bundle(2, vec![], vec![p.clone(), shadow.clone()]))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        get(&gate, "/limited/x", None).await.0,
        429,
        "limiter state kept across the swap"
    );
    let mut looser = p.clone();
    looser.limit.burst = 5;
    assert_eq!(
        push(
            &gate,
            console.sign(&bundle(3, vec![], vec![looser, shadow]))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        get(&gate, "/limited/x", None).await.0,
        200,
        "a changed limit starts fresh"
    );

    let parsed = parse_prometheus(&metrics(&gate).await);
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_decisions_total{policy=\"per-ip\",outcome=\"reject\"}"
        ),
        2.0
    );
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_decisions_total{policy=\"per-ip\",outcome=\"allow\"}"
        ),
        6.0
    );
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_decisions_total{policy=\"shadow\",outcome=\"shadow_reject\"}"
        ),
        9.0
    );
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_decisions_total{policy=\"shadow\",outcome=\"reject\"}"
        ),
        0.0
    );
    assert_eq!(
        sample(
            &parsed,
            "palisade_gate_requests_total{outcome=\"rate_limited\"}"
        ),
        2.0
    );
    gate.stop().await;
}

#[tokio::test]
async fn forged_forwarded_for_from_an_untrusted_peer_lands_in_the_peers_bucket() {
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let gate = start(dir.path(), up, &console).await;
    let p = policy("per-ip", 1, 1, Period::Minute, 0, Mode::Enforce);
    assert_eq!(
        push(&gate, console.sign(&bundle(1, vec![], vec![p])))
            .await
            .0,
        200
    );
    let c = http();
    let mut statuses = Vec::new();
    for i in 0..3 {
        let r = c
            .get(format!("http://{}/limited", gate.addr))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .send()
            .await
            .expect("send");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 429, 429]);
    gate.stop().await;
}

/// Behind a proxy that writes RFC 7239 `Forwarded` (`--forwarded-header forwarded`): each
/// forwarded client has its own bucket, a client's own `X-Forwarded-For` is neither believed
/// nor passed on, and the upstream receives the chain with the proxy appended.
#[tokio::test]
async fn behind_a_proxy_writing_forwarded_each_client_has_its_bucket() {
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let mut s = settings(dir.path(), up, Some(console.public_b64()));
    s.trusted_proxies = vec!["127.0.0.1/32".into()];
    s.forwarded_header = policy::forwarded::ForwardedHeader::Forwarded;
    let gate = gate::serve::Gate::start(s).await.expect("gate starts");
    let p = policy("per-ip", 1, 1, Period::Minute, 0, Mode::Enforce);
    assert_eq!(
        push(&gate, console.sign(&bundle(1, vec![], vec![p])))
            .await
            .0,
        200
    );
    let c = http();
    let get = |path: &'static str, forwarded: &'static str, xff: String| {
        c.get(format!("http://{}{path}", gate.addr))
            .header("forwarded", forwarded)
            .header("x-forwarded-for", xff)
            .send()
    };
    let mut statuses = Vec::new();
    for (i, client) in [
        "for=203.0.113.1",
        "for=203.0.113.1",
        r#"for="[2001:db8::2]:443""#,
    ]
    .into_iter()
    .enumerate()
    {
        // A new X-Forwarded-For each time: were it believed, no request would share a bucket.
        let r = get("/limited", client, format!("198.51.100.{i}"))
            .await
            .expect("send");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses,
        vec![200, 429, 200],
        "one bucket per Forwarded client"
    );
    let echo: serde_json::Value = get("/public/x", "for=203.0.113.3;proto=https", "6.6.6.6".into())
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let h = &echo["headers"];
    assert_eq!(
        h["forwarded"], "for=203.0.113.3;proto=https, for=127.0.0.1",
        "{echo}"
    );
    assert!(h.get("x-forwarded-for").is_none(), "{echo}");
    gate.stop().await;
}

#[tokio::test]
async fn a_hundred_swaps_under_load_lose_no_request() {
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Arc::new(Console::new());
    let gate = Arc::new(start(dir.path(), up, &console).await);
    let key = Arc::new(TokenKey::new(Alg::EdDSA));
    let generous = policy(
        "per-ip",
        1,
        1_000_000,
        Period::Second,
        1_000_000,
        Mode::Enforce,
    );
    let make = |v: u64| {
        console.sign(&bundle(
            v,
            vec![key.bundle_key("active")],
            vec![generous.clone()],
        ))
    };
    assert_eq!(push(&gate, make(1)).await.0, 200);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (gate, stop, ok, failed, key) = (
            gate.clone(),
            stop.clone(),
            ok.clone(),
            failed.clone(),
            key.clone(),
        );
        workers.push(tokio::spawn(async move {
            let c = http();
            let token = key.token(&claims());
            while !stop.load(Ordering::Relaxed) {
                let path = if w % 2 == 0 {
                    "/api/load"
                } else {
                    "/limited/load"
                };
                let r = c
                    .get(format!("http://{}{path}", gate.addr))
                    .header("authorization", format!("Bearer {token}"))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let started = std::time::Instant::now();
    for v in 2..=101 {
        let (status, body) = push(&gate, make(v)).await;
        assert_eq!(status, 200, "{body}");
    }
    let swaps = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!("100 swaps in {swaps:?} under load: {ok} requests ok, {failed} failed");
    assert_eq!(failed, 0);
    assert!(ok > 100, "the load loop ran ({ok})");
    assert_eq!(gate.shared.current().map(|s| s.version), Some(101));
}

/// Policies that read request headers: one counts by `X-Api-Key` (each value its own bucket,
/// a missing header one shared bucket), one applies only to requests carrying `X-Beta: 1`.
#[tokio::test]
async fn header_keyed_and_header_matched_policies() {
    use policy::model::{HeaderMatch, KeyBy, PathMatch};
    let up = upstream().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let gate = start(dir.path(), up, &console).await;
    let mut per_key = policy("per-key", 1, 1, Period::Minute, 0, Mode::Enforce);
    per_key.key = KeyBy::Header("X-Api-Key".into());
    let mut beta = policy("beta", 2, 1, Period::Minute, 0, Mode::Enforce);
    beta.matcher.path = PathMatch::Prefix("/public".into());
    beta.matcher.header = Some(HeaderMatch {
        name: "x-beta".into(),
        value: Some("1".into()),
    });
    beta.key = KeyBy::Global;
    assert_eq!(
        push(&gate, console.sign(&bundle(1, vec![], vec![per_key, beta])))
            .await
            .0,
        200
    );
    let send = |path: &'static str, header: Option<(&'static str, &'static str)>| {
        let mut req = http().get(format!("http://{}{path}", gate.addr));
        if let Some((n, v)) = header {
            req = req.header(n, v);
        }
        async move { req.send().await.expect("request").status().as_u16() }
    };
    assert_eq!(send("/limited/x", Some(("x-api-key", "a"))).await, 200);
    assert_eq!(send("/limited/x", Some(("X-Api-Key", "a"))).await, 429);
    assert_eq!(send("/limited/x", Some(("x-api-key", "b"))).await, 200);
    assert_eq!(send("/limited/x", None).await, 200);
    assert_eq!(
        send("/limited/x", None).await,
        429,
        "no header: one shared bucket"
    );
    assert_eq!(send("/public/x", Some(("x-beta", "1"))).await, 200);
    assert_eq!(send("/public/x", Some(("x-beta", "1"))).await, 429);
    for _ in 0..3 {
        assert_eq!(send("/public/x", Some(("x-beta", "2"))).await, 200);
        assert_eq!(send("/public/x", None).await, 200);
    }
    gate.stop().await;
}
