//! Who is asking at the token endpoint: the client authentication a request presents (RFC 6749
//! §2.3.1 `client_secret_basic` / `client_secret_post`, RFC 7523 §2.2 `private_key_jwt`), read
//! strictly (exactly one method), and the verification of a `private_key_jwt` assertion against
//! the client's registered JWKS with the claim checks of RFC 7523 §3.

use std::collections::HashMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use http::HeaderMap;
use jose::{TypRule, VerifyKey};
use policy::bundle::BundleClient;
use serde_json::Value;

use super::TokenError;

/// `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew tolerated on an assertion's `exp`, `nbf` and `iat`.
pub const ASSERTION_LEEWAY_S: i64 = 30;

/// The client authentication a request carries.
pub enum Presented {
    /// `client_secret_basic` (`basic` true) or `client_secret_post`.
    Secret {
        client_id: String,
        secret: zeroize::Zeroizing<String>,
        basic: bool,
    },
    /// `private_key_jwt`; the client id is the assertion's `sub` (or the `client_id` parameter,
    /// which must then agree).
    Assertion { client_id: String, jwt: String },
}

impl Presented {
    pub fn client_id(&self) -> &str {
        match self {
            Presented::Secret { client_id, .. } | Presented::Assertion { client_id, .. } => {
                client_id
            }
        }
    }

    pub fn method(&self) -> &'static str {
        match self {
            Presented::Secret { basic: true, .. } => "client_secret_basic",
            Presented::Secret { basic: false, .. } => "client_secret_post",
            Presented::Assertion { .. } => "private_key_jwt",
        }
    }

    pub fn used_basic(&self) -> bool {
        matches!(self, Presented::Secret { basic: true, .. })
    }
}

/// Reads the one client authentication of a request, or the `invalid_request` /
/// `invalid_client` answer.
pub fn presented(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Presented, TokenError> {
    let basic = match headers.get(http::header::AUTHORIZATION) {
        None => None,
        Some(v) => Some(parse_basic(v.as_bytes())?),
    };
    let post = form.get("client_secret");
    let assertion = form.get("client_assertion");
    let methods = usize::from(basic.is_some())
        + usize::from(post.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(TokenError::invalid_request(
            "more than one client authentication method was used (RFC 6749 §2.3)",
        ));
    }
    if let Some((client_id, secret)) = basic {
        if form.get("client_id").is_some_and(|c| *c != client_id) {
            return Err(TokenError::invalid_request(
                "client_id differs from the one in the Authorization header",
            ));
        }
        return Ok(Presented::Secret {
            client_id,
            secret,
            basic: true,
        });
    }
    if let Some(secret) = post {
        let client_id = form.get("client_id").ok_or_else(|| {
            TokenError::invalid_request("client_secret was sent without client_id")
        })?;
        return Ok(Presented::Secret {
            client_id: client_id.clone(),
            secret: zeroize::Zeroizing::new(secret.clone()),
            basic: false,
        });
    }
    if let Some(jwt) = assertion {
        match form.get("client_assertion_type") {
            Some(t) if t == JWT_BEARER => {}
            Some(_) => {
                return Err(TokenError::invalid_request(
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ))
            }
            None => {
                return Err(TokenError::invalid_request(
                    "client_assertion was sent without client_assertion_type",
                ))
            }
        }
        let sub = unverified_subject(jwt).ok_or_else(|| {
            TokenError::invalid_client("the client assertion is not a JWT with a sub claim", false)
        })?;
        if form.get("client_id").is_some_and(|c| *c != sub) {
            return Err(TokenError::invalid_client(
                "client_id differs from the assertion's sub",
                false,
            ));
        }
        return Ok(Presented::Assertion {
            client_id: sub,
            jwt: jwt.clone(),
        });
    }
    Err(TokenError::invalid_client(
        "client authentication is required (client_secret_basic, client_secret_post or private_key_jwt)",
        false,
    ))
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(value: &[u8]) -> Result<(String, zeroize::Zeroizing<String>), TokenError> {
    let bad =
        || TokenError::invalid_client("the Authorization header is not valid HTTP Basic", true);
    let value = std::str::from_utf8(value).map_err(|_| bad())?;
    let (scheme, rest) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::invalid_client(
            "only HTTP Basic client authentication is accepted in the Authorization header",
            true,
        ));
    }
    let decoded = zeroize::Zeroizing::new(STANDARD.decode(rest.trim()).map_err(|_| bad())?);
    let text = std::str::from_utf8(&decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let decode = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let id = decode(id);
    if id.is_empty() {
        return Err(bad());
    }
    Ok((id, zeroize::Zeroizing::new(decode(secret))))
}

/// The `sub` of a compact JWT, read without verifying (only to find the client whose keys
/// then verify it).
fn unverified_subject(jwt: &str) -> Option<String> {
    if jwt.len() > jose::MAX_JWT_BYTES {
        return None;
    }
    let payload = jwt.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// Verifies a `private_key_jwt` assertion of `client` (RFC 7523 §3): signed by one of the
/// client's registered keys; `iss` and `sub` the client id; `aud` naming this authorisation
/// server (its issuer or its token endpoint URL); `exp` present, not past and at most
/// `max_lifetime_s` ahead; `nbf`/`iat` not in the future; a `jti`. Returns `(jti, exp)`.
pub fn verify_assertion(
    client: &BundleClient,
    jwt: &str,
    audiences: &[String],
    now_s: i64,
    max_lifetime_s: i64,
) -> Result<(String, i64), String> {
    let jwks = client
        .jwks
        .as_ref()
        .ok_or("the client has no registered JWKS")?;
    let keys: Vec<(String, VerifyKey)> = jwks
        .keys
        .iter()
        .filter_map(|k| {
            let kid = k.kid.clone()?;
            jose::verification_key(k).ok().map(|v| (kid, v))
        })
        .collect();
    let verified = jose::verify_compact(jwt, TypRule::ClientAssertion, |kid| {
        keys.iter()
            .find(|(k, _)| k == kid)
            .map(|(_, v)| v)
            .ok_or_else(|| jose::JoseError::TokenUnknownKid {
                kid: jose::truncate(kid),
            })
    })
    .map_err(|e| format!("the assertion: {e}"))?;
    let c = &verified.claims;
    let text = |name: &str| c.get(name).and_then(Value::as_str);
    if text("iss") != Some(client.client_id.as_str())
        || text("sub") != Some(client.client_id.as_str())
    {
        return Err("the assertion's iss and sub must both be the client id".into());
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => audiences.iter().any(|x| x == a),
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a))),
        _ => false,
    };
    if !aud_ok {
        return Err("the assertion's aud does not name this token endpoint".into());
    }
    let number = |name: &str| c.get(name).and_then(Value::as_f64).map(|f| f as i64);
    let exp = number("exp").ok_or("the assertion has no exp")?;
    if exp + ASSERTION_LEEWAY_S < now_s {
        return Err("the assertion expired".into());
    }
    if exp > now_s + max_lifetime_s + ASSERTION_LEEWAY_S {
        return Err(format!(
            "the assertion's exp is more than {max_lifetime_s} s ahead"
        ));
    }
    for name in ["nbf", "iat"] {
        if number(name).is_some_and(|t| t > now_s + ASSERTION_LEEWAY_S) {
            return Err(format!("the assertion's {name} is in the future"));
        }
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or("the assertion has no jti (or one over 256 characters)")?;
    Ok((jti.to_owned(), exp))
}
