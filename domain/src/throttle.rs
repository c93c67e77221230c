//! Sign-in throttling per client IP and per username, with the shared GCRA from `policy`.
//!
//! In memory per console process: a restart forgets the counts, and several replicas each
//! count alone (noted in the README). The table is capped; when full, keys whose allowance has
//! fully recovered are dropped first, then new keys are refused (fail closed).

use std::collections::HashMap;
use std::sync::Mutex;

use policy::gcra::{check, Decision, Quota};

/// Reference numbers: 10 sign-in attempts per minute per IP (burst 10), 5 per minute per
/// username (burst 5), in line with OWASP's advice to slow online guessing without locking
/// the real owner out for long.
pub const PER_IP: Quota = Quota::per_minute(10, 10);
pub const PER_USER: Quota = Quota::per_minute(5, 5);
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
pub struct Throttle {
    state: Mutex<HashMap<String, u64>>,
}

impl Throttle {
    /// Records an attempt for every `(quota, key)`; refuses with the longest wait if any is
    /// over. A refused attempt does not consume allowance for the others.
    pub fn attempt(&self, keys: &[(Quota, String)], now_ns: u64) -> Result<(), u64> {
        let mut map = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut updates = Vec::with_capacity(keys.len());
        let mut wait = 0u64;
        for (quota, key) in keys {
            match check(quota, map.get(key).copied(), now_ns) {
                Decision::Allow { new_tat } => updates.push((key.clone(), new_tat)),
                Decision::Deny { retry_after_ns } => wait = wait.max(retry_after_ns),
            }
        }
        if wait > 0 {
            return Err(wait.div_ceil(1_000_000_000));
        }
        if map.len() + updates.len() > MAX_KEYS {
            map.retain(|_, tat| *tat > now_ns);
            if map.len() + updates.len() > MAX_KEYS {
                return Err(1);
            }
        }
        map.extend(updates);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_limit_trips_before_per_ip_and_recovers() {
        let t = Throttle::default();
        let keys = vec![
            (PER_IP, "ip:1".to_string()),
            (PER_USER, "user:alice".to_string()),
        ];
        for _ in 0..6 {
            assert_eq!(t.attempt(&keys, 0), Ok(()));
        }
        assert_eq!(t.attempt(&keys, 0), Err(12));
        // Another user from the same IP still has allowance left at the IP level.
        assert_eq!(
            t.attempt(&[(PER_IP, "ip:1".into()), (PER_USER, "user:bob".into())], 0),
            Ok(())
        );
        assert_eq!(t.attempt(&keys, 12_000_000_000), Ok(()));
    }
}
