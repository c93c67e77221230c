use super::*;
use crate::pinsets::{expiry_disables_pinning, plan_rotation, rotation_blocked, ShippedRelease};

fn release(
    app: &str,
    platform: &str,
    version: &str,
    expires_on: Option<NaiveDate>,
) -> ShippedRelease {
    ShippedRelease {
        app: app.into(),
        platform: platform.into(),
        version: version.into(),
        pinset_version: 7,
        pins: vec![pin("leaf-2025"), pin("next-2026")],
        include_subdomains: true,
        expires_on,
        supported: true,
    }
}

fn shipped() -> Vec<ShippedRelease> {
    vec![
        release("Acme", "android", "3.1.0", Some(day(2026, 9, 1))),
        release("Acme", "ios", "3.1.0", None),
    ]
}

#[test]
fn rotating_to_the_pre_shipped_next_key_keeps_releases_green() {
    let new_chain = [pin("next-2026"), pin("intermediate")];
    let verdicts = plan_rotation(&shipped(), &new_chain, today());
    assert_eq!(verdicts.len(), 2);
    for (i, v) in verdicts.iter().enumerate() {
        assert_eq!(v.index, i);
        assert!(v.ok, "{v:?}");
        assert!(
            v.reason.contains(&pin("next-2026").to_base64()),
            "{}",
            v.reason
        );
        assert!(v.reason.contains("pin-set v7"));
    }
    assert_eq!(
        (verdicts[0].platform.as_str(), verdicts[1].platform.as_str()),
        ("android", "ios")
    );
    assert!(!rotation_blocked(&verdicts));
}

#[test]
fn rotating_to_a_fresh_key_turns_releases_red_and_blocks() {
    let fresh = pin("fresh-key");
    let verdicts = plan_rotation(&shipped(), &[fresh, pin("other-ca")], today());
    assert!(verdicts.iter().all(|v| !v.ok));
    let reason = &verdicts[1].reason;
    assert!(
        reason.contains(&format!("keys {}, {}", pin("leaf-2025"), pin("next-2026"))),
        "names the keys the app expects: {reason}"
    );
    assert!(
        reason.contains(&format!("presents {}, {}", fresh, pin("other-ca"))),
        "{reason}"
    );
    assert!(rotation_blocked(&verdicts));
}

#[test]
fn unsupported_releases_are_reported_but_never_block() {
    let mut releases = shipped();
    for r in &mut releases {
        r.supported = false;
    }
    let verdicts = plan_rotation(&releases, &[pin("fresh-key")], today());
    assert!(verdicts.iter().all(|v| !v.ok && !v.supported));
    assert!(verdicts[0]
        .reason
        .starts_with("no longer supported, reported only"));
    assert!(!rotation_blocked(&verdicts));

    // One supported red release is enough to block.
    releases[1].supported = true;
    assert!(rotation_blocked(&plan_rotation(
        &releases,
        &[pin("fresh-key")],
        today()
    )));
}

#[test]
fn expired_pins_are_off_on_android_and_trustkit_but_not_on_ios_or_okhttp() {
    let expired = Some(day(2026, 1, 1));
    let releases = vec![
        release("Acme", "android", "2.0.0", expired),
        release("Acme", "TrustKit", "2.0.0", expired),
        release("Acme", "ios", "2.0.0", expired),
        release("Acme", "okhttp", "2.0.0", expired),
        release("Acme", "Android", "2.1.0", Some(today())),
        release("Acme", "android", "2.2.0", Some(day(2026, 3, 2))),
    ];
    let verdicts = plan_rotation(&releases, &[pin("fresh-key")], today());
    let ok: Vec<bool> = verdicts.iter().map(|v| v.ok).collect();
    assert_eq!(ok, vec![true, true, false, false, true, false]);
    assert_eq!(
        verdicts[0].reason,
        "pins expired on 2026-01-01: the app no longer pins"
    );
    assert!(
        verdicts[2]
            .reason
            .contains("ios ignores the date and keeps pinning"),
        "{}",
        verdicts[2].reason
    );
    assert!(rotation_blocked(&verdicts));
    assert!(expiry_disables_pinning(" ANDROID "));
    assert!(!expiry_disables_pinning("flutter"));
}

#[test]
fn a_release_without_pins_or_against_an_empty_chain() {
    let mut no_pins = release("Acme", "ios", "1.0.0", None);
    no_pins.pins.clear();
    let v = plan_rotation(
        &[no_pins, release("Acme", "ios", "3.1.0", None)],
        &[],
        today(),
    );
    assert!(v[0].ok, "an app that does not pin is not affected");
    assert!(!v[1].ok);
    assert!(v[1].reason.contains("presents no keys"), "{}", v[1].reason);
}
