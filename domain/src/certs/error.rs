//! The one error type of [`crate::certs`]: every refusal of a PEM, DER, key, CSR, chain or
//! parameter carries a stable machine-readable [`CertError::code`] (what the API returns and tests
//! assert; never renamed) and a precise message in the user's terms (what the page shows).
//!
//! Invariant: messages never contain key material; they may quote the offending *public* value
//! (a SAN, a label, a line number) so the user can find and fix it.

/// Why a certificate, key, CSR or PEM input was refused, or why issuance failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("the input is {size} bytes; the limit is {limit} bytes")]
    PemTooLarge { size: usize, limit: usize },
    #[error("the input holds more than {limit} PEM blocks")]
    PemTooManyBlocks { limit: usize },
    #[error("line {line}: {detail}")]
    PemBadBase64 { line: usize, detail: String },
    #[error("line {line}: unsupported PEM label \"{label}\"{hint}")]
    PemUnknownLabel {
        line: usize,
        label: String,
        hint: &'static str,
    },
    #[error(
        "line {line}: the block opened as \"{begin}\" (line {begin_line}) is closed as \"{end}\""
    )]
    PemLabelMismatch {
        line: usize,
        begin_line: usize,
        begin: String,
        end: String,
    },
    #[error("line {line}: unexpected text after the last -----END …----- line")]
    PemTrailingData { line: usize },
    #[error("line {line}: the \"{label}\" block has no -----END {label}----- line (is the input truncated?)")]
    PemUnterminated { line: usize, label: String },
    #[error("line {line}: {detail}")]
    PemMalformed { line: usize, detail: String },
    #[error("line {line}: PEM headers (RFC 1421) are not supported")]
    PemHeaders { line: usize },
    #[error("no certificate, certificate request or key (-----BEGIN …----- block or DER certificate) found in the input")]
    PemNoBlocks,
    #[error("block {block} is a \"{label}\"; expected {expected}")]
    UnexpectedBlock {
        block: usize,
        label: String,
        expected: &'static str,
    },

    #[error("{what} is not a valid X.509 certificate: {detail}")]
    X509Malformed { what: String, detail: String },
    #[error("{what} names {count} subject alternative names; at most {limit} are accepted")]
    TooManyNames {
        what: String,
        count: usize,
        limit: usize,
    },
    #[error("not a valid PKCS #10 certificate request: {detail}")]
    CsrMalformed { detail: String },
    #[error("the certificate request's self-signature does not verify ({detail})")]
    CsrBadSignature { detail: String },

    #[error("the private key is not valid: {detail}")]
    KeyMalformed { detail: String },
    #[error("the private key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem) and upload the plain PKCS #8, SEC1 or PKCS #1 key")]
    KeyEncrypted,
    #[error("no private key found in the key input")]
    KeyMissing,
    #[error("the key input holds {count} private keys; upload exactly one")]
    KeyMultiple { count: usize },
    #[error("{0}")]
    KeyMismatch(String),
    #[error("{what}: RSA key of {bits} bits; at least 2048 bits are required")]
    RsaTooSmall { what: String, bits: usize },
    #[error("{what}: RSA key of {bits} bits; at most 8192 bits are accepted")]
    RsaTooLarge { what: String, bits: usize },
    #[error("{what}: RSA public exponent {exponent}; only 65537 is accepted")]
    RsaBadExponent { what: String, exponent: String },
    #[error("{what}: elliptic curve {curve} is not supported; use P-256, P-384 or Ed25519")]
    UnsupportedCurve { what: String, curve: String },
    #[error("{what}: key algorithm {algorithm} is not supported; use ECDSA P-256/P-384, Ed25519 or RSA 2048–8192")]
    UnsupportedKeyAlgorithm { what: String, algorithm: String },

    #[error("the chain holds no certificate")]
    ChainEmpty,
    #[error("{0}")]
    ChainOrder(String),
    #[error("{0}")]
    ChainBroken(String),
    #[error("{0}")]
    ChainBadSignature(String),
    #[error("{0}")]
    ChainIssuerNotCa(String),
    #[error("{what} expired on {not_after}")]
    CertExpired { what: String, not_after: String },
    #[error("{what} is not valid before {not_before}")]
    CertNotYetValid { what: String, not_before: String },

    #[error("\"{value}\" is not a valid host name or IP address: {reason}")]
    SanInvalid { value: String, reason: String },
    #[error("\"{0}\" is listed twice")]
    SanDuplicate(String),
    #[error("at least one host name or IP address is required")]
    SanEmpty,
    #[error("{count} host names and addresses; at most {limit} are accepted")]
    SanTooMany { count: usize, limit: usize },

    #[error("{field}: {reason}")]
    InvalidParams { field: &'static str, reason: String },
    #[error("{0}")]
    NotCa(String),
    #[error("certificate operation failed: {0}")]
    Crypto(String),
}

impl CertError {
    /// The stable code of this refusal, e.g. `pem.bad_base64` or `key.mismatch`.
    /// Codes are part of the API: clients and tests match on them, so they never change.
    pub fn code(&self) -> &'static str {
        use CertError::*;
        match self {
            PemTooLarge { .. } => "pem.too_large",
            PemTooManyBlocks { .. } => "pem.too_many_blocks",
            PemBadBase64 { .. } => "pem.bad_base64",
            PemUnknownLabel { .. } => "pem.unknown_label",
            PemLabelMismatch { .. } => "pem.label_mismatch",
            PemTrailingData { .. } => "pem.trailing_data",
            PemUnterminated { .. } => "pem.unterminated",
            PemMalformed { .. } => "pem.malformed",
            PemHeaders { .. } => "pem.headers",
            PemNoBlocks => "pem.no_blocks",
            UnexpectedBlock { .. } => "pem.unexpected_block",
            X509Malformed { .. } => "x509.malformed",
            TooManyNames { .. } => "x509.too_many_names",
            CsrMalformed { .. } => "csr.malformed",
            CsrBadSignature { .. } => "csr.bad_signature",
            KeyMalformed { .. } => "key.malformed",
            KeyEncrypted => "key.encrypted",
            KeyMissing => "key.missing",
            KeyMultiple { .. } => "key.multiple",
            KeyMismatch(_) => "key.mismatch",
            RsaTooSmall { .. } => "key.rsa_too_small",
            RsaTooLarge { .. } => "key.rsa_too_large",
            RsaBadExponent { .. } => "key.rsa_bad_exponent",
            UnsupportedCurve { .. } => "key.unsupported_curve",
            UnsupportedKeyAlgorithm { .. } => "key.unsupported_algorithm",
            ChainEmpty => "chain.empty",
            ChainOrder(_) => "chain.order",
            ChainBroken(_) => "chain.broken",
            ChainBadSignature(_) => "chain.bad_signature",
            ChainIssuerNotCa(_) => "chain.issuer_not_ca",
            CertExpired { .. } => "cert.expired",
            CertNotYetValid { .. } => "cert.not_yet_valid",
            SanInvalid { .. } => "san.invalid",
            SanDuplicate(_) => "san.duplicate",
            SanEmpty => "san.empty",
            SanTooMany { .. } => "san.too_many",
            InvalidParams { .. } => "params.invalid",
            NotCa(_) => "ca.not_ca",
            Crypto(_) => "crypto.failed",
        }
    }

    /// True for failures of this process rather than of the input (`crypto.failed`): the
    /// caller logs them and answers 500 with a reference id instead of showing the detail.
    pub fn is_internal(&self) -> bool {
        matches!(self, CertError::Crypto(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_namespaced_and_messages_precise() {
        let e = CertError::PemBadBase64 {
            line: 3,
            detail: "character '!' is not base64".into(),
        };
        assert_eq!(e.code(), "pem.bad_base64");
        assert_eq!(e.to_string(), "line 3: character '!' is not base64");
        let e = CertError::RsaBadExponent {
            what: "the private key".into(),
            exponent: "3".into(),
        };
        assert_eq!(e.code(), "key.rsa_bad_exponent");
        assert!(e.to_string().contains("only 65537"));
        assert!(!CertError::KeyEncrypted.is_internal());
        assert!(CertError::Crypto("rng".into()).is_internal());
    }
}
