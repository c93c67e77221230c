//! Managing the console's admins: invites (one-time, 24 h, stored hashed, revocable), roles,
//! disabling, sessions and passkeys. Who may act on whom: [`Role::may_manage`] (only an owner
//! acts on owners); nobody changes their own role or disables themselves (another owner or
//! admin must), and the store keeps at least one enabled owner. Every change and its audit
//! event commit together; a refusal is audited.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

use crate::admins::{Admin, Permission, Role, StoredPasskey};
use crate::audit::{Actor, AuditDraft};
use crate::audited::{action, Audit, Target};
use crate::auth::CurrentAdmin;
use crate::ports::admins::{AdminChange, AdminStore, InviteRecord};
use crate::ports::{Store, StoreError};
use crate::sessions::{SessionPolicy, SessionRecord};
use crate::{now_ms, tokens, Error};

/// How long an invite link works.
pub const INVITE_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Longest invite label ("for Alice, SRE"), in characters.
const LABEL_MAX: usize = 100;

/// An admin with what the Admins page shows of them.
#[derive(Clone, Debug)]
pub struct AdminEntry {
    pub admin: Admin,
    pub passkeys: Vec<StoredPasskey>,
    /// Live sessions, newest first.
    pub sessions: Vec<SessionRecord>,
}

/// Where an invite stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteState {
    Open,
    Used,
    Revoked,
    Expired,
}

impl InviteState {
    pub fn of(i: &InviteRecord, now_ms: i64) -> InviteState {
        if i.used_at_ms.is_some() {
            InviteState::Used
        } else if i.revoked_at_ms.is_some() {
            InviteState::Revoked
        } else if now_ms >= i.expires_at_ms {
            InviteState::Expired
        } else {
            InviteState::Open
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InviteState::Open => "open",
            InviteState::Used => "used",
            InviteState::Revoked => "revoked",
            InviteState::Expired => "expired",
        }
    }
}

/// The short, public reference of a session (a prefix of its id's hash): enough to name it
/// on a page, useless to take it over.
pub fn session_ref(s: &SessionRecord) -> String {
    s.id_hash.chars().take(16).collect()
}

/// The invite link for `token`: the token travels in the fragment, so it reaches neither the
/// server's logs nor a `Referer`; the page sends it in the body of its calls.
pub fn invite_url(public_url: &url::Url, token: &str) -> String {
    let mut url = public_url.clone();
    url.set_path("/invite");
    url.set_query(None);
    url.set_fragment(Some(token));
    url.to_string()
}

pub struct AdminsService {
    store: Arc<dyn AdminStore>,
    log: Arc<dyn Store>,
    audit: Audit,
    sessions: SessionPolicy,
    public_url: url::Url,
}

impl AdminsService {
    pub fn new(
        store: Arc<dyn AdminStore>,
        log: Arc<dyn Store>,
        audit: Audit,
        sessions: SessionPolicy,
        public_url: &url::Url,
    ) -> Self {
        AdminsService {
            store,
            log,
            audit,
            sessions,
            public_url: public_url.clone(),
        }
    }

    /// Every admin with their passkeys and live sessions.
    pub async fn list(&self) -> Result<Vec<AdminEntry>, Error> {
        let now = now_ms();
        let sessions = self.store.sessions().await?;
        let mut out = Vec::new();
        for admin in self.store.admins().await? {
            let passkeys = self.log.passkeys_of(admin.id).await?;
            let live = sessions
                .iter()
                .filter(|s| s.admin_id == admin.id && self.sessions.check(s, now).is_ok())
                .cloned()
                .collect();
            out.push(AdminEntry {
                admin,
                passkeys,
                sessions: live,
            });
        }
        Ok(out)
    }

    /// The newest invites (at most 50).
    pub async fn invites(&self) -> Result<Vec<InviteRecord>, Error> {
        Ok(self.store.invites(50).await?)
    }

    /// The admin with `id`, or `NotFound`.
    async fn admin(&self, id: &str) -> Result<Admin, Error> {
        let id = Uuid::parse_str(id.trim())
            .map_err(|_| Error::NotFound("no such admin; reload the page".into()))?;
        self.store
            .admins()
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| Error::NotFound("no such admin; reload the page".into()))
    }

    async fn commit(&self, change: &AdminChange, event: AuditDraft) -> Result<u64, Error> {
        self.store
            .apply_admin_change(change, event)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => Error::Conflict(m),
                other => Error::Store(other),
            })
    }

    /// Creates an invite for `role`; the link (with the token) is returned here only.
    pub async fn invite(
        &self,
        actor: &Actor,
        by: &CurrentAdmin,
        role: Role,
        label: &str,
    ) -> Result<(InviteRecord, String), Error> {
        let target = Target::invite("new");
        self.audit
            .run(actor, action::ADMINS_INVITE, &target, async {
                if !by.admin.role.may_manage(role) {
                    return Err(Error::Conflict(format!(
                        "Only an owner can invite an owner; your role ({}) can invite admins, operators and auditors.",
                        by.admin.role.as_str()
                    )));
                }
                let label = label.trim();
                if label.chars().count() > LABEL_MAX || label.chars().any(char::is_control) {
                    return Err(Error::invalid(
                        "The note must be at most 100 characters, without control characters.",
                    ));
                }
                let token: SecretString = tokens::random_token();
                let now = now_ms();
                let record = InviteRecord {
                    id: Uuid::new_v4(),
                    token_hash: tokens::secret_hash(&token),
                    role,
                    label: label.to_owned(),
                    created_by: by.admin.username.clone(),
                    created_at_ms: now,
                    expires_at_ms: now + INVITE_TTL_MS,
                    used_at_ms: None,
                    used_by: None,
                    revoked_at_ms: None,
                };
                let event = Audit::success(
                    actor,
                    action::ADMINS_INVITE,
                    &Target::invite(&record.id.to_string()),
                    json!({ "role": role.as_str(), "label": record.label, "expires_at_ms": record.expires_at_ms }),
                );
                self.commit(&AdminChange::Invite(record.clone()), event)
                    .await?;
                let url = invite_url(&self.public_url, token.expose_secret());
                Ok((record, url))
            })
            .await
    }

    /// Revokes an open invite.
    pub async fn revoke_invite(
        &self,
        actor: &Actor,
        by: &CurrentAdmin,
        id: &str,
    ) -> Result<(), Error> {
        let target = Target::invite(id.trim());
        self.audit
            .run(actor, action::ADMINS_REVOKE_INVITE, &target, async {
                let id = Uuid::parse_str(id.trim())
                    .map_err(|_| Error::NotFound("no such invite; reload the page".into()))?;
                let invite = self
                    .store
                    .invites(1_000)
                    .await?
                    .into_iter()
                    .find(|i| i.id == id)
                    .ok_or_else(|| Error::NotFound("no such invite; reload the page".into()))?;
                if !by.admin.role.may_manage(invite.role) {
                    return Err(Error::Conflict(
                        "Only an owner can revoke an invite for an owner.".into(),
                    ));
                }
                let event = Audit::success(
                    actor,
                    action::ADMINS_REVOKE_INVITE,
                    &target,
                    json!({ "role": invite.role.as_str(), "label": invite.label }),
                );
                self.commit(
                    &AdminChange::RevokeInvite {
                        id,
                        now_ms: now_ms(),
                    },
                    event,
                )
                .await
                .map(|_| ())
            })
            .await
    }

    /// Refuses acting on oneself or on someone `by` may not manage.
    fn check_manages(by: &CurrentAdmin, target: &Admin, verb: &str) -> Result<(), Error> {
        if target.id == by.admin.id {
            return Err(Error::Conflict(format!(
                "You cannot {verb} yourself; ask another owner or admin."
            )));
        }
        if !by.admin.role.may_manage(target.role) {
            return Err(Error::Conflict(format!(
                "Only an owner can {verb} an owner."
            )));
        }
        Ok(())
    }

    /// Gives `admin_id` the role `to` (if they still have `from`); ends all their sessions.
    pub async fn set_role(
        &self,
        actor: &Actor,
        by: &CurrentAdmin,
        admin_id: &str,
        from: Role,
        to: Role,
    ) -> Result<(), Error> {
        let target = Target::admin(admin_id.trim());
        self.audit
            .run(actor, action::ADMINS_SET_ROLE, &target, async {
                let admin = self.admin(admin_id).await?;
                Self::check_manages(by, &admin, "change the role of")?;
                if !by.admin.role.may_manage(to) {
                    return Err(Error::Conflict("Only an owner can make someone an owner.".into()));
                }
                if from == to {
                    return Err(Error::invalid(format!("{} is already {}.", admin.username, to.as_str())));
                }
                let event = Audit::success(
                    actor,
                    action::ADMINS_SET_ROLE,
                    &target,
                    json!({ "username": admin.username, "before": { "role": from.as_str() }, "after": { "role": to.as_str() }, "sessions": "all ended" }),
                );
                self.commit(
                    &AdminChange::SetRole {
                        admin_id: admin.id,
                        from,
                        to,
                    },
                    event,
                )
                .await
                .map(|_| ())
            })
            .await
    }

    /// Disables (ending all their sessions at once) or re-enables an admin.
    pub async fn set_disabled(
        &self,
        actor: &Actor,
        by: &CurrentAdmin,
        admin_id: &str,
        disabled: bool,
    ) -> Result<(), Error> {
        let name = action::switch(disabled, action::ADMINS_DISABLE, action::ADMINS_ENABLE);
        let target = Target::admin(admin_id.trim());
        self.audit
            .run(actor, name, &target, async {
                let admin = self.admin(admin_id).await?;
                Self::check_manages(by, &admin, if disabled { "disable" } else { "enable" })?;
                if admin.disabled == disabled {
                    return Err(Error::invalid(format!(
                        "{} is already {}.",
                        admin.username,
                        if disabled { "disabled" } else { "enabled" }
                    )));
                }
                let event = Audit::success(
                    actor,
                    name,
                    &target,
                    json!({ "username": admin.username, "role": admin.role.as_str(), "sessions": if disabled { "all ended" } else { "none" } }),
                );
                self.commit(
                    &AdminChange::SetDisabled {
                        admin_id: admin.id,
                        disabled,
                    },
                    event,
                )
                .await
                .map(|_| ())
            })
            .await
    }

    /// Ends sessions of `admin_id`: the one `session` names (a [`session_ref`]), or, when it
    /// is empty, every one except the caller's own. Anyone ends their own; ending someone
    /// else's needs `sessions:manage` (owners). Returns how many ended.
    pub async fn end_sessions(
        &self,
        actor: &Actor,
        by: &CurrentAdmin,
        admin_id: &str,
        session: &str,
    ) -> Result<u64, Error> {
        let target = Target::admin(admin_id.trim());
        self.audit
            .run(actor, action::ADMINS_END_SESSIONS, &target, async {
                let admin = self.admin(admin_id).await?;
                let own = admin.id == by.admin.id;
                if !own && !by.admin.role.allows(Permission::SessionsManage) {
                    return Err(Error::Forbidden);
                }
                let session = session.trim();
                let only = if session.is_empty() {
                    None
                } else {
                    let found = self
                        .store
                        .sessions()
                        .await?
                        .into_iter()
                        .find(|s| s.admin_id == admin.id && session_ref(s) == session)
                        .ok_or_else(|| {
                            Error::NotFound("that session has ended already; reload the page".into())
                        })?;
                    if found.id_hash == by.session_hash {
                        return Err(Error::invalid(
                            "That is this session: use Sign out to end it.",
                        ));
                    }
                    Some(found.id_hash)
                };
                let event = Audit::success(
                    actor,
                    action::ADMINS_END_SESSIONS,
                    &target,
                    json!({ "username": admin.username, "session": if session.is_empty() { "all others" } else { session } }),
                );
                self.commit(
                    &AdminChange::EndSessions {
                        admin_id: admin.id,
                        keep: only.is_none().then(|| by.session_hash.clone()),
                        only,
                    },
                    event,
                )
                .await
            })
            .await
    }

    /// The caller's own passkey `id`, or `NotFound`.
    async fn own_passkey(&self, by: &CurrentAdmin, id: &str) -> Result<StoredPasskey, Error> {
        let id = Uuid::parse_str(id.trim())
            .map_err(|_| Error::NotFound("no such passkey; reload the page".into()))?;
        self.log
            .passkeys_of(by.admin.id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| Error::NotFound("no such passkey of yours; reload the page".into()))
    }

    /// Names one of the caller's passkeys.
    pub async fn rename_passkey(
        &self,
        actor: &Actor,
        by: &CurrentAdmin,
        id: &str,
        name: &str,
    ) -> Result<(), Error> {
        let target = Target::admin(&by.admin.id.to_string());
        self.audit
            .run(actor, action::ADMINS_RENAME_PASSKEY, &target, async {
                let pk = self.own_passkey(by, id).await?;
                let name = passkey_name(name)?;
                let event = Audit::success(
                    actor,
                    action::ADMINS_RENAME_PASSKEY,
                    &target,
                    json!({ "credential_id": pk.credential_id, "before": { "name": pk.name }, "after": { "name": name } }),
                );
                self.commit(
                    &AdminChange::RenamePasskey {
                        admin_id: by.admin.id,
                        id: pk.id,
                        name,
                    },
                    event,
                )
                .await
                .map(|_| ())
            })
            .await
    }

    /// Revokes one of the caller's passkeys (never the last one).
    pub async fn revoke_passkey(
        &self,
        actor: &Actor,
        by: &CurrentAdmin,
        id: &str,
    ) -> Result<(), Error> {
        let target = Target::admin(&by.admin.id.to_string());
        self.audit
            .run(actor, action::ADMINS_REVOKE_PASSKEY, &target, async {
                let pk = self.own_passkey(by, id).await?;
                let event = Audit::success(
                    actor,
                    action::ADMINS_REVOKE_PASSKEY,
                    &target,
                    json!({ "credential_id": pk.credential_id, "name": pk.name }),
                );
                self.commit(
                    &AdminChange::RevokePasskey {
                        admin_id: by.admin.id,
                        id: pk.id,
                    },
                    event,
                )
                .await
                .map(|_| ())
            })
            .await
    }
}

/// A passkey name: 1–64 characters, no control characters.
pub fn passkey_name(input: &str) -> Result<String, Error> {
    let s = input.trim();
    let n = s.chars().count();
    if n == 0 || n > 64 || s.chars().any(char::is_control) {
        return Err(Error::invalid(
            "A passkey name is 1 to 64 characters, without control characters.",
        ));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(used: Option<i64>, revoked: Option<i64>) -> InviteRecord {
        InviteRecord {
            id: Uuid::nil(),
            token_hash: "h".into(),
            role: Role::Operator,
            label: String::new(),
            created_by: "owner".into(),
            created_at_ms: 0,
            expires_at_ms: 100,
            used_at_ms: used,
            used_by: None,
            revoked_at_ms: revoked,
        }
    }

    #[test]
    fn invite_states() {
        assert_eq!(InviteState::of(&invite(None, None), 99), InviteState::Open);
        assert_eq!(
            InviteState::of(&invite(None, None), 100),
            InviteState::Expired
        );
        assert_eq!(
            InviteState::of(&invite(Some(5), None), 200),
            InviteState::Used
        );
        assert_eq!(
            InviteState::of(&invite(None, Some(5)), 50),
            InviteState::Revoked
        );
    }

    #[test]
    fn invite_links_keep_the_token_out_of_the_request_line() {
        let url = invite_url(
            &url::Url::parse("https://console.example:3000/x?y=1").expect("url"),
            "tok",
        );
        assert_eq!(url, "https://console.example:3000/invite#tok");
    }

    #[test]
    fn passkey_names() {
        assert_eq!(
            passkey_name("  YubiKey 5C ").ok().as_deref(),
            Some("YubiKey 5C")
        );
        assert!(passkey_name("").is_err());
        assert!(passkey_name("a\u{7}b").is_err());
        assert!(passkey_name(&"x".repeat(65)).is_err());
    }
}
