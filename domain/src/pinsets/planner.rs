//! The rotation planner (issue 3 item 10): for a proposed new certificate chain, which shipped
//! app releases would still connect.
//!
//! Owns the verdict rules only; the store supplies the releases and the new chain's SPKI pins,
//! the caller supplies "today". Invariants: one verdict per release, in input order; an
//! unsupported release is always reported but never blocks ([`rotation_blocked`]); a release
//! counts as safe only when one of its shipped pins is in the new chain, or when its platform
//! turns pinning off after an expiration date that has passed (Android, TrustKit). Unknown
//! platforms are assumed to enforce pins forever, the safe side.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::pins::Pin;

/// Platform names for [`ShippedRelease::platform`] whose pins stop being enforced after their
/// expiration date: Android network security config (`pin-set expiration`) and TrustKit
/// (`TSKExpirationDate`). Compared case-insensitively.
pub const FAIL_OPEN_PLATFORMS: &[&str] = &["android", "trustkit"];

/// One app release as recorded when it shipped (issue 3 item 9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippedRelease {
    pub app: String,
    /// How the release pins: `android` (network security config), `trustkit`, `ios`
    /// (NSPinnedDomains), `okhttp`, or anything else (treated as never expiring).
    pub platform: String,
    pub version: String,
    pub pinset_version: u32,
    pub pins: Vec<Pin>,
    pub include_subdomains: bool,
    pub expires_on: Option<NaiveDate>,
    /// Still supported: a break would matter. Unsupported releases are reported, never blocking.
    pub supported: bool,
}

/// The planner's answer for one release (green when `ok`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Index of the release in the input slice.
    pub index: usize,
    pub app: String,
    pub platform: String,
    pub version: String,
    pub supported: bool,
    /// The release will still connect after the rotation.
    pub ok: bool,
    pub reason: String,
}

/// Whether pins that shipped for `platform` stop being enforced after their expiration date.
pub fn expiry_disables_pinning(platform: &str) -> bool {
    FAIL_OPEN_PLATFORMS
        .iter()
        .any(|p| p.eq_ignore_ascii_case(platform.trim()))
}

/// Judges every release against `new_chain` (the SPKI pins of the chain the host would serve
/// after the rotation: leaf, intermediates, root). A pin check passes when any pin the app
/// shipped is the SPKI pin of any certificate in the chain, which is how Android, TrustKit and
/// OkHttp check. iOS with both `NSPinnedCAIdentities` and `NSPinnedLeafIdentities` is stricter
/// (a match in each); a release record keeps only its pins, so that case is judged like the
/// others and the linter warns about such sets before they ship.
pub fn plan_rotation(
    releases: &[ShippedRelease],
    new_chain: &[Pin],
    today: NaiveDate,
) -> Vec<Verdict> {
    releases
        .iter()
        .enumerate()
        .map(|(index, r)| {
            let (ok, why) = judge(r, new_chain, today);
            let reason = if r.supported {
                why
            } else {
                format!("no longer supported, reported only (does not block): {why}")
            };
            Verdict {
                index,
                app: r.app.clone(),
                platform: r.platform.clone(),
                version: r.version.clone(),
                supported: r.supported,
                ok,
                reason,
            }
        })
        .collect()
}

fn judge(r: &ShippedRelease, new_chain: &[Pin], today: NaiveDate) -> (bool, String) {
    if r.pins.is_empty() {
        return (
            true,
            "ships no pins for this host, so it does not pin".into(),
        );
    }
    // Android and TrustKit read the date as the start of that day: on it, pinning is off.
    if let Some(date) = r.expires_on.filter(|d| *d <= today) {
        if expiry_disables_pinning(&r.platform) {
            return (
                true,
                format!("pins expired on {date}: the app no longer pins"),
            );
        }
    }
    if let Some(hit) = r.pins.iter().find(|p| new_chain.contains(p)) {
        return (
            true,
            format!(
                "ships pin-set v{} with key {hit}, which the new chain presents",
                r.pinset_version
            ),
        );
    }
    let shipped = list(&r.pins);
    let presented = if new_chain.is_empty() {
        "no keys".to_string()
    } else {
        list(new_chain)
    };
    let mut reason = format!(
        "ships pin-set v{} with pins for keys {shipped}; the new chain presents {presented}: \
         none match, so every connection to the host would fail",
        r.pinset_version
    );
    if let Some(date) = r.expires_on.filter(|d| *d <= today) {
        reason.push_str(&format!(
            " (its pins expired on {date}, but {} ignores the date and keeps pinning)",
            if r.platform.trim().is_empty() {
                "this platform"
            } else {
                r.platform.trim()
            }
        ));
    }
    (false, reason)
}

fn list(pins: &[Pin]) -> String {
    pins.iter()
        .map(Pin::to_base64)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the rotation must be blocked: a supported release would break. Unsupported releases
/// never block; an owner override is the caller's business (and is audited there).
pub fn rotation_blocked(verdicts: &[Verdict]) -> bool {
    verdicts.iter().any(|v| v.supported && !v.ok)
}
