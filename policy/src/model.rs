//! Rate-limit policies: what a policy matches, what it counts by, its limit, scope, action and
//! mode, and which policies a request is counted against. Stored as JSON by the console, sent
//! to the browser and, in the config bundle, to the gates, which apply them unchanged.
//!
//! Invariants: the types hold what the admin wrote, valid or not (so the form can keep a
//! half-typed policy and [`crate::validate`] can say precisely what is wrong); every matching
//! and coverage function here is total and treats an invalid part as matching nothing.
//!
//! # How a request selects its policies
//!
//! Enabled policies are walked in `order` (ties broken by `id`). A policy whose [`Match`]
//! matches the request is counted, unless an earlier policy **with the same key** has already
//! *decided* for this request. A policy decides when it is enforced ([`Mode::Enforce`]) and its
//! action is [`Action::Reject`] or [`Action::Delay`]; a shadow policy (either [`Mode::Shadow`] or
//! [`Action::Shadow`]) is counted and logged but lets the walk go on. Policies with different
//! keys stack: a per-IP and a per-client limit on the same route both apply, and the request is
//! refused if any deciding policy refuses it. [`applicable`] is this rule as code.
//!
//! A later policy that an earlier deciding policy with the same key always pre-empts is never
//! counted: [`crate::validate::validate_set`] reports it as unreachable, using
//! [`Match::covers`].

use core::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;
use crate::gcra::{Quota, NS_PER_S};

/// One rate-limit policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Policy {
    /// Assigned by the store; empty for a policy not saved yet.
    pub id: String,
    /// Shown to admins and in the audit log; unique in a set.
    pub name: String,
    /// A disabled policy is kept but never evaluated.
    pub enabled: bool,
    /// Evaluation order, ascending; unique in a set.
    pub order: u32,
    /// Which requests the policy applies to.
    pub matcher: Match,
    /// What is counted: each distinct key has its own allowance.
    pub key: KeyBy,
    pub limit: Limit,
    pub scope: Scope,
    /// What happens to a request over the limit (once enforced).
    pub action: Action,
    /// Whether the action is applied at all.
    pub mode: Mode,
}

impl Policy {
    /// True when this policy, for a request it matches, ends the walk for its key (see the
    /// module docs): enforced, and an action that refuses or delays.
    pub fn decides(&self) -> bool {
        self.mode == Mode::Enforce && self.action != Action::Shadow
    }

    /// True when requests over the limit are really refused or delayed (not only counted).
    pub fn enforces(&self) -> bool {
        self.decides()
    }
}

/// Which requests a policy applies to: all the constraints that are set must hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Match {
    pub path: PathMatch,
    /// Request methods, exact and case-sensitive (RFC 9110 §9.1); empty = any method.
    #[serde(default)]
    pub methods: Vec<String>,
    /// OAuth client ids; empty = any client, and requests without a client too.
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// CIDR ranges as written (`10.0.0.0/8`, `2001:db8::/32`, parsed by [`Cidr::parse`]);
    /// empty = any address. Kept as text so that a wrong range reaches validation.
    #[serde(default)]
    pub ip_ranges: Vec<String>,
    /// A request header that must be present (with this exact value, if one is given).
    #[serde(default)]
    pub header: Option<HeaderMatch>,
}

impl Default for Match {
    /// Every request.
    fn default() -> Self {
        Match {
            path: PathMatch::Prefix("/".into()),
            methods: Vec::new(),
            client_ids: Vec::new(),
            ip_ranges: Vec::new(),
            header: None,
        }
    }
}

/// How the request path is matched. The path compared is the gate's normalised path (RFC 3986
/// §6.2.2: dot segments removed, unreserved characters decoded, percent-encoding in upper
/// case), without the query. All three forms compare whole segments.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathMatch {
    /// This path and everything below it: `/api` matches `/api`, `/api/` and `/api/v1`, not
    /// `/apix`. A prefix ending in `/` (`/api/`) does not match `/api` itself; `/` matches all.
    Prefix(String),
    /// Exactly this path.
    Exact(String),
    /// Segments where `*` matches exactly one non-empty segment, and a final `/**` matches the
    /// rest, including nothing: `/users/*/orders`, `/v1/**` (matches `/v1` too). A `*` inside
    /// a segment (`/v*`) is invalid.
    Pattern(String),
}

/// A header constraint. Names compare case-insensitively (RFC 9110 §5.1), values exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct HeaderMatch {
    pub name: String,
    /// `None`: the header must be present, any value.
    #[serde(default)]
    pub value: Option<String>,
}

/// What a policy counts by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyBy {
    /// The client's IP address, as resolved by the gate (a forwarded address only from a
    /// trusted proxy).
    Ip,
    /// The OAuth client id.
    Client,
    /// The access token's subject (`sub`, RFC 7519 §4.1.2).
    Subject,
    /// The value of this request header.
    Header(String),
    /// One count for everything the policy matches.
    Global,
}

impl KeyBy {
    /// Same key, with header names compared case-insensitively (RFC 9110 §5.1).
    pub fn same_key(&self, other: &KeyBy) -> bool {
        match (self, other) {
            (KeyBy::Header(a), KeyBy::Header(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }

    /// How the key reads in a sentence: "IP address", "header x-api-key", …
    pub fn describe(&self) -> String {
        match self {
            KeyBy::Ip => "IP address".into(),
            KeyBy::Client => "client".into(),
            KeyBy::Subject => "token subject".into(),
            KeyBy::Header(h) => format!("header {}", h.to_ascii_lowercase()),
            KeyBy::Global => "one global count".into(),
        }
    }
}

/// `rate` requests per `per`, plus `burst` extra at once (GCRA tolerance; see
/// [`crate::gcra::Quota`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Limit {
    pub rate: u32,
    pub per: Period,
    pub burst: u32,
}

impl Limit {
    pub fn quota(&self) -> Quota {
        Quota::new(self.rate, self.per.ns(), self.burst)
    }
}

impl From<Limit> for Quota {
    fn from(l: Limit) -> Quota {
        l.quota()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Second,
    Minute,
    Hour,
    Day,
}

impl Period {
    pub const fn seconds(self) -> u64 {
        match self {
            Period::Second => 1,
            Period::Minute => 60,
            Period::Hour => 3_600,
            Period::Day => 86_400,
        }
    }

    pub const fn ns(self) -> u64 {
        self.seconds() * NS_PER_S
    }

    /// "second", "minute", …
    pub const fn noun(self) -> &'static str {
        match self {
            Period::Second => "second",
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
        }
    }
}

/// Where the count lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Each gate counts alone: with N gates a key can get up to N × the limit.
    Gate,
    /// One shared count for the whole fleet (Redis): the limit is exact. While Redis is
    /// unreachable each gate counts alone (fail-open to the gate's own limiter).
    Cluster,
    /// As [`Scope::Cluster`], but while Redis is unreachable the gates refuse the requests this
    /// policy matches with 503 (fail-closed).
    ClusterStrict,
}

impl Scope {
    /// Whether the count is shared through Redis.
    pub fn is_cluster(self) -> bool {
        matches!(self, Scope::Cluster | Scope::ClusterStrict)
    }

    /// The form's value: `gate`, `cluster` or `cluster_strict`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Gate => "gate",
            Scope::Cluster => "cluster",
            Scope::ClusterStrict => "cluster_strict",
        }
    }

    /// Parses [`Scope::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Scope> {
        [Scope::Gate, Scope::Cluster, Scope::ClusterStrict]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    /// How an admin reads it in a table.
    pub fn label(self) -> &'static str {
        match self {
            Scope::Gate => "each gate",
            Scope::Cluster => "cluster (each gate if Redis is down)",
            Scope::ClusterStrict => "cluster (503 if Redis is down)",
        }
    }
}

/// What happens to a request over the limit, once the policy is enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Refuse with 429 Too Many Requests (RFC 6585 §4) and `Retry-After` (RFC 9110 §10.2.3).
    Reject,
    /// Hold the request until it conforms, if that is at most `max_delay_ms` away; refuse it
    /// as `Reject` does otherwise.
    Delay { max_delay_ms: u32 },
    /// Count and log only, permanently.
    Shadow,
}

/// Whether the action is applied. New policies on a live fleet start in `Shadow`; switching to
/// `Enforce` is an explicit, audited action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Counted and logged ("would have refused"), nothing refused or delayed.
    #[default]
    Shadow,
    Enforce,
}

/// The facts about a request that policies match on, as the gate resolved them.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Normalised path without the query (see [`PathMatch`]).
    pub path: &'a str,
    pub client_id: Option<&'a str>,
    pub ip: IpAddr,
    /// Header fields as (name, value); a name may repeat.
    pub headers: &'a [(&'a str, &'a str)],
}

impl Match {
    /// Whether the request meets every constraint that is set.
    pub fn matches(&self, req: &Request<'_>) -> bool {
        self.path.matches(req.path)
            && (self.methods.is_empty() || self.methods.iter().any(|m| m == req.method))
            && (self.client_ids.is_empty()
                || req
                    .client_id
                    .is_some_and(|c| self.client_ids.iter().any(|id| id == c)))
            && (self.ip_ranges.is_empty()
                || self
                    .ip_ranges
                    .iter()
                    .filter_map(|r| Cidr::parse(r).ok())
                    .any(|c| c.contains(req.ip)))
            && self.header.as_ref().is_none_or(|h| h.matches(req.headers))
    }

    /// Whether every request `other` matches is also matched by `self` (used to find
    /// unreachable policies). Sound but not complete: when it says yes it is always right; it
    /// may say no for an exotic inclusion (a range covered only by the union of two ranges).
    ///
    /// Defined constraint by constraint: the path ([`PathMatch::covers`]); methods: `self` any,
    /// or `other`'s non-empty set ⊆ `self`'s; client ids: the same; IP ranges: `self` any, or
    /// every range of `other` inside one range of `self`; header: `self` none, or the same name
    /// and (`self` any value, or the same value).
    pub fn covers(&self, other: &Match) -> bool {
        self.path.covers(&other.path)
            && subset(&self.methods, &other.methods)
            && subset(&self.client_ids, &other.client_ids)
            && self.ranges_cover(other)
            && match (&self.header, &other.header) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => {
                    a.name.eq_ignore_ascii_case(&b.name)
                        && (a.value.is_none() || a.value == b.value)
                }
            }
    }

    fn ranges_cover(&self, other: &Match) -> bool {
        if self.ip_ranges.is_empty() {
            return true;
        }
        if other.ip_ranges.is_empty() {
            return false;
        }
        let mine: Vec<Cidr> = self
            .ip_ranges
            .iter()
            .filter_map(|r| Cidr::parse(r).ok())
            .collect();
        other
            .ip_ranges
            .iter()
            .all(|r| Cidr::parse(r).is_ok_and(|theirs| mine.iter().any(|m| m.covers(&theirs))))
    }
}

/// `outer` empty means "any"; otherwise `inner` must be a non-empty subset.
fn subset(outer: &[String], inner: &[String]) -> bool {
    outer.is_empty() || (!inner.is_empty() && inner.iter().all(|i| outer.contains(i)))
}

impl HeaderMatch {
    fn matches(&self, headers: &[(&str, &str)]) -> bool {
        headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case(&self.name)
                && self.value.as_deref().is_none_or(|v| v == *value)
        })
    }
}

/// One segment of a path shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seg<'a> {
    Lit(&'a str),
    /// One non-empty segment.
    Star,
}

/// What may follow the fixed segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tail {
    Nothing,
    /// Zero or more segments of any content.
    Any,
    /// One or more segments of any content (a prefix ending in `/`).
    Some,
}

impl PathMatch {
    /// The text as written, whatever the kind.
    pub fn text(&self) -> &str {
        match self {
            PathMatch::Prefix(s) | PathMatch::Exact(s) | PathMatch::Pattern(s) => s,
        }
    }

    /// The sequence of segments this matches, or `None` when the text is invalid (not
    /// starting with `/`, or a pattern with a misplaced `*`).
    fn shape(&self) -> Option<(Vec<Seg<'_>>, Tail)> {
        let body = self.text().strip_prefix('/')?;
        match self {
            PathMatch::Exact(_) => Some((body.split('/').map(Seg::Lit).collect(), Tail::Nothing)),
            // Every path has at least one segment ("/" is one empty segment), so "/" as a
            // prefix is "anything", the same shape as the pattern "/**".
            PathMatch::Prefix(_) if body.is_empty() => Some((Vec::new(), Tail::Any)),
            PathMatch::Prefix(_) => match body.strip_suffix('/') {
                Some(inner) => Some((inner.split('/').map(Seg::Lit).collect(), Tail::Some)),
                None => Some((body.split('/').map(Seg::Lit).collect(), Tail::Any)),
            },
            PathMatch::Pattern(_) => {
                let mut parts: Vec<&str> = body.split('/').collect();
                let tail = if parts.last() == Some(&"**") {
                    parts.pop();
                    Tail::Any
                } else {
                    Tail::Nothing
                };
                let mut segs = Vec::with_capacity(parts.len());
                for p in parts {
                    segs.push(match p {
                        "*" => Seg::Star,
                        _ if p.contains('*') => return None,
                        _ => Seg::Lit(p),
                    });
                }
                Some((segs, tail))
            }
        }
    }

    /// Whether the (normalised) request path matches. The same reading as [`Self::shape`],
    /// without allocating: the gate calls it for every route and policy on every request.
    pub fn matches(&self, path: &str) -> bool {
        let (Some(text), Some(body)) = (self.text().strip_prefix('/'), path.strip_prefix('/'))
        else {
            return false;
        };
        // The fixed segments (`None`: none at all), the tail, and whether `*` is a wildcard.
        let (fixed, tail, wild) = match self {
            PathMatch::Exact(_) => (Some(text), Tail::Nothing, false),
            PathMatch::Prefix(_) if text.is_empty() => (None, Tail::Any, false),
            PathMatch::Prefix(_) => match text.strip_suffix('/') {
                Some(inner) => (Some(inner), Tail::Some, false),
                None => (Some(text), Tail::Any, false),
            },
            PathMatch::Pattern(_) if text == "**" => (None, Tail::Any, true),
            PathMatch::Pattern(_) => match text.strip_suffix("/**") {
                Some(inner) => (Some(inner), Tail::Any, true),
                None => (Some(text), Tail::Nothing, true),
            },
        };
        let mut parts = body.split('/');
        for seg in fixed.into_iter().flat_map(|f| f.split('/')) {
            let ok = match parts.next() {
                Some(p) if wild && seg == "*" => !p.is_empty(),
                // A misplaced `*` makes the pattern invalid: it matches nothing.
                _ if wild && seg.contains('*') => return false,
                Some(p) => p == seg,
                None => false,
            };
            if !ok {
                return false;
            }
        }
        let rest = parts.count();
        match tail {
            Tail::Nothing => rest == 0,
            Tail::Any => true,
            Tail::Some => rest >= 1,
        }
    }

    /// Whether every path `other` matches is also matched by `self`. Exact for these three
    /// forms: both are read as a list of single-segment matchers (literal or `*`) and a tail
    /// (nothing / any segments / at least one segment); inclusion holds iff `other` has at
    /// least as many fixed segments, each of `self`'s includes `other`'s at the same position,
    /// and `self`'s tail accepts what `other` allows after them.
    pub fn covers(&self, other: &PathMatch) -> bool {
        let (Some((a, a_tail)), Some((b, b_tail))) = (self.shape(), other.shape()) else {
            return false;
        };
        if b.len() < a.len() {
            return false;
        }
        let fixed = a.iter().zip(&b).all(|(x, y)| match (x, y) {
            (Seg::Lit(x), Seg::Lit(y)) => x == y,
            (Seg::Star, Seg::Lit(y)) => !y.is_empty(),
            (Seg::Star, Seg::Star) => true,
            (Seg::Lit(_), Seg::Star) => false,
        });
        fixed
            && match a_tail {
                Tail::Nothing => b.len() == a.len() && b_tail == Tail::Nothing,
                Tail::Any => true,
                Tail::Some => b.len() > a.len() || b_tail == Tail::Some,
            }
    }
}

/// The policies `req` is counted against, in evaluation order (see the module docs): every
/// enabled matching policy, except those after a deciding policy with the same key.
pub fn applicable<'p>(policies: &'p [Policy], req: &Request<'_>) -> Vec<&'p Policy> {
    applicable_in_order(in_order(policies), req).collect()
}

/// [`applicable`] for policies already in evaluation order (see [`in_order`]), lazily: the
/// gate keeps its policies sorted and asks this for every request.
pub fn applicable_in_order<'p, 'r>(
    ordered: impl IntoIterator<Item = &'p Policy> + 'r,
    req: &'r Request<'r>,
) -> impl Iterator<Item = &'p Policy> + 'r
where
    'p: 'r,
{
    let mut decided: Vec<&KeyBy> = Vec::new();
    ordered.into_iter().filter(move |p| {
        if !p.enabled || !p.matcher.matches(req) || decided.iter().any(|k| k.same_key(&p.key)) {
            return false;
        }
        if p.decides() {
            decided.push(&p.key);
        }
        true
    })
}

/// The policies sorted by `order`, ties by `id`: the evaluation order.
pub fn in_order(policies: &[Policy]) -> Vec<&Policy> {
    let mut v: Vec<&Policy> = policies.iter().collect();
    v.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.id.cmp(&b.id)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_compare_whole_segments() {
        let p = PathMatch::Prefix("/api".into());
        for path in ["/api", "/api/", "/api/v1/x"] {
            assert!(p.matches(path), "{path}");
        }
        for path in ["/apix", "/ap", "/", "api"] {
            assert!(!p.matches(path), "{path}");
        }
        let slash = PathMatch::Prefix("/api/".into());
        assert!(slash.matches("/api/") && slash.matches("/api/v1"));
        assert!(!slash.matches("/api"));
        let root = PathMatch::Prefix("/".into());
        assert!(root.matches("/") && root.matches("/x/y"));
    }

    #[test]
    fn exact_and_pattern_paths() {
        let e = PathMatch::Exact("/login".into());
        assert!(e.matches("/login"));
        assert!(!e.matches("/login/") && !e.matches("/login/x"));
        let p = PathMatch::Pattern("/users/*/orders".into());
        assert!(p.matches("/users/42/orders"));
        assert!(!p.matches("/users//orders"), "* needs a non-empty segment");
        assert!(!p.matches("/users/42/orders/7") && !p.matches("/users/orders"));
        let rest = PathMatch::Pattern("/v1/*/**".into());
        assert!(rest.matches("/v1/a") && rest.matches("/v1/a/b/c"));
        assert!(!rest.matches("/v1"));
        let all = PathMatch::Pattern("/**".into());
        assert!(all.matches("/") && all.matches("/a/b"));
        assert!(
            !PathMatch::Pattern("/v*".into()).matches("/v1"),
            "invalid pattern"
        );
    }

    /// `matches` reads paths exactly as `shape` (which `covers` and validation use) does: every
    /// matcher kind over awkward texts, against every path built from the same pieces.
    #[test]
    fn matching_agrees_with_the_shape_reading() {
        fn by_shape(m: &PathMatch, path: &str) -> bool {
            let (Some((segs, tail)), Some(body)) = (m.shape(), path.strip_prefix('/')) else {
                return false;
            };
            let mut parts = body.split('/');
            for seg in &segs {
                match (seg, parts.next()) {
                    (Seg::Lit(l), Some(p)) if *l == p => {}
                    (Seg::Star, Some(p)) if !p.is_empty() => {}
                    _ => return false,
                }
            }
            let rest = parts.count();
            match tail {
                Tail::Nothing => rest == 0,
                Tail::Any => true,
                Tail::Some => rest >= 1,
            }
        }
        let pieces = ["", "a", "b", "*", "**", "a*"];
        let mut texts = vec![String::new(), "/".into(), "a".into()];
        let mut paths = vec![String::new(), "x".into()];
        for x in pieces {
            texts.push(format!("/{x}"));
            texts.push(format!("/{x}/"));
            paths.push(format!("/{x}"));
            for y in pieces {
                texts.push(format!("/{x}/{y}"));
                texts.push(format!("/{x}/{y}/"));
                paths.push(format!("/{x}/{y}"));
                for z in ["", "a", "*", "**"] {
                    texts.push(format!("/{x}/{y}/{z}"));
                    paths.push(format!("/{x}/{y}/{z}"));
                }
            }
        }
        let mut checked = 0;
        for t in &texts {
            for m in [
                PathMatch::Prefix(t.clone()),
                PathMatch::Exact(t.clone()),
                PathMatch::Pattern(t.clone()),
            ] {
                for p in &paths {
                    assert_eq!(m.matches(p), by_shape(&m, p), "{m:?} on {p:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 100_000, "{checked}");
    }

    #[test]
    fn path_coverage() {
        let pre = |s: &str| PathMatch::Prefix(s.into());
        let ex = |s: &str| PathMatch::Exact(s.into());
        let pat = |s: &str| PathMatch::Pattern(s.into());
        assert!(pre("/api").covers(&pre("/api/v1")));
        assert!(pre("/api").covers(&pre("/api/")));
        assert!(!pre("/api/").covers(&pre("/api")));
        assert!(pre("/").covers(&pat("/**")));
        assert!(pre("/api").covers(&pat("/api/*/x")));
        assert!(pre("/api").covers(&ex("/api")));
        assert!(!pre("/api").covers(&pre("/apix")));
        assert!(!pre("/api/v1").covers(&pre("/api")));
        assert!(pat("/users/*").covers(&ex("/users/7")));
        assert!(!pat("/users/*").covers(&ex("/users/")));
        assert!(pat("/users/**").covers(&pre("/users")));
        assert!(
            !pat("/users/*/**").covers(&pre("/users/")),
            "/users/ has an empty segment"
        );
        assert!(!ex("/api").covers(&pre("/api")));
        assert!(pat("/*/orders").covers(&pat("/*/orders")));
        assert!(!pat("/users/orders").covers(&pat("/*/orders")));
    }

    #[test]
    fn serde_shape_is_snake_case() {
        let p = Policy {
            id: "p1".into(),
            name: "login".into(),
            enabled: true,
            order: 10,
            matcher: Match {
                path: PathMatch::Exact("/login".into()),
                methods: vec!["POST".into()],
                ..Match::default()
            },
            key: KeyBy::Header("X-Api-Key".into()),
            limit: Limit {
                rate: 5,
                per: Period::Minute,
                burst: 2,
            },
            scope: Scope::Cluster,
            action: Action::Delay { max_delay_ms: 500 },
            mode: Mode::Shadow,
        };
        let json = serde_json::to_string(&p).expect("serialises");
        assert_eq!(
            json,
            r#"{"id":"p1","name":"login","enabled":true,"order":10,"matcher":{"path":{"exact":"/login"},"methods":["POST"],"client_ids":[],"ip_ranges":[],"header":null},"key":{"header":"X-Api-Key"},"limit":{"rate":5,"per":"minute","burst":2},"scope":"cluster","action":{"delay":{"max_delay_ms":500}},"mode":"shadow"}"#
        );
        let back: Policy = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, p);
        let short = r#"{"id":"","name":"n","enabled":false,"order":1,"matcher":{"path":{"prefix":"/"}},"key":"ip","limit":{"rate":1,"per":"second","burst":0},"scope":"gate","action":"reject","mode":"enforce"}"#;
        let p: Policy = serde_json::from_str(short).expect("optional match fields may be left out");
        assert!(p.matcher.methods.is_empty() && p.matcher.header.is_none());
        let unknown = short.replace(r#""enabled""#, r#""colour":"red","enabled""#);
        assert!(
            serde_json::from_str::<Policy>(&unknown).is_err(),
            "an unknown field could be a constraint this version would silently ignore"
        );
    }
}
