//! The rate-limit policies service: create, edit, reorder, enable/disable, switch between shadow
//! and enforce, delete. The policy itself is `policy::Policy`, the wire model the gate runs; this
//! service validates it with the same `policy::validate` the browser runs, stores it, and writes
//! every change with its audit event (before/after) in one transaction.
//!
//! Invariant: a policy is created in shadow mode; only `set_mode` switches it to enforce, an
//! explicit audited action.

use std::sync::Arc;

use policy::model::{Mode, Policy};
use policy::validate::{has_errors, normalize, validate, validate_set, Issue, SetIssue};
use serde_json::{json, Value};

use crate::audit::Actor;
use crate::audited::{action, Audit, Target, Version};
use crate::ports::policies::{PolicyChange, PolicyRecord, PolicyStore};
use crate::ports::StoreError;
use crate::{now_ms, Error};

#[derive(Clone, Debug)]
pub struct PolicyState {
    pub record: PolicyRecord,
    pub policy: Policy,
    pub issues: Vec<Issue>,
}

#[derive(Clone, Debug)]
pub struct PoliciesOverview {
    pub policies: Vec<PolicyState>,
    pub set_issues: Vec<SetIssue>,
}

fn mode_str(m: Mode) -> &'static str {
    match m {
        Mode::Shadow => "shadow",
        Mode::Enforce => "enforce",
    }
}

/// The stored policy with the columns (position, enabled, mode, name, id) as the authority.
pub(crate) fn to_policy(r: &PolicyRecord) -> Result<Policy, Error> {
    let mut p: Policy = serde_json::from_str(&r.spec_json)
        .map_err(|e| Error::Internal(format!("policy {}: {e}", r.id)))?;
    p.id = r.id.clone();
    p.name = r.name.clone();
    p.order = u32::try_from(r.position).unwrap_or(u32::MAX);
    p.enabled = r.enabled;
    p.mode = if r.mode == "enforce" {
        Mode::Enforce
    } else {
        Mode::Shadow
    };
    Ok(p)
}

fn record_of(p: &Policy, version: Version, created_at_ms: i64) -> Result<PolicyRecord, Error> {
    Ok(PolicyRecord {
        id: p.id.clone(),
        name: p.name.trim().to_owned(),
        position: i64::from(p.order),
        enabled: p.enabled,
        mode: mode_str(p.mode).to_owned(),
        spec_json: serde_json::to_string(p).map_err(|e| Error::Internal(e.to_string()))?,
        version: version.get(),
        created_at_ms,
        updated_at_ms: now_ms(),
    })
}

fn as_json(p: &Policy) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}

fn conflict(e: StoreError, name: &str) -> Error {
    match e {
        StoreError::Duplicate { .. } => {
            Error::Conflict(format!("a policy named {name:?} exists already"))
        }
        StoreError::InUse { .. } => Error::Conflict(format!(
            "the policy {name:?} is bound to clients: unbind it on the Clients page first"
        )),
        StoreError::Conflict(m) => Error::Conflict(m),
        other => Error::Store(other),
    }
}

pub struct PoliciesService {
    store: Arc<dyn PolicyStore>,
    audit: Audit,
}

impl PoliciesService {
    pub fn new(store: Arc<dyn PolicyStore>, audit: Audit) -> Self {
        PoliciesService { store, audit }
    }

    pub async fn list(&self) -> Result<PoliciesOverview, Error> {
        let mut states = Vec::new();
        for r in self.store.policies().await? {
            let policy = to_policy(&r)?;
            let issues = validate(&policy);
            states.push(PolicyState {
                record: r,
                policy,
                issues,
            });
        }
        let all: Vec<Policy> = states.iter().map(|s| s.policy.clone()).collect();
        Ok(PoliciesOverview {
            set_issues: validate_set(&all),
            policies: states,
        })
    }

    async fn find(&self, id: &str, version: &str) -> Result<(PolicyRecord, Policy), Error> {
        let expected = Version::parse(version, "policy")?;
        let r = self.store.policy(id).await?.ok_or_else(|| {
            Error::NotFound("this policy no longer exists; reload the page".into())
        })?;
        expected.expect(r.version, &format!("the policy {:?}", r.name))?;
        let p = to_policy(&r)?;
        Ok((r, p))
    }

    async fn commit(
        &self,
        actor: &Actor,
        action: &str,
        target: &Target,
        changes: Vec<PolicyChange>,
        name: &str,
        details: Value,
    ) -> Result<(), Error> {
        let event = Audit::success(actor, action, target, details);
        self.store
            .apply_policy_changes(&changes, event)
            .await
            .map_err(|e| conflict(e, name))
    }

    /// Creates (`version` empty) or updates the policy in `spec_json` after validating it. A new
    /// policy starts in shadow mode at the end of the order; an update keeps its mode and place.
    pub async fn save(
        &self,
        actor: &Actor,
        spec_json: &str,
        version: &str,
    ) -> Result<PolicyState, Error> {
        let parsed: Result<Policy, Error> = serde_json::from_str(spec_json)
            .map_err(|e| Error::invalid(format!("the policy is malformed: {e}")));
        let creating = version.trim().is_empty();
        let action = if creating {
            action::POLICIES_CREATE
        } else {
            action::POLICIES_UPDATE
        };
        // One target for the attempt and its outcome: a new policy's id is chosen up front.
        let id = match (&parsed, creating) {
            (_, true) => uuid::Uuid::new_v4().to_string(),
            (Ok(p), false) => p.id.clone(),
            (Err(_), false) => String::new(),
        };
        let target = Target::policy(&id);
        self.audit
            .run(actor, action, &target, async {
                let mut p = parsed?;
                if creating {
                    let existing = self.store.policies().await?;
                    p.id = id.clone();
                    p.mode = Mode::Shadow;
                    p.order = existing
                        .iter()
                        .map(|r| u32::try_from(r.position).unwrap_or(0))
                        .max()
                        .map_or(1, |m| m + 1);
                }
                p.name = p.name.trim().to_owned();
                // The rewrites the warnings announce (e.g. a CIDR with host bits set) are applied.
                normalize(&mut p);
                let issues = validate(&p);
                if has_errors(&issues) {
                    let msgs: Vec<String> = issues
                        .iter()
                        .filter(|i| i.is_error())
                        .map(|i| i.to_string())
                        .collect();
                    return Err(Error::invalid(format!(
                        "The policy is not valid: {}",
                        msgs.join("; ")
                    )));
                }
                if creating {
                    let rec = record_of(&p, Version::FIRST, now_ms())?;
                    self.commit(
                        actor,
                        action,
                        &target,
                        vec![PolicyChange::Insert(rec.clone())],
                        &p.name,
                        json!({ "after": as_json(&p) }),
                    )
                    .await?;
                    Ok(PolicyState {
                        record: rec,
                        policy: p,
                        issues,
                    })
                } else {
                    let (old_rec, old) = self.find(&p.id, version).await?;
                    p.mode = old.mode;
                    p.order = old.order;
                    let rec = record_of(
                        &p,
                        Version::new(old_rec.version).next(),
                        old_rec.created_at_ms,
                    )?;
                    let change = PolicyChange::Update {
                        record: rec.clone(),
                        replaces: old_rec.version,
                    };
                    self.commit(
                        actor,
                        action,
                        &target,
                        vec![change],
                        &p.name,
                        json!({ "before": as_json(&old), "after": as_json(&p) }),
                    )
                    .await?;
                    Ok(PolicyState {
                        record: rec,
                        policy: p,
                        issues,
                    })
                }
            })
            .await
    }

    async fn change_one(
        &self,
        actor: &Actor,
        action: &str,
        id: &str,
        version: &str,
        edit: impl FnOnce(&mut Policy) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let target = Target::policy(id);
        self.audit
            .run(actor, action, &target, async {
                let (old_rec, old) = self.find(id, version).await?;
                let mut p = old.clone();
                edit(&mut p)?;
                let rec = record_of(
                    &p,
                    Version::new(old_rec.version).next(),
                    old_rec.created_at_ms,
                )?;
                let change = PolicyChange::Update {
                    record: rec,
                    replaces: old_rec.version,
                };
                self.commit(
                    actor,
                    action,
                    &target,
                    vec![change],
                    &p.name,
                    json!({ "before": as_json(&old), "after": as_json(&p) }),
                )
                .await
            })
            .await
    }

    pub async fn set_enabled(
        &self,
        actor: &Actor,
        id: &str,
        enabled: bool,
        version: &str,
    ) -> Result<(), Error> {
        let action = action::switch(enabled, action::POLICIES_ENABLE, action::POLICIES_DISABLE);
        self.change_one(actor, action, id, version, |p| {
            p.enabled = enabled;
            Ok(())
        })
        .await
    }

    /// Switches between shadow (count and log only) and enforce: the explicit step that makes a
    /// policy refuse or delay requests.
    pub async fn set_mode(
        &self,
        actor: &Actor,
        id: &str,
        mode: &str,
        version: &str,
    ) -> Result<(), Error> {
        let (target, action) = match mode {
            "enforce" => (Mode::Enforce, action::POLICIES_ENFORCE),
            "shadow" => (Mode::Shadow, action::POLICIES_SHADOW),
            _ => return Err(Error::invalid("mode must be shadow or enforce")),
        };
        self.change_one(actor, action, id, version, |p| {
            p.mode = target;
            Ok(())
        })
        .await
    }

    /// Moves a policy one place up or down (it swaps places with its neighbour).
    pub async fn move_by(
        &self,
        actor: &Actor,
        id: &str,
        direction: &str,
        version: &str,
    ) -> Result<(), Error> {
        let action = action::POLICIES_REORDER;
        let target = Target::policy(id);
        self.audit.run(actor, action, &target, async {
            let (rec, p) = self.find(id, version).await?;
            let all = self.store.policies().await?;
            let i = all.iter().position(|r| r.id == rec.id).ok_or_else(|| Error::invalid("unknown policy"))?;
            let j = match direction {
                "up" if i > 0 => i - 1,
                "down" if i + 1 < all.len() => i + 1,
                "up" | "down" => return Err(Error::invalid("the policy is already at that end of the order")),
                _ => return Err(Error::invalid("direction must be up or down")),
            };
            let other = &all[j];
            let (mut a, mut b) = (p.clone(), to_policy(other)?);
            // Positions may have gaps or ties; give each the other's index-based place.
            a.order = u32::try_from(j + 1).unwrap_or(u32::MAX);
            b.order = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let mut changes = Vec::new();
            for (k, r) in all.iter().enumerate() {
                let mut q = if r.id == a.id { a.clone() } else if r.id == b.id { b.clone() } else { to_policy(r)? };
                if r.id != a.id && r.id != b.id {
                    let want = u32::try_from(k + 1).unwrap_or(u32::MAX);
                    if q.order == want {
                        continue;
                    }
                    q.order = want;
                }
                changes.push(PolicyChange::Update { record: record_of(&q, Version::new(r.version).next(), r.created_at_ms)?, replaces: r.version });
            }
            let details = json!({ "policy": p.name, "direction": direction, "before": i + 1, "after": j + 1 });
            self.commit(actor, action, &target, changes, &p.name, details).await
        })
        .await
    }

    pub async fn delete(&self, actor: &Actor, id: &str, version: &str) -> Result<(), Error> {
        let action = action::POLICIES_DELETE;
        let target = Target::policy(id);
        self.audit
            .run(actor, action, &target, async {
                let (rec, p) = self.find(id, version).await?;
                let change = PolicyChange::Delete {
                    id: rec.id.clone(),
                    replaces: rec.version,
                };
                self.commit(
                    actor,
                    action,
                    &target,
                    vec![change],
                    &p.name,
                    json!({ "before": as_json(&p) }),
                )
                .await
            })
            .await
    }
}
