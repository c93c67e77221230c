//! Rotating a hostname's certificate: the planner that says which shipped releases a rotation
//! would break, and the rotation itself (to the pre-generated next key or a fresh one).

use super::*;

impl CertsService {
    /// Pins of the CA chain above a hostname's leaf (what stays the same across a rotation).
    pub(super) async fn issuer_pins(&self, h: &HostnameRecord) -> Result<Vec<Pin>, Error> {
        let (live, _) = self.pinsets.live_chain(&h.hostname).await?;
        Ok(live.into_iter().skip(1).collect())
    }

    /// What rotating `hostname` to `target` would do to every recorded release.
    pub async fn plan(
        &self,
        hostname: &str,
        target: RotationTarget,
    ) -> Result<RotationPlan, Error> {
        let host = parse_hostname(hostname).map_err(|e| Error::invalid(e.to_string()))?;
        let h = self
            .store
            .hostname(&host)
            .await?
            .ok_or_else(|| Error::invalid(format!("unknown hostname {host}")))?;
        let mut chain = self.issuer_pins(&h).await?;
        let new_pin = match target {
            RotationTarget::NextKey => {
                let pin = self.next_key_record(&h).await?.pin;
                chain.insert(
                    0,
                    Pin::parse(&pin).map_err(|e| Error::Internal(e.to_string()))?,
                );
                pin
            }
            RotationTarget::FreshKey => {
                "a new key, generated at rotation (no app has its pin)".to_owned()
            }
        };
        let releases = self.pinsets.shipped(&host).await?;
        let verdicts = plan_rotation(&releases, &chain, Utc::now().date_naive());
        let blocked = rotation_blocked(&verdicts);
        Ok(RotationPlan {
            hostname: host,
            target,
            new_pin,
            verdicts,
            blocked,
        })
    }

    /// Rotates `hostname`'s certificate to `target`; refused while the plan is blocked unless
    /// an owner gives a written reason (recorded in the audit event).
    pub async fn rotate(
        &self,
        actor: &Actor,
        role: Role,
        hostname: &str,
        target: RotationTarget,
        override_reason: &str,
    ) -> Result<CertRecord, Error> {
        let action = action::CERTS_ROTATE;
        let audit_target = Target::hostname(hostname);
        let plan = match self.plan(hostname, target).await {
            Ok(p) => p,
            Err(e) => return Err(self.audit.refused(actor, action, &audit_target, e).await),
        };
        let broken: Vec<String> = plan
            .verdicts
            .iter()
            .filter(|v| v.supported && !v.ok)
            .map(|v| format!("{} {} ({})", v.app, v.version, v.platform))
            .collect();
        let reason = override_reason.trim();
        if plan.blocked {
            if reason.is_empty() {
                let e = Error::Conflict(format!("Rotation blocked: it would break {}. Ship the new pin first, or have an owner override with a reason.", broken.join(", ")));
                return Err(self
                    .audit_denied(actor, action, &audit_target, &e, &broken)
                    .await);
            }
            if role != Role::Owner {
                let e = Error::Forbidden;
                return Err(self
                    .audit_denied(actor, action, &audit_target, &e, &broken)
                    .await);
            }
            if reason.chars().count() < 10 {
                let e =
                    Error::invalid("Write the reason for the override (at least 10 characters).");
                return Err(self.audit.refused(actor, action, &audit_target, e).await);
            }
        }
        match self
            .rotate_inner(
                actor,
                action,
                &plan,
                &broken,
                (plan.blocked).then_some(reason),
            )
            .await
        {
            Ok(c) => Ok(c),
            Err(e) => Err(self.audit.refused(actor, action, &audit_target, e).await),
        }
    }

    pub(super) async fn audit_denied(
        &self,
        actor: &Actor,
        action: &str,
        target: &Target,
        err: &Error,
        broken: &[String],
    ) -> Error {
        let draft = AuditDraft::new(actor, action, target.as_str(), Outcome::Denied)
            .with_details(json!({ "reason": err.to_string(), "would_break": broken }));
        match self.store.apply_cert_changes(&[], draft).await {
            Ok(()) => match err {
                Error::Forbidden => Error::Forbidden,
                other => Error::Conflict(other.to_string()),
            },
            Err(e) => Error::Store(e),
        }
    }

    pub(super) async fn rotate_inner(
        &self,
        actor: &Actor,
        action: &str,
        plan: &RotationPlan,
        broken: &[String],
        override_reason: Option<&str>,
    ) -> Result<CertRecord, Error> {
        let host = &plan.hostname;
        let h = self
            .store
            .hostname(host)
            .await?
            .ok_or_else(|| Error::invalid("unknown hostname"))?;
        let ca_id = h.ca_id.clone().ok_or_else(|| {
            Error::invalid(format!("{host} is signed by an external CA: create a CSR for its next key and upload the signed certificate"))
        })?;
        let old = match &h.current_cert_id {
            Some(id) => self.store.certificate(id).await?,
            None => None,
        };
        let key_type = old
            .as_ref()
            .map(|c| key_type_from_label(&c.key_type))
            .unwrap_or_default();
        let sans = match &old {
            Some(c) => parse_sans(&c.sans)?,
            None => parse_sans(std::slice::from_ref(host))?,
        };
        let (ca, material) = self.ca_material(&ca_id).await?;
        let mut changes = Vec::new();
        let (leaf_key_id, leaf_pkcs8, leaf_pin) = match plan.target {
            RotationTarget::NextKey => self.next_key(&h).await?,
            RotationTarget::FreshKey => {
                let fresh = crate::certs::generate(key_type).await?;
                let rec = self.key_record(key_type.label(), &fresh.spki_der, Some(&fresh.pkcs8));
                let out = (rec.id.clone(), fresh.pkcs8.clone(), rec.pin.clone());
                changes.push(CertChange::InsertKey(rec));
                out
            }
        };
        let issued = issue_server_cert(
            &material,
            &ServerCertParams {
                sans,
                validity_days: 90,
                key: KeySource::Existing(leaf_pkcs8),
            },
        )?;
        let next = crate::certs::generate(key_type).await?;
        let next_key = self.key_record(key_type.label(), &next.spki_der, Some(&next.pkcs8));
        let chain = format!("{}{}", issued.cert_pem, ca.chain_pem);
        let cert = cert_record(
            &issued.info,
            CertKind::Server,
            Some(host),
            chain,
            Some(leaf_key_id),
            Some(ca.id.clone()),
        );
        let old_set = self.pinsets.current(host).await?;
        let new_set = match &old_set {
            Some(s) => rotated_set(s, issued.info.spki_pin, next.pin()),
            None => initial_set(
                host,
                issued.info.spki_pin,
                next.pin(),
                Utc::now().date_naive(),
            ),
        };
        changes.push(CertChange::InsertKey(next_key.clone()));
        changes.push(CertChange::InsertCert(cert.clone()));
        if let Some(o) = &old {
            changes.push(CertChange::SupersedeCert { id: o.id.clone() });
        }
        changes.push(CertChange::UpsertHostname(HostnameRecord {
            next_key_id: Some(next_key.id.clone()),
            current_cert_id: Some(cert.id.clone()),
            ..h.clone()
        }));
        changes.push(
            self.pinsets
                .put_step(&new_set, old_set.as_ref().map(|s| s.version))?,
        );
        let event = AuditDraft::new(actor, action, Target::hostname(host).as_str(), Outcome::Success).with_details(json!({
            "target": plan.target.as_str(), "old_serial": old.as_ref().map(|c| c.serial_hex.clone()),
            "new_serial": cert.serial_hex, "new_pin": leaf_pin, "next_pin": next_key.pin,
            "pinset_version": new_set.version, "override_reason": override_reason, "would_break": broken,
        }));
        self.store
            .apply_cert_changes(&changes, event)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate { .. } => Error::Conflict(format!(
                    "another change to {host} landed meanwhile; reload and retry"
                )),
                StoreError::Conflict(m) => Error::Conflict(format!(
                    "another change to {host} landed meanwhile; reload and retry ({m})"
                )),
                other => Error::Store(other),
            })?;
        Ok(cert)
    }
}
