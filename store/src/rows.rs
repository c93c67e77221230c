//! Row → record mapping shared by the SQLite and PostgreSQL adapters: the two schemas mirror
//! each other column for column (flags as 0/1 integers, lists as JSON text), so one function per
//! record reads a row of either backend.

use domain::ports::clients::{ClientRecord, SecretRecord};
use domain::ports::keys::{KeySetRecord, SigningKeyRecord};
use domain::ports::policies::PolicyRecord;
use sqlx::{ColumnIndex, Decode, Row, Type};

/// What a row of either backend must decode: text, 64-bit integers and bytes, by column name.
pub(crate) trait Columns<'r>: Row {
    fn text(&'r self, col: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&'r self, col: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&'r self, col: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&'r self, col: &str) -> Result<Option<i64>, sqlx::Error>;
    fn opt_bytes(&'r self, col: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;
    /// A 0/1 integer flag.
    fn flag(&'r self, col: &str) -> Result<bool, sqlx::Error> {
        Ok(self.int(col)? != 0)
    }
    /// A JSON array of strings stored as text.
    fn list(&'r self, col: &str) -> Result<Vec<String>, sqlx::Error> {
        serde_json::from_str(&self.text(col)?).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }
}

impl<'r, R> Columns<'r> for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&'r self, col: &str) -> Result<String, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_text(&'r self, col: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(col)
    }
    fn int(&'r self, col: &str) -> Result<i64, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_int(&'r self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_bytes(&'r self, col: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        self.try_get(col)
    }
}

/// A list as the JSON text both schemas store.
pub(crate) fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn policy_of<'r>(r: &'r impl Columns<'r>) -> Result<PolicyRecord, sqlx::Error> {
    Ok(PolicyRecord {
        id: r.text("id")?,
        name: r.text("name")?,
        position: r.int("position")?,
        enabled: r.flag("enabled")?,
        mode: r.text("mode")?,
        spec_json: r.text("spec_json")?,
        version: r.int("version")?,
        created_at_ms: r.int("created_at_ms")?,
        updated_at_ms: r.int("updated_at_ms")?,
    })
}

pub(crate) fn client_of<'r>(r: &'r impl Columns<'r>) -> Result<ClientRecord, sqlx::Error> {
    Ok(ClientRecord {
        id: r.text("id")?,
        client_id: r.text("client_id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        kind: r.text("kind")?,
        platform: r.text("platform")?,
        redirect_uris: r.list("redirect_uris_json")?,
        grant_types: r.list("grant_types_json")?,
        scopes: r.list("scopes_json")?,
        access_token_lifetime_s: r.int("access_token_lifetime_s")?,
        auth_method: r.text("auth_method")?,
        jwks_json: r.opt_text("jwks_json")?,
        policy_id: r.opt_text("policy_id")?,
        enabled: r.flag("enabled")?,
        version: r.int("version")?,
        created_at_ms: r.int("created_at_ms")?,
        updated_at_ms: r.int("updated_at_ms")?,
    })
}

pub(crate) fn secret_of<'r>(r: &'r impl Columns<'r>) -> Result<SecretRecord, sqlx::Error> {
    Ok(SecretRecord {
        id: r.text("id")?,
        client_row_id: r.text("client_row_id")?,
        phc_hash: r.text("phc_hash")?,
        hint: r.text("hint")?,
        created_at_ms: r.int("created_at_ms")?,
        expires_at_ms: r.opt_int("expires_at_ms")?,
        last_used_at_ms: r.opt_int("last_used_at_ms")?,
        revoked_at_ms: r.opt_int("revoked_at_ms")?,
    })
}

pub(crate) fn set_of<'r>(r: &'r impl Columns<'r>) -> Result<KeySetRecord, sqlx::Error> {
    Ok(KeySetRecord {
        id: r.text("id")?,
        name: r.text("name")?,
        alg: r.text("alg")?,
        rotation_period_s: r.int("rotation_period_s")?,
        cache_window_s: r.int("cache_window_s")?,
        max_token_lifetime_s: r.int("max_token_lifetime_s")?,
        leeway_s: r.int("leeway_s")?,
        auto_rotate: r.flag("auto_rotate")?,
        version: r.int("version")?,
        created_at_ms: r.int("created_at_ms")?,
        updated_at_ms: r.int("updated_at_ms")?,
    })
}

pub(crate) fn key_of<'r>(r: &'r impl Columns<'r>) -> Result<SigningKeyRecord, sqlx::Error> {
    Ok(SigningKeyRecord {
        id: r.text("id")?,
        set_id: r.text("set_id")?,
        kid: r.text("kid")?,
        alg: r.text("alg")?,
        state: r.text("state")?,
        public_jwk_json: r.text("public_jwk_json")?,
        sealed_private: r.opt_bytes("sealed_private")?,
        created_at_ms: r.int("created_at_ms")?,
        activated_at_ms: r.opt_int("activated_at_ms")?,
        retired_at_ms: r.opt_int("retired_at_ms")?,
        removed_at_ms: r.opt_int("removed_at_ms")?,
        revoked_at_ms: r.opt_int("revoked_at_ms")?,
        revoke_reason: r.opt_text("revoke_reason")?,
        promote_at_ms: r.opt_int("promote_at_ms")?,
    })
}
