//! The audit explorer over a million events (QUALITY.md, "Performance"; issue 15, item 1): a
//! console on SQLite whose log holds 1,000,000 generated events answers `GET /audit?…` (the
//! server-rendered explorer page, signed in) for each filter and for a deep page, and beside
//! them, in the same run and interleaved, its own static route `/favicon.svg` (the peer). Prints
//! the median and p95 of each and the p95 ratio to the peer; the goal is p95 ≤ 50 ms for every
//! filter and page.
//!
//! `cargo bench -p server --bench audit_search` (`make bench-audit`). `PALISADE_BENCH_EVENTS`
//! (default 1,000,000) and `PALISADE_BENCH_SAMPLES` (default 40 per query) set the size.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use sqlx::Connection;

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i]
}

/// Appends `n` generated events after the console's own, in one statement: 40 actors (one of
/// them rare: every 10,000th event), 24 actions in 8 areas, 20,000 targets, 1 % denied and 2 %
/// failed, one event a second, details of about 200 bytes with a rare word in every 50,000th.
/// Their hashes are not a chain (the explorer does not verify it).
const GENERATE: &str = "
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
INSERT INTO audit_events (seq, at, actor, ip, user_agent, action, target, outcome, details, prev_hash, hash)
SELECT $1 + i,
       strftime('%Y-%m-%dT%H:%M:%fZ', 1700000000 + i, 'unixepoch'),
       CASE WHEN i % 10000 = 0 THEN 'rare-auditor' ELSE 'admin-' || (i % 39) END,
       '10.0.' || (i % 200) || '.' || (i % 250),
       'Mozilla/5.0 (bench)',
       CASE i % 8 WHEN 0 THEN 'policies.' WHEN 1 THEN 'clients.' WHEN 2 THEN 'keys.'
            WHEN 3 THEN 'certs.' WHEN 4 THEN 'pinsets.' WHEN 5 THEN 'gates.'
            WHEN 6 THEN 'admins.' ELSE 'auth.' END
         || CASE i % 3 WHEN 0 THEN 'create' WHEN 1 THEN 'update' ELSE 'delete' END,
       'client:' || (i % 20000),
       CASE WHEN i % 100 = 7 THEN 'denied' WHEN i % 50 = 3 THEN 'failure' ELSE 'success' END,
       '{\"after\":{\"burst\":' || (i % 97) || ',\"name\":\"policy ' || (i % 500) || '\"},'
         || '\"before\":{\"burst\":' || (i % 89) || ',\"name\":\"policy ' || (i % 500) || '\"},'
         || '\"note\":\"' || CASE WHEN i % 50000 = 0 THEN 'needle-in-haystack' ELSE 'routine change of a limit' END || '\"}',
       printf('%064x', $1 + i - 1),
       printf('%064x', $1 + i)
FROM n";

fn main() {
    let events: i64 = env_num("PALISADE_BENCH_EVENTS", 1_000_000);
    let samples: usize = env_num("PALISADE_BENCH_SAMPLES", 40);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let app = support::TestApp::spawn().await;
        let cookie = app.confirmed_owner("alice").await;
        let head = app.store.recent_audit(1).await.expect("head")[0].seq;
        let started = Instant::now();
        let url = format!("sqlite://{}", app.dir.path().join("palisade.db").display());
        let mut db = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("database");
        sqlx::query("PRAGMA busy_timeout = 60000")
            .execute(&mut db)
            .await
            .expect("busy timeout");
        sqlx::query(GENERATE)
            .bind(head)
            .bind(events)
            .execute(&mut db)
            .await
            .expect("generate");
        sqlx::query("ANALYZE")
            .execute(&mut db)
            .await
            .expect("analyze");
        db.close().await.expect("close");
        println!(
            "generated {events} events in {:.1} s",
            started.elapsed().as_secs_f64()
        );

        let middle = head + events / 2;
        let queries: Vec<(&str, String)> = vec![
            ("newest page", "/audit".into()),
            ("actor, common", "/audit?actor=admin-5".into()),
            (
                "actor, rare (1 in 10,000)",
                "/audit?actor=rare-auditor".into(),
            ),
            ("action prefix", "/audit?action=pinsets.".into()),
            ("target (1 in 20,000)", "/audit?target=client%3A4242".into()),
            ("outcome denied (1 %)", "/audit?outcome=denied".into()),
            (
                "time range, an hour mid-log",
                "/audit?since=2023-11-20T17%3A00&until=2023-11-20T18%3A00".into(),
            ),
            (
                "text, rare (1 in 50,000)",
                "/audit?text=needle-in-haystack".into(),
            ),
            // Every event matches: the newest page must not cost more than reading it.
            (
                "text, common (every event)",
                "/audit?text=routine%20change".into(),
            ),
            // The trigram index's worst case: every trigram of the text is in every event, the
            // text in none (`limit"},"before`), so the index narrows nothing.
            (
                "text, none, common trigrams",
                "/audit?text=limit%22%7D%2C%22before".into(),
            ),
            (
                "deep page (before #middle)",
                format!("/audit?before={middle}"),
            ),
            (
                "actor + outcome + action",
                "/audit?actor=admin-7&outcome=failure&action=keys.".into(),
            ),
            // A text beside another filter: a rare text is tested on its own few events, a
            // common one on the other filter's.
            (
                "actor, common + text, rare",
                "/audit?actor=admin-5&text=needle-in-haystack".into(),
            ),
            (
                "actor, rare + text, common",
                "/audit?actor=rare-auditor&text=routine%20change".into(),
            ),
        ];
        let peer = "/favicon.svg";
        let mut peer_times = Vec::new();
        let mut results = Vec::new();
        for (name, path) in &queries {
            let first = app.get(path, Some(&cookie)).await;
            assert_eq!(first.status, 200, "{name}: {}", first.body);
            assert!(
                first.body.contains("matching event") || first.body.contains("No event matches"),
                "{name}: the explorer rendered its results"
            );
            let mut times = Vec::with_capacity(samples);
            for _ in 0..samples {
                // Interleaved: the peer and the page alternate, so both see the same machine.
                let t = Instant::now();
                let r = app.get(peer, None).await;
                peer_times.push(t.elapsed());
                assert_eq!(r.status, 200);
                let t = Instant::now();
                let r = app.get(path, Some(&cookie)).await;
                times.push(t.elapsed());
                assert_eq!(r.status, 200);
            }
            results.push((name, first.body.len(), times));
        }
        let peer_p95 = quantile(&mut peer_times, 0.95);
        println!(
            "\n{:<32} {:>9} {:>10} {:>10} {:>12}",
            "GET /audit with", "bytes", "median", "p95", "p95 / peer"
        );
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
        let mut worst = Duration::ZERO;
        for (name, bytes, mut times) in results {
            let median = quantile(&mut times, 0.5);
            let p95 = quantile(&mut times, 0.95);
            worst = worst.max(p95);
            println!(
                "{:<32} {:>9} {:>10} {:>10} {:>11.1}x",
                name,
                bytes,
                ms(median),
                ms(p95),
                p95.as_secs_f64() / peer_p95.as_secs_f64()
            );
        }
        println!(
            "{:<32} {:>9} {:>10} {:>10}",
            format!("peer: {peer}"),
            "",
            ms(quantile(&mut peer_times, 0.5)),
            ms(peer_p95)
        );
        println!(
            "\nworst p95 {} over {events} events (goal ≤ 50 ms): {}",
            ms(worst),
            if worst <= Duration::from_millis(50) {
                "met"
            } else {
                "NOT met"
            }
        );
    });
}
