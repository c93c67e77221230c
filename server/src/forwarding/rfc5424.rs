//! One audit event as an RFC 5424 syslog message, framed by octet counting (RFC 6587 §3.4.1,
//! the framing RFC 5425 requires over TLS). Facility 13 (log audit); severity notice for a
//! success, warning for a failure or a refusal. The structured data repeats the fields a
//! collector filters on; the message is the event as one JSON line, the same as the JSONL
//! export, after a UTF-8 BOM.

use domain::audit::{AuditEvent, Outcome};

/// RFC 5424 §7.2.2 `enterpriseId` of the SD-ID: 32473 is the number RFC 5612 reserves for
/// documentation; collectors match on the whole SD-ID, `audit@32473`.
pub const SD_ID: &str = "audit@32473";
const FACILITY_LOG_AUDIT: u8 = 13;
const APP_NAME: &str = "palisade";

/// The message for `e` from `hostname`, with `json` (the event as one JSON line) as its MSG.
pub fn message(e: &AuditEvent, hostname: &str, procid: u32, json: &str) -> String {
    let severity = match e.outcome {
        Outcome::Success => 5,
        Outcome::Failure | Outcome::Denied => 4,
    };
    let pri = u16::from(FACILITY_LOG_AUDIT) * 8 + severity;
    let timestamp = chrono::DateTime::parse_from_rfc3339(&e.at)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        })
        .unwrap_or_else(|_| "-".to_owned());
    let mut sd = format!("[{SD_ID} seq=\"{}\"", e.seq);
    for (name, value) in [
        ("actor", Some(e.actor.as_str())),
        ("target", Some(e.target.as_str())),
        ("outcome", Some(e.outcome.as_str())),
        ("ip", e.ip.as_deref()),
        ("hash", Some(e.hash.as_str())),
    ] {
        if let Some(v) = value {
            sd.push_str(&format!(" {name}=\"{}\"", param_value(v)));
        }
    }
    sd.push(']');
    format!(
        "<{pri}>1 {timestamp} {} {APP_NAME} {procid} {} {sd} \u{feff}{json}",
        header_field(hostname, 255),
        header_field(&e.action, 32),
    )
}

/// `len SP message`: the frame that survives newlines inside the message.
pub fn frame(message: &str) -> Vec<u8> {
    let mut out = format!("{} ", message.len()).into_bytes();
    out.extend_from_slice(message.as_bytes());
    out
}

/// A header field: printable US-ASCII without spaces, at most `max` characters, `-` when
/// nothing is left (RFC 5424 §6.2).
fn header_field(v: &str, max: usize) -> String {
    let s: String = v
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if s.is_empty() {
        "-".to_owned()
    } else {
        s
    }
}

/// A PARAM-VALUE: `"`, `\` and `]` escaped with a backslash (RFC 5424 §6.3.3).
fn param_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(outcome: Outcome, actor: &str) -> AuditEvent {
        AuditEvent {
            seq: 42,
            at: "2026-12-01T10:11:12.345678Z".into(),
            actor: actor.into(),
            ip: Some("203.0.113.7".into()),
            user_agent: None,
            action: "policies.enforce".into(),
            target: "policy:p1".into(),
            outcome,
            details: "{}".into(),
            prev_hash: "00".into(),
            hash: "ab12".into(),
        }
    }

    /// Read back by an independent RFC 5424 parser: every header field, the structured data
    /// with a value that needs escaping, and the message after the BOM.
    #[test]
    fn a_parser_reads_back_what_was_written() {
        let e = event(Outcome::Denied, r#"ev"il] \ actor"#);
        let json = r#"{"seq":42,"details":"line one\nline two"}"#;
        let text = message(&e, "console.example.com", 7, json);
        let m = syslog_rfc5424::parse_message(&text).expect("RFC 5424");
        assert_eq!(m.facility, syslog_rfc5424::SyslogFacility::LOG_AUDIT);
        assert_eq!(m.severity, syslog_rfc5424::SyslogSeverity::SEV_WARNING);
        assert_eq!(m.hostname.as_deref(), Some("console.example.com"));
        assert_eq!(m.appname.as_deref(), Some("palisade"));
        assert_eq!(m.procid, Some(syslog_rfc5424::message::ProcId::PID(7)));
        assert_eq!(m.msgid.as_deref(), Some("policies.enforce"));
        assert_eq!(m.timestamp, Some(1_796_119_872));
        assert_eq!(m.timestamp_nanos, Some(345_678_000));
        let sd = m.sd.find_sdid(SD_ID).expect("our SD element");
        assert_eq!(sd.get("seq").map(String::as_str), Some("42"));
        assert_eq!(
            sd.get("actor").map(String::as_str),
            Some(r#"ev"il] \ actor"#)
        );
        assert_eq!(sd.get("outcome").map(String::as_str), Some("denied"));
        assert_eq!(sd.get("ip").map(String::as_str), Some("203.0.113.7"));
        assert_eq!(m.msg.trim_start_matches('\u{feff}'), json);
    }

    #[test]
    fn severity_follows_the_outcome_and_odd_headers_are_made_valid() {
        let mut e = event(Outcome::Success, "alice");
        e.action = "an action with spaces and more than thirty-two characters".into();
        e.at = "not a time".into();
        let text = message(&e, "", 1, "{}");
        assert!(
            text.starts_with("<109>1 - - palisade 1 anactionwithspacesandmorethanthi "),
            "{text}"
        );
        let m = syslog_rfc5424::parse_message(&text).expect("still RFC 5424");
        assert_eq!(m.severity, syslog_rfc5424::SyslogSeverity::SEV_NOTICE);
    }

    #[test]
    fn frames_count_bytes_not_characters() {
        assert_eq!(frame("é\n"), b"3 \xc3\xa9\n".to_vec());
    }
}
