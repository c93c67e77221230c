//! Row → record mapping, one function per record, for both databases: the two schemas mirror
//! each other column for column (flags as 0/1 integers, lists as JSON text), and sqlx's `Any`
//! row presents either. A column that does not decode (a corrupt JSON list, an unknown role) is
//! an error everywhere, never read as a default.

use domain::admins::{Admin, Role, StoredPasskey};
use domain::audit::{AuditEvent, Outcome};
use domain::certs::{CertKind, CertStatus};
use domain::clients::{AuthMethod, ClientKind, Platform};
use domain::keys::KeyState;
use domain::pinsets::AppPlatform;
use domain::ports::admins::InviteRecord;
use domain::ports::api_tokens::ApiTokenRecord;
use domain::ports::certs::{CertRecord, CsrRecord, HostnameRecord, TlsKeyRecord};
use domain::ports::clients::{ClientRecord, ClientUsageRecord, SecretRecord};
use domain::ports::gates::{BundleRecord, GateRecord, GateSettingsRecord, SignerRecord};
use domain::ports::keys::{KeySetRecord, SigningKeyRecord};
use domain::ports::pinsets::{AppRecord, PinsetRecord, ReleaseRecord};
use domain::ports::policies::PolicyRecord;
use domain::sessions::SessionRecord;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

fn decode_error(col: &str, e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: col.to_owned(),
        source: e.to_string().into(),
    }
}

/// Typed reads of one column by name.
trait Columns {
    fn text(&self, col: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, col: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error>;
    fn bytes(&self, col: &str) -> Result<Vec<u8>, sqlx::Error>;
    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;
    /// A 0/1 integer flag.
    fn flag(&self, col: &str) -> Result<bool, sqlx::Error> {
        Ok(self.int(col)? != 0)
    }
    /// A JSON array of strings stored as text.
    fn list(&self, col: &str) -> Result<Vec<String>, sqlx::Error> {
        serde_json::from_str(&self.text(col)?).map_err(|e| decode_error(col, e))
    }
    /// A UUID stored as text.
    fn uuid(&self, col: &str) -> Result<Uuid, sqlx::Error> {
        Uuid::parse_str(&self.text(col)?).map_err(|e| decode_error(col, e))
    }
    /// A closed vocabulary stored as its name (`parse` is the enum's own): an unknown name is a
    /// decode error, never a default.
    fn named<T>(&self, col: &str, parse: fn(&str) -> Option<T>) -> Result<T, sqlx::Error> {
        let s = self.text(col)?;
        parse(&s).ok_or_else(|| decode_error(col, format!("unknown {col} {s:?}")))
    }
}

impl Columns for AnyRow {
    fn text(&self, col: &str) -> Result<String, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(col)
    }
    fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(col)
    }
    fn bytes(&self, col: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_bytes(&self, col: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        self.try_get(col)
    }
}

/// A list as the JSON text both schemas store.
pub(crate) fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub(crate) const ADMIN_COLUMNS: &str = "id, username, display_name, role, disabled, created_at_ms";

pub(crate) fn admin_of(r: &AnyRow) -> Result<Admin, sqlx::Error> {
    let role = r.text("role")?;
    Ok(Admin {
        id: r.uuid("id")?,
        username: r.text("username")?,
        display_name: r.text("display_name")?,
        role: Role::parse(&role)
            .ok_or_else(|| decode_error("role", format!("unknown role {role}")))?,
        disabled: r.flag("disabled")?,
        created_at_ms: r.int("created_at_ms")?,
    })
}

pub(crate) const PASSKEY_COLUMNS: &str =
    "id, admin_id, credential_id, passkey_json, created_at_ms, last_used_at_ms, name, aaguid, \
     sign_count";

pub(crate) fn passkey_of(r: &AnyRow) -> Result<StoredPasskey, sqlx::Error> {
    Ok(StoredPasskey {
        id: r.uuid("id")?,
        admin_id: r.uuid("admin_id")?,
        credential_id: r.text("credential_id")?,
        passkey_json: r.text("passkey_json")?,
        created_at_ms: r.int("created_at_ms")?,
        last_used_at_ms: r.opt_int("last_used_at_ms")?,
        name: r.text("name")?,
        aaguid: r.opt_text("aaguid")?,
        sign_count: r.int("sign_count")?,
    })
}

pub(crate) const INVITE_COLUMNS: &str = "id, token_hash, role, label, created_by, created_at_ms, \
     expires_at_ms, used_at_ms, used_by, revoked_at_ms";

pub(crate) fn invite_of(r: &AnyRow) -> Result<InviteRecord, sqlx::Error> {
    Ok(InviteRecord {
        id: r.uuid("id")?,
        token_hash: r.text("token_hash")?,
        role: r.named("role", Role::parse)?,
        label: r.text("label")?,
        created_by: r.text("created_by")?,
        created_at_ms: r.int("created_at_ms")?,
        expires_at_ms: r.int("expires_at_ms")?,
        used_at_ms: r.opt_int("used_at_ms")?,
        used_by: r.opt_text("used_by")?,
        revoked_at_ms: r.opt_int("revoked_at_ms")?,
    })
}

pub(crate) const API_TOKEN_COLUMNS: &str = "id, name, token_hash, scopes, created_by, \
     created_at_ms, expires_at_ms, revoked_at_ms, last_used_at_ms, last_used_ip";

pub(crate) fn api_token_of(r: &AnyRow) -> Result<ApiTokenRecord, sqlx::Error> {
    Ok(ApiTokenRecord {
        id: r.uuid("id")?,
        name: r.text("name")?,
        token_hash: r.text("token_hash")?,
        scopes: r.named("scopes", |s| domain::api_tokens::parse_scopes(s).ok())?,
        created_by: r.text("created_by")?,
        created_at_ms: r.int("created_at_ms")?,
        expires_at_ms: r.int("expires_at_ms")?,
        revoked_at_ms: r.opt_int("revoked_at_ms")?,
        last_used_at_ms: r.opt_int("last_used_at_ms")?,
        last_used_ip: r.opt_text("last_used_ip")?,
    })
}

pub(crate) const SESSION_COLUMNS: &str =
    "id_hash, admin_id, created_at_ms, last_seen_at_ms, ip, user_agent, stepped_up_at_ms";

pub(crate) fn session_of(r: &AnyRow) -> Result<SessionRecord, sqlx::Error> {
    Ok(SessionRecord {
        id_hash: r.text("id_hash")?,
        admin_id: r.uuid("admin_id")?,
        created_at_ms: r.int("created_at_ms")?,
        last_seen_at_ms: r.int("last_seen_at_ms")?,
        ip: r.opt_text("ip")?,
        user_agent: r.opt_text("user_agent")?,
        stepped_up_at_ms: r.opt_int("stepped_up_at_ms")?,
    })
}

pub(crate) const EVENT_COLUMNS: &str =
    "seq, at, actor, ip, user_agent, action, target, outcome, details, prev_hash, hash";

pub(crate) fn event_of(r: &AnyRow) -> Result<AuditEvent, sqlx::Error> {
    let outcome = r.text("outcome")?;
    Ok(AuditEvent {
        seq: r.int("seq")?,
        at: r.text("at")?,
        actor: r.text("actor")?,
        ip: r.opt_text("ip")?,
        user_agent: r.opt_text("user_agent")?,
        action: r.text("action")?,
        target: r.text("target")?,
        // An unknown outcome text is tampering; `Denied` with a hash mismatch reports it.
        outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Denied),
        details: r.text("details")?,
        prev_hash: r.text("prev_hash")?,
        hash: r.text("hash")?,
    })
}

pub(crate) fn policy_of(r: &AnyRow) -> Result<PolicyRecord, sqlx::Error> {
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

pub(crate) fn client_of(r: &AnyRow) -> Result<ClientRecord, sqlx::Error> {
    Ok(ClientRecord {
        id: r.text("id")?,
        client_id: r.text("client_id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        kind: r.named("kind", ClientKind::parse)?,
        platform: r.named("platform", Platform::parse)?,
        redirect_uris: r.list("redirect_uris_json")?,
        grant_types: r.list("grant_types_json")?,
        scopes: r.list("scopes_json")?,
        access_token_lifetime_s: r.int("access_token_lifetime_s")?,
        auth_method: r.named("auth_method", AuthMethod::parse)?,
        jwks_json: r.opt_text("jwks_json")?,
        policy_id: r.opt_text("policy_id")?,
        enabled: r.flag("enabled")?,
        version: r.int("version")?,
        created_at_ms: r.int("created_at_ms")?,
        updated_at_ms: r.int("updated_at_ms")?,
    })
}

pub(crate) fn secret_of(r: &AnyRow) -> Result<SecretRecord, sqlx::Error> {
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

pub(crate) fn usage_of(r: &AnyRow) -> Result<ClientUsageRecord, sqlx::Error> {
    Ok(ClientUsageRecord {
        client_row_id: r.text("client_row_id")?,
        tokens_issued: r.int("tokens_issued")?,
        last_token_at_ms: r.opt_int("last_token_at_ms")?,
    })
}

pub(crate) fn set_of(r: &AnyRow) -> Result<KeySetRecord, sqlx::Error> {
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

pub(crate) fn key_of(r: &AnyRow) -> Result<SigningKeyRecord, sqlx::Error> {
    Ok(SigningKeyRecord {
        id: r.text("id")?,
        set_id: r.text("set_id")?,
        kid: r.text("kid")?,
        alg: r.text("alg")?,
        state: r.named("state", KeyState::parse)?,
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

pub(crate) fn tls_key_of(r: &AnyRow) -> Result<TlsKeyRecord, sqlx::Error> {
    Ok(TlsKeyRecord {
        id: r.text("id")?,
        key_type: r.text("key_type")?,
        spki_der: r.bytes("spki_der")?,
        pin: r.text("pin")?,
        sealed_private: r.opt_bytes("sealed_private")?,
        created_at_ms: r.int("created_at_ms")?,
    })
}

pub(crate) const CERT_COLUMNS: &str =
    "id, kind, hostname, subject, issuer, sans_json, serial_hex, key_type, not_before, not_after, \
     spki_pin, cert_sha256, cert_pem, chain_pem, key_id, issuer_id, status, created_at_ms";

pub(crate) fn cert_of(r: &AnyRow) -> Result<CertRecord, sqlx::Error> {
    Ok(CertRecord {
        id: r.text("id")?,
        kind: r.named("kind", CertKind::parse)?,
        hostname: r.opt_text("hostname")?,
        subject: r.text("subject")?,
        issuer: r.text("issuer")?,
        sans: r.list("sans_json")?,
        serial_hex: r.text("serial_hex")?,
        key_type: r.text("key_type")?,
        not_before: r.text("not_before")?,
        not_after: r.text("not_after")?,
        spki_pin: r.text("spki_pin")?,
        cert_sha256: r.text("cert_sha256")?,
        cert_pem: r.text("cert_pem")?,
        chain_pem: r.text("chain_pem")?,
        key_id: r.opt_text("key_id")?,
        issuer_id: r.opt_text("issuer_id")?,
        status: r.named("status", CertStatus::parse)?,
        created_at_ms: r.int("created_at_ms")?,
    })
}

pub(crate) fn hostname_of(r: &AnyRow) -> Result<HostnameRecord, sqlx::Error> {
    Ok(HostnameRecord {
        hostname: r.text("hostname")?,
        ca_id: r.opt_text("ca_id")?,
        current_cert_id: r.opt_text("current_cert_id")?,
        next_key_id: r.opt_text("next_key_id")?,
        created_at_ms: r.int("created_at_ms")?,
    })
}

pub(crate) fn csr_of(r: &AnyRow) -> Result<CsrRecord, sqlx::Error> {
    Ok(CsrRecord {
        id: r.text("id")?,
        hostname: r.text("hostname")?,
        key_id: r.text("key_id")?,
        csr_pem: r.text("csr_pem")?,
        created_at_ms: r.int("created_at_ms")?,
        fulfilled_by: r.opt_text("fulfilled_by")?,
    })
}

pub(crate) fn pinset_of(r: &AnyRow) -> Result<PinsetRecord, sqlx::Error> {
    Ok(PinsetRecord {
        hostname: r.text("hostname")?,
        include_subdomains: r.flag("include_subdomains")?,
        expires_on: r.text("expires_on")?,
        version: r.int("version")?,
        pins_json: r.text("pins_json")?,
        updated_at_ms: r.int("updated_at_ms")?,
    })
}

pub(crate) fn app_of(r: &AnyRow) -> Result<AppRecord, sqlx::Error> {
    Ok(AppRecord {
        id: r.text("id")?,
        name: r.text("name")?,
        platform: r.named("platform", AppPlatform::parse)?,
        bundle_id: r.text("bundle_id")?,
        created_at_ms: r.int("created_at_ms")?,
    })
}

pub(crate) fn release_of(r: &AnyRow) -> Result<ReleaseRecord, sqlx::Error> {
    Ok(ReleaseRecord {
        id: r.text("id")?,
        app_id: r.text("app_id")?,
        version: r.text("version")?,
        released_on: r.text("released_on")?,
        hostname: r.text("hostname")?,
        pinset_version: r.int("pinset_version")?,
        pinset_json: r.text("pinset_json")?,
        export_format: r.text("export_format")?,
        supported: r.flag("supported")?,
        created_at_ms: r.int("created_at_ms")?,
    })
}

pub(crate) fn gate_of(r: &AnyRow) -> Result<GateRecord, sqlx::Error> {
    Ok(GateRecord {
        id: r.text("id")?,
        name: r.text("name")?,
        labels: r.list("labels_json")?,
        push_url: r.text("push_url")?,
        public_key: r.opt_text("public_key")?,
        encryption_key: r.opt_text("encryption_key")?,
        enrol_token_hash: r.opt_text("enrol_token_hash")?,
        enrol_expires_at_ms: r.opt_int("enrol_expires_at_ms")?,
        enrolled_at_ms: r.opt_int("enrolled_at_ms")?,
        revoked_at_ms: r.opt_int("revoked_at_ms")?,
        applied_version: r.opt_int("applied_version")?,
        applied_at_ms: r.opt_int("applied_at_ms")?,
        last_seen_ms: r.opt_int("last_seen_ms")?,
        last_error: r.opt_text("last_error")?,
        last_error_at_ms: r.opt_int("last_error_at_ms")?,
        version: r.int("version")?,
        created_at_ms: r.int("created_at_ms")?,
        updated_at_ms: r.int("updated_at_ms")?,
    })
}

pub(crate) fn signer_of(r: &AnyRow) -> Result<SignerRecord, sqlx::Error> {
    Ok(SignerRecord {
        id: r.text("id")?,
        console_id: r.text("console_id")?,
        public_key: r.text("public_key")?,
        sealed_private: r.bytes("sealed_private")?,
        created_at_ms: r.int("created_at_ms")?,
    })
}

pub(crate) fn gate_settings_of(r: &AnyRow) -> Result<GateSettingsRecord, sqlx::Error> {
    Ok(GateSettingsRecord {
        issuer: r.text("issuer")?,
        audiences: r.list("audiences_json")?,
        require_typ_at_jwt: r.flag("require_typ_at_jwt")?,
        routes_json: r.text("routes_json")?,
        token_key_set_id: r.opt_text("token_key_set_id")?,
        tls_hostname: r.opt_text("tls_hostname")?,
        version: r.int("version")?,
        updated_at_ms: r.int("updated_at_ms")?,
    })
}

pub(crate) fn bundle_of(r: &AnyRow) -> Result<BundleRecord, sqlx::Error> {
    Ok(BundleRecord {
        version: r.int("version")?,
        issued_at_ms: r.int("issued_at_ms")?,
        payload_sha256: r.text("payload_sha256")?,
        content_sha256: r.text("content_sha256")?,
        envelope: r.text("envelope")?,
        size: r.int("size")?,
        cause: r.text("cause")?,
        changes: r.list("changes_json")?,
    })
}

pub(crate) const FORWARD_COLUMNS: &str = "destination, sent_seq, sent_at_ms, last_error, \
     last_error_at_ms, holder, lease_until_ms";

pub(crate) fn forward_cursor_of(
    r: &AnyRow,
) -> Result<domain::ports::forwarding::ForwardCursor, sqlx::Error> {
    Ok(domain::ports::forwarding::ForwardCursor {
        destination: r.text("destination")?,
        sent_seq: r.int("sent_seq")?,
        sent_at_ms: r.opt_int("sent_at_ms")?,
        last_error: r.opt_text("last_error")?,
        last_error_at_ms: r.opt_int("last_error_at_ms")?,
        holder: r.opt_text("holder")?,
        lease_until_ms: r.int("lease_until_ms")?,
    })
}
