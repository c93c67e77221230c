//! The proxy listener's request path: the decision ([`crate::decision::Decider::decide`]:
//! readiness, path normalisation, route, bearer token, rate limits; the same code decision mode
//! runs) → the upstream, through a pooled hyper client.
//!
//! Every refusal is an answer with a JSON body, never a panic or a 5xx of the gate's own making
//! (502/504 only when the upstream fails). Headers sent upstream: hop-by-hop fields removed
//! (RFC 9110 §7.6.1), `X-Palisade-Client` / `X-Palisade-Subject` removed and then set from the
//! verified token, the configured forwarding header (`X-Forwarded-For` or RFC 7239 `Forwarded`)
//! set — appended to only when the peer is a trusted proxy — and the other one removed,
//! `X-Forwarded-Host`, `X-Forwarded-Proto`, and `Host` = the upstream's authority. The path sent
//! upstream is the normalised path the gate matched, so both see the same resource.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::uri::{Authority, Scheme};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use policy::forwarded::ProxyTrust;

use crate::apply::Shared;
use crate::decision::{Admitted, Decider, CLIENT_HEADER, SUBJECT_HEADER};
use crate::error::GateError;
use crate::metrics::Outcome;
use crate::request::strip_hop_by_hop;
use crate::token::TokenEndpoint;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body of every answer: the upstream's, streamed, or one of the gate's own.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

static CLUSTER_WARNED: AtomicBool = AtomicBool::new(false);

/// Logs once per process that `cluster`-scoped policies have no Redis to share their count.
pub fn warn_cluster_scope_once() {
    if !CLUSTER_WARNED.swap(true, Relaxed) {
        tracing::warn!(
            "a policy has scope \"cluster\" but this gate has no --redis: each gate counts it \
             alone (N gates admit up to N times its limit), and \"cluster_strict\" policies \
             refuse their requests with 503"
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
    decider: Decider,
    tokens: TokenEndpoint,
    client: Client<HttpConnector, Limited<Incoming>>,
    upstream: Upstream,
    max_body: usize,
    upstream_timeout: Duration,
}

impl Proxy {
    pub fn new(
        shared: Arc<Shared>,
        upstream: Upstream,
        proxies: ProxyTrust,
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
            decider: Decider::new(shared, proxies),
            tokens: TokenEndpoint::new(),
            client,
            upstream,
            max_body,
            upstream_timeout,
        }
    }

    /// Answers one request.
    pub async fn handle(&self, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
        if let Some(st) = self.decider.shared.current() {
            if TokenEndpoint::serves(&st, req.uri().path()) {
                let ip = crate::request::client_ip(peer.ip(), req.headers(), &self.decider.proxies);
                return self.tokens.handle(&self.decider.shared, st, ip, req).await;
            }
        }
        let (outcome, resp) = self.decide_and_forward(peer, req).await;
        self.decider.shared.metrics.request(outcome);
        resp
    }

    async fn decide_and_forward(
        &self,
        peer: SocketAddr,
        req: Request<Incoming>,
    ) -> (Outcome, Response<Body>) {
        let admitted = match self
            .decider
            .decide(peer, req.method().as_str(), req.uri().path(), req.headers())
            .await
        {
            Ok(a) => a,
            Err(refused) => return refused,
        };
        self.forward(req, peer, &admitted).await
    }

    async fn forward(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        admitted: &Admitted,
    ) -> (Outcome, Response<Body>) {
        let path = &admitted.path;
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
        h.remove(CLIENT_HEADER);
        h.remove(SUBJECT_HEADER);
        // The configured forwarding header, with the peer appended (a trusted proxy's chain is
        // kept, anyone else's claims dropped); the other header is the client's and is removed.
        let proxies = &self.decider.proxies;
        let (name, other) = (proxies.header.name(), proxies.header.other().name());
        let forwarded = proxies.pass_on(
            peer.ip(),
            h.get_all(name).iter().filter_map(|v| v.to_str().ok()),
        );
        h.remove(name);
        h.remove(other);
        if let Ok(v) = HeaderValue::from_str(&forwarded) {
            h.insert(name, v);
        }
        if let Some(host) = original_host {
            h.insert("x-forwarded-host", host);
        }
        let proto = if parts.extensions.get::<crate::tls::Https>().is_some() {
            "https"
        } else {
            "http"
        };
        h.insert("x-forwarded-proto", HeaderValue::from_static(proto));
        if let Ok(v) = HeaderValue::from_str(self.upstream.authority.as_str()) {
            h.insert(HOST, v);
        }
        for (name, value) in admitted.forward_headers() {
            h.insert(name, value);
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
                self.decider
                    .shared
                    .metrics
                    .upstream_errors
                    .fetch_add(1, Relaxed);
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
                self.decider
                    .shared
                    .metrics
                    .upstream_errors
                    .fetch_add(1, Relaxed);
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

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn json(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub(crate) fn json_value(status: StatusCode, body: serde_json::Value) -> Response<Body> {
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
