//! Who the client is behind reverse proxies: the socket peer, unless the peer is a trusted
//! proxy; then the rightmost address that is not itself a trusted proxy, read from the one
//! header the operator's proxies write — `X-Forwarded-For` or `Forwarded` (RFC 7239). Shared by
//! the console (sign-in throttle, audit IP) and the gate (limits, what the upstream is told).
//!
//! Only the configured header is read: a proxy that appends to `X-Forwarded-For` passes a
//! client's own `Forwarded` through untouched, so believing both would let any client name
//! itself. The `Forwarded` grammar (RFC 7239 §4 over RFC 9110 tokens and quoted strings) is
//! parsed here by hand: the `http` crate has no parser for it, none of the small crates that do
//! is widely used, and this crate must also build for the browser. The parser is strict — an
//! element it cannot read ends the walk at the last trusted hop, exactly as an unreadable
//! `X-Forwarded-For` entry does — so a malformed header can only make the client look like the
//! proxy, never like an address of the client's choosing.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

use crate::cidr::Cidr;

/// The header a deployment's proxies write the client's address into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (what nginx's
    /// `$proxy_add_x_forwarded_for`, HAProxy's `option forwardfor` and most load balancers write).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for="[2001:db8::1]:4711"` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name, lower case as HTTP/2 sends it.
    pub const fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }

    /// The other one: never believed, and removed before a request is passed on.
    pub const fn other(self) -> ForwardedHeader {
        match self {
            ForwardedHeader::XForwardedFor => ForwardedHeader::Forwarded,
            ForwardedHeader::Forwarded => ForwardedHeader::XForwardedFor,
        }
    }
}

impl fmt::Display for ForwardedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ForwardedHeader {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(format!(
                "“{s}” is not a forwarding header: write x-forwarded-for or forwarded (RFC 7239)"
            )),
        }
    }
}

/// Which peers are proxies, and which header they write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyTrust {
    pub proxies: Vec<Cidr>,
    pub header: ForwardedHeader,
}

/// One hop named by a forwarding header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hop {
    Ip(IpAddr),
    /// `unknown`, an obfuscated name (`_hidden`), an element without `for`, or text that is not
    /// an address: nothing to the left of it can be checked.
    Opaque,
}

impl ProxyTrust {
    pub fn new(proxies: Vec<Cidr>, header: ForwardedHeader) -> Self {
        ProxyTrust { proxies, header }
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|c| c.contains(ip))
    }

    /// The client's address. `values`: the configured header's field values in order, `None`
    /// for one that is not text (the walk then stops at the peer). Entries left of the
    /// rightmost untrusted address were written by the client and prove nothing.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        values: impl IntoIterator<Item = Option<&'a str>>,
    ) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut hops = Vec::new();
        for v in values {
            match v {
                Some(s) => self.hops(s, &mut hops),
                None => return peer,
            }
        }
        let mut last = peer;
        for hop in hops.iter().rev() {
            match *hop {
                Hop::Ip(ip) if self.trusts(ip) => last = ip,
                Hop::Ip(ip) => return ip,
                Hop::Opaque => return last,
            }
        }
        last
    }

    /// The header value to pass on to the next hop: the `prior` values (only when the peer is
    /// trusted; an untrusted peer's claims are dropped) with the peer appended, in the
    /// configured header's syntax.
    pub fn pass_on<'a>(&self, peer: IpAddr, prior: impl IntoIterator<Item = &'a str>) -> String {
        let own = match (self.header, peer) {
            (ForwardedHeader::XForwardedFor, ip) => ip.to_string(),
            (ForwardedHeader::Forwarded, IpAddr::V4(ip)) => format!("for={ip}"),
            (ForwardedHeader::Forwarded, IpAddr::V6(ip)) => format!("for=\"[{ip}]\""),
        };
        if !self.trusts(peer) {
            return own;
        }
        let mut parts: Vec<&str> = prior
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        parts.push(&own);
        parts.join(", ")
    }

    fn hops(&self, value: &str, out: &mut Vec<Hop>) {
        match self.header {
            ForwardedHeader::XForwardedFor => out.extend(
                value
                    .split(',')
                    .map(|e| e.trim().parse::<IpAddr>().map_or(Hop::Opaque, Hop::Ip)),
            ),
            ForwardedHeader::Forwarded => match forwarded_elements(value) {
                Some(elements) => out.extend(elements),
                // The value cannot be split into elements at all: one opaque hop stands for
                // it, so the walk stops at the hop to its right.
                None => out.push(Hop::Opaque),
            },
        }
    }
}

/// The `for` node of each element of one `Forwarded` field value, or `None` when the value's
/// quoting is broken (an unterminated quoted string).
fn forwarded_elements(value: &str) -> Option<Vec<Hop>> {
    let mut hops = Vec::new();
    let mut for_node: Option<Option<String>> = None;
    let mut malformed = false;
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        // One pair: token "=" (token / quoted-string), or nothing (empty pairs are allowed).
        if !rest.is_empty() && !rest.starts_with([';', ',']) {
            let name_len = rest.find(|c: char| !is_tchar(c)).unwrap_or(rest.len());
            let name = &rest[..name_len];
            rest = &rest[name_len..];
            if name.is_empty() || !rest.starts_with('=') {
                malformed = true;
                rest = skip_to_delimiter(rest)?;
            } else {
                rest = &rest[1..];
                let (val, after) = pair_value(rest)?;
                rest = after;
                match val {
                    Some(v) if name.eq_ignore_ascii_case("for") => {
                        if for_node.is_some() {
                            // RFC 7239 §4: each parameter at most once per element.
                            malformed = true;
                        }
                        for_node = Some(Some(v));
                    }
                    Some(_) => {}
                    None => malformed = true,
                }
            }
            rest = rest.trim_start_matches([' ', '\t']);
        }
        match rest.chars().next() {
            Some(';') => rest = &rest[1..],
            Some(',') | None => {
                let hop = match (&for_node, malformed) {
                    (Some(Some(node)), false) => parse_node(node),
                    _ => Hop::Opaque,
                };
                // An empty list element (`a, , b`) is no element (RFC 9110 §5.6.1).
                let empty = for_node.is_none() && !malformed && is_empty_element(value, rest);
                if !empty {
                    hops.push(hop);
                }
                for_node = None;
                malformed = false;
                if rest.is_empty() {
                    return Some(hops);
                }
                rest = &rest[1..];
            }
            Some(_) => {
                malformed = true;
                rest = skip_to_delimiter(rest)?;
            }
        }
    }
}

/// Whether the element that ends at `rest` held nothing but whitespace and semicolons.
fn is_empty_element(value: &str, rest: &str) -> bool {
    let end = value.len() - rest.len();
    let start = value[..end].rfind(',').map_or(0, |i| i + 1);
    value[start..end]
        .chars()
        .all(|c| matches!(c, ' ' | '\t' | ';'))
}

/// The value after `name=`: a token or a quoted string (unescaped), and the text after it.
/// `Ok((None, _))` for an empty or invalid value; `None` for an unterminated quoted string.
fn pair_value(s: &str) -> Option<(Option<String>, &str)> {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((Some(out), &quoted[i + 1..])),
                '\\' => match chars.next() {
                    Some((_, e)) if e == '\t' || e == ' ' || e.is_ascii_graphic() => out.push(e),
                    _ => return None,
                },
                c if c == '\t' || c == ' ' || c.is_ascii_graphic() => out.push(c),
                _ => return None,
            }
        }
        None
    } else {
        let len = s.find(|c: char| !is_tchar(c)).unwrap_or(s.len());
        let token = (len > 0).then(|| s[..len].to_string());
        Some((token, &s[len..]))
    }
}

/// Skips a malformed pair up to the next `;` or `,` outside a quoted string.
fn skip_to_delimiter(s: &str) -> Option<&str> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ';' | ',' if !in_quotes => return Some(&s[i..]),
            _ => {}
        }
    }
    (!in_quotes).then_some("")
}

/// A `for` node (RFC 7239 §6): `192.0.2.43`, `192.0.2.43:47011`, `[2001:db8::17]`,
/// `[2001:db8::17]:4711`. `unknown` and obfuscated names (`_hidden`) are opaque, as is an IPv6
/// address without brackets (the RFC requires them; a port could not be told apart).
fn parse_node(node: &str) -> Hop {
    let (host, port) = if let Some(bracketed) = node.strip_prefix('[') {
        let Some((v6, after)) = bracketed.split_once(']') else {
            return Hop::Opaque;
        };
        let Ok(ip) = v6.parse::<Ipv6Addr>() else {
            return Hop::Opaque;
        };
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Hop::Opaque,
            },
        };
        (IpAddr::V6(ip), port)
    } else {
        let (host, port) = match node.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (node, None),
        };
        let Ok(ip) = host.parse::<Ipv4Addr>() else {
            return Hop::Opaque;
        };
        (IpAddr::V4(ip), port)
    };
    match port {
        Some(p) if !is_node_port(p) => Hop::Opaque,
        _ => Hop::Ip(host),
    }
}

/// `node-port = port / obfport` (RFC 7239 §6): 1–5 digits, or `_` followed by letters, digits,
/// `.`, `_`, `-`.
fn is_node_port(p: &str) -> bool {
    match p.strip_prefix('_') {
        Some(obf) => {
            !obf.is_empty()
                && obf
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        None => !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn trust(header: ForwardedHeader, proxies: &[&str]) -> ProxyTrust {
        ProxyTrust::new(
            proxies.iter().map(|c| c.parse().expect("cidr")).collect(),
            header,
        )
    }

    fn hops(v: &str) -> Option<Vec<Hop>> {
        forwarded_elements(v)
    }

    #[test]
    fn reads_the_examples_of_rfc_7239() {
        // §4 and §7.1.
        assert_eq!(hops(r#"for="_gazonk""#), Some(vec![Hop::Opaque]));
        assert_eq!(
            hops(r#"For="[2001:db8:cafe::17]:4711""#),
            Some(vec![Hop::Ip(ip("2001:db8:cafe::17"))])
        );
        assert_eq!(
            hops("for=192.0.2.60;proto=http;by=203.0.113.43"),
            Some(vec![Hop::Ip(ip("192.0.2.60"))])
        );
        assert_eq!(
            hops("for=192.0.2.43, for=198.51.100.17"),
            Some(vec![
                Hop::Ip(ip("192.0.2.43")),
                Hop::Ip(ip("198.51.100.17"))
            ])
        );
        assert_eq!(
            hops(r#"for=192.0.2.43, for="[2001:db8:cafe::17]", for=unknown"#),
            Some(vec![
                Hop::Ip(ip("192.0.2.43")),
                Hop::Ip(ip("2001:db8:cafe::17")),
                Hop::Opaque
            ])
        );
        assert_eq!(
            hops(r#"for="192.0.2.43:47011""#),
            Some(vec![Hop::Ip(ip("192.0.2.43"))])
        );
        assert_eq!(
            hops(r#"for="[2001:db8::1]:_port-a""#),
            Some(vec![Hop::Ip(ip("2001:db8::1"))])
        );
    }

    #[test]
    fn malformed_elements_are_opaque_and_quotes_hide_delimiters() {
        // A comma or semicolon inside a quoted value does not split the element.
        assert_eq!(
            hops(r#"by="a,b;c";for=192.0.2.1, for=192.0.2.2"#),
            Some(vec![Hop::Ip(ip("192.0.2.1")), Hop::Ip(ip("192.0.2.2"))])
        );
        for bad in [
            "for=2001:db8::1",             // IPv6 without brackets and quotes
            r#"for="2001:db8::1""#,        // without brackets
            r#"for="[2001:db8::1""#,       // no closing bracket
            "for=192.0.2.1;for=192.0.2.2", // `for` twice
            "for=",                        // no value
            "for 192.0.2.1",               // no `=`
            r#"for="192.0.2.1:99999x""#,   // port not a port
            "proto=https",                 // no `for`
            "for=192.0.2.256",
        ] {
            assert_eq!(hops(bad), Some(vec![Hop::Opaque]), "{bad}");
        }
        assert_eq!(hops(r#"for="192.0.2.1"#), None, "unterminated quote");
        assert_eq!(
            hops("for=192.0.2.1, , for=192.0.2.2"),
            Some(vec![Hop::Ip(ip("192.0.2.1")), Hop::Ip(ip("192.0.2.2"))]),
            "empty list elements are no elements"
        );
    }

    #[test]
    fn only_trusted_peers_are_believed_and_the_rightmost_untrusted_hop_wins() {
        for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
            let t = trust(header, &["10.0.0.0/8"]);
            let v = |ips: &[&str]| match header {
                ForwardedHeader::XForwardedFor => ips.join(", "),
                ForwardedHeader::Forwarded => ips
                    .iter()
                    .map(|i| format!("for={i}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let spoofed = v(&["6.6.6.6", "203.0.113.9", "10.0.0.7"]);
            assert_eq!(
                t.client_ip(ip("198.51.100.1"), [Some(spoofed.as_str())]),
                ip("198.51.100.1"),
                "{header}: an untrusted peer names only itself"
            );
            assert_eq!(
                t.client_ip(ip("10.0.0.1"), [Some(spoofed.as_str())]),
                ip("203.0.113.9"),
                "{header}: the client's own entries left of the first untrusted hop are ignored"
            );
            let junk = v(&["not-an-ip", "10.0.0.9"]);
            assert_eq!(
                t.client_ip(ip("10.0.0.1"), [Some(junk.as_str())]),
                ip("10.0.0.9"),
                "{header}: junk ends the walk at the last trusted hop"
            );
            assert_eq!(t.client_ip(ip("10.0.0.1"), []), ip("10.0.0.1"));
            assert_eq!(
                t.client_ip(ip("10.0.0.1"), [Some(v(&["203.0.113.9"]).as_str()), None]),
                ip("10.0.0.1"),
                "{header}: a value that is not text stops at the peer"
            );
            // Two field lines are one list.
            let (a, b) = (v(&["203.0.113.9"]), v(&["10.0.0.3"]));
            assert_eq!(
                t.client_ip(ip("10.0.0.1"), [Some(a.as_str()), Some(b.as_str())]),
                ip("203.0.113.9")
            );
        }
    }

    #[test]
    fn the_other_header_proves_nothing() {
        // Parsing a Forwarded value as X-Forwarded-For (and the reverse) yields no address:
        // the walk ends at the trusted peer.
        let xff = trust(ForwardedHeader::XForwardedFor, &["127.0.0.1"]);
        assert_eq!(
            xff.client_ip(ip("127.0.0.1"), [Some("for=6.6.6.6")]),
            ip("127.0.0.1")
        );
        let fwd = trust(ForwardedHeader::Forwarded, &["127.0.0.1"]);
        assert_eq!(
            fwd.client_ip(ip("127.0.0.1"), [Some("6.6.6.6")]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn passes_on_in_the_configured_syntax() {
        let fwd = trust(ForwardedHeader::Forwarded, &["127.0.0.1", "::1"]);
        assert_eq!(
            fwd.pass_on(ip("127.0.0.1"), ["for=203.0.113.9"]),
            "for=203.0.113.9, for=127.0.0.1"
        );
        assert_eq!(
            fwd.pass_on(ip("::1"), []),
            "for=\"[::1]\"",
            "IPv6 nodes are bracketed and quoted (RFC 7239 §6)"
        );
        assert_eq!(
            fwd.pass_on(ip("198.51.100.1"), ["for=6.6.6.6"]),
            "for=198.51.100.1",
            "an untrusted peer's claims are dropped"
        );
        let xff = trust(ForwardedHeader::XForwardedFor, &["127.0.0.1"]);
        assert_eq!(
            xff.pass_on(ip("127.0.0.1"), ["203.0.113.9", " 10.0.0.1 "]),
            "203.0.113.9, 10.0.0.1, 127.0.0.1"
        );
        // What one hop passes on, the next reads back.
        let once = fwd.pass_on(ip("::1"), [r#"for="[2001:db8::5]:443""#]);
        assert_eq!(
            fwd.client_ip(ip("127.0.0.1"), [Some(once.as_str())]),
            ip("2001:db8::5")
        );
    }

    #[test]
    fn the_setting_parses_and_names_the_choices() {
        assert_eq!("Forwarded".parse(), Ok(ForwardedHeader::Forwarded));
        assert_eq!(
            "x-forwarded-for".parse(),
            Ok(ForwardedHeader::XForwardedFor)
        );
        let e = "x-real-ip"
            .parse::<ForwardedHeader>()
            .expect_err("not a choice");
        assert!(e.contains("x-forwarded-for or forwarded"), "{e}");
    }
}
