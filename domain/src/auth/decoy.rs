//! Sign-in answers that do not tell who is an admin. A username that cannot sign in (unknown,
//! disabled, without a passkey) gets what a real admin gets: 200, a ceremony id, and assertion
//! options listing credential ids, the same for every attempt under that name (as a real
//! admin's are), derived with HMAC-SHA256 under a key derived from the master key, so they are
//! stable across restarts and replicas and cannot be told from real ones without that key.
//! The decoy ceremony is stored like a real one, is consumed on first use, and fails like a
//! real one given a credential the admin does not have, failed-finish throttle included.
//!
//! What stays observable: the time the answer takes (a real start also reads the passkeys),
//! and credential-id lengths and transports drawn from a fixed mix rather than from the
//! admins' real authenticators (a name whose decoy says `internal` while the admins use
//! security keys could be guessed a decoy by someone who knows that).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::RngCore;
use ring::hmac;
use secrecy::{ExposeSecret, SecretBox};
use serde_json::{json, Value};
use webauthn_rs::prelude::RequestChallengeResponse;

use crate::Error;

/// The purpose the decoy key is derived for (see `MasterKey::derive`).
pub const KEY_PURPOSE: &str = "palisade sign-in decoys v1";

/// Credential-id lengths seen from common authenticators (platform and security keys).
const ID_LENGTHS: [usize; 8] = [16, 16, 20, 32, 32, 32, 48, 64];
/// Transports lists as browsers report them at registration (`None`: not reported). Only
/// lists a browser without the credential turns down at once: a decoy naming `usb` or
/// `hybrid` would leave a mistyped name waiting at "insert your security key" or a QR code.
const TRANSPORTS: [Option<&[&str]>; 3] = [None, Some(&["internal"]), Some(&["internal"])];

pub struct Decoys {
    key: hmac::Key,
}

impl Decoys {
    pub fn new(key: &SecretBox<[u8; 32]>) -> Decoys {
        Decoys {
            key: hmac::Key::new(hmac::HMAC_SHA256, key.expose_secret()),
        }
    }

    /// `n` pseudo-random bytes for `label` and `username` (HMAC-SHA256 in counter mode).
    fn bytes(&self, label: &str, username: &str, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 32);
        let mut counter = 0u32;
        while out.len() < n {
            let mut ctx = hmac::Context::with_key(&self.key);
            for part in [label.as_bytes(), b"\0", username.as_bytes(), b"\0"] {
                ctx.update(part);
            }
            ctx.update(&counter.to_be_bytes());
            out.extend_from_slice(ctx.sign().as_ref());
            counter += 1;
        }
        out.truncate(n);
        out
    }

    /// The `allowCredentials` of `username`: one credential, sometimes two, as most admins
    /// have; the same list on every call.
    fn credentials(&self, username: &str) -> Vec<Value> {
        let picks = self.bytes("shape", username, 4);
        let count = if picks[0] < 205 { 1 } else { 2 };
        (0..count)
            .map(|i| {
                let pick = picks[1 + i];
                let len = ID_LENGTHS[usize::from(pick) % ID_LENGTHS.len()];
                let id = self.bytes(&format!("credential {i}"), username, len);
                let mut c = json!({ "type": "public-key", "id": URL_SAFE_NO_PAD.encode(id) });
                if let Some(t) = TRANSPORTS[usize::from(picks[3] ^ pick) % TRANSPORTS.len()] {
                    c["transports"] = json!(t);
                }
                c
            })
            .collect()
    }

    /// Assertion options for `username` shaped as webauthn-rs shapes a real admin's (`real`
    /// is such an answer's template: every field but the challenge and the credentials), with
    /// a fresh random challenge.
    pub fn options(&self, username: &str, template: &Value) -> Result<Value, Error> {
        let mut challenge = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut challenge);
        let mut v = template.clone();
        v["publicKey"]["challenge"] = json!(URL_SAFE_NO_PAD.encode(challenge));
        v["publicKey"]["allowCredentials"] = json!(self.credentials(username));
        // Through webauthn-rs's own type, so the fields and their order are its own.
        let typed: RequestChallengeResponse = serde_json::from_value(v)
            .map_err(|e| Error::Internal(format!("decoy sign-in options: {e}")))?;
        serde_json::to_value(&typed).map_err(|e| Error::Internal(e.to_string()))
    }
}

/// The fields of webauthn-rs's assertion options for the RP `rp_id` other than the challenge
/// and the credentials, as `Webauthn::start_passkey_authentication` sets them (the test
/// `a_decoy_answer_has_the_shape_of_a_real_one` in the server's HTTP tests holds them to it).
pub fn template(rp_id: &str) -> Value {
    json!({
        "publicKey": {
            "challenge": "",
            "timeout": 300000,
            "rpId": rp_id,
            "allowCredentials": [],
            "userVerification": "required",
        },
        "mediation": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoys(byte: u8) -> Decoys {
        Decoys::new(&SecretBox::new(Box::new([byte; 32])))
    }

    #[test]
    fn credentials_are_stable_per_name_and_key_and_differ_otherwise() {
        let d = decoys(1);
        assert_eq!(d.credentials("bob"), d.credentials("bob"));
        assert_ne!(d.credentials("bob"), d.credentials("carol"));
        assert_ne!(d.credentials("bob"), decoys(2).credentials("bob"));
        // Over many names: mostly one credential, lengths from the mix.
        let names: Vec<String> = (0..400).map(|i| format!("user{i}")).collect();
        let lists: Vec<Vec<Value>> = names.iter().map(|n| d.credentials(n)).collect();
        let two = lists.iter().filter(|l| l.len() == 2).count();
        assert!(
            (40..=120).contains(&two),
            "{two} of 400 with two credentials"
        );
        for c in lists.iter().flatten() {
            let id = URL_SAFE_NO_PAD
                .decode(c["id"].as_str().expect("test value"))
                .expect("test value");
            assert!(ID_LENGTHS.contains(&id.len()));
        }
    }
}
