//! What gates report (applied version, refusals) and which gates serve a signing key.

use super::*;

impl GatesService {
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
