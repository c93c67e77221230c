//! Server fns for rate-limit policies (domain: `policies`). Validation, preview and the
//! effective-limit calculator run in the browser from the same `policy` crate; the server
//! validates again before storing.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A stored policy with its validation issues.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PolicyView {
    /// The policy as the Rate limits page's JSON editor shows it.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub policy: policy::model::Policy,
    pub version: i64,
    /// What validation found wrong with it (each an object with the field and the message).
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Object>))]
    pub issues: Vec<policy::validate::Issue>,
    /// Names of the clients bound to this policy (per-client limits).
    #[serde(default)]
    pub clients: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PoliciesView {
    pub policies: Vec<PolicyView>,
    /// Findings across policies (one that can never match, shadowed by an earlier one).
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Object>))]
    pub set_issues: Vec<policy::validate::SetIssue>,
}

/// Every policy in evaluation order as the page and the REST API show it.
#[cfg(feature = "ssr")]
pub async fn policies(console: &domain::console::Console) -> Result<PoliciesView, AppError> {
    let o = console.policies.list().await?;
    let clients = console.clients.list().await?;
    Ok(PoliciesView {
        policies: o
            .policies
            .into_iter()
            .map(|s| PolicyView {
                clients: clients
                    .iter()
                    .filter(|c| c.record.policy_id.as_deref() == Some(s.record.id.as_str()))
                    .map(|c| c.record.name.clone())
                    .collect(),
                policy: s.policy,
                version: s.record.version,
                issues: s.issues,
            })
            .collect(),
        set_issues: o.set_issues,
    })
}

/// Every policy in evaluation order, with set-level findings (unreachable policies).
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "list_policies")]
pub async fn list_policies() -> Result<PoliciesView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    policies(&ctx.console).await
}

/// Creates (empty `version`) or updates a policy given as `policy::Policy` JSON.
///
/// **Permissions:** owner or admin. **Audit:** `policies.create` / `policies.update` (before/after).
#[server(endpoint = "save_policy")]
pub async fn save_policy(spec_json: String, version: String) -> Result<PolicyView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let s = ctx
        .console
        .policies
        .save(&ctx.actor, &spec_json, &version)
        .await?;
    Ok(PolicyView {
        policy: s.policy,
        version: s.record.version,
        issues: s.issues,
        clients: Vec::new(),
    })
}

/// Enables or disables a policy.
///
/// **Permissions:** owner or admin. **Audit:** `policies.enable` / `policies.disable`.
#[server(endpoint = "set_policy_enabled")]
pub async fn set_policy_enabled(
    id: String,
    enabled: bool,
    version: String,
) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx
        .console
        .policies
        .set_enabled(&ctx.actor, &id, enabled, &version)
        .await?)
}

/// Switches a policy between `shadow` (count and log) and `enforce`.
///
/// **Permissions:** `policies:write`; to enforce, `policies:enforce` and a step-up.
/// **Audit:** `policies.enforce` / `policies.shadow`, or a denial.
#[server(endpoint = "set_policy_mode")]
pub async fn set_policy_mode(id: String, mode: String, version: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    if mode == "enforce" {
        ctx.require(
            policy::access::Permission::PoliciesEnforce,
            "policies.enforce",
        )
        .await?;
        ctx.require_step_up("policies.enforce").await?;
    }
    Ok(ctx
        .console
        .policies
        .set_mode(&ctx.actor, &id, &mode, &version)
        .await?)
}

/// Moves a policy one place `up` or `down` in the evaluation order.
///
/// **Permissions:** owner or admin. **Audit:** `policies.reorder`.
#[server(endpoint = "move_policy")]
pub async fn move_policy(id: String, direction: String, version: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx
        .console
        .policies
        .move_by(&ctx.actor, &id, &direction, &version)
        .await?)
}

/// Deletes a policy.
///
/// **Permissions:** owner or admin. **Audit:** `policies.delete` (with the policy as it was).
#[server(endpoint = "delete_policy")]
pub async fn delete_policy(id: String, version: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx
        .console
        .policies
        .delete(&ctx.actor, &id, &version)
        .await?)
}
