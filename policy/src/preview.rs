//! Preview: what a policy would do to a synthetic traffic pattern, second by second, computed
//! by the very decision the gate runs ([`crate::gcra::Gcra::check`]) on a simulated clock.
//!
//! Invariants: deterministic (same input, same buckets, in the browser and on the server);
//! bounded (at most [`MAX_DURATION_S`] seconds and [`MAX_REQUESTS`] simulated requests, refused
//! up front with a [`PreviewError`]); integer arithmetic throughout.
//!
//! The traffic is one key's (one client, one address…; for a `global` key, all of it) as seen
//! by one gate; [`crate::effective`] covers what several gates change. Within each second the
//! offered requests are spread evenly: request `i` of `n` arrives at `i·10⁹/n` ns into it.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::gcra::{Gcra, Outcome, Tat, NS_PER_S};
use crate::model::{Action, Policy};

/// Longest preview.
pub const MAX_DURATION_S: u32 = 600;
/// Most requests one preview may simulate.
pub const MAX_REQUESTS: u64 = 2_000_000;

/// A synthetic traffic pattern, in requests per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Traffic {
    /// `rps` every second.
    Constant { rps: u32 },
    /// `base_rps`, with `burst_rps` for `length_s` seconds every `every_s` seconds, the first
    /// burst starting at `every_s` (so the chart shows the steady state first).
    Burst {
        base_rps: u32,
        burst_rps: u32,
        every_s: u32,
        length_s: u32,
    },
    /// From `from_rps` in the first second to `to_rps` in the last, linearly (rounded to
    /// whole requests).
    Ramp { from_rps: u32, to_rps: u32 },
}

/// One second of the preview. `offered = admitted + delayed + rejected`; requests are counted
/// in the second they arrive. While the policy is not enforced (shadow mode or action),
/// everything is admitted and `shadow_rejected` / `shadow_delayed` count what enforcing it
/// would have rejected or delayed (those requests are included in `admitted`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Bucket {
    pub t_s: u32,
    pub offered: u32,
    /// Passed at once (in shadow: every request).
    pub admitted: u32,
    /// Held until they conform (`delay` action, enforced), then passed.
    pub delayed: u32,
    /// Refused with 429 (enforced).
    pub rejected: u32,
    /// Would have been refused if enforced.
    pub shadow_rejected: u32,
    /// Would have been delayed if enforced.
    pub shadow_delayed: u32,
}

/// Why a preview was not computed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewError {
    ZeroDuration,
    DurationTooLong {
        duration_s: u32,
        max_s: u32,
    },
    TooManyRequests {
        requests: u64,
        max: u64,
    },
    /// A burst pattern needs `every_s ≥ 1` and `length_s ≤ every_s`.
    BadBurst,
}

impl fmt::Display for PreviewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreviewError::ZeroDuration => write!(f, "The preview needs at least 1 second."),
            PreviewError::DurationTooLong { duration_s, max_s } => write!(
                f,
                "A preview of {duration_s} s is longer than the {max_s} s maximum."
            ),
            PreviewError::TooManyRequests { requests, max } => write!(
                f,
                "This traffic is {requests} requests in total, more than the {max} a preview \
                 simulates; shorten it or lower the rate."
            ),
            PreviewError::BadBurst => write!(
                f,
                "A burst needs “every” of at least 1 s and a length no longer than “every”."
            ),
        }
    }
}

impl std::error::Error for PreviewError {}

impl Traffic {
    /// Requests offered in second `t_s` of a preview lasting `duration_s`.
    pub fn rps_at(&self, t_s: u32, duration_s: u32) -> u32 {
        match *self {
            Traffic::Constant { rps } => rps,
            Traffic::Burst {
                base_rps,
                burst_rps,
                every_s,
                length_s,
            } => {
                if every_s > 0 && t_s >= every_s && t_s % every_s < length_s {
                    burst_rps
                } else {
                    base_rps
                }
            }
            Traffic::Ramp { from_rps, to_rps } => {
                if duration_s <= 1 {
                    return from_rps;
                }
                let span = u64::from(duration_s - 1);
                let t = u64::from(t_s.min(duration_s - 1));
                let num = u64::from(from_rps) * (span - t) + u64::from(to_rps) * t;
                // Rounded half up; between the two ends, so it fits in u32.
                ((num + span / 2) / span) as u32
            }
        }
    }

    /// Total requests over `duration_s` seconds.
    pub fn total(&self, duration_s: u32) -> u64 {
        (0..duration_s)
            .map(|t| u64::from(self.rps_at(t, duration_s)))
            .sum()
    }
}

/// Runs `policy`'s limit over `traffic` for `duration_s` seconds from a fresh key, one
/// [`Bucket`] per second. Does not validate the policy (call [`crate::validate::validate`]).
pub fn simulate(
    policy: &Policy,
    traffic: &Traffic,
    duration_s: u32,
) -> Result<Vec<Bucket>, PreviewError> {
    if duration_s == 0 {
        return Err(PreviewError::ZeroDuration);
    }
    if duration_s > MAX_DURATION_S {
        return Err(PreviewError::DurationTooLong {
            duration_s,
            max_s: MAX_DURATION_S,
        });
    }
    if let Traffic::Burst {
        every_s, length_s, ..
    } = *traffic
    {
        if every_s == 0 || length_s > every_s {
            return Err(PreviewError::BadBurst);
        }
    }
    let requests = traffic.total(duration_s);
    if requests > MAX_REQUESTS {
        return Err(PreviewError::TooManyRequests {
            requests,
            max: MAX_REQUESTS,
        });
    }

    let gcra = Gcra::new(policy.limit.quota());
    let enforced = policy.enforces();
    let max_wait_ns = match policy.action {
        Action::Delay { max_delay_ms } => u64::from(max_delay_ms) * 1_000_000,
        Action::Reject | Action::Shadow => 0,
    };
    let mut tat: Option<Tat> = None;
    let mut buckets = Vec::with_capacity(duration_s as usize);
    for t_s in 0..duration_s {
        let n = traffic.rps_at(t_s, duration_s);
        let start = u64::from(t_s) * NS_PER_S;
        let mut b = Bucket {
            t_s,
            offered: n,
            ..Bucket::default()
        };
        for i in 0..u64::from(n) {
            let now = start + i * NS_PER_S / u64::from(n);
            let outcome = gcra.check(tat, now, max_wait_ns);
            if let Some(t) = outcome.tat() {
                tat = Some(t);
            }
            match (outcome, enforced) {
                (Outcome::Allow { .. }, _) => b.admitted += 1,
                (Outcome::Delay { .. }, true) => b.delayed += 1,
                (Outcome::Delay { .. }, false) => {
                    b.admitted += 1;
                    b.shadow_delayed += 1;
                }
                (Outcome::Deny { .. }, true) => b.rejected += 1,
                (Outcome::Deny { .. }, false) => {
                    b.admitted += 1;
                    b.shadow_rejected += 1;
                }
            }
        }
        buckets.push(b);
    }
    Ok(buckets)
}

/// Sums of a preview, for a caption ("admitted 6,010 of 60,000").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Totals {
    pub offered: u64,
    pub admitted: u64,
    pub delayed: u64,
    pub rejected: u64,
    pub shadow_rejected: u64,
    pub shadow_delayed: u64,
}

pub fn totals(buckets: &[Bucket]) -> Totals {
    buckets.iter().fold(Totals::default(), |mut t, b| {
        t.offered += u64::from(b.offered);
        t.admitted += u64::from(b.admitted);
        t.delayed += u64::from(b.delayed);
        t.rejected += u64::from(b.rejected);
        t.shadow_rejected += u64::from(b.shadow_rejected);
        t.shadow_delayed += u64::from(b.shadow_delayed);
        t
    })
}
