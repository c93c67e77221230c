//! Passkey sign-in for admins (WebAuthn L3 via webauthn-rs): first-owner setup, sign-in,
//! sessions and sign-out.
//!
//! Invariants: ceremony state lives server-side, expires after five minutes and is taken on
//! first use, so a replayed response finds nothing; user verification is required; every
//! attempt writes exactly one audit row (a started ceremony writes none until it finishes or
//! fails); sign-in attempts are throttled per IP and per username before any lookup.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, Webauthn,
    WebauthnBuilder,
};

use crate::admins::{Admin, DisplayName, Role, StoredPasskey, Username};
use crate::audit::{Actor, AuditDraft, Outcome};
use crate::ports::admins::{AdminStore, PASSKEY_COUNTER_CONFLICT};
use crate::ports::{Ceremony, NewOwner, NewSignIn, Store, StoreError};
use crate::refusals::Refusals;
use crate::sessions::{SessionPolicy, SessionRecord, STEP_UP_VALID_MS};
use crate::setup::{setup_url, SetupTokenError, SetupTokenRecord};
use crate::throttle::Throttle;
use crate::{now_ms, tokens, Error};

/// How long a started ceremony may be finished (WebAuthn L3 §15.1 recommends 300 s).
pub const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;

/// A started ceremony: the id to send back with the response, and the options for
/// `navigator.credentials.create/get` (public data: challenge, RP, user handle).
#[derive(Debug)]
pub struct Started {
    pub ceremony_id: String,
    pub options: Value,
}

/// A new session for an admin; `token` goes into the cookie and nowhere else.
pub struct SignedIn {
    pub token: SecretString,
    pub admin: Admin,
}

/// The admin behind a live session.
#[derive(Clone, Debug)]
pub struct CurrentAdmin {
    pub admin: Admin,
    pub session_hash: String,
    /// When the admin last confirmed with a passkey in this session (step-up).
    pub stepped_up_at_ms: Option<i64>,
}

impl CurrentAdmin {
    /// Whether a step-up within [`STEP_UP_VALID_MS`] covers a sensitive action at `now_ms`.
    pub fn stepped_up(&self, now_ms: i64) -> bool {
        self.stepped_up_at_ms
            .is_some_and(|t| now_ms >= t && now_ms - t < STEP_UP_VALID_MS)
    }
}

/// A new admin registering their first passkey through a link (setup or invite).
#[derive(Serialize, Deserialize)]
struct Joining {
    /// Hash of the link's token, consumed when the admin is created.
    token_hash: String,
    admin_id: Uuid,
    username: String,
    display_name: String,
    reg: PasskeyRegistration,
}

#[derive(Serialize, Deserialize)]
enum CeremonyState {
    /// The first owner, through the setup link.
    Setup(Joining),
    /// An invited admin, through their invite.
    Invite(Joining),
    SignIn {
        admin_id: Uuid,
        auth: PasskeyAuthentication,
    },
    /// A sign-in for a name that cannot sign in (see `decoy`): fails like a wrong passkey.
    Decoy { username: String },
    StepUp {
        admin_id: Uuid,
        session_hash: String,
        auth: PasskeyAuthentication,
    },
    /// Registering another passkey for a signed-in admin, bound to their session.
    AddPasskey {
        admin_id: Uuid,
        session_hash: String,
        reg: PasskeyRegistration,
    },
}

mod decoy;
mod invites;
mod passkeys;

pub use invites::InviteOffer;
pub use passkeys::{aaguid_of, authenticator_name};

pub struct AuthService {
    store: Arc<dyn Store>,
    /// Where refusals are audited: anonymous callers' within a budget (see `refusals`).
    refusals: Arc<Refusals>,
    admins: Arc<dyn AdminStore>,
    webauthn: Webauthn,
    public_url: url::Url,
    pub sessions: SessionPolicy,
    throttle: Throttle,
    decoys: decoy::Decoys,
    /// A real assertion answer's fields but the challenge and credentials (for decoys).
    decoy_template: Value,
}

/// The key the decoy credential ids are derived under (from the master key).
pub use decoy::KEY_PURPOSE as DECOY_KEY_PURPOSE;

fn monotonic_ns() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0)
}

impl AuthService {
    /// `public_url` is the console's origin as browsers see it; the RP ID is its host.
    pub fn new(
        store: Arc<dyn Store>,
        admins: Arc<dyn AdminStore>,
        refusals: Arc<Refusals>,
        decoy_key: &secrecy::SecretBox<[u8; 32]>,
        public_url: &url::Url,
        sessions: SessionPolicy,
    ) -> Result<Self, Error> {
        let host = public_url
            .host_str()
            .ok_or_else(|| Error::invalid("public URL has no host"))?;
        if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
            return Err(Error::invalid(format!(
                "public URL host {host} is an IP address, which WebAuthn does not accept as an RP ID; use a name such as localhost"
            )));
        }
        let webauthn = WebauthnBuilder::new(host, public_url)
            .and_then(|b| b.rp_name("Palisade").build())
            .map_err(|e| Error::invalid(format!("WebAuthn configuration: {e}")))?;
        Ok(AuthService {
            store,
            refusals,
            admins,
            webauthn,
            public_url: public_url.clone(),
            sessions,
            throttle: Throttle::default(),
            decoys: decoy::Decoys::new(decoy_key),
            decoy_template: decoy::template(host),
        })
    }

    pub fn public_url(&self) -> &url::Url {
        &self.public_url
    }

    /// Issues a one-time setup link (printed at first start and by `palisade admin bootstrap`).
    pub async fn issue_setup_link(&self, actor: &Actor) -> Result<String, Error> {
        if self.store.count_admins().await? > 0 {
            return Err(Error::Conflict(
                "An owner exists already: a setup link only creates the first owner. New admins \
                 join through an invite from the Admins page."
                    .into(),
            ));
        }
        let (record, token) = SetupTokenRecord::issue(now_ms());
        let event = AuditDraft::new(actor, "setup_link.issue", "setup", Outcome::Success)
            .with_details(json!({ "expires_at_ms": record.expires_at_ms }));
        self.store.issue_setup_token(&record, event).await?;
        Ok(setup_url(&self.public_url, token.expose_secret()))
    }

    /// Issues a setup link only when no admin exists yet.
    pub async fn first_run_setup_link(&self) -> Result<Option<String>, Error> {
        if self.store.count_admins().await? > 0 {
            return Ok(None);
        }
        self.issue_setup_link(&Actor::system()).await.map(Some)
    }

    async fn refuse(&self, draft: AuditDraft, err: Error) -> Error {
        if let Err(e) = self.refusals.record(draft).await {
            // Fail closed: the caller gets a storage error, not a silent unaudited refusal.
            return Error::Store(e);
        }
        err
    }

    async fn check_setup_token(&self, token: &str) -> Result<String, SetupTokenError> {
        if !tokens::looks_like_token(token) {
            return Err(SetupTokenError::Unknown);
        }
        let hash = tokens::token_hash(token);
        match self.store.setup_token(&hash).await {
            Ok(Some(rec)) => rec.check(now_ms())?,
            _ => return Err(SetupTokenError::Unknown),
        }
        // A link still unused when the first owner appeared (through another link) is dead too.
        if self.store.count_admins().await.map_or(true, |n| n > 0) {
            return Err(SetupTokenError::OwnerExists);
        }
        Ok(hash)
    }

    /// Whether a setup link can still be used (for the setup page, before the form).
    pub async fn setup_link_status(&self, token: &str) -> Result<(), SetupTokenError> {
        self.check_setup_token(token).await.map(|_| ())
    }

    /// Step 1 of first-owner setup: validates the link and the names, starts a passkey
    /// registration (user verification required, discoverable credential preferred).
    pub async fn begin_setup(
        &self,
        token: &str,
        username: &str,
        display_name: &str,
        actor: &Actor,
    ) -> Result<Started, Error> {
        let link = self.check_setup_token(token).await.map_err(Error::from);
        self.begin_joining(
            link,
            username,
            display_name,
            actor,
            "admin.setup_owner",
            CeremonyState::Setup,
        )
        .await
    }

    async fn put_ceremony(&self, kind: &str, state: &CeremonyState) -> Result<String, Error> {
        let id = tokens::random_token();
        let ceremony = Ceremony {
            id_hash: tokens::secret_hash(&id),
            kind: kind.to_owned(),
            state_json: serde_json::to_string(state).map_err(|e| Error::Internal(e.to_string()))?,
            expires_at_ms: now_ms() + CEREMONY_TTL_MS,
        };
        self.store.put_ceremony(&ceremony).await?;
        Ok(id.expose_secret().to_owned())
    }

    /// Takes the ceremony once; `None` when unknown, already used or expired.
    async fn take_ceremony(&self, ceremony_id: &str) -> Result<Option<CeremonyState>, Error> {
        if !tokens::looks_like_token(ceremony_id) {
            return Ok(None);
        }
        let Some(c) = self
            .store
            .take_ceremony(&tokens::token_hash(ceremony_id))
            .await?
        else {
            return Ok(None);
        };
        if c.expires_at_ms <= now_ms() {
            return Ok(None);
        }
        Ok(serde_json::from_str(&c.state_json).ok())
    }

    /// Step 2 of setup: verifies the new passkey, then in one transaction consumes the link,
    /// creates the owner and its passkey, opens a session and writes the audit event.
    pub async fn finish_setup(
        &self,
        ceremony_id: &str,
        credential: &str,
        actor: &Actor,
    ) -> Result<SignedIn, Error> {
        let fail = |target: String, reason: String| {
            AuditDraft::new(actor, "admin.setup_owner", target, Outcome::Failure)
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
            stored,
        ) = self
            .finish_joining(
                ceremony_id,
                credential,
                actor,
                "admin.setup_owner",
                |c| match c {
                    CeremonyState::Setup(j) => Some(j),
                    _ => None,
                },
            )
            .await?;
        let target = format!("admin:{username}");
        let now = now_ms();
        let admin = Admin {
            id: admin_id,
            username: username.clone(),
            display_name,
            role: Role::Owner,
            disabled: false,
            created_at_ms: now,
        };
        let credential_id = stored.credential_id.clone();
        let token = tokens::random_token();
        let session = self.new_session(&token, admin_id, actor, now);
        let owner = NewOwner {
            setup_token_hash: token_hash,
            admin: admin.clone(),
            passkey: stored,
            session,
        };
        let event = AuditDraft::new(
            &Actor {
                name: username.clone(),
                ..actor.clone()
            },
            "admin.setup_owner",
            &target,
            Outcome::Success,
        )
        .with_details(json!({ "role": "owner", "credential_id": credential_id }));
        match self.store.create_owner(&owner, now, event).await {
            Ok(()) => Ok(SignedIn { token, admin }),
            Err(StoreError::Conflict(reason)) => {
                let msg = format!("Setup could not complete: {reason}.");
                Err(self
                    .refuse(fail(target, reason), Error::Conflict(msg))
                    .await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Step 1 of joining through a link (`link`: the hash of its token, or why it cannot be
    /// used): validates the names, refuses a taken username, starts a passkey registration
    /// kept as `wrap(joining)`. Refusals are audited under `action`.
    async fn begin_joining(
        &self,
        link: Result<String, Error>,
        username: &str,
        display_name: &str,
        actor: &Actor,
        action: &str,
        wrap: fn(Joining) -> CeremonyState,
    ) -> Result<Started, Error> {
        let fail = |reason: String| {
            AuditDraft::new(
                actor,
                action,
                format!("admin:{}", username.trim()),
                Outcome::Failure,
            )
            .with_details(json!({ "reason": reason }))
        };
        let token_hash = match link {
            Ok(h) => h,
            Err(e) => return Err(self.refuse(fail(e.to_string()), e).await),
        };
        let parsed = Username::parse(username)
            .and_then(|u| DisplayName::parse(display_name).map(|d| (u, d)));
        let (username, display_name) = match parsed {
            Ok(p) => p,
            Err(e) => return Err(self.refuse(fail(e.to_string()), e).await),
        };
        if self
            .store
            .admin_by_username(username.as_str())
            .await?
            .is_some()
        {
            let e = Error::Conflict(format!("The username {} is taken.", username.as_str()));
            return Err(self.refuse(fail(e.to_string()), e).await);
        }
        let admin_id = Uuid::new_v4();
        let (options, reg) =
            self.registration(admin_id, username.as_str(), display_name.as_str(), None)?;
        let state = wrap(Joining {
            token_hash,
            admin_id,
            username: username.as_str().to_owned(),
            display_name: display_name.as_str().to_owned(),
            reg,
        });
        let ceremony_id = self.put_ceremony("join", &state).await?;
        Ok(Started {
            ceremony_id,
            options,
        })
    }

    /// Takes the joining ceremony `ceremony_id` (of the kind `pick` accepts) and verifies the
    /// new passkey; the joining state and the passkey to store, or the refusal, audited under
    /// `action`.
    async fn finish_joining(
        &self,
        ceremony_id: &str,
        credential: &str,
        actor: &Actor,
        action: &str,
        pick: fn(CeremonyState) -> Option<Joining>,
    ) -> Result<(Joining, StoredPasskey), Error> {
        let fail = |target: String, reason: String| {
            AuditDraft::new(actor, action, target, Outcome::Failure)
                .with_details(json!({ "reason": reason }))
        };
        let Some(joining) = self.take_ceremony(ceremony_id).await?.and_then(pick) else {
            let reason = "ceremony unknown, expired or already used";
            return Err(self
                .refuse(
                    fail("ceremony".into(), reason.into()),
                    Error::AuthFailed { reason },
                )
                .await);
        };
        match self.finish_registration(joining.admin_id, credential, &joining.reg, "")? {
            Ok(passkey) => Ok((joining, passkey)),
            Err(reason) => Err(self
                .refuse(
                    fail(format!("admin:{}", joining.username), reason),
                    Error::AuthFailed {
                        reason: "registration refused",
                    },
                )
                .await),
        }
    }

    fn new_session(
        &self,
        token: &SecretString,
        admin_id: Uuid,
        actor: &Actor,
        now: i64,
    ) -> SessionRecord {
        SessionRecord {
            stepped_up_at_ms: None,
            id_hash: tokens::secret_hash(token),
            admin_id,
            created_at_ms: now,
            last_seen_at_ms: now,
            ip: actor.ip.clone(),
            user_agent: actor.user_agent.clone(),
        }
    }

    /// Step 1 of sign-in: throttles, finds the admin's passkeys, starts an assertion.
    pub async fn begin_sign_in(&self, username: &str, actor: &Actor) -> Result<Started, Error> {
        let claimed: String = username
            .trim()
            .to_ascii_lowercase()
            .chars()
            .take(64)
            .collect();
        let target = format!("admin:{claimed}");
        let fail = |reason: &'static str| {
            AuditDraft::new(actor, "admin.sign_in", &target, Outcome::Failure)
                .with_details(json!({ "reason": reason }))
        };
        // Starts count per client network only: a username's own starts are never limited, so
        // nobody can keep an admin out by starting sign-ins under their name.
        if let Err(retry_after_s) = self
            .throttle
            .start(actor.ip.as_deref().unwrap_or("unknown"), monotonic_ns())
        {
            let draft = AuditDraft::new(actor, "admin.sign_in", &target, Outcome::Denied)
                .with_details(json!({ "reason": "throttled", "retry_after_s": retry_after_s }));
            return Err(self.refuse(draft, Error::Throttled { retry_after_s }).await);
        }
        let admin = match Username::parse(&claimed) {
            Ok(u) => self.store.admin_by_username(u.as_str()).await?,
            Err(_) => None,
        };
        // A name that cannot sign in gets a decoy shaped like a real answer (the reason is in
        // the audit log only): the answer must not tell who is an admin.
        let real = match admin {
            None => Err("unknown username"),
            Some(a) if a.disabled => Err("admin is disabled"),
            Some(a) => match self.authentication(a.id).await? {
                Some(started) => Ok((a, started)),
                None => Err("admin has no passkey"),
            },
        };
        let (admin, (options, auth)) = match real {
            Ok(r) => r,
            Err(reason) => {
                self.refusals
                    .record(fail(reason))
                    .await
                    .map_err(Error::Store)?;
                let options = self.decoys.options(&claimed, &self.decoy_template)?;
                let ceremony_id = self
                    .put_ceremony("sign_in", &CeremonyState::Decoy { username: claimed })
                    .await?;
                return Ok(Started {
                    ceremony_id,
                    options,
                });
            }
        };
        let ceremony_id = self
            .put_ceremony(
                "sign_in",
                &CeremonyState::SignIn {
                    admin_id: admin.id,
                    auth,
                },
            )
            .await?;
        Ok(Started {
            ceremony_id,
            options,
        })
    }

    /// Step 2 of sign-in: verifies the assertion against the taken ceremony, then opens a new
    /// session (a new id: any session the browser held is ended) and writes the audit event.
    pub async fn finish_sign_in(
        &self,
        ceremony_id: &str,
        credential: &str,
        previous_session_hash: Option<String>,
        actor: &Actor,
    ) -> Result<SignedIn, Error> {
        let fail = |target: String, reason: String| {
            AuditDraft::new(actor, "admin.sign_in", target, Outcome::Failure)
                .with_details(json!({ "reason": reason }))
        };
        let (admin_id, auth) = match self.take_ceremony(ceremony_id).await? {
            Some(CeremonyState::SignIn { admin_id, auth }) => (admin_id, auth),
            Some(CeremonyState::Decoy { username }) => {
                // Refused as a wrong passkey for a real admin is, failed-finish limit included.
                let reason = "no admin can sign in under this name (decoy ceremony)";
                return Err(self.failed_finish(actor, &username, reason.into()).await);
            }
            _ => {
                let reason = "sign-in ceremony unknown, expired or already used";
                return Err(self
                    .refuse(
                        fail("admin:unknown".into(), reason.into()),
                        Error::AuthFailed { reason },
                    )
                    .await);
            }
        };
        let admin = match self.store.admin_by_id(admin_id).await? {
            Some(a) if !a.disabled => a,
            _ => {
                let reason = "admin no longer exists or is disabled";
                return Err(self
                    .refuse(
                        fail(format!("admin:{admin_id}"), reason.into()),
                        Error::AuthFailed { reason },
                    )
                    .await);
            }
        };
        let target = format!("admin:{}", admin.username);
        let (passkey, user_verified) = match self
            .verify_assertion(&admin, &auth, credential)
            .await?
        {
            Ok(v) => v,
            Err(reason) => return Err(self.failed_finish(actor, &admin.username, reason).await),
        };
        let now = now_ms();
        let token = tokens::random_token();
        let sign_in = NewSignIn {
            session: self.new_session(&token, admin.id, actor, now),
            replaces_session_hash: previous_session_hash,
            passkey: Some(passkey.clone()),
        };
        let event = AuditDraft::new(
            &Actor {
                name: admin.username.clone(),
                ..actor.clone()
            },
            "admin.sign_in",
            &target,
            Outcome::Success,
        )
        .with_details(
            json!({ "credential_id": passkey.credential_id, "user_verified": user_verified }),
        );
        match self.store.sign_in(&sign_in, event).await {
            Ok(()) => Ok(SignedIn { token, admin }),
            Err(StoreError::Conflict(m)) if m == PASSKEY_COUNTER_CONFLICT => Err(self
                .refuse(
                    fail(target, RACED_COUNTER.into()),
                    Error::AuthFailed {
                        reason: "assertion refused",
                    },
                )
                .await),
            Err(e) => Err(e.into()),
        }
    }

    /// The refusal of a failed sign-in finish for `username` (a wrong passkey for an admin, or
    /// any answer to a decoy), audited with the real `reason`. Failed finishes count per
    /// username; past the limit the refusal is a 429 (a valid assertion still signs in: it
    /// cannot be guessed). What the caller sees never tells an admin from a decoy.
    async fn failed_finish(&self, actor: &Actor, username: &str, reason: String) -> Error {
        let target = format!("admin:{username}");
        if let Err(retry_after_s) = self.throttle.failed_finish(username, monotonic_ns()) {
            let draft = AuditDraft::new(actor, "admin.sign_in", &target, Outcome::Denied)
                .with_details(json!({
                    "reason": "too many failed sign-ins for this admin",
                    "retry_after_s": retry_after_s,
                }));
            return self.refuse(draft, Error::Throttled { retry_after_s }).await;
        }
        let public = if reason.starts_with("credential") {
            "credential is not registered to this admin"
        } else {
            "assertion refused"
        };
        let draft = AuditDraft::new(actor, "admin.sign_in", &target, Outcome::Failure)
            .with_details(json!({ "reason": reason }));
        self.refuse(draft, Error::AuthFailed { reason: public })
            .await
    }

    /// Checks an assertion against a ceremony's state and the admin's stored passkeys; the
    /// passkey with its updated counter, or the (audited, not shown) reason it was refused.
    async fn verify_assertion(
        &self,
        admin: &Admin,
        auth: &PasskeyAuthentication,
        credential: &str,
    ) -> Result<Result<(StoredPasskey, bool), String>, Error> {
        let result = match serde_json::from_str::<PublicKeyCredential>(credential)
            .map_err(|e| format!("malformed assertion: {e}"))
            .and_then(|c| {
                self.webauthn
                    .finish_passkey_authentication(&c, auth)
                    .map_err(|e| format!("assertion refused: {e}"))
            }) {
            Ok(r) => r,
            Err(reason) => return Ok(Err(reason)),
        };
        let now = now_ms();
        let mut updated = None;
        for stored in self.store.passkeys_of(admin.id).await? {
            let Ok(mut pk) = serde_json::from_str::<Passkey>(&stored.passkey_json) else {
                continue;
            };
            if pk.cred_id() == result.cred_id() {
                let counter = i64::from(result.counter());
                if !counter_moves_forward(stored.sign_count, counter) {
                    return Ok(Err(format!(
                        "possible cloned authenticator: signature counter {counter} is not above the stored {}",
                        stored.sign_count
                    )));
                }
                pk.update_credential(&result);
                let json =
                    serde_json::to_string(&pk).map_err(|e| Error::Internal(e.to_string()))?;
                updated = Some(StoredPasskey {
                    passkey_json: json,
                    last_used_at_ms: Some(now),
                    sign_count: i64::from(result.counter()),
                    ..stored
                });
            }
        }
        Ok(match updated {
            Some(passkey) => Ok((passkey, result.user_verified())),
            None => Err("credential is not registered to this admin".to_owned()),
        })
    }

    /// An assertion challenge for `admin_id`'s stored passkeys: the options for the browser and
    /// the state to keep; `None` when the admin has no passkey.
    async fn authentication(
        &self,
        admin_id: Uuid,
    ) -> Result<Option<(Value, PasskeyAuthentication)>, Error> {
        let passkeys: Vec<Passkey> = self
            .store
            .passkeys_of(admin_id)
            .await?
            .iter()
            .filter_map(|p| serde_json::from_str(&p.passkey_json).ok())
            .collect();
        if passkeys.is_empty() {
            return Ok(None);
        }
        let (rcr, auth) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| Error::Internal(format!("start authentication: {e}")))?;
        let options = serde_json::to_value(&rcr).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Some((options, auth)))
    }

    /// Step 1 of a step-up: an assertion challenge for the signed-in admin's own passkeys,
    /// bound to this session.
    pub async fn begin_step_up(&self, current: &CurrentAdmin) -> Result<Started, Error> {
        let Some((options, auth)) = self.authentication(current.admin.id).await? else {
            return Err(Error::invalid("you have no passkey to confirm with"));
        };
        let ceremony_id = self
            .put_ceremony(
                "step_up",
                &CeremonyState::StepUp {
                    admin_id: current.admin.id,
                    session_hash: current.session_hash.clone(),
                    auth,
                },
            )
            .await?;
        Ok(Started {
            ceremony_id,
            options,
        })
    }

    /// Step 2 of a step-up: the assertion must come from this admin's passkey, for a ceremony
    /// started in this same session; then sensitive actions are allowed for five minutes. The
    /// session gets a new id (returned, for the cookie): the one before stops working.
    pub async fn finish_step_up(
        &self,
        current: &CurrentAdmin,
        ceremony_id: &str,
        credential: &str,
        actor: &Actor,
    ) -> Result<SecretString, Error> {
        let target = format!("admin:{}", current.admin.username);
        let fail = |reason: String| {
            AuditDraft::new(actor, "admin.step_up", &target, Outcome::Failure)
                .with_details(json!({ "reason": reason }))
        };
        let state = self.take_ceremony(ceremony_id).await?;
        let auth = match state {
            Some(CeremonyState::StepUp {
                admin_id,
                session_hash,
                auth,
            }) if admin_id == current.admin.id && session_hash == current.session_hash => auth,
            _ => {
                let reason = "step-up ceremony unknown, expired, used or of another session";
                return Err(self
                    .refuse(fail(reason.into()), Error::AuthFailed { reason })
                    .await);
            }
        };
        let (passkey, user_verified) = match self
            .verify_assertion(&current.admin, &auth, credential)
            .await?
        {
            Ok(v) => v,
            Err(reason) => {
                return Err(self
                    .refuse(
                        fail(reason),
                        Error::AuthFailed {
                            reason: "assertion refused",
                        },
                    )
                    .await)
            }
        };
        let event = AuditDraft::new(actor, "admin.step_up", &target, Outcome::Success)
            .with_details(
                json!({ "credential_id": passkey.credential_id, "user_verified": user_verified }),
            );
        let token = tokens::random_token();
        match self
            .store
            .step_up(
                &current.session_hash,
                &tokens::secret_hash(&token),
                &passkey,
                now_ms(),
                event,
            )
            .await
        {
            Ok(()) => Ok(token),
            Err(StoreError::Conflict(m)) if m == PASSKEY_COUNTER_CONFLICT => Err(self
                .refuse(
                    fail(RACED_COUNTER.into()),
                    Error::AuthFailed {
                        reason: "assertion refused",
                    },
                )
                .await),
            Err(e) => Err(e.into()),
        }
    }

    /// The admin behind a session cookie, if the session is live; refreshes `last_seen`.
    pub async fn session(&self, token: &str) -> Result<Option<CurrentAdmin>, Error> {
        if !tokens::looks_like_token(token) {
            return Ok(None);
        }
        let hash = tokens::token_hash(token);
        let Some(rec) = self.store.session(&hash).await? else {
            return Ok(None);
        };
        let now = now_ms();
        if self.sessions.check(&rec, now).is_err() {
            return Ok(None);
        }
        let Some(admin) = self.store.admin_by_id(rec.admin_id).await? else {
            return Ok(None);
        };
        if admin.disabled {
            return Ok(None);
        }
        // Best effort: a page load must not fail because the writer is busy; a touch that
        // could not be written is retried on the next request.
        if SessionPolicy::needs_touch(&rec, now) {
            if let Err(e) = self.store.touch_session(&hash, now).await {
                tracing::warn!(error = %e, "could not record session activity");
            }
        }
        Ok(Some(CurrentAdmin {
            admin,
            session_hash: hash,
            stepped_up_at_ms: rec.stepped_up_at_ms,
        }))
    }

    /// Ends the session (audited).
    pub async fn sign_out(&self, current: &CurrentAdmin, actor: &Actor) -> Result<(), Error> {
        let event = AuditDraft::new(
            actor,
            "admin.sign_out",
            format!("admin:{}", current.admin.username),
            Outcome::Success,
        );
        self.store.sign_out(&current.session_hash, event).await?;
        Ok(())
    }
}

/// The audited reason when the store finds the counter already moved meanwhile.
const RACED_COUNTER: &str = "possible cloned authenticator: another assertion with this passkey \
     moved its signature counter meanwhile";

/// WebAuthn L3 §6.1.1: a signature counter must grow; authenticators that never count send 0
/// every time, which stays allowed as long as the stored value is 0 too.
fn counter_moves_forward(stored: i64, presented: i64) -> bool {
    presented > stored || (presented == 0 && stored == 0)
}

fn stored_passkey(admin_id: Uuid, passkey: &Passkey, now: i64) -> Result<StoredPasskey, Error> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let cred_id: &[u8] = passkey.cred_id().as_ref();
    Ok(StoredPasskey {
        id: Uuid::new_v4(),
        admin_id,
        credential_id: URL_SAFE_NO_PAD.encode(cred_id),
        passkey_json: serde_json::to_string(passkey).map_err(|e| Error::Internal(e.to_string()))?,
        created_at_ms: now,
        last_used_at_ms: None,
        name: String::new(),
        aaguid: None,
        sign_count: 0,
    })
}
