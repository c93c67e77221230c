//! What changed between two bundle versions, one readable line per change ("policy \"login\":
//! mode \"shadow\" → \"enforce\"", "route added: prefix /api * bearer read"): recorded with every
//! publish and shown between any two versions on the Gates page.

use policy::bundle::{Bundle, BundleCertificate, BundleClient};
use serde::Serialize;
use serde_json::Value;

/// Compact JSON of a value, cut to 120 characters.
fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(119).collect::<String>())
    } else {
        s
    }
}

/// Field-by-field changes of two serialised objects, as `field old → new`.
fn fields(old: &Value, new: &Value) -> Vec<String> {
    let (Value::Object(a), Value::Object(b)) = (old, new) else {
        return vec![format!("{} → {}", shown(old), shown(new))];
    };
    let mut out = Vec::new();
    for (k, v) in b {
        match a.get(k) {
            Some(o) if o == v => {}
            Some(o) => out.push(format!("{k} {} → {}", shown(o), shown(v))),
            None => out.push(format!("{k} {}", shown(v))),
        }
    }
    out
}

fn value<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// Lines for a keyed list: added, removed, and changed items (by field).
fn list<T: Serialize>(
    noun: &str,
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> String,
    label: impl Fn(&T) -> String,
    out: &mut Vec<String>,
) {
    for n in new {
        match old.iter().find(|o| key(o) == key(n)) {
            None => out.push(format!("{noun} {} added", label(n))),
            Some(o) => {
                let changed = fields(&value(o), &value(n));
                if !changed.is_empty() {
                    out.push(format!("{noun} {}: {}", label(n), changed.join(", ")));
                }
            }
        }
    }
    for o in old {
        if !new.iter().any(|n| key(n) == key(o)) {
            out.push(format!("{noun} {} removed", label(o)));
        }
    }
}

/// A client as its changes are named: its secrets by id (a hash is no reader's business, and
/// a line full of them says nothing) and its JWKS by `kid`.
fn client_summary(c: &BundleClient) -> Value {
    let mut v = value(c);
    if let Value::Object(m) = &mut v {
        m.insert(
            "secrets".into(),
            Value::from(
                c.secrets
                    .iter()
                    .map(|s| match s.expires_at_ms {
                        None => s.id.clone(),
                        Some(t) => format!(
                            "{} until {}",
                            s.id,
                            chrono::DateTime::from_timestamp_millis(t).map_or_else(
                                || t.to_string(),
                                |d| d.format("%Y-%m-%d %H:%M UTC").to_string()
                            )
                        ),
                    })
                    .collect::<Vec<_>>(),
            ),
        );
        if let Some(jwks) = &c.jwks {
            m.insert(
                "jwks".into(),
                Value::from(
                    jwks.keys
                        .iter()
                        .map(|k| k.kid.clone().unwrap_or_default())
                        .collect::<Vec<_>>(),
                ),
            );
        }
    }
    v
}

/// The change of the certificate gates serve on their TLS listener, by hostname and SPKI pin
/// (the pin is what pinned apps check, so a rotation names the pin it moves to).
fn certificate(old: Option<&BundleCertificate>, new: Option<&BundleCertificate>) -> Option<String> {
    Some(match (old, new) {
        (None, None) => return None,
        (Some(o), Some(n)) if o == n => return None,
        (None, Some(n)) => format!(
            "HTTPS: gates serve the certificate of {:?} (SPKI pin {})",
            n.hostname, n.spki_pin
        ),
        (Some(o), None) => format!(
            "HTTPS: gates serve no certificate (was the one of {:?})",
            o.hostname
        ),
        (Some(o), Some(n)) if o.hostname != n.hostname => format!(
            "HTTPS: gates serve the certificate of {:?} (SPKI pin {}) instead of {:?}",
            n.hostname, n.spki_pin, o.hostname
        ),
        (Some(o), Some(n)) if o.spki_pin != n.spki_pin => format!(
            "HTTPS certificate of {:?}: SPKI pin {} → {}",
            n.hostname, o.spki_pin, n.spki_pin
        ),
        (Some(_), Some(n)) => format!(
            "HTTPS certificate of {:?}: a new certificate for the same key (SPKI pin {})",
            n.hostname, n.spki_pin
        ),
    })
}

/// Every change from `old` to `new`; for the first version, a summary of what it holds.
pub fn changes(old: Option<&Bundle>, new: &Bundle) -> Vec<String> {
    let Some(old) = old else {
        let keys: usize = new.key_sets.iter().map(|s| s.keys.len()).sum();
        let count =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        return vec![format!(
            "first version: {}, {}, {}, {}",
            count(new.policies.len(), "policy", "policies"),
            count(new.clients.len(), "client", "clients"),
            count(keys, "published key", "published keys"),
            count(new.routes.len(), "route", "routes")
        )];
    };
    let mut out = Vec::new();
    list(
        "policy",
        &old.policies,
        &new.policies,
        |p| p.id.clone(),
        |p| format!("{:?}", p.name),
        &mut out,
    );
    let (oc, nc): (Vec<Value>, Vec<Value>) = (
        old.clients.iter().map(client_summary).collect(),
        new.clients.iter().map(client_summary).collect(),
    );
    let id = |c: &Value| c["client_id"].as_str().unwrap_or_default().to_owned();
    list("client", &oc, &nc, id, |c| format!("{:?}", id(c)), &mut out);
    let keys = |b: &Bundle| -> Vec<(String, policy::bundle::BundleKey)> {
        b.key_sets
            .iter()
            .flat_map(|s| s.keys.iter().map(|k| (s.name.clone(), k.clone())))
            .collect()
    };
    let (ok, nk) = (keys(old), keys(new));
    for (set, k) in &nk {
        let short: String = k.kid.chars().take(12).collect();
        match ok.iter().find(|(_, o)| o.kid == k.kid) {
            None => out.push(format!(
                "key set {set:?}: key {short}… published as {}",
                k.state
            )),
            Some((_, o)) if o.state != k.state => out.push(format!(
                "key set {set:?}: key {short}… {} → {}",
                o.state, k.state
            )),
            Some(_) => {}
        }
    }
    for (set, o) in &ok {
        if !nk.iter().any(|(_, k)| k.kid == o.kid) {
            let short: String = o.kid.chars().take(12).collect();
            out.push(format!("key set {set:?}: key {short}… no longer published"));
        }
    }
    for set in &new.key_sets {
        if let Some(o) = old.key_sets.iter().find(|o| o.name == set.name) {
            if o.leeway_s != set.leeway_s {
                out.push(format!(
                    "key set {:?}: leeway {} s → {} s",
                    set.name, o.leeway_s, set.leeway_s
                ));
            }
            if o.max_token_lifetime_s != set.max_token_lifetime_s {
                out.push(format!(
                    "key set {:?}: longest token lifetime {} s → {} s",
                    set.name, o.max_token_lifetime_s, set.max_token_lifetime_s
                ));
            }
        }
    }
    if old.issuer != new.issuer {
        out.push(format!("issuer {:?} → {:?}", old.issuer, new.issuer));
    }
    if old.audiences != new.audiences {
        out.push(format!(
            "audiences {} → {}",
            shown(&value(&old.audiences)),
            shown(&value(&new.audiences))
        ));
    }
    if old.require_typ_at_jwt != new.require_typ_at_jwt {
        out.push(format!(
            "require typ at+jwt {} → {}",
            old.require_typ_at_jwt, new.require_typ_at_jwt
        ));
    }
    if old.routes != new.routes {
        let line = policy::routes::route_to_line;
        let (o, n): (Vec<String>, Vec<String>) = (
            old.routes.iter().map(line).collect(),
            new.routes.iter().map(line).collect(),
        );
        let before = out.len();
        for l in n.iter().filter(|l| !o.contains(l)) {
            out.push(format!("route added: {l}"));
        }
        for l in o.iter().filter(|l| !n.contains(l)) {
            out.push(format!("route removed: {l}"));
        }
        if out.len() == before {
            out.push(format!("routes reordered: {}", n.join("; ")));
        }
    }
    if old.token_key_set != new.token_key_set {
        let name = |s: &Option<String>| match s {
            Some(n) => format!("key set {n:?}"),
            None => "none (gates issue no tokens)".to_owned(),
        };
        out.push(format!(
            "token endpoint signs with {} → {}",
            name(&old.token_key_set),
            name(&new.token_key_set)
        ));
    }
    if let Some(line) = certificate(old.tls_certificate.as_ref(), new.tls_certificate.as_ref()) {
        out.push(line);
    }
    if old.console_id != new.console_id {
        out.push(format!(
            "console {:?} → {:?}",
            old.console_id, new.console_id
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::bundle::{BundleSecret, Route, RouteAuth, FORMAT};
    use policy::model::{Action, KeyBy, Limit, Match, Mode, PathMatch, Period, Policy, Scope};

    fn policy(id: &str, mode: Mode) -> Policy {
        Policy {
            id: id.into(),
            name: format!("p-{id}"),
            enabled: true,
            order: 1,
            matcher: Match::default(),
            key: KeyBy::Ip,
            limit: Limit {
                rate: 5,
                per: Period::Second,
                burst: 1,
            },
            scope: Scope::Gate,
            action: Action::Reject,
            mode,
        }
    }

    fn bundle(policies: Vec<Policy>, clients: Vec<BundleClient>) -> Bundle {
        Bundle {
            format: FORMAT,
            version: 1,
            issued_at_ms: 0,
            prev_hash: String::new(),
            console_id: "c".into(),
            issuer: "https://c".into(),
            audiences: vec![],
            require_typ_at_jwt: true,
            policies,
            clients,
            key_sets: vec![],
            routes: vec![Route {
                path: PathMatch::Prefix("/".into()),
                methods: vec![],
                auth: RouteAuth::None,
            }],
            token_key_set: None,
            tls_certificate: None,
        }
    }

    #[test]
    fn names_what_changed_field_by_field() {
        let a = bundle(
            vec![policy("1", Mode::Shadow), policy("2", Mode::Shadow)],
            vec![],
        );
        let b = bundle(
            vec![policy("1", Mode::Enforce), policy("3", Mode::Shadow)],
            vec![BundleClient {
                client_id: "app".into(),
                kind: "public".into(),
                enabled: true,
                policy_id: None,
                scopes: vec![],
                auth_method: "client_secret_basic".into(),
                grant_types: vec!["client_credentials".into()],
                token_lifetime_s: 600,
                secrets: vec![BundleSecret {
                    id: "s1".into(),
                    phc: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                    expires_at_ms: None,
                }],
                jwks: None,
            }],
        );
        let lines = changes(Some(&a), &b);
        assert_eq!(
            lines,
            vec![
                "policy \"p-1\": mode \"shadow\" → \"enforce\"".to_string(),
                "policy \"p-3\" added".into(),
                "policy \"p-2\" removed".into(),
                "client \"app\" added".into(),
            ]
        );
        assert!(changes(Some(&b), &b).is_empty());
        let mut c = b.clone();
        c.routes.insert(
            0,
            Route {
                path: PathMatch::Prefix("/api".into()),
                methods: vec!["GET".into()],
                auth: RouteAuth::Bearer {
                    scopes: vec!["read".into()],
                },
            },
        );
        assert_eq!(
            changes(Some(&b), &c),
            vec!["route added: prefix /api GET bearer read".to_string()]
        );
        c.routes.reverse();
        assert_eq!(
            changes(Some(&b), &c),
            vec!["route added: prefix /api GET bearer read".to_string()]
        );
        let mut d = c.clone();
        d.routes.reverse();
        assert_eq!(
            changes(Some(&c), &d),
            vec!["routes reordered: prefix /api GET bearer read; prefix / * none".to_string()]
        );
        assert_eq!(
            changes(Some(&d), &b),
            vec!["route removed: prefix /api GET bearer read".to_string()]
        );
        assert!(changes(None, &b)[0]
            .starts_with("first version: 2 policies, 1 client, 0 published keys, 1 route"));

        // A rotated secret is named by its id, never by its hash; the token key set by name.
        let mut e = b.clone();
        e.clients[0].secrets.insert(
            0,
            BundleSecret {
                id: "s2".into(),
                phc: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdDI$aGFzaDI".into(),
                expires_at_ms: None,
            },
        );
        e.clients[0].secrets[1].expires_at_ms = Some(1_767_225_600_000);
        e.token_key_set = Some("default".into());
        let lines = changes(Some(&b), &e);
        assert_eq!(
            lines,
            vec![
                "client \"app\": secrets [\"s1\"] → [\"s2\",\"s1 until 2026-01-01 00:00 UTC\"]"
                    .to_string(),
                "token endpoint signs with none (gates issue no tokens) → key set \"default\""
                    .into(),
            ]
        );
        assert!(lines.iter().all(|l| !l.contains("argon2")), "{lines:?}");
    }

    #[test]
    fn names_the_served_certificate_by_hostname_and_pin() {
        let cert = |host: &str, sha: &str, pin: &str| BundleCertificate {
            hostname: host.into(),
            cert_sha256: sha.into(),
            spki_pin: pin.into(),
        };
        let with = |c: Option<BundleCertificate>| {
            let mut b = bundle(vec![], vec![]);
            b.tls_certificate = c;
            b
        };
        let none = with(None);
        let first = with(Some(cert("api.example.com", "c1", "P1")));
        let rotated = with(Some(cert("api.example.com", "c2", "P2")));
        let renewed = with(Some(cert("api.example.com", "c3", "P2")));
        let other = with(Some(cert("www.example.com", "c4", "P4")));
        let one = |a: &Bundle, b: &Bundle| changes(Some(a), b);
        assert_eq!(
            one(&none, &first),
            vec!["HTTPS: gates serve the certificate of \"api.example.com\" (SPKI pin P1)"]
        );
        assert_eq!(
            one(&first, &rotated),
            vec!["HTTPS certificate of \"api.example.com\": SPKI pin P1 → P2"]
        );
        assert_eq!(
            one(&rotated, &renewed),
            vec!["HTTPS certificate of \"api.example.com\": a new certificate for the same key (SPKI pin P2)"]
        );
        assert_eq!(
            one(&renewed, &other),
            vec!["HTTPS: gates serve the certificate of \"www.example.com\" (SPKI pin P4) instead of \"api.example.com\""]
        );
        assert_eq!(
            one(&other, &none),
            vec!["HTTPS: gates serve no certificate (was the one of \"www.example.com\")"]
        );
        assert!(one(&rotated, &rotated).is_empty());
    }
}
