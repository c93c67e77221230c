//! Secrets at rest: AES-256-GCM under the master key, with what the value is (its purpose and
//! table, [`Sealed`]) and the owning record's id bound as associated data, so a sealed value
//! copied onto another record, or into another table under the same id, does not open.
//!
//! Format of a sealed blob: `0x02` (version) ‖ 96-bit random nonce ‖ ciphertext ‖ 128-bit tag,
//! AAD `palisade sealed v2 ‖ 0 ‖ purpose ‖ 0 ‖ table ‖ 0 ‖ id`. Version 1 (AAD: the id alone)
//! opens only through [`MasterKey::open_any`], for the check of a key at startup and the
//! one-time upgrade that re-seals every version-1 value as version 2.
//! Nonces are random per seal; at 2^32 seals per key the collision risk stays below 2^-32
//! (NIST SP 800-38D §8.3), far beyond what a console seals.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};

const VERSION: u8 = 2;
const LEGACY_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// What a sealed value is: the table it lives in and what it is for, both bound into its AAD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sealed {
    /// A certificate's or CA's private key (`tls_keys`).
    TlsKey,
    /// A JWT signing key (`signing_keys`).
    SigningKey,
    /// The console's bundle signing key (`bundle_signers`).
    BundleSigner,
    /// The master key's check value (`master_key_checks`).
    MasterKeyCheck,
    /// The audit chain's HMAC key (`audit_chain_keys`).
    AuditChainKey,
}

impl Sealed {
    pub const ALL: [Sealed; 5] = [
        Sealed::TlsKey,
        Sealed::SigningKey,
        Sealed::BundleSigner,
        Sealed::MasterKeyCheck,
        Sealed::AuditChainKey,
    ];

    pub fn table(self) -> &'static str {
        match self {
            Sealed::TlsKey => "tls_keys",
            Sealed::SigningKey => "signing_keys",
            Sealed::BundleSigner => "bundle_signers",
            Sealed::MasterKeyCheck => "master_key_checks",
            Sealed::AuditChainKey => "audit_chain_keys",
        }
    }

    fn purpose(self) -> &'static str {
        match self {
            Sealed::TlsKey => "tls private key",
            Sealed::SigningKey => "jwt signing private key",
            Sealed::BundleSigner => "bundle signing private key",
            Sealed::MasterKeyCheck => "master key check value",
            Sealed::AuditChainKey => "audit chain hmac key",
        }
    }

    /// The kind of value a table holds.
    pub fn of_table(table: &str) -> Option<Sealed> {
        Self::ALL.into_iter().find(|s| s.table() == table)
    }

    fn aad(self, record_id: &str) -> Vec<u8> {
        [
            b"palisade sealed v2".as_slice(),
            self.purpose().as_bytes(),
            self.table().as_bytes(),
            record_id.as_bytes(),
        ]
        .join(&0u8)
    }
}

/// The 256-bit key that seals every private key in the database. Never printed or logged.
pub struct MasterKey(SecretBox<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the master key file must hold 32 bytes, base64-encoded")]
    BadKeyFile,
    #[error("sealed value is malformed or of an unknown version")]
    Malformed,
    #[error("sealed value does not open with this master key and record id")]
    Open,
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        MasterKey(SecretBox::new(Box::new(bytes)))
    }

    /// Parses the key file's text: base64 of 32 bytes, surrounding whitespace ignored.
    pub fn from_file_text(text: &str) -> Result<Self, SealError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SealError::BadKeyFile)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKeyFile)?;
        Ok(MasterKey(SecretBox::new(Box::new(arr))))
    }

    /// The key file's text (for writing it once, mode 0600).
    pub fn to_file_text(&self) -> String {
        format!("{}\n", STANDARD.encode(self.0.expose_secret()))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.expose_secret().into())
    }

    /// A 256-bit key for one `purpose` (e.g. `palisade audit chain v2`), derived with
    /// HKDF-SHA256 (RFC 5869): keys for different purposes are independent, and none reveals
    /// the master key.
    pub fn derive(&self, purpose: &str) -> SecretBox<[u8; 32]> {
        struct Len;
        impl ring::hkdf::KeyType for Len {
            fn len(&self) -> usize {
                32
            }
        }
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"palisade master key")
            .extract(self.0.expose_secret());
        let mut out = Box::new([0u8; 32]);
        prk.expand(&[purpose.as_bytes()], Len)
            .and_then(|okm| okm.fill(&mut out[..]))
            .expect("HKDF-SHA256 yields 32 bytes");
        SecretBox::new(out)
    }

    /// Seals `plaintext`, a value of kind `what`, for the record `record_id`.
    pub fn seal(&self, what: Sealed, record_id: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &what.aad(record_id),
                },
            )
            .expect("AES-GCM encryption cannot fail for inputs under 64 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Opens a blob sealed as a `what` for `record_id`; fails on any change to blob, key, kind
    /// or id, and on a version-1 blob.
    pub fn open(&self, what: Sealed, record_id: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.first() != Some(&VERSION) {
            return Err(SealError::Malformed);
        }
        self.decrypt(sealed, &what.aad(record_id))
    }

    /// [`MasterKey::open`], accepting a version-1 blob too (AAD: the id alone): for checking a
    /// key at startup and re-sealing old values, never for using them.
    pub fn open_any(
        &self,
        what: Sealed,
        record_id: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        match sealed.first() {
            Some(&VERSION) => self.decrypt(sealed, &what.aad(record_id)),
            Some(&LEGACY_VERSION) => self.decrypt(sealed, record_id.as_bytes()),
            _ => Err(SealError::Malformed),
        }
    }

    /// Seals in the old format (version 1, AAD: the id alone). Nothing seals this way any
    /// more; it exists so that the upgrade from it can be tested end to end.
    #[doc(hidden)]
    pub fn seal_version_1(&self, record_id: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: record_id.as_bytes(),
                },
            )
            .expect("AES-GCM encryption cannot fail for inputs under 64 GiB");
        [&[LEGACY_VERSION][..], &nonce, &ct].concat()
    }

    /// Whether `sealed` is of the old version (to re-seal).
    pub fn is_legacy(sealed: &[u8]) -> bool {
        sealed.first() == Some(&LEGACY_VERSION)
    }

    fn decrypt(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < 1 + NONCE_LEN + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        self.cipher()
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
            .map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_by_purpose_and_match_rfc5869_hkdf() {
        let key = MasterKey::from_file_text(&STANDARD.encode([7u8; 32])).expect("test value");
        let a = key.derive("a");
        assert_eq!(a.expose_secret(), key.derive("a").expose_secret());
        assert_ne!(a.expose_secret(), key.derive("b").expose_secret());
        // HKDF by hand with HMAC-SHA256 (RFC 5869 §2.2, §2.3: one block, T(1)).
        use ring::hmac;
        let prk = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, b"palisade master key"),
            &[7u8; 32],
        );
        let t1 = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()), b"a\x01");
        assert_eq!(&a.expose_secret()[..], t1.as_ref());
    }

    #[test]
    fn round_trip_and_every_tamper_fails() {
        let key = MasterKey::generate();
        let sealed = key.seal(Sealed::SigningKey, "key:1", b"private key bytes");
        assert_eq!(
            key.open(Sealed::SigningKey, "key:1", &sealed).as_deref(),
            Ok(&b"private key bytes"[..])
        );
        // Bound to the record id.
        assert_eq!(
            key.open(Sealed::SigningKey, "key:2", &sealed),
            Err(SealError::Open)
        );
        // Bound to the key.
        assert_eq!(
            MasterKey::generate().open(Sealed::SigningKey, "key:1", &sealed),
            Err(SealError::Open)
        );
        // Any bit flip in nonce, ciphertext or tag.
        for i in 1..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert_eq!(
                key.open(Sealed::SigningKey, "key:1", &t),
                Err(SealError::Open),
                "flip at byte {i}"
            );
        }
        // Unknown version and truncation.
        let mut v = sealed.clone();
        v[0] = 3;
        assert_eq!(
            key.open(Sealed::SigningKey, "key:1", &v),
            Err(SealError::Malformed)
        );
        assert_eq!(
            key.open(Sealed::SigningKey, "key:1", &sealed[..20]),
            Err(SealError::Malformed)
        );
        // Bound to what it is: the same id in another table does not open.
        assert_eq!(
            key.open(Sealed::TlsKey, "key:1", &sealed),
            Err(SealError::Open)
        );
    }

    #[test]
    fn a_version_1_blob_opens_only_for_the_upgrade() {
        let key = MasterKey::generate();
        // Version 1 as it was: AAD = the id alone.
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = key
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: b"old".as_slice(),
                    aad: b"r",
                },
            )
            .expect("encrypt");
        let v1 = [&[LEGACY_VERSION][..], &nonce, &ct].concat();
        assert!(MasterKey::is_legacy(&v1));
        assert_eq!(
            key.open(Sealed::TlsKey, "r", &v1),
            Err(SealError::Malformed)
        );
        assert_eq!(
            key.open_any(Sealed::TlsKey, "r", &v1).as_deref(),
            Ok(&b"old"[..])
        );
        assert_eq!(key.open_any(Sealed::TlsKey, "s", &v1), Err(SealError::Open));
        let v2 = key.seal(Sealed::TlsKey, "r", b"new");
        assert!(!MasterKey::is_legacy(&v2));
        assert_eq!(
            key.open_any(Sealed::TlsKey, "r", &v2).as_deref(),
            Ok(&b"new"[..])
        );
    }

    #[test]
    fn seals_are_randomised() {
        let key = MasterKey::generate();
        assert_ne!(
            key.seal(Sealed::TlsKey, "r", b"x"),
            key.seal(Sealed::TlsKey, "r", b"x")
        );
    }

    #[test]
    fn key_file_round_trips_and_rejects_bad_text() {
        let key = MasterKey::generate();
        let again = MasterKey::from_file_text(&key.to_file_text()).expect("own output parses");
        let sealed = key.seal(Sealed::TlsKey, "r", b"x");
        assert_eq!(
            again.open(Sealed::TlsKey, "r", &sealed).as_deref(),
            Ok(&b"x"[..])
        );
        assert_eq!(
            MasterKey::from_file_text("not base64!").err(),
            Some(SealError::BadKeyFile)
        );
        assert_eq!(
            MasterKey::from_file_text(&STANDARD.encode([0u8; 16])).err(),
            Some(SealError::BadKeyFile)
        );
        assert!(!format!("{key:?}").contains(&key.to_file_text().trim().to_string()));
    }

    /// Known-answer test (NIST GCM test vector, AES-256, 96-bit IV, with AAD): the cipher here
    /// is the standard one, not something that merely round-trips.
    #[test]
    fn matches_nist_gcm_vector() {
        let k = hex::decode("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
            .expect("hex");
        let iv = hex::decode("cafebabefacedbaddecaf888").expect("hex");
        let pt = hex::decode("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39").expect("hex");
        let aad = hex::decode("feedfacedeadbeeffeedfacedeadbeefabaddad2").expect("hex");
        let arr: [u8; 32] = k.try_into().expect("32 bytes");
        let key = MasterKey(SecretBox::new(Box::new(arr)));
        let iv: [u8; 12] = iv.try_into().expect("12 bytes");
        let ct = key
            .cipher()
            .encrypt(
                &Nonce::from(iv),
                Payload {
                    msg: &pt,
                    aad: &aad,
                },
            )
            .expect("encrypts");
        assert_eq!(
            hex::encode(ct),
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\
76fc6ece0f4e1768cddf8853bb2d551b"
        );
    }
}
