//! JWT verification cost at the gate next to `openssl speed` for the same algorithm, measured in
//! one run (issue 12, "JWT verify cost per operation vs openssl speed", goal ≤ 1.15×): the whole
//! `jose::verify_compact` (split, base64url, header checks, key lookup, signature, claims JSON)
//! against OpenSSL's bare signature verification, per algorithm.
//!
//! `cargo bench -p gate --bench jwt_verify` (part of `make bench-gate`); `PALISADE_BENCH_SECS`
//! (default 3) sets each measurement's duration.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{claims, TokenKey};
use jose::{Alg, TypRule};

fn main() {
    let secs: u64 = std::env::var("PALISADE_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    println!("JWT verification, one core, {secs} s per measurement");
    println!("| algorithm | jose::verify_compact | openssl speed (verify only) | cost ratio (goal ≤ 1.15×) |");
    println!("|---|---|---|---|");
    for (alg, openssl_name) in [
        (Alg::EdDSA, "ed25519"),
        (Alg::ES256, "ecdsap256"),
        (Alg::RS256, "rsa2048"),
    ] {
        let key = TokenKey::new(alg);
        let token = key.token(&claims());
        let vk = jose::verification_key(&key.jwk).expect("key");
        let kid = key.kid();
        let run = Duration::from_secs(secs);
        let start = Instant::now();
        let mut n: u64 = 0;
        while start.elapsed() < run {
            for _ in 0..64 {
                let v = jose::verify_compact(&token, TypRule::JwtOrAccessToken, |k| {
                    if k == kid {
                        Ok(&vk)
                    } else {
                        Err(jose::JoseError::TokenNoKid)
                    }
                });
                assert!(v.is_ok());
            }
            n += 64;
        }
        let ours_us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
        let openssl_us = openssl_verify_us(openssl_name, secs);
        println!(
            "| {} | {ours_us:.1} µs | {openssl_us:.1} µs | {:.2}× |",
            alg.label(),
            ours_us / openssl_us
        );
    }
}

/// Microseconds per verification `openssl speed` measures for `alg` (single process).
fn openssl_verify_us(alg: &str, secs: u64) -> f64 {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", &secs.to_string(), "-mr", alg])
        .output()
        .expect("openssl speed");
    let text = String::from_utf8_lossy(&out.stdout);
    // OpenSSL 3's machine-readable lines, operations per second:
    // RSA "+F2:<i>:<bits>:<sign/s>:<verify/s>", ECDSA "+F4:<i>:<bits>:<sign/s>:<verify/s>",
    // EdDSA "+F6:<i>:<bits>:<name>:<sign/s>:<verify/s>".
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        let verify = match f.first() {
            Some(&"+F2") | Some(&"+F4") if f.len() >= 5 => f[4],
            Some(&"+F6") if f.len() >= 6 => f[5],
            _ => continue,
        };
        if let Ok(per_s) = verify.trim().parse::<f64>() {
            if per_s > 0.0 {
                return 1e6 / per_s;
            }
        }
    }
    panic!("no verify figure for {alg} in `openssl speed -mr` output:\n{text}");
}
