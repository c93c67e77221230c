//! The one-time setup link that creates the first owner.
//!
//! Rules: a token is valid for one hour from issue, works once, and is stored only as its hash.
//! Consuming it happens in the same transaction that creates the owner, so two browsers racing
//! with the same link cannot both succeed.

use serde::{Deserialize, Serialize};

use crate::tokens;

/// Lifetime of a setup link.
pub const SETUP_TOKEN_TTL_MS: i64 = 60 * 60 * 1000;

/// What the database keeps of a setup token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupTokenRecord {
    pub token_hash: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub used_at_ms: Option<i64>,
}

/// Why a setup link does not work, in words an admin can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetupTokenError {
    #[error("This setup link is not valid. Run `palisade admin bootstrap` for a new one.")]
    Unknown,
    #[error("This setup link has expired (links last one hour). Run `palisade admin bootstrap` for a new one.")]
    Expired,
    #[error(
        "This setup link has already been used. Run `palisade admin bootstrap` for a new one."
    )]
    Used,
    #[error("An owner exists already, so setup links no longer work. Ask an owner or admin for an invite.")]
    OwnerExists,
}

impl SetupTokenRecord {
    /// A new record and the plaintext token to put in the URL (shown once, never stored).
    pub fn issue(now_ms: i64) -> (Self, secrecy::SecretString) {
        let token = tokens::random_token();
        let record = SetupTokenRecord {
            token_hash: tokens::secret_hash(&token),
            created_at_ms: now_ms,
            expires_at_ms: now_ms + SETUP_TOKEN_TTL_MS,
            used_at_ms: None,
        };
        (record, token)
    }

    /// Whether the token may be used at `now_ms`.
    pub fn check(&self, now_ms: i64) -> Result<(), SetupTokenError> {
        if self.used_at_ms.is_some() {
            return Err(SetupTokenError::Used);
        }
        if now_ms >= self.expires_at_ms {
            return Err(SetupTokenError::Expired);
        }
        Ok(())
    }
}

/// The URL printed for the operator.
pub fn setup_url(public_url: &url::Url, token: &str) -> String {
    let mut url = public_url.clone();
    url.set_path("/setup");
    url.set_query(Some(&format!("token={token}")));
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn token_is_valid_for_one_hour_and_once() {
        let (rec, token) = SetupTokenRecord::issue(1_000);
        assert_eq!(rec.token_hash, tokens::token_hash(token.expose_secret()));
        assert_eq!(rec.check(1_000), Ok(()));
        assert_eq!(rec.check(1_000 + SETUP_TOKEN_TTL_MS - 1), Ok(()));
        assert_eq!(
            rec.check(1_000 + SETUP_TOKEN_TTL_MS),
            Err(SetupTokenError::Expired)
        );
        let used = SetupTokenRecord {
            used_at_ms: Some(2_000),
            ..rec
        };
        assert_eq!(used.check(2_001), Err(SetupTokenError::Used));
    }

    #[test]
    fn setup_url_carries_the_token() {
        let base = url::Url::parse("http://localhost:3000").expect("valid url");
        assert_eq!(
            setup_url(&base, "abc"),
            "http://localhost:3000/setup?token=abc"
        );
    }
}
