//! Issuing a hostname's first certificate from the internal CA, with its next key and pin set.

use super::*;

impl CertsService {
    /// Issues the first certificate of a hostname from an internal CA: a current key, a next key
    /// (its pin is the backup pin apps ship), the certificate, and pin set version 1.
    pub async fn issue(
        &self,
        actor: &Actor,
        ca_id: &str,
        hostname: &str,
        extra_sans: &str,
        key_type: &str,
        validity_days: &str,
    ) -> Result<CertRecord, Error> {
        let action = action::CERTS_ISSUE;
        let target = Target::hostname(hostname);
        match self
            .issue_inner(
                actor,
                action,
                ca_id,
                hostname,
                extra_sans,
                key_type,
                validity_days,
            )
            .await
        {
            Ok(c) => Ok(c),
            Err(e) => Err(self.audit.refused(actor, action, &target, e).await),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn issue_inner(
        &self,
        actor: &Actor,
        action: &str,
        ca_id: &str,
        hostname: &str,
        extra_sans: &str,
        key_type: &str,
        validity_days: &str,
    ) -> Result<CertRecord, Error> {
        let host =
            parse_hostname(hostname).map_err(|e| Error::invalid(format!("Hostname: {e}")))?;
        let mut names = vec![host.clone()];
        names.extend(
            extra_sans
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
        let sans = parse_sans(&names)?;
        let validity = days(
            validity_days,
            SERVER_DEFAULT_DAYS,
            SERVER_MAX_DAYS,
            "Validity",
        )?;
        let key_type = key_type_of(key_type)?;
        if self.store.hostname(&host).await?.is_some() {
            return Err(Error::Conflict(format!(
                "{host} already has a certificate; rotate it instead"
            )));
        }
        let (ca, material) = self.ca_material(ca_id).await?;
        let current = crate::certs::generate(key_type).await?;
        let next = crate::certs::generate(key_type).await?;
        let issued = issue_server_cert(
            &material,
            &ServerCertParams {
                sans,
                validity_days: validity,
                key: KeySource::Existing(current.pkcs8.clone()),
            },
        )?;
        let current_key =
            self.key_record(key_type.label(), &current.spki_der, Some(&current.pkcs8));
        let next_key = self.key_record(key_type.label(), &next.spki_der, Some(&next.pkcs8));
        let chain = format!("{}{}", issued.cert_pem, ca.chain_pem);
        let cert = cert_record(
            &issued.info,
            CertKind::Server,
            Some(&host),
            chain,
            Some(current_key.id.clone()),
            Some(ca.id.clone()),
        );
        let set = initial_set(&host, current.pin(), next.pin(), Utc::now().date_naive());
        let event = AuditDraft::new(actor, action, Target::hostname(&host).as_str(), Outcome::Success).with_details(json!({
            "ca": ca.subject, "serial": cert.serial_hex, "sans": cert.sans, "key_type": cert.key_type,
            "validity_days": validity, "not_after": cert.not_after,
            "current_pin": current_key.pin, "next_pin": next_key.pin, "pinset_version": set.version,
        }));
        let changes = vec![
            CertChange::InsertKey(current_key.clone()),
            CertChange::InsertKey(next_key.clone()),
            CertChange::InsertCert(cert.clone()),
            CertChange::UpsertHostname(HostnameRecord {
                hostname: host.clone(),
                ca_id: Some(ca.id.clone()),
                current_cert_id: Some(cert.id.clone()),
                next_key_id: Some(next_key.id.clone()),
                created_at_ms: now_ms(),
            }),
            self.pinsets.put_step(&set, None)?,
        ];
        self.store
            .apply_cert_changes(&changes, event)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate { .. } | StoreError::Conflict(_) => Error::Conflict(format!(
                    "{host} already has a certificate; rotate it instead"
                )),
                other => Error::Store(other),
            })?;
        Ok(cert)
    }
}
