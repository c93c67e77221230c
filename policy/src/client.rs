//! The OAuth client registration as the console's form submits it and the server checks it
//! ([`ClientDraft`]), the three templates an admin starts from ([`template`]), and the closed
//! vocabularies a client is described with: its kind ([`ClientKind`], with the grants and
//! authentication methods it allows), its [`Platform`], its [`AuthMethod`] (and whether that
//! uses a secret) and the [`SecretStatus`] of each secret. Records and pages use these enums;
//! strings appear only at the edges (the form, the database columns). The rules that need the
//! server live in `domain::clients`; the redirect-URI and JWKS checks the browser runs as you
//! type are in [`crate::redirect`] and [`crate::jwk`].

use serde::{Deserialize, Serialize};

pub use crate::redirect::ClientKind;

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";

/// What an admin submits to create or edit a client.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDraft {
    pub name: String,
    pub description: String,
    /// [`ClientKind::as_str`].
    pub kind: String,
    /// [`Platform::as_str`].
    pub platform: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub access_token_lifetime_s: i64,
    /// [`AuthMethod::as_str`].
    pub auth_method: String,
    /// The client's public JWKS as pasted (private_key_jwt only).
    pub jwks: String,
    /// Id of the bound rate-limit policy, empty for none.
    pub policy_id: String,
}

impl ClientKind {
    pub const ALL: [ClientKind; 3] = [ClientKind::Native, ClientKind::Service, ClientKind::Web];

    /// The stored and submitted name: `native`, `service` or `web`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Native => "native",
            ClientKind::Service => "service",
            ClientKind::Web => "web",
        }
    }

    /// Parses a name exactly, as [`ClientKind::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// How the console names the kind to people.
    pub fn label(self) -> &'static str {
        match self {
            ClientKind::Native => "Native app",
            ClientKind::Service => "Service",
            ClientKind::Web => "Web app",
        }
    }

    /// The grant types a client of this kind may use (RFC 9700 §2.1.2 and §2.4: no implicit, no
    /// password grant for anyone).
    pub fn allowed_grants(self) -> &'static [&'static str] {
        match self {
            ClientKind::Native | ClientKind::Web => {
                &[GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN]
            }
            ClientKind::Service => &[GRANT_CLIENT_CREDENTIALS],
        }
    }

    /// The authentication methods a client of this kind may use: a native app is a public
    /// client that cannot keep a secret (RFC 8252 §8.5), so `none` with PKCE; the others are
    /// confidential and must authenticate.
    pub fn allowed_auth_methods(self) -> &'static [AuthMethod] {
        match self {
            ClientKind::Native => &[AuthMethod::None],
            ClientKind::Service | ClientKind::Web => &[
                AuthMethod::ClientSecretBasic,
                AuthMethod::ClientSecretPost,
                AuthMethod::PrivateKeyJwt,
            ],
        }
    }

    /// Whether the client proves possession with PKCE (RFC 7636) instead of a credential.
    pub fn uses_pkce(self) -> bool {
        self == ClientKind::Native
    }
}

impl core::fmt::Display for ClientKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a client runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Platform {
    Android,
    Ios,
    Web,
    Server,
    Other,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Android,
        Platform::Ios,
        Platform::Web,
        Platform::Server,
        Platform::Other,
    ];

    /// The stored and submitted name: `android`, `ios`, `web`, `server` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Android => "android",
            Platform::Ios => "ios",
            Platform::Web => "web",
            Platform::Server => "server",
            Platform::Other => "other",
        }
    }

    /// Parses a name exactly, as [`Platform::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// How the console names the platform to people.
    pub fn label(self) -> &'static str {
        match self {
            Platform::Android => "Android",
            Platform::Ios => "iOS",
            Platform::Web => "Web",
            Platform::Server => "Server",
            Platform::Other => "Other",
        }
    }
}

impl core::fmt::Display for Platform {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 §2
/// `token_endpoint_auth_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuthMethod {
    /// A public client: no credential (PKCE instead).
    None,
    /// The secret in HTTP Basic (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// The secret in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// A JWT signed with the client's key (RFC 7523 §2.2).
    PrivateKeyJwt,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::None,
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
    ];

    /// The registered name (RFC 7591 §2).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Parses a registered name exactly, as [`AuthMethod::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether a client with this method holds a secret (generated, shown once, rotated).
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }

    /// Whether the client registers a public JWKS (`private_key_jwt` only).
    pub fn uses_jwks(self) -> bool {
        self == AuthMethod::PrivateKeyJwt
    }
}

impl core::fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a client with the authentication method named `auth_method` holds a secret; an
/// unknown name holds none.
pub fn uses_secret(auth_method: &str) -> bool {
    AuthMethod::parse(auth_method).is_some_and(AuthMethod::uses_secret)
}

/// Where a client secret stands at a given instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SecretStatus {
    /// Valid, without an expiry.
    Active,
    /// Valid until its expiry (a rotation's grace period).
    Grace,
    /// Past its expiry.
    Expired,
    /// Revoked by an admin.
    Revoked,
}

impl SecretStatus {
    pub const ALL: [SecretStatus; 4] = [
        SecretStatus::Active,
        SecretStatus::Grace,
        SecretStatus::Expired,
        SecretStatus::Revoked,
    ];

    /// The status of a secret revoked at `revoked_at_ms` (if ever) and expiring at
    /// `expires_at_ms` (if ever), at `now_ms`. Revocation wins; a secret expires at the instant
    /// of its expiry.
    pub fn at(revoked_at_ms: Option<i64>, expires_at_ms: Option<i64>, now_ms: i64) -> Self {
        match (revoked_at_ms, expires_at_ms) {
            (Some(_), _) => SecretStatus::Revoked,
            (None, Some(t)) if t <= now_ms => SecretStatus::Expired,
            (None, Some(_)) => SecretStatus::Grace,
            (None, None) => SecretStatus::Active,
        }
    }

    /// `active`, `grace`, `expired` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretStatus::Active => "active",
            SecretStatus::Grace => "grace",
            SecretStatus::Expired => "expired",
            SecretStatus::Revoked => "revoked",
        }
    }

    /// Parses a name exactly, as [`SecretStatus::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the secret is accepted (active, or in its grace period).
    pub fn is_valid(self) -> bool {
        matches!(self, SecretStatus::Active | SecretStatus::Grace)
    }
}

impl core::fmt::Display for SecretStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The defaults of each template: a native app is a public client using the authorization
/// code grant with PKCE (RFC 8252); a service is confidential with client credentials; a web app
/// is confidential with the authorization code grant. Access tokens live 15 minutes.
pub fn template(kind: ClientKind) -> ClientDraft {
    let (platform, auth) = match kind {
        ClientKind::Native => (Platform::Android, AuthMethod::None),
        ClientKind::Service => (Platform::Server, AuthMethod::ClientSecretBasic),
        ClientKind::Web => (Platform::Web, AuthMethod::ClientSecretBasic),
    };
    ClientDraft {
        kind: kind.as_str().into(),
        platform: platform.as_str().into(),
        grant_types: kind
            .allowed_grants()
            .iter()
            .map(|g| (*g).to_owned())
            .collect(),
        auth_method: auth.as_str().into(),
        access_token_lifetime_s: 900,
        ..ClientDraft::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_refuse_unknown_ones() {
        for k in ClientKind::ALL {
            assert_eq!(ClientKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_string(&k).expect("json"), format!("\"{k}\""));
        }
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_string(&p).expect("json"), format!("\"{p}\""));
        }
        for m in AuthMethod::ALL {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
            assert_eq!(serde_json::to_string(&m).expect("json"), format!("\"{m}\""));
        }
        for s in SecretStatus::ALL {
            assert_eq!(SecretStatus::parse(s.as_str()), Some(s));
        }
        for bad in ["", "Native", "public", "confidential", " web"] {
            assert_eq!(ClientKind::parse(bad), None, "{bad:?}");
        }
        for bad in ["", "iOS", "macos", "linux", "android "] {
            assert_eq!(Platform::parse(bad), None, "{bad:?}");
        }
        for bad in ["", "None", "client_secret_jwt", "tls_client_auth"] {
            assert_eq!(AuthMethod::parse(bad), None, "{bad:?}");
        }
        assert_eq!(SecretStatus::parse("valid"), None);
    }

    #[test]
    fn only_client_secret_methods_use_a_secret() {
        assert!(AuthMethod::ClientSecretBasic.uses_secret());
        assert!(AuthMethod::ClientSecretPost.uses_secret());
        assert!(!AuthMethod::PrivateKeyJwt.uses_secret());
        assert!(!AuthMethod::None.uses_secret());
        assert!(uses_secret("client_secret_basic"));
        assert!(uses_secret("client_secret_post"));
        assert!(!uses_secret("private_key_jwt"));
        assert!(!uses_secret("none"));
        assert!(!uses_secret("client_secret_jwt"), "unknown: no secret");
        assert!(AuthMethod::PrivateKeyJwt.uses_jwks());
        assert!(!AuthMethod::ClientSecretBasic.uses_jwks());
    }

    #[test]
    fn kinds_allow_their_grants_and_methods_only() {
        assert_eq!(
            ClientKind::Native.allowed_auth_methods(),
            [AuthMethod::None]
        );
        assert!(!ClientKind::Web
            .allowed_auth_methods()
            .contains(&AuthMethod::None));
        assert!(!ClientKind::Service
            .allowed_auth_methods()
            .contains(&AuthMethod::None));
        assert_eq!(
            ClientKind::Service.allowed_grants(),
            [GRANT_CLIENT_CREDENTIALS]
        );
        assert!(!ClientKind::Web
            .allowed_grants()
            .contains(&GRANT_CLIENT_CREDENTIALS));
        assert!(ClientKind::Native.uses_pkce());
        assert!(!ClientKind::Web.uses_pkce());
    }

    #[test]
    fn templates_pass_their_own_kind_rules() {
        for k in ClientKind::ALL {
            let t = template(k);
            assert_eq!(ClientKind::parse(&t.kind), Some(k));
            assert!(Platform::parse(&t.platform).is_some());
            let m = AuthMethod::parse(&t.auth_method).expect("known method");
            assert!(k.allowed_auth_methods().contains(&m), "{k}");
            assert!(t
                .grant_types
                .iter()
                .all(|g| k.allowed_grants().contains(&g.as_str())));
        }
    }

    #[test]
    fn secret_status_revocation_wins_and_expiry_is_inclusive() {
        use SecretStatus::*;
        assert_eq!(SecretStatus::at(None, None, 10), Active);
        assert_eq!(SecretStatus::at(None, Some(11), 10), Grace);
        assert_eq!(SecretStatus::at(None, Some(10), 10), Expired);
        assert_eq!(SecretStatus::at(Some(5), None, 10), Revoked);
        assert_eq!(SecretStatus::at(Some(5), Some(100), 10), Revoked);
        assert!(Active.is_valid() && Grace.is_valid());
        assert!(!Expired.is_valid() && !Revoked.is_valid());
    }
}
