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

#[tokio::test]
async fn the_data_directory_and_database_are_private() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("PALISADE_DATA_DIR", &dir)
        .env("PALISADE_LOG", "error")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let ready = format!("http://127.0.0.1:{port}/readyz");
    while !reqwest::get(&ready)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the console never became ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    let modes = (
        mode(&dir),
        mode(&dir.join("palisade.db")),
        mode(&dir.join("master.key")),
    );
    let side: Vec<(String, u32)> = ["palisade.db-wal", "palisade.db-shm"]
        .iter()
        .filter(|n| dir.join(n).exists())
        .map(|n| (n.to_string(), mode(&dir.join(n))))
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        modes,
        (0o700, 0o600, 0o600),
        "data directory, database, master key"
    );
    for (name, m) in side {
        assert_eq!(m, 0o600, "{name}");
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
