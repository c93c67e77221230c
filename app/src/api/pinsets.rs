//! Server fns for pin sets, their exports, app releases, and the pin tool that computes or
//! probes the pins to add (domain: `pinsets`; the pin computation and the probe are
//! certificate work done by `certs`).

use leptos::prelude::*;
use policy::certs::AppPlatform;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PinEntryView {
    pub pin: String,
    pub label: String,
    pub role: String,
    pub custody: String,
    pub in_live_chain: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FindingView {
    /// `error` (blocks export) or `warning`.
    pub level: String,
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PinsetView {
    pub hostname: String,
    pub include_subdomains: bool,
    pub expires_on: String,
    pub version: i64,
    pub pins: Vec<PinEntryView>,
    pub findings: Vec<FindingView>,
    pub export_blocked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportView {
    pub hostname: String,
    pub format: String,
    pub filename: String,
    pub text: String,
    pub expiry_note: String,
    pub pinset_version: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReleaseView {
    pub id: String,
    pub app: String,
    pub platform: AppPlatform,
    pub bundle_id: String,
    pub version: String,
    pub released_on: String,
    pub hostname: String,
    pub pinset_version: i64,
    pub pins: Vec<String>,
    pub export_format: String,
    pub supported: bool,
}

#[cfg(feature = "ssr")]
pub mod convert {
    use super::*;
    use domain::pinsets::service::Export;
    use domain::pinsets::service::{PinsetState, ReleaseState};

    pub fn pinset(s: PinsetState) -> PinsetView {
        PinsetView {
            hostname: s.set.hostname.clone(),
            include_subdomains: s.set.include_subdomains,
            expires_on: s.set.expires_on.to_string(),
            version: i64::from(s.set.version),
            pins: s
                .set
                .pins
                .iter()
                .map(|p| PinEntryView {
                    pin: p.pin.to_base64(),
                    label: p.label.clone(),
                    role: p.role.as_str().to_owned(),
                    custody: p.custody.as_str().to_owned(),
                    in_live_chain: s.live_pins.contains(&p.pin),
                })
                .collect(),
            export_blocked: s.export_blocked,
            findings: s
                .findings
                .into_iter()
                .map(|f| FindingView {
                    level: f.level.as_str().to_owned(),
                    code: f.code.to_owned(),
                    message: f.message,
                })
                .collect(),
        }
    }

    pub fn export(hostname: &str, e: Export) -> ExportView {
        ExportView {
            hostname: hostname.to_owned(),
            format: e.format,
            filename: e.filename,
            text: e.text,
            expiry_note: e.expiry_note,
            pinset_version: e.pinset_version,
        }
    }

    pub fn release(r: ReleaseState) -> ReleaseView {
        ReleaseView {
            id: r.release.id,
            app: r.app.name,
            platform: r.app.platform,
            bundle_id: r.app.bundle_id,
            version: r.release.version,
            released_on: r.release.released_on,
            hostname: r.release.hostname,
            pinset_version: r.release.pinset_version,
            pins: r.pins.iter().map(|p| p.to_base64()).collect(),
            export_format: r.release.export_format,
            supported: r.release.supported,
        }
    }
}

/// Every pin set with its lint findings.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "list_pinsets")]
pub async fn list_pinsets() -> Result<Vec<PinsetView>, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx
        .console
        .pinsets
        .list()
        .await?
        .into_iter()
        .map(convert::pinset)
        .collect())
}

/// Changes a pin set's include-subdomains flag and expiration (a new version).
///
/// **Permissions:** owner or admin. **Audit:** `pinsets.update` (before/after).
#[server(endpoint = "update_pinset")]
pub async fn update_pinset(
    hostname: String,
    include_subdomains: Option<String>,
    expires_on: String,
    version: String,
) -> Result<PinsetView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let s = ctx
        .console
        .pinsets
        .update(
            &ctx.actor,
            &hostname,
            include_subdomains.is_some(),
            &expires_on,
            &version,
        )
        .await?;
    Ok(convert::pinset(s))
}

/// Adds a pin: the issuing CA's key (`source = ca`) or a pasted backup pin for a key held
/// offline (`source = offline`, with `pin` and `label`).
///
/// **Permissions:** owner or admin. **Audit:** `pinsets.add_pin`.
#[server(endpoint = "add_pin")]
pub async fn add_pin(
    hostname: String,
    source: String,
    pin: String,
    label: String,
    version: String,
) -> Result<PinsetView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let s = ctx
        .console
        .pinsets
        .add_pin(&ctx.actor, &hostname, &source, &pin, &label, &version)
        .await?;
    Ok(convert::pinset(s))
}

/// Removes a pin from a set (a new version).
///
/// **Permissions:** owner or admin. **Audit:** `pinsets.remove_pin`.
#[server(endpoint = "remove_pin")]
pub async fn remove_pin(
    hostname: String,
    pin: String,
    version: String,
) -> Result<PinsetView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let s = ctx
        .console
        .pinsets
        .remove_pin(&ctx.actor, &hostname, &pin, &version)
        .await?;
    Ok(convert::pinset(s))
}

/// The pin set in one platform's format; refused while the linter reports an error.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only; "Export for release" records).
#[server(endpoint = "export_pinset")]
pub async fn export_pinset(hostname: String, format: String) -> Result<ExportView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let e = ctx.console.pinsets.export(&hostname, &format).await?;
    Ok(convert::export(&hostname, e))
}

/// Exports the pin set for an app release and records the release (creating the app if new).
///
/// **Permissions:** owner or admin. **Audit:** `pinsets.export_for_release`.
#[server(endpoint = "export_for_release")]
#[allow(clippy::too_many_arguments)]
pub async fn export_for_release(
    hostname: String,
    format: String,
    app_name: String,
    platform: AppPlatform,
    bundle_id: String,
    version: String,
    released_on: String,
) -> Result<ExportView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let e = ctx
        .console
        .pinsets
        .export_for_release(
            &ctx.actor,
            &hostname,
            &format,
            &app_name,
            platform,
            &bundle_id,
            &version,
            &released_on,
        )
        .await?;
    Ok(convert::export(&hostname, e))
}

/// Every recorded app release, newest first.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "list_releases")]
pub async fn list_releases() -> Result<Vec<ReleaseView>, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(ctx
        .console
        .pinsets
        .releases()
        .await?
        .into_iter()
        .map(convert::release)
        .collect())
}

/// Marks a release supported (the planner protects it) or not.
///
/// **Permissions:** owner or admin. **Audit:** `releases.set_supported`.
#[server(endpoint = "set_release_supported")]
pub async fn set_release_supported(id: String, supported: String) -> Result<(), AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    ctx.console
        .pinsets
        .set_supported(&ctx.actor, &id, supported == "true")
        .await?;
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundPinView {
    pub pin: String,
    pub description: String,
}

/// SPKI pins of every certificate, CSR, public or private key in `input` (PEM).
///
/// **Permissions:** any signed-in admin. **Audit:** none (nothing is stored).
#[server(endpoint = "compute_pins")]
pub async fn compute_pins(input: String) -> Result<Vec<FoundPinView>, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let found = ctx.console.certs.pins_in(&input)?;
    Ok(found
        .into_iter()
        .map(|f| FoundPinView {
            pin: f.pin.to_base64(),
            description: f.description,
        })
        .collect())
}

/// Connects to `host_port` and returns the pins of the chain it presents (link-local and
/// metadata addresses refused unless the console allows them).
///
/// **Permissions:** any signed-in admin. **Audit:** `certs.probe` (an outbound connection).
#[server(endpoint = "probe_pins")]
pub async fn probe_pins(host_port: String) -> Result<Vec<FoundPinView>, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let found = ctx.console.certs.probe(&ctx.actor, &host_port).await?;
    Ok(found
        .into_iter()
        .map(|f| FoundPinView {
            pin: f.pin.to_base64(),
            description: f.description,
        })
        .collect())
}
