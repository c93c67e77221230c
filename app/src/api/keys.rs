//! Server fns for JWT signing keys (domain: `keys`): key sets, their keys' lifecycle, the JWKS,
//! manual rotation and the emergency revoke.

use leptos::prelude::*;
use policy::keys::{KeyState, PlanStep};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KeyInfo {
    pub id: String,
    pub kid: String,
    pub alg: String,
    pub state: KeyState,
    pub created_at_ms: i64,
    pub activated_at_ms: Option<i64>,
    pub retired_at_ms: Option<i64>,
    pub removed_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    pub revoke_reason: Option<String>,
    /// For a next key published by "Rotate now": when it takes over.
    pub promote_at_ms: Option<i64>,
    /// For a next key: which enrolled gates serve it (it takes over only when all do).
    #[serde(default)]
    pub served_by: Option<ServedBy>,
}

/// Which enrolled gates hold a key in the bundle they run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServedBy {
    pub serving: Vec<String>,
    pub behind: Vec<String>,
}

/// A step the rotation job will take, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlannedStep {
    pub at_ms: i64,
    pub step: PlanStep,
    /// The key the step concerns (the next key for `promote`), empty for `create_next`.
    pub key_id: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KeySetInfo {
    pub id: String,
    pub name: String,
    pub alg: String,
    pub rotation_period_s: i64,
    pub cache_window_s: i64,
    pub max_token_lifetime_s: i64,
    pub leeway_s: i64,
    pub auto_rotate: bool,
    pub version: i64,
    pub keys: Vec<KeyInfo>,
    /// The published JWKS, pretty-printed, exactly as downloaded.
    pub jwks: String,
    pub plan: Vec<PlannedStep>,
    pub now_ms: i64,
}

#[cfg(feature = "ssr")]
fn info(v: domain::keys::service::KeySetView, now: i64) -> KeySetInfo {
    let plan = domain::keys::service::plan(&v)
        .into_iter()
        .map(|p| PlannedStep {
            at_ms: p.at_ms,
            step: p.step,
            key_id: p.key_id,
            description: p.description,
        })
        .collect();
    let s = v.set;
    KeySetInfo {
        id: s.id,
        name: s.name,
        alg: s.alg,
        rotation_period_s: s.rotation_period_s,
        cache_window_s: s.cache_window_s,
        max_token_lifetime_s: s.max_token_lifetime_s,
        leeway_s: s.leeway_s,
        auto_rotate: s.auto_rotate,
        version: s.version,
        jwks: serde_json::to_string_pretty(&v.jwks).unwrap_or_default(),
        keys: v
            .keys
            .into_iter()
            .map(|k| KeyInfo {
                id: k.id,
                kid: k.kid,
                alg: k.alg,
                state: k.state,
                created_at_ms: k.created_at_ms,
                activated_at_ms: k.activated_at_ms,
                retired_at_ms: k.retired_at_ms,
                removed_at_ms: k.removed_at_ms,
                revoked_at_ms: k.revoked_at_ms,
                revoke_reason: k.revoke_reason,
                promote_at_ms: k.promote_at_ms,
                served_by: None,
            })
            .collect(),
        plan,
        now_ms: now,
    }
}

#[cfg(feature = "ssr")]
fn number(v: &str, what: &str) -> Result<i64, domain::Error> {
    v.trim()
        .parse()
        .map_err(|_| domain::Error::invalid(format!("{what} must be a whole number")))
}

#[cfg(feature = "ssr")]
fn timing(
    rotation_days: &str,
    cache_window_min: &str,
    max_token_lifetime_min: &str,
    leeway_s: &str,
) -> Result<domain::keys::lifecycle::SetTiming, domain::Error> {
    Ok(domain::keys::lifecycle::SetTiming {
        rotation_period_s: number(rotation_days, "the rotation period")?.saturating_mul(86_400),
        cache_window_s: number(cache_window_min, "the cache window")?.saturating_mul(60),
        max_token_lifetime_s: number(max_token_lifetime_min, "the longest token lifetime")?
            .saturating_mul(60),
        leeway_s: number(leeway_s, "the leeway")?,
    })
}

/// Every key set as the page and the REST API show it, with which gates serve each next key.
#[cfg(feature = "ssr")]
pub async fn key_sets(console: &domain::console::Console) -> Result<Vec<KeySetInfo>, AppError> {
    let now = domain::now_ms();
    let mut sets: Vec<KeySetInfo> = console
        .keys
        .list()
        .await?
        .into_iter()
        .map(|v| info(v, now))
        .collect();
    for k in sets
        .iter_mut()
        .flat_map(|s| s.keys.iter_mut())
        .filter(|k| k.state == KeyState::Next)
    {
        let s = console.keys.serving(&k.kid).await?;
        k.served_by = Some(ServedBy {
            serving: s.serving,
            behind: s.behind,
        });
    }
    Ok(sets)
}

/// Every key set with its keys, JWKS and the rotation job's plan.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "list_key_sets")]
pub async fn list_key_sets() -> Result<Vec<KeySetInfo>, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    key_sets(&ctx.console).await
}

/// Creates a key set and its first key (active at once).
///
/// **Permissions:** owner or admin. **Audit:** `keys.create_set`.
#[server(endpoint = "create_key_set")]
#[allow(clippy::too_many_arguments)]
pub async fn create_key_set(
    name: String,
    alg: String,
    rotation_days: String,
    cache_window_min: String,
    max_token_lifetime_min: String,
    leeway_s: String,
    auto_rotate: bool,
) -> Result<KeySetInfo, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let settings = domain::keys::service::SetSettings {
        name,
        alg,
        timing: timing(
            &rotation_days,
            &cache_window_min,
            &max_token_lifetime_min,
            &leeway_s,
        )?,
        auto_rotate,
    };
    let v = ctx.console.keys.create_set(&ctx.actor, &settings).await?;
    Ok(info(v, domain::now_ms()))
}

/// Changes a set's timing and automatic rotation.
///
/// **Permissions:** owner or admin. **Audit:** `keys.update_set` (before/after).
#[server(endpoint = "update_key_set")]
#[allow(clippy::too_many_arguments)]
pub async fn update_key_set(
    id: String,
    version: String,
    rotation_days: String,
    cache_window_min: String,
    max_token_lifetime_min: String,
    leeway_s: String,
    auto_rotate: bool,
) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let t = timing(
        &rotation_days,
        &cache_window_min,
        &max_token_lifetime_min,
        &leeway_s,
    )?;
    Ok(ctx
        .console
        .keys
        .update_set(&ctx.actor, &id, &version, &t, auto_rotate)
        .await?)
}

/// "Rotate now": publishes a next key, or promotes the next key once its cache window has
/// passed. Of concurrent calls for one set version, one succeeds and the rest get 409.
///
/// **Permissions:** owner or admin. **Audit:** `keys.create_next` / `keys.promote`, or a refused
/// `keys.rotate`.
#[server(endpoint = "rotate_signing_key")]
pub async fn rotate_signing_key(id: String, version: String) -> Result<String, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx.console.keys.rotate(&ctx.actor, &id, &version).await?)
}

/// Emergency revoke: the key leaves the JWKS now and its private half is erased; an active key
/// is replaced at once.
///
/// **Permissions:** owner or admin, with a passkey confirmation from the last 5 minutes.
/// **Audit:** `keys.revoke` (with the reason).
#[server(endpoint = "revoke_signing_key")]
pub async fn revoke_signing_key(
    id: String,
    version: String,
    key_id: String,
    reason: String,
) -> Result<String, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx
        .console
        .keys
        .revoke(&ctx.actor, &id, &version, &key_id, &reason)
        .await?)
}
