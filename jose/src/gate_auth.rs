//! How a gate signs every call it makes to the console, and how the console checks it.
//!
//! Header (one line): `Authorization: PalisadeGate id=<gate_id>,ts=<unix ms>,sig=<base64url>`,
//! where `sig` is the gate identity key's Ed25519 signature over the bytes
//! `palisade-gate-v1\n<METHOD>\n<path-and-query>\n<ts>\n<lowercase hex SHA-256 of the body>`
//! (the body of a GET is empty). The console looks the gate's public key up by `id`, checks the
//! signature and that `ts` is within its allowed skew (replay window), which is its policy.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use sha2::{Digest, Sha256};

use crate::ed25519::{PublicKey, SecretKey};
use crate::JoseError;

/// The authentication scheme name.
pub const SCHEME: &str = "PalisadeGate";

/// The bytes that are signed.
pub fn signing_input(method: &str, path_and_query: &str, ts_ms: i64, body: &[u8]) -> Vec<u8> {
    let digest = Sha256::digest(body);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("palisade-gate-v1\n{method}\n{path_and_query}\n{ts_ms}\n{hex}").into_bytes()
}

/// The `Authorization` header value for one request.
pub fn authorization(
    key: &SecretKey,
    gate_id: &str,
    method: &str,
    path_and_query: &str,
    ts_ms: i64,
    body: &[u8],
) -> String {
    let sig = key.sign(&signing_input(method, path_and_query, ts_ms, body));
    format!(
        "{SCHEME} id={gate_id},ts={ts_ms},sig={}",
        URL_SAFE_NO_PAD.encode(sig)
    )
}

/// A parsed `Authorization: PalisadeGate …` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateAuth {
    pub gate_id: String,
    pub ts_ms: i64,
    pub signature: Vec<u8>,
}

/// Parses a header value; each of `id`, `ts`, `sig` exactly once, nothing else.
pub fn parse(value: &str) -> Result<GateAuth, JoseError> {
    let bad = |detail: &str| JoseError::Corrupt {
        detail: format!("gate authorization: {detail}"),
    };
    let rest = value
        .strip_prefix(SCHEME)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| bad("not the PalisadeGate scheme"))?;
    let (mut id, mut ts, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad("a member has no value"))?;
        let slot = match k {
            "id" => &mut id,
            "ts" => &mut ts,
            "sig" => &mut sig,
            _ => return Err(bad("unknown member")),
        };
        if slot.replace(v).is_some() {
            return Err(bad("a member is repeated"));
        }
    }
    let (Some(id), Some(ts), Some(sig)) = (id, ts, sig) else {
        return Err(bad("id, ts and sig are required"));
    };
    if id.is_empty() {
        return Err(bad("empty id"));
    }
    Ok(GateAuth {
        gate_id: id.to_string(),
        ts_ms: ts.parse().map_err(|_| bad("ts is not an integer"))?,
        signature: URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| bad("sig is not unpadded base64url"))?,
    })
}

/// Checks a parsed header against the gate's public key and the request it came with.
pub fn verify(
    auth: &GateAuth,
    key: &PublicKey,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Result<(), JoseError> {
    if key.verifies(
        &signing_input(method, path_and_query, auth.ts_ms, body),
        &auth.signature,
    ) {
        Ok(())
    } else {
        Err(JoseError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_input_is_the_documented_bytes() {
        let input = signing_input("GET", "/gate-api/v1/bundle", 1_700_000_000_123, b"");
        assert_eq!(
            String::from_utf8(input).expect("utf-8"),
            "palisade-gate-v1\nGET\n/gate-api/v1/bundle\n1700000000123\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn round_trip_and_tampering() {
        let key =
            SecretKey::from_pkcs8(&SecretKey::generate_pkcs8().expect("valid")).expect("valid");
        let body = br#"{"applied_version":3,"last_error":null}"#;
        let h = authorization(&key, "gate-1", "POST", "/gate-api/v1/status", 42, body);
        let a = parse(&h).expect("parses");
        assert_eq!((a.gate_id.as_str(), a.ts_ms), ("gate-1", 42));
        let pk = key.public_key();
        assert!(verify(&a, &pk, "POST", "/gate-api/v1/status", body).is_ok());
        assert!(verify(&a, &pk, "GET", "/gate-api/v1/status", body).is_err());
        assert!(verify(&a, &pk, "POST", "/gate-api/v1/status?x", body).is_err());
        assert!(verify(&a, &pk, "POST", "/gate-api/v1/status", b"{}").is_err());
        let later = GateAuth {
            ts_ms: 43,
            ..a.clone()
        };
        assert!(verify(&later, &pk, "POST", "/gate-api/v1/status", body).is_err());
        for bad in [
            "Bearer x",
            "PalisadeGate id=a,ts=1",
            "PalisadeGate id=a,ts=1,sig=AA,sig=AA",
            "PalisadeGate id=a,ts=x,sig=AA",
            "PalisadeGate id=,ts=1,sig=AA",
            "PalisadeGate id=a,ts=1,sig=AA,x=1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
