use super::*;
use crate::pinsets::lint::{self as rules, placeholder_reason};
use crate::pinsets::{blocks_export, lint, parse_pin_input, Finding, Level};

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.code).collect()
}

fn has(set: &PinSet, ctx: &LintContext, code: &str) -> bool {
    lint(set, ctx).iter().any(|f| f.code == code)
}

fn raw(bytes: [u8; 32]) -> Pin {
    Pin::from_bytes(bytes)
}

#[test]
fn the_careful_set_is_clean() {
    let findings = lint(&good_set(), &ctx());
    assert_eq!(findings, vec![]);
    assert!(!blocks_export(&findings));
}

#[test]
fn invalid_hostname_both_ways() {
    let mut set = good_set();
    set.hostname = "https://api.example.com".into();
    let f = lint(&set, &ctx());
    assert_eq!(codes(&f), vec![rules::INVALID_HOSTNAME]);
    assert!(
        f[0].message.contains("remove the scheme"),
        "{}",
        f[0].message
    );
    assert!(blocks_export(&f));
    set.hostname = "api.example.com".into();
    assert!(!has(&set, &ctx(), rules::INVALID_HOSTNAME));
}

#[test]
fn fewer_than_two_pins_both_ways() {
    let mut set = good_set();
    set.pins.remove(0); // only the next key is left: a real backup, but alone
    let f = lint(&set, &ctx());
    assert_eq!(codes(&f), vec![rules::TOO_FEW_PINS]);
    assert!(f[0].message.contains("has 1 pin(s)"));
    assert!(blocks_export(&f));

    set.pins.push(entry(
        "backup-offline",
        "vault",
        PinRole::Backup,
        KeyCustody::HeldOffline,
    ));
    assert_eq!(lint(&set, &ctx()), vec![]);

    set.pins.clear();
    assert_eq!(
        codes(&lint(&set, &ctx())),
        vec![rules::TOO_FEW_PINS, rules::NO_BACKUP_PIN]
    );
}

#[test]
fn backup_pin_must_be_outside_the_live_chain() {
    let set = good_set();
    let mut live = ctx();
    live.live_chain_spki_pins.push(pin("next-2026")); // the "next" key is already served
    assert_eq!(codes(&lint(&set, &live)), vec![rules::NO_BACKUP_PIN]);
    assert!(blocks_export(&lint(&set, &live)));
    assert!(!has(&set, &ctx(), rules::NO_BACKUP_PIN));
}

#[test]
fn backup_pin_needs_a_private_key_someone_holds() {
    for (custody, blocked) in [
        (KeyCustody::Unknown, true),
        (KeyCustody::CaManaged, true),
        (KeyCustody::HeldOffline, false),
        (KeyCustody::HeldHere, false),
    ] {
        let mut set = good_set();
        set.pins[1].custody = custody;
        assert_eq!(
            has(&set, &ctx(), rules::NO_BACKUP_PIN),
            blocked,
            "{custody:?}"
        );
    }
}

#[test]
fn a_placeholder_or_a_certificate_hash_is_no_backup() {
    let mut set = good_set();
    set.pins[1].pin = raw([0; 32]);
    assert_eq!(
        codes(&lint(&set, &ctx())),
        vec![rules::NO_BACKUP_PIN, rules::PLACEHOLDER_PIN]
    );

    let mut set = good_set();
    let mut c = ctx();
    c.whole_cert_hashes.push(pin("next-2026"));
    assert_eq!(
        codes(&lint(&set, &c)),
        vec![rules::NO_BACKUP_PIN, rules::WHOLE_CERT_HASH]
    );
    set.pins.push(entry(
        "offline",
        "vault",
        PinRole::Backup,
        KeyCustody::HeldOffline,
    ));
    assert_eq!(codes(&lint(&set, &c)), vec![rules::WHOLE_CERT_HASH]);
}

#[test]
fn placeholders_are_errors_and_near_misses_are_not() {
    let empty_hash = Pin::parse("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").expect("valid");
    let android_doc = Pin::parse("7HIpactkIAq2Y49orFOOQKurWxmmSFZhBCoQYcRhJ3Y=").expect("valid");
    let mut counting = [0u8; 32];
    let mut period4 = [0u8; 32];
    for i in 0..32 {
        counting[i] = i as u8;
        period4[i] = [0xde, 0xad, 0xbe, 0xef][i % 4];
    }
    let placeholders = [
        (raw([0; 32]), "all 32 bytes are zero"),
        (empty_hash, "SHA-256 of empty input"),
        (raw([0xff; 32]), "all 32 bytes are 0xff"),
        (raw([0x41; 32]), "all 32 bytes are 0x41"),
        (raw(period4), "repeats the same 4 bytes"),
        (raw(counting), "count up or down"),
        (android_doc, "Android network security config documentation"),
    ];
    for (p, why) in placeholders {
        let mut set = good_set();
        set.pins.push(PinEntry {
            pin: p,
            label: "copied".into(),
            role: PinRole::Backup,
            custody: KeyCustody::HeldOffline,
        });
        let f = lint(&set, &ctx());
        assert_eq!(codes(&f), vec![rules::PLACEHOLDER_PIN], "{p}");
        assert!(f[0].message.contains(why), "{p}: {}", f[0].message);
        assert!(f[0].message.contains(&p.to_base64()));
        assert!(blocks_export(&f));
    }
    // One byte away from each pattern: a legitimate (if unlikely) value.
    let mut near_zero = [0u8; 32];
    near_zero[31] = 1;
    let mut near_period = period4;
    near_period[31] ^= 1;
    let mut near_counting = counting;
    near_counting[16] = 0;
    for bytes in [near_zero, near_period, near_counting] {
        assert_eq!(placeholder_reason(&raw(bytes)), None, "{:?}", bytes);
    }
    assert_eq!(placeholder_reason(&pin("next-2026")), None);
}

#[test]
fn duplicates_both_ways() {
    let mut set = good_set();
    set.pins.push(entry(
        "next-2026",
        "copy of next",
        PinRole::Backup,
        KeyCustody::HeldHere,
    ));
    let f = lint(&set, &ctx());
    assert_eq!(codes(&f), vec![rules::DUPLICATE_PIN]);
    assert!(f[0].message.contains("appears 2 times"));
    assert!(blocks_export(&f));
    set.pins[2] = entry("other-key", "other", PinRole::Backup, KeyCustody::HeldHere);
    assert_eq!(lint(&set, &ctx()), vec![]);
}

#[test]
fn expiration_today_or_past_is_an_error() {
    let mut set = good_set();
    set.expires_on = today();
    let f = lint(&set, &ctx());
    assert_eq!(codes(&f), vec![rules::EXPIRED]);
    assert!(blocks_export(&f));
    set.expires_on = day(2025, 12, 31);
    assert_eq!(codes(&lint(&set, &ctx())), vec![rules::EXPIRED]);
    set.expires_on = day(2026, 3, 2);
    assert_eq!(codes(&lint(&set, &ctx())), vec![rules::EXPIRY_SOON]);
}

#[test]
fn whole_certificate_hash_is_a_warning_both_ways() {
    let mut set = good_set();
    set.pins.push(entry(
        "cert-der",
        "pasted from a fingerprint tool",
        PinRole::Backup,
        KeyCustody::HeldOffline,
    ));
    let mut c = ctx();
    c.whole_cert_hashes = vec![pin("cert-der")];
    let f = lint(&set, &c);
    assert_eq!(codes(&f), vec![rules::WHOLE_CERT_HASH]);
    assert_eq!(f[0].level, Level::Warning);
    assert!(!blocks_export(&f));
    c.whole_cert_hashes = vec![pin("another-cert-der")];
    assert_eq!(lint(&set, &c), vec![]);
}

#[test]
fn leaf_only_pin_of_a_ca_managed_certificate_warns() {
    let mut set = good_set();
    let mut c = ctx();
    c.ca_managed_leaf = true;
    let f = lint(&set, &c);
    assert_eq!(codes(&f), vec![rules::CA_MANAGED_LEAF_ONLY]);
    assert!(!blocks_export(&f));
    assert!(lint(&set, &ctx()).is_empty(), "not CA-managed: no warning");
    set.pins.push(entry(
        "intermediate",
        "issuing CA",
        PinRole::Intermediate,
        KeyCustody::CaManaged,
    ));
    assert!(!has(&set, &c, rules::CA_MANAGED_LEAF_ONLY));
}

#[test]
fn expiry_more_than_a_year_ahead_warns() {
    let mut set = good_set();
    set.expires_on = day(2027, 3, 2);
    let f = lint(&set, &ctx());
    assert_eq!(codes(&f), vec![rules::EXPIRY_FAR]);
    assert!(f[0].message.contains("no expiry"), "{}", f[0].message);
    assert!(!blocks_export(&f));
    set.expires_on = day(2027, 3, 1);
    assert_eq!(lint(&set, &ctx()), vec![]);
}

#[test]
fn expiry_within_thirty_days_warns() {
    let mut set = good_set();
    set.expires_on = day(2026, 3, 31); // 30 days
    let f = lint(&set, &ctx());
    assert_eq!(codes(&f), vec![rules::EXPIRY_SOON]);
    assert!(f[0].message.contains("30 day(s) left"));
    set.expires_on = day(2026, 4, 1); // 31 days
    assert_eq!(lint(&set, &ctx()), vec![]);
}

#[test]
fn leaf_and_ca_pins_together_warn_about_ios() {
    let mut set = good_set();
    set.pins.push(entry(
        "root",
        "our root",
        PinRole::Root,
        KeyCustody::HeldOffline,
    ));
    let f = lint(&set, &ctx());
    assert_eq!(codes(&f), vec![rules::IOS_BOTH_ARRAYS]);
    assert!(f[0].message.contains("EACH"));
    set.pins.retain(|e| e.role.is_ca());
    set.pins.push(entry(
        "root-2",
        "second root",
        PinRole::Root,
        KeyCustody::HeldOffline,
    ));
    assert!(!has(&set, &ctx(), rules::IOS_BOTH_ARRAYS), "CA pins only");
    assert!(
        !has(&good_set(), &ctx(), rules::IOS_BOTH_ARRAYS),
        "leaf pins only"
    );
}

#[test]
fn raw_input_reports_base64_and_length_problems() {
    let p = pin("next-2026");
    assert_eq!(parse_pin_input(&format!("  sha256/{p}\n")), Ok(p));
    assert_eq!(parse_pin_input(&p.to_base64()), Ok(p));

    let bad = |s: &str| {
        parse_pin_input(s)
            .err()
            .unwrap_or_else(|| panic!("{s} must fail"))
    };
    let f = bad("not base64!");
    assert_eq!((f.level, f.code), (Level::Error, rules::NOT_BASE64));
    assert_eq!(bad("").code, rules::NOT_32_BYTES);
    assert!(bad(" sha256/ ").message.contains("empty"));
    assert!(bad("abc_def-ghi").message.contains("URL-safe"));
    let f = bad("AAAA");
    assert_eq!(f.code, rules::NOT_32_BYTES);
    assert_eq!(
        f.message,
        "the pin decodes to 3 bytes; a SHA-256 pin has exactly 32"
    );
    let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert!(
        bad(hex).message.contains("hex SHA-256"),
        "{}",
        bad(hex).message
    );
    assert_eq!(
        bad("sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAA=").code,
        rules::NOT_32_BYTES
    );
}

#[test]
fn labels_in_messages_are_one_line() {
    let mut set = good_set();
    set.pins.push(PinEntry {
        pin: raw([0; 32]),
        label: "line one\nline two\u{202e}".into(),
        role: PinRole::Backup,
        custody: KeyCustody::HeldOffline,
    });
    let f = lint(&set, &ctx());
    assert!(
        f[0].message.contains("\"line one line two\""),
        "{}",
        f[0].message
    );
}
