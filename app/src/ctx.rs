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
                name: "anonymous".into(),
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

    /// The signed-in admin if their role may change configuration (owner or admin), else 403
    /// with an audited denial for `action`; 401 when not signed in.
    pub async fn require_manager(&self, action: &str) -> Result<&CurrentAdmin, AppError> {
        use domain::admins::Role;
        use domain::audit::{AuditDraft, Outcome};
        let current = self.require_admin()?;
        if matches!(current.admin.role, Role::Owner | Role::Admin) {
            return Ok(current);
        }
        let draft = AuditDraft::new(&self.actor, action, format!("admin:{}", current.admin.username), Outcome::Denied)
            .with_details(serde_json::json!({ "reason": "role may not change configuration", "role": current.admin.role.as_str() }));
        if let Err(e) = self.console.store.record(draft).await {
            return Err(AppError::from(domain::Error::Store(e)));
        }
        Err(AppError::from(domain::Error::Forbidden))
    }

    /// [`Self::require_manager`], plus a passkey confirmation (step-up) from the last five
    /// minutes in this session: for revoking keys and deleting clients. A refusal is audited.
    pub async fn require_step_up(&self, action: &str) -> Result<&CurrentAdmin, AppError> {
        use domain::audit::{AuditDraft, Outcome};
        let current = self.require_manager(action).await?;
        if current.stepped_up(domain::now_ms()) {
            return Ok(current);
        }
        let draft = AuditDraft::new(
            &self.actor,
            action,
            format!("admin:{}", current.admin.username),
            Outcome::Denied,
        )
        .with_details(
            serde_json::json!({ "reason": "no passkey confirmation in the last 5 minutes" }),
        );
        if let Err(e) = self.console.store.record(draft).await {
            return Err(AppError::from(domain::Error::Store(e)));
        }
        let e = AppError::Forbidden(crate::error::STEP_UP_REQUIRED.to_owned());
        e.apply_to_response();
        Err(e)
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
