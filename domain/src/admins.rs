//! Admins and their passkeys: the people who may use the console.
//!
//! Usernames are case-folded and restricted to a safe alphabet so that two admins can never
//! look alike in the audit log; display names are free text without control characters.

pub mod service;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Error;

/// A validated username: 3–64 characters of `a-z 0-9 . _ -`, starting with a letter or digit,
/// stored lower-case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, Error> {
        let s = input.trim().to_ascii_lowercase();
        if s.len() < 3 || s.len() > 64 {
            return Err(Error::invalid("Username must be 3 to 64 characters long."));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Err(Error::invalid(
                "Username may contain only letters, digits, '.', '_' and '-'.",
            ));
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(Error::invalid(
                "Username must start with a letter or a digit.",
            ));
        }
        Ok(Username(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated display name: 1–100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, Error> {
        let s = input.trim();
        let n = s.chars().count();
        if n == 0 || n > 100 {
            return Err(Error::invalid(
                "Display name must be 1 to 100 characters long.",
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::invalid(
                "Display name must not contain control characters.",
            ));
        }
        Ok(DisplayName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an admin may do: the roles and their permissions live in [`policy::access`].
pub use policy::access::{Permission, Role};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admin {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at_ms: i64,
}

/// A registered passkey. `passkey_json` is webauthn-rs's serialised `Passkey` (public key,
/// counter, flags): public material, not a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub admin_id: Uuid,
    /// base64url credential id, unique across all admins.
    pub credential_id: String,
    pub passkey_json: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
    /// The admin's name for it ("YubiKey 5C"); empty until they name it.
    pub name: String,
    /// The authenticator model's AAGUID (lower-case hyphenated UUID) when it told us.
    pub aaguid: Option<String>,
    /// The signature counter of its last accepted assertion. It only moves forward (0 stays
    /// allowed for authenticators that never count).
    pub sign_count: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_folded_and_restricted() {
        assert_eq!(
            Username::parse("  Alice.Ops ").map(|u| u.0).ok(),
            Some("alice.ops".to_string())
        );
        for bad in [
            "ab",
            "",
            "al ice",
            "_alice",
            "alïce",
            &"a".repeat(65),
            "ali\nce",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn display_names_refuse_control_characters() {
        assert!(DisplayName::parse("Alice Ops").is_ok());
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{1b}[31m").is_err());
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(101)).is_err());
    }
}
