//! What Palisade shows and stores about one X.509 certificate (RFC 5280 §4.1), read from its DER.
//!
//! Invariants: a [`CertInfo`] only exists for DER that parses as exactly one certificate with no
//! trailing bytes and at most [`MAX_NAMES`] subject alternative names; `spki_pin` is the SHA-256
//! of the certificate's SubjectPublicKeyInfo bytes as they appear in it (RFC 7469 §2.4), and
//! `cert_sha256_pin` the SHA-256 of the *whole* DER (what a wrong "certificate pin" holds, so
//! the pin-set linter can recognise one).

use chrono::{DateTime, Utc};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use super::keys::{classify_spki, KeyKind};
use super::CertError;
use crate::pins::Pin;

/// Most subject alternative names read from one certificate or CSR (far above any real one;
/// bounds the memory and the page a hostile input can produce).
pub const MAX_NAMES: usize = 1000;

/// A certificate's summary. `der` is the certificate itself, so the summary can be stored and
/// the certificate re-served without the PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject DN, e.g. "CN=api.example.com, O=Example" (attributes in certificate order).
    pub subject: String,
    /// Issuer DN, same form.
    pub issuer: String,
    /// DNS names and IP addresses; other name types prefixed ("email:", "URI:").
    pub sans: Vec<String>,
    /// Serial number in upper-case hex, as `openssl x509 -serial` prints it.
    pub serial_hex: String,
    /// The public key's kind ([`KeyKind::label`]): "ECDSA P-256", "RSA 2048", "Ed25519"…
    pub key_type: String,
    /// The key's kind, for policy checks.
    pub key_kind: KeyKind,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// SPKI SHA-256 pin of the certificate's public key.
    pub spki_pin: Pin,
    /// SHA-256 of the whole certificate DER. Not a valid SPKI pin: kept to recognise one.
    pub cert_sha256_pin: Pin,
    /// DER SubjectPublicKeyInfo as it appears in the certificate.
    pub spki_der: Vec<u8>,
    /// basicConstraints cA = TRUE (RFC 5280 §4.2.1.9).
    pub is_ca: bool,
    /// Issuer DN equals subject DN (a root, or a self-issued certificate).
    pub self_issued: bool,
    pub der: Vec<u8>,
}

impl CertInfo {
    /// "CN=api.example.com, O=…" or, for an empty subject, "certificate <serial>".
    pub fn display_name(&self) -> String {
        if self.subject.is_empty() {
            format!("certificate {}", self.serial_hex)
        } else {
            self.subject.clone()
        }
    }
}

/// Parses one DER certificate, refusing trailing bytes. `what` names it in messages.
pub(crate) fn parse_certificate<'a>(
    der: &'a [u8],
    what: &str,
) -> Result<X509Certificate<'a>, CertError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(CertError::X509Malformed {
            what: what.to_string(),
            detail: format!("{} bytes follow the certificate", rest.len()),
        }),
        Err(e) => Err(CertError::X509Malformed {
            what: what.to_string(),
            detail: e.to_string(),
        }),
    }
}

pub(crate) fn general_names_to_strings(
    names: &[GeneralName<'_>],
    what: &str,
) -> Result<Vec<String>, CertError> {
    if names.len() > MAX_NAMES {
        return Err(CertError::TooManyNames {
            what: what.to_string(),
            count: names.len(),
            limit: MAX_NAMES,
        });
    }
    Ok(names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => d.to_string(),
            GeneralName::IPAddress(b) => match b.len() {
                4 => std::net::Ipv4Addr::from([b[0], b[1], b[2], b[3]]).to_string(),
                16 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(b);
                    std::net::Ipv6Addr::from(a).to_string()
                }
                _ => format!("IP:{}", hex::encode(b)),
            },
            GeneralName::RFC822Name(e) => format!("email:{e}"),
            GeneralName::URI(u) => format!("URI:{u}"),
            other => format!("{other:?}").chars().take(80).collect(),
        })
        .collect())
}

fn to_chrono(ts: i64, what: &str) -> Result<DateTime<Utc>, CertError> {
    DateTime::from_timestamp(ts, 0).ok_or_else(|| CertError::X509Malformed {
        what: what.to_string(),
        detail: "a validity date is out of range".into(),
    })
}

pub(crate) fn info_of(
    cert: &X509Certificate<'_>,
    der: &[u8],
    what: &str,
) -> Result<CertInfo, CertError> {
    let sans = match cert.subject_alternative_name() {
        Ok(Some(ext)) => general_names_to_strings(&ext.value.general_names, what)?,
        Ok(None) => Vec::new(),
        Err(e) => {
            return Err(CertError::X509Malformed {
                what: what.to_string(),
                detail: format!("subjectAltName: {e}"),
            })
        }
    };
    let is_ca = match cert.basic_constraints() {
        Ok(bc) => bc.is_some_and(|b| b.value.ca),
        Err(e) => {
            return Err(CertError::X509Malformed {
                what: what.to_string(),
                detail: format!("basicConstraints: {e}"),
            })
        }
    };
    let spki = cert.public_key();
    let key_kind = classify_spki(spki, what)?;
    let subject = cert.subject().to_string();
    Ok(CertInfo {
        issuer: cert.issuer().to_string(),
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
        subject,
        sans,
        serial_hex: hex::encode_upper(cert.raw_serial()),
        key_type: key_kind.label(),
        key_kind,
        not_before: to_chrono(cert.validity().not_before.timestamp(), what)?,
        not_after: to_chrono(cert.validity().not_after.timestamp(), what)?,
        spki_pin: Pin::of_spki_der(spki.raw),
        cert_sha256_pin: Pin::of_spki_der(der),
        spki_der: spki.raw.to_vec(),
        is_ca,
        der: der.to_vec(),
    })
}

/// Reads a DER certificate's summary (no chain or date checks; see `import_chain` for those).
pub fn cert_info(der: &[u8]) -> Result<CertInfo, CertError> {
    let what = "the certificate";
    let cert = parse_certificate(der, what)?;
    info_of(&cert, der, what)
}
