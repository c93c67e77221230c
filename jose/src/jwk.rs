//! Public JWKs of signing keys (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2): built from a key's raw
//! public parts, their RFC 7638 thumbprints (the keys' `kid`s), and read back into a `ring`
//! verification key with every member checked: right type for the `alg`, strict base64url (no
//! padding), exact lengths, a real P-256 point, RSA 2048–8192 bits with e = 65537.
//!
//! Encodings: OKP `x` is the 32-byte Ed25519 public key; EC `x` and `y` are the 32-byte
//! coordinates of the uncompressed P-256 point; RSA `n` and `e` are big-endian unsigned integers
//! without leading zero bytes. All base64url without padding (RFC 7515 §2).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use policy::jwk::Jwk;
use sha2::{Digest, Sha256};

use crate::{truncate, Alg, JoseError};

/// Size in bytes of an Ed25519 public key and of each P-256 coordinate.
const POINT_LEN: usize = 32;
/// RSA modulus bounds, in bits, and the one public exponent accepted.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;
const RSA_EXPONENT: u64 = 65537;

/// The raw public parts of a key, before base64url.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicParts {
    Okp { x: Vec<u8> },
    Ec { x: Vec<u8>, y: Vec<u8> },
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// The JWK of `parts` for `alg`, with `use: "sig"` and its `kid` set to its [`thumbprint`].
pub fn jwk_from_parts(alg: Alg, parts: &PublicParts) -> Result<Jwk, JoseError> {
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
pub fn thumbprint(jwk: &Jwk) -> Result<String, JoseError> {
    let member = |name: &'static str, value: &Option<String>| match value.as_deref() {
        Some(v) if !v.is_empty() => Ok((name, v.to_string())),
        _ => Err(JoseError::JwkInvalid {
            detail: format!("a \"{}\" key needs a \"{name}\" member", jwk.kty),
        }),
    };
    let kty = Some(jwk.kty.clone());
    // Each list is in lexicographic order of the member names (RFC 7638 §3.3).
    let members = match jwk.kty.as_str() {
        "RSA" => vec![
            member("e", &jwk.e)?,
            member("kty", &kty)?,
            member("n", &jwk.n)?,
        ],
        "EC" => vec![
            member("crv", &jwk.crv)?,
            member("kty", &kty)?,
            member("x", &jwk.x)?,
            member("y", &jwk.y)?,
        ],
        "OKP" => vec![
            member("crv", &jwk.crv)?,
            member("kty", &kty)?,
            member("x", &jwk.x)?,
        ],
        other => {
            return Err(JoseError::JwkInvalid {
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
        let value = serde_json::to_string(value).map_err(|e| JoseError::Crypto(e.to_string()))?;
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
pub fn check_jwk(jwk: &Jwk) -> Result<Alg, JoseError> {
    let key = verification_key(jwk)?;
    let expected = thumbprint(jwk)?;
    match jwk.kid.as_deref() {
        Some(kid) if kid == expected => Ok(key.alg()),
        Some(kid) => Err(JoseError::KidMismatch {
            kid: truncate(kid),
            expected,
        }),
        None => Err(JoseError::JwkInvalid {
            detail: "it has no kid".into(),
        }),
    }
}

/// A public key ready for verification, decoded and checked from a JWK, with its algorithm.
/// Build it once (when a key set is loaded) and verify many tokens with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyKey {
    alg: Alg,
    material: Material,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Material {
    Ed25519(Vec<u8>),
    /// The uncompressed SEC1 point `04 || x || y`.
    P256(Vec<u8>),
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

impl VerifyKey {
    /// The key's algorithm, the only one a token may use with it (RFC 8725 §3.1).
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// Whether `signature` is a valid signature of `message` under this key (ring).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature as sig;
        match &self.material {
            Material::Ed25519(x) => sig::UnparsedPublicKey::new(&sig::ED25519, x)
                .verify(message, signature)
                .is_ok(),
            Material::P256(point) => {
                sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            Material::Rsa { n, e } => sig::RsaPublicKeyComponents { n, e }
                .verify(&sig::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
        }
    }
}

/// Reads a JWK into a verification key, checking every member (see [`check_jwk`]; the `kid`
/// is not checked here: verification looks keys up by `kid` and trusts the set it was given).
pub fn verification_key(jwk: &Jwk) -> Result<VerifyKey, JoseError> {
    let invalid = |detail: String| JoseError::JwkInvalid { detail };
    let alg = match jwk.alg.as_deref() {
        Some(a) => Alg::parse(a).ok_or_else(|| JoseError::UnsupportedAlg { alg: truncate(a) })?,
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
        Alg::EdDSA => ("OKP", Some("Ed25519")),
        Alg::ES256 => ("EC", Some("P-256")),
        Alg::RS256 => ("RSA", None),
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
        Alg::EdDSA => vec![("y", &jwk.y), ("n", &jwk.n), ("e", &jwk.e)],
        Alg::ES256 => vec![("n", &jwk.n), ("e", &jwk.e)],
        Alg::RS256 => vec![("x", &jwk.x), ("y", &jwk.y)],
    };
    if let Some((name, _)) = foreign.iter().find(|(_, v)| v.is_some()) {
        return Err(invalid(format!("a {kty} key has no \"{name}\" member")));
    }
    let material = match alg {
        Alg::EdDSA => Material::Ed25519(decode_fixed("x", &jwk.x, POINT_LEN)?),
        Alg::ES256 => {
            let mut point = vec![0x04];
            point.extend(decode_fixed("x", &jwk.x, POINT_LEN)?);
            point.extend(decode_fixed("y", &jwk.y, POINT_LEN)?);
            if p256::PublicKey::from_sec1_bytes(&point).is_err() {
                return Err(invalid("x and y are not a point on P-256".into()));
            }
            Material::P256(point)
        }
        Alg::RS256 => {
            // 8192 bits = 1024 bytes = 1366 base64url characters: refuse more before decoding.
            let n = decode_uint("n", &jwk.n, 1366)?;
            let e = decode_uint("e", &jwk.e, 12)?;
            let bits = (n.len() - 1) * 8 + (8 - n[0].leading_zeros() as usize);
            let exponent =
                (e.len() <= 8).then(|| e.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)));
            if bits < RSA_MIN_BITS {
                return Err(JoseError::RsaTooSmall { bits });
            }
            if bits > RSA_MAX_BITS {
                return Err(JoseError::RsaTooLarge { bits });
            }
            if exponent != Some(RSA_EXPONENT) {
                return Err(JoseError::RsaBadExponent {
                    exponent: exponent
                        .map_or_else(|| "wider than 64 bits".into(), |e| e.to_string()),
                });
            }
            Material::Rsa { n, e }
        }
    };
    Ok(VerifyKey { alg, material })
}

fn decode(name: &str, value: &Option<String>, max_chars: usize) -> Result<Vec<u8>, JoseError> {
    let invalid = |detail: String| JoseError::JwkInvalid { detail };
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

fn decode_fixed(name: &str, value: &Option<String>, len: usize) -> Result<Vec<u8>, JoseError> {
    let bytes = decode(name, value, len.div_ceil(3) * 4)?;
    if bytes.len() != len {
        return Err(JoseError::JwkInvalid {
            detail: format!("\"{name}\" is {} bytes; it must be {len}", bytes.len()),
        });
    }
    Ok(bytes)
}

/// A Base64urlUInt (RFC 7518 §2): non-empty, no leading zero byte.
fn decode_uint(name: &str, value: &Option<String>, max_chars: usize) -> Result<Vec<u8>, JoseError> {
    let bytes = decode(name, value, max_chars)?;
    match bytes.first() {
        None => Err(JoseError::JwkInvalid {
            detail: format!("\"{name}\" is empty"),
        }),
        Some(0) => Err(JoseError::JwkInvalid {
            detail: format!("\"{name}\" has a leading zero byte"),
        }),
        Some(_) => Ok(bytes),
    }
}

/// Big-endian bytes without their leading zeros.
pub fn strip_zeros(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    &be[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the RSA key of RFC 7517 Appendix A.1 (kid "2011-04-29").
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    const RFC7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    /// RFC 8037 §A.2 public key and §A.3 thumbprint.
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

    fn rfc7638_jwk() -> Jwk {
        serde_json::from_value(serde_json::json!({
            "kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
        }))
        .expect("valid")
    }

    fn ed_jwk() -> Jwk {
        let x = URL_SAFE_NO_PAD.decode(RFC8037_X).expect("valid");
        jwk_from_parts(Alg::EdDSA, &PublicParts::Okp { x }).expect("valid")
    }

    /// A fresh P-256 public JWK, from ring.
    fn es_jwk() -> Jwk {
        use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = ring::rand::SystemRandom::new();
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("valid");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng)
            .expect("valid");
        let p = pair.public_key().as_ref();
        jwk_from_parts(
            Alg::ES256,
            &PublicParts::Ec {
                x: p[1..33].to_vec(),
                y: p[33..].to_vec(),
            },
        )
        .expect("valid")
    }

    #[test]
    fn rfc7638_rsa_example() {
        let jwk = rfc7638_jwk();
        assert_eq!(thumbprint(&jwk).expect("valid"), RFC7638_THUMBPRINT);
        let bare = Jwk {
            kid: None,
            alg: None,
            use_: Some("enc".into()),
            ..jwk.clone()
        };
        assert_eq!(thumbprint(&bare).expect("valid"), RFC7638_THUMBPRINT);
        assert!(verification_key(&jwk).is_ok());
        assert_eq!(
            check_jwk(&jwk).expect_err("refused").code(),
            "key.kid_mismatch"
        );
        let fixed = Jwk {
            kid: Some(RFC7638_THUMBPRINT.into()),
            ..jwk
        };
        assert_eq!(check_jwk(&fixed), Ok(Alg::RS256));
    }

    #[test]
    fn rfc8037_ed25519_example() {
        let built = ed_jwk();
        assert_eq!(built.kid.as_deref(), Some(RFC8037_THUMBPRINT));
        assert_eq!(
            serde_json::to_value(&built).expect("valid"),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X,
                "kid": RFC8037_THUMBPRINT, "alg": "EdDSA", "use": "sig"})
        );
        assert_eq!(check_jwk(&built), Ok(Alg::EdDSA));
    }

    #[test]
    fn thumbprint_input_is_the_required_members_in_order() {
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
        assert_eq!(
            thumbprint(&missing).expect_err("refused").to_string(),
            "the JWK is not valid: a \"EC\" key needs a \"y\" member"
        );
        let oct = Jwk {
            kty: "oct".into(),
            ..jwk
        };
        assert_eq!(thumbprint(&oct).expect_err("refused").code(), "jwk.invalid");
    }

    #[test]
    fn verification_keys_are_read_strictly() {
        let ed = ed_jwk();
        let es = es_jwk();
        let rs = Jwk {
            kid: None,
            ..rfc7638_jwk()
        };
        let refused = |jwk: Jwk, needle: &str| {
            let e = verification_key(&jwk).expect_err("refused");
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
        assert_eq!(verification_key(&ed).map(|k| k.alg()), Ok(Alg::EdDSA));
        assert_eq!(verification_key(&es).map(|k| k.alg()), Ok(Alg::ES256));
        assert_eq!(verification_key(&rs).map(|k| k.alg()), Ok(Alg::RS256));
    }
}
