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
//! raw text, split as RFC 3986 Appendix B splits it.
//!
//! No URL library is used, to keep the browser bundle small (a WHATWG parser brings the IDNA and
//! Unicode normalisation tables). The authority is checked by hand: the port is decimal digits up
//! to 65535; an `http`/`https` host is an IPv6 literal in brackets (no zone identifier, no
//! IPvFuture), an IPv4 address in any form a browser reads as one (`127.1`, `0x7f.0.0.1`,
//! `2130706433`: the WHATWG IPv4 parser), or an ASCII name of letters, digits, `-` and `.` whose
//! `xn--` labels are well-formed punycode (RFC 3492). A non-ASCII host is an error that asks for
//! its A-label (`xn--…`), since the client sends the host in that form and URIs are matched
//! exactly; the Unicode validity of what an A-label decodes to is left to the browser.
//!
//! Specs cited: RFC 6749 §3.1.2 (absolute, no fragment, query allowed) and §3.1.2.1 (TLS),
//! RFC 8252 §7.1 (private-use schemes), §7.3 (loopback), §8.3 (no `localhost`), RFC 9700 §2.1 and
//! §4.1 (exact matching, no wildcards), RFC 3986 §3.2.1 (userinfo), §5.2.4 (dot segments).

use core::net::{Ipv4Addr, Ipv6Addr};
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    let scheme = raw.scheme.to_ascii_lowercase();
    let host = match check_authority(&scheme, &raw) {
        Ok(host) => host,
        Err(why) => {
            if !parse_confusing {
                v.error("unparsable", format!("is not a valid URI: {why}"));
            }
            return;
        }
    };
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
        "https" => lint_https(&mut v, &raw, host),
        "http" => lint_http(kind, &mut v, &raw, host),
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

/// The `has no host` error (`https:/cb`, `https:///cb`, `https://:443/cb`); a browser would read
/// the first path segment as the host, or refuse the URI.
fn missing_host(v: &mut Lint<'_>, raw: &Raw<'_>) {
    let scheme = raw.scheme.to_ascii_lowercase();
    v.error(
        "missing_host",
        format!("has no host: an {scheme} URI is written {scheme}://host/path"),
    );
}

/// True for `localhost` and its subdomains (RFC 6761 §6.3), in any case, with or without the
/// trailing dot.
fn is_localhost(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    host == "localhost" || host.ends_with(".localhost")
}

/// The host of an `http` or `https` URI, classified as a browser classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Host<'a> {
    /// A name, as written: any case, perhaps with the trailing dot.
    Domain(&'a str),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

/// The authority of a URI (RFC 3986 §3.2) once [`check_authority`] has accepted it.
struct Authority<'a> {
    /// The host as written, without userinfo or port; empty when there is none.
    text: &'a str,
    /// The classified host of an `http` or `https` URI; `None` when `text` is empty, and for
    /// every other scheme, whose host is opaque.
    host: Option<Host<'a>>,
    /// The port as written, without its `:`; `Some("")` for a bare `:`.
    port: Option<&'a str>,
}

/// The authority of the URI, when it has one, or why no browser would accept it: the port is
/// not a number up to 65535, a bracket is misplaced, an IP literal is invalid or, for `http` and
/// `https`, the host is not an IP address or an ASCII name (see [`parse_host`]).
fn check_authority<'a>(scheme: &str, raw: &Raw<'a>) -> Result<Option<Authority<'a>>, String> {
    let Some(authority) = raw.authority else {
        return Ok(None);
    };
    // The userinfo, if any, is reported on its own; the host follows the last `@`.
    let host_port = match authority.rsplit_once('@') {
        Some((_, host_port)) => host_port,
        None => authority,
    };
    let (text, port) = split_host_port(host_port)?;
    if let Some(port) = port {
        check_port(port)?;
    }
    let host = if text.is_empty() {
        if port.is_some() && !matches!(scheme, "http" | "https") {
            return Err("it has a port but no host".into());
        }
        None
    } else if matches!(scheme, "http" | "https") {
        Some(parse_host(text)?)
    } else {
        // An opaque host (WHATWG), like the "cb" of com.example.app://cb: any IP literal in
        // it was checked above.
        None
    };
    Ok(Some(Authority { text, host, port }))
}

/// `[::1]:8080` → `("[::1]", Some("8080"))`. Brackets enclose a whole host, which must then be
/// an IPv6 address (the same for every scheme: RFC 3986 §3.2.2).
fn split_host_port(host_port: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(inside) = host_port.strip_prefix('[') {
        let Some((literal, rest)) = inside.split_once(']') else {
            return Err(format!(
                "the IP address \"{}\" has no closing \"]\"",
                shown(host_port)
            ));
        };
        let host = host_port
            .get(..literal.len().saturating_add(2))
            .unwrap_or(host_port);
        parse_ip_literal(literal, host)?;
        return match rest.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err(format!(
                "\"{}\" follows the IP address {}, where only a port (\":8080\") may",
                shown(rest),
                shown(host)
            )),
        };
    }
    if host_port.contains(['[', ']']) {
        return Err(format!(
            "\"{}\" has a bracket out of place: brackets enclose a whole IPv6 address, like \
             [::1]",
            shown(host_port)
        ));
    }
    Ok(match host_port.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    })
}

/// A port is decimal digits, at most 65535 (RFC 3986 §3.2.3, and the 16 bits of TCP); an empty
/// one (`host:`) means the default port.
fn check_port(port: &str) -> Result<(), String> {
    let mut value: u32 = 0;
    for b in port.bytes() {
        if !b.is_ascii_digit() {
            return Err(format!(
                "the port \"{}\" is not a number: a port is written with the digits 0 to 9 only",
                shown(port)
            ));
        }
        value = value * 10 + u32::from(b - b'0');
        if value > u32::from(u16::MAX) {
            return Err(format!(
                "the port \"{}\" is more than 65535, the largest port",
                shown(port)
            ));
        }
    }
    Ok(())
}

/// Classifies the host of an `http` or `https` URI as the WHATWG host parser does, without its
/// IDNA step: an IP literal in brackets, a name ending in a number is an IPv4 address (which must
/// then be valid), anything else is a name of ASCII letters, digits, `-` and `.`.
fn parse_host(text: &str) -> Result<Host<'_>, String> {
    if let Some(inner) = text.strip_prefix('[') {
        let literal = inner.strip_suffix(']').unwrap_or(inner);
        return parse_ip_literal(literal, text).map(Host::Ipv6);
    }
    if !text.is_ascii() {
        return Err(format!(
            "the host \"{}\" has non-ASCII characters: the client sends an internationalised \
             name in its punycode form and URIs are matched exactly, so register that form (the \
             A-label, \"xn--…\", RFC 5890)",
            shown(text)
        ));
    }
    if text.contains('%') {
        return Err(format!(
            "the host \"{}\" is percent-encoded: URIs are matched exactly, so write the host \
             as the client sends it, without \"%\"",
            shown(text)
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        return Err(format!(
            "the host \"{}\" contains {}: a host name has only letters, digits, \"-\" and \".\"",
            shown(text),
            describe_char(c)
        ));
    }
    if ends_in_a_number(text) {
        return whatwg_ipv4(text).map(Host::Ipv4).ok_or_else(|| {
            format!(
                "the host \"{}\" ends in a number, so browsers read it as an IPv4 address, and \
                 it is not a valid one",
                shown(text)
            )
        });
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!(
                "the host \"{}\" has an empty label (a leading \".\" or \"..\")",
                shown(text)
            ));
        }
        if !is_valid_a_label(label) {
            return Err(format!(
                "the label \"{}\" of the host starts with \"xn--\" but is not valid punycode \
                 (RFC 3492): copy the A-label again from the domain's registration",
                shown(label)
            ));
        }
    }
    Ok(Host::Domain(text))
}

/// The inside of `[…]` (RFC 3986 §3.2.2): an IPv6 address. Browsers accept neither a zone
/// identifier (RFC 6874, `%25eth0`) nor IPvFuture (`v1.x`).
fn parse_ip_literal(literal: &str, text: &str) -> Result<Ipv6Addr, String> {
    if literal.starts_with(['v', 'V']) {
        return Err(format!(
            "\"{}\" is an IPvFuture address, which browsers do not accept; use an IPv6 address \
             or a DNS name",
            shown(text)
        ));
    }
    if let Some((_, zone)) = literal.split_once('%') {
        return Err(format!(
            "the IPv6 address \"{}\" has a zone identifier (\"%{}\"), which browsers do not \
             accept; remove it",
            shown(text),
            shown(zone)
        ));
    }
    literal
        .parse::<Ipv6Addr>()
        .map_err(|_| format!("\"{}\" is not a valid IPv6 address", shown(text)))
}

/// The WHATWG "ends in a number" check: whether the last label (ignoring one trailing dot) is
/// decimal digits or an IPv4 number (`0x7f`, `0177`), in which case the host is an IPv4 address.
fn ends_in_a_number(host: &str) -> bool {
    let mut labels = host.rsplit('.');
    let last = match labels.next() {
        Some("") => labels.next(),
        last => last,
    };
    last.is_some_and(|last| {
        (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
            || ipv4_number_digits(last).is_some()
    })
}

/// The digits and radix of a WHATWG IPv4 number: `0x`/`0X` then hex, `0` then octal, or
/// decimal. `None` when the text is not one (its value may still overflow).
fn ipv4_number_digits(part: &str) -> Option<(&str, u32)> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() >= 2 {
            match part.strip_prefix('0') {
                Some(octal) => (octal, 8),
                None => (part, 10),
            }
        } else {
            (part, 10)
        };
    digits
        .chars()
        .all(|c| c.is_digit(radix))
        .then_some((digits, radix))
}

/// The WHATWG IPv4 parser: one to four numbers separated by dots (one trailing dot allowed),
/// each decimal, `0x` hex or `0` octal; all but the last are one byte, the last fills the bytes
/// left (`127.1` is 127.0.0.1, `2130706433` too). `None` when the host is no valid address.
fn whatwg_ipv4(host: &str) -> Option<Ipv4Addr> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let mut numbers = [0_u32; 4];
    let mut count = 0_usize;
    for part in host.split('.') {
        let slot = numbers.get_mut(count)?;
        let (digits, radix) = ipv4_number_digits(part)?;
        *slot = if digits.is_empty() {
            0
        } else {
            u32::from_str_radix(digits, radix).ok()?
        };
        count += 1;
    }
    let (&last, leading) = numbers.get(..count)?.split_last()?;
    let mut address = u64::from(last);
    // The last number fills the 4 - leading.len() bytes left.
    if address >> (8 * (4 - leading.len())) != 0 {
        return None;
    }
    for (byte, &n) in leading.iter().enumerate() {
        if n > 255 {
            return None;
        }
        address |= u64::from(n) << (8 * (3 - byte));
    }
    u32::try_from(address).ok().map(Ipv4Addr::from)
}

/// A label that does not start with `xn--` (in any case), or one whose rest is well-formed
/// punycode (RFC 3492 §6.2) that decodes to something beyond ASCII, as an A-label must
/// (RFC 5890 §2.3.2.1), and to no control character. Whether the other decoded characters are
/// allowed in a domain name (IDNA2008, UTS #46) needs the Unicode tables this crate leaves out;
/// the browser checks that.
fn is_valid_a_label(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    match lower.strip_prefix("xn--") {
        None => true,
        Some(encoded) => punycode_decode(encoded).is_some_and(|decoded| {
            decoded.iter().any(|c| !c.is_ascii()) && !decoded.iter().any(|c| c.is_control())
        }),
    }
}

/// RFC 3492 §6.2, for an ASCII input; `None` on a bad digit, an overflow or an invalid code
/// point.
fn punycode_decode(input: &str) -> Option<Vec<char>> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    let (basic, deltas) = match input.rsplit_once('-') {
        Some((basic, deltas)) => (basic, deltas),
        None => ("", input),
    };
    let mut output: Vec<char> = basic.chars().collect();
    let mut code_point: u32 = 0x80;
    let mut bias: u32 = 72;
    let mut i: u32 = 0;
    let mut digits = deltas.bytes();
    let mut next = digits.next();
    while next.is_some() {
        let old_i = i;
        let mut weight: u32 = 1;
        let mut k = BASE;
        loop {
            let digit = match next? {
                c @ b'a'..=b'z' => u32::from(c - b'a'),
                c @ b'0'..=b'9' => u32::from(c - b'0') + 26,
                _ => return None,
            };
            next = digits.next();
            i = i.checked_add(digit.checked_mul(weight)?)?;
            let t = k.saturating_sub(bias).clamp(T_MIN, T_MAX);
            if digit < t {
                break;
            }
            weight = weight.checked_mul(BASE - t)?;
            k = k.checked_add(BASE)?;
        }
        let length = u32::try_from(output.len()).ok()?.checked_add(1)?;
        bias = punycode_adapt(i - old_i, length, old_i == 0);
        code_point = code_point.checked_add(i / length)?;
        i %= length;
        let at = usize::try_from(i).ok()?;
        if at > output.len() {
            return None;
        }
        output.insert(at, char::from_u32(code_point)?);
        i += 1;
    }
    Some(output)
}

/// The bias adaptation of RFC 3492 §6.1.
fn punycode_adapt(delta: u32, length: u32, first: bool) -> u32 {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    let mut delta = delta / if first { 700 } else { 2 };
    delta += delta / length.max(1);
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + 38)
}

fn lint_https(v: &mut Lint<'_>, raw: &Raw<'_>, authority: Option<Authority<'_>>) {
    let Some(host) = authority.and_then(|a| a.host) else {
        missing_host(v, raw);
        return;
    };
    match host {
        Host::Domain(d) if is_localhost(d) => v.warning(
            "https_localhost",
            "points at localhost, which reaches only the machine the browser runs on and which \
             no public certificate covers; a native app's loopback redirect is \
             http://127.0.0.1/… (RFC 8252 §7.3)"
                .into(),
        ),
        Host::Ipv4(a) if !a.is_loopback() => v.warning(
            "ip_literal",
            format!(
                "uses the IP address {a} as its host: certificates for addresses are rare and \
                 the address may change; prefer a DNS name"
            ),
        ),
        Host::Ipv6(a) if !a.is_loopback() => v.warning(
            "ip_literal",
            format!(
                "uses the IP address [{a}] as its host: certificates for addresses are rare and \
                 the address may change; prefer a DNS name"
            ),
        ),
        _ => {}
    }
}

fn lint_http(kind: ClientKind, v: &mut Lint<'_>, raw: &Raw<'_>, authority: Option<Authority<'_>>) {
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
    let Some((text, host, port)) =
        authority.and_then(|a| a.host.map(|host| (a.text, host, a.port)))
    else {
        missing_host(v, raw);
        return;
    };
    let written = text.to_ascii_lowercase();
    match host {
        _ if written == "127.0.0.1" || written == "[::1]" => {
            if let Some(port) = port {
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
        Host::Domain(d) if is_localhost(d) => v.error(
            "loopback_localhost",
            format!(
                "uses \"{}\": the name may resolve to another interface or be caught by a \
                 firewall (RFC 8252 §8.3); use the loopback address http://127.0.0.1 or \
                 http://[::1] instead",
                shown(&written)
            ),
        ),
        Host::Ipv4(a) if a == Ipv4Addr::LOCALHOST => v.error(
            "loopback_address",
            format!(
                "writes the loopback address as \"{}\": URIs are matched as written, and the \
                 app sends 127.0.0.1 (RFC 8252 §7.3); write 127.0.0.1",
                shown(&written)
            ),
        ),
        Host::Ipv4(a) if a.is_loopback() => v.error(
            "loopback_address",
            format!(
                "uses the loopback address {a}: RFC 8252 §7.3 names 127.0.0.1, and some systems \
                 answer on no other; use 127.0.0.1"
            ),
        ),
        Host::Ipv6(a) if a.is_loopback() => v.error(
            "loopback_address",
            format!(
                "writes the IPv6 loopback address as \"{}\": URIs are matched as written; use \
                 [::1]",
                shown(&written)
            ),
        ),
        _ => v.error(
            "http_not_loopback",
            format!(
                "uses plain http to \"{}\", which is not this device: the authorization code \
                 would cross the network unencrypted. A native app uses http only to 127.0.0.1 \
                 or [::1] (RFC 8252 §7.3); otherwise use https",
                shown(&written)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Option<String> {
        whatwg_ipv4(s).map(|a| a.to_string())
    }

    #[test]
    fn whatwg_ipv4_reads_every_form_a_browser_reads() {
        for (host, address) in [
            ("127.0.0.1", "127.0.0.1"),
            ("127.0.0.1.", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("127.0.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0x7f.0.0.1", "127.0.0.1"),
            ("0X7F.1", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("017700000001", "127.0.0.1"),
            ("0xc0.0.2.10", "192.0.2.10"),
            ("192.000.002.010", "192.0.2.8"),
            ("1.16777215", "1.255.255.255"),
            ("4294967295", "255.255.255.255"),
            ("0x", "0.0.0.0"),
            ("0", "0.0.0.0"),
        ] {
            assert_eq!(v4(host).as_deref(), Some(address), "{host}");
        }
        for host in [
            "",
            ".",
            "1..2",
            "127.0.0.1..",
            ".127.0.0.1",
            "1.2.3.4.5",
            "256.0.0.1",
            "1.256.0.0",
            "1.16777216",
            "1.2.65536",
            "4294967296",
            "0x100000000",
            "99999999999999999999",
            "08",
            "09.0.0.1",
            "0x1g",
            "1e1",
            "+1",
        ] {
            assert_eq!(v4(host), None, "{host}");
        }
    }

    #[test]
    fn a_name_ending_in_a_number_is_an_address() {
        for host in [
            "example.123",
            "a.0x",
            "a.0x1",
            "a.09",
            "1.2.3.4.",
            "a.0xfffffffffff",
        ] {
            assert!(ends_in_a_number(host), "{host}");
        }
        for host in [
            "example.com",
            "123.example",
            "a.0x1g",
            "..",
            "",
            "a.1e1",
            "example.com.",
        ] {
            assert!(!ends_in_a_number(host), "{host}");
        }
    }

    #[test]
    fn hosts_are_classified() {
        assert_eq!(
            parse_host("App.Example.com."),
            Ok(Host::Domain("App.Example.com."))
        );
        assert_eq!(
            parse_host("0177.0.0.1"),
            Ok(Host::Ipv4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(parse_host("[::1]"), Ok(Host::Ipv6(Ipv6Addr::LOCALHOST)));
        assert_eq!(
            parse_host("[0:0:0:0:0:0:0:1]"),
            Ok(Host::Ipv6(Ipv6Addr::LOCALHOST))
        );
        assert!(matches!(
            parse_host("[::ffff:192.0.2.1]"),
            Ok(Host::Ipv6(_))
        ));
        for (host, why) in [
            ("[::1%25eth0]", "zone identifier"),
            ("[fe80::1%eth0]", "zone identifier"),
            ("[v1.x]", "IPvFuture"),
            ("[::1::2]", "not a valid IPv6 address"),
            ("[::ffff:01.2.3.4]", "not a valid IPv6 address"),
            ("bücher.example", "xn--"),
            ("%6cocalhost", "percent-encoded"),
            ("a_b.example", "\"_\""),
            ("a~b", "\"~\""),
            ("app..example.com", "empty label"),
            (".example.com", "empty label"),
            ("..", "empty label"),
            ("example.123", "IPv4"),
            ("xn--zz.example", "punycode"),
            ("xn--.example", "punycode"),
            ("xn--abc-.example", "punycode"),
        ] {
            match parse_host(host) {
                Err(e) => assert!(e.contains(why), "{host}: {e}"),
                Ok(h) => panic!("{host} accepted as {h:?}"),
            }
        }
    }

    #[test]
    fn ports_are_digits_up_to_65535() {
        for port in ["", "0", "80", "08080", "000000000080", "65535"] {
            assert_eq!(check_port(port), Ok(()), "{port}");
        }
        for port in [
            "65536",
            "99999",
            "4294967296",
            "abc",
            "+80",
            "-1",
            "8o",
            "80:80",
            "\u{661}",
        ] {
            assert!(check_port(port).is_err(), "{port}");
        }
    }

    #[test]
    fn brackets_enclose_a_whole_ipv6_host() {
        assert_eq!(split_host_port("[::1]:8080"), Ok(("[::1]", Some("8080"))));
        assert_eq!(split_host_port("[::1]"), Ok(("[::1]", None)));
        assert_eq!(split_host_port("a.example:"), Ok(("a.example", Some(""))));
        for bad in [
            "[::1", "[::1]x", "[::1]]", "::1]", "a[b", "a]:80", "[[::1]]", "[]",
        ] {
            assert!(split_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_labels_are_well_formed_punycode() {
        let decode = |s: &str| punycode_decode(s).map(|d| d.into_iter().collect::<String>());
        assert_eq!(decode("bcher-kva").as_deref(), Some("bücher"));
        assert_eq!(decode("mnchen-3ya").as_deref(), Some("münchen"));
        assert_eq!(decode("ls8h").as_deref(), Some("\u{1f4a9}"));
        assert_eq!(decode("zz"), None);
        assert_eq!(decode("99999999"), None);
        assert_eq!(decode("a_b"), None);
        for label in [
            "xn--bcher-kva",
            "XN--BCHER-KVA",
            "Xn--mnchen-3ya",
            "app",
            "ab--cd",
        ] {
            assert!(is_valid_a_label(label), "{label}");
        }
        // Empty, all ASCII once decoded, or decoding to a control character (U+0080).
        for label in ["xn--", "xn--abc-", "xn--a", "xn--zz", "xn---"] {
            assert!(!is_valid_a_label(label), "{label}");
        }
    }
}
