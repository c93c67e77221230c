use super::*;
use crate::pinsets::{parse_hostname, HostnameError};

#[test]
fn hostnames_that_pass_come_back_canonical() {
    assert_eq!(
        parse_hostname("api.example.com"),
        Ok("api.example.com".into())
    );
    assert_eq!(
        parse_hostname("  API.Example.COM \n"),
        Ok("api.example.com".into())
    );
    assert_eq!(
        parse_hostname("xn--bcher-kva.example"),
        Ok("xn--bcher-kva.example".into())
    );
    assert_eq!(
        parse_hostname("a-1.b2.example.co.uk"),
        Ok("a-1.b2.example.co.uk".into())
    );
}

#[test]
fn hostnames_are_refused_with_a_precise_reason() {
    use HostnameError::*;
    let cases: Vec<(&str, HostnameError)> = vec![
        ("", Empty),
        ("   ", Empty),
        ("https://api.example.com", Scheme("https".into())),
        ("api.example.com/v1", Path("/v1".into())),
        ("api.example.com?x=1", Path("?x=1".into())),
        ("api.example.com:443", Port(":443".into())),
        ("admin@api.example.com", UserInfo("admin".into())),
        ("*.example.com", Wildcard("example.com".into())),
        ("**.example.com", Wildcard("example.com".into())),
        ("10.0.0.1", IpAddress("10.0.0.1".into())),
        ("[::1]", IpAddress("[::1]".into())),
        ("fe80::1", IpAddress("fe80::1".into())),
        ("bücher.example", NonAscii('ü')),
        (
            "api_v1.example.com",
            BadCharacter {
                ch: '_',
                position: 3,
            },
        ),
        (
            "api example.com",
            BadCharacter {
                ch: ' ',
                position: 3,
            },
        ),
        (".example.com", EmptyLabel(0)),
        ("api..example.com", EmptyLabel(4)),
        ("api.example.com.", EmptyLabel(16)),
        ("-api.example.com", HyphenEdge("-api".into())),
        ("api-.example.com", HyphenEdge("api-".into())),
        ("localhost", SingleLabel("localhost".into())),
        ("example.123", NumericTld("123".into())),
        ("1.2.3.256", NumericTld("256".into())),
    ];
    for (input, want) in cases {
        assert_eq!(parse_hostname(input), Err(want), "input {input:?}");
    }
    assert_eq!(
        parse_hostname("https://api.example.com").map_err(|e| e.to_string()),
        Err(
            "remove the scheme \"https://\": enter the host name only, e.g. api.example.com".into()
        )
    );
    assert_eq!(
        parse_hostname("*.example.com").map_err(|e| e.to_string()),
        Err("wildcards are not allowed: pin the parent name (\"example.com\") and turn on include subdomains".into())
    );
}

#[test]
fn hostname_length_limits_are_dns_limits() {
    let label63 = "a".repeat(63);
    assert!(parse_hostname(&format!("{label63}.example.com")).is_ok());
    let label64 = "a".repeat(64);
    assert_eq!(
        parse_hostname(&format!("{label64}.example.com")),
        Err(HostnameError::LabelTooLong {
            label: label64,
            len: 64
        })
    );
    // 4 × 63 + 3 dots = 255; trim to exactly 253 and 254.
    let long = [label63.as_str(); 4].join(".");
    let ok253 = &long[long.len() - 253..];
    assert!(parse_hostname(ok253).is_ok(), "{}", ok253.len());
    let too_long = &long[long.len() - 254..];
    assert_eq!(parse_hostname(too_long), Err(HostnameError::TooLong(254)));
}

#[test]
fn model_serialises_in_snake_case_and_round_trips() {
    let set = good_set();
    let v = serde_json::to_value(&set).unwrap_or_default();
    assert_eq!(v["expires_on"], "2026-09-01");
    assert_eq!(v["pins"][0]["role"], "current_leaf");
    assert_eq!(v["pins"][0]["custody"], "held_here");
    assert_eq!(v["pins"][0]["pin"], pin("leaf-2025").to_base64());
    for (role, name) in [
        (PinRole::CurrentLeaf, "current_leaf"),
        (PinRole::NextKey, "next_key"),
        (PinRole::Intermediate, "intermediate"),
        (PinRole::Root, "root"),
        (PinRole::Backup, "backup"),
    ] {
        assert_eq!(serde_json::to_value(role).unwrap_or_default(), name);
    }
    for (c, name) in [
        (KeyCustody::HeldHere, "held_here"),
        (KeyCustody::HeldOffline, "held_offline"),
        (KeyCustody::CaManaged, "ca_managed"),
        (KeyCustody::Unknown, "unknown"),
    ] {
        assert_eq!(serde_json::to_value(c).unwrap_or_default(), name);
    }
    let back: PinSet = serde_json::from_value(v).expect("round trip");
    assert_eq!(back, set);
}
