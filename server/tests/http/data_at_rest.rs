//! Data at rest (issue 13, item 7): the real binary creates its data directory 0700 and its
//! database 0600 (the WAL follows the database's mode); a revoked signing key's ciphertext, and
//! every ciphertext a master-key rewrap replaced, is gone from every file of the data
//! directory (database, WAL, shared memory) once the change has answered.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use domain::ports::sealed::SealedStore;

use crate::support::TestApp;

/// Whether `needle` occurs in any file directly in `dir`.
pub(crate) fn anywhere_in(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn the_data_directory_and_database_are_private() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["admin", "bootstrap"])
        .env("PALISADE_DATA_DIR", &dir)
        .env("PALISADE_LOG", "error")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "data directory");
    assert_eq!(mode(&dir.join("palisade.db")), 0o600, "database");
    for name in ["palisade.db-wal", "palisade.db-shm"] {
        if dir.join(name).exists() {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
    }
}

#[tokio::test]
async fn a_revoked_keys_ciphertext_is_in_no_file_of_the_data_directory() {
    let app = TestApp::spawn().await;
    let cookie = app.confirmed_owner("alice").await;
    let r = app
        .call(
            "create_key_set",
            &[
                ("name", "revoked"),
                ("alg", "ES256"),
                ("rotation_days", "90"),
                ("cache_window_min", "60"),
                ("max_token_lifetime_min", "15"),
                ("leeway_s", "60"),
                ("auto_rotate", "false"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let set = r.json();
    let active = set["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["state"] == "active")
        .expect("active")
        .clone();
    let key_id = active["id"].as_str().expect("id").to_owned();
    let dir = app.dir.path();
    let db = store::SqlStore::open(&format!("sqlite://{}", dir.join("palisade.db").display()))
        .await
        .expect("open");
    let sealed = db
        .sealed_values()
        .await
        .expect("sealed")
        .into_iter()
        .find(|v| v.table == "signing_keys" && v.id == key_id)
        .expect("the active key is sealed in the database")
        .sealed;
    assert!(sealed.len() > 40);
    assert!(
        !anywhere_in(dir, &sealed).is_empty(),
        "the ciphertext is on disk before the revoke (else this test proves nothing)"
    );
    let r = app
        .call(
            "revoke_signing_key",
            &[
                ("id", set["id"].as_str().expect("id")),
                ("version", &set["version"].to_string()),
                ("key_id", &key_id),
                ("reason", "the private key leaked in a build log"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    drop(db);
    assert_eq!(
        anywhere_in(dir, &sealed),
        Vec::<String>::new(),
        "the revoked key's ciphertext is still on disk"
    );
}
