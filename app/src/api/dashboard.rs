//! Server fns for the dashboard (domain: `console`). The dashboard only shows (nothing on it
//! reacts to input), so its cards are rendered on the server, by the same Leptos views and
//! escaping as every page, and reach the browser as one HTML fragment: the browser's code for
//! the first page after sign-in is a request and an `inner_html`, not a decoder and views for
//! each of its types (issue 14: each is code the dashboard's visitor downloads first).

use leptos::prelude::*;

use crate::api::auth::AdminView;
use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiryView {
    pub kind: String,
    pub name: String,
    pub date: String,
    pub days_left: i64,
    /// `expired`, `7`, `14`, `30` or `ok`.
    pub level: String,
}

/// The gate fleet in a sentence: convergence, the gates refusing the latest bundle, and why
/// the current configuration is not published, if it is not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetSummary {
    /// E.g. "2 of 3 enrolled gates run the latest version, 7." (the Gates page's sentence).
    pub convergence: String,
    /// Names of the gates that refuse the latest bundle.
    pub refusing: Vec<String>,
    pub publish_error: Option<String>,
}

/// One line of the dashboard's recent activity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecentEvent {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
}

/// What the dashboard shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardView {
    pub me: AdminView,
    /// Certificates and pin sets by expiry, soonest first.
    pub expiries: Vec<ExpiryView>,
    pub fleet: FleetSummary,
    /// The newest audit events; `None` for a role that may not read the audit log.
    pub recent: Option<Vec<RecentEvent>>,
}

/// How many audit events the dashboard lists.
pub const RECENT_EVENTS: i64 = 8;

/// The dashboard's cards as HTML ([`crate::pages::dashboard::sections`] rendered on the
/// server): the signed-in admin, the expiry inventory, the fleet's convergence and the newest
/// audit events (those only for a role with `audit:read`). Every text in it is escaped by the
/// renderer, as in any server-rendered page.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "dashboard")]
pub async fn dashboard() -> Result<String, AppError> {
    Ok(crate::pages::dashboard::sections(dashboard_view().await?).to_html())
}

/// What the dashboard shows, read for the signed-in admin.
#[cfg(feature = "ssr")]
async fn dashboard_view() -> Result<DashboardView, AppError> {
    use policy::access::Permission;
    use policy::gates::GateState;

    let ctx = crate::ctx::RequestCtx::get()?;
    let signed_in = ctx.require_admin()?;
    let today = chrono::Utc::now().date_naive();
    let expiries = ctx
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
        .collect();
    let fleet = crate::api::gates::fleet(&ctx.console).await?;
    let fleet = FleetSummary {
        convergence: crate::pages::gates::convergence(&fleet),
        refusing: fleet
            .gates
            .iter()
            .filter(|g| g.state == GateState::Refusing)
            .map(|g| g.name.clone())
            .collect(),
        publish_error: fleet.publish_error,
    };
    let recent = if signed_in.admin.role.allows(Permission::AuditRead) {
        let events = ctx.console.recent_audit(RECENT_EVENTS).await?;
        Some(
            events
                .into_iter()
                .map(|e| RecentEvent {
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    target: e.target,
                    outcome: e.outcome.as_str().to_owned(),
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(DashboardView {
        me: crate::api::auth::admin_view(&signed_in.admin),
        expiries,
        fleet,
        recent,
    })
}
