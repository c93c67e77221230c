//! The pin-set linter (issue 3 item 7): the mistakes that brick mobile apps, caught before a set
//! is exported.
//!
//! Owns the rules and their stable codes; the UI shows [`Finding::message`] as it is, and an
//! export is refused while [`blocks_export`] is true. Pure: "today" and what is known about the
//! live chain arrive in [`LintContext`]. Every rule is documented on its code constant, with the
//! platform behaviour that makes it matter. Findings come out in a fixed order (rule order, then
//! pin order), so the same input always shows the same list.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use super::{parse_hostname, PinEntry, PinSet};
use crate::pins::{Pin, PinError};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Blocks the export.
    Error,
    /// Shown beside the export; does not block it.
    Warning,
}

/// One lint result. `code` is stable (tests, UI and API match on it); `message` is for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Level,
    pub code: &'static str,
    pub message: String,
}

impl Finding {
    fn error(code: &'static str, message: String) -> Self {
        Finding {
            level: Level::Error,
            code,
            message,
        }
    }
    fn warning(code: &'static str, message: String) -> Self {
        Finding {
            level: Level::Warning,
            code,
            message,
        }
    }
}

/// What the linter needs to know beyond the set itself.
#[derive(Clone, Debug)]
pub struct LintContext {
    /// SPKI pins of the certificates the host serves today (leaf first, then issuers).
    pub live_chain_spki_pins: Vec<Pin>,
    /// SHA-256 of whole certificate DERs we know, to recognise a certificate hash pasted as a pin.
    pub whole_cert_hashes: Vec<Pin>,
    /// The served leaf is issued and renewed by an outside CA (the CA may re-key at renewal).
    pub ca_managed_leaf: bool,
    pub today: NaiveDate,
}

/// Error: the hostname does not pass [`parse_hostname`].
pub const INVALID_HOSTNAME: &str = "invalid_hostname";
/// Error: fewer than two pins. With one pin, the first key change bricks every installed copy
/// (TrustKit refuses such a configuration outright; RFC 7469 §4.3 requires a backup pin).
pub const TOO_FEW_PINS: &str = "too_few_pins";
/// Error: no pin is a usable backup, i.e. outside the live chain and with a private key that
/// exists here or is declared held offline. A "backup" whose key nobody holds cannot be put into
/// a certificate, so it protects nothing.
pub const NO_BACKUP_PIN: &str = "no_backup_pin";
/// Error: a value that is no real key's pin (all zeros, the hash of the empty string, repeated
/// or counting bytes, or an example copied from platform documentation).
pub const PLACEHOLDER_PIN: &str = "placeholder_pin";
/// Error: the same pin twice (usually a copy-paste of the current key as the "backup").
pub const DUPLICATE_PIN: &str = "duplicate_pin";
/// Error: the expiration date is today or past. Android and TrustKit parse it as midnight at the
/// start of that day, so pinning is already off for the whole day.
pub const EXPIRED: &str = "expired";
/// Error from [`parse_pin_input`]: not standard base64.
pub const NOT_BASE64: &str = "not_base64";
/// Error from [`parse_pin_input`]: base64 of something other than 32 bytes.
pub const NOT_32_BYTES: &str = "not_32_bytes";
/// Warning: the pin is the SHA-256 of a whole certificate, not of its SubjectPublicKeyInfo. It
/// never matches a pin check and stops being right at the next renewal anyway.
pub const WHOLE_CERT_HASH: &str = "whole_cert_hash";
/// Warning: the leaf of a CA-managed certificate is pinned without any CA key.
pub const CA_MANAGED_LEAF_ONLY: &str = "ca_managed_leaf_only";
/// Warning: the expiration is more than a year away.
pub const EXPIRY_FAR: &str = "expiry_far";
/// Warning: the expiration is within 30 days.
pub const EXPIRY_SOON: &str = "expiry_soon";
/// Warning: CA and leaf pins together; the iOS export then has both identity arrays and Apple
/// requires a match in each.
pub const IOS_BOTH_ARRAYS: &str = "ios_both_arrays";

/// Days before expiry from which [`EXPIRY_SOON`] warns.
pub const SOON_DAYS: i64 = 30;

/// The SHA-256 of zero bytes, the classic placeholder (`sha256sum < /dev/null`).
const EMPTY_INPUT_SHA256: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

/// Pins printed in platform documentation and copied into apps again and again. They belong to
/// someone else's server (or to nobody), never to ours.
const DOCUMENTATION_PINS: &[(&str, &str)] = &[
    // https://developer.android.com/privacy-and-security/security-config#CertificatePinning
    (
        "7HIpactkIAq2Y49orFOOQKurWxmmSFZhBCoQYcRhJ3Y=",
        "the Android network security config documentation",
    ),
    (
        "fwza0LRMXouZHRC8Ei+4PyuldPDcf3UKgO/04cDM1oE=",
        "the Android network security config documentation",
    ),
    // https://github.com/datatheorem/TrustKit README
    (
        "HXXQgxueCIU5TTLHob/bPbwcKOKw6DkfsTWYHbxbqTY=",
        "the TrustKit README",
    ),
    (
        "0SDf3cRToyZJaMsoS17oF72VMavLxj/N7WBNasNuiR8=",
        "the TrustKit README",
    ),
    (
        "TQEtdMbmwFgYUifM4LDF+xgEtd0z69mPGmkp014d6ZY=",
        "the TrustKit README",
    ),
    (
        "rFjc3wG7lTZe43zeYTvPq8k4xdDEutCmIhI5dn4oCeE=",
        "the TrustKit README",
    ),
    (
        "JbQbUG5JMJUoI6brnx0x3vZF6jilxsapbXGVfjhN8Fg=",
        "the TrustKit README",
    ),
    (
        "WoiWRyIOVNa9ihaBciRSC7XHjliYS9VwUGOIud4PB18=",
        "the TrustKit README",
    ),
    // https://square.github.io/okhttp/5.x/okhttp/okhttp3/-certificate-pinner/index.html
    (
        "afwiKY3RxoMmLkuRW1l7QsPZTJPwDS2pdDROQjXw8ig=",
        "the OkHttp CertificatePinner documentation",
    ),
];

/// Why `pin` is no real key's pin, if it is a placeholder.
pub fn placeholder_reason(pin: &Pin) -> Option<String> {
    let b = pin.as_bytes();
    let b64 = pin.to_base64();
    if b.iter().all(|&x| x == 0) {
        return Some("all 32 bytes are zero".into());
    }
    if b64 == EMPTY_INPUT_SHA256 {
        return Some("it is the SHA-256 of empty input, not of a key".into());
    }
    if b.iter().all(|&x| x == b[0]) {
        return Some(format!("all 32 bytes are 0x{:02x}", b[0]));
    }
    if let Some(period) = (2..=8).find(|&p| b.iter().enumerate().all(|(i, &x)| x == b[i % p])) {
        return Some(format!("it repeats the same {period} bytes"));
    }
    let step = b[1].wrapping_sub(b[0]);
    if b.windows(2).all(|w| w[1].wrapping_sub(w[0]) == step) {
        return Some("its bytes count up or down in equal steps".into());
    }
    if let Some((_, source)) = DOCUMENTATION_PINS.iter().find(|(p, _)| *p == b64) {
        return Some(format!("it is the example pin from {source}"));
    }
    None
}

/// Parses a pin as an admin typed or pasted it (`base64`, or `sha256/base64` as OkHttp writes
/// it), reporting failures as lint errors with a hint at the usual cause.
pub fn parse_pin_input(input: &str) -> Result<Pin, Finding> {
    let trimmed = input.trim();
    if trimmed.is_empty() || trimmed == "sha256/" {
        return Err(Finding::error(
            NOT_32_BYTES,
            "the pin is empty; a SHA-256 pin is 44 characters of base64".into(),
        ));
    }
    if trimmed.starts_with("sha1/") {
        return Err(Finding::error(
            NOT_32_BYTES,
            "this is a SHA-1 pin (sha1/…); every platform export needs SHA-256 pins".into(),
        ));
    }
    Pin::parse(trimmed).map_err(|e| match e {
        PinError::NotBase64 => {
            let hint = if trimmed.contains(['-', '_']) {
                ": it looks like URL-safe base64 ('-' or '_'); pins use standard base64 ('+' and '/')"
            } else {
                ""
            };
            Finding::error(NOT_BASE64, format!("the pin is not valid base64{hint}"))
        }
        PinError::WrongLength(n) => {
            let body = trimmed.strip_prefix("sha256/").unwrap_or(trimmed);
            let hint = if body.len() == 64 && body.bytes().all(|c| c.is_ascii_hexdigit()) {
                ": it looks like a hex SHA-256; convert the 32 bytes to base64"
            } else {
                ""
            };
            Finding::error(
                NOT_32_BYTES,
                format!("the pin decodes to {n} bytes; a SHA-256 pin has exactly 32{hint}"),
            )
        }
    })
}

/// Lints a pin set. Errors block the export ([`blocks_export`]); warnings are shown beside it.
pub fn lint(set: &PinSet, ctx: &LintContext) -> Vec<Finding> {
    let mut out = Vec::new();

    if let Err(e) = parse_hostname(&set.hostname) {
        out.push(Finding::error(
            INVALID_HOSTNAME,
            format!("hostname \"{}\": {e}", set.hostname),
        ));
    }

    if set.pins.len() < 2 {
        out.push(Finding::error(
            TOO_FEW_PINS,
            format!(
                "the set has {} pin(s); at least two are needed (the current key and a backup), \
                 or the first key change leaves every installed copy unable to connect",
                set.pins.len()
            ),
        ));
    }

    let placeholders: Vec<(usize, String)> = set
        .pins
        .iter()
        .enumerate()
        .filter_map(|(i, e)| placeholder_reason(&e.pin).map(|r| (i, r)))
        .collect();

    let is_backup = |i: usize, e: &PinEntry| {
        e.custody.can_back_up()
            && !ctx.live_chain_spki_pins.contains(&e.pin)
            && !ctx.whole_cert_hashes.contains(&e.pin)
            && !placeholders.iter().any(|(j, _)| *j == i)
    };
    if !set.pins.iter().enumerate().any(|(i, e)| is_backup(i, e)) {
        out.push(Finding::error(
            NO_BACKUP_PIN,
            "no backup pin: add a key that is not in the certificate chain served today and \
             whose private key is held here or declared held offline (the next key is the \
             usual one); without it, rotating the certificate breaks every shipped app"
                .into(),
        ));
    }

    for (i, reason) in &placeholders {
        let e = &set.pins[*i];
        out.push(Finding::error(
            PLACEHOLDER_PIN,
            format!("pin {} ({}) is a placeholder: {reason}", e.pin, describe(e)),
        ));
    }

    for (i, e) in set.pins.iter().enumerate() {
        let first = set.pins.iter().position(|o| o.pin == e.pin);
        if first == Some(i) {
            let count = set.pins.iter().filter(|o| o.pin == e.pin).count();
            if count > 1 {
                out.push(Finding::error(
                    DUPLICATE_PIN,
                    format!(
                        "pin {} appears {count} times; each pin must be a different key \
                         (a duplicate is not a backup)",
                        e.pin
                    ),
                ));
            }
        }
    }

    if set.expires_on <= ctx.today {
        out.push(Finding::error(
            EXPIRED,
            format!(
                "the pins expire on {}, which is not in the future: Android and TrustKit would \
                 not pin at all, while iOS and OkHttp (which ignore the date) would still pin",
                set.expires_on
            ),
        ));
    }

    for e in &set.pins {
        if ctx.whole_cert_hashes.contains(&e.pin) {
            out.push(Finding::warning(
                WHOLE_CERT_HASH,
                format!(
                    "pin {} ({}) is the SHA-256 of a whole certificate, not of its public key: \
                     pin checks compare key hashes, so it never matches; use the SPKI pin",
                    e.pin,
                    describe(e)
                ),
            ));
        }
    }

    let has_ca = set.pins.iter().any(|e| e.role.is_ca());
    let has_leaf = set.pins.iter().any(|e| !e.role.is_ca());
    if ctx.ca_managed_leaf && !has_ca {
        out.push(Finding::warning(
            CA_MANAGED_LEAF_ONLY,
            "only leaf keys are pinned, but the certificate is managed by a CA that may issue \
             the renewal on a new key: pin the issuing intermediate or root too, or make sure \
             the renewal reuses a pinned key"
                .into(),
        ));
    }
    if has_ca && has_leaf {
        out.push(Finding::warning(
            IOS_BOTH_ARRAYS,
            "the set pins CA keys and leaf keys: the iOS export lists both NSPinnedCAIdentities \
             and NSPinnedLeafIdentities, and iOS then requires a match in EACH, so a chain must \
             carry a pinned leaf key and a pinned CA key (Android, TrustKit and OkHttp accept \
             any one pin)"
                .into(),
        ));
    }

    if set.expires_on > ctx.today {
        let year_ahead = ctx.today.checked_add_months(Months::new(12));
        if year_ahead.is_some_and(|limit| set.expires_on > limit) {
            out.push(Finding::warning(
                EXPIRY_FAR,
                format!(
                    "the pins expire on {}, more than a year ahead: the date is the safety net \
                     of Android and TrustKit (they stop pinning after it), so a lost key would \
                     lock those users out until then; iOS NSPinnedDomains and OkHttp have no \
                     expiry at all, so there only shipping updates in time protects users",
                    set.expires_on
                ),
            ));
        }
        let days_left = (set.expires_on - ctx.today).num_days();
        if days_left <= SOON_DAYS {
            out.push(Finding::warning(
                EXPIRY_SOON,
                format!(
                    "the pins expire on {} ({days_left} day(s) left): after it, Android and \
                     TrustKit apps with this set stop pinning; ship a release with a later date",
                    set.expires_on
                ),
            ));
        }
    }

    out
}

/// Whether an export must be refused: any finding of level [`Level::Error`].
pub fn blocks_export(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.level == Level::Error)
}

fn describe(e: &PinEntry) -> String {
    let label = super::export::one_line(&e.label, 80);
    if label.is_empty() {
        e.role.describe().to_string()
    } else {
        format!("{}, \"{label}\"", e.role.describe())
    }
}
