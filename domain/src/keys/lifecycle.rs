//! The signing-key lifecycle as pure functions: the states and their transitions, a set's
//! timing rules, and the plan ([`due_steps`]) the background rotation job runs, plus what the
//! "Rotate now" button may do ([`manual_rotation_check`]). Callers pass the set's keys and
//! `now`; nothing here reads a clock or a store.
//!
//! ```text
//!   next ──promote──▶ active ──promote of its successor──▶ retired ──grace over──▶ removed
//!     └────────────────────┴──────────────── revoke ───────────┴──▶ revoked
//! ```
//!
//! Why the timing is safe (QUALITY.md "Keys safe"):
//! - A next key is published (in the JWKS) for at least the cache window before it signs, so
//!   every verifier that caches the JWKS for at most that long knows it by then. The cache
//!   window must therefore cover the verifiers' JWKS cache *and* the time a bundle takes to
//!   reach every gate.
//! - A retired key stays published until `retired_at + max_token_lifetime + leeway`: every
//!   token it signed has expired (with the verifiers' clock leeway) before it leaves the JWKS.
//! - Bootstrap: a set's very first key cannot have been cached by anyone, and no token of the
//!   set can exist yet, so it needs no cache window. [`bootstrap_key`] names it: when the set's
//!   whole history is one key, in state next and never activated, [`due_steps`] and
//!   [`manual_rotation_check`] promote it at once. A service may equally create the first key
//!   directly as active; the plans are the same from then on. Every other next key waits the
//!   full cache window, including after a revocation (the key list must therefore include the
//!   removed and revoked keys: they are the set's history).
//!
//! The plan is idempotent and resumable: it depends only on the stored keys and `now`, so a job
//! that crashed between two steps recomputes the rest; applying a plan and planning again at
//! the same instant yields nothing new (except the bootstrap promotion, which needs the key the
//! first step created).

use chrono::{DateTime, SecondsFormat};
use serde::{Deserialize, Serialize};

/// The states, which of them are published, and the in-flight window live in `policy::keys`
/// (the browser and the gate share them); the transitions and the plan live here.
pub use policy::keys::{KeyState, PlanStep};

/// Whether a key may go from `from` to `to`: next → active, active → retired,
/// retired → removed, and next, active or retired → revoked. Nothing else; removed and revoked
/// are terminal, and no state goes to itself.
pub fn can_transition(from: KeyState, to: KeyState) -> bool {
    use KeyState::*;
    matches!(
        (from, to),
        (Next, Active)
            | (Active, Retired)
            | (Retired, Removed)
            | (Next | Active | Retired, Revoked)
    )
}

/// The keys of `keys` that the JWKS holds ([`KeyState::is_published`]), in their given order.
pub fn published(keys: &[KeyTimes]) -> impl Iterator<Item = &KeyTimes> {
    keys.iter().filter(|k| k.state.is_published())
}

pub use policy::keys::{
    MAX_CACHE_WINDOW_S, MAX_LEEWAY_S, MAX_ROTATION_PERIOD_S, MAX_TOKEN_LIFETIME_S,
    MIN_CACHE_WINDOW_S, MIN_LEEWAY_S, MIN_ROTATION_PERIOD_S, MIN_TOKEN_LIFETIME_S,
};

/// A key set's timing, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTiming {
    /// How long a key stays active before its successor takes over.
    pub rotation_period_s: i64,
    /// How long a next key is published before it may sign: the longest a verifier caches the
    /// JWKS, plus the time a bundle takes to reach every gate.
    pub cache_window_s: i64,
    /// The longest lifetime of a token signed by the set's keys.
    pub max_token_lifetime_s: i64,
    /// The clock skew verifiers allow on `exp`.
    pub leeway_s: i64,
}

impl Default for SetTiming {
    /// 30 d rotation, 1 d cache window, 1 h tokens, 60 s leeway.
    fn default() -> Self {
        SetTiming {
            rotation_period_s: 30 * 86_400,
            cache_window_s: 86_400,
            max_token_lifetime_s: 3_600,
            leeway_s: 60,
        }
    }
}

impl SetTiming {
    /// Checks the bounds ([`MIN_ROTATION_PERIOD_S`]… [`MAX_LEEWAY_S`]) and that the rotation
    /// period is longer than the cache window (a next key is published for a whole cache window
    /// inside each period). The message names the field, the bounds and the value.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            (
                "rotation period",
                self.rotation_period_s,
                MIN_ROTATION_PERIOD_S,
                MAX_ROTATION_PERIOD_S,
            ),
            (
                "cache window",
                self.cache_window_s,
                MIN_CACHE_WINDOW_S,
                MAX_CACHE_WINDOW_S,
            ),
            (
                "maximum token lifetime",
                self.max_token_lifetime_s,
                MIN_TOKEN_LIFETIME_S,
                MAX_TOKEN_LIFETIME_S,
            ),
            ("leeway", self.leeway_s, MIN_LEEWAY_S, MAX_LEEWAY_S),
        ];
        for (name, value, min, max) in fields {
            if !(min..=max).contains(&value) {
                return Err(format!(
                    "the {name} must be between {} and {} ({min}–{max} s); it is {value} s",
                    span(min),
                    span(max)
                ));
            }
        }
        if self.rotation_period_s <= self.cache_window_s {
            return Err(format!(
                "the rotation period ({}) must be longer than the cache window ({}): each next \
                 key is published for a whole cache window before it signs",
                span(self.rotation_period_s),
                span(self.cache_window_s)
            ));
        }
        Ok(())
    }

    fn period_ms(&self) -> i64 {
        self.rotation_period_s.saturating_mul(1000)
    }

    fn cache_window_ms(&self) -> i64 {
        self.cache_window_s.saturating_mul(1000)
    }

    /// How long a retired key stays published: its tokens' in-flight window (max token
    /// lifetime + leeway, [`policy::keys::in_flight_window_s`]), in ms.
    fn grace_ms(&self) -> i64 {
        policy::keys::in_flight_window_s(self.max_token_lifetime_s, self.leeway_s)
            .saturating_mul(1000)
    }
}

/// What the lifecycle needs of a stored key (instants in ms since the Unix epoch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyTimes {
    pub id: String,
    pub state: KeyState,
    /// When it was created, and so published as next.
    pub created_at_ms: i64,
    /// When it became active; `None` while next (an active key without it counts from
    /// `created_at_ms`).
    pub activated_at_ms: Option<i64>,
    /// When it was retired; a retired key without it is never removed (kept published).
    pub retired_at_ms: Option<i64>,
    /// For a next key published by "Rotate now": when it should take over (the end of its cache
    /// window) instead of at the end of the active key's period.
    #[serde(default)]
    pub promote_at_ms: Option<i64>,
}

impl KeyTimes {
    fn active_since(&self) -> i64 {
        self.activated_at_ms.unwrap_or(self.created_at_ms)
    }
}

/// One change of the plan. Each is applied in one transaction with its audit event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Generate a key and publish it in state next.
    CreateNext,
    /// `next_id` becomes active and `active_id`, if any, becomes retired, at the same instant.
    Promote {
        next_id: String,
        active_id: Option<String>,
    },
    /// The retired key `id` becomes removed (leaves the JWKS; its private half can go).
    Remove { id: String },
}

impl Step {
    /// The kind of step, as the plan and the audit events name it.
    pub fn kind(&self) -> PlanStep {
        match self {
            Step::CreateNext => PlanStep::CreateNext,
            Step::Promote { .. } => PlanStep::Promote,
            Step::Remove { .. } => PlanStep::Remove,
        }
    }
}

/// The set's first key when it may be promoted without waiting the cache window: the set's
/// whole history (`keys`, removed and revoked keys included) is that one key, in state next,
/// never activated. Nobody can have cached it or a token of the set yet.
pub fn bootstrap_key(keys: &[KeyTimes]) -> Option<&KeyTimes> {
    match keys {
        [only] if only.state == KeyState::Next && only.activated_at_ms.is_none() => Some(only),
        _ => None,
    }
}

/// The active key (the most recently activated one, should the set hold several).
fn active_key(keys: &[KeyTimes]) -> Option<&KeyTimes> {
    keys.iter()
        .filter(|k| k.state == KeyState::Active)
        .max_by(|a, b| (a.active_since(), &a.id).cmp(&(b.active_since(), &b.id)))
}

/// The next key (the oldest one, should the set hold several).
fn next_key(keys: &[KeyTimes]) -> Option<&KeyTimes> {
    keys.iter()
        .filter(|k| k.state == KeyState::Next)
        .min_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)))
}

/// When a next key created at `next_created_at_ms` may sign: after one cache window.
pub fn promotion_safe_at_ms(timing: &SetTiming, next_created_at_ms: i64) -> i64 {
    next_created_at_ms.saturating_add(timing.cache_window_ms())
}

/// The steps due at `now_ms`, in the order to apply them: first `CreateNext` or `Promote` (never
/// both), then `Remove` for each expired retired key (oldest first).
///
/// - `CreateNext` when there is no next key and either no active key or the active key has
///   been active for at least `rotation period − cache window`.
/// - `Promote` when the next key has been published for at least the cache window (or is the
///   [`bootstrap_key`]) and either there is no active key, or it has been active for at least
///   the rotation period, or a manual rotation asked for this key at a `promote_at_ms` that
///   has come. The old active key is retired at the same instant.
/// - `Remove` for every retired key with `retired_at + max token lifetime + leeway ≤ now`.
///
/// `timing` is expected to be valid ([`SetTiming::validate`]); any input gives a plan without
/// panicking. After applying the plan, calling again at the same `now_ms` returns nothing,
/// except that a bootstrap `CreateNext` is followed by the promotion of the key it created.
pub fn due_steps(timing: &SetTiming, keys: &[KeyTimes], now_ms: i64) -> Vec<Step> {
    let mut steps = Vec::new();
    let active = active_key(keys);
    let active_age = active.map(|a| now_ms.saturating_sub(a.active_since()));
    match next_key(keys) {
        None => {
            let lead = timing.period_ms().saturating_sub(timing.cache_window_ms());
            if active_age.is_none_or(|age| age >= lead) {
                steps.push(Step::CreateNext);
            }
        }
        Some(next) => {
            let published_for = now_ms.saturating_sub(next.created_at_ms);
            let safe = published_for >= timing.cache_window_ms() || bootstrap_key(keys).is_some();
            let requested = next.promote_at_ms.is_some_and(|t| now_ms >= t);
            let due = requested || active_age.is_none_or(|age| age >= timing.period_ms());
            if safe && due {
                steps.push(Step::Promote {
                    next_id: next.id.clone(),
                    active_id: active.map(|a| a.id.clone()),
                });
            }
        }
    }
    let mut expired: Vec<(i64, &str)> = keys
        .iter()
        .filter(|k| k.state == KeyState::Retired)
        .filter_map(|k| Some((k.retired_at_ms?, k.id.as_str())))
        .filter(|(retired, _)| retired.saturating_add(timing.grace_ms()) <= now_ms)
        .collect();
    expired.sort();
    steps.extend(
        expired
            .into_iter()
            .map(|(_, id)| Step::Remove { id: id.into() }),
    );
    steps
}

/// What "Rotate now" does at `now_ms`:
/// - a next key published for at least the cache window (or the [`bootstrap_key`]) →
///   `Promote` it, whatever the active key's age;
/// - a younger next key → `Err`, saying at which instant (UTC, to the millisecond) it becomes
///   safe to promote, and how long that is from now;
/// - no next key → `CreateNext`. The new key can be promoted one cache window later
///   ([`promotion_safe_at_ms`] of its creation): by pressing "Rotate now" again from then on,
///   or by the scheduled rotation when the active key's period ends. The page says so.
pub fn manual_rotation_check(
    timing: &SetTiming,
    keys: &[KeyTimes],
    now_ms: i64,
) -> Result<Step, String> {
    let Some(next) = next_key(keys) else {
        return Ok(Step::CreateNext);
    };
    let safe_at = promotion_safe_at_ms(timing, next.created_at_ms);
    if now_ms >= safe_at || bootstrap_key(keys).is_some() {
        return Ok(Step::Promote {
            next_id: next.id.clone(),
            active_id: active_key(keys).map(|a| a.id.clone()),
        });
    }
    let wait_s = safe_at.saturating_sub(now_ms).saturating_add(999) / 1000;
    Err(format!(
        "The next key was published at {}; verifiers may cache the JWKS for {}, so it can sign \
         from {} (in {}). Rotate again then.",
        instant(next.created_at_ms),
        span(timing.cache_window_s),
        instant(safe_at),
        span(wait_s)
    ))
}

/// Checks the structure of a set's keys: ids unique; at most one next and one active key; each
/// key's instants present for its state and in order (created ≤ activated ≤ retired). Not
/// checked: that an active key exists (a revocation can leave none until a promotion).
pub fn check_set(keys: &[KeyTimes]) -> Result<(), super::KeyError> {
    let fail = |m: String| Err(super::KeyError::SetInconsistent(m));
    let mut ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return fail(format!("key id {} appears twice", super::truncate(w[0])));
    }
    for state in [KeyState::Next, KeyState::Active] {
        let n = keys.iter().filter(|k| k.state == state).count();
        if n > 1 {
            return fail(format!("{n} keys are {state}; at most one may be"));
        }
    }
    for k in keys {
        let id = super::truncate(&k.id);
        let activated = k.activated_at_ms;
        let retired = k.retired_at_ms;
        let ok = match k.state {
            KeyState::Next => activated.is_none() && retired.is_none(),
            KeyState::Active => activated.is_some() && retired.is_none(),
            KeyState::Retired | KeyState::Removed => activated.is_some() && retired.is_some(),
            KeyState::Revoked => true,
        };
        if !ok {
            return fail(format!(
                "key {id} is {} but has activated_at {activated:?} and retired_at {retired:?}",
                k.state
            ));
        }
        if activated.is_some_and(|a| a < k.created_at_ms)
            || retired.is_some_and(|r| r < activated.unwrap_or(k.created_at_ms))
        {
            return fail(format!("key {id} has its instants out of order"));
        }
    }
    Ok(())
}

/// An instant in ms since the Unix epoch as RFC 3339 UTC with milliseconds, as the lifecycle's
/// messages write it: "2023-11-14T22:13:20.000Z".
pub fn instant(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(
        || format!("{ms} ms after the Unix epoch"),
        |t| t.to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}

/// A span in seconds as the lifecycle's messages write it: "7 d", "1 h 30 min", "45 s", "0 s".
pub fn span(s: i64) -> String {
    if s <= 0 {
        return format!("{s} s");
    }
    let parts = [
        (s / 86_400, "d"),
        (s % 86_400 / 3_600, "h"),
        (s % 3_600 / 60, "min"),
        (s % 60, "s"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyState::*;

    const H: i64 = 3_600_000;
    const D: i64 = 24 * H;

    fn timing(period_s: i64, cache_s: i64, life_s: i64, leeway_s: i64) -> SetTiming {
        SetTiming {
            rotation_period_s: period_s,
            cache_window_s: cache_s,
            max_token_lifetime_s: life_s,
            leeway_s,
        }
    }

    fn key(
        id: &str,
        state: KeyState,
        created: i64,
        activated: Option<i64>,
        retired: Option<i64>,
    ) -> KeyTimes {
        KeyTimes {
            id: id.into(),
            state,
            created_at_ms: created,
            activated_at_ms: activated,
            retired_at_ms: retired,
            promote_at_ms: None,
        }
    }

    fn promote(next: &str, active: Option<&str>) -> Step {
        Step::Promote {
            next_id: next.into(),
            active_id: active.map(Into::into),
        }
    }

    fn remove(id: &str) -> Step {
        Step::Remove { id: id.into() }
    }

    #[test]
    fn states_round_trip() {
        for s in KeyState::ALL {
            assert_eq!(KeyState::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).expect("valid"),
                format!("\"{s}\"")
            );
            assert_eq!(
                serde_json::from_str::<KeyState>(&format!("\"{s}\"")).expect("valid"),
                s
            );
        }
        for bad in ["Next", "ACTIVE", "", "retire", "deleted"] {
            assert_eq!(KeyState::parse(bad), None, "{bad}");
        }
        assert_eq!(
            KeyState::ALL.map(KeyState::is_published),
            [true, true, true, false, false]
        );
    }

    #[test]
    fn every_transition_pair() {
        // Rows: from; columns: to, both in KeyState::ALL order (next, active, retired,
        // removed, revoked).
        let allowed = [
            [false, true, false, false, true],   // next → active, revoked
            [false, false, true, false, true],   // active → retired, revoked
            [false, false, false, true, true],   // retired → removed, revoked
            [false, false, false, false, false], // removed: terminal
            [false, false, false, false, false], // revoked: terminal
        ];
        let mut checked = 0;
        for (i, from) in KeyState::ALL.into_iter().enumerate() {
            for (j, to) in KeyState::ALL.into_iter().enumerate() {
                assert_eq!(can_transition(from, to), allowed[i][j], "{from} → {to}");
                checked += 1;
            }
        }
        assert_eq!(checked, 25);
        // Published states are exactly those that can still move.
        for s in KeyState::ALL {
            let moves = KeyState::ALL.into_iter().any(|t| can_transition(s, t));
            assert_eq!(moves, s.is_published(), "{s}");
        }
    }

    #[test]
    fn timing_bounds_are_exact() {
        assert_eq!(SetTiming::default().validate(), Ok(()));
        let base = timing(30 * 86_400, 86_400, 3_600, 60);
        type Setter = fn(&mut SetTiming, i64);
        let cases: [(Setter, i64, i64, &str); 4] = [
            (
                |t, v| t.rotation_period_s = v,
                MIN_ROTATION_PERIOD_S,
                MAX_ROTATION_PERIOD_S,
                "rotation period",
            ),
            (
                |t, v| t.cache_window_s = v,
                MIN_CACHE_WINDOW_S,
                MAX_CACHE_WINDOW_S,
                "cache window",
            ),
            (
                |t, v| t.max_token_lifetime_s = v,
                MIN_TOKEN_LIFETIME_S,
                MAX_TOKEN_LIFETIME_S,
                "maximum token lifetime",
            ),
            (|t, v| t.leeway_s = v, MIN_LEEWAY_S, MAX_LEEWAY_S, "leeway"),
        ];
        for (set, min, max, name) in cases {
            for (value, ok) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
                let mut t = base;
                set(&mut t, value);
                // Keep the period above the cache window so only the bound under test counts.
                if name == "cache window" {
                    t.rotation_period_s = MAX_ROTATION_PERIOD_S;
                }
                if name == "rotation period" {
                    t.cache_window_s = MIN_CACHE_WINDOW_S;
                }
                let r = t.validate();
                assert_eq!(r.is_ok(), ok, "{name} = {value}: {r:?}");
                if let Err(m) = r {
                    assert!(m.starts_with(&format!("the {name} must be between")), "{m}");
                    assert!(m.ends_with(&format!("it is {value} s")), "{m}");
                }
            }
        }
        assert_eq!(
            timing(3_600, 300, 60, 0).validate(),
            Ok(()),
            "smallest valid"
        );
        let mut t = timing(86_400, 86_400, 3_600, 60);
        let m = t.validate().expect_err("refused");
        assert_eq!(
            m,
            "the rotation period (1 d) must be longer than the cache window (1 d): each next key \
             is published for a whole cache window before it signs"
        );
        t.rotation_period_s += 1;
        assert_eq!(t.validate(), Ok(()));
        assert_eq!(
            timing(60, 300, 3_600, 60).validate().expect_err("refused"),
            "the rotation period must be between 1 h and 365 d (3600–31536000 s); it is 60 s"
        );
        assert!(timing(i64::MIN, i64::MAX, -1, -1).validate().is_err());
    }

    #[test]
    fn spans_and_instants_read_well() {
        assert_eq!(span(0), "0 s");
        assert_eq!(span(-5), "-5 s");
        assert_eq!(span(45), "45 s");
        assert_eq!(span(300), "5 min");
        assert_eq!(span(5_400), "1 h 30 min");
        assert_eq!(span(7 * 86_400), "7 d");
        assert_eq!(span(90_061), "1 d 1 h 1 min 1 s");
        assert_eq!(instant(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(instant(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert!(instant(i64::MAX).contains("Unix epoch"));
    }

    #[test]
    fn bootstrap_promotes_the_first_key_at_once() {
        let t = SetTiming::default();
        let now = 1_000 * D;
        assert_eq!(due_steps(&t, &[], now), vec![Step::CreateNext]);
        let first = [key("a", Next, now, None, None)];
        assert_eq!(bootstrap_key(&first).map(|k| k.id.as_str()), Some("a"));
        assert_eq!(due_steps(&t, &first, now), vec![promote("a", None)]);
        assert_eq!(
            manual_rotation_check(&t, &first, now),
            Ok(promote("a", None))
        );
        // Not the first key: a revoked key is history, so the next key waits the cache window.
        let after_revoke = [
            key("a", Revoked, now - D, None, None),
            key("b", Next, now, None, None),
        ];
        assert_eq!(bootstrap_key(&after_revoke), None);
        assert_eq!(due_steps(&t, &after_revoke, now), vec![]);
        assert_eq!(
            due_steps(&t, &after_revoke, now + t.cache_window_s * 1000),
            vec![promote("b", None)]
        );
        // An active key revoked, no key left published: a new next key, promoted after the window.
        let revoked_active = [key("a", Revoked, 0, Some(0), None)];
        assert_eq!(due_steps(&t, &revoked_active, now), vec![Step::CreateNext]);
        assert!(manual_rotation_check(
            &t,
            &[revoked_active[0].clone(), key("b", Next, now, None, None)],
            now
        )
        .is_err());
    }

    /// A set with active key "a" (activated at 0, created a window before) and optional next "b".
    fn steady(t: &SetTiming, next_created: Option<i64>) -> Vec<KeyTimes> {
        let mut keys = vec![key("a", Active, -t.cache_window_s * 1000, Some(0), None)];
        if let Some(c) = next_created {
            keys.push(key("b", Next, c, None, None));
        }
        keys
    }

    #[test]
    fn create_next_boundary() {
        let t = timing(30 * 86_400, 86_400, 3_600, 60);
        let lead = (t.rotation_period_s - t.cache_window_s) * 1000;
        let keys = steady(&t, None);
        assert_eq!(due_steps(&t, &keys, lead - 1), vec![]);
        assert_eq!(due_steps(&t, &keys, lead), vec![Step::CreateNext]);
        assert_eq!(due_steps(&t, &keys, lead + 1), vec![Step::CreateNext]);
        // An active key without activated_at counts from its creation.
        let legacy = [key("a", Active, 0, None, None)];
        assert_eq!(due_steps(&t, &legacy, lead - 1), vec![]);
        assert_eq!(due_steps(&t, &legacy, lead), vec![Step::CreateNext]);
    }

    #[test]
    fn promote_waits_for_the_cache_window_and_the_period() {
        let t = timing(30 * 86_400, 86_400, 3_600, 60);
        let period = t.rotation_period_s * 1000;
        let window = t.cache_window_s * 1000;
        // The next key was created late: the cache window decides.
        let created = period - window / 2;
        let keys = steady(&t, Some(created));
        assert_eq!(due_steps(&t, &keys, created + window - 1), vec![]);
        assert_eq!(
            due_steps(&t, &keys, created + window),
            vec![promote("b", Some("a"))]
        );
        assert_eq!(
            due_steps(&t, &keys, created + window + 1),
            vec![promote("b", Some("a"))]
        );
        // The next key was created on time: the period decides.
        let keys = steady(&t, Some(period - window));
        assert_eq!(due_steps(&t, &keys, period - 1), vec![]);
        assert_eq!(due_steps(&t, &keys, period), vec![promote("b", Some("a"))]);
        assert_eq!(
            due_steps(&t, &keys, period + 1),
            vec![promote("b", Some("a"))]
        );
        // No active key (revoked): only the cache window.
        let keys = [
            key("a", Revoked, 0, Some(0), None),
            key("b", Next, 10 * D, None, None),
        ];
        assert_eq!(due_steps(&t, &keys, 10 * D + window - 1), vec![]);
        assert_eq!(
            due_steps(&t, &keys, 10 * D + window),
            vec![promote("b", None)]
        );
    }

    #[test]
    fn remove_waits_for_token_lifetime_plus_leeway() {
        let t = timing(30 * 86_400, 86_400, 3_600, 60);
        let grace = (t.max_token_lifetime_s + t.leeway_s) * 1000;
        let retired_at = 5 * D;
        let keys = [
            key("old", Retired, 0, Some(D), Some(retired_at)),
            key("a", Active, 4 * D, Some(retired_at), None),
            key("gone", Removed, 0, Some(0), Some(D)),
            key("bad", Revoked, 0, Some(0), Some(D)),
            key("odd", Retired, 0, Some(0), None),
        ];
        assert_eq!(due_steps(&t, &keys, retired_at + grace - 1), vec![]);
        assert_eq!(
            due_steps(&t, &keys, retired_at + grace),
            vec![remove("old")]
        );
        assert_eq!(
            due_steps(&t, &keys, retired_at + grace + 1),
            vec![remove("old")]
        );
        // Zero leeway: exactly the token lifetime.
        let t0 = SetTiming { leeway_s: 0, ..t };
        assert_eq!(due_steps(&t0, &keys, retired_at + 3_600_000 - 1), vec![]);
        assert_eq!(
            due_steps(&t0, &keys, retired_at + 3_600_000),
            vec![remove("old")]
        );
        // Several expired keys: oldest first, after the rotation step.
        let many = [
            key("r2", Retired, 0, Some(0), Some(2 * D)),
            key("r1", Retired, 0, Some(0), Some(D)),
            key("a", Active, 0, Some(2 * D), None),
        ];
        assert_eq!(
            due_steps(&t, &many, 100 * D),
            vec![Step::CreateNext, remove("r1"), remove("r2")]
        );
    }

    #[test]
    fn manual_rotation() {
        let t = timing(30 * 86_400, 86_400, 3_600, 60);
        let window = t.cache_window_s * 1000;
        // No next key: create one, whatever the active key's age.
        assert_eq!(
            manual_rotation_check(&t, &steady(&t, None), 1),
            Ok(Step::CreateNext)
        );
        // A next key younger than the window: refused, with the exact instant.
        let created = 1_700_000_000_000;
        let keys = [
            key("a", Active, created - 2 * D, Some(created - D), None),
            key("b", Next, created, None, None),
        ];
        let err = manual_rotation_check(&t, &keys, created + window - 1).expect_err("refused");
        assert_eq!(
            err,
            "The next key was published at 2023-11-14T22:13:20.000Z; verifiers may cache the JWKS \
             for 1 d, so it can sign from 2023-11-15T22:13:20.000Z (in 1 s). Rotate again then."
        );
        let err = manual_rotation_check(&t, &keys, created).expect_err("refused");
        assert!(err.ends_with("(in 1 d). Rotate again then."), "{err}");
        assert_eq!(promotion_safe_at_ms(&t, created), created + window);
        // At the window: promoted, although the active key is far from its period.
        assert_eq!(
            manual_rotation_check(&t, &keys, created + window),
            Ok(promote("b", Some("a")))
        );
        assert_eq!(
            manual_rotation_check(&t, &keys, created + window + 1),
            Ok(promote("b", Some("a")))
        );
        // The scheduled plan does not promote it before the period.
        assert_eq!(due_steps(&t, &keys, created + window), vec![]);
    }

    #[test]
    fn hostile_instants_do_not_panic() {
        let t = timing(i64::MAX, i64::MAX, i64::MAX, i64::MAX);
        let keys = [
            key("a", Active, i64::MIN, Some(i64::MIN), None),
            key("b", Next, i64::MAX, None, None),
            key("c", Retired, i64::MIN, Some(i64::MAX), Some(i64::MAX)),
        ];
        for now in [i64::MIN, -1, 0, i64::MAX] {
            let _ = due_steps(&t, &keys, now);
            let _ = due_steps(&SetTiming::default(), &keys, now);
            let _ = manual_rotation_check(&t, &keys, now);
            let _ = check_set(&keys);
        }
    }

    #[test]
    fn set_structure_is_checked() {
        let good = [
            key("a", Retired, 0, Some(1), Some(2)),
            key("b", Active, 1, Some(2), None),
            key("c", Next, 3, None, None),
            key("d", Removed, 0, Some(0), Some(1)),
            key("e", Revoked, 0, None, None),
        ];
        assert_eq!(check_set(&good), Ok(()));
        let bad: [&[KeyTimes]; 6] = [
            &[
                key("a", Active, 0, Some(0), None),
                key("a", Next, 0, None, None),
            ],
            &[
                key("a", Active, 0, Some(0), None),
                key("b", Active, 0, Some(0), None),
            ],
            &[key("a", Next, 0, None, None), key("b", Next, 0, None, None)],
            &[key("a", Next, 0, Some(0), None)],
            &[key("a", Retired, 0, Some(0), None)],
            &[key("a", Retired, 5, Some(4), Some(6))],
        ];
        for keys in bad {
            let e = check_set(keys).expect_err("refused");
            assert_eq!(e.code(), "keyset.inconsistent", "{keys:?}");
        }
    }

    /// A key set driven by its own plans, as the rotation job drives it. Removed keys after the
    /// first are archived out of `keys` to keep a year of hourly plans fast: the plan reads
    /// removed keys only through `bootstrap_key`, which needs to know the history is not empty.
    struct Sim {
        timing: SetTiming,
        keys: Vec<KeyTimes>,
        archived: usize,
        created: usize,
        promotions: usize,
        removals: usize,
    }

    impl Sim {
        fn new(timing: SetTiming) -> Self {
            Sim {
                timing,
                keys: Vec::new(),
                archived: 0,
                created: 0,
                promotions: 0,
                removals: 0,
            }
        }

        fn key_mut(&mut self, id: &str) -> &mut KeyTimes {
            self.keys
                .iter_mut()
                .find(|k| k.id == id)
                .expect("planned key exists")
        }

        /// Applies one step at `now`, asserting the safety rules at the moment it happens.
        fn apply(&mut self, step: &Step, now: i64) {
            let t = self.timing;
            match step {
                Step::CreateNext => {
                    self.created += 1;
                    self.keys
                        .push(key(&format!("k{}", self.created), Next, now, None, None));
                }
                Step::Promote { next_id, active_id } => {
                    let bootstrap = bootstrap_key(&self.keys).is_some();
                    let next = self.key_mut(next_id);
                    assert!(can_transition(next.state, Active));
                    assert!(
                        bootstrap || now - next.created_at_ms >= t.cache_window_s * 1000,
                        "{next_id} promoted {} ms after publication",
                        now - next.created_at_ms
                    );
                    next.state = Active;
                    next.activated_at_ms = Some(now);
                    if let Some(id) = active_id {
                        let active = self.key_mut(id);
                        assert!(can_transition(active.state, Retired));
                        assert!(
                            now - active.activated_at_ms.expect("valid")
                                >= t.rotation_period_s * 1000
                        );
                        active.state = Retired;
                        active.retired_at_ms = Some(now);
                    }
                    self.promotions += 1;
                }
                Step::Remove { id } => {
                    let k = self.key_mut(id);
                    assert!(can_transition(k.state, Removed));
                    let retired = k.retired_at_ms.expect("valid");
                    assert!(
                        now - retired >= (t.max_token_lifetime_s + t.leeway_s) * 1000,
                        "{id} removed {} ms after retirement",
                        now - retired
                    );
                    k.state = Removed;
                    self.removals += 1;
                    if self.removals > 1 {
                        self.keys.retain(|k| k.id != *id);
                        self.archived += 1;
                    }
                }
            }
        }

        /// One run of the job at `now`. With `crash`, only the first step of each plan is
        /// applied before the job "dies"; the rest must be planned again next time.
        fn tick(&mut self, now: i64, crash: bool) {
            for _round in 0..4 {
                let plan = due_steps(&self.timing, &self.keys, now);
                assert_eq!(
                    plan,
                    due_steps(&self.timing, &self.keys, now),
                    "deterministic"
                );
                assert!(
                    plan.iter()
                        .filter(|s| !matches!(s, Step::Remove { .. }))
                        .count()
                        <= 1,
                    "{plan:?}"
                );
                if plan.is_empty() {
                    return;
                }
                for step in &plan {
                    self.apply(step, now);
                    if crash {
                        return;
                    }
                }
            }
            panic!("the plan did not settle at {now}");
        }

        /// `late`: how long a removal may lag behind its grace (a crashing job retries later).
        fn check(&self, now: i64, late: i64) {
            let t = self.timing;
            let active = self.keys.iter().filter(|k| k.state == Active).count();
            if self.promotions == 0 {
                assert_eq!(active, 0);
            } else {
                assert_eq!(
                    active, 1,
                    "exactly one active key after the first promotion"
                );
            }
            // Keys safe: a key that ever signed is published until its grace is over; and
            // removal is prompt (at most one tick late) once it is.
            let grace = (t.max_token_lifetime_s + t.leeway_s) * 1000;
            for k in &self.keys {
                if let Some(retired) = k.retired_at_ms {
                    let over = now - retired >= grace;
                    if !over {
                        assert!(
                            k.state.is_published(),
                            "{} unpublished within its grace",
                            k.id
                        );
                    }
                    if now - retired >= grace + late {
                        assert_eq!(k.state, Removed, "{} never removed", k.id);
                    }
                }
                if k.state == Active {
                    let age = now - k.activated_at_ms.expect("valid");
                    assert!(
                        age < t.rotation_period_s * 1000 + 2 * H,
                        "{} overstays: {age} ms",
                        k.id
                    );
                }
            }
            assert!(published(&self.keys).all(|k| k.state.is_published()));
            assert_eq!(
                published(&self.keys).count(),
                self.keys.iter().filter(|k| k.state.is_published()).count()
            );
        }
    }

    fn simulate_year(timing: SetTiming, crash_every: u64) -> Sim {
        assert_eq!(timing.validate(), Ok(()));
        let mut sim = Sim::new(timing);
        let start = 1_700_000_000_000;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for hour in 0..=(366 * 24) {
            let now = start + hour * H;
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let crash = crash_every > 0 && seed.is_multiple_of(crash_every);
            sim.tick(now, crash);
            sim.check(now, if crash_every > 0 { 12 * H } else { H });
            if hour % 24 == 0 {
                check_set(&sim.keys).expect("valid");
            }
            if !crash {
                assert_eq!(due_steps(&sim.timing, &sim.keys, now), vec![], "settled");
            }
        }
        check_set(&sim.keys).expect("valid");
        assert_eq!(sim.archived, sim.removals.saturating_sub(1));
        sim
    }

    #[test]
    fn a_simulated_year_keeps_every_invariant() {
        let timings = [
            SetTiming::default(),
            timing(90 * 86_400, 7 * 86_400, 86_400, 600),
            timing(3_600, 300, 86_400, 600),
            timing(7_919, 331, 61, 7),
            timing(7 * 86_400, 6 * 86_400 + 1, 60, 0),
            timing(365 * 86_400, 300, 3_600, 60),
        ];
        for t in timings {
            for crash_every in [0, 3] {
                let sim = simulate_year(t, crash_every);
                assert!(sim.promotions >= 1, "{t:?}");
                // Hourly ticks: each rotation takes at most period + cache window + 2 ticks.
                let rotations = 366 * 86_400 / (t.rotation_period_s + t.cache_window_s + 7_200);
                assert!(
                    sim.promotions as i64 >= rotations,
                    "{t:?}: {} promotions",
                    sim.promotions
                );
                if t.rotation_period_s < 300 * 86_400 {
                    assert!(sim.removals >= 1, "{t:?}: removal eventually happens");
                }
            }
        }
    }

    #[test]
    fn a_requested_promotion_happens_at_its_instant_but_never_before_the_cache_window() {
        let t = timing(30 * 86_400, 3600, 900, 60);
        let mut next = key("n", KeyState::Next, 1_000_000, None, None);
        next.promote_at_ms = Some(1_000_000 + 3_600_000);
        let keys = vec![key("a", KeyState::Active, 0, Some(0), None), next.clone()];
        assert_eq!(due_steps(&t, &keys, 1_000_000 + 3_599_999), vec![]);
        assert_eq!(
            due_steps(&t, &keys, 1_000_000 + 3_600_000),
            vec![promote("n", Some("a"))]
        );
        // A request earlier than the cache window still waits for the window.
        next.promote_at_ms = Some(1_000_000);
        let keys = vec![key("a", KeyState::Active, 0, Some(0), None), next];
        assert_eq!(due_steps(&t, &keys, 1_000_000 + 1), vec![]);
        assert_eq!(
            due_steps(&t, &keys, 1_000_000 + 3_600_000),
            vec![promote("n", Some("a"))]
        );
    }
}
