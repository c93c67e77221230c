//! Server fns for admins (domain: `admins`, joining and passkey ceremonies in `auth`): the
//! team with their passkeys and sessions, invites, roles, disabling, ending sessions, and each
//! admin's own passkeys (add, rename, revoke). What each needs is in `crate::access`.

use leptos::prelude::*;
use policy::access::Role;
use serde::{Deserialize, Serialize};

use crate::api::auth::{AdminView, CeremonyView};
use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyInfo {
    pub id: String,
    /// The admin's name for it, else the authenticator model's, else "".
    pub name: String,
    /// The authenticator model, when its AAGUID is a known one.
    pub model: Option<String>,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// A short public reference to name it in "End".
    pub reference: String,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request came from.
    pub current: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminInfo {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at_ms: i64,
    pub passkeys: Vec<PasskeyInfo>,
    pub session_count: usize,
    /// Their sessions: for the caller themselves, and for everyone when the caller may end
    /// anyone's (`sessions:manage`); empty otherwise.
    pub sessions: Vec<SessionInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub id: String,
    pub role: Role,
    pub label: String,
    pub created_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// open, used, revoked or expired.
    pub state: String,
    pub used_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInfo {
    /// The caller's admin id.
    pub me: String,
    pub admins: Vec<AdminInfo>,
    pub invites: Vec<InviteInfo>,
    pub now_ms: i64,
}

/// A new invite: its link, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedInvite {
    pub url: String,
    pub role: Role,
    pub expires_at_ms: i64,
}

/// What an invite link offers, before the form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteOfferInfo {
    pub role: Role,
    pub invited_by: String,
    pub expires_at_ms: i64,
}

#[cfg(feature = "ssr")]
mod convert {
    use super::*;
    use domain::admins::service::{session_ref, AdminEntry, InviteState};
    use domain::auth::{authenticator_name, CurrentAdmin};
    use domain::ports::admins::InviteRecord;

    pub fn admin(e: AdminEntry, me: &CurrentAdmin, sees_all: bool) -> AdminInfo {
        let own = e.admin.id == me.admin.id;
        let sessions = if own || sees_all {
            e.sessions
                .iter()
                .map(|s| SessionInfo {
                    reference: session_ref(s),
                    created_at_ms: s.created_at_ms,
                    last_seen_at_ms: s.last_seen_at_ms,
                    ip: s.ip.clone(),
                    user_agent: s.user_agent.clone(),
                    current: s.id_hash == me.session_hash,
                })
                .collect()
        } else {
            Vec::new()
        };
        AdminInfo {
            id: e.admin.id.to_string(),
            username: e.admin.username,
            display_name: e.admin.display_name,
            role: e.admin.role,
            disabled: e.admin.disabled,
            created_at_ms: e.admin.created_at_ms,
            passkeys: e
                .passkeys
                .iter()
                .map(|p| PasskeyInfo {
                    id: p.id.to_string(),
                    name: p.name.clone(),
                    model: p
                        .aaguid
                        .as_deref()
                        .and_then(authenticator_name)
                        .map(str::to_owned),
                    created_at_ms: p.created_at_ms,
                    last_used_at_ms: p.last_used_at_ms,
                })
                .collect(),
            session_count: e.sessions.len(),
            sessions,
        }
    }

    pub fn invite(i: InviteRecord, now_ms: i64) -> InviteInfo {
        InviteInfo {
            id: i.id.to_string(),
            role: i.role,
            state: InviteState::of(&i, now_ms).as_str().to_owned(),
            label: i.label,
            created_by: i.created_by,
            created_at_ms: i.created_at_ms,
            expires_at_ms: i.expires_at_ms,
            used_by: i.used_by,
        }
    }
}

/// The team: every admin with their passkeys (and sessions where the caller may see them),
/// and the invites.
///
/// **Permissions:** `console:read`. **Audit:** none (read-only).
#[server(endpoint = "list_admins")]
pub async fn list_admins() -> Result<TeamInfo, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let me = ctx.require_admin()?;
    let sees_all = me
        .admin
        .role
        .allows(policy::access::Permission::SessionsManage);
    let now = domain::now_ms();
    Ok(TeamInfo {
        me: me.admin.id.to_string(),
        admins: ctx
            .console
            .admins
            .list()
            .await?
            .into_iter()
            .map(|e| convert::admin(e, me, sees_all))
            .collect(),
        invites: ctx
            .console
            .admins
            .invites()
            .await?
            .into_iter()
            .map(|i| convert::invite(i, now))
            .collect(),
        now_ms: now,
    })
}

/// Creates a one-time invite for `role` (24 h); the link is in the answer, once.
///
/// **Permissions:** `admins:manage` and a step-up; only an owner invites an owner.
/// **Audit:** `admins.invite` (never the token).
#[server(endpoint = "create_invite")]
pub async fn create_invite(role: Role, label: String) -> Result<CreatedInvite, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let me = ctx.require_admin()?;
    let (record, url) = ctx
        .console
        .admins
        .invite(&ctx.actor, me, role, &label)
        .await?;
    Ok(CreatedInvite {
        url,
        role: record.role,
        expires_at_ms: record.expires_at_ms,
    })
}

/// Revokes an open invite.
///
/// **Permissions:** `admins:manage` and a step-up. **Audit:** `admins.revoke_invite`.
#[server(endpoint = "revoke_invite")]
pub async fn revoke_invite(id: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let me = ctx.require_admin()?;
    Ok(ctx
        .console
        .admins
        .revoke_invite(&ctx.actor, me, &id)
        .await?)
}

/// Changes an admin's role (from `from`, as the page showed it); ends all their sessions.
///
/// **Permissions:** `admins:manage` and a step-up; only an owner acts on or creates owners.
/// **Audit:** `admins.set_role` (before/after).
#[server(endpoint = "set_admin_role")]
pub async fn set_admin_role(id: String, from: Role, to: Role) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let me = ctx.require_admin()?;
    Ok(ctx
        .console
        .admins
        .set_role(&ctx.actor, me, &id, from, to)
        .await?)
}

/// Disables an admin (ending all their sessions at once) or enables them again.
///
/// **Permissions:** `admins:manage` and a step-up. **Audit:** `admins.disable` /
/// `admins.enable`.
#[server(endpoint = "set_admin_disabled")]
pub async fn set_admin_disabled(id: String, disabled: bool) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let me = ctx.require_admin()?;
    Ok(ctx
        .console
        .admins
        .set_disabled(&ctx.actor, me, &id, disabled)
        .await?)
}

/// Ends one session of `admin_id` (`session` = its reference) or all but the caller's own
/// (`session` empty). Returns how many ended.
///
/// **Permissions:** any admin for their own sessions; someone else's need `sessions:manage`
/// and a step-up. **Audit:** `admins.end_sessions`.
#[server(endpoint = "end_sessions")]
pub async fn end_sessions(admin_id: String, session: String) -> Result<u64, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let me = ctx.require_admin()?;
    if admin_id.trim() != me.admin.id.to_string() {
        ctx.require(
            policy::access::Permission::SessionsManage,
            "admins.end_sessions",
        )
        .await?;
        ctx.require_step_up("admins.end_sessions").await?;
    }
    Ok(ctx
        .console
        .admins
        .end_sessions(&ctx.actor, me, &admin_id, &session)
        .await?)
}

/// Starts registering another passkey for the signed-in admin.
///
/// **Permissions:** any admin, with a step-up. **Audit:** none until it finishes.
#[server(endpoint = "start_add_passkey")]
pub async fn start_add_passkey() -> Result<CeremonyView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let me = ctx.require_admin()?;
    let started = ctx.console.auth.begin_add_passkey(me).await?;
    Ok(crate::api::auth::ceremony_view(started))
}

/// Verifies and stores the new passkey under `name`.
///
/// **Permissions:** any admin, with a step-up, in the session that started it.
/// **Audit:** `admins.add_passkey`.
#[server(endpoint = "finish_add_passkey")]
pub async fn finish_add_passkey(
    ceremony_id: String,
    credential: String,
    name: String,
) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let me = ctx.require_admin()?;
    let name = domain::admins::service::passkey_name(&name)?;
    ctx.console
        .auth
        .finish_add_passkey(me, &ceremony_id, &credential, &name, &ctx.actor)
        .await?;
    Ok(())
}

/// Names one of the caller's passkeys.
///
/// **Permissions:** any admin, for their own passkeys. **Audit:** `admins.rename_passkey`.
#[server(endpoint = "rename_passkey")]
pub async fn rename_passkey(id: String, name: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let me = ctx.require_admin()?;
    Ok(ctx
        .console
        .admins
        .rename_passkey(&ctx.actor, me, &id, &name)
        .await?)
}

/// Revokes one of the caller's passkeys (never the last one).
///
/// **Permissions:** any admin, for their own passkeys, with a step-up.
/// **Audit:** `admins.revoke_passkey`.
#[server(endpoint = "revoke_passkey")]
pub async fn revoke_passkey(id: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let me = ctx.require_admin()?;
    Ok(ctx
        .console
        .admins
        .revoke_passkey(&ctx.actor, me, &id)
        .await?)
}

/// What an invite link offers, if it can still be used.
///
/// **Permissions:** anyone holding the link. **Audit:** none (read-only).
#[server(endpoint = "check_invite")]
pub async fn check_invite(token: String) -> Result<InviteOfferInfo, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let offer = ctx.console.auth.invite_offer(&token).await?;
    Ok(InviteOfferInfo {
        role: offer.role,
        invited_by: offer.invited_by,
        expires_at_ms: offer.expires_at_ms,
    })
}

/// Starts registering the invitee's passkey.
///
/// **Permissions:** anyone holding an open invite. **Audit:** `admins.accept_invite` failure
/// when refused.
#[server(endpoint = "start_invite")]
pub async fn start_invite(
    token: String,
    username: String,
    display_name: String,
) -> Result<CeremonyView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let started = ctx
        .console
        .auth
        .begin_invite(&token, &username, &display_name, &ctx.actor)
        .await?;
    Ok(crate::api::auth::ceremony_view(started))
}

/// Verifies the invitee's passkey, creates the admin with the invite's role and signs them in.
///
/// **Permissions:** the browser that started the ceremony. **Audit:** `admins.accept_invite`.
#[server(endpoint = "finish_invite")]
pub async fn finish_invite(ceremony_id: String, credential: String) -> Result<AdminView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let signed_in = ctx
        .console
        .auth
        .finish_invite(&ceremony_id, &credential, &ctx.actor)
        .await?;
    crate::api::auth::start_session(&ctx, &signed_in);
    Ok(crate::api::auth::admin_view(&signed_in.admin))
}
