//! The tamper-evident audit chain: what an event is, its canonical encoding, and the verifier.
//!
//! Every event carries the hash of its predecessor and its own hash over a canonical,
//! length-prefixed encoding of every field, so an edited, deleted or reordered row breaks the
//! chain at that row. The first event's `prev_hash` is 64 zeros.
//!
//! **Keyed chain** (format 2): from the event that keys the chain ([`CHAIN_KEYED_ACTION`]) on,
//! each "hash" is an HMAC-SHA256 under the chain key, a random key the database holds sealed
//! under the master key. A database writer without the master key can no longer delete a row
//! and recompute the later hashes: the recomputed rows do not verify. Events written before
//! the chain was keyed keep their SHA-256 hashes (format 1); the keying event's MAC covers the
//! last of them, so they cannot be rewritten either. Truncating the tail is visible only
//! against a [`Checkpoint`] kept outside the database (`palisade audit checkpoint`).
//!
//! This module is pure: storage appends through [`crate::ports`], which must compute the
//! hash with [`AuditEvent::seal`] inside the transaction that writes the change.

mod changes;

pub use changes::{changes, Changes, FieldChange};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation tag, so the hash of an event can never collide with another use of SHA-256.
const HASH_TAG: &[u8] = b"palisade-audit-v1";
/// The same for the keyed chain's MAC.
const MAC_TAG: &[u8] = b"palisade-audit-v2";

/// The action of the event that keys the chain (the first MAC'd event).
pub const CHAIN_KEYED_ACTION: &str = "audit.chain_keyed";

/// The key of the keyed chain. Never printed.
#[derive(Clone)]
pub struct ChainKey(ring::hmac::Key);

impl ChainKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> ChainKey {
        ChainKey(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes))
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(<redacted>)")
    }
}

/// The newest event as it was at some moment, kept outside the database (a file written by
/// `palisade audit checkpoint`): a verified chain must still hold this event, unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Always [`Checkpoint::FORMAT`].
    pub palisade_audit_checkpoint: u32,
    pub seq: i64,
    pub hash: String,
    pub at: String,
}

impl Checkpoint {
    pub const FORMAT: u32 = 1;

    pub fn of(event: &AuditEvent) -> Checkpoint {
        Checkpoint {
            palisade_audit_checkpoint: Self::FORMAT,
            seq: event.seq,
            hash: event.hash.clone(),
            at: event.at.clone(),
        }
    }
}

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
    /// event) and computes its hash: the MAC under `key` once the chain is keyed, else SHA-256.
    pub fn seal(
        draft: AuditDraft,
        previous: Option<(i64, &str)>,
        at: DateTime<Utc>,
        key: Option<&ChainKey>,
    ) -> Self {
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
        event.hash = match key {
            Some(k) => event.compute_mac(k),
            None => event.compute_hash(),
        };
        event
    }

    /// SHA-256 over the tag and the fields (format 1).
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(HASH_TAG);
        self.encode(&mut |b| h.update(b));
        hex::encode(h.finalize())
    }

    /// HMAC-SHA256 under `key` over the tag and the fields (format 2, the keyed chain).
    pub fn compute_mac(&self, key: &ChainKey) -> String {
        let mut ctx = ring::hmac::Context::with_key(&key.0);
        ctx.update(MAC_TAG);
        self.encode(&mut |b| ctx.update(b));
        hex::encode(ctx.sign().as_ref())
    }

    /// Every field, each length-prefixed (u64 big-endian), absent optional fields encoded
    /// distinctly from empty ones.
    fn encode(&self, out: &mut dyn FnMut(&[u8])) {
        out(&self.seq.to_be_bytes());
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
                None => out(&[0u8]),
                Some(s) => {
                    out(&[1u8]);
                    out(&(s.len() as u64).to_be_bytes());
                    out(s.as_bytes());
                }
            }
        }
    }
}

/// Which events the audit explorer shows: every part optional, all given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Exact actor: `alice`, `token:<id>`, `system`, `anonymous`.
    pub actor: Option<String>,
    /// An action or its start: `pinsets.` matches every pin-set action.
    pub action: Option<String>,
    /// Exact target: `pinset:api.example.com`, `api_token:<id>`.
    pub target: Option<String>,
    pub outcome: Option<Outcome>,
    /// At or after this instant (normalised to [`format_time`]).
    pub since: Option<String>,
    /// Before this instant.
    pub until: Option<String>,
    /// Text the details contain (exact, case-sensitive).
    pub text: Option<String>,
}

impl AuditFilter {
    /// Trims every part, drops empty ones and turns `since`/`until` into the stored time
    /// format; a date (`2026-12-01`) or a minute (`2026-12-01T08:30`, as a browser's
    /// `datetime-local` sends it) is read as UTC. Errors say which part is wrong.
    pub fn normalised(self) -> Result<AuditFilter, String> {
        let clean = |v: Option<String>, what: &str| -> Result<Option<String>, String> {
            // Control characters are refused wherever they are (a tab is one: spaces around a
            // filter are trimmed, other white space is not quietly dropped).
            if v.as_deref()
                .is_some_and(|s| s.chars().any(char::is_control))
            {
                return Err(format!("the {what} filter has control characters"));
            }
            match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
                Some(s) if s.chars().count() > 200 => {
                    Err(format!("the {what} filter is over 200 characters"))
                }
                other => Ok(other),
            }
        };
        let time = |v: Option<String>, what: &str| -> Result<Option<String>, String> {
            let Some(s) = clean(v, what)? else {
                return Ok(None);
            };
            parse_instant(&s).map(|t| Some(format_time(t))).ok_or_else(|| {
                format!("“{s}” is not a time for “{what}”: write 2026-12-01 or 2026-12-01T08:30 (UTC)")
            })
        };
        Ok(AuditFilter {
            actor: clean(self.actor, "actor")?,
            action: clean(self.action, "action")?,
            target: clean(self.target, "target")?,
            outcome: self.outcome,
            since: time(self.since, "since")?,
            until: time(self.until, "until")?,
            text: clean(self.text, "text")?,
        })
    }
}

/// An instant from RFC 3339, a `datetime-local` minute or a date (both read as UTC).
fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
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
    #[error("row {seq}: hash does not match its contents (the row was edited, or written without the chain key)")]
    BadHash { seq: i64 },
    #[error("the database holds a chain key, but no event keying the chain verifies under it (the log was rewritten); {seq} rows read")]
    KeyingMissing { seq: i64 },
    #[error("row {seq} keyed the chain, but the database holds no chain key to check it with (the key was deleted)")]
    KeyMissing { seq: i64 },
    #[error("the log ends at row {seq}, but the checkpoint names row {checkpoint}: rows were deleted from the end")]
    Truncated { seq: i64, checkpoint: i64 },
    #[error("row {seq} is not the event the checkpoint recorded (the row was replaced)")]
    CheckpointMismatch { seq: i64 },
}

impl ChainError {
    pub fn seq(&self) -> i64 {
        match self {
            ChainError::Gap { seq, .. }
            | ChainError::BrokenLink { seq }
            | ChainError::BadHash { seq }
            | ChainError::KeyingMissing { seq }
            | ChainError::KeyMissing { seq }
            | ChainError::Truncated { seq, .. }
            | ChainError::CheckpointMismatch { seq } => *seq,
        }
    }
}

/// Incremental verifier: feed rows in storage order (by `seq` ascending), then [`finish`].
/// Keeps O(1) state so a million-row chain verifies in a stream.
///
/// With the chain key, rows are SHA-256 (format 1) until the keying event, whose MAC must
/// verify, and MACs after it; a log with a key but no keying event is refused. Without a key
/// (a database never keyed), every row must be format 1, and a keying event is refused.
///
/// [`finish`]: ChainVerifier::finish
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    key: Option<ChainKey>,
    keyed: bool,
    checkpoint: Option<Checkpoint>,
    checkpoint_seen: bool,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier::new(None, None)
    }
}

impl ChainVerifier {
    pub fn new(key: Option<ChainKey>, checkpoint: Option<Checkpoint>) -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            key,
            keyed: false,
            checkpoint,
            checkpoint_seen: false,
        }
    }

    pub fn check(&mut self, event: &AuditEvent) -> Result<(), ChainError> {
        let seq = event.seq;
        if seq != self.expected_seq {
            return Err(ChainError::Gap {
                seq,
                expected: self.expected_seq,
            });
        }
        if event.prev_hash != self.prev_hash {
            return Err(ChainError::BrokenLink { seq });
        }
        let intact = match (&self.key, self.keyed) {
            (Some(k), true) => event.compute_mac(k) == event.hash,
            (Some(k), false) if event.action == CHAIN_KEYED_ACTION => {
                self.keyed = event.compute_mac(k) == event.hash;
                self.keyed
            }
            (None, _) if event.action == CHAIN_KEYED_ACTION => {
                return Err(ChainError::KeyMissing { seq })
            }
            _ => event.compute_hash() == event.hash,
        };
        if !intact {
            return Err(ChainError::BadHash { seq });
        }
        if let Some(c) = &self.checkpoint {
            if c.seq == seq {
                if c.hash != event.hash {
                    return Err(ChainError::CheckpointMismatch { seq });
                }
                self.checkpoint_seen = true;
            }
        }
        self.expected_seq += 1;
        self.prev_hash = event.hash.clone();
        Ok(())
    }

    /// After the last row: how many rows verified, or what the whole walk shows is wrong (a
    /// key without a keying event, a checkpoint past the end).
    pub fn finish(&self) -> Result<i64, ChainError> {
        let seq = self.expected_seq - 1;
        if self.key.is_some() && !self.keyed {
            return Err(ChainError::KeyingMissing { seq });
        }
        match &self.checkpoint {
            Some(c) if !self.checkpoint_seen => Err(ChainError::Truncated {
                seq,
                checkpoint: c.seq,
            }),
            _ => Ok(seq),
        }
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
    v.finish()
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
            out.push(AuditEvent::seal(draft, prev, at, None));
        }
        out
    }

    /// `unkeyed` format-1 events, the keying event, then `keyed` MAC'd ones.
    fn keyed_chain(unkeyed: usize, keyed: usize, key: &ChainKey) -> Vec<AuditEvent> {
        let mut out = chain(unkeyed);
        for i in 0..=keyed {
            let action = if i == 0 {
                CHAIN_KEYED_ACTION
            } else {
                "policies.update"
            };
            let draft =
                AuditDraft::new(&Actor::system(), action, format!("x:{i}"), Outcome::Success);
            let prev = out.last().map(|e| (e.seq, e.hash.as_str()));
            let at = DateTime::from_timestamp(1_900_000_000 + i as i64, 0).expect("valid time");
            out.push(AuditEvent::seal(draft, prev, at, Some(key)));
        }
        out
    }

    fn verify_keyed(
        c: &[AuditEvent],
        key: Option<&ChainKey>,
        cp: Option<Checkpoint>,
    ) -> Result<i64, ChainError> {
        let mut v = ChainVerifier::new(key.cloned(), cp);
        for e in c {
            v.check(e)?;
        }
        v.finish()
    }

    /// Re-links every row from `from` on with format-1 hashes, as a database writer without
    /// the chain key would after deleting a row.
    fn rechain(c: &mut [AuditEvent], from: usize) {
        for i in from..c.len() {
            c[i].seq = i as i64 + 1;
            c[i].prev_hash = if i == 0 {
                GENESIS_HASH.to_owned()
            } else {
                c[i - 1].hash.clone()
            };
            c[i].hash = c[i].compute_hash();
        }
    }

    #[test]
    fn a_keyed_chain_verifies_only_with_its_key() {
        let key = ChainKey::from_bytes(&[9; 32]);
        let c = keyed_chain(3, 4, &key);
        assert_eq!(verify_keyed(&c, Some(&key), None), Ok(8));
        assert_eq!(
            verify_keyed(&c, Some(&ChainKey::from_bytes(&[8; 32])), None),
            Err(ChainError::BadHash { seq: 4 }),
            "another key"
        );
        assert_eq!(
            verify_keyed(&c, None, None),
            Err(ChainError::KeyMissing { seq: 4 })
        );
    }

    #[test]
    fn delete_and_rechain_is_detected_in_a_keyed_chain() {
        let key = ChainKey::from_bytes(&[9; 32]);
        // Delete a MAC'd row and recompute the later hashes without the key.
        let mut c = keyed_chain(3, 4, &key);
        c.remove(5);
        rechain(&mut c, 5);
        assert_eq!(
            verify_keyed(&c, Some(&key), None),
            Err(ChainError::BadHash { seq: 6 })
        );
        // Delete a row before the keying event: the keying event's MAC covers it.
        let mut c = keyed_chain(3, 4, &key);
        c.remove(1);
        rechain(&mut c, 1);
        assert!(matches!(
            verify_keyed(&c, Some(&key), None),
            Err(ChainError::BadHash { .. })
        ));
        // Rewrite the whole log without a keying event: the key in the database gives it away.
        let mut c = keyed_chain(3, 4, &key);
        c.truncate(3);
        assert_eq!(
            verify_keyed(&c, Some(&key), None),
            Err(ChainError::KeyingMissing { seq: 3 })
        );
        // The same attack on an unkeyed (format 1) chain goes unseen: why the chain is keyed.
        let mut c = chain(6);
        c.remove(2);
        rechain(&mut c, 2);
        assert_eq!(verify_chain(&c), Ok(5));
    }

    #[test]
    fn a_checkpoint_catches_truncation_and_replacement() {
        let key = ChainKey::from_bytes(&[9; 32]);
        let c = keyed_chain(0, 6, &key);
        let cp = Checkpoint::of(&c[5]);
        assert_eq!(verify_keyed(&c, Some(&key), Some(cp.clone())), Ok(7));
        assert_eq!(
            verify_keyed(&c[..4], Some(&key), Some(cp.clone())),
            Err(ChainError::Truncated {
                seq: 4,
                checkpoint: 6
            })
        );
        let other = keyed_chain(0, 6, &ChainKey::from_bytes(&[1; 32]));
        assert_eq!(
            verify_keyed(&c, Some(&key), Some(Checkpoint::of(&other[5]))),
            Err(ChainError::CheckpointMismatch { seq: 6 })
        );
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
