//! One rate-limit decision (`Limiter::decide`), QUALITY.md "p99 check ≤ 200 ns at 1M keys":
//! on a warm key, on random keys among 1,000,000 present, and for new keys arriving at a full
//! table (the eviction path). Criterion prints the mean ns per decision; a short pass after it
//! times single decisions to print p50 / p99 (each sample includes one clock read, whose cost
//! is printed beside them).
//!
//! `cargo bench -p policy --bench decision -- --quick` for a short run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use policy::gcra::{Limiter, Quota};

const KEYS: u64 = 1_000_000;

/// Cheap deterministic key sequence (splitmix64), so the bench measures the limiter.
fn key(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A limiter holding 1,000,000 live keys (cap 1,500,000: 67 % full, 24 MB).
fn full_limiter() -> Limiter {
    let mut l = Limiter::new(Quota::per_second(100, 50), 1_500_000);
    for i in 0..KEYS {
        l.decide(&key(i), 0);
    }
    l
}

fn benches(c: &mut Criterion) {
    let mut warm = Limiter::new(Quota::per_second(1_000, 100), 1_000);
    let mut now = 0u64;
    c.bench_function("decide/warm key", |b| {
        b.iter(|| {
            now += 1_000;
            black_box(warm.decide(black_box("client-42"), now))
        })
    });

    let mut big = full_limiter();
    let mut i = 0u64;
    c.bench_function("decide/1M keys present, random key", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(big.decide(&key(i % KEYS), 1_000 + i))
        })
    });

    let mut fresh = KEYS;
    c.bench_function("decide/1M keys present, new key (evicts at the cap)", |b| {
        b.iter_batched(
            || {
                fresh += 1;
                key(fresh)
            },
            |k| black_box(big.decide(&k, 1_000)),
            BatchSize::SmallInput,
        )
    });
}

/// p50 / p99 of single decisions on random present keys, and the cost of the clock read.
fn percentiles() {
    let mut l = full_limiter();
    let samples = 200_000u64;
    let mut clock = Vec::with_capacity(samples as usize);
    let mut times = Vec::with_capacity(samples as usize);
    for _ in 0..samples {
        let t = Instant::now();
        clock.push(t.elapsed());
    }
    for j in 0..samples {
        let k = key(key(j) % KEYS);
        let t = Instant::now();
        black_box(l.decide(&k, 2_000 + j));
        times.push(t.elapsed());
    }
    // The peer: one random read from an array of the table's size, the floor for any
    // decision that is not already in cache.
    let words = l.memory_bytes() / 8;
    let array: Vec<u64> = (0..words as u64).collect();
    let mut reads = Vec::with_capacity(samples as usize);
    for j in 0..samples {
        let i = (key(j ^ 0x5555) % words as u64) as usize;
        let t = Instant::now();
        black_box(array[black_box(i)]);
        reads.push(t.elapsed());
    }
    let pct = |v: &mut Vec<Duration>, p: usize| {
        v.sort_unstable();
        v[v.len() * p / 100].as_nanos()
    };
    println!(
        "single decisions, 1M keys present: p50 {} ns, p99 {} ns; one random read of a {} MB \
         array: p50 {} ns, p99 {} ns; clock read: p50 {} ns, p99 {} ns (in every sample); {} B \
         per key slot",
        pct(&mut times, 50),
        pct(&mut times, 99),
        l.memory_bytes() / 1_000_000,
        pct(&mut reads, 50),
        pct(&mut reads, 99),
        pct(&mut clock, 50),
        pct(&mut clock, 99),
        policy::gcra::SLOT_BYTES,
    );
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    benches(&mut c);
    c.final_summary();
    percentiles();
}
