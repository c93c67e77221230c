//! Slow and idle clients (issue 13, item 4), against the console's real listener: 2,000
//! connections that trickle a request body or send an HTTP/2 preface and then nothing, while a
//! fresh client asks for `/healthz`; then one address opening more connections than its cap.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use listener::testing::{connect_from, frame_types, until_closed, GOAWAY, H2C_PREFACE};
use tokio::io::AsyncWriteExt;

use crate::support::TestApp;

const SLOW: usize = 2_000;

async fn healthz_ms(app: &TestApp) -> f64 {
    // A fresh client each time: a new connection, as a load balancer's probe makes.
    let client = reqwest::Client::new();
    let started = Instant::now();
    let r = client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(r.status(), 200);
    started.elapsed().as_secs_f64() * 1e3
}

fn p99(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() * 99).div_ceil(100) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_and_idle_h2c_prefaces_are_closed_in_time_and_healthz_keeps_answering() {
    let app = TestApp::spawn_with(|c| {
        c.header_timeout_secs = 2;
        c.idle_timeout_secs = 2;
        c.body_timeout_secs = 3;
    })
    .await;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, app.port()));
    let quiet: Vec<f64> = {
        let mut v = Vec::new();
        for _ in 0..50 {
            v.push(healthz_ms(&app).await);
        }
        v
    };

    // 2,000 slow clients from 16 addresses (125 each, under the per-address cap of 128): half
    // send a request head and then one byte of a 100-byte body, half an h2c preface and their
    // SETTINGS, and then nothing.
    let started = Instant::now();
    let mut slow = tokio::task::JoinSet::new();
    for i in 0..SLOW {
        let from = Ipv4Addr::new(127, 0, 1, 1 + (i % 16) as u8);
        let mut s = connect_from(from, addr).await;
        if i % 2 == 0 {
            let head = "POST /fn/start_login HTTP/1.1\r\nHost: localhost\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nu";
            s.write_all(head.as_bytes()).await.expect("write");
        } else {
            s.write_all(H2C_PREFACE).await.expect("write");
        }
        slow.spawn(async move { (i, until_closed(s, Duration::from_secs(12)).await) });
    }
    let opened = started.elapsed();
    assert!(
        app.connections.open() >= SLOW * 9 / 10,
        "{} of {SLOW} slow connections open",
        app.connections.open()
    );

    // Meanwhile a fresh client is answered at once.
    let mut busy = Vec::new();
    for _ in 0..50 {
        busy.push(healthz_ms(&app).await);
    }
    let (quiet_p99, busy_p99) = (p99(quiet), p99(busy));
    eprintln!(
        "{SLOW} slow connections opened in {opened:?}; /healthz p99 {quiet_p99:.2} ms quiet, {busy_p99:.2} ms beside them"
    );
    assert!(busy_p99 < 1000.0, "/healthz p99 {busy_p99:.1} ms");

    // Each is closed within its deadline (body 3 s, first request head 2 s) plus a margin:
    // the slow bodies with a 408, the prefaces with the server's SETTINGS and a GOAWAY.
    let mut closed_at = Vec::new();
    while let Some(r) = slow.join_next().await {
        let (i, got) = r.expect("task");
        let got = got.unwrap_or_else(|| panic!("connection {i} still open after 12 s"));
        closed_at.push(started.elapsed());
        if i % 2 == 0 {
            let text = String::from_utf8_lossy(&got);
            assert!(text.starts_with("HTTP/1.1 408"), "slow body {i}: {text}");
        } else {
            assert!(
                frame_types(&got).contains(&GOAWAY),
                "idle preface {i}: a GOAWAY, got {got:?}"
            );
        }
    }
    let last = closed_at.iter().max().expect("closed");
    eprintln!("all {SLOW} closed within {last:?} of the first connect");
    assert!(*last < opened + Duration::from_secs(3 + 3));

    // One address over its cap: 128 held, the rest closed at once.
    let refused_before = app.connections.refused();
    let mut held = Vec::new();
    for _ in 0..200 {
        held.push(connect_from(Ipv4Addr::new(127, 0, 2, 1), addr).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.connections.refused() - refused_before, 72);
    let mut checks = tokio::task::JoinSet::new();
    for s in held {
        checks.spawn(until_closed(s, Duration::from_millis(500)));
    }
    let mut closed_at_once = 0;
    while let Some(r) = checks.join_next().await {
        closed_at_once += usize::from(r.expect("task").is_some());
    }
    assert_eq!(
        closed_at_once, 72,
        "connections over the cap are closed at once"
    );
    assert!(healthz_ms(&app).await < 1000.0);
}
