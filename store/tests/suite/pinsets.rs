//! [`PinsetStore`]: the pin-set port's own batches (an admin's pin-set edit, a release
//! recorded for an app) apply whole with one event, are guarded by the set's version, and the
//! app of a bundle id is found without listing every app.

use domain::pinsets::AppPlatform;
use domain::ports::certs::{CertChange, CertStore};
use domain::ports::pinsets::{PinsetChange, PinsetStore, ReleaseRecord};
use domain::ports::StoreError;

use crate::certs::{app, host, pinset};
use crate::support::{draft, TestBackend};

store_test!(pinset_batches_apply_whole_under_their_version);
async fn pinset_batches_apply_whole_under_their_version(db: &TestBackend) {
    db.apply_cert_changes(
        &[CertChange::UpsertHostname(host("api.example"))],
        draft("certs.issue"),
    )
    .await
    .expect("hostname");
    db.apply_pinset_changes(
        &[PinsetChange::Put {
            record: pinset("api.example", 1),
            replaces: None,
        }],
        draft("pinsets.create"),
    )
    .await
    .expect("new pin set");
    let stale = db
        .apply_pinset_changes(
            &[
                PinsetChange::InsertApp(app("a1", "Shop")),
                PinsetChange::Put {
                    record: pinset("api.example", 2),
                    replaces: Some(7),
                },
            ],
            draft("pinsets.update"),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    assert_eq!(
        db.apps().await.expect("apps"),
        vec![],
        "the app step rolled back"
    );

    db.apply_pinset_changes(
        &[PinsetChange::Put {
            record: pinset("api.example", 2),
            replaces: Some(1),
        }],
        draft("pinsets.update"),
    )
    .await
    .expect("update");
    assert_eq!(
        db.pinset("api.example").await.expect("read"),
        Some(pinset("api.example", 2))
    );
    db.assert_audit(&["certs.issue", "pinsets.create", "pinsets.update"])
        .await;
}

store_test!(a_release_is_recorded_once_and_its_app_found_by_bundle_id);
async fn a_release_is_recorded_once_and_its_app_found_by_bundle_id(db: &TestBackend) {
    db.apply_cert_changes(
        &[CertChange::UpsertHostname(host("api.example"))],
        draft("certs.issue"),
    )
    .await
    .expect("hostname");
    let shop = app("a1", "Shop");
    let release = ReleaseRecord {
        id: "r1".into(),
        app_id: "a1".into(),
        version: "1.0.0".into(),
        released_on: "2026-02-01".into(),
        hostname: "api.example".into(),
        pinset_version: 1,
        pinset_json: pinset("api.example", 1).pins_json,
        export_format: "android_nsc".into(),
        supported: true,
        created_at_ms: 5,
    };
    db.apply_pinset_changes(
        &[
            PinsetChange::InsertApp(shop.clone()),
            PinsetChange::InsertRelease(release.clone()),
        ],
        draft("pinsets.export_for_release"),
    )
    .await
    .expect("release");
    assert_eq!(
        db.app(AppPlatform::Android, &shop.bundle_id)
            .await
            .expect("lookup"),
        Some(shop.clone())
    );
    assert_eq!(
        db.app(AppPlatform::Ios, &shop.bundle_id)
            .await
            .expect("lookup"),
        None
    );
    let again = db
        .apply_pinset_changes(
            &[PinsetChange::InsertRelease(ReleaseRecord {
                id: "r2".into(),
                ..release.clone()
            })],
            draft("pinsets.export_for_release"),
        )
        .await;
    assert!(
        matches!(
            again,
            Err(StoreError::Duplicate {
                table: "app_releases",
                ..
            })
        ),
        "the same app version for the same hostname is recorded once: {again:?}"
    );
    let missing = db
        .apply_pinset_changes(
            &[PinsetChange::SetReleaseSupported {
                id: "nope".into(),
                supported: false,
            }],
            draft("releases.set_supported"),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::Conflict(_))),
        "{missing:?}"
    );
    assert_eq!(db.releases().await.expect("releases"), vec![release]);
    db.assert_audit(&["certs.issue", "pinsets.export_for_release"])
        .await;
}
