//! Pure request facts the gate derives before deciding: the normalised path (RFC 3986 §6.2.2),
//! the client IP (socket peer, or the rightmost untrusted entry of the configured forwarding
//! header when the peer is a trusted proxy), the bearer token (RFC 6750 §2.1), and hop-by-hop headers (RFC 9110
//! §7.6.1).

use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, AUTHORIZATION, CONNECTION};
use policy::forwarded::ProxyTrust;

/// Why a request target cannot be matched safely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathError {
    NotAbsolute,
    BadPercent,
    /// `%2F` or `%5C`: an upstream might decode them into separators the gate never matched.
    EncodedSeparator,
}

/// The path as policies and routes see it (RFC 3986 §6.2.2): percent-encoded unreserved
/// characters decoded, other percent-encodings upper-cased (§6.2.2.1–2), then dot segments
/// removed (§5.2.4, §6.2.2.3). Encoded `/` and `\` are refused.
pub fn normalize_path(raw: &str) -> Result<String, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let b = raw.as_bytes();
    let mut decoded = String::with_capacity(raw.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(PathError::BadPercent);
            };
            let v = (h * 16 + l) as u8;
            if v == b'/' || v == b'\\' {
                return Err(PathError::EncodedSeparator);
            }
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                decoded.push(v as char);
            } else {
                decoded.push_str(&format!("%{v:02X}"));
            }
            i += 3;
        } else {
            // The URI was parsed by hyper: only ASCII reaches here.
            decoded.push(b[i] as char);
            i += 1;
        }
    }
    Ok(remove_dot_segments(&decoded))
}

/// RFC 3986 §5.2.4 for an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let segs: Vec<&str> = path[1..].split('/').collect();
    let n = segs.len();
    let mut out: Vec<&str> = Vec::with_capacity(n);
    for (i, s) in segs.into_iter().enumerate() {
        let last = i + 1 == n;
        match s {
            "." => {}
            ".." => {
                out.pop();
            }
            s => {
                out.push(s);
                continue;
            }
        }
        if last {
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

/// The client's address ([`ProxyTrust::client_ip`] over the configured header's values).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &ProxyTrust) -> IpAddr {
    proxies.client_ip(
        peer,
        headers
            .get_all(proxies.header.name())
            .iter()
            .map(|v| v.to_str().ok()),
    )
}

/// What the `Authorization` header says about a bearer token.
#[derive(Debug, PartialEq, Eq)]
pub enum Bearer<'a> {
    Missing,
    /// Several `Authorization` fields, another scheme, or not a b64token (RFC 6750 §2.1).
    Malformed,
    TooLarge(usize),
    Token(&'a str),
}

/// Reads `Authorization: Bearer <b64token>`; the scheme is case-insensitive (RFC 9110 §11.1).
/// The size cap comes before any other look at the value.
pub fn bearer(headers: &HeaderMap, max: usize) -> Bearer<'_> {
    let mut all = headers.get_all(AUTHORIZATION).iter();
    let Some(v) = all.next() else {
        return Bearer::Missing;
    };
    if all.next().is_some() {
        return Bearer::Malformed;
    }
    let v = v.as_bytes();
    if v.len() > max + 7 {
        return Bearer::TooLarge(v.len());
    }
    let Some((scheme, token)) = v.split_first_chunk::<7>() else {
        return Bearer::Malformed;
    };
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return Bearer::Malformed;
    }
    let body_len = token.iter().rposition(|&c| c != b'=').map_or(0, |p| p + 1);
    let ok = body_len > 0
        && token[..body_len].iter().all(|&c| {
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    match std::str::from_utf8(token) {
        Ok(t) if ok => Bearer::Token(t),
        _ => Bearer::Malformed,
    }
}

/// Hop-by-hop fields (RFC 9110 §7.6.1), removed in both directions.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
];

/// Removes hop-by-hop fields, including every field named in `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for n in HOP_BY_HOP {
        headers.remove(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn paths_are_normalised_as_rfc3986_says() {
        let n = |s: &str| normalize_path(s);
        assert_eq!(n("/"), Ok("/".into()));
        assert_eq!(n("/a/b/../c"), Ok("/a/c".into()));
        assert_eq!(n("/a/./b/"), Ok("/a/b/".into()));
        assert_eq!(n("/a/.."), Ok("/".into()));
        assert_eq!(n("/../../etc"), Ok("/etc".into()));
        assert_eq!(n("/%61dmin/%2e%2E/x"), Ok("/x".into()));
        assert_eq!(n("/%7euser/%c3%a9"), Ok("/~user/%C3%A9".into()));
        assert_eq!(n("/admin%2Fsecret"), Err(PathError::EncodedSeparator));
        assert_eq!(n("/a%5cb"), Err(PathError::EncodedSeparator));
        assert_eq!(n("/a%zz"), Err(PathError::BadPercent));
        assert_eq!(n("/a%4"), Err(PathError::BadPercent));
        assert_eq!(n("*"), Err(PathError::NotAbsolute));
    }

    #[test]
    fn only_the_configured_header_is_believed_and_only_from_trusted_peers() {
        use policy::forwarded::ForwardedHeader;
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 203.0.113.9"),
        );
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.7"));
        h.append("forwarded", HeaderValue::from_static("for=198.51.100.77"));
        let trusted = vec!["10.0.0.0/8".parse().expect("valid")];
        let xff = ProxyTrust::new(trusted.clone(), ForwardedHeader::XForwardedFor);
        let fwd = ProxyTrust::new(trusted, ForwardedHeader::Forwarded);
        for t in [&xff, &fwd] {
            assert_eq!(client_ip(ip("198.51.100.1"), &h, t), ip("198.51.100.1"));
            assert_eq!(
                client_ip(ip("10.0.0.1"), &HeaderMap::new(), t),
                ip("10.0.0.1")
            );
        }
        // Both field lines of X-Forwarded-For are one list; `Forwarded` is not read.
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &xff), ip("203.0.113.9"));
        // And the reverse.
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &fwd), ip("198.51.100.77"));
    }

    #[test]
    fn bearer_tokens_are_read_strictly() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.append(AUTHORIZATION, HeaderValue::from_str(v).expect("value"));
            h
        };
        assert_eq!(bearer(&HeaderMap::new(), 100), Bearer::Missing);
        assert_eq!(
            bearer(&with("Bearer abc.def-_~+/=="), 100),
            Bearer::Token("abc.def-_~+/==")
        );
        assert_eq!(bearer(&with("bearer x"), 100), Bearer::Token("x"));
        for bad in [
            "Basic abc",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer ==",
            "Bearer a\"b",
        ] {
            assert_eq!(bearer(&with(bad), 100), Bearer::Malformed, "{bad}");
        }
        assert!(matches!(
            bearer(&with(&format!("Bearer {}", "a".repeat(200))), 100),
            Bearer::TooLarge(_)
        ));
        let mut two = with("Bearer a");
        two.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert_eq!(bearer(&two, 100), Bearer::Malformed);
    }

    #[test]
    fn hop_by_hop_fields_go_including_those_connection_names() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
