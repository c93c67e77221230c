//! [`ClientStore`]: clients inserted, updated and deleted under version guards, duplicate names
//! and missing or bound policies as typed errors, secrets added, expired and revoked, and the
//! listing in byte order.

use domain::clients::{AuthMethod, ClientKind, Platform};
use domain::ports::clients::{ClientChange, ClientRecord, ClientStore, SecretRecord};
use domain::ports::policies::{PolicyChange, PolicyStore};
use domain::ports::StoreError;

use crate::policies::policy;
use crate::support::{draft, TestBackend};

pub fn client(id: &str, name: &str, policy_id: Option<&str>) -> ClientRecord {
    ClientRecord {
        id: id.into(),
        client_id: format!("cid-{id}"),
        name: name.into(),
        description: "a service".into(),
        kind: ClientKind::Service,
        platform: Platform::Server,
        redirect_uris: vec![],
        grant_types: vec!["client_credentials".into()],
        scopes: vec!["read".into(), "write".into()],
        access_token_lifetime_s: 3600,
        auth_method: AuthMethod::ClientSecretBasic,
        jwks_json: None,
        policy_id: policy_id.map(str::to_owned),
        enabled: true,
        version: 1,
        created_at_ms: 1,
        updated_at_ms: 1,
    }
}

fn secret(id: &str, client_row_id: &str, created_at_ms: i64) -> SecretRecord {
    SecretRecord {
        id: id.into(),
        client_row_id: client_row_id.into(),
        phc_hash: format!("$argon2id$v=19$m=19456,t=2,p=1${id}"),
        hint: format!("{id}…"),
        created_at_ms,
        expires_at_ms: None,
        last_used_at_ms: None,
        revoked_at_ms: None,
    }
}

fn is_conflict(r: &Result<(), StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

store_test!(clients_are_inserted_updated_and_deleted_under_version_guards);
/// Every field round-trips; an update or delete from a stale version is a `Conflict` that
/// changes nothing; deleting a client deletes its secrets.
async fn clients_are_inserted_updated_and_deleted_under_version_guards(db: &TestBackend) {
    let v1 = ClientRecord {
        redirect_uris: vec!["https://app.example/cb".into()],
        ..client("c1", "billing", None)
    };
    db.apply_client_changes(&[ClientChange::Insert(v1.clone())], draft("client.create"))
        .await
        .expect("insert");
    assert_eq!(db.clients().await.expect("clients"), vec![v1.clone()]);
    assert_eq!(db.client("c1").await.expect("by id"), Some(v1.clone()));

    let v2 = ClientRecord {
        name: "billing-v2".into(),
        description: "renamed".into(),
        scopes: vec!["read".into()],
        access_token_lifetime_s: 600,
        enabled: false,
        version: 2,
        updated_at_ms: 2,
        ..v1.clone()
    };
    db.apply_client_changes(
        &[ClientChange::Update {
            record: v2.clone(),
            replaces: 1,
        }],
        draft("client.update"),
    )
    .await
    .expect("update from the current version");
    assert_eq!(db.clients().await.expect("clients"), vec![v2.clone()]);

    let stale_update = ClientChange::Update {
        record: ClientRecord {
            name: "stale".into(),
            ..v2.clone()
        },
        replaces: 1,
    };
    let r = db
        .apply_client_changes(&[stale_update], draft("client.update"))
        .await;
    assert!(is_conflict(&r), "{r:?}");
    let r = db
        .apply_client_changes(
            &[ClientChange::Delete {
                id: "c1".into(),
                replaces: 1,
            }],
            draft("client.delete"),
        )
        .await;
    assert!(is_conflict(&r), "{r:?}");
    assert_eq!(db.clients().await.expect("clients"), vec![v2.clone()]);
    assert_eq!(db.client("c1").await.expect("by id"), Some(v2.clone()));

    db.apply_client_changes(
        &[ClientChange::AddSecret(secret("s1", "c1", 5))],
        draft("client.add_secret"),
    )
    .await
    .expect("secret");
    db.apply_client_changes(
        &[ClientChange::Delete {
            id: "c1".into(),
            replaces: 2,
        }],
        draft("client.delete"),
    )
    .await
    .expect("delete from the current version");
    assert!(db.clients().await.expect("clients").is_empty());
    assert_eq!(db.client("c1").await.expect("by id"), None);
    assert!(
        db.client_secrets().await.expect("secrets").is_empty(),
        "a deleted client's secrets go with it"
    );
    let r = db
        .apply_client_changes(
            &[ClientChange::Update {
                record: v2,
                replaces: 2,
            }],
            draft("client.update"),
        )
        .await;
    assert!(is_conflict(&r), "updating a deleted client: {r:?}");
    db.assert_audit(&[
        "client.create",
        "client.update",
        "client.add_secret",
        "client.delete",
    ])
    .await;
}

store_test!(a_duplicate_client_name_is_a_duplicate_in_clients);
/// A second client with a taken name is a typed `Duplicate` naming the table, and nothing of
/// its batch is written.
async fn a_duplicate_client_name_is_a_duplicate_in_clients(db: &TestBackend) {
    db.apply_client_changes(
        &[ClientChange::Insert(client("c1", "billing", None))],
        draft("client.create"),
    )
    .await
    .expect("insert");
    let r = db
        .apply_client_changes(
            &[
                ClientChange::Insert(client("c2", "other", None)),
                ClientChange::Insert(client("c3", "billing", None)),
            ],
            draft("client.create"),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::Duplicate {
                table: "clients",
                ..
            })
        ),
        "{r:?}"
    );
    let renamed = ClientRecord {
        name: "billing".into(),
        version: 2,
        ..client("c2", "other", None)
    };
    db.apply_client_changes(
        &[ClientChange::Insert(client("c2", "other", None))],
        draft("client.create"),
    )
    .await
    .expect("insert");
    let r = db
        .apply_client_changes(
            &[ClientChange::Update {
                record: renamed,
                replaces: 1,
            }],
            draft("client.update"),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::Duplicate {
                table: "clients",
                ..
            })
        ),
        "renaming onto a taken name: {r:?}"
    );
    assert_eq!(
        db.clients().await.expect("clients"),
        vec![client("c1", "billing", None), client("c2", "other", None)]
    );
    db.assert_audit(&["client.create", "client.create"]).await;
}

store_test!(binding_a_missing_policy_is_in_use_in_clients);
/// A client bound to a policy id that does not exist (on insert or update) is refused as
/// `InUse` naming the clients table, and is not written.
async fn binding_a_missing_policy_is_in_use_in_clients(db: &TestBackend) {
    let r = db
        .apply_client_changes(
            &[ClientChange::Insert(client("c1", "billing", Some("nope")))],
            draft("client.create"),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::InUse {
                table: "clients",
                ..
            })
        ),
        "{r:?}"
    );
    assert!(db.clients().await.expect("clients").is_empty());
    db.apply_client_changes(
        &[ClientChange::Insert(client("c1", "billing", None))],
        draft("client.create"),
    )
    .await
    .expect("insert");
    let r = db
        .apply_client_changes(
            &[ClientChange::Update {
                record: ClientRecord {
                    version: 2,
                    ..client("c1", "billing", Some("nope"))
                },
                replaces: 1,
            }],
            draft("client.update"),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::InUse {
                table: "clients",
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(
        db.clients().await.expect("clients"),
        vec![client("c1", "billing", None)]
    );
    db.assert_audit(&["client.create"]).await;
}

store_test!(a_policy_bound_to_a_client_cannot_be_deleted);
/// Deleting a policy that a client still uses is `InUse` naming the policies table and the
/// policy stays; once the client lets go, it can be deleted.
async fn a_policy_bound_to_a_client_cannot_be_deleted(db: &TestBackend) {
    db.apply_policy_changes(
        &[PolicyChange::Insert(policy("p1", "limits", 1))],
        draft("policy.create"),
    )
    .await
    .expect("policy");
    let bound = client("c1", "billing", Some("p1"));
    db.apply_client_changes(
        &[ClientChange::Insert(bound.clone())],
        draft("client.create"),
    )
    .await
    .expect("client bound to the policy");
    let delete = [PolicyChange::Delete {
        id: "p1".into(),
        replaces: 1,
    }];
    let r = db
        .apply_policy_changes(&delete, draft("policy.delete"))
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::InUse {
                table: "policies",
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(
        db.policies().await.expect("policies"),
        vec![policy("p1", "limits", 1)]
    );
    assert_eq!(db.clients().await.expect("clients"), vec![bound]);

    let unbound = ClientRecord {
        version: 2,
        ..client("c1", "billing", None)
    };
    db.apply_client_changes(
        &[ClientChange::Update {
            record: unbound.clone(),
            replaces: 1,
        }],
        draft("client.update"),
    )
    .await
    .expect("unbind");
    db.apply_policy_changes(&delete, draft("policy.delete"))
        .await
        .expect("an unused policy can be deleted");
    assert!(db.policies().await.expect("policies").is_empty());
    assert_eq!(db.clients().await.expect("clients"), vec![unbound]);
    db.assert_audit(&[
        "policy.create",
        "client.create",
        "client.update",
        "policy.delete",
    ])
    .await;
}

store_test!(client_secrets_are_added_expired_and_revoked);
/// Secrets list newest first; an expiry only ever moves earlier; a revoked secret can be
/// neither expired nor revoked again; a secret of an unknown client is `InUse`. Every refusal
/// changes nothing.
async fn client_secrets_are_added_expired_and_revoked(db: &TestBackend) {
    db.apply_client_changes(
        &[
            ClientChange::Insert(client("c1", "billing", None)),
            ClientChange::Insert(client("c2", "other", None)),
        ],
        draft("client.create"),
    )
    .await
    .expect("clients");
    let (s1, s2) = (secret("s1", "c1", 10), secret("s2", "c1", 20));
    let theirs = secret("t1", "c2", 15);
    db.apply_client_changes(
        &[
            ClientChange::AddSecret(s1.clone()),
            ClientChange::AddSecret(s2.clone()),
            ClientChange::AddSecret(theirs.clone()),
        ],
        draft("client.add_secret"),
    )
    .await
    .expect("secrets");
    assert_eq!(
        db.client_secrets().await.expect("secrets"),
        vec![s2.clone(), theirs.clone(), s1.clone()],
        "newest first"
    );
    assert_eq!(
        db.secrets_of("c1").await.expect("secrets of c1"),
        vec![s2.clone(), s1.clone()],
        "one client's secrets, newest first"
    );

    let expire = |id: &str, at: i64| {
        [ClientChange::ExpireSecret {
            id: id.into(),
            expires_at_ms: at,
        }]
    };
    let revoke = |id: &str, at: i64| {
        [ClientChange::RevokeSecret {
            id: id.into(),
            revoked_at_ms: at,
        }]
    };
    db.apply_client_changes(&expire("s1", 1_000), draft("client.expire_secret"))
        .await
        .expect("expire");
    let r = db
        .apply_client_changes(&expire("s1", 2_000), draft("client.expire_secret"))
        .await;
    assert!(is_conflict(&r), "an expiry never moves later: {r:?}");
    db.apply_client_changes(&expire("s1", 500), draft("client.expire_secret"))
        .await
        .expect("an earlier expiry");
    db.apply_client_changes(&revoke("s2", 30), draft("client.revoke_secret"))
        .await
        .expect("revoke");
    let r = db
        .apply_client_changes(&revoke("s2", 40), draft("client.revoke_secret"))
        .await;
    assert!(is_conflict(&r), "revoked twice: {r:?}");
    let r = db
        .apply_client_changes(&expire("s2", 50), draft("client.expire_secret"))
        .await;
    assert!(is_conflict(&r), "expiring a revoked secret: {r:?}");
    let r = db
        .apply_client_changes(&revoke("nope", 50), draft("client.revoke_secret"))
        .await;
    assert!(is_conflict(&r), "an unknown secret: {r:?}");
    let r = db
        .apply_client_changes(
            &[ClientChange::AddSecret(secret("s3", "nope", 60))],
            draft("client.add_secret"),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::InUse {
                table: "client_secrets",
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(
        db.secrets_of("c1").await.expect("secrets of c1"),
        vec![
            SecretRecord {
                revoked_at_ms: Some(30),
                ..s2
            },
            SecretRecord {
                expires_at_ms: Some(500),
                ..s1
            },
        ]
    );
    assert_eq!(
        db.secrets_of("c2").await.expect("secrets of c2"),
        vec![theirs],
        "another client's secret is untouched"
    );
    db.assert_audit(&[
        "client.create",
        "client.add_secret",
        "client.expire_secret",
        "client.expire_secret",
        "client.revoke_secret",
    ])
    .await;
}

store_test!(clients_are_listed_by_name_in_byte_order);
/// "B", "a", "Z" list as "B", "Z", "a" on both databases, whatever PostgreSQL's locale.
async fn clients_are_listed_by_name_in_byte_order(db: &TestBackend) {
    db.apply_client_changes(
        &[
            ClientChange::Insert(client("c1", "B", None)),
            ClientChange::Insert(client("c2", "a", None)),
            ClientChange::Insert(client("c3", "Z", None)),
        ],
        draft("client.create"),
    )
    .await
    .expect("insert");
    let names: Vec<_> = db
        .clients()
        .await
        .expect("clients")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["B", "Z", "a"]);
    db.assert_audit(&["client.create"]).await;
}

store_test!(a_client_with_an_unknown_platform_is_an_error_not_a_default);
/// A stored name outside a closed vocabulary (here a platform, the one such column without a
/// CHECK constraint: a bad restore, a hand edit) makes the listing and the lookup fail instead
/// of reading the client as some default platform.
async fn a_client_with_an_unknown_platform_is_an_error_not_a_default(db: &TestBackend) {
    let c = client("c1", "Billing", None);
    db.apply_client_changes(&[ClientChange::Insert(c.clone())], draft("client.create"))
        .await
        .expect("insert");
    assert_eq!(db.client("c1").await.expect("client"), Some(c));
    let changed = db
        .execute_raw("UPDATE clients SET platform = 'windows-phone' WHERE id = 'c1'")
        .await
        .expect("corrupt the row");
    assert_eq!(changed, 1);
    let listed = db.clients().await;
    assert!(listed.is_err(), "clients(): {listed:?}");
    let one = db.client("c1").await;
    let e = one.expect_err("client(id)").to_string();
    assert!(e.contains("windows-phone"), "{e}");
    db.assert_audit(&["client.create"]).await;
}

store_test!(gate_usage_moves_last_used_forward_and_adds_up_token_counts);
/// What gates report: a secret's last use becomes the later of the stored and the reported
/// time (an older report never moves it back); token counts add up per client, with the time of
/// the report that counted them; secrets and clients that do not exist are ignored; a deleted
/// client's usage goes with it. No audit event is written for usage.
async fn gate_usage_moves_last_used_forward_and_adds_up_token_counts(db: &TestBackend) {
    use domain::ports::clients::{ClientUsageRecord, UsageReport};
    db.apply_client_changes(
        &[
            ClientChange::Insert(client("c1", "billing", None)),
            ClientChange::AddSecret(secret("s1", "c1", 10)),
            ClientChange::AddSecret(secret("s2", "c1", 20)),
            ClientChange::Insert(client("c2", "orders", None)),
        ],
        draft("client.create"),
    )
    .await
    .expect("clients");
    let last_used = |id: &'static str| async move {
        db.secrets_of("c1")
            .await
            .expect("secrets")
            .into_iter()
            .find(|s| s.id == id)
            .expect("secret")
            .last_used_at_ms
    };
    assert_eq!(db.client_usage().await.expect("usage"), vec![]);

    db.record_client_usage(&UsageReport {
        now_ms: 1_000,
        secrets: vec![("s1".into(), 900), ("no-such-secret".into(), 950)],
        tokens: vec![("cid-c1".into(), 3), ("cid-unknown".into(), 7)],
    })
    .await
    .expect("first report");
    assert_eq!(last_used("s1").await, Some(900));
    assert_eq!(last_used("s2").await, None);
    assert_eq!(
        db.client_usage().await.expect("usage"),
        vec![ClientUsageRecord {
            client_row_id: "c1".into(),
            tokens_issued: 3,
            last_token_at_ms: Some(1_000),
        }]
    );

    // A second gate's report, older for s1 and newer for s2; more tokens for both clients.
    db.record_client_usage(&UsageReport {
        now_ms: 2_000,
        secrets: vec![("s1".into(), 800), ("s2".into(), 1_900)],
        tokens: vec![("cid-c1".into(), 2), ("cid-c2".into(), 1)],
    })
    .await
    .expect("second report");
    assert_eq!(
        last_used("s1").await,
        Some(900),
        "an older use never moves it back"
    );
    assert_eq!(last_used("s2").await, Some(1_900));
    assert_eq!(
        db.client_usage().await.expect("usage"),
        vec![
            ClientUsageRecord {
                client_row_id: "c1".into(),
                tokens_issued: 5,
                last_token_at_ms: Some(2_000),
            },
            ClientUsageRecord {
                client_row_id: "c2".into(),
                tokens_issued: 1,
                last_token_at_ms: Some(2_000),
            },
        ]
    );

    // A deleted client takes its usage along.
    db.apply_client_changes(
        &[ClientChange::Delete {
            id: "c2".into(),
            replaces: 1,
        }],
        draft("client.delete"),
    )
    .await
    .expect("delete");
    assert_eq!(
        db.client_usage()
            .await
            .expect("usage")
            .iter()
            .map(|u| u.client_row_id.as_str())
            .collect::<Vec<_>>(),
        vec!["c1"]
    );
    db.assert_audit(&["client.create", "client.delete"]).await;
}
