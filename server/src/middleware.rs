//! HTTP middleware, outermost first: security headers (with the per-request CSP nonce), then
//! the guard: client identity for the audit log, the Origin check on state-changing requests,
//! the session lookup and deny-by-default access control: every server fn, download and page
//! is checked against `app::access` (and so the role table of `policy::access`) before it runs.

use std::net::SocketAddr;
use std::sync::Arc;

use app::access::{self, Need};
use app::cookie::CookiePolicy;
use app::ctx::{refuse, Refusal};
use app::error::{AppError, ERROR_REF_HEADER};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use domain::audit::{Actor, AuditDraft, Outcome};
use domain::auth::CurrentAdmin;
use domain::console::Console;
use rand::RngCore;
use serde_json::json;

use crate::ui;

/// `Permissions-Policy` of every answer.
pub const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), \
     usb=(), serial=(), hid=(), bluetooth=(), display-capture=(), \
     publickey-credentials-get=(self), publickey-credentials-create=(self)";

/// The per-request CSP nonce, shared with the renderer through the request extensions.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

/// What the guard needs to know about the deployment.
#[derive(Clone)]
pub struct GuardState {
    pub console: Arc<Console>,
    pub cookies: CookiePolicy,
    /// The console's own origin, e.g. `http://localhost:3000`.
    pub origin: String,
    pub tls: bool,
    /// Proxies whose forwarding header names the client (`--trusted-proxies`,
    /// `--forwarded-header`).
    pub proxies: policy::forwarded::ProxyTrust,
}

/// The endpoint of a server fn path (`/fn/start_login` → `start_login`).
fn fn_endpoint(path: &str) -> Option<&str> {
    path.strip_prefix(ui::FN_PREFIX)?.strip_prefix('/')
}

/// Paths served without a session: the sign-in and setup pages, health, static files, and the
/// server fns the access table marks public. Every other server fn, including one added later
/// without a rule, needs a session.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/setup" | "/invite" | "/healthz" | "/readyz" | "/favicon.ico" | "/favicon.svg"
    ) || crate::site::is_asset_path(path)
        || fn_endpoint(path)
            .and_then(access::server_fn)
            .is_some_and(|r| r.need == Need::Public)
}

/// The access tables' verdict on a request by a signed-in admin: `None` to let it through,
/// else why not and the audit action to record the refusal under.
fn verdict(path: &str, current: &CurrentAdmin) -> Option<(Refusal, String)> {
    let role = current.admin.role;
    if ui::is_server_fn(path) {
        let endpoint = fn_endpoint(path).unwrap_or_default();
        let Some(rule) = access::server_fn(endpoint) else {
            tracing::error!(endpoint, "server fn without a rule in app::access; refused");
            return Some((Refusal::Unlisted, format!("fn.{}", truncate(endpoint, 64))));
        };
        if let Some(p) = rule.need.permission() {
            if !role.allows(p) {
                return Some((Refusal::Role(p), rule.action.to_owned()));
            }
        }
        if matches!(rule.need, Need::StepUp(_)) && !current.stepped_up(domain::now_ms()) {
            return Some((Refusal::StepUp, rule.action.to_owned()));
        }
        return None;
    }
    if path.starts_with("/download/") {
        let action = access::download_action(path).to_owned();
        return match access::download(path) {
            Some(p) if role.allows(p) => None,
            Some(p) => Some((Refusal::Role(p), action)),
            None => Some((Refusal::Unlisted, action)),
        };
    }
    let p = access::page(path);
    (!role.allows(p)).then(|| (Refusal::Role(p), "page.read".to_owned()))
}

/// Adds the security headers to every response.
pub async fn security_headers(
    State(state): State<GuardState>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let nonce = URL_SAFE_NO_PAD.encode(bytes);
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // 'wasm-unsafe-eval' lets the hydration wasm compile; no inline script runs without the nonce.
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Powerful features the console never uses are off; passkeys stay allowed for this origin.
    h.insert(
        "permissions-policy",
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !crate::site::is_asset_path(&path) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    res
}

/// True when a request demonstrably comes from the console's own pages (Fetch Metadata and
/// Origin, as in the OWASP CSRF cheat sheet):
/// - with `Sec-Fetch-Site` (every current browser sends it), it must be `same-origin`, and an
///   `Origin` other than `null` must be ours. A plain form post sends `Origin: null` because of
///   our `Referrer-Policy: no-referrer` (Fetch §3.1), while `Sec-Fetch-Site` still tells the truth;
/// - without it, `Origin` must be ours exactly.
///
/// So `Origin: null` from another site, a sibling subdomain, `cross-site` / `same-site`, and a
/// request with neither header are all refused.
fn same_origin(req: &Request, origin: &str) -> bool {
    let headers = req.headers();
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    let sent_origin = headers.get(header::ORIGIN).map(|v| v.as_bytes());
    match fetch_site {
        Some(b"same-origin") => sent_origin.is_none_or(|o| o == b"null" || o == origin.as_bytes()),
        Some(_) => false,
        None => sent_origin == Some(origin.as_bytes()),
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn api_error(err: AppError) -> Response {
    let body = serde_json::to_string(&err).unwrap_or_default();
    (
        err.status(),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Identity, Origin check, session and access control.
pub async fn guard(
    State(state): State<GuardState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| truncate(s, 256));
    let client = state.proxies.client_ip(
        peer.ip(),
        req.headers()
            .get_all(state.proxies.header.name())
            .iter()
            .map(|v| v.to_str().ok()),
    );
    let actor = Actor {
        name: domain::audit::ANONYMOUS.into(),
        ip: Some(client.to_string()),
        user_agent,
    };

    let token = state.cookies.read(req.headers());
    let current = match token {
        Some(t) => match state.console.auth.session(&t).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "session lookup failed");
                return api_error(AppError::Unavailable);
            }
        },
        None => None,
    };

    let changes_state = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if (changes_state || ui::is_server_fn(&path)) && !same_origin(&req, &state.origin) {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(|s| truncate(s, 200));
        let fetch_site = req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .map(|s| truncate(s, 40));
        // Under the session's admin when the browser sent a live session (a forged request
        // riding on it: worth a row each), else anonymous (within the refusal budget).
        let by = match &current {
            Some(c) => Actor {
                name: c.admin.username.clone(),
                ..actor.clone()
            },
            None => actor.clone(),
        };
        let draft = AuditDraft::new(
            &by,
            "request.cross_origin",
            truncate(&path, 200),
            Outcome::Denied,
        )
        .with_details(
            json!({ "method": method.as_str(), "origin": origin, "sec_fetch_site": fetch_site }),
        );
        if let Err(e) = state.console.refusals.record(draft).await {
            tracing::warn!(error = %e, "could not audit a refused cross-origin request");
        }
        let err = AppError::Forbidden("Cross-origin request refused.".into());
        return api_error(err);
    }

    match &current {
        None if !is_public(&path) => {
            // A plain form post (e.g. "Sign out" after the session expired) is a navigation:
            // send the browser to /login rather than show it a JSON error.
            let navigation = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("text/html"));
            return if ui::is_server_fn(&path) && !navigation {
                api_error(AppError::Unauthenticated(
                    domain::Error::Unauthenticated.to_string(),
                ))
            } else {
                Redirect::to("/login").into_response()
            };
        }
        Some(_) if path == "/login" && method == Method::GET => {
            return Redirect::to("/").into_response()
        }
        _ => {}
    }

    if let Some(c) = &current {
        if let Some((why, action)) = verdict(&path, c) {
            let by = Actor {
                name: c.admin.username.clone(),
                ..actor.clone()
            };
            let err = refuse(&state.console, &by, Some(c), &action, why).await;
            return api_error(err);
        }
    }

    req.extensions_mut().insert(actor);
    if let Some(c) = current {
        req.extensions_mut().insert(c);
    }
    let res = next.run(req).await;

    // server_fn answers undecodable arguments with 500; ours carry a log reference. Anything
    // else is the caller's fault.
    if ui::is_server_fn(&path)
        && res.status() == StatusCode::INTERNAL_SERVER_ERROR
        && !res.headers().contains_key(ERROR_REF_HEADER)
    {
        let (mut parts, body) = res.into_parts();
        parts.status = StatusCode::BAD_REQUEST;
        return Response::from_parts(parts, body);
    }
    res
}

/// Empty body with the given status (used by health endpoints).
pub fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from(text),
    )
        .into_response()
}
