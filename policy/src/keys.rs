//! Signing-key rules the console's server, its browser code and the gate share: the states of a
//! key, which of them are published in the JWKS, the bounds of a key set's timing, and how long
//! a token signed by a key may still be accepted after the key stops signing (the in-flight
//! window). The lifecycle itself (transitions, the rotation plan) is `domain::keys::lifecycle`;
//! the Signing keys page states the same windows the domain schedules, and reads the job's plan
//! as [`PlanStep`]s.
//!
//! A verifier accepts a token until its `exp` plus its clock leeway (RFC 7519 §4.1.4 allows
//! "some small leeway"; `jose` applies the key set's `leeway_s`), so a token signed at the last
//! instant a key was active is accepted for up to `max_token_lifetime + leeway` after that:
//! [`in_flight_window_s`]. A retired key stays published exactly that long.

use serde::{Deserialize, Serialize};

/// The state of a signing key. Next, active and retired keys are published in the JWKS;
/// removed and revoked keys are not, and are terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyState {
    /// Published, not signing yet: waiting for every cached JWKS to hold it.
    Next,
    /// The one key that signs.
    Active,
    /// Published, not signing: tokens it signed may still be valid.
    Retired,
    /// Unpublished once every token it signed had expired.
    Removed,
    /// Unpublished at once by an admin (compromise or mistake).
    Revoked,
}

impl KeyState {
    pub const ALL: [KeyState; 5] = [
        KeyState::Next,
        KeyState::Active,
        KeyState::Retired,
        KeyState::Removed,
        KeyState::Revoked,
    ];

    /// The stored name: "next", "active", "retired", "removed", "revoked" (as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Removed => "removed",
            KeyState::Revoked => "revoked",
        }
    }

    /// Parses a stored name exactly, as [`KeyState::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        KeyState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether a key in this state is in the set's JWKS (and so in a bundle): next, active and
    /// retired keys are.
    pub fn is_published(self) -> bool {
        matches!(self, KeyState::Next | KeyState::Active | KeyState::Retired)
    }

    /// Whether a gate accepts tokens signed by a key in this state: the active key and retired
    /// keys (a next key is published but has not signed anything yet).
    pub fn verifies(self) -> bool {
        matches!(self, KeyState::Active | KeyState::Retired)
    }
}

impl core::fmt::Display for KeyState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind of step the rotation job takes on a key set, as its plan (and audit events) name it:
/// `create_next`, `promote` or `remove`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PlanStep {
    /// A new key is generated and published as next.
    CreateNext,
    /// The next key becomes active; the active one, if any, is retired.
    Promote,
    /// A retired key leaves the JWKS once every token it signed has expired.
    Remove,
}

impl PlanStep {
    pub const ALL: [PlanStep; 3] = [PlanStep::CreateNext, PlanStep::Promote, PlanStep::Remove];

    /// The name: `create_next`, `promote` or `remove` (as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStep::CreateNext => "create_next",
            PlanStep::Promote => "promote",
            PlanStep::Remove => "remove",
        }
    }

    /// Parses a name exactly, as [`PlanStep::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        PlanStep::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl core::fmt::Display for PlanStep {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Shortest rotation period: 1 h.
pub const MIN_ROTATION_PERIOD_S: i64 = 3_600;
/// Longest rotation period: 365 d.
pub const MAX_ROTATION_PERIOD_S: i64 = 365 * 86_400;
/// Shortest cache window: 5 min.
pub const MIN_CACHE_WINDOW_S: i64 = 300;
/// Longest cache window: 7 d.
pub const MAX_CACHE_WINDOW_S: i64 = 7 * 86_400;
/// Shortest token lifetime: 1 min.
pub const MIN_TOKEN_LIFETIME_S: i64 = 60;
/// Longest token lifetime: 24 h.
pub const MAX_TOKEN_LIFETIME_S: i64 = 86_400;
/// Smallest clock leeway: none.
pub const MIN_LEEWAY_S: i64 = 0;
/// Largest clock leeway: 10 min.
pub const MAX_LEEWAY_S: i64 = 600;

/// How long after a key stops signing a token it signed may still be accepted: the longest
/// token lifetime plus the verifiers' clock leeway, in seconds. A retired key stays published
/// this long; revoking a key cuts this window short.
pub fn in_flight_window_s(max_token_lifetime_s: i64, leeway_s: i64) -> i64 {
    max_token_lifetime_s.saturating_add(leeway_s)
}

/// The instant (ms since the Unix epoch) until which tokens signed by a key that stopped
/// signing at `stopped_at_ms` may still be accepted: `stopped_at + lifetime + leeway`. A retired
/// key is removed from the JWKS at this instant.
pub fn in_flight_until_ms(stopped_at_ms: i64, max_token_lifetime_s: i64, leeway_s: i64) -> i64 {
    stopped_at_ms
        .saturating_add(in_flight_window_s(max_token_lifetime_s, leeway_s).saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_refuse_unknown_names() {
        for s in KeyState::ALL {
            assert_eq!(KeyState::parse(s.as_str()), Some(s));
            assert_eq!(s.to_string(), s.as_str());
            assert_eq!(
                serde_json::to_string(&s).expect("json"),
                format!("\"{}\"", s.as_str())
            );
        }
        for bad in ["", "Active", "published", "expired", "next "] {
            assert_eq!(KeyState::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn plan_steps_round_trip_and_refuse_unknown_names() {
        for s in PlanStep::ALL {
            assert_eq!(PlanStep::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).expect("json"),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(PlanStep::CreateNext.as_str(), "create_next");
        for bad in ["", "createNext", "create-next", "Promote", "revoke"] {
            assert_eq!(PlanStep::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn published_and_verifying_states() {
        let published: Vec<KeyState> = KeyState::ALL
            .into_iter()
            .filter(|s| s.is_published())
            .collect();
        assert_eq!(
            published,
            [KeyState::Next, KeyState::Active, KeyState::Retired]
        );
        let verifying: Vec<KeyState> = KeyState::ALL.into_iter().filter(|s| s.verifies()).collect();
        assert_eq!(verifying, [KeyState::Active, KeyState::Retired]);
    }

    #[test]
    fn in_flight_window_includes_the_leeway() {
        assert_eq!(in_flight_window_s(3_600, 60), 3_660);
        assert_eq!(in_flight_window_s(3_600, 0), 3_600);
        assert_eq!(in_flight_until_ms(1_000, 3_600, 60), 1_000 + 3_660_000);
        // A token signed at the last active instant with exp = +lifetime is still accepted at
        // exp + leeway: one millisecond before the end of the window it is in flight.
        let stopped = 1_700_000_000_000;
        let exp_ms = stopped + 900 * 1000;
        assert!(exp_ms + 30 * 1000 <= in_flight_until_ms(stopped, 900, 30));
        assert!(exp_ms < in_flight_until_ms(stopped, 900, 30));
        assert_eq!(in_flight_until_ms(i64::MAX - 1, 86_400, 600), i64::MAX);
    }

    #[test]
    fn timing_bounds_are_ordered() {
        const {
            assert!(MIN_ROTATION_PERIOD_S < MAX_ROTATION_PERIOD_S);
            assert!(MIN_CACHE_WINDOW_S < MAX_CACHE_WINDOW_S);
            assert!(MIN_TOKEN_LIFETIME_S < MAX_TOKEN_LIFETIME_S);
            assert!(MIN_LEEWAY_S < MAX_LEEWAY_S);
            // A next key must fit a whole cache window inside the shortest period.
            assert!(MIN_CACHE_WINDOW_S < MIN_ROTATION_PERIOD_S);
        }
    }
}
