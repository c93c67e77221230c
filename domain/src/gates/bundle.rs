//! Composing the config bundle from the console's state: the policies in evaluation order, the
//! client registry (how each client authenticates at the token endpoint, the Argon2id hashes of
//! its usable secrets, never a secret, and its public JWKS), the published keys of every key set
//! with their states, and the gate-wide settings (issuer, audiences, routes, the token key set).
//! Pure functions: the service reads the stores and signs; this module decides what a gate
//! receives. The private half of the token key set's active key is never in the bundle: it is
//! sealed to each gate on delivery (`service::publish`).
//!
//! Equal inputs compose equal bundles (every list is sorted here, whatever order the store
//! reads in), so the content hash changes only when what gates enforce changes. The one input
//! that moves by itself is time: a secret leaves the bundle once it is revoked or past its
//! expiry at `now_ms`, which changes the content once, never again for the same secret.

use policy::bundle::{
    Bundle, BundleClient, BundleKey, BundleKeySet, BundleSecret, Route, RouteAuth, FORMAT,
};
use policy::jwk::{Jwk, JwkSet};
use policy::model::{PathMatch, Policy};
use policy::redirect::ClientKind;
use sha2::{Digest, Sha256};

use crate::ports::clients::{ClientRecord, SecretRecord};
use crate::ports::gates::GateSettingsRecord;
use crate::ports::keys::{KeySetRecord, SigningKeyRecord};
use crate::Error;

/// The gate-wide part of a bundle, as the admin set it (or the defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateSettings {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub require_typ_at_jwt: bool,
    pub routes: Vec<Route>,
    /// The id of the key set whose active key signs the tokens gates issue (the bundle names
    /// it); `None`: gates issue no tokens.
    pub token_key_set_id: Option<String>,
    /// The hostname whose current certificate gates serve over TLS; `None`: no HTTPS.
    pub tls_hostname: Option<String>,
    /// The stored row's version; `None` while the defaults apply.
    pub version: Option<i64>,
}

impl GateSettings {
    /// Until an admin saves settings: the console's URL as the issuer, no audience, and one
    /// route that lets every request through to the rate limits without a token.
    pub fn defaults(public_url: &str) -> GateSettings {
        GateSettings {
            issuer: public_url.trim_end_matches('/').to_owned(),
            audiences: Vec::new(),
            require_typ_at_jwt: true,
            routes: vec![Route {
                path: PathMatch::Prefix("/".into()),
                methods: Vec::new(),
                auth: RouteAuth::None,
            }],
            token_key_set_id: None,
            tls_hostname: None,
            version: None,
        }
    }

    pub fn of_record(r: &GateSettingsRecord) -> Result<GateSettings, Error> {
        Ok(GateSettings {
            issuer: r.issuer.clone(),
            audiences: r.audiences.clone(),
            require_typ_at_jwt: r.require_typ_at_jwt,
            routes: serde_json::from_str(&r.routes_json)
                .map_err(|e| Error::Internal(format!("stored gate routes: {e}")))?,
            token_key_set_id: r.token_key_set_id.clone(),
            tls_hostname: r.tls_hostname.clone(),
            version: Some(r.version),
        })
    }
}

/// The kind a gate knows a client by.
fn bundle_kind(k: ClientKind) -> &'static str {
    match k {
        ClientKind::Native => "public",
        ClientKind::Web => "confidential",
        ClientKind::Service => "service",
    }
}

/// A client as the gate's token endpoint needs it. `secrets` are all of the client's secrets
/// (in any order); only those usable at `now_ms` (not revoked, not past their expiry) go in,
/// and only for a client that authenticates with a secret.
fn client_of(
    c: &ClientRecord,
    secrets: &[&SecretRecord],
    now_ms: i64,
) -> Result<BundleClient, Error> {
    let mut usable: Vec<&SecretRecord> = if c.auth_method.uses_secret() {
        secrets
            .iter()
            .copied()
            .filter(|s| s.revoked_at_ms.is_none() && s.expires_at_ms.is_none_or(|t| t > now_ms))
            .collect()
    } else {
        Vec::new()
    };
    usable.sort_by(|a, b| (b.created_at_ms, &a.id).cmp(&(a.created_at_ms, &b.id)));
    let jwks =
        match (&c.jwks_json, c.auth_method.uses_jwks()) {
            (Some(json), true) => Some(serde_json::from_str::<JwkSet>(json).map_err(|e| {
                Error::Internal(format!("client {}: stored JWKS: {e}", c.client_id))
            })?),
            _ => None,
        };
    Ok(BundleClient {
        client_id: c.client_id.clone(),
        kind: bundle_kind(c.kind).to_owned(),
        enabled: c.enabled,
        policy_id: c.policy_id.clone(),
        scopes: c.scopes.clone(),
        auth_method: c.auth_method.as_str().to_owned(),
        grant_types: c.grant_types.clone(),
        token_lifetime_s: u32::try_from(c.access_token_lifetime_s.max(0)).unwrap_or(u32::MAX),
        secrets: usable
            .into_iter()
            .map(|s| BundleSecret {
                id: s.id.clone(),
                phc: s.phc_hash.clone(),
                expires_at_ms: s.expires_at_ms,
            })
            .collect(),
        jwks,
    })
}

fn key_set_of(set: &KeySetRecord, keys: &[SigningKeyRecord]) -> Result<BundleKeySet, Error> {
    let mut published: Vec<&SigningKeyRecord> =
        keys.iter().filter(|k| k.state.is_published()).collect();
    published.sort_by(|a, b| (a.created_at_ms, &a.kid).cmp(&(b.created_at_ms, &b.kid)));
    let keys = published
        .into_iter()
        .map(|k| {
            let jwk: Jwk = serde_json::from_str(&k.public_jwk_json)
                .map_err(|e| Error::Internal(format!("key {}: stored JWK: {e}", k.id)))?;
            Ok(BundleKey {
                kid: k.kid.clone(),
                state: k.state.as_str().to_owned(),
                jwk,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(BundleKeySet {
        name: set.name.clone(),
        leeway_s: u32::try_from(set.leeway_s.max(0)).unwrap_or(u32::MAX),
        keys,
        max_token_lifetime_s: u32::try_from(set.max_token_lifetime_s.max(0)).unwrap_or(u32::MAX),
    })
}

/// The bundle's content for these inputs, with version 0, time 0 and no previous hash: what
/// [`content_sha256`] hashes and [`finish`] dates and chains. `secrets` are every client's
/// secrets; `now_ms` decides which of them are still usable.
pub fn compose(
    console_id: &str,
    settings: &GateSettings,
    policies: Vec<Policy>,
    clients: &[ClientRecord],
    secrets: &[SecretRecord],
    key_sets: &[(KeySetRecord, Vec<SigningKeyRecord>)],
    now_ms: i64,
) -> Result<Bundle, Error> {
    let mut clients = clients
        .iter()
        .map(|c| {
            let own: Vec<&SecretRecord> =
                secrets.iter().filter(|s| s.client_row_id == c.id).collect();
            client_of(c, &own, now_ms)
        })
        .collect::<Result<Vec<_>, _>>()?;
    clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    let mut sets = key_sets
        .iter()
        .map(|(s, k)| key_set_of(s, k))
        .collect::<Result<Vec<_>, _>>()?;
    sets.sort_by(|a, b| a.name.cmp(&b.name));
    let token_key_set = match &settings.token_key_set_id {
        None => None,
        Some(id) => Some(
            key_sets
                .iter()
                .find(|(s, _)| &s.id == id)
                .map(|(s, _)| s.name.clone())
                .ok_or_else(|| {
                    Error::Invalid(
                        "the key set chosen to sign the gates' tokens no longer exists; choose \
                         another in the gate settings"
                            .into(),
                    )
                })?,
        ),
    };
    Ok(Bundle {
        format: FORMAT,
        version: 0,
        issued_at_ms: 0,
        prev_hash: String::new(),
        console_id: console_id.to_owned(),
        issuer: settings.issuer.clone(),
        audiences: settings.audiences.clone(),
        require_typ_at_jwt: settings.require_typ_at_jwt,
        policies,
        clients,
        key_sets: sets,
        routes: settings.routes.clone(),
        token_key_set,
        // The service fills it from the certificates store (see `GatesService::compose_with`).
        tls_certificate: None,
    })
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash of what a gate enforces: the bundle with version, time and chain blanked. Two
/// versions with the same content hash enforce the same thing.
pub fn content_sha256(b: &Bundle) -> Result<String, Error> {
    let mut blank = b.clone();
    blank.version = 0;
    blank.issued_at_ms = 0;
    blank.prev_hash = String::new();
    let bytes = blank
        .to_payload()
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(sha256_hex(&bytes))
}

/// Gives composed content its place in the chain: `version`, time, and the previous version's
/// payload hash. Refuses content the gates would refuse (the same `policy` checks they run).
pub fn finish(
    mut b: Bundle,
    version: i64,
    prev_payload_sha256: Option<&str>,
    now_ms: i64,
) -> Result<Bundle, Error> {
    b.version = u64::try_from(version).map_err(|_| Error::Internal("negative version".into()))?;
    b.issued_at_ms = now_ms;
    b.prev_hash = prev_payload_sha256.unwrap_or_default().to_owned();
    let issues = policy::bundle::validate_bundle(&b);
    if !issues.is_empty() {
        return Err(Error::Invalid(format!(
            "the configuration cannot be published, gates would refuse it: {}",
            issues.join("; ")
        )));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::client::{AuthMethod, Platform};
    use policy::keys::KeyState;

    const NOW: i64 = 1_000_000;
    const JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ck1","alg":"EdDSA","use":"sig"}"#;

    fn client(id: &str, client_id: &str, auth: AuthMethod) -> ClientRecord {
        ClientRecord {
            id: id.into(),
            client_id: client_id.into(),
            name: format!("client {id}"),
            description: String::new(),
            kind: ClientKind::Service,
            platform: Platform::Server,
            redirect_uris: vec![],
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["read".into()],
            access_token_lifetime_s: 900,
            auth_method: auth,
            jwks_json: (auth == AuthMethod::PrivateKeyJwt)
                .then(|| format!(r#"{{"keys":[{JWK}]}}"#)),
            policy_id: None,
            enabled: true,
            version: 1,
            created_at_ms: 1,
            updated_at_ms: 1,
        }
    }

    fn secret(id: &str, client: &str, created: i64) -> SecretRecord {
        SecretRecord {
            id: id.into(),
            client_row_id: client.into(),
            phc_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${id}"),
            hint: "psc_abcd".into(),
            created_at_ms: created,
            expires_at_ms: None,
            last_used_at_ms: None,
            revoked_at_ms: None,
        }
    }

    fn key_set(id: &str, name: &str) -> (KeySetRecord, Vec<SigningKeyRecord>) {
        let set = KeySetRecord {
            id: id.into(),
            name: name.into(),
            alg: "EdDSA".into(),
            rotation_period_s: 86_400,
            cache_window_s: 3_600,
            max_token_lifetime_s: 1_800,
            leeway_s: 60,
            auto_rotate: true,
            version: 1,
            created_at_ms: 1,
            updated_at_ms: 1,
        };
        let key = SigningKeyRecord {
            id: format!("{id}-k"),
            set_id: id.into(),
            kid: format!("{id}-kid"),
            alg: "EdDSA".into(),
            state: KeyState::Active,
            public_jwk_json: JWK.replace("ck1", &format!("{id}-kid")),
            sealed_private: Some(vec![1]),
            created_at_ms: 1,
            activated_at_ms: Some(1),
            retired_at_ms: None,
            removed_at_ms: None,
            revoked_at_ms: None,
            revoke_reason: None,
            promote_at_ms: None,
        };
        (set, vec![key])
    }

    fn settings(token_key_set_id: Option<&str>) -> GateSettings {
        GateSettings {
            token_key_set_id: token_key_set_id.map(str::to_owned),
            tls_hostname: None,
            ..GateSettings::defaults("https://console.example")
        }
    }

    /// A secret-based client with a current secret, one in its grace period, one past its
    /// expiry and one revoked; a private_key_jwt client; two key sets.
    type Sets = Vec<(KeySetRecord, Vec<SigningKeyRecord>)>;

    fn inputs() -> (Vec<ClientRecord>, Vec<SecretRecord>, Sets) {
        let clients = vec![
            client("c1", "svc", AuthMethod::ClientSecretBasic),
            client("c2", "jwt", AuthMethod::PrivateKeyJwt),
        ];
        let current = secret("s-current", "c1", 40);
        let grace = SecretRecord {
            expires_at_ms: Some(NOW + 1_000),
            ..secret("s-grace", "c1", 30)
        };
        let expired = SecretRecord {
            expires_at_ms: Some(NOW),
            ..secret("s-expired", "c1", 20)
        };
        let revoked = SecretRecord {
            revoked_at_ms: Some(10),
            ..secret("s-revoked", "c1", 10)
        };
        // A secret row of the JWT client (left from before it switched) never travels.
        let stale = secret("s-jwt", "c2", 50);
        (
            clients,
            vec![stale, current, grace, expired, revoked],
            vec![key_set("ks2", "tokens"), key_set("ks1", "api")],
        )
    }

    #[test]
    fn clients_carry_what_the_token_endpoint_needs() {
        let (clients, secrets, sets) = inputs();
        let b = compose(
            "c",
            &settings(Some("ks2")),
            vec![],
            &clients,
            &secrets,
            &sets,
            NOW,
        )
        .expect("composes");
        assert_eq!(b.token_key_set.as_deref(), Some("tokens"));
        let svc = b
            .clients
            .iter()
            .find(|c| c.client_id == "svc")
            .expect("svc");
        assert_eq!(svc.auth_method, "client_secret_basic");
        assert_eq!(svc.grant_types, vec!["client_credentials"]);
        assert_eq!(svc.token_lifetime_s, 900);
        // Usable at NOW: the current secret and the one in grace, newest first; the expired
        // (expiry == now) and the revoked one are left out.
        let ids: Vec<&str> = svc.secrets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["s-current", "s-grace"]);
        assert_eq!(svc.secrets[1].expires_at_ms, Some(NOW + 1_000));
        assert!(svc.secrets[0].phc.starts_with("$argon2id$"));
        assert!(svc.jwks.is_none());
        let jwt = b
            .clients
            .iter()
            .find(|c| c.client_id == "jwt")
            .expect("jwt");
        assert_eq!(jwt.auth_method, "private_key_jwt");
        assert!(jwt.secrets.is_empty(), "{:?}", jwt.secrets);
        let jwks = jwt.jwks.as_ref().expect("jwks");
        assert_eq!(jwks.keys[0].kid.as_deref(), Some("ck1"));
        let lifetimes: Vec<(&str, u32)> = b
            .key_sets
            .iter()
            .map(|s| (s.name.as_str(), s.max_token_lifetime_s))
            .collect();
        assert_eq!(lifetimes, vec![("api", 1_800), ("tokens", 1_800)]);
        // The gates' own checks accept it.
        let finished = finish(b, 1, None, NOW).expect("valid");
        assert!(policy::bundle::validate_bundle(&finished).is_empty());

        // No token key set: the gates issue no tokens; a set that vanished is refused clearly.
        let none = compose("c", &settings(None), vec![], &clients, &secrets, &sets, NOW)
            .expect("composes");
        assert_eq!(none.token_key_set, None);
        let gone = compose(
            "c",
            &settings(Some("ks9")),
            vec![],
            &clients,
            &secrets,
            &sets,
            NOW,
        )
        .expect_err("refused");
        assert!(
            matches!(&gone, Error::Invalid(m) if m.contains("no longer exists")),
            "{gone}"
        );

        // A lifetime beyond u32 is clamped, never wrapped.
        let mut long = clients.clone();
        long[0].access_token_lifetime_s = i64::MAX;
        let b = compose("c", &settings(None), vec![], &long, &secrets, &sets, NOW).expect("ok");
        assert_eq!(
            b.clients
                .iter()
                .find(|c| c.client_id == "svc")
                .map(|c| c.token_lifetime_s),
            Some(u32::MAX)
        );
    }

    #[test]
    fn equal_inputs_give_equal_content_and_an_expiry_changes_it_once() {
        let (clients, secrets, sets) = inputs();
        let hash = |clients: &[ClientRecord], secrets: &[SecretRecord], sets: &[_], now| {
            content_sha256(
                &compose(
                    "c",
                    &settings(Some("ks1")),
                    vec![],
                    clients,
                    secrets,
                    sets,
                    now,
                )
                .expect("composes"),
            )
            .expect("hash")
        };
        let first = hash(&clients, &secrets, &sets, NOW);
        // Again, later (no expiry passed meanwhile), with every list read in another order.
        let (mut c2, mut s2, mut k2) = (clients.clone(), secrets.clone(), sets.clone());
        c2.reverse();
        s2.reverse();
        k2.reverse();
        assert_eq!(hash(&c2, &s2, &k2, NOW + 999), first);
        // The grace secret's expiry passes: the content changes once, then stays.
        let after = hash(&clients, &secrets, &sets, NOW + 1_000);
        assert_ne!(after, first);
        assert_eq!(hash(&clients, &secrets, &sets, NOW + 1_000_000), after);
    }
}
