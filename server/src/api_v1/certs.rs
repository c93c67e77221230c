//! `/api/v1/certificates` and `/api/v1/csrs`: certificates, CAs and pending CSRs
//! (`certs:read`); a CSR for a hostname's next key, and the certificate an external CA signed
//! for it, which becomes the hostname's current certificate (`certs:write`).

use app::api::certs::{convert, CertView, CertsView, CsrView};
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::api_tokens::Scope;
use domain::audited::{action, Target};
use serde::Deserialize;
use serde_json::json;

use super::{answer, json_body, refused, Call, Problem};

/// `GET /api/v1/certificates`. **Scope:** `certs:read`. **Audit:** `api.certs.read`.
#[utoipa::path(
    get,
    path = "/api/v1/certificates",
    operation_id = "list_certificates",
    summary = "Certificates, CAs, hostnames and pending CSRs (scope certs:read)",
    description = "What the Certificates page shows: the internal CAs, each hostname with its current certificate and the pin of its pre-generated next key (the backup pin apps ship), every certificate, and the CSRs waiting for an external CA. Never a private key.",
    responses((status = 200, description = "The certificates", body = CertsView))
)]
pub(super) async fn list_certificates(call: Call) -> Response {
    let certs = &call.console.certs;
    answer(
        call.read(
            Scope::CertsRead,
            action::API_CERTS_READ,
            "certs",
            async { Ok(convert::overview(certs.overview().await?)) },
            |v| json!({ "count": v.certificates.len() }),
        )
        .await,
    )
}

/// The body of `POST /api/v1/csrs`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"hostname": "api.example.com"}))]
pub(super) struct CsrRequest {
    /// The hostname the certificate is for (a DNS name).
    #[schema(max_length = 253)]
    hostname: String,
}

/// `POST /api/v1/csrs`. **Scope:** `certs:write`. **Audit:** `certs.create_csr`.
#[utoipa::path(
    post,
    path = "/api/v1/csrs",
    operation_id = "create_csr",
    summary = "A CSR for a hostname's next key, for an external CA (scope certs:write)",
    description = "Creates a PKCS #10 request for the hostname's pre-generated next key (the backup pin apps already ship, answered as `pin`). Send `csr_pem` to your CA, then upload what it signed to `/api/v1/csrs/{id}/certificate`. The private key never leaves the console.",
    request_body(content = CsrRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The CSR", body = CsrView),
        (status = 400, description = "The body or the hostname is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB"),
    )
)]
pub(super) async fn create_csr(call: Call, headers: HeaderMap, body: Bytes) -> Response {
    // (Refused before the body is read: the event names the token, as a release's does.)
    let target = Target::api_token(&call.caller.id.to_string());
    if let Err(res) = call
        .require(Scope::CertsWrite, action::CERTS_CREATE_CSR, target.as_str())
        .await
    {
        return res;
    }
    let r = match json_body::<CsrRequest>(&headers, &body, "{\"hostname\"}") {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    match call
        .console
        .certs
        .create_csr(&call.actor, &r.hostname)
        .await
    {
        Ok((c, pin)) => (StatusCode::CREATED, axum::Json(convert::csr(&c, pin))).into_response(),
        Err(e) => refused(e),
    }
}

/// The body of `POST /api/v1/csrs/{id}/certificate`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SignedCertificate {
    /// The certificate the CA signed, PEM (`-----BEGIN CERTIFICATE-----` …), leaf first,
    /// optionally followed by its intermediates.
    #[schema(min_length = 1)]
    chain_pem: String,
}

/// `POST /api/v1/csrs/{id}/certificate`. **Scope:** `certs:write`. **Audit:**
/// `certs.accept_signed`.
#[utoipa::path(
    post,
    path = "/api/v1/csrs/{id}/certificate",
    operation_id = "upload_certificate",
    summary = "Upload the certificate a CA signed for a CSR (scope certs:write)",
    description = "Accepted only if the certificate carries the CSR's key and names the CSR's hostname; it then becomes the hostname's current certificate (gates serve it from the next bundle).",
    params(("id" = String, Path, description = "The CSR's id, as `create_csr` answered it", max_length = 200)),
    request_body(content = SignedCertificate, content_type = "application/json"),
    responses(
        (status = 201, description = "Accepted: the hostname's current certificate", body = CertView),
        (status = 400, description = "The body or the certificate is not valid, or it does not match the CSR", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such CSR", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The CSR was already fulfilled", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB"),
    )
)]
pub(super) async fn upload_certificate(
    call: Call,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = Target::csr(&id);
    if let Err(res) = call
        .require(
            Scope::CertsWrite,
            action::CERTS_ACCEPT_SIGNED,
            target.as_str(),
        )
        .await
    {
        return res;
    }
    let r = match json_body::<SignedCertificate>(&headers, &body, "{\"chain_pem\"}") {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    match call
        .console
        .certs
        .accept_signed(&call.actor, &id, &r.chain_pem)
        .await
    {
        Ok(c) => (StatusCode::CREATED, axum::Json(convert::cert(&c))).into_response(),
        Err(e) => refused(e),
    }
}
