//! Certificate signing requests (PKCS #10, RFC 2986) for an external CA, and acceptance of the
//! certificate it signs.
//!
//! Invariants: a CSR made here is signed by the key it names (so `openssl req -verify` accepts
//! it), carries the validated SANs in an extensionRequest attribute (RFC 2985 §5.4.2) together
//! with keyUsage and extKeyUsage serverAuth, and its PEM is RFC 7468 §7 `CERTIFICATE REQUEST`.
//! A CSR read here has a verified self-signature and at most `MAX_NAMES` SANs. A signed
//! certificate is accepted only if its leaf carries the CSR's exact public key.

use chrono::{DateTime, Utc};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose,
};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

use super::chain::{import_chain, ImportedChain};
use super::info::general_names_to_strings;
use super::keys::{classify_spki, load_pkcs8, same_public_key, KeyKind};
use super::pem::{encode_pem, PemLabel};
use super::san::{validate_sans, San};
use super::CertError;
use crate::pins::Pin;

/// What a certificate request says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsrInfo {
    /// Subject DN, e.g. "CN=api.example.com".
    pub subject: String,
    pub sans: Vec<String>,
    pub key_type: String,
    pub key_kind: KeyKind,
    pub spki_der: Vec<u8>,
    pub spki_pin: Pin,
    pub der: Vec<u8>,
}

/// Parses a DER CSR and verifies its self-signature (RFC 2986 §3: proof of possession).
pub fn parse_csr(der: &[u8]) -> Result<CsrInfo, CertError> {
    let csr = match X509CertificationRequest::from_der(der) {
        Ok(([], csr)) => csr,
        Ok((rest, _)) => {
            return Err(CertError::CsrMalformed {
                detail: format!("{} bytes follow the request", rest.len()),
            })
        }
        Err(e) => {
            return Err(CertError::CsrMalformed {
                detail: e.to_string(),
            })
        }
    };
    let mut sans = Vec::new();
    if let Some(exts) = csr.requested_extensions() {
        for ext in exts {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                sans.extend(general_names_to_strings(
                    &san.general_names,
                    "the certificate request",
                )?);
            }
        }
    }
    csr.verify_signature()
        .map_err(|e| CertError::CsrBadSignature {
            detail: e.to_string(),
        })?;
    let info = &csr.certification_request_info;
    let key_kind = classify_spki(&info.subject_pki, "the certificate request")?;
    Ok(CsrInfo {
        subject: info.subject.to_string(),
        sans,
        key_type: key_kind.label(),
        key_kind,
        spki_der: info.subject_pki.raw.to_vec(),
        spki_pin: Pin::of_spki_der(info.subject_pki.raw),
        der: der.to_vec(),
    })
}

/// Creates a PEM CSR for `sans`, signed with the PKCS #8 key `key_pkcs8` (typically the
/// hostname's pre-generated next key). `common_name` may be empty: the first SAN is then used
/// when it fits the 64-character bound.
pub fn create_csr(key_pkcs8: &[u8], sans: &[San], common_name: &str) -> Result<String, CertError> {
    let sans = validate_sans(sans)?;
    let cn = match common_name.trim() {
        "" => sans.first().map(San::as_string).filter(|s| s.len() <= 64),
        cn => Some(cn.to_string()),
    };
    if let Some(cn) = &cn {
        if cn.chars().count() > 64 || cn.chars().any(char::is_control) {
            return Err(CertError::InvalidParams {
                field: "common_name",
                reason: "at most 64 characters, no control characters (RFC 5280 ub-common-name)"
                    .into(),
            });
        }
    }
    let key = load_pkcs8(key_pkcs8)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if let Some(cn) = cn {
        dn.push(DnType::CommonName, cn);
    }
    params.distinguished_name = dn;
    params.subject_alt_names = super::san::to_rcgen(&sans)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if key.kind().is_rsa() {
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let pair = key.key_pair()?;
    let csr = params
        .serialize_request(&pair)
        .map_err(|e| CertError::Crypto(format!("cannot sign the request: {e}")))?;
    let der = csr.der().to_vec();
    // Prove the result reads back and self-verifies before handing it out.
    let info = parse_csr(&der)
        .map_err(|e| CertError::Crypto(format!("the new request does not read back: {e}")))?;
    if !same_public_key(&info.spki_der, key.spki_der()) {
        return Err(CertError::Crypto(
            "the new request carries another key".into(),
        ));
    }
    Ok(encode_pem(PemLabel::CertificateRequest, &der))
}

/// Accepts the certificate an external CA signed for a CSR made here: the chain passes
/// [`import_chain`] (order, signatures, key policy, dates at `now`) and its leaf carries
/// exactly `csr_public_key_spki` (the DER SPKI of the CSR's key).
pub fn accept_signed_cert(
    csr_public_key_spki: &[u8],
    chain_pem: &[u8],
    now: DateTime<Utc>,
) -> Result<ImportedChain, CertError> {
    let chain = import_chain(chain_pem, None, now)?;
    let leaf = chain.leaf();
    if !same_public_key(&leaf.spki_der, csr_public_key_spki) {
        return Err(CertError::KeyMismatch(format!(
            "The signed certificate {} carries the key sha256/{}, but the request was made for the key sha256/{}: this is not the certificate for that request.",
            leaf.display_name(),
            leaf.spki_pin,
            Pin::of_spki_der(csr_public_key_spki)
        )));
    }
    Ok(chain)
}
