//! An independent software WebAuthn authenticator for the HTTP tests.
//!
//! It plays the part of a browser plus a platform authenticator: from the
//! JSON options the server hands to `navigator.credentials.create()` /
//! `navigator.credentials.get()` it builds the JSON a browser would post back,
//! so the tests can register an admin passkey and sign in with it end to end.
//! Keys are ES256 (ECDSA P-256 with SHA-256), the attestation format is
//! "none" (no attestation statement), and credentials carry the BE/BS flags
//! of a synced passkey. It was written from the W3C WebAuthn spec (§5.8.1
//! client data, §6.1 authenticator data, §6.5 attestation), CTAP2 and
//! RFC 8152 (COSE), not from webauthn-rs, so that it checks the server
//! against the standard rather than against the library's own view of it.

#![allow(dead_code)]

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ciborium::value::Value as Cbor;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use rand::rngs::OsRng;
use rand::RngCore as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// authenticatorData flag bits (WebAuthn §6.1).
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;

/// COSE algorithm identifier of ES256 (RFC 8152 §8.1).
const COSE_ALG_ES256: i64 = -7;

/// One credential held by the authenticator.
struct StoredCredential {
    id: Vec<u8>,
    key: SigningKey,
    rp_id: String,
    user_handle: Vec<u8>,
    sign_count: u32,
}

/// A software authenticator holding any number of ES256 credentials.
pub struct SoftAuthenticator {
    credentials: Vec<StoredCredential>,
    user_verified: bool,
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftAuthenticator {
    /// An authenticator with no credentials that verifies its user (UV set).
    pub fn new() -> Self {
        Self {
            credentials: Vec::new(),
            user_verified: true,
        }
    }

    /// When `false`, the UV flag is left out of authenticatorData, as an
    /// authenticator that only tested user presence would do.
    pub fn set_user_verified(&mut self, uv: bool) {
        self.user_verified = uv;
    }

    /// `options` is the JSON the server sent for navigator.credentials.create():
    /// `{"publicKey": {"rp": {"id": .., "name": ..}, "user": {"id": <base64url>, "name": ..,
    /// "displayName": ..}, "challenge": <base64url>, "pubKeyCredParams": [...], ...}}`.
    ///
    /// Returns the JSON a browser would send back (the shape of webauthn-rs's
    /// `RegisterPublicKeyCredential`): `{"id", "rawId", "type": "public-key",
    /// "response": {"attestationObject", "clientDataJSON"}, "extensions": {}}`.
    pub fn register(&mut self, options: &Value, origin: &str) -> Value {
        let pk = public_key_options(options);
        let rp_id = match pk.pointer("/rp/id").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            // §5.4.2: when rp.id is omitted the caller's effective domain is used.
            None => effective_domain(origin),
        };
        let user_handle = decode_b64(
            pk.pointer("/user/id")
                .and_then(Value::as_str)
                .expect("creation options carry no publicKey.user.id"),
        );
        let challenge = challenge_of(pk);
        check_es256_offered(pk);

        let key = SigningKey::random(&mut OsRng);
        let mut cred_id = vec![0u8; 32];
        OsRng.fill_bytes(&mut cred_id);
        let sign_count = 1u32;

        let client_data = client_data_json("webauthn.create", &challenge, origin);

        // authenticatorData with attestedCredentialData (§6.1, §6.5.1).
        let mut auth_data = auth_data_prefix(&rp_id, self.flags() | FLAG_AT, sign_count);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: all zero, as with "none".
        let cred_id_len = u16::try_from(cred_id.len()).expect("credential id fits in u16");
        auth_data.extend_from_slice(&cred_id_len.to_be_bytes());
        auth_data.extend_from_slice(&cred_id);
        auth_data.extend_from_slice(&cose_public_key(&key));

        // Attestation object (§6.5.4), keys in CTAP2 canonical order.
        let attestation_object = to_cbor(&Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(Vec::new())),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]));

        let id = b64(&cred_id);
        self.credentials.push(StoredCredential {
            id: cred_id,
            key,
            rp_id,
            user_handle,
            sign_count,
        });

        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation_object),
                "clientDataJSON": b64(client_data.as_bytes()),
            },
            "extensions": {},
        })
    }

    /// `options` is the JSON for navigator.credentials.get(): `{"publicKey": {"challenge":
    /// b64url, "rpId": .., "allowCredentials": [{"type": "public-key", "id": b64url}, ...],
    /// "userVerification": ..}}`. With `allowCredentials` empty or absent, any stored
    /// credential for the RP id is used (a discoverable-credential sign-in).
    ///
    /// Returns `{"id", "rawId", "type": "public-key", "response": {"authenticatorData",
    /// "clientDataJSON", "signature", "userHandle"}, "extensions": {}}`, all binary as
    /// base64url without padding.
    ///
    /// Panics if no stored credential matches.
    pub fn authenticate(&mut self, options: &Value, origin: &str) -> Value {
        self.assert(options, origin, None)
    }

    /// Like [`SoftAuthenticator::authenticate`], but hashes `rp_id` into the
    /// rpIdHash instead of the options' RP id (the credential is still looked
    /// up by the options' RP id), to test that a wrong RP id is refused.
    pub fn authenticate_with_rp_id(&mut self, options: &Value, origin: &str, rp_id: &str) -> Value {
        self.assert(options, origin, Some(rp_id))
    }

    fn flags(&self) -> u8 {
        let uv = if self.user_verified { FLAG_UV } else { 0 };
        FLAG_UP | uv | FLAG_BE | FLAG_BS
    }

    fn assert(&mut self, options: &Value, origin: &str, rp_id_for_hash: Option<&str>) -> Value {
        let pk = public_key_options(options);
        let rp_id = match pk.get("rpId").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => effective_domain(origin),
        };
        let challenge = challenge_of(pk);
        let allowed: Vec<Vec<u8>> = pk
            .get("allowCredentials")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|c| c.get("id").and_then(Value::as_str))
                    .map(decode_b64)
                    .collect()
            })
            .unwrap_or_default();
        let flags = self.flags();

        let cred = self
            .credentials
            .iter_mut()
            .find(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))
            .unwrap_or_else(|| {
                panic!(
                    "SoftAuthenticator: no stored credential for rp id {rp_id:?} \
                     among allowCredentials {:?}",
                    allowed.iter().map(|id| b64(id)).collect::<Vec<_>>()
                )
            });
        cred.sign_count += 1;

        let client_data = client_data_json("webauthn.get", &challenge, origin);
        let auth_data = auth_data_prefix(rp_id_for_hash.unwrap_or(&rp_id), flags, cred.sign_count);

        // §6.3.3: sign authenticatorData || SHA-256(clientDataJSON).
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let signature: DerSignature = cred.key.sign(&signed);

        let id = b64(&cred.id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(client_data.as_bytes()),
                "signature": b64(signature.as_bytes()),
                "userHandle": b64(&cred.user_handle),
            },
            "extensions": {},
        })
    }
}

/// The `publicKey` member of the options (or the options themselves when the
/// server sent the bare dictionary).
fn public_key_options(options: &Value) -> &Value {
    options.get("publicKey").unwrap_or(options)
}

/// The challenge as a browser puts it in clientDataJSON: the challenge bytes,
/// base64url-encoded without padding (§5.8.1).
fn challenge_of(pk: &Value) -> String {
    let challenge = pk
        .get("challenge")
        .and_then(Value::as_str)
        .expect("options carry no publicKey.challenge string");
    b64(&decode_b64(challenge))
}

/// Panics, as a browser would reject the call, if pubKeyCredParams is
/// non-empty and does not offer ES256.
fn check_es256_offered(pk: &Value) {
    let Some(params) = pk.get("pubKeyCredParams").and_then(Value::as_array) else {
        return;
    };
    let offered = params
        .iter()
        .any(|p| p.get("alg").and_then(Value::as_i64) == Some(COSE_ALG_ES256));
    assert!(
        params.is_empty() || offered,
        "SoftAuthenticator: pubKeyCredParams does not offer ES256 (-7): {params:?}"
    );
}

/// clientDataJSON with its members in the order of §5.8.1.1, serialised compactly.
fn client_data_json(kind: &str, challenge: &str, origin: &str) -> String {
    let s = |v: &str| serde_json::to_string(v).expect("a string serialises");
    format!(
        "{{\"type\":{},\"challenge\":{},\"origin\":{},\"crossOrigin\":false}}",
        s(kind),
        s(challenge),
        s(origin)
    )
}

/// rpIdHash || flags || signCount (§6.1).
fn auth_data_prefix(rp_id: &str, flags: u8, sign_count: u32) -> Vec<u8> {
    let mut data = Vec::with_capacity(37);
    data.extend_from_slice(&Sha256::digest(rp_id.as_bytes()));
    data.push(flags);
    data.extend_from_slice(&sign_count.to_be_bytes());
    data
}

/// The credential public key as a COSE_Key (RFC 8152 §13.1.1), with its
/// integer keys in CTAP2 canonical order: 1, 3, -1, -2, -3.
fn cose_public_key(key: &SigningKey) -> Vec<u8> {
    let point = key.verifying_key().to_encoded_point(false);
    let x = point.x().expect("uncompressed point has x").to_vec();
    let y = point.y().expect("uncompressed point has y").to_vec();
    to_cbor(&Cbor::Map(vec![
        // kty: EC2
        (Cbor::Integer(1.into()), Cbor::Integer(2.into())),
        // alg: ES256
        (
            Cbor::Integer(3.into()),
            Cbor::Integer(COSE_ALG_ES256.into()),
        ),
        // crv: P-256
        (Cbor::Integer((-1).into()), Cbor::Integer(1.into())),
        // x and y coordinates, 32 bytes each
        (Cbor::Integer((-2).into()), Cbor::Bytes(x)),
        (Cbor::Integer((-3).into()), Cbor::Bytes(y)),
    ]))
}

fn to_cbor(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).expect("CBOR into a Vec cannot fail");
    out
}

/// The effective domain of an origin such as `http://localhost:3000`.
fn effective_domain(origin: &str) -> String {
    let rest = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let host_port = rest.split('/').next().unwrap_or(rest);
    let host = match host_port.strip_prefix('[') {
        // IPv6 literal: keep the brackets off, drop the port.
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host_port.split(':').next().unwrap_or(host_port),
    };
    host.to_ascii_lowercase()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url with or without padding, falling back to standard base64.
fn decode_b64(s: &str) -> Vec<u8> {
    let trimmed = s.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
        .unwrap_or_else(|e| panic!("SoftAuthenticator: {s:?} is not base64url or base64: {e}"))
}
