//! The OAuth redirect-URI linter: which redirect URIs a client of a given kind may register,
//! with a message precise enough to show next to the offending line of the form. The same code
//! runs in the browser as the admin types and in the console before saving.
//!
//! Invariants: linting never fails or panics, whatever the input; an [`Severity::Error`] means
//! the list must not be saved; a [`Severity::Warning`] is allowed but probably not what was
//! meant. The authorization server matches redirect URIs by exact string comparison (RFC 6749
//! §3.1.2.3, RFC 9700 §2.1 and §4.1), with the single exception of the port of a native app's
//! loopback URI (RFC 8252 §7.3), so every rule here judges the URI *as written*: the checks that
//! a normalising parser would hide (`..` segments, `127.1`, userinfo, an empty `#`) look at the
//! raw text, split as RFC 3986 Appendix B splits it. The WHATWG parser of the `url` crate only
//! confirms the syntax and classifies the host.
//!
//! Specs cited: RFC 6749 §3.1.2 (absolute, no fragment, query allowed) and §3.1.2.1 (TLS),
//! RFC 8252 §7.1 (private-use schemes), §7.3 (loopback), §8.3 (no `localhost`), RFC 9700 §2.1 and
//! §4.1 (exact matching, no wildcards), RFC 3986 §3.2.1 (userinfo), §5.2.4 (dot segments).

use core::net::Ipv4Addr;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// The one severity type of this crate, shared with [`crate::validate`] and [`crate::jwk`].
pub use crate::validate::Severity;

/// Longest redirect URI, in characters.
pub const MAX_URI_CHARS: usize = 2_000;
/// Most redirect URIs one client may register.
pub const MAX_URIS: usize = 20;

/// Schemes that a browser runs or reads locally: never a redirect target, for any client.
const DANGEROUS_SCHEMES: [&str; 6] = ["javascript", "data", "file", "vbscript", "blob", "about"];

/// How long a URI may be when quoted in a message before it is cut with "…".
const SHOWN_CHARS: usize = 100;

/// What the client is, which decides the redirect URIs it may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// An app on the user's device (RFC 8252): claimed `https`, a loopback `http` listener or a
    /// private-use scheme.
    Native,
    /// A machine client using the client-credentials grant: no redirects at all.
    Service,
    /// A server-side or browser web app: `https` only.
    Web,
}

/// One finding about one redirect URI.
///
/// `index` is the position in the list, from 0; messages number URIs from 1 ("redirect URI 2"
/// is `index` 1), as the admin counts the lines of the form. The one finding about the list
/// itself, `none_registered`, carries `index` 0 and an empty `uri` (`usize::MAX` would not
/// survive the trip to the browser as a JSON number); tell it apart by its `code`.
///
/// `code` is stable, for the UI and tests; the message is for people. Codes: `none_registered`,
/// `too_many`, `service_client`, `empty`, `whitespace`, `too_long`, `invalid_character`,
/// `not_absolute`, `duplicate`, `fragment`, `userinfo`, `wildcard`, `path_traversal`, `query`,
/// `unparsable`, `dangerous_scheme`, `missing_host`, `https_localhost`, `ip_literal`,
/// `http_not_allowed`, `http_not_loopback`, `loopback_localhost`, `loopback_address`,
/// `loopback_port`, `private_scheme_not_native`, `private_scheme_not_reverse_dns`,
/// `private_scheme_form`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UriIssue {
    /// The URI as given (untrimmed), so the UI can find its line.
    pub uri: String,
    pub index: usize,
    pub severity: Severity,
    pub code: String,
    pub message: String,
}

impl UriIssue {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// True when any issue is an error (the list must not be saved).
pub fn has_errors(issues: &[UriIssue]) -> bool {
    issues.iter().any(UriIssue::is_error)
}

/// Every issue of a client's redirect-URI list, in list order. Empty means valid and as meant.
pub fn lint_redirect_uris(kind: ClientKind, uris: &[String]) -> Vec<UriIssue> {
    let mut out = Vec::new();
    if kind == ClientKind::Service {
        // RFC 6749 §4.4: the client-credentials grant has no authorization request, so there
        // is nothing to redirect to; a registered URI could only ever be misused.
        for (index, uri) in uris.iter().enumerate() {
            out.push(issue(
                uri,
                index,
                Severity::Error,
                "service_client",
                format!(
                    "{}: service clients use the client-credentials grant and take no redirect \
                     URIs; remove it",
                    label(index, uri)
                ),
            ));
        }
        return out;
    }
    if uris.is_empty() {
        out.push(issue(
            "",
            0,
            Severity::Error,
            "none_registered",
            "no redirect URI registered: a client that signs users in needs at least one \
             (RFC 6749 §3.1.2.2)"
                .into(),
        ));
        return out;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, uri) in uris.iter().enumerate() {
        if index == MAX_URIS {
            out.push(issue(
                uri,
                index,
                Severity::Error,
                "too_many",
                format!(
                    "{} redirect URIs registered, at most {MAX_URIS} allowed: remove the ones \
                     no longer in use (this is number {})",
                    uris.len(),
                    index + 1
                ),
            ));
        }
        let trimmed = uri.trim();
        if !trimmed.is_empty() {
            if let Some(&first) = seen.get(trimmed) {
                out.push(issue(
                    uri,
                    index,
                    Severity::Error,
                    "duplicate",
                    format!(
                        "{} repeats redirect URI {}; remove this one",
                        label(index, uri),
                        first + 1
                    ),
                ));
                continue;
            }
            seen.insert(trimmed, index);
        }
        lint_one(kind, index, uri, &mut out);
    }
    out
}

fn issue(uri: &str, index: usize, severity: Severity, code: &str, message: String) -> UriIssue {
    UriIssue {
        uri: uri.to_owned(),
        index,
        severity,
        code: code.to_owned(),
        message,
    }
}

/// Collects the issues of one URI.
struct Lint<'a> {
    uri: &'a str,
    index: usize,
    out: &'a mut Vec<UriIssue>,
}

impl Lint<'_> {
    fn push(&mut self, severity: Severity, code: &str, detail: String) {
        let message = format!("{} {detail}", label(self.index, self.uri));
        self.out
            .push(issue(self.uri, self.index, severity, code, message));
    }
    fn error(&mut self, code: &str, detail: String) {
        self.push(Severity::Error, code, detail);
    }
    fn warning(&mut self, code: &str, detail: String) {
        self.push(Severity::Warning, code, detail);
    }
}

/// "redirect URI 2 (https://…)", numbered from 1.
fn label(index: usize, uri: &str) -> String {
    format!("redirect URI {} ({})", index.saturating_add(1), shown(uri))
}

/// A piece of input fit to quote in a message: control characters escaped, cut at
/// [`SHOWN_CHARS`].
fn shown(s: &str) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || (c.is_whitespace() && c != ' ') {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// A URI split as RFC 3986 Appendix B splits it, without any normalisation.
struct Raw<'a> {
    scheme: &'a str,
    /// Everything after `scheme:` up to the query or fragment.
    hier: &'a str,
    /// The text after `//`, up to the path; `None` when there is no `//`.
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

impl<'a> Raw<'a> {
    /// `None` when there is no scheme (a relative reference, RFC 3986 §4.2).
    fn split(s: &'a str) -> Option<Raw<'a>> {
        let (scheme, rest) = s.split_once(':')?;
        let mut chars = scheme.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
            return None;
        }
        let (rest, fragment) = match rest.split_once('#') {
            Some((r, f)) => (r, Some(f)),
            None => (rest, None),
        };
        let (hier, query) = match rest.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match hier.strip_prefix("//") {
            Some(after) => {
                let end = after.find('/').unwrap_or(after.len());
                let (a, p) = after.split_at(end);
                (Some(a), p)
            }
            None => (None, hier),
        };
        Some(Raw {
            scheme,
            hier,
            authority,
            path,
            query,
            fragment,
        })
    }

    /// The userinfo with its `@` (`"evil@"`), when the authority has one.
    fn userinfo(&self) -> Option<&'a str> {
        let authority = self.authority?;
        authority.rfind('@').map(|at| &authority[..=at])
    }

    /// Host and port as written: `("[::1]", Some("8080"))`.
    fn host_port(&self) -> (&'a str, Option<&'a str>) {
        let authority = self.authority.unwrap_or("");
        let host_port = match authority.rfind('@') {
            Some(at) => &authority[at + 1..],
            None => authority,
        };
        if host_port.starts_with('[') {
            match host_port.find(']') {
                Some(end) => {
                    let (host, rest) = host_port.split_at(end + 1);
                    (host, rest.strip_prefix(':'))
                }
                None => (host_port, None),
            }
        } else {
            match host_port.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            }
        }
    }
}

fn lint_one(kind: ClientKind, index: usize, uri: &str, out: &mut Vec<UriIssue>) {
    let mut v = Lint { uri, index, out };
    let s = uri.trim();
    if s.is_empty() {
        let detail = if uri.is_empty() {
            "is empty"
        } else {
            "is only whitespace"
        };
        v.out.push(issue(
            uri,
            index,
            Severity::Error,
            "empty",
            format!(
                "redirect URI {} {detail}; remove the line",
                index.saturating_add(1)
            ),
        ));
        return;
    }
    if s.len() != uri.len() {
        v.error(
            "whitespace",
            "has whitespace before or after it: the client sends the URI without it, so exact \
             matching would fail; remove it"
                .into(),
        );
    }
    let chars = s.chars().count();
    if chars > MAX_URI_CHARS {
        v.error(
            "too_long",
            format!("is {chars} characters long, more than the {MAX_URI_CHARS} allowed"),
        );
    }
    // The WHATWG parser silently drops tabs and newlines, turns `\` into `/` and
    // percent-encodes the rest, so what it saw would not be what the client sends. None of
    // these is allowed in a URI (RFC 3986 §2).
    let bad_char = s.char_indices().find(|&(_, c)| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '\\' | '"' | '<' | '>' | '^' | '`' | '{' | '|' | '}')
    });
    if let Some((at, c)) = bad_char {
        let position = s[..at].chars().count() + 1;
        v.error(
            "invalid_character",
            format!(
                "contains {} at character {position}, which a URI cannot contain (RFC 3986 §2); \
                 percent-encode it or remove it",
                describe_char(c)
            ),
        );
    }
    let Some(raw) = Raw::split(s) else {
        v.error(
            "not_absolute",
            "is not an absolute URI: it needs a scheme, like https://app.example.com/callback \
             (RFC 6749 §3.1.2)"
                .into(),
        );
        return;
    };
    if raw.authority.is_none() && raw.hier.starts_with(|c: char| c.is_ascii_digit()) {
        // `app.example.com:8443/cb`: RFC 3986 reads "app.example.com" as the scheme.
        v.error(
            "not_absolute",
            format!(
                "looks like a host and port without a scheme (\"{}:\" would be read as the \
                 scheme); write https://{} (RFC 6749 §3.1.2)",
                shown(raw.scheme),
                shown(s)
            ),
        );
        return;
    }
    // Userinfo, wildcards and odd characters also upset the parser; its error would only repeat
    // what is already said.
    let mut parse_confusing = bad_char.is_some();
    if let Some(fragment) = raw.fragment {
        v.error(
            "fragment",
            format!(
                "has a fragment (\"#{}\"): a redirect URI must not have one (RFC 6749 \
                 §3.1.2); remove it",
                shown(fragment)
            ),
        );
    }
    if let Some(userinfo) = raw.userinfo() {
        parse_confusing = true;
        v.error(
            "userinfo",
            format!(
                "carries userinfo (\"{}\"): an attacker can disguise the real host; remove it \
                 (RFC 3986 §3.2.1)",
                shown(userinfo)
            ),
        );
    }
    let wildcard_in = [
        ("host", raw.authority),
        ("path", Some(raw.path)),
        ("query", raw.query),
    ]
    .into_iter()
    .find_map(|(part, text)| text.filter(|t| t.contains('*')).map(|_| part));
    if let Some(part) = wildcard_in {
        parse_confusing = true;
        v.error(
            "wildcard",
            format!(
                "has a wildcard (\"*\") in the {part}: redirect URIs are matched exactly, \
                 character for character (RFC 9700 §4.1.1); register each URI in full"
            ),
        );
    }
    if let Some(segment) = raw.path.split('/').find(|seg| is_dot_dot(seg)) {
        v.error(
            "path_traversal",
            format!(
                "has a \"{}\" path segment: it climbs out of the registered path, and parsers \
                 resolve it differently (RFC 3986 §5.2.4); write the path without it",
                shown(segment)
            ),
        );
    }
    if let Some(query) = raw.query {
        let detail = if query.is_empty() {
            "ends with an empty query (\"?\"): the client must send it too, since URIs are \
             matched exactly; remove it unless the client sends it"
                .to_owned()
        } else {
            format!(
                "has a query (\"?{}\"): allowed (RFC 6749 §3.1.2), but the client must send it \
                 exactly, in the same order and encoding",
                shown(query)
            )
        };
        v.warning("query", detail);
    }
    let url = match Url::parse(s) {
        Ok(url) => url,
        Err(e) => {
            if !parse_confusing {
                v.error("unparsable", format!("is not a valid URI: {e}"));
            }
            return;
        }
    };
    let scheme = raw.scheme.to_ascii_lowercase();
    if DANGEROUS_SCHEMES.contains(&scheme.as_str()) {
        v.error(
            "dangerous_scheme",
            format!(
                "uses the \"{}:\" scheme, which the browser runs or reads locally: it can never \
                 be a redirect target",
                shown(raw.scheme)
            ),
        );
        return;
    }
    match scheme.as_str() {
        "https" => lint_https(&mut v, &raw, &url),
        "http" => lint_http(kind, &mut v, &raw, &url),
        _ => lint_private_use(kind, &mut v, &raw),
    }
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        '\n' | '\r' => "a line break".into(),
        '\\' => "a backslash (\"\\\")".into(),
        c if c.is_control() || c.is_whitespace() => format!("the character U+{:04X}", c as u32),
        c => format!("\"{c}\""),
    }
}

/// `..`, also percent-encoded (`%2e%2e`, `.%2E`): RFC 3986 §2.3 makes `%2E` equivalent to `.`.
fn is_dot_dot(segment: &str) -> bool {
    segment.to_ascii_lowercase().replace("%2e", ".") == ".."
}

/// The host a URI needs, or an error when it has none (`https:/cb`, `https:///cb`); the WHATWG
/// parser would have read the first path segment as the host.
fn host_or_error<'a>(v: &mut Lint<'_>, raw: &Raw<'a>) -> Option<&'a str> {
    let (host, _) = raw.host_port();
    if raw.authority.is_none() || host.is_empty() {
        v.error(
            "missing_host",
            format!(
                "has no host: an {} URI is written {}://host/path",
                raw.scheme.to_ascii_lowercase(),
                raw.scheme.to_ascii_lowercase()
            ),
        );
        return None;
    }
    Some(host)
}

fn is_localhost(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host == "localhost" || host.ends_with(".localhost")
}

fn lint_https(v: &mut Lint<'_>, raw: &Raw<'_>, url: &Url) {
    if host_or_error(v, raw).is_none() {
        return;
    }
    match url.host() {
        Some(Host::Domain(d)) if is_localhost(d) => v.warning(
            "https_localhost",
            "points at localhost, which reaches only the machine the browser runs on and which \
             no public certificate covers; a native app's loopback redirect is \
             http://127.0.0.1/… (RFC 8252 §7.3)"
                .into(),
        ),
        Some(Host::Ipv4(a)) if !a.is_loopback() => v.warning(
            "ip_literal",
            format!(
                "uses the IP address {a} as its host: certificates for addresses are rare and \
                 the address may change; prefer a DNS name"
            ),
        ),
        Some(Host::Ipv6(a)) if !a.is_loopback() => v.warning(
            "ip_literal",
            format!(
                "uses the IP address [{a}] as its host: certificates for addresses are rare and \
                 the address may change; prefer a DNS name"
            ),
        ),
        _ => {}
    }
}

fn lint_http(kind: ClientKind, v: &mut Lint<'_>, raw: &Raw<'_>, url: &Url) {
    if kind != ClientKind::Native {
        v.error(
            "http_not_allowed",
            "uses plain http: the authorization code would cross the network unencrypted; use \
             https (RFC 6749 §3.1.2.1). Only native apps may use http, and only to 127.0.0.1 \
             or [::1]"
                .into(),
        );
        return;
    }
    let Some(host) = host_or_error(v, raw) else {
        return;
    };
    let host = host.to_ascii_lowercase();
    match url.host() {
        _ if host == "127.0.0.1" || host == "[::1]" => {
            if let Some(port) = raw.host_port().1 {
                v.warning(
                    "loopback_port",
                    format!(
                        "registers port \"{}\": native apps pick an ephemeral port at run time, \
                         and Palisade matches any port for loopback redirects (RFC 8252 §7.3); \
                         register it without a port",
                        shown(port)
                    ),
                );
            }
        }
        Some(Host::Domain(d)) if is_localhost(d) => v.error(
            "loopback_localhost",
            format!(
                "uses \"{}\": the name may resolve to another interface or be caught by a \
                 firewall (RFC 8252 §8.3); use the loopback address http://127.0.0.1 or \
                 http://[::1] instead",
                shown(&host)
            ),
        ),
        Some(Host::Ipv4(a)) if a == Ipv4Addr::LOCALHOST => v.error(
            "loopback_address",
            format!(
                "writes the loopback address as \"{}\": URIs are matched as written, and the \
                 app sends 127.0.0.1 (RFC 8252 §7.3); write 127.0.0.1",
                shown(&host)
            ),
        ),
        Some(Host::Ipv4(a)) if a.is_loopback() => v.error(
            "loopback_address",
            format!(
                "uses the loopback address {a}: RFC 8252 §7.3 names 127.0.0.1, and some systems \
                 answer on no other; use 127.0.0.1"
            ),
        ),
        Some(Host::Ipv6(a)) if a.is_loopback() => v.error(
            "loopback_address",
            format!(
                "writes the IPv6 loopback address as \"{}\": URIs are matched as written; use \
                 [::1]",
                shown(&host)
            ),
        ),
        _ => v.error(
            "http_not_loopback",
            format!(
                "uses plain http to \"{}\", which is not this device: the authorization code \
                 would cross the network unencrypted. A native app uses http only to 127.0.0.1 \
                 or [::1] (RFC 8252 §7.3); otherwise use https",
                shown(&host)
            ),
        ),
    }
}

fn lint_private_use(kind: ClientKind, v: &mut Lint<'_>, raw: &Raw<'_>) {
    if kind != ClientKind::Native {
        v.error(
            "private_scheme_not_native",
            format!(
                "uses the private-use scheme \"{}:\": only native apps can receive one \
                 (RFC 8252 §7.1); a web client redirects to https",
                shown(raw.scheme)
            ),
        );
        return;
    }
    let labels: Vec<&str> = raw.scheme.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        v.error(
            "private_scheme_not_reverse_dns",
            format!(
                "uses the scheme \"{}:\", which any app could claim: a private-use scheme must be \
                 a domain you control in reverse order, like com.example.app:/callback \
                 (RFC 8252 §7.1)",
                shown(raw.scheme)
            ),
        );
        return;
    }
    if raw.authority.is_some() {
        v.warning(
            "private_scheme_form",
            format!(
                "has \"//\" after the scheme, so \"{}\" is read as a host rather than the path; \
                 write a single slash: {}:/… (RFC 8252 §7.1)",
                shown(raw.authority.unwrap_or("")),
                shown(raw.scheme)
            ),
        );
    } else if !raw.path.starts_with('/') {
        v.warning(
            "private_scheme_form",
            format!(
                "has no slash after the scheme; write it as {}:/{} (RFC 8252 §7.1)",
                shown(raw.scheme),
                shown(raw.path)
            ),
        );
    }
}
