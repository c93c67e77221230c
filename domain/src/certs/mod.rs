//! Certificates and keys, pure: the internal CA (root, intermediate, TLS server certificates),
//! key generation, CSRs for an external CA, import of PEM chains with their key, and SPKI pins.
//! No storage, no clock of its own where a check depends on time (callers pass `now`), no I/O:
//! services call these functions and store what they return (private keys sealed by the caller
//! with [`crate::seal::MasterKey`]).
//!
//! Invariants held by every submodule:
//! - No panic on any input; every refusal is a [`CertError`] with a stable code.
//! - Parsing is bounded: at most 1 MiB and 64 PEM blocks per input, at most 1,000 names per
//!   certificate or CSR; parsers are non-recursive (x509-parser, RustCrypto `der`).
//! - Private keys are normalised unencrypted PKCS #8 in zeroizing, never-printed secrets; the
//!   key policy is ECDSA P-256 / P-384, Ed25519 and RSA 2048–8192 bits with e = 65537.
//! - A pin is the base64 SHA-256 of a DER SubjectPublicKeyInfo (RFC 7469 §2.4), byte-identical
//!   to OpenSSL's for certificates and keys (tested against the `openssl` CLI).
//!
//! Specs: RFC 5280 (X.509 profile), RFC 2986 (PKCS #10), RFC 7468 (PEM), RFC 7469 (pins),
//! RFC 5958 / 5915 / 8017 / 8410 (key containers), CA/B Forum ballot SC-081 (validity schedule).

mod chain;
mod csr;
mod error;
mod info;
mod issue;
mod keygen;
mod keys;
mod pem;
mod pintool;
pub mod probe;
mod san;
pub mod service;

pub use chain::{import_chain, ImportedChain, EXPIRY_WARNING_DAYS};
pub use csr::{accept_signed_cert, create_csr, parse_csr, CsrInfo};
pub use error::CertError;
pub use info::{cert_info, CertInfo, MAX_NAMES};
pub use issue::{
    create_intermediate_ca, create_root_ca, issue_server_cert, public_ca_max_days,
    server_validity_warnings, CaMaterial, CaParams, IssuedCert, KeySource, ServerCertParams,
    CA_INTERMEDIATE_DEFAULT_DAYS, CA_MAX_DAYS, CA_ROOT_DEFAULT_DAYS, PUBLIC_CA_SCHEDULE,
    PUBLIC_CA_WARN_DAYS, SERVER_DEFAULT_DAYS, SERVER_MAX_DAYS,
};
pub use keygen::{generate, with_key_generation, RSA_SLOTS};
pub use keys::{
    generate_key, load_pkcs8, load_private_key, parse_private_key_pem, public_key_kind,
    same_public_key, GeneratedKey, KeyKind, KeyType, PrivateKey, RSA_EXPONENT, RSA_MAX_BITS,
    RSA_MIN_BITS,
};
pub use pem::{encode_pem, parse_pem, PemBlock, PemLabel, MAX_PEM_BLOCKS, MAX_PEM_INPUT};
pub use pintool::{pins_in_pem, FoundPin, PinSource};
/// Certificate kinds and statuses: the rule lives in `policy`, which the browser builds too.
pub use policy::certs::{CertKind, CertStatus};
pub use san::{parse_sans, validate_sans, San, MAX_SANS};
