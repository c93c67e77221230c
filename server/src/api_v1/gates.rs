//! `GET /api/v1/gates`: the gate fleet against the latest bundle version, for `gates:read`.

use app::api::gates::FleetInfo;
use axum::response::Response;
use domain::api_tokens::Scope;
use domain::audited::action;
use serde_json::json;

use super::{answer, Call};

/// `GET /api/v1/gates`. **Scope:** `gates:read`. **Audit:** `api.gates.read`.
#[utoipa::path(
    get,
    path = "/api/v1/gates",
    operation_id = "list_gates",
    summary = "The gate fleet and its bundles (scope gates:read)",
    description = "Each gate with the bundle version it applied, when it was last seen and its last error, against the latest version; the newest bundle versions with what changed. Never a gate token or key.",
    responses((status = 200, description = "The fleet", body = FleetInfo))
)]
pub(super) async fn list_gates(call: Call) -> Response {
    let console = &call.console;
    answer(
        call.read(
            Scope::GatesRead,
            action::API_GATES_READ,
            "gates",
            app::api::gates::fleet(console),
            |f| json!({ "count": f.gates.len() }),
        )
        .await,
    )
}
