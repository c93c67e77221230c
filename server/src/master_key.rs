//! Loading (or, on first start, creating) the master key file that seals secrets at rest.
//!
//! A generated file is created exclusively with mode 0600; an existing file readable by group
//! or others is refused, since the key protects every private key in the database.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use domain::seal::MasterKey;

pub fn load_or_create(path: &Path, may_create: bool) -> anyhow::Result<MasterKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_mode(path)?;
            MasterKey::from_file_text(&text)
                .with_context(|| format!("master key file {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
            let key = MasterKey::generate();
            let mut f = open_new_private(path)
                .with_context(|| format!("creating master key file {}", path.display()))?;
            f.write_all(key.to_file_text().as_bytes())?;
            f.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new master key (mode 0600); back it up: without it sealed keys cannot be opened");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading master key file {}", path.display())),
    }
}

#[cfg(unix)]
fn open_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn check_mode(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!("master key file {} is accessible by group or others (mode {:o}); run `chmod 600` on it", path.display(), mode & 0o777);
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_0600_then_reloads_the_same_key_and_refuses_loose_modes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let k1 = load_or_create(&path, true).expect("created");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path)
                    .expect("exists")
                    .permissions()
                    .mode()
                    & 0o777,
                0o600
            );
        }
        let k2 = load_or_create(&path, true).expect("reloaded");
        let sealed = k1.seal(domain::seal::Sealed::TlsKey, "r", b"secret");
        assert_eq!(
            k2.open(domain::seal::Sealed::TlsKey, "r", &sealed)
                .expect("same key"),
            b"secret"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(load_or_create(&path, true).is_err());
        }
        assert!(load_or_create(&dir.path().join("missing.key"), false).is_err());
    }
}
