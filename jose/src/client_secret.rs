//! The check of an OAuth client secret against its stored Argon2id hash (RFC 9106), shared by
//! the console (which hashes the secrets it generates) and the gate (which verifies them at its
//! token endpoint from the hashes the bundle carries). The parameters come from the PHC string,
//! so hashes made with older parameters keep verifying.

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;

/// Whether `presented` matches the PHC string; any malformed hash is a mismatch. Only Argon2id
/// hashes are accepted, so a downgraded row cannot weaken verification. Costs tens of
/// milliseconds of CPU by design: callers run it off the async threads.
pub fn verify_secret(phc: &str, presented: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return false;
    }
    Argon2::default()
        .verify_password(presented.as_bytes(), &parsed)
        .is_ok()
}
