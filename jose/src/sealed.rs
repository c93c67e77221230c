//! Private material sealed for one gate ([`policy::secrets`]): HPKE (RFC 9180) base mode with
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM, from the `hpke` crate, then the
//! header signed by the console's bundle key.
//!
//! Each gate holds an X25519 [`GateKey`] of its own (`encryption.key` in its data directory,
//! 0600) and registers the public half with the console at enrolment. The console seals with
//! [`seal`] on every delivery; the gate opens with [`open`], which checks, in this order: the
//! signature (the console's key), the header's format, that it names this gate and the bundle
//! it came with, then decrypts with the binding as associated data. Any failure is an error;
//! nothing is half-opened.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use policy::secrets::{aad, GateSecrets, SealedSecrets, SecretsHeader, HPKE_INFO, SECRETS_FORMAT};
use zeroize::Zeroizing;

use crate::ed25519::{PublicKey, SecretKey};
use crate::envelope::{sign_payload, verify_payload};
use crate::JoseError;

type Kem = X25519HkdfSha256;

/// Bytes of a raw X25519 key, public or private.
pub const KEY_LEN: usize = 32;

/// A gate's X25519 private key.
pub struct GateKey(<Kem as hpke::Kem>::PrivateKey);

impl GateKey {
    /// 32 fresh random bytes, to be stored (0600) and read back with [`GateKey::from_bytes`].
    pub fn generate_bytes() -> Zeroizing<[u8; KEY_LEN]> {
        let (private, _) = Kem::gen_keypair(&mut rand_core::OsRng);
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        out.copy_from_slice(&private.to_bytes());
        out
    }

    pub fn from_bytes(raw: &[u8]) -> Result<Self, JoseError> {
        <Kem as hpke::Kem>::PrivateKey::from_bytes(raw)
            .map(GateKey)
            .map_err(|_| JoseError::Crypto("the gate's encryption key is not 32 bytes".into()))
    }

    /// The public half as unpadded base64url, as the gate registers it.
    pub fn public_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(Kem::sk_to_pk(&self.0).to_bytes())
    }
}

/// Checks a registered public key: unpadded base64url of 32 bytes.
pub fn check_public(b64: &str) -> Result<(), JoseError> {
    public_key(b64).map(|_| ())
}

fn public_key(b64: &str) -> Result<<Kem as hpke::Kem>::PublicKey, JoseError> {
    let invalid = || JoseError::PublicKeyInvalid {
        detail: "an X25519 key must be 43 base64url characters (32 bytes)".into(),
    };
    let raw = URL_SAFE_NO_PAD.decode(b64).map_err(|_| invalid())?;
    if raw.len() != KEY_LEN {
        return Err(invalid());
    }
    <Kem as hpke::Kem>::PublicKey::from_bytes(&raw).map_err(|_| invalid())
}

/// Seals `secrets` for the gate `gate_id` (its X25519 key `recipient`, base64url) to travel
/// with bundle `version` whose payload hashes to `bundle_sha256`, signed by `signer`.
pub fn seal(
    secrets: &GateSecrets,
    recipient: &str,
    gate_id: &str,
    version: u64,
    bundle_sha256: &str,
    signer: &SecretKey,
) -> Result<SealedSecrets, JoseError> {
    let pk = public_key(recipient)?;
    let plain =
        Zeroizing::new(serde_json::to_vec(secrets).map_err(|e| JoseError::Crypto(e.to_string()))?);
    let (enc, ciphertext) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, Kem, _>(
        &OpModeS::Base,
        &pk,
        HPKE_INFO,
        &plain,
        &aad(gate_id, version, bundle_sha256),
        &mut rand_core::OsRng,
    )
    .map_err(|e| JoseError::Crypto(format!("sealing for the gate: {e}")))?;
    let header = SecretsHeader {
        format: SECRETS_FORMAT,
        gate_id: gate_id.to_owned(),
        bundle_version: version,
        bundle_sha256: bundle_sha256.to_owned(),
        enc: URL_SAFE_NO_PAD.encode(enc.to_bytes()),
        ciphertext: URL_SAFE_NO_PAD.encode(ciphertext),
    };
    let bytes = serde_json::to_vec(&header).map_err(|e| JoseError::Crypto(e.to_string()))?;
    let (payload, key_id, signature) = sign_payload(&bytes, signer);
    Ok(SealedSecrets {
        payload,
        key_id,
        signature,
    })
}

/// Opens secrets delivered to gate `gate_id` with bundle `version` (payload hash
/// `bundle_sha256`): signed by `trusted`, made for exactly this gate and bundle, decrypting
/// under `key`.
pub fn open(
    sealed: &SealedSecrets,
    trusted: &PublicKey,
    key: &GateKey,
    gate_id: &str,
    version: u64,
    bundle_sha256: &str,
) -> Result<GateSecrets, JoseError> {
    let bytes = verify_payload(&sealed.payload, &sealed.key_id, &sealed.signature, trusted)?;
    let corrupt = |detail: String| JoseError::Corrupt { detail };
    let header: SecretsHeader =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("the secrets header: {e}")))?;
    if header.format != SECRETS_FORMAT {
        return Err(corrupt(format!(
            "secrets format {} is not supported (expected {SECRETS_FORMAT})",
            header.format
        )));
    }
    if header.gate_id != gate_id {
        return Err(corrupt(format!(
            "the secrets are for gate {:?}, not this one",
            crate::truncate(&header.gate_id)
        )));
    }
    if header.bundle_version != version || header.bundle_sha256 != bundle_sha256 {
        return Err(corrupt(format!(
            "the secrets belong to bundle version {}, not to the one they came with",
            header.bundle_version
        )));
    }
    let enc = URL_SAFE_NO_PAD
        .decode(&header.enc)
        .ok()
        .and_then(|b| <Kem as hpke::Kem>::EncappedKey::from_bytes(&b).ok())
        .ok_or_else(|| corrupt("the secrets' encapsulated key is invalid".into()))?;
    let ciphertext = URL_SAFE_NO_PAD
        .decode(&header.ciphertext)
        .map_err(|_| corrupt("the secrets' ciphertext is not unpadded base64url".into()))?;
    let plain = Zeroizing::new(
        hpke::single_shot_open::<AesGcm256, HkdfSha256, Kem>(
            &OpModeR::Base,
            &key.0,
            &enc,
            HPKE_INFO,
            &ciphertext,
            &header.aad(),
        )
        .map_err(|_| {
            corrupt("the secrets do not decrypt with this gate's encryption key".into())
        })?,
    );
    serde_json::from_slice(&plain).map_err(|e| corrupt(format!("the secrets: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::secrets::SecretSigningKey;

    fn signer() -> SecretKey {
        SecretKey::from_pkcs8(&SecretKey::generate_pkcs8().expect("random")).expect("valid")
    }

    fn secrets() -> GateSecrets {
        GateSecrets {
            signing_keys: vec![SecretSigningKey {
                key_set: "default".into(),
                kid: "k1".into(),
                alg: "EdDSA".into(),
                pkcs8: "cHJpdmF0ZQ".into(),
            }],
            certificates: vec![],
        }
    }

    #[test]
    fn only_the_gate_and_bundle_it_was_sealed_for_open_it() {
        let console = signer();
        let gate = GateKey::from_bytes(&*GateKey::generate_bytes()).expect("valid");
        let other = GateKey::from_bytes(&*GateKey::generate_bytes()).expect("valid");
        let hash = "ab".repeat(32);
        let sealed = seal(&secrets(), &gate.public_b64(), "g1", 7, &hash, &console).expect("seals");
        let opened = open(&sealed, &console.public_key(), &gate, "g1", 7, &hash).expect("opens");
        assert!(opened == secrets());
        // The plaintext is nowhere in the envelope.
        let wire = serde_json::to_string(&sealed).expect("json");
        assert!(!wire.contains("cHJpdmF0ZQ"), "{wire}");

        let refused = |r: Result<GateSecrets, JoseError>| r.map(|_| ()).expect_err("refused");
        // Another gate's key, another gate id, another bundle, another signer.
        assert_eq!(
            refused(open(&sealed, &console.public_key(), &other, "g1", 7, &hash)).code(),
            "envelope.corrupt"
        );
        assert_eq!(
            refused(open(&sealed, &console.public_key(), &gate, "g2", 7, &hash)).code(),
            "envelope.corrupt"
        );
        assert_eq!(
            refused(open(&sealed, &console.public_key(), &gate, "g1", 8, &hash)).code(),
            "envelope.corrupt"
        );
        assert_eq!(
            refused(open(
                &sealed,
                &console.public_key(),
                &gate,
                "g1",
                7,
                &"cd".repeat(32)
            ))
            .code(),
            "envelope.corrupt"
        );
        assert_eq!(
            refused(open(&sealed, &signer().public_key(), &gate, "g1", 7, &hash)).code(),
            "envelope.wrong_key"
        );
        // A header rewritten to name another gate no longer carries the console's signature.
        let mut header: SecretsHeader =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&sealed.payload).expect("b64"))
                .expect("header");
        header.gate_id = "g2".into();
        let forged = SealedSecrets {
            payload: URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("json")),
            ..sealed.clone()
        };
        assert_eq!(
            refused(open(&forged, &console.public_key(), &gate, "g2", 7, &hash)),
            JoseError::BadSignature
        );
        // Sealed by someone holding the gate's public key but not the console's key.
        let intruder =
            seal(&secrets(), &gate.public_b64(), "g1", 7, &hash, &signer()).expect("seals");
        assert!(open(&intruder, &console.public_key(), &gate, "g1", 7, &hash).is_err());
    }

    #[test]
    fn public_keys_are_checked() {
        assert!(check_public("short").is_err());
        assert!(check_public(&URL_SAFE_NO_PAD.encode([1u8; 31])).is_err());
        let gate = GateKey::from_bytes(&*GateKey::generate_bytes()).expect("valid");
        assert!(check_public(&gate.public_b64()).is_ok());
        assert_eq!(gate.public_b64().len(), 43);
    }
}
