//! File downloads behind the session guard: CSRs, pin-set exports, key-set JWKS, certificate
//! chains and (with a one-time ticket) a certificate's private key, served with
//! `Content-Disposition: attachment` so the browser saves exactly the bytes shown on screen.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use domain::audit::Actor;
use domain::auth::CurrentAdmin;
use serde::Deserialize;

use app::error::AppError;

use crate::middleware::plain;
use crate::startup::AppState;

/// `/download/...`: every route below. **Permissions:** a session and the permission of
/// `app::access::DOWNLOADS` (the guard refuses anonymous callers and other roles before these
/// run). **Audit:** none for the reads; `certs.download_key` for a private key.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/download/csr/{id}", get(csr))
        .route("/download/jwks/{set}", get(jwks))
        .route("/download/pinsets/{hostname}/{format}", get(pinset))
        .route("/download/cert-chain/{id}", get(cert_chain))
        .route("/download/cert-key/{id}", get(cert_key))
}

/// A refused download answers like a refused server fn: the same [`AppError`] status and
/// message (internal details only in the log, under the reference the message gives).
fn refused(e: domain::Error) -> Response {
    let app = AppError::from(e);
    (
        app.status(),
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{app}\n"),
    )
        .into_response()
}

fn disposition(filename: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        filename.replace(['"', '\\', '\r', '\n'], "_")
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

fn attachment(filename: &str, content_type: &'static str, body: String) -> Response {
    let disposition = disposition(filename);
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// `GET /download/csr/{id}`: the CSR PEM. **Permissions:** any signed-in admin (the guard).
pub async fn csr(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.console.certs.csr_pem(&id).await {
        Ok(Some(c)) => attachment(
            &format!("{}.csr.pem", c.hostname),
            "application/pkcs10",
            c.csr_pem,
        ),
        Ok(None) => refused(domain::Error::NotFound("no such CSR".into())),
        Err(e) => refused(e),
    }
}

/// `GET /download/pinsets/{hostname}/{format}`: the export file, refused (422) while the linter
/// reports an error. **Permissions:** any signed-in admin (the guard).
pub async fn pinset(
    State(state): State<AppState>,
    Path((hostname, format)): Path<(String, String)>,
) -> Response {
    match state.console.pinsets.export(&hostname, &format).await {
        Ok(e) => {
            let ct = match e.format.as_str() {
                "android" | "ios" | "trustkit" => "application/xml",
                "json" => "application/json",
                _ => "text/plain; charset=utf-8",
            };
            attachment(&e.filename, ct, e.text)
        }
        Err(e) => refused(e),
    }
}

/// `GET /download/jwks/{set}`: the published JWKS of a key set (by name or id), as
/// `application/jwk-set+json` (RFC 7517 §8.5), the same bytes the Keys page shows.
/// **Permissions:** any signed-in admin (the guard).
pub async fn jwks(State(state): State<AppState>, Path(set): Path<String>) -> Response {
    match state.console.keys.get(&set).await {
        Ok(v) => match serde_json::to_string_pretty(&v.jwks) {
            Ok(text) => attachment(
                &format!("{}.jwks.json", v.set.name),
                "application/jwk-set+json",
                text,
            ),
            Err(_) => plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the JWKS\n",
            ),
        },
        Err(e) => refused(e),
    }
}

/// `GET /download/cert-chain/{id}`: the certificate's chain as stored (leaf first, then the
/// certificates above it; the root only if the stored chain holds it), as
/// `application/x-pem-file`, named after its hostname (or common name).
/// **Permissions:** `console:read` (public material). **Audit:** none (a read).
pub async fn cert_chain(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.console.certs.chain_download(&id).await {
        Ok(c) => attachment(&c.filename, "application/x-pem-file", c.pem),
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
pub struct TicketQuery {
    #[serde(default)]
    ticket: String,
}

/// `GET /download/cert-key/{id}?ticket=…`: the certificate's private key, PKCS #8 PEM
/// (`-----BEGIN PRIVATE KEY-----`), once per ticket; the ticket comes from the server fn
/// `create_key_download` (step-up), is bound to this session and certificate and lasts 60 s.
/// `Cache-Control: no-store`; the key is never logged.
/// **Permissions:** `certs:issue` (the guard) and the ticket. **Audit:** `certs.download_key`,
/// success (written before the key is sent) or failure.
pub async fn cert_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TicketQuery>,
    Extension(actor): Extension<Actor>,
    current: Option<Extension<CurrentAdmin>>,
) -> Response {
    let Some(Extension(current)) = current else {
        return refused(domain::Error::Unauthenticated);
    };
    let actor = Actor {
        name: current.admin.username.clone(),
        ..actor
    };
    match state
        .console
        .certs
        .download_key(&actor, &current, &id, &q.ticket)
        .await
    {
        Ok(key) => {
            let body = Body::from(key.pem.as_bytes().to_vec());
            let mut res = body.into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-pem-file"),
            );
            h.insert(header::CONTENT_DISPOSITION, disposition(&key.filename));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => refused(e),
    }
}
