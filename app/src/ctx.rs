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

    /// The signed-in admin, or 401.
    pub fn require_admin(&self) -> Result<&CurrentAdmin, AppError> {
        self.admin.as_ref().ok_or_else(|| {
            let e = AppError::Unauthenticated(domain::Error::Unauthenticated.to_string());
            e.apply_to_response();
            e
        })
    }
}
