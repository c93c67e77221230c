//! Server fns for the audit log (domain: `audit`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One audit event as the page, the JSONL export and the REST API show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = AuditEvent))]
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
    Ok(events.into_iter().map(convert::event).collect())
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

/// Where forwarding the log to one collector stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardingView {
    /// `tcp://host:port` or `tls://host:port`.
    pub destination: String,
    /// The last event the collector took, and the newest in the log.
    pub sent_seq: i64,
    pub head_seq: i64,
    pub behind: i64,
    pub sent_at_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    /// A console is sending to it now.
    pub active: bool,
    /// The server's clock when this was read (for "3 min ago").
    pub now_ms: i64,
}

/// Every collector the log is (or was) forwarded to, with how far behind it is.
///
/// **Permissions:** `audit:read`. **Audit:** none (read-only).
#[server(endpoint = "audit_forwarding")]
pub async fn audit_forwarding() -> Result<Vec<ForwardingView>, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let now_ms = domain::now_ms();
    Ok(ctx
        .console
        .forwarding
        .status(now_ms)
        .await?
        .into_iter()
        .map(|f| ForwardingView {
            behind: f.behind(),
            destination: f.destination,
            sent_seq: f.sent_seq,
            head_seq: f.head_seq,
            sent_at_ms: f.sent_at_ms,
            last_error: f.last_error,
            last_error_at_ms: f.last_error_at_ms,
            active: f.active,
            now_ms,
        })
        .collect())
}

/// The audit explorer's filters, as the page's URL holds them (every part optional; empty
/// means "any").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub target: String,
    /// success, failure or denied.
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub text: String,
}

impl AuditQuery {
    /// The filters as a URL query (`actor=…&action=…`), empty parts left out.
    pub fn to_query(&self) -> String {
        let parts = [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("outcome", &self.outcome),
            ("since", &self.since),
            ("until", &self.until),
            ("text", &self.text),
        ];
        parts
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", encode(v.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }

    pub fn is_empty(&self) -> bool {
        self.to_query().is_empty()
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One field an event changed (its details' `before` and `after`), as the explorer shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChangeView {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// An event with its details read as a change (`domain::audit::changes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub event: AuditEventView,
    /// Before/after field by field; empty when the event records no change of state.
    pub changes: Vec<FieldChangeView>,
    /// The rest of the details, flattened (`policy`, `reason.code`).
    pub context: Vec<(String, String)>,
}

/// One page of the explorer: newest first; `older` continues after the last event shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditResults {
    pub events: Vec<AuditRow>,
    /// The `before` of the next (older) page, when there is one.
    pub older: Option<i64>,
}

/// Events per explorer page.
pub const PAGE_SIZE: i64 = 100;

#[cfg(feature = "ssr")]
pub mod convert {
    use super::*;

    pub fn filter(q: &AuditQuery) -> Result<domain::audit::AuditFilter, AppError> {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
        let outcome = match q.outcome.trim() {
            "" => None,
            o => Some(domain::audit::Outcome::parse(o).ok_or_else(|| {
                AppError::Invalid(format!(
                    "“{o}” is not an outcome: success, failure or denied"
                ))
            })?),
        };
        domain::audit::AuditFilter {
            actor: some(&q.actor),
            action: some(&q.action),
            target: some(&q.target),
            outcome,
            since: some(&q.since),
            until: some(&q.until),
            text: some(&q.text),
        }
        .normalised()
        .map_err(AppError::Invalid)
    }

    pub fn event(e: domain::audit::AuditEvent) -> AuditEventView {
        AuditEventView {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            ip: e.ip,
            user_agent: e.user_agent,
            action: e.action,
            target: e.target,
            outcome: e.outcome.as_str().to_owned(),
            details: e.details,
        }
    }

    /// The newest `limit` events that pass `query` before `before`, and the `before` of the
    /// next (older) page when there may be one: the explorer's page and the API's.
    pub async fn page(
        console: &domain::console::Console,
        query: &AuditQuery,
        before: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<domain::audit::AuditEvent>, Option<i64>), AppError> {
        let filter = filter(query)?;
        let events = console
            .store
            .search_audit(&filter, before, limit)
            .await
            .map_err(domain::Error::from)?;
        let older = (events.len() as i64 == limit)
            .then(|| events.last().map(|e| e.seq))
            .flatten();
        Ok((events, older))
    }

    pub fn row(e: domain::audit::AuditEvent) -> AuditRow {
        let changes = domain::audit::changes(&e.details);
        AuditRow {
            event: event(e),
            changes: changes
                .fields
                .into_iter()
                .map(|f| FieldChangeView {
                    field: f.field,
                    before: f.before,
                    after: f.after,
                })
                .collect(),
            context: changes.context,
        }
    }
}

/// The events that pass `query`, newest first, before `before` (a `seq`), a page at a time.
///
/// **Permissions:** `audit:read`. **Audit:** none (read-only).
#[server(endpoint = "search_audit")]
pub async fn search_audit(
    query: AuditQuery,
    before: Option<i64>,
) -> Result<AuditResults, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let (events, older) = convert::page(&ctx.console, &query, before, PAGE_SIZE).await?;
    Ok(AuditResults {
        events: events.into_iter().map(convert::row).collect(),
        older,
    })
}
