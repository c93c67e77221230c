//! The config bundle: what the console sends every gate, and the envelope it travels in.
//!
//! A [`Bundle`] (the payload) is one complete, versioned enforcement configuration: policies,
//! the client registry, the published JWKS of every key set with each key's state, the issuer
//! and audiences a gate accepts, and the routes. A [`SignedBundle`] carries its exact JSON bytes
//! (base64url) with an Ed25519 signature by the console's bundle key over those bytes: the
//! signature covers the payload as sent, so nothing is re-canonicalised on verification. The
//! console produces the payload with `serde_json::to_vec(&bundle)` (struct field order is fixed,
//! so the bytes are canonical for a given bundle).
//!
//! This module is serde only (it builds for wasm32 like the rest of the crate): parsing with
//! size caps and unknown members refused, and [`validate`], the structural checks a gate runs
//! before applying a bundle ([`validate_bundle`]; policies through the same [`crate::validate`] code as the
//! console). Signatures and JWK cryptography are checked by the `jose` crate, in the gate.
//!
//! Routes: the first route whose path and method match a request decides whether a bearer token
//! is required; a request matching no route is answered 404 by the gate and never proxied.

use serde::{Deserialize, Serialize};

use crate::jwk::Jwk;
use crate::keys::KeyState;
use crate::model::{PathMatch, Policy};
use crate::validate::{validate, validate_path_and_methods, validate_set, Severity};

/// The payload format this code reads and writes.
pub const FORMAT: u32 = 1;
/// The largest envelope accepted, in bytes (8 MiB), checked before anything is parsed.
pub const MAX_BUNDLE_BYTES: usize = 8 * 1024 * 1024;

/// One version of the enforcement configuration (the signed payload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// [`FORMAT`].
    pub format: u32,
    /// Monotonic, from 1; a gate applies only a version greater than the one it runs.
    pub version: u64,
    pub issued_at_ms: i64,
    /// Lowercase hex SHA-256 of the previous version's payload bytes; "" for version 1.
    pub prev_hash: String,
    pub console_id: String,
    /// The exact `iss` a gate accepts in access tokens.
    pub issuer: String,
    /// Accepted `aud` values; a token's `aud` must hold one of them.
    pub audiences: Vec<String>,
    /// Require the header `typ` `at+jwt` (RFC 9068 §4).
    pub require_typ_at_jwt: bool,
    pub policies: Vec<Policy>,
    pub clients: Vec<BundleClient>,
    pub key_sets: Vec<BundleKeySet>,
    /// First match wins; no match is a 404 at the gate.
    pub routes: Vec<Route>,
    /// The key set whose active key signs the access tokens the gate issues at
    /// `POST /oauth/token`; `None`: the gate issues no tokens (the endpoint answers 404).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_key_set: Option<String>,
    /// The certificate gates serve on their TLS listener (its chain and key travel sealed to
    /// each gate); `None`: gates serve no HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_certificate: Option<BundleCertificate>,
}

/// Which certificate gates serve: public facts, so that a rotation is a new bundle version and
/// a gate can check the chain it receives is the one meant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleCertificate {
    pub hostname: String,
    /// Base64 SHA-256 of the leaf certificate's DER.
    pub cert_sha256: String,
    /// Base64 SHA-256 of the leaf's SubjectPublicKeyInfo (RFC 7469): what pinned apps check.
    pub spki_pin: String,
}

/// A registered OAuth client, as the gate needs it (no secrets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleClient {
    pub client_id: String,
    /// "confidential", "public" or "service".
    pub kind: String,
    /// A disabled client's tokens are refused.
    pub enabled: bool,
    /// The rate-limit policy the client is bound to, if any.
    pub policy_id: Option<String>,
    /// The scopes the client may hold; a token's scopes count only where listed here.
    pub scopes: Vec<String>,
    /// How the client authenticates at the token endpoint (RFC 7591 §2 names:
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt`, `none`).
    #[serde(default = "auth_none")]
    pub auth_method: String,
    /// The grants the client may use (`client_credentials` is the one the gate issues).
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// The lifetime of the access tokens issued to it, before the key set's cap.
    #[serde(default)]
    pub token_lifetime_s: u32,
    /// Its usable secrets as Argon2id PHC strings (never the secrets): the current one and any
    /// in their grace period, each with its expiry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<BundleSecret>,
    /// Its public keys, for `private_key_jwt` (RFC 7523).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<crate::jwk::JwkSet>,
}

fn auth_none() -> String {
    "none".into()
}

/// One client secret as the gate verifies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSecret {
    /// The console's id of the secret: what usage reports name.
    pub id: String,
    /// Argon2id PHC string.
    pub phc: String,
    /// After this instant (ms since the epoch) the secret is refused; `None`: no expiry.
    pub expires_at_ms: Option<i64>,
}

/// The published keys of one signing key set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleKeySet {
    pub name: String,
    /// Clock skew tolerated on `exp`, `nbf`, `iat` of tokens signed by this set's keys.
    pub leeway_s: u32,
    pub keys: Vec<BundleKey>,
    /// The longest lifetime of a token signed by this set: caps what the gate issues.
    #[serde(default)]
    pub max_token_lifetime_s: u32,
}

/// One published key: `next` (published, does not sign yet), `active` or `retired`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleKey {
    pub kid: String,
    /// A published [`KeyState`]: "next", "active" or "retired".
    pub state: String,
    pub jwk: Jwk,
}

/// A route: which requests it covers and what authentication they need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub path: PathMatch,
    /// Exact methods; empty = any method.
    pub methods: Vec<String>,
    pub auth: RouteAuth,
}

/// What a route requires: `"none"` or `{"bearer": {"scopes": [...]}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RouteAuth {
    None,
    /// A valid access token (RFC 6750) holding every listed scope.
    Bearer {
        scopes: Vec<String>,
    },
}

/// The envelope, on the wire and on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedBundle {
    /// Base64url (no padding) of the payload's exact JSON bytes.
    pub payload: String,
    /// Base64url (no padding) SHA-256 of the raw 32-byte Ed25519 public key that signed it.
    pub key_id: String,
    /// Base64url (no padding) Ed25519 signature over the payload bytes.
    pub signature: String,
    /// The private material for the one gate this envelope is delivered to, if it needs any
    /// (signed separately, sealed to that gate's key; see [`crate::secrets`]). Never on the
    /// console's published copy; added per gate on delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<crate::secrets::SealedSecrets>,
}

/// Why bytes are not a bundle or a bundle is not applicable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleError {
    TooLarge {
        size: usize,
        limit: usize,
    },
    /// Not JSON of the expected shape (unknown members included).
    Malformed(String),
    /// Parsed, but refused by [`validate_bundle`]: every issue, one message each.
    Invalid(Vec<String>),
}

impl core::fmt::Display for BundleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BundleError::TooLarge { size, limit } => {
                write!(f, "the bundle is {size} bytes; the limit is {limit}")
            }
            BundleError::Malformed(m) => write!(f, "the bundle is malformed: {m}"),
            BundleError::Invalid(issues) => match issues.as_slice() {
                [] => write!(f, "the bundle is invalid"),
                [one] => write!(f, "the bundle is invalid: {one}"),
                [first, rest @ ..] => write!(
                    f,
                    "the bundle is invalid: {first} (and {} more issue{})",
                    rest.len(),
                    if rest.len() == 1 { "" } else { "s" }
                ),
            },
        }
    }
}

impl std::error::Error for BundleError {}

impl SignedBundle {
    /// Parses an envelope, refusing more than [`MAX_BUNDLE_BYTES`] before parsing.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge {
                size: bytes.len(),
                limit: MAX_BUNDLE_BYTES,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed(e.to_string()))
    }
}

impl Bundle {
    /// Parses payload bytes (already decoded from the envelope's base64url).
    pub fn from_payload(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge {
                size: bytes.len(),
                limit: MAX_BUNDLE_BYTES,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed(e.to_string()))
    }

    /// The payload bytes the console signs: `serde_json::to_vec(self)`.
    pub fn to_payload(&self) -> Result<Vec<u8>, BundleError> {
        serde_json::to_vec(self).map_err(|e| BundleError::Malformed(e.to_string()))
    }
}

/// Client kinds a bundle may carry.
pub const CLIENT_KINDS: [&str; 3] = ["confidential", "public", "service"];

/// Every structural issue of a bundle, as messages; empty means applicable. Checks: the format;
/// version ≥ 1; `prev_hash` "" for version 1, else 64 lowercase hex digits; every policy valid
/// ([`validate`], with a non-empty id) and the set without errors ([`validate_set`]: duplicate
/// ids, names, orders); client ids present and unique, kinds known, bound policies present; key
/// set names unique, each key's `kid` unique across sets and equal to its JWK's, states known;
/// at least one route, each path and method list valid, scopes non-empty without spaces; an
/// issuer and at least one audience whenever a route requires a bearer token.
pub fn validate_bundle(b: &Bundle) -> Vec<String> {
    let mut out = Vec::new();
    if b.format != FORMAT {
        out.push(format!(
            "format {} is not supported (expected {FORMAT})",
            b.format
        ));
    }
    if b.version == 0 {
        out.push("version must be at least 1".into());
    }
    let hex64 = b.prev_hash.len() == 64
        && b.prev_hash
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    match (b.version, b.prev_hash.is_empty()) {
        (1, false) => out.push("version 1 has no previous version: prev_hash must be \"\"".into()),
        (v, _) if v > 1 && !hex64 => {
            out.push("prev_hash must be 64 lowercase hex digits (SHA-256)".into())
        }
        _ => {}
    }
    for (i, p) in b.policies.iter().enumerate() {
        if p.id.is_empty() {
            out.push(format!("policies[{i}]: the id is empty"));
        }
        for issue in validate(p).iter().filter(|x| x.is_error()) {
            out.push(format!("policies[{i}] ({}): {issue}", p.id));
        }
    }
    for issue in validate_set(&b.policies)
        .iter()
        .filter(|x| x.severity == Severity::Error)
    {
        out.push(format!("policy {}: {}", issue.policy_id, issue.message));
    }
    for (i, c) in b.clients.iter().enumerate() {
        if c.client_id.is_empty() {
            out.push(format!("clients[{i}]: the client id is empty"));
        }
        if b.clients[..i].iter().any(|o| o.client_id == c.client_id) {
            out.push(format!(
                "clients[{i}]: client id {:?} is listed twice",
                c.client_id
            ));
        }
        if !CLIENT_KINDS.contains(&c.kind.as_str()) {
            out.push(format!(
                "clients[{i}]: kind {:?} is not confidential, public or service",
                c.kind
            ));
        }
        if let Some(pid) = &c.policy_id {
            if !b.policies.iter().any(|p| &p.id == pid) {
                out.push(format!(
                    "clients[{i}]: bound policy {pid:?} is not in the bundle"
                ));
            }
        }
        if let Some(s) = c.scopes.iter().find(|s| !is_scope(s)) {
            out.push(format!(
                "clients[{i}]: scope {s:?} is empty or holds a space"
            ));
        }
        if crate::client::AuthMethod::parse(&c.auth_method).is_none() {
            out.push(format!(
                "clients[{i}]: authentication method {:?} is not known",
                c.auth_method
            ));
        }
        for (j, secret) in c.secrets.iter().enumerate() {
            if secret.id.is_empty() || !secret.phc.starts_with("$argon2id$") {
                out.push(format!(
                    "clients[{i}].secrets[{j}]: not an identified Argon2id hash"
                ));
            }
        }
    }
    if let Some(name) = &b.token_key_set {
        if !b.key_sets.iter().any(|s| &s.name == name) {
            out.push(format!("the token key set {name:?} is not in the bundle"));
        }
    }
    let mut kids: Vec<&str> = Vec::new();
    for (i, set) in b.key_sets.iter().enumerate() {
        if set.name.is_empty() {
            out.push(format!("key_sets[{i}]: the name is empty"));
        }
        if b.key_sets[..i].iter().any(|o| o.name == set.name) {
            out.push(format!("key_sets[{i}]: name {:?} is used twice", set.name));
        }
        for (j, k) in set.keys.iter().enumerate() {
            let at = format!("key_sets[{i}].keys[{j}]");
            if k.kid.is_empty() {
                out.push(format!("{at}: the kid is empty"));
            } else if kids.contains(&k.kid.as_str()) {
                out.push(format!("{at}: kid {:?} appears twice in the bundle", k.kid));
            }
            kids.push(&k.kid);
            if k.jwk.kid.as_deref() != Some(k.kid.as_str()) {
                out.push(format!("{at}: the JWK's kid is not {:?}", k.kid));
            }
            if !KeyState::parse(&k.state).is_some_and(KeyState::is_published) {
                out.push(format!(
                    "{at}: state {:?} is not next, active or retired",
                    k.state
                ));
            }
        }
    }
    if b.routes.is_empty() {
        out.push("there is no route: the gate would answer 404 to everything".into());
    }
    let mut bearer = false;
    for (i, r) in b.routes.iter().enumerate() {
        for issue in validate_path_and_methods(&r.path, &r.methods)
            .iter()
            .filter(|x| x.is_error())
        {
            out.push(format!("routes[{i}]: {issue}"));
        }
        if let RouteAuth::Bearer { scopes } = &r.auth {
            bearer = true;
            if let Some(s) = scopes.iter().find(|s| !is_scope(s)) {
                out.push(format!(
                    "routes[{i}]: scope {s:?} is empty or holds a space"
                ));
            }
        }
    }
    if bearer && b.issuer.is_empty() {
        out.push("a route requires a bearer token but the issuer is empty".into());
    }
    if bearer && b.audiences.iter().all(String::is_empty) {
        out.push("a route requires a bearer token but no audience is accepted".into());
    }
    out
}

/// A scope token (RFC 6749 §3.3): non-empty, printable ASCII without space, `"` or `\`.
pub(crate) fn is_scope(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Action, KeyBy, Limit, Match, Mode, Period, Scope};

    fn policy(id: &str, order: u32) -> Policy {
        Policy {
            id: id.into(),
            name: format!("policy {id}"),
            enabled: true,
            order,
            matcher: Match::default(),
            key: KeyBy::Ip,
            limit: Limit {
                rate: 10,
                per: Period::Second,
                burst: 5,
            },
            scope: Scope::Gate,
            action: Action::Reject,
            mode: Mode::Enforce,
        }
    }

    fn sample() -> Bundle {
        Bundle {
            format: FORMAT,
            version: 2,
            issued_at_ms: 1_800_000_000_000,
            prev_hash: "ab".repeat(32),
            console_id: "console-1".into(),
            issuer: "https://console.example".into(),
            audiences: vec!["api".into()],
            require_typ_at_jwt: true,
            policies: vec![policy("p1", 1)],
            clients: vec![BundleClient {
                client_id: "c1".into(),
                kind: "service".into(),
                enabled: true,
                policy_id: Some("p1".into()),
                scopes: vec!["read".into()],
                auth_method: "client_secret_basic".into(),
                grant_types: vec!["client_credentials".into()],
                token_lifetime_s: 600,
                secrets: vec![],
                jwks: None,
            }],
            key_sets: vec![BundleKeySet {
                name: "default".into(),
                leeway_s: 30,
                keys: vec![BundleKey {
                    kid: "k1".into(),
                    state: "active".into(),
                    jwk: Jwk {
                        kty: "OKP".into(),
                        crv: Some("Ed25519".into()),
                        x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into()),
                        y: None,
                        n: None,
                        e: None,
                        kid: Some("k1".into()),
                        alg: Some("EdDSA".into()),
                        use_: Some("sig".into()),
                    },
                }],
                max_token_lifetime_s: 3_600,
            }],
            routes: vec![
                Route {
                    path: PathMatch::Prefix("/public".into()),
                    methods: vec!["GET".into()],
                    auth: RouteAuth::None,
                },
                Route {
                    path: PathMatch::Prefix("/".into()),
                    methods: vec![],
                    auth: RouteAuth::Bearer {
                        scopes: vec!["read".into()],
                    },
                },
            ],
            token_key_set: Some("default".into()),
            tls_certificate: None,
        }
    }

    #[test]
    fn round_trip_is_byte_stable() {
        let b = sample();
        assert_eq!(validate_bundle(&b), Vec::<String>::new());
        let bytes = b.to_payload().expect("serialises");
        let back = Bundle::from_payload(&bytes).expect("parses");
        assert_eq!(back, b);
        assert_eq!(back.to_payload().expect("serialises"), bytes);
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(text.starts_with(r#"{"format":1,"version":2,"#), "{text}");
        assert!(text.contains(r#""auth":"none""#), "{text}");
        assert!(
            text.contains(r#""auth":{"bearer":{"scopes":["read"]}}"#),
            "{text}"
        );
        let env = SignedBundle {
            payload: "eyJ9".into(),
            key_id: "k".into(),
            signature: "s".into(),
            secrets: None,
        };
        let json = serde_json::to_vec(&env).expect("serialises");
        // No `secrets` member when there are none: what older gates read.
        assert!(!String::from_utf8_lossy(&json).contains("secrets"));
        assert_eq!(SignedBundle::from_json(&json), Ok(env));
    }

    #[test]
    fn unknown_members_are_refused_everywhere() {
        let mut v = serde_json::to_value(sample()).expect("valid");
        v["extra"] = serde_json::json!(1);
        let e = Bundle::from_payload(&serde_json::to_vec(&v).expect("valid")).expect_err("refused");
        assert!(
            matches!(e, BundleError::Malformed(ref m) if m.contains("extra")),
            "{e}"
        );
        for (path, member) in [
            ("/clients/0", "secret_hash"),
            ("/key_sets/0", "private"),
            ("/key_sets/0/keys/0", "d"),
            ("/routes/0", "upstream"),
            ("/policies/0", "note"),
        ] {
            let mut v = serde_json::to_value(sample()).expect("valid");
            v.pointer_mut(path).expect("exists")[member] = serde_json::json!("x");
            let bytes = serde_json::to_vec(&v).expect("valid");
            assert!(Bundle::from_payload(&bytes).is_err(), "{path}/{member}");
        }
        let env = br#"{"payload":"","key_id":"","signature":"","alg":"none"}"#;
        assert!(SignedBundle::from_json(env).is_err());
        assert!(SignedBundle::from_json(br#"{"payload":"","key_id":""}"#).is_err());
    }

    #[test]
    fn size_is_capped_before_parsing() {
        let big = vec![b' '; MAX_BUNDLE_BYTES + 1];
        assert_eq!(
            SignedBundle::from_json(&big),
            Err(BundleError::TooLarge {
                size: MAX_BUNDLE_BYTES + 1,
                limit: MAX_BUNDLE_BYTES
            })
        );
        assert!(matches!(
            Bundle::from_payload(&big),
            Err(BundleError::TooLarge { .. })
        ));
        // At the cap it is parsed (and is not JSON).
        let at = vec![b' '; MAX_BUNDLE_BYTES];
        assert!(matches!(
            SignedBundle::from_json(&at),
            Err(BundleError::Malformed(_))
        ));
    }

    #[test]
    fn validation_names_each_problem() {
        let refused = |f: &dyn Fn(&mut Bundle), needle: &str| {
            let mut b = sample();
            f(&mut b);
            let issues = validate_bundle(&b);
            assert!(
                issues.iter().any(|i| i.contains(needle)),
                "{needle}: {issues:?}"
            );
        };
        refused(&|b| b.format = 2, "format 2");
        refused(&|b| b.version = 0, "at least 1");
        refused(&|b| b.version = 1, "prev_hash must be \"\"");
        refused(&|b| b.prev_hash = "AB".repeat(32), "64 lowercase hex");
        refused(&|b| b.policies[0].limit.rate = 0, "policies[0]");
        refused(&|b| b.policies[0].id.clear(), "the id is empty");
        refused(
            &|b| b.policies.push(policy("p1", 2)),
            "Two policies have the id",
        );
        refused(&|b| b.clients.push(b.clients[0].clone()), "listed twice");
        refused(&|b| b.clients[0].kind = "robot".into(), "kind \"robot\"");
        refused(
            &|b| b.clients[0].policy_id = Some("nope".into()),
            "bound policy",
        );
        refused(
            &|b| b.key_sets[0].keys[0].state = "revoked".into(),
            "state \"revoked\"",
        );
        refused(&|b| b.key_sets[0].keys[0].jwk.kid = None, "JWK's kid");
        refused(
            &|b| {
                let k = b.key_sets[0].keys[0].clone();
                b.key_sets[0].keys.push(k)
            },
            "appears twice",
        );
        refused(&|b| b.routes.clear(), "no route");
        refused(
            &|b| b.routes[0].path = PathMatch::Prefix("api".into()),
            "routes[0]",
        );
        refused(&|b| b.routes[0].methods = vec!["get".into()], "routes[0]");
        refused(
            &|b| {
                b.routes[1].auth = RouteAuth::Bearer {
                    scopes: vec!["a b".into()],
                }
            },
            "holds a space",
        );
        refused(&|b| b.issuer.clear(), "issuer is empty");
        refused(&|b| b.audiences.clear(), "no audience");
        // Without bearer routes, issuer and audiences may be empty.
        let mut b = sample();
        b.routes.truncate(1);
        b.issuer.clear();
        b.audiences.clear();
        assert_eq!(validate_bundle(&b), Vec::<String>::new());
        let mut b = sample();
        b.version = 1;
        b.prev_hash.clear();
        assert_eq!(validate_bundle(&b), Vec::<String>::new());
    }
}
