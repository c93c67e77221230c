//! The enforcement state built from one bundle: the route table, the verification keys by
//! `kid`, the client registry, the policies with their limiters, and the verified-token cache.
//! Built whole from a bundle that passed every check, then swapped in at once (see
//! [`crate::apply`]); a request holds one `Arc<Enforcement>` from start to end, so it never
//! sees parts of two bundles.
//!
//! Limiter state survives a swap for every policy whose id, limit and key are unchanged (the
//! new state reuses the same `Arc<PolicyLimiter>`); any other policy starts fresh.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex};

use jose::VerifyKey;
use policy::bundle::{Bundle, BundleClient, Route, RouteAuth};
use policy::gcra::{Limiter, Outcome as GcraOutcome};
use policy::keys::KeyState;
use policy::model::{in_order, KeyBy, Limit, Policy};

use crate::metrics::{Metrics, PolicyCounters};

/// Limiter shards per policy: decisions on different keys rarely wait on one lock.
const SHARDS: usize = 16;

/// A key allowed to sign tokens: `active` or `retired` (a `next` key is published but does not
/// sign yet, so its tokens are refused).
pub struct KeyEntry {
    pub key: VerifyKey,
    pub leeway_s: u64,
}

/// One policy's bounded per-key GCRA state, sharded behind locks.
pub struct PolicyLimiter {
    limit: Limit,
    key: KeyBy,
    hasher: RandomState,
    shards: Box<[Mutex<Limiter>]>,
    pub counters: Arc<PolicyCounters>,
}

impl PolicyLimiter {
    fn new(p: &Policy, max_keys: usize, counters: Arc<PolicyCounters>) -> Self {
        let per_shard = max_keys.div_ceil(SHARDS).max(8);
        PolicyLimiter {
            limit: p.limit,
            key: p.key.clone(),
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Limiter::new(p.limit.quota(), per_shard)))
                .collect(),
            counters,
        }
    }

    fn reusable_for(&self, p: &Policy) -> bool {
        self.limit == p.limit && self.key.same_key(&p.key)
    }

    /// Decides one request for `key` at `now_ns`, admitting it after at most `max_wait_ns`.
    pub fn decide<K: Hash + ?Sized>(&self, key: &K, now_ns: u64, max_wait_ns: u64) -> GcraOutcome {
        let shard = (self.hasher.hash_one(key) as usize) % SHARDS;
        let mut l = self.shards[shard]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        l.decide_within(key, now_ns, max_wait_ns)
    }

    pub fn limit(&self) -> Limit {
        self.limit
    }
}

/// What a verified token says, as the gate acts on it.
#[derive(Clone, Debug)]
pub struct Principal {
    /// `exp`, seconds since the epoch: the cache never returns the entry at or after it.
    pub exp: i64,
    pub subject: Option<String>,
    pub client_id: String,
    /// The token's scopes that the client's registration also lists.
    pub scopes: Vec<String>,
}

/// One shard of the token cache: token SHA-256 → principal.
type CacheShard = Mutex<HashMap<[u8; 32], Arc<Principal>>>;

/// A bounded cache of verified tokens, keyed by the token's SHA-256.
pub struct TokenCache {
    shards: Box<[CacheShard]>,
    per_shard: usize,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    fn shard(&self, key: &[u8; 32]) -> &CacheShard {
        &self.shards[usize::from(key[0]) % SHARDS]
    }

    /// The entry for `key` if it is still before its `exp` at `now_s`.
    pub fn get(&self, key: &[u8; 32], now_s: i64) -> Option<Arc<Principal>> {
        let map = self
            .shard(key)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key).filter(|p| now_s < p.exp).cloned()
    }

    /// Adds an entry; when the shard is full, expired entries go first, else an arbitrary one.
    pub fn insert(&self, key: [u8; 32], p: Arc<Principal>, now_s: i64) {
        if self.per_shard == 0 {
            return;
        }
        let mut map = self
            .shard(&key)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= self.per_shard {
            map.retain(|_, v| now_s < v.exp);
            if map.len() >= self.per_shard {
                if let Some(k) = map.keys().next().copied() {
                    map.remove(&k);
                }
            }
        }
        map.insert(key, p);
    }
}

/// Everything a request is checked against, from one bundle.
pub struct Enforcement {
    pub version: u64,
    pub console_id: String,
    pub issuer: String,
    pub audiences: Vec<String>,
    pub require_typ_at_jwt: bool,
    pub routes: Vec<Route>,
    pub keys: HashMap<String, KeyEntry>,
    pub clients: HashMap<String, BundleClient>,
    /// In evaluation order.
    pub policies: Vec<Policy>,
    /// Whether a policy matches on or counts by a request header (else the rate-limit step
    /// does not collect them).
    pub policies_read_headers: bool,
    pub limiters: HashMap<String, Arc<PolicyLimiter>>,
    pub cache: TokenCache,
    /// Whether the token endpoint issues tokens (set by the applier once secrets are opened).
    pub tokens: crate::token::signer::TokenIssuing,
    /// `{"keys": [...]}` of every published key, as the gate's JWKS endpoint serves it.
    pub jwks_json: bytes::Bytes,
    /// The certificates the TLS listener serves (set by the applier from the opened secrets).
    pub certificates: Vec<crate::tls::ServedCert>,
}

/// Sizes of what a state holds.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub limiter_max_keys: usize,
    pub token_cache_entries: usize,
}

impl Enforcement {
    /// Builds the state of `bundle` (already validated with
    /// [`policy::bundle::validate_bundle`]). Fails if a published key's JWK is not a valid
    /// verification key whose `kid` is its RFC 7638 thumbprint. Limiters of `previous` are
    /// reused where the policy's id, limit and key are unchanged.
    pub fn build(
        bundle: Bundle,
        previous: Option<&Enforcement>,
        limits: Limits,
        metrics: &Metrics,
    ) -> Result<Self, String> {
        let mut keys = HashMap::new();
        for set in &bundle.key_sets {
            for k in &set.keys {
                jose::check_jwk(&k.jwk)
                    .map_err(|e| format!("key set {:?}, key {:?}: {e}", set.name, k.kid))?;
                // Only keys that have signed verify tokens; a next key is published, not used.
                if KeyState::parse(&k.state).is_some_and(KeyState::verifies) {
                    let key = jose::verification_key(&k.jwk)
                        .map_err(|e| format!("key {:?}: {e}", k.kid))?;
                    keys.insert(
                        k.kid.clone(),
                        KeyEntry {
                            key,
                            leeway_s: u64::from(set.leeway_s),
                        },
                    );
                }
            }
        }
        let published: Vec<&policy::jwk::Jwk> = bundle
            .key_sets
            .iter()
            .flat_map(|s| s.keys.iter().map(|k| &k.jwk))
            .collect();
        let jwks_json = serde_json::to_vec(&serde_json::json!({ "keys": published }))
            .map_err(|e| format!("the JWKS: {e}"))?
            .into();
        let policies: Vec<Policy> = in_order(&bundle.policies).into_iter().cloned().collect();
        let mut limiters = HashMap::new();
        for p in &policies {
            let reused = previous
                .and_then(|prev| prev.limiters.get(&p.id))
                .filter(|l| l.reusable_for(p))
                .cloned();
            let l = reused.unwrap_or_else(|| {
                Arc::new(PolicyLimiter::new(
                    p,
                    limits.limiter_max_keys,
                    metrics.policy(&p.id),
                ))
            });
            limiters.insert(p.id.clone(), l);
        }
        Ok(Enforcement {
            version: bundle.version,
            console_id: bundle.console_id,
            issuer: bundle.issuer,
            audiences: bundle.audiences,
            require_typ_at_jwt: bundle.require_typ_at_jwt,
            routes: bundle.routes,
            keys,
            clients: bundle
                .clients
                .into_iter()
                .map(|c| (c.client_id.clone(), c))
                .collect(),
            policies_read_headers: policies
                .iter()
                .any(|p| p.matcher.header.is_some() || matches!(p.key, KeyBy::Header(_))),
            policies,
            limiters,
            cache: TokenCache::new(limits.token_cache_entries),
            tokens: crate::token::signer::TokenIssuing::Off,
            jwks_json,
            certificates: Vec::new(),
        })
    }

    /// The first route matching `method` and the normalised `path`.
    pub fn route(&self, method: &str, path: &str) -> Option<&RouteAuth> {
        self.routes
            .iter()
            .find(|r| {
                r.path.matches(path)
                    && (r.methods.is_empty() || r.methods.iter().any(|m| m == method))
            })
            .map(|r| &r.auth)
    }
}
