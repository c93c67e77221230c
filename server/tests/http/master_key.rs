//! The master key (issue 13, item 5), against the real binary: a console whose key file went
//! missing does not generate a new one over a database with sealed keys (it refuses to start,
//! saying what to do), one started with another key refuses on the database's check value,
//! and commands other than `serve` never create a key (`audit verify` needs none: it reads the
//! database read-only).

use crate::cli::palisade;
use crate::support::TestApp;

/// A data directory with sealed keys (a CA's and the bundle signer's), written by a console
/// that then stops.
async fn sealed_data_dir() -> tempfile::TempDir {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    let r = app
        .call(
            "create_ca",
            &[
                ("common_name", "Master Key Root"),
                ("key_type", "ecdsa-p256"),
                ("validity_days", "365"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let events = app.store.recent_audit(100).await.expect("audit");
    assert!(
        events.iter().any(|e| e.action == "keys.master_key_check"),
        "the first start stores a check value"
    );
    app.dir
}

#[tokio::test]
async fn a_missing_master_key_file_is_not_replaced_by_a_new_key() {
    let dir = sealed_data_dir().await;
    let key = dir.path().join("master.key");
    std::fs::rename(&key, dir.path().join("master.key.bak")).expect("move the key away");
    let (code, out) = palisade(dir.path(), &["serve", "--addr", "127.0.0.1:0"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("is missing"), "{out}");
    assert!(out.contains("Restore the key file"), "{out}");
    assert!(!key.exists(), "no new key was written");
    // Other commands never create one: `admin bootstrap` refuses without it, and so does
    // `audit verify` (the chain is keyed with a key sealed under it), naming why.
    let (code, out) = palisade(dir.path(), &["admin", "bootstrap"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("never creates one"), "{out}");
    let (code, out) = palisade(dir.path(), &["audit", "verify"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("verifying needs it"), "{out}");
    assert!(!key.exists(), "a command created a key");
    // The key back: the console starts and the chain verifies.
    std::fs::rename(dir.path().join("master.key.bak"), &key).expect("restore");
    let (code, out) = palisade(dir.path(), &["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
}

/// Issue 13, item 5: values sealed in the old format (AAD: the id alone) are re-sealed at the
/// next start with the purpose and table in the AAD, in one audited transaction; the keys
/// behind them are unchanged.
#[tokio::test]
async fn values_sealed_the_old_way_are_resealed_at_start() {
    use domain::ports::sealed::SealedStore as _;
    use domain::seal::{MasterKey, Sealed};
    let dir = sealed_data_dir().await;
    let master = MasterKey::from_file_text(
        &std::fs::read_to_string(dir.path().join("master.key")).expect("key"),
    )
    .expect("key text");
    let url = format!("sqlite://{}", dir.path().join("palisade.db").display());
    let raw = store::SqlStore::open(&url).await.expect("open");
    let before = raw.sealed_values().await.expect("sealed");
    let mut plain = Vec::new();
    // Databases from before the format change hold no chain key (it came later).
    for v in before.iter().filter(|v| v.table != "audit_chain_keys") {
        let what = Sealed::of_table(&v.table).expect("known table");
        let p = master.open(what, &v.id, &v.sealed).expect("opens");
        let old = master.seal_version_1(&v.id, &p);
        let hex: String = old.iter().map(|b| format!("{b:02x}")).collect();
        raw.execute_raw(&format!(
            "UPDATE {} SET sealed_private = X'{hex}' WHERE id = '{}'",
            v.table, v.id
        ))
        .await
        .expect("write the old format");
        plain.push((v.table.clone(), v.id.clone(), p));
    }
    drop(raw);

    let app = server::startup::Application::build(crate::support::config(dir.path()))
        .await
        .expect("starts");
    let after = app.console.store.recent_audit(5).await.expect("audit");
    assert!(
        after.iter().any(|e| e.action == "keys.reseal_format"),
        "audited"
    );
    let raw = store::SqlStore::open(&url).await.expect("open");
    for (table, id, p) in plain {
        let v = raw
            .sealed_values()
            .await
            .expect("sealed")
            .into_iter()
            .find(|v| v.id == id && v.table == table)
            .expect("still there");
        assert!(!MasterKey::is_legacy(&v.sealed), "{table} {id} re-sealed");
        let what = Sealed::of_table(&table).expect("known");
        assert_eq!(
            master.open(what, &id, &v.sealed).expect("opens"),
            p,
            "same key"
        );
    }
}

#[tokio::test]
async fn another_master_key_is_refused_on_the_check_value() {
    let dir = sealed_data_dir().await;
    let key = dir.path().join("master.key");
    let other = domain::seal::MasterKey::generate();
    std::fs::write(&key, other.to_file_text()).expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("mode");
    let (code, out) = palisade(dir.path(), &["serve", "--addr", "127.0.0.1:0"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("check value"), "{out}");
    assert!(
        out.contains("not the key this database was sealed with"),
        "{out}"
    );
}
