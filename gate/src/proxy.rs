//! The proxy listener's request path: readiness → path normalisation → route (first match;
//! none: 404, never proxied) → bearer token where the route requires one (RFC 6750) → rate
//! limits (`policy::model::applicable_in_order` + GCRA) → the upstream, through a pooled hyper client.
//!
//! Every refusal is an answer with a JSON body, never a panic or a 5xx of the gate's own making
//! (502/504 only when the upstream fails). Headers sent upstream: hop-by-hop fields removed
//! (RFC 9110 §7.6.1), `X-Palisade-Client` / `X-Palisade-Subject` removed and then set from the
//! verified token, `X-Forwarded-For` set (appended to only when the peer is a trusted proxy),
//! `X-Forwarded-Host`, `X-Forwarded-Proto`, and `Host` = the upstream's authority. The path sent
//! upstream is the normalised path the gate matched, so both see the same resource.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{
    HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST, RETRY_AFTER, WWW_AUTHENTICATE,
};
use http::uri::{Authority, Scheme};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use policy::bundle::RouteAuth;
use policy::cidr::Cidr;
use policy::gcra::Outcome as GcraOutcome;
use policy::model::{applicable_in_order, Action, KeyBy, Policy, Request as PolicyRequest};
use sha2::{Digest, Sha256};

use crate::apply::Shared;
use crate::error::GateError;
use crate::metrics::Outcome;
use crate::request::{bearer, client_ip, normalize_path, strip_hop_by_hop, Bearer};
use crate::state::{Enforcement, Principal};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body of every answer: the upstream's, streamed, or one of the gate's own.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// Headers other than `Authorization` may total at most this (QUALITY.md, "HTTP": a 64 KB
/// header is refused with 431); `Authorization` is capped by the token size instead, so an
/// oversized token is a 401 (RFC 6750 §3.1), not a 431.
pub const MAX_OTHER_HEADER_BYTES: usize = 64 * 1024;

static CLUSTER_WARNED: AtomicBool = AtomicBool::new(false);

/// Logs once per process that `cluster`-scoped policies are counted per gate.
pub fn warn_cluster_scope_once() {
    if !CLUSTER_WARNED.swap(true, Relaxed) {
        tracing::warn!(
            "a policy has scope \"cluster\", but shared (Redis) counters are not built in this \
             gate version: it is enforced per gate, so N gates admit up to N times its limit"
        );
    }
}

/// The upstream every request goes to.
#[derive(Clone, Debug)]
pub struct Upstream {
    scheme: Scheme,
    authority: Authority,
    /// Path prefix, without a trailing slash ("" for none).
    base_path: String,
}

impl Upstream {
    pub fn parse(url: &str) -> Result<Self, GateError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| GateError::Config(format!("upstream URL {url:?}: {e}")))?;
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(GateError::Config(format!(
                "upstream URL {url:?}: expected http://host:port"
            )));
        };
        if scheme != &Scheme::HTTP {
            return Err(GateError::Config(format!(
                "upstream URL {url:?}: only http:// upstreams are supported in this version"
            )));
        }
        if uri.query().is_some() {
            return Err(GateError::Config(format!(
                "upstream URL {url:?} has a query"
            )));
        }
        Ok(Upstream {
            scheme: scheme.clone(),
            authority: authority.clone(),
            base_path: uri.path().trim_end_matches('/').to_string(),
        })
    }
}

/// Everything the request path needs.
pub struct Proxy {
    pub shared: Arc<Shared>,
    client: Client<HttpConnector, Limited<Incoming>>,
    upstream: Upstream,
    trusted: Vec<Cidr>,
    max_body: usize,
    upstream_timeout: Duration,
}

impl Proxy {
    pub fn new(
        shared: Arc<Shared>,
        upstream: Upstream,
        trusted: Vec<Cidr>,
        max_body: usize,
        upstream_timeout: Duration,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        Proxy {
            shared,
            client,
            upstream,
            trusted,
            max_body,
            upstream_timeout,
        }
    }

    /// Answers one request.
    pub async fn handle(&self, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
        let (outcome, resp) = self.decide_and_forward(peer, req).await;
        self.shared.metrics.request(outcome);
        resp
    }

    async fn decide_and_forward(
        &self,
        peer: SocketAddr,
        req: Request<Incoming>,
    ) -> (Outcome, Response<Body>) {
        let Some(st) = self.shared.current() else {
            let mut r = json(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"not_ready","error_description":"no configuration bundle applied yet"}"#,
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return (Outcome::NotReady, r);
        };
        let other_headers: usize = req
            .headers()
            .iter()
            .filter(|(n, _)| *n != http::header::AUTHORIZATION)
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum();
        if other_headers > MAX_OTHER_HEADER_BYTES {
            return (
                Outcome::HeadersTooLarge,
                json(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    r#"{"error":"headers_too_large"}"#,
                ),
            );
        }
        let path = match normalize_path(req.uri().path()) {
            Ok(p) => p,
            Err(e) => {
                return (
                    Outcome::BadRequest,
                    json_value(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": "bad_path", "error_description": format!("{e:?}")}),
                    ),
                )
            }
        };
        let Some(auth) = st.route(req.method().as_str(), &path) else {
            return (
                Outcome::NotFound,
                json(
                    StatusCode::NOT_FOUND,
                    r#"{"error":"no_route","error_description":"no route of the gate matches this request"}"#,
                ),
            );
        };
        let principal = match auth {
            RouteAuth::None => None,
            RouteAuth::Bearer { scopes } => match self.authenticate(&st, req.headers()) {
                Ok(p) => {
                    if let Some(missing) = scopes.iter().find(|s| !p.scopes.contains(s)) {
                        tracing::debug!(scope = %missing, "token lacks a scope the route needs");
                        return (Outcome::Forbidden, insufficient_scope(scopes));
                    }
                    Some(p)
                }
                Err(resp) => return resp,
            },
        };
        let ip = client_ip(peer.ip(), req.headers(), &self.trusted);
        if !st.policies.is_empty() {
            if let Some(resp) = self
                .rate_limit(&st, &req, &path, ip, principal.as_deref())
                .await
            {
                return (Outcome::RateLimited, resp);
            }
        }
        self.forward(req, peer, &path, principal.as_deref()).await
    }

    /// The verified principal of the request's bearer token, or the 400/401 answer.
    #[allow(clippy::result_large_err)]
    fn authenticate(
        &self,
        st: &Enforcement,
        headers: &http::HeaderMap,
    ) -> Result<Arc<Principal>, (Outcome, Response<Body>)> {
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
        req: &Request<Incoming>,
        path: &str,
        ip: std::net::IpAddr,
        principal: Option<&Principal>,
    ) -> Option<Response<Body>> {
        let headers: Vec<(&str, &str)> = if st.policies_read_headers {
            req.headers()
                .iter()
                .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
                .collect()
        } else {
            Vec::new()
        };
        let preq = PolicyRequest {
            method: req.method().as_str(),
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
                match l.decide(&key, now, max_wait) {
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
                match l.decide(&key, now, 0) {
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

    async fn forward(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        path: &str,
        principal: Option<&Principal>,
    ) -> (Outcome, Response<Body>) {
        let (mut parts, body) = req.into_parts();
        let too_large = || {
            (
                Outcome::PayloadTooLarge,
                json(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    r#"{"error":"payload_too_large"}"#,
                ),
            )
        };
        if let Some(len) = parts.headers.get(CONTENT_LENGTH) {
            match len.to_str().ok().and_then(|s| s.parse::<u64>().ok()) {
                Some(n) if n > self.max_body as u64 => return too_large(),
                Some(_) => {}
                None => {
                    return (
                        Outcome::BadRequest,
                        json(StatusCode::BAD_REQUEST, r#"{"error":"bad_content_length"}"#),
                    )
                }
            }
        }
        let original_host = parts.headers.get(HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let h = &mut parts.headers;
        strip_hop_by_hop(h);
        h.remove("x-palisade-client");
        h.remove("x-palisade-subject");
        let peer_ip = peer.ip().to_string();
        let peer_trusted = self.trusted.iter().any(|c| c.contains(peer.ip()));
        let forwarded = if peer_trusted {
            let prior: Vec<&str> = h
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if prior.is_empty() {
                peer_ip
            } else {
                format!("{}, {peer_ip}", prior.join(", "))
            }
        } else {
            peer_ip
        };
        h.remove("x-forwarded-for");
        if let Ok(v) = HeaderValue::from_str(&forwarded) {
            h.insert("x-forwarded-for", v);
        }
        if let Some(host) = original_host {
            h.insert("x-forwarded-host", host);
        }
        h.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        if let Ok(v) = HeaderValue::from_str(self.upstream.authority.as_str()) {
            h.insert(HOST, v);
        }
        if let Some(p) = principal {
            // Checked representable when the token was verified.
            if let Ok(v) = HeaderValue::from_str(&p.client_id) {
                h.insert("x-palisade-client", v);
            }
            if let Some(Ok(v)) = p.subject.as_deref().map(HeaderValue::from_str) {
                h.insert("x-palisade-subject", v);
            }
        }
        let pq = match parts.uri.query() {
            Some(q) => format!("{}{path}?{q}", self.upstream.base_path),
            None => format!("{}{path}", self.upstream.base_path),
        };
        let uri = Uri::builder()
            .scheme(self.upstream.scheme.clone())
            .authority(self.upstream.authority.clone())
            .path_and_query(pq)
            .build();
        let Ok(uri) = uri else {
            return (
                Outcome::BadRequest,
                json(StatusCode::BAD_REQUEST, r#"{"error":"bad_target"}"#),
            );
        };
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        let upstream_req = Request::from_parts(parts, Limited::new(body, self.max_body));
        match tokio::time::timeout(self.upstream_timeout, self.client.request(upstream_req)).await {
            Ok(Ok(resp)) => {
                let (mut parts, body) = resp.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                let body = body.map_err(BoxError::from).boxed_unsync();
                (Outcome::Proxied, Response::from_parts(parts, body))
            }
            Ok(Err(e)) => {
                if is_length_limit(&e) {
                    return too_large();
                }
                self.shared.metrics.upstream_errors.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, "upstream request failed");
                (
                    Outcome::UpstreamError,
                    json(
                        StatusCode::BAD_GATEWAY,
                        r#"{"error":"upstream_unavailable"}"#,
                    ),
                )
            }
            Err(_) => {
                self.shared.metrics.upstream_errors.fetch_add(1, Relaxed);
                tracing::warn!(
                    timeout_s = self.upstream_timeout.as_secs(),
                    "upstream did not answer in time"
                );
                (
                    Outcome::UpstreamError,
                    json(
                        StatusCode::GATEWAY_TIMEOUT,
                        r#"{"error":"upstream_timeout"}"#,
                    ),
                )
            }
        }
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
            std::net::IpAddr::V4(a) => tagged(1, Some(&a.octets())),
            std::net::IpAddr::V6(a) => tagged(1, Some(&a.octets())),
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

fn invalid_token(description: &str) -> (Outcome, Response<Body>) {
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

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn json(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn json_value(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(full(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

fn unix_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
