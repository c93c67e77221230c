//! OAuth clients: the registry of apps and services allowed to obtain tokens, their templates
//! (native app, service, web app), the rules a registration must satisfy, and their secrets.
//!
//! - [`ClientDraft`] is what an admin submits; [`check`] turns it into a valid
//!   registration or precise messages. Redirect URIs go through `policy::redirect` (the same
//!   linter the browser runs as you type) and a pasted JWKS through `policy::jwk`.
//! - [`secrets`]: 256-bit secrets, shown once, stored as Argon2id hashes.
//! - [`service`]: create, edit, enable/disable, delete, rotate and revoke secrets, each change
//!   with its audit event in one transaction.

pub mod secrets;
pub mod service;

use policy::redirect::{has_errors, lint_redirect_uris, Severity};

use crate::Error;

pub use policy::client::{
    template, AuthMethod, ClientDraft, ClientKind, Platform, SecretStatus,
    GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH_TOKEN,
};

pub const MIN_TOKEN_LIFETIME_S: i64 = 60;
pub const MAX_TOKEN_LIFETIME_S: i64 = 86_400;
const MAX_SCOPES: usize = 50;
const MAX_NAME: usize = 80;
const MAX_DESCRIPTION: usize = 500;

pub fn parse_kind(s: &str) -> Result<ClientKind, Error> {
    ClientKind::parse(s).ok_or_else(|| {
        Error::invalid(format!(
            "client type {s:?} is unknown: choose native app, service or web app"
        ))
    })
}

/// A registration that passed every rule, normalised (trimmed, de-duplicated scopes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedClient {
    pub draft: ClientDraft,
    pub kind: ClientKind,
    pub platform: Platform,
    pub auth_method: AuthMethod,
    /// The JWKS normalised to public members (private_key_jwt only).
    pub jwks_json: Option<String>,
    /// Warnings to show (redirect URIs, JWKS).
    pub warnings: Vec<String>,
}

/// "a", "a or b", "a, b or c".
fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ).
fn valid_scope(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Applies every rule to a registration; all errors are reported together.
pub fn check(draft: &ClientDraft) -> Result<CheckedClient, Error> {
    let mut errors: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let kind = parse_kind(draft.kind.trim())?;
    let mut d = draft.clone();
    d.name = d.name.trim().to_owned();
    d.description = d.description.trim().to_owned();
    d.platform = d.platform.trim().to_owned();
    d.policy_id = d.policy_id.trim().to_owned();
    d.redirect_uris = d
        .redirect_uris
        .iter()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .collect();
    let mut scopes: Vec<String> = Vec::new();
    for s in d.scopes.iter().flat_map(|s| s.split_whitespace()) {
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    d.scopes = scopes;
    let mut grants: Vec<String> = Vec::new();
    for g in d.grant_types.iter().map(|g| g.trim()) {
        if !g.is_empty() && !grants.iter().any(|x| x == g) {
            grants.push(g.to_owned());
        }
    }
    d.grant_types = grants;

    if d.name.is_empty() {
        errors.push("the name is required".into());
    } else if d.name.chars().count() > MAX_NAME {
        errors.push(format!("the name is longer than {MAX_NAME} characters"));
    } else if d.name.chars().any(char::is_control) {
        errors.push("the name contains control characters".into());
    }
    if d.description.chars().count() > MAX_DESCRIPTION {
        errors.push(format!(
            "the description is longer than {MAX_DESCRIPTION} characters"
        ));
    }
    let platform = Platform::parse(&d.platform);
    if platform.is_none() {
        errors.push(format!(
            "platform {:?} is unknown: choose one of {}",
            d.platform,
            Platform::ALL.map(Platform::as_str).join(", ")
        ));
    }

    // Grant types per client type (RFC 9700 §2.1.2 and §2.4: no implicit, no password).
    let allowed = kind.allowed_grants();
    if d.grant_types.is_empty() {
        errors.push("choose at least one grant type".into());
    }
    for g in &d.grant_types {
        match g.as_str() {
            "implicit" | "token" => errors.push(
                "the implicit grant is forbidden (RFC 9700 §2.1.2): use authorization code with PKCE".into(),
            ),
            "password" => errors.push(
                "the resource owner password grant is forbidden (RFC 9700 §2.4)".into(),
            ),
            g if !allowed.contains(&g) => errors.push(format!(
                "grant type {g:?} does not fit a {} client (allowed: {})",
                kind.as_str(),
                allowed.join(", ")
            )),
            _ => {}
        }
    }
    if d.grant_types.iter().any(|g| g == GRANT_REFRESH_TOKEN)
        && !d.grant_types.iter().any(|g| g == GRANT_AUTHORIZATION_CODE)
    {
        errors.push("refresh_token needs the authorization_code grant".into());
    }

    // Authentication method per client type: public native apps cannot keep a secret
    // (RFC 8252 §8.5), confidential clients must authenticate.
    let auth_method = AuthMethod::parse(&d.auth_method);
    let allowed_methods = kind.allowed_auth_methods();
    match (kind, auth_method) {
        (_, None) => errors.push(format!(
            "authentication method {:?} is unknown",
            d.auth_method
        )),
        (_, Some(m)) if allowed_methods.contains(&m) => {}
        (ClientKind::Native, Some(m)) => errors.push(format!(
            "a native app is a public client and cannot keep a secret (RFC 8252 §8.5): its authentication method must be none, not {m}"
        )),
        (_, Some(_)) => errors.push(format!(
            "a {kind} client is confidential: choose {}",
            one_of(&allowed_methods.iter().map(|m| m.as_str()).collect::<Vec<_>>())
        )),
    }

    let mut jwks_json = None;
    if auth_method.is_some_and(AuthMethod::uses_jwks) {
        match policy::jwk::validate_client_jwks(&d.jwks) {
            Ok((set, issues)) => {
                warnings.extend(issues.iter().map(|i| i.message.clone()));
                jwks_json = serde_json::to_string(&set).ok();
            }
            Err(issues) => errors.extend(
                issues
                    .iter()
                    .filter(|i| i.severity == Severity::Error)
                    .map(|i| format!("JWKS: {}", i.message)),
            ),
        }
    } else if !d.jwks.trim().is_empty() {
        errors
            .push("a JWKS is only used with private_key_jwt; clear it or change the method".into());
    }
    d.jwks = jwks_json.clone().unwrap_or_default();

    let issues = lint_redirect_uris(kind, &d.redirect_uris);
    for i in &issues {
        match i.severity {
            Severity::Error => errors.push(i.message.clone()),
            Severity::Warning => warnings.push(i.message.clone()),
        }
    }
    debug_assert_eq!(
        has_errors(&issues),
        issues.iter().any(|i| i.severity == Severity::Error)
    );

    if d.scopes.len() > MAX_SCOPES {
        errors.push(format!("at most {MAX_SCOPES} scopes"));
    }
    for s in &d.scopes {
        if !valid_scope(s) {
            errors.push(format!(
                "scope {s:?} is not a valid scope token (RFC 6749 §3.3: printable ASCII without space, \" or \\)"
            ));
        }
    }
    if !(MIN_TOKEN_LIFETIME_S..=MAX_TOKEN_LIFETIME_S).contains(&d.access_token_lifetime_s) {
        errors.push(format!(
            "the access-token lifetime must be between {MIN_TOKEN_LIFETIME_S} s and {MAX_TOKEN_LIFETIME_S} s (24 h)"
        ));
    } else if d.access_token_lifetime_s > 3600 {
        warnings.push(format!(
            "access tokens live {} min: a stolen token stays usable that long; an hour or less is usual",
            d.access_token_lifetime_s / 60
        ));
    }

    match (platform, auth_method) {
        (Some(platform), Some(auth_method)) if errors.is_empty() => Ok(CheckedClient {
            draft: d,
            kind,
            platform,
            auth_method,
            jwks_json,
            warnings,
        }),
        _ => Err(Error::invalid(format!(
            "The client is not valid: {}",
            errors.join("; ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native() -> ClientDraft {
        ClientDraft {
            name: "Shop app".into(),
            redirect_uris: vec!["com.example.shop:/oauth/cb".into()],
            scopes: vec!["orders:read profile".into()],
            ..template(ClientKind::Native)
        }
    }

    fn err_of(d: &ClientDraft) -> String {
        check(d).expect_err("refused").to_string()
    }

    #[test]
    fn every_template_with_its_fields_is_valid() {
        let c = check(&native()).expect("ok");
        assert_eq!(c.draft.scopes, vec!["orders:read", "profile"]);
        let service = ClientDraft {
            name: "Billing".into(),
            ..template(ClientKind::Service)
        };
        check(&service).expect("ok");
        let web = ClientDraft {
            name: "Portal".into(),
            redirect_uris: vec!["https://portal.example.com/cb".into()],
            ..template(ClientKind::Web)
        };
        check(&web).expect("ok");
    }

    #[test]
    fn native_apps_are_public_and_use_code_grants_only() {
        let mut d = native();
        d.auth_method = "client_secret_basic".into();
        assert!(err_of(&d).contains("cannot keep a secret"));
        let mut d = native();
        d.grant_types.push("client_credentials".into());
        assert!(err_of(&d).contains("does not fit a native client"));
        let mut d = native();
        d.grant_types = vec!["implicit".into()];
        assert!(err_of(&d).contains("RFC 9700"));
        let mut d = native();
        d.grant_types = vec!["refresh_token".into()];
        assert!(err_of(&d).contains("needs the authorization_code"));
    }

    #[test]
    fn confidential_clients_must_authenticate_and_the_jwks_only_with_private_key_jwt() {
        let mut d = template(ClientKind::Service);
        d.name = "svc".into();
        d.auth_method = "none".into();
        assert!(err_of(&d).contains("confidential"));
        d.auth_method = "client_secret_post".into();
        d.jwks = "{\"keys\":[]}".into();
        assert!(err_of(&d).contains("only used with private_key_jwt"));
        d.auth_method = "private_key_jwt".into();
        d.jwks = "not json".into();
        assert!(err_of(&d).contains("JWKS:"));
    }

    #[test]
    fn redirect_uri_errors_block_and_scopes_lifetimes_names_are_checked() {
        let mut d = native();
        d.redirect_uris = vec!["http://example.com/cb".into()];
        assert!(err_of(&d).contains("http://example.com/cb"));
        let mut d = native();
        d.scopes = vec!["bad\"scope".into()];
        assert!(err_of(&d).contains("scope token"));
        let mut d = native();
        d.access_token_lifetime_s = 59;
        assert!(err_of(&d).contains("lifetime"));
        d.access_token_lifetime_s = 7200;
        assert!(check(&d)
            .expect("ok")
            .warnings
            .iter()
            .any(|w| w.contains("120 min")));
        let mut d = native();
        d.name = "  ".into();
        assert!(err_of(&d).contains("name is required"));
        let mut d = native();
        d.platform = "symbian".into();
        assert!(err_of(&d).contains("platform"));
        let mut d = native();
        d.kind = "robot".into();
        assert!(err_of(&d).contains("unknown"));
    }
}
