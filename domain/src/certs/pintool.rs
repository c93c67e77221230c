//! The pin tool: every SPKI pin (RFC 7469 §2.4) found in a user's input — certificates, CSRs,
//! public keys and private keys in PEM, or one DER certificate (or CSR, SPKI, PKCS #8 key).
//!
//! Invariants: a certificate's pin is the SHA-256 of its SubjectPublicKeyInfo bytes, which is
//! what `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256
//! -binary | base64` prints; a private key's pin is that of the public key *derived* from it,
//! as `openssl pkey -pubout -outform der | …` prints (see `keys`). CSRs are only pinned when
//! their self-signature verifies. Input is bounded as in `pem`.

use super::csr::parse_csr;
use super::info::cert_info;
use super::keys::{load_private_key, public_key_kind};
use super::pem::{parse_pem, PemLabel, MAX_PEM_INPUT};
use super::CertError;
use crate::pins::Pin;

/// What a found pin was computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinSource {
    Certificate,
    Csr,
    PublicKey,
    PrivateKey,
}

/// One pin with a description: "CN=api.example.com", "certificate 0A1B…" (empty subject),
/// "CSR CN=…", "public key (ECDSA P-256)", "private key (RSA 2048)".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundPin {
    pub pin: Pin,
    pub description: String,
    pub source: PinSource,
}

impl FoundPin {
    /// The CLI line: `sha256/<base64>  <description>`.
    pub fn to_line(&self) -> String {
        format!("sha256/{}  {}", self.pin, self.description)
    }
}

fn from_cert(der: &[u8]) -> Result<FoundPin, CertError> {
    let info = cert_info(der)?;
    Ok(FoundPin {
        pin: info.spki_pin,
        description: info.display_name(),
        source: PinSource::Certificate,
    })
}

fn from_csr(der: &[u8]) -> Result<FoundPin, CertError> {
    let csr = parse_csr(der)?;
    let description = if csr.subject.is_empty() {
        "CSR".to_string()
    } else {
        format!("CSR {}", csr.subject)
    };
    Ok(FoundPin {
        pin: csr.spki_pin,
        description,
        source: PinSource::Csr,
    })
}

fn from_spki(der: &[u8]) -> Result<FoundPin, CertError> {
    let kind = public_key_kind(der)?;
    Ok(FoundPin {
        pin: Pin::of_spki_der(der),
        description: format!("public key ({})", kind.label()),
        source: PinSource::PublicKey,
    })
}

fn from_rsa_public(der: &[u8]) -> Result<FoundPin, CertError> {
    use der::{Decode, Encode};
    let malformed = |detail: String| CertError::X509Malformed {
        what: "the RSA public key".into(),
        detail,
    };
    pkcs1::RsaPublicKey::from_der(der)
        .map_err(|e| malformed(format!("not a PKCS #1 RSAPublicKey ({e})")))?;
    let spki = pkcs8::spki::SubjectPublicKeyInfoRef {
        algorithm: pkcs8::AlgorithmIdentifierRef {
            oid: super::keys::OID_RSA,
            parameters: Some(der::asn1::AnyRef::NULL),
        },
        subject_public_key: der::asn1::BitStringRef::from_bytes(der)
            .map_err(|e| malformed(e.to_string()))?,
    }
    .to_der()
    .map_err(|e| malformed(e.to_string()))?;
    from_spki(&spki)
}

fn from_private(label: PemLabel, der: &[u8]) -> Result<FoundPin, CertError> {
    let key = load_private_key(label, der)?;
    Ok(FoundPin {
        pin: key.pin(),
        description: format!("private key ({})", key.kind().label()),
        source: PinSource::PrivateKey,
    })
}

/// Every pin in `input`, in input order. Any malformed or refused block fails the whole input
/// with its precise error (the user fixes the file rather than trusting a partial list).
pub fn pins_in_pem(input: &[u8]) -> Result<Vec<FoundPin>, CertError> {
    if input.len() > MAX_PEM_INPUT {
        return Err(CertError::PemTooLarge {
            size: input.len(),
            limit: MAX_PEM_INPUT,
        });
    }
    if input.first() == Some(&0x30) {
        // Raw DER: a certificate first (the common case), then the other structures.
        let cert = from_cert(input);
        if cert.is_ok() {
            return cert.map(|p| vec![p]);
        }
        if let Ok(p) = from_csr(input)
            .or_else(|_| from_spki(input))
            .or_else(|_| from_private(PemLabel::PrivateKey, input))
        {
            return Ok(vec![p]);
        }
        return cert.map(|p| vec![p]);
    }
    let mut out = Vec::new();
    for block in parse_pem(input)? {
        let found = match block.label {
            PemLabel::Certificate => from_cert(&block.der)?,
            PemLabel::CertificateRequest => from_csr(&block.der)?,
            PemLabel::PublicKey => from_spki(&block.der)?,
            PemLabel::RsaPublicKey => from_rsa_public(&block.der)?,
            PemLabel::EcParameters => continue,
            PemLabel::EncryptedPrivateKey => return Err(CertError::KeyEncrypted),
            label @ (PemLabel::PrivateKey | PemLabel::EcPrivateKey | PemLabel::RsaPrivateKey) => {
                from_private(label, &block.der)?
            }
        };
        out.push(found);
    }
    if out.is_empty() {
        return Err(CertError::PemNoBlocks);
    }
    Ok(out)
}
