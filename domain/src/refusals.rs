//! The audit budget of anonymous refusals: a refused sign-in, a bad setup or invite link, an
//! unknown ceremony, a cross-origin request. Anyone can cause those for free, and each used to
//! write one audit row, so a flood of them filled the table and kept the single writer busy
//! until signed-in admins' changes answered 503.
//!
//! Within a budget (per client network, an IPv4 address or an IPv6 /64, and for the whole
//! console) each refusal is still written as its own row. Beyond it the refusal is only
//! counted, and one summary event per window ("N anonymous refusals not written one by one",
//! with the count per action and per source network) keeps the log's count honest: the rows
//! written plus the summaries' counts equal the refusals. Refusals by a signed-in admin are
//! never budgeted: they are accountable and bounded by the session.
//!
//! In memory per console process, like the sign-in throttle.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use policy::gcra::{Decision, Limiter, Quota};
use serde_json::json;

use crate::audit::{Actor, AuditDraft, Outcome, ANONYMOUS};
use crate::ports::{Store, StoreError};
use crate::throttle::network_key;

/// Rows written one by one per client network: 20 at once, then 10 a minute.
pub const ROWS_PER_NETWORK: Quota = Quota::per_minute(10, 19);
/// Rows written one by one for all anonymous callers together: 120 at once, then 60 a minute.
pub const ROWS_GLOBAL: Quota = Quota::per_minute(60, 119);
/// The summary event's action.
pub const SUMMARY_ACTION: &str = "audit.refusals_summarised";
/// How often a summary is written while refusals are being counted.
pub const DEFAULT_WINDOW_MS: i64 = 60_000;
/// Networks a window names one by one; more are counted together.
const MAX_SOURCES: usize = 4_096;
/// Networks a summary event lists (the busiest); the rest are given as one count.
const LISTED_SOURCES: usize = 20;
/// Keys the per-network table holds before it evicts.
const MAX_KEYS: usize = 65_536;

/// Refusals counted but not written since `since_ms`.
#[derive(Default)]
struct Window {
    since_ms: i64,
    total: u64,
    by_action: BTreeMap<String, u64>,
    by_source: HashMap<String, u64>,
    /// Refusals from networks beyond [`MAX_SOURCES`].
    unnamed: u64,
}

/// The budgets and the counts of refusals over them (pure: no storage).
struct Budget {
    per_network: Mutex<Limiter>,
    global: Mutex<Limiter>,
    window: Mutex<Window>,
}

pub struct Refusals {
    store: Arc<dyn Store>,
    budget: Budget,
    window_ms: AtomicI64,
}

impl std::fmt::Debug for Refusals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Refusals")
    }
}

/// A source network as the summary names it: the IPv4 address, `prefix::/64` for IPv6.
fn source_name(ip: Option<&str>) -> String {
    let Some(ip) = ip else {
        return "unknown".into();
    };
    let key = network_key(ip);
    match key.len() {
        4 => std::net::Ipv4Addr::new(key[0], key[1], key[2], key[3]).to_string(),
        8 => {
            let mut full = [0u8; 16];
            full[..8].copy_from_slice(&key);
            format!("{}/64", std::net::Ipv6Addr::from(full))
        }
        _ => ip.chars().take(64).collect(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Budget {
    fn new() -> Budget {
        Budget {
            per_network: Mutex::new(Limiter::new(ROWS_PER_NETWORK, MAX_KEYS)),
            global: Mutex::new(Limiter::new(ROWS_GLOBAL, 1)),
            window: Mutex::new(Window::default()),
        }
    }

    /// Whether the refusal `draft` gets its own row: always for a signed-in caller; for an
    /// anonymous one, while its network and the console are within their budgets (a refusal
    /// over the global budget does not use up its network's).
    fn admits(&self, draft: &AuditDraft, now_ns: u64) -> bool {
        if draft.actor.name != ANONYMOUS {
            return true;
        }
        let key = network_key(draft.actor.ip.as_deref().unwrap_or("unknown"));
        let network = lock(&self.per_network).decide(&key, now_ns);
        if !matches!(network, Decision::Allow { .. }) {
            return false;
        }
        matches!(
            lock(&self.global).decide(b"all", now_ns),
            Decision::Allow { .. }
        )
    }

    fn count(&self, draft: &AuditDraft, now_ms: i64) {
        let mut w = lock(&self.window);
        if w.total == 0 {
            w.since_ms = now_ms;
        }
        w.total += 1;
        *w.by_action.entry(draft.action.clone()).or_default() += 1;
        let source = source_name(draft.actor.ip.as_deref());
        if let Some(n) = w.by_source.get_mut(&source) {
            *n += 1;
        } else if w.by_source.len() < MAX_SOURCES {
            w.by_source.insert(source, 1);
        } else {
            w.unnamed += 1;
        }
    }
}

impl Refusals {
    pub fn new(store: Arc<dyn Store>) -> Refusals {
        Refusals {
            store,
            budget: Budget::new(),
            window_ms: AtomicI64::new(DEFAULT_WINDOW_MS),
        }
    }

    /// Sets how often a summary is written (tests shorten it; the console uses a minute).
    pub fn summarise_every_ms(&self, ms: i64) {
        self.window_ms.store(ms.max(1), Ordering::Relaxed);
    }

    /// Records the refusal `draft` as its own row within the budget, else counts it for the
    /// next summary. `Err` only when a row that should be written cannot be (the caller fails
    /// closed, as for any refusal).
    pub async fn record(&self, draft: AuditDraft) -> Result<(), StoreError> {
        let now_ms = crate::now_ms();
        let now_ns = u64::try_from(now_ms).unwrap_or(0).saturating_mul(1_000_000);
        if self.budget.admits(&draft, now_ns) {
            self.store.record(draft).await?;
        } else {
            self.budget.count(&draft, now_ms);
        }
        self.flush(false).await
    }

    /// Writes the summary of the refusals counted so far when the window is over (or, with
    /// `force`, at once: at shutdown). Nothing is written when nothing was counted. If the
    /// summary cannot be written, its counts are kept for the next attempt.
    pub async fn flush(&self, force: bool) -> Result<(), StoreError> {
        let now = crate::now_ms();
        let window = {
            let mut w = lock(&self.budget.window);
            let due = now - w.since_ms >= self.window_ms.load(Ordering::Relaxed);
            if w.total == 0 || !(force || due) {
                return Ok(());
            }
            std::mem::take(&mut *w)
        };
        let draft = summary(&window, now);
        if let Err(e) = self.store.record(draft).await {
            let mut w = lock(&self.budget.window);
            w.since_ms = window.since_ms;
            w.total += window.total;
            for (k, n) in window.by_action {
                *w.by_action.entry(k).or_default() += n;
            }
            for (k, n) in window.by_source {
                *w.by_source.entry(k).or_default() += n;
            }
            w.unnamed += window.unnamed;
            return Err(e);
        }
        Ok(())
    }
}

/// `ms` since the epoch as RFC 3339 UTC.
fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The summary event of `w`, written at `now_ms`.
fn summary(w: &Window, now_ms: i64) -> AuditDraft {
    let mut sources: Vec<(&String, &u64)> = w.by_source.iter().collect();
    sources.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let listed: Vec<_> = sources
        .iter()
        .take(LISTED_SOURCES)
        .map(|(s, n)| json!({ "network": s, "refusals": n }))
        .collect();
    let other_networks = sources.len().saturating_sub(LISTED_SOURCES);
    let other_refusals: u64 = sources
        .iter()
        .skip(LISTED_SOURCES)
        .map(|(_, n)| **n)
        .sum::<u64>()
        + w.unnamed;
    let busiest = sources
        .first()
        .map(|(s, _)| s.as_str())
        .unwrap_or("unknown");
    AuditDraft::new(&Actor::system(), SUMMARY_ACTION, ANONYMOUS, Outcome::Denied).with_details(
        json!({
            "summary": format!(
                "{} anonymous refusals from {} networks (most from {busiest}) were over the audit budget and not written one by one",
                w.total,
                sources.len() + usize::from(w.unnamed > 0),
            ),
            "refusals": w.total,
            "from": format_ms(w.since_ms),
            "to": format_ms(now_ms),
            "by_action": w.by_action,
            "networks": listed,
            "other_networks": other_networks,
            "other_refusals": other_refusals,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(ip: &str, name: &str) -> AuditDraft {
        let actor = Actor {
            name: name.into(),
            ip: Some(ip.into()),
            user_agent: None,
        };
        AuditDraft::new(&actor, "admin.sign_in", "admin:x", Outcome::Failure)
    }

    #[test]
    fn networks_share_a_budget_and_the_console_has_one_too() {
        let r = Budget::new();
        let t = 1_000_000_000;
        let admitted = (0..100)
            .filter(|_| r.admits(&draft("192.0.2.1", ANONYMOUS), t))
            .count();
        assert_eq!(admitted, 20, "20 at once per network");
        // An IPv6 host rotating addresses inside its /64 shares one budget.
        let v6 = (0..100)
            .filter(|i| r.admits(&draft(&format!("2001:db8:1:2::{i:x}"), ANONYMOUS), t))
            .count();
        assert_eq!(v6, 20);
        // Many networks: the console's budget ends it (120 at once, 40 already used).
        let many = (0..1_000u32)
            .filter(|i| {
                let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
                r.admits(&draft(&ip, ANONYMOUS), t)
            })
            .count();
        assert_eq!(many, 80);
        // A signed-in admin's refusal is always written.
        assert!(r.admits(&draft("192.0.2.1", "alice"), t));
    }

    #[test]
    fn sources_are_named_by_network() {
        assert_eq!(source_name(Some("192.0.2.7")), "192.0.2.7");
        assert_eq!(source_name(Some("2001:db8:1:2::7")), "2001:db8:1:2::/64");
        assert_eq!(source_name(Some("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(source_name(None), "unknown");
    }

    #[test]
    fn a_summary_counts_every_refusal_and_lists_the_busiest_networks() {
        let r = Budget::new();
        for i in 0..30u32 {
            for _ in 0..=i {
                r.count(&draft(&format!("198.51.100.{i}"), ANONYMOUS), 5);
            }
        }
        let w = std::mem::take(&mut *lock(&r.window));
        let d = summary(&w, 65_000).details;
        let total = (1..=30).sum::<u64>();
        assert_eq!(d["refusals"], total);
        assert_eq!(d["by_action"]["admin.sign_in"], total);
        let listed: u64 = d["networks"]
            .as_array()
            .expect("test value")
            .iter()
            .map(|n| n["refusals"].as_u64().expect("test value"))
            .sum();
        assert_eq!(
            listed + d["other_refusals"].as_u64().expect("test value"),
            total
        );
        assert_eq!(d["networks"][0]["network"], "198.51.100.29");
        assert_eq!(d["other_networks"], 10);
    }
}
