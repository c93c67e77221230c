//! Creating the internal CA: a root, or an intermediate under one of the console's CAs.

use super::*;

impl CertsService {
    /// Creates a self-signed root CA; its key is sealed.
    pub async fn create_root_ca(
        &self,
        actor: &Actor,
        common_name: &str,
        key_type: &str,
        validity_days: &str,
    ) -> Result<CertRecord, Error> {
        self.create_ca(actor, None, common_name, key_type, validity_days)
            .await
    }

    /// Creates an intermediate CA under `parent_id`; its key is sealed. Certificates issued from
    /// it carry the chain leaf → intermediate → root.
    pub async fn create_intermediate_ca(
        &self,
        actor: &Actor,
        parent_id: &str,
        common_name: &str,
        key_type: &str,
        validity_days: &str,
    ) -> Result<CertRecord, Error> {
        self.create_ca(actor, Some(parent_id), common_name, key_type, validity_days)
            .await
    }

    /// A root CA (no parent, 10 years by default) or an intermediate (5 years by default).
    pub(super) async fn create_ca(
        &self,
        actor: &Actor,
        parent_id: Option<&str>,
        common_name: &str,
        key_type: &str,
        validity_days: &str,
    ) -> Result<CertRecord, Error> {
        let action = action::CERTS_CREATE_CA;
        let result =
            async {
                let parent = match parent_id {
                    Some(id) => Some(self.ca_material(id).await?),
                    None => None,
                };
                let default_days = if parent.is_some() {
                    CA_INTERMEDIATE_DEFAULT_DAYS
                } else {
                    CA_ROOT_DEFAULT_DAYS
                };
                let params = CaParams {
                    common_name: common_name.trim().to_owned(),
                    organization: None,
                    key_type: key_type_of(key_type)?,
                    validity_days: days(validity_days, default_days, CA_MAX_DAYS, "CA validity")?,
                };
                let parent_material = parent.as_ref().map(|(_, material)| material.clone());
                let issued = crate::certs::with_key_generation(params.key_type, move || {
                    match &parent_material {
                        Some(material) => crate::certs::create_intermediate_ca(material, &params),
                        None => create_root_ca(&params),
                    }
                })
                .await??;
                Ok::<_, Error>((parent.map(|(rec, _)| rec), issued))
            }
            .await;
        let (parent, issued) = match result {
            Ok(r) => r,
            Err(e) => {
                return Err(self
                    .audit
                    .refused(actor, action, &Target::ca(common_name), e)
                    .await)
            }
        };
        let key = self.key_record(
            &issued.info.key_type,
            &issued.spki_der,
            Some(&issued.key_pkcs8),
        );
        let (kind, chain) = match &parent {
            Some(p) => (
                CertKind::IntermediateCa,
                format!("{}{}", issued.cert_pem, p.chain_pem),
            ),
            None => (CertKind::RootCa, issued.cert_pem.clone()),
        };
        let cert = cert_record(
            &issued.info,
            kind,
            None,
            chain,
            Some(key.id.clone()),
            parent.as_ref().map(|p| p.id.clone()),
        );
        let event = AuditDraft::new(
            actor,
            action,
            format!("ca:{}", cert.subject),
            Outcome::Success,
        )
        .with_details(json!({
            "subject": cert.subject, "parent": parent.as_ref().map(|p| p.subject.clone()),
            "serial": cert.serial_hex, "key_type": cert.key_type,
            "not_after": cert.not_after, "spki_pin": cert.spki_pin,
        }));
        let changes = [
            CertChange::InsertKey(key),
            CertChange::InsertCert(cert.clone()),
        ];
        self.store.apply_cert_changes(&changes, event).await?;
        Ok(cert)
    }
}
