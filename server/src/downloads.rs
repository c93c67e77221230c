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
        .route("/download/audit.csv", get(audit_csv))
        .route("/download/audit.jsonl", get(audit_jsonl))
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

/// Rows per database read while streaming an audit export.
const EXPORT_BATCH: i64 = 1_000;

/// The export formats of the audit explorer.
#[derive(Clone, Copy)]
enum AuditFormat {
    Csv,
    Jsonl,
}

/// `GET /download/audit.csv` and `/download/audit.jsonl` with the explorer's filters as the
/// query: every event that passes them, newest first, streamed a thousand rows at a time (the
/// same rows the explorer pages through). **Permissions:** `audit:read`. **Audit:** none (a
/// read).
pub async fn audit_csv(
    state: State<AppState>,
    query: Query<app::api::audit::AuditQuery>,
) -> Response {
    audit_export(state, query, AuditFormat::Csv).await
}

pub async fn audit_jsonl(
    state: State<AppState>,
    query: Query<app::api::audit::AuditQuery>,
) -> Response {
    audit_export(state, query, AuditFormat::Jsonl).await
}

async fn audit_export(
    State(state): State<AppState>,
    Query(query): Query<app::api::audit::AuditQuery>,
    format: AuditFormat,
) -> Response {
    let filter = match app::api::audit::convert::filter(&query) {
        Ok(f) => f,
        Err(e) => return (e.status(), format!("{e}\n")).into_response(),
    };
    let store = state.console.store.clone();
    let header_row = match format {
        AuditFormat::Csv => Some(axum::body::Bytes::from_static(
            b"seq,at,actor,ip,user_agent,action,target,outcome,details\r\n",
        )),
        AuditFormat::Jsonl => None,
    };
    // State: the next page's `before`, or `None` once the last page was sent.
    let rows = futures::stream::unfold(Some(None::<i64>), move |cursor| {
        let (store, filter) = (store.clone(), filter.clone());
        async move {
            let before = cursor?;
            match store.search_audit(&filter, before, EXPORT_BATCH).await {
                Ok(events) => {
                    let next = (events.len() as i64 == EXPORT_BATCH)
                        .then(|| events.last().map(|e| Some(e.seq)))
                        .flatten();
                    let mut text = String::new();
                    for e in events {
                        match format {
                            AuditFormat::Csv => csv_row(&mut text, &e),
                            AuditFormat::Jsonl => {
                                let line =
                                    serde_json::to_string(&app::api::audit::convert::event(e))
                                        .unwrap_or_default();
                                text.push_str(&line);
                                text.push('\n');
                            }
                        }
                    }
                    Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(text)), next))
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit export stopped");
                    Some((Err(std::io::Error::other("the audit export stopped")), None))
                }
            }
        }
    });
    let head = futures::stream::iter(header_row.map(Ok::<_, std::io::Error>));
    let body = Body::from_stream(futures::StreamExt::chain(head, rows));
    let (name, content_type) = match format {
        AuditFormat::Csv => ("palisade-audit.csv", "text/csv; charset=utf-8"),
        AuditFormat::Jsonl => ("palisade-audit.jsonl", "application/jsonl"),
    };
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// One RFC 4180 row. A field a spreadsheet would run as a formula (starting with `=`, `+`,
/// `-`, `@`, tab or CR) gets a leading `'` (OWASP CSV injection): audit fields hold text
/// anyone can send, such as a sign-in's username or user agent.
fn csv_row(out: &mut String, e: &domain::audit::AuditEvent) {
    let fields = [
        e.seq.to_string(),
        e.at.clone(),
        e.actor.clone(),
        e.ip.clone().unwrap_or_default(),
        e.user_agent.clone().unwrap_or_default(),
        e.action.clone(),
        e.target.clone(),
        e.outcome.as_str().to_owned(),
        e.details.clone(),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let f = if f.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{f}")
        } else {
            f.clone()
        };
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&f);
        }
    }
    out.push_str("\r\n");
}
