//! The gate's data directory and its files:
//!
//! - `identity.key`: the gate's Ed25519 private key, PKCS #8 v2 DER (RFC 5958 / RFC 8410),
//!   created with mode 0600 if missing; `identity.pub`: its public key, base64url (no padding)
//!   of the raw 32 bytes and a newline.
//! - `encryption.key`: the gate's X25519 private key (32 raw bytes, mode 0600), created if
//!   missing; the console seals the private keys this gate needs to its public half
//!   ([`jose::sealed`]).
//! - `console.json`: `{"console_url", "gate_id", "bundle_public_key"}`, written by `enroll`.
//! - `bundle.json`: the last-known-good signed bundle (the envelope as received).
//!
//! Every file is written whole: to a temporary file in the same directory, fsynced, renamed
//! over the old one, then the directory fsynced, so a crash leaves the old or the new file,
//! never a mix.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use jose::ed25519::{PublicKey, SecretKey};
use jose::sealed::GateKey;
use serde::{Deserialize, Serialize};

use crate::error::GateError;

pub const IDENTITY_KEY: &str = "identity.key";
pub const IDENTITY_PUB: &str = "identity.pub";
pub const ENCRYPTION_KEY: &str = "encryption.key";
pub const CONSOLE_JSON: &str = "console.json";
pub const BUNDLE_JSON: &str = "bundle.json";

/// What enrolment stored: where the console is, who this gate is to it, and the key every
/// bundle must be signed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleLink {
    pub console_url: String,
    pub gate_id: String,
    /// Base64url (no padding) of the console's raw 32-byte Ed25519 bundle key.
    pub bundle_public_key: String,
}

impl ConsoleLink {
    pub fn bundle_key(&self) -> Result<PublicKey, GateError> {
        Ok(PublicKey::from_b64(&self.bundle_public_key)?)
    }
}

#[derive(Clone, Debug)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// Creates the directory (mode 0700 on Unix) if needed.
    pub fn open(path: &Path) -> Result<Self, GateError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(path).map_err(|e| GateError::io(path, e))?;
        Ok(DataDir(path.to_path_buf()))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The identity key, created (0600) with its `identity.pub` if missing.
    pub fn identity(&self) -> Result<SecretKey, GateError> {
        let path = self.path(IDENTITY_KEY);
        match std::fs::read(&path) {
            Ok(der) => SecretKey::from_pkcs8(&der).map_err(|e| GateError::BadFile {
                path,
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let der = SecretKey::generate_pkcs8()?;
                self.write_atomic(IDENTITY_KEY, &der, 0o600)?;
                let key = SecretKey::from_pkcs8(&der)?;
                let public = format!("{}\n", key.public_key().to_b64());
                self.write_atomic(IDENTITY_PUB, public.as_bytes(), 0o644)?;
                Ok(key)
            }
            Err(e) => Err(GateError::io(path, e)),
        }
    }

    /// The encryption key, created (0600) if missing.
    pub fn encryption_key(&self) -> Result<GateKey, GateError> {
        let path = self.path(ENCRYPTION_KEY);
        match std::fs::read(&path) {
            Ok(raw) => {
                let raw = zeroize::Zeroizing::new(raw);
                GateKey::from_bytes(&raw).map_err(|e| GateError::BadFile {
                    path,
                    detail: e.to_string(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let raw = GateKey::generate_bytes();
                self.write_atomic(ENCRYPTION_KEY, &*raw, 0o600)?;
                Ok(GateKey::from_bytes(&*raw)?)
            }
            Err(e) => Err(GateError::io(path, e)),
        }
    }

    /// `console.json`, if the gate is enrolled.
    pub fn console_link(&self) -> Result<Option<ConsoleLink>, GateError> {
        let path = self.path(CONSOLE_JSON);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| GateError::BadFile {
                    path,
                    detail: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(GateError::io(path, e)),
        }
    }

    pub fn write_console_link(&self, link: &ConsoleLink) -> Result<(), GateError> {
        let mut bytes =
            serde_json::to_vec_pretty(link).map_err(|e| GateError::Config(e.to_string()))?;
        bytes.push(b'\n');
        self.write_atomic(CONSOLE_JSON, &bytes, 0o644)
    }

    /// The last-known-good envelope bytes, if any.
    pub fn read_bundle(&self) -> Result<Option<Vec<u8>>, GateError> {
        let path = self.path(BUNDLE_JSON);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(GateError::io(path, e)),
        }
    }

    /// Writes `name` whole: temporary file, fsync, rename, directory fsync.
    pub fn write_atomic(&self, name: &str, bytes: &[u8], mode: u32) -> Result<(), GateError> {
        let target = self.path(name);
        let tmp = self.path(&format!(".{name}.tmp"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&tmp).map_err(|e| GateError::io(&tmp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| GateError::io(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, &target).map_err(|e| GateError::io(&target, e))?;
        #[cfg(unix)]
        std::fs::File::open(&self.0)
            .and_then(|d| d.sync_all())
            .map_err(|e| GateError::io(&self.0, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = DataDir::open(dir.path()).expect("opens");
        let a = d.identity().expect("created").public_key();
        let b = d.identity().expect("read back").public_key();
        assert_eq!(a, b);
        let public = std::fs::read_to_string(d.path(IDENTITY_PUB)).expect("pub");
        assert_eq!(public.trim_end(), a.to_b64());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.path(IDENTITY_KEY))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(d.path(IDENTITY_KEY), b"junk").expect("write");
        assert!(
            d.identity().is_err(),
            "a corrupt key is an error, not replaced"
        );
    }

    #[test]
    fn console_link_round_trips_and_refuses_unknown_members() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = DataDir::open(dir.path()).expect("opens");
        assert_eq!(d.console_link().expect("reads"), None);
        let link = ConsoleLink {
            console_url: "http://127.0.0.1:3000".into(),
            gate_id: "g1".into(),
            bundle_public_key: PublicKey([1; 32]).to_b64(),
        };
        d.write_console_link(&link).expect("writes");
        assert_eq!(d.console_link().expect("reads"), Some(link));
        std::fs::write(
            d.path(CONSOLE_JSON),
            br#"{"console_url":"x","gate_id":"g","bundle_public_key":"k","extra":1}"#,
        )
        .expect("write");
        assert!(d.console_link().is_err());
    }
}
