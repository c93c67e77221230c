//! `/api/v1/keysets`: the signing key sets, their keys' lifecycle and the rotation job's plan,
//! and each set's JWKS as published, for `keys:read`.

use app::api::keys::KeySetInfo;
use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use domain::api_tokens::Scope;
use domain::audited::{action, Target};
use serde::Serialize;
use serde_json::json;

use super::{answer, Call, Problem};

/// Every signing key set.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct KeySetList {
    key_sets: Vec<KeySetInfo>,
}

/// `GET /api/v1/keysets`. **Scope:** `keys:read`. **Audit:** `api.keys.read`.
#[utoipa::path(
    get,
    path = "/api/v1/keysets",
    operation_id = "list_key_sets",
    summary = "Every signing key set (scope keys:read)",
    description = "Each key set as the Signing keys page shows it: its timing, its keys (next, active, retired, removed, revoked, with dates; never a private key), the JWKS it publishes and the steps the rotation job will take.",
    responses((status = 200, description = "The key sets", body = KeySetList))
)]
pub(super) async fn list_key_sets(call: Call) -> Response {
    let console = &call.console;
    answer(
        call.read(
            Scope::KeysRead,
            action::API_KEYS_READ,
            "keys",
            async {
                Ok(KeySetList {
                    key_sets: app::api::keys::key_sets(console).await?,
                })
            },
            |l| json!({ "count": l.key_sets.len() }),
        )
        .await,
    )
}

/// `GET /api/v1/keysets/{id}/jwks`. **Scope:** `keys:read`. **Audit:** `api.keys.read`.
#[utoipa::path(
    get,
    path = "/api/v1/keysets/{id}/jwks",
    operation_id = "key_set_jwks",
    summary = "A key set's JWKS, as published (scope keys:read)",
    description = "The JSON Web Key Set (RFC 7517) of the set's next, active and retired public keys: what token verifiers fetch.",
    params(("id" = String, Path, description = "The key set's id or name", max_length = 200)),
    responses(
        (status = 200, description = "The JWKS", content((Object = "application/jwk-set+json"))),
        (status = 404, description = "No such key set", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn key_set_jwks(call: Call, Path(id): Path<String>) -> Response {
    let keys = &call.console.keys;
    let target = Target::key_set(&id);
    let read = call
        .read(
            Scope::KeysRead,
            action::API_KEYS_READ,
            target.as_str(),
            async {
                let set = keys.get(&id).await?;
                let text = serde_json::to_string(&set.jwks).map_err(|e| {
                    domain::Error::Internal(format!("the JWKS did not serialise: {e}"))
                })?;
                Ok((text, set.set.name))
            },
            |(_, name)| json!({ "jwks": name }),
        )
        .await;
    match read {
        Ok((text, _)) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            )],
            text,
        )
            .into_response(),
        Err(res) => res,
    }
}
