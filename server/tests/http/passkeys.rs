//! Passkey setup and sign-in end to end with an independent software authenticator, and every
//! way a ceremony must fail.

use crate::support::soft_authenticator::SoftAuthenticator;
use crate::support::TestApp;
use serde_json::Value;

#[tokio::test]
async fn owner_setup_then_sign_in_each_write_exactly_one_audit_row() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    let before = app.audit_count().await;
    let cookie = app.setup_owner(&mut soft, "Alice").await;
    assert_eq!(app.audit_count().await, before + 1, "setup writes one row");
    let e = app.last_event().await;
    assert_eq!(
        (e.action.as_str(), e.target.as_str(), e.actor.as_str()),
        ("admin.setup_owner", "admin:alice", "alice")
    );
    assert_eq!(e.outcome, domain::audit::Outcome::Success);

    let me = app.call("current_admin", &[], Some(&cookie)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["username"], "alice");
    assert_eq!(me.json()["role"], "owner");

    let before = app.audit_count().await;
    let cookie2 = app.sign_in(&mut soft, "alice").await;
    assert_ne!(cookie, cookie2, "each sign-in gets a new session id");
    assert_eq!(
        app.audit_count().await,
        before + 1,
        "sign-in writes one row"
    );
    let e = app.last_event().await;
    assert_eq!(
        (e.action.as_str(), e.outcome),
        ("admin.sign_in", domain::audit::Outcome::Success)
    );
    assert!(
        e.details.contains("\"user_verified\":true"),
        "{}",
        e.details
    );

    let before = app.audit_count().await;
    let out = app.call("sign_out", &[], Some(&cookie2)).await;
    assert!(
        out.status == 200 || out.status == 302,
        "sign_out: {} {}",
        out.status,
        out.body
    );
    assert_eq!(
        app.audit_count().await,
        before + 1,
        "sign-out writes one row"
    );
    assert!(out
        .headers
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap_or("").contains("Max-Age=0")));
    // The signed-out session is dead; the other one is not.
    assert_eq!(
        app.call("current_admin", &[], Some(&cookie2)).await.status,
        401
    );
    assert_eq!(
        app.call("current_admin", &[], Some(&cookie)).await.status,
        200
    );
}

#[tokio::test]
async fn session_cookie_has_the_required_attributes() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    app.setup_owner(&mut soft, "alice").await;
    let (id, options) = app.start_login("alice").await;
    let r = app
        .finish_login(&id, &soft.authenticate(&options, &app.base), None)
        .await;
    let set_cookie = r
        .headers
        .get("set-cookie")
        .expect("cookie set")
        .to_str()
        .expect("ascii")
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(
            set_cookie.contains(attr),
            "{attr} missing from {set_cookie}"
        );
    }
    // Served over plain HTTP: no Secure flag and no __Host- prefix (they come with TLS).
    assert!(set_cookie.starts_with("palisade_session="));
}

#[tokio::test]
async fn replayed_assertion_is_refused_and_audited() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    app.setup_owner(&mut soft, "alice").await;
    let (id, options) = app.start_login("alice").await;
    let assertion = soft.authenticate(&options, &app.base);
    assert_eq!(app.finish_login(&id, &assertion, None).await.status, 200);

    let before = app.audit_count().await;
    let replay = app.finish_login(&id, &assertion, None).await;
    assert_eq!(replay.status, 401, "{}", replay.body);
    assert!(replay.session_cookie().is_none());
    assert_eq!(app.audit_count().await, before + 1);
    let e = app.last_event().await;
    assert_eq!(e.outcome, domain::audit::Outcome::Failure);
    assert!(e.details.contains("already used"), "{}", e.details);
}

#[tokio::test]
async fn assertion_for_one_ceremony_does_not_finish_another() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    app.setup_owner(&mut soft, "alice").await;
    let (_id_a, options_a) = app.start_login("alice").await;
    let (id_b, _options_b) = app.start_login("alice").await;
    let for_a = soft.authenticate(&options_a, &app.base);
    let r = app.finish_login(&id_b, &for_a, None).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(app.last_event().await.details.contains("assertion refused"));
    // Ceremony B was consumed by the failed attempt: it cannot be retried.
    let r = app.finish_login(&id_b, &for_a, None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn wrong_origin_wrong_rp_id_and_missing_user_verification_are_refused() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    app.setup_owner(&mut soft, "alice").await;

    let (id, options) = app.start_login("alice").await;
    let r = app
        .finish_login(
            &id,
            &soft.authenticate(&options, "https://evil.example"),
            None,
        )
        .await;
    assert_eq!(r.status, 401, "wrong origin: {}", r.body);

    let (id, options) = app.start_login("alice").await;
    let r = app
        .finish_login(
            &id,
            &soft.authenticate_with_rp_id(&options, &app.base, "evil.example"),
            None,
        )
        .await;
    assert_eq!(r.status, 401, "wrong rp id: {}", r.body);

    soft.set_user_verified(false);
    let (id, options) = app.start_login("alice").await;
    let r = app
        .finish_login(&id, &soft.authenticate(&options, &app.base), None)
        .await;
    assert_eq!(r.status, 401, "UV=0: {}", r.body);
    assert!(
        app.last_event()
            .await
            .details
            .to_lowercase()
            .contains("verif"),
        "{}",
        app.last_event().await.details
    );
}

#[tokio::test]
async fn passkey_of_another_console_is_refused() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    app.setup_owner(&mut soft, "alice").await;
    let (id, mut options) = app.start_login("alice").await;
    // A different authenticator registered elsewhere: strip allowCredentials so it signs.
    let other = TestApp::spawn().await;
    let mut stranger = SoftAuthenticator::new();
    other.setup_owner(&mut stranger, "mallory").await;
    options["publicKey"]["allowCredentials"] = Value::Array(vec![]);
    options["publicKey"]["rpId"] = Value::String("localhost".into());
    let assertion = stranger.authenticate(&options, &app.base);
    let r = app.finish_login(&id, &assertion, None).await;
    assert_eq!(r.status, 401, "{}", r.body);
}

#[tokio::test]
async fn registration_without_user_verification_is_refused_and_the_link_stays_usable() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    soft.set_user_verified(false);
    let token = app.setup_token();
    let started = app
        .call(
            "start_setup",
            &[
                ("token", &token),
                ("username", "alice"),
                ("display_name", "A"),
            ],
            None,
        )
        .await;
    let v = started.json();
    let options: Value =
        serde_json::from_str(v["options"].as_str().expect("options")).expect("json");
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    let credential = soft.register(&options, &app.base).to_string();
    let r = app
        .call(
            "finish_setup",
            &[
                ("ceremony_id", v["ceremony_id"].as_str().expect("id")),
                ("credential", &credential),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(
        app.store.count_admins().await.expect("count"),
        0,
        "no half-created owner"
    );
    // The link was not consumed by the failed attempt.
    let mut good = SoftAuthenticator::new();
    app.setup_owner(&mut good, "alice").await;
}

#[tokio::test]
async fn setup_link_works_once() {
    let app = TestApp::spawn().await;
    let mut soft = SoftAuthenticator::new();
    app.setup_owner(&mut soft, "alice").await;
    let token = app.setup_token();
    let again = app
        .call(
            "start_setup",
            &[
                ("token", &token),
                ("username", "bob"),
                ("display_name", "Bob"),
            ],
            None,
        )
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("already been used"), "{}", again.body);
    let bogus = app
        .call(
            "start_setup",
            &[("token", "x"), ("username", "bob"), ("display_name", "Bob")],
            None,
        )
        .await;
    assert_eq!(bogus.status, 400);
    assert!(bogus.body.contains("not valid"), "{}", bogus.body);
}

#[tokio::test]
async fn bad_usernames_get_a_clear_400_and_an_audit_row() {
    let app = TestApp::spawn().await;
    let token = app.setup_token();
    let before = app.audit_count().await;
    let r = app
        .call(
            "start_setup",
            &[
                ("token", &token),
                ("username", "a b"),
                ("display_name", "X"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Username may contain only"), "{}", r.body);
    assert_eq!(app.audit_count().await, before + 1);
}

/// The answer with what varies between any two answers (the challenge, the ceremony id, the
/// credentials) replaced by its shape: field names, lengths, types.
fn shape(reply: &crate::support::Reply) -> Value {
    let mut v = reply.json();
    let mut options: Value =
        serde_json::from_str(v["options"].as_str().expect("options")).expect("json");
    let challenge = options["publicKey"]["challenge"]
        .as_str()
        .expect("challenge")
        .len();
    options["publicKey"]["challenge"] = serde_json::json!(format!("<{challenge} characters>"));
    for c in options["publicKey"]["allowCredentials"]
        .as_array_mut()
        .expect("allowCredentials")
    {
        let keys = c
            .as_object()
            .expect("descriptor")
            .keys()
            .cloned()
            .collect::<Vec<_>>();
        assert!(
            keys.iter()
                .all(|k| ["type", "id", "transports"].contains(&k.as_str())),
            "{keys:?}"
        );
        assert_eq!(c["type"], "public-key");
        let id = c["id"].as_str().expect("id");
        assert!(
            (16..=64).contains(&(id.len() * 3 / 4)),
            "credential id of {} characters",
            id.len()
        );
        *c = serde_json::json!("<credential>");
    }
    options["publicKey"]["allowCredentials"] = serde_json::json!(options["publicKey"]
        ["allowCredentials"]
        .as_array()
        .map(|a| a.len().min(1)));
    let id = v["ceremony_id"].as_str().expect("ceremony id").len();
    v["ceremony_id"] = serde_json::json!(format!("<{id} characters>"));
    v["options"] = options;
    serde_json::json!({
        "status": reply.status,
        "content_type": reply.headers.get("content-type").and_then(|h| h.to_str().ok()),
        "body": v,
    })
}

/// Issue 13, item 3: the sign-in start for a name that is no admin (or cannot sign in) answers
/// exactly as for the owner: same status, same fields, same lengths, credential ids that stay
/// the same from one attempt to the next; finishing it fails as a wrong passkey does for the
/// owner, with the same body, and the failed-finish limit applies to both alike.
#[tokio::test]
async fn a_decoy_answer_has_the_shape_of_a_real_one() {
    // Each start from its own address behind a trusted proxy, so the start throttle (per
    // network) stays out of the way of the finish throttle (per name) this test is about.
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let mut soft = SoftAuthenticator::new();
    let cookie = app.setup_owner(&mut soft, "alice").await;
    app.call("sign_out", &[], Some(&cookie)).await;
    let n = std::sync::atomic::AtomicU32::new(1);
    let start = |name: &'static str| {
        let (app, i) = (&app, n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        async move {
            let mut h = reqwest::header::HeaderMap::new();
            h.insert("origin", app.base.parse().expect("origin"));
            h.insert("sec-fetch-site", "same-origin".parse().expect("value"));
            let ip = std::net::Ipv4Addr::from(0xc633_6400 + i).to_string();
            h.insert("x-forwarded-for", ip.parse().expect("ip"));
            app.call_with("start_login", &[("username", name)], None, h)
                .await
        }
    };
    let real = start("alice").await;
    let decoy = start("nobody").await;
    eprintln!("real:  {}\ndecoy: {}", real.body, decoy.body);
    assert_eq!(shape(&real), shape(&decoy));
    assert!(
        app.last_event().await.details.contains("unknown username"),
        "the audit log keeps the truth"
    );
    let ids = |r: &crate::support::Reply| {
        let o: Value =
            serde_json::from_str(r.json()["options"].as_str().expect("options")).expect("json");
        o["publicKey"]["allowCredentials"].clone()
    };
    assert_eq!(
        ids(&decoy),
        ids(&start("nobody").await),
        "a name's credentials stay"
    );
    assert_ne!(ids(&decoy), ids(&start("nobody2").await));

    // Finishing with an assertion that is not the admin's: the owner's ceremony and the
    // decoy's fail alike, and after five failures each both are throttled alike.
    let forged = serde_json::json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": { "clientDataJSON": "AAAA", "authenticatorData": "AAAA", "signature": "AAAA" }
    });
    for attempt in 1..=6 {
        let mut answers = Vec::new();
        for name in ["alice", "nobody"] {
            let r = start(name).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let id = r.json()["ceremony_id"].as_str().expect("id").to_owned();
            let done = app.finish_login(&id, &forged, None).await;
            answers.push((done.status, done.body));
        }
        assert_eq!(
            answers[0], answers[1],
            "attempt {attempt}: same answer for both names"
        );
        let want = if attempt <= 5 { 401 } else { 429 };
        assert_eq!(answers[0].0, want, "attempt {attempt}: {}", answers[0].1);
    }
    // The owner still signs in: a valid passkey always does.
    let (id, options) = app.start_login("alice").await;
    let assertion = soft.authenticate(&options, &app.base);
    assert_eq!(app.finish_login(&id, &assertion, None).await.status, 200);
}

/// Issue 13, item 2: only the header the proxy writes names the client. A proxy that appends
/// to `X-Forwarded-For` passes a client's own `Forwarded` through, and one that writes
/// `Forwarded` passes a client's `X-Forwarded-For` through: the console reads the one it is
/// told to (`--forwarded-header`) and never the other, for the audit's IP as for the throttle.
#[tokio::test]
async fn only_the_configured_forwarding_header_names_the_client() {
    /// The address the audit log records for a sign-in start with these headers.
    async fn ip_of(app: &TestApp, headers: &[(&str, &str)]) -> String {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("origin", app.base.parse().expect("origin"));
        h.insert("sec-fetch-site", "same-origin".parse().expect("value"));
        for (k, v) in headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("name");
            h.insert(name, v.parse().expect("value"));
        }
        let r = app
            .call_with("start_login", &[("username", "nobody")], None, h)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let e = app.last_event().await;
        assert!(e.details.contains("unknown username"), "{e:?}");
        e.ip.expect("the audit names an address")
    }
    let both: &[(&str, &str)] = &[
        ("forwarded", "for=203.0.113.7;proto=https"),
        ("x-forwarded-for", "198.51.100.9"),
    ];
    let rfc7239 = TestApp::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
        c.forwarded_header = policy::forwarded::ForwardedHeader::Forwarded;
    })
    .await;
    assert_eq!(ip_of(&rfc7239, both).await, "203.0.113.7");
    assert_eq!(
        ip_of(&rfc7239, &[("forwarded", r#"for="[2001:db8::7]:4711""#)]).await,
        "2001:db8::7"
    );
    assert_eq!(
        ip_of(&rfc7239, &[("x-forwarded-for", "198.51.100.9")]).await,
        "127.0.0.1",
        "X-Forwarded-For is the client's own text when the proxy writes Forwarded"
    );
    assert_eq!(
        ip_of(&rfc7239, &[("forwarded", "for=_hidden, for=203.0.113.8")]).await,
        "203.0.113.8",
        "the rightmost untrusted hop, not the client's left part"
    );

    let xff = TestApp::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    assert_eq!(ip_of(&xff, both).await, "198.51.100.9");
    assert_eq!(
        ip_of(&xff, &[("forwarded", "for=203.0.113.7")]).await,
        "127.0.0.1",
        "a forged Forwarded is ignored when the proxy writes X-Forwarded-For"
    );
}

#[tokio::test]
async fn unknown_user_and_throttling() {
    let app = TestApp::spawn().await;
    let r = app
        .call("start_login", &[("username", "nobody")], None)
        .await;
    assert_eq!(r.status, 200, "a decoy challenge, not a 401: {}", r.body);
    let e = app.last_event().await;
    assert_eq!(
        (e.action.as_str(), e.target.as_str()),
        ("admin.sign_in", "admin:nobody")
    );
    assert!(e.details.contains("unknown username"));

    // Per-address budget (11 starts, then one per 6 s): 429 with Retry-After.
    let mut statuses = vec![];
    for _ in 0..11 {
        statuses.push(
            app.call("start_login", &[("username", "nobody")], None)
                .await,
        );
    }
    let throttled = statuses
        .iter()
        .find(|r| r.status == 429)
        .expect("throttled within 12 starts from one address");
    let retry: u64 = throttled
        .headers
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "retry after {retry}");
    assert_eq!(
        app.last_event().await.outcome,
        domain::audit::Outcome::Denied
    );
}

#[tokio::test]
async fn undecodable_arguments_are_a_400_not_a_500() {
    let app = TestApp::spawn().await;
    let r = app.call("start_login", &[], None).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app
        .call(
            "finish_login",
            &[("ceremony_id", "x"), ("credential", "{not json")],
            None,
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
}

/// Issue 13, item 2: starting sign-ins under the owner's name, as many as an attacker likes,
/// cannot keep the owner out (starts count per client network, never per username); behind a
/// trusted proxy the forwarded address is the client's, for the throttle and the audit log;
/// failed finishes count per username, and a valid passkey still signs in past that limit.
#[tokio::test]
async fn sign_in_starts_under_the_owners_name_cannot_lock_the_owner_out() {
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let mut soft = SoftAuthenticator::new();
    app.setup_owner(&mut soft, "alice").await;
    let from = |ip: &str| {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("origin", app.base.parse().expect("origin"));
        h.insert("sec-fetch-site", "same-origin".parse().expect("value"));
        h.insert("x-forwarded-for", ip.parse().expect("ip"));
        h
    };
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let r = app
            .call_with(
                "start_login",
                &[("username", "alice")],
                None,
                from("203.0.113.7"),
            )
            .await;
        statuses.push(r.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        11,
        "{statuses:?}"
    );
    assert!(statuses[11..].iter().all(|s| *s == 429), "{statuses:?}");
    let e = app.last_event().await;
    assert_eq!(
        e.ip.as_deref(),
        Some("203.0.113.7"),
        "the audit names the forwarded client"
    );
    // The owner, from another address, signs in at once.
    app.sign_in(&mut soft, "alice").await;
    // Failed finishes for alice: 5, then 429; a valid assertion still signs in.
    let mut failed = Vec::new();
    for _ in 0..6 {
        let (id, _) = app.start_login("alice").await;
        let r = app
            .finish_login(&id, &serde_json::json!({"id": "forged"}), None)
            .await;
        failed.push(r.status);
    }
    assert_eq!(failed, vec![401, 401, 401, 401, 401, 429]);
    app.sign_in(&mut soft, "alice").await;
}
