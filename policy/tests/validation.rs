//! Validation of one policy (each rule both ways), normalisation, and the set checks:
//! unreachable policies (covered / not covered, disabled, different key, shadow mode) and
//! duplicates. Plus a property test that "covers" never claims more than matching shows.

use core::net::IpAddr;

use policy::model::{
    applicable, Action, HeaderMatch, KeyBy, Limit, Match, Mode, PathMatch, Period, Policy, Request,
    Scope,
};
use policy::validate::{
    has_errors, normalize, validate, validate_set, Field, Issue, SetIssueKind, Severity,
};
use proptest::prelude::*;

fn policy() -> Policy {
    Policy {
        id: "p1".into(),
        name: "API per IP".into(),
        enabled: true,
        order: 10,
        matcher: Match {
            path: PathMatch::Prefix("/api".into()),
            methods: vec!["GET".into(), "POST".into()],
            client_ids: vec!["mobile-app".into()],
            ip_ranges: vec!["10.0.0.0/8".into(), "2001:db8::/32".into()],
            header: Some(HeaderMatch {
                name: "x-app-version".into(),
                value: Some("3.1".into()),
            }),
        },
        key: KeyBy::Ip,
        limit: Limit {
            rate: 100,
            per: Period::Minute,
            burst: 20,
        },
        scope: Scope::Gate,
        action: Action::Reject,
        mode: Mode::Enforce,
    }
}

/// The issues on `field`, as (severity, message).
fn on(issues: &[Issue], field: Field) -> Vec<(Severity, String)> {
    issues
        .iter()
        .filter(|i| i.field == field)
        .map(|i| (i.severity, i.message.clone()))
        .collect()
}

/// Exactly one issue on `field`, of `severity`, whose message contains `needle`.
#[track_caller]
fn one(p: &Policy, field: Field, severity: Severity, needle: &str) {
    let issues = validate(p);
    let found = on(&issues, field);
    assert_eq!(found.len(), 1, "{field}: {found:?}");
    assert_eq!(found[0].0, severity, "{field}: {found:?}");
    assert!(
        found[0].1.contains(needle),
        "{field}: {:?} lacks {needle:?}",
        found[0].1
    );
}

#[track_caller]
fn clean(p: &Policy, field: Field) {
    let issues = validate(p);
    assert!(
        on(&issues, field).is_empty(),
        "{field}: {:?}",
        on(&issues, field)
    );
}

#[test]
fn a_sound_policy_has_no_issue() {
    assert_eq!(validate(&policy()), vec![]);
    let mut p = policy();
    p.id = String::new();
    assert_eq!(validate(&p), vec![], "an unsaved policy has no id yet");
}

#[test]
fn name() {
    let mut p = policy();
    p.name = "  ".into();
    one(&p, Field::Name, Severity::Error, "empty");
    p.name = "x".repeat(81);
    one(
        &p,
        Field::Name,
        Severity::Error,
        "81 characters long; at most 80",
    );
    p.name = "é".repeat(80);
    clean(&p, Field::Name);
    p.name = " login ".into();
    one(&p, Field::Name, Severity::Warning, "removed when saved");
    p.name = "a\u{7}b".into();
    one(&p, Field::Name, Severity::Error, "control character");
}

#[test]
fn id() {
    let mut p = policy();
    p.id = "0b9e-4c1a_x.y".into();
    clean(&p, Field::Id);
    p.id = "a b".into();
    one(&p, Field::Id, Severity::Error, "letters, digits");
}

#[test]
fn path() {
    let mut p = policy();
    let set = |p: &mut Policy, m: PathMatch| p.matcher.path = m;
    set(&mut p, PathMatch::Prefix(String::new()));
    one(
        &p,
        Field::Path,
        Severity::Error,
        "use “/” to match every path",
    );
    set(&mut p, PathMatch::Prefix("api/v1".into()));
    one(&p, Field::Path, Severity::Error, "did you mean “/api/v1”");
    set(&mut p, PathMatch::Exact("/login?next=/".into()));
    one(&p, Field::Path, Severity::Error, "never the query");
    set(&mut p, PathMatch::Exact("/login#top".into()));
    one(&p, Field::Path, Severity::Error, "fragment");
    set(&mut p, PathMatch::Exact("/my file".into()));
    one(
        &p,
        Field::Path,
        Severity::Error,
        "a space at position 4; requests carry it percent-encoded, so write %20",
    );
    set(&mut p, PathMatch::Exact("/café".into()));
    one(&p, Field::Path, Severity::Error, "write %C3%A9");
    set(&mut p, PathMatch::Exact("/a%zz".into()));
    one(
        &p,
        Field::Path,
        Severity::Error,
        "“%zz” at position 3 is not a valid percent-encoding",
    );
    set(&mut p, PathMatch::Exact("/a%2Fb".into()));
    clean(&p, Field::Path);
    set(&mut p, PathMatch::Exact("/%7Euser".into()));
    one(&p, Field::Path, Severity::Warning, "stored as “~”");
    set(&mut p, PathMatch::Prefix("/api/../admin".into()));
    one(&p, Field::Path, Severity::Error, "segment “..”");
    set(&mut p, PathMatch::Prefix("/api//v1".into()));
    one(&p, Field::Path, Severity::Warning, "“//”");
    set(&mut p, PathMatch::Prefix("/api/".into()));
    one(
        &p,
        Field::Path,
        Severity::Warning,
        "does not match “/api” itself",
    );
    set(&mut p, PathMatch::Prefix("/".into()));
    clean(&p, Field::Path);
    set(&mut p, PathMatch::Exact("/v1/*".into()));
    one(&p, Field::Path, Severity::Warning, "use a pattern");
    set(&mut p, PathMatch::Pattern("/users/*/orders".into()));
    clean(&p, Field::Path);
    set(&mut p, PathMatch::Pattern("/v1/**".into()));
    clean(&p, Field::Path);
    set(&mut p, PathMatch::Pattern("/v*/users".into()));
    one(&p, Field::Path, Severity::Error, "“v*” mixes “*”");
    set(&mut p, PathMatch::Pattern("/**/users".into()));
    one(&p, Field::Path, Severity::Error, "only be the last segment");
    set(&mut p, PathMatch::Pattern("/users".into()));
    one(&p, Field::Path, Severity::Warning, "no wildcard");
    set(&mut p, PathMatch::Exact(format!("/{}", "a".repeat(2_048))));
    one(&p, Field::Path, Severity::Error, "at most 2048");
}

#[test]
fn methods() {
    let mut p = policy();
    p.matcher.methods = vec![];
    clean(&p, Field::Methods);
    p.matcher.methods = vec!["get".into()];
    one(
        &p,
        Field::Methods,
        Severity::Error,
        "case-sensitive (RFC 9110 §9.1)",
    );
    p.matcher.methods = vec!["GE T".into()];
    one(&p, Field::Methods, Severity::Error, "is not a method");
    p.matcher.methods = vec![String::new()];
    one(&p, Field::Methods, Severity::Error, "empty");
    p.matcher.methods = vec!["GTE".into()];
    one(&p, Field::Methods, Severity::Warning, "check the spelling");
    p.matcher.methods = vec!["PATCH".into(), "OPTIONS".into()];
    clean(&p, Field::Methods);
    p.matcher.methods = vec!["GET".into(), "POST".into(), "GET".into()];
    one(&p, Field::Methods, Severity::Warning, "listed twice");
    let issues = validate(&p);
    assert_eq!(issues[0].index, Some(2), "points at the copy");
    assert_eq!(
        issues[0].to_string(),
        "matcher.methods[2]: “GET” is listed twice; the copy is removed when saved."
    );
}

#[test]
fn client_ids() {
    let mut p = policy();
    p.matcher.client_ids = vec![String::new()];
    one(&p, Field::ClientIds, Severity::Error, "empty");
    p.matcher.client_ids = vec!["a b".into()];
    one(&p, Field::ClientIds, Severity::Error, "spaces");
    p.matcher.client_ids = vec!["app".into(), "app".into()];
    one(&p, Field::ClientIds, Severity::Warning, "listed twice");
    p.matcher.client_ids = vec!["app".into(), "web".into()];
    clean(&p, Field::ClientIds);
}

#[test]
fn ip_ranges() {
    let mut p = policy();
    let set = |p: &mut Policy, r: &[&str]| {
        p.matcher.ip_ranges = r.iter().map(|s| s.to_string()).collect();
    };
    set(&mut p, &["10.0.0.0/33"]);
    one(
        &p,
        Field::IpRanges,
        Severity::Error,
        "“10.0.0.0/33”: the prefix length /33 is longer than 32, the IPv4 maximum.",
    );
    set(&mut p, &["10.0.0.256/8"]);
    one(
        &p,
        Field::IpRanges,
        Severity::Error,
        "is not an IPv4 address",
    );
    set(&mut p, &["2001:db8::g/32"]);
    one(
        &p,
        Field::IpRanges,
        Severity::Error,
        "is not an IPv6 address",
    );
    set(&mut p, &["10.0.0.0/eight"]);
    one(
        &p,
        Field::IpRanges,
        Severity::Error,
        "“eight” is not a number",
    );
    set(&mut p, &["10.0.0.1/8"]);
    one(
        &p,
        Field::IpRanges,
        Severity::Warning,
        "the range is 10.0.0.0/8, and it is stored that way",
    );
    set(&mut p, &["0.0.0.0/0"]);
    one(&p, Field::IpRanges, Severity::Warning, "every IPv4 address");
    set(&mut p, &["10.0.0.0/8", "10.0.0.0/8"]);
    one(&p, Field::IpRanges, Severity::Warning, "same range");
    set(&mut p, &["10.1.0.0/16", "10.0.0.0/8"]);
    one(
        &p,
        Field::IpRanges,
        Severity::Warning,
        "“10.1.0.0/16” is inside 10.0.0.0/8",
    );
    set(&mut p, &["10.0.0.0/8", "192.0.2.7", "::1"]);
    clean(&p, Field::IpRanges);
}

#[test]
fn header() {
    let mut p = policy();
    let set = |p: &mut Policy, name: &str, value: Option<&str>| {
        p.matcher.header = Some(HeaderMatch {
            name: name.into(),
            value: value.map(Into::into),
        });
    };
    set(&mut p, "", None);
    one(&p, Field::HeaderName, Severity::Error, "empty");
    set(&mut p, "X App", None);
    one(&p, Field::HeaderName, Severity::Error, "not a header name");
    set(&mut p, "x-app:", None);
    one(&p, Field::HeaderName, Severity::Error, "RFC 9110 §5.1");
    set(&mut p, "X-App", None);
    clean(&p, Field::HeaderName);
    set(&mut p, "x-app", Some("a\r\nb"));
    one(&p, Field::HeaderValue, Severity::Error, "control character");
    set(&mut p, "x-app", Some(" 3.1"));
    one(
        &p,
        Field::HeaderValue,
        Severity::Warning,
        "removed when saved",
    );
    set(&mut p, "x-app", Some(""));
    one(
        &p,
        Field::HeaderValue,
        Severity::Warning,
        "only an empty header matches",
    );
    set(&mut p, "x-app", Some("a b\tc"));
    clean(&p, Field::HeaderValue);
}

#[test]
fn key() {
    let mut p = policy();
    p.key = KeyBy::Header(String::new());
    one(&p, Field::Key, Severity::Error, "empty");
    p.key = KeyBy::Header("x api key".into());
    one(&p, Field::Key, Severity::Error, "not a header name");
    p.key = KeyBy::Header("X-Forwarded-For".into());
    one(&p, Field::Key, Severity::Warning, "forged value");
    p.key = KeyBy::Header("x-api-key".into());
    clean(&p, Field::Key);
}

#[test]
fn limit() {
    let mut p = policy();
    p.limit.rate = 0;
    one(
        &p,
        Field::Rate,
        Severity::Error,
        "at least 1 request per minute",
    );
    p.limit.rate = 1;
    clean(&p, Field::Rate);
    p.limit = Limit {
        rate: 2_000_000,
        per: Period::Second,
        burst: 0,
    };
    one(&p, Field::Rate, Severity::Warning, "effectively no limit");
    p.limit.per = Period::Minute;
    clean(&p, Field::Rate);
    p.limit.burst = 1_000_001;
    one(&p, Field::Burst, Severity::Error, "more than 1,000,000");
    p.limit.burst = 1_000_000;
    clean(&p, Field::Burst);
}

#[test]
fn delay() {
    let mut p = policy();
    p.action = Action::Delay { max_delay_ms: 0 };
    one(
        &p,
        Field::MaxDelay,
        Severity::Error,
        "use the reject action",
    );
    p.action = Action::Delay {
        max_delay_ms: 60_001,
    };
    one(&p, Field::MaxDelay, Severity::Error, "more than 60 s");
    p.action = Action::Delay {
        max_delay_ms: 60_000,
    };
    clean(&p, Field::MaxDelay);
    assert!(!has_errors(&validate(&p)));
}

#[test]
fn issues_serialise_with_dotted_fields() {
    let mut p = policy();
    p.limit.rate = 0;
    let json = serde_json::to_string(&validate(&p)).expect("serialises");
    assert!(
        json.starts_with(r#"[{"field":"limit.rate","index":null,"severity":"error","message":"#),
        "{json}"
    );
    let back: Vec<Issue> =
        serde_json::from_str(&json).expect("deserialises (the browser reads it)");
    assert_eq!(back, validate(&p));
}

#[test]
fn normalize_applies_what_the_warnings_announce() {
    let mut p = policy();
    p.name = " login ".into();
    p.matcher.path = PathMatch::Prefix("/%7eu/%2fx".into());
    p.matcher.methods = vec!["GET".into(), "GET".into()];
    p.matcher.ip_ranges = vec![
        "10.0.0.1/8".into(),
        "10.0.0.0/8".into(),
        "192.0.2.7".into(),
        "bad".into(),
    ];
    p.matcher.header = Some(HeaderMatch {
        name: "X-App".into(),
        value: Some(" 3.1\t".into()),
    });
    p.key = KeyBy::Header("X-Api-Key".into());
    normalize(&mut p);
    assert_eq!(p.name, "login");
    assert_eq!(p.matcher.path, PathMatch::Prefix("/~u/%2Fx".into()));
    assert_eq!(p.matcher.methods, vec!["GET"]);
    assert_eq!(
        p.matcher.ip_ranges,
        vec!["10.0.0.0/8", "192.0.2.7/32", "bad"]
    );
    let h = p.matcher.header.clone().expect("kept");
    assert_eq!(
        (h.name.as_str(), h.value.as_deref()),
        ("x-app", Some("3.1"))
    );
    assert_eq!(p.key, KeyBy::Header("x-api-key".into()));
    let left: Vec<String> = validate(&p).iter().map(ToString::to_string).collect();
    assert_eq!(left, vec!["matcher.ip_ranges[2]: “bad”: “bad” is not an IPv4 address (four numbers 0–255 without leading zeros, like 192.0.2.0)."]);
}

#[test]
fn validation_never_panics_on_odd_input() {
    let mut p = policy();
    for s in [
        "", "/", "%", "/%", "/%4", "/é%", "*", "/**", "/*/**", "//", "/./", "/\u{0}", "/a?b#c%",
    ] {
        for m in [
            PathMatch::Prefix(s.into()),
            PathMatch::Exact(s.into()),
            PathMatch::Pattern(s.into()),
        ] {
            p.matcher.path = m;
            let _ = validate(&p);
            normalize(&mut p.clone());
        }
    }
}

// ---- sets ----

fn named(id: &str, order: u32, path: PathMatch) -> Policy {
    let mut p = policy();
    p.id = id.into();
    p.name = format!("policy {id}");
    p.order = order;
    p.matcher = Match {
        path,
        ..Match::default()
    };
    p
}

fn kinds(ps: &[Policy]) -> Vec<(String, SetIssueKind, String)> {
    validate_set(ps)
        .into_iter()
        .map(|i| (i.policy_id, i.kind, i.other_id))
        .collect()
}

#[test]
fn a_broader_earlier_policy_makes_a_later_one_unreachable() {
    let a = named("a", 10, PathMatch::Prefix("/api".into()));
    let b = named("b", 20, PathMatch::Exact("/api/login".into()));
    let issues = validate_set(&[b.clone(), a.clone()]);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].kind, SetIssueKind::Unreachable);
    assert_eq!(
        (issues[0].policy_id.as_str(), issues[0].other_id.as_str()),
        ("b", "a")
    );
    assert_eq!(issues[0].severity, Severity::Warning);
    assert!(
        issues[0]
            .message
            .contains("“policy b” (order 20) is never counted: “policy a” (order 10) comes first"),
        "{}",
        issues[0].message
    );
    // The other way round is fine: the narrow policy first, the broad one catches the rest.
    let (mut a2, mut b2) = (a.clone(), b.clone());
    a2.order = 20;
    b2.order = 10;
    assert!(validate_set(&[a2, b2]).is_empty());
}

#[test]
fn a_narrower_earlier_policy_does_not_shadow() {
    let mut a = named("a", 10, PathMatch::Prefix("/api".into()));
    a.matcher.methods = vec!["POST".into()];
    let b = named("b", 20, PathMatch::Prefix("/api/v1".into()));
    assert!(
        validate_set(&[a.clone(), b.clone()]).is_empty(),
        "b also gets GET"
    );
    let mut b2 = b.clone();
    b2.matcher.methods = vec!["POST".into()];
    assert_eq!(
        kinds(&[a.clone(), b2]),
        vec![("b".into(), SetIssueKind::Unreachable, "a".into())]
    );
    let mut a3 = a.clone();
    a3.matcher.ip_ranges = vec!["10.0.0.0/8".into()];
    let mut b3 = b.clone();
    b3.matcher.methods = vec!["POST".into()];
    b3.matcher.ip_ranges = vec!["10.1.0.0/16".into()];
    assert_eq!(
        kinds(&[a3.clone(), b3.clone()]).len(),
        1,
        "10.1/16 is inside 10/8"
    );
    b3.matcher.ip_ranges = vec!["10.1.0.0/16".into(), "192.0.2.0/24".into()];
    assert!(
        validate_set(&[a3, b3]).is_empty(),
        "192.0.2.0/24 is not covered"
    );
    let mut a4 = named("a", 10, PathMatch::Prefix("/".into()));
    a4.matcher.header = Some(HeaderMatch {
        name: "x-app".into(),
        value: None,
    });
    let mut b4 = named("b", 20, PathMatch::Exact("/x".into()));
    assert!(
        validate_set(&[a4.clone(), b4.clone()]).is_empty(),
        "b also gets requests without the header"
    );
    b4.matcher.header = Some(HeaderMatch {
        name: "X-App".into(),
        value: Some("1".into()),
    });
    assert_eq!(
        kinds(&[a4, b4]).len(),
        1,
        "any value covers one value, names case-insensitive"
    );
}

#[test]
fn disabled_shadow_and_differently_keyed_policies_do_not_shadow() {
    let a = named("a", 10, PathMatch::Prefix("/".into()));
    let b = named("b", 20, PathMatch::Prefix("/api".into()));
    let mut off = a.clone();
    off.enabled = false;
    assert!(validate_set(&[off, b.clone()]).is_empty(), "disabled");
    let mut log_only = a.clone();
    log_only.action = Action::Shadow;
    assert!(
        validate_set(&[log_only, b.clone()]).is_empty(),
        "a shadow action never decides"
    );
    let mut per_client = a.clone();
    per_client.key = KeyBy::Client;
    assert!(
        validate_set(&[per_client, b.clone()]).is_empty(),
        "different keys stack"
    );
    let mut header_key = a.clone();
    header_key.key = KeyBy::Header("X-Api-Key".into());
    let mut b_header = b.clone();
    b_header.key = KeyBy::Header("x-api-key".into());
    assert_eq!(
        kinds(&[header_key, b_header]).len(),
        1,
        "same header key, any case"
    );
    let mut trial = a.clone();
    trial.mode = Mode::Shadow;
    assert_eq!(
        kinds(&[trial, b.clone()]),
        vec![(
            "b".into(),
            SetIssueKind::UnreachableWhenEnforced,
            "a".into()
        )]
    );
    let mut b_off = b.clone();
    b_off.enabled = false;
    assert!(
        validate_set(&[a, b_off]).is_empty(),
        "a disabled policy is not reported"
    );
}

#[test]
fn duplicates_are_errors() {
    let a = named("a", 10, PathMatch::Prefix("/a".into()));
    let mut b = named("b", 10, PathMatch::Prefix("/b".into()));
    b.name = "POLICY A ".into();
    let mut c = named("a", 30, PathMatch::Prefix("/c".into()));
    c.name = "c".into();
    let found = kinds(&[a, b, c]);
    assert!(
        found.contains(&("b".into(), SetIssueKind::DuplicateOrder, "a".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&("b".into(), SetIssueKind::DuplicateName, "a".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&("a".into(), SetIssueKind::DuplicateId, "a".into())),
        "{found:?}"
    );
    assert!(validate_set(&[
        named("x", 1, PathMatch::Prefix("/x".into())),
        named("y", 2, PathMatch::Prefix("/y".into()))
    ])
    .is_empty());
}

#[test]
fn the_evaluation_rule_agrees_with_the_report() {
    let a = named("a", 10, PathMatch::Prefix("/api".into()));
    let b = named("b", 20, PathMatch::Exact("/api/login".into()));
    let mut c = named("c", 30, PathMatch::Prefix("/api".into()));
    c.key = KeyBy::Client;
    let set = [c.clone(), b.clone(), a.clone()];
    let req = Request {
        method: "POST",
        path: "/api/login",
        client_id: Some("mobile-app"),
        ip: "10.1.2.3".parse().expect("ip"),
        headers: &[],
    };
    let ids: Vec<&str> = applicable(&set, &req)
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec!["a", "c"],
        "b is pre-empted by a (same key); c stacks (other key)"
    );
}

// ---- covers is sound: whatever it claims, matching confirms ----

fn path_strategy() -> impl Strategy<Value = PathMatch> {
    let seg = prop_oneof![Just("a"), Just("b"), Just(""), Just("*"), Just("**")];
    (0..3u8, proptest::collection::vec(seg, 0..4), any::<bool>()).prop_map(|(kind, segs, slash)| {
        let mut s = format!("/{}", segs.join("/"));
        if slash && !s.ends_with('/') {
            s.push('/');
        }
        match kind {
            0 => PathMatch::Prefix(s),
            1 => PathMatch::Exact(s),
            _ => PathMatch::Pattern(s),
        }
    })
}

fn match_strategy() -> impl Strategy<Value = Match> {
    let methods = proptest::sample::subsequence(vec!["GET", "POST", "PUT"], 0..=3);
    let clients = proptest::sample::subsequence(vec!["app", "web"], 0..=2);
    let ranges = proptest::sample::subsequence(
        vec!["10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24", "::/0"],
        0..=2,
    );
    let header = prop_oneof![
        Just(None),
        Just(Some(HeaderMatch {
            name: "x-app".into(),
            value: None
        })),
        Just(Some(HeaderMatch {
            name: "X-App".into(),
            value: Some("1".into())
        })),
    ];
    (path_strategy(), methods, clients, ranges, header).prop_map(|(path, m, c, r, header)| Match {
        path,
        methods: m.into_iter().map(Into::into).collect(),
        client_ids: c.into_iter().map(Into::into).collect(),
        ip_ranges: r.into_iter().map(Into::into).collect(),
        header,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn covers_never_claims_a_request_the_outer_match_misses(
        outer in match_strategy(),
        inner in match_strategy(),
        path_segs in proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just(""), Just("c")], 1..5),
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE")],
        client in prop_oneof![Just(None), Just(Some("app")), Just(Some("web"))],
        ip in prop_oneof![Just("10.1.2.3"), Just("10.2.0.1"), Just("192.0.2.9"), Just("2001:db8::1")],
        header in prop_oneof![Just(vec![]), Just(vec![("X-APP", "1")]), Just(vec![("x-app", "2")])],
    ) {
        let path = format!("/{}", path_segs.join("/"));
        let ip: IpAddr = ip.parse().expect("ip");
        let req = Request { method, path: &path, client_id: client, ip, headers: &header };
        if outer.covers(&inner) && inner.matches(&req) {
            prop_assert!(outer.matches(&req), "{outer:?} covers {inner:?} but misses {req:?}");
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, max_global_rejects: 20_000, ..ProptestConfig::default() })]

    /// The path part is exact, not only sound: when it says "not covered", some path shows it.
    #[test]
    fn path_covers_is_exact(outer in path_strategy(), inner in path_strategy()) {
        let paths = all_paths();
        // An invalid pattern matches nothing; "covers" is only asked of valid ones.
        prop_assume!(paths.iter().any(|p| inner.matches(p)));
        let witness = paths.iter().find(|p| inner.matches(p) && !outer.matches(p));
        prop_assert_eq!(outer.covers(&inner), witness.is_none(), "{:?} vs {:?}: {:?}", outer, inner, witness);
    }
}

/// Every path of up to 5 segments over {a, b, c, ""}: enough to separate the shapes above
/// (literals a and b, a segment neither of them, and the empty segment).
fn all_paths() -> &'static [String] {
    static PATHS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    PATHS.get_or_init(build_paths)
}

fn build_paths() -> Vec<String> {
    let mut out = vec![];
    let alphabet = ["a", "b", "c", ""];
    let mut layer: Vec<Vec<&str>> = alphabet.iter().map(|s| vec![*s]).collect();
    for _ in 0..5 {
        let mut next = vec![];
        for segs in &layer {
            out.push(format!("/{}", segs.join("/")));
            for s in alphabet {
                let mut n = segs.clone();
                n.push(s);
                next.push(n);
            }
        }
        layer = next;
    }
    out
}
