//! API tokens: an admin creates one with scopes and a lifetime (the token is shown once and
//! stored as its SHA-256), lists and revokes them; every REST API call presents one
//! ([`ApiTokensService::authenticate`]): unknown, revoked and expired tokens are refused (the
//! refusal audited within the anonymous budget), each token is rate-limited, and its last use is
//! noted. The token is never logged, audited or stored.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

pub use policy::api_tokens::{
    parse_scopes, scopes_text, Scope, DEFAULT_LIFETIME_DAYS, LIFETIME_DAYS,
};

use crate::audit::{Actor, AuditDraft, Outcome};
use crate::audited::{action, Audit, Target};
use crate::ports::api_tokens::{ApiTokenChange, ApiTokenRecord, ApiTokenStore};
use crate::ports::StoreError;
use crate::refusals::Refusals;
use crate::tokens;
use crate::Error;

/// Every token starts with this, so that secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "pat_";
/// Calls per token: 20 a second, bursts of 40.
pub const CALLS_PER_TOKEN: policy::gcra::Quota = policy::gcra::Quota::per_second(20, 40);
const NAME_MAX: usize = 100;
const DAY_MS: i64 = 86_400_000;

/// A token's state at a moment, for the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    Active,
    Revoked,
    Expired,
}

impl TokenState {
    pub fn of(t: &ApiTokenRecord, now_ms: i64) -> TokenState {
        if t.revoked_at_ms.is_some() {
            TokenState::Revoked
        } else if t.expires_at_ms <= now_ms {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Active => "active",
            TokenState::Revoked => "revoked",
            TokenState::Expired => "expired",
        }
    }
}

/// The caller behind a valid token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// The audit actor of this token's calls: `token:<id>` (names can repeat; ids cannot).
    pub fn actor(&self, ip: Option<String>, user_agent: Option<String>) -> Actor {
        Actor {
            name: actor_name(self.id),
            ip,
            user_agent,
        }
    }

    /// `Forbidden` unless the token holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), Error> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
}

/// The audit actor name of token `id`.
pub fn actor_name(id: Uuid) -> String {
    format!("token:{id}")
}

pub struct ApiTokensService {
    store: Arc<dyn ApiTokenStore>,
    audit: Audit,
    refusals: Arc<Refusals>,
    limits: Mutex<policy::gcra::Limiter>,
    started: Instant,
}

impl ApiTokensService {
    pub fn new(store: Arc<dyn ApiTokenStore>, audit: Audit, refusals: Arc<Refusals>) -> Self {
        ApiTokensService {
            store,
            audit,
            refusals,
            limits: Mutex::new(policy::gcra::Limiter::new(CALLS_PER_TOKEN, 10_000)),
            started: Instant::now(),
        }
    }

    /// Every token, newest first.
    pub async fn list(&self) -> Result<Vec<ApiTokenRecord>, Error> {
        Ok(self.store.api_tokens().await?)
    }

    /// Creates a token named `name` with `scopes` (space-separated) for `days`; the token is
    /// returned here only.
    pub async fn create(
        &self,
        actor: &Actor,
        name: &str,
        scopes: &str,
        days: u32,
    ) -> Result<(ApiTokenRecord, SecretString), Error> {
        self.audit
            .run(
                actor,
                action::API_TOKENS_CREATE,
                &Target::api_token("new"),
                async {
                    let name = name.trim();
                    if name.is_empty()
                        || name.chars().count() > NAME_MAX
                        || name.chars().any(char::is_control)
                    {
                        return Err(Error::invalid(
                            "The name must be 1 to 100 characters, without control characters.",
                        ));
                    }
                    let scopes = parse_scopes(scopes)
                        .map_err(|e| Error::invalid(format!("Scopes: {e}.")))?;
                    if !LIFETIME_DAYS.contains(&days) {
                        return Err(Error::invalid(format!(
                            "The lifetime must be one of {} days.",
                            LIFETIME_DAYS.map(|d| d.to_string()).join(", ")
                        )));
                    }
                    let secret = tokens::random_token();
                    let token =
                        SecretString::from(format!("{TOKEN_PREFIX}{}", secret.expose_secret()));
                    let now = crate::now_ms();
                    let record = ApiTokenRecord {
                        id: Uuid::new_v4(),
                        name: name.to_owned(),
                        token_hash: tokens::secret_hash(&token),
                        scopes,
                        created_by: actor.name.clone(),
                        created_at_ms: now,
                        expires_at_ms: now + i64::from(days) * DAY_MS,
                        revoked_at_ms: None,
                        last_used_at_ms: None,
                        last_used_ip: None,
                    };
                    let event = Audit::success(
                        actor,
                        action::API_TOKENS_CREATE,
                        &Target::api_token(&record.id.to_string()),
                        json!({
                            "name": record.name,
                            "scopes": scopes_text(&record.scopes),
                            "expires_at_ms": record.expires_at_ms,
                        }),
                    );
                    self.store
                        .apply_api_token_change(&ApiTokenChange::Create(record.clone()), event)
                        .await?;
                    Ok((record, token))
                },
            )
            .await
    }

    /// Revokes an active token: its next call is refused.
    pub async fn revoke(&self, actor: &Actor, id: &str) -> Result<(), Error> {
        let target = Target::api_token(id.trim());
        self.audit
            .run(actor, action::API_TOKENS_REVOKE, &target, async {
                let id = Uuid::parse_str(id.trim())
                    .map_err(|_| Error::NotFound("no such token; reload the page".into()))?;
                let token = self
                    .store
                    .api_tokens()
                    .await?
                    .into_iter()
                    .find(|t| t.id == id)
                    .ok_or_else(|| Error::NotFound("no such token; reload the page".into()))?;
                let event = Audit::success(
                    actor,
                    action::API_TOKENS_REVOKE,
                    &target,
                    json!({ "name": token.name, "scopes": scopes_text(&token.scopes) }),
                );
                self.store
                    .apply_api_token_change(
                        &ApiTokenChange::Revoke {
                            id,
                            now_ms: crate::now_ms(),
                        },
                        event,
                    )
                    .await
                    .map_err(|e| match e {
                        StoreError::Conflict(m) => Error::Conflict(m),
                        other => Error::Store(other),
                    })
            })
            .await
    }

    /// The caller behind `token`, presented by a client at `actor` (anonymous, with its
    /// address). Refusals (`Unauthenticated`, `Throttled`) are audited; an unknown token's
    /// within the anonymous budget.
    pub async fn authenticate(&self, actor: &Actor, token: &str) -> Result<Caller, Error> {
        let shaped = token
            .strip_prefix(TOKEN_PREFIX)
            .is_some_and(tokens::looks_like_token);
        let found = if shaped {
            self.store
                .api_token_by_hash(&tokens::token_hash(token))
                .await?
        } else {
            None
        };
        let now = crate::now_ms();
        let reason = match &found {
            None => "unknown token",
            Some(t) => match TokenState::of(t, now) {
                TokenState::Revoked => "revoked token",
                TokenState::Expired => "expired token",
                TokenState::Active => "",
            },
        };
        let Some(t) = found.filter(|_| reason.is_empty()) else {
            let draft = AuditDraft::new(
                actor,
                action::API_CALL,
                Target::api_token("?").as_str(),
                Outcome::Denied,
            )
            .with_details(json!({ "reason": reason }));
            self.refusals.record(draft).await?;
            return Err(Error::Unauthenticated);
        };
        let caller = Caller {
            id: t.id,
            name: t.name.clone(),
            scopes: t.scopes.clone(),
        };
        let now_ns = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let decision = self
            .limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .decide(t.id.as_bytes(), now_ns);
        if let policy::gcra::Decision::Deny { retry_after_ns } = decision {
            let retry_after_s = retry_after_ns.div_ceil(1_000_000_000).max(1);
            let draft = AuditDraft::new(
                &caller.actor(actor.ip.clone(), actor.user_agent.clone()),
                action::API_CALL,
                Target::api_token(&t.id.to_string()).as_str(),
                Outcome::Denied,
            )
            .with_details(json!({ "reason": "throttled", "retry_after_s": retry_after_s }));
            self.refusals.record(draft).await?;
            return Err(Error::Throttled { retry_after_s });
        }
        if let Err(e) = self
            .store
            .touch_api_token(t.id, now, actor.ip.as_deref())
            .await
        {
            tracing::warn!(error = %e, token = %t.id, "could not note the token's last use");
        }
        Ok(caller)
    }
}
