//! The pin tool: pins of pasted PEM, and the live probe of a server's presented chain.

use super::*;

impl CertsService {
    /// Pins of everything in `input` (the pin tool; nothing stored).
    pub fn pins_in(&self, input: &str) -> Result<Vec<FoundPin>, Error> {
        Ok(pins_in_pem(input.as_bytes())?)
    }

    /// Connects to `target` (`host:port`) and returns the pins of the chain it presents.
    /// Public addresses only, unless the operator named a range (`--probe-allow`); link-local
    /// and metadata addresses are refused (SSRF guard). Each admin may start
    /// [`PROBES_PER_ADMIN`], and at most [`PROBES_AT_ONCE`] run at once (429 beyond, audited as
    /// denied). Every attempt is audited.
    pub async fn probe(&self, actor: &Actor, target: &str) -> Result<Vec<FoundPin>, Error> {
        let action = action::CERTS_PROBE;
        let audit_target = format!(
            "probe:{}",
            target.trim().chars().take(200).collect::<String>()
        );
        let now_ns = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let decision = self
            .probe_limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .decide(actor.name.as_bytes(), now_ns);
        let permit = match decision {
            policy::gcra::Decision::Deny { retry_after_ns } => {
                Err(retry_after_ns.div_ceil(1_000_000_000).max(1))
            }
            policy::gcra::Decision::Allow { .. } => self.probing.try_acquire().map_err(|_| 1),
        };
        let _permit = match permit {
            Ok(p) => p,
            Err(retry_after_s) => {
                let draft = AuditDraft::new(actor, action, audit_target, Outcome::Denied)
                    .with_details(json!({ "reason": "throttled", "retry_after_s": retry_after_s }));
                self.store.apply_cert_changes(&[], draft).await?;
                return Err(Error::Throttled { retry_after_s });
            }
        };
        let policy = crate::certs::probe::ProbePolicy {
            allow_ranges: self.probe.allowed_ranges(),
            ..crate::certs::probe::ProbePolicy::default()
        };
        let result = match crate::certs::probe::fetch_presented_chain(
            self.probe.as_ref(),
            target.trim(),
            &policy,
        )
        .await
        {
            Ok(chain) => {
                let mut found = Vec::new();
                for (i, der) in chain.certs_der.iter().enumerate() {
                    let info = crate::certs::cert_info(der)?;
                    let place = if i == 0 {
                        "leaf".to_owned()
                    } else {
                        format!("chain #{i}")
                    };
                    found.push(FoundPin {
                        pin: info.spki_pin,
                        description: format!(
                            "{place}: {} (issuer {}, expires {})",
                            info.display_name(),
                            info.issuer,
                            info.not_after.format("%Y-%m-%d")
                        ),
                        source: crate::certs::PinSource::Certificate,
                    });
                }
                Ok((chain.address, found))
            }
            Err(e) => Err(Error::Invalid(format!("{e} [{}]", e.code()))),
        };
        let (outcome, details) = match &result {
            Ok((addr, found)) => (
                Outcome::Success,
                json!({ "address": addr.to_string(), "certificates": found.len() }),
            ),
            Err(e) => (Outcome::Failure, json!({ "reason": e.to_string() })),
        };
        let draft = AuditDraft::new(actor, action, audit_target, outcome).with_details(details);
        self.store.apply_cert_changes(&[], draft).await?;
        result.map(|(_, found)| found)
    }
}
