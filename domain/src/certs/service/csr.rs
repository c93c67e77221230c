//! CSRs for an external CA: creating one (with the hostname's next key) and accepting the
//! certificate the CA signed for it.

use super::*;

impl CertsService {
    /// A CSR for an external CA: for an existing hostname it carries the next key; for a new
    /// hostname, a new current key (and a next key is prepared).
    pub async fn create_csr(
        &self,
        actor: &Actor,
        hostname: &str,
    ) -> Result<(CsrRecord, String), Error> {
        let action = action::CERTS_CREATE_CSR;
        let target = Target::hostname(hostname);
        match self.create_csr_inner(actor, action, hostname).await {
            Ok(r) => Ok(r),
            Err(e) => Err(self.audit.refused(actor, action, &target, e).await),
        }
    }

    pub(super) async fn create_csr_inner(
        &self,
        actor: &Actor,
        action: &str,
        hostname: &str,
    ) -> Result<(CsrRecord, String), Error> {
        let host =
            parse_hostname(hostname).map_err(|e| Error::invalid(format!("Hostname: {e}")))?;
        let sans = parse_sans(std::slice::from_ref(&host))?;
        let mut changes = Vec::new();
        let (key_id, pkcs8, pin) = match self.store.hostname(&host).await? {
            Some(h) => self.next_key(&h).await?,
            None => {
                let current = crate::certs::generate(KeyType::default()).await?;
                let next = crate::certs::generate(KeyType::default()).await?;
                let ck = self.key_record(
                    KeyType::default().label(),
                    &current.spki_der,
                    Some(&current.pkcs8),
                );
                let nk = self.key_record(
                    KeyType::default().label(),
                    &next.spki_der,
                    Some(&next.pkcs8),
                );
                let out = (ck.id.clone(), current.pkcs8.clone(), ck.pin.clone());
                changes.push(CertChange::InsertKey(ck));
                changes.push(CertChange::InsertKey(nk.clone()));
                changes.push(CertChange::UpsertHostname(HostnameRecord {
                    hostname: host.clone(),
                    ca_id: None,
                    current_cert_id: None,
                    next_key_id: Some(nk.id),
                    created_at_ms: now_ms(),
                }));
                out
            }
        };
        // The hostname is the common name too when it fits RFC 5280's 64 characters; a longer one
        // is named by the SAN alone (as CAs issue it).
        let csr_pem = create_csr(pkcs8.expose_secret(), &sans, "")?;
        let csr = CsrRecord {
            id: new_id(),
            hostname: host.clone(),
            key_id,
            csr_pem,
            created_at_ms: now_ms(),
            fulfilled_by: None,
        };
        changes.push(CertChange::InsertCsr(csr.clone()));
        let event = AuditDraft::new(
            actor,
            action,
            Target::hostname(&host).as_str(),
            Outcome::Success,
        )
        .with_details(json!({ "csr": csr.id, "key_pin": pin }));
        self.store.apply_cert_changes(&changes, event).await?;
        Ok((csr, pin))
    }

    /// Accepts the certificate signed for a CSR (only with the CSR's key) and makes it current.
    pub async fn accept_signed(
        &self,
        actor: &Actor,
        csr_id: &str,
        chain_pem: &str,
    ) -> Result<CertRecord, Error> {
        let action = action::CERTS_ACCEPT_SIGNED;
        let result = async {
            let csr = self
                .store
                .csr(csr_id)
                .await?
                .ok_or_else(|| Error::invalid("unknown CSR"))?;
            if csr.fulfilled_by.is_some() {
                return Err(Error::Conflict("this CSR was already fulfilled".into()));
            }
            let key = self
                .store
                .tls_key(&csr.key_id)
                .await?
                .ok_or_else(|| Error::Internal("CSR key missing".into()))?;
            let chain = accept_signed_cert(&key.spki_der, chain_pem.as_bytes(), Utc::now())?;
            self.make_current(
                actor,
                action,
                &csr.hostname,
                chain.certs,
                Some(key),
                Some(csr.id.clone()),
                chain.warnings,
            )
            .await
        }
        .await;
        match result {
            Ok(c) => Ok(c),
            Err(e) => Err(self
                .audit
                .refused(actor, action, &Target::csr(csr_id), e)
                .await),
        }
    }

    /// The PEM of a CSR (for download).
    pub async fn csr_pem(&self, id: &str) -> Result<Option<CsrRecord>, Error> {
        Ok(self.store.csr(id).await?)
    }
}
