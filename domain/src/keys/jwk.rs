//! Public JWKs of signing keys (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2) and their RFC 7638
//! thumbprints, which are the keys' `kid`s. Built here from the DER SubjectPublicKeyInfo that
//! [`crate::certs::generate_key`] returns, after the key policy of [`crate::certs`] accepted it;
//! the JWK encoding, the thumbprint and the strict reading back (for verification) are the
//! `jose` crate's, shared with the gate; this module wraps them in [`KeyError`].
//!
//! Encodings: OKP `x` is the 32-byte Ed25519 public key; EC `x` and `y` are the 32-byte
//! coordinates of the uncompressed P-256 point; RSA `n` and `e` are big-endian unsigned integers
//! without leading zero bytes. All base64url without padding (RFC 7515 §2).

use jose::{JoseError, PublicParts};
use policy::jwk::Jwk;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as X509PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::{KeyError, SigningAlg};
use crate::certs::{public_key_kind, CertError, KeyKind};

/// The public JWK of a signing key given as DER SubjectPublicKeyInfo, with `alg`, `use: "sig"`
/// and `kid` = its [`thumbprint`]. The key must be of `alg`'s type and pass the key policy.
pub fn public_jwk(alg: SigningAlg, spki_der: &[u8]) -> Result<Jwk, KeyError> {
    let kind = public_key_kind(spki_der)?;
    let expected = expected_key(alg);
    let matches = match (alg, &kind) {
        (SigningAlg::EdDSA, KeyKind::Ed25519) | (SigningAlg::ES256, KeyKind::EcdsaP256) => true,
        (SigningAlg::RS256, KeyKind::Rsa { .. }) => {
            kind.check("the public key")?;
            true
        }
        _ => false,
    };
    if !matches {
        return Err(KeyError::KeyAlgMismatch {
            alg,
            found: format!("an {} key", kind.label()),
            expected,
        });
    }
    // `public_key_kind` parsed the same bytes without trailing data and checked the key.
    let malformed = |detail: &str| KeyError::JwkInvalid {
        detail: detail.to_string(),
    };
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|_| malformed("the public key is not a SubjectPublicKeyInfo"))?;
    let data = spki.subject_public_key.data.as_ref();
    let parts = match alg {
        SigningAlg::EdDSA => PublicParts::Okp { x: data.to_vec() },
        SigningAlg::ES256 => {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            let point = p256::PublicKey::from_sec1_bytes(data)
                .map_err(|_| malformed("the EC public key is not a P-256 point"))?
                .to_encoded_point(false);
            match (point.x(), point.y()) {
                (Some(x), Some(y)) => PublicParts::Ec {
                    x: x.to_vec(),
                    y: y.to_vec(),
                },
                _ => return Err(malformed("the EC public key is the point at infinity")),
            }
        }
        SigningAlg::RS256 => match spki.parsed() {
            Ok(X509PublicKey::RSA(rsa)) => PublicParts::Rsa {
                n: jose::jwk::strip_zeros(rsa.modulus).to_vec(),
                e: jose::jwk::strip_zeros(rsa.exponent).to_vec(),
            },
            _ => return Err(malformed("the RSA public key is not an RSAPublicKey")),
        },
    };
    Ok(jose::jwk_from_parts(jose_alg(alg), &parts)?)
}

/// The RFC 7638 JWK thumbprint with SHA-256 (see [`jose::thumbprint`]).
pub fn thumbprint(jwk: &Jwk) -> Result<String, KeyError> {
    Ok(jose::thumbprint(jwk)?)
}

/// Checks a published JWK the way a verifier will read it (see [`jose::check_jwk`]): right
/// members for its `alg`, a valid key, and `kid` = its [`thumbprint`]. Returns the `alg`.
pub fn check_jwk(jwk: &Jwk) -> Result<SigningAlg, KeyError> {
    Ok(signing_alg(jose::check_jwk(jwk)?))
}

/// The `jose` algorithm of a key set's algorithm.
pub(super) fn jose_alg(alg: SigningAlg) -> jose::Alg {
    match alg {
        SigningAlg::EdDSA => jose::Alg::EdDSA,
        SigningAlg::ES256 => jose::Alg::ES256,
        SigningAlg::RS256 => jose::Alg::RS256,
    }
}

fn signing_alg(alg: jose::Alg) -> SigningAlg {
    match alg {
        jose::Alg::EdDSA => SigningAlg::EdDSA,
        jose::Alg::ES256 => SigningAlg::ES256,
        jose::Alg::RS256 => SigningAlg::RS256,
    }
}

/// `jose`'s refusals as this crate's [`KeyError`], with the same codes and messages as before
/// the logic moved there (RSA key policy failures are [`CertError`]s of "the JWK").
impl From<JoseError> for KeyError {
    fn from(e: JoseError) -> Self {
        let what = || "the JWK".to_string();
        match e {
            JoseError::UnsupportedAlg { alg } => KeyError::UnsupportedAlg { alg },
            JoseError::PrivateKeyRejected { alg, detail } => KeyError::PrivateKeyRejected {
                alg: signing_alg(alg),
                detail,
            },
            JoseError::KidMismatch { kid, expected } => KeyError::KidMismatch { kid, expected },
            JoseError::JwkInvalid { detail } => KeyError::JwkInvalid { detail },
            JoseError::RsaTooSmall { bits } => CertError::RsaTooSmall { what: what(), bits }.into(),
            JoseError::RsaTooLarge { bits } => CertError::RsaTooLarge { what: what(), bits }.into(),
            JoseError::RsaBadExponent { exponent } => CertError::RsaBadExponent {
                what: what(),
                exponent,
            }
            .into(),
            JoseError::ClaimsNotObject => KeyError::ClaimsNotObject,
            JoseError::TokenTooLarge { size, limit } => KeyError::TokenTooLarge { size, limit },
            JoseError::TokenMalformed { detail } | JoseError::TokenTyp { detail } => {
                KeyError::TokenMalformed { detail }
            }
            JoseError::TokenAlgRefused { alg } => KeyError::TokenAlgRefused { alg },
            JoseError::TokenHeaderRefused { name } => KeyError::TokenHeaderRefused { name },
            JoseError::TokenNoKid => KeyError::TokenNoKid,
            JoseError::TokenUnknownKid { kid } => KeyError::TokenUnknownKid { kid },
            JoseError::TokenAlgMismatch { alg, kid, key_alg } => KeyError::TokenAlgMismatch {
                alg: signing_alg(alg),
                kid,
                key_alg: signing_alg(key_alg),
            },
            JoseError::TokenBadSignature => KeyError::TokenBadSignature,
            JoseError::Crypto(m) => KeyError::Crypto(m),
            other @ (JoseError::ClaimMissing { .. }
            | JoseError::ClaimInvalid { .. }
            | JoseError::Expired
            | JoseError::NotYetValid
            | JoseError::IssuedInFuture
            | JoseError::WrongIssuer
            | JoseError::WrongAudience
            | JoseError::NotAccessToken) => KeyError::TokenMalformed {
                detail: other.to_string(),
            },
            other @ (JoseError::PublicKeyInvalid { .. }
            | JoseError::WrongKey { .. }
            | JoseError::BadSignature
            | JoseError::Corrupt { .. }) => KeyError::Crypto(other.to_string()),
        }
    }
}

fn expected_key(alg: SigningAlg) -> &'static str {
    match alg {
        SigningAlg::EdDSA => "an Ed25519 key",
        SigningAlg::ES256 => "an ECDSA P-256 key",
        SigningAlg::RS256 => "an RSA key of 2048 to 8192 bits",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::generate_key;
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    use sha2::{Digest, Sha256};

    /// RFC 7638 §3.1: the RSA key of RFC 7517 Appendix A.1 (kid "2011-04-29").
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    const RFC7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    /// RFC 8037 §A.2 public key and §A.3 thumbprint.
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

    fn rfc7638_jwk() -> Jwk {
        serde_json::from_value(serde_json::json!({
            "kty": "RSA",
            "n": RFC7638_N,
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .expect("valid")
    }

    fn ed25519_spki(x: &[u8]) -> Vec<u8> {
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(x);
        der
    }

    #[test]
    fn rfc7638_rsa_example() {
        let jwk = rfc7638_jwk();
        assert_eq!(thumbprint(&jwk).expect("valid"), RFC7638_THUMBPRINT);
        // kid, alg and use do not count.
        let bare = Jwk {
            kid: None,
            alg: None,
            use_: Some("enc".into()),
            ..jwk.clone()
        };
        assert_eq!(thumbprint(&bare).expect("valid"), RFC7638_THUMBPRINT);
        // Valid as a verification key (2048 bits, e = 65537), but its kid is not a thumbprint.
        assert!(jose::verification_key(&jwk).is_ok());
        assert_eq!(
            check_jwk(&jwk).expect_err("refused").code(),
            "key.kid_mismatch"
        );
        let fixed = Jwk {
            kid: Some(RFC7638_THUMBPRINT.into()),
            ..jwk
        };
        assert_eq!(check_jwk(&fixed), Ok(SigningAlg::RS256));
    }

    #[test]
    fn rfc8037_ed25519_example() {
        let jwk = Jwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some(RFC8037_X.into()),
            y: None,
            n: None,
            e: None,
            kid: None,
            alg: None,
            use_: None,
        };
        assert_eq!(thumbprint(&jwk).expect("valid"), RFC8037_THUMBPRINT);
        // The same key as a DER SPKI gives the same JWK, with alg, use and kid.
        let x = URL_SAFE_NO_PAD.decode(RFC8037_X).expect("valid");
        let built = public_jwk(SigningAlg::EdDSA, &ed25519_spki(&x)).expect("valid");
        assert_eq!(built.kid.as_deref(), Some(RFC8037_THUMBPRINT));
        assert_eq!(built.alg.as_deref(), Some("EdDSA"));
        assert_eq!(built.use_.as_deref(), Some("sig"));
        assert_eq!(built.x.as_deref(), Some(RFC8037_X));
        assert_eq!(check_jwk(&built), Ok(SigningAlg::EdDSA));
        assert_eq!(
            serde_json::to_value(&built).expect("valid"),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X,
                "kid": RFC8037_THUMBPRINT, "alg": "EdDSA", "use": "sig"})
        );
    }

    #[test]
    fn thumbprint_input_is_the_required_members_in_order() {
        // EC: computed by hand over {"crv","kty","x","y"}.
        let jwk = Jwk {
            kty: "EC".into(),
            crv: Some("P-256".into()),
            x: Some("AA".into()),
            y: Some("AQ".into()),
            n: None,
            e: None,
            kid: Some("ignored".into()),
            alg: Some("ES256".into()),
            use_: None,
        };
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(
            br#"{"crv":"P-256","kty":"EC","x":"AA","y":"AQ"}"#,
        ));
        assert_eq!(thumbprint(&jwk).expect("valid"), expected);
        let missing = Jwk {
            y: None,
            ..jwk.clone()
        };
        let e = thumbprint(&missing).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "the JWK is not valid: a \"EC\" key needs a \"y\" member"
        );
        let empty = Jwk {
            x: Some(String::new()),
            ..jwk.clone()
        };
        assert!(thumbprint(&empty).is_err());
        let oct = Jwk {
            kty: "oct".into(),
            ..jwk
        };
        assert_eq!(thumbprint(&oct).expect_err("refused").code(), "jwk.invalid");
    }

    #[test]
    fn generated_keys_give_valid_jwks() {
        for alg in SigningAlg::ALL {
            let key = generate_key(alg.key_type()).expect("valid");
            let jwk = public_jwk(alg, &key.spki_der).expect("valid");
            assert_eq!(check_jwk(&jwk), Ok(alg), "{alg}");
            let mut members: Vec<String> = serde_json::to_value(&jwk)
                .expect("valid")
                .as_object()
                .expect("valid")
                .keys()
                .cloned()
                .collect();
            members.sort();
            let expected: &[&str] = match alg {
                SigningAlg::EdDSA => &["alg", "crv", "kid", "kty", "use", "x"],
                SigningAlg::ES256 => &["alg", "crv", "kid", "kty", "use", "x", "y"],
                SigningAlg::RS256 => &["alg", "e", "kid", "kty", "n", "use"],
            };
            assert_eq!(members, expected, "{alg}");
            if alg == SigningAlg::RS256 {
                assert_eq!(jwk.e.as_deref(), Some("AQAB"));
                let n = URL_SAFE_NO_PAD
                    .decode(jwk.n.as_deref().expect("valid"))
                    .expect("valid");
                assert_eq!(n.len(), 256);
                assert_ne!(n[0], 0);
            }
            // Every other algorithm refuses this key.
            for other in SigningAlg::ALL.into_iter().filter(|a| *a != alg) {
                let e = public_jwk(other, &key.spki_der).expect_err("refused");
                assert_eq!(e.code(), "key.alg_mismatch", "{alg} as {other}");
            }
        }
    }

    #[test]
    fn ec_points_are_uncompressed_coordinates() {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let key = generate_key(SigningAlg::ES256.key_type()).expect("valid");
        let jwk = public_jwk(SigningAlg::ES256, &key.spki_der).expect("valid");
        let (_, spki) = SubjectPublicKeyInfo::from_der(&key.spki_der).expect("valid");
        let point = spki.subject_public_key.data.as_ref();
        assert_eq!(point.len(), 65);
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk.x.expect("valid"))
                .expect("valid"),
            &point[1..33]
        );
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk.y.expect("valid"))
                .expect("valid"),
            &point[33..]
        );
        // A compressed SPKI of the same key gives the same JWK.
        let pk = p256::PublicKey::from_sec1_bytes(point).expect("valid");
        let compressed = pk.to_encoded_point(true);
        let mut der = vec![
            0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00,
        ];
        der.extend_from_slice(compressed.as_bytes());
        let again = public_jwk(SigningAlg::ES256, &der).expect("valid");
        assert_eq!(
            again,
            public_jwk(SigningAlg::ES256, &key.spki_der).expect("valid")
        );
    }

    #[test]
    fn bad_spki_is_refused_without_panic() {
        let x = URL_SAFE_NO_PAD.decode(RFC8037_X).expect("valid");
        let good = ed25519_spki(&x);
        for cut in 0..good.len() {
            assert!(public_jwk(SigningAlg::EdDSA, &good[..cut]).is_err());
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(
            public_jwk(SigningAlg::EdDSA, &trailing)
                .expect_err("refused")
                .code(),
            "x509.malformed"
        );
        assert!(public_jwk(SigningAlg::RS256, b"").is_err());
        assert!(public_jwk(SigningAlg::ES256, &[0xff; 100]).is_err());
    }
}
