//! Key pairs: generation (ECDSA P-256, RSA-2048, Ed25519), loading of private keys in every
//! common container (PKCS #8 RFC 5958, SEC1 RFC 5915, PKCS #1 RFC 8017), classification of
//! public keys (SubjectPublicKeyInfo, RFC 5280 §4.1.2.7) and the key policy.
//!
//! Invariants: every private key leaving this module is *normalised* unencrypted PKCS #8 v1
//! (RSA: `rsaEncryption` + NULL; EC: named curve, public key embedded; Ed25519: RFC 8410 seed),
//! held in a zeroizing [`SecretSlice`] that never prints; it has passed the policy (RSA
//! 2048–8192 bits with e = 65537, P-256, P-384 or Ed25519) and was loaded by `ring`, so it can
//! sign. Its public SPKI is re-derived from the private part (never trusted from the input),
//! encoded as OpenSSL encodes it (uncompressed EC points), so its [`Pin`] equals
//! `openssl pkey -pubout -outform der | openssl dgst -sha256 -binary | base64`.
//! Size checks happen before any big-number work, so hostile keys cost microseconds.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode};
use pkcs8::{AlgorithmIdentifierRef, PrivateKeyInfo};
use rcgen::PublicKeyData;
use secrecy::{ExposeSecret, SecretSlice};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as X509PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;
use zeroize::Zeroizing;

use super::pem::{parse_pem, PemLabel};
use super::CertError;
use crate::pins::Pin;

pub(crate) const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The only RSA public exponent accepted (F4). Small exponents such as 3 are refused: they
/// are the precondition of Bleichenbacher-style signature forgeries against lax verifiers.
pub const RSA_EXPONENT: u64 = 65537;
/// Smallest RSA modulus accepted (NIST SP 800-57 Part 1 §5.6.1, CA/B Forum BR §6.1.5).
pub const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted (also ring's limit for signing keys).
pub const RSA_MAX_BITS: usize = 8192;

/// The key types Palisade generates. ECDSA P-256 is the default: small, fast, universally
/// supported by TLS clients, including every Android and iOS version still in use.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    #[default]
    EcdsaP256,
    Rsa2048,
    Ed25519,
}

impl KeyType {
    /// Display name, as in [`KeyKind::label`] (e.g. "ECDSA P-256").
    pub fn label(&self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ECDSA P-256",
            KeyType::Rsa2048 => "RSA 2048",
            KeyType::Ed25519 => "Ed25519",
        }
    }
}

/// What a public key is, read from its SubjectPublicKeyInfo. Keys outside the policy are still
/// described (a certificate shown by the pin tool may carry any key); [`KeyKind::check`]
/// refuses them where a key is *used*.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyKind {
    EcdsaP256,
    EcdsaP384,
    Ed25519,
    /// RSA with its modulus size; `exponent` is `None` when it does not fit 64 bits.
    Rsa {
        bits: usize,
        exponent: Option<u64>,
    },
    /// An EC key on a curve outside the policy; the curve's name or OID.
    OtherCurve(String),
    /// Another algorithm (DSA, Ed448, X25519…); its name or OID.
    Other(String),
}

impl KeyKind {
    /// Display name: "ECDSA P-256", "ECDSA P-384", "Ed25519", "RSA 2048", "ECDSA secp256k1"…
    pub fn label(&self) -> String {
        match self {
            KeyKind::EcdsaP256 => "ECDSA P-256".into(),
            KeyKind::EcdsaP384 => "ECDSA P-384".into(),
            KeyKind::Ed25519 => "Ed25519".into(),
            KeyKind::Rsa { bits, .. } => format!("RSA {bits}"),
            KeyKind::OtherCurve(curve) => format!("ECDSA {curve}"),
            KeyKind::Other(alg) => alg.clone(),
        }
    }

    /// Whether this is an RSA key (TLS server certificates then also get keyEncipherment).
    pub fn is_rsa(&self) -> bool {
        matches!(self, KeyKind::Rsa { .. })
    }

    /// The key policy: RSA 2048–8192 bits with e = 65537, ECDSA P-256/P-384, Ed25519.
    /// `what` names the key in the message ("the private key", "certificate 2 (CN=…)").
    pub fn check(&self, what: &str) -> Result<(), CertError> {
        let what = what.to_string();
        match self {
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 | KeyKind::Ed25519 => Ok(()),
            KeyKind::Rsa { bits, .. } if *bits < RSA_MIN_BITS => {
                Err(CertError::RsaTooSmall { what, bits: *bits })
            }
            KeyKind::Rsa { bits, .. } if *bits > RSA_MAX_BITS => {
                Err(CertError::RsaTooLarge { what, bits: *bits })
            }
            KeyKind::Rsa {
                exponent: Some(RSA_EXPONENT),
                ..
            } => Ok(()),
            KeyKind::Rsa { exponent, .. } => Err(CertError::RsaBadExponent {
                what,
                exponent: exponent.map_or_else(|| "wider than 64 bits".into(), |e| e.to_string()),
            }),
            KeyKind::OtherCurve(curve) => Err(CertError::UnsupportedCurve {
                what,
                curve: curve.clone(),
            }),
            KeyKind::Other(algorithm) => Err(CertError::UnsupportedKeyAlgorithm {
                what,
                algorithm: algorithm.clone(),
            }),
        }
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.33" => "P-224",
        "1.2.840.10045.3.1.1" => "P-192",
        "1.3.132.0.10" => "secp256k1",
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1",
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1",
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1",
        "1.2.156.10197.1.301" => "SM2",
        other => return format!("with OID {other}"),
    }
    .to_string()
}

fn algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.10040.4.1" => "DSA".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.3.101.110" => "X25519".into(),
        "1.3.101.111" => "X448".into(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS (restricted RSA key)".into(),
        "1.2.840.10046.2.1" => "Diffie-Hellman".into(),
        other => format!("with OID {other}"),
    }
}

fn classify_ec(curve_oid: Option<&str>) -> KeyKind {
    match curve_oid {
        Some("1.2.840.10045.3.1.7") => KeyKind::EcdsaP256,
        Some("1.3.132.0.34") => KeyKind::EcdsaP384,
        Some(other) => KeyKind::OtherCurve(curve_name(other)),
        None => KeyKind::OtherCurve("given by explicit parameters".into()),
    }
}

/// Bit length of a big-endian unsigned integer (leading zero bytes ignored).
pub(crate) fn bit_len(be: &[u8]) -> usize {
    let be = strip_zeros(be);
    match be.first() {
        None => 0,
        Some(first) => (be.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

fn strip_zeros(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    &be[start..]
}

fn small_uint(be: &[u8]) -> Option<u64> {
    let be = strip_zeros(be);
    if be.len() > 8 {
        return None;
    }
    Some(be.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Describes a parsed SubjectPublicKeyInfo. Malformed key bits of a known algorithm are an
/// error (`what` names it); unknown algorithms are described, not refused.
pub(crate) fn classify_spki(
    spki: &SubjectPublicKeyInfo<'_>,
    what: &str,
) -> Result<KeyKind, CertError> {
    let alg = spki.algorithm.algorithm.to_id_string();
    let malformed = |detail: &str| CertError::X509Malformed {
        what: what.to_string(),
        detail: detail.to_string(),
    };
    Ok(match alg.as_str() {
        "1.2.840.113549.1.1.1" => match spki.parsed() {
            Ok(X509PublicKey::RSA(rsa)) => KeyKind::Rsa {
                bits: bit_len(rsa.modulus),
                exponent: small_uint(rsa.exponent),
            },
            _ => return Err(malformed("its RSA public key is not a valid RSAPublicKey")),
        },
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            let kind = classify_ec(curve.as_deref());
            let point = spki.subject_public_key.data.as_ref();
            let valid = match kind {
                KeyKind::EcdsaP256 => p256::PublicKey::from_sec1_bytes(point).is_ok(),
                KeyKind::EcdsaP384 => p384::PublicKey::from_sec1_bytes(point).is_ok(),
                _ => true,
            };
            if !valid {
                return Err(malformed("its EC public key is not a point on its curve"));
            }
            kind
        }
        "1.3.101.112" => {
            if spki.subject_public_key.data.len() != 32 {
                return Err(malformed("its Ed25519 public key is not 32 bytes"));
            }
            KeyKind::Ed25519
        }
        other => KeyKind::Other(algorithm_name(other)),
    })
}

/// Parses a DER SubjectPublicKeyInfo (a `PUBLIC KEY` PEM block), refusing trailing bytes.
pub fn public_key_kind(spki_der: &[u8]) -> Result<KeyKind, CertError> {
    let what = "the public key";
    match SubjectPublicKeyInfo::from_der(spki_der) {
        Ok(([], spki)) => classify_spki(&spki, what),
        Ok(_) => Err(CertError::X509Malformed {
            what: what.into(),
            detail: "trailing bytes after the SubjectPublicKeyInfo".into(),
        }),
        Err(e) => Err(CertError::X509Malformed {
            what: what.into(),
            detail: format!("not a SubjectPublicKeyInfo ({e})"),
        }),
    }
}

/// The algorithm-independent identity of a public key, for "does this key match" questions:
/// two SPKIs that encode one key differently (compressed EC point, RSA integer with a
/// superfluous leading zero) compare equal.
#[derive(PartialEq, Eq)]
enum KeyIdentity {
    Ec(&'static str, Vec<u8>),
    Rsa(Vec<u8>, Vec<u8>),
    Ed25519(Vec<u8>),
}

fn key_identity(spki_der: &[u8]) -> Option<KeyIdentity> {
    let (rest, spki) = SubjectPublicKeyInfo::from_der(spki_der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let point = spki.subject_public_key.data.as_ref();
    match classify_spki(&spki, "").ok()? {
        KeyKind::EcdsaP256 => {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            let pk = p256::PublicKey::from_sec1_bytes(point).ok()?;
            Some(KeyIdentity::Ec(
                "P-256",
                pk.to_encoded_point(false).as_bytes().to_vec(),
            ))
        }
        KeyKind::EcdsaP384 => {
            use p384::elliptic_curve::sec1::ToEncodedPoint;
            let pk = p384::PublicKey::from_sec1_bytes(point).ok()?;
            Some(KeyIdentity::Ec(
                "P-384",
                pk.to_encoded_point(false).as_bytes().to_vec(),
            ))
        }
        KeyKind::Ed25519 => Some(KeyIdentity::Ed25519(point.to_vec())),
        KeyKind::Rsa { .. } => match spki.parsed().ok()? {
            X509PublicKey::RSA(rsa) => Some(KeyIdentity::Rsa(
                strip_zeros(rsa.modulus).to_vec(),
                strip_zeros(rsa.exponent).to_vec(),
            )),
            _ => None,
        },
        KeyKind::OtherCurve(_) | KeyKind::Other(_) => None,
    }
}

/// Whether two DER SubjectPublicKeyInfos carry the same public key (byte-equal, or the same key
/// of a supported type encoded differently). Unparseable input never matches.
pub fn same_public_key(a_spki: &[u8], b_spki: &[u8]) -> bool {
    if a_spki == b_spki {
        return true;
    }
    match (key_identity(a_spki), key_identity(b_spki)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// A private key that passed the policy, normalised to PKCS #8 (see the module invariants).
/// `Debug` shows the kind and pin only.
#[derive(Clone)]
pub struct PrivateKey {
    pkcs8: SecretSlice<u8>,
    kind: KeyKind,
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PrivateKey({}, public sha256/{})",
            self.kind.label(),
            self.pin()
        )
    }
}

impl PrivateKey {
    /// The normalised unencrypted PKCS #8 DER (seal it before storing it).
    pub fn pkcs8(&self) -> &SecretSlice<u8> {
        &self.pkcs8
    }

    /// Consumes the key, returning its PKCS #8 DER.
    pub fn into_pkcs8(self) -> SecretSlice<u8> {
        self.pkcs8
    }

    pub fn kind(&self) -> &KeyKind {
        &self.kind
    }

    /// DER SubjectPublicKeyInfo of the public half, derived from the private key.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The SPKI pin of the public half (RFC 7469 §2.4).
    pub fn pin(&self) -> Pin {
        Pin::of_spki_der(&self.spki_der)
    }

    /// PEM (`PRIVATE KEY`, RFC 7468 §10) of the PKCS #8, for a download the user asked for.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(super::pem::encode_pem(
            PemLabel::PrivateKey,
            self.pkcs8.expose_secret(),
        ))
    }

    /// A `ring`-backed rcgen key pair for signing certificates and CSRs.
    pub(crate) fn key_pair(&self) -> Result<rcgen::KeyPair, CertError> {
        load_key_pair(self.pkcs8.expose_secret(), &self.kind)
    }
}

fn load_key_pair(pkcs8: &[u8], kind: &KeyKind) -> Result<rcgen::KeyPair, CertError> {
    let alg = match kind {
        KeyKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyKind::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
        KeyKind::Rsa { .. } => &rcgen::PKCS_RSA_SHA256,
        KeyKind::OtherCurve(_) | KeyKind::Other(_) => {
            return Err(CertError::KeyMalformed {
                detail: format!("{} keys cannot sign here", kind.label()),
            })
        }
    };
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8);
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, alg).map_err(|e| CertError::KeyMalformed {
        detail: format!("the key does not load ({e})"),
    })
}

const WHAT_KEY: &str = "the private key";

fn malformed(detail: impl Into<String>) -> CertError {
    CertError::KeyMalformed {
        detail: detail.into(),
    }
}

/// Loads one DER private key given its PEM label, checks it and normalises it.
pub fn load_private_key(label: PemLabel, der: &[u8]) -> Result<PrivateKey, CertError> {
    let pkcs8 = match label {
        PemLabel::PrivateKey => from_pkcs8(der)?,
        PemLabel::EcPrivateKey => {
            let ec = sec1::EcPrivateKey::from_der(der)
                .map_err(|e| malformed(format!("not a SEC1 ECPrivateKey ({e})")))?;
            let curve = ec.parameters.and_then(|p| p.named_curve());
            from_ec(curve, &ec)?
        }
        PemLabel::RsaPrivateKey => from_pkcs1(der)?,
        PemLabel::EncryptedPrivateKey => return Err(CertError::KeyEncrypted),
        other => {
            return Err(malformed(format!(
                "a \"{}\" block is not a private key",
                other.as_str()
            )))
        }
    };
    finish(pkcs8)
}

/// Loads a private key that is stored as PKCS #8 DER (e.g. a [`GeneratedKey`] unsealed from the
/// store, or a pre-generated "next" key).
pub fn load_pkcs8(pkcs8_der: &[u8]) -> Result<PrivateKey, CertError> {
    load_private_key(PemLabel::PrivateKey, pkcs8_der)
}

/// Reads exactly one private key from PEM text (`PRIVATE KEY`, `EC PRIVATE KEY` — an
/// `EC PARAMETERS` block before it is skipped — or `RSA PRIVATE KEY`).
pub fn parse_private_key_pem(key_pem: &[u8]) -> Result<PrivateKey, CertError> {
    let blocks = parse_pem(key_pem).map_err(|e| match e {
        CertError::PemNoBlocks => CertError::KeyMissing,
        other => other,
    })?;
    let mut keys = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        match block.label {
            PemLabel::EcParameters => {}
            PemLabel::EncryptedPrivateKey => return Err(CertError::KeyEncrypted),
            l if l.is_private_key() => keys.push(block),
            other => {
                return Err(CertError::UnexpectedBlock {
                    block: i + 1,
                    label: other.as_str().into(),
                    expected: "a private key",
                })
            }
        }
    }
    match keys.as_slice() {
        [] => Err(CertError::KeyMissing),
        [one] => load_private_key(one.label, &one.der),
        many => Err(CertError::KeyMultiple { count: many.len() }),
    }
}

/// RFC 5958 §3 EncryptedPrivateKeyInfo, only recognised (to refuse it with `key.encrypted`
/// when DER arrives without its PEM label).
#[derive(der::Sequence)]
struct EncryptedPrivateKeyInfo<'a> {
    #[allow(dead_code)]
    algorithm: AlgorithmIdentifierRef<'a>,
    #[allow(dead_code)]
    data: OctetStringRef<'a>,
}

fn from_pkcs8(der: &[u8]) -> Result<Zeroizing<Vec<u8>>, CertError> {
    let info = match PrivateKeyInfo::from_der(der) {
        Ok(info) => info,
        Err(e) => {
            if EncryptedPrivateKeyInfo::from_der(der).is_ok() {
                return Err(CertError::KeyEncrypted);
            }
            return Err(malformed(format!("not a PKCS #8 PrivateKeyInfo ({e})")));
        }
    };
    let alg = info.algorithm.oid;
    if alg == OID_RSA {
        from_pkcs1(info.private_key)
    } else if alg == OID_EC {
        let params_curve =
            match info.algorithm.parameters {
                None => None,
                Some(p) => Some(ObjectIdentifier::try_from(p).map_err(|_| {
                    CertError::UnsupportedCurve {
                        what: WHAT_KEY.into(),
                        curve: "given by explicit parameters".into(),
                    }
                })?),
            };
        let ec = sec1::EcPrivateKey::from_der(info.private_key).map_err(|e| {
            malformed(format!(
                "the EC key inside the PKCS #8 is not a SEC1 ECPrivateKey ({e})"
            ))
        })?;
        let inner_curve = ec.parameters.and_then(|p| p.named_curve());
        if let (Some(a), Some(b)) = (params_curve, inner_curve) {
            if a != b {
                return Err(malformed(
                    "the PKCS #8 and SEC1 structures name different curves",
                ));
            }
        }
        from_ec(params_curve.or(inner_curve), &ec)
    } else if alg == OID_ED25519 {
        let seed = OctetStringRef::from_der(info.private_key)
            .map_err(|e| malformed(format!("the Ed25519 key is not an OCTET STRING ({e})")))?;
        from_ed25519(seed.as_bytes(), info.public_key)
    } else {
        Err(CertError::UnsupportedKeyAlgorithm {
            what: WHAT_KEY.into(),
            algorithm: algorithm_name(&alg.to_string()),
        })
    }
}

fn from_pkcs1(der: &[u8]) -> Result<Zeroizing<Vec<u8>>, CertError> {
    let key = pkcs1::RsaPrivateKey::from_der(der)
        .map_err(|e| malformed(format!("not a PKCS #1 RSAPrivateKey ({e})")))?;
    if key.other_prime_infos.is_some() {
        return Err(CertError::UnsupportedKeyAlgorithm {
            what: WHAT_KEY.into(),
            algorithm: "multi-prime RSA".into(),
        });
    }
    KeyKind::Rsa {
        bits: bit_len(key.modulus.as_bytes()),
        exponent: small_uint(key.public_exponent.as_bytes()),
    }
    .check(WHAT_KEY)?;
    let alg = AlgorithmIdentifierRef {
        oid: OID_RSA,
        parameters: Some(AnyRef::NULL),
    };
    PrivateKeyInfo::new(alg, der)
        .to_der()
        .map(Zeroizing::new)
        .map_err(|e| malformed(format!("cannot re-encode the RSA key ({e})")))
}

macro_rules! ec_pkcs8 {
    ($curve:ident, $ec:expr) => {{
        use $curve::pkcs8::EncodePrivateKey;
        let secret = $curve::SecretKey::from_slice($ec.private_key)
            .map_err(|_| malformed("the EC private scalar is out of range for its curve"))?;
        if let Some(embedded) = $ec.public_key {
            let derived = secret.public_key();
            let ok = $curve::PublicKey::from_sec1_bytes(embedded).map_or(false, |pk| pk == derived);
            if !ok {
                return Err(malformed(
                    "the public key embedded in the EC key does not belong to its private scalar",
                ));
            }
        }
        secret
            .to_pkcs8_der()
            .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
            .map_err(|e| malformed(format!("cannot re-encode the EC key ({e})")))
    }};
}

fn from_ec(
    curve: Option<ObjectIdentifier>,
    ec: &sec1::EcPrivateKey<'_>,
) -> Result<Zeroizing<Vec<u8>>, CertError> {
    match curve {
        Some(c) if c == OID_P256 => ec_pkcs8!(p256, ec),
        Some(c) if c == OID_P384 => ec_pkcs8!(p384, ec),
        Some(c) => Err(CertError::UnsupportedCurve {
            what: WHAT_KEY.into(),
            curve: curve_name(&c.to_string()),
        }),
        None => Err(CertError::UnsupportedCurve {
            what: WHAT_KEY.into(),
            curve: "not named in the key".into(),
        }),
    }
}

fn from_ed25519(
    seed: &[u8],
    embedded_public: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, CertError> {
    if seed.len() != 32 {
        return Err(malformed(format!(
            "an Ed25519 private key is 32 bytes, not {}",
            seed.len()
        )));
    }
    if let Some(public) = embedded_public {
        use ring::signature::KeyPair as _;
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| malformed(format!("invalid Ed25519 seed ({e})")))?;
        if pair.public_key().as_ref() != public {
            return Err(malformed(
                "the public key embedded in the Ed25519 key does not belong to it",
            ));
        }
    }
    let inner = Zeroizing::new(
        OctetStringRef::new(seed)
            .and_then(|o| o.to_der())
            .map_err(|e| malformed(format!("cannot re-encode the Ed25519 key ({e})")))?,
    );
    let alg = AlgorithmIdentifierRef {
        oid: OID_ED25519,
        parameters: None,
    };
    PrivateKeyInfo::new(alg, &inner)
        .to_der()
        .map(Zeroizing::new)
        .map_err(|e| malformed(format!("cannot re-encode the Ed25519 key ({e})")))
}

fn finish(pkcs8: Zeroizing<Vec<u8>>) -> Result<PrivateKey, CertError> {
    // Classify from the normalised form, then prove ring accepts it and derive the SPKI.
    let info = PrivateKeyInfo::from_der(&pkcs8)
        .map_err(|e| malformed(format!("internal re-encoding failed ({e})")))?;
    let kind = if info.algorithm.oid == OID_RSA {
        let key = pkcs1::RsaPrivateKey::from_der(info.private_key)
            .map_err(|e| malformed(format!("not a PKCS #1 RSAPrivateKey ({e})")))?;
        KeyKind::Rsa {
            bits: bit_len(key.modulus.as_bytes()),
            exponent: small_uint(key.public_exponent.as_bytes()),
        }
    } else if info.algorithm.oid == OID_ED25519 {
        KeyKind::Ed25519
    } else {
        match info.algorithm.parameters_oid() {
            Ok(c) if c == OID_P256 => KeyKind::EcdsaP256,
            Ok(c) if c == OID_P384 => KeyKind::EcdsaP384,
            _ => return Err(malformed("unexpected curve after normalisation")),
        }
    };
    let pair = load_key_pair(&pkcs8, &kind)?;
    let spki_der = pair.subject_public_key_info();
    Ok(PrivateKey {
        pkcs8: SecretSlice::from(pkcs8.to_vec()),
        kind,
        spki_der,
    })
}

/// A freshly generated key pair. `Debug` never shows the private part.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    pub key_type: KeyType,
    /// Unencrypted PKCS #8 DER of the private key: seal it before storing it.
    pub pkcs8: SecretSlice<u8>,
    /// DER SubjectPublicKeyInfo of the public key.
    pub spki_der: Vec<u8>,
}

impl GeneratedKey {
    /// The SPKI pin of the public key (RFC 7469 §2.4), e.g. the backup pin of a "next" key.
    pub fn pin(&self) -> Pin {
        Pin::of_spki_der(&self.spki_der)
    }
}

/// Generates a key pair: ECDSA P-256 and Ed25519 with `ring`, RSA-2048 (e = 65537) with the
/// pure-Rust `rsa` crate, since ring cannot generate RSA keys. RSA generation costs up to a
/// second or more: callers bound concurrent generations (QUALITY.md "expensive work").
pub fn generate_key(key_type: KeyType) -> Result<GeneratedKey, CertError> {
    let key = match key_type {
        KeyType::EcdsaP256 | KeyType::Ed25519 => {
            let alg = if key_type == KeyType::Ed25519 {
                &rcgen::PKCS_ED25519
            } else {
                &rcgen::PKCS_ECDSA_P256_SHA256
            };
            let pair = rcgen::KeyPair::generate_for(alg)
                .map_err(|e| CertError::Crypto(format!("key generation failed: {e}")))?;
            let der = Zeroizing::new(pair.serialize_der());
            load_pkcs8(&der)?
        }
        KeyType::Rsa2048 => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let rsa_key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
                .map_err(|e| CertError::Crypto(format!("RSA key generation failed: {e}")))?;
            let der = rsa_key
                .to_pkcs1_der()
                .map_err(|e| CertError::Crypto(format!("RSA key encoding failed: {e}")))?;
            load_private_key(PemLabel::RsaPrivateKey, der.as_bytes())?
        }
    };
    let PrivateKey {
        pkcs8, spki_der, ..
    } = key;
    Ok(GeneratedKey {
        key_type,
        pkcs8,
        spki_der,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_reload_to_the_same_public_key() {
        for kt in [KeyType::EcdsaP256, KeyType::Ed25519] {
            let g = generate_key(kt).expect("generates");
            let again = load_pkcs8(g.pkcs8.expose_secret()).expect("reloads");
            assert_eq!(again.spki_der(), g.spki_der.as_slice());
            assert_eq!(again.kind().label(), kt.label());
            assert!(!format!("{g:?}").contains(&format!("{:?}", &g.pkcs8.expose_secret()[..8])));
        }
    }

    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[0x01]), 1);
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(small_uint(&[0, 1, 0, 1]), Some(65537));
        assert_eq!(small_uint(&[1; 9]), None);
    }

    #[test]
    fn policy_names_each_refusal() {
        assert_eq!(
            KeyKind::Rsa {
                bits: 1024,
                exponent: Some(65537)
            }
            .check("k")
            .map_err(|e| e.code()),
            Err("key.rsa_too_small")
        );
        assert_eq!(
            KeyKind::Rsa {
                bits: 2048,
                exponent: Some(3)
            }
            .check("k")
            .map_err(|e| e.code()),
            Err("key.rsa_bad_exponent")
        );
        assert_eq!(
            KeyKind::Rsa {
                bits: 16384,
                exponent: Some(65537)
            }
            .check("k")
            .map_err(|e| e.code()),
            Err("key.rsa_too_large")
        );
        assert_eq!(
            KeyKind::OtherCurve("secp256k1".into())
                .check("k")
                .map_err(|e| e.code()),
            Err("key.unsupported_curve")
        );
        assert!(KeyKind::Rsa {
            bits: 2048,
            exponent: Some(65537)
        }
        .check("k")
        .is_ok());
    }
}
