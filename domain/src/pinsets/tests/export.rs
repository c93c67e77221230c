use plist::Value;
use regex::Regex;

use super::*;
use crate::pinsets::{
    android_network_security_config, expiry_note, ios_pinned_domains_plist, json, okhttp_kotlin,
    render, trustkit_plist, trustkit_swift, ExportFormat,
};

/// A label written to break out of every format at once.
const HOSTILE: &str = "x --> <pin digest=\"SHA-256\">AAAA</pin> <!-- & ' \" $name \\ */\n.add(\"evil.com\", \"sha256/AAAA\")\r\n\u{2028}\u{202e}]\u{0}\u{7}";

fn set_with_ca() -> PinSet {
    let mut set = good_set();
    set.pins.insert(
        0,
        entry(
            "intermediate",
            "issuing CA",
            PinRole::Intermediate,
            KeyCustody::CaManaged,
        ),
    );
    set.pins.push(entry(
        "root",
        "root",
        PinRole::Root,
        KeyCustody::HeldOffline,
    ));
    set.pins.push(entry(
        "vault",
        "offline",
        PinRole::Backup,
        KeyCustody::HeldOffline,
    ));
    set
}

fn hostile(mut set: PinSet) -> PinSet {
    for e in &mut set.pins {
        e.label = HOSTILE.into();
    }
    set
}

fn b64s(set: &PinSet) -> Vec<String> {
    set.pins.iter().map(|e| e.pin.to_base64()).collect()
}

fn parse_plist(text: &str) -> Value {
    Value::from_reader_xml(text.as_bytes()).unwrap_or_else(|e| panic!("plist parses: {e}\n{text}"))
}

fn dict<'a>(v: &'a Value, key: &str) -> &'a plist::Dictionary {
    v.as_dictionary()
        .and_then(|d| d.get(key))
        .and_then(Value::as_dictionary)
        .unwrap_or_else(|| panic!("{key} is a dictionary"))
}

fn keys(d: &plist::Dictionary) -> Vec<&str> {
    d.keys().map(String::as_str).collect()
}

/// The code of a `//`-commented snippet, without its comment lines.
fn code_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect()
}

#[test]
fn android_is_byte_for_byte_the_documented_layout() {
    let leaf = pin("leaf-2025");
    let next = pin("next-2026");
    let want = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<!-- Palisade pin set for api.example.com, version 7, 2 pin(s): Android network security config. -->
<!-- {note} -->
<network-security-config>
    <domain-config>
        <domain includeSubdomains="true">api.example.com</domain>
        <pin-set expiration="2026-09-01">
            <!-- current leaf key: api 2025 -->
            <pin digest="SHA-256">{leaf}</pin>
            <!-- next key: api 2026 (next) -->
            <pin digest="SHA-256">{next}</pin>
        </pin-set>
    </domain-config>
</network-security-config>
"#,
        note = expiry_note(ExportFormat::Android)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert_eq!(android_network_security_config(&good_set()), want);
}

#[test]
fn android_parses_back_field_by_field() {
    for include in [true, false] {
        let mut set = set_with_ca();
        set.include_subdomains = include;
        let text = android_network_security_config(&set);
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "network-security-config");
        let configs: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        assert_eq!(configs.len(), 1);
        assert_eq!(configs[0].tag_name().name(), "domain-config");
        let kids: Vec<_> = configs[0].children().filter(|n| n.is_element()).collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0].tag_name().name(), "domain");
        assert_eq!(
            kids[0].attribute("includeSubdomains"),
            Some(if include { "true" } else { "false" })
        );
        assert_eq!(kids[0].text(), Some("api.example.com"));
        assert_eq!(kids[1].tag_name().name(), "pin-set");
        assert_eq!(kids[1].attribute("expiration"), Some("2026-09-01"));
        let pins: Vec<_> = kids[1].children().filter(|n| n.is_element()).collect();
        assert!(pins.iter().all(|p| p.tag_name().name() == "pin"));
        assert!(pins
            .iter()
            .all(|p| p.attribute("digest") == Some("SHA-256")));
        let values: Vec<String> = pins
            .iter()
            .map(|p| p.text().unwrap_or("").to_string())
            .collect();
        assert_eq!(values, b64s(&set));
        let comments: Vec<&str> = kids[1]
            .children()
            .filter(|n| n.is_comment())
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(comments[0], " intermediate CA key: issuing CA ");
        assert_eq!(comments.len(), set.pins.len());
    }
}

#[test]
fn android_escapes_hostnames_and_keeps_labels_inert() {
    let mut set = hostile(set_with_ca());
    set.hostname = "a<b&\"c'.example.com".into(); // refused by parse_hostname, escaped anyway
    let text = android_network_security_config(&set);
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let elements: Vec<&str> = doc
        .descendants()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    let mut want = vec![
        "network-security-config",
        "domain-config",
        "domain",
        "pin-set",
    ];
    want.extend(std::iter::repeat_n("pin", set.pins.len()));
    assert_eq!(elements, want, "a label must not add elements");
    let domain = doc
        .descendants()
        .find(|n| n.has_tag_name("domain"))
        .expect("domain element");
    assert_eq!(domain.text(), Some("a<b&\"c'.example.com"));
    for c in doc.descendants().filter(|n| n.is_comment()) {
        let t = c.text().unwrap_or("");
        assert!(
            !t.contains("--") && !t.contains('\n') && !t.contains('\u{202e}'),
            "{t:?}"
        );
    }
}

#[test]
fn ios_plist_with_leaf_pins_only_has_one_identity_array() {
    let set = good_set();
    let v = parse_plist(&ios_pinned_domains_plist(&set));
    assert_eq!(
        keys(v.as_dictionary().expect("root dict")),
        vec!["NSAppTransportSecurity"]
    );
    let ats = dict(&v, "NSAppTransportSecurity");
    assert_eq!(keys(ats), vec!["NSPinnedDomains"]);
    let domains = ats
        .get("NSPinnedDomains")
        .and_then(Value::as_dictionary)
        .expect("NSPinnedDomains dict");
    assert_eq!(keys(domains), vec!["api.example.com"]);
    let host = domains
        .get("api.example.com")
        .and_then(Value::as_dictionary)
        .expect("host dict");
    assert_eq!(
        keys(host),
        vec!["NSIncludesSubdomains", "NSPinnedLeafIdentities"]
    );
    assert_eq!(
        host.get("NSIncludesSubdomains"),
        Some(&Value::Boolean(true))
    );
    let leaf: Vec<String> = identities(host, "NSPinnedLeafIdentities");
    assert_eq!(leaf, b64s(&set));
}

fn identities(host: &plist::Dictionary, key: &str) -> Vec<String> {
    host.get(key)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{key} is an array"))
        .iter()
        .map(|item| {
            let d = item.as_dictionary().expect("each identity is a dictionary");
            assert_eq!(keys(d), vec!["SPKI-SHA256-BASE64"]);
            d.get("SPKI-SHA256-BASE64")
                .and_then(Value::as_string)
                .expect("a string")
                .to_string()
        })
        .collect()
}

#[test]
fn ios_plist_splits_ca_and_leaf_pins() {
    let mut set = set_with_ca();
    set.include_subdomains = false;
    let text = ios_pinned_domains_plist(&set);
    assert!(text.contains("iOS requires a match in each"));
    let v = parse_plist(&text);
    let domains = dict(&v, "NSAppTransportSecurity")
        .get("NSPinnedDomains")
        .and_then(Value::as_dictionary)
        .expect("NSPinnedDomains");
    let host = domains
        .get("api.example.com")
        .and_then(Value::as_dictionary)
        .expect("host");
    assert_eq!(
        keys(host),
        vec![
            "NSIncludesSubdomains",
            "NSPinnedCAIdentities",
            "NSPinnedLeafIdentities"
        ]
    );
    assert_eq!(
        host.get("NSIncludesSubdomains"),
        Some(&Value::Boolean(false))
    );
    assert_eq!(
        identities(host, "NSPinnedCAIdentities"),
        vec![pin("intermediate").to_base64(), pin("root").to_base64()]
    );
    assert_eq!(
        identities(host, "NSPinnedLeafIdentities"),
        vec![
            pin("leaf-2025").to_base64(),
            pin("next-2026").to_base64(),
            pin("vault").to_base64()
        ]
    );
    // CA pins only: the leaf array is left out.
    set.pins.retain(|e| e.role.is_ca());
    let v = parse_plist(&ios_pinned_domains_plist(&set));
    let host = dict(&v, "NSAppTransportSecurity")
        .get("NSPinnedDomains")
        .and_then(Value::as_dictionary)
        .and_then(|d| d.get("api.example.com"))
        .and_then(Value::as_dictionary)
        .expect("host")
        .clone();
    assert_eq!(
        keys(&host),
        vec!["NSIncludesSubdomains", "NSPinnedCAIdentities"]
    );
}

#[test]
fn trustkit_plist_uses_trustkit_key_names_and_types() {
    let set = set_with_ca();
    let v = parse_plist(&trustkit_plist(&set));
    let cfg = dict(&v, "TSKConfiguration");
    assert_eq!(
        keys(cfg),
        vec!["TSKPinnedDomains", "TSKSwizzleNetworkDelegates"]
    );
    assert_eq!(
        cfg.get("TSKSwizzleNetworkDelegates"),
        Some(&Value::Boolean(false))
    );
    let host = cfg
        .get("TSKPinnedDomains")
        .and_then(Value::as_dictionary)
        .and_then(|d| d.get("api.example.com"))
        .and_then(Value::as_dictionary)
        .expect("host policy");
    assert_eq!(
        keys(host),
        vec![
            "TSKEnforcePinning",
            "TSKExpirationDate",
            "TSKIncludeSubdomains",
            "TSKPublicKeyHashes"
        ]
    );
    assert_eq!(host.get("TSKEnforcePinning"), Some(&Value::Boolean(true)));
    assert_eq!(
        host.get("TSKIncludeSubdomains"),
        Some(&Value::Boolean(true))
    );
    assert_eq!(
        host.get("TSKExpirationDate"),
        Some(&Value::String("2026-09-01".into()))
    );
    let hashes: Vec<String> = host
        .get("TSKPublicKeyHashes")
        .and_then(Value::as_array)
        .expect("array")
        .iter()
        .map(|h| h.as_string().expect("string").to_string())
        .collect();
    assert_eq!(hashes, b64s(&set));
    assert!(hashes.len() >= 2, "TrustKit refuses fewer than two hashes");
    for h in &hashes {
        assert!(Pin::parse(h).is_ok());
    }
}

#[test]
fn plists_stay_well_formed_with_hostile_labels() {
    let set = hostile(set_with_ca());
    for text in [ios_pinned_domains_plist(&set), trustkit_plist(&set)] {
        let v = parse_plist(&text);
        let clean = parse_plist(&if text.contains("TSKConfiguration") {
            trustkit_plist(&set_with_ca())
        } else {
            ios_pinned_domains_plist(&set_with_ca())
        });
        assert_eq!(v, clean, "labels only ever land in comments");
    }
}

#[test]
fn trustkit_swift_lists_the_same_policy() {
    let set = set_with_ca();
    let text = trustkit_swift(&set);
    let code = code_lines(&text);
    assert_eq!(code[0], "let trustKitConfig: [String: Any] = [");
    for want in [
        "    kTSKSwizzleNetworkDelegates: false,",
        "    kTSKPinnedDomains: [",
        "        \"api.example.com\": [",
        "            kTSKIncludeSubdomains: true,",
        "            kTSKEnforcePinning: true,",
        "            kTSKExpirationDate: \"2026-09-01\",",
        "            kTSKPublicKeyHashes: [",
    ] {
        assert!(code.contains(&want), "missing {want:?} in\n{text}");
    }
    let re = Regex::new(r#"^ {16}"([A-Za-z0-9+/]{43}=)",$"#).expect("regex");
    let hashes: Vec<String> = code
        .iter()
        .filter_map(|l| re.captures(l))
        .map(|c| c[1].to_string())
        .collect();
    assert_eq!(hashes, b64s(&set));
    assert_eq!(
        code.last(),
        Some(&"TrustKit.initSharedInstance(withConfiguration: trustKitConfig)")
    );
    assert_eq!(
        code_lines(&trustkit_swift(&hostile(set.clone()))),
        code,
        "labels only in comments"
    );
}

#[test]
fn okhttp_uses_double_star_for_subdomains() {
    let set = set_with_ca();
    let text = okhttp_kotlin(&set);
    let code = code_lines(&text);
    assert_eq!(
        code.first(),
        Some(&"val certificatePinner = CertificatePinner.Builder()")
    );
    assert_eq!(code.last(), Some(&"    .build()"));
    let re =
        Regex::new(r#"^    \.add\("([^"]+)", "sha256/([A-Za-z0-9+/]{43}=)"\)$"#).expect("regex");
    let adds: Vec<(String, String)> = code[1..code.len() - 1]
        .iter()
        .map(|l| {
            let c = re
                .captures(l)
                .unwrap_or_else(|| panic!("unexpected line {l:?}"));
            (c[1].to_string(), c[2].to_string())
        })
        .collect();
    assert!(adds
        .iter()
        .all(|(pattern, _)| pattern == "**.api.example.com"));
    assert_eq!(
        adds.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>(),
        b64s(&set)
    );

    let mut exact = set.clone();
    exact.include_subdomains = false;
    assert!(okhttp_kotlin(&exact).contains("    .add(\"api.example.com\", \"sha256/"));
    assert!(!okhttp_kotlin(&exact).contains("*."));
}

#[test]
fn kotlin_and_swift_strings_are_escaped() {
    let mut set = hostile(good_set());
    set.hostname = "a\"b$c\\d\n.example.com".into();
    let kt = okhttp_kotlin(&set);
    assert!(
        kt.contains(r#".add("**.a\"b\$c\\d\n.example.com", "sha256/"#),
        "{kt}"
    );
    assert_eq!(code_lines(&kt).len(), set.pins.len() + 2, "{kt}");
    let swift = trustkit_swift(&set);
    assert!(
        swift.contains(r#"        "a\"b$c\\d\n.example.com": ["#),
        "{swift}"
    );
    for text in [&kt, &swift] {
        assert!(!text.contains('\u{202e}') && !text.contains('\u{2028}') && !text.contains('\0'));
        assert!(!text
            .lines()
            .any(|l| l.trim_start().starts_with(".add(\"evil.com\"")));
    }
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
#[serde(deny_unknown_fields)]
struct JsonDoc {
    format: String,
    format_version: u32,
    hostname: String,
    include_subdomains: bool,
    expires_on: chrono::NaiveDate,
    version: u32,
    pins: Vec<JsonPin>,
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
#[serde(deny_unknown_fields)]
struct JsonPin {
    sha256: Pin,
    label: String,
    role: PinRole,
    custody: KeyCustody,
}

#[test]
fn json_parses_back_and_matches_serde_json_byte_for_byte() {
    for set in [
        good_set(),
        hostile(set_with_ca()),
        PinSet {
            pins: vec![],
            ..good_set()
        },
    ] {
        let text = json(&set);
        let doc: JsonDoc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(doc.format, "palisade-pinset");
        assert_eq!(doc.format_version, 1);
        assert_eq!(doc.hostname, set.hostname);
        assert_eq!(doc.include_subdomains, set.include_subdomains);
        assert_eq!(doc.expires_on, set.expires_on);
        assert_eq!(doc.version, set.version);
        let pins: Vec<PinEntry> = doc
            .pins
            .iter()
            .map(|p| PinEntry {
                pin: p.sha256,
                label: p.label.clone(),
                role: p.role,
                custody: p.custody,
            })
            .collect();
        assert_eq!(pins, set.pins);
        let reference = serde_json::to_string_pretty(&doc).expect("serialises");
        assert_eq!(
            text, reference,
            "same bytes as serde_json, keys in the documented order"
        );
    }
}

#[test]
fn exports_are_deterministic_and_follow_set_order() {
    let set = set_with_ca();
    let mut reversed = set.clone();
    reversed.pins.reverse();
    for format in ExportFormat::ALL {
        let a = render(format, &set);
        assert_eq!(a, render(format, &set.clone()), "{format:?}");
        let first = pin("intermediate").to_base64();
        let last = pin("vault").to_base64();
        let pos = |text: &str, p: &str| {
            text.find(p)
                .unwrap_or_else(|| panic!("{format:?} lacks {p}"))
        };
        if format != ExportFormat::Ios {
            assert!(pos(&a, &first) < pos(&a, &last), "{format:?}");
            let b = render(format, &reversed);
            assert!(pos(&b, &last) < pos(&b, &first), "{format:?}");
        }
    }
}

#[test]
fn every_format_renders_even_an_empty_set() {
    let empty = PinSet {
        pins: vec![],
        ..good_set()
    };
    assert!(roxmltree::Document::parse(&android_network_security_config(&empty)).is_ok());
    parse_plist(&ios_pinned_domains_plist(&empty));
    parse_plist(&trustkit_plist(&empty));
    assert!(trustkit_swift(&empty).contains("kTSKPublicKeyHashes: [] as [String],"));
    assert!(serde_json::from_str::<JsonDoc>(&json(&empty)).is_ok());
    let names: std::collections::HashSet<&str> =
        ExportFormat::ALL.iter().map(|f| f.file_name()).collect();
    assert_eq!(names.len(), ExportFormat::ALL.len());
}

#[test]
fn expiry_notes_say_who_fails_open_and_who_bricks() {
    for f in [
        ExportFormat::Android,
        ExportFormat::TrustKit,
        ExportFormat::TrustKitSwift,
    ] {
        let note = expiry_note(f);
        assert!(
            note.contains("stops enforcing") && note.contains("fails open"),
            "{f:?}: {note}"
        );
    }
    for f in [ExportFormat::Ios, ExportFormat::OkHttp] {
        let note = expiry_note(f);
        assert!(
            note.contains("no expiration") && note.contains("bricks the app"),
            "{f:?}: {note}"
        );
    }
    assert!(android_network_security_config(&good_set()).contains("Android stops enforcing"));
    assert!(okhttp_kotlin(&good_set()).contains("// OkHttp CertificatePinner has no expiration"));
}
