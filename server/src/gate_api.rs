//! The API gates call (`/gate-api/v1`, the contract in `gate/README.md`): enrolment with a
//! one-time token, bundle pull with `If-None-Match`, status reports. Outside the browser
//! session and Origin checks: every call but enrolment is authenticated by the gate's Ed25519
//! signature over the request (`Authorization: PalisadeGate …`), checked by the gates service.
//!
//! A gate registers an X25519 `encryption_key` at enrolment or in a status report; the bundle
//! it pulls then carries, when the bundle names a token key set, that set's active private key
//! sealed to it alone (`GatesService::envelope_for`). Status reports may carry usage: each
//! secret's last use and the tokens issued per client since the previous report.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use app::error::AppError;
use domain::ports::gates::{GateRecord, ReportedError};

use crate::startup::AppState;

/// `/gate-api/v1/*`. **Permissions:** enrolment: a valid one-time token; the rest: a signed
/// request from an enrolled, non-revoked gate. **Audit:** enrolment (success and refusals of
/// known tokens), a gate's first apply of each version, each new refusal reason.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/gate-api/v1/enroll", post(enroll))
        .route("/gate-api/v1/bundle", get(bundle))
        .route("/gate-api/v1/status", post(status))
}

/// `{"error": "..."}` with the status the domain error maps to.
fn refused(e: domain::Error) -> Response {
    let app = AppError::from(e);
    (app.status(), Json(json!({ "error": app.to_string() }))).into_response()
}

/// A JSON request body, or the refusal that says which shape was `expected` (a 400).
fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    expected: &str,
) -> Result<T, domain::Error> {
    serde_json::from_slice(body)
        .map_err(|e| domain::Error::invalid(format!("expected {expected}: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolRequest {
    token: String,
    public_key: String,
    /// The gate's X25519 public key (unpadded base64url); older gates send none.
    #[serde(default)]
    encryption_key: Option<String>,
}

async fn enroll(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let req: EnrolRequest = match json_body(
        &body,
        r#"{"token": "...", "public_key": "...", "encryption_key": "..."}"#,
    ) {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    match state
        .console
        .gates
        .enrol(
            &req.token,
            &req.public_key,
            req.encryption_key.as_deref(),
            Some(peer.ip().to_string()),
        )
        .await
    {
        Ok(e) => Json(json!({
            "gate_id": e.gate_id,
            "bundle_public_key": e.bundle_public_key,
            "console_id": e.console_id,
        }))
        .into_response(),
        Err(e) => {
            tracing::info!(peer = %peer, error = %e, "gate enrolment refused");
            refused(e)
        }
    }
}

/// The calling gate, from its signed `Authorization` header.
async fn caller(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    peer: SocketAddr,
) -> Result<GateRecord, Response> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    state
        .console
        .gates
        .authenticate(header, method.as_str(), path, body)
        .await
        .map_err(|e| {
            tracing::info!(peer = %peer, error = %e, "gate call refused");
            match e {
                domain::Error::Forbidden => (
                    StatusCode::FORBIDDEN,
                    Json(json!({ "error": "this gate is revoked" })),
                )
                    .into_response(),
                domain::Error::Unauthenticated => (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, jose::gate_auth::SCHEME)],
                    Json(json!({ "error": "unknown gate, bad signature or clock skew over 5 minutes" })),
                )
                    .into_response(),
                other => refused(other),
            }
        })
}

/// `"N"` from `If-None-Match`, if that is what it holds.
fn applied_version(headers: &HeaderMap) -> Option<i64> {
    headers
        .get(header::IF_NONE_MATCH)?
        .to_str()
        .ok()?
        .trim()
        .trim_start_matches("W/")
        .strip_prefix('"')?
        .strip_suffix('"')?
        .parse()
        .ok()
}

async fn bundle(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let gate = match caller(&state, &method, &uri, &headers, b"", peer).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let applied = applied_version(&headers);
    // A pull is a heartbeat: it says what the gate runs (its refusal, if any, stands).
    if let Err(e) = state
        .console
        .gates
        .report(&gate, applied, ReportedError::Keep)
        .await
    {
        tracing::warn!(gate = %gate.name, error = %e, "recording a gate's pull failed");
    }
    let latest = match state.console.gates.latest().await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return refused(domain::Error::NotFound(
                "no bundle has been published yet".into(),
            ))
        }
        Err(e) => return refused(e),
    };
    let etag = HeaderValue::from_str(&format!("\"{}\"", latest.version))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    if applied == Some(latest.version) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    // The envelope as this gate receives it: with its sealed signing key when it needs one.
    let envelope = match state.console.gates.envelope_for(&gate, &latest).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(gate = %gate.name, version = latest.version, error = %e, "preparing a gate's bundle failed");
            return refused(e);
        }
    };
    (
        [
            (header::ETAG, etag),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        envelope,
    )
        .into_response()
}

/// What a gate used since its previous report.
#[derive(Deserialize)]
struct UsageBody {
    /// Secret id → last use, ms since the epoch.
    #[serde(default)]
    secrets: BTreeMap<String, i64>,
    /// client_id → tokens issued since the previous report.
    #[serde(default)]
    tokens: BTreeMap<String, u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusReport {
    applied_version: Option<i64>,
    last_error: Option<String>,
    /// The gate's X25519 public key: registers it, or replaces the one stored (audited).
    #[serde(default)]
    encryption_key: Option<String>,
    #[serde(default)]
    usage: Option<UsageBody>,
}

async fn status(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let gate = match caller(&state, &method, &uri, &headers, &body, peer).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let report: StatusReport = match json_body(
        &body,
        r#"{"applied_version": N|null, "last_error": "..."|null, "encryption_key": "...", "usage": {"secrets": {"<id>": ms}, "tokens": {"<client_id>": n}}}"#,
    ) {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let usage = report.usage.map(|u| domain::gates::service::GateUsage {
        secrets: u.secrets.into_iter().collect(),
        tokens: u.tokens.into_iter().collect(),
    });
    match state
        .console
        .gates
        .report_status(
            &gate,
            report.applied_version,
            match report.last_error {
                Some(reason) => ReportedError::Refused(reason),
                None => ReportedError::Clear,
            },
            report.encryption_key.as_deref(),
            usage,
        )
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => refused(e),
    }
}
