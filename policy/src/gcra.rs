//! Generic Cell Rate Algorithm (GCRA, ITU-T I.371 "virtual scheduling"): a limiter whose whole
//! state per key is one timestamp, the theoretical arrival time (TAT).
//!
//! All arithmetic is in integer nanoseconds with an injected clock, so there is no
//! floating-point drift over long runs and tests control time exactly. Over any window of
//! length `t`, at most `rate · t + burst` requests are admitted.

use serde::{Deserialize, Serialize};

/// `count` requests per `period_ns`, with `burst` extra requests allowed at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub count: u32,
    pub period_ns: u64,
    pub burst: u32,
}

impl Quota {
    pub const fn per_minute(count: u32, burst: u32) -> Self {
        Quota {
            count,
            period_ns: 60_000_000_000,
            burst,
        }
    }

    /// Time between two requests at the steady rate (the emission interval T).
    pub fn emission_interval_ns(&self) -> u64 {
        self.period_ns / u64::from(self.count.max(1))
    }

    /// How far ahead of now the TAT may run (the delay variation tolerance τ).
    pub fn tolerance_ns(&self) -> u64 {
        self.emission_interval_ns() * u64::from(self.burst)
    }
}

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Admitted; store `new_tat` as the key's state.
    Allow { new_tat: u64 },
    /// Refused; the earliest time from now a request could pass.
    Deny { retry_after_ns: u64 },
}

/// Decides one request at `now_ns` given the key's stored TAT (`None` for a new key).
pub fn check(quota: &Quota, tat: Option<u64>, now_ns: u64) -> Decision {
    let t = quota.emission_interval_ns();
    let tau = quota.tolerance_ns();
    let tat = tat.unwrap_or(now_ns).max(now_ns);
    // The request conforms if it does not arrive earlier than TAT - τ.
    let earliest = tat.saturating_sub(tau);
    if now_ns < earliest {
        Decision::Deny {
            retry_after_ns: earliest - now_ns,
        }
    } else {
        Decision::Allow { new_tat: tat + t }
    }
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
}
