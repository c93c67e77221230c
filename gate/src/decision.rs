//! The decision: whether the gate admits one request, computed from its method, target and
//! headers alone. Readiness → header size → path normalisation → route (first match; none: 404)
//! → bearer token where the route requires one (RFC 6750), through the verified-token cache →
//! rate limits (`policy::model::applicable_in_order` + GCRA, a `delay` action waits here).
//!
//! [`Decider::decide`] is the only place this is computed: the reverse proxy
//! ([`crate::proxy`]) calls it before forwarding, and decision mode ([`crate::decision_mode`],
//! nginx `auth_request`, Envoy `ext_authz`) calls it with the original request's method, target
//! and headers. A refusal is the finished answer (status, `WWW-Authenticate`, `Retry-After`,
//! RateLimit fields, JSON body), the same in both modes; an admission names the normalised path
//! and the verified principal, whose client and subject are forwarded as `X-Palisade-Client` /
//! `X-Palisade-Subject`.
//!
//! Never panics on input: every refusal is an answer, never an error.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{HeaderMap, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use policy::bundle::RouteAuth;
use policy::forwarded::ProxyTrust;
use policy::gcra::{Outcome as GcraOutcome, Tat};
use policy::model::{applicable_in_order, Action, KeyBy, Policy, Request as PolicyRequest, Scope};
use sha2::{Digest, Sha256};

use crate::apply::Shared;
use crate::cluster::{Down, Verdict};
use crate::metrics::Outcome;
use crate::proxy::{json, json_value, Body};
use crate::request::{bearer, client_ip, normalize_path, Bearer};
use crate::state::{Enforcement, Principal};

/// Headers other than `Authorization` may total at most this (QUALITY.md, "HTTP": a 64 KB
/// header is refused with 431); `Authorization` is capped by the token size instead, so an
/// oversized token is a 401 (RFC 6750 §3.1), not a 431.
pub const MAX_OTHER_HEADER_BYTES: usize = 64 * 1024;

/// The forwarded identity headers: removed from what the client sent, then set from the
/// verified token (proxy mode), or returned on an admission (decision mode).
pub const CLIENT_HEADER: &str = "x-palisade-client";
pub const SUBJECT_HEADER: &str = "x-palisade-subject";

/// A request the gate admits.
#[derive(Debug)]
pub struct Admitted {
    /// The normalised path routes and policies matched.
    pub path: String,
    /// The verified token's principal, on a bearer route.
    pub principal: Option<Arc<Principal>>,
}

impl Admitted {
    /// The identity headers to forward: client and subject of the verified token, when there
    /// is one (checked representable as header values when the token was verified).
    pub fn forward_headers(&self) -> Vec<(&'static str, HeaderValue)> {
        let mut out = Vec::with_capacity(2);
        if let Some(p) = &self.principal {
            if let Ok(v) = HeaderValue::from_str(&p.client_id) {
                out.push((CLIENT_HEADER, v));
            }
            if let Some(Ok(v)) = p.subject.as_deref().map(HeaderValue::from_str) {
                out.push((SUBJECT_HEADER, v));
            }
        }
        out
    }
}

/// A refusal: what to count, and the finished answer to send.
pub type Refused = (Outcome, Response<Body>);

/// Decides requests against the applied bundle; shared by both modes.
pub struct Decider {
    pub shared: Arc<Shared>,
    /// Peers whose forwarding header is believed, and which header that is.
    pub proxies: ProxyTrust,
}

impl Decider {
    pub fn new(shared: Arc<Shared>, proxies: ProxyTrust) -> Self {
        Decider { shared, proxies }
    }

    /// Decides one request: `method` and `raw_path` (the target's path, without the query) of
    /// the request to admit, its headers, and the socket peer that sent them.
    pub async fn decide(
        &self,
        peer: SocketAddr,
        method: &str,
        raw_path: &str,
        headers: &HeaderMap,
    ) -> Result<Admitted, Refused> {
        let Some(st) = self.shared.current() else {
            let mut r = json(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"not_ready","error_description":"no configuration bundle applied yet"}"#,
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return Err((Outcome::NotReady, r));
        };
        let other_headers: usize = headers
            .iter()
            .filter(|(n, _)| *n != http::header::AUTHORIZATION)
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum();
        if other_headers > MAX_OTHER_HEADER_BYTES {
            return Err((
                Outcome::HeadersTooLarge,
                json(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    r#"{"error":"headers_too_large"}"#,
                ),
            ));
        }
        let path = match normalize_path(raw_path) {
            Ok(p) => p,
            Err(e) => {
                return Err((
                    Outcome::BadRequest,
                    json_value(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": "bad_path", "error_description": format!("{e:?}")}),
                    ),
                ))
            }
        };
        let Some(auth) = st.route(method, &path) else {
            return Err((
                Outcome::NotFound,
                json(
                    StatusCode::NOT_FOUND,
                    r#"{"error":"no_route","error_description":"no route of the gate matches this request"}"#,
                ),
            ));
        };
        let principal = match auth {
            RouteAuth::None => None,
            RouteAuth::Bearer { scopes } => {
                let p = self.authenticate(&st, headers)?;
                if let Some(missing) = scopes.iter().find(|s| !p.scopes.contains(s)) {
                    tracing::debug!(scope = %missing, "token lacks a scope the route needs");
                    return Err((Outcome::Forbidden, insufficient_scope(scopes)));
                }
                Some(p)
            }
        };
        if !st.policies.is_empty() {
            let ip = client_ip(peer.ip(), headers, &self.proxies);
            if let Some(resp) = self
                .rate_limit(&st, method, headers, &path, ip, principal.as_deref())
                .await
            {
                return Err((Outcome::RateLimited, resp));
            }
        }
        Ok(Admitted { path, principal })
    }

    /// The verified principal of the request's bearer token, or the 400/401 answer.
    #[allow(clippy::result_large_err)]
    fn authenticate(
        &self,
        st: &Enforcement,
        headers: &HeaderMap,
    ) -> Result<Arc<Principal>, Refused> {
        let token = match bearer(headers, jose::MAX_JWT_BYTES) {
            Bearer::Token(t) => t,
            Bearer::Missing => {
                // RFC 6750 §3.1: no error code when the request has no authentication.
                return Err((
                    Outcome::Unauthorized,
                    challenge(StatusCode::UNAUTHORIZED, None, ""),
                ));
            }
            Bearer::Malformed => {
                return Err((
                    Outcome::BadRequest,
                    challenge(
                        StatusCode::BAD_REQUEST,
                        Some("invalid_request"),
                        "the Authorization header is not one Bearer b64token",
                    ),
                ))
            }
            Bearer::TooLarge(n) => {
                return Err(invalid_token(&format!(
                    "the token is {n} bytes; the limit is {} bytes",
                    jose::MAX_JWT_BYTES
                )))
            }
        };
        if token.len() > jose::MAX_JWT_BYTES {
            return Err(invalid_token("the token is too large"));
        }
        let now_s = unix_now_s();
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let m = &self.shared.metrics;
        if let Some(p) = st.cache.get(&hash, now_s) {
            m.cache_hits.fetch_add(1, Relaxed);
            return Ok(p);
        }
        m.cache_misses.fetch_add(1, Relaxed);
        let started = Instant::now();
        let result = verify_token(st, token, now_s);
        m.observe_verify(started.elapsed());
        match result {
            Ok(p) => {
                let p = Arc::new(p);
                st.cache.insert(hash, p.clone(), now_s);
                Ok(p)
            }
            Err(why) => {
                tracing::debug!(reason = %why, "bearer token refused");
                Err(invalid_token(&why))
            }
        }
    }

    /// Counts the request against every applicable policy; `Some` is the 429 answer.
    async fn rate_limit(
        &self,
        st: &Enforcement,
        method: &str,
        req_headers: &HeaderMap,
        path: &str,
        ip: IpAddr,
        principal: Option<&Principal>,
    ) -> Option<Response<Body>> {
        let headers: Vec<(&str, &str)> = if st.policies_read_headers {
            req_headers
                .iter()
                .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
                .collect()
        } else {
            Vec::new()
        };
        let preq = PolicyRequest {
            method,
            path,
            client_id: principal.map(|p| p.client_id.as_str()),
            ip,
            headers: &headers,
        };
        let mut wait_ns = 0u64;
        for p in applicable_in_order(&st.policies, &preq) {
            let Some(l) = st.limiters.get(&p.id) else {
                continue;
            };
            let key = limiter_key(&p.key, &preq, principal);
            let now = self.shared.now_ns();
            let c = &l.counters;
            if p.enforces() {
                let max_wait = match p.action {
                    Action::Delay { max_delay_ms } => u64::from(max_delay_ms) * 1_000_000,
                    _ => 0,
                };
                let decided = match self.shared_decision(p, &key, max_wait).await {
                    Some(Ok(o)) => o,
                    Some(Err(refused)) => return Some(refused),
                    None => l.decide(&key, now, max_wait),
                };
                match decided {
                    GcraOutcome::Allow { .. } => {
                        c.allowed.fetch_add(1, Relaxed);
                    }
                    GcraOutcome::Delay { wait_ns: w, .. } => {
                        c.delayed.fetch_add(1, Relaxed);
                        wait_ns = wait_ns.max(w);
                    }
                    GcraOutcome::Deny { retry_after_ns } => {
                        c.rejected.fetch_add(1, Relaxed);
                        return Some(too_many(p, retry_after_ns));
                    }
                }
            } else {
                let decided = match self.shared_decision(p, &key, 0).await {
                    Some(Ok(o)) => o,
                    // A shadow policy never refuses, Redis or not.
                    Some(Err(_)) | None => l.decide(&key, now, 0),
                };
                match decided {
                    GcraOutcome::Deny { .. } => {
                        let n = c.shadow_rejected.fetch_add(1, Relaxed) + 1;
                        if n % 1000 == 1 {
                            tracing::info!(policy = %p.id, would_have_refused = n, "shadow policy over its limit (not enforced)");
                        }
                    }
                    _ => {
                        c.allowed.fetch_add(1, Relaxed);
                    }
                }
            }
        }
        if wait_ns > 0 {
            tokio::time::sleep(Duration::from_nanos(wait_ns)).await;
        }
        None
    }
}

impl Decider {
    /// The decision of a `cluster`-scoped policy in Redis: `None` for a gate-scoped policy or
    /// a cluster one whose Redis is away and that falls back to this gate's own limiter;
    /// `Some(Err(503))` for a `cluster_strict` one whose Redis is away.
    async fn shared_decision(
        &self,
        p: &Policy,
        key: &[u8],
        max_wait_ns: u64,
    ) -> Option<Result<GcraOutcome, Response<Body>>> {
        if !p.scope.is_cluster() {
            return None;
        }
        let down = match self.shared.cluster.get() {
            Some(c) => match c.decide(&p.id, p.limit.quota(), key, max_wait_ns).await {
                Ok(Verdict::Allow) => {
                    return Some(Ok(GcraOutcome::Allow {
                        tat: Tat::default(),
                    }))
                }
                Ok(Verdict::Delay { wait_ns }) => {
                    return Some(Ok(GcraOutcome::Delay {
                        tat: Tat::default(),
                        wait_ns,
                    }))
                }
                Ok(Verdict::Deny { retry_after_ns }) => {
                    return Some(Ok(GcraOutcome::Deny { retry_after_ns }))
                }
                Err(Down) => true,
            },
            None => {
                crate::proxy::warn_cluster_scope_once();
                true
            }
        };
        debug_assert!(down);
        self.shared.metrics.cluster_fallbacks.fetch_add(1, Relaxed);
        if p.scope == Scope::ClusterStrict {
            let mut r = json_value(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({
                    "error": "limit_unavailable",
                    "error_description": format!(
                        "the shared rate limit of policy {:?} cannot be checked right now",
                        p.name
                    ),
                }),
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return Some(Err(r));
        }
        None
    }
}

/// Verifies a token against the state's keys and rules and resolves its client.
fn verify_token(st: &Enforcement, token: &str, now_s: i64) -> Result<Principal, String> {
    let mut leeway_s = 0;
    let verified = jose::verify_compact(token, jose::TypRule::JwtOrAccessToken, |kid| {
        let entry = st
            .keys
            .get(kid)
            .ok_or_else(|| jose::JoseError::TokenUnknownKid {
                kid: jose::truncate(kid),
            })?;
        leeway_s = entry.leeway_s;
        Ok(&entry.key)
    })
    .map_err(|e| e.to_string())?;
    let rules = jose::ClaimRules {
        issuer: &st.issuer,
        audiences: &st.audiences,
        leeway_s,
        require_typ_at_jwt: st.require_typ_at_jwt,
    };
    let v = jose::claims::validate(&verified, &rules, now_s).map_err(|e| e.to_string())?;
    let client_id = v
        .client_id
        .ok_or_else(|| "the token names no client (client_id or azp)".to_string())?;
    let client = st
        .clients
        .get(&client_id)
        .ok_or_else(|| "the token's client is not registered".to_string())?;
    if !client.enabled {
        return Err("the token's client is disabled".into());
    }
    if HeaderValue::from_str(&client_id).is_err()
        || v.subject
            .as_deref()
            .is_some_and(|s| HeaderValue::from_str(s).is_err())
    {
        return Err("the token's client or subject cannot be forwarded as a header".into());
    }
    let scopes = v
        .scopes
        .into_iter()
        .filter(|s| client.scopes.contains(s))
        .collect();
    Ok(Principal {
        exp: v.exp,
        subject: v.subject,
        client_id,
        scopes,
    })
}

/// The bytes a policy counts by. A request without the value (no token, no such header) is
/// counted in one shared "absent" bucket of the policy: leaving the value out never escapes
/// the limit.
fn limiter_key(key: &KeyBy, req: &PolicyRequest<'_>, principal: Option<&Principal>) -> Vec<u8> {
    let tagged = |tag: u8, v: Option<&[u8]>| match v {
        Some(b) => {
            let mut k = Vec::with_capacity(b.len() + 1);
            k.push(tag);
            k.extend_from_slice(b);
            k
        }
        None => vec![tag | 0x80],
    };
    match key {
        KeyBy::Ip => match req.ip {
            IpAddr::V4(a) => tagged(1, Some(&a.octets())),
            IpAddr::V6(a) => tagged(1, Some(&a.octets())),
        },
        KeyBy::Client => tagged(2, req.client_id.map(str::as_bytes)),
        KeyBy::Subject => tagged(
            3,
            principal
                .and_then(|p| p.subject.as_deref())
                .map(str::as_bytes),
        ),
        KeyBy::Header(name) => tagged(
            4,
            req.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_bytes()),
        ),
        KeyBy::Global => vec![5],
    }
}

/// 429 (RFC 6585 §4) with `Retry-After` (RFC 9110 §10.2.3) and the RateLimit header fields
/// (draft-ietf-httpapi-ratelimit-headers-10 §3–4): the refusing policy's quota (`q` requests
/// per `w` seconds) and that none remain for `t` seconds.
fn too_many(p: &Policy, retry_after_ns: u64) -> Response<Body> {
    let secs = retry_after_ns.div_ceil(1_000_000_000).max(1);
    let mut r = json_value(
        StatusCode::TOO_MANY_REQUESTS,
        serde_json::json!({"error": "rate_limited", "policy": p.id, "retry_after_s": secs}),
    );
    let h = r.headers_mut();
    h.insert(RETRY_AFTER, HeaderValue::from(secs));
    let policy = format!(
        "\"{}\";q={};w={}",
        p.id,
        p.limit.rate,
        p.limit.per.seconds()
    );
    if let Ok(v) = HeaderValue::from_str(&policy) {
        h.insert("ratelimit-policy", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\";r=0;t={secs}", p.id)) {
        h.insert("ratelimit", v);
    }
    r
}

/// An RFC 6750 §3 challenge. `error_description` is restricted to %x20-21 / %x23-5B /
/// %x5D-7E, so anything else is replaced.
fn challenge(status: StatusCode, error: Option<&str>, description: &str) -> Response<Body> {
    let clean: String = description
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '?',
        })
        .collect();
    let (header, body) = match error {
        None => (
            "Bearer realm=\"palisade\"".to_string(),
            serde_json::json!({"error": "unauthorized", "error_description": "a bearer token is required"}),
        ),
        Some(e) => (
            format!("Bearer realm=\"palisade\", error=\"{e}\", error_description=\"{clean}\""),
            serde_json::json!({"error": e, "error_description": clean}),
        ),
    };
    let mut r = json_value(status, body);
    if let Ok(v) = HeaderValue::from_str(&header) {
        r.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    r
}

fn invalid_token(description: &str) -> Refused {
    (
        Outcome::Unauthorized,
        challenge(StatusCode::UNAUTHORIZED, Some("invalid_token"), description),
    )
}

/// 403 with the scopes the route needs (RFC 6750 §3.1).
fn insufficient_scope(scopes: &[String]) -> Response<Body> {
    let scope = scopes.join(" ");
    let mut r = json_value(
        StatusCode::FORBIDDEN,
        serde_json::json!({"error": "insufficient_scope", "scope": scope}),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "Bearer realm=\"palisade\", error=\"insufficient_scope\", scope=\"{scope}\""
    )) {
        r.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    r
}

fn unix_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
