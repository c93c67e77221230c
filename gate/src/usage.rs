//! What the token endpoint did since the last status report: each client secret's last use and
//! the tokens issued per client. Drained by the report ([`Usage::take`]) and put back when the
//! report fails ([`Usage::restore`]), so nothing is lost or counted twice; a report names at
//! most [`PER_REPORT`] of each, the rest following with the next ones. Bounded: at most
//! [`MAX_ENTRIES`] secrets and clients (the bundle's registry bounds them anyway).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{json, Value};

/// Most distinct secrets and clients held between two reports.
pub const MAX_ENTRIES: usize = 100_000;
/// Most secrets, and most clients, one status report names (the console refuses more).
pub const PER_REPORT: usize = 10_000;

#[derive(Default)]
pub struct Usage(Mutex<Pending>);

/// One report's worth of usage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// Secret id → last use, ms since the epoch.
    pub secrets: HashMap<String, i64>,
    /// Client id → tokens issued.
    pub tokens: HashMap<String, u64>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.secrets.is_empty() && self.tokens.is_empty()
    }

    pub fn to_json(&self) -> Value {
        json!({ "secrets": self.secrets, "tokens": self.tokens })
    }

    fn merge(&mut self, other: Pending) {
        for (id, at) in other.secrets {
            note_secret(&mut self.secrets, id, at);
        }
        for (client, n) in other.tokens {
            if self.tokens.len() < MAX_ENTRIES || self.tokens.contains_key(&client) {
                *self.tokens.entry(client).or_default() += n;
            }
        }
    }
}

fn note_secret(map: &mut HashMap<String, i64>, id: String, at_ms: i64) {
    if map.len() >= MAX_ENTRIES && !map.contains_key(&id) {
        return;
    }
    let e = map.entry(id).or_insert(at_ms);
    *e = (*e).max(at_ms);
}

impl Usage {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A token was issued to `client_id`, authenticated with `secret_id` (if by a secret).
    pub fn issued(&self, client_id: &str, secret_id: Option<&str>, now_ms: i64) {
        let mut p = self.lock();
        if let Some(id) = secret_id {
            note_secret(&mut p.secrets, id.to_owned(), now_ms);
        }
        let n = p.tokens.len();
        match p.tokens.get_mut(client_id) {
            Some(c) => *c += 1,
            None if n < MAX_ENTRIES => {
                p.tokens.insert(client_id.to_owned(), 1);
            }
            None => {}
        }
    }

    pub fn pending(&self) -> bool {
        !self.lock().is_empty()
    }

    /// What one report carries: at most [`PER_REPORT`] secrets and as many clients (what the
    /// console accepts in one report); the rest waits for the next report. `None` when nothing
    /// happened.
    pub fn take(&self) -> Option<Pending> {
        let mut held = self.lock();
        let mut p = Pending::default();
        let secrets: Vec<String> = held.secrets.keys().take(PER_REPORT).cloned().collect();
        for id in secrets {
            if let Some(at) = held.secrets.remove(&id) {
                p.secrets.insert(id, at);
            }
        }
        let clients: Vec<String> = held.tokens.keys().take(PER_REPORT).cloned().collect();
        for id in clients {
            if let Some(n) = held.tokens.remove(&id) {
                p.tokens.insert(id, n);
            }
        }
        (!p.is_empty()).then_some(p)
    }

    /// Puts back what a failed report took.
    pub fn restore(&self, p: Pending) {
        self.lock().merge(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_report_loses_and_doubles_nothing() {
        let u = Usage::default();
        assert!(u.take().is_none());
        u.issued("c1", Some("s1"), 1_000);
        u.issued("c1", Some("s1"), 2_000);
        u.issued("c2", None, 1_500);
        let first = u.take().expect("usage");
        assert_eq!(first.tokens["c1"], 2);
        assert_eq!(first.secrets["s1"], 2_000);
        assert!(!first.secrets.contains_key("c2"));
        assert!(!u.pending());
        // The report failed; meanwhile one more token.
        u.issued("c1", Some("s1"), 1_800);
        u.restore(first);
        let second = u.take().expect("usage");
        assert_eq!(second.tokens["c1"], 3);
        assert_eq!(second.tokens["c2"], 1);
        assert_eq!(second.secrets["s1"], 2_000, "the latest use wins");
    }

    #[test]
    fn a_report_names_at_most_ten_thousand_of_each_and_the_rest_follows() {
        let u = Usage::default();
        for i in 0..25_000 {
            u.issued(&format!("c{i}"), Some(&format!("s{i}")), 1);
        }
        let mut total = 0;
        let mut reports = 0;
        while let Some(p) = u.take() {
            assert!(p.tokens.len() <= PER_REPORT && p.secrets.len() <= PER_REPORT);
            total += p.tokens.len();
            reports += 1;
        }
        assert_eq!((total, reports), (25_000, 3));
    }
}
