//! JSON Web Keys (RFC 7517) as the console publishes them and the gate reads them: the public
//! members only. A [`JwkSet`] is what `application/jwk-set+json` carries.
//!
//! It also owns [`validate_client_jwks`], the check of the public JWKS an admin pastes for a
//! `private_key_jwt` client (RFC 7523): which key types, curves, sizes and members are
//! accepted, and the refusal of any private key material. Invariants: validation never panics
//! and never quotes private key material in a message; a [`JwkSet`] it returns holds only
//! public members. Pure Rust (serde, serde_json, base64) so the browser runs the same checks.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One public JWK. Members absent for the key type are `None` and not serialised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `OKP` (Ed25519), `EC` (P-256) or `RSA`.
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `EdDSA`, `ES256` or `RS256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

/// A JWK Set (RFC 7517 §5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// The one severity type of this crate, shared with [`crate::validate`] and [`crate::redirect`].
pub use crate::validate::Severity;

/// Largest pasted JWKS, in bytes: ten 8192-bit RSA keys fit with room to spare.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Most keys a client may register at once (current, next and a few in rotation).
pub const MAX_CLIENT_KEYS: usize = 10;
/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3 requires 2048).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: usize = 8192;

/// Members that only a private (or symmetric) key has: RFC 7518 §6.2.2 (EC `d`), §6.3.2 (RSA
/// `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`), §6.4 (`oct` `k`), RFC 8037 §2 (OKP `d`).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// How long a pasted value may be when quoted in a message before it is cut with "…".
const SHOWN_CHARS: usize = 60;

/// One finding about a pasted client JWKS.
///
/// `key_index` is the position in `keys`, from 0, or `None` for the document as a whole;
/// messages number keys from 1 ("key 2"). `code` is stable, for the UI and tests; the message is
/// for people and never quotes private key material. Codes: `too_large`, `empty`,
/// `invalid_json`, `not_object`, `bare_jwk`, `missing_keys`, `keys_not_array`, `no_keys`,
/// `too_many_keys`, `key_not_object`, `private_key`, `missing_member`, `wrong_type`,
/// `unsupported_kty`, `unsupported_crv`, `bad_base64url`, `wrong_length`, `rsa_key_size`,
/// `rsa_exponent`, `unsupported_alg`, `alg_mismatch`, `bad_use`, `bad_key_ops`, `missing_kid`,
/// `empty_kid`, `duplicate_kid`, `certificate_ignored`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwksIssue {
    pub key_index: Option<usize>,
    pub severity: Severity,
    pub code: String,
    pub message: String,
}

impl JwksIssue {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Validates the public JWKS an admin pastes for a `private_key_jwt` client (RFC 7523 §2.2,
/// OpenID Connect Core §9): the keys the client signs its assertions with, which the token
/// endpoint will verify.
///
/// `Ok` holds the set, rebuilt from the public members only, and the warnings; it is safe to
/// store. `Err` holds every issue found (errors and warnings) and the paste must be refused.
/// The text is read as a `serde_json::Value` first, so members [`Jwk`] does not model (private
/// key members above all) are seen and refused rather than silently dropped.
///
/// Accepted keys: `OKP` Ed25519 (RFC 8037), `EC` P-256 (RFC 7518 §6.2) and `RSA` of
/// 2048–8192 bits with exponent 65537 (RFC 7518 §6.3), each for signing only. The key material
/// is checked for form and size, not for being a valid curve point.
pub fn validate_client_jwks(text: &str) -> Result<(JwkSet, Vec<JwksIssue>), Vec<JwksIssue>> {
    let mut v = JwksIssues::default();
    if text.len() > MAX_JWKS_BYTES {
        v.error(
            None,
            "too_large",
            format!(
                "the key set is {} bytes, more than the {} KiB allowed: paste only the public \
                 keys this client signs with",
                text.len(),
                MAX_JWKS_BYTES / 1024
            ),
        );
        return Err(v.0);
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        v.error(
            None,
            "empty",
            "the key set is empty: paste the client's public JWKS, {\"keys\": [ … ]}".into(),
        );
        return Err(v.0);
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            v.error(
                None,
                "invalid_json",
                format!("the key set is not valid JSON: {e}"),
            );
            return Err(v.0);
        }
    };
    let keys = match &value {
        Value::Object(doc) => match doc.get("keys") {
            Some(Value::Array(keys)) => keys,
            Some(other) => {
                v.error(
                    None,
                    "keys_not_array",
                    format!(
                        "\"keys\" is {}, not an array of keys (RFC 7517 §5.1)",
                        json_type(other)
                    ),
                );
                return Err(v.0);
            }
            None if doc.contains_key("kty") => {
                check_private_members(None, doc, &mut v);
                v.error(
                    None,
                    "bare_jwk",
                    "this is a single JWK, not a key set: wrap it as {\"keys\": [ … ]} \
                     (RFC 7517 §5)"
                        .into(),
                );
                return Err(v.0);
            }
            None => {
                v.error(
                    None,
                    "missing_keys",
                    "the object has no \"keys\" member: a JWK Set is {\"keys\": [ … ]} \
                     (RFC 7517 §5)"
                        .into(),
                );
                return Err(v.0);
            }
        },
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Value::Object(key) = item {
                    check_private_members(Some(i), key, &mut v);
                }
            }
            v.error(
                None,
                "not_object",
                "the key set is a JSON array: wrap it as {\"keys\": [ … ]} (RFC 7517 §5)".into(),
            );
            return Err(v.0);
        }
        other => {
            v.error(
                None,
                "not_object",
                format!(
                    "the key set is {}, not a JSON object: a JWK Set is {{\"keys\": [ … ]}} \
                     (RFC 7517 §5)",
                    json_type(other)
                ),
            );
            return Err(v.0);
        }
    };
    if keys.is_empty() {
        v.error(
            None,
            "no_keys",
            "the key set has no keys: paste at least the key this client signs with".into(),
        );
    } else if keys.len() > MAX_CLIENT_KEYS {
        v.error(
            None,
            "too_many_keys",
            format!(
                "the key set has {} keys, at most {MAX_CLIENT_KEYS} allowed: keep the current \
                 key and the next one in rotation",
                keys.len()
            ),
        );
    }
    let mut set = JwkSet::default();
    let mut kids: HashMap<String, usize> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        if let Some(jwk) = check_key(i, key, &mut kids, &mut v) {
            set.keys.push(jwk);
        }
    }
    if v.0.iter().any(JwksIssue::is_error) {
        Err(v.0)
    } else {
        Ok((set, v.0))
    }
}

#[derive(Default)]
struct JwksIssues(Vec<JwksIssue>);

impl JwksIssues {
    fn push(&mut self, key_index: Option<usize>, severity: Severity, code: &str, message: String) {
        self.0.push(JwksIssue {
            key_index,
            severity,
            code: code.to_owned(),
            message,
        });
    }
    fn error(&mut self, key_index: Option<usize>, code: &str, message: String) {
        self.push(key_index, Severity::Error, code, message);
    }
    fn warning(&mut self, key_index: Option<usize>, code: &str, message: String) {
        self.push(key_index, Severity::Warning, code, message);
    }
    fn errors(&self) -> usize {
        self.0.iter().filter(|i| i.is_error()).count()
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A pasted value fit to quote in a message: control characters escaped, cut at
/// [`SHOWN_CHARS`].
fn shown(s: &str) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// "key 2" or "key 2 (kid \"abc\")", numbered from 1.
fn key_label(i: Option<usize>, kid: Option<&str>) -> String {
    match (i, kid) {
        (Some(i), Some(kid)) if !kid.is_empty() => {
            format!("key {} (kid \"{}\")", i.saturating_add(1), shown(kid))
        }
        (Some(i), _) => format!("key {}", i.saturating_add(1)),
        (None, _) => "the key".to_owned(),
    }
}

/// Refuses a key with private members. Names the members, never their values.
fn check_private_members(i: Option<usize>, key: &Map<String, Value>, v: &mut JwksIssues) {
    let found: Vec<String> = PRIVATE_MEMBERS
        .iter()
        .filter(|m| key.contains_key(**m))
        .map(|m| format!("\"{m}\""))
        .collect();
    if found.is_empty() {
        return;
    }
    let kid = key.get("kid").and_then(Value::as_str);
    v.error(
        i,
        "private_key",
        format!(
            "{} contains private key material ({}): this is a private or secret key, not a \
             public one. Do not keep this paste anywhere, treat the key as compromised and \
             rotate it, then paste only the public key",
            key_label(i, kid),
            found.join(", ")
        ),
    );
}

/// Checks one key; returns it rebuilt from its public members when it raised no error.
fn check_key(
    i: usize,
    key: &Value,
    kids: &mut HashMap<String, usize>,
    v: &mut JwksIssues,
) -> Option<Jwk> {
    let Value::Object(key) = key else {
        v.error(
            Some(i),
            "key_not_object",
            format!(
                "key {} is {}, not a JSON object",
                i.saturating_add(1),
                json_type(key)
            ),
        );
        return None;
    };
    let errors_before = v.errors();
    let at = Some(i);
    check_private_members(at, key, v);

    let kid = match key.get("kid") {
        None => {
            v.warning(
                at,
                "missing_kid",
                format!(
                    "{} has no \"kid\": the client should name its key in each assertion's \
                     header so the right key is tried (RFC 7515 §4.1.4); add one",
                    key_label(at, None)
                ),
            );
            None
        }
        Some(Value::String(kid)) if kid.is_empty() => {
            v.error(
                at,
                "empty_kid",
                format!(
                    "{} has an empty \"kid\"; give it a name or remove it",
                    key_label(at, None)
                ),
            );
            None
        }
        Some(Value::String(kid)) => {
            if let Some(&first) = kids.get(kid) {
                v.error(
                    at,
                    "duplicate_kid",
                    format!(
                        "{} has the same \"kid\" as key {}: the kid must pick one key \
                         (RFC 7517 §4.5); rename one of them",
                        key_label(at, Some(kid)),
                        first.saturating_add(1)
                    ),
                );
            } else {
                kids.insert(kid.clone(), i);
            }
            Some(kid.as_str())
        }
        Some(other) => {
            v.error(
                at,
                "wrong_type",
                format!(
                    "{} has a \"kid\" that is {}, not a string",
                    key_label(at, None),
                    json_type(other)
                ),
            );
            None
        }
    };
    let name = key_label(at, kid);

    let mut jwk = Jwk {
        kty: String::new(),
        crv: None,
        x: None,
        y: None,
        n: None,
        e: None,
        kid: kid.map(str::to_owned),
        alg: None,
        use_: None,
    };
    let expected_alg = match string_member(key, "kty", &name, at, v) {
        None => None,
        Some(kty) => {
            jwk.kty = kty.to_owned();
            match kty {
                "OKP" => {
                    check_curve(key, "Ed25519", &name, at, v, &mut jwk);
                    jwk.x = key_bytes(key, "x", 32, &name, at, v);
                    Some("EdDSA")
                }
                "EC" => {
                    check_curve(key, "P-256", &name, at, v, &mut jwk);
                    jwk.x = key_bytes(key, "x", 32, &name, at, v);
                    jwk.y = key_bytes(key, "y", 32, &name, at, v);
                    Some("ES256")
                }
                "RSA" => {
                    check_rsa(key, &name, at, v, &mut jwk);
                    Some("RS256")
                }
                "oct" => {
                    v.error(
                        at,
                        "unsupported_kty",
                        format!(
                            "{name} is a symmetric (\"oct\") key: a shared secret is not a \
                             public key and private_key_jwt needs an asymmetric one; use an \
                             Ed25519, P-256 or RSA key pair"
                        ),
                    );
                    None
                }
                other => {
                    v.error(
                        at,
                        "unsupported_kty",
                        format!(
                            "{name} has key type \"{}\": Palisade accepts \"OKP\" (Ed25519), \
                             \"EC\" (P-256) and \"RSA\"",
                            shown(other)
                        ),
                    );
                    None
                }
            }
        }
    };

    match key.get("alg") {
        None => {}
        Some(Value::String(alg)) => {
            if !matches!(alg.as_str(), "EdDSA" | "ES256" | "RS256") {
                v.error(
                    at,
                    "unsupported_alg",
                    format!(
                        "{name} has \"alg\": \"{}\": Palisade verifies client assertions with \
                         EdDSA (Ed25519), ES256 (P-256) or RS256 (RSA) only; change or remove it",
                        shown(alg)
                    ),
                );
            } else if let Some(expected) = expected_alg.filter(|e| *e != alg.as_str()) {
                v.error(
                    at,
                    "alg_mismatch",
                    format!(
                        "{name} has \"alg\": \"{}\", which does not fit key type \"{}\": use \
                         \"{expected}\" or remove it",
                        shown(alg),
                        shown(&jwk.kty)
                    ),
                );
            } else {
                jwk.alg = Some(alg.clone());
            }
        }
        Some(other) => v.error(
            at,
            "wrong_type",
            format!(
                "{name} has an \"alg\" that is {}, not a string",
                json_type(other)
            ),
        ),
    }

    match key.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => jwk.use_ = Some(u.clone()),
        Some(Value::String(u)) => v.error(
            at,
            "bad_use",
            format!(
                "{name} has \"use\": \"{}\": a client's assertion key is for signatures, \
                 \"use\": \"sig\" (RFC 7517 §4.2); change or remove it",
                shown(u)
            ),
        ),
        Some(other) => v.error(
            at,
            "wrong_type",
            format!(
                "{name} has a \"use\" that is {}, not a string",
                json_type(other)
            ),
        ),
    }

    if let Some(ops) = key.get("key_ops") {
        check_key_ops(ops, &name, at, v);
    }

    let certs: Vec<String> = ["x5c", "x5u"]
        .into_iter()
        .filter(|m| key.contains_key(*m))
        .map(|m| format!("\"{m}\""))
        .collect();
    if !certs.is_empty() {
        v.warning(
            at,
            "certificate_ignored",
            format!(
                "{name} has {}: Palisade verifies with the bare public key and ignores \
                 certificates; they will not be stored",
                certs.join(" and ")
            ),
        );
    }

    (v.errors() == errors_before).then_some(jwk)
}

/// A member that must be a string: `None` (with an error) when it is missing or not one.
fn string_member<'a>(
    key: &'a Map<String, Value>,
    member: &str,
    name: &str,
    at: Option<usize>,
    v: &mut JwksIssues,
) -> Option<&'a str> {
    match key.get(member) {
        Some(Value::String(s)) => Some(s),
        None => {
            v.error(
                at,
                "missing_member",
                format!("{name} has no \"{member}\" member"),
            );
            None
        }
        Some(other) => {
            v.error(
                at,
                "wrong_type",
                format!(
                    "{name} has a \"{member}\" that is {}, not a string",
                    json_type(other)
                ),
            );
            None
        }
    }
}

fn check_curve(
    key: &Map<String, Value>,
    wanted: &str,
    name: &str,
    at: Option<usize>,
    v: &mut JwksIssues,
    jwk: &mut Jwk,
) {
    let Some(crv) = string_member(key, "crv", name, at, v) else {
        return;
    };
    if crv == wanted {
        jwk.crv = Some(crv.to_owned());
        return;
    }
    let why = match crv {
        "X25519" | "X448" => "a key-agreement curve, which cannot sign",
        _ => "not a curve Palisade verifies",
    };
    v.error(
        at,
        "unsupported_crv",
        format!(
            "{name} is on curve \"{}\", {why}: Palisade accepts \"{}\" keys on {wanted} only",
            shown(crv),
            shown(&jwk.kty)
        ),
    );
}

/// Decodes unpadded base64url (RFC 7515 §2, RFC 7517 §3); the error names what is wrong.
fn decode_base64url(s: &str) -> Result<Vec<u8>, String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.contains('=') {
        return Err(
            "has \"=\" padding, which base64url in JWKs leaves out (RFC 7515 §2); \
                    remove the trailing \"=\""
                .into(),
        );
    }
    if s.contains('+') || s.contains('/') {
        return Err(
            "is standard base64 (it has \"+\" or \"/\"), not base64url: replace \"+\" \
                    with \"-\" and \"/\" with \"_\" (RFC 7515 §2)"
                .into(),
        );
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        let what = if c.is_whitespace() {
            "whitespace".to_owned()
        } else {
            format!("\"{}\"", c.escape_debug())
        };
        return Err(format!("contains {what}, which base64url cannot contain"));
    }
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "is not valid base64url (its length or last character is wrong)".to_owned())
}

/// A base64url member that must decode to `len` bytes; returned as written when it does.
fn key_bytes(
    key: &Map<String, Value>,
    member: &str,
    len: usize,
    name: &str,
    at: Option<usize>,
    v: &mut JwksIssues,
) -> Option<String> {
    let text = string_member(key, member, name, at, v)?;
    match decode_base64url(text) {
        Err(why) => {
            v.error(at, "bad_base64url", format!("{name}: \"{member}\" {why}"));
            None
        }
        Ok(bytes) if bytes.len() != len => {
            v.error(
                at,
                "wrong_length",
                format!(
                    "{name}: \"{member}\" is {} bytes, but this curve needs exactly {len} \
                     (RFC 7518 §6.2.1.2, RFC 8037 §2)",
                    bytes.len()
                ),
            );
            None
        }
        Ok(_) => Some(text.to_owned()),
    }
}

/// Bits in a big-endian unsigned integer, leading zero bytes ignored.
fn bit_length(bytes: &[u8]) -> usize {
    let mut rest = bytes.iter().skip_while(|b| **b == 0);
    match rest.next() {
        None => 0,
        Some(first) => rest.count() * 8 + (8 - first.leading_zeros() as usize),
    }
}

fn check_rsa(
    key: &Map<String, Value>,
    name: &str,
    at: Option<usize>,
    v: &mut JwksIssues,
    jwk: &mut Jwk,
) {
    if let Some(n) = string_member(key, "n", name, at, v) {
        match decode_base64url(n) {
            Err(why) => v.error(at, "bad_base64url", format!("{name}: \"n\" {why}")),
            Ok(bytes) => {
                let bits = bit_length(&bytes);
                if bits < MIN_RSA_BITS {
                    v.error(
                        at,
                        "rsa_key_size",
                        format!(
                            "{name} is a {bits}-bit RSA key: too weak, at least {MIN_RSA_BITS} \
                             bits are needed (RFC 7518 §3.3)"
                        ),
                    );
                } else if bits > MAX_RSA_BITS {
                    v.error(
                        at,
                        "rsa_key_size",
                        format!(
                            "{name} is a {bits}-bit RSA key: more than the {MAX_RSA_BITS} bits \
                             Palisade verifies"
                        ),
                    );
                } else {
                    jwk.n = Some(n.to_owned());
                }
            }
        }
    }
    if let Some(e) = string_member(key, "e", name, at, v) {
        if e == "AQAB" {
            jwk.e = Some(e.to_owned());
        } else {
            let why = match decode_base64url(e) {
                Err(why) => why,
                Ok(bytes) if bytes.len() <= 8 => {
                    let value = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                    format!("is {value}")
                }
                Ok(_) => "is not 65537".to_owned(),
            };
            v.error(
                at,
                "rsa_exponent",
                format!(
                    "{name}: the public exponent \"e\" {why}; Palisade accepts only 65537, \
                     written \"AQAB\""
                ),
            );
        }
    }
}

fn check_key_ops(ops: &Value, name: &str, at: Option<usize>, v: &mut JwksIssues) {
    let Value::Array(ops) = ops else {
        v.error(
            at,
            "bad_key_ops",
            format!(
                "{name} has a \"key_ops\" that is {}, not an array (RFC 7517 §4.3)",
                json_type(ops)
            ),
        );
        return;
    };
    if ops.is_empty() {
        v.error(
            at,
            "bad_key_ops",
            format!(
                "{name} has an empty \"key_ops\", which allows no operation at all: write \
                 [\"verify\"] or remove it"
            ),
        );
        return;
    }
    let mut verify = 0;
    let mut others = Vec::new();
    for op in ops {
        match op {
            Value::String(s) if s == "verify" => verify += 1,
            Value::String(s) => others.push(format!("\"{}\"", shown(s))),
            other => others.push(json_type(other).to_owned()),
        }
    }
    if !others.is_empty() {
        v.error(
            at,
            "bad_key_ops",
            format!(
                "{name} allows {} in \"key_ops\": a client's public key is only used to verify \
                 its assertions; write [\"verify\"] or remove it (RFC 7517 §4.3)",
                others.join(", ")
            ),
        );
    } else if verify > 1 {
        v.error(
            at,
            "bad_key_ops",
            format!("{name} lists \"verify\" twice in \"key_ops\" (RFC 7517 §4.3); list it once"),
        );
    }
}

#[cfg(test)]
mod tests {
    //! Each rule of [`validate_client_jwks`] both ways, on the RFC example keys: RFC 8037 §A.2
    //! (Ed25519) and RFC 7517 §A.1 (P-256 and 2048-bit RSA).

    use serde_json::json;

    use super::*;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    /// RFC 8037 §A.1, the private half of [`ED_X`].
    const ED_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const EC_X: &str = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
    const EC_Y: &str = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
    const RSA_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn ed() -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "ed"})
    }
    fn ec() -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "kid": "1"})
    }
    fn rsa() -> Value {
        json!({"kty": "RSA", "n": RSA_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"})
    }

    fn with(mut key: Value, member: &str, value: Value) -> Value {
        if let Value::Object(m) = &mut key {
            m.insert(member.to_owned(), value);
        }
        key
    }
    fn without(mut key: Value, member: &str) -> Value {
        if let Value::Object(m) = &mut key {
            m.remove(member);
        }
        key
    }
    fn set(keys: Vec<Value>) -> String {
        json!({ "keys": keys }).to_string()
    }
    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The issues of a refused paste; fails when it was accepted.
    #[track_caller]
    fn refused(text: &str) -> Vec<JwksIssue> {
        match validate_client_jwks(text) {
            Ok(ok) => panic!("accepted: {ok:#?}"),
            Err(issues) => {
                assert!(issues.iter().any(JwksIssue::is_error), "{issues:#?}");
                issues
            }
        }
    }
    /// The set and warnings of an accepted paste; fails when it was refused.
    #[track_caller]
    fn accepted(text: &str) -> (JwkSet, Vec<JwksIssue>) {
        match validate_client_jwks(text) {
            Ok(ok) => {
                assert!(ok.1.iter().all(|i| !i.is_error()));
                ok
            }
            Err(issues) => panic!("refused: {issues:#?}"),
        }
    }
    #[track_caller]
    fn one_key_refused(key: Value, code: &str) -> JwksIssue {
        let issues = refused(&set(vec![key]));
        let found: Vec<&JwksIssue> = issues.iter().filter(|i| i.code == code).collect();
        assert_eq!(found.len(), 1, "expected one {code} in {issues:#?}");
        let i = found[0].clone();
        assert_eq!(
            (i.key_index, i.severity),
            (Some(0), Severity::Error),
            "{i:?}"
        );
        i
    }
    #[track_caller]
    fn one_key_clean(key: Value) -> Jwk {
        let (set, warnings) = accepted(&set(vec![key]));
        assert!(warnings.is_empty(), "{warnings:#?}");
        assert_eq!(set.keys.len(), 1);
        set.keys[0].clone()
    }
    fn codes(issues: &[JwksIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.code.as_str()).collect()
    }

    #[test]
    fn the_rfc_example_keys_are_accepted_with_their_public_members_only() {
        let ed_rfc = json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X});
        let text = set(vec![
            ed_rfc,
            with(ec(), "use", json!("sig")),
            with(with(rsa(), "ext", json!(true)), "x5t", json!("abc")),
        ]);
        let (set, warnings) = accepted(&text);
        // The RFC 8037 key has no kid.
        assert_eq!(codes(&warnings), ["missing_kid"]);
        assert_eq!(warnings[0].key_index, Some(0));
        let expected = JwkSet {
            keys: vec![
                Jwk {
                    kty: "OKP".into(),
                    crv: Some("Ed25519".into()),
                    x: Some(ED_X.into()),
                    y: None,
                    n: None,
                    e: None,
                    kid: None,
                    alg: None,
                    use_: None,
                },
                Jwk {
                    kty: "EC".into(),
                    crv: Some("P-256".into()),
                    x: Some(EC_X.into()),
                    y: Some(EC_Y.into()),
                    n: None,
                    e: None,
                    kid: Some("1".into()),
                    alg: None,
                    use_: Some("sig".into()),
                },
                Jwk {
                    kty: "RSA".into(),
                    crv: None,
                    x: None,
                    y: None,
                    n: Some(RSA_N.into()),
                    e: Some("AQAB".into()),
                    kid: Some("2011-04-29".into()),
                    alg: Some("RS256".into()),
                    use_: None,
                },
            ],
        };
        assert_eq!(set, expected);
        let stored = serde_json::to_string(&set).unwrap_or_default();
        assert!(
            !stored.contains("ext") && !stored.contains("x5t"),
            "{stored}"
        );
    }

    #[test]
    fn size_limit() {
        let text = set(vec![ed()]);
        let padded = format!("{text}{}", " ".repeat(MAX_JWKS_BYTES - text.len()));
        assert_eq!(padded.len(), MAX_JWKS_BYTES);
        accepted(&padded);
        let issues = refused(&format!("{padded} "));
        assert_eq!(codes(&issues), ["too_large"]);
        assert_eq!(issues[0].key_index, None);
    }

    #[test]
    fn document_shape() {
        assert_eq!(codes(&refused("")), ["empty"]);
        assert_eq!(codes(&refused(" \n ")), ["empty"]);
        let issues = refused("{\"keys\": [}");
        assert_eq!(codes(&issues), ["invalid_json"]);
        assert!(
            issues[0].message.contains("line 1 column"),
            "{}",
            issues[0].message
        );
        assert_eq!(codes(&refused("42")), ["not_object"]);
        assert_eq!(codes(&refused(&json!([ed()]).to_string())), ["not_object"]);
        assert_eq!(codes(&refused("{\"jwks\": []}")), ["missing_keys"]);
        assert_eq!(codes(&refused("{\"keys\": {}}")), ["keys_not_array"]);
        // A byte-order mark from a Windows editor is not an error.
        accepted(&format!("\u{feff}{}", set(vec![ed()])));
    }

    #[test]
    fn a_bare_jwk_gets_the_hint_to_wrap_it() {
        let issues = refused(&ed().to_string());
        assert_eq!(codes(&issues), ["bare_jwk"]);
        assert!(issues[0].message.contains("wrap it as {\"keys\": [ … ]}"));
        accepted(&set(vec![ed()]));
    }

    #[test]
    fn one_to_ten_keys() {
        assert_eq!(codes(&refused(&set(vec![]))), ["no_keys"]);
        let keys = |n: usize| -> Vec<Value> {
            (0..n)
                .map(|i| with(ed(), "kid", json!(format!("k{i}"))))
                .collect()
        };
        let (ten, _) = accepted(&set(keys(MAX_CLIENT_KEYS)));
        assert_eq!(ten.keys.len(), MAX_CLIENT_KEYS);
        assert_eq!(
            codes(&refused(&set(keys(MAX_CLIENT_KEYS + 1)))),
            ["too_many_keys"]
        );
    }

    #[test]
    fn a_key_must_be_an_object() {
        let issues = refused(&set(vec![ed(), json!("ed")]));
        assert_eq!(codes(&issues), ["key_not_object"]);
        assert_eq!(issues[0].key_index, Some(1));
    }

    #[test]
    fn private_members_are_refused_and_never_quoted() {
        for member in PRIVATE_MEMBERS {
            let i = one_key_refused(with(ed(), member, json!(ED_D)), "private_key");
            assert!(
                i.message.contains(&format!("(\"{member}\")")),
                "{}",
                i.message
            );
            assert!(i.message.contains("rotate it"), "{}", i.message);
            assert!(!i.message.contains(ED_D), "{}", i.message);
        }
        // RFC 8037 §A.1, as pasted from a key generator, bare: both the hint and the alarm.
        let private = json!({"kty": "OKP", "crv": "Ed25519", "d": ED_D, "x": ED_X});
        let issues = refused(&private.to_string());
        assert_eq!(codes(&issues), ["private_key", "bare_jwk"]);
        assert!(issues.iter().all(|i| !i.message.contains(ED_D)));
        // In an array too.
        let issues = refused(&json!([private]).to_string());
        assert_eq!(codes(&issues), ["private_key", "not_object"]);
        // Near miss: other members Palisade does not model are dropped, not refused.
        one_key_clean(with(ed(), "ext", json!(true)));
    }

    #[test]
    fn key_types() {
        one_key_refused(without(ed(), "kty"), "missing_member");
        one_key_refused(with(ed(), "kty", json!(1)), "wrong_type");
        let i = one_key_refused(
            json!({"kty": "OKP ", "crv": "Ed25519", "x": ED_X, "kid": "a"}),
            "unsupported_kty",
        );
        assert!(i.message.contains("\"OKP \""), "{}", i.message);
        // A symmetric key: unsupported and, being a secret, a leaked one.
        let oct = json!({"kty": "oct", "k": "GawgguFyGrWKav7AX4VKUg", "kid": "s"});
        let issues = refused(&set(vec![oct]));
        assert_eq!(codes(&issues), ["private_key", "unsupported_kty"]);
        assert!(issues[1].message.contains("symmetric"));
        one_key_clean(ed());
        one_key_clean(ec());
        one_key_clean(rsa());
    }

    #[test]
    fn curves() {
        let i = one_key_refused(with(ed(), "crv", json!("X25519")), "unsupported_crv");
        assert!(i.message.contains("key-agreement"), "{}", i.message);
        one_key_refused(with(ed(), "crv", json!("Ed448")), "unsupported_crv");
        for crv in ["P-384", "P-521", "secp256k1"] {
            let i = one_key_refused(with(ec(), "crv", json!(crv)), "unsupported_crv");
            assert!(
                i.message.contains("\"EC\" keys on P-256 only"),
                "{}",
                i.message
            );
        }
        one_key_refused(with(ec(), "crv", json!("Ed25519")), "unsupported_crv");
        one_key_refused(without(ec(), "crv"), "missing_member");
        assert_eq!(one_key_clean(ec()).crv.as_deref(), Some("P-256"));
    }

    #[test]
    fn coordinate_lengths() {
        let i = one_key_refused(with(ed(), "x", json!(b64(&[7; 31]))), "wrong_length");
        assert!(i.message.contains("\"x\" is 31 bytes"), "{}", i.message);
        one_key_refused(with(ed(), "x", json!(b64(&[7; 57]))), "wrong_length");
        one_key_refused(with(ec(), "y", json!(b64(&[7; 33]))), "wrong_length");
        one_key_refused(without(ec(), "y"), "missing_member");
        one_key_refused(without(ed(), "x"), "missing_member");
        one_key_refused(with(ed(), "x", json!(null)), "wrong_type");
        one_key_clean(with(ed(), "x", json!(b64(&[7; 32]))));
        one_key_clean(with(
            with(ec(), "x", json!(b64(&[0; 32]))),
            "y",
            json!(b64(&[0; 32])),
        ));
    }

    #[test]
    fn base64url_only() {
        let cases = [
            (format!("{ED_X}="), "padding"),
            (ED_X.replace('_', "/"), "standard base64"),
            (format!("+{}", &ED_X[1..]), "standard base64"),
            (format!("{} {}", &ED_X[..20], &ED_X[20..]), "whitespace"),
            (format!("{}.{}", &ED_X[..20], &ED_X[21..]), "\".\""),
            // Non-zero trailing bits: not the canonical encoding of any 32 bytes.
            (format!("{}p", &ED_X[..42]), "not valid base64url"),
            (String::new(), "is empty"),
        ];
        for (x, why) in cases {
            let i = one_key_refused(with(ed(), "x", json!(x)), "bad_base64url");
            assert!(i.message.contains(why), "{x}: {}", i.message);
        }
        let i = one_key_refused(
            with(rsa(), "n", json!(format!("{RSA_N}=="))),
            "bad_base64url",
        );
        assert!(i.message.contains("\"n\""));
        one_key_clean(ed());
    }

    #[test]
    fn rsa_modulus_size() {
        let n = |len: usize, first: u8| {
            let mut bytes = vec![0xa5; len];
            if let Some(b) = bytes.first_mut() {
                *b = first;
            }
            json!(b64(&bytes))
        };
        let i = one_key_refused(with(rsa(), "n", n(256, 0x7f)), "rsa_key_size");
        assert!(i.message.contains("2047-bit"), "{}", i.message);
        one_key_refused(with(rsa(), "n", n(128, 0xff)), "rsa_key_size");
        let i = one_key_refused(with(rsa(), "n", n(1025, 0x01)), "rsa_key_size");
        assert!(i.message.contains("8193-bit"), "{}", i.message);
        one_key_clean(with(rsa(), "n", n(256, 0x80)));
        one_key_clean(with(rsa(), "n", n(1024, 0xff)));
        // A leading zero byte is not counted.
        let mut padded = vec![0u8];
        padded.extend(URL_SAFE_NO_PAD.decode(RSA_N).unwrap_or_default());
        one_key_clean(with(rsa(), "n", json!(b64(&padded))));
        one_key_refused(without(rsa(), "n"), "missing_member");
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[0, 1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
    }

    #[test]
    fn rsa_exponent() {
        let i = one_key_refused(with(rsa(), "e", json!("Aw")), "rsa_exponent");
        assert!(i.message.contains("is 3"), "{}", i.message);
        // 65537, but not minimally encoded (RFC 7518 §6.3.1.2).
        one_key_refused(with(rsa(), "e", json!("AAEAAQ")), "rsa_exponent");
        one_key_refused(with(rsa(), "e", json!("AQAB=")), "rsa_exponent");
        one_key_refused(without(rsa(), "e"), "missing_member");
        one_key_clean(rsa());
    }

    #[test]
    fn alg_must_fit_the_key() {
        one_key_clean(with(ed(), "alg", json!("EdDSA")));
        one_key_clean(with(ec(), "alg", json!("ES256")));
        one_key_clean(rsa());
        let i = one_key_refused(with(ed(), "alg", json!("ES256")), "alg_mismatch");
        assert!(i.message.contains("use \"EdDSA\""), "{}", i.message);
        one_key_refused(with(ec(), "alg", json!("RS256")), "alg_mismatch");
        for alg in ["PS256", "ES384", "HS256", "none", "Ed25519"] {
            let i = one_key_refused(with(rsa(), "alg", json!(alg)), "unsupported_alg");
            assert!(i.message.contains("RS256"), "{}", i.message);
        }
        one_key_refused(with(rsa(), "alg", json!(["RS256"])), "wrong_type");
    }

    #[test]
    fn use_must_be_sig() {
        // RFC 7517 §A.1 marks its EC key for encryption.
        let i = one_key_refused(with(ec(), "use", json!("enc")), "bad_use");
        assert!(i.message.contains("\"enc\""));
        one_key_refused(with(ec(), "use", json!(true)), "wrong_type");
        assert_eq!(
            one_key_clean(with(ec(), "use", json!("sig")))
                .use_
                .as_deref(),
            Some("sig")
        );
    }

    #[test]
    fn key_ops_only_verify() {
        one_key_clean(with(ed(), "key_ops", json!(["verify"])));
        let i = one_key_refused(
            with(ed(), "key_ops", json!(["sign", "verify"])),
            "bad_key_ops",
        );
        assert!(i.message.contains("\"sign\""), "{}", i.message);
        one_key_refused(with(ed(), "key_ops", json!([])), "bad_key_ops");
        one_key_refused(with(ed(), "key_ops", json!("verify")), "bad_key_ops");
        one_key_refused(
            with(ed(), "key_ops", json!(["verify", "verify"])),
            "bad_key_ops",
        );
        one_key_refused(with(ed(), "key_ops", json!([1])), "bad_key_ops");
    }

    #[test]
    fn kid() {
        let (_, warnings) = accepted(&set(vec![without(ed(), "kid")]));
        assert_eq!(codes(&warnings), ["missing_kid"]);
        assert_eq!(warnings[0].severity, Severity::Warning);
        one_key_refused(with(ed(), "kid", json!("")), "empty_kid");
        one_key_refused(with(ed(), "kid", json!(7)), "wrong_type");
        let issues = refused(&set(vec![ed(), with(ec(), "kid", json!("ed"))]));
        assert_eq!(codes(&issues), ["duplicate_kid"]);
        assert_eq!(issues[0].key_index, Some(1));
        assert!(issues[0]
            .message
            .starts_with("key 2 (kid \"ed\") has the same \"kid\" as key 1"));
        // Two keys without kid are not duplicates of each other.
        let (_, warnings) = accepted(&set(vec![without(ed(), "kid"), without(ec(), "kid")]));
        assert_eq!(codes(&warnings), ["missing_kid", "missing_kid"]);
    }

    #[test]
    fn certificates_are_ignored_with_a_warning() {
        let key = with(
            with(rsa(), "x5c", json!(["MIIB..."])),
            "x5u",
            json!("https://a.example/c"),
        );
        let (set, warnings) = accepted(&set(vec![key]));
        assert_eq!(codes(&warnings), ["certificate_ignored"]);
        assert!(
            warnings[0].message.contains("\"x5c\" and \"x5u\""),
            "{}",
            warnings[0].message
        );
        assert_eq!(set.keys[0].n.as_deref(), Some(RSA_N));
        one_key_clean(rsa());
    }

    #[test]
    fn every_issue_of_every_key_is_reported() {
        let issues = refused(&set(vec![
            with(ed(), "use", json!("enc")),
            ec(),
            with(rsa(), "e", json!("Aw")),
        ]));
        let at: Vec<(Option<usize>, &str)> = issues
            .iter()
            .map(|i| (i.key_index, i.code.as_str()))
            .collect();
        assert_eq!(at, [(Some(0), "bad_use"), (Some(2), "rsa_exponent")]);
    }

    #[test]
    fn issues_round_trip_through_json() {
        let issues = refused(&set(vec![with(ed(), "d", json!(ED_D))]));
        let text = serde_json::to_string(&issues).unwrap_or_default();
        assert!(text.contains("\"severity\":\"error\""), "{text}");
        let back: Vec<JwksIssue> = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, issues);
    }

    #[test]
    fn odd_input_never_panics() {
        // Under the size limit, far beyond serde_json's nesting limit: an error, not a stack
        // overflow.
        let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
        let deep_keys = format!("{{\"keys\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        let odd = [
            "null",
            "{}",
            "{\"keys\":null}",
            "{\"keys\":[null,1,[],{}]}",
            "\"\u{0}\"",
            "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"\",\"e\":\"\"}]}",
            "{\"keys\":[{\"kty\":\"EC\",\"crv\":null,\"x\":1,\"y\":[]}]}",
            "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"é\"}]}",
            deep.as_str(),
            deep_keys.as_str(),
        ];
        for text in odd {
            assert!(validate_client_jwks(text).is_err(), "{text:.60}");
        }
    }
}
