//! [`GateStore`]: gates and their one-time enrolment (a token works once, before it expires,
//! for a gate neither enrolled nor revoked; a refused change writes nothing), version guards,
//! the gates' reports, the bundle signer (also as a sealed value for the master-key rewrap),
//! the gate settings and the published bundles.

use domain::ports::gates::{
    BundleRecord, GateChange, GateRecord, GateReport, GateSettingsRecord, GateStore, ReportedError,
    SignerRecord,
};
use domain::ports::sealed::{SealedStore, SealedValue};
use domain::ports::StoreError;

use crate::support::{draft, TestBackend};

/// When every test gate's first enrolment token expires.
const EXPIRES: i64 = 10_000;

/// A gate as an admin adds it: not enrolled, with a token `token-<id>` valid until [`EXPIRES`].
fn gate(id: &str, name: &str) -> GateRecord {
    GateRecord {
        id: id.into(),
        name: name.into(),
        labels: vec!["eu-west".into(), "edge".into()],
        push_url: format!("https://{id}.internal:9443"),
        public_key: None,
        encryption_key: None,
        enrol_token_hash: Some(format!("token-{id}")),
        enrol_expires_at_ms: Some(EXPIRES),
        enrolled_at_ms: None,
        revoked_at_ms: None,
        applied_version: None,
        applied_at_ms: None,
        last_seen_ms: None,
        last_error: None,
        last_error_at_ms: None,
        version: 1,
        created_at_ms: 100,
        updated_at_ms: 100,
    }
}

async fn insert(db: &TestBackend, g: GateRecord) {
    db.apply_gate_change(&GateChange::Insert(Box::new(g)), draft("gates.create"))
        .await
        .expect("insert the gate");
}

fn enrol(id: &str, token_hash: &str, public_key: &str, now_ms: i64) -> GateChange {
    GateChange::Enrol {
        id: id.into(),
        token_hash: token_hash.into(),
        public_key: public_key.into(),
        encryption_key: None,
        now_ms,
    }
}

async fn read(db: &TestBackend, id: &str) -> GateRecord {
    db.gate(id).await.expect("read the gate").expect("the gate")
}

/// A report; `error` None clears the last refusal. It says it saw a gate with nothing applied
/// and no refusal (see [`seen`] for other states).
fn report(gate_id: &str, now_ms: i64, applied: Option<i64>, error: Option<&str>) -> GateReport {
    GateReport {
        gate_id: gate_id.into(),
        now_ms,
        applied_version: applied,
        error: match error {
            Some(e) => ReportedError::Refused(e.into()),
            None => ReportedError::Clear,
        },
        seen: (None, None),
    }
}

/// `r` as written by a reporter that read the gate as `g`.
fn seen(mut r: GateReport, g: &GateRecord) -> GateReport {
    r.seen = (g.applied_version, g.last_error.clone());
    r
}

/// `change` is refused with `Conflict`, and neither the gate `id` nor the audit chain moved.
async fn assert_refused(db: &TestBackend, change: GateChange, id: &str) {
    let (gate, audit) = (read(db, id).await, db.audit_actions().await);
    let r = db.apply_gate_change(&change, draft("gates.refused")).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(_))),
        "{change:?}: {r:?}"
    );
    assert_eq!(read(db, id).await, gate, "{change:?} changed the gate");
    assert_eq!(db.audit_actions().await, audit, "{change:?} wrote an event");
}

store_test!(a_gate_reads_back_by_id_by_token_and_in_the_listing_by_name);
/// An added gate reads back field for field by id and by its token hash; the listing is by
/// name in byte order on both databases; a taken name (or token) is a typed `Duplicate`.
async fn a_gate_reads_back_by_id_by_token_and_in_the_listing_by_name(db: &TestBackend) {
    let g1 = gate("g1", "a");
    let g2 = GateRecord {
        labels: vec![],
        push_url: String::new(),
        ..gate("g2", "B")
    };
    let g3 = gate("g3", "Z");
    for g in [&g1, &g2, &g3] {
        insert(db, g.clone()).await;
    }
    assert_eq!(db.gate("g1").await.expect("by id"), Some(g1.clone()));
    assert_eq!(db.gate("g2").await.expect("by id"), Some(g2.clone()));
    assert_eq!(db.gate("nope").await.expect("by id"), None);
    assert_eq!(
        db.gate_by_token_hash("token-g1").await.expect("by token"),
        Some(g1.clone())
    );
    assert_eq!(
        db.gate_by_token_hash("token-x").await.expect("by token"),
        None
    );
    assert_eq!(
        db.gates().await.expect("gates"),
        vec![g2.clone(), g3.clone(), g1.clone()],
        "by name, byte order: B < Z < a"
    );

    for taken in [
        gate("g4", "a"),
        GateRecord {
            enrol_token_hash: Some("token-g1".into()),
            ..gate("g4", "other")
        },
        gate("g1", "other"),
    ] {
        let r = db
            .apply_gate_change(&GateChange::Insert(Box::new(taken)), draft("gates.create"))
            .await;
        assert!(
            matches!(r, Err(StoreError::Duplicate { table: "gates", .. })),
            "{r:?}"
        );
    }
    assert_eq!(db.gates().await.expect("gates"), vec![g2, g3, g1]);
    db.assert_audit(&["gates.create", "gates.create", "gates.create"])
        .await;
}

store_test!(an_enrolment_token_works_once_before_it_expires);
/// Enrolment needs the stored token, before its expiry, once: it registers the key, clears the
/// token and bumps the version. Every refusal (wrong token, expired, used) changes nothing and
/// writes no event; a public key registered by one gate cannot be registered by another.
async fn an_enrolment_token_works_once_before_it_expires(db: &TestBackend) {
    insert(db, gate("g1", "one")).await;
    insert(db, gate("g2", "two")).await;

    assert_refused(db, enrol("g1", "token-g2", "key-1", 500), "g1").await;
    assert_refused(db, enrol("g1", "token-nope", "key-1", 500), "g1").await;
    assert_refused(db, enrol("g1", "token-g1", "key-1", EXPIRES), "g1").await;
    assert_refused(db, enrol("g1", "token-g1", "key-1", EXPIRES + 1), "g1").await;

    db.apply_gate_change(&enrol("g1", "token-g1", "key-1", 500), draft("gates.enrol"))
        .await
        .expect("enrol with the right token before it expires");
    let enrolled = GateRecord {
        public_key: Some("key-1".into()),
        enrol_token_hash: None,
        enrol_expires_at_ms: None,
        enrolled_at_ms: Some(500),
        version: 2,
        updated_at_ms: 500,
        ..gate("g1", "one")
    };
    assert_eq!(read(db, "g1").await, enrolled);
    assert_eq!(
        db.gate_by_token_hash("token-g1").await.expect("by token"),
        None,
        "a used token finds no gate"
    );

    // The same token again (a replay, or a second gate started with the same command).
    assert_refused(db, enrol("g1", "token-g1", "key-1", 600), "g1").await;
    assert_refused(db, enrol("g1", "token-g1", "key-other", 600), "g1").await;

    // Another gate cannot take over the identity of the first.
    let before = read(db, "g2").await;
    let r = db
        .apply_gate_change(&enrol("g2", "token-g2", "key-1", 700), draft("gates.enrol"))
        .await;
    assert!(
        matches!(r, Err(StoreError::Duplicate { table: "gates", .. })),
        "{r:?}"
    );
    assert_eq!(read(db, "g2").await, before);
    assert_eq!(
        db.gate_by_token_hash("token-g2").await.expect("by token"),
        Some(before),
        "the token of the refused enrolment still works"
    );
    db.apply_gate_change(&enrol("g2", "token-g2", "key-2", 800), draft("gates.enrol"))
        .await
        .expect("enrol with a key of its own");
    assert_eq!(read(db, "g2").await.public_key.as_deref(), Some("key-2"));
    assert_eq!(read(db, "g1").await, enrolled);
    db.assert_audit(&["gates.create", "gates.create", "gates.enrol", "gates.enrol"])
        .await;
}

store_test!(a_new_token_and_a_revocation_need_the_current_version);
/// A new token replaces the old one only from the current version and only before enrolment;
/// a revocation only from the current version, clearing any token; a revoked gate can neither
/// enrol nor get a token, and its reports are not recorded.
async fn a_new_token_and_a_revocation_need_the_current_version(db: &TestBackend) {
    insert(db, gate("g1", "one")).await;
    let new_token = |replaces: i64| GateChange::NewToken {
        id: "g1".into(),
        token_hash: "token-g1-new".into(),
        expires_at_ms: 20_000,
        replaces,
    };
    assert_refused(db, new_token(0), "g1").await;
    db.apply_gate_change(&new_token(1), draft("gates.new_token"))
        .await
        .expect("new token from the current version");
    let g1 = read(db, "g1").await;
    assert_eq!(g1.enrol_token_hash.as_deref(), Some("token-g1-new"));
    assert_eq!(g1.enrol_expires_at_ms, Some(20_000));
    assert_eq!(g1.version, 2);
    assert_eq!(db.gate_by_token_hash("token-g1").await.expect("old"), None);
    assert_eq!(
        db.gate_by_token_hash("token-g1-new").await.expect("new"),
        Some(g1)
    );
    assert_refused(db, new_token(1), "g1").await;
    assert_refused(db, enrol("g1", "token-g1", "key-1", 500), "g1").await;
    // The new token's own expiry counts, not the first one's.
    db.apply_gate_change(
        &enrol("g1", "token-g1-new", "key-1", EXPIRES + 1),
        draft("gates.enrol"),
    )
    .await
    .expect("enrol with the new token");
    assert_eq!(read(db, "g1").await.version, 3);
    assert_refused(db, new_token(3), "g1").await;

    let revoke = |id: &str, replaces: i64| GateChange::Revoke {
        id: id.into(),
        now_ms: 30_000,
        replaces,
    };
    assert_refused(db, revoke("g1", 2), "g1").await;
    db.apply_gate_change(&revoke("g1", 3), draft("gates.revoke"))
        .await
        .expect("revoke from the current version");
    let revoked = read(db, "g1").await;
    assert_eq!(revoked.revoked_at_ms, Some(30_000));
    assert_eq!(revoked.version, 4);
    assert_eq!(
        revoked.public_key.as_deref(),
        Some("key-1"),
        "kept: it stays taken"
    );
    assert_refused(db, revoke("g1", 4), "g1").await;

    // Revoking a gate before it enrolled voids its token.
    insert(db, gate("g2", "two")).await;
    db.apply_gate_change(&revoke("g2", 1), draft("gates.revoke"))
        .await
        .expect("revoke before enrolment");
    let g2 = read(db, "g2").await;
    assert_eq!(
        (g2.enrol_token_hash, g2.enrol_expires_at_ms, g2.version),
        (None, None, 2)
    );
    assert_eq!(
        db.gate_by_token_hash("token-g2").await.expect("token"),
        None
    );
    assert_refused(db, enrol("g2", "token-g2", "key-2", 500), "g2").await;
    assert_refused(
        db,
        GateChange::NewToken {
            id: "g2".into(),
            token_hash: "token-g2-new".into(),
            expires_at_ms: 40_000,
            replaces: 2,
        },
        "g2",
    )
    .await;

    // A revoked gate's report (a status call or push answer racing the revocation) is not
    // recorded, and not audited either.
    for event in [None, Some(draft("gates.apply"))] {
        db.record_gate_report(&report("g1", 31_000, Some(7), Some("refused")), event)
            .await
            .expect("report");
        assert_eq!(read(db, "g1").await, revoked);
    }
    db.assert_audit(&[
        "gates.create",
        "gates.new_token",
        "gates.enrol",
        "gates.revoke",
        "gates.create",
        "gates.revoke",
    ])
    .await;
}

store_test!(a_gate_report_records_what_it_runs_and_its_last_refusal);
/// Reports set when the gate was last seen and what it runs; the apply time moves only when
/// the version does; a refusal is kept with its time until a report without one. A report is
/// not an admin change (the gate's version stays) and is audited only with an event.
async fn a_gate_report_records_what_it_runs_and_its_last_refusal(db: &TestBackend) {
    insert(db, gate("g1", "one")).await;
    db.apply_gate_change(&enrol("g1", "token-g1", "key-1", 500), draft("gates.enrol"))
        .await
        .expect("enrol");
    let enrolled = read(db, "g1").await;
    let state = |g: &GateRecord| {
        (
            g.last_seen_ms,
            g.applied_version,
            g.applied_at_ms,
            g.last_error.clone(),
            g.last_error_at_ms,
        )
    };

    // Nothing applied yet: seen, but no apply time.
    for now in [600, 700] {
        db.record_gate_report(&report("g1", now, None, None), None)
            .await
            .expect("report");
        assert_eq!(
            state(&read(db, "g1").await),
            (Some(now), None, None, None, None)
        );
    }

    db.record_gate_report(
        &report("g1", 1_000, Some(1), None),
        Some(draft("gates.apply")),
    )
    .await
    .expect("first apply of v1");
    assert_eq!(
        state(&read(db, "g1").await),
        (Some(1_000), Some(1), Some(1_000), None, None)
    );
    db.record_gate_report(&report("g1", 2_000, Some(1), None), None)
        .await
        .expect("heartbeat");
    assert_eq!(
        state(&read(db, "g1").await),
        (Some(2_000), Some(1), Some(1_000), None, None),
        "v1 again: the apply time stays at the first"
    );
    db.record_gate_report(
        &seen(
            report("g1", 3_000, Some(1), Some("v2: unknown route kind")),
            &read(db, "g1").await,
        ),
        Some(draft("gates.refuse")),
    )
    .await
    .expect("refusal of v2");
    assert_eq!(
        state(&read(db, "g1").await),
        (
            Some(3_000),
            Some(1),
            Some(1_000),
            Some("v2: unknown route kind".into()),
            Some(3_000)
        )
    );
    // A pull (Keep) leaves the refusal and its time as they are.
    let mut pull = report("g1", 3_500, Some(1), None);
    pull.error = ReportedError::Keep;
    db.record_gate_report(&pull, None).await.expect("pull");
    assert_eq!(
        state(&read(db, "g1").await),
        (
            Some(3_500),
            Some(1),
            Some(1_000),
            Some("v2: unknown route kind".into()),
            Some(3_000)
        ),
        "a pull keeps the refusal and when it happened"
    );
    db.record_gate_report(&report("g1", 4_000, Some(2), None), None)
        .await
        .expect("apply of v2");
    assert_eq!(
        state(&read(db, "g1").await),
        (Some(4_000), Some(2), Some(4_000), None, None),
        "a report without an error clears the last one"
    );

    let g1 = read(db, "g1").await;
    assert_eq!(
        (g1.version, g1.updated_at_ms),
        (enrolled.version, enrolled.updated_at_ms),
        "reports are no admin change: an admin's revoke from the version read still applies"
    );
    db.assert_audit(&["gates.create", "gates.enrol", "gates.apply", "gates.refuse"])
        .await;
}

fn signer() -> SignerRecord {
    SignerRecord {
        id: "bundle-signer".into(),
        console_id: "c0ffee00-0000-4000-8000-000000000001".into(),
        public_key: "MCowBQYDK2VwAyEA".into(),
        // Not UTF-8, with a NUL: the sealed key is bytes, not text.
        sealed_private: vec![0x00, 0xff, 0xfe, 0x80, b'k', 0x00, 0x7f, 0xc3],
        created_at_ms: 1_234,
    }
}

store_test!(the_bundle_signer_is_created_once_and_rewrapped_with_the_master_key);
/// The signer is absent at first, created once (a second console replica gets `Duplicate` and
/// the first one stays), reads back byte for byte, and its sealed key is among the values a
/// master-key rewrap replaces.
async fn the_bundle_signer_is_created_once_and_rewrapped_with_the_master_key(db: &TestBackend) {
    assert_eq!(db.bundle_signer().await.expect("signer"), None);
    assert_eq!(db.sealed_values().await.expect("sealed"), vec![]);
    db.create_bundle_signer(&signer(), draft("gates.signer_create"))
        .await
        .expect("create");
    assert_eq!(db.bundle_signer().await.expect("signer"), Some(signer()));

    let other = SignerRecord {
        console_id: "another-replica".into(),
        public_key: "other".into(),
        sealed_private: b"other".to_vec(),
        created_at_ms: 1_235,
        ..signer()
    };
    let r = db
        .create_bundle_signer(&other, draft("gates.signer_create"))
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::Duplicate {
                table: "bundle_signers",
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(db.bundle_signer().await.expect("signer"), Some(signer()));

    let sealed = SealedValue {
        table: "bundle_signers".into(),
        id: signer().id,
        sealed: signer().sealed_private,
    };
    assert_eq!(
        db.sealed_values().await.expect("sealed"),
        vec![sealed.clone()]
    );
    let rewrapped = vec![0x01, 0x00, 0xff, b'n', b'e', b'w'];
    db.replace_sealed(&[(sealed.clone(), rewrapped.clone())], draft("keys.rewrap"))
        .await
        .expect("rewrap");
    assert_eq!(
        db.bundle_signer().await.expect("signer"),
        Some(SignerRecord {
            sealed_private: rewrapped.clone(),
            ..signer()
        })
    );
    assert_eq!(
        db.sealed_values().await.expect("sealed"),
        vec![SealedValue {
            sealed: rewrapped,
            ..sealed
        }]
    );
    db.assert_audit(&["gates.signer_create", "keys.rewrap"])
        .await;
}

fn settings(version: i64, audiences: &[&str], require_typ: bool) -> GateSettingsRecord {
    GateSettingsRecord {
        issuer: "https://console.example/".into(),
        audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
        require_typ_at_jwt: require_typ,
        routes_json: r#"[{"prefix":"/api","audience":"api"}]"#.into(),
        token_key_set_id: None,
        tls_hostname: None,
        version,
        updated_at_ms: 100 * version,
    }
}

store_test!(gate_settings_are_written_from_the_version_read);
/// The settings are absent at first; the first save inserts them, every later one needs the
/// stored version (a second "first" save, or a stale one, is a `Conflict` that changes
/// nothing); the audiences and the typ flag read back as written.
async fn gate_settings_are_written_from_the_version_read(db: &TestBackend) {
    assert_eq!(db.gate_settings().await.expect("settings"), None);
    let first = settings(1, &["api", "B", "a"], true);
    db.put_gate_settings(&first, None, draft("gates.settings"))
        .await
        .expect("first save");
    assert_eq!(
        db.gate_settings().await.expect("settings"),
        Some(first.clone())
    );

    let refused = [
        (settings(2, &["x"], false), None),
        (settings(2, &["x"], false), Some(0)),
        (settings(2, &["x"], false), Some(2)),
    ];
    for (s, replaces) in &refused {
        let r = db
            .put_gate_settings(s, *replaces, draft("gates.settings"))
            .await;
        assert!(
            matches!(r, Err(StoreError::Conflict(_))),
            "{replaces:?}: {r:?}"
        );
        assert_eq!(
            db.gate_settings().await.expect("settings"),
            Some(first.clone())
        );
    }

    let second = settings(2, &[], false);
    db.put_gate_settings(&second, Some(1), draft("gates.settings"))
        .await
        .expect("save from the stored version");
    assert_eq!(db.gate_settings().await.expect("settings"), Some(second));
    let r = db
        .put_gate_settings(
            &settings(3, &["late"], true),
            Some(1),
            draft("gates.settings"),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    let third = settings(3, &["web", "api"], true);
    db.put_gate_settings(&third, Some(2), draft("gates.settings"))
        .await
        .expect("save from the stored version");
    assert_eq!(db.gate_settings().await.expect("settings"), Some(third));
    db.assert_audit(&["gates.settings", "gates.settings", "gates.settings"])
        .await;
}

store_test!(the_token_key_set_of_the_settings_is_a_stored_key_set);
/// The settings name the key set that signs the gates' tokens by its id: it reads back as
/// written, can be cleared, and a set that does not exist is refused (`InUse`, nothing written).
async fn the_token_key_set_of_the_settings_is_a_stored_key_set(db: &TestBackend) {
    use domain::ports::keys::{KeyChange, KeyStore};
    db.apply_key_changes(
        &[KeyChange::InsertSet(crate::keys::key_set("ks1", "tokens"))],
        draft("keys.create_set"),
    )
    .await
    .expect("a key set");
    let first = GateSettingsRecord {
        token_key_set_id: Some("ks1".into()),
        tls_hostname: None,
        ..settings(1, &["api"], true)
    };
    db.put_gate_settings(&first, None, draft("gates.settings"))
        .await
        .expect("first save");
    assert_eq!(
        db.gate_settings().await.expect("settings"),
        Some(first.clone())
    );
    let missing = GateSettingsRecord {
        token_key_set_id: Some("no-such-set".into()),
        tls_hostname: None,
        ..settings(2, &["api"], true)
    };
    let r = db
        .put_gate_settings(&missing, Some(1), draft("gates.settings"))
        .await;
    assert!(matches!(r, Err(StoreError::InUse { .. })), "{r:?}");
    assert_eq!(db.gate_settings().await.expect("settings"), Some(first));
    let cleared = settings(2, &["api"], true);
    db.put_gate_settings(&cleared, Some(1), draft("gates.settings"))
        .await
        .expect("cleared");
    assert_eq!(db.gate_settings().await.expect("settings"), Some(cleared));
    db.assert_audit(&["keys.create_set", "gates.settings", "gates.settings"])
        .await;
}

store_test!(a_gate_registers_its_encryption_key_at_enrolment_or_later);
/// The X25519 key comes with the enrolment or later (an upgraded gate's report): it is set or
/// replaced only from the key the caller read (a stale one is a `Conflict` that changes
/// nothing and writes no event), only for an enrolled gate that is not revoked, and it does not
/// move the gate's version (an admin's pending revoke stays valid).
async fn a_gate_registers_its_encryption_key_at_enrolment_or_later(db: &TestBackend) {
    insert(db, gate("g1", "one")).await;
    insert(db, gate("g2", "two")).await;
    let set =
        |id: &str, key: &str, replaces: Option<&str>, now_ms: i64| GateChange::SetEncryptionKey {
            id: id.into(),
            encryption_key: key.into(),
            replaces: replaces.map(str::to_owned),
            now_ms,
        };
    // Not enrolled yet: nothing to register a key for.
    assert_refused(db, set("g1", "x25519-a", None, 400), "g1").await;

    db.apply_gate_change(
        &GateChange::Enrol {
            id: "g1".into(),
            token_hash: "token-g1".into(),
            public_key: "key-1".into(),
            encryption_key: Some("x25519-a".into()),
            now_ms: 500,
        },
        draft("gates.enrol"),
    )
    .await
    .expect("enrol with an encryption key");
    let enrolled = read(db, "g1").await;
    assert_eq!(enrolled.encryption_key.as_deref(), Some("x25519-a"));
    // An older gate enrols without one.
    db.apply_gate_change(&enrol("g2", "token-g2", "key-2", 500), draft("gates.enrol"))
        .await
        .expect("enrol without an encryption key");
    assert_eq!(read(db, "g2").await.encryption_key, None);

    // Replaced from the key read; a stale read (none, or another key) changes nothing.
    assert_refused(db, set("g1", "x25519-b", None, 600), "g1").await;
    assert_refused(db, set("g1", "x25519-b", Some("x25519-z"), 600), "g1").await;
    db.apply_gate_change(
        &set("g1", "x25519-b", Some("x25519-a"), 600),
        draft("gates.encryption_key"),
    )
    .await
    .expect("replace");
    let replaced = read(db, "g1").await;
    assert_eq!(replaced.encryption_key.as_deref(), Some("x25519-b"));
    assert_eq!(
        replaced.version, enrolled.version,
        "the admin's version does not move"
    );
    assert_eq!(replaced.updated_at_ms, 600);
    // The upgraded older gate registers its first key.
    db.apply_gate_change(
        &set("g2", "x25519-c", None, 700),
        draft("gates.encryption_key"),
    )
    .await
    .expect("first key of an upgraded gate");
    assert_eq!(
        read(db, "g2").await.encryption_key.as_deref(),
        Some("x25519-c")
    );

    // Revoked: no more keys.
    let g2 = read(db, "g2").await;
    db.apply_gate_change(
        &GateChange::Revoke {
            id: "g2".into(),
            now_ms: 800,
            replaces: g2.version,
        },
        draft("gates.revoke"),
    )
    .await
    .expect("revoke");
    assert_refused(db, set("g2", "x25519-d", Some("x25519-c"), 900), "g2").await;
    db.assert_audit(&[
        "gates.create",
        "gates.create",
        "gates.enrol",
        "gates.enrol",
        "gates.encryption_key",
        "gates.encryption_key",
        "gates.revoke",
    ])
    .await;
}

fn bundle(version: i64) -> BundleRecord {
    BundleRecord {
        version,
        issued_at_ms: 1_000 * version,
        payload_sha256: format!("{version:064x}"),
        content_sha256: format!("{:064x}", 100 + version),
        envelope: format!(
            r#"{{"payload":"eyJ2ZXJzaW9uIjp{version}fQ","signature":"sig-{version}"}}"#
        ),
        size: 300 + version,
        cause: format!("alice: policies.update #{version}"),
        changes: vec![
            format!("policy \"limits\" v{version}"),
            "client \"mobile\": added".into(),
            "quotes \" and \\ backslash, ünïcode".into(),
        ],
    }
}

store_test!(bundles_are_published_once_per_version_and_listed_newest_first);
/// Published bundles read back field for field, the latest is the highest version, the
/// history is newest first, and a version published twice (by a second replica) is a
/// `Duplicate` that writes nothing, its event included.
async fn bundles_are_published_once_per_version_and_listed_newest_first(db: &TestBackend) {
    assert_eq!(db.latest_bundle().await.expect("latest"), None);
    assert_eq!(db.bundles(10).await.expect("bundles"), vec![]);
    let b1 = BundleRecord {
        changes: vec![],
        ..bundle(1)
    };
    db.publish_bundle(&b1, draft("gates.publish"))
        .await
        .expect("v1");
    db.publish_bundle(&bundle(2), draft("gates.publish"))
        .await
        .expect("v2");
    assert_eq!(db.latest_bundle().await.expect("latest"), Some(bundle(2)));
    assert_eq!(db.bundle(1).await.expect("v1"), Some(b1.clone()));
    assert_eq!(db.bundle(2).await.expect("v2"), Some(bundle(2)));
    assert_eq!(db.bundle(3).await.expect("v3"), None);
    assert_eq!(
        db.bundles(10).await.expect("bundles"),
        vec![bundle(2), b1.clone()]
    );
    assert_eq!(db.bundles(1).await.expect("bundles"), vec![bundle(2)]);

    let again = BundleRecord {
        cause: "another replica".into(),
        ..bundle(2)
    };
    let r = db.publish_bundle(&again, draft("gates.publish")).await;
    assert!(
        matches!(
            r,
            Err(StoreError::Duplicate {
                table: "bundles",
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(db.bundle(2).await.expect("v2"), Some(bundle(2)));
    assert_eq!(db.bundles(10).await.expect("bundles"), vec![bundle(2), b1]);
    db.assert_audit(&["gates.publish", "gates.publish"]).await;
}

store_test!(two_reports_of_one_apply_audit_it_once);
/// A push answer and the gate's own status call report the same apply at once, each having
/// read the gate before either wrote: the first writes its event, the second finds the row
/// changed since it read it and records the report without an event.
async fn two_reports_of_one_apply_audit_it_once(db: &TestBackend) {
    insert(db, gate("g1", "one")).await;
    db.apply_gate_change(&enrol("g1", "token-g1", "key-1", 500), draft("gates.enrol"))
        .await
        .expect("enrol");
    let before = read(db, "g1").await;
    for now in [1_000, 1_001] {
        db.record_gate_report(
            &seen(report("g1", now, Some(3), None), &before),
            Some(draft("gates.apply")),
        )
        .await
        .expect("report");
    }
    let after = read(db, "g1").await;
    assert_eq!(
        (
            after.applied_version,
            after.applied_at_ms,
            after.last_seen_ms
        ),
        (Some(3), Some(1_000), Some(1_001))
    );
    db.assert_audit(&["gates.create", "gates.enrol", "gates.apply"])
        .await;
}
