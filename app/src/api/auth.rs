//! Server fns for passkey setup, sign-in and sign-out (domain: `auth`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A started WebAuthn ceremony: the id to send back and the JSON options for
/// `navigator.credentials.create/get`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CeremonyView {
    pub ceremony_id: String,
    pub options: String,
}

/// The signed-in admin as the header shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminView {
    pub username: String,
    pub display_name: String,
    pub role: policy::access::Role,
}

#[cfg(feature = "ssr")]
pub(crate) fn ceremony_view(started: domain::auth::Started) -> CeremonyView {
    CeremonyView {
        ceremony_id: started.ceremony_id,
        options: started.options.to_string(),
    }
}

#[cfg(feature = "ssr")]
pub(crate) fn start_session(ctx: &crate::ctx::RequestCtx, signed_in: &domain::auth::SignedIn) {
    set_session_cookie(ctx, &signed_in.token);
}

/// Sets the session cookie to `token` on the response being built.
#[cfg(feature = "ssr")]
fn set_session_cookie(ctx: &crate::ctx::RequestCtx, token: &secrecy::SecretString) {
    use secrecy::ExposeSecret;
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(v) = http::HeaderValue::from_str(&ctx.cookies.set(token.expose_secret())) {
            res.append_header(http::header::SET_COOKIE, v);
        }
    }
}

/// Whether a setup link can still be used.
///
/// **Permissions:** anyone holding the link. **Audit:** none (read-only).
#[server(endpoint = "check_setup_link")]
pub async fn check_setup_link(token: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.console
        .auth
        .setup_link_status(&token)
        .await
        .map_err(|e| AppError::from(domain::Error::from(e)))
}

/// Starts registering the first owner's passkey.
///
/// **Permissions:** anyone holding a valid setup link. **Audit:** `admin.setup_owner` failure
/// when refused (the success is recorded by `finish_setup`).
#[server(endpoint = "start_setup")]
pub async fn start_setup(
    token: String,
    username: String,
    display_name: String,
) -> Result<CeremonyView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let started = ctx
        .console
        .auth
        .begin_setup(&token, &username, &display_name, &ctx.actor)
        .await?;
    Ok(ceremony_view(started))
}

/// Verifies the new passkey, creates the owner and signs them in.
///
/// **Permissions:** the browser that started the ceremony. **Audit:** `admin.setup_owner`.
#[server(endpoint = "finish_setup")]
pub async fn finish_setup(ceremony_id: String, credential: String) -> Result<AdminView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let signed_in = ctx
        .console
        .auth
        .finish_setup(&ceremony_id, &credential, &ctx.actor)
        .await?;
    start_session(&ctx, &signed_in);
    Ok(admin_view(&signed_in.admin))
}

/// Starts a passkey sign-in for `username`.
///
/// **Permissions:** anyone (throttled per IP and per username). **Audit:** `admin.sign_in`
/// failure or denial when refused.
#[server(endpoint = "start_login")]
pub async fn start_login(username: String) -> Result<CeremonyView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let started = ctx
        .console
        .auth
        .begin_sign_in(&username, &ctx.actor)
        .await?;
    Ok(ceremony_view(started))
}

/// Verifies the passkey assertion and opens a new session.
///
/// **Permissions:** the browser that started the ceremony. **Audit:** `admin.sign_in`.
#[server(endpoint = "finish_login")]
pub async fn finish_login(ceremony_id: String, credential: String) -> Result<AdminView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let previous = ctx
        .cookies
        .read(&ctx.headers)
        .map(|t| domain::tokens::token_hash(&t));
    let signed_in = ctx
        .console
        .auth
        .finish_sign_in(&ceremony_id, &credential, previous, &ctx.actor)
        .await?;
    start_session(&ctx, &signed_in);
    Ok(admin_view(&signed_in.admin))
}

/// Ends the current session and clears the cookie; a plain form post lands on `/login`.
///
/// **Permissions:** a signed-in admin. **Audit:** `admin.sign_out`.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let current = ctx.require_admin()?;
    ctx.console.auth.sign_out(current, &ctx.actor).await?;
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(v) = http::HeaderValue::from_str(&ctx.cookies.clear()) {
            res.append_header(http::header::SET_COOKIE, v);
        }
    }
    leptos_axum::redirect("/login");
    Ok(())
}

/// The signed-in admin.
///
/// **Permissions:** a signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "current_admin")]
pub async fn current_admin() -> Result<AdminView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    Ok(admin_view(&ctx.require_admin()?.admin))
}

#[cfg(feature = "ssr")]
pub(crate) fn admin_view(a: &domain::admins::Admin) -> AdminView {
    AdminView {
        username: a.username.clone(),
        display_name: a.display_name.clone(),
        role: a.role,
    }
}

/// Starts a step-up: a passkey challenge for the signed-in admin, bound to this session.
///
/// **Permissions:** any signed-in admin. **Audit:** none until it finishes.
#[server(endpoint = "start_step_up")]
pub async fn start_step_up() -> Result<CeremonyView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let current = ctx.require_admin()?;
    let started = ctx.console.auth.begin_step_up(current).await?;
    Ok(ceremony_view(started))
}

/// Verifies the step-up assertion; sensitive actions are then allowed for five minutes, and the
/// session continues under a new id (a new cookie).
///
/// **Permissions:** the signed-in admin whose session started the ceremony.
/// **Audit:** `admin.step_up` (success or failure).
#[server(endpoint = "finish_step_up")]
pub async fn finish_step_up(ceremony_id: String, credential: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let current = ctx.require_admin()?;
    let token = ctx
        .console
        .auth
        .finish_step_up(current, &ceremony_id, &credential, &ctx.actor)
        .await?;
    set_session_cookie(&ctx, &token);
    Ok(())
}
