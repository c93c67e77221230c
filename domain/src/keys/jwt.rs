//! JWTs as compact JWS (RFC 7515 §7.1, RFC 7519): signing with a set's key and signature
//! verification against a JWK Set — what the console uses to check its own keys (for example
//! after a rotation). The implementation is the `jose` crate's, shared with the gate, so both
//! follow the same RFC 8725 rules (algorithm from the JWK, `kid` lookup, `none`/HMAC/`jwk`/
//! `jku`/`x5u`/`x5c`/`crit`/`b64` refused, `typ` `JWT`, [`MAX_JWT_BYTES`] checked before
//! decoding); this module maps its refusals to [`KeyError`].
//!
//! Not here: time and audience claims. This module has no clock; [`verify_jwt`] returns the
//! verified claims and the caller checks them (`jose::claims::validate` does, given `now`).

use policy::jwk::JwkSet;
use serde_json::Value;

use super::jwk::jose_alg;
use super::{KeyError, SigningAlg};

pub use jose::MAX_JWT_BYTES;

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
    Ok(jose::sign_jwt(jose_alg(alg), pkcs8, kid, claims)?)
}

/// Verifies a compact JWS JWT typed `JWT` against `jwks` and returns its claims (a JSON
/// object); see [`jose::verify_jwt`] for the order of the checks. Time and audience claims are
/// the caller's to check.
pub fn verify_jwt(jwks: &JwkSet, token: &str) -> Result<Value, KeyError> {
    Ok(jose::verify_jwt(jwks, token)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::{generate_key, load_pkcs8};
    use crate::keys::jwk::public_jwk;
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    use secrecy::ExposeSecret;
    use serde_json::json;

    #[test]
    fn keys_from_certs_sign_and_verify_for_every_alg() {
        for alg in SigningAlg::ALL {
            let g = generate_key(alg.key_type()).expect("valid");
            let jwk = public_jwk(alg, &g.spki_der).expect("valid");
            let kid = jwk.kid.clone().expect("valid");
            let set = JwkSet { keys: vec![jwk] };
            let claims = json!({"sub": "client-1", "exp": 1_900_000_000});
            let token = sign_jwt(alg, g.pkcs8.expose_secret(), &kid, &claims).expect("valid");
            assert_eq!(verify_jwt(&set, &token), Ok(claims), "{alg}");
            let (signed, _) = token.rsplit_once('.').expect("three segments");
            let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]));
            assert_eq!(verify_jwt(&set, &forged), Err(KeyError::TokenBadSignature));
        }
    }

    #[test]
    fn refusals_keep_their_codes() {
        let g = generate_key(SigningAlg::EdDSA.key_type()).expect("valid");
        let jwk = public_jwk(SigningAlg::EdDSA, &g.spki_der).expect("valid");
        let kid = jwk.kid.clone().expect("valid");
        let pkcs8 = g.pkcs8.expose_secret();
        let code = |r: Result<String, KeyError>| r.expect_err("refused").code();
        assert_eq!(
            code(sign_jwt(SigningAlg::EdDSA, pkcs8, &kid, &json!([]))),
            "jwt.claims_not_object"
        );
        assert_eq!(
            code(sign_jwt(SigningAlg::EdDSA, pkcs8, "x", &json!({}))),
            "key.kid_mismatch"
        );
        let e = sign_jwt(SigningAlg::ES256, pkcs8, &kid, &json!({})).expect_err("refused");
        assert_eq!(e.code(), "key.rejected");
        assert!(e.to_string().contains("ES256"), "{e}");
        let set = JwkSet { keys: vec![jwk] };
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#)),
            URL_SAFE_NO_PAD.encode("{}")
        );
        assert_eq!(
            verify_jwt(&set, &none).expect_err("refused").code(),
            "jwt.alg_refused"
        );
        assert_eq!(
            verify_jwt(
                &JwkSet::default(),
                &sign_jwt(SigningAlg::EdDSA, pkcs8, &kid, &json!({})).expect("valid")
            )
            .expect_err("refused")
            .code(),
            "jwt.unknown_kid"
        );
        assert_eq!(
            verify_jwt(&set, &"a".repeat(MAX_JWT_BYTES + 1))
                .expect_err("refused")
                .code(),
            "jwt.too_large"
        );
    }

    #[test]
    fn rfc8037_key_in_the_certs_normal_form() {
        let seed = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .expect("valid");
        let mut pkcs8 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        pkcs8.extend_from_slice(&seed);
        let loaded = load_pkcs8(&pkcs8).expect("valid");
        assert_eq!(loaded.pkcs8().expose_secret(), pkcs8.as_slice());
        let jwk = public_jwk(SigningAlg::EdDSA, loaded.spki_der()).expect("valid");
        assert_eq!(
            jwk.kid.as_deref(),
            Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        );
        let kid = jwk.kid.clone().expect("valid");
        let token = sign_jwt(SigningAlg::EdDSA, &pkcs8, &kid, &json!({"a": 1})).expect("valid");
        assert!(verify_jwt(&JwkSet { keys: vec![jwk] }, &token).is_ok());
    }
}
