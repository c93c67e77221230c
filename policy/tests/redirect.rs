//! The redirect-URI linter, each rule both ways: a URI that trips it and a near miss that does
//! not. A "near miss" asserts that the rule's code is absent, and where the URI is fully valid,
//! that there is no issue at all.

use policy::redirect::{
    has_errors, lint_redirect_uris, ClientKind, Severity, UriIssue, MAX_URIS, MAX_URI_CHARS,
};

use ClientKind::{Native, Service, Web};

fn lint(kind: ClientKind, uris: &[&str]) -> Vec<UriIssue> {
    let uris: Vec<String> = uris.iter().map(|u| (*u).to_owned()).collect();
    lint_redirect_uris(kind, &uris)
}

fn lint1(kind: ClientKind, uri: &str) -> Vec<UriIssue> {
    lint(kind, &[uri])
}

fn codes(issues: &[UriIssue]) -> Vec<&str> {
    issues.iter().map(|i| i.code.as_str()).collect()
}

/// The one issue with `code`; fails when there is none or more than one.
#[track_caller]
fn only<'a>(issues: &'a [UriIssue], code: &str) -> &'a UriIssue {
    let found: Vec<&UriIssue> = issues.iter().filter(|i| i.code == code).collect();
    assert_eq!(found.len(), 1, "expected one {code} in {issues:#?}");
    found[0]
}

#[track_caller]
fn assert_error(kind: ClientKind, uri: &str, code: &str) -> UriIssue {
    let issues = lint1(kind, uri);
    let i = only(&issues, code).clone();
    assert_eq!(i.severity, Severity::Error, "{i:?}");
    assert!(has_errors(&issues));
    i
}

#[track_caller]
fn assert_warning(kind: ClientKind, uri: &str, code: &str) -> UriIssue {
    let issues = lint1(kind, uri);
    let i = only(&issues, code).clone();
    assert_eq!(i.severity, Severity::Warning, "{i:?}");
    i
}

#[track_caller]
fn assert_clean(kind: ClientKind, uri: &str) {
    let issues = lint1(kind, uri);
    assert!(issues.is_empty(), "{uri} for {kind:?}: {issues:#?}");
}

#[track_caller]
fn assert_lacks(kind: ClientKind, uri: &str, code: &str) {
    let issues = lint1(kind, uri);
    assert!(
        !codes(&issues).contains(&code),
        "{uri}: unexpected {code} in {issues:#?}"
    );
}

// ---- the examples of the brief -------------------------------------------------------------

#[test]
fn web_https_is_clean() {
    assert_clean(Web, "https://app.example.com/cb");
    assert_clean(Native, "https://app.example.com/cb");
}

#[test]
fn userinfo_message_names_the_part_and_the_position() {
    let i = lint(
        Web,
        &["https://app.example.com/cb", "https://evil@good.example/cb"],
    );
    let i = only(&i, "userinfo");
    assert_eq!(i.index, 1);
    assert_eq!(i.uri, "https://evil@good.example/cb");
    assert_eq!(
        i.message,
        "redirect URI 2 (https://evil@good.example/cb) carries userinfo (\"evil@\"): an \
         attacker can disguise the real host; remove it (RFC 3986 §3.2.1)"
    );
}

// ---- list-level rules ----------------------------------------------------------------------

#[test]
fn web_and_native_need_at_least_one() {
    for kind in [Web, Native] {
        let issues = lint(kind, &[]);
        assert_eq!(issues.len(), 1);
        let i = only(&issues, "none_registered");
        assert_eq!(
            (i.index, i.uri.as_str(), i.severity),
            (0, "", Severity::Error)
        );
        assert!(lint(kind, &["https://app.example.com/cb"]).is_empty());
    }
}

#[test]
fn service_takes_none() {
    assert!(lint(Service, &[]).is_empty());
    let issues = lint(
        Service,
        &["https://app.example.com/cb", "https://b.example.com/cb"],
    );
    assert_eq!(codes(&issues), ["service_client", "service_client"]);
    assert!(issues.iter().all(UriIssue::is_error));
    assert_eq!(issues[1].index, 1);
    assert!(issues[0]
        .message
        .contains("service clients use the client-credentials grant and take no redirect URIs"));
}

#[test]
fn at_most_twenty() {
    let many: Vec<String> = (0..=MAX_URIS)
        .map(|n| format!("https://app.example.com/cb{n}"))
        .collect();
    let issues = lint_redirect_uris(Web, &many);
    let i = only(&issues, "too_many");
    assert_eq!((i.index, i.severity), (MAX_URIS, Severity::Error));
    assert!(
        i.message
            .contains("21 redirect URIs registered, at most 20"),
        "{}",
        i.message
    );
    assert!(lint_redirect_uris(Web, &many[..MAX_URIS]).is_empty());
}

#[test]
fn duplicates_are_reported_on_the_later_one() {
    let issues = lint(
        Web,
        &[
            "https://app.example.com/cb",
            "https://app.example.com/other",
            "https://app.example.com/cb",
        ],
    );
    let i = only(&issues, "duplicate");
    assert_eq!((i.index, i.severity), (2, Severity::Error));
    assert!(
        i.message.contains("repeats redirect URI 1"),
        "{}",
        i.message
    );
    // Equal after trimming: still a duplicate (and the first one's whitespace is reported).
    let issues = lint(
        Web,
        &[" https://app.example.com/cb", "https://app.example.com/cb"],
    );
    assert_eq!(codes(&issues), ["whitespace", "duplicate"]);
    // A near miss: the trailing slash makes another URI.
    assert!(lint(
        Web,
        &["https://app.example.com/cb", "https://app.example.com/cb/"]
    )
    .is_empty());
}

// ---- form ----------------------------------------------------------------------------------

#[test]
fn empty_and_blank() {
    let i = assert_error(Web, "", "empty");
    assert_eq!(i.message, "redirect URI 1 is empty; remove the line");
    let i = assert_error(Web, " \t ", "empty");
    assert!(i.message.contains("is only whitespace"));
    assert_eq!(lint1(Web, "  ").len(), 1);
    assert_lacks(Web, "https://a.example/", "empty");
}

#[test]
fn surrounding_whitespace() {
    assert_error(Web, " https://app.example.com/cb", "whitespace");
    assert_error(Web, "https://app.example.com/cb\n", "whitespace");
    // Only the whitespace is wrong: nothing else is reported.
    assert_eq!(lint1(Web, "https://app.example.com/cb ").len(), 1);
    assert_clean(Web, "https://app.example.com/cb");
}

#[test]
fn characters_a_uri_cannot_hold() {
    // The WHATWG parser would silently drop the tab and read "app.example.com".
    let i = assert_error(Web, "https://app.exa\tmple.com/cb", "invalid_character");
    assert!(i.message.contains("a tab at character 16"), "{}", i.message);
    assert!(
        i.message.contains("\\t"),
        "the tab is escaped: {}",
        i.message
    );
    assert_error(Web, "https://app.example.com/my cb", "invalid_character");
    // A backslash is a slash to browsers and not to others: host confusion.
    assert_error(
        Web,
        "https://good.example\\@evil.example/cb",
        "invalid_character",
    );
    assert_error(Web, "https://app.example.com/cb?x={y}", "invalid_character");
    assert_clean(Web, "https://app.example.com/my%20cb");
}

#[test]
fn too_long() {
    let long = format!("https://app.example.com/{}", "a".repeat(MAX_URI_CHARS));
    let i = assert_error(Web, &long, "too_long");
    assert!(i.message.contains("more than the 2000 allowed"));
    assert!(
        i.message.chars().count() < 400,
        "the URI is cut in the message"
    );
    let fits = format!("https://app.example.com/{}", "a".repeat(MAX_URI_CHARS - 24));
    assert_eq!(fits.chars().count(), MAX_URI_CHARS);
    assert_clean(Web, &fits);
}

#[test]
fn not_absolute() {
    for uri in ["/cb", "cb", "//app.example.com/cb", "?x=1", "1app:/cb"] {
        assert_error(Web, uri, "not_absolute");
    }
    let i = assert_error(Native, "app.example.com:8443/cb", "not_absolute");
    assert!(i.message.contains("without a scheme"), "{}", i.message);
    assert_eq!(lint1(Native, "app.example.com:8443/cb").len(), 1);
    assert_lacks(Web, "https://app.example.com:8443/cb", "not_absolute");
}

#[test]
fn unparsable() {
    let i = assert_error(Web, "https://app.example.com:99999/cb", "unparsable");
    assert!(i.message.contains("is not a valid URI"), "{}", i.message);
    assert_error(Web, "https://[::1/cb", "unparsable");
    assert_clean(Web, "https://app.example.com:8443/cb");
}

#[test]
fn fragment() {
    let i = assert_error(Web, "https://app.example.com/cb#x", "fragment");
    assert!(i.message.contains("(\"#x\")"), "{}", i.message);
    assert!(i.message.contains("RFC 6749 §3.1.2"));
    // Even an empty one, which a normalising parser would keep silent about.
    assert_error(Web, "https://app.example.com/cb#", "fragment");
    assert_error(Native, "com.example.app:/cb#x", "fragment");
    assert_clean(Web, "https://app.example.com/cb%23x");
}

#[test]
fn userinfo() {
    assert_error(Web, "https://user:pass@good.example/cb", "userinfo");
    let i = assert_error(Web, "https://@good.example/cb", "userinfo");
    assert!(i.message.contains("(\"@\")"));
    // An @ in the path or query is not userinfo.
    assert_clean(Web, "https://good.example/@team/cb");
    assert_lacks(Web, "https://good.example/cb?user=a@b.example", "userinfo");
}

#[test]
fn wildcards() {
    let i = assert_error(Web, "https://*.example.com/cb", "wildcard");
    assert!(i.message.contains("in the host"), "{}", i.message);
    assert!(i.message.contains("RFC 9700 §4.1.1"));
    let i = assert_error(Web, "https://app.example.com/*", "wildcard");
    assert!(i.message.contains("in the path"));
    let i = assert_error(Web, "https://app.example.com/cb?next=*", "wildcard");
    assert!(i.message.contains("in the query"));
    assert_error(Native, "com.example.app:/*", "wildcard");
    assert_clean(Web, "https://star.example.com/cb");
}

#[test]
fn path_traversal() {
    for uri in [
        "https://app.example.com/cb/../admin",
        "https://app.example.com/cb/%2e%2e/admin",
        "https://app.example.com/cb/.%2E/admin",
        "https://app.example.com/cb/..",
        "com.example.app:/cb/../x",
    ] {
        assert_error(Native, uri, "path_traversal");
    }
    assert_clean(Web, "https://app.example.com/cb/..x/.../a..b");
    // Only the path counts.
    assert_lacks(Web, "https://app.example.com/cb?p=/../", "path_traversal");
}

#[test]
fn query_is_a_warning() {
    let i = assert_warning(Web, "https://app.example.com/cb?tenant=a", "query");
    assert!(i.message.contains("(\"?tenant=a\")"));
    assert!(!has_errors(&lint1(
        Web,
        "https://app.example.com/cb?tenant=a"
    )));
    let i = assert_warning(Web, "https://app.example.com/cb?", "query");
    assert!(i.message.contains("empty query"));
    assert_clean(Web, "https://app.example.com/cb");
}

// ---- schemes -------------------------------------------------------------------------------

#[test]
fn dangerous_schemes_for_everyone() {
    for kind in [Web, Native] {
        for uri in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "vbscript:msgbox",
            "blob:https://app.example.com/1",
            "about:blank",
        ] {
            let issues = lint1(kind, uri);
            assert_eq!(codes(&issues), ["dangerous_scheme"], "{uri}");
        }
    }
    assert_clean(Native, "com.example.javascript:/cb");
}

#[test]
fn https_needs_a_host() {
    // The WHATWG parser reads both as host "cb".
    assert_error(Web, "https:/cb", "missing_host");
    assert_error(Web, "https:///cb", "missing_host");
    assert_clean(Web, "https://cb/");
}

#[test]
fn https_localhost_is_a_warning() {
    assert_warning(Web, "https://localhost/cb", "https_localhost");
    assert_warning(Native, "https://app.localhost:8443/cb", "https_localhost");
    assert_clean(Web, "https://localhost.example.com/cb");
}

#[test]
fn https_ip_literal_is_a_warning() {
    let i = assert_warning(Web, "https://192.0.2.10/cb", "ip_literal");
    assert!(i.message.contains("192.0.2.10"));
    assert_warning(Web, "https://[2001:db8::1]/cb", "ip_literal");
    // Loopback is not "another machine's address".
    assert_clean(Native, "https://127.0.0.1/cb");
    assert_clean(Web, "https://app.example.com/cb");
}

#[test]
fn http_is_for_native_loopback_only() {
    let i = assert_error(Web, "http://app.example.com/cb", "http_not_allowed");
    assert!(i.message.contains("use https"));
    assert_error(Web, "http://127.0.0.1/cb", "http_not_allowed");
    let i = assert_error(Native, "http://example.com/cb", "http_not_loopback");
    assert!(i.message.contains("\"example.com\""), "{}", i.message);
    assert_error(Native, "http://192.168.1.10:8080/cb", "http_not_loopback");
    assert_clean(Native, "http://127.0.0.1/cb");
}

#[test]
fn native_loopback() {
    assert_clean(Native, "http://127.0.0.1/cb");
    assert_clean(Native, "http://[::1]/cb");
    assert_clean(Native, "http://127.0.0.1/");
    assert_clean(Native, "HTTP://127.0.0.1/cb");
}

#[test]
fn native_loopback_port_is_a_warning() {
    let issues = lint1(Native, "http://127.0.0.1:8080/cb");
    assert!(!has_errors(&issues));
    let i = only(&issues, "loopback_port");
    assert_eq!(i.severity, Severity::Warning);
    assert!(i.message.contains("\"8080\""), "{}", i.message);
    assert!(i.message.contains("Palisade matches any port"));
    assert_warning(Native, "http://[::1]:51004/cb", "loopback_port");
    // The parser drops a default port; the linter still sees it.
    assert_warning(Native, "http://127.0.0.1:80/cb", "loopback_port");
    assert_lacks(Native, "http://127.0.0.1/cb", "loopback_port");
}

#[test]
fn native_localhost_is_an_error() {
    let i = assert_error(Native, "http://localhost:8080/cb", "loopback_localhost");
    assert!(i.message.contains("RFC 8252 §8.3"));
    assert!(i.message.contains("http://127.0.0.1"));
    assert_error(Native, "http://LocalHost/cb", "loopback_localhost");
    assert_lacks(Native, "http://127.0.0.1:8080/cb", "loopback_localhost");
}

#[test]
fn native_loopback_written_exactly() {
    // The parser reads all of these as 127.0.0.1 or ::1, the app sends the canonical form.
    for uri in [
        "http://127.1/cb",
        "http://2130706433/cb",
        "http://0x7f.0.0.1/cb",
        "http://127.0.0.2/cb",
        "http://[0:0:0:0:0:0:0:1]/cb",
    ] {
        assert_error(Native, uri, "loopback_address");
    }
    assert_clean(Native, "http://127.0.0.1/cb");
    assert_clean(Native, "http://[::1]/cb");
}

#[test]
fn private_use_schemes() {
    assert_clean(Native, "com.example.app:/cb");
    assert_clean(Native, "com.example.app:/oauth2redirect/example-provider");
    for uri in [
        "myapp:/cb",
        "myapp://cb",
        "urn:ietf:wg:oauth:2.0:oob",
        "com..app:/cb",
        "com.:/cb",
    ] {
        let i = assert_error(Native, uri, "private_scheme_not_reverse_dns");
        assert!(
            i.message.contains("like com.example.app:/callback"),
            "{}",
            i.message
        );
    }
    let i = assert_error(Web, "com.example.app:/cb", "private_scheme_not_native");
    assert!(i.message.contains("only native apps"));
    assert_error(Web, "myapp:/cb", "private_scheme_not_native");
}

#[test]
fn private_use_scheme_form() {
    let i = assert_warning(Native, "com.example.app://cb", "private_scheme_form");
    assert!(
        i.message.contains("\"cb\" is read as a host"),
        "{}",
        i.message
    );
    assert!(!has_errors(&lint1(Native, "com.example.app://cb")));
    let i = assert_warning(Native, "com.example.app:cb", "private_scheme_form");
    assert!(i.message.contains("com.example.app:/cb"), "{}", i.message);
    assert_lacks(Native, "com.example.app:/cb", "private_scheme_form");
}

// ---- the whole list ------------------------------------------------------------------------

#[test]
fn a_realistic_native_list() {
    let issues = lint(
        Native,
        &[
            "com.example.app:/oauth2redirect",
            "http://127.0.0.1/cb",
            "http://[::1]/cb",
            "https://app.example.com/oauth2redirect",
        ],
    );
    assert!(issues.is_empty(), "{issues:#?}");
}

#[test]
fn issues_come_in_list_order_with_their_own_uri() {
    let issues = lint(
        Web,
        &[
            "https://a.example/cb#x",
            "https://b.example/cb",
            "http://c.example/",
        ],
    );
    let at: Vec<(usize, &str)> = issues.iter().map(|i| (i.index, i.uri.as_str())).collect();
    assert_eq!(
        at,
        [(0, "https://a.example/cb#x"), (2, "http://c.example/")]
    );
    assert!(issues[1]
        .message
        .starts_with("redirect URI 3 (http://c.example/)"));
}

#[test]
fn issues_round_trip_through_json() {
    let issues = lint(Native, &["http://127.0.0.1:8080/cb"]);
    let json = serde_json::to_string(&issues).unwrap_or_default();
    assert!(json.contains("\"severity\":\"warning\""), "{json}");
    let back: Vec<UriIssue> = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, issues);
    let kind: ClientKind = serde_json::from_str("\"native\"").unwrap_or(Web);
    assert_eq!(kind, Native);
}

#[test]
fn odd_input_never_panics() {
    let odd = [
        "\u{0}",
        ":",
        "a:",
        "a://",
        "https://",
        "https://[",
        "https://]",
        "http://[::1",
        "http://@",
        "http://:80",
        "é:/x",
        "https://bücher.example/cb",
        "com.example.app:",
        "#",
        "?",
        "@",
        "https://a.example/%",
        "https://a.example/%zz",
        "\u{feff}https://a.example/",
    ];
    for kind in [Native, Service, Web] {
        for uri in odd {
            let _ = lint1(kind, uri);
        }
    }
    assert!(has_errors(&lint1(Native, "a:")));
}

// ---- the host and port, checked without a URL library --------------------------------------

#[test]
fn every_ipv4_form_of_loopback_is_read_as_loopback() {
    for host in [
        "0x7f.0.0.1",
        "0177.0.0.1",
        "127.0.0.1.",
        "0x7f000001",
        "127.0.1",
    ] {
        let uri = format!("http://{host}/cb");
        let i = assert_error(Native, &uri, "loopback_address");
        assert!(i.message.contains(&format!("\"{host}\"")), "{}", i.message);
        assert_eq!(lint1(Native, &uri).len(), 1, "{uri}");
    }
    // Another loopback address, however written, is named in canonical form.
    let i = assert_error(Native, "http://0x7f.0.0.2/cb", "loopback_address");
    assert!(i.message.contains("127.0.0.2"), "{}", i.message);
    // Not loopback: an address in another form is still an address.
    let i = assert_warning(Web, "https://0xc0.0.2.10/cb", "ip_literal");
    assert!(i.message.contains("192.0.2.10"), "{}", i.message);
    assert_error(Native, "http://0xc0.0.2.10/cb", "http_not_loopback");
}

#[test]
fn a_name_ending_in_a_number_must_be_a_valid_address() {
    for uri in [
        "https://example.123/cb",
        "https://256.0.0.1/cb",
        "https://1.2.3.4.5/cb",
        "https://09/cb",
    ] {
        let i = assert_error(Web, uri, "unparsable");
        assert!(i.message.contains("IPv4"), "{}", i.message);
    }
    assert_clean(Web, "https://123.example/cb");
}

#[test]
fn ipv6_literals() {
    let i = assert_error(Native, "http://[::1%25eth0]/cb", "unparsable");
    assert!(i.message.contains("zone identifier"), "{}", i.message);
    assert!(i.message.contains("\"%25eth0\""), "{}", i.message);
    assert_error(Web, "https://[fe80::1%25en0]/cb", "unparsable");
    let i = assert_error(Web, "https://[v1.x]/cb", "unparsable");
    assert!(i.message.contains("IPvFuture"), "{}", i.message);
    for uri in [
        "https://[::1]x/cb",
        "https://[::1]]/cb",
        "https://[]/cb",
        "https://[1::2::3]/cb",
        "https://[::1.2.3]/cb",
        "https://::1]/cb",
        "https://a[b/cb",
        "com.example.app://[::1/cb",
    ] {
        assert_error(Native, uri, "unparsable");
    }
    assert_warning(Web, "https://[::ffff:192.0.2.1]/cb", "ip_literal");
}

#[test]
fn a_non_ascii_host_asks_for_its_a_label() {
    let i = assert_error(Web, "https://bücher.example/cb", "unparsable");
    assert!(i.message.contains("\"bücher.example\""), "{}", i.message);
    assert!(i.message.contains("punycode"), "{}", i.message);
    assert!(i.message.contains("xn--"), "{}", i.message);
    assert_eq!(lint1(Web, "https://bücher.example/cb").len(), 1);
    // Characters a parser would fold into ASCII are not ASCII either.
    assert_error(Native, "http://１２７.０.０.１/cb", "unparsable");
    assert_error(Web, "https://ex\u{ad}ample.com/cb", "unparsable");
    assert_clean(Web, "https://xn--bcher-kva.example/cb");
    assert_clean(Web, "https://XN--BCHER-KVA.example/cb");
    // An A-label that is not punycode.
    for uri in [
        "https://xn--zz.example/cb",
        "https://xn--.example/cb",
        "https://xn--abc-.example/cb",
    ] {
        let i = assert_error(Web, uri, "unparsable");
        assert!(i.message.contains("punycode"), "{}", i.message);
    }
}

#[test]
fn a_host_is_letters_digits_hyphens_and_dots() {
    assert_clean(Web, "https://App.Example.COM/cb");
    assert_clean(Web, "https://app.example.com./cb");
    assert_clean(Web, "https://a-b.example/cb");
    let i = assert_error(Web, "https://a_b.example/cb", "unparsable");
    assert!(i.message.contains("\"_\""), "{}", i.message);
    assert_error(Web, "https://a~b.example/cb", "unparsable");
    let i = assert_error(Web, "https://app..example.com/cb", "unparsable");
    assert!(i.message.contains("empty label"), "{}", i.message);
    assert_error(Web, "https://./cb", "unparsable");
    assert_error(Web, "https://127.0.0.1../cb", "unparsable");
    // A browser decodes these, the client may not: URIs are matched as written.
    let i = assert_error(Web, "https://%61pp.example.com/cb", "unparsable");
    assert!(i.message.contains("percent-encoded"), "{}", i.message);
    assert_error(Native, "http://%6cocalhost/cb", "unparsable");
    assert_error(Native, "http://127.0.0.%31/cb", "unparsable");
    // localhost in any case, with the trailing dot.
    assert_warning(Web, "https://LOCALHOST./cb", "https_localhost");
    assert_error(Native, "http://App.LocalHost/cb", "loopback_localhost");
}

#[test]
fn ports() {
    for uri in [
        "https://app.example.com:65536/cb",
        "https://app.example.com:abc/cb",
        "https://app.example.com:+80/cb",
        "https://app.example.com:80:80/cb",
        "http://[::1]:65536/cb",
        "com.example.app://cb:abc/x",
    ] {
        let i = assert_error(Native, uri, "unparsable");
        assert!(i.message.contains("the port"), "{}", i.message);
    }
    let i = assert_error(Web, "https://app.example.com:65536/cb", "unparsable");
    assert!(i.message.contains("65535"), "{}", i.message);
    let i = assert_error(Web, "https://app.example.com:abc/cb", "unparsable");
    assert!(i.message.contains("\"abc\""), "{}", i.message);
    assert_clean(Web, "https://app.example.com:65535/cb");
    assert_clean(Web, "https://app.example.com:0443/cb");
    // RFC 3986 §3.2.3 allows an empty port: the default one.
    assert_clean(Web, "https://app.example.com:/cb");
    assert_warning(Native, "http://127.0.0.1:65535/cb", "loopback_port");
}

#[test]
fn a_port_needs_a_host() {
    assert_error(Web, "https://:443/cb", "missing_host");
    assert_error(Web, "https://", "missing_host");
    assert_error(Native, "http://:8080/cb", "missing_host");
    assert_error(Native, "com.example.app://:80/cb", "unparsable");
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn on_any_text(s in "\\PC{0,40}") {
            for kind in [Native, Web] {
                let _ = lint1(kind, &s);
            }
        }

        #[test]
        fn on_uri_like_text(
            scheme in "(https?|HTTP|com\\.example\\.app|myapp|file)",
            authority in "[\\[\\]:@%.0-9a-fxXvV_ü\\-]{0,24}",
            rest in "[/?#.%a-z0-9]{0,8}",
        ) {
            for kind in [Native, Web] {
                let _ = lint1(kind, &format!("{scheme}://{authority}{rest}"));
            }
        }
    }
}
