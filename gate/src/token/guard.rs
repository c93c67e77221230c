//! What keeps the token endpoint from being a guessing oracle: failed client authentications
//! are limited per client id and per client IP (IPv6 per /64), checked **before** any secret or
//! assertion is verified, so a guesser gets 429s instead of answers; and each `private_key_jwt`
//! assertion's `jti` is accepted once within the assertion's lifetime.
//!
//! Both are this gate's memory: replicas do not share them (a replayed assertion sent to
//! another replica within its lifetime is not caught; assertions live at most
//! [`MAX_ASSERTION_LIFETIME_S`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use policy::gcra::{Limiter, Quota};

/// Failed authentications tolerated per client id: 10 at once, then one per 6 s.
pub const CLIENT_FAILURES: Quota = Quota::per_minute(10, 9);
/// Failed authentications tolerated per IP (/64 for IPv6): 30 at once, then one per 2 s.
pub const IP_FAILURES: Quota = Quota::per_minute(30, 29);
/// An assertion whose `exp` is further away than this (plus the leeway) is refused: it bounds
/// how long a `jti` is remembered. One hour, the lifetime common client libraries give their
/// assertions (Authlib's default).
pub const MAX_ASSERTION_LIFETIME_S: i64 = 3_600;
/// Assertions remembered at once; when full of unexpired ones, assertions are refused (503)
/// rather than forgotten (forgetting would let a replay through).
pub const MAX_REMEMBERED_JTIS: usize = 100_000;

pub struct Failures {
    clients: Mutex<Limiter>,
    ips: Mutex<Limiter>,
}

/// The part of an address a failure counts against: IPv4 whole, IPv6 by /64.
fn ip_key(ip: IpAddr) -> [u8; 8] {
    match ip {
        IpAddr::V4(v4) => {
            let mut k = [0u8; 8];
            k[..4].copy_from_slice(&v4.octets());
            k[4] = 4;
            k
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => ip_key(IpAddr::V4(v4)),
            None => {
                let mut k = [0u8; 8];
                k.copy_from_slice(&v6.octets()[..8]);
                k
            }
        },
    }
}

impl Failures {
    pub fn new(max_keys: usize) -> Self {
        Failures {
            clients: Mutex::new(Limiter::new(CLIENT_FAILURES, max_keys)),
            ips: Mutex::new(Limiter::new(IP_FAILURES, max_keys)),
        }
    }

    /// `Some(retry after, ns)` when `client_id` or `ip` has no failure left to spend.
    pub fn exhausted(&self, client_id: &str, ip: IpAddr, now_ns: u64) -> Option<u64> {
        let wait = |l: &Mutex<Limiter>, key: &[u8]| {
            let l = l.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match l.gcra().check(l.peek(key), now_ns, 0).into() {
                policy::gcra::Decision::Deny { retry_after_ns } => Some(retry_after_ns),
                policy::gcra::Decision::Allow { .. } => None,
            }
        };
        let a = wait(&self.clients, client_id.as_bytes());
        let b = wait(&self.ips, &ip_key(ip));
        a.max(b)
    }

    /// Spends one failure of `client_id` and of `ip`.
    pub fn failed(&self, client_id: &str, ip: IpAddr, now_ns: u64) {
        let spend = |l: &Mutex<Limiter>, key: &[u8]| {
            l.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .decide(key, now_ns);
        };
        spend(&self.clients, client_id.as_bytes());
        spend(&self.ips, &ip_key(ip));
    }
}

/// The `jti`s of accepted assertions, until their `exp`.
#[derive(Default)]
pub struct Replays(Mutex<HashMap<(String, String), i64>>);

/// Whether an assertion may be accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    First,
    Replayed,
    /// Memory full of unexpired assertions.
    Full,
}

impl Replays {
    /// Remembers `(client_id, jti)` until `exp_s`; [`Seen::Replayed`] if it was already there.
    pub fn first_use(&self, client_id: &str, jti: &str, exp_s: i64, now_s: i64) -> Seen {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (client_id.to_owned(), jti.to_owned());
        if m.get(&key).is_some_and(|&exp| exp >= now_s) {
            return Seen::Replayed;
        }
        if m.len() >= MAX_REMEMBERED_JTIS {
            m.retain(|_, &mut exp| exp >= now_s);
            if m.len() >= MAX_REMEMBERED_JTIS {
                return Seen::Full;
            }
        }
        m.insert(key, exp_s);
        Seen::First
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const S: u64 = 1_000_000_000;

    #[test]
    fn failures_run_out_per_client_and_per_ip_and_come_back() {
        let f = Failures::new(1024);
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        for _ in 0..10 {
            assert_eq!(f.exhausted("c1", ip, S), None);
            f.failed("c1", ip, S);
        }
        let wait = f
            .exhausted("c1", ip, S)
            .expect("the client has no failure left");
        assert!(wait > 5 * S && wait <= 6 * S, "{wait}");
        // Another client from another address is not affected.
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(f.exhausted("c2", other, S), None);
        // One failure comes back every 6 s.
        assert_eq!(f.exhausted("c1", ip, 7 * S), None);
        // An IPv6 client counts per /64: rotating the interface id does not help.
        let mut n = 0;
        while f
            .exhausted(
                &format!("x{n}"),
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, n)),
                S,
            )
            .is_none()
        {
            f.failed(
                &format!("x{n}"),
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, n)),
                S,
            );
            n += 1;
            assert!(n < 100, "the /64 is never limited");
        }
        assert_eq!(n, 30);
        assert_eq!(
            f.exhausted(
                "y",
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1)),
                S
            ),
            None,
            "another /64 is not"
        );
    }

    #[test]
    fn an_assertion_is_accepted_once_until_it_expires() {
        let r = Replays::default();
        assert_eq!(r.first_use("c", "j1", 100, 50), Seen::First);
        assert_eq!(r.first_use("c", "j1", 100, 60), Seen::Replayed);
        assert_eq!(r.first_use("other", "j1", 100, 60), Seen::First);
        // Past its exp the assertion itself is refused by the exp check; the jti may be reused.
        assert_eq!(r.first_use("c", "j1", 200, 101), Seen::First);
    }
}
