//! Server fns for API tokens (domain: `api_tokens`): the list (never a token, never its hash),
//! creating one (the token is in the answer, once) and revoking one. What each needs is in
//! `crate::access`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    pub id: String,
    pub name: String,
    /// Space-separated, e.g. `pinsets:read releases:write`.
    pub scopes: String,
    pub created_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// active, revoked or expired.
    pub state: String,
    pub last_used_at_ms: Option<i64>,
    pub last_used_ip: Option<String>,
    /// The audit actor of its calls (`token:<id>`), to find them in the audit log.
    pub actor: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenList {
    pub tokens: Vec<ApiTokenInfo>,
    pub now_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiToken {
    pub token: ApiTokenInfo,
    /// The token itself: shown this once, never stored.
    pub secret: String,
}

#[cfg(feature = "ssr")]
mod convert {
    use super::*;
    use domain::api_tokens::{actor_name, scopes_text, TokenState};
    use domain::ports::api_tokens::ApiTokenRecord;

    pub fn token(t: ApiTokenRecord, now_ms: i64) -> ApiTokenInfo {
        ApiTokenInfo {
            id: t.id.to_string(),
            state: TokenState::of(&t, now_ms).as_str().to_owned(),
            actor: actor_name(t.id),
            scopes: scopes_text(&t.scopes),
            name: t.name,
            created_by: t.created_by,
            created_at_ms: t.created_at_ms,
            expires_at_ms: t.expires_at_ms,
            last_used_at_ms: t.last_used_at_ms,
            last_used_ip: t.last_used_ip,
        }
    }
}

/// Every API token, newest first.
///
/// **Permissions:** any signed-in admin (`console:read`). **Audit:** none (read-only).
#[server(endpoint = "list_api_tokens")]
pub async fn list_api_tokens() -> Result<ApiTokenList, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let now = domain::now_ms();
    Ok(ApiTokenList {
        tokens: ctx
            .console
            .api_tokens
            .list()
            .await?
            .into_iter()
            .map(|t| convert::token(t, now))
            .collect(),
        now_ms: now,
    })
}

/// Creates a token with `scopes` (space-separated) for `days`; the token is in the answer,
/// once.
///
/// **Permissions:** `api_tokens:manage` and a step-up. **Audit:** `api_tokens.create` (never
/// the token).
#[server(endpoint = "create_api_token")]
pub async fn create_api_token(
    name: String,
    scopes: String,
    days: u32,
) -> Result<CreatedApiToken, AppError> {
    use secrecy::ExposeSecret;
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let (record, secret) = ctx
        .console
        .api_tokens
        .create(&ctx.actor, &name, &scopes, days)
        .await?;
    Ok(CreatedApiToken {
        token: convert::token(record, domain::now_ms()),
        secret: secret.expose_secret().to_owned(),
    })
}

/// Revokes a token: its next call is refused.
///
/// **Permissions:** `api_tokens:manage`. **Audit:** `api_tokens.revoke`.
#[server(endpoint = "revoke_api_token")]
pub async fn revoke_api_token(id: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx.console.api_tokens.revoke(&ctx.actor, &id).await?)
}
