//! Server fns for OAuth clients (domain: `clients`). The redirect-URI linter runs in the browser
//! from the `policy` crate as the admin types; the server checks everything again. A secret is
//! in exactly one answer: the one of the change that created it.

use leptos::prelude::*;
use policy::client::{AuthMethod, ClientKind, Platform, SecretStatus};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SecretInfo {
    pub id: String,
    /// The secret's first characters, e.g. `psc_AbCd…`.
    pub hint: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub last_used_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    pub status: SecretStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClientInfo {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub kind: ClientKind,
    pub platform: Platform,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub access_token_lifetime_s: i64,
    pub auth_method: AuthMethod,
    /// The client's public JWKS (private_key_jwt), normalised.
    pub jwks: String,
    pub policy_id: String,
    pub policy_name: Option<String>,
    pub enabled: bool,
    pub version: i64,
    pub created_at_ms: i64,
    pub secrets: Vec<SecretInfo>,
    /// Tokens gates reported issuing to it, in total.
    pub tokens_issued: i64,
    /// When the gate report that counted its latest token arrived.
    pub last_token_at_ms: Option<i64>,
}

/// A rate-limit policy a client can be bound to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyChoice {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientsView {
    pub clients: Vec<ClientInfo>,
    pub policies: Vec<PolicyChoice>,
}

/// The answer to a change that may have created a secret. `secret` is shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedClient {
    pub name: String,
    pub client_id: String,
    pub version: i64,
    pub secret: Option<String>,
    pub warnings: Vec<String>,
}

#[cfg(feature = "ssr")]
fn saved(c: domain::clients::service::Created) -> SavedClient {
    use secrecy::ExposeSecret;
    SavedClient {
        name: c.client.name,
        client_id: c.client.client_id,
        version: c.client.version,
        secret: c.secret.map(|s| s.expose_secret().to_owned()),
        warnings: c.warnings,
    }
}

#[cfg(feature = "ssr")]
pub mod convert {
    use super::*;

    /// A client as the page and the REST API show it: secrets by hint and dates only.
    pub fn client(v: domain::clients::service::ClientView) -> ClientInfo {
        let c = v.record;
        ClientInfo {
            id: c.id,
            client_id: c.client_id,
            name: c.name,
            description: c.description,
            kind: c.kind,
            platform: c.platform,
            redirect_uris: c.redirect_uris,
            grant_types: c.grant_types,
            scopes: c.scopes,
            access_token_lifetime_s: c.access_token_lifetime_s,
            auth_method: c.auth_method,
            jwks: c.jwks_json.unwrap_or_default(),
            policy_id: c.policy_id.unwrap_or_default(),
            policy_name: v.policy_name,
            enabled: c.enabled,
            version: c.version,
            created_at_ms: c.created_at_ms,
            tokens_issued: v.tokens_issued,
            last_token_at_ms: v.last_token_at_ms,
            secrets: v
                .secrets
                .into_iter()
                .map(|s| SecretInfo {
                    id: s.record.id,
                    hint: s.record.hint,
                    created_at_ms: s.record.created_at_ms,
                    expires_at_ms: s.record.expires_at_ms,
                    last_used_at_ms: s.record.last_used_at_ms,
                    revoked_at_ms: s.record.revoked_at_ms,
                    status: s.status,
                })
                .collect(),
        }
    }
}

/// Every client with its secrets (hints and dates only) and the policies it can be bound to.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "list_clients")]
pub async fn list_clients() -> Result<ClientsView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let clients = ctx.console.clients.list().await?;
    let policies = ctx.console.policies.list().await?;
    Ok(ClientsView {
        clients: clients.into_iter().map(convert::client).collect(),
        policies: policies
            .policies
            .into_iter()
            .map(|p| PolicyChoice {
                id: p.policy.id,
                name: p.policy.name,
            })
            .collect(),
    })
}

/// Registers (empty `id`) or edits a client given as `ClientDraft` JSON. A new confidential
/// client's first secret is in the answer, once.
///
/// **Permissions:** `clients:write`; changing the redirect URIs or the authentication method
/// also needs a step-up. **Audit:** `clients.create` / `clients.update` (before/after, never a
/// secret), or a denial.
#[server(endpoint = "save_client")]
pub async fn save_client(
    id: String,
    version: String,
    draft_json: String,
) -> Result<SavedClient, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let draft: domain::clients::ClientDraft = serde_json::from_str(&draft_json)
        .map_err(|e| domain::Error::invalid(format!("the client form is malformed: {e}")))?;
    let svc = &ctx.console.clients;
    if !id.trim().is_empty() && svc.update_needs_step_up(&id, &draft).await? {
        ctx.require_step_up("clients.update").await?;
    }
    let created = if id.trim().is_empty() {
        svc.create(&ctx.actor, &draft).await?
    } else {
        svc.update(&ctx.actor, &id, &version, &draft).await?
    };
    Ok(saved(created))
}

/// Enables or disables a client (a disabled client gets no tokens).
///
/// **Permissions:** owner or admin. **Audit:** `clients.enable` / `clients.disable`.
#[server(endpoint = "set_client_enabled")]
pub async fn set_client_enabled(
    id: String,
    enabled: bool,
    version: String,
) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx
        .console
        .clients
        .set_enabled(&ctx.actor, &id, enabled, &version)
        .await?)
}

/// Deletes a client and its secrets.
///
/// **Permissions:** owner or admin, with a passkey confirmation from the last 5 minutes.
/// **Audit:** `clients.delete` (with the client as it was).
#[server(endpoint = "delete_client")]
pub async fn delete_client(id: String, version: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx
        .console
        .clients
        .delete(&ctx.actor, &id, &version)
        .await?)
}

/// Issues a new secret (in the answer, once); the client's other valid secrets stay valid for
/// `grace_days` (0–90), then expire.
///
/// **Permissions:** owner or admin. **Audit:** `clients.rotate_secret` (secret ids, never a secret).
#[server(endpoint = "rotate_client_secret")]
pub async fn rotate_client_secret(
    id: String,
    version: String,
    grace_days: String,
) -> Result<SavedClient, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let days: i64 = grace_days
        .trim()
        .parse()
        .map_err(|_| domain::Error::invalid("the grace period must be a whole number of days"))?;
    Ok(saved(
        ctx.console
            .clients
            .rotate_secret(&ctx.actor, &id, &version, days)
            .await?,
    ))
}

/// Revokes one secret at once.
///
/// **Permissions:** owner or admin. **Audit:** `clients.revoke_secret`.
#[server(endpoint = "revoke_client_secret")]
pub async fn revoke_client_secret(
    id: String,
    version: String,
    secret_id: String,
) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx
        .console
        .clients
        .revoke_secret(&ctx.actor, &id, &version, &secret_id)
        .await?)
}
