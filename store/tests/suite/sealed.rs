//! [`SealedStore`]: every value sealed under the master key, across TLS and signing keys, is
//! listed, and a rewrap replaces all of them or none.

use domain::ports::certs::{CertChange, CertStore, TlsKeyRecord};
use domain::ports::keys::{KeyChange, KeyStore};
use domain::ports::sealed::{SealedStore, SealedValue};
use domain::ports::StoreError;

use crate::certs::tls_key;
use crate::keys::{key_set, signing_key};
use crate::support::{draft, TestBackend};

/// Two sealed TLS keys and one held elsewhere; an active and a removed signing key. Returns
/// the sealed values as the store must list them: per table, by id.
async fn seed(db: &TestBackend) -> Vec<SealedValue> {
    db.apply_cert_changes(
        &[
            CertChange::InsertKey(tls_key("t2")),
            CertChange::InsertKey(tls_key("t1")),
            CertChange::InsertKey(TlsKeyRecord {
                sealed_private: None,
                ..tls_key("t3")
            }),
        ],
        draft("certs.create_key"),
    )
    .await
    .expect("tls keys");
    let active = signing_key("s", "active");
    let removed = signing_key("s", "removed");
    db.apply_key_changes(
        &[
            KeyChange::InsertSet(key_set("s", "tokens")),
            KeyChange::InsertKey(active.clone()),
            KeyChange::InsertKey(removed),
        ],
        draft("keys.create_set"),
    )
    .await
    .expect("signing keys");
    let value = |table: &str, id: &str, sealed: Vec<u8>| SealedValue {
        table: table.into(),
        id: id.into(),
        sealed,
    };
    vec![
        value(
            "tls_keys",
            "t1",
            tls_key("t1").sealed_private.expect("sealed"),
        ),
        value(
            "tls_keys",
            "t2",
            tls_key("t2").sealed_private.expect("sealed"),
        ),
        value(
            "signing_keys",
            &active.id,
            active.sealed_private.clone().expect("sealed"),
        ),
    ]
}

store_test!(sealed_values_lists_every_sealed_tls_and_signing_key);
/// The rewrap sees every sealed private key, TLS and signing alike, and nothing that holds
/// no sealed value (a key held elsewhere, a removed signing key).
async fn sealed_values_lists_every_sealed_tls_and_signing_key(db: &TestBackend) {
    let expected = seed(db).await;
    assert_eq!(db.sealed_values().await.expect("sealed"), expected);
    db.assert_audit(&["certs.create_key", "keys.create_set"])
        .await;
}

store_test!(replace_sealed_replaces_all_or_nothing);
/// A rewrap whose `old` bytes are stale for one value aborts with `Conflict` and changes no
/// value at all; a current one replaces every value with one event.
async fn replace_sealed_replaces_all_or_nothing(db: &TestBackend) {
    let before = seed(db).await;
    let rewrapped = |v: &SealedValue| [b"rewrapped-".as_slice(), &v.sealed].concat();

    // The signing key's `old` is not what is stored (someone rotated it meanwhile).
    let mut pairs: Vec<_> = before.iter().map(|v| (v.clone(), rewrapped(v))).collect();
    pairs[2].0.sealed = b"outdated".to_vec();
    let r = db.replace_sealed(&pairs, draft("keys.rewrap")).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(
        db.sealed_values().await.expect("sealed"),
        before,
        "not one value replaced"
    );

    let unknown = [(
        SealedValue {
            table: "admins".into(),
            ..before[0].clone()
        },
        b"x".to_vec(),
    )];
    let r = db.replace_sealed(&unknown, draft("keys.rewrap")).await;
    assert!(r.is_err(), "a table that holds no sealed values: {r:?}");
    assert_eq!(db.sealed_values().await.expect("sealed"), before);

    let pairs: Vec<_> = before.iter().map(|v| (v.clone(), rewrapped(v))).collect();
    db.replace_sealed(&pairs, draft("keys.rewrap"))
        .await
        .expect("rewrap");
    let after: Vec<_> = before
        .iter()
        .map(|v| SealedValue {
            sealed: rewrapped(v),
            ..v.clone()
        })
        .collect();
    assert_eq!(db.sealed_values().await.expect("sealed"), after);
    assert_eq!(
        db.tls_key("t1")
            .await
            .expect("key")
            .and_then(|k| k.sealed_private),
        Some(after[0].sealed.clone()),
        "the key reads back rewrapped"
    );
    db.assert_audit(&["certs.create_key", "keys.create_set", "keys.rewrap"])
        .await;
}
