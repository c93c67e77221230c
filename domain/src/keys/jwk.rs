//! Public JWKs of signing keys (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2) and their RFC 7638
//! thumbprints, which are the keys' `kid`s. Built from the DER SubjectPublicKeyInfo that
//! [`crate::certs::generate_key`] returns, after the key policy of [`crate::certs`] accepted it;
//! read back (for verification) with every member checked: right type for the `alg`, strict
//! base64url (no padding, canonical), exact lengths, RSA 2048–8192 bits with e = 65537.
//!
//! Encodings: OKP `x` is the 32-byte Ed25519 public key; EC `x` and `y` are the 32-byte
//! coordinates of the uncompressed P-256 point; RSA `n` and `e` are big-endian unsigned integers
//! without leading zero bytes. All base64url without padding (RFC 7515 §2).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use policy::jwk::Jwk;
use sha2::{Digest, Sha256};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as X509PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::{truncate, KeyError, SigningAlg};
use crate::certs::{public_key_kind, KeyKind};

/// Size in bytes of an Ed25519 public key and of each P-256 coordinate.
const POINT_LEN: usize = 32;

/// The raw public parts of a key, before base64url.
pub(super) enum PublicParts {
    Okp { x: Vec<u8> },
    Ec { x: Vec<u8>, y: Vec<u8> },
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

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
                n: strip_zeros(rsa.modulus).to_vec(),
                e: strip_zeros(rsa.exponent).to_vec(),
            },
            _ => return Err(malformed("the RSA public key is not an RSAPublicKey")),
        },
    };
    jwk_from_parts(alg, &parts)
}

/// The JWK of `parts` for `alg`, its `kid` set to its thumbprint.
pub(super) fn jwk_from_parts(alg: SigningAlg, parts: &PublicParts) -> Result<Jwk, KeyError> {
    let b64 = |bytes: &[u8]| Some(URL_SAFE_NO_PAD.encode(bytes));
    let mut jwk = Jwk {
        kty: String::new(),
        crv: None,
        x: None,
        y: None,
        n: None,
        e: None,
        kid: None,
        alg: Some(alg.label().to_string()),
        use_: Some("sig".to_string()),
    };
    match parts {
        PublicParts::Okp { x } => {
            jwk.kty = "OKP".into();
            jwk.crv = Some("Ed25519".into());
            jwk.x = b64(x);
        }
        PublicParts::Ec { x, y } => {
            jwk.kty = "EC".into();
            jwk.crv = Some("P-256".into());
            jwk.x = b64(x);
            jwk.y = b64(y);
        }
        PublicParts::Rsa { n, e } => {
            jwk.kty = "RSA".into();
            jwk.n = b64(strip_zeros(n));
            jwk.e = b64(strip_zeros(e));
        }
    }
    jwk.kid = Some(thumbprint(&jwk)?);
    Ok(jwk)
}

/// The RFC 7638 JWK thumbprint with SHA-256, base64url without padding: the hash of a JSON
/// object holding only the key type's required members (RSA: `e`, `kty`, `n`; EC: `crv`,
/// `kty`, `x`, `y`; OKP, RFC 8037 §2: `crv`, `kty`, `x`) in lexicographic order, without
/// whitespace. Other members (`kid`, `alg`, `use`) do not count. Member values are taken as
/// they are; [`check_jwk`] is what validates them.
pub fn thumbprint(jwk: &Jwk) -> Result<String, KeyError> {
    let member = |name: &'static str, value: &Option<String>| match value.as_deref() {
        Some(v) if !v.is_empty() => Ok((name, v.to_string())),
        _ => Err(KeyError::JwkInvalid {
            detail: format!("a \"{}\" key needs a \"{name}\" member", jwk.kty),
        }),
    };
    let kty = Some(jwk.kty.clone());
    // Each list is in lexicographic order of the member names (RFC 7638 §3.3).
    let members = match jwk.kty.as_str() {
        "RSA" => [
            member("e", &jwk.e)?,
            member("kty", &kty)?,
            member("n", &jwk.n)?,
        ]
        .to_vec(),
        "EC" => [
            member("crv", &jwk.crv)?,
            member("kty", &kty)?,
            member("x", &jwk.x)?,
            member("y", &jwk.y)?,
        ]
        .to_vec(),
        "OKP" => [
            member("crv", &jwk.crv)?,
            member("kty", &kty)?,
            member("x", &jwk.x)?,
        ]
        .to_vec(),
        other => {
            return Err(KeyError::JwkInvalid {
                detail: format!(
                    "key type \"{}\" is not supported; expected OKP, EC or RSA",
                    truncate(other)
                ),
            })
        }
    };
    let mut json = String::from("{");
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        // serde_json writes the minimal JSON string escaping RFC 7638 §3.3 asks for.
        let value = serde_json::to_string(value).map_err(|e| KeyError::Crypto(e.to_string()))?;
        json.push('"');
        json.push_str(name);
        json.push_str("\":");
        json.push_str(&value);
    }
    json.push('}');
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(json.as_bytes())))
}

/// Checks a published JWK the way a verifier will read it: `alg` is EdDSA, ES256 or RS256 and
/// matches `kty`/`crv`; `use`, when present, is "sig"; the members decode to a valid key of
/// that type (RSA within the key policy); and `kid` is its [`thumbprint`]. Returns the `alg`.
pub fn check_jwk(jwk: &Jwk) -> Result<SigningAlg, KeyError> {
    let (alg, _) = verification_key(jwk)?;
    let expected = thumbprint(jwk)?;
    match jwk.kid.as_deref() {
        Some(kid) if kid == expected => Ok(alg),
        Some(kid) => Err(KeyError::KidMismatch {
            kid: truncate(kid),
            expected,
        }),
        None => Err(KeyError::JwkInvalid {
            detail: "it has no kid".into(),
        }),
    }
}

/// A public key ready for verification, decoded from a JWK.
pub(super) enum VerifyKey {
    Ed25519(Vec<u8>),
    /// The uncompressed SEC1 point `04 || x || y`.
    P256(Vec<u8>),
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

impl VerifyKey {
    /// Whether `signature` is a valid signature of `message` under this key (ring).
    pub(super) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature as sig;
        match self {
            VerifyKey::Ed25519(x) => sig::UnparsedPublicKey::new(&sig::ED25519, x)
                .verify(message, signature)
                .is_ok(),
            VerifyKey::P256(point) => {
                sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            VerifyKey::Rsa { n, e } => sig::RsaPublicKeyComponents { n, e }
                .verify(&sig::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
        }
    }
}

/// Reads a JWK into a verification key, checking every member (see [`check_jwk`]; the `kid`
/// is not checked here: verification looks keys up by `kid` and trusts the set it was given).
pub(super) fn verification_key(jwk: &Jwk) -> Result<(SigningAlg, VerifyKey), KeyError> {
    let invalid = |detail: String| KeyError::JwkInvalid { detail };
    let alg = match jwk.alg.as_deref() {
        Some(a) => {
            SigningAlg::parse(a).ok_or_else(|| KeyError::UnsupportedAlg { alg: truncate(a) })?
        }
        None => return Err(invalid("it has no alg".into())),
    };
    if let Some(u) = jwk.use_.as_deref() {
        if u != "sig" {
            return Err(invalid(format!(
                "its use is \"{}\", not \"sig\"",
                truncate(u)
            )));
        }
    }
    let (kty, crv) = match alg {
        SigningAlg::EdDSA => ("OKP", Some("Ed25519")),
        SigningAlg::ES256 => ("EC", Some("P-256")),
        SigningAlg::RS256 => ("RSA", None),
    };
    if jwk.kty != kty {
        return Err(invalid(format!(
            "alg {alg} needs kty \"{kty}\", not \"{}\"",
            truncate(&jwk.kty)
        )));
    }
    if jwk.crv.as_deref() != crv {
        return Err(invalid(format!(
            "alg {alg} needs crv {}, not {}",
            crv.map_or("absent".into(), |c| format!("\"{c}\"")),
            jwk.crv
                .as_deref()
                .map_or("absent".into(), |c| format!("\"{}\"", truncate(c)))
        )));
    }
    let foreign = match alg {
        SigningAlg::EdDSA => vec![("y", &jwk.y), ("n", &jwk.n), ("e", &jwk.e)],
        SigningAlg::ES256 => vec![("n", &jwk.n), ("e", &jwk.e)],
        SigningAlg::RS256 => vec![("x", &jwk.x), ("y", &jwk.y)],
    };
    if let Some((name, _)) = foreign.iter().find(|(_, v)| v.is_some()) {
        return Err(invalid(format!("a {kty} key has no \"{name}\" member")));
    }
    let key = match alg {
        SigningAlg::EdDSA => VerifyKey::Ed25519(decode_fixed("x", &jwk.x, POINT_LEN)?),
        SigningAlg::ES256 => {
            let mut point = vec![0x04];
            point.extend(decode_fixed("x", &jwk.x, POINT_LEN)?);
            point.extend(decode_fixed("y", &jwk.y, POINT_LEN)?);
            if p256::PublicKey::from_sec1_bytes(&point).is_err() {
                return Err(invalid("x and y are not a point on P-256".into()));
            }
            VerifyKey::P256(point)
        }
        SigningAlg::RS256 => {
            // 8192 bits = 1024 bytes = 1366 base64url characters: refuse more before decoding.
            let n = decode_uint("n", &jwk.n, 1366)?;
            let e = decode_uint("e", &jwk.e, 12)?;
            let bits = (n.len() - 1) * 8 + (8 - n[0].leading_zeros() as usize);
            let exponent =
                (e.len() <= 8).then(|| e.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)));
            KeyKind::Rsa { bits, exponent }.check("the JWK")?;
            VerifyKey::Rsa { n, e }
        }
    };
    Ok((alg, key))
}

fn decode(name: &str, value: &Option<String>, max_chars: usize) -> Result<Vec<u8>, KeyError> {
    let invalid = |detail: String| KeyError::JwkInvalid { detail };
    let value = value
        .as_deref()
        .ok_or_else(|| invalid(format!("it has no \"{name}\" member")))?;
    if value.len() > max_chars {
        return Err(invalid(format!(
            "\"{name}\" is {} characters; at most {max_chars} are expected",
            value.len()
        )));
    }
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| invalid(format!("\"{name}\" is not unpadded base64url")))
}

fn decode_fixed(name: &str, value: &Option<String>, len: usize) -> Result<Vec<u8>, KeyError> {
    let bytes = decode(name, value, len.div_ceil(3) * 4)?;
    if bytes.len() != len {
        return Err(KeyError::JwkInvalid {
            detail: format!("\"{name}\" is {} bytes; it must be {len}", bytes.len()),
        });
    }
    Ok(bytes)
}

/// A Base64urlUInt (RFC 7518 §2): non-empty, no leading zero byte.
fn decode_uint(name: &str, value: &Option<String>, max_chars: usize) -> Result<Vec<u8>, KeyError> {
    let bytes = decode(name, value, max_chars)?;
    match bytes.first() {
        None => Err(KeyError::JwkInvalid {
            detail: format!("\"{name}\" is empty"),
        }),
        Some(0) => Err(KeyError::JwkInvalid {
            detail: format!("\"{name}\" has a leading zero byte"),
        }),
        Some(_) => Ok(bytes),
    }
}

fn strip_zeros(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    &be[start..]
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
        assert!(verification_key(&jwk).is_ok());
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

    #[test]
    fn verification_keys_are_read_strictly() {
        let x = URL_SAFE_NO_PAD.decode(RFC8037_X).expect("valid");
        let ed = public_jwk(SigningAlg::EdDSA, &ed25519_spki(&x)).expect("valid");
        let es = public_jwk(
            SigningAlg::ES256,
            &generate_key(SigningAlg::ES256.key_type())
                .expect("valid")
                .spki_der,
        )
        .expect("valid");
        let rs = Jwk {
            kid: None,
            ..rfc7638_jwk()
        };
        let refused = |jwk: Jwk, needle: &str| {
            let e = verification_key(&jwk).err().expect("refused");
            assert!(e.to_string().contains(needle), "{e} (wanted {needle})");
        };
        refused(
            Jwk {
                alg: None,
                ..ed.clone()
            },
            "no alg",
        );
        refused(
            Jwk {
                alg: Some("none".into()),
                ..ed.clone()
            },
            "\"none\"",
        );
        refused(
            Jwk {
                alg: Some("HS256".into()),
                ..ed.clone()
            },
            "HS256",
        );
        refused(
            Jwk {
                alg: Some("ES256".into()),
                ..ed.clone()
            },
            "needs kty \"EC\"",
        );
        refused(
            Jwk {
                use_: Some("enc".into()),
                ..ed.clone()
            },
            "use is \"enc\"",
        );
        refused(
            Jwk {
                crv: Some("X25519".into()),
                ..ed.clone()
            },
            "not \"X25519\"",
        );
        refused(
            Jwk {
                crv: None,
                ..ed.clone()
            },
            "not absent",
        );
        refused(
            Jwk {
                x: Some(format!("{RFC8037_X}=")),
                ..ed.clone()
            },
            "base64url",
        );
        refused(
            Jwk {
                x: Some("AAAA".into()),
                ..ed.clone()
            },
            "3 bytes; it must be 32",
        );
        refused(
            Jwk {
                x: None,
                ..ed.clone()
            },
            "no \"x\"",
        );
        refused(
            Jwk {
                y: Some("AA".into()),
                ..ed.clone()
            },
            "no \"y\"",
        );
        refused(
            Jwk {
                x: Some("A".repeat(5000)),
                ..ed.clone()
            },
            "5000 characters",
        );
        refused(
            Jwk {
                crv: Some("P-384".into()),
                ..es.clone()
            },
            "not \"P-384\"",
        );
        refused(
            Jwk {
                y: es.x.clone(),
                ..es.clone()
            },
            "not a point on P-256",
        );
        refused(
            Jwk {
                n: Some("AQAB".into()),
                ..es.clone()
            },
            "no \"n\"",
        );
        refused(
            Jwk {
                e: Some("Aw".into()),
                ..rs.clone()
            },
            "exponent 3",
        );
        refused(
            Jwk {
                e: Some("AAEAAQ".into()),
                ..rs.clone()
            },
            "leading zero",
        );
        refused(
            Jwk {
                e: Some(String::new()),
                ..rs.clone()
            },
            "empty",
        );
        refused(
            Jwk {
                n: Some(format!("{RFC7638_N}=")),
                ..rs.clone()
            },
            "base64url",
        );
        refused(
            Jwk {
                n: Some(format!("AA{RFC7638_N}")),
                ..rs.clone()
            },
            "leading zero",
        );
        refused(
            Jwk {
                n: Some(RFC7638_N[..200].into()),
                ..rs.clone()
            },
            "RSA key of 1200 bits",
        );
        refused(
            Jwk {
                n: Some("A".repeat(2000)),
                ..rs.clone()
            },
            "2000 characters",
        );
        refused(
            Jwk {
                crv: Some("P-256".into()),
                ..rs.clone()
            },
            "needs crv absent",
        );
        refused(
            Jwk {
                x: Some("AA".into()),
                ..rs.clone()
            },
            "no \"x\"",
        );
        assert!(verification_key(&ed).is_ok());
        assert!(verification_key(&es).is_ok());
        assert!(verification_key(&rs).is_ok());
    }
}
