//! Generic Cell Rate Algorithm (GCRA, ITU-T I.371 §4.4.2 "virtual scheduling"): a limiter whose
//! whole state per key is one timestamp, the theoretical arrival time (TAT).
//!
//! Invariants:
//! - **Exact arithmetic.** Time is integer nanoseconds from an injected clock (no `Instant`, no
//!   floating point), and the emission interval `T = period / count` is kept as a rational
//!   (`q + r / count` ns), so the TAT ([`Tat`]) never drifts, whatever the rate (3 per second
//!   included). The only rounding is in comparisons with the whole-nanosecond clock, and it
//!   does not accumulate.
//! - **Accuracy.** From a fresh key under any overload, the requests admitted in `[0, t)` are
//!   `rate·t + burst` (+1 for rounding when `t` is not a multiple of `T`). In any window of
//!   length `t` at most `⌈rate·(t + 1 ns)⌉ + burst + 1` are admitted (strict GCRA: `⌊…⌋`; the
//!   difference is the price of the jitter allowance below, and never accumulates).
//! - **Late arrivals keep their slot.** A request arriving less than one emission interval after
//!   the TAT is scheduled from the TAT, not from its own arrival (the "jitter allowance" below).
//!   Without it a client sending faster than the rate through a jittery network forfeits the
//!   lateness of every admitted request, which is how strict limiters end up admitting 60–90 % of
//!   the configured rate when there is no burst.
//!
//! [`Gcra`] is the decision (pure, copyable, one per quota); [`Limiter`] keeps the state of many
//! keys in a bounded table. [`check`] is the original single-step helper over a `u64` TAT, kept
//! for callers that store the state themselves (sign-in throttling in `domain`).
//! This module depends on nothing but `core`/`alloc`/`std::collections` and serde.

use serde::{Deserialize, Serialize};

mod limiter;
pub use limiter::{Limiter, SLOT_BYTES};

/// Nanoseconds in one second.
pub const NS_PER_S: u64 = 1_000_000_000;

/// `count` requests per `period_ns`, with `burst` extra requests allowed at once.
///
/// In ITU-T I.371 terms the emission interval is `T = period_ns / count` and the tolerance is
/// `τ = burst · T`: a fresh key may send `burst + 1` requests at the same instant, then one per
/// `T`. A `count` of 0 is treated as 1 (validation refuses it before it gets here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quota {
    pub count: u32,
    pub period_ns: u64,
    pub burst: u32,
}

impl Quota {
    pub const fn new(count: u32, period_ns: u64, burst: u32) -> Self {
        Quota {
            count,
            period_ns,
            burst,
        }
    }

    pub const fn per_second(count: u32, burst: u32) -> Self {
        Quota::new(count, NS_PER_S, burst)
    }

    pub const fn per_minute(count: u32, burst: u32) -> Self {
        Quota::new(count, 60 * NS_PER_S, burst)
    }

    pub const fn per_hour(count: u32, burst: u32) -> Self {
        Quota::new(count, 3_600 * NS_PER_S, burst)
    }

    pub const fn per_day(count: u32, burst: u32) -> Self {
        Quota::new(count, 86_400 * NS_PER_S, burst)
    }

    /// Time between two requests at the steady rate (the emission interval T), rounded down to
    /// whole nanoseconds. For display; the decision uses the exact rational ([`Gcra`]).
    pub fn emission_interval_ns(&self) -> u64 {
        self.period_ns / u64::from(self.count.max(1))
    }

    /// How far ahead of now the TAT may run (the tolerance τ = burst · T), rounded down.
    pub fn tolerance_ns(&self) -> u64 {
        let exact =
            u128::from(self.burst) * u128::from(self.period_ns) / u128::from(self.count.max(1));
        u64::try_from(exact).unwrap_or(u64::MAX)
    }
}

/// The outcome of one check through [`check`] or [`Limiter::decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Admitted; `new_tat` is the key's new TAT in ns, rounded up to a whole nanosecond.
    Allow { new_tat: u64 },
    /// Refused; the earliest time from now a request could pass.
    Deny { retry_after_ns: u64 },
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}

/// The exact theoretical arrival time of a key: `ns + frac / count` nanoseconds, where `count`
/// is the quota's count. A `Tat` only means something together with the [`Gcra`] that made it.
///
/// 16 bytes (12 of data); ordered by time.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Tat {
    pub ns: u64,
    pub frac: u32,
}

impl Tat {
    /// A whole-nanosecond instant.
    pub const fn at(ns: u64) -> Self {
        Tat { ns, frac: 0 }
    }

    /// The instant rounded up to a whole nanosecond.
    pub const fn ceil_ns(self) -> u64 {
        self.ns.saturating_add(if self.frac > 0 { 1 } else { 0 })
    }
}

/// The outcome of [`Gcra::check`]: like [`Decision`], plus the exact new state and the
/// "admit after a wait" case used by the `delay` action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Conforms now; store `tat`.
    Allow { tat: Tat },
    /// Conforms after `wait_ns` (≤ the `max_wait_ns` asked for); store `tat` now (the slot is
    /// reserved) and hold the request for `wait_ns`.
    Delay { tat: Tat, wait_ns: u64 },
    /// Does not conform within `max_wait_ns`; the state is unchanged. A request could pass
    /// `retry_after_ns` from now.
    Deny { retry_after_ns: u64 },
}

impl Outcome {
    /// The state to store, if the request was admitted (now or after a wait).
    pub fn tat(&self) -> Option<Tat> {
        match *self {
            Outcome::Allow { tat } | Outcome::Delay { tat, .. } => Some(tat),
            Outcome::Deny { .. } => None,
        }
    }

    pub fn is_admitted(&self) -> bool {
        !matches!(self, Outcome::Deny { .. })
    }
}

impl From<Outcome> for Decision {
    fn from(o: Outcome) -> Decision {
        match o {
            Outcome::Allow { tat } | Outcome::Delay { tat, .. } => Decision::Allow {
                new_tat: tat.ceil_ns(),
            },
            Outcome::Deny { retry_after_ns } => Decision::Deny { retry_after_ns },
        }
    }
}

/// A [`Quota`] prepared for deciding: the emission interval and tolerance as exact rationals
/// over `count`. Copy it freely (48 bytes); building one costs two 128-bit divisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gcra {
    quota: Quota,
    /// Denominator of every fraction, `count.max(1)`.
    den: u64,
    /// Emission interval T = `t_ns + t_frac / den`.
    t_ns: u64,
    t_frac: u64,
    /// Tolerance τ = burst · T = `tau_ns + tau_frac / den`.
    tau_ns: u64,
    tau_frac: u64,
}

/// A [`Gcra`]'s numbers: T = `t_ns + t_frac / den`, τ = `tau_ns + tau_frac / den`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcraParts {
    pub den: u64,
    pub t_ns: u64,
    pub t_frac: u64,
    pub tau_ns: u64,
    pub tau_frac: u64,
}

impl From<Quota> for Gcra {
    fn from(quota: Quota) -> Self {
        Gcra::new(quota)
    }
}

impl Gcra {
    pub fn new(quota: Quota) -> Self {
        let den = u64::from(quota.count.max(1));
        let tau = u128::from(quota.burst) * u128::from(quota.period_ns);
        let (tau_ns, tau_frac) = match u64::try_from(tau / u128::from(den)) {
            Ok(q) => (q, (tau % u128::from(den)) as u64),
            Err(_) => (u64::MAX, 0),
        };
        Gcra {
            quota,
            den,
            t_ns: quota.period_ns / den,
            t_frac: quota.period_ns % den,
            tau_ns,
            tau_frac,
        }
    }

    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// The exact emission interval and tolerance this decides with, for an implementation of
    /// [`Gcra::check`] elsewhere (the gate's Redis script) that must use the same numbers.
    pub fn parts(&self) -> GcraParts {
        GcraParts {
            den: self.den,
            t_ns: self.t_ns,
            t_frac: self.t_frac,
            tau_ns: self.tau_ns,
            tau_frac: self.tau_frac,
        }
    }

    /// Decides one request arriving at `now_ns` for a key whose stored state is `tat` (`None`
    /// for a key never seen or forgotten). A request that would conform within `max_wait_ns`
    /// is admitted after that wait ([`Outcome::Delay`]); pass 0 to only allow or deny.
    ///
    /// ITU-T I.371 virtual scheduling, with two refinements that keep it exact on an integer
    /// clock: the conformance instant `TAT − τ` is rounded down to the nanosecond (the TAT
    /// itself stays exact), and a request arriving less than one emission interval after the TAT
    /// is scheduled from the TAT rather than from its arrival (see the module docs).
    pub fn check(&self, tat: Option<Tat>, now_ns: u64, max_wait_ns: u64) -> Outcome {
        let now = Tat::at(now_ns);
        let base = match tat {
            // Backlogged (TAT ahead of now), or late by less than T: keep the schedule.
            Some(t) if t >= now || now_ns - t.ns < self.t_ns => t,
            // Idle for at least T (or new): the schedule restarts now.
            _ => now,
        };
        // floor(base − τ): the first whole nanosecond at which the request conforms.
        let borrow = u64::from(u64::from(base.frac) < self.tau_frac);
        let earliest = base.ns.saturating_sub(self.tau_ns).saturating_sub(borrow);
        if now_ns >= earliest {
            return Outcome::Allow {
                tat: self.advance(base),
            };
        }
        let wait_ns = earliest - now_ns;
        if wait_ns <= max_wait_ns {
            Outcome::Delay {
                tat: self.advance(base),
                wait_ns,
            }
        } else {
            Outcome::Deny {
                retry_after_ns: wait_ns,
            }
        }
    }

    /// `tat + T`, exactly.
    fn advance(&self, tat: Tat) -> Tat {
        let frac = u64::from(tat.frac) + self.t_frac;
        let carry = u64::from(frac >= self.den);
        let frac = if carry == 1 { frac - self.den } else { frac };
        Tat {
            ns: tat.ns.saturating_add(self.t_ns).saturating_add(carry),
            // frac < den ≤ u32::MAX + 1, and den − 1 fits in u32.
            frac: frac as u32,
        }
    }
}

/// Decides one request at `now_ns` given the key's stored TAT in whole ns (`None` for a new
/// key). Same decision as [`Gcra::check`] without a wait, except that the returned TAT is
/// rounded up to a whole nanosecond: when `count` does not divide `period_ns`, that costs at
/// most 1 ns per admitted request (always in the strict direction). Use [`Gcra`] with [`Tat`]
/// or [`Limiter`] where exactness over long runs matters.
pub fn check(quota: &Quota, tat: Option<u64>, now_ns: u64) -> Decision {
    Gcra::new(*quota).check(tat.map(Tat::at), now_ns, 0).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(quota: Quota, offered_per_s: u64, seconds: u64) -> u64 {
        let mut tat = None;
        let mut n = 0;
        let step = 1_000_000_000 / offered_per_s;
        let mut now = 1_000_000_000_000;
        let end = now + seconds * 1_000_000_000;
        while now < end {
            if let Decision::Allow { new_tat } = check(&quota, tat, now) {
                tat = Some(new_tat);
                n += 1;
            }
            now += step;
        }
        n
    }

    #[test]
    fn admits_rate_times_t_plus_burst_under_tenfold_overload() {
        for (rate, burst) in [(10u32, 0u32), (10, 5), (1000, 0), (1000, 100)] {
            let q = Quota {
                count: rate,
                period_ns: 1_000_000_000,
                burst,
            };
            let got = admitted(q, u64::from(rate) * 10, 20);
            let want = u64::from(rate) * 20 + u64::from(burst);
            assert!(
                got.abs_diff(want) <= 1,
                "rate {rate} burst {burst}: admitted {got}, want {want}"
            );
        }
    }

    #[test]
    fn denial_says_when_to_retry() {
        let q = Quota::per_minute(1, 0);
        let Decision::Allow { new_tat } = check(&q, None, 0) else {
            panic!("first request must pass")
        };
        match check(&q, Some(new_tat), 1_000_000_000) {
            Decision::Deny { retry_after_ns } => assert_eq!(retry_after_ns, 59_000_000_000),
            other => panic!("expected a denial, got {other:?}"),
        }
        assert!(matches!(
            check(&q, Some(new_tat), 60_000_000_000),
            Decision::Allow { .. }
        ));
    }

    #[test]
    fn emission_interval_is_exact_for_three_per_second() {
        let g = Gcra::new(Quota::per_second(3, 0));
        let mut tat = Tat::at(0);
        for _ in 0..3 {
            tat = g.advance(tat);
        }
        assert_eq!(
            tat,
            Tat::at(NS_PER_S),
            "three intervals of 1/3 s make exactly 1 s"
        );
        assert_eq!(
            g.advance(Tat::at(0)),
            Tat {
                ns: 333_333_333,
                frac: 1
            }
        );
    }

    #[test]
    fn fresh_key_gets_burst_plus_one_at_once_then_one_per_interval() {
        let g = Gcra::new(Quota::per_second(10, 4));
        let mut tat = None;
        for i in 0..5 {
            let o = g.check(tat, 0, 0);
            assert!(o.is_admitted(), "request {i} of the burst");
            tat = o.tat();
        }
        assert_eq!(
            g.check(tat, 0, 0),
            Outcome::Deny {
                retry_after_ns: 100_000_000
            }
        );
        assert!(g.check(tat, 100_000_000, 0).is_admitted());
    }

    #[test]
    fn delay_reserves_the_slot_and_says_how_long_to_wait() {
        let g = Gcra::new(Quota::per_second(10, 0));
        let first = g.check(None, 0, 0).tat();
        match g.check(first, 30_000_000, 100_000_000) {
            Outcome::Delay { tat, wait_ns } => {
                assert_eq!(wait_ns, 70_000_000);
                assert_eq!(tat, Tat::at(200_000_000));
            }
            other => panic!("expected a delay, got {other:?}"),
        }
        assert_eq!(
            g.check(first, 30_000_000, 69_999_999),
            Outcome::Deny {
                retry_after_ns: 70_000_000
            }
        );
    }

    #[test]
    fn a_late_arrival_keeps_its_slot_but_an_idle_key_restarts() {
        let g = Gcra::new(Quota::per_second(10, 0));
        let tat = g.check(None, 0, 0).tat();
        // Due at 100 ms, arrives at 190 ms: scheduled from 100 ms, so the next is due at 200 ms.
        let late = g.check(tat, 190_000_000, 0);
        assert_eq!(
            late,
            Outcome::Allow {
                tat: Tat::at(200_000_000)
            }
        );
        // Arriving a whole interval late or more restarts the schedule from the arrival.
        let idle = g.check(tat, 200_000_000, 0);
        assert_eq!(
            idle,
            Outcome::Allow {
                tat: Tat::at(300_000_000)
            }
        );
        let idle = g.check(tat, 250_000_000, 0);
        assert_eq!(
            idle,
            Outcome::Allow {
                tat: Tat::at(350_000_000)
            }
        );
    }

    #[test]
    fn huge_quotas_saturate_instead_of_overflowing() {
        let g = Gcra::new(Quota::new(1, u64::MAX, u32::MAX));
        assert!(g.check(Some(Tat::at(u64::MAX)), u64::MAX, 0).is_admitted());
        // 4.29 billion per second: sub-nanosecond spacing, still counted exactly.
        let g = Gcra::new(Quota::new(u32::MAX, NS_PER_S, 0));
        let (mut tat, mut n) = (None, 0);
        for _ in 0..20 {
            if let Some(t) = g.check(tat, 5, 0).tat() {
                tat = Some(t);
                n += 1;
            }
        }
        assert_eq!(
            n, 5,
            "4.29 per ns, plus the sub-ns rounding of the conformance instant"
        );
    }
}
