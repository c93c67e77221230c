//! Decision mode (`palisade-gate serve --mode decision`): the gate proxies nothing and answers
//! the authorisation sub-requests of a proxy that keeps proxying, nginx (`auth_request`) or
//! Envoy (HTTP `ext_authz`). Each check request names the original request's method, target and
//! headers; the answer is computed by [`Decider::decide`], the code the reverse proxy runs, so
//! routes, tokens (and their cache), limits and metrics behave the same in both modes.
//!
//! The main listener then answers two endpoints:
//!
//! - `/auth_request`, for nginx: the original method in `X-Original-Method` and the original
//!   target (path and query, as the client sent it: nginx's `$request_uri`) in
//!   `X-Original-URI`; the other headers are the client's, which nginx passes to the
//!   sub-request. Both headers are required: a check request without them cannot be decided,
//!   so it is answered 400 `bad_check_request` (the fault is the proxy's configuration, not
//!   the end client's, and nothing is admitted; nginx turns any status but 2xx/401/403 into a
//!   500 for its client, so that client sees a server error, which it is).
//! - `/ext_authz/<original path>`, for Envoy: Envoy's HTTP service sends the original method
//!   and the original path (with query) after the configured `path_prefix: /ext_authz`, and the
//!   headers listed in `allowed_headers` (`Authorization` always).
//!
//! Any other target is answered 404 `unknown_check_endpoint`.
//!
//! Admitted: 200 with an empty body and `X-Palisade-Client` / `X-Palisade-Subject` when the
//! route verified a token (the headers the reverse proxy sets upstream), for nginx's
//! `auth_request_set` or Envoy's `allowed_upstream_headers`. Refused: exactly the answer the
//! reverse proxy gives (401 with `WWW-Authenticate`, 403, 429 with `Retry-After` and the
//! RateLimit fields, 400, 404, 431, 503 with `Retry-After`), which Envoy passes to its client
//! as it is and the nginx configuration of the README maps back (see `gate/README.md`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use http::header::{HeaderMap, CONTENT_LENGTH};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use policy::forwarded::ProxyTrust;

use crate::apply::Shared;
use crate::decision::{Decider, Refused};
use crate::metrics::Outcome;
use crate::proxy::{full, json_value, Body};

/// The check endpoint of nginx `auth_request`.
pub const NGINX_PATH: &str = "/auth_request";
/// The `path_prefix` Envoy's HTTP `ext_authz` service is configured with.
pub const ENVOY_PREFIX: &str = "/ext_authz";
/// The headers nginx sets on the sub-request (`proxy_set_header`).
pub const ORIGINAL_METHOD: &str = "x-original-method";
pub const ORIGINAL_URI: &str = "x-original-uri";

static MISCONFIGURED_WARNED: AtomicBool = AtomicBool::new(false);

/// The decision listener's request handler.
pub struct DecisionService {
    decider: Decider,
    /// The token endpoint, metadata and JWKS, served here too (the proxy in front routes
    /// `/oauth/token` and `/.well-known/*` to the gate like any other upstream).
    tokens: crate::token::TokenEndpoint,
}

impl DecisionService {
    pub fn new(shared: Arc<Shared>, proxies: ProxyTrust) -> Self {
        DecisionService {
            decider: Decider::new(shared, proxies),
            tokens: crate::token::TokenEndpoint::new(),
        }
    }

    /// Answers one check request (its body, if any, is not read).
    pub async fn handle(&self, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
        if let Some(st) = self.decider.shared.current() {
            if crate::token::TokenEndpoint::serves(&st, req.uri().path()) {
                let ip = crate::request::client_ip(peer.ip(), req.headers(), &self.decider.proxies);
                return self.tokens.handle(&self.decider.shared, st, ip, req).await;
            }
        }
        let (outcome, resp) = self
            .answer(peer, req.method(), req.uri(), req.headers())
            .await;
        self.decider.shared.metrics.request(outcome);
        resp
    }

    /// The answer to a check request with this method, target and headers.
    pub async fn answer(
        &self,
        peer: SocketAddr,
        method: &Method,
        uri: &http::Uri,
        headers: &HeaderMap,
    ) -> (Outcome, Response<Body>) {
        let target = uri.path();
        let (method, path): (Method, &str) = if target == NGINX_PATH {
            match original_from_headers(headers) {
                Ok(mp) => mp,
                Err(refused) => return refused,
            }
        } else if let Some(rest) = target.strip_prefix(ENVOY_PREFIX) {
            if !rest.starts_with('/') {
                return bad_check(format!(
                    "{target:?} names no original path: Envoy's path_prefix must be exactly \
                     {ENVOY_PREFIX:?}, followed by the request's path"
                ));
            }
            (method.clone(), rest)
        } else {
            return (
                Outcome::NotFound,
                json_value(
                    StatusCode::NOT_FOUND,
                    serde_json::json!({
                        "error": "unknown_check_endpoint",
                        "error_description": format!(
                            "in decision mode the gate answers {NGINX_PATH} (nginx auth_request) \
                             and {ENVOY_PREFIX}/<path> (Envoy ext_authz, path_prefix {ENVOY_PREFIX})"
                        ),
                    }),
                ),
            );
        };
        match self
            .decider
            .decide(peer, method.as_str(), path, headers)
            .await
        {
            Ok(admitted) => {
                let mut r = Response::new(full(""));
                let h = r.headers_mut();
                h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
                for (name, value) in admitted.forward_headers() {
                    h.insert(name, value);
                }
                (Outcome::Allowed, r)
            }
            Err(refused) => refused,
        }
    }
}

/// The original method and path (query dropped) that nginx put in `X-Original-Method` and
/// `X-Original-URI`.
#[allow(clippy::result_large_err)]
fn original_from_headers(headers: &HeaderMap) -> Result<(Method, &str), Refused> {
    let one = |name: &str| -> Result<&str, Refused> {
        let mut all = headers.get_all(name).iter();
        let (Some(v), None) = (all.next(), all.next()) else {
            return Err(bad_check(format!(
                "the check request needs exactly one {name} header (nginx: proxy_set_header \
                 X-Original-Method $request_method; proxy_set_header X-Original-URI $request_uri;)"
            )));
        };
        v.to_str()
            .map_err(|_| bad_check(format!("{name} is not visible ASCII")))
    };
    let method = Method::from_bytes(one(ORIGINAL_METHOD)?.as_bytes())
        .map_err(|_| bad_check(format!("{ORIGINAL_METHOD} is not an HTTP method")))?;
    let uri = one(ORIGINAL_URI)?;
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(bad_check(format!(
            "{ORIGINAL_URI} must be the original path and query ($request_uri), starting with /"
        )));
    }
    Ok((method, path))
}

/// 400 for a check request the gate cannot decide; logged at warn level once per process (a
/// misconfigured proxy sends every request so), then at debug level.
fn bad_check(description: String) -> Refused {
    if !MISCONFIGURED_WARNED.swap(true, Relaxed) {
        tracing::warn!(%description, "a check request cannot be decided: is the proxy configured as gate/README.md shows?");
    } else {
        tracing::debug!(%description, "check request refused");
    }
    (
        Outcome::BadRequest,
        json_value(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "bad_check_request", "error_description": description}),
        ),
    )
}
