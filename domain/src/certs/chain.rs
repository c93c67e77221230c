//! Import of a certificate chain (PEM or one DER certificate) with an optional private key.
//!
//! What is checked, in this order, each failure with its own code:
//! 1. syntax: only `CERTIFICATE` blocks, each exactly one X.509 certificate (`pem.*`,
//!    `x509.malformed`);
//! 2. keys: every certificate's key passes the key policy (`key.*`), checked before
//!    signatures since a refused key (RSA-1024, secp256k1) cannot verify one;
//! 3. order: leaf first, each certificate followed by its issuer. Linkage is the issuer DN of
//!    certificate *i* byte-equal to the subject DN of certificate *i + 1* (RFC 5280 §4.1.2.4;
//!    byte equality rather than the §7.1 normalised comparison, which every real chain meets),
//!    the issuer has basicConstraints cA = TRUE (§4.2.1.9), **and the signature of certificate
//!    *i* verifies with the public key of certificate *i + 1*** (x509-parser's `verify`
//!    feature, backed by ring: ECDSA P-256/P-384, RSA PKCS #1 v1.5 and PSS, Ed25519). AKI/SKI are
//!    not compared: a verified signature is the stronger proof. A misordered chain is told
//!    apart from an unrelated certificate (`chain.order` vs `chain.broken`). A self-issued last
//!    certificate (a root) must verify its own signature;
//! 4. dates against `now`: expired and not-yet-valid are errors, expiring within
//!    [`EXPIRY_WARNING_DAYS`] a warning;
//! 5. the private key, if given: one key block, not encrypted, within policy, and carrying the
//!    leaf's public key (`key.mismatch`).
//!
//! Trust is *not* decided here: whether the root is trusted is the platform's question; the
//! pin sets decide what the apps accept.

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretSlice;

use super::info::{info_of, parse_certificate, CertInfo};
use super::keys::{parse_private_key_pem, same_public_key};
use super::pem::{parse_pem, PemLabel, MAX_PEM_INPUT};
use super::CertError;

/// A certificate expiring within this many days is imported with a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// A chain that passed every check, leaf first.
#[derive(Clone, Debug)]
pub struct ImportedChain {
    pub certs: Vec<CertInfo>,
    pub warnings: Vec<String>,
    /// The leaf's private key, normalised to PKCS #8, when one was given (seal it).
    pub key_pkcs8: Option<SecretSlice<u8>>,
}

impl ImportedChain {
    /// The leaf (first) certificate. [`import_chain`] never returns an empty chain; a value
    /// built by hand must keep `certs` non-empty too.
    pub fn leaf(&self) -> &CertInfo {
        &self.certs[0]
    }
}

/// The certificates of `input`: PEM `CERTIFICATE` blocks in order, or one DER certificate.
pub(crate) fn read_certificates(input: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    if input.len() > MAX_PEM_INPUT {
        return Err(CertError::PemTooLarge {
            size: input.len(),
            limit: MAX_PEM_INPUT,
        });
    }
    if input.trim_ascii().is_empty() {
        return Err(CertError::ChainEmpty);
    }
    if input.first() == Some(&0x30) {
        return Ok(vec![input.to_vec()]);
    }
    let blocks = parse_pem(input)?;
    let mut out = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        if block.label != PemLabel::Certificate {
            return Err(CertError::UnexpectedBlock {
                block: i + 1,
                label: block.label.as_str().into(),
                expected: if block.label.is_private_key() {
                    "certificates only (give the private key separately)"
                } else {
                    "certificates only"
                },
            });
        }
        out.push(block.der.clone());
    }
    Ok(out)
}

fn name(i: usize, c: &CertInfo) -> String {
    format!("certificate {} ({})", i + 1, c.display_name())
}

/// Parses and checks a chain and optional key; see the module documentation.
pub fn import_chain(
    chain_pem: &[u8],
    key_pem: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<ImportedChain, CertError> {
    let ders = read_certificates(chain_pem)?;
    let mut parsed = Vec::with_capacity(ders.len());
    for (i, der) in ders.iter().enumerate() {
        let what = format!("certificate {}", i + 1);
        parsed.push(parse_certificate(der, &what)?);
    }
    let mut certs = Vec::with_capacity(ders.len());
    for (i, (cert, der)) in parsed.iter().zip(&ders).enumerate() {
        certs.push(info_of(cert, der, &format!("certificate {}", i + 1))?);
    }
    if certs.is_empty() {
        return Err(CertError::ChainEmpty);
    }
    let mut warnings = Vec::new();

    // 2. Key policy of every certificate (before signatures: a refused key cannot verify one).
    for (i, c) in certs.iter().enumerate() {
        c.key_kind.check(&name(i, c))?;
    }

    // 3. Order and signatures.
    for i in 0..certs.len() {
        if let Some(j) = (0..i).find(|&j| certs[j].der == certs[i].der) {
            return Err(CertError::ChainOrder(format!(
                "{} repeats certificate {}; list each certificate once",
                name(i, &certs[i]),
                j + 1
            )));
        }
    }
    if let Some(k) =
        (1..certs.len()).find(|&k| parsed[k].issuer().as_raw() == parsed[0].subject().as_raw())
    {
        return Err(CertError::ChainOrder(format!(
            "{} issued {}, so it cannot be the first: put the server (leaf) certificate first, then each certificate's issuer",
            name(0, &certs[0]),
            name(k, &certs[k])
        )));
    }
    for i in 0..certs.len().saturating_sub(1) {
        let (child, parent) = (&parsed[i], &parsed[i + 1]);
        if certs[i].self_issued {
            return Err(CertError::ChainOrder(format!(
                "{} is self-issued (a root), so it must be the last certificate",
                name(i, &certs[i])
            )));
        }
        if child.issuer().as_raw() != parent.subject().as_raw() {
            let issuer_at = (0..certs.len())
                .find(|&j| j != i && parsed[j].subject().as_raw() == child.issuer().as_raw());
            return Err(match issuer_at {
                Some(j) => CertError::ChainOrder(format!(
                    "{} is issued by {}, which must come right after it: order the chain leaf first, each certificate followed by its issuer",
                    name(i, &certs[i]),
                    name(j, &certs[j])
                )),
                None => CertError::ChainBroken(format!(
                    "{} is issued by \"{}\", but the next certificate is \"{}\": it does not belong to this chain",
                    name(i, &certs[i]),
                    certs[i].issuer,
                    certs[i + 1].display_name()
                )),
            });
        }
        if !certs[i + 1].is_ca {
            return Err(CertError::ChainIssuerNotCa(format!(
                "{} issues {} but is not a CA certificate (basicConstraints cA is not TRUE)",
                name(i + 1, &certs[i + 1]),
                name(i, &certs[i])
            )));
        }
        child
            .verify_signature(Some(parent.public_key()))
            .map_err(|e| {
                CertError::ChainBadSignature(format!(
                    "the signature of {} does not verify with the key of {} ({e})",
                    name(i, &certs[i]),
                    name(i + 1, &certs[i + 1])
                ))
            })?;
    }
    let last = certs.len() - 1;
    if certs[last].self_issued {
        parsed[last].verify_signature(None).map_err(|e| {
            CertError::ChainBadSignature(format!(
                "the self-signature of {} does not verify ({e})",
                name(last, &certs[last])
            ))
        })?;
        if last > 0 {
            warnings.push(format!(
                "The chain includes the root {}; servers usually send the chain without it.",
                name(last, &certs[last])
            ));
        }
    } else if last == 0 {
        warnings.push("Only the leaf certificate was given: add its intermediate certificates after it, or clients that do not already have them cannot build the chain.".into());
    }

    // 4. Dates.
    for (i, c) in certs.iter().enumerate() {
        if now < c.not_before {
            return Err(CertError::CertNotYetValid {
                what: name(i, c),
                not_before: c.not_before.to_rfc3339(),
            });
        }
        if now > c.not_after {
            return Err(CertError::CertExpired {
                what: name(i, c),
                not_after: c.not_after.to_rfc3339(),
            });
        }
        let left = c.not_after - now;
        if left < Duration::days(EXPIRY_WARNING_DAYS) {
            warnings.push(format!(
                "{} expires in {} days ({}).",
                name(i, c),
                left.num_days(),
                c.not_after.format("%Y-%m-%d")
            ));
        }
    }

    // Leaf sanity (warnings only: the chain is still well-formed).
    let leaf = &certs[0];
    if leaf.is_ca {
        warnings.push(format!("{} is a CA certificate; TLS clients do not accept a CA certificate as a server certificate.", name(0, leaf)));
    }
    if leaf.sans.is_empty() {
        warnings.push(format!("{} has no subject alternative names; TLS clients ignore the common name and will refuse it.", name(0, leaf)));
    }
    if let Ok(Some(eku)) = parsed[0].extended_key_usage() {
        if !eku.value.server_auth && !eku.value.any {
            warnings.push(format!(
                "{} does not allow server authentication (extendedKeyUsage lacks serverAuth).",
                name(0, leaf)
            ));
        }
    }

    // 5. The private key.
    let key_pkcs8 = match key_pem {
        None => None,
        Some(pem) => {
            let key = parse_private_key_pem(pem)?;
            if !same_public_key(key.spki_der(), &leaf.spki_der) {
                let other = certs
                    .iter()
                    .position(|c| same_public_key(key.spki_der(), &c.spki_der));
                let hint = match other {
                    Some(k) => format!(
                        " It belongs to {}: is the chain in the right order?",
                        name(k, &certs[k])
                    ),
                    None => String::new(),
                };
                return Err(CertError::KeyMismatch(format!(
                    "The private key (public key sha256/{}) does not belong to the leaf {} (sha256/{}).{hint}",
                    key.pin(),
                    name(0, leaf),
                    leaf.spki_pin
                )));
            }
            Some(key.into_pkcs8())
        }
    };
    Ok(ImportedChain {
        certs,
        warnings,
        key_pkcs8,
    })
}
