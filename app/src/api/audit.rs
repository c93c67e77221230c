//! Server fns for the audit log (domain: `audit`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEventView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub details: String,
}

/// The result of walking the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainView {
    pub intact: bool,
    pub events: i64,
    pub first_bad_row: Option<i64>,
    pub message: String,
}

/// The newest audit events, newest first (at most 500).
///
/// **Permissions:** any signed-in admin (auditors included). **Audit:** none (read-only).
#[server(endpoint = "list_audit_events")]
pub async fn list_audit_events(limit: i64) -> Result<Vec<AuditEventView>, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let events = ctx.console.recent_audit(limit).await?;
    Ok(events
        .into_iter()
        .map(|e| AuditEventView {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            ip: e.ip,
            user_agent: e.user_agent,
            action: e.action,
            target: e.target,
            outcome: e.outcome.as_str().to_owned(),
            details: e.details,
        })
        .collect())
}

/// Verifies the whole hash chain.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "verify_audit_chain")]
pub async fn verify_audit_chain() -> Result<ChainView, AppError> {
    use domain::console::ChainStatus;
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(match ctx.console.verify_audit().await? {
        ChainStatus::Intact { events } => ChainView {
            intact: true,
            events,
            first_bad_row: None,
            message: format!("Chain intact: all {events} events verified from the first."),
        },
        ChainStatus::Broken(e) => ChainView {
            intact: false,
            events: e.seq() - 1,
            first_bad_row: Some(e.seq()),
            message: format!("Chain broken: {e}."),
        },
    })
}
