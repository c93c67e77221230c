//! [`CertStore`]: every kind of change round-trips through its reads, a batch applies whole or
//! not at all, pin sets are guarded by their version, a corrupt stored SAN list is an error
//! (never an empty list), and listings sort in byte order.

use domain::certs::{CertKind, CertStatus};
use domain::pinsets::AppPlatform;
use domain::ports::certs::{
    CertChange, CertRecord, CertStore, CsrRecord, HostnameRecord, TlsKeyRecord,
};
use domain::ports::pinsets::{AppRecord, PinsetChange, PinsetRecord, PinsetStore, ReleaseRecord};
use domain::ports::StoreError;

use crate::support::{draft, TestBackend};

pub fn tls_key(id: &str) -> TlsKeyRecord {
    TlsKeyRecord {
        id: id.into(),
        key_type: "ecdsa-p256".into(),
        spki_der: [b"spki-".as_slice(), id.as_bytes()].concat(),
        pin: format!("pin-{id}"),
        sealed_private: Some([b"sealed-".as_slice(), id.as_bytes()].concat()),
        created_at_ms: 1,
    }
}

fn cert(id: &str, kind: &str, key_id: &str, issuer_id: Option<&str>, at: i64) -> CertRecord {
    CertRecord {
        id: id.into(),
        kind: CertKind::parse(kind).expect("a known kind"),
        hostname: (kind == "server").then(|| "api.example".to_owned()),
        subject: format!("CN={id}"),
        issuer: issuer_id.map_or_else(|| format!("CN={id}"), |i| format!("CN={i}")),
        sans: if kind == "server" {
            vec!["api.example".into(), "www.api.example".into()]
        } else {
            vec![]
        },
        serial_hex: format!("0a{at:02x}"),
        key_type: "ecdsa-p256".into(),
        not_before: "2026-01-01T00:00:00Z".into(),
        not_after: "2026-07-01T00:00:00Z".into(),
        spki_pin: format!("pin-{key_id}"),
        cert_sha256: format!("sha-{id}"),
        cert_pem: format!("-----BEGIN CERTIFICATE-----\n{id}\n-----END CERTIFICATE-----\n"),
        chain_pem: String::new(),
        key_id: Some(key_id.into()),
        issuer_id: issuer_id.map(str::to_owned),
        status: CertStatus::Active,
        created_at_ms: at,
    }
}

pub(crate) fn host(name: &str) -> HostnameRecord {
    HostnameRecord {
        hostname: name.into(),
        ca_id: None,
        current_cert_id: None,
        next_key_id: None,
        created_at_ms: 1,
    }
}

pub(crate) fn pinset(hostname: &str, version: i64) -> PinsetRecord {
    PinsetRecord {
        hostname: hostname.into(),
        include_subdomains: version % 2 == 0,
        expires_on: "2027-01-01".into(),
        version,
        pins_json: format!(r#"[{{"pin":"pin-v{version}"}}]"#),
        updated_at_ms: version,
    }
}

pub(crate) fn app(id: &str, name: &str) -> AppRecord {
    AppRecord {
        id: id.into(),
        name: name.into(),
        platform: AppPlatform::Android,
        bundle_id: format!("com.example.{id}"),
        created_at_ms: 1,
    }
}

store_test!(every_cert_change_round_trips);
/// A CA, a server certificate for a hostname with its next key, a CSR fulfilled by a renewal
/// that supersedes the first certificate, a pin set created and updated, an app and a release
/// marked unsupported: each batch reads back exactly as written, with one event each.
async fn every_cert_change_round_trips(db: &TestBackend) {
    let ca = cert("ca", "root_ca", "k-ca", None, 1);
    db.apply_cert_changes(
        &[
            CertChange::InsertKey(tls_key("k-ca")),
            CertChange::InsertCert(ca.clone()),
        ],
        draft("certs.create_ca"),
    )
    .await
    .expect("CA");
    assert_eq!(
        db.tls_key("k-ca").await.expect("key"),
        Some(tls_key("k-ca"))
    );
    assert_eq!(
        db.tls_key_by_pin("pin-k-ca").await.expect("by pin"),
        Some(tls_key("k-ca"))
    );
    assert_eq!(db.certificate("ca").await.expect("cert"), Some(ca.clone()));

    let leaf = cert("leaf", "server", "k1", Some("ca"), 2);
    let hostname = HostnameRecord {
        ca_id: Some("ca".into()),
        current_cert_id: Some("leaf".into()),
        next_key_id: Some("k2".into()),
        ..host("api.example")
    };
    db.apply_cert_changes(
        &[
            CertChange::InsertKey(tls_key("k1")),
            CertChange::InsertKey(TlsKeyRecord {
                sealed_private: None,
                ..tls_key("k2")
            }),
            CertChange::InsertCert(leaf.clone()),
            CertChange::UpsertHostname(hostname.clone()),
        ],
        draft("certs.issue"),
    )
    .await
    .expect("issue");
    assert_eq!(
        db.tls_key("k2")
            .await
            .expect("key")
            .map(|k| k.sealed_private),
        Some(None),
        "a key held elsewhere has no sealed half"
    );
    assert_eq!(
        db.certificates().await.expect("certs"),
        vec![leaf.clone(), ca.clone()],
        "newest first"
    );
    assert_eq!(
        db.hostname("api.example").await.expect("hostname"),
        Some(hostname.clone())
    );

    let csr = CsrRecord {
        id: "csr1".into(),
        hostname: "api.example".into(),
        key_id: "k2".into(),
        csr_pem: "-----BEGIN CERTIFICATE REQUEST-----".into(),
        created_at_ms: 3,
        fulfilled_by: None,
    };
    db.apply_cert_changes(
        &[CertChange::InsertCsr(csr.clone())],
        draft("certs.create_csr"),
    )
    .await
    .expect("CSR");
    assert_eq!(db.csr("csr1").await.expect("csr"), Some(csr.clone()));
    assert_eq!(db.csrs().await.expect("csrs"), vec![csr.clone()]);

    let renewed = cert("leaf2", "server", "k2", Some("ca"), 4);
    let rotated = HostnameRecord {
        current_cert_id: Some("leaf2".into()),
        next_key_id: None,
        ..hostname.clone()
    };
    db.apply_cert_changes(
        &[
            CertChange::InsertCert(renewed.clone()),
            CertChange::SupersedeCert { id: "leaf".into() },
            CertChange::FulfilCsr {
                id: "csr1".into(),
                cert_id: "leaf2".into(),
            },
            CertChange::UpsertHostname(rotated.clone()),
        ],
        draft("certs.import"),
    )
    .await
    .expect("renewal");
    let superseded = CertRecord {
        status: CertStatus::Superseded,
        ..leaf.clone()
    };
    assert_eq!(
        db.certificates().await.expect("certs"),
        vec![renewed.clone(), superseded, ca.clone()]
    );
    assert_eq!(
        db.csr("csr1")
            .await
            .expect("csr")
            .and_then(|c| c.fulfilled_by),
        Some("leaf2".into())
    );
    assert_eq!(db.hostnames().await.expect("hostnames"), vec![rotated]);
    let again = db
        .apply_cert_changes(
            &[CertChange::FulfilCsr {
                id: "csr1".into(),
                cert_id: "ca".into(),
            }],
            draft("certs.import"),
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "a CSR is fulfilled once: {again:?}"
    );

    db.apply_cert_changes(
        &[CertChange::Pinset(PinsetChange::Put {
            record: pinset("api.example", 1),
            replaces: None,
        })],
        draft("pinsets.create"),
    )
    .await
    .expect("pin set");
    assert_eq!(
        db.pinset("api.example").await.expect("pinset"),
        Some(pinset("api.example", 1))
    );
    db.apply_cert_changes(
        &[CertChange::Pinset(PinsetChange::Put {
            record: pinset("api.example", 2),
            replaces: Some(1),
        })],
        draft("pinsets.update"),
    )
    .await
    .expect("pin set update");
    assert_eq!(
        db.pinsets().await.expect("pinsets"),
        vec![pinset("api.example", 2)]
    );

    let release = ReleaseRecord {
        id: "r1".into(),
        app_id: "a1".into(),
        version: "1.0.0".into(),
        released_on: "2026-02-01".into(),
        hostname: "api.example".into(),
        pinset_version: 2,
        pinset_json: pinset("api.example", 2).pins_json,
        export_format: "android_nsc".into(),
        supported: true,
        created_at_ms: 5,
    };
    db.apply_cert_changes(
        &[
            CertChange::Pinset(PinsetChange::InsertApp(app("a1", "Shop"))),
            CertChange::Pinset(PinsetChange::InsertRelease(release.clone())),
        ],
        draft("apps.create_release"),
    )
    .await
    .expect("app and release");
    assert_eq!(db.apps().await.expect("apps"), vec![app("a1", "Shop")]);
    assert_eq!(
        db.releases().await.expect("releases"),
        vec![release.clone()]
    );
    db.apply_cert_changes(
        &[CertChange::Pinset(PinsetChange::SetReleaseSupported {
            id: "r1".into(),
            supported: false,
        })],
        draft("apps.unsupport_release"),
    )
    .await
    .expect("unsupported");
    assert_eq!(
        db.releases().await.expect("releases"),
        vec![ReleaseRecord {
            supported: false,
            ..release
        }]
    );
    db.assert_audit(&[
        "certs.create_ca",
        "certs.issue",
        "certs.create_csr",
        "certs.import",
        "pinsets.create",
        "pinsets.update",
        "apps.create_release",
        "apps.unsupport_release",
    ])
    .await;
}

store_test!(a_cert_batch_applies_whole_or_not_at_all);
/// A batch whose last step refers to a certificate that does not exist is `InUse` naming the
/// hostnames table, and neither its key, its certificate nor its event is written.
async fn a_cert_batch_applies_whole_or_not_at_all(db: &TestBackend) {
    let r = db
        .apply_cert_changes(
            &[
                CertChange::InsertKey(tls_key("k1")),
                CertChange::InsertCert(cert("ca", "root_ca", "k1", None, 1)),
                CertChange::UpsertHostname(HostnameRecord {
                    current_cert_id: Some("nope".into()),
                    ..host("api.example")
                }),
            ],
            draft("certs.issue"),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::InUse {
                table: "hostnames",
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(db.tls_key("k1").await.expect("key"), None);
    assert!(db.certificates().await.expect("certs").is_empty());
    assert!(db.hostnames().await.expect("hostnames").is_empty());
    db.assert_audit(&[]).await;
}

store_test!(a_stale_pinset_version_loses_with_conflict);
/// Two admins editing one pin set: the edit from the old version is a `Conflict` and the pin
/// set stays as the winner wrote it.
async fn a_stale_pinset_version_loses_with_conflict(db: &TestBackend) {
    db.apply_cert_changes(
        &[
            CertChange::UpsertHostname(host("api.example")),
            CertChange::Pinset(PinsetChange::Put {
                record: pinset("api.example", 1),
                replaces: None,
            }),
        ],
        draft("pinsets.create"),
    )
    .await
    .expect("pin set");
    db.apply_cert_changes(
        &[CertChange::Pinset(PinsetChange::Put {
            record: pinset("api.example", 2),
            replaces: Some(1),
        })],
        draft("pinsets.update"),
    )
    .await
    .expect("first edit");
    let stale = db
        .apply_cert_changes(
            &[CertChange::Pinset(PinsetChange::Put {
                record: PinsetRecord {
                    pins_json: "[]".into(),
                    ..pinset("api.example", 2)
                },
                replaces: Some(1),
            })],
            draft("pinsets.update"),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let missing = db
        .apply_cert_changes(
            &[CertChange::Pinset(PinsetChange::Put {
                record: pinset("other.example", 2),
                replaces: Some(1),
            })],
            draft("pinsets.update"),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::Conflict(_))),
        "updating a pin set that does not exist: {missing:?}"
    );
    assert_eq!(
        db.pinsets().await.expect("pinsets"),
        vec![pinset("api.example", 2)]
    );
    db.assert_audit(&["pinsets.create", "pinsets.update"]).await;
}

store_test!(a_second_new_pinset_for_a_hostname_is_a_duplicate_in_pinsets);
/// Two admins creating the pin set of one hostname: the second is a typed `Duplicate` naming
/// the table, and the first pin set stays.
async fn a_second_new_pinset_for_a_hostname_is_a_duplicate_in_pinsets(db: &TestBackend) {
    db.apply_cert_changes(
        &[
            CertChange::UpsertHostname(host("api.example")),
            CertChange::Pinset(PinsetChange::Put {
                record: pinset("api.example", 1),
                replaces: None,
            }),
        ],
        draft("pinsets.create"),
    )
    .await
    .expect("pin set");
    let second = db
        .apply_cert_changes(
            &[CertChange::Pinset(PinsetChange::Put {
                record: PinsetRecord {
                    pins_json: "[]".into(),
                    ..pinset("api.example", 1)
                },
                replaces: None,
            })],
            draft("pinsets.create"),
        )
        .await;
    assert!(
        matches!(
            second,
            Err(StoreError::Duplicate {
                table: "pinsets",
                ..
            })
        ),
        "{second:?}"
    );
    assert_eq!(
        db.pinset("api.example").await.expect("pinset"),
        Some(pinset("api.example", 1))
    );
    db.assert_audit(&["pinsets.create"]).await;
}

store_test!(a_corrupt_san_list_is_an_error_not_an_empty_list);
/// A certificate whose stored SAN list is not JSON (a bad restore, a hand edit) makes both the
/// listing and the lookup fail, instead of showing the certificate without its names.
async fn a_corrupt_san_list_is_an_error_not_an_empty_list(db: &TestBackend) {
    let leaf = cert("leaf", "server", "k1", None, 1);
    db.apply_cert_changes(
        &[
            CertChange::InsertKey(tls_key("k1")),
            CertChange::InsertCert(leaf.clone()),
        ],
        draft("certs.import"),
    )
    .await
    .expect("cert");
    assert_eq!(db.certificate("leaf").await.expect("cert"), Some(leaf));
    let changed = db
        .execute_raw(r#"UPDATE certificates SET sans_json = '["api.example",' WHERE id = 'leaf'"#)
        .await
        .expect("corrupt the row");
    assert_eq!(changed, 1);
    let listed = db.certificates().await;
    assert!(listed.is_err(), "certificates(): {listed:?}");
    let one = db.certificate("leaf").await;
    assert!(one.is_err(), "certificate(id): {one:?}");
    db.assert_audit(&["certs.import"]).await;
}

store_test!(hostnames_pinsets_and_apps_are_listed_in_byte_order);
/// "B", "a", "Z" list as "B", "Z", "a" on both databases, whatever PostgreSQL's locale.
async fn hostnames_pinsets_and_apps_are_listed_in_byte_order(db: &TestBackend) {
    let mut changes = Vec::new();
    for (i, name) in ["B", "a", "Z"].into_iter().enumerate() {
        changes.push(CertChange::UpsertHostname(host(name)));
        changes.push(CertChange::Pinset(PinsetChange::Put {
            record: pinset(name, 1),
            replaces: None,
        }));
        changes.push(CertChange::Pinset(PinsetChange::InsertApp(app(
            &format!("a{i}"),
            name,
        ))));
    }
    db.apply_cert_changes(&changes, draft("pinsets.create"))
        .await
        .expect("insert");
    let hostnames: Vec<_> = db
        .hostnames()
        .await
        .expect("hostnames")
        .into_iter()
        .map(|h| h.hostname)
        .collect();
    let pinsets: Vec<_> = db
        .pinsets()
        .await
        .expect("pinsets")
        .into_iter()
        .map(|p| p.hostname)
        .collect();
    let apps: Vec<_> = db
        .apps()
        .await
        .expect("apps")
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(hostnames, ["B", "Z", "a"]);
    assert_eq!(pinsets, ["B", "Z", "a"]);
    assert_eq!(apps, ["B", "Z", "a"]);
    db.assert_audit(&["pinsets.create"]).await;
}
