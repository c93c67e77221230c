//! JWT signing keys, pure: the algorithms a key set may use ([`SigningAlg`]), the public JWK of a
//! key and its RFC 7638 thumbprint (the `kid`) in [`jwk`], compact JWS signing and verification
//! of JWTs in [`jwt`], and the key lifecycle (`next → active → retired → removed`, plus
//! `revoked`) with the plan the background rotation job runs, in [`lifecycle`].
//!
//! `jwk`, `jwt` and `lifecycle` are pure: no storage, no clock (callers pass `now_ms`), no I/O.
//! [`service`] is the part with storage: it generates a key with
//! [`crate::certs::generate_key`] (`alg.key_type()`), seals its PKCS #8 with
//! [`crate::seal::MasterKey`], stores it with its public JWK from [`public_jwk`], and applies the
//! [`Step`]s that [`due_steps`] plans.
//!
//! Invariants held by every submodule:
//! - No panic on any input; every refusal is a [`KeyError`] with a stable [`KeyError::code`].
//! - A key's `kid` is the RFC 7638 SHA-256 thumbprint of its public JWK: [`sign_jwt`] refuses to
//!   sign under any other `kid`, so every signed token's `kid` resolves to its own key.
//! - Verification takes the algorithm from the JWK, never from the token alone: `none`, HMAC
//!   and any `alg` other than the JWK's are refused, as are key-carrying headers.
//! - Published keys (next, active, retired) are exactly what the JWKS holds; a retired key stays
//!   published until every token it signed has expired plus leeway (QUALITY.md "Keys safe").
//!
//! Specs: RFC 7515 (JWS), RFC 7517 (JWK), RFC 7518 (JWA), RFC 7519 (JWT), RFC 7638 (thumbprint),
//! RFC 8037 (OKP / EdDSA), RFC 8725 (JWT best current practices).

pub mod jwk;
pub mod jwt;
pub mod lifecycle;
pub mod service;

pub use jwk::{check_jwk, public_jwk, thumbprint};
pub use jwt::{sign_jwt, verify_jwt, MAX_JWT_BYTES};
pub use lifecycle::{
    bootstrap_key, can_transition, check_set, due_steps, manual_rotation_check,
    promotion_safe_at_ms, published, KeyState, KeyTimes, PlanStep, SetTiming, Step,
};

// Cuts an untrusted value quoted in a message to 64 characters: the one rule, from `jose`.
use crate::certs::{CertError, KeyType};
use crate::Error;
use jose::truncate;

/// The JWS algorithms a signing key set may use (RFC 7518 §3.1, RFC 8037 §3.1). One algorithm
/// per key; the JWK carries it as `alg`, and a token is verified only with its key's algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SigningAlg {
    /// Ed25519 (RFC 8037): small, fast, deterministic signatures.
    #[serde(rename = "EdDSA")]
    EdDSA,
    /// ECDSA P-256 with SHA-256: the most widely supported compact algorithm.
    #[serde(rename = "ES256")]
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 over RSA-2048: for verifiers that know nothing else.
    #[serde(rename = "RS256")]
    RS256,
}

impl SigningAlg {
    /// Every algorithm, in the order the UI offers them.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::ES256, SigningAlg::EdDSA, SigningAlg::RS256];

    /// The key type [`crate::certs::generate_key`] generates for this algorithm.
    pub fn key_type(&self) -> KeyType {
        match self {
            SigningAlg::EdDSA => KeyType::Ed25519,
            SigningAlg::ES256 => KeyType::EcdsaP256,
            SigningAlg::RS256 => KeyType::Rsa2048,
        }
    }

    /// The JOSE name, as in a JWK's or a JWS header's `alg`, as stored and as shown:
    /// "EdDSA", "ES256" or "RS256".
    pub fn label(&self) -> &'static str {
        match self {
            SigningAlg::EdDSA => "EdDSA",
            SigningAlg::ES256 => "ES256",
            SigningAlg::RS256 => "RS256",
        }
    }

    /// Parses a JOSE name exactly, as [`SigningAlg::label`] writes it (JOSE names are
    /// case-sensitive, RFC 7515 §4.1.1); `None` for any other algorithm, `none` included.
    pub fn parse(s: &str) -> Option<Self> {
        SigningAlg::ALL.into_iter().find(|a| a.label() == s)
    }

    /// What the key is, for a page: "Ed25519", "ECDSA P-256", "RSA 2048".
    pub fn key_label(&self) -> &'static str {
        self.key_type().label()
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a key, a JWK, a token or a key-set setting was refused. Messages never contain private
/// key material; they may quote short public values (an `alg`, a `kid`), cut to 64 characters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The SPKI or PKCS #8 key itself was refused (malformed, outside the key policy).
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("algorithm \"{alg}\" is not supported; use EdDSA, ES256 or RS256")]
    UnsupportedAlg { alg: String },
    #[error("the key is {found}, but {alg} needs {expected}")]
    KeyAlgMismatch {
        alg: SigningAlg,
        found: String,
        expected: &'static str,
    },
    #[error("the private key cannot sign {alg}: {detail}")]
    PrivateKeyRejected { alg: SigningAlg, detail: String },
    #[error("the kid \"{kid}\" is not the thumbprint of the signing key ({expected})")]
    KidMismatch { kid: String, expected: String },
    #[error("the JWK is not valid: {detail}")]
    JwkInvalid { detail: String },
    #[error("the JWT claims must be a JSON object")]
    ClaimsNotObject,
    #[error("the token is {size} bytes; the limit is {limit} bytes")]
    TokenTooLarge { size: usize, limit: usize },
    #[error("the token is malformed: {detail}")]
    TokenMalformed { detail: String },
    #[error(
        "the token's algorithm \"{alg}\" is refused; only EdDSA, ES256 and RS256 are accepted"
    )]
    TokenAlgRefused { alg: String },
    #[error("the token's header carries \"{name}\", which is refused")]
    TokenHeaderRefused { name: &'static str },
    #[error("the token's header has no kid")]
    TokenNoKid,
    #[error("no key in the set has kid \"{kid}\"")]
    TokenUnknownKid { kid: String },
    #[error("the token says {alg} but key \"{kid}\" is {key_alg}")]
    TokenAlgMismatch {
        alg: SigningAlg,
        kid: String,
        key_alg: SigningAlg,
    },
    #[error("the token's signature does not verify")]
    TokenBadSignature,
    #[error("the key set is inconsistent: {0}")]
    SetInconsistent(String),
    #[error("signing failed: {0}")]
    Crypto(String),
}

impl KeyError {
    /// The stable code of this refusal, e.g. `jwt.unknown_kid`; codes never change.
    pub fn code(&self) -> &'static str {
        use KeyError::*;
        match self {
            Cert(e) => e.code(),
            UnsupportedAlg { .. } => "alg.unsupported",
            KeyAlgMismatch { .. } => "key.alg_mismatch",
            PrivateKeyRejected { .. } => "key.rejected",
            KidMismatch { .. } => "key.kid_mismatch",
            JwkInvalid { .. } => "jwk.invalid",
            ClaimsNotObject => "jwt.claims_not_object",
            TokenTooLarge { .. } => "jwt.too_large",
            TokenMalformed { .. } => "jwt.malformed",
            TokenAlgRefused { .. } => "jwt.alg_refused",
            TokenHeaderRefused { .. } => "jwt.header_refused",
            TokenNoKid => "jwt.no_kid",
            TokenUnknownKid { .. } => "jwt.unknown_kid",
            TokenAlgMismatch { .. } => "jwt.alg_mismatch",
            TokenBadSignature => "jwt.bad_signature",
            SetInconsistent(_) => "keyset.inconsistent",
            Crypto(_) => "crypto.failed",
        }
    }

    /// True for failures of this process rather than of the input: the caller logs them and
    /// answers 500 instead of showing the detail.
    pub fn is_internal(&self) -> bool {
        match self {
            KeyError::Cert(e) => e.is_internal(),
            KeyError::Crypto(_) | KeyError::SetInconsistent(_) => true,
            _ => false,
        }
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        if e.is_internal() {
            Error::Internal(e.to_string())
        } else {
            Error::Invalid(format!("{e} [{}]", e.code()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_names_round_trip_exactly() {
        for alg in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(alg.label()), Some(alg));
            let json = serde_json::to_string(&alg).expect("valid");
            assert_eq!(json, format!("\"{}\"", alg.label()));
            assert_eq!(
                serde_json::from_str::<SigningAlg>(&json).expect("valid"),
                alg
            );
            assert_eq!(alg.to_string(), alg.label());
        }
        assert_eq!(SigningAlg::EdDSA.key_type(), KeyType::Ed25519);
        assert_eq!(SigningAlg::ES256.key_type(), KeyType::EcdsaP256);
        assert_eq!(SigningAlg::RS256.key_type(), KeyType::Rsa2048);
        assert_eq!(SigningAlg::ES256.key_label(), "ECDSA P-256");
        for bad in [
            "none", "es256", "HS256", "EDDSA", "ES384", "", " ES256", "ES256\0",
        ] {
            assert_eq!(SigningAlg::parse(bad), None, "{bad}");
        }
        assert!(serde_json::from_str::<SigningAlg>("\"eddsa\"").is_err());
    }

    #[test]
    fn messages_quote_untrusted_values_cut_short() {
        let long = "x".repeat(1000);
        let msg = KeyError::UnsupportedAlg {
            alg: truncate(&long),
        }
        .to_string();
        assert!(msg.len() < 200, "{msg}");
        assert_eq!(truncate("é".repeat(70).as_str()).chars().count(), 65);
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn errors_convert_into_the_domain_error() {
        let e: Error = KeyError::TokenBadSignature.into();
        assert!(matches!(e, Error::Invalid(m) if m.ends_with("[jwt.bad_signature]")));
        let e: Error = KeyError::Crypto("rng".into()).into();
        assert!(matches!(e, Error::Internal(_)));
        assert_eq!(
            KeyError::Cert(CertError::KeyEncrypted).code(),
            "key.encrypted"
        );
    }
}
