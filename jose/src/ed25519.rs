//! Ed25519 (RFC 8032) keys of the console↔gate contract: the console's bundle key and each
//! gate's identity key. Public keys travel as base64url (no padding) of their raw 32 bytes; a
//! key's id is the base64url SHA-256 of those 32 bytes. Private keys are PKCS #8 DER (RFC 8410,
//! v1 or v2, as `ring` reads and writes them).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use ring::signature::{Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

use crate::JoseError;

/// Bytes in a raw Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;

/// A raw Ed25519 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; PUBLIC_KEY_LEN]);

impl PublicKey {
    /// Reads base64url (no padding) of exactly 32 bytes.
    pub fn from_b64(s: &str) -> Result<Self, JoseError> {
        let invalid = |detail: &str| JoseError::PublicKeyInvalid {
            detail: detail.into(),
        };
        if s.len() != 43 {
            return Err(invalid("it must be 43 base64url characters (32 bytes)"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| invalid("it is not unpadded base64url"))?;
        let raw: [u8; PUBLIC_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| invalid("it is not 32 bytes"))?;
        Ok(PublicKey(raw))
    }

    pub fn to_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The key's id: base64url (no padding) of SHA-256 of the raw 32 bytes.
    pub fn key_id(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0))
    }

    /// Whether `signature` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .is_ok()
    }
}

/// An Ed25519 private key.
pub struct SecretKey(Ed25519KeyPair);

impl SecretKey {
    /// A fresh key as PKCS #8 v2 DER (what [`SecretKey::from_pkcs8`] reads back).
    pub fn generate_pkcs8() -> Result<Vec<u8>, JoseError> {
        let rng = ring::rand::SystemRandom::new();
        Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| JoseError::Crypto("no randomness for an Ed25519 key".into()))
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, JoseError> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(SecretKey)
            .map_err(|e| JoseError::PrivateKeyRejected {
                alg: crate::Alg::EdDSA,
                detail: format!("it is not a PKCS #8 Ed25519 key ({e})"),
            })
    }

    pub fn public_key(&self) -> PublicKey {
        let mut raw = [0u8; PUBLIC_KEY_LEN];
        raw.copy_from_slice(self.0.public_key().as_ref());
        PublicKey(raw)
    }

    /// The 64-byte signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.0.sign(message).as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8032_test_1_and_key_id() {
        // RFC 8032 §7.1 TEST 1: empty message.
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let mut pkcs8 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        pkcs8.extend_from_slice(&seed);
        let key = SecretKey::from_pkcs8(&pkcs8).expect("valid");
        let public = key.public_key();
        assert_eq!(
            public.0.to_vec(),
            hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        let sig = key.sign(b"");
        assert_eq!(sig.to_vec(), hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"));
        assert!(public.verifies(b"", &sig));
        assert!(!public.verifies(b"x", &sig));
        assert_eq!(PublicKey::from_b64(&public.to_b64()), Ok(public));
        assert_eq!(
            public.key_id(),
            URL_SAFE_NO_PAD.encode(Sha256::digest(public.0))
        );
    }

    #[test]
    fn public_keys_are_read_strictly() {
        let good = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert!(PublicKey::from_b64(&good).is_ok());
        for bad in [
            String::new(),
            format!("{good}="),
            good[..42].to_string(),
            URL_SAFE_NO_PAD.encode([7u8; 33]),
            good.replace('H', "+"),
        ] {
            assert!(PublicKey::from_b64(&bad).is_err(), "{bad}");
        }
        let fresh = SecretKey::generate_pkcs8().expect("valid");
        assert!(SecretKey::from_pkcs8(&fresh).is_ok());
        assert!(SecretKey::from_pkcs8(&fresh[..20]).is_err());
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }
}
