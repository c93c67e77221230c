//! The tamper-evident audit chain: what an event is, its canonical encoding, and the verifier.
//!
//! Every event carries the SHA-256 hash of its predecessor and its own hash over a canonical,
//! length-prefixed encoding of every field, so an edited, deleted or reordered row breaks the
//! chain at that row. The first event's `prev_hash` is 64 zeros. Truncating the tail is not
//! detectable from the chain alone; signed checkpoints (a later issue) close that gap.
//!
//! This module is pure: storage appends through [`crate::ports`], which must compute the
//! hash with [`AuditEvent::seal`] inside the transaction that writes the change.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation tag, so the hash of an event can never collide with another use of SHA-256.
const HASH_TAG: &[u8] = b"palisade-audit-v1";

/// The result of an attempt, as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            "denied" => Some(Outcome::Denied),
            _ => None,
        }
    }
}

/// The actor name of a caller without a session.
pub const ANONYMOUS: &str = "anonymous";

/// Who did it and from where. Built by the request context; `actor` is a username,
/// `anonymous`, `system` or `cli`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Actor {
    pub fn system() -> Self {
        Actor {
            name: "system".into(),
            ip: None,
            user_agent: None,
        }
    }
    pub fn cli() -> Self {
        Actor {
            name: "cli".into(),
            ip: None,
            user_agent: None,
        }
    }
}

/// An event before the store gives it a place in the chain. `details` must never hold a
/// secret: callers put identifiers and reasons there, not tokens, keys or credentials.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditDraft {
    pub actor: Actor,
    pub action: String,
    pub target: String,
    pub outcome: Outcome,
    pub details: Value,
}

/// Characters that reorder text on screen (Unicode bidirectional formatting: LRM, RLM, ALM,
/// the embeddings and overrides U+202A–U+202E, the isolates U+2066–U+2069): in an audit row they
/// could make `gpj.exe` read as `exe.jpg` or hide a name's real order (CVE-2021-42574's trick).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` is replaced in audit fields: a control character (NUL included) or a bidi
/// formatting character.
fn neutralised(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// `s` with every control and bidi formatting character replaced by U+FFFD: audit fields carry
/// what callers typed (a username in a refused sign-in, a user agent), and no backend may refuse
/// the event over it (PostgreSQL `TEXT` cannot hold NUL), nor a log viewer be fooled by it.
fn printable(s: String) -> String {
    if s.chars().any(neutralised) {
        s.chars()
            .map(|c| if neutralised(c) { '\u{FFFD}' } else { c })
            .collect()
    } else {
        s
    }
}

/// [`printable`] applied to every string and object key of `v`.
fn printable_json(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(printable(s)),
        Value::Array(a) => Value::Array(a.into_iter().map(printable_json).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (printable(k), printable_json(v)))
                .collect(),
        ),
        other => other,
    }
}

impl AuditDraft {
    pub fn new(actor: &Actor, action: &str, target: impl Into<String>, outcome: Outcome) -> Self {
        AuditDraft {
            actor: Actor {
                name: printable(actor.name.clone()),
                ip: actor.ip.clone().map(printable),
                user_agent: actor.user_agent.clone().map(printable),
            },
            action: printable(action.to_owned()),
            target: printable(target.into()),
            outcome,
            details: Value::Object(Default::default()),
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = printable_json(details);
        self
    }
}

/// One row of the chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    /// UTC, RFC 3339 with microseconds, e.g. `2026-11-28T08:30:00.123456Z`.
    pub at: String,
    pub actor: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target: String,
    pub outcome: Outcome,
    /// Canonical JSON text (keys sorted, no insignificant whitespace).
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// Places `draft` after the event whose sequence and hash are given (`None` for the first
    /// event) and computes its hash.
    pub fn seal(draft: AuditDraft, previous: Option<(i64, &str)>, at: DateTime<Utc>) -> Self {
        let (seq, prev_hash) = match previous {
            Some((seq, hash)) => (seq + 1, hash.to_owned()),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let mut event = AuditEvent {
            seq,
            at: format_time(at),
            actor: draft.actor.name,
            ip: draft.actor.ip,
            user_agent: draft.actor.user_agent,
            action: draft.action,
            target: draft.target,
            outcome: draft.outcome,
            details: canonical_json(&draft.details),
            prev_hash,
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        event
    }

    /// SHA-256 over the tag and every field, each length-prefixed (u64 big-endian), absent
    /// optional fields encoded distinctly from empty ones.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(HASH_TAG);
        h.update(self.seq.to_be_bytes());
        for field in [
            Some(self.at.as_str()),
            Some(self.actor.as_str()),
            self.ip.as_deref(),
            self.user_agent.as_deref(),
            Some(self.action.as_str()),
            Some(self.target.as_str()),
            Some(self.outcome.as_str()),
            Some(self.details.as_str()),
            Some(self.prev_hash.as_str()),
        ] {
            match field {
                None => h.update([0u8]),
                Some(s) => {
                    h.update([1u8]);
                    h.update((s.len() as u64).to_be_bytes());
                    h.update(s.as_bytes());
                }
            }
        }
        hex::encode(h.finalize())
    }
}

/// RFC 3339 UTC with microseconds: sorts as text in time order.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// JSON with object keys sorted at every depth, so the same details always hash the same,
/// whatever map order a dependency's serde_json features select.
pub fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*k).clone()).to_string());
                    out.push(':');
                    write(&map[k.as_str()], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// Why the chain does not verify, naming the first bad row.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("row {seq}: expected sequence {expected} (a row is missing or out of order)")]
    Gap { seq: i64, expected: i64 },
    #[error("row {seq}: prev_hash does not match the hash of the row before it")]
    BrokenLink { seq: i64 },
    #[error("row {seq}: hash does not match its contents (the row was edited)")]
    BadHash { seq: i64 },
}

impl ChainError {
    pub fn seq(&self) -> i64 {
        match self {
            ChainError::Gap { seq, .. }
            | ChainError::BrokenLink { seq }
            | ChainError::BadHash { seq } => *seq,
        }
    }
}

/// Incremental verifier: feed rows in storage order (by `seq` ascending). Keeps O(1) state so
/// a million-row chain verifies in a stream.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl ChainVerifier {
    pub fn check(&mut self, event: &AuditEvent) -> Result<(), ChainError> {
        if event.seq != self.expected_seq {
            return Err(ChainError::Gap {
                seq: event.seq,
                expected: self.expected_seq,
            });
        }
        if event.prev_hash != self.prev_hash {
            return Err(ChainError::BrokenLink { seq: event.seq });
        }
        if event.compute_hash() != event.hash {
            return Err(ChainError::BadHash { seq: event.seq });
        }
        self.expected_seq += 1;
        self.prev_hash = event.hash.clone();
        Ok(())
    }

    /// How many rows verified so far.
    pub fn verified(&self) -> i64 {
        self.expected_seq - 1
    }
}

/// Verifies a whole chain held in memory.
pub fn verify_chain<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
) -> Result<i64, ChainError> {
    let mut v = ChainVerifier::default();
    for e in events {
        v.check(e)?;
    }
    Ok(v.verified())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_audit_fields_are_replaced() {
        let actor = Actor {
            name: "ali\0ce".into(),
            ip: Some("1.2.3.4".into()),
            user_agent: Some("agent\r\nforged: line".into()),
        };
        let d = AuditDraft::new(
            &actor,
            "admin.sign_in",
            "user:bo\0b\x1b[31m",
            Outcome::Failure,
        );
        assert_eq!(d.actor.name, "ali\u{FFFD}ce");
        assert_eq!(
            d.actor.user_agent.as_deref(),
            Some("agent\u{FFFD}\u{FFFD}forged: line")
        );
        assert_eq!(d.target, "user:bo\u{FFFD}b\u{FFFD}[31m");
        assert!(!d.target.chars().any(char::is_control));
    }
    use serde_json::json;

    fn chain(n: usize) -> Vec<AuditEvent> {
        let actor = Actor {
            name: "alice".into(),
            ip: Some("127.0.0.1".into()),
            user_agent: None,
        };
        let mut out: Vec<AuditEvent> = Vec::new();
        for i in 0..n {
            let draft = AuditDraft::new(
                &actor,
                "admin.sign_in",
                format!("admin:{i}"),
                Outcome::Success,
            )
            .with_details(json!({"b": i, "a": [1, {"z": 1, "y": 2}]}));
            let prev = out.last().map(|e| (e.seq, e.hash.as_str()));
            let at = DateTime::from_timestamp(1_800_000_000 + i as i64, 0).expect("valid time");
            out.push(AuditEvent::seal(draft, prev, at));
        }
        out
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify_chain(&c), Ok(5));
        assert_eq!(c[0].prev_hash, GENESIS_HASH);
        assert_eq!(c[1].prev_hash, c[0].hash);
        assert_eq!(c[0].at, "2027-01-15T08:00:00.000000Z");
    }

    #[test]
    fn edit_of_any_field_is_detected_at_that_row() {
        let base = chain(4);
        type Edit = Box<dyn Fn(&mut AuditEvent)>;
        let edits: Vec<Edit> = vec![
            Box::new(|e| e.actor = "mallory".into()),
            Box::new(|e| e.ip = None),
            Box::new(|e| e.user_agent = Some(String::new())),
            Box::new(|e| e.action = "admin.sign_out".into()),
            Box::new(|e| e.target = "admin:x".into()),
            Box::new(|e| e.outcome = Outcome::Failure),
            Box::new(|e| e.details = "{}".into()),
            Box::new(|e| e.at = "2027-01-15T08:00:01.000000Z".into()),
        ];
        for edit in edits {
            let mut c = base.clone();
            edit(&mut c[2]);
            assert_eq!(verify_chain(&c), Err(ChainError::BadHash { seq: 3 }));
        }
    }

    #[test]
    fn edit_with_recomputed_hash_breaks_the_next_link() {
        let mut c = chain(4);
        c[1].actor = "mallory".into();
        c[1].hash = c[1].compute_hash();
        assert_eq!(verify_chain(&c), Err(ChainError::BrokenLink { seq: 3 }));
    }

    #[test]
    fn deletion_and_reordering_are_detected() {
        let mut c = chain(5);
        c.remove(2);
        assert_eq!(
            verify_chain(&c),
            Err(ChainError::Gap {
                seq: 4,
                expected: 3
            })
        );

        let mut c = chain(5);
        c.swap(1, 2);
        assert_eq!(verify_chain(&c).map_err(|e| e.seq()), Err(3));

        // Swapping the sequence numbers too (rows renumbered in place) breaks the hash.
        let mut c = chain(5);
        c.swap(1, 2);
        c[1].seq = 2;
        c[2].seq = 3;
        assert_eq!(verify_chain(&c).map_err(|e| e.seq()), Err(2));
    }

    #[test]
    fn control_and_bidi_characters_are_neutralised_in_every_field() {
        let actor = Actor {
            name: "eve\u{202E}gpj.exe".into(),
            ip: Some("10.0.0.1\u{0}".into()),
            user_agent: Some("UA\u{2066}x\u{2069}".into()),
        };
        let d = AuditDraft::new(
            &actor,
            "auth.sign_in",
            "admin:\u{200F}bob",
            Outcome::Failure,
        )
        .with_details(serde_json::json!({"username": "a\u{202D}b", "n\u{202E}k": ["\u{061C}", 1]}));
        assert_eq!(d.actor.name, "eve\u{FFFD}gpj.exe");
        assert_eq!(d.actor.ip.as_deref(), Some("10.0.0.1\u{FFFD}"));
        assert_eq!(d.actor.user_agent.as_deref(), Some("UA\u{FFFD}x\u{FFFD}"));
        assert_eq!(d.target, "admin:\u{FFFD}bob");
        assert_eq!(
            d.details,
            serde_json::json!({"username": "a\u{FFFD}b", "n\u{FFFD}k": ["\u{FFFD}", 1]})
        );
        // Ordinary right-to-left text is kept: only the formatting characters go.
        let hebrew = AuditDraft::new(&Actor::system(), "x", "שלום", Outcome::Success);
        assert_eq!(hebrew.target, "שלום");
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v = json!({"b": 1, "a": {"d": [ {"y": 1, "x": "é\""} ], "c": null}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":null,"d":[{"x":"é\"","y":1}]},"b":1}"#
        );
    }

    #[test]
    fn absent_and_empty_fields_hash_differently() {
        let c = chain(1);
        let mut e = c[0].clone();
        e.ip = Some(String::new());
        let mut f = c[0].clone();
        f.ip = None;
        assert_ne!(e.compute_hash(), f.compute_hash());
    }
}
