//! Liveness and readiness for load balancers and orchestrators: `GET /healthz` answers while
//! the process serves HTTP; `GET /readyz` only while the database answers too. Both are public
//! (no session) and say nothing about the deployment beyond up / not ready.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::middleware::plain;
use crate::startup::AppState;

/// `/healthz` and `/readyz`. **Permissions:** none (public). **Audit:** none.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Response {
    plain(StatusCode::OK, "ok\n")
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.console.store.ready().await {
        Ok(()) => plain(StatusCode::OK, "ready\n"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            plain(StatusCode::SERVICE_UNAVAILABLE, "database not ready\n")
        }
    }
}
