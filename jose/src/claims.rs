//! The claims of a verified token checked against what a resource server accepts: `typ`
//! `at+jwt` when required (RFC 9068 §4), `iss` (RFC 7519 §4.1.1), `aud` (§4.1.3), and the times
//! `exp` (§4.1.4, required here), `nbf` (§4.1.5) and `iat` (§4.1.6) with a leeway for clock
//! skew. `now` is a parameter: this crate has no clock.
//!
//! Also reads the facts a gate acts on: the subject, the client (`client_id`, RFC 9068 §2.2 /
//! RFC 8693 §4.3, else OpenID Connect's `azp`) and the scopes (`scope`, space-separated,
//! RFC 9068 §2.2.3).

use serde_json::Value;

use crate::jwt::{strip_application, Verified};
use crate::JoseError;

/// What a token must satisfy beyond its signature.
#[derive(Clone, Copy, Debug)]
pub struct ClaimRules<'a> {
    /// The exact `iss` accepted.
    pub issuer: &'a str,
    /// Accepted `aud` values: the token's `aud` (a string or an array) must hold one of them.
    /// An empty list accepts no token.
    pub audiences: &'a [String],
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway_s: u64,
    /// Require the header `typ` `at+jwt` (RFC 9068 §4).
    pub require_typ_at_jwt: bool,
}

/// The facts of a token that passed [`validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validated {
    /// `exp`, in seconds since the epoch (fractions dropped).
    pub exp: i64,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
}

/// Checks `v`'s claims against `rules` at `now_s` (seconds since the epoch), in this order:
/// `typ`, `iss`, `aud`, `exp` (required: a token that never expires is refused), `nbf`, `iat`,
/// then the types of `sub`, `client_id`/`azp` and `scope`.
pub fn validate(v: &Verified, rules: &ClaimRules<'_>, now_s: i64) -> Result<Validated, JoseError> {
    if rules.require_typ_at_jwt && !strip_application(&v.typ).eq_ignore_ascii_case("at+jwt") {
        return Err(JoseError::NotAccessToken);
    }
    let c = &v.claims;
    match c.get("iss") {
        None => return Err(JoseError::ClaimMissing { name: "iss" }),
        Some(Value::String(iss)) if iss == rules.issuer && !iss.is_empty() => {}
        Some(_) => return Err(JoseError::WrongIssuer),
    }
    let aud_ok = match c.get("aud") {
        None => return Err(JoseError::ClaimMissing { name: "aud" }),
        Some(Value::String(a)) => rules.audiences.iter().any(|x| x == a),
        Some(Value::Array(list)) => list.iter().any(|a| {
            a.as_str()
                .is_some_and(|a| rules.audiences.iter().any(|x| x == a))
        }),
        Some(_) => {
            return Err(JoseError::ClaimInvalid {
                name: "aud",
                detail: "it is neither a string nor an array".into(),
            })
        }
    };
    if !aud_ok {
        return Err(JoseError::WrongAudience);
    }
    let leeway = i64::try_from(rules.leeway_s).unwrap_or(i64::MAX);
    let exp = numeric_date(c, "exp")?.ok_or(JoseError::ClaimMissing { name: "exp" })?;
    if now_s >= exp.saturating_add(leeway) {
        return Err(JoseError::Expired);
    }
    if let Some(nbf) = numeric_date(c, "nbf")? {
        if now_s.saturating_add(leeway) < nbf {
            return Err(JoseError::NotYetValid);
        }
    }
    if let Some(iat) = numeric_date(c, "iat")? {
        if iat > now_s.saturating_add(leeway) {
            return Err(JoseError::IssuedInFuture);
        }
    }
    let subject = string_claim(c, "sub")?;
    let client_id = match string_claim(c, "client_id")? {
        Some(id) => Some(id),
        None => string_claim(c, "azp")?,
    };
    let scopes = string_claim(c, "scope")?
        .map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(Validated {
        exp,
        subject,
        client_id,
        scopes,
    })
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds, possibly fractional (floored).
fn numeric_date(
    c: &serde_json::Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, JoseError> {
    match c.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                // Saturating float-to-int cast: out-of-range dates become the extremes.
                Ok(Some(f.floor() as i64))
            } else {
                Err(JoseError::ClaimInvalid {
                    name,
                    detail: "it is not a usable number".into(),
                })
            }
        }
        Some(_) => Err(JoseError::ClaimInvalid {
            name,
            detail: "it is not a number of seconds".into(),
        }),
    }
}

fn string_claim(
    c: &serde_json::Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, JoseError> {
    match c.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JoseError::ClaimInvalid {
            name,
            detail: "it is not a string".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Alg;
    use serde_json::json;

    fn token(typ: &str, claims: Value) -> Verified {
        let Value::Object(claims) = claims else {
            panic!("object")
        };
        Verified {
            alg: Alg::EdDSA,
            kid: "k".into(),
            typ: typ.into(),
            claims,
        }
    }

    fn rules(aud: &[String]) -> ClaimRules<'_> {
        ClaimRules {
            issuer: "https://console.example",
            audiences: aud,
            leeway_s: 30,
            require_typ_at_jwt: false,
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn good() -> Value {
        json!({"iss": "https://console.example", "aud": "api", "exp": NOW + 60, "iat": NOW,
               "nbf": NOW, "sub": "u1", "client_id": "c1", "scope": "read  write"})
    }

    fn check(typ: &str, claims: Value) -> Result<Validated, JoseError> {
        let aud = vec!["api".to_string(), "other".to_string()];
        validate(&token(typ, claims), &rules(&aud), NOW)
    }

    fn with(k: &str, v: Value) -> Value {
        let mut c = good();
        c[k] = v;
        c
    }

    fn without(k: &str) -> Value {
        let mut c = good();
        c.as_object_mut().expect("object").remove(k);
        c
    }

    #[test]
    fn a_good_token_passes_and_its_facts_are_read() {
        let v = check("JWT", good()).expect("valid");
        assert_eq!(
            v,
            Validated {
                exp: NOW + 60,
                subject: Some("u1".into()),
                client_id: Some("c1".into()),
                scopes: vec!["read".into(), "write".into()],
            }
        );
        let v = check("JWT", with("aud", json!(["x", "other"]))).expect("valid");
        assert_eq!(v.exp, NOW + 60);
        let v = check("JWT", with("azp", json!("c2"))).expect("valid");
        assert_eq!(
            v.client_id.as_deref(),
            Some("c1"),
            "client_id wins over azp"
        );
        let v = check("JWT", {
            let mut c = without("client_id");
            c["azp"] = json!("c2");
            c
        })
        .expect("valid");
        assert_eq!(v.client_id.as_deref(), Some("c2"));
        assert_eq!(
            check("JWT", with("exp", json!(NOW as f64 + 0.5))).map(|v| v.exp),
            Ok(NOW)
        );
    }

    #[test]
    fn times_are_checked_with_the_leeway() {
        // exp: valid strictly before exp + leeway.
        assert!(check("JWT", with("exp", json!(NOW - 29))).is_ok());
        assert_eq!(
            check("JWT", with("exp", json!(NOW - 30))),
            Err(JoseError::Expired)
        );
        assert_eq!(
            check("JWT", without("exp")),
            Err(JoseError::ClaimMissing { name: "exp" })
        );
        // nbf and iat: up to the leeway in the future.
        assert!(check("JWT", with("nbf", json!(NOW + 30))).is_ok());
        assert_eq!(
            check("JWT", with("nbf", json!(NOW + 31))),
            Err(JoseError::NotYetValid)
        );
        assert!(check("JWT", with("iat", json!(NOW + 30))).is_ok());
        assert_eq!(
            check("JWT", with("iat", json!(NOW + 31))),
            Err(JoseError::IssuedInFuture)
        );
        for bad in [json!("1800000000"), json!(null), json!([1]), json!(true)] {
            assert_eq!(
                check("JWT", with("exp", bad)).expect_err("refused").code(),
                "jwt.claim_invalid"
            );
        }
        assert_eq!(
            check("JWT", with("exp", json!(1e300))).map(|v| v.exp),
            Ok(i64::MAX)
        );
    }

    #[test]
    fn issuer_audience_and_typ_are_exact() {
        assert_eq!(
            check("JWT", with("iss", json!("https://console.example/"))),
            Err(JoseError::WrongIssuer)
        );
        assert_eq!(
            check("JWT", with("iss", json!(["https://console.example"]))),
            Err(JoseError::WrongIssuer)
        );
        assert_eq!(
            check("JWT", without("iss")),
            Err(JoseError::ClaimMissing { name: "iss" })
        );
        assert_eq!(
            check("JWT", with("aud", json!("API"))),
            Err(JoseError::WrongAudience)
        );
        assert_eq!(
            check("JWT", with("aud", json!([]))),
            Err(JoseError::WrongAudience)
        );
        assert_eq!(
            check("JWT", with("aud", json!([1, null]))),
            Err(JoseError::WrongAudience)
        );
        assert_eq!(
            check("JWT", without("aud")),
            Err(JoseError::ClaimMissing { name: "aud" })
        );
        assert_eq!(
            check("JWT", with("aud", json!({"a": 1})))
                .expect_err("refused")
                .code(),
            "jwt.claim_invalid"
        );
        // No audience configured: nothing is accepted. An empty issuer matches nothing either.
        let none: Vec<String> = vec![];
        assert_eq!(
            validate(&token("JWT", good()), &rules(&none), NOW),
            Err(JoseError::WrongAudience)
        );
        let aud = vec!["api".to_string()];
        let empty_iss = ClaimRules {
            issuer: "",
            ..rules(&aud)
        };
        assert_eq!(
            validate(&token("JWT", with("iss", json!(""))), &empty_iss, NOW),
            Err(JoseError::WrongIssuer)
        );
        // typ at+jwt when required (RFC 9068 §4).
        let at = ClaimRules {
            require_typ_at_jwt: true,
            ..rules(&aud)
        };
        assert_eq!(
            validate(&token("JWT", good()), &at, NOW),
            Err(JoseError::NotAccessToken)
        );
        assert!(validate(&token("at+jwt", good()), &at, NOW).is_ok());
        assert!(validate(&token("application/AT+JWT", good()), &at, NOW).is_ok());
        // Claim types.
        for k in ["sub", "client_id", "azp", "scope"] {
            let mut c = without("client_id");
            c[k] = json!(1);
            assert_eq!(
                check("JWT", c).expect_err("refused").code(),
                "jwt.claim_invalid",
                "{k}"
            );
        }
    }
}
