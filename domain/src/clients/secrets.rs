//! Client secrets: 256-bit random values shown once, stored only as Argon2id hashes with the
//! OWASP Password Storage Cheat Sheet parameters (m = 19 MiB, t = 2, p = 1).
//!
//! Hashing costs tens of milliseconds of CPU by design; [`hash_secret`] runs it on the blocking
//! pool behind a small semaphore so a burst of rotations cannot starve the server.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::Error;

/// Every secret starts with this, so secret scanners and humans recognise one.
pub const SECRET_PREFIX: &str = "psc_";
/// Characters of the secret kept (after the prefix) to tell secrets apart: 24 of its 256 bits.
const HINT_LEN: usize = 4;

/// OWASP: Argon2id, 19 MiB, 2 iterations, 1 lane.
pub const ARGON2_M_KIB: u32 = 19 * 1024;
pub const ARGON2_T: u32 = 2;
pub const ARGON2_P: u32 = 1;

static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

fn argon2() -> Result<Argon2<'static>, Error> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None)
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A new secret: `psc_` + 256 random bits in base64url (43 characters).
pub fn generate_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let s = format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    bytes.fill(0);
    SecretString::from(s)
}

/// The displayable hint of a secret: its prefix and first characters, e.g. `psc_AbCd…`.
pub fn hint_of(secret: &SecretString) -> String {
    let s = secret.expose_secret();
    let shown: String = s.chars().take(SECRET_PREFIX.len() + HINT_LEN).collect();
    format!("{shown}…")
}

/// The Argon2id PHC string of `secret` (random 128-bit salt), computed synchronously.
pub fn hash_secret_now(secret: &SecretString) -> Result<String, Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()?
        .hash_password(secret.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

/// [`hash_secret_now`] on the blocking pool, at most two at a time.
pub async fn hash_secret(secret: &SecretString) -> Result<String, Error> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|_| Error::Internal("hashing semaphore closed".into()))?;
    let secret = secret.clone();
    tokio::task::spawn_blocking(move || hash_secret_now(&secret))
        .await
        .map_err(|e| Error::Internal(format!("hashing task: {e}")))?
}

/// Whether `presented` matches the PHC string (Argon2id only): the one check the gate runs too.
pub use jose::client_secret::verify_secret;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bit_url_safe_and_distinct() {
        let a = generate_secret();
        let b = generate_secret();
        let body = a.expose_secret().strip_prefix(SECRET_PREFIX).expect("ok");
        assert_eq!(URL_SAFE_NO_PAD.decode(body).expect("ok").len(), 32);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(hint_of(&a).starts_with(&a.expose_secret()[..8]));
        assert_eq!(hint_of(&a).chars().count(), 9);
    }

    #[test]
    fn argon2id_with_owasp_parameters_verifies_only_the_right_secret() {
        let s = generate_secret();
        let phc = hash_secret_now(&s).expect("ok");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains(s.expose_secret()));
        assert!(verify_secret(&phc, s.expose_secret()));
        assert!(!verify_secret(&phc, generate_secret().expose_secret()));
        assert!(!verify_secret(&phc, ""));
        assert!(!verify_secret("not a phc string", s.expose_secret()));
        // The same secret hashes differently each time (random salt).
        assert_ne!(phc, hash_secret_now(&s).expect("ok"));
    }

    #[test]
    fn a_non_argon2id_hash_is_refused() {
        let s = generate_secret();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(s.expose_secret().as_bytes(), &salt)
            .expect("ok")
            .to_string();
        assert!(!verify_secret(&argon2i, s.expose_secret()));
    }
}
