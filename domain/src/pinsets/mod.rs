//! Pin sets: the SPKI pins (RFC 7469 §2.4) an app release ships for one hostname, the linter
//! that refuses sets which would brick an app, the platform exports, and the rotation planner.
//!
//! This module owns the pure model and rules only: no storage, no clock, no I/O. Callers pass
//! "today" and what they know about the live chain, so every rule is testable as a function.
//! Invariants it relies on: a [`Pin`] is always 32 bytes (the type cannot hold anything else);
//! a stored hostname went through [`parse_hostname`]; the order of [`PinSet::pins`] is the order
//! of every export, so the same set always produces the same bytes. The exports still escape
//! every string they write (hostnames and labels included), so a set built by hand with a bad
//! hostname or a hostile label yields a well-formed file, never an injected element or line.
//! It depends on `crate::pins` only.
//!
//! - [`mod@lint`]: the rules an export must pass ([`lint::blocks_export`]).
//! - [`export`]: Android, iOS `NSPinnedDomains`, TrustKit, OkHttp and JSON renderings.
//! - [`planner`]: which shipped releases a proposed rotation would break.

pub mod export;
pub mod lint;
pub mod planner;
pub mod service;

#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::pins::Pin;

pub use export::{
    android_network_security_config, expiry_note, ios_pinned_domains_plist, json, okhttp_kotlin,
    render, trustkit_plist, trustkit_swift, ExportFormat,
};
pub use lint::{blocks_export, lint, parse_pin_input, Finding, Level, LintContext};
pub use planner::{
    expiry_disables_pinning, plan_rotation, rotation_blocked, ShippedRelease, Verdict,
};
/// The platforms of the apps that ship pin sets live in `policy::certs` (the browser shares them).
pub use policy::certs::AppPlatform;

/// The pins one app release trusts for one hostname.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinSet {
    /// Lower-case DNS name, as returned by [`parse_hostname`].
    pub hostname: String,
    /// Whether subdomains of `hostname` are pinned too (Android `includeSubdomains`, iOS
    /// `NSIncludesSubdomains`, TrustKit `TSKIncludeSubdomains`, OkHttp `**.` pattern).
    pub include_subdomains: bool,
    /// Android `pin-set expiration` and TrustKit `TSKExpirationDate`; iOS `NSPinnedDomains`
    /// and OkHttp have no expiry (see [`expiry_note`]).
    pub expires_on: NaiveDate,
    /// Increases on every change, so a release records exactly which set it shipped.
    pub version: u32,
    /// In export order.
    pub pins: Vec<PinEntry>,
}

/// One pin of a set, with what the admin needs to know about its key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinEntry {
    pub pin: Pin,
    /// Free text for people ("api 2026 next key"). Exports write it only in comments, made safe
    /// for each format; it never becomes markup or code.
    pub label: String,
    pub role: PinRole,
    pub custody: KeyCustody,
}

/// Where in the chain the pinned key sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinRole {
    /// The key of the certificate served today.
    CurrentLeaf,
    /// The key the next certificate will use (generated ahead, see issue 3 item 6).
    NextKey,
    /// An issuing CA's key.
    Intermediate,
    /// A root CA's key.
    Root,
    /// Another leaf-level key kept in reserve (for example offline).
    Backup,
}

impl PinRole {
    /// Leaf-level keys go in iOS `NSPinnedLeafIdentities`; CA keys in `NSPinnedCAIdentities`.
    pub fn is_ca(self) -> bool {
        matches!(self, PinRole::Intermediate | PinRole::Root)
    }

    /// Words for people, used in comments and messages.
    pub fn describe(self) -> &'static str {
        match self {
            PinRole::CurrentLeaf => "current leaf key",
            PinRole::NextKey => "next key",
            PinRole::Intermediate => "intermediate CA key",
            PinRole::Root => "root CA key",
            PinRole::Backup => "backup key",
        }
    }
}

/// Who holds the private key behind a pin. Only a key that someone can actually put into a
/// certificate later makes a real backup pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyCustody {
    /// The console holds the private key (sealed under the master key).
    HeldHere,
    /// The admin declares the key is held offline (HSM, safe).
    HeldOffline,
    /// A CA holds the key, e.g. an intermediate's.
    CaManaged,
    /// Nobody has said; treated as "not a usable backup".
    Unknown,
}

impl KeyCustody {
    /// Whether a certificate can later be issued for this key by us.
    pub fn can_back_up(self) -> bool {
        matches!(self, KeyCustody::HeldHere | KeyCustody::HeldOffline)
    }
}

/// Why a hostname is refused. Messages are shown to the admin as they are.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostnameError {
    #[error("the hostname is empty")]
    Empty,
    #[error("remove the scheme \"{0}://\": enter the host name only, e.g. api.example.com")]
    Scheme(String),
    #[error("remove the path \"{0}\": a pin set applies to a whole host")]
    Path(String),
    #[error("remove the port \"{0}\": pins apply to the host on every port")]
    Port(String),
    #[error("remove the user info \"{0}@\"")]
    UserInfo(String),
    #[error(
        "wildcards are not allowed: pin the parent name (\"{0}\") and turn on include subdomains"
    )]
    Wildcard(String),
    #[error("\"{0}\" is an IP address: pin sets are per DNS name")]
    IpAddress(String),
    #[error(
        "non-ASCII character {0:?}: enter the internationalised name in its punycode (xn--) form"
    )]
    NonAscii(char),
    #[error(
        "character {ch:?} at position {position} is not allowed: use letters, digits, '-' and '.'"
    )]
    BadCharacter { ch: char, position: usize },
    #[error("the hostname is {0} characters long; DNS allows at most 253")]
    TooLong(usize),
    #[error("empty label at position {0}: check for a leading, trailing or doubled dot")]
    EmptyLabel(usize),
    #[error("label \"{label}\" is {len} characters long; DNS allows at most 63")]
    LabelTooLong { label: String, len: usize },
    #[error("label \"{0}\" starts or ends with '-', which DNS does not allow")]
    HyphenEdge(String),
    #[error("\"{0}\" is a single label: enter the fully qualified name, e.g. api.example.com")]
    SingleLabel(String),
    #[error("the last label \"{0}\" is all digits: a top-level domain never is")]
    NumericTld(String),
}

/// Parses what an admin typed into the canonical hostname of a pin set: a lower-case DNS name
/// (RFC 1035 §2.3.4 lengths, RFC 1123 §2.1 letters-digits-hyphen labels) with at least two
/// labels, no wildcard, scheme, port, path or trailing dot. Surrounding whitespace is ignored
/// and ASCII upper case is folded, since DNS names are case-insensitive (RFC 4343); OkHttp and
/// Android match the lower-case form.
pub fn parse_hostname(input: &str) -> Result<String, HostnameError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(HostnameError::Empty);
    }
    if let Some((scheme, _)) = s.split_once("://") {
        return Err(HostnameError::Scheme(scheme.to_string()));
    }
    if let Some(idx) = s.find(['/', '?', '#']) {
        return Err(HostnameError::Path(s[idx..].to_string()));
    }
    if let Some((user, _)) = s.split_once('@') {
        return Err(HostnameError::UserInfo(user.to_string()));
    }
    if s.starts_with('[') || s.matches(':').count() > 1 {
        return Err(HostnameError::IpAddress(s.to_string()));
    }
    if let Some(idx) = s.find(':') {
        return Err(HostnameError::Port(s[idx..].to_string()));
    }
    if s.contains('*') {
        let parent = s.trim_start_matches(['*', '.']);
        return Err(HostnameError::Wildcard(parent.to_ascii_lowercase()));
    }
    if let Some(ch) = s.chars().find(|c| !c.is_ascii()) {
        return Err(HostnameError::NonAscii(ch));
    }
    let host = s.to_ascii_lowercase();
    if let Some((position, ch)) = host
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
    {
        return Err(HostnameError::BadCharacter { ch, position });
    }
    if host.len() > 253 {
        return Err(HostnameError::TooLong(host.len()));
    }
    let mut position = 0;
    let mut labels = 0;
    let mut last = "";
    for label in host.split('.') {
        if label.is_empty() {
            return Err(HostnameError::EmptyLabel(position));
        }
        if label.len() > 63 {
            return Err(HostnameError::LabelTooLong {
                label: label.to_string(),
                len: label.len(),
            });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(HostnameError::HyphenEdge(label.to_string()));
        }
        position += label.len() + 1;
        labels += 1;
        last = label;
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return if labels == 4 && host.split('.').all(|l| l.parse::<u8>().is_ok()) {
            Err(HostnameError::IpAddress(host))
        } else {
            Err(HostnameError::NumericTld(last.to_string()))
        };
    }
    if labels < 2 {
        return Err(HostnameError::SingleLabel(host));
    }
    Ok(host)
}
