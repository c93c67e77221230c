//! Importing a certificate chain (and optionally its key) for a hostname, and making a
//! certificate current, which moves the hostname's pin set in the same transaction.

use super::*;

impl CertsService {
    /// Imports a chain (leaf first) with an optional key for `hostname`.
    pub async fn import(
        &self,
        actor: &Actor,
        hostname: &str,
        chain_pem: &str,
        key_pem: &str,
    ) -> Result<CertRecord, Error> {
        let action = action::CERTS_IMPORT;
        let result = async {
            let key_pem = key_pem.trim();
            let chain = import_chain(
                chain_pem.as_bytes(),
                (!key_pem.is_empty()).then_some(key_pem.as_bytes()),
                Utc::now(),
            )?;
            let host =
                parse_hostname(hostname).map_err(|e| Error::invalid(format!("Hostname: {e}")))?;
            let leaf = chain.leaf().clone();
            if !leaf.sans.iter().any(|s| {
                s == &host
                    || (s.starts_with("*.")
                        && host
                            .split_once('.')
                            .is_some_and(|(_, rest)| rest == &s[2..]))
            }) {
                return Err(Error::invalid(format!(
                    "the certificate does not name {host} (its names: {})",
                    leaf.sans.join(", ")
                )));
            }
            let key = self.key_record(&leaf.key_type, &leaf.spki_der, chain.key_pkcs8.as_ref());
            let mut changes = vec![CertChange::InsertKey(key.clone())];
            let cert = self
                .make_current_changes(&host, chain.certs, Some(key), &mut changes)
                .await?;
            // The imported key is new to shipped apps: the planner must allow it.
            self.check_plan_for(&host, &cert).await?;
            let event = AuditDraft::new(
                actor,
                action,
                Target::hostname(&host).as_str(),
                Outcome::Success,
            )
            .with_details(json!({
                "subject": cert.subject, "serial": cert.serial_hex, "spki_pin": cert.spki_pin,
                "with_private_key": !key_pem.is_empty(), "warnings": chain.warnings,
            }));
            self.store.apply_cert_changes(&changes, event).await?;
            Ok(cert)
        }
        .await;
        match result {
            Ok(c) => Ok(c),
            Err(e) => Err(self
                .audit
                .refused(actor, action, &Target::hostname(hostname), e)
                .await),
        }
    }

    pub(super) async fn check_plan_for(&self, host: &str, cert: &CertRecord) -> Result<(), Error> {
        let mut chain: Vec<Pin> = pins_in_pem(cert.chain_pem.as_bytes())?
            .into_iter()
            .map(|f| f.pin)
            .collect();
        if chain.is_empty() {
            chain.extend(Pin::parse(&cert.spki_pin).ok());
        }
        let verdicts = plan_rotation(
            &self.pinsets.shipped(host).await?,
            &chain,
            Utc::now().date_naive(),
        );
        if rotation_blocked(&verdicts) {
            let broken: Vec<String> = verdicts
                .iter()
                .filter(|v| v.supported && !v.ok)
                .map(|v| format!("{} {}", v.app, v.version))
                .collect();
            return Err(Error::Conflict(format!(
                "this certificate's key would break {}; ship its pin first",
                broken.join(", ")
            )));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn make_current(
        &self,
        actor: &Actor,
        action: &str,
        host: &str,
        certs: Vec<CertInfo>,
        key: Option<TlsKeyRecord>,
        csr_id: Option<String>,
        warnings: Vec<String>,
    ) -> Result<CertRecord, Error> {
        let mut changes = Vec::new();
        let cert = self
            .make_current_changes(host, certs, key, &mut changes)
            .await?;
        self.check_plan_for(host, &cert).await?;
        if let Some(id) = &csr_id {
            changes.push(CertChange::FulfilCsr {
                id: id.clone(),
                cert_id: cert.id.clone(),
            });
        }
        let event = AuditDraft::new(actor, action, Target::hostname(host).as_str(), Outcome::Success).with_details(json!({
            "csr": csr_id, "subject": cert.subject, "issuer": cert.issuer, "serial": cert.serial_hex,
            "spki_pin": cert.spki_pin, "warnings": warnings,
        }));
        self.store.apply_cert_changes(&changes, event).await?;
        Ok(cert)
    }

    /// The changes that make an externally signed chain current for `host`, keeping a next key.
    pub(super) async fn make_current_changes(
        &self,
        host: &str,
        certs: Vec<CertInfo>,
        key: Option<TlsKeyRecord>,
        changes: &mut Vec<CertChange>,
    ) -> Result<CertRecord, Error> {
        let leaf = certs.first().ok_or_else(|| Error::invalid("empty chain"))?;
        let chain_pem: String = certs.iter().map(pem_of).collect();
        let cert = cert_record(
            leaf,
            CertKind::Imported,
            Some(host),
            chain_pem,
            key.as_ref().map(|k| k.id.clone()),
            None,
        );
        let existing = self.store.hostname(host).await?;
        let leaf_key_was_next = matches!((&existing, &key), (Some(h), Some(k)) if h.next_key_id.as_deref() == Some(k.id.as_str()));
        let next_key_id = match &existing {
            Some(h) if !leaf_key_was_next && h.next_key_id.is_some() => h.next_key_id.clone(),
            _ => {
                let next = crate::certs::generate(key_type_from_label(&leaf.key_type)).await?;
                let rec = self.key_record(next.key_type.label(), &next.spki_der, Some(&next.pkcs8));
                let id = rec.id.clone();
                changes.push(CertChange::InsertKey(rec));
                Some(id)
            }
        };
        let next_pin = match &next_key_id {
            Some(id) => match changes.iter().find_map(|c| match c {
                CertChange::InsertKey(k) if &k.id == id => Some(k.pin.clone()),
                _ => None,
            }) {
                Some(p) => p,
                None => self
                    .store
                    .tls_key(id)
                    .await?
                    .map(|k| k.pin)
                    .unwrap_or_default(),
            },
            None => String::new(),
        };
        let next_pin = Pin::parse(&next_pin).map_err(|e| Error::Internal(e.to_string()))?;
        changes.push(CertChange::InsertCert(cert.clone()));
        if let Some(old) = existing.as_ref().and_then(|h| h.current_cert_id.clone()) {
            changes.push(CertChange::SupersedeCert { id: old });
        }
        changes.push(CertChange::UpsertHostname(HostnameRecord {
            hostname: host.to_owned(),
            ca_id: None,
            current_cert_id: Some(cert.id.clone()),
            next_key_id,
            created_at_ms: existing
                .as_ref()
                .map(|h| h.created_at_ms)
                .unwrap_or_else(now_ms),
        }));
        let old_set = self.pinsets.current(host).await?;
        let mut set = match &old_set {
            Some(s) => rotated_set(s, leaf.spki_pin, next_pin),
            None => initial_set(host, leaf.spki_pin, next_pin, Utc::now().date_naive()),
        };
        if key.as_ref().is_none_or(|k| k.sealed_private.is_none()) {
            for p in set
                .pins
                .iter_mut()
                .filter(|p| p.role == PinRole::CurrentLeaf)
            {
                p.custody = KeyCustody::Unknown;
            }
        }
        changes.push(
            self.pinsets
                .put_step(&set, old_set.as_ref().map(|s| s.version))?,
        );
        Ok(cert)
    }
}
