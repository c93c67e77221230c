//! Composing the config bundle from the console's state: the policies in evaluation order, the
//! client registry (no secrets), the published keys of every key set with their states, and the
//! gate-wide settings (issuer, audiences, routes). Pure functions: the service reads the stores
//! and signs; this module decides what a gate receives.

use policy::bundle::{Bundle, BundleClient, BundleKey, BundleKeySet, Route, RouteAuth, FORMAT};
use policy::jwk::Jwk;
use policy::model::{PathMatch, Policy};
use policy::redirect::ClientKind;
use sha2::{Digest, Sha256};

use crate::ports::clients::ClientRecord;
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

fn client_of(c: &ClientRecord) -> BundleClient {
    BundleClient {
        client_id: c.client_id.clone(),
        kind: bundle_kind(c.kind).to_owned(),
        enabled: c.enabled,
        policy_id: c.policy_id.clone(),
        scopes: c.scopes.clone(),
    }
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
    })
}

/// The bundle's content for these inputs, with version 0, time 0 and no previous hash: what
/// [`content_sha256`] hashes and [`finish`] dates and chains.
pub fn compose(
    console_id: &str,
    settings: &GateSettings,
    policies: Vec<Policy>,
    clients: &[ClientRecord],
    key_sets: &[(KeySetRecord, Vec<SigningKeyRecord>)],
) -> Result<Bundle, Error> {
    let mut clients: Vec<BundleClient> = clients.iter().map(client_of).collect();
    clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    let mut sets = key_sets
        .iter()
        .map(|(s, k)| key_set_of(s, k))
        .collect::<Result<Vec<_>, _>>()?;
    sets.sort_by(|a, b| a.name.cmp(&b.name));
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
