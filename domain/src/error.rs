//! The domain's error type. Each variant maps to one HTTP status in the server and app; the
//! `Internal` and `Store` variants never reach a browser with their detail.

use crate::ports::StoreError;
use crate::setup::SetupTokenError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is malformed or breaks a rule; the message says which, in the user's terms.
    #[error("{0}")]
    Invalid(String),
    /// Sign-in or a ceremony failed. Deliberately vague towards the user: the reason is audited.
    #[error("Sign-in failed. Check the username and try your passkey again.")]
    AuthFailed { reason: &'static str },
    #[error("You are not signed in.")]
    Unauthenticated,
    #[error("You do not have permission to do this.")]
    Forbidden,
    #[error("{0}")]
    Conflict(String),
    /// The object asked for does not exist (any more); the message names it.
    #[error("{0}")]
    NotFound(String),
    #[error("Too many attempts. Try again in {retry_after_s} s.")]
    Throttled { retry_after_s: u64 },
    #[error(transparent)]
    SetupToken(#[from] SetupTokenError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
}
