//! `/api/v1/clients`: the OAuth clients, for `clients:read`: never a secret, only each
//! secret's hint, dates and status.

use app::api::clients::{convert, ClientInfo};
use axum::extract::Path;
use axum::response::Response;
use domain::api_tokens::Scope;
use domain::audited::{action, Target};
use serde::Serialize;
use serde_json::json;

use super::{answer, Call, Problem};

/// Every OAuth client.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ClientList {
    clients: Vec<ClientInfo>,
}

/// `GET /api/v1/clients`. **Scope:** `clients:read`. **Audit:** `api.clients.read`.
#[utoipa::path(
    get,
    path = "/api/v1/clients",
    operation_id = "list_clients",
    summary = "Every OAuth client (scope clients:read)",
    description = "Each client as the Clients page shows it: redirect URIs, grants, scopes, authentication method, bound rate-limit policy, and its secrets by hint, dates and status (a secret itself is never shown again after it was created).",
    responses((status = 200, description = "The clients", body = ClientList))
)]
pub(super) async fn list_clients(call: Call) -> Response {
    let clients = &call.console.clients;
    answer(
        call.read(
            Scope::ClientsRead,
            action::API_CLIENTS_READ,
            "clients",
            async {
                let list = clients.list().await?;
                Ok(ClientList {
                    clients: list.into_iter().map(convert::client).collect(),
                })
            },
            |l| json!({ "count": l.clients.len() }),
        )
        .await,
    )
}

/// `GET /api/v1/clients/{id}`. **Scope:** `clients:read`. **Audit:** `api.clients.read`.
#[utoipa::path(
    get,
    path = "/api/v1/clients/{id}",
    operation_id = "get_client",
    summary = "One OAuth client, by its id or its OAuth client_id (scope clients:read)",
    params(("id" = String, Path, description = "The client's id, or its OAuth `client_id`", max_length = 200)),
    responses(
        (status = 200, description = "The client", body = ClientInfo),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn get_client(call: Call, Path(id): Path<String>) -> Response {
    let clients = &call.console.clients;
    let target = Target::client(&id);
    answer(
        call.read(
            Scope::ClientsRead,
            action::API_CLIENTS_READ,
            target.as_str(),
            async {
                clients
                    .list()
                    .await?
                    .into_iter()
                    .find(|c| c.record.id == id || c.record.client_id == id)
                    .map(convert::client)
                    .ok_or_else(|| domain::Error::NotFound("no such client".into()).into())
            },
            |c| json!({ "client_id": c.client_id, "version": c.version }),
        )
        .await,
    )
}
