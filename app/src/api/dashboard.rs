//! Server fns for the dashboard (domain: `console`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryView {
    pub kind: String,
    pub name: String,
    pub date: String,
    pub days_left: i64,
    /// `expired`, `7`, `14`, `30` or `ok`.
    pub level: String,
}

/// Certificates and pin sets by expiry, soonest first.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "expiry_inventory")]
pub async fn expiry_inventory() -> Result<Vec<ExpiryView>, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let today = chrono::Utc::now().date_naive();
    Ok(ctx
        .console
        .expiry_inventory(today)
        .await?
        .into_iter()
        .map(|i| ExpiryView {
            kind: i.kind.to_owned(),
            level: domain::console::expiry_level(i.days_left).to_owned(),
            name: i.name,
            date: i.date,
            days_left: i.days_left,
        })
        .collect())
}
