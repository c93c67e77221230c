//! `GET /api/v1/policies`: the rate-limit policies in evaluation order, for `policies:read`.

use app::api::policies::PoliciesView;
use axum::response::Response;
use domain::api_tokens::Scope;
use domain::audited::action;
use serde_json::json;

use super::{answer, Call};

/// `GET /api/v1/policies`. **Scope:** `policies:read`. **Audit:** `api.policies.read`.
#[utoipa::path(
    get,
    path = "/api/v1/policies",
    operation_id = "list_policies",
    summary = "Every rate-limit policy, in evaluation order (scope policies:read)",
    description = "Each policy as the Rate limits page's editor shows it, with what validation found and the clients bound to it; `set_issues` are findings across policies (one shadowed by an earlier one).",
    responses((status = 200, description = "The policies", body = PoliciesView))
)]
pub(super) async fn list_policies(call: Call) -> Response {
    let console = &call.console;
    answer(
        call.read(
            Scope::PoliciesRead,
            action::API_POLICIES_READ,
            "policies",
            app::api::policies::policies(console),
            |v| json!({ "count": v.policies.len() }),
        )
        .await,
    )
}
