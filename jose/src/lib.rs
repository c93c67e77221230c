//! JOSE for Palisade: compact JWS JWTs (RFC 7515, RFC 7519) signed and verified with `ring`, the
//! checks of their claims (RFC 7519 §4.1, RFC 9068), and the two Ed25519 envelopes of the
//! console↔gate contract: signed config bundles ([`envelope`]) and the signature a gate puts on
//! each call it makes to the console ([`gate_auth`]), and the private material sealed for one
//! gate with HPKE ([`sealed`]).
//!
//! Shared by the console (through `domain::keys`, which wraps this crate) and the gate, so that
//! there is one implementation of every rule. It depends on `policy` (the wire types), `ring`,
//! `p256` (a point check), serde, base64 and sha2 — never on `domain`, `store` or `app`.
//!
//! Invariants:
//! - No panic on any input; every refusal is a [`JoseError`] with a stable [`JoseError::code`].
//! - The algorithm of a verification is the key's, from its JWK, never the token header's alone
//!   (RFC 8725 §3.1): `none`, HMAC and any `alg` other than the key's are refused before any
//!   cryptography, as are headers that bring or point at their own key (RFC 8725 §3.10).
//! - Input sizes are capped before anything is decoded ([`MAX_JWT_BYTES`]).
//! - No clock: the time a claim is checked at is a parameter ([`claims::validate`]).

pub mod claims;
pub mod client_secret;
pub mod ed25519;
pub mod envelope;
pub mod gate_auth;
pub mod jwk;
pub mod jwt;
pub mod sealed;

pub use claims::{ClaimRules, Validated};
pub use jwk::{check_jwk, jwk_from_parts, thumbprint, verification_key, PublicParts, VerifyKey};
pub use jwt::{
    sign_jwt, sign_jwt_typed, verify_compact, verify_jwt, SigningKey, Typ, TypRule, Verified,
    MAX_JWT_BYTES,
};

/// The JWS algorithms Palisade signs and verifies with (RFC 7518 §3.1, RFC 8037 §3.1). One per
/// key: a JWK carries it as `alg`, and a token is verified only with its key's algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::ES256, Alg::EdDSA, Alg::RS256];

    /// The JOSE name: "EdDSA", "ES256" or "RS256".
    pub fn label(&self) -> &'static str {
        match self {
            Alg::EdDSA => "EdDSA",
            Alg::ES256 => "ES256",
            Alg::RS256 => "RS256",
        }
    }

    /// Parses a JOSE name exactly (names are case-sensitive, RFC 7515 §4.1.1); `None` for any
    /// other algorithm, `none` and HMAC included.
    pub fn parse(s: &str) -> Option<Self> {
        Alg::ALL.into_iter().find(|a| a.label() == s)
    }

    /// The key type's name, for messages: "Ed25519", "ECDSA P-256", "RSA".
    pub fn key_label(&self) -> &'static str {
        match self {
            Alg::EdDSA => "Ed25519",
            Alg::ES256 => "ECDSA P-256",
            Alg::RS256 => "RSA",
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a key, a JWK, a token, its claims or an envelope was refused. Messages never contain
/// private key material; they may quote short public values, cut to 64 characters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    #[error("algorithm \"{alg}\" is not supported; use EdDSA, ES256 or RS256")]
    UnsupportedAlg { alg: String },
    #[error("the private key cannot sign {alg}: {detail}")]
    PrivateKeyRejected { alg: Alg, detail: String },
    #[error("the kid \"{kid}\" is not the thumbprint of the signing key ({expected})")]
    KidMismatch { kid: String, expected: String },
    #[error("the JWK is not valid: {detail}")]
    JwkInvalid { detail: String },
    #[error("the JWK: RSA key of {bits} bits; at least 2048 bits are required")]
    RsaTooSmall { bits: usize },
    #[error("the JWK: RSA key of {bits} bits; at most 8192 bits are accepted")]
    RsaTooLarge { bits: usize },
    #[error("the JWK: RSA public exponent {exponent}; only 65537 is accepted")]
    RsaBadExponent { exponent: String },
    #[error("the JWT claims must be a JSON object")]
    ClaimsNotObject,
    #[error("the token is {size} bytes; the limit is {limit} bytes")]
    TokenTooLarge { size: usize, limit: usize },
    #[error("the token is malformed: {detail}")]
    TokenMalformed { detail: String },
    /// The header's `typ` is absent or not one the caller accepts (RFC 8725 §3.11).
    #[error("the token is malformed: {detail}")]
    TokenTyp { detail: String },
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
    TokenAlgMismatch { alg: Alg, kid: String, key_alg: Alg },
    #[error("the token's signature does not verify")]
    TokenBadSignature,
    /// A claim is absent that the rules require (RFC 9068 §2.2).
    #[error("the token has no \"{name}\" claim")]
    ClaimMissing { name: &'static str },
    #[error("the token's \"{name}\" claim is invalid: {detail}")]
    ClaimInvalid { name: &'static str, detail: String },
    /// RFC 7519 §4.1.4, after the leeway.
    #[error("the token expired")]
    Expired,
    /// RFC 7519 §4.1.5, after the leeway.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` later than now plus the leeway.
    #[error("the token was issued in the future")]
    IssuedInFuture,
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    #[error("the token's audience is not accepted")]
    WrongAudience,
    /// RFC 9068 §4: an access token must be typed `at+jwt`.
    #[error("the token is not typed as an access token (at+jwt)")]
    NotAccessToken,
    /// An Ed25519 public key that is not 32 bytes of base64url.
    #[error("the public key is invalid: {detail}")]
    PublicKeyInvalid { detail: String },
    /// An envelope names another key than the one trusted.
    #[error("signed by key \"{key_id}\", not by the trusted key \"{trusted}\"")]
    WrongKey { key_id: String, trusted: String },
    /// An envelope or request signature that does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// An envelope whose members cannot be decoded.
    #[error("the envelope is corrupt: {detail}")]
    Corrupt { detail: String },
    #[error("signing failed: {0}")]
    Crypto(String),
}

impl JoseError {
    /// The stable code of this refusal, e.g. `jwt.unknown_kid`; codes never change.
    pub fn code(&self) -> &'static str {
        use JoseError::*;
        match self {
            UnsupportedAlg { .. } => "alg.unsupported",
            PrivateKeyRejected { .. } => "key.rejected",
            KidMismatch { .. } => "key.kid_mismatch",
            JwkInvalid { .. } => "jwk.invalid",
            RsaTooSmall { .. } => "key.rsa_too_small",
            RsaTooLarge { .. } => "key.rsa_too_large",
            RsaBadExponent { .. } => "key.rsa_bad_exponent",
            ClaimsNotObject => "jwt.claims_not_object",
            TokenTooLarge { .. } => "jwt.too_large",
            TokenMalformed { .. } | TokenTyp { .. } => "jwt.malformed",
            TokenAlgRefused { .. } => "jwt.alg_refused",
            TokenHeaderRefused { .. } => "jwt.header_refused",
            TokenNoKid => "jwt.no_kid",
            TokenUnknownKid { .. } => "jwt.unknown_kid",
            TokenAlgMismatch { .. } => "jwt.alg_mismatch",
            TokenBadSignature => "jwt.bad_signature",
            ClaimMissing { .. } => "jwt.claim_missing",
            ClaimInvalid { .. } => "jwt.claim_invalid",
            Expired => "jwt.expired",
            NotYetValid => "jwt.not_yet_valid",
            IssuedInFuture => "jwt.issued_in_future",
            WrongIssuer => "jwt.wrong_issuer",
            WrongAudience => "jwt.wrong_audience",
            NotAccessToken => "jwt.not_access_token",
            PublicKeyInvalid { .. } => "ed25519.public_key_invalid",
            WrongKey { .. } => "envelope.wrong_key",
            BadSignature => "envelope.bad_signature",
            Corrupt { .. } => "envelope.corrupt",
            Crypto(_) => "crypto.failed",
        }
    }
}

/// Cuts an untrusted value quoted in a message to 64 characters.
pub fn truncate(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_names_are_exact() {
        for alg in Alg::ALL {
            assert_eq!(Alg::parse(alg.label()), Some(alg));
            assert_eq!(alg.to_string(), alg.label());
        }
        for bad in ["none", "es256", "HS256", "EDDSA", "ES384", "", " ES256"] {
            assert_eq!(Alg::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn quoted_values_are_cut() {
        assert_eq!(truncate(&"é".repeat(70)).chars().count(), 65);
        assert_eq!(truncate("short"), "short");
    }
}
