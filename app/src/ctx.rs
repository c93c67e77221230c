//! Server-side request context for server fns: who is calling, from where, and the console's
//! services. Built from what the server's middleware put in the request extensions.

use std::sync::Arc;

use domain::audit::Actor;
use domain::auth::CurrentAdmin;
use domain::console::Console;
use leptos::prelude::use_context;

use crate::cookie::CookiePolicy;
use crate::error::AppError;

pub struct RequestCtx {
    pub console: Arc<Console>,
    pub cookies: CookiePolicy,
    /// The caller as the audit log records them (name filled in once signed in).
    pub actor: Actor,
    pub admin: Option<CurrentAdmin>,
    pub headers: http::HeaderMap,
}

impl RequestCtx {
    pub fn get() -> Result<Self, AppError> {
        let missing = |what: &str| {
            tracing::error!("request context lacks {what}");
            AppError::Internal("ctx".into())
        };
        let parts =
            use_context::<http::request::Parts>().ok_or_else(|| missing("request parts"))?;
        let console = use_context::<Arc<Console>>().ok_or_else(|| missing("console"))?;
        let cookies = use_context::<CookiePolicy>().ok_or_else(|| missing("cookie policy"))?;
        let admin = parts.extensions.get::<CurrentAdmin>().cloned();
        let mut actor = parts
            .extensions
            .get::<Actor>()
            .cloned()
            .unwrap_or_else(|| Actor {
                name: domain::audit::ANONYMOUS.into(),
                ip: None,
                user_agent: None,
            });
        if let Some(a) = &admin {
            actor.name = a.admin.username.clone();
        }
        Ok(RequestCtx {
            console,
            cookies,
            actor,
            admin,
            headers: parts.headers,
        })
    }

    /// The signed-in admin if their role holds `p`, else 403 with an audited denial for
    /// `action`. For a permission that depends on the arguments (switching a policy to
    /// enforce); the one every server fn needs is checked by the guard from
    /// [`crate::access::SERVER_FNS`] before the fn runs.
    pub async fn require(
        &self,
        p: policy::access::Permission,
        action: &str,
    ) -> Result<&CurrentAdmin, AppError> {
        let current = self.require_admin()?;
        if current.admin.role.allows(p) {
            return Ok(current);
        }
        Err(refuse(
            &self.console,
            &self.actor,
            Some(current),
            action,
            Refusal::Role(p),
        )
        .await)
    }

    /// A passkey confirmation (step-up) from the last five minutes in this session, for an
    /// action that needs one only for some arguments (the guard checks the actions that always
    /// do). A refusal is audited.
    pub async fn require_step_up(&self, action: &str) -> Result<&CurrentAdmin, AppError> {
        let current = self.require_admin()?;
        if current.stepped_up(domain::now_ms()) {
            return Ok(current);
        }
        Err(refuse(
            &self.console,
            &self.actor,
            Some(current),
            action,
            Refusal::StepUp,
        )
        .await)
    }

    /// The signed-in admin, or 401.
    pub fn require_admin(&self) -> Result<&CurrentAdmin, AppError> {
        self.admin.as_ref().ok_or_else(|| {
            let e = AppError::Unauthenticated(domain::Error::Unauthenticated.to_string());
            e.apply_to_response();
            e
        })
    }
}

/// Why an access check refused a request.
#[derive(Clone, Copy, Debug)]
pub enum Refusal {
    /// The role does not hold the permission.
    Role(policy::access::Permission),
    /// No passkey confirmation in the last five minutes.
    StepUp,
    /// The server fn or download is missing from the access tables.
    Unlisted,
}

/// Records the refusal of `action` (outcome `denied`) and returns the 403 to answer with; if
/// the audit row cannot be written, the storage error instead (fail closed: never an unaudited
/// refusal that looks like success).
pub async fn refuse(
    console: &Console,
    actor: &Actor,
    current: Option<&CurrentAdmin>,
    action: &str,
    why: Refusal,
) -> AppError {
    use domain::audit::{AuditDraft, Outcome};
    let target = current
        .map(|c| format!("admin:{}", c.admin.username))
        .unwrap_or_else(|| domain::audit::ANONYMOUS.into());
    let role = current.map(|c| c.admin.role.as_str());
    let (details, err) = match why {
        Refusal::Role(p) => (
            serde_json::json!({ "reason": "role lacks the permission", "role": role, "permission": p.as_str() }),
            AppError::Forbidden(format!(
                "Your role ({}) does not allow this: it needs the {} permission. Nothing was changed.",
                role.unwrap_or("none"),
                p.as_str()
            )),
        ),
        Refusal::StepUp => (
            serde_json::json!({ "reason": "no passkey confirmation in the last 5 minutes", "role": role }),
            AppError::Forbidden(crate::error::STEP_UP_REQUIRED.to_owned()),
        ),
        Refusal::Unlisted => (
            serde_json::json!({ "reason": "not in the console's permission table", "role": role }),
            AppError::Forbidden(
                "This action is not in the console's permission table, so nobody may run it."
                    .into(),
            ),
        ),
    };
    let draft = AuditDraft::new(actor, action, target, Outcome::Denied).with_details(details);
    if let Err(e) = console.store.record(draft).await {
        return AppError::from(domain::Error::Store(e));
    }
    err.apply_to_response();
    err
}
