//! Server fns for gates (domain: `gates`): the fleet against the latest bundle version, adding a
//! gate (its one-time enrolment command, shown once), a new command for a gate not enrolled
//! yet, revoking a gate, "push now", the bundle history with the diff of two versions, and the
//! gate-wide settings (issuer, audiences, routes).

use leptos::prelude::*;
use policy::gates::GateState;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GateInfo {
    pub id: String,
    pub name: String,
    pub labels: Vec<String>,
    /// "" = pull only.
    pub push_url: String,
    pub state: GateState,
    pub applied_version: Option<i64>,
    pub applied_at_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    pub enrolled_at_ms: Option<i64>,
    pub enrol_expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    /// The fingerprint of the X25519 key its signing key is sealed to; `None`: an older gate,
    /// which cannot receive signing keys (it issues no tokens).
    pub encryption_key: Option<String>,
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BundleInfo {
    pub version: i64,
    pub issued_at_ms: i64,
    pub cause: String,
    pub size: i64,
    pub changes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FleetInfo {
    pub gates: Vec<GateInfo>,
    pub latest: Option<BundleInfo>,
    /// Why the current configuration cannot be published, if it cannot.
    pub publish_error: Option<String>,
    /// The newest versions, newest first.
    pub history: Vec<BundleInfo>,
    /// The key set whose active key signs the tokens gates issue; `None`: gates issue none.
    pub token_key_set: Option<String>,
    pub now_ms: i64,
}

/// A gate just added (or given a new command): the token and command, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolCommand {
    pub gate_id: String,
    pub name: String,
    pub command: String,
    pub expires_at_ms: i64,
}

#[cfg(feature = "ssr")]
fn bundle_info(b: domain::ports::gates::BundleRecord) -> BundleInfo {
    BundleInfo {
        version: b.version,
        issued_at_ms: b.issued_at_ms,
        cause: b.cause,
        size: b.size,
        changes: b.changes,
    }
}

#[cfg(feature = "ssr")]
fn enrol_command(g: domain::gates::service::NewGate) -> EnrolCommand {
    EnrolCommand {
        gate_id: g.gate.id,
        name: g.gate.name,
        command: g.command,
        expires_at_ms: g.gate.enrol_expires_at_ms.unwrap_or_default(),
    }
}

/// The fleet and the bundle history as the page and the REST API show them.
#[cfg(feature = "ssr")]
pub async fn fleet(console: &domain::console::Console) -> Result<FleetInfo, AppError> {
    let fleet = console.gates.fleet().await?;
    let history = console.gates.history(20).await?;
    Ok(FleetInfo {
        gates: fleet
            .gates
            .into_iter()
            .map(|v| {
                let g = v.record;
                GateInfo {
                    id: g.id,
                    name: g.name,
                    labels: g.labels,
                    push_url: g.push_url,
                    state: v.state,
                    applied_version: g.applied_version,
                    applied_at_ms: g.applied_at_ms,
                    last_seen_ms: g.last_seen_ms,
                    last_error: g.last_error,
                    last_error_at_ms: g.last_error_at_ms,
                    enrolled_at_ms: g.enrolled_at_ms,
                    enrol_expires_at_ms: g.enrol_expires_at_ms,
                    revoked_at_ms: g.revoked_at_ms,
                    encryption_key: g
                        .encryption_key
                        .as_deref()
                        .map(domain::gates::encryption_key_fingerprint),
                    version: g.version,
                }
            })
            .collect(),
        latest: fleet.latest.map(bundle_info),
        publish_error: fleet.publish_error,
        history: history.into_iter().map(bundle_info).collect(),
        token_key_set: console.gates.token_key_set_name().await?,
        now_ms: domain::now_ms(),
    })
}

/// Every gate with its state against the latest version, and the bundle history.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "list_gates")]
pub async fn list_gates() -> Result<FleetInfo, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    fleet(&ctx.console).await
}

/// Adds a gate; answers its one-time enrolment command (valid one hour), shown once.
///
/// **Permissions:** owner or admin. **Audit:** `gates.add` (never the token).
#[server(endpoint = "add_gate")]
pub async fn add_gate(
    name: String,
    labels: String,
    push_url: String,
) -> Result<EnrolCommand, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let g = ctx
        .console
        .gates
        .add(&ctx.actor, &name, &labels, &push_url)
        .await?;
    Ok(enrol_command(g))
}

/// A new enrolment command for a gate that has not enrolled (the earlier one stops working).
///
/// **Permissions:** owner or admin. **Audit:** `gates.new_token`.
#[server(endpoint = "new_gate_token")]
pub async fn new_gate_token(id: String, version: String) -> Result<EnrolCommand, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let g = ctx
        .console
        .gates
        .new_token(&ctx.actor, &id, &version)
        .await?;
    Ok(enrol_command(g))
}

/// Revokes a gate: its calls are refused and nothing is pushed to it any more.
///
/// **Permissions:** owner or admin, with a passkey confirmation. **Audit:** `gates.revoke`.
#[server(endpoint = "revoke_gate")]
pub async fn revoke_gate(id: String, version: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx.console.gates.revoke(&ctx.actor, &id, &version).await?)
}

/// Pushes the latest version to every gate that does not run it, now (retry waits skipped).
///
/// **Permissions:** owner or admin. **Audit:** `gates.push_now`.
#[server(endpoint = "push_gates_now")]
pub async fn push_gates_now() -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx.console.gates.push_now(&ctx.actor).await?)
}

/// What changed from bundle version `from` to version `to`, one line per change.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "diff_bundles")]
pub async fn diff_bundles(from: i64, to: i64) -> Result<Vec<String>, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx.console.gates.diff(from, to).await?)
}

/// The gate-wide settings as the form edits them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateSettingsView {
    /// The exact `iss` gates accept.
    pub issuer: String,
    /// Accepted `aud` values, comma-joined.
    pub audiences: String,
    pub require_typ_at_jwt: bool,
    /// The routes, one per line (`policy::routes`).
    pub routes: String,
    /// The name of the key set whose active key signs the tokens gates issue; "": none (gates
    /// issue no tokens).
    pub token_key_set: String,
    /// Every key set's name, the choices for `token_key_set`.
    pub key_sets: Vec<String>,
    /// The hostname whose current certificate gates serve over TLS; "": none.
    pub tls_hostname: String,
    /// The hostnames gates can serve (a current certificate whose key the console holds).
    pub tls_hostnames: Vec<String>,
    /// "" while the defaults apply.
    pub version: String,
}

/// The gate-wide settings (issuer, audiences, typ, routes, token key set), or the defaults while
/// none are saved.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "gate_settings")]
pub async fn gate_settings() -> Result<GateSettingsView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let s = ctx.console.gates.settings().await?;
    Ok(GateSettingsView {
        issuer: s.issuer,
        audiences: s.audiences.join(", "),
        require_typ_at_jwt: s.require_typ_at_jwt,
        routes: policy::routes::routes_to_lines(&s.routes),
        token_key_set: ctx
            .console
            .gates
            .token_key_set_name()
            .await?
            .unwrap_or_default(),
        key_sets: ctx.console.gates.key_set_names().await?,
        tls_hostname: s.tls_hostname.unwrap_or_default(),
        tls_hostnames: ctx.console.gates.servable_hostnames().await?,
        version: s.version.map(|v| v.to_string()).unwrap_or_default(),
    })
}

/// Saves the gate-wide settings: the issuer, the audiences (commas or spaces between them),
/// whether `typ` must be `at+jwt`, the routes, one per line, and the name of the key set whose
/// active key signs the tokens gates issue at their token endpoint ("": none, gates issue no
/// tokens), and the hostname whose current certificate gates serve on their TLS listener ("":
/// none); `version` as shown ("" while the defaults apply). Refused with every bad line named,
/// an unknown key set or a hostname gates cannot serve named, or when gates would refuse the
/// bundle; gates receive the settings in the next bundle version.
///
/// **Permissions:** owner or admin. **Audit:** `gates.settings` (refusals too).
#[server(endpoint = "save_gate_settings")]
pub async fn save_gate_settings(
    issuer: String,
    audiences: String,
    require_typ_at_jwt: bool,
    routes: String,
    token_key_set: String,
    tls_hostname: String,
    version: String,
) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx
        .console
        .gates
        .save_settings_text(
            &ctx.actor,
            &issuer,
            &audiences,
            require_typ_at_jwt,
            &routes,
            &token_key_set,
            &tls_hostname,
            &version,
        )
        .await?)
}
