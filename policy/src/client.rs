//! The OAuth client registration as the console's form submits it and the server checks it
//! ([`ClientDraft`]), and the three templates an admin starts from ([`template`]). The rules
//! live in `domain::clients`; the redirect-URI and JWKS checks the browser runs as you type are
//! in [`crate::redirect`] and [`crate::jwk`].

use serde::{Deserialize, Serialize};

use crate::redirect::ClientKind;

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";

/// What an admin submits to create or edit a client.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDraft {
    pub name: String,
    pub description: String,
    /// `native`, `service` or `web`.
    pub kind: String,
    pub platform: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub access_token_lifetime_s: i64,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none`.
    pub auth_method: String,
    /// The client's public JWKS as pasted (private_key_jwt only).
    pub jwks: String,
    /// Id of the bound rate-limit policy, empty for none.
    pub policy_id: String,
}

pub fn kind_str(kind: ClientKind) -> &'static str {
    match kind {
        ClientKind::Native => "native",
        ClientKind::Service => "service",
        ClientKind::Web => "web",
    }
}

pub fn parse_kind(s: &str) -> Option<ClientKind> {
    match s {
        "native" => Some(ClientKind::Native),
        "service" => Some(ClientKind::Service),
        "web" => Some(ClientKind::Web),
        _ => None,
    }
}

/// Whether a client with this authentication method holds a secret.
pub fn uses_secret(auth_method: &str) -> bool {
    matches!(auth_method, "client_secret_basic" | "client_secret_post")
}

/// The defaults of each template: a native app is a public client using the authorization
/// code grant with PKCE (RFC 8252); a service is confidential with client credentials; a web app
/// is confidential with the authorization code grant. Access tokens live 15 minutes.
pub fn template(kind: ClientKind) -> ClientDraft {
    let (platform, grants, auth): (&str, &[&str], &str) = match kind {
        ClientKind::Native => (
            "android",
            &[GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN],
            "none",
        ),
        ClientKind::Service => ("server", &[GRANT_CLIENT_CREDENTIALS], "client_secret_basic"),
        ClientKind::Web => (
            "web",
            &[GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN],
            "client_secret_basic",
        ),
    };
    ClientDraft {
        kind: kind_str(kind).into(),
        platform: platform.into(),
        grant_types: grants.iter().map(|g| (*g).to_owned()).collect(),
        auth_method: auth.into(),
        access_token_lifetime_s: 900,
        ..ClientDraft::default()
    }
}
