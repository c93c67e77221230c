//! JWTs as compact JWS (RFC 7515 §7.1, RFC 7519): signing with a private key through `ring`,
//! and signature verification against keys found by `kid`.
//!
//! Verification follows RFC 8725: the key is found by the header's `kid`, and the algorithm is
//! the key's own (`alg` must equal the key's): `none`, HMAC and any other algorithm are refused
//! before any cryptography; headers that bring their own key or point at one (`jwk`, `jku`,
//! `x5u`, `x5c`) are refused, as are `crit` (no extension is understood, RFC 7515 §4.1.11) and
//! `b64` (RFC 7797); `typ` must be one the caller's [`TypRule`] accepts (RFC 8725 §3.11). Input
//! is capped at [`MAX_JWT_BYTES`] before it is decoded; JSON nesting is bounded by serde_json's
//! recursion limit (128), so cost is bounded for any input.
//!
//! Not here: time, issuer and audience claims; [`crate::claims::validate`] checks them against
//! a `now` given by the caller.

use std::borrow::Borrow;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use policy::jwk::{Jwk, JwkSet};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jwk::{jwk_from_parts, verification_key, PublicParts, VerifyKey};
use crate::{truncate, Alg, JoseError};

/// The largest token accepted or produced, in bytes (16 KiB). Real tokens are well under 2 KiB;
/// the cap bounds decoding and hashing cost for hostile input.
pub const MAX_JWT_BYTES: usize = 16 * 1024;

/// Header members refused by verification (RFC 8725 §3.10; RFC 7515 §4.1.11; RFC 7797).
pub const REFUSED_HEADERS: [&str; 6] = ["jwk", "jku", "x5u", "x5c", "crit", "b64"];

/// The `typ` a signed token declares (RFC 7515 §4.1.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Typ {
    /// `JWT` (RFC 7519 §5.1).
    Jwt,
    /// `at+jwt`: an OAuth 2.0 access token (RFC 9068 §2.1).
    AccessToken,
}

impl Typ {
    pub fn label(&self) -> &'static str {
        match self {
            Typ::Jwt => "JWT",
            Typ::AccessToken => "at+jwt",
        }
    }
}

/// Which header `typ` values a verification accepts. Compared case-insensitively, with or
/// without the `application/` prefix (RFC 7515 §4.1.9). A token without `typ` is refused by
/// both rules (explicit typing, RFC 8725 §3.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypRule {
    /// `JWT` only: the console's own checks of its keys.
    Jwt,
    /// `JWT` or `at+jwt`: a resource server; whether `at+jwt` is then required is a claim rule
    /// ([`crate::ClaimRules::require_typ_at_jwt`]).
    JwtOrAccessToken,
    /// A client assertion at a token endpoint (RFC 7523 §3, which does not require `typ`):
    /// no `typ`, `JWT` or `client-authentication+jwt` (RFC 7523bis), never `at+jwt`, so an
    /// access token cannot stand in for an assertion.
    ClientAssertion,
}

impl TypRule {
    fn accepts(&self, typ: &str) -> bool {
        let t = strip_application(typ);
        t.eq_ignore_ascii_case("JWT")
            || (*self == TypRule::JwtOrAccessToken && t.eq_ignore_ascii_case("at+jwt"))
            || (*self == TypRule::ClientAssertion
                && t.eq_ignore_ascii_case("client-authentication+jwt"))
    }
}

/// `typ` without a leading `application/` (case-insensitive).
pub(crate) fn strip_application(typ: &str) -> &str {
    match typ.get(..12) {
        Some(p) if p.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    }
}

/// The protected header signing writes, in this member order.
#[derive(Serialize)]
struct SignHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// The header members verification reads. Derived, so a duplicated `alg`, `kid` or `typ` is
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
pub struct SigningKey {
    alg: Alg,
    inner: Inner,
}

enum Inner {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair, SystemRandom),
    Rsa(RsaKeyPair, SystemRandom),
}

impl SigningKey {
    /// Loads the unencrypted PKCS #8 DER of a key of `alg`'s type (Ed25519: v1 or v2).
    pub fn load(alg: Alg, pkcs8: &[u8]) -> Result<Self, JoseError> {
        let rejected = |e: ring::error::KeyRejected| JoseError::PrivateKeyRejected {
            alg,
            detail: format!("it is not a PKCS #8 {} ({e})", alg.key_label()),
        };
        let inner = match alg {
            Alg::EdDSA => {
                Inner::Ed(Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(rejected)?)
            }
            Alg::ES256 => {
                let rng = SystemRandom::new();
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8,
                    &rng,
                )
                .map_err(rejected)?;
                Inner::Ec(pair, rng)
            }
            Alg::RS256 => Inner::Rsa(
                RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?,
                SystemRandom::new(),
            ),
        };
        Ok(SigningKey { alg, inner })
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The raw public parts of the key.
    pub fn public_parts(&self) -> Result<PublicParts, JoseError> {
        Ok(match &self.inner {
            Inner::Ed(pair) => PublicParts::Okp {
                x: pair.public_key().as_ref().to_vec(),
            },
            Inner::Ec(pair, _) => match pair.public_key().as_ref() {
                [0x04, xy @ ..] if xy.len() == 64 => PublicParts::Ec {
                    x: xy[..32].to_vec(),
                    y: xy[32..].to_vec(),
                },
                _ => return Err(JoseError::Crypto("unexpected P-256 public key form".into())),
            },
            Inner::Rsa(pair, _) => {
                let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                PublicParts::Rsa { n: c.n, e: c.e }
            }
        })
    }

    /// The public JWK, `kid` = its RFC 7638 thumbprint.
    pub fn public_jwk(&self) -> Result<Jwk, JoseError> {
        jwk_from_parts(self.alg, &self.public_parts()?)
    }

    fn signature_len(&self) -> usize {
        match &self.inner {
            Inner::Ed(_) | Inner::Ec(..) => 64,
            Inner::Rsa(pair, _) => pair.public().modulus_len(),
        }
    }

    /// Signs `message` with the key's algorithm.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        let failed = |_| JoseError::Crypto("the signature could not be computed".into());
        Ok(match &self.inner {
            Inner::Ed(pair) => pair.sign(message).as_ref().to_vec(),
            Inner::Ec(pair, rng) => pair.sign(rng, message).map_err(failed)?.as_ref().to_vec(),
            Inner::Rsa(pair, rng) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, rng, message, &mut sig)
                    .map_err(failed)?;
                sig
            }
        })
    }

    /// A compact JWS over exactly these header and payload bytes, without any check of them:
    /// for tests that need hostile headers signed by a real key.
    pub fn sign_compact(&self, header: &[u8], payload: &[u8]) -> Result<String, JoseError> {
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let sig = self.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(token)
    }
}

/// Length of the unpadded base64url encoding of `n` bytes.
fn b64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

/// Signs `claims` (a JSON object) as a compact JWS with the protected header
/// `{"alg":…,"typ":"JWT","kid":…}`. See [`sign_jwt_typed`].
pub fn sign_jwt(alg: Alg, pkcs8: &[u8], kid: &str, claims: &Value) -> Result<String, JoseError> {
    sign_jwt_typed(alg, pkcs8, kid, Typ::Jwt, claims)
}

/// Signs `claims` (a JSON object) as a compact JWS with the protected header
/// `{"alg":…,"typ":…,"kid":…}`. `pkcs8` is the unencrypted PKCS #8 DER of a key of `alg`'s
/// type; `kid` must be the thumbprint of that key's public JWK, so the token always resolves to
/// the key that signed it. Tokens above [`MAX_JWT_BYTES`] are refused, as verification would
/// refuse them.
pub fn sign_jwt_typed(
    alg: Alg,
    pkcs8: &[u8],
    kid: &str,
    typ: Typ,
    claims: &Value,
) -> Result<String, JoseError> {
    SigningKey::load(alg, pkcs8)?.sign_jwt(kid, typ, claims)
}

impl SigningKey {
    /// Signs `claims` (a JSON object) as a compact JWS with the protected header
    /// `{"alg":…,"typ":…,"kid":…}`, as [`sign_jwt_typed`] describes, with a key loaded once.
    pub fn sign_jwt(&self, kid: &str, typ: Typ, claims: &Value) -> Result<String, JoseError> {
        if !claims.is_object() {
            return Err(JoseError::ClaimsNotObject);
        }
        let expected = self.public_jwk()?.kid.unwrap_or_default();
        if kid != expected {
            return Err(JoseError::KidMismatch {
                kid: truncate(kid),
                expected,
            });
        }
        let header = SignHeader {
            alg: self.alg.label(),
            typ: typ.label(),
            kid,
        };
        let encode_failed = |e: serde_json::Error| JoseError::Crypto(e.to_string());
        let header = serde_json::to_vec(&header).map_err(encode_failed)?;
        let claims = serde_json::to_vec(claims).map_err(encode_failed)?;
        let size =
            b64_len(header.len()) + b64_len(claims.len()) + b64_len(self.signature_len()) + 2;
        if size > MAX_JWT_BYTES {
            return Err(JoseError::TokenTooLarge {
                size,
                limit: MAX_JWT_BYTES,
            });
        }
        self.sign_compact(&header, &claims)
    }
}

/// A token whose signature verified, before any claim was checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    pub alg: Alg,
    pub kid: String,
    /// The header's `typ` as written.
    pub typ: String,
    pub claims: Map<String, Value>,
}

/// Verifies a compact JWS JWT whose key `lookup` finds by `kid`, and returns its header facts
/// and claims (a JSON object).
///
/// Refuses, in this order: more than [`MAX_JWT_BYTES`]; anything but three base64url segments;
/// a header that is not a JSON object or repeats `alg`/`kid`/`typ`; the headers `jwk`, `jku`,
/// `x5u`, `x5c`, `crit`, `b64`; an `alg` other than EdDSA, ES256, RS256 (so `none` and HMAC);
/// a `typ` that `typ_rule` does not accept; no `kid`; whatever `lookup` refuses (an unknown
/// `kid`); an `alg` other than the key's; a signature that does not verify; claims that are not
/// a JSON object.
pub fn verify_compact<K: Borrow<VerifyKey>>(
    token: &str,
    typ_rule: TypRule,
    lookup: impl FnOnce(&str) -> Result<K, JoseError>,
) -> Result<Verified, JoseError> {
    if token.len() > MAX_JWT_BYTES {
        return Err(JoseError::TokenTooLarge {
            size: token.len(),
            limit: MAX_JWT_BYTES,
        });
    }
    let malformed = |detail: String| JoseError::TokenMalformed { detail };
    let mut segments = token.splitn(4, '.');
    let (Some(header_b64), Some(claims_b64), Some(sig_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(malformed(match token.split('.').count() {
            5 => "it has 5 segments: encrypted JWTs (JWE) are not accepted".into(),
            n => format!("it has {n} segments; a signed JWT has 3"),
        }));
    };
    let header = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| malformed("the header is not unpadded base64url".into()))?;
    let members: Map<String, Value> = serde_json::from_slice(&header)
        .map_err(|e| malformed(format!("the header is not a JSON object ({e})")))?;
    if let Some(name) = REFUSED_HEADERS
        .into_iter()
        .find(|name| members.contains_key(*name))
    {
        return Err(JoseError::TokenHeaderRefused { name });
    }
    let header: VerifyHeader = serde_json::from_slice(&header)
        .map_err(|e| malformed(format!("the header is invalid ({e})")))?;
    let alg = Alg::parse(&header.alg).ok_or_else(|| JoseError::TokenAlgRefused {
        alg: truncate(&header.alg),
    })?;
    let typ = match header.typ {
        Some(t) if typ_rule.accepts(&t) => t,
        Some(t) => {
            return Err(JoseError::TokenTyp {
                detail: format!(
                    "its typ is \"{}\", not \"JWT\"{}",
                    truncate(&t),
                    if typ_rule == TypRule::JwtOrAccessToken {
                        " or \"at+jwt\""
                    } else {
                        ""
                    }
                ),
            })
        }
        None if typ_rule == TypRule::ClientAssertion => String::new(),
        None => {
            return Err(JoseError::TokenTyp {
                detail: "its header has no typ; \"JWT\" is required".into(),
            })
        }
    };
    let kid = header.kid.ok_or(JoseError::TokenNoKid)?;
    let key = lookup(&kid)?;
    let key: &VerifyKey = key.borrow();
    if alg != key.alg() {
        return Err(JoseError::TokenAlgMismatch {
            alg,
            kid: truncate(&kid),
            key_alg: key.alg(),
        });
    }
    let sig = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| malformed("the signature is not unpadded base64url".into()))?;
    let signed = &token[..header_b64.len() + 1 + claims_b64.len()];
    if !key.verifies(signed.as_bytes(), &sig) {
        return Err(JoseError::TokenBadSignature);
    }
    let claims = URL_SAFE_NO_PAD
        .decode(claims_b64)
        .map_err(|_| malformed("the claims are not unpadded base64url".into()))?;
    match serde_json::from_slice::<Value>(&claims) {
        Ok(Value::Object(claims)) => Ok(Verified {
            alg,
            kid,
            typ,
            claims,
        }),
        Ok(_) => Err(malformed("the claims are not a JSON object".into())),
        Err(e) => Err(malformed(format!("the claims are not valid JSON ({e})"))),
    }
}

/// Verifies a compact JWS JWT typed `JWT` against `jwks` and returns its claims: the
/// console's check of its own keys. See [`verify_compact`]; in addition a `kid` present twice
/// in the set, or a JWK that is not a valid key for its `alg`, is refused. Time and audience
/// claims are the caller's to check.
pub fn verify_jwt(jwks: &JwkSet, token: &str) -> Result<Value, JoseError> {
    let verified = verify_compact(token, TypRule::Jwt, |kid| {
        let mut found = jwks.keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
        let jwk = found
            .next()
            .ok_or_else(|| JoseError::TokenUnknownKid { kid: truncate(kid) })?;
        if found.next().is_some() {
            return Err(JoseError::JwkInvalid {
                detail: format!(
                    "the set holds more than one key with kid \"{}\"",
                    truncate(kid)
                ),
            });
        }
        verification_key(jwk)
    })?;
    Ok(Value::Object(verified.claims))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A 2048-bit RSA key made with `openssl genpkey` (ring cannot generate RSA keys).
    pub const RSA_PKCS8: &[u8] = include_bytes!("../tests/data/rsa2048.pk8");

    pub struct TestKey {
        pub alg: Alg,
        pub pkcs8: Vec<u8>,
        pub jwk: Jwk,
    }

    impl TestKey {
        pub fn new(alg: Alg) -> Self {
            let rng = SystemRandom::new();
            let pkcs8 = match alg {
                Alg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
                    .expect("valid")
                    .as_ref()
                    .to_vec(),
                Alg::ES256 => {
                    EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                        .expect("valid")
                        .as_ref()
                        .to_vec()
                }
                Alg::RS256 => RSA_PKCS8.to_vec(),
            };
            let jwk = SigningKey::load(alg, &pkcs8)
                .expect("valid")
                .public_jwk()
                .expect("valid");
            TestKey { alg, pkcs8, jwk }
        }
        pub fn kid(&self) -> &str {
            self.jwk.kid.as_deref().expect("valid")
        }
        pub fn set(&self) -> JwkSet {
            JwkSet {
                keys: vec![self.jwk.clone()],
            }
        }
        pub fn sign(&self, claims: &Value) -> String {
            sign_jwt(self.alg, &self.pkcs8, self.kid(), claims).expect("valid")
        }
        /// A token with any header and claims bytes, validly signed by this key.
        pub fn sign_raw(&self, header: &str, claims: &str) -> String {
            SigningKey::load(self.alg, &self.pkcs8)
                .expect("valid")
                .sign_compact(header.as_bytes(), claims.as_bytes())
                .expect("valid")
        }
        pub fn header(&self, extra: &str) -> String {
            format!(
                r#"{{"alg":"{}","typ":"JWT","kid":"{}"{extra}}}"#,
                self.alg,
                self.kid()
            )
        }
    }

    fn code(r: Result<Value, JoseError>) -> &'static str {
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
        let signer = SigningKey::load(Alg::EdDSA, &pkcs8).expect("valid");
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let sig = URL_SAFE_NO_PAD.encode(signer.sign(input.as_bytes()).expect("valid"));
        assert_eq!(
            sig,
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
        let jwk = signer.public_jwk().expect("valid");
        assert_eq!(
            jwk.kid.as_deref(),
            Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        );
        // The RFC's token itself has no kid and no typ: refused.
        let set = JwkSet { keys: vec![jwk] };
        assert_eq!(
            code(verify_jwt(&set, &format!("{input}.{sig}"))),
            "jwt.malformed"
        );
    }

    #[test]
    fn sign_then_verify_for_every_alg() {
        for alg in Alg::ALL {
            let key = TestKey::new(alg);
            let claims = json!({"sub": "client-1", "exp": 1_900_000_000, "n": [1, {"a": null}]});
            let token = key.sign(&claims);
            assert_eq!(
                verify_jwt(&key.set(), &token).expect("valid"),
                claims,
                "{alg}"
            );
            // Another key under the same kid does not verify it.
            let other = match alg {
                Alg::RS256 => continue,
                _ => TestKey::new(alg),
            };
            let mut swapped = other.jwk.clone();
            swapped.kid = key.jwk.kid.clone();
            let set = JwkSet {
                keys: vec![swapped],
            };
            assert_eq!(code(verify_jwt(&set, &token)), "jwt.bad_signature", "{alg}");
        }
    }

    #[test]
    fn access_tokens_are_typed_and_accepted_only_where_asked() {
        let key = TestKey::new(Alg::EdDSA);
        let token = sign_jwt_typed(key.alg, &key.pkcs8, key.kid(), Typ::AccessToken, &json!({}))
            .expect("valid");
        assert_eq!(code(verify_jwt(&key.set(), &token)), "jwt.malformed");
        let vk = verification_key(&key.jwk).expect("valid");
        let v = verify_compact(&token, TypRule::JwtOrAccessToken, |_| Ok(&vk)).expect("valid");
        assert_eq!(v.typ, "at+jwt");
        for typ in ["application/at+jwt", "AT+JWT", "jwt"] {
            let t = key.sign_raw(
                &format!(r#"{{"alg":"EdDSA","typ":"{typ}","kid":"{}"}}"#, key.kid()),
                "{}",
            );
            assert!(verify_compact(&t, TypRule::JwtOrAccessToken, |_| Ok(&vk)).is_ok());
        }
        let t = key.sign_raw(
            &format!(
                r#"{{"alg":"EdDSA","typ":"dpop+jwt","kid":"{}"}}"#,
                key.kid()
            ),
            "{}",
        );
        assert_eq!(
            verify_compact(&t, TypRule::JwtOrAccessToken, |_| Ok(&vk))
                .expect_err("refused")
                .code(),
            "jwt.malformed"
        );
    }

    #[test]
    fn signing_refuses_wrong_inputs() {
        let ed = TestKey::new(Alg::EdDSA);
        let es = TestKey::new(Alg::ES256);
        for bad in [json!([]), json!("x"), json!(null), json!(1)] {
            let e = sign_jwt(ed.alg, &ed.pkcs8, ed.kid(), &bad).expect_err("refused");
            assert_eq!(e.code(), "jwt.claims_not_object");
        }
        let e = sign_jwt(ed.alg, &ed.pkcs8, es.kid(), &json!({})).expect_err("refused");
        assert_eq!(e.code(), "key.kid_mismatch");
        for alg in [Alg::ES256, Alg::RS256] {
            let e = sign_jwt(alg, &ed.pkcs8, ed.kid(), &json!({})).expect_err("refused");
            assert_eq!(e.code(), "key.rejected");
            assert!(e.to_string().contains(alg.label()), "{e}");
        }
        for cut in [0, 1, 10, es.pkcs8.len() - 1] {
            assert!(sign_jwt(es.alg, &es.pkcs8[..cut], es.kid(), &json!({})).is_err());
        }
        let big = json!({"pad": "x".repeat(MAX_JWT_BYTES)});
        let e = sign_jwt(ed.alg, &ed.pkcs8, ed.kid(), &big).expect_err("refused");
        assert_eq!(e.code(), "jwt.too_large");
    }

    #[test]
    fn size_cap_is_exact() {
        let key = TestKey::new(Alg::EdDSA);
        let set = key.set();
        let pads = (MAX_JWT_BYTES * 3 / 4 - 200)..(MAX_JWT_BYTES * 3 / 4);
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
    }

    #[test]
    fn hostile_headers_are_refused() {
        let key = TestKey::new(Alg::ES256);
        let set = key.set();
        let claims = r#"{"sub":"x"}"#;
        assert!(verify_jwt(&set, &key.sign_raw(&key.header(""), claims)).is_ok());
        for name in REFUSED_HEADERS {
            let token = key.sign_raw(&key.header(&format!(r#","{name}":null"#)), claims);
            assert_eq!(
                verify_jwt(&set, &token),
                Err(JoseError::TokenHeaderRefused { name }),
                "{name}"
            );
        }
        let kid = key.kid();
        let cases = [
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
                r#"{"alg":"ES256","typ":"JWT","kid":"../../etc/passwd"}"#.to_string(),
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
        for typ in ["jwt", "application/JWT"] {
            let header = format!(r#"{{"alg":"ES256","typ":"{typ}","kid":"{kid}"}}"#);
            assert!(
                verify_jwt(&set, &key.sign_raw(&header, claims)).is_ok(),
                "{typ}"
            );
        }
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
        let key = TestKey::new(Alg::RS256);
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
        let key = TestKey::new(Alg::EdDSA);
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
        for bad in [
            String::new(),
            ".".into(),
            "..".into(),
            "a.b.c.d".into(),
            "a.b.c.d.e".into(),
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
            format!("{} .{}.{}", parts[0], parts[1], parts[2]),
        ] {
            assert!(verify_jwt(&set, &bad).is_err(), "{bad}");
        }
        assert!(verify_jwt(&set, "a.b.c.d.e")
            .expect_err("refused")
            .to_string()
            .contains("JWE"));
        assert_eq!(
            code(verify_jwt(&set, &key.sign_raw(&key.header(""), "[1]"))),
            "jwt.malformed"
        );
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(3000), "]".repeat(3000));
        assert_eq!(
            code(verify_jwt(&set, &key.sign_raw(&key.header(""), &deep))),
            "jwt.malformed"
        );
        assert_eq!(
            code(verify_jwt(&JwkSet::default(), &token)),
            "jwt.unknown_kid"
        );
        let twice = JwkSet {
            keys: vec![key.jwk.clone(), key.jwk.clone()],
        };
        assert_eq!(code(verify_jwt(&twice, &token)), "jwk.invalid");
        let mut broken = key.jwk.clone();
        broken.alg = None;
        assert_eq!(
            code(verify_jwt(&JwkSet { keys: vec![broken] }, &token)),
            "jwk.invalid"
        );
    }
}
