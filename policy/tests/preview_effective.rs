//! Preview (what a policy does to synthetic traffic, per second) and the effective-limit
//! calculator (N gates × the limit for scope `gate`, exact for `cluster`).

use policy::effective::effective_limit;
use policy::model::{Action, KeyBy, Limit, Match, Mode, Period, Policy, Scope};
use policy::preview::{simulate, totals, Bucket, PreviewError, Traffic, MAX_REQUESTS};

fn policy(rate: u32, per: Period, burst: u32) -> Policy {
    Policy {
        id: "p".into(),
        name: "p".into(),
        enabled: true,
        order: 1,
        matcher: Match::default(),
        key: KeyBy::Ip,
        limit: Limit { rate, per, burst },
        scope: Scope::Gate,
        action: Action::Reject,
        mode: Mode::Enforce,
    }
}

fn run(p: &Policy, t: Traffic, secs: u32) -> Vec<Bucket> {
    simulate(p, &t, secs).expect("within bounds")
}

#[test]
fn under_the_limit_everything_is_admitted() {
    for (rate, rps) in [(10, 10), (3, 3), (1_000, 999), (7, 5)] {
        let b = run(
            &policy(rate, Period::Second, 0),
            Traffic::Constant { rps },
            30,
        );
        let t = totals(&b);
        assert_eq!(
            (t.admitted, t.rejected),
            (u64::from(rps) * 30, 0),
            "{rate} r/s, {rps} offered"
        );
    }
}

#[test]
fn tenfold_overload_admits_rate_t_plus_burst() {
    for (rate, burst) in [(10u32, 0u32), (10, 5), (1_000, 0), (1_000, 200)] {
        let b = run(
            &policy(rate, Period::Second, burst),
            Traffic::Constant { rps: rate * 10 },
            60,
        );
        let t = totals(&b);
        let want = u64::from(rate) * 60 + u64::from(burst);
        assert!(
            t.admitted.abs_diff(want) <= 1,
            "{rate}/{burst}: {} vs {want}",
            t.admitted
        );
        assert_eq!(t.offered, t.admitted + t.rejected);
        // The first second carries the burst, the others exactly the rate.
        assert_eq!(b[0].admitted, rate + burst);
        for s in &b[1..] {
            assert_eq!(s.admitted, rate, "second {}", s.t_s);
        }
    }
}

#[test]
fn per_minute_limits_are_spread_over_the_minute() {
    let b = run(
        &policy(60, Period::Minute, 10),
        Traffic::Constant { rps: 5 },
        120,
    );
    let t = totals(&b);
    assert!(t.admitted.abs_diff(120 + 10) <= 1, "{}", t.admitted);
}

#[test]
fn delay_absorbs_what_fits_and_rejects_the_rest() {
    let mut p = policy(10, Period::Second, 0);
    // 20 r/s offered against 10 r/s: each admitted request pushes the schedule 100 ms on, so
    // a queue builds; with a 500 ms cap, about 5 requests' worth can wait, the rest is refused.
    p.action = Action::Delay { max_delay_ms: 500 };
    let b = run(&p, Traffic::Constant { rps: 20 }, 30);
    let t = totals(&b);
    assert_eq!(t.offered, t.admitted + t.delayed + t.rejected);
    assert!(t.delayed > 0 && t.rejected > 0, "{t:?}");
    let passed = t.admitted + t.delayed;
    // Delayed requests are admitted up to 500 ms ahead of their arrival: rate·(t + 0.5 s) + 1.
    assert!(passed.abs_diff(10 * 30 + 5) <= 1, "{t:?}");
    assert_eq!(b[0].admitted + b[0].delayed, 15);

    // A delay cap long enough for everything: nothing is refused in a short burst.
    p.action = Action::Delay {
        max_delay_ms: 10_000,
    };
    let b = run(
        &p,
        Traffic::Burst {
            base_rps: 5,
            burst_rps: 20,
            every_s: 10,
            length_s: 1,
        },
        30,
    );
    assert_eq!(totals(&b).rejected, 0);
    // Burst 0: in the burst second every request after the first waits for its turn.
    assert_eq!((b[10].admitted, b[10].delayed), (1, 19));
    assert!(b[11].delayed > 0, "the queue drains into the next second");
}

#[test]
fn shadow_admits_everything_and_counts_what_enforcing_would_do() {
    let enforced = run(
        &policy(10, Period::Second, 5),
        Traffic::Constant { rps: 100 },
        20,
    );
    let mut p = policy(10, Period::Second, 5);
    p.mode = Mode::Shadow;
    let shadow = run(&p, Traffic::Constant { rps: 100 }, 20);
    for (e, s) in enforced.iter().zip(&shadow) {
        assert_eq!(s.admitted, s.offered);
        assert_eq!((s.rejected, s.delayed), (0, 0));
        assert_eq!(s.shadow_rejected, e.rejected, "second {}", e.t_s);
    }
    p.mode = Mode::Enforce;
    p.action = Action::Shadow;
    assert_eq!(
        run(&p, Traffic::Constant { rps: 100 }, 20),
        shadow,
        "shadow action = shadow mode"
    );

    let mut d = policy(10, Period::Second, 0);
    d.action = Action::Delay { max_delay_ms: 500 };
    let enforced = totals(&run(&d, Traffic::Constant { rps: 20 }, 10));
    d.mode = Mode::Shadow;
    let shadow = totals(&run(&d, Traffic::Constant { rps: 20 }, 10));
    assert_eq!(shadow.admitted, shadow.offered);
    assert_eq!(
        (shadow.shadow_delayed, shadow.shadow_rejected),
        (enforced.delayed, enforced.rejected)
    );
}

#[test]
fn traffic_shapes() {
    let burst = Traffic::Burst {
        base_rps: 5,
        burst_rps: 50,
        every_s: 10,
        length_s: 2,
    };
    let rps: Vec<u32> = (0..25).map(|s| burst.rps_at(s, 25)).collect();
    assert_eq!(&rps[..12], &[5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 50, 50]);
    assert_eq!(&rps[19..23], &[5, 50, 50, 5]);
    let ramp = Traffic::Ramp {
        from_rps: 0,
        to_rps: 100,
    };
    assert_eq!(ramp.rps_at(0, 11), 0);
    assert_eq!(ramp.rps_at(5, 11), 50);
    assert_eq!(ramp.rps_at(10, 11), 100);
    let down = Traffic::Ramp {
        from_rps: 30,
        to_rps: 10,
    };
    assert_eq!(
        (down.rps_at(0, 3), down.rps_at(1, 3), down.rps_at(2, 3)),
        (30, 20, 10)
    );
    let b = run(
        &policy(20, Period::Second, 0),
        Traffic::Ramp {
            from_rps: 0,
            to_rps: 40,
        },
        41,
    );
    assert_eq!(b[10].rejected, 0);
    assert_eq!(b[40].admitted, 20);
}

#[test]
fn deterministic() {
    let p = policy(7, Period::Second, 3);
    let t = Traffic::Burst {
        base_rps: 3,
        burst_rps: 90,
        every_s: 7,
        length_s: 3,
    };
    assert_eq!(run(&p, t, 120), run(&p, t, 120));
}

#[test]
fn bounded_with_clear_errors() {
    let p = policy(10, Period::Second, 0);
    assert_eq!(
        simulate(&p, &Traffic::Constant { rps: 1 }, 0),
        Err(PreviewError::ZeroDuration)
    );
    let e = simulate(&p, &Traffic::Constant { rps: 1 }, 601).expect_err("too long");
    assert_eq!(
        e,
        PreviewError::DurationTooLong {
            duration_s: 601,
            max_s: 600
        }
    );
    assert_eq!(
        e.to_string(),
        "A preview of 601 s is longer than the 600 s maximum."
    );
    let e = simulate(&p, &Traffic::Constant { rps: 10_000 }, 600).expect_err("6 M requests");
    assert_eq!(
        e,
        PreviewError::TooManyRequests {
            requests: 6_000_000,
            max: MAX_REQUESTS
        }
    );
    assert!(e
        .to_string()
        .contains("6000000 requests in total, more than the 2000000"));
    assert!(
        simulate(&p, &Traffic::Constant { rps: 10_000 }, 200).is_ok(),
        "exactly the cap"
    );
    let bad = Traffic::Burst {
        base_rps: 1,
        burst_rps: 2,
        every_s: 0,
        length_s: 0,
    };
    assert_eq!(simulate(&p, &bad, 10), Err(PreviewError::BadBurst));
}

// ---- effective limit ----

#[test]
fn gate_scope_multiplies_by_the_replicas() {
    let p = policy(100, Period::Minute, 20);
    let e = effective_limit(&p, 3);
    assert_eq!((e.replicas, e.rate, e.burst, e.exact), (3, 300, 60, false));
    assert!((e.rate_per_s - 5.0).abs() < 1e-9);
    assert!(
        e.explanation.contains("each of the 3 gates counts alone"),
        "{}",
        e.explanation
    );
    assert!(
        e.explanation
            .contains("3 × 100 = 300 per minute (5 per second) with a burst of 3 × 20 = 60"),
        "{}",
        e.explanation
    );
    assert_eq!(
        e.warning, None,
        "per-IP limits per gate are a deliberate choice"
    );

    let one = effective_limit(&p, 1);
    assert_eq!((one.rate, one.burst), (100, 20));
    assert!(
        one.explanation.contains("with one gate"),
        "{}",
        one.explanation
    );
    let none = effective_limit(&p, 0);
    assert_eq!((none.replicas, none.rate), (1, 100));
    assert!(none.explanation.contains("No gate is enrolled yet"));
}

#[test]
fn cluster_scope_is_exact() {
    let mut p = policy(100, Period::Minute, 20);
    p.scope = Scope::Cluster;
    p.key = KeyBy::Global;
    let e = effective_limit(&p, 12);
    assert_eq!(
        (e.rate, e.burst, e.exact, e.warning.clone()),
        (100, 20, true, None)
    );
    assert!(
        e.explanation.contains("all gates share one count"),
        "{}",
        e.explanation
    );
}

#[test]
fn a_gate_scoped_global_or_client_limit_is_flagged() {
    let mut p = policy(1_000, Period::Second, 0);
    p.key = KeyBy::Global;
    let w = effective_limit(&p, 3).warning.expect("global per gate");
    assert!(
        w.contains("the fleet as a whole admits 3 × 1000 = 3000 per second, not 1000"),
        "{w}"
    );
    assert!(w.contains("use scope “cluster”"));
    p.key = KeyBy::Client;
    let w = effective_limit(&p, 3).warning.expect("client per gate");
    assert!(
        w.contains("a client can get 3 × 1000 = 3000 per second"),
        "{w}"
    );
    assert_eq!(
        effective_limit(&p, 1).warning,
        None,
        "one gate: exact today"
    );
    p.key = KeyBy::Subject;
    assert_eq!(effective_limit(&p, 3).warning, None);
}

#[test]
fn shadow_and_delay_are_mentioned() {
    let mut p = policy(10, Period::Second, 0);
    p.mode = Mode::Shadow;
    p.action = Action::Delay { max_delay_ms: 250 };
    let e = effective_limit(&p, 2);
    assert!(
        e.explanation.contains("wait up to 250 ms"),
        "{}",
        e.explanation
    );
    assert!(
        e.explanation.contains("in shadow: nothing is refused yet"),
        "{}",
        e.explanation
    );
}
