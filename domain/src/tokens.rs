//! Bearer tokens (setup links, session ids, ceremony ids): 256 random bits, base64url, and the
//! SHA-256 digest under which they are stored, so a copy of the database holds no live token.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// A fresh 256-bit token from the OS CSPRNG.
pub fn random_token() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
}

/// Hex SHA-256 of a token: what the database stores and looks up by. The tokens carry 256 bits
/// of entropy, so a fast hash is enough (no password-style stretching needed).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Same as [`token_hash`] for a secret held in a `SecretString`.
pub fn secret_hash(token: &SecretString) -> String {
    token_hash(token.expose_secret())
}

/// True when `s` has the shape of a token we issued; lets callers reject junk before a lookup.
pub fn looks_like_token(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_well_formed_and_hashed() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(looks_like_token(a.expose_secret()));
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&"a".repeat(42).replace('a', "/")));
        // Known vector: SHA-256("abc").
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
