//! Subject alternative names a server certificate or CSR is requested for: DNS names and IP
//! addresses (RFC 5280 §4.2.1.6), validated before anything is signed.
//!
//! Invariants of a validated list: 1 to [`MAX_SANS`] entries, no duplicates (DNS names compare
//! case-insensitively and are stored lower-case); DNS names are ASCII "preferred name syntax"
//! (RFC 1034 §3.5 as relaxed by RFC 1123 §2.1: LDH labels of 1–63 characters, no leading or
//! trailing hyphen, at most 253 characters), IDNs only in their A-label (`xn--`) form; a wildcard
//! is only a whole leftmost `*` label above at least two more labels (RFC 6125 §6.4.3, CA/B
//! Forum BR §7.1.4.2.1 forbid partial-label wildcards such as `f*.example.com`).

use std::net::IpAddr;

use super::CertError;

/// Most names accepted in one certificate or CSR.
pub const MAX_SANS: usize = 100;

/// One subject alternative name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum San {
    /// A DNS name, lower-case, without trailing dot; may start with `*.`.
    Dns(String),
    /// An IPv4 or IPv6 address (iPAddress, 4 or 16 octets).
    Ip(IpAddr),
}

impl San {
    /// Parses one name as typed by a user: an IP address if it parses as one, otherwise a DNS
    /// name. Surrounding whitespace is ignored; DNS names are lower-cased.
    pub fn parse(input: &str) -> Result<San, CertError> {
        let value = input.trim();
        if let Ok(ip) = value.parse::<IpAddr>() {
            return Ok(San::Ip(ip));
        }
        let invalid = |reason: &str| CertError::SanInvalid {
            value: shorten(value),
            reason: reason.to_string(),
        };
        if value.starts_with('[') && value.ends_with(']') {
            return Err(invalid("write an IPv6 address without brackets"));
        }
        let name = value.to_ascii_lowercase();
        check_dns_name(&name).map_err(|reason| invalid(&reason))?;
        Ok(San::Dns(name))
    }

    /// The name as shown and as written in `openssl` notation without the type prefix.
    pub fn as_string(&self) -> String {
        match self {
            San::Dns(d) => d.clone(),
            San::Ip(ip) => ip.to_string(),
        }
    }
}

impl std::fmt::Display for San {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_string())
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 80 {
        let head: String = s.chars().take(77).collect();
        format!("{head}...")
    } else {
        s.to_string()
    }
}

fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if !name.is_ascii() {
        return Err("it contains non-ASCII characters; write an internationalised name in its xn-- (punycode) form".into());
    }
    if name.ends_with('.') {
        return Err("remove the trailing dot".into());
    }
    if name.len() > 253 {
        return Err(format!(
            "it is {} characters long; a DNS name has at most 253",
            name.len()
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    for (i, label) in labels.iter().enumerate() {
        if label.is_empty() {
            return Err("it contains an empty label (two dots in a row or a leading dot)".into());
        }
        if *label == "*" {
            if i != 0 {
                return Err("a wildcard * is only allowed as the whole leftmost label".into());
            }
            if labels.len() < 3 {
                return Err("a wildcard needs at least two labels after it (*.example.com)".into());
            }
            continue;
        }
        if label.contains('*') {
            return Err(format!("label \"{label}\": a wildcard must be the whole leftmost label, as in *.example.com"));
        }
        if label.len() > 63 {
            return Err(format!(
                "label \"{}…\" is {} characters long; a label has at most 63",
                &label[..20],
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(match c {
                '_' => format!("label \"{label}\" contains '_', which certificates may not carry (CA/B Forum BR §7.1.4.2.1)"),
                ' ' => "it contains a space; enter one name per entry".into(),
                _ => format!("label \"{label}\" contains '{c}'; only letters, digits and '-' are allowed"),
            });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label \"{label}\" starts or ends with '-'"));
        }
    }
    if labels.len() > 1
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("it looks like an IP address but is not a valid one".into());
    }
    Ok(())
}

/// Validates a requested list: re-checks every entry (a caller may have built a [`San`]
/// directly), lower-cases DNS names, refuses an empty list, more than [`MAX_SANS`] names and
/// duplicates. Returns the normalised list in the given order.
pub fn validate_sans(sans: &[San]) -> Result<Vec<San>, CertError> {
    if sans.is_empty() {
        return Err(CertError::SanEmpty);
    }
    if sans.len() > MAX_SANS {
        return Err(CertError::SanTooMany {
            count: sans.len(),
            limit: MAX_SANS,
        });
    }
    let mut out: Vec<San> = Vec::with_capacity(sans.len());
    for san in sans {
        let normal = match san {
            San::Ip(ip) => San::Ip(*ip),
            San::Dns(name) => San::parse(name)?,
        };
        if out.contains(&normal) {
            return Err(CertError::SanDuplicate(normal.as_string()));
        }
        out.push(normal);
    }
    Ok(out)
}

/// Parses and validates names typed one per entry (see [`San::parse`], [`validate_sans`]).
pub fn parse_sans<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<San>, CertError> {
    if inputs.len() > MAX_SANS {
        return Err(CertError::SanTooMany {
            count: inputs.len(),
            limit: MAX_SANS,
        });
    }
    let sans = inputs
        .iter()
        .map(|s| San::parse(s.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    validate_sans(&sans)
}

/// The names as rcgen's subjectAltName entries (for certificates and CSRs alike).
pub(crate) fn to_rcgen(sans: &[San]) -> Result<Vec<rcgen::SanType>, CertError> {
    sans.iter()
        .map(|s| match s {
            San::Dns(d) => rcgen::string::Ia5String::try_from(d.as_str())
                .map(rcgen::SanType::DnsName)
                .map_err(|e| CertError::SanInvalid {
                    value: d.clone(),
                    reason: e.to_string(),
                }),
            San::Ip(ip) => Ok(rcgen::SanType::IpAddress(*ip)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(input: &str) -> String {
        match San::parse(input) {
            Ok(s) => format!("ok {s}"),
            Err(e) => {
                assert_eq!(e.code(), "san.invalid");
                e.to_string()
            }
        }
    }

    #[test]
    fn accepts_names_wildcards_and_addresses() {
        assert_eq!(
            San::parse(" API.Example.com ").expect("valid"),
            San::Dns("api.example.com".into())
        );
        assert_eq!(
            San::parse("*.example.com").expect("valid"),
            San::Dns("*.example.com".into())
        );
        assert_eq!(
            San::parse("localhost").expect("valid"),
            San::Dns("localhost".into())
        );
        assert_eq!(
            San::parse("xn--bcher-kva.example").expect("valid"),
            San::Dns("xn--bcher-kva.example".into())
        );
        assert!(matches!(San::parse("192.0.2.1"), Ok(San::Ip(_))));
        assert!(matches!(San::parse("2001:db8::1"), Ok(San::Ip(_))));
        let max = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        assert_eq!(max.len(), 253);
        assert!(San::parse(&max).is_ok());
    }

    #[test]
    fn refuses_bad_names_with_the_reason() {
        assert!(reason("a.*.example.com").contains("whole leftmost label"));
        assert!(reason("f*.example.com").contains("whole leftmost label"));
        assert!(reason("*.com").contains("two labels after it"));
        assert!(reason("**.example.com").contains("whole leftmost label"));
        assert!(reason("-api.example.com").contains("starts or ends with '-'"));
        assert!(reason("api_1.example.com").contains("'_'"));
        assert!(reason("api..example.com").contains("empty label"));
        assert!(reason("example.com.").contains("trailing dot"));
        assert!(reason("bücher.example").contains("xn--"));
        assert!(reason(&format!("{}.com", "a".repeat(64))).contains("at most 63"));
        let long = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(62)
        );
        assert!(reason(&long).contains("at most 253"));
        assert!(reason("256.1.1.1").contains("IP address"));
        assert!(reason("[::1]").contains("brackets"));
        assert!(reason("").contains("empty"));
        assert!(reason("a b").contains("space"));
    }

    #[test]
    fn list_rules() {
        assert_eq!(
            parse_sans::<&str>(&[]).map_err(|e| e.code()),
            Err("san.empty")
        );
        assert_eq!(
            parse_sans(&["a.example", "A.example"]).map_err(|e| e.code()),
            Err("san.duplicate")
        );
        assert_eq!(
            parse_sans(&["::1", "0:0::1"]).map_err(|e| e.code()),
            Err("san.duplicate")
        );
        let many: Vec<String> = (0..=MAX_SANS).map(|i| format!("h{i}.example")).collect();
        assert_eq!(parse_sans(&many).map_err(|e| e.code()), Err("san.too_many"));
        assert_eq!(
            validate_sans(&[San::Dns("BAD_.x".into())]).map_err(|e| e.code()),
            Err("san.invalid")
        );
        assert_eq!(
            parse_sans(&["api.example.com", "10.0.0.1"])
                .expect("valid")
                .len(),
            2
        );
    }
}
