//! The gate's OAuth 2.0 authorisation server, for the client credentials grant (RFC 6749 §4.4):
//!
//! - `POST /oauth/token`: the client authenticates ([`client_auth`]: `client_secret_basic`,
//!   `client_secret_post` against the Argon2id hashes the bundle carries, secrets in their
//!   grace period accepted until they expire; `private_key_jwt` against the client's JWKS, each
//!   `jti` once); the answer is an RFC 9068 access token signed with the token key set's active
//!   key ([`signer`]), for the requested scopes (all of the client's when none are asked) and
//!   audience (`resource`, RFC 8707, else the first accepted audience), living the client's
//!   token lifetime capped by the key set's longest. Errors as RFC 6749 §5.2. Failed client
//!   authentications are limited per client id and per IP before anything is verified
//!   ([`guard`]).
//! - `GET /.well-known/oauth-authorization-server` (RFC 8414) and `GET /.well-known/jwks.json`.
//!
//! Served only while the applied bundle names a token key set; otherwise these paths are
//! routes like any other. Every answer is `Cache-Control: no-store` but the JWKS.

pub mod client_auth;
pub mod guard;
pub mod signer;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use rand::RngCore;
use serde_json::{json, Value};

use crate::apply::Shared;
use crate::proxy::{full, Body};
use crate::state::Enforcement;
use client_auth::Presented;
use guard::{Failures, Replays, Seen, MAX_ASSERTION_LIFETIME_S};
use signer::TokenIssuing;

pub const TOKEN_PATH: &str = "/oauth/token";
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// Largest token request body (a form with an RSA-signed assertion fits many times over).
pub const MAX_FORM_BYTES: usize = 32 * 1024;
/// Time a token request's form body has to arrive (a body sent a byte at a time holds nothing
/// longer).
pub const FORM_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);
/// A client with no lifetime of its own gets this, before the key set's cap.
pub const DEFAULT_LIFETIME_S: u32 = 3_600;
/// Argon2id verifications running at once (each costs tens of ms of one core).
const HASHING_AT_ONCE: usize = 2;
const GRANT: &str = "client_credentials";

/// An RFC 6749 §5.2 error answer.
#[derive(Debug)]
pub struct TokenError {
    status: StatusCode,
    code: &'static str,
    description: String,
    /// The client tried HTTP Basic: a 401 carries `WWW-Authenticate: Basic`.
    basic: bool,
    retry_after_s: Option<u64>,
}

impl TokenError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        TokenError {
            status,
            code,
            description: description.into(),
            basic: false,
            retry_after_s: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        TokenError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_client(description: impl Into<String>, basic: bool) -> Self {
        TokenError {
            basic,
            ..TokenError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
        }
    }

    fn response(&self) -> Response<Body> {
        let body = json!({ "error": self.code, "error_description": self.description });
        let mut r = no_store(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.basic {
                "Basic realm=\"palisade-gate\", charset=\"UTF-8\""
            } else {
                "Basic realm=\"palisade-gate\""
            };
            r.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(s) = self.retry_after_s {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(RETRY_AFTER, v);
            }
        }
        r
    }
}

fn no_store(status: StatusCode, body: &Value) -> Response<Body> {
    let mut r = Response::new(full(body.to_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// The endpoint's memory across bundles: failure budgets, seen assertions, the hashing bound.
pub struct TokenEndpoint {
    failures: Failures,
    replays: Replays,
    hashing: tokio::sync::Semaphore,
}

impl Default for TokenEndpoint {
    fn default() -> Self {
        TokenEndpoint::new()
    }
}

impl TokenEndpoint {
    pub fn new() -> Self {
        TokenEndpoint {
            failures: Failures::new(65_536),
            replays: Replays::default(),
            hashing: tokio::sync::Semaphore::new(HASHING_AT_ONCE),
        }
    }

    /// Whether `path` is one of the endpoint's and `st` turns the endpoint on.
    pub fn serves(st: &Enforcement, path: &str) -> bool {
        !matches!(st.tokens, TokenIssuing::Off)
            && matches!(path, TOKEN_PATH | METADATA_PATH | JWKS_PATH)
    }

    /// Answers a request for one of the endpoint's paths ([`TokenEndpoint::serves`]).
    pub async fn handle(
        &self,
        shared: &Shared,
        st: Arc<Enforcement>,
        ip: IpAddr,
        req: Request<Incoming>,
    ) -> Response<Body> {
        let get = matches!(*req.method(), Method::GET | Method::HEAD);
        match req.uri().path() {
            TOKEN_PATH if req.method() == Method::POST => {
                let result = self.token(shared, &st, ip, req).await;
                let m = &shared.metrics;
                match result {
                    Ok(r) => {
                        m.tokens_issued.fetch_add(1, Relaxed);
                        r
                    }
                    Err(e) => {
                        m.token_refusal(e.code);
                        e.response()
                    }
                }
            }
            TOKEN_PATH => method_not_allowed("POST"),
            METADATA_PATH if get => metadata(&st),
            JWKS_PATH if get => jwks(&st),
            _ => method_not_allowed("GET, HEAD"),
        }
    }

    async fn token(
        &self,
        shared: &Shared,
        st: &Enforcement,
        ip: IpAddr,
        req: Request<Incoming>,
    ) -> Result<Response<Body>, TokenError> {
        let form_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !form_type {
            return Err(TokenError::invalid_request(
                "the body must be application/x-www-form-urlencoded (RFC 6749 §4.4.2)",
            ));
        }
        let (parts, body) = req.into_parts();
        let read =
            tokio::time::timeout(FORM_DEADLINE, Limited::new(body, MAX_FORM_BYTES).collect());
        let bytes: Bytes = match read.await {
            Ok(Ok(b)) => b.to_bytes(),
            Err(_) => {
                return Err(TokenError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "invalid_request",
                    format!(
                        "the request body did not arrive within {} s",
                        FORM_DEADLINE.as_secs()
                    ),
                ))
            }
            Ok(Err(_)) => {
                return Err(TokenError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request",
                    format!("the request body is over {MAX_FORM_BYTES} bytes or was cut off"),
                ))
            }
        };
        let form = parse_form(&bytes)?;
        let presented = client_auth::presented(&parts.headers, &form)?;
        let client_id = presented.client_id().to_owned();
        let now_ns = shared.now_ns();
        if let Some(wait_ns) = self.failures.exhausted(&client_id, ip, now_ns) {
            let secs = wait_ns.div_ceil(1_000_000_000).max(1);
            return Err(TokenError {
                retry_after_s: Some(secs),
                ..TokenError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "invalid_client",
                    format!("too many failed client authentications; retry in {secs} s"),
                )
            });
        }
        let now_s = unix_now_s();
        let authenticated = self.authenticate(st, &presented, now_s).await;
        let secret_id = match authenticated {
            Ok(secret_id) => secret_id,
            Err(why) => {
                self.failures.failed(&client_id, ip, shared.now_ns());
                tracing::info!(client_id = %client_id, method = presented.method(), %ip, reason = %why, "client authentication failed");
                return Err(TokenError::invalid_client(
                    "client authentication failed",
                    presented.used_basic(),
                ));
            }
        };
        let client = st
            .clients
            .get(&client_id)
            .ok_or_else(|| TokenError::invalid_client("client authentication failed", false))?;
        match form.get("grant_type").map(String::as_str) {
            None => return Err(TokenError::invalid_request("grant_type is missing")),
            Some(GRANT) => {}
            Some(_) => {
                return Err(TokenError::new(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "this gate issues tokens for the client_credentials grant only",
                ))
            }
        }
        if !client.grant_types.iter().any(|g| g == GRANT) {
            return Err(TokenError::new(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "the client is not registered for the client_credentials grant",
            ));
        }
        let scopes: Vec<String> = match form.get("scope") {
            None => client.scopes.clone(),
            Some(requested) => {
                let asked: Vec<&str> = requested.split(' ').collect();
                if let Some(bad) = asked
                    .iter()
                    .find(|s| s.is_empty() || !client.scopes.iter().any(|c| c == *s))
                {
                    return Err(TokenError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        format!("scope {bad:?} is not one the client may hold"),
                    ));
                }
                let mut out: Vec<String> = Vec::new();
                for s in asked {
                    if !out.iter().any(|o| o == s) {
                        out.push(s.to_owned());
                    }
                }
                out
            }
        };
        let audience = match form.get("resource") {
            Some(r) if st.audiences.iter().any(|a| a == r) => r.clone(),
            Some(_) => {
                return Err(TokenError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "the resource is not an audience this gate accepts (RFC 8707)",
                ))
            }
            None => st.audiences.first().cloned().ok_or_else(unavailable)?,
        };
        let TokenIssuing::Ready(signer) = &st.tokens else {
            if let TokenIssuing::Unavailable(why) = &st.tokens {
                tracing::warn!(reason = %why, "a token was asked for but this gate cannot sign");
            }
            return Err(unavailable());
        };
        let lifetime = match client.token_lifetime_s {
            0 => DEFAULT_LIFETIME_S,
            s => s,
        };
        let lifetime = match signer.max_lifetime_s {
            0 => lifetime,
            cap => lifetime.min(cap),
        };
        let mut jti = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut jti);
        let mut claims = json!({
            "iss": st.issuer,
            "sub": client.client_id,
            "aud": audience,
            "client_id": client.client_id,
            "iat": now_s,
            "exp": now_s + i64::from(lifetime),
            "jti": URL_SAFE_NO_PAD.encode(jti),
        });
        if !scopes.is_empty() {
            claims["scope"] = Value::String(scopes.join(" "));
        }
        let token = signer
            .key
            .sign_jwt(&signer.kid, jose::Typ::AccessToken, &claims)
            .map_err(|e| {
                tracing::error!(error = %e, "signing an access token failed");
                unavailable()
            })?;
        shared
            .usage
            .issued(&client.client_id, secret_id.as_deref(), now_s * 1000);
        tracing::debug!(client_id = %client.client_id, kid = %signer.kid, "access token issued");
        let mut body = json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
        });
        if !scopes.is_empty() {
            body["scope"] = Value::String(scopes.join(" "));
        }
        Ok(no_store(StatusCode::OK, &body))
    }

    /// Checks the presented credentials; `Ok(Some(secret id))` for a secret, `Ok(None)` for an
    /// assertion, `Err(reason)` (for the log only) otherwise.
    async fn authenticate(
        &self,
        st: &Enforcement,
        presented: &Presented,
        now_s: i64,
    ) -> Result<Option<String>, String> {
        let client = st
            .clients
            .get(presented.client_id())
            .ok_or("unknown client id")?;
        if !client.enabled {
            return Err("the client is disabled".into());
        }
        if client.auth_method != presented.method() {
            return Err(format!(
                "the client is registered for {}, not {}",
                client.auth_method,
                presented.method()
            ));
        }
        match presented {
            Presented::Secret { secret, .. } => {
                let now_ms = now_s * 1000;
                let candidates: Vec<(String, String)> = client
                    .secrets
                    .iter()
                    .filter(|s| s.expires_at_ms.is_none_or(|e| e > now_ms))
                    .map(|s| (s.id.clone(), s.phc.clone()))
                    .collect();
                if candidates.is_empty() {
                    return Err("the client has no unexpired secret".into());
                }
                let _permit = self
                    .hashing
                    .acquire()
                    .await
                    .map_err(|_| "shutting down".to_string())?;
                let secret = secret.clone();
                let matched = tokio::task::spawn_blocking(move || {
                    candidates
                        .into_iter()
                        .find(|(_, phc)| jose::client_secret::verify_secret(phc, &secret))
                        .map(|(id, _)| id)
                })
                .await
                .map_err(|e| format!("verification failed: {e}"))?;
                matched.map(Some).ok_or_else(|| "wrong secret".to_string())
            }
            Presented::Assertion { jwt, .. } => {
                let endpoint = format!("{}{TOKEN_PATH}", st.issuer.trim_end_matches('/'));
                let audiences = [st.issuer.clone(), endpoint];
                let (jti, exp) = client_auth::verify_assertion(
                    client,
                    jwt,
                    &audiences,
                    now_s,
                    MAX_ASSERTION_LIFETIME_S,
                )?;
                match self.replays.first_use(&client.client_id, &jti, exp, now_s) {
                    Seen::First => Ok(None),
                    Seen::Replayed => Err("the assertion's jti was already used".into()),
                    Seen::Full => Err("too many assertions remembered; refusing".into()),
                }
            }
        }
    }
}

fn unavailable() -> TokenError {
    TokenError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "this gate cannot issue tokens right now",
    )
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = no_store(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"error": "invalid_request", "error_description": format!("use {allow}")}),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// The form's parameters; a parameter sent twice is refused (RFC 6749 §3.2), as is a body that
/// is not UTF-8.
fn parse_form(bytes: &[u8]) -> Result<HashMap<String, String>, TokenError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(TokenError::invalid_request("the body is not UTF-8"));
    }
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        if out.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(TokenError::invalid_request(format!(
                "parameter {:?} is sent more than once",
                jose::truncate(&k)
            )));
        }
    }
    Ok(out)
}

/// RFC 8414 metadata: what a client library needs to find the token endpoint and keys.
fn metadata(st: &Enforcement) -> Response<Body> {
    let base = st.issuer.trim_end_matches('/');
    let body = json!({
        "issuer": st.issuer,
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "jwks_uri": format!("{base}{JWKS_PATH}"),
        "grant_types_supported": [GRANT],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA", "ES256", "RS256"],
    });
    no_store(StatusCode::OK, &body)
}

/// The published keys of every key set (next, active and retired), as a JWKS.
fn jwks(st: &Enforcement) -> Response<Body> {
    let mut r = Response::new(full(st.jwks_json.clone()));
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    r
}

fn unix_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
