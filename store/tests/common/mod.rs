//! Helpers shared by the store's integration tests (`keys.rs`, `postgres.rs`): key-set settings,
//! the "No half state" invariants of QUALITY.md checked on stored rows, and a simulated stretch
//! of automatic rotation. Each test file compiles its own copy, using what it needs.
#![allow(dead_code)]

use std::sync::Arc;

use domain::keys::lifecycle::SetTiming;
use domain::keys::service::{jwks_of, KeysService, SetSettings};
use domain::ports::keys::{KeyStore, SigningKeyRecord};
use domain::seal::MasterKey;

pub const HOUR: i64 = 3_600_000;

pub fn timing() -> SetTiming {
    SetTiming {
        rotation_period_s: 30 * 86_400,
        cache_window_s: 6 * 3600,
        max_token_lifetime_s: 3600,
        leeway_s: 60,
    }
}

pub fn settings(alg: &str) -> SetSettings {
    SetSettings {
        name: "access-tokens".into(),
        alg: alg.into(),
        timing: timing(),
        auto_rotate: true,
    }
}

/// QUALITY.md "No half state": checked on the stored rows, not on what the service says.
pub async fn assert_invariants<S: KeyStore>(
    store: &Arc<S>,
    set_id: &str,
    key: &MasterKey,
) -> Vec<SigningKeyRecord> {
    let keys = store.signing_keys(set_id).await.expect("keys");
    let count = |s: &str| keys.iter().filter(|k| k.state == s).count();
    assert_eq!(count("active"), 1, "exactly one active key: {keys:#?}");
    assert!(count("next") <= 1, "at most one next key");
    for k in &keys {
        let published = matches!(k.state.as_str(), "next" | "active" | "retired");
        assert_eq!(k.sealed_private.is_some(), published, "{k:?}");
        if let Some(sealed) = &k.sealed_private {
            let pkcs8 = key.open(&k.id, sealed).expect("every published key opens");
            domain::certs::load_pkcs8(&pkcs8).expect("and is a usable private key");
        }
    }
    let jwks = jwks_of(&keys).expect("jwks");
    assert_eq!(
        jwks.keys.len(),
        keys.iter()
            .filter(|k| matches!(k.state.as_str(), "next" | "active" | "retired"))
            .count()
    );
    for j in &jwks.keys {
        let kid = j.kid.as_deref().expect("kid");
        let k = keys
            .iter()
            .find(|k| k.kid == kid)
            .expect("every JWKS kid resolves to a stored key");
        assert_eq!(
            domain::keys::thumbprint(j).expect("thumbprint"),
            k.kid,
            "kid = RFC 7638 thumbprint"
        );
    }
    keys
}

/// The states of a set's keys in creation order, e.g. `["removed", "retired", "active"]`.
pub fn shape(keys: &[SigningKeyRecord]) -> Vec<String> {
    keys.iter().map(|k| k.state.clone()).collect()
}

/// What a simulated stretch of rotation did.
#[derive(Debug)]
pub struct Rotation {
    pub promotions: usize,
    pub removals: usize,
}

/// Runs the rotation job every 2 hours for `days` after `t0`, checking the invariants after
/// every tick, and that a next key signs only after the cache window and a retired key stays
/// published until its tokens expired + leeway. Every step must apply.
pub async fn rotate_every_two_hours<S: KeyStore>(
    store: &Arc<S>,
    svc: &KeysService,
    set_id: &str,
    master: &MasterKey,
    t0: i64,
    days: i64,
) -> Rotation {
    let t = timing();
    let mut promotions = 0;
    let mut removals = 0;
    let mut last: Vec<SigningKeyRecord> = assert_invariants(store, set_id, master).await;
    for tick in 1..=(days * 12) {
        let now = t0 + tick * 2 * HOUR;
        for r in svc.run_due(now).await {
            r.expect("every due step applies");
        }
        let keys = assert_invariants(store, set_id, master).await;
        for k in &keys {
            let before = last.iter().find(|o| o.id == k.id);
            if k.state == "active" && before.is_some_and(|b| b.state == "next") {
                promotions += 1;
                assert!(
                    k.activated_at_ms.expect("activated") - k.created_at_ms
                        >= t.cache_window_s * 1000,
                    "a next key signs only after the cache window"
                );
            }
            if k.state == "removed" && before.is_some_and(|b| b.state == "retired") {
                removals += 1;
                let retired = k.retired_at_ms.expect("retired at");
                assert!(
                    k.removed_at_ms.expect("removed at") - retired
                        >= (t.max_token_lifetime_s + t.leeway_s) * 1000,
                    "a retired key stays published until its tokens expired + leeway"
                );
            }
        }
        last = keys;
    }
    Rotation {
        promotions,
        removals,
    }
}
