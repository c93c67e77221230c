//! Validation of rate-limit policies, one at a time ([`validate`]) and as a set
//! ([`validate_set`]), with messages precise enough to show inline next to the field. The same
//! code runs in the browser as the admin types and in the console before saving.
//!
//! Invariants: validation never fails or panics, whatever the input; an [`Severity::Error`]
//! means the policy must not be saved; a [`Severity::Warning`] is allowed but probably not what
//! was meant, and where it announces a rewrite ("stored as …"), [`normalize`] performs it.
//! Specs cited: RFC 9110 (methods §9.1, field names §5.1, tokens §5.6.2, field values §5.5),
//! RFC 3986 (paths §3.3, percent-encoding §2.1, normalisation §6.2.2), RFC 4632 / RFC 4291
//! (CIDR).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;
use crate::model::{in_order, Action, KeyBy, Mode, PathMatch, Policy};

/// Longest policy name, in characters.
pub const MAX_NAME_CHARS: usize = 80;
/// Largest burst; beyond it a "limit" no longer limits anything.
pub const MAX_BURST: u32 = 1_000_000;
/// Longest delay the `delay` action may hold a request.
pub const MAX_DELAY_MS: u32 = 60_000;
/// Longest path, in bytes.
pub const MAX_PATH_BYTES: usize = 2_048;
/// Longest id, client id or header name, in bytes.
pub const MAX_ID_BYTES: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The policy must not be saved.
    Error,
    /// Allowed, but probably not what was meant.
    Warning,
}

/// The form field an issue is about. Serialised as its dotted path (`"matcher.path"`), which
/// [`Field::as_str`] also gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Field {
    #[serde(rename = "id")]
    Id,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "order")]
    Order,
    #[serde(rename = "matcher.path")]
    Path,
    #[serde(rename = "matcher.methods")]
    Methods,
    #[serde(rename = "matcher.client_ids")]
    ClientIds,
    #[serde(rename = "matcher.ip_ranges")]
    IpRanges,
    #[serde(rename = "matcher.header.name")]
    HeaderName,
    #[serde(rename = "matcher.header.value")]
    HeaderValue,
    #[serde(rename = "key")]
    Key,
    #[serde(rename = "limit.rate")]
    Rate,
    #[serde(rename = "limit.burst")]
    Burst,
    #[serde(rename = "action.max_delay_ms")]
    MaxDelay,
}

impl Field {
    pub const fn as_str(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Name => "name",
            Field::Order => "order",
            Field::Path => "matcher.path",
            Field::Methods => "matcher.methods",
            Field::ClientIds => "matcher.client_ids",
            Field::IpRanges => "matcher.ip_ranges",
            Field::HeaderName => "matcher.header.name",
            Field::HeaderValue => "matcher.header.value",
            Field::Key => "key",
            Field::Rate => "limit.rate",
            Field::Burst => "limit.burst",
            Field::MaxDelay => "action.max_delay_ms",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding about one policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Issue {
    pub field: Field,
    /// For list fields (methods, client ids, IP ranges): which entry, from 0.
    pub index: Option<u32>,
    pub severity: Severity,
    pub message: String,
}

impl Issue {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}[{i}]: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

/// True when any issue is an error (the policy must not be saved).
pub fn has_errors(issues: &[Issue]) -> bool {
    issues.iter().any(Issue::is_error)
}

/// What a finding about a set of policies is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetIssueKind {
    /// An earlier enforced policy with the same key matches everything this one matches and
    /// decides first: this one is never counted.
    Unreachable,
    /// The same, but the earlier policy is still in shadow mode: this one stops being counted
    /// when that one is enforced.
    UnreachableWhenEnforced,
    DuplicateId,
    DuplicateName,
    DuplicateOrder,
}

/// One finding about a set of policies, attached to `policy_id` (the later policy), naming
/// `other_id` (the earlier one it conflicts with).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct SetIssue {
    pub policy_id: String,
    pub other_id: String,
    pub kind: SetIssueKind,
    pub severity: Severity,
    pub message: String,
}

/// Every issue of one policy, in field order. Empty means valid and as meant.
pub fn validate(p: &Policy) -> Vec<Issue> {
    let mut v = Issues::default();
    check_id(&p.id, &mut v);
    check_name(&p.name, &mut v);
    check_path(&p.matcher.path, &mut v);
    check_methods(&p.matcher.methods, &mut v);
    check_client_ids(&p.matcher.client_ids, &mut v);
    check_ip_ranges(&p.matcher.ip_ranges, &mut v);
    if let Some(h) = &p.matcher.header {
        check_header_name(&h.name, Field::HeaderName, "The header name", &mut v);
        if let Some(value) = &h.value {
            check_header_value(value, &mut v);
        }
    }
    if let KeyBy::Header(name) = &p.key {
        check_key_header(name, &mut v);
    }
    check_limit(p, &mut v);
    if let Action::Delay { max_delay_ms } = p.action {
        if max_delay_ms == 0 {
            v.error(
                Field::MaxDelay,
                "A maximum delay of 0 ms delays nothing; use the reject action.".into(),
            );
        } else if max_delay_ms > MAX_DELAY_MS {
            v.error(
                Field::MaxDelay,
                format!(
                    "A maximum delay of {max_delay_ms} ms is more than {} s: clients and \
                     proxies give up long before. Use reject, which says when to retry.",
                    MAX_DELAY_MS / 1000
                ),
            );
        }
    }
    v.0
}

/// Issues of a path and a method list, by the rules of a policy's match: the gate's routes in
/// the config bundle ([`crate::bundle::Route`]) match requests the same way.
pub fn validate_path_and_methods(path: &PathMatch, methods: &[String]) -> Vec<Issue> {
    let mut v = Issues::default();
    check_path(path, &mut v);
    check_methods(methods, &mut v);
    v.0
}

/// Issues of a set of policies taken together: duplicate ids, names and orders, and policies
/// that can never be counted because an earlier one always decides first (see
/// [`crate::model`] for the evaluation rule and [`crate::model::Match::covers`] for "covers").
///
/// A policy B is reported unreachable when an earlier (in evaluation order) enabled policy A
/// has the same key, an action other than `shadow`, and a match that covers B's. If A is
/// enforced that is [`SetIssueKind::Unreachable`]; if A is still in shadow mode,
/// [`SetIssueKind::UnreachableWhenEnforced`]. Disabled policies are never reported and never
/// shadow others. Both are warnings: the set works, just not as it reads.
pub fn validate_set(policies: &[Policy]) -> Vec<SetIssue> {
    let ordered = in_order(policies);
    let mut out = Vec::new();
    for (i, b) in ordered.iter().enumerate() {
        let earlier = &ordered[..i];
        if !b.id.is_empty() {
            if let Some(a) = earlier.iter().find(|a| a.id == b.id) {
                out.push(set_issue(
                    b,
                    a,
                    SetIssueKind::DuplicateId,
                    Severity::Error,
                    format!("Two policies have the id “{}”.", b.id),
                ));
            }
        }
        if let Some(a) = earlier.iter().find(|a| {
            a.name.trim().eq_ignore_ascii_case(b.name.trim()) && !b.name.trim().is_empty()
        }) {
            out.push(set_issue(
                b,
                a,
                SetIssueKind::DuplicateName,
                Severity::Error,
                format!(
                    "The name “{}” is already used by the policy at order {}.",
                    b.name.trim(),
                    a.order
                ),
            ));
        }
        if let Some(a) = earlier.iter().find(|a| a.order == b.order) {
            out.push(set_issue(
                b,
                a,
                SetIssueKind::DuplicateOrder,
                Severity::Error,
                format!(
                    "“{}” and “{}” both have order {}; give each policy its own place.",
                    a.name, b.name, b.order
                ),
            ));
        }
        if !b.enabled {
            continue;
        }
        let coverers = earlier.iter().filter(|a| {
            a.enabled
                && a.action != Action::Shadow
                && a.key.same_key(&b.key)
                && a.matcher.covers(&b.matcher)
        });
        let mut shadowing = None;
        for a in coverers {
            if a.mode == Mode::Enforce {
                shadowing = Some((a, true));
                break;
            }
            shadowing.get_or_insert((a, false));
        }
        if let Some((a, enforced)) = shadowing {
            let key = b.key.describe();
            let (kind, message) = if enforced {
                (
                    SetIssueKind::Unreachable,
                    format!(
                        "“{}” (order {}) is never counted: “{}” (order {}) comes first, also \
                         counts by {key}, and matches every request it matches. Move it above \
                         “{}” or narrow that policy.",
                        b.name, b.order, a.name, a.order, a.name
                    ),
                )
            } else {
                (
                    SetIssueKind::UnreachableWhenEnforced,
                    format!(
                        "“{}” (order {}) will stop being counted when “{}” (order {}) is \
                         enforced: that policy comes first, also counts by {key}, and matches \
                         every request this one matches.",
                        b.name, b.order, a.name, a.order
                    ),
                )
            };
            out.push(set_issue(b, a, kind, Severity::Warning, message));
        }
    }
    out
}

fn set_issue(
    b: &Policy,
    a: &Policy,
    kind: SetIssueKind,
    severity: Severity,
    message: String,
) -> SetIssue {
    SetIssue {
        policy_id: b.id.clone(),
        other_id: a.id.clone(),
        kind,
        severity,
        message,
    }
}

/// Applies the rewrites that warnings announce, so what is stored is canonical: the name and
/// header value trimmed; header names lower-case (RFC 9110 §5.1; HTTP/2 sends them so); the
/// path's percent-encoding normalised (RFC 3986 §6.2.2.1–2); methods, client ids and ranges
/// without duplicates; each valid range written as its network (`10.0.0.1/8` → `10.0.0.0/8`,
/// a bare address → `/32` or `/128`). Invalid entries are left as they are, for validation.
pub fn normalize(p: &mut Policy) {
    let name = p.name.trim();
    if name.len() != p.name.len() {
        p.name = name.to_string();
    }
    normalize_path_and_methods(&mut p.matcher.path, &mut p.matcher.methods);
    dedup(&mut p.matcher.client_ids);
    for r in &mut p.matcher.ip_ranges {
        if let Ok(c) = Cidr::parse(r) {
            *r = c.network().to_string();
        }
    }
    dedup(&mut p.matcher.ip_ranges);
    if let Some(h) = &mut p.matcher.header {
        h.name.make_ascii_lowercase();
        if let Some(v) = &mut h.value {
            let t = v.trim_matches([' ', '\t']);
            if t.len() != v.len() {
                *v = t.to_string();
            }
        }
    }
    if let KeyBy::Header(h) = &mut p.key {
        h.make_ascii_lowercase();
    }
}

/// The rewrites of [`normalize`] for a path and a method list: percent-encoded unreserved
/// characters decoded, hex digits in upper case, repeated methods dropped. Also used for the
/// gate's routes ([`crate::bundle::Route`]), which match requests the same way.
pub fn normalize_path_and_methods(path: &mut PathMatch, methods: &mut Vec<String>) {
    let text = match path {
        PathMatch::Prefix(s) | PathMatch::Exact(s) | PathMatch::Pattern(s) => s,
    };
    *text = normalize_percent(text);
    dedup(methods);
}

fn dedup(v: &mut Vec<String>) {
    let mut seen: Vec<String> = Vec::with_capacity(v.len());
    v.retain(|x| {
        if seen.contains(x) {
            false
        } else {
            seen.push(x.clone());
            true
        }
    });
}

#[derive(Default)]
struct Issues(Vec<Issue>);

impl Issues {
    fn push(&mut self, field: Field, index: Option<usize>, severity: Severity, message: String) {
        self.0.push(Issue {
            field,
            index: index.map(|i| u32::try_from(i).unwrap_or(u32::MAX)),
            severity,
            message,
        });
    }

    fn error(&mut self, field: Field, message: String) {
        self.push(field, None, Severity::Error, message);
    }

    fn warning(&mut self, field: Field, message: String) {
        self.push(field, None, Severity::Warning, message);
    }

    fn item_error(&mut self, field: Field, i: usize, message: String) {
        self.push(field, Some(i), Severity::Error, message);
    }

    fn item_warning(&mut self, field: Field, i: usize, message: String) {
        self.push(field, Some(i), Severity::Warning, message);
    }
}

fn check_id(id: &str, v: &mut Issues) {
    if id.len() > MAX_ID_BYTES {
        v.error(
            Field::Id,
            format!("The id is longer than {MAX_ID_BYTES} bytes."),
        );
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        v.error(
            Field::Id,
            "The id may only hold letters, digits, “-”, “_” and “.”.".into(),
        );
    }
}

fn check_name(name: &str, v: &mut Issues) {
    let trimmed = name.trim();
    let chars = trimmed.chars().count();
    if trimmed.is_empty() {
        v.error(Field::Name, "The name is empty.".into());
    } else if chars > MAX_NAME_CHARS {
        v.error(
            Field::Name,
            format!("The name is {chars} characters long; at most {MAX_NAME_CHARS}."),
        );
    }
    if name.chars().any(char::is_control) {
        v.error(Field::Name, "The name contains a control character.".into());
    } else if !trimmed.is_empty() && trimmed.len() != name.len() {
        v.warning(
            Field::Name,
            "The name has spaces at its start or end; they are removed when saved.".into(),
        );
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// RFC 3986 §2.3 unreserved.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §3.3 pchar, less pct-encoded (handled apart), plus "/".
fn is_path_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_encode_char(c: char) -> String {
    let mut buf = [0u8; 4];
    c.encode_utf8(&mut buf)
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect()
}

/// Upper-case hex digits and decode unreserved characters (RFC 3986 §6.2.2.1–2); invalid
/// triplets are left for validation.
fn normalize_percent(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_value(b[i + 1]), hex_value(b[i + 2])) {
                let byte = h * 16 + l;
                if is_unreserved(byte) {
                    out.push(char::from(byte));
                } else {
                    out.push_str(&format!("%{byte:02X}"));
                }
                i += 3;
                continue;
            }
        }
        // Copy one whole character.
        let c = s[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn check_path(pm: &PathMatch, v: &mut Issues) {
    let f = Field::Path;
    let s = pm.text();
    if s.is_empty() {
        v.error(f, "The path is empty; use “/” to match every path.".into());
        return;
    }
    if !s.starts_with('/') {
        v.error(
            f,
            format!("The path must start with “/” (did you mean “/{s}”?)."),
        );
        return;
    }
    if s.len() > MAX_PATH_BYTES {
        v.error(
            f,
            format!(
                "The path is {} bytes long; at most {MAX_PATH_BYTES}.",
                s.len()
            ),
        );
        return;
    }
    if let Some(i) = s.find('?') {
        v.error(
            f,
            format!(
                "The path contains “?” at position {}: policies match the path only, never \
                 the query (RFC 3986 §3.4).",
                i + 1
            ),
        );
    }
    if let Some(i) = s.find('#') {
        v.error(
            f,
            format!(
                "The path contains “#” at position {}: the fragment is never sent to a \
                 server (RFC 3986 §3.5).",
                i + 1
            ),
        );
    }
    let bytes = s.as_bytes();
    let mut decodable = None;
    for (pos, c) in s.char_indices() {
        let at = pos + 1;
        if c == '?' || c == '#' {
            continue;
        }
        if c == '%' {
            let (h, l) = (bytes.get(pos + 1).copied(), bytes.get(pos + 2).copied());
            match (h.and_then(hex_value), l.and_then(hex_value)) {
                (Some(h), Some(l)) => {
                    let byte = h * 16 + l;
                    if is_unreserved(byte) && decodable.is_none() {
                        decodable = Some((s[pos..pos + 3].to_string(), char::from(byte)));
                    }
                }
                _ => {
                    let shown: String = s[pos..].chars().take(3).collect();
                    v.error(
                        f,
                        format!(
                            "“{shown}” at position {at} is not a valid percent-encoding \
                             (“%” and two hex digits, RFC 3986 §2.1)."
                        ),
                    );
                    return;
                }
            }
            continue;
        }
        if c.is_ascii() && is_path_char(c as u8) {
            continue;
        }
        let what = if c == ' ' {
            "a space".to_string()
        } else if c.is_control() {
            "a control character".to_string()
        } else {
            format!("“{c}”")
        };
        v.error(
            f,
            format!(
                "The path contains {what} at position {at}; requests carry it \
                 percent-encoded, so write {} (RFC 3986 §2.1).",
                percent_encode_char(c)
            ),
        );
        return;
    }
    if let Some((enc, c)) = decodable {
        v.warning(
            f,
            format!(
                "“{enc}” encodes “{c}”, which requests carry plainly after normalisation \
                 (RFC 3986 §6.2.2.2); it is stored as “{c}”."
            ),
        );
    }
    let body = &s[1..];
    let segments: Vec<&str> = body.split('/').collect();
    if let Some(dot) = segments.iter().find(|g| **g == "." || **g == "..") {
        v.error(
            f,
            format!(
                "The path contains the segment “{dot}”: the gate matches normalised paths, \
                 where dot segments are resolved (RFC 3986 §5.2.4), so this never matches."
            ),
        );
    }
    let last = segments.len() - 1;
    if segments[..last].iter().any(|g| g.is_empty()) {
        v.warning(
            f,
            "The path contains “//” (an empty segment); it only matches requests that \
             contain “//” too."
                .into(),
        );
    }
    match pm {
        PathMatch::Prefix(_) | PathMatch::Exact(_) => {
            if s.contains('*') {
                v.warning(
                    f,
                    "“*” is an ordinary character in a prefix or exact path; for wildcards \
                     use a pattern."
                        .into(),
                );
            }
            if matches!(pm, PathMatch::Prefix(_)) && s.len() > 1 && s.ends_with('/') {
                v.warning(
                    f,
                    format!(
                        "The prefix “{s}” does not match “{}” itself; write “{}” to include it.",
                        &s[..s.len() - 1],
                        &s[..s.len() - 1]
                    ),
                );
            }
        }
        PathMatch::Pattern(_) => {
            let mut wild = false;
            for (i, g) in segments.iter().enumerate() {
                match *g {
                    "*" => wild = true,
                    "**" if i == last => wild = true,
                    "**" => {
                        v.error(
                            f,
                            "“**” may only be the last segment (“/v1/**”); it matches the \
                             rest of the path."
                                .into(),
                        );
                        wild = true;
                    }
                    _ if g.contains('*') => {
                        v.error(
                            f,
                            format!(
                                "The segment “{g}” mixes “*” with other characters: “*” \
                                 stands for one whole segment (“/users/*/orders”)."
                            ),
                        );
                        wild = true;
                    }
                    _ => {}
                }
            }
            if !wild {
                v.warning(
                    f,
                    "The pattern has no wildcard; an exact path says the same.".into(),
                );
            }
        }
    }
}

/// Methods defined by RFC 9110 §9.3 and RFC 5789 (PATCH).
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

fn check_methods(methods: &[String], v: &mut Issues) {
    let f = Field::Methods;
    for (i, m) in methods.iter().enumerate() {
        if m.is_empty() {
            v.item_error(f, i, "The method is empty.".into());
        } else if !is_token(m) {
            v.item_error(
                f,
                i,
                format!(
                    "“{m}” is not a method: a method is a token, letters and digits without \
                     spaces or separators (RFC 9110 §9.1)."
                ),
            );
        } else if m.bytes().any(|b| b.is_ascii_lowercase()) {
            v.item_error(
                f,
                i,
                format!(
                    "“{m}”: methods are case-sensitive (RFC 9110 §9.1) and the standard ones \
                     are upper-case; write “{}”.",
                    m.to_ascii_uppercase()
                ),
            );
        } else if !KNOWN_METHODS.contains(&m.as_str()) {
            v.item_warning(
                f,
                i,
                format!(
                    "“{m}” is not a method of RFC 9110 or PATCH (RFC 5789); check the spelling."
                ),
            );
        }
        if methods[..i].contains(m) {
            v.item_warning(
                f,
                i,
                format!("“{m}” is listed twice; the copy is removed when saved."),
            );
        }
    }
}

fn check_client_ids(ids: &[String], v: &mut Issues) {
    let f = Field::ClientIds;
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() {
            v.item_error(f, i, "The client id is empty.".into());
        } else if id.len() > MAX_ID_BYTES {
            v.item_error(
                f,
                i,
                format!("The client id is longer than {MAX_ID_BYTES} bytes."),
            );
        } else if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            v.item_error(
                f,
                i,
                format!(
                    "The client id “{}” contains spaces or control characters.",
                    id.trim()
                ),
            );
        }
        if ids[..i].contains(id) {
            v.item_warning(
                f,
                i,
                format!("The client “{id}” is listed twice; the copy is removed when saved."),
            );
        }
    }
}

fn check_ip_ranges(ranges: &[String], v: &mut Issues) {
    let f = Field::IpRanges;
    let parsed: Vec<Option<Cidr>> = ranges.iter().map(|r| Cidr::parse(r).ok()).collect();
    for (i, r) in ranges.iter().enumerate() {
        let c = match Cidr::parse(r) {
            Ok(c) => c,
            Err(e) => {
                v.item_error(f, i, format!("“{r}”: {e}."));
                continue;
            }
        };
        let net = c.network();
        if c.has_host_bits() {
            v.item_warning(
                f,
                i,
                format!(
                    "“{r}” has bits set after the /{} prefix; the range is {net}, and it is \
                     stored that way.",
                    c.prefix_len()
                ),
            );
        }
        if c.prefix_len() == 0 {
            let family = if c.addr().is_ipv4() { "IPv4" } else { "IPv6" };
            v.item_warning(
                f,
                i,
                format!(
                    "“{r}” matches every {family} address; leave the list empty to match any \
                     address."
                ),
            );
        }
        if let Some(dup) = parsed[..i]
            .iter()
            .flatten()
            .map(Cidr::network)
            .find(|e| *e == net)
        {
            v.item_warning(
                f,
                i,
                format!(
                    "“{r}” is the same range as {dup}, listed before; it is removed when saved."
                ),
            );
        } else if let Some(wider) = parsed
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .filter_map(|(_, o)| o.map(|o| o.network()))
            .find(|o| *o != net && o.covers(&net))
        {
            v.item_warning(
                f,
                i,
                format!("“{r}” is inside {wider}, also listed; it adds nothing."),
            );
        }
    }
}

fn check_header_name(name: &str, f: Field, what: &str, v: &mut Issues) {
    if name.is_empty() {
        v.error(f, format!("{what} is empty."));
    } else if name.len() > MAX_ID_BYTES {
        v.error(f, format!("{what} is longer than {MAX_ID_BYTES} bytes."));
    } else if !is_token(name) {
        v.error(
            f,
            format!(
                "“{name}” is not a header name: field names are tokens, letters, digits and \
                 !#$%&'*+-.^_`|~ only (RFC 9110 §5.1)."
            ),
        );
    }
}

fn check_header_value(value: &str, v: &mut Issues) {
    let f = Field::HeaderValue;
    // RFC 9110 §5.5: field-vchar = VCHAR / obs-text, with SP / HTAB inside.
    if value.chars().any(|c| c.is_control() && c != '\t') {
        v.error(
            f,
            "The header value contains a control character (CR, LF, NUL…), which no valid \
             request carries (RFC 9110 §5.5)."
                .into(),
        );
        return;
    }
    if value.is_empty() {
        v.warning(
            f,
            "The value is empty, so only an empty header matches; leave the value out to \
             match any value."
                .into(),
        );
    } else if value.trim_matches([' ', '\t']).len() != value.len() {
        v.warning(
            f,
            "The value has spaces at its start or end, which are not part of a field value \
             (RFC 9110 §5.5); they are removed when saved."
                .into(),
        );
    }
}

/// Headers a client can set to anything, that some proxies use to carry the client's address.
const FORGEABLE_ADDRESS_HEADERS: [&str; 5] = [
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
];

fn check_key_header(name: &str, v: &mut Issues) {
    check_header_name(name, Field::Key, "The header name to count by", v);
    if FORGEABLE_ADDRESS_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
    {
        v.warning(
            Field::Key,
            format!(
                "Counting by “{name}” counts whatever the client writes there, so every \
                 forged value gets a fresh allowance. Count by ip: the gate takes the \
                 forwarded address from trusted proxies only."
            ),
        );
    }
}

fn check_limit(p: &Policy, v: &mut Issues) {
    let per = p.limit.per.noun();
    if p.limit.rate == 0 {
        v.error(
            Field::Rate,
            format!(
                "The rate is 0: nothing would ever be admitted. Use at least 1 request per \
                 {per}."
            ),
        );
    } else if u64::from(p.limit.rate) > 1_000_000 * p.limit.per.seconds() {
        v.warning(
            Field::Rate,
            format!(
                "{} per {per} is more than a million requests per second for each key: \
                 effectively no limit.",
                p.limit.rate
            ),
        );
    }
    if p.limit.burst > MAX_BURST {
        v.error(
            Field::Burst,
            format!(
                "A burst of {} is more than {}: a burst that large is no limit at all.",
                p.limit.burst, "1,000,000"
            ),
        );
    }
}
