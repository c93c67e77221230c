//! [`PolicyStore`]: version guards (a stale edit, or the loser of two concurrent edits, gets
//! `Conflict`), unique names as `Duplicate`, and the evaluation order of the listing.

use domain::ports::policies::{PolicyChange, PolicyRecord, PolicyStore};
use domain::ports::StoreError;

use crate::support::{draft, TestBackend};

pub fn policy(id: &str, name: &str, version: i64) -> PolicyRecord {
    PolicyRecord {
        id: id.into(),
        name: name.into(),
        position: 1,
        enabled: true,
        mode: "shadow".into(),
        spec_json: "{}".into(),
        version,
        created_at_ms: 1,
        updated_at_ms: version,
    }
}

store_test!(a_stale_policy_version_loses_with_conflict);
/// An update or delete from an old version is refused and changes nothing; of two writers
/// editing the current version at the same moment exactly one wins, the other gets `Conflict`.
async fn a_stale_policy_version_loses_with_conflict(db: &TestBackend) {
    db.apply_policy_changes(
        &[PolicyChange::Insert(policy("p1", "v1", 1))],
        draft("policy.create"),
    )
    .await
    .expect("insert");
    db.apply_policy_changes(
        &[PolicyChange::Update {
            record: policy("p1", "v2", 2),
            replaces: 1,
        }],
        draft("policy.update"),
    )
    .await
    .expect("update from the current version");
    for stale in [
        PolicyChange::Update {
            record: policy("p1", "stale", 2),
            replaces: 1,
        },
        PolicyChange::Delete {
            id: "p1".into(),
            replaces: 1,
        },
    ] {
        let r = db
            .apply_policy_changes(&[stale], draft("policy.stale"))
            .await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    }
    assert_eq!(
        db.policies().await.expect("policies"),
        vec![policy("p1", "v2", 2)]
    );
    assert_eq!(
        db.policy("p1").await.expect("by id"),
        Some(policy("p1", "v2", 2))
    );

    let other = db.second_writer().await;
    let edit = |name: &str| {
        [PolicyChange::Update {
            record: policy("p1", name, 3),
            replaces: 2,
        }]
    };
    let (edit1, edit2) = (edit("by-writer-1"), edit("by-writer-2"));
    let (r1, r2) = tokio::join!(
        db.apply_policy_changes(&edit1, draft("policy.update")),
        other.apply_policy_changes(&edit2, draft("policy.update"))
    );
    assert_eq!(
        [&r1, &r2].iter().filter(|r| r.is_ok()).count(),
        1,
        "{r1:?} {r2:?}"
    );
    assert!(
        [&r1, &r2]
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::Conflict(_)))),
        "{r1:?} {r2:?}"
    );
    let winner = if r1.is_ok() {
        "by-writer-1"
    } else {
        "by-writer-2"
    };
    assert_eq!(
        db.policies().await.expect("policies"),
        vec![policy("p1", winner, 3)]
    );

    db.apply_policy_changes(
        &[PolicyChange::Delete {
            id: "p1".into(),
            replaces: 3,
        }],
        draft("policy.delete"),
    )
    .await
    .expect("delete from the current version");
    assert!(db.policies().await.expect("policies").is_empty());
    assert_eq!(db.policy("p1").await.expect("by id"), None);
    db.assert_audit(&[
        "policy.create",
        "policy.update",
        "policy.update",
        "policy.delete",
    ])
    .await;
}

store_test!(a_duplicate_policy_name_is_a_duplicate_in_policies);
/// A second policy with a taken name is a typed `Duplicate` naming the table, and a batch that
/// contains it applies nothing.
async fn a_duplicate_policy_name_is_a_duplicate_in_policies(db: &TestBackend) {
    db.apply_policy_changes(
        &[PolicyChange::Insert(policy("p1", "limits", 1))],
        draft("policy.create"),
    )
    .await
    .expect("insert");
    let r = db
        .apply_policy_changes(
            &[
                PolicyChange::Insert(policy("p2", "other", 1)),
                PolicyChange::Insert(policy("p3", "limits", 1)),
            ],
            draft("policy.create"),
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::Duplicate {
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
    db.assert_audit(&["policy.create"]).await;
}

store_test!(policies_are_listed_by_position_then_name_in_byte_order);
/// The gate evaluates policies in the order listed: by position, ties by name in byte order
/// ("B" < "Z" < "a") on both databases, whatever PostgreSQL's locale.
async fn policies_are_listed_by_position_then_name_in_byte_order(db: &TestBackend) {
    let at = |id: &str, name: &str, position: i64| PolicyRecord {
        position,
        ..policy(id, name, 1)
    };
    db.apply_policy_changes(
        &[
            PolicyChange::Insert(at("p1", "B", 2)),
            PolicyChange::Insert(at("p2", "a", 2)),
            PolicyChange::Insert(at("p3", "Z", 2)),
            PolicyChange::Insert(at("p4", "z-first", 1)),
        ],
        draft("policy.create"),
    )
    .await
    .expect("insert");
    let names: Vec<_> = db
        .policies()
        .await
        .expect("policies")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["z-first", "B", "Z", "a"]);
    db.assert_audit(&["policy.create"]).await;
}
