//! The internal CA: root and intermediate CA certificates and TLS server certificates, issued
//! with rcgen and checked after signing.
//!
//! Invariants of everything issued here (RFC 5280 profile): version 3; a random positive
//! 128-bit serial (CA/B Forum BR §7.1 asks for ≥ 64 random bits); notBefore five minutes in the
//! past (client clock skew); subjectKeyIdentifier (RFC 5280 §4.2.1.2, RFC 7093 method 1) on
//! every certificate and authorityKeyIdentifier on every issued one. CA certificates: critical
//! basicConstraints cA = TRUE (root unconstrained, intermediate pathLen 0) and keyUsage
//! keyCertSign + cRLSign (§4.2.1.3, §4.2.1.9). Server certificates: basicConstraints cA = FALSE,
//! keyUsage digitalSignature (+ keyEncipherment for RSA, for TLS 1.2 RSA key exchange), extKeyUsage
//! serverAuth (§4.2.1.12), validated SANs, subject CN = the first SAN. No certificate outlives
//! its issuer. After signing, the result is re-parsed and its signature verified against the
//! issuer's key, so a corrupted [`CaMaterial`] can never yield a certificate that does not chain.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, SerialNumber,
};
use secrecy::{ExposeSecret, SecretSlice};
use time::OffsetDateTime;

use super::info::{info_of, parse_certificate, CertInfo};
use super::keys::{generate_key, load_pkcs8, same_public_key, KeyType, PrivateKey};
use super::pem::{encode_pem, PemLabel};
use super::san::{validate_sans, San};
use super::CertError;

/// The validity limits (CA maximum, server maximum, the public-CA warning threshold and
/// schedule) live in `policy::certs`, which the Certificates page also runs.
pub use policy::certs::{
    server_validity_warnings, CA_INTERMEDIATE_DEFAULT_DAYS, CA_MAX_DAYS, CA_ROOT_DEFAULT_DAYS,
    PUBLIC_CA_SCHEDULE, PUBLIC_CA_WARN_DAYS, SERVER_DEFAULT_DAYS, SERVER_MAX_DAYS,
};

/// The public-CA maximum validity in days on `date` ([`policy::certs::public_ca_max_days`]).
pub fn public_ca_max_days(date: NaiveDate) -> u32 {
    policy::certs::public_ca_max_days((date.year(), date.month(), date.day()))
}

/// What a CA certificate is created with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaParams {
    pub common_name: String,
    pub organization: Option<String>,
    pub key_type: KeyType,
    pub validity_days: u32,
}

impl CaParams {
    /// A root CA named `common_name`: ECDSA P-256, 10 years.
    pub fn root(common_name: impl Into<String>) -> Self {
        CaParams {
            common_name: common_name.into(),
            organization: None,
            key_type: KeyType::default(),
            validity_days: CA_ROOT_DEFAULT_DAYS,
        }
    }

    /// An intermediate CA named `common_name`: ECDSA P-256, 5 years.
    pub fn intermediate(common_name: impl Into<String>) -> Self {
        CaParams {
            validity_days: CA_INTERMEDIATE_DEFAULT_DAYS,
            ..Self::root(common_name)
        }
    }
}

/// A CA as the store keeps it: its certificate and its private key (the caller seals the key
/// with the master key). `Debug` never shows the key.
#[derive(Clone, Debug)]
pub struct CaMaterial {
    pub cert_der: Vec<u8>,
    pub key_pkcs8: SecretSlice<u8>,
}

/// A certificate just issued, with its private key (normalised PKCS #8; seal before storing).
#[derive(Clone, Debug)]
pub struct IssuedCert {
    pub info: CertInfo,
    /// The certificate alone, PEM (`CERTIFICATE`).
    pub cert_pem: String,
    pub key_pkcs8: SecretSlice<u8>,
    /// The DER SubjectPublicKeyInfo of the key (equal to `info.spki_der`).
    pub spki_der: Vec<u8>,
}

impl IssuedCert {
    /// The material to keep when this certificate is a CA.
    pub fn ca_material(&self) -> CaMaterial {
        CaMaterial {
            cert_der: self.info.der.clone(),
            key_pkcs8: self.key_pkcs8.clone(),
        }
    }
}

/// Which key a server certificate is issued for.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// Generate a fresh key of this type.
    Generate(KeyType),
    /// Use this existing PKCS #8 key: the hostname's pre-generated "next" key, whose pin the
    /// apps already ship ("next key first" rotation).
    Existing(SecretSlice<u8>),
}

/// What a server certificate is issued for.
#[derive(Clone, Debug)]
pub struct ServerCertParams {
    pub sans: Vec<San>,
    pub validity_days: u32,
    pub key: KeySource,
}

impl ServerCertParams {
    /// 90 days, fresh ECDSA P-256 key.
    pub fn new(sans: Vec<San>) -> Self {
        ServerCertParams {
            sans,
            validity_days: SERVER_DEFAULT_DAYS,
            key: KeySource::Generate(KeyType::default()),
        }
    }
}

fn check_name(field: &'static str, value: &str) -> Result<(), CertError> {
    let len = value.chars().count();
    if value.trim().is_empty() {
        return Err(CertError::InvalidParams {
            field,
            reason: "must not be empty".into(),
        });
    }
    // RFC 5280 Appendix A upper bounds: ub-common-name and ub-organization-name are 64.
    if len > 64 {
        return Err(CertError::InvalidParams {
            field,
            reason: format!("{len} characters; at most 64 (RFC 5280 ub-common-name)"),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(CertError::InvalidParams {
            field,
            reason: "must not contain control characters".into(),
        });
    }
    Ok(())
}

fn check_days(days: u32, max: u32) -> Result<(), CertError> {
    if days == 0 || days > max {
        return Err(CertError::InvalidParams {
            field: "validity_days",
            reason: format!("{days}; choose between 1 and {max} days"),
        });
    }
    Ok(())
}

fn random_serial() -> Result<SerialNumber, CertError> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| CertError::Crypto("the system random generator failed".into()))?;
    // Positive (top bit clear) and exactly 16 octets when DER-encoded (next bit set).
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn validity(now: OffsetDateTime, days: u32) -> (OffsetDateTime, OffsetDateTime) {
    (
        now - time::Duration::minutes(5),
        now + time::Duration::days(i64::from(days)),
    )
}

fn to_offset(dt: DateTime<Utc>) -> Result<OffsetDateTime, CertError> {
    OffsetDateTime::from_unix_timestamp(dt.timestamp())
        .map_err(|e| CertError::Crypto(format!("date out of range: {e}")))
}

fn key_for(source: &KeySource) -> Result<PrivateKey, CertError> {
    match source {
        KeySource::Generate(kt) => load_pkcs8(generate_key(*kt)?.pkcs8.expose_secret()),
        KeySource::Existing(pkcs8) => load_pkcs8(pkcs8.expose_secret()),
    }
}

fn ca_params(p: &CaParams, path_len: Option<u8>) -> Result<CertificateParams, CertError> {
    check_name("common_name", &p.common_name)?;
    // A blank organization (an empty form field) means none.
    let organization = p
        .organization
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty());
    if let Some(o) = organization {
        check_name("organization", o)?;
    }
    check_days(p.validity_days, CA_MAX_DAYS)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, p.common_name.trim());
    if let Some(o) = organization {
        dn.push(DnType::OrganizationName, o);
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(match path_len {
        None => BasicConstraints::Unconstrained,
        Some(n) => BasicConstraints::Constrained(n),
    });
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(random_serial()?);
    (params.not_before, params.not_after) = validity(OffsetDateTime::now_utc(), p.validity_days);
    Ok(params)
}

fn finish(
    der: Vec<u8>,
    key: PrivateKey,
    issuer_spki: &[u8],
    what: &str,
) -> Result<IssuedCert, CertError> {
    let cert = parse_certificate(&der, what)
        .map_err(|e| CertError::Crypto(format!("rcgen produced an unreadable certificate: {e}")))?;
    let issuer = parse_spki(issuer_spki)?;
    cert.verify_signature(Some(&issuer)).map_err(|e| {
        CertError::Crypto(format!(
            "the new certificate does not verify with its issuer's key: {e}"
        ))
    })?;
    let info = info_of(&cert, &der, what)?;
    Ok(IssuedCert {
        cert_pem: encode_pem(PemLabel::Certificate, &der),
        spki_der: key.spki_der().to_vec(),
        key_pkcs8: key.into_pkcs8(),
        info,
    })
}

fn parse_spki(der: &[u8]) -> Result<x509_parser::x509::SubjectPublicKeyInfo<'_>, CertError> {
    use x509_parser::prelude::FromDer;
    match x509_parser::x509::SubjectPublicKeyInfo::from_der(der) {
        Ok(([], spki)) => Ok(spki),
        _ => Err(CertError::Crypto(
            "an issuer public key does not parse".into(),
        )),
    }
}

/// Creates a self-signed root CA certificate and its key.
pub fn create_root_ca(params: &CaParams) -> Result<IssuedCert, CertError> {
    let cert_params = ca_params(params, None)?;
    let key = key_for(&KeySource::Generate(params.key_type))?;
    let pair = key.key_pair()?;
    let cert = cert_params
        .self_signed(&pair)
        .map_err(|e| CertError::Crypto(format!("signing failed: {e}")))?;
    let spki = key.spki_der().to_vec();
    finish(cert.der().to_vec(), key, &spki, "the new root CA")
}

/// An issuer loaded from [`CaMaterial`]: checked to be a CA whose key matches its certificate.
struct LoadedCa {
    info: CertInfo,
    pair: rcgen::KeyPair,
    path_len: Option<u32>,
}

fn load_ca(ca: &CaMaterial) -> Result<LoadedCa, CertError> {
    let what = "the CA certificate";
    let cert = parse_certificate(&ca.cert_der, what)?;
    let info = info_of(&cert, &ca.cert_der, what)?;
    if !info.is_ca {
        return Err(CertError::NotCa(format!(
            "{} is not a CA certificate (basicConstraints cA is not TRUE)",
            info.display_name()
        )));
    }
    let key = load_pkcs8(ca.key_pkcs8.expose_secret())?;
    if !same_public_key(key.spki_der(), &info.spki_der) {
        return Err(CertError::KeyMismatch(format!(
            "the CA key (sha256/{}) does not belong to {} (sha256/{})",
            key.pin(),
            info.display_name(),
            info.spki_pin
        )));
    }
    let path_len = cert
        .basic_constraints()
        .ok()
        .flatten()
        .and_then(|b| b.value.path_len_constraint);
    Ok(LoadedCa {
        info,
        pair: key.key_pair()?,
        path_len,
    })
}

fn sign_with(
    ca: &CaMaterial,
    loaded: LoadedCa,
    mut params: CertificateParams,
    key: PrivateKey,
    what: &str,
) -> Result<IssuedCert, CertError> {
    let not_after = to_offset(loaded.info.not_after)?;
    if params.not_after > not_after {
        return Err(CertError::InvalidParams {
            field: "validity_days",
            reason: format!("the certificate would outlive its CA, which expires on {}; shorten the validity or renew the CA", loaded.info.not_after.format("%Y-%m-%d")),
        });
    }
    params.use_authority_key_identifier_extension = true;
    let issuer_spki = loaded.info.spki_der.clone();
    let issuer = Issuer::from_ca_cert_der(&ca.cert_der.as_slice().into(), loaded.pair)
        .map_err(|e| CertError::Crypto(format!("cannot use the CA certificate: {e}")))?;
    let pair = key.key_pair()?;
    let cert = params
        .signed_by(&pair, &issuer)
        .map_err(|e| CertError::Crypto(format!("signing failed: {e}")))?;
    let issued = finish(cert.der().to_vec(), key, &issuer_spki, what)?;
    let parsed = parse_certificate(&issued.info.der, what)?;
    let parent = parse_certificate(&ca.cert_der, "the CA certificate")?;
    if parsed.issuer().as_raw() != parent.subject().as_raw() {
        return Err(CertError::Crypto(
            "the issued certificate's issuer name differs from the CA's subject".into(),
        ));
    }
    Ok(issued)
}

/// Creates an intermediate CA (pathLen 0) signed by `parent`.
pub fn create_intermediate_ca(
    parent: &CaMaterial,
    params: &CaParams,
) -> Result<IssuedCert, CertError> {
    let loaded = load_ca(parent)?;
    if loaded.path_len == Some(0) {
        return Err(CertError::NotCa(format!(
            "{} has pathLenConstraint 0: it may not sign another CA",
            loaded.info.display_name()
        )));
    }
    let cert_params = ca_params(params, Some(0))?;
    let key = key_for(&KeySource::Generate(params.key_type))?;
    sign_with(parent, loaded, cert_params, key, "the new intermediate CA")
}

/// Issues a TLS server certificate from `ca` (see the module invariants).
pub fn issue_server_cert(
    ca: &CaMaterial,
    params: &ServerCertParams,
) -> Result<IssuedCert, CertError> {
    let sans = validate_sans(&params.sans)?;
    check_days(params.validity_days, SERVER_MAX_DAYS)?;
    let loaded = load_ca(ca)?;
    let key = key_for(&params.key)?;
    let mut cp = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    let cn = sans.first().map(San::as_string).unwrap_or_default();
    if cn.len() <= 64 {
        dn.push(DnType::CommonName, cn);
    }
    cp.distinguished_name = dn;
    cp.subject_alt_names = super::san::to_rcgen(&sans)?;
    cp.is_ca = IsCa::ExplicitNoCa;
    cp.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if key.kind().is_rsa() {
        cp.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    cp.serial_number = Some(random_serial()?);
    (cp.not_before, cp.not_after) = validity(OffsetDateTime::now_utc(), params.validity_days);
    sign_with(ca, loaded, cp, key, "the new server certificate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_follows_sc081() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("valid date");
        assert_eq!(public_ca_max_days(d(2026, 3, 14)), 398);
        assert_eq!(public_ca_max_days(d(2026, 3, 15)), 200);
        assert_eq!(public_ca_max_days(d(2027, 3, 15)), 100);
        assert_eq!(public_ca_max_days(d(2029, 3, 14)), 100);
        assert_eq!(public_ca_max_days(d(2029, 3, 15)), 47);
    }

    #[test]
    fn refuses_a_server_certificate_longer_than_apple_accepts() {
        let ca = create_root_ca(&CaParams::root("Root")).expect("root");
        let params = |days| ServerCertParams {
            validity_days: days,
            ..ServerCertParams::new(vec![San::Dns("a.example.com".into())])
        };
        assert_eq!(
            issue_server_cert(&ca.ca_material(), &params(SERVER_MAX_DAYS + 1))
                .map_err(|e| e.code())
                .err(),
            Some("params.invalid")
        );
        issue_server_cert(&ca.ca_material(), &params(SERVER_MAX_DAYS)).expect("825 days");
    }

    #[test]
    fn refuses_bad_parameters() {
        let mut p = CaParams::root("");
        assert_eq!(
            create_root_ca(&p).map_err(|e| e.code()).err(),
            Some("params.invalid")
        );
        p.common_name = "x".repeat(65);
        assert_eq!(
            create_root_ca(&p).map_err(|e| e.code()).err(),
            Some("params.invalid")
        );
        p.common_name = "Root".into();
        p.validity_days = 0;
        assert_eq!(
            create_root_ca(&p).map_err(|e| e.code()).err(),
            Some("params.invalid")
        );
    }
}
