//! Server fns for certificates: the internal CA, issue, rotation (with the planner), CSRs and
//! import (domain: `certs`). The pin tool sits beside the pin-sets page (`api::pinsets`).

use leptos::prelude::*;
use policy::certs::RotationTarget;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CertView {
    pub id: String,
    pub kind: String,
    pub hostname: Option<String>,
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub serial_hex: String,
    pub key_type: String,
    pub not_before: String,
    pub not_after: String,
    pub spki_pin: String,
    pub status: String,
    /// Certificates in the stored chain (the leaf included): what "Download chain" gives.
    pub chain_certs: u32,
    /// The stored chain ends with its root (internal CAs store it; an imported chain holds what
    /// was pasted).
    pub chain_has_root: bool,
    /// Why this certificate's private key cannot be downloaded; `None` when it can.
    pub key_unavailable: Option<String>,
    /// What its downloaded files are called, before `.chain.pem` / `.key.pem` (the hostname, or
    /// the common name), as the download's `Content-Disposition` names them.
    pub file_stem: String,
}

/// A one-time link to a certificate's private key, valid for `expires_in_s` seconds in this
/// session only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDownloadView {
    pub url: String,
    pub expires_in_s: u32,
}

/// The path of a certificate's chain download.
pub fn chain_download_path(cert_id: &str) -> String {
    format!("/download/cert-chain/{cert_id}")
}

/// The path of a certificate's key download (with `?ticket=` from [`create_key_download`]).
pub fn key_download_path(cert_id: &str) -> String {
    format!("/download/cert-key/{cert_id}")
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostnameView {
    pub hostname: String,
    pub current: Option<CertView>,
    /// Pin of the pre-generated next key: ship it in apps as the backup pin.
    pub next_pin: Option<String>,
    pub ca_subject: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CsrView {
    pub id: String,
    pub hostname: String,
    pub pin: String,
    pub csr_pem: String,
    pub fulfilled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CertsView {
    pub cas: Vec<CertView>,
    pub hostnames: Vec<HostnameView>,
    pub certificates: Vec<CertView>,
    pub csrs: Vec<CsrView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictView {
    pub app: String,
    pub platform: String,
    pub version: String,
    pub supported: bool,
    pub ok: bool,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationPlanView {
    pub hostname: String,
    pub target: RotationTarget,
    pub new_pin: String,
    pub verdicts: Vec<VerdictView>,
    pub blocked: bool,
}

#[cfg(feature = "ssr")]
pub mod convert {
    use super::*;
    use domain::certs::service::{CertsOverview, RotationPlan};
    use domain::ports::certs::{CertRecord, CsrRecord};

    /// What a view of one certificate says about its key when it was not looked up (the
    /// certificate a change just returned).
    const KEY_NOT_CHECKED: &str = "Reload the page to see whether its key can be downloaded.";

    pub fn cert(c: &CertRecord) -> CertView {
        cert_with(c, Some(KEY_NOT_CHECKED.to_owned()))
    }

    pub fn cert_with(c: &CertRecord, key_unavailable: Option<String>) -> CertView {
        let chain = domain::certs::service::chain_summary(&c.chain_pem);
        CertView {
            id: c.id.clone(),
            kind: c.kind.as_str().to_owned(),
            hostname: c.hostname.clone(),
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            sans: c.sans.clone(),
            serial_hex: c.serial_hex.clone(),
            key_type: c.key_type.clone(),
            not_before: c.not_before.clone(),
            not_after: c.not_after.clone(),
            spki_pin: c.spki_pin.clone(),
            status: c.status.as_str().to_owned(),
            chain_certs: u32::try_from(chain.certs).unwrap_or(u32::MAX),
            chain_has_root: chain.ends_with_root,
            key_unavailable,
            file_stem: domain::certs::service::download_stem(c),
        }
    }

    pub fn csr(c: &CsrRecord, pin: String) -> CsrView {
        CsrView {
            id: c.id.clone(),
            hostname: c.hostname.clone(),
            pin,
            csr_pem: c.csr_pem.clone(),
            fulfilled: c.fulfilled_by.is_some(),
        }
    }

    pub fn overview(o: CertsOverview) -> CertsView {
        let view = |c: &CertRecord| {
            let why = o
                .key_refusals
                .get(&c.id)
                .cloned()
                .unwrap_or_else(|| Some(KEY_NOT_CHECKED.to_owned()));
            cert_with(c, why)
        };
        CertsView {
            cas: o.cas.iter().map(view).collect(),
            hostnames: o
                .hostnames
                .iter()
                .map(|h| HostnameView {
                    hostname: h.hostname.clone(),
                    current: h.current.as_ref().map(view),
                    next_pin: h.next_pin.clone(),
                    ca_subject: h.ca_subject.clone(),
                })
                .collect(),
            certificates: o.certificates.iter().map(view).collect(),
            csrs: o.csrs.iter().map(|(c, pin)| csr(c, pin.clone())).collect(),
        }
    }

    pub fn plan(p: RotationPlan) -> RotationPlanView {
        RotationPlanView {
            hostname: p.hostname,
            target: p.target,
            new_pin: p.new_pin,
            blocked: p.blocked,
            verdicts: p
                .verdicts
                .into_iter()
                .map(|v| VerdictView {
                    app: v.app,
                    platform: v.platform,
                    version: v.version,
                    supported: v.supported,
                    ok: v.ok,
                    reason: v.reason,
                })
                .collect(),
        }
    }
}

/// Everything the Certificates page shows.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "list_certs")]
pub async fn list_certs() -> Result<CertsView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(convert::overview(ctx.console.certs.overview().await?))
}

/// Creates the internal root CA.
///
/// **Permissions:** owner or admin. **Audit:** `certs.create_ca`.
#[server(endpoint = "create_ca")]
pub async fn create_ca(
    common_name: String,
    key_type: String,
    validity_days: String,
) -> Result<CertView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let c = ctx
        .console
        .certs
        .create_root_ca(&ctx.actor, &common_name, &key_type, &validity_days)
        .await?;
    Ok(convert::cert(&c))
}

/// Creates an intermediate CA signed by an internal CA.
///
/// **Permissions:** owner or admin. **Audit:** `certs.create_ca`.
#[server(endpoint = "create_intermediate_ca")]
pub async fn create_intermediate_ca(
    parent_id: String,
    common_name: String,
    key_type: String,
    validity_days: String,
) -> Result<CertView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let c = ctx
        .console
        .certs
        .create_intermediate_ca(
            &ctx.actor,
            &parent_id,
            &common_name,
            &key_type,
            &validity_days,
        )
        .await?;
    Ok(convert::cert(&c))
}

/// Issues a server certificate for a hostname from the internal CA, with a fresh current key
/// and a pre-generated next key.
///
/// **Permissions:** owner or admin. **Audit:** `certs.issue`.
#[server(endpoint = "issue_cert")]
pub async fn issue_cert(
    ca_id: String,
    hostname: String,
    extra_sans: String,
    key_type: String,
    validity_days: String,
) -> Result<CertView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let c = ctx
        .console
        .certs
        .issue(
            &ctx.actor,
            &ca_id,
            &hostname,
            &extra_sans,
            &key_type,
            &validity_days,
        )
        .await?;
    Ok(convert::cert(&c))
}

/// What a rotation of `hostname` to `target` (the next key or a fresh one) would do to shipped
/// releases.
///
/// **Permissions:** any signed-in admin. **Audit:** none (read-only).
#[server(endpoint = "plan_rotation")]
pub async fn plan_rotation(
    hostname: String,
    target: RotationTarget,
) -> Result<RotationPlanView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    Ok(convert::plan(
        ctx.console.certs.plan(&hostname, target).await?,
    ))
}

/// Rotates `hostname`'s certificate; refused while a supported release would break, unless an
/// owner gives a written reason.
///
/// **Permissions:** `certs:rotate`; the override: an owner, with a step-up. **Audit:**
/// `certs.rotate` (with the override reason), or a denial.
#[server(endpoint = "rotate_cert")]
pub async fn rotate_cert(
    hostname: String,
    target: RotationTarget,
    override_reason: String,
) -> Result<CertView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    let admin = ctx.require_admin()?;
    if !override_reason.trim().is_empty() {
        ctx.require_step_up("certs.rotate").await?;
    }
    let c = ctx
        .console
        .certs
        .rotate(
            &ctx.actor,
            admin.admin.role,
            &hostname,
            target,
            &override_reason,
        )
        .await?;
    Ok(convert::cert(&c))
}

/// Creates a CSR for `hostname`'s next key, for an external CA.
///
/// **Permissions:** owner or admin. **Audit:** `certs.create_csr`.
#[server(endpoint = "create_csr")]
pub async fn create_csr(hostname: String) -> Result<CsrView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let (c, pin) = ctx.console.certs.create_csr(&ctx.actor, &hostname).await?;
    Ok(convert::csr(&c, pin))
}

/// Accepts the certificate an external CA signed for a CSR (only if it carries the CSR's key)
/// and makes it current.
///
/// **Permissions:** owner or admin. **Audit:** `certs.accept_signed`.
#[server(endpoint = "upload_signed_cert")]
pub async fn upload_signed_cert(csr_id: String, chain_pem: String) -> Result<CertView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let c = ctx
        .console
        .certs
        .accept_signed(&ctx.actor, &csr_id, &chain_pem)
        .await?;
    Ok(convert::cert(&c))
}

/// Imports a PEM chain (leaf first) with an optional private key.
///
/// **Permissions:** owner or admin. **Audit:** `certs.import`.
#[server(endpoint = "import_cert")]
pub async fn import_cert(
    hostname: String,
    chain_pem: String,
    key_pem: String,
) -> Result<CertView, AppError> {
    let ctx = crate::ctx::RequestCtx::get()?;
    ctx.require_admin()?;
    let c = ctx
        .console
        .certs
        .import(&ctx.actor, &hostname, &chain_pem, &key_pem)
        .await?;
    Ok(convert::cert(&c))
}

/// Step 1 of downloading a certificate's private key: after the admin confirmed with a passkey,
/// returns a one-time link (60 s, this session only) that the browser follows to save the key
/// (`GET /download/cert-key/{id}?ticket=…`, served by the server's downloads).
///
/// **Permissions:** `certs:issue`, with a step-up. **Audit:** a refusal under
/// `certs.download_key`; the download itself writes the success row.
#[server(endpoint = "create_key_download")]
pub async fn create_key_download(cert_id: String) -> Result<KeyDownloadView, AppError> {
    use secrecy::ExposeSecret;
    let ctx = crate::ctx::RequestCtx::get()?;
    let admin = ctx.require_admin()?;
    let t = ctx
        .console
        .certs
        .key_download_ticket(&ctx.actor, admin, &cert_id)
        .await?;
    let expires_in_s =
        u32::try_from((t.expires_at_ms - domain::now_ms()).max(0) / 1000).unwrap_or_default();
    Ok(KeyDownloadView {
        url: format!(
            "{}?ticket={}",
            key_download_path(cert_id.trim()),
            t.ticket.expose_secret()
        ),
        expires_in_s,
    })
}
