//! Cluster-limit decisions per second through Redis next to `redis-benchmark` GET at the same
//! concurrency against the same `redis-server`, in one run (issue 12, goal ≥ 0.7×): each of our
//! decisions is one `EVALSHA` of the GCRA script (a GET, a compare, a SET with expiry), theirs a
//! bare GET. The server is started here on a free loopback port and stopped at the end.
//!
//! `cargo bench -p gate --bench redis_limits` (part of `make bench-gate`); `PALISADE_BENCH_SECS`
//! (default 3) and `PALISADE_BENCH_CONCURRENCY` (default 32).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::RedisServer;
use gate::cluster::ClusterLimiter;
use policy::gcra::Quota;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let secs = env_num("PALISADE_BENCH_SECS", 3);
    let concurrency = env_num("PALISADE_BENCH_CONCURRENCY", 32);
    let redis = RedisServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ours = rt.block_on(async {
        let l = ClusterLimiter::new(&redis.url()).expect("url");
        l.start();
        while !l.is_up() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let done = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let run = Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for t in 0..concurrency {
            let (l, done, refused) = (l.clone(), done.clone(), refused.clone());
            tasks.push(tokio::spawn(async move {
                let key = format!("client-{t}");
                while start.elapsed() < run {
                    match l
                        .decide(
                            "bench",
                            Quota::per_second(1_000_000, 1_000),
                            key.as_bytes(),
                            0,
                        )
                        .await
                    {
                        Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => refused.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let failed = refused.load(Ordering::Relaxed);
        assert_eq!(failed, 0, "decisions failed (timeouts over 50 ms?)");
        done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
    });
    let requests = ((ours * secs as f64) as u64).max(10_000);
    let out = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &redis.port.to_string(),
            "-c",
            &concurrency.to_string(),
        ])
        .args(["-n", &requests.to_string(), "-t", "get", "--csv"])
        .output()
        .expect("redis-benchmark (Debian package redis-tools)");
    let text = String::from_utf8_lossy(&out.stdout);
    let theirs: f64 = text
        .lines()
        .find(|l| l.starts_with("\"GET\""))
        .and_then(|l| l.split(',').nth(1))
        .and_then(|v| v.trim_matches('"').parse().ok())
        .unwrap_or_else(|| panic!("no GET figure in:\n{text}"));
    println!(
        "Cluster-limit decisions vs redis-benchmark GET, {concurrency} at once, same redis-server"
    );
    println!("| | per second |");
    println!("|---|---|");
    println!("| gate decisions (EVALSHA GCRA) | {ours:.0} |");
    println!("| redis-benchmark GET | {theirs:.0} |");
    println!("| ratio (goal ≥ 0.7×) | {:.2}× |", ours / theirs);
}
