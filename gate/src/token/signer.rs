//! The key the token endpoint signs with: the private half of the token key set's **active**
//! key, opened from the secrets sealed to this gate, loaded once per bundle and checked to be
//! the key the bundle publishes under that `kid` (so every token it signs verifies with the
//! JWKS). Also the lifetime cap: the key set's longest token lifetime.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use jose::{Alg, SigningKey};
use policy::bundle::Bundle;
use policy::keys::KeyState;
use policy::secrets::GateSecrets;
use zeroize::Zeroizing;

/// Whether, and with what, this gate issues tokens under the applied bundle.
pub enum TokenIssuing {
    /// The bundle names no token key set: `/oauth/token` is not served (the request goes to the
    /// routes like any other).
    Off,
    /// The endpoint answers 503 `temporarily_unavailable` with this reason (for the operator;
    /// the client sees a generic description).
    Unavailable(String),
    Ready(Box<TokenSigner>),
}

pub struct TokenSigner {
    pub key_set: String,
    pub kid: String,
    pub key: SigningKey,
    /// Seconds; a client's lifetime is capped by it. 0: the set states none (no cap).
    pub max_lifetime_s: u32,
}

impl TokenIssuing {
    pub fn is_ready(&self) -> bool {
        matches!(self, TokenIssuing::Ready(_))
    }

    /// What `bundle` (validated) and the `secrets` opened with it allow.
    pub fn of(bundle: &Bundle, secrets: Option<&GateSecrets>) -> TokenIssuing {
        let Some(name) = &bundle.token_key_set else {
            return TokenIssuing::Off;
        };
        match signer(bundle, name, secrets) {
            Ok(s) => TokenIssuing::Ready(Box::new(s)),
            Err(why) => TokenIssuing::Unavailable(why),
        }
    }
}

fn signer(
    bundle: &Bundle,
    name: &str,
    secrets: Option<&GateSecrets>,
) -> Result<TokenSigner, String> {
    let set = bundle
        .key_sets
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| format!("the token key set {name:?} is not in the bundle"))?;
    let active = set
        .keys
        .iter()
        .find(|k| KeyState::parse(&k.state) == Some(KeyState::Active))
        .ok_or_else(|| format!("key set {name:?} has no active key"))?;
    let secrets = secrets.ok_or_else(|| {
        "no signing key was delivered to this gate (it has no encryption key registered with \
         the console: re-enrol it or let it report)"
            .to_string()
    })?;
    let sealed = secrets
        .signing_keys
        .iter()
        .find(|k| k.key_set == name && k.kid == active.kid)
        .ok_or_else(|| {
            format!(
                "the private half of key {} (active in {name:?}) was not delivered",
                active.kid
            )
        })?;
    let alg = Alg::parse(&sealed.alg).ok_or_else(|| {
        format!(
            "key {}: algorithm {:?} is not supported",
            active.kid, sealed.alg
        )
    })?;
    let der = Zeroizing::new(
        URL_SAFE_NO_PAD
            .decode(&sealed.pkcs8)
            .map_err(|_| format!("key {}: the private key is not base64url", active.kid))?,
    );
    let key = SigningKey::load(alg, &der).map_err(|e| format!("key {}: {e}", active.kid))?;
    let published = key
        .public_jwk()
        .map_err(|e| format!("key {}: {e}", active.kid))?;
    if published.kid.as_deref() != Some(active.kid.as_str()) {
        return Err(format!(
            "the delivered private key is not key {} of the bundle's JWKS",
            active.kid
        ));
    }
    Ok(TokenSigner {
        key_set: name.to_owned(),
        kid: active.kid.clone(),
        key,
        max_lifetime_s: set.max_token_lifetime_s,
    })
}
