//! Gates, the enforcement nodes: what an admin types to add one (name, labels, push URL) and
//! the rules for it, a gate's state in the fleet, the bundle the console composes for them
//! ([`bundle`]), what changed between two versions ([`diff`]) and the service ([`service`]).

pub mod bundle;
pub mod diff;
pub mod service;

use policy::bundle::Route;
use policy::gates::GateState;

use crate::ports::gates::GateRecord;
use crate::Error;

/// How long an enrolment token stays valid.
pub const ENROL_TOKEN_TTL_MS: i64 = 60 * 60 * 1000;
/// How far a gate's request timestamp may be from the console's clock.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// The most labels a gate may carry.
pub const MAX_LABELS: usize = 16;

/// A gate name: 1 to 64 characters, letters, digits, `.`, `_`, `-`.
pub fn parse_name(s: &str) -> Result<String, Error> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 64 {
        return Err(Error::invalid("the gate name must be 1 to 64 characters"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(Error::invalid(format!(
            "the gate name {s:?} may hold only letters, digits, '.', '_' and '-'"
        )));
    }
    Ok(s.to_owned())
}

/// Labels separated by commas or spaces (`region=eu, canary`): each 1 to 64 characters of
/// letters, digits, `.`, `_`, `-`, `=`, `/`, `:`; duplicates dropped; at most [`MAX_LABELS`].
pub fn parse_labels(s: &str) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for l in s.split([',', ' ', '\n', '\t']).filter(|l| !l.is_empty()) {
        if l.chars().count() > 64
            || !l.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '=' | '/' | ':')
            })
        {
            return Err(Error::invalid(format!(
                "the label {l:?} may hold only letters, digits and . _ - = / : (at most 64)"
            )));
        }
        if !out.iter().any(|o| o == l) {
            out.push(l.to_owned());
        }
    }
    if out.len() > MAX_LABELS {
        return Err(Error::invalid(format!(
            "a gate may carry at most {MAX_LABELS} labels"
        )));
    }
    Ok(out)
}

/// The URL where the console reaches the gate's admin listener to push bundles; empty means
/// the gate only pulls. `http` (the gate's admin listener has no TLS in this version; bundles
/// are signed, so a push needs no confidentiality), a host, no user name or password, no query
/// or fragment; a path is kept as a prefix (`/v1/bundle` is appended).
pub fn parse_push_url(s: &str) -> Result<String, Error> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(String::new());
    }
    let url = url::Url::parse(s)
        .map_err(|e| Error::invalid(format!("the push URL {s:?} is not a URL ({e})")))?;
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(Error::invalid(
                "the gate's admin listener speaks plain http in this version: use http:// on a \
                 network only the console and operators reach",
            ))
        }
        other => {
            return Err(Error::invalid(format!(
                "the push URL must start with http://, not {other}:"
            )))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid("the push URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(
            "the push URL must not carry a user name or password: pushes are authenticated by \
             the bundle's signature",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(
            "the push URL must not have a query or fragment",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// An X25519 public key as a gate registers it (unpadded base64url of 32 bytes, checked by
/// `jose::sealed::check_public`): the same key, ready to store, or a 400 saying what is wrong.
pub fn parse_encryption_key(s: &str) -> Result<String, Error> {
    let s = s.trim();
    jose::sealed::check_public(s).map_err(|_| {
        Error::invalid(
            "the gate's encryption key must be an X25519 public key: 43 characters of unpadded \
             base64url (32 bytes)",
        )
    })?;
    Ok(s.to_owned())
}

/// The fingerprint of a registered encryption key, as the audit log and the Gates page show it:
/// the SHA-256 of its 32 bytes in lowercase hex (of the text itself if it does not decode).
pub fn encryption_key_fingerprint(b64: &str) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let raw = URL_SAFE_NO_PAD
        .decode(b64)
        .unwrap_or_else(|_| b64.as_bytes().to_vec());
    format!("sha256:{}", bundle::sha256_hex(&raw))
}

/// The longest issuer, in characters.
pub const MAX_ISSUER_CHARS: usize = 500;
/// The longest audience, in characters.
pub const MAX_AUDIENCE_CHARS: usize = 200;
/// The most audiences a gate accepts.
pub const MAX_AUDIENCES: usize = 32;

/// The exact `iss` gates accept (RFC 7519 §4.1.1, compared as a string): trimmed, at most
/// [`MAX_ISSUER_CHARS`], no space or control character. May be empty while no route requires a
/// bearer token (the bundle checks refuse it otherwise).
pub fn parse_issuer(s: &str) -> Result<String, Error> {
    let s = s.trim();
    if s.chars().count() > MAX_ISSUER_CHARS {
        return Err(Error::invalid(format!(
            "the issuer is longer than {MAX_ISSUER_CHARS} characters"
        )));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            "the issuer must not contain spaces or control characters: gates compare it exactly \
             with a token's iss",
        ));
    }
    Ok(s.to_owned())
}

/// Accepted `aud` values separated by commas or spaces: each at most [`MAX_AUDIENCE_CHARS`],
/// without control characters; duplicates dropped; at most [`MAX_AUDIENCES`].
pub fn parse_audiences(s: &str) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for a in s
        .split([',', ' ', '\n', '\t', '\r'])
        .filter(|a| !a.is_empty())
    {
        if a.chars().count() > MAX_AUDIENCE_CHARS {
            return Err(Error::invalid(format!(
                "an audience is at most {MAX_AUDIENCE_CHARS} characters"
            )));
        }
        if a.chars().any(char::is_control) {
            return Err(Error::invalid(
                "an audience must not contain control characters",
            ));
        }
        if !out.iter().any(|o| o == a) {
            out.push(a.to_owned());
        }
    }
    if out.len() > MAX_AUDIENCES {
        return Err(Error::invalid(format!(
            "gates accept at most {MAX_AUDIENCES} audiences"
        )));
    }
    Ok(out)
}

/// The routes text of the settings form ([`policy::routes`]): every error, each with its line.
pub fn parse_routes(text: &str) -> Result<Vec<Route>, Error> {
    policy::routes::parse_route_lines(text).map_err(|errors| {
        Error::invalid(format!(
            "the routes are not valid: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        ))
    })
}

/// A gate's state against the latest published version (`latest`: its version and when it was
/// published) at `now_ms`.
pub fn state_of(g: &GateRecord, latest: Option<(i64, i64)>, now_ms: i64) -> GateState {
    if g.revoked_at_ms.is_some() {
        return GateState::Revoked;
    }
    if g.public_key.is_none() {
        return match g.enrol_expires_at_ms {
            Some(t) if t > now_ms => GateState::Pending,
            _ => GateState::EnrolmentExpired,
        };
    }
    // "Refusing" is a refusal since the latest version was published while the gate is behind
    // it: the gate saw that version and said no. An older refusal (of an earlier version, or of
    // a replayed or foreign bundle) does not make a gate that runs the latest version, or one
    // that simply has not been reached yet, "refusing"; it is still shown with its time.
    match (g.applied_version, latest) {
        (Some(a), Some((l, _))) if a >= l => GateState::InSync,
        (_, Some((_, published)))
            if g.last_error.is_some() && g.last_error_at_ms.is_some_and(|t| t >= published) =>
        {
            GateState::Refusing
        }
        _ => GateState::Behind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_urls_are_http_without_credentials() {
        assert_eq!(parse_push_url("").expect("valid"), "");
        assert_eq!(
            parse_push_url("http://10.0.0.5:9090/").expect("valid"),
            "http://10.0.0.5:9090"
        );
        assert_eq!(
            parse_push_url("http://gate.example/admin").expect("valid"),
            "http://gate.example/admin"
        );
        for bad in [
            "ftp://gate.example",
            "https://gate.example",
            "http://user:pw@gate.example",
            "http://gate.example/?a=1",
            "http://gate.example/#x",
            "gate.example:9090",
            "file:///etc/passwd",
        ] {
            assert!(parse_push_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn gates_settings_text() {
        assert_eq!(
            parse_issuer("  https://id.example/ ").expect("valid"),
            "https://id.example/"
        );
        assert_eq!(parse_issuer("").expect("valid"), "");
        assert!(parse_issuer("https://id.example/ x").is_err());
        assert!(parse_issuer(&"i".repeat(MAX_ISSUER_CHARS + 1)).is_err());
        assert_eq!(
            parse_audiences(" api, https://api.example  api\nother").expect("valid"),
            vec!["api", "https://api.example", "other"]
        );
        assert_eq!(parse_audiences(" , ").expect("valid"), Vec::<String>::new());
        assert!(parse_audiences(&"a".repeat(MAX_AUDIENCE_CHARS + 1)).is_err());
        let many: Vec<String> = (0..=MAX_AUDIENCES).map(|i| format!("a{i}")).collect();
        assert!(parse_audiences(&many.join(",")).is_err());
        assert_eq!(
            parse_routes("# comment\nprefix /api * bearer read\nexact /health none")
                .expect("valid")
                .len(),
            2
        );
        let e = parse_routes("prefix /api * bearer\nprefix health * none").expect_err("refused");
        assert!(
            matches!(&e, Error::Invalid(m) if m.contains("Line 2: The path must start with")),
            "{e}"
        );
    }

    #[test]
    fn names_and_labels() {
        assert_eq!(parse_name(" edge-1 ").expect("valid"), "edge-1");
        assert!(parse_name("").is_err());
        assert!(parse_name("a b").is_err());
        assert!(parse_name(&"x".repeat(65)).is_err());
        assert_eq!(
            parse_labels("region=eu, canary canary").expect("valid"),
            vec!["region=eu", "canary"]
        );
        assert!(parse_labels("bad\"label").is_err());
        let many: Vec<String> = (0..17).map(|i| format!("l{i}")).collect();
        assert!(parse_labels(&many.join(",")).is_err());
    }
}

#[cfg(test)]
mod state_tests {
    use super::*;

    fn gate() -> GateRecord {
        GateRecord {
            id: "g".into(),
            name: "edge".into(),
            labels: vec![],
            push_url: String::new(),
            public_key: Some("k".into()),
            encryption_key: None,
            enrol_token_hash: None,
            enrol_expires_at_ms: None,
            enrolled_at_ms: Some(1),
            revoked_at_ms: None,
            applied_version: Some(3),
            applied_at_ms: Some(10),
            last_seen_ms: Some(10),
            last_error: None,
            last_error_at_ms: None,
            version: 2,
            created_at_ms: 1,
            updated_at_ms: 1,
        }
    }

    #[test]
    fn refusing_only_for_a_refusal_since_the_latest_version() {
        let latest = Some((4, 1_000));
        assert_eq!(state_of(&gate(), Some((3, 900)), 2_000), GateState::InSync);
        assert_eq!(state_of(&gate(), latest, 2_000), GateState::Behind);
        // Refused after version 4 was published, still on 3: refusing.
        let mut g = gate();
        g.last_error = Some("invalid".into());
        g.last_error_at_ms = Some(1_500);
        assert_eq!(state_of(&g, latest, 2_000), GateState::Refusing);
        // A refusal from before version 4 (a foreign bundle, an older NACK): behind, not refusing.
        g.last_error_at_ms = Some(500);
        assert_eq!(state_of(&g, latest, 2_000), GateState::Behind);
        // On the latest version, any old refusal leaves it in sync.
        g.applied_version = Some(4);
        assert_eq!(state_of(&g, latest, 2_000), GateState::InSync);
        // Not enrolled: pending until the token expires; revoked wins over everything.
        let mut p = gate();
        p.public_key = None;
        p.enrolled_at_ms = None;
        p.enrol_token_hash = Some("h".into());
        p.enrol_expires_at_ms = Some(3_000);
        assert_eq!(state_of(&p, latest, 2_000), GateState::Pending);
        assert_eq!(state_of(&p, latest, 3_000), GateState::EnrolmentExpired);
        p.revoked_at_ms = Some(2_500);
        assert_eq!(state_of(&p, latest, 2_000), GateState::Revoked);
    }
}
