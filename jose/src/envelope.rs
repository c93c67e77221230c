//! Signing and opening the config bundle envelope ([`policy::bundle::SignedBundle`]): an
//! Ed25519 signature by the console's bundle key over the payload's exact bytes. Opening checks,
//! in this order: the key id names the trusted key; the payload and signature are base64url
//! (no padding); the signature verifies over the decoded payload bytes (no
//! re-canonicalisation); the payload parses as a [`Bundle`]. Structural validation of the
//! bundle is [`policy::bundle::validate_bundle`], run by the caller.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use policy::bundle::{Bundle, SignedBundle};

use crate::ed25519::{PublicKey, SecretKey};
use crate::JoseError;

/// Signs `bundle` as the console does: payload = `serde_json::to_vec(bundle)`.
pub fn seal(bundle: &Bundle, key: &SecretKey) -> Result<SignedBundle, JoseError> {
    let payload = bundle
        .to_payload()
        .map_err(|e| JoseError::Crypto(e.to_string()))?;
    Ok(seal_bytes(&payload, key))
}

/// Signs payload bytes as they are.
pub fn seal_bytes(payload: &[u8], key: &SecretKey) -> SignedBundle {
    let (payload, key_id, signature) = sign_payload(payload, key);
    SignedBundle {
        payload,
        key_id,
        signature,
        secrets: None,
    }
}

/// The three members of a signed envelope for `payload`: the payload and the signature as
/// unpadded base64url, and the signing key's id.
pub(crate) fn sign_payload(payload: &[u8], key: &SecretKey) -> (String, String, String) {
    (
        URL_SAFE_NO_PAD.encode(payload),
        key.public_key().key_id(),
        URL_SAFE_NO_PAD.encode(key.sign(payload)),
    )
}

/// Verifies `signed` against the `trusted` key and returns the bundle and its payload bytes.
pub fn open(signed: &SignedBundle, trusted: &PublicKey) -> Result<(Bundle, Vec<u8>), JoseError> {
    let payload = verify_payload(&signed.payload, &signed.key_id, &signed.signature, trusted)?;
    let bundle = Bundle::from_payload(&payload).map_err(|e| JoseError::Corrupt {
        detail: e.to_string(),
    })?;
    Ok((bundle, payload))
}

/// The payload bytes of an envelope, once its key id names the `trusted` key and its signature
/// verifies over them.
pub(crate) fn verify_payload(
    payload: &str,
    key_id: &str,
    signature: &str,
    trusted: &PublicKey,
) -> Result<Vec<u8>, JoseError> {
    let trusted_id = trusted.key_id();
    if key_id != trusted_id {
        return Err(JoseError::WrongKey {
            key_id: crate::truncate(key_id),
            trusted: trusted_id,
        });
    }
    let corrupt = |detail: &str| JoseError::Corrupt {
        detail: detail.into(),
    };
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| corrupt("the payload is not unpadded base64url"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| corrupt("the signature is not unpadded base64url"))?;
    if !trusted.verifies(&payload, &signature) {
        return Err(JoseError::BadSignature);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::bundle::{Route, RouteAuth, FORMAT};
    use policy::model::PathMatch;

    fn bundle(version: u64) -> Bundle {
        Bundle {
            format: FORMAT,
            version,
            issued_at_ms: 1,
            prev_hash: String::new(),
            console_id: "c".into(),
            issuer: String::new(),
            audiences: vec![],
            require_typ_at_jwt: false,
            policies: vec![],
            clients: vec![],
            key_sets: vec![],
            routes: vec![Route {
                path: PathMatch::Prefix("/".into()),
                methods: vec![],
                auth: RouteAuth::None,
            }],
            token_key_set: None,
            tls_certificate: None,
        }
    }

    fn key() -> SecretKey {
        SecretKey::from_pkcs8(&SecretKey::generate_pkcs8().expect("valid")).expect("valid")
    }

    #[test]
    fn seal_then_open() {
        let k = key();
        let signed = seal(&bundle(1), &k).expect("valid");
        let (b, bytes) = open(&signed, &k.public_key()).expect("valid");
        assert_eq!(b, bundle(1));
        assert_eq!(bytes, serde_json::to_vec(&bundle(1)).expect("valid"));
    }

    #[test]
    fn every_alteration_is_refused() {
        let k = key();
        let signed = seal(&bundle(1), &k).expect("valid");
        let other = key();
        assert_eq!(
            open(&signed, &other.public_key())
                .expect_err("refused")
                .code(),
            "envelope.wrong_key"
        );
        // Signed by another key that claims the trusted key's id.
        let mut forged = seal(&bundle(1), &other).expect("valid");
        forged.key_id = signed.key_id.clone();
        assert_eq!(open(&forged, &k.public_key()), Err(JoseError::BadSignature));
        // Every single bit of the payload matters.
        let payload = URL_SAFE_NO_PAD.decode(&signed.payload).expect("valid");
        for i in [0, payload.len() / 2, payload.len() - 1] {
            let mut p = payload.clone();
            p[i] ^= 1;
            let altered = SignedBundle {
                payload: URL_SAFE_NO_PAD.encode(&p),
                ..signed.clone()
            };
            assert_eq!(
                open(&altered, &k.public_key()),
                Err(JoseError::BadSignature)
            );
        }
        let truncated = SignedBundle {
            payload: signed.payload[..signed.payload.len() - 4].to_string(),
            ..signed.clone()
        };
        assert!(open(&truncated, &k.public_key()).is_err());
        let padded = SignedBundle {
            signature: format!("{}=", signed.signature),
            ..signed.clone()
        };
        assert_eq!(
            open(&padded, &k.public_key()).expect_err("refused").code(),
            "envelope.corrupt"
        );
        // Validly signed bytes that are not a bundle.
        let junk = seal_bytes(b"{\"format\":1}", &k);
        assert_eq!(
            open(&junk, &k.public_key()).expect_err("refused").code(),
            "envelope.corrupt"
        );
    }
}
