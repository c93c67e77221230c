//! What gates report (applied version, refusals, their encryption key, the use of secrets and
//! the tokens they issued) and which gates serve a signing key.

use super::*;
use crate::ports::clients::UsageReport;

/// The most secrets, and the most clients, one report may name.
pub const MAX_USAGE_ENTRIES: usize = 10_000;
/// The most tokens one report may count for one client (far above what a gate issues between
/// two reports): a larger number is a broken or hostile gate, refused.
pub const MAX_TOKENS_PER_REPORT: u64 = 1_000_000_000;
/// The longest secret id or client_id a report may name.
const MAX_ID_CHARS: usize = 200;

/// What a gate's status report says it used since its previous report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GateUsage {
    /// `(secret id, last used, ms since the epoch)`.
    pub secrets: Vec<(String, i64)>,
    /// `(client_id, tokens issued since the previous report)`.
    pub tokens: Vec<(String, u64)>,
}

/// The usage as the store records it, checked at `now_ms`: too many entries, an id that is too
/// long or a count out of range is refused whole; a time in the future counts as now (a gate's
/// clock may run ahead, and a "last used" must never stay ahead of the real one); zero counts
/// and times before the epoch say nothing and are dropped.
pub fn check_usage(usage: GateUsage, now_ms: i64) -> Result<UsageReport, Error> {
    if usage.secrets.len() > MAX_USAGE_ENTRIES || usage.tokens.len() > MAX_USAGE_ENTRIES {
        return Err(Error::invalid(format!(
            "a usage report names at most {MAX_USAGE_ENTRIES} secrets and {MAX_USAGE_ENTRIES} clients"
        )));
    }
    let long = |id: &str| id.is_empty() || id.chars().count() > MAX_ID_CHARS;
    if usage
        .secrets
        .iter()
        .map(|(id, _)| id)
        .chain(usage.tokens.iter().map(|(id, _)| id))
        .any(|id| long(id))
    {
        return Err(Error::invalid(format!(
            "a usage report names secrets and clients by ids of 1 to {MAX_ID_CHARS} characters"
        )));
    }
    if let Some((id, n)) = usage
        .tokens
        .iter()
        .find(|(_, n)| *n > MAX_TOKENS_PER_REPORT)
    {
        return Err(Error::invalid(format!(
            "a usage report counts {n} tokens for {:?}; at most {MAX_TOKENS_PER_REPORT} are accepted per report",
            jose::truncate(id)
        )));
    }
    Ok(UsageReport {
        now_ms,
        secrets: usage
            .secrets
            .into_iter()
            .filter(|(_, t)| *t > 0)
            .map(|(id, t)| (id, t.min(now_ms)))
            .collect(),
        tokens: usage
            .tokens
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(id, n)| (id, i64::try_from(n).unwrap_or(i64::MAX)))
            .collect(),
    })
}

impl GatesService {
    /// A gate's status report (`POST /gate-api/v1/status`): what it runs, its encryption key
    /// and what it used. Everything is checked before anything is recorded, so a report with a
    /// malformed key or usage is refused whole. The applied version is recorded as by
    /// [`Self::report`]; a new or changed encryption key is registered and audited
    /// (`gates.encryption_key`, with its fingerprint); usage is recorded without an event.
    pub async fn report_status(
        &self,
        gate: &GateRecord,
        applied_version: Option<i64>,
        error: ReportedError,
        encryption_key: Option<&str>,
        usage: Option<GateUsage>,
    ) -> Result<(), Error> {
        let encryption_key = encryption_key
            .map(crate::gates::parse_encryption_key)
            .transpose()?;
        let usage = usage.map(|u| check_usage(u, now_ms())).transpose()?;
        self.report(gate, applied_version, error).await?;
        if let Some(key) = encryption_key {
            self.register_encryption_key(gate, key).await?;
        }
        if let Some(usage) = usage.filter(|u| !u.secrets.is_empty() || !u.tokens.is_empty()) {
            self.clients.record_client_usage(&usage).await?;
        }
        Ok(())
    }

    /// Registers `key` for `gate` unless it is the one stored; audited with the fingerprints of
    /// the new and the replaced key.
    async fn register_encryption_key(&self, gate: &GateRecord, key: String) -> Result<(), Error> {
        if gate.encryption_key.as_deref() == Some(key.as_str()) {
            return Ok(());
        }
        let actor = Actor {
            name: format!("gate:{}", gate.name),
            ip: None,
            user_agent: None,
        };
        let event = Audit::success(
            &actor,
            action::GATES_ENCRYPTION_KEY,
            &Target::gate(&gate.id),
            json!({ "name": gate.name,
                    "fingerprint": crate::gates::encryption_key_fingerprint(&key),
                    "replaces": gate.encryption_key.as_deref()
                        .map(crate::gates::encryption_key_fingerprint) }),
        );
        let change = GateChange::SetEncryptionKey {
            id: gate.id.clone(),
            encryption_key: key.clone(),
            replaces: gate.encryption_key.clone(),
            now_ms: now_ms(),
        };
        match self.store.apply_gate_change(&change, event).await {
            Ok(()) => Ok(()),
            // Two reports raced; the other registered this very key: nothing left to do.
            Err(StoreError::Conflict(m)) => match self.store.gate(&gate.id).await? {
                Some(g) if g.encryption_key.as_deref() == Some(key.as_str()) => Ok(()),
                _ => Err(Error::Conflict(m)),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Records what a gate runs (from its status call or a push answer). The first apply of a
    /// version and a new refusal reason are audited; the routine heartbeat is not.
    pub async fn report(
        &self,
        gate: &GateRecord,
        applied_version: Option<i64>,
        error: ReportedError,
    ) -> Result<(), Error> {
        let error = match error {
            ReportedError::Refused(e) => {
                let e = e.trim();
                ReportedError::Refused(if e.chars().count() > MAX_REASON_CHARS {
                    format!("{}…", e.chars().take(MAX_REASON_CHARS).collect::<String>())
                } else {
                    e.to_owned()
                })
            }
            other => other,
        };
        let actor = Actor {
            name: format!("gate:{}", gate.name),
            ip: None,
            user_agent: None,
        };
        let target = Target::gate(&gate.id);
        let event = match &error {
            ReportedError::Refused(reason) if Some(reason) != gate.last_error.as_ref() => Some(
                AuditDraft::new(
                    &actor,
                    action::GATES_REFUSE,
                    target.as_str(),
                    Outcome::Failure,
                )
                .with_details(json!({ "reason": reason, "applied_version": applied_version })),
            ),
            _ if applied_version.is_some() && applied_version != gate.applied_version => {
                Some(Audit::success(
                    &actor,
                    action::GATES_APPLY,
                    &target,
                    json!({ "version": applied_version, "previous": gate.applied_version }),
                ))
            }
            _ => None,
        };
        let report = GateReport {
            gate_id: gate.id.clone(),
            now_ms: now_ms(),
            applied_version,
            error,
            seen: (gate.applied_version, gate.last_error.clone()),
        };
        Ok(self.store.record_gate_report(&report, event).await?)
    }
}

#[async_trait::async_trait]
impl crate::keys::service::KeyServing for GatesService {
    /// A gate serves `kid` when it runs a version at or after the first one of the unbroken
    /// run of versions (up to the latest) that hold the key: every version since holds it.
    async fn serving(&self, kid: &str) -> Result<crate::keys::service::Serving, Error> {
        let gates: Vec<GateRecord> = self
            .store
            .gates()
            .await?
            .into_iter()
            .filter(|g| g.public_key.is_some() && g.revoked_at_ms.is_none())
            .collect();
        let mut out = crate::keys::service::Serving::default();
        if gates.is_empty() {
            return Ok(out);
        }
        let mut first: Option<i64> = None;
        for b in self.store.bundles(1000).await? {
            let holds = super::publish::open_unverified(&b)?
                .key_sets
                .iter()
                .any(|s| s.keys.iter().any(|k| k.kid == kid));
            if !holds {
                break;
            }
            first = Some(b.version);
        }
        for g in gates {
            let serves = matches!((first, g.applied_version), (Some(f), Some(a)) if a >= f);
            if serves {
                out.serving.push(g.name);
            } else {
                out.behind.push(g.name);
            }
        }
        Ok(out)
    }
}
