//! Sign-in throttling that cannot lock the owner out: sign-in **starts** are limited per client
//! network (an IPv4 address, or an IPv6 /64, which one host can fill with addresses), never per
//! username, so nobody can keep an admin out by starting sign-ins under their name; **failed
//! finishes** are limited per username (a passkey assertion cannot be guessed, but a flood of
//! refused ones is noise in the audit log), and a valid assertion always signs in, over the
//! limit or not. GCRA from `policy`, in bounded tables that evict the oldest key rather than
//! refuse everyone when full.
//!
//! In memory per console process: a restart forgets the counts, and several replicas each
//! count alone (noted in the README).

use std::net::IpAddr;
use std::sync::Mutex;

use policy::gcra::{Decision, Limiter, Quota};

/// Sign-in starts per client network: 11 at once, then one every 6 s (OWASP's advice: slow
/// online guessing without locking anyone out for long).
pub const STARTS_PER_NETWORK: Quota = Quota::per_minute(10, 10);
/// Failed sign-in finishes per username: 5 at once, then one every 12 s.
pub const FAILURES_PER_USER: Quota = Quota::per_minute(5, 4);
/// Keys each table holds before it evicts.
const MAX_KEYS: usize = 65_536;

pub struct Throttle {
    starts: Mutex<Limiter>,
    failures: Mutex<Limiter>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            starts: Mutex::new(Limiter::new(STARTS_PER_NETWORK, MAX_KEYS)),
            failures: Mutex::new(Limiter::new(FAILURES_PER_USER, MAX_KEYS)),
        }
    }
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Throttle")
    }
}

/// The key a client's starts count under: its IPv4 address, or its IPv6 /64 (IPv4-mapped IPv6
/// counts as the IPv4 address); the text of an address that does not parse.
pub fn network_key(ip: &str) -> Vec<u8> {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.octets().to_vec(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets()[..8].to_vec(),
        },
        Err(_) => ip.as_bytes().to_vec(),
    }
}

fn decide(table: &Mutex<Limiter>, key: &[u8], now_ns: u64) -> Result<(), u64> {
    match table
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .decide(key, now_ns)
    {
        Decision::Allow { .. } => Ok(()),
        Decision::Deny { retry_after_ns } => Err(retry_after_ns.div_ceil(1_000_000_000).max(1)),
    }
}

impl Throttle {
    /// A sign-in start from the client at `ip`; `Err(seconds to wait)` over the limit.
    pub fn start(&self, ip: &str, now_ns: u64) -> Result<(), u64> {
        decide(&self.starts, &network_key(ip), now_ns)
    }

    /// A failed sign-in finish for `username`; `Err(seconds to wait)` over the limit.
    pub fn failed_finish(&self, username: &str, now_ns: u64) -> Result<(), u64> {
        decide(&self.failures, username.as_bytes(), now_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn starts_count_per_network_and_recover() {
        let t = Throttle::default();
        for _ in 0..11 {
            assert_eq!(t.start("192.0.2.1", S), Ok(()));
        }
        assert_eq!(t.start("192.0.2.1", S), Err(6));
        // Another address is not affected; the same address recovers one start per 6 s.
        assert_eq!(t.start("192.0.2.2", S), Ok(()));
        assert_eq!(t.start("192.0.2.1", 7 * S), Ok(()));
        // IPv6 counts per /64: a host rotating its interface id gains nothing.
        for i in 0..11 {
            assert_eq!(t.start(&format!("2001:db8:0:1::{i:x}"), S), Ok(()), "{i}");
        }
        assert!(t.start("2001:db8:0:1::ffff", S).is_err());
        assert_eq!(t.start("2001:db8:0:2::1", S), Ok(()), "another /64");
        assert_eq!(network_key("::ffff:192.0.2.9"), network_key("192.0.2.9"));
    }

    #[test]
    fn failures_count_per_user_and_a_full_table_evicts_instead_of_refusing() {
        let t = Throttle::default();
        for _ in 0..5 {
            assert_eq!(t.failed_finish("alice", S), Ok(()));
        }
        assert!(t.failed_finish("alice", S).is_err());
        assert_eq!(t.failed_finish("bob", S), Ok(()));
        // Far more networks than the table holds: new ones are still served.
        for i in 0..(MAX_KEYS as u32 + 1_000) {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            assert_eq!(t.start(&ip, S), Ok(()), "{ip}");
        }
    }
}
