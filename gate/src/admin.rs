//! The admin listener: `GET /healthz` (200 while the process runs), `GET /readyz` (200 once a
//! bundle is applied, else 503), `GET /metrics` (Prometheus text), `POST /v1/bundle` (push: the
//! body is a signed bundle envelope; the answer is the ACK/NACK of [`ApplyResult`]). Bind it to
//! an address only the console and the operators reach: it needs no credentials because a
//! bundle is accepted only with the console's signature and a newer version.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::apply::{Applier, Shared};
use crate::console::Link;

#[derive(Clone)]
pub struct AdminState {
    pub shared: Arc<Shared>,
    pub applier: Arc<Applier>,
    pub link: Option<Arc<Link>>,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/v1/bundle",
            post(push).layer(DefaultBodyLimit::max(policy::bundle::MAX_BUNDLE_BYTES)),
        )
        .with_state(state)
}

async fn readyz(State(s): State<AdminState>) -> Response {
    match s.shared.current() {
        Some(st) => (
            StatusCode::OK,
            format!("ready: bundle version {}\n", st.version),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no bundle applied\n",
        )
            .into_response(),
    }
}

async fn metrics(State(s): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.shared.metrics.render(),
    )
        .into_response()
}

/// Applies a pushed envelope and answers 200 applied/current, 409 stale, 422 invalid; then
/// reports the state to the console in the background (failures are only logged).
async fn push(State(s): State<AdminState>, body: Bytes) -> Response {
    let result = s.applier.apply(&body, true, "push").await;
    if let Some(link) = s.link.clone() {
        let applier = s.applier.clone();
        tokio::spawn(async move { link.report_state(&applier).await });
    }
    let status = StatusCode::from_u16(result.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    (status, Json(result.body())).into_response()
}
