//! Joining through an invite: the invitee's browser checks the link, chooses a username and
//! registers a passkey; the invite is consumed, the admin created with the invite's role and
//! signed in, in one transaction with the audit event (two browsers racing with one link
//! cannot both succeed).

use serde_json::json;

use super::{AuthService, CeremonyState, Joining, SignedIn, Started};
use crate::admins::service::InviteState;
use crate::admins::{Admin, Role};
use crate::audit::{Actor, AuditDraft, Outcome};
use crate::audited::action;
use crate::ports::admins::{AdminChange, InviteRecord};
use crate::ports::StoreError;
use crate::{now_ms, tokens, Error};

/// What an invite link offers, for the page before the form.
#[derive(Clone, Debug)]
pub struct InviteOffer {
    pub role: Role,
    pub invited_by: String,
    pub expires_at_ms: i64,
}

impl AuthService {
    /// The open invite behind `token`, or the reason it cannot be used (in the invitee's terms).
    async fn open_invite(&self, token: &str) -> Result<InviteRecord, Error> {
        let unusable = |why: &str| {
            Error::invalid(format!(
                "This invite link {why}. Ask the admin who invited you for a new one."
            ))
        };
        if !tokens::looks_like_token(token) {
            return Err(unusable("is not valid"));
        }
        let invite = self
            .admins
            .invite_by_token(&tokens::token_hash(token))
            .await?
            .ok_or_else(|| unusable("is not valid"))?;
        match InviteState::of(&invite, now_ms()) {
            InviteState::Open => Ok(invite),
            InviteState::Used => Err(unusable("has been used already")),
            InviteState::Revoked => Err(unusable("was revoked")),
            InviteState::Expired => Err(unusable("has expired (invites last 24 hours)")),
        }
    }

    /// What the invite offers, if it can still be used.
    pub async fn invite_offer(&self, token: &str) -> Result<InviteOffer, Error> {
        let i = self.open_invite(token).await?;
        Ok(InviteOffer {
            role: i.role,
            invited_by: i.created_by,
            expires_at_ms: i.expires_at_ms,
        })
    }

    /// Step 1 of joining: validates the invite and the names, starts a passkey registration.
    pub async fn begin_invite(
        &self,
        token: &str,
        username: &str,
        display_name: &str,
        actor: &Actor,
    ) -> Result<Started, Error> {
        let link = self.open_invite(token).await.map(|i| i.token_hash);
        self.begin_joining(
            link,
            username,
            display_name,
            actor,
            action::ADMINS_ACCEPT_INVITE,
            CeremonyState::Invite,
        )
        .await
    }

    /// Step 2 of joining: verifies the passkey, then in one transaction consumes the invite,
    /// creates the admin with its role, the passkey and a session, and writes the audit event.
    pub async fn finish_invite(
        &self,
        ceremony_id: &str,
        credential: &str,
        actor: &Actor,
    ) -> Result<SignedIn, Error> {
        let fail = |target: String, reason: String| {
            AuditDraft::new(
                actor,
                action::ADMINS_ACCEPT_INVITE,
                target,
                Outcome::Failure,
            )
            .with_details(json!({ "reason": reason }))
        };
        let (
            Joining {
                token_hash,
                admin_id,
                username,
                display_name,
                ..
            },
            passkey,
        ) = self
            .finish_joining(
                ceremony_id,
                credential,
                actor,
                action::ADMINS_ACCEPT_INVITE,
                |c| match c {
                    CeremonyState::Invite(j) => Some(j),
                    _ => None,
                },
            )
            .await?;
        let target = format!("admin:{username}");
        // The role comes from the invite, read again inside the transaction by the store.
        let role = self
            .admins
            .invite_by_token(&token_hash)
            .await?
            .map(|i| i.role)
            .unwrap_or(Role::Auditor);
        let now = now_ms();
        let admin = Admin {
            id: admin_id,
            username: username.clone(),
            display_name,
            role,
            disabled: false,
            created_at_ms: now,
        };
        let token = tokens::random_token();
        let session = self.new_session(&token, admin_id, actor, now);
        let event = AuditDraft::new(
            &Actor {
                name: username.clone(),
                ..actor.clone()
            },
            action::ADMINS_ACCEPT_INVITE,
            &target,
            Outcome::Success,
        )
        .with_details(json!({
            "role": role.as_str(),
            "credential_id": passkey.credential_id,
            "aaguid": passkey.aaguid,
        }));
        let change = AdminChange::AcceptInvite {
            token_hash,
            admin: Box::new(admin.clone()),
            passkey: Box::new(passkey),
            session: Box::new(session),
            now_ms: now,
        };
        match self.admins.apply_admin_change(&change, event).await {
            Ok(_) => Ok(SignedIn { token, admin }),
            Err(StoreError::Conflict(reason)) => {
                let msg = format!("Joining could not complete: {reason}.");
                Err(self
                    .refuse(fail(target, reason), Error::Conflict(msg))
                    .await)
            }
            Err(StoreError::Duplicate { .. }) => {
                let msg = format!("The username {username} was taken meanwhile; choose another.");
                Err(self
                    .refuse(fail(target, msg.clone()), Error::Conflict(msg))
                    .await)
            }
            Err(e) => Err(e.into()),
        }
    }
}
