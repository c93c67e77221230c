//! JWTs as compact JWS (RFC 7515 §7.1, RFC 7519): signing with a set's key through `ring`, and
//! signature verification against a JWK Set — what the console uses to check its own keys (for
//! example after a rotation) and what the gate mirrors.
//!
//! Verification follows RFC 8725: the key is found by the header's `kid`, and the algorithm is
//! the key's own (`alg` must equal the JWK's): `none`, HMAC and any other algorithm are refused
//! before any cryptography; headers that bring their own key or point at one (`jwk`, `jku`,
//! `x5u`, `x5c`) are refused, as are `crit` (no extension is understood) and `b64` (RFC 7797);
//! `typ` must be `JWT`. Input is capped at [`MAX_JWT_BYTES`] before it is decoded; JSON nesting
//! is bounded by serde_json's recursion limit (128), so cost is bounded for any input.
//!
//! Not here: time and audience claims (`exp`, `nbf`, `iat`, `iss`, `aud`). This module has no
//! clock; [`verify_jwt`] returns the verified claims and the caller checks them.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use policy::jwk::JwkSet;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jwk::{jwk_from_parts, verification_key, PublicParts};
use super::{truncate, KeyError, SigningAlg};

/// The largest token accepted or produced, in bytes (16 KiB). Real tokens are well under 2 KiB;
/// the cap bounds decoding and hashing cost for hostile input.
pub const MAX_JWT_BYTES: usize = 16 * 1024;

/// Header members refused by [`verify_jwt`] (RFC 8725 §3.10; RFC 7515 §4.1.11; RFC 7797).
const REFUSED_HEADERS: [&str; 6] = ["jwk", "jku", "x5u", "x5c", "crit", "b64"];

/// The protected header [`sign_jwt`] writes, in this member order.
#[derive(Serialize)]
struct SignHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// The header members [`verify_jwt`] reads. Derived, so a duplicated `alg`, `kid` or `typ` is
/// refused rather than resolved to one of its values (RFC 7515 §5.2 allows either).
#[derive(Deserialize)]
struct VerifyHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
}

/// A private signing key loaded by `ring`.
enum Signer {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair, SystemRandom),
    Rsa(RsaKeyPair, SystemRandom),
}

impl Signer {
    fn load(alg: SigningAlg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let rejected = |e: ring::error::KeyRejected| KeyError::PrivateKeyRejected {
            alg,
            detail: format!("it is not a PKCS #8 {} ({e})", alg.key_type().label()),
        };
        Ok(match alg {
            // The normalised PKCS #8 of crate::certs is v1 (RFC 8410 seed only).
            SigningAlg::EdDSA => {
                Signer::Ed(Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(rejected)?)
            }
            SigningAlg::ES256 => {
                let rng = SystemRandom::new();
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8,
                    &rng,
                )
                .map_err(rejected)?;
                Signer::Ec(pair, rng)
            }
            SigningAlg::RS256 => Signer::Rsa(
                RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?,
                SystemRandom::new(),
            ),
        })
    }

    fn public_parts(&self) -> Result<PublicParts, KeyError> {
        Ok(match self {
            Signer::Ed(pair) => PublicParts::Okp {
                x: pair.public_key().as_ref().to_vec(),
            },
            Signer::Ec(pair, _) => match pair.public_key().as_ref() {
                [0x04, xy @ ..] if xy.len() == 64 => PublicParts::Ec {
                    x: xy[..32].to_vec(),
                    y: xy[32..].to_vec(),
                },
                _ => return Err(KeyError::Crypto("unexpected P-256 public key form".into())),
            },
            Signer::Rsa(pair, _) => {
                let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                PublicParts::Rsa { n: c.n, e: c.e }
            }
        })
    }

    fn signature_len(&self) -> usize {
        match self {
            Signer::Ed(_) | Signer::Ec(..) => 64,
            Signer::Rsa(pair, _) => pair.public().modulus_len(),
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = |_| KeyError::Crypto("the signature could not be computed".into());
        Ok(match self {
            Signer::Ed(pair) => pair.sign(message).as_ref().to_vec(),
            Signer::Ec(pair, rng) => pair.sign(rng, message).map_err(failed)?.as_ref().to_vec(),
            Signer::Rsa(pair, rng) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, rng, message, &mut sig)
                    .map_err(failed)?;
                sig
            }
        })
    }
}

/// Length of the unpadded base64url encoding of `n` bytes.
fn b64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

/// Signs `claims` (a JSON object) as a compact JWS with the protected header
/// `{"alg":…,"typ":"JWT","kid":…}`. `pkcs8` is the unencrypted PKCS #8 DER of a key of `alg`'s
/// type (as [`crate::certs::generate_key`] returns it); `kid` must be the thumbprint of that
/// key's public JWK, so the token always resolves to the key that signed it. Tokens above
/// [`MAX_JWT_BYTES`] are refused, as [`verify_jwt`] would refuse them.
pub fn sign_jwt(
    alg: SigningAlg,
    pkcs8: &[u8],
    kid: &str,
    claims: &Value,
) -> Result<String, KeyError> {
    if !claims.is_object() {
        return Err(KeyError::ClaimsNotObject);
    }
    let signer = Signer::load(alg, pkcs8)?;
    let expected = jwk_from_parts(alg, &signer.public_parts()?)?
        .kid
        .unwrap_or_default();
    if kid != expected {
        return Err(KeyError::KidMismatch {
            kid: truncate(kid),
            expected,
        });
    }
    let header = SignHeader {
        alg: alg.label(),
        typ: "JWT",
        kid,
    };
    let encode_failed = |e: serde_json::Error| KeyError::Crypto(e.to_string());
    let header = serde_json::to_vec(&header).map_err(encode_failed)?;
    let claims = serde_json::to_vec(claims).map_err(encode_failed)?;
    let size = b64_len(header.len()) + b64_len(claims.len()) + b64_len(signer.signature_len()) + 2;
    if size > MAX_JWT_BYTES {
        return Err(KeyError::TokenTooLarge {
            size,
            limit: MAX_JWT_BYTES,
        });
    }
    let mut token = String::with_capacity(size);
    token.push_str(&URL_SAFE_NO_PAD.encode(header));
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    let sig = signer.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(sig));
    Ok(token)
}

/// Verifies a compact JWS JWT against `jwks` and returns its claims (a JSON object).
///
/// Refuses, in this order: more than [`MAX_JWT_BYTES`]; anything but three base64url segments;
/// a header that is not a JSON object or repeats `alg`/`kid`/`typ`; the headers `jwk`, `jku`,
/// `x5u`, `x5c`, `crit`, `b64`; an `alg` other than EdDSA, ES256, RS256 (so `none` and HMAC);
/// a `typ` other than `JWT` (or `application/jwt`, case-insensitive); no `kid`; a `kid` absent
/// from the set (or present twice); an `alg` other than the JWK's; a JWK that is not a valid
/// key for its `alg`; a signature that does not verify; claims that are not a JSON object.
/// Time and audience claims are the caller's to check (no clock here).
pub fn verify_jwt(jwks: &JwkSet, token: &str) -> Result<Value, KeyError> {
    if token.len() > MAX_JWT_BYTES {
        return Err(KeyError::TokenTooLarge {
            size: token.len(),
            limit: MAX_JWT_BYTES,
        });
    }
    let malformed = |detail: String| KeyError::TokenMalformed { detail };
    let segments: Vec<&str> = token.split('.').collect();
    let [header_b64, claims_b64, sig_b64] = segments.as_slice() else {
        return Err(malformed(match segments.len() {
            5 => "it has 5 segments: encrypted JWTs (JWE) are not accepted".into(),
            n => format!("it has {n} segments; a signed JWT has 3"),
        }));
    };
    let header = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| malformed("the header is not unpadded base64url".into()))?;
    let members: serde_json::Map<String, Value> = serde_json::from_slice(&header)
        .map_err(|e| malformed(format!("the header is not a JSON object ({e})")))?;
    if let Some(name) = REFUSED_HEADERS
        .into_iter()
        .find(|name| members.contains_key(*name))
    {
        return Err(KeyError::TokenHeaderRefused { name });
    }
    let header: VerifyHeader = serde_json::from_slice(&header)
        .map_err(|e| malformed(format!("the header is invalid ({e})")))?;
    let alg = SigningAlg::parse(&header.alg).ok_or_else(|| KeyError::TokenAlgRefused {
        alg: truncate(&header.alg),
    })?;
    match header.typ.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("JWT") || t.eq_ignore_ascii_case("application/jwt") => {}
        Some(t) => {
            return Err(malformed(format!(
                "its typ is \"{}\", not \"JWT\"",
                truncate(t)
            )))
        }
        None => {
            return Err(malformed(
                "its header has no typ; \"JWT\" is required".into(),
            ))
        }
    }
    let kid = header.kid.ok_or(KeyError::TokenNoKid)?;
    let mut found = jwks
        .keys
        .iter()
        .filter(|k| k.kid.as_deref() == Some(kid.as_str()));
    let jwk = found.next().ok_or_else(|| KeyError::TokenUnknownKid {
        kid: truncate(&kid),
    })?;
    if found.next().is_some() {
        return Err(KeyError::JwkInvalid {
            detail: format!(
                "the set holds more than one key with kid \"{}\"",
                truncate(&kid)
            ),
        });
    }
    let (key_alg, key) = verification_key(jwk)?;
    if alg != key_alg {
        return Err(KeyError::TokenAlgMismatch {
            alg,
            kid: truncate(&kid),
            key_alg,
        });
    }
    let sig = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| malformed("the signature is not unpadded base64url".into()))?;
    let signed = &token[..header_b64.len() + 1 + claims_b64.len()];
    if !key.verifies(signed.as_bytes(), &sig) {
        return Err(KeyError::TokenBadSignature);
    }
    let claims = URL_SAFE_NO_PAD
        .decode(claims_b64)
        .map_err(|_| malformed("the claims are not unpadded base64url".into()))?;
    match serde_json::from_slice::<Value>(&claims) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(malformed("the claims are not a JSON object".into())),
        Err(e) => Err(malformed(format!("the claims are not valid JSON ({e})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::{generate_key, load_pkcs8};
    use crate::keys::jwk::public_jwk;
    use policy::jwk::Jwk;
    use secrecy::ExposeSecret;
    use serde_json::json;

    struct TestKey {
        alg: SigningAlg,
        pkcs8: Vec<u8>,
        jwk: Jwk,
    }

    impl TestKey {
        fn new(alg: SigningAlg) -> Self {
            let g = generate_key(alg.key_type()).expect("valid");
            TestKey {
                alg,
                pkcs8: g.pkcs8.expose_secret().to_vec(),
                jwk: public_jwk(alg, &g.spki_der).expect("valid"),
            }
        }
        fn kid(&self) -> &str {
            self.jwk.kid.as_deref().expect("valid")
        }
        fn set(&self) -> JwkSet {
            JwkSet {
                keys: vec![self.jwk.clone()],
            }
        }
        fn sign(&self, claims: &Value) -> String {
            sign_jwt(self.alg, &self.pkcs8, self.kid(), claims).expect("valid")
        }
        /// A token with any header and claims bytes, validly signed by this key.
        fn sign_raw(&self, header: &str, claims: &str) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(claims)
            );
            let sig = Signer::load(self.alg, &self.pkcs8)
                .expect("valid")
                .sign(input.as_bytes())
                .expect("valid");
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
        }
        fn header(&self, extra: &str) -> String {
            format!(
                r#"{{"alg":"{}","typ":"JWT","kid":"{}"{extra}}}"#,
                self.alg,
                self.kid()
            )
        }
    }

    fn code(r: Result<Value, KeyError>) -> &'static str {
        r.expect_err("refused").code()
    }

    #[test]
    fn rfc8037_a4_ed25519_signature() {
        let seed = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .expect("valid");
        let mut pkcs8 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        pkcs8.extend_from_slice(&seed);
        // It is the normalised form crate::certs produces.
        let loaded = load_pkcs8(&pkcs8).expect("valid");
        assert_eq!(loaded.pkcs8().expose_secret(), pkcs8.as_slice());
        let signer = Signer::load(SigningAlg::EdDSA, &pkcs8).expect("valid");
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let sig = URL_SAFE_NO_PAD.encode(signer.sign(input.as_bytes()).expect("valid"));
        assert_eq!(
            sig,
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
        // The RFC's token itself has no kid (and no typ): verify_jwt refuses it.
        let jwk = public_jwk(SigningAlg::EdDSA, loaded.spki_der()).expect("valid");
        assert_eq!(
            jwk.kid.as_deref(),
            Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        );
        let set = JwkSet { keys: vec![jwk] };
        assert_eq!(
            code(verify_jwt(&set, &format!("{input}.{sig}"))),
            "jwt.malformed"
        );
    }

    #[test]
    fn sign_then_verify_for_every_alg() {
        for alg in SigningAlg::ALL {
            let key = TestKey::new(alg);
            let claims = json!({"sub": "client-1", "exp": 1_900_000_000, "n": [1, {"a": null}]});
            let token = key.sign(&claims);
            assert_eq!(
                verify_jwt(&key.set(), &token).expect("valid"),
                claims,
                "{alg}"
            );
            let header: Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(token.split('.').next().expect("valid"))
                    .expect("valid"),
            )
            .expect("valid");
            assert_eq!(
                header,
                json!({"alg": alg.label(), "typ": "JWT", "kid": key.kid()})
            );
            // Another key of the same set does not verify it.
            let other = TestKey::new(alg);
            let mut swapped = other.jwk.clone();
            swapped.kid = key.jwk.kid.clone();
            let set = JwkSet {
                keys: vec![swapped],
            };
            assert_eq!(code(verify_jwt(&set, &token)), "jwt.bad_signature", "{alg}");
        }
    }

    #[test]
    fn signing_refuses_wrong_inputs() {
        let ed = TestKey::new(SigningAlg::EdDSA);
        let es = TestKey::new(SigningAlg::ES256);
        let claims = json!({});
        for bad in [json!([]), json!("x"), json!(null), json!(1)] {
            let e = sign_jwt(ed.alg, &ed.pkcs8, ed.kid(), &bad).expect_err("refused");
            assert_eq!(e.code(), "jwt.claims_not_object");
        }
        // The kid must be the key's own thumbprint.
        let e = sign_jwt(ed.alg, &ed.pkcs8, es.kid(), &claims).expect_err("refused");
        assert_eq!(e.code(), "key.kid_mismatch");
        assert!(e.to_string().contains(ed.kid()), "{e}");
        let e = sign_jwt(ed.alg, &ed.pkcs8, "", &claims).expect_err("refused");
        assert_eq!(e.code(), "key.kid_mismatch");
        // A key of another type, or garbage, is refused with the algorithm named.
        for alg in [SigningAlg::ES256, SigningAlg::RS256] {
            let e = sign_jwt(alg, &ed.pkcs8, ed.kid(), &claims).expect_err("refused");
            assert_eq!(e.code(), "key.rejected");
            assert!(e.to_string().contains(alg.label()), "{e}");
        }
        let e = sign_jwt(SigningAlg::EdDSA, &es.pkcs8, es.kid(), &claims).expect_err("refused");
        assert_eq!(e.code(), "key.rejected");
        for cut in [0, 1, 10, es.pkcs8.len() - 1] {
            assert!(sign_jwt(es.alg, &es.pkcs8[..cut], es.kid(), &claims).is_err());
        }
        // Too large to be verified: refused before signing.
        let big = json!({"pad": "x".repeat(MAX_JWT_BYTES)});
        let e = sign_jwt(ed.alg, &ed.pkcs8, ed.kid(), &big).expect_err("refused");
        assert_eq!(e.code(), "jwt.too_large");
    }

    #[test]
    fn size_cap_is_exact() {
        let key = TestKey::new(SigningAlg::EdDSA);
        let set = key.set();
        let pads = (MAX_JWT_BYTES * 3 / 4 - 200)..(MAX_JWT_BYTES * 3 / 4);
        // Verification: a token of exactly MAX_JWT_BYTES passes, one byte more does not. A header
        // member of 0–2 extra bytes lets the lengths reach every total.
        let exact = (0..3)
            .flat_map(|extra| {
                let header = key.header(&format!(r#","x":"{}""#, "z".repeat(extra)));
                pads.clone().map(move |pad| (header.clone(), pad))
            })
            .map(|(header, pad)| {
                key.sign_raw(&header, &format!(r#"{{"p":"{}"}}"#, "y".repeat(pad)))
            })
            .find(|t| t.len() == MAX_JWT_BYTES)
            .expect("a token of exactly the cap");
        assert!(verify_jwt(&set, &exact).is_ok());
        assert_eq!(
            code(verify_jwt(&set, &format!("{exact}A"))),
            "jwt.too_large"
        );
        assert_eq!(
            code(verify_jwt(&set, &"a".repeat(10 * 1024 * 1024))),
            "jwt.too_large"
        );
        // Signing: every token produced fits and verifies; the first claims too large are refused.
        let mut fitted = 0;
        for pad in pads {
            match sign_jwt(
                key.alg,
                &key.pkcs8,
                key.kid(),
                &json!({"p": "y".repeat(pad)}),
            ) {
                Ok(t) => {
                    assert!(t.len() <= MAX_JWT_BYTES);
                    assert!(verify_jwt(&set, &t).is_ok());
                    fitted += 1;
                }
                Err(e) => {
                    assert_eq!(e.code(), "jwt.too_large");
                    break;
                }
            }
        }
        assert!(fitted > 0 && fitted < 200, "{fitted}");
    }

    #[test]
    fn hostile_headers_are_refused() {
        let key = TestKey::new(SigningAlg::ES256);
        let set = key.set();
        let claims = r#"{"sub":"x"}"#;
        assert!(verify_jwt(&set, &key.sign_raw(&key.header(""), claims)).is_ok());
        for name in REFUSED_HEADERS {
            let token = key.sign_raw(&key.header(&format!(r#","{name}":null"#)), claims);
            let e = verify_jwt(&set, &token).expect_err("refused");
            assert_eq!(e, KeyError::TokenHeaderRefused { name }, "{name}");
        }
        let embedded = format!(
            r#","jwk":{}"#,
            serde_json::to_string(&key.jwk).expect("valid")
        );
        assert_eq!(
            code(verify_jwt(
                &set,
                &key.sign_raw(&key.header(&embedded), claims)
            )),
            "jwt.header_refused"
        );
        let kid = key.kid();
        let cases = [
            // alg none, with and without a signature segment.
            (
                format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#),
                "jwt.alg_refused",
            ),
            (
                format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#),
                "jwt.alg_refused",
            ),
            (
                format!(r#"{{"alg":"es256","typ":"JWT","kid":"{kid}"}}"#),
                "jwt.alg_refused",
            ),
            (
                format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#),
                "jwt.alg_mismatch",
            ),
            (
                format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{kid}"}}"#),
                "jwt.alg_mismatch",
            ),
            (r#"{"alg":"ES256","typ":"JWT"}"#.to_string(), "jwt.no_kid"),
            (
                r#"{"alg":"ES256","typ":"JWT","kid":"nope"}"#.to_string(),
                "jwt.unknown_kid",
            ),
            (
                format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}","kid":"x"}}"#),
                "jwt.malformed",
            ),
            (
                format!(r#"{{"alg":"none","alg":"ES256","typ":"JWT","kid":"{kid}"}}"#),
                "jwt.malformed",
            ),
            (
                format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{kid}"}}"#),
                "jwt.malformed",
            ),
            (
                format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#),
                "jwt.malformed",
            ),
            (
                format!(r#"{{"alg":["ES256"],"typ":"JWT","kid":"{kid}"}}"#),
                "jwt.malformed",
            ),
            (format!(r#"{{"typ":"JWT","kid":"{kid}"}}"#), "jwt.malformed"),
            (
                r#"{"alg":"ES256","typ":"JWT","kid":7}"#.to_string(),
                "jwt.malformed",
            ),
            ("[]".to_string(), "jwt.malformed"),
            ("not json".to_string(), "jwt.malformed"),
        ];
        for (header, expected) in &cases {
            let token = key.sign_raw(header, claims);
            assert_eq!(code(verify_jwt(&set, &token)), *expected, "{header}");
        }
        // Case-insensitive typ values are accepted (RFC 7515 §4.1.9).
        for typ in ["jwt", "application/JWT"] {
            let header = format!(r#"{{"alg":"ES256","typ":"{typ}","kid":"{kid}"}}"#);
            assert!(
                verify_jwt(&set, &key.sign_raw(&header, claims)).is_ok(),
                "{typ}"
            );
        }
        // Classic unsigned token: header.claims. and header.claims
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#)),
            URL_SAFE_NO_PAD.encode(claims)
        );
        assert_eq!(code(verify_jwt(&set, &none)), "jwt.alg_refused");
        assert_eq!(
            code(verify_jwt(&set, none.trim_end_matches('.'))),
            "jwt.malformed"
        );
    }

    #[test]
    fn hmac_keyed_with_the_public_key_is_refused() {
        use ring::hmac;
        let key = TestKey::new(SigningAlg::RS256);
        let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, key.kid());
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&header),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"admin"}"#)
        );
        let jwk_json = serde_json::to_vec(&key.jwk).expect("valid");
        let mac = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &jwk_json),
            input.as_bytes(),
        );
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
        assert_eq!(code(verify_jwt(&key.set(), &token)), "jwt.alg_refused");
    }

    #[test]
    fn tampering_and_bad_structure_are_refused() {
        let key = TestKey::new(SigningAlg::EdDSA);
        let set = key.set();
        let token = key.sign(&json!({"sub": "a", "admin": false}));
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(r#"{"sub":"a","admin":true}"#);
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(code(verify_jwt(&set, &forged)), "jwt.bad_signature");
        let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).expect("valid");
        sig[10] ^= 1;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
        assert_eq!(code(verify_jwt(&set, &flipped)), "jwt.bad_signature");
        let short = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(&sig[..63])
        );
        assert_eq!(code(verify_jwt(&set, &short)), "jwt.bad_signature");
        for bad in [
            String::new(),
            ".".into(),
            "..".into(),
            "a.b.c.d".into(),
            "a.b.c.d.e".into(),
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
            format!("{} .{}.{}", parts[0], parts[1], parts[2]),
            format!("{}.{}./{}", parts[0], parts[1], &parts[2][1..]),
        ] {
            assert!(verify_jwt(&set, &bad).is_err(), "{bad}");
        }
        assert!(verify_jwt(&set, "a.b.c.d.e")
            .expect_err("refused")
            .to_string()
            .contains("JWE"));
        // Claims must be a JSON object; deep nesting is refused, not a stack overflow.
        assert_eq!(
            code(verify_jwt(&set, &key.sign_raw(&key.header(""), "[1]"))),
            "jwt.malformed"
        );
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(3000), "]".repeat(3000));
        assert_eq!(
            code(verify_jwt(&set, &key.sign_raw(&key.header(""), &deep))),
            "jwt.malformed"
        );
        // An empty set, and a set with the kid twice.
        assert_eq!(
            code(verify_jwt(&JwkSet::default(), &token)),
            "jwt.unknown_kid"
        );
        let twice = JwkSet {
            keys: vec![key.jwk.clone(), key.jwk.clone()],
        };
        assert_eq!(code(verify_jwt(&twice, &token)), "jwk.invalid");
        // A JWK broken in the set is refused, not trusted.
        let mut broken = key.jwk.clone();
        broken.alg = None;
        let set = JwkSet { keys: vec![broken] };
        assert_eq!(code(verify_jwt(&set, &token)), "jwk.invalid");
    }
}
