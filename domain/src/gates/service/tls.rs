//! The certificate gates serve over TLS: the settings name a hostname; the bundle names that
//! hostname's current certificate (fingerprint and pin, so a rotation is a new version); each
//! delivery to a gate seals the chain and private key of exactly that certificate to the gate.

use policy::bundle::BundleCertificate;
use policy::secrets::SecretCertificate;

use super::*;
use crate::ports::certs::CertRecord;

impl GatesService {
    /// The current certificate of `hostname`, if gates can serve it: an active certificate
    /// whose private key the console holds. Otherwise why not, as an `Invalid` an admin reads.
    pub(super) async fn served_certificate(
        &self,
        hostname: &str,
    ) -> Result<(CertRecord, BundleCertificate), Error> {
        let refuse = |why: &str| {
            Error::Invalid(format!(
                "gates cannot serve {hostname} over TLS: {why}; choose another hostname in the \
                 gate settings, or none"
            ))
        };
        let h = self
            .certs
            .hostname(hostname)
            .await?
            .ok_or_else(|| refuse("the hostname is not on the Certificates page"))?;
        let id = h
            .current_cert_id
            .ok_or_else(|| refuse("it has no current certificate"))?;
        let cert = self
            .certs
            .certificate(&id)
            .await?
            .filter(|c| c.status == policy::certs::CertStatus::Active)
            .ok_or_else(|| refuse("its current certificate is not active"))?;
        let key_id = cert
            .key_id
            .clone()
            .ok_or_else(|| refuse("the console does not hold its certificate's private key"))?;
        let key = self
            .certs
            .tls_key(&key_id)
            .await?
            .filter(|k| k.sealed_private.is_some())
            .ok_or_else(|| refuse("the console does not hold its certificate's private key"))?;
        let facts = BundleCertificate {
            hostname: hostname.to_owned(),
            cert_sha256: cert.cert_sha256.clone(),
            spki_pin: key.pin,
        };
        Ok((cert, facts))
    }

    /// The chain and private key of the certificate `facts` names, for sealing to one gate.
    /// An error when the hostname's current certificate is another one by now (a newer
    /// bundle version follows the rotation) or its key does not open.
    pub(super) async fn certificate_secret(
        &self,
        facts: &BundleCertificate,
    ) -> Result<SecretCertificate, Error> {
        let (cert, now) = self.served_certificate(&facts.hostname).await?;
        if now.cert_sha256 != facts.cert_sha256 {
            return Err(Error::Internal(format!(
                "{}: the certificate changed since this bundle version; the next version carries it",
                facts.hostname
            )));
        }
        let key_id = cert.key_id.as_deref().unwrap_or_default();
        let pkcs8 =
            crate::certs::service::open_tls_key(&*self.certs, &self.master_key, key_id).await?;
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
        use secrecy::ExposeSecret as _;
        Ok(SecretCertificate {
            hostname: facts.hostname.clone(),
            names: cert
                .sans
                .iter()
                .filter(|s| s.parse::<std::net::IpAddr>().is_err())
                .cloned()
                .collect(),
            chain_pem: cert.chain_pem.clone(),
            pkcs8: URL_SAFE_NO_PAD.encode(pkcs8.expose_secret()),
        })
    }
}
