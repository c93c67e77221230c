//! The private material the console sends one gate: the wire types only.
//!
//! A gate that issues tokens needs the private half of its token key set's active key, and one
//! that terminates TLS needs its certificate's chain and key. The console never puts them in the bundle
//! (every gate receives the same bundle); it seals them, on each delivery, to the one gate the
//! envelope goes to:
//!
//! - [`GateSecrets`] (the plaintext, JSON) is encrypted with HPKE (RFC 9180, base mode,
//!   DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) to the X25519 key that gate
//!   registered, with the [`SecretsHeader`]'s binding (gate id, bundle version and payload hash)
//!   as the AEAD's associated data;
//! - the [`SecretsHeader`] holding the ciphertext is signed by the console's bundle key, like the
//!   bundle, so that nobody else can hand a gate key material ([`SealedSecrets`]).
//!
//! A gate opens secrets only when the header names it and the bundle it arrives with. The
//! cryptography is in the `jose` crate; this module is serde only (it builds for wasm32).

use serde::{Deserialize, Serialize};

/// The header format this code reads and writes.
pub const SECRETS_FORMAT: u32 = 1;
/// The HPKE `info`: names the purpose, so a ciphertext made for anything else never opens.
pub const HPKE_INFO: &[u8] = b"palisade gate secrets v1";

/// The signed envelope: the header's exact JSON bytes (base64url) and the console's Ed25519
/// signature over them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedSecrets {
    pub payload: String,
    pub key_id: String,
    pub signature: String,
}

/// Who the secrets are for and which bundle they belong to, with the HPKE output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsHeader {
    pub format: u32,
    pub gate_id: String,
    pub bundle_version: u64,
    /// Lowercase hex SHA-256 of the bundle's payload bytes.
    pub bundle_sha256: String,
    /// Base64url (no padding) HPKE encapsulated key.
    pub enc: String,
    /// Base64url (no padding) AES-256-GCM ciphertext and tag of the [`GateSecrets`] JSON.
    pub ciphertext: String,
}

impl SecretsHeader {
    /// The associated data the ciphertext is bound to: the header without the HPKE output.
    pub fn aad(&self) -> Vec<u8> {
        aad(&self.gate_id, self.bundle_version, &self.bundle_sha256)
    }
}

/// The associated data of secrets for `gate_id` with bundle `version` whose payload hashes to
/// `bundle_sha256`.
pub fn aad(gate_id: &str, version: u64, bundle_sha256: &str) -> Vec<u8> {
    format!("{SECRETS_FORMAT}\n{gate_id}\n{version}\n{bundle_sha256}").into_bytes()
}

/// The plaintext. No `Debug`: it holds private keys.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GateSecrets {
    /// Private signing keys (today: the token key set's active key).
    pub signing_keys: Vec<SecretSigningKey>,
    /// The certificates this gate serves over TLS, with their private keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<SecretCertificate>,
}

/// A certificate the gate serves: its current chain and private key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretCertificate {
    /// The pin set's hostname this certificate is for.
    pub hostname: String,
    /// The leaf's DNS subjectAltNames (for SNI).
    pub names: Vec<String>,
    /// PEM, leaf first, then the intermediates.
    pub chain_pem: String,
    /// Base64url (no padding) PKCS #8 DER of the leaf's private key.
    pub pkcs8: String,
}

/// One private signing key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSigningKey {
    pub key_set: String,
    /// The key's `kid` (its RFC 7638 thumbprint), as published in the bundle.
    pub kid: String,
    /// `EdDSA`, `ES256` or `RS256`.
    pub alg: String,
    /// Base64url (no padding) PKCS #8 DER.
    pub pkcs8: String,
}

impl core::fmt::Debug for GateSecrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kids: Vec<&str> = self.signing_keys.iter().map(|k| k.kid.as_str()).collect();
        let hosts: Vec<&str> = self
            .certificates
            .iter()
            .map(|c| c.hostname.as_str())
            .collect();
        f.debug_struct("GateSecrets")
            .field("signing_keys", &kids)
            .field("certificates", &hosts)
            .finish()
    }
}
