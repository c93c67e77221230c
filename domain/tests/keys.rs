//! `domain::keys` against an independent JOSE implementation (`jsonwebtoken` 9, default
//! features off): for EdDSA, ES256 and RS256, a freshly generated key's public JWK is published
//! in a JWK Set, read back by `jsonwebtoken`, and tokens cross both ways — ours verified by it,
//! its own verified by us. The `kid` is recomputed by hand from the published JSON (RFC 7638;
//! `jsonwebtoken` 9 has no thumbprint function). Also: an unknown `kid`, `alg: none` and a
//! tampered signature are refused by both.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use domain::certs::{generate_key, GeneratedKey};
use domain::keys::{public_jwk, sign_jwt, thumbprint, verify_jwt, KeyError, SigningAlg};
use jsonwebtoken::jwk::{JwkSet as TheirJwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use pkcs8::der::Decode as _;
use policy::jwk::JwkSet;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn their_alg(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::EdDSA => Algorithm::EdDSA,
        SigningAlg::ES256 => Algorithm::ES256,
        SigningAlg::RS256 => Algorithm::RS256,
    }
}

fn their_key_alg(alg: SigningAlg) -> KeyAlgorithm {
    match alg {
        SigningAlg::EdDSA => KeyAlgorithm::EdDSA,
        SigningAlg::ES256 => KeyAlgorithm::ES256,
        SigningAlg::RS256 => KeyAlgorithm::RS256,
    }
}

/// `jsonwebtoken`'s signing key for our PKCS #8: ring reads PKCS #8 for EdDSA and ES256, and
/// the inner PKCS #1 RSAPrivateKey for RS256.
fn their_encoding_key(alg: SigningAlg, key: &GeneratedKey) -> EncodingKey {
    let pkcs8 = key.pkcs8.expose_secret();
    match alg {
        SigningAlg::EdDSA => EncodingKey::from_ed_der(pkcs8),
        SigningAlg::ES256 => EncodingKey::from_ec_der(pkcs8),
        SigningAlg::RS256 => {
            let info = pkcs8::PrivateKeyInfo::from_der(pkcs8).expect("PKCS #8");
            EncodingKey::from_rsa_der(info.private_key)
        }
    }
}

fn their_validation(alg: SigningAlg) -> Validation {
    let mut v = Validation::new(their_alg(alg));
    v.set_audience(&["api"]);
    v
}

/// RFC 7638 §3 by hand, from the published JSON: the required members, sorted, no whitespace.
fn thumbprint_by_hand(published: &Value) -> String {
    let required: &[&str] = match published["kty"].as_str() {
        Some("RSA") => &["e", "kty", "n"],
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("OKP") => &["crv", "kty", "x"],
        other => panic!("unexpected kty {other:?}"),
    };
    let members: Vec<String> = required
        .iter()
        .map(|m| {
            format!(
                "\"{m}\":\"{}\"",
                published[m].as_str().expect("string member")
            )
        })
        .collect();
    let canonical = format!("{{{}}}", members.join(","));
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Replaces one character in the middle of the signature segment.
fn tamper_signature(token: &str) -> String {
    let (signed, sig) = token.rsplit_once('.').expect("three segments");
    let mut chars: Vec<char> = sig.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    format!("{signed}.{}", chars.into_iter().collect::<String>())
}

#[test]
fn every_alg_interoperates_with_jsonwebtoken() {
    for alg in SigningAlg::ALL {
        let key = generate_key(alg.key_type()).expect("generates");
        let jwk = public_jwk(alg, &key.spki_der).expect("public JWK");
        let kid = jwk.kid.clone().expect("kid");
        let set = JwkSet {
            keys: vec![jwk.clone()],
        };
        let published = serde_json::to_string(&set).expect("serialises");

        // The independent library reads the published set and finds the key by our kid.
        let theirs: TheirJwkSet = serde_json::from_str(&published).expect("jsonwebtoken parses");
        let their_jwk = theirs.find(&kid).expect("jsonwebtoken finds the kid");
        assert_eq!(
            their_jwk.common.key_algorithm,
            Some(their_key_alg(alg)),
            "{alg}"
        );
        assert_eq!(
            their_jwk.common.public_key_use,
            Some(PublicKeyUse::Signature),
            "{alg}"
        );
        let decoding = DecodingKey::from_jwk(their_jwk).expect("jsonwebtoken takes the JWK");

        // The kid is the RFC 7638 thumbprint of exactly what was published.
        let value: Value = serde_json::from_str(&published).expect("JSON");
        assert_eq!(thumbprint_by_hand(&value["keys"][0]), kid, "{alg}");
        let reparsed: policy::jwk::Jwk =
            serde_json::from_value(value["keys"][0].clone()).expect("our JWK type");
        assert_eq!(thumbprint(&reparsed).expect("thumbprint"), kid);

        // Ours signs, the independent library verifies (signature, exp, aud) and reads the claims.
        let claims = json!({"sub": "client-7", "aud": "api", "exp": 4_102_444_800_u64, "scope": "read write"});
        let token = sign_jwt(alg, key.pkcs8.expose_secret(), &kid, &claims).expect("signs");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.alg, their_alg(alg));
        assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let data = jsonwebtoken::decode::<Value>(&token, &decoding, &their_validation(alg))
            .unwrap_or_else(|e| panic!("{alg}: jsonwebtoken refuses our token: {e}"));
        assert_eq!(data.claims, claims, "{alg}");
        assert_eq!(verify_jwt(&set, &token), Ok(claims.clone()), "{alg}");

        // The independent library signs with the same private key; we verify.
        let mut their_header = Header::new(their_alg(alg));
        their_header.kid = Some(kid.clone());
        let their_token =
            jsonwebtoken::encode(&their_header, &claims, &their_encoding_key(alg, &key))
                .expect("jsonwebtoken signs");
        assert_eq!(verify_jwt(&set, &their_token), Ok(claims.clone()), "{alg}");

        // A tampered signature: refused by both.
        let tampered = tamper_signature(&token);
        assert_eq!(
            verify_jwt(&set, &tampered),
            Err(KeyError::TokenBadSignature),
            "{alg}"
        );
        assert!(
            jsonwebtoken::decode::<Value>(&tampered, &decoding, &their_validation(alg)).is_err()
        );

        // A token of another key, whose kid is not in the set.
        let other = generate_key(alg.key_type()).expect("generates");
        let other_kid = public_jwk(alg, &other.spki_der)
            .expect("JWK")
            .kid
            .expect("kid");
        let foreign =
            sign_jwt(alg, other.pkcs8.expose_secret(), &other_kid, &claims).expect("signs");
        assert_eq!(
            verify_jwt(&set, &foreign).map_err(|e| e.code()),
            Err("jwt.unknown_kid"),
            "{alg}"
        );

        // alg none: an unsigned token naming our kid, with and without a signature.
        let none_header =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#));
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let (_, real_sig) = token.rsplit_once('.').expect("three segments");
        for unsigned in [
            format!("{none_header}.{body}."),
            format!("{none_header}.{body}.{real_sig}"),
        ] {
            assert_eq!(
                verify_jwt(&set, &unsigned).map_err(|e| e.code()),
                Err("jwt.alg_refused"),
                "{alg}"
            );
            assert!(
                jsonwebtoken::decode::<Value>(&unsigned, &decoding, &their_validation(alg))
                    .is_err()
            );
        }
    }
}

#[test]
fn a_rotated_set_verifies_tokens_of_each_published_key() {
    // Next, active and retired keys of mixed algorithms side by side, as the JWKS carries them.
    let keys: Vec<(SigningAlg, GeneratedKey)> = SigningAlg::ALL
        .into_iter()
        .map(|alg| (alg, generate_key(alg.key_type()).expect("generates")))
        .collect();
    let set = JwkSet {
        keys: keys
            .iter()
            .map(|(alg, k)| public_jwk(*alg, &k.spki_der).expect("JWK"))
            .collect(),
    };
    let theirs: TheirJwkSet =
        serde_json::from_str(&serde_json::to_string(&set).expect("serialises")).expect("parses");
    for ((alg, key), jwk) in keys.iter().zip(&set.keys) {
        let kid = jwk.kid.as_deref().expect("kid");
        let claims = json!({"sub": kid, "aud": "api", "exp": 4_102_444_800_u64});
        let token = sign_jwt(*alg, key.pkcs8.expose_secret(), kid, &claims).expect("signs");
        assert_eq!(verify_jwt(&set, &token), Ok(claims.clone()));
        let their_jwk = theirs.find(kid).expect("found");
        let decoding = DecodingKey::from_jwk(their_jwk).expect("key");
        assert!(jsonwebtoken::decode::<Value>(&token, &decoding, &their_validation(*alg)).is_ok());
        // Re-labelled with another key's alg: refused (the JWK's alg decides).
        let (header, rest) = token.split_once('.').expect("segments");
        let mut h: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("b64")).expect("json");
        for other in SigningAlg::ALL.into_iter().filter(|a| a != alg) {
            h["alg"] = json!(other.label());
            let relabelled = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(h.to_string()));
            assert_eq!(
                verify_jwt(&set, &relabelled).map_err(|e| e.code()),
                Err("jwt.alg_mismatch")
            );
        }
    }
}
