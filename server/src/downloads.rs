//! File downloads behind the session guard: CSRs, pin-set exports and key-set JWKS, served with
//! `Content-Disposition: attachment` so the browser saves exactly the bytes shown on screen.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use app::error::AppError;

use crate::middleware::plain;
use crate::startup::AppState;

/// `/download/...`: every route below. **Permissions:** a session (the guard refuses anonymous
/// callers before these run). **Audit:** none (reads).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/download/csr/{id}", get(csr))
        .route("/download/jwks/{set}", get(jwks))
        .route("/download/pinsets/{hostname}/{format}", get(pinset))
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

fn attachment(filename: &str, content_type: &'static str, body: String) -> Response {
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        filename.replace(['"', '\\', '\r', '\n'], "_")
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
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
