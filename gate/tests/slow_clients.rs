//! Slow and idle clients against the gate's real listener (issue 13, item 4): 1,000
//! connections that trickle a request body or send an HTTP/2 preface and then nothing are all
//! closed within the configured times while a fresh client is served at once; one address
//! over its connection cap has the extra connections closed at accept.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::*;
use listener::testing::{connect_from, frame_types, until_closed, GOAWAY, H2C_PREFACE};
use tokio::io::AsyncWriteExt;

const SLOW: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_and_idle_prefaces_are_closed_and_fresh_clients_are_served() {
    // An upstream that reads the whole body before answering, as an API does.
    let up = {
        let app = axum::Router::new()
            .fallback(|body: axum::body::Bytes| async move { format!("{} bytes", body.len()) });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let a = l.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(l, app).await });
        a
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let mut s = settings(dir.path(), up, Some(console.public_b64()));
    s.header_read_timeout = Duration::from_secs(2);
    s.idle_timeout = Duration::from_secs(2);
    s.max_connections_per_ip = 100;
    s.trusted_proxies = Vec::new();
    s.upstream_timeout = Duration::from_secs(3);
    let gate = gate::serve::Gate::start(s).await.expect("gate starts");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, gate.addr.port()));
    let pushed = push(&gate, console.sign(&bundle(1, vec![], vec![]))).await;
    assert_eq!(pushed.0, 200, "{:?}", pushed.1);

    // 1,000 slow clients from 10 addresses (100 each, the cap): half a request head and one
    // byte of a 100-byte body, half an h2c preface; then nothing.
    let started = Instant::now();
    let mut slow = tokio::task::JoinSet::new();
    for i in 0..SLOW {
        let from = Ipv4Addr::new(127, 0, 3, 1 + (i % 10) as u8);
        let mut s = connect_from(from, addr).await;
        if i % 2 == 0 {
            let head = "POST /public/upload HTTP/1.1\r\nHost: api\r\nContent-Length: 100\r\n\r\nu";
            s.write_all(head.as_bytes()).await.expect("write");
        } else {
            s.write_all(H2C_PREFACE).await.expect("write");
        }
        slow.spawn(async move { (i, until_closed(s, Duration::from_secs(15)).await) });
    }
    assert!(
        gate.connections.open() >= SLOW * 9 / 10,
        "{} open",
        gate.connections.open()
    );

    // A fresh client is served meanwhile.
    let t = Instant::now();
    let fresh_answer = get(&gate, "/public/fresh", None).await;
    assert_eq!(fresh_answer.0, 200, "{:?}", fresh_answer.2);
    let fresh = t.elapsed();
    eprintln!("{SLOW} slow connections; a fresh request took {fresh:?}");
    assert!(fresh < Duration::from_secs(1));

    let mut last = Duration::ZERO;
    while let Some(r) = slow.join_next().await {
        let (i, got) = r.expect("task");
        let got = got.unwrap_or_else(|| panic!("connection {i} still open after 15 s"));
        last = last.max(started.elapsed());
        if i % 2 == 0 {
            let text = String::from_utf8_lossy(&got);
            assert!(text.starts_with("HTTP/1.1 504"), "slow body {i}: {text}");
        } else {
            assert!(frame_types(&got).contains(&GOAWAY), "preface {i}: {got:?}");
        }
    }
    // The slow bodies: 504 when the upstream has not answered in 3 s (it waits for the body);
    // the prefaces: no request head within 2 s.
    eprintln!("all {SLOW} closed within {last:?}");
    assert!(last < Duration::from_secs(8), "{last:?}");

    // Over the cap: 100 held, 50 closed at once.
    let before = gate.connections.refused();
    let mut held = Vec::new();
    for _ in 0..150 {
        held.push(connect_from(Ipv4Addr::new(127, 0, 4, 1), addr).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gate.connections.refused() - before, 50);
    let mut checks = tokio::task::JoinSet::new();
    for s in held {
        checks.spawn(until_closed(s, Duration::from_millis(500)));
    }
    let mut closed = 0;
    while let Some(r) = checks.join_next().await {
        closed += usize::from(r.expect("task").is_some());
    }
    assert_eq!(closed, 50);
    gate.stop().await;
}
