//! Certificate rules the console's server and its browser code share: the kinds and statuses a
//! stored certificate has, and the validity limits (defaults, maxima, the public-CA warning
//! threshold and schedule). The domain enforces them when it issues; the Certificates page shows
//! the same numbers and warnings as you type. Nothing here reads a clock: the schedule takes the
//! date as an argument. It also names which key a rotation moves to ([`RotationTarget`]) and
//! the platforms of the apps that ship pin sets ([`AppPlatform`]).
//!
//! Limits, with their sources:
//! - A server certificate is valid for at most [`SERVER_MAX_DAYS`] (825): iOS and macOS reject
//!   TLS server certificates valid longer, even from a private CA ("Requirements for trusted
//!   certificates in iOS 13 and macOS 10.15").
//! - Above [`PUBLIC_CA_WARN_DAYS`] (200) the console warns: publicly trusted CAs may not issue
//!   that long from 2026-03-15 (CA/Browser Forum ballot SC-081, [`public_ca_max_days`]).
//! - A CA certificate is valid for at most [`CA_MAX_DAYS`] (20 years).

use serde::{Deserialize, Serialize};

/// Default validity of a root CA: 10 years.
pub const CA_ROOT_DEFAULT_DAYS: u32 = 3650;
/// Default validity of an intermediate CA: 5 years.
pub const CA_INTERMEDIATE_DEFAULT_DAYS: u32 = 1825;
/// Longest CA (root or intermediate) validity accepted: 20 years.
pub const CA_MAX_DAYS: u32 = 7300;
/// Default validity of a server certificate: 90 days.
pub const SERVER_DEFAULT_DAYS: u32 = 90;
/// Longest server certificate validity accepted: Apple platforms reject TLS server certificates
/// valid for more than 825 days, even from a private CA.
pub const SERVER_MAX_DAYS: u32 = 825;
/// Above this many days a server certificate gets a warning: the public-CA maximum from
/// 2026-03-15 (SC-081).
pub const PUBLIC_CA_WARN_DAYS: u32 = 200;

/// The public-CA maximum validity schedule, shown beside every server validity choice.
pub const PUBLIC_CA_SCHEDULE: &str = "Publicly trusted CAs may issue TLS server certificates for at most 200 days from 2026-03-15, 100 days from 2027-03-15 and 47 days from 2029-03-15 (CA/Browser Forum ballot SC-081). Plan rotations (and the next key's pin) for that cadence even for internal certificates.";

/// The public-CA maximum validity in days on the calendar date `(year, month, day)` (CA/B Forum
/// ballot SC-081): 398 before 2026-03-15, then [`PUBLIC_CA_WARN_DAYS`] (200), 100 from
/// 2027-03-15 and 47 from 2029-03-15.
pub fn public_ca_max_days(date: (i32, u32, u32)) -> u32 {
    if date >= (2029, 3, 15) {
        47
    } else if date >= (2027, 3, 15) {
        100
    } else if date >= (2026, 3, 15) {
        PUBLIC_CA_WARN_DAYS
    } else {
        398
    }
}

/// Warnings for a server certificate valid for `days`: above [`PUBLIC_CA_WARN_DAYS`] (with the
/// schedule), and above Apple's limit ([`SERVER_MAX_DAYS`]), which the console refuses anyway
/// but an imported or external certificate may exceed.
pub fn server_validity_warnings(days: u32) -> Vec<String> {
    let mut out = Vec::new();
    if days > PUBLIC_CA_WARN_DAYS {
        out.push(format!(
            "A validity of {days} days is above {PUBLIC_CA_WARN_DAYS} days. {PUBLIC_CA_SCHEDULE}"
        ));
    }
    if days > SERVER_MAX_DAYS {
        out.push(format!(
            "iOS and macOS reject TLS server certificates valid for more than {SERVER_MAX_DAYS} days, even from a private CA."
        ));
    }
    out
}

/// Reads a validity in days as a form submits it: blank means `default`; otherwise a whole
/// number from 1 to `max`. The error names `what` and the range.
pub fn parse_days(s: &str, default: u32, max: u32, what: &str) -> Result<u32, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(default);
    }
    match s.parse::<u32>() {
        Ok(d) if (1..=max).contains(&d) => Ok(d),
        _ => Err(format!(
            "{what} must be a whole number of days from 1 to {max}"
        )),
    }
}

/// What a stored certificate is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// A self-signed internal root CA.
    RootCa,
    /// An internal CA signed by another internal CA.
    IntermediateCa,
    /// A TLS server certificate issued by an internal CA.
    Server,
    /// A chain imported as PEM (or a CSR fulfilled by an external CA).
    Imported,
}

impl CertKind {
    pub const ALL: [CertKind; 4] = [
        CertKind::RootCa,
        CertKind::IntermediateCa,
        CertKind::Server,
        CertKind::Imported,
    ];

    /// The stored name: `root_ca`, `intermediate_ca`, `server`, `imported`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertKind::RootCa => "root_ca",
            CertKind::IntermediateCa => "intermediate_ca",
            CertKind::Server => "server",
            CertKind::Imported => "imported",
        }
    }

    /// Parses a stored name exactly, as [`CertKind::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the certificate is an internal CA (it may issue).
    pub fn is_ca(self) -> bool {
        matches!(self, CertKind::RootCa | CertKind::IntermediateCa)
    }

    /// The longest validity the console issues a certificate of this kind with (an imported
    /// certificate was issued elsewhere: the server maximum is what Apple platforms accept).
    pub fn max_days(self) -> u32 {
        if self.is_ca() {
            CA_MAX_DAYS
        } else {
            SERVER_MAX_DAYS
        }
    }
}

impl core::fmt::Display for CertKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a stored certificate is its hostname's (or CA's) current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertStatus {
    /// Current: served for its hostname, or a CA that issues.
    Active,
    /// Replaced by a rotation or a newer import; kept for the record.
    Superseded,
}

impl CertStatus {
    pub const ALL: [CertStatus; 2] = [CertStatus::Active, CertStatus::Superseded];

    /// The stored name: `active` or `superseded`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Active => "active",
            CertStatus::Superseded => "superseded",
        }
    }

    /// Parses a stored name exactly, as [`CertStatus::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl core::fmt::Display for CertStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which key a hostname's certificate rotates to. The wire and audit names are `next` and
/// `fresh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RotationTarget {
    /// The pre-generated next key, whose pin shipped as the backup pin.
    #[serde(rename = "next")]
    NextKey,
    /// A key generated at rotation, which no shipped app knows.
    #[serde(rename = "fresh")]
    FreshKey,
}

impl RotationTarget {
    pub const ALL: [RotationTarget; 2] = [RotationTarget::NextKey, RotationTarget::FreshKey];

    /// The submitted and audited name: `next` or `fresh`.
    pub fn as_str(self) -> &'static str {
        match self {
            RotationTarget::NextKey => "next",
            RotationTarget::FreshKey => "fresh",
        }
    }

    /// Parses a name exactly, as [`RotationTarget::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl core::fmt::Display for RotationTarget {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The platform of an app that ships a pin set (a recorded release): Android or iOS, the two
/// the exports target. Stored and submitted as `android` or `ios`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AppPlatform {
    Android,
    Ios,
}

impl AppPlatform {
    pub const ALL: [AppPlatform; 2] = [AppPlatform::Android, AppPlatform::Ios];

    /// The stored and submitted name: `android` or `ios`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppPlatform::Android => "android",
            AppPlatform::Ios => "ios",
        }
    }

    /// Parses a name exactly, as [`AppPlatform::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// How the console names the platform to people.
    pub fn label(self) -> &'static str {
        match self {
            AppPlatform::Android => "Android",
            AppPlatform::Ios => "iOS",
        }
    }
}

impl core::fmt::Display for AppPlatform {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_refuse_unknown_names() {
        for k in CertKind::ALL {
            assert_eq!(CertKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).expect("json"),
                format!("\"{}\"", k.as_str())
            );
        }
        for bad in ["", "ca", "Root_CA", "server ", "leaf"] {
            assert_eq!(CertKind::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rotation_targets_and_app_platforms_keep_their_wire_names() {
        for t in RotationTarget::ALL {
            assert_eq!(RotationTarget::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_string(&t).expect("json"), format!("\"{t}\""));
            assert_eq!(
                serde_json::from_str::<RotationTarget>(&format!("\"{t}\"")).ok(),
                Some(t)
            );
        }
        assert_eq!(RotationTarget::NextKey.as_str(), "next");
        assert_eq!(RotationTarget::FreshKey.as_str(), "fresh");
        for bad in ["", "Next", "next_key", "fresh_key", "new"] {
            assert_eq!(RotationTarget::parse(bad), None, "{bad:?}");
        }
        for p in AppPlatform::ALL {
            assert_eq!(AppPlatform::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_string(&p).expect("json"), format!("\"{p}\""));
        }
        assert_eq!(AppPlatform::Android.as_str(), "android");
        assert_eq!(AppPlatform::Ios.as_str(), "ios");
        for bad in ["", "iOS", "Android", "web", "windows-phone"] {
            assert_eq!(AppPlatform::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_internal_cas_issue_and_they_get_the_ca_limit() {
        assert!(CertKind::RootCa.is_ca());
        assert!(CertKind::IntermediateCa.is_ca());
        assert!(!CertKind::Server.is_ca());
        assert!(!CertKind::Imported.is_ca());
        assert_eq!(CertKind::RootCa.max_days(), CA_MAX_DAYS);
        assert_eq!(CertKind::Server.max_days(), SERVER_MAX_DAYS);
    }

    #[test]
    fn statuses_round_trip_and_refuse_unknown_names() {
        for s in CertStatus::ALL {
            assert_eq!(CertStatus::parse(s.as_str()), Some(s));
        }
        for bad in ["", "Active", "revoked", "current"] {
            assert_eq!(CertStatus::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn limits_are_distinct_and_ordered() {
        // The warning threshold sits below the server maximum, which sits below the CA
        // maximum; the defaults are inside their ranges.
        const {
            assert!(PUBLIC_CA_WARN_DAYS < SERVER_MAX_DAYS);
            assert!(SERVER_MAX_DAYS < CA_MAX_DAYS);
            assert!(SERVER_DEFAULT_DAYS <= PUBLIC_CA_WARN_DAYS);
            assert!(CA_INTERMEDIATE_DEFAULT_DAYS < CA_ROOT_DEFAULT_DAYS);
            assert!(CA_ROOT_DEFAULT_DAYS <= CA_MAX_DAYS);
        }
        assert_eq!(SERVER_MAX_DAYS, 825);
        assert_eq!(PUBLIC_CA_WARN_DAYS, 200);
    }

    #[test]
    fn schedule_follows_sc081() {
        assert_eq!(public_ca_max_days((2026, 3, 14)), 398);
        assert_eq!(public_ca_max_days((2026, 3, 15)), 200);
        assert_eq!(public_ca_max_days((2027, 3, 14)), 200);
        assert_eq!(public_ca_max_days((2027, 3, 15)), 100);
        assert_eq!(public_ca_max_days((2029, 3, 14)), 100);
        assert_eq!(public_ca_max_days((2029, 3, 15)), 47);
        assert_eq!(public_ca_max_days((2030, 1, 1)), 47);
    }

    #[test]
    fn warns_above_the_public_ca_limit_and_above_apples() {
        assert!(server_validity_warnings(SERVER_DEFAULT_DAYS).is_empty());
        assert!(server_validity_warnings(PUBLIC_CA_WARN_DAYS).is_empty());
        let w = server_validity_warnings(PUBLIC_CA_WARN_DAYS + 1);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("201 days is above 200 days"), "{}", w[0]);
        assert!(w[0].contains("47 days from 2029-03-15"), "{}", w[0]);
        assert_eq!(server_validity_warnings(SERVER_MAX_DAYS).len(), 1);
        let w = server_validity_warnings(SERVER_MAX_DAYS + 1);
        assert_eq!(w.len(), 2);
        assert!(w[1].contains("more than 825 days"), "{}", w[1]);
    }

    #[test]
    fn days_parse_within_their_range_only() {
        assert_eq!(parse_days("", 90, SERVER_MAX_DAYS, "Validity"), Ok(90));
        assert_eq!(parse_days("  ", 90, SERVER_MAX_DAYS, "Validity"), Ok(90));
        assert_eq!(parse_days(" 1 ", 90, SERVER_MAX_DAYS, "Validity"), Ok(1));
        assert_eq!(parse_days("825", 90, SERVER_MAX_DAYS, "Validity"), Ok(825));
        for bad in ["0", "826", "-1", "90.5", "ninety", "99999999999"] {
            let e = parse_days(bad, 90, SERVER_MAX_DAYS, "Validity").expect_err(bad);
            assert_eq!(e, "Validity must be a whole number of days from 1 to 825");
        }
        assert_eq!(
            parse_days("7300", 3650, CA_MAX_DAYS, "CA validity"),
            Ok(7300)
        );
        assert!(parse_days("7301", 3650, CA_MAX_DAYS, "CA validity").is_err());
    }
}
