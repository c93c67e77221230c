//! Console sessions: server-side records keyed by the hash of a random id, with an idle and an
//! absolute timeout. The id is new at every sign-in (no fixation) and lives only in the cookie.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long a session may live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

impl Default for SessionPolicy {
    /// 30 minutes idle, 12 hours absolute (OWASP Session Management Cheat Sheet ranges for
    /// high-value applications).
    fn default() -> Self {
        SessionPolicy {
            idle_ms: 30 * 60 * 1000,
            absolute_ms: 12 * 60 * 60 * 1000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id_hash: String,
    pub admin_id: Uuid,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// When the admin last confirmed with a passkey in this session (step-up).
    #[serde(default)]
    pub stepped_up_at_ms: Option<i64>,
}

/// How long a step-up (a fresh passkey confirmation) covers sensitive actions.
pub const STEP_UP_VALID_MS: i64 = 5 * 60 * 1000;

/// Why a session no longer counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    Idle,
    Absolute,
}

/// `last_seen` is written at most this often, so reading pages does not write on every request.
pub const TOUCH_EVERY_MS: i64 = 60 * 1000;

impl SessionPolicy {
    pub fn check(&self, s: &SessionRecord, now_ms: i64) -> Result<(), SessionEnd> {
        if now_ms - s.created_at_ms >= self.absolute_ms {
            return Err(SessionEnd::Absolute);
        }
        if now_ms - s.last_seen_at_ms >= self.idle_ms {
            return Err(SessionEnd::Idle);
        }
        Ok(())
    }

    /// Whether `last_seen` should be refreshed now.
    pub fn needs_touch(s: &SessionRecord, now_ms: i64) -> bool {
        now_ms - s.last_seen_at_ms >= TOUCH_EVERY_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(created: i64, seen: i64) -> SessionRecord {
        SessionRecord {
            stepped_up_at_ms: None,
            id_hash: "h".into(),
            admin_id: Uuid::nil(),
            created_at_ms: created,
            last_seen_at_ms: seen,
            ip: None,
            user_agent: None,
        }
    }

    #[test]
    fn idle_and_absolute_timeouts() {
        let p = SessionPolicy {
            idle_ms: 100,
            absolute_ms: 1_000,
        };
        assert_eq!(p.check(&rec(0, 0), 99), Ok(()));
        assert_eq!(p.check(&rec(0, 0), 100), Err(SessionEnd::Idle));
        assert_eq!(p.check(&rec(0, 950), 999), Ok(()));
        assert_eq!(p.check(&rec(0, 990), 1_000), Err(SessionEnd::Absolute));
        assert!(SessionPolicy::needs_touch(&rec(0, 0), TOUCH_EVERY_MS));
        assert!(!SessionPolicy::needs_touch(&rec(0, 1), TOUCH_EVERY_MS));
    }
}
