//! `/api/v1/pinsets`: the pin sets (with their lint findings) and their exports, for
//! `pinsets:read`.

use app::api::pinsets::{convert, PinsetView};
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::api_tokens::Scope;
use domain::audited::{action, Target};
use serde::Serialize;
use serde_json::json;

use super::{answer, Call, Problem};

/// Every pin set.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PinsetList {
    pinsets: Vec<PinsetView>,
}

/// `GET /api/v1/pinsets`. **Scope:** `pinsets:read`. **Audit:** `api.pinsets.read`.
#[utoipa::path(
    get,
    path = "/api/v1/pinsets",
    operation_id = "list_pinsets",
    summary = "Every pin set (scope pinsets:read)",
    description = "Each hostname's pin set as the Pin sets page shows it: its pins (role, custody, whether the live chain holds it), version, expiry and what the linter found; `export_blocked` says whether an export would be refused.",
    responses((status = 200, description = "The pin sets", body = PinsetList))
)]
pub(super) async fn list_pinsets(call: Call) -> Response {
    let pinsets = &call.console.pinsets;
    answer(
        call.read(
            Scope::PinsetsRead,
            action::API_PINSETS_READ,
            "pinsets",
            async {
                let list = pinsets.list().await?;
                Ok(PinsetList {
                    pinsets: list.into_iter().map(convert::pinset).collect(),
                })
            },
            |l| json!({ "count": l.pinsets.len() }),
        )
        .await,
    )
}

/// `GET /api/v1/pinsets/{hostname}`. **Scope:** `pinsets:read`. **Audit:** `api.pinsets.read`.
#[utoipa::path(
    get,
    path = "/api/v1/pinsets/{hostname}",
    operation_id = "get_pinset",
    summary = "One hostname's pin set (scope pinsets:read)",
    params(
        ("hostname" = String, Path, description = "The API hostname the pin set is for", example = "api.example.com"),
    ),
    responses(
        (status = 200, description = "The pin set", body = PinsetView),
        (status = 400, description = "The hostname is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No pin set for this hostname", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn get_pinset(call: Call, Path(hostname): Path<String>) -> Response {
    let pinsets = &call.console.pinsets;
    let target = Target::pinset(&hostname);
    answer(
        call.read(
            Scope::PinsetsRead,
            action::API_PINSETS_READ,
            target.as_str(),
            async { Ok(convert::pinset(pinsets.get(&hostname).await?)) },
            |p| json!({ "version": p.version }),
        )
        .await,
    )
}

/// `GET /api/v1/pinsets/{hostname}/export/{format}`. **Scope:** `pinsets:read`.
/// **Audit:** `api.pinsets.export` (success or refusal).
#[utoipa::path(
    get,
    path = "/api/v1/pinsets/{hostname}/export/{format}",
    operation_id = "export_pinset",
    summary = "A pin set in one export format (scope pinsets:read)",
    description = "The file the Pin sets page downloads: the pins of the hostname's pin set for an iOS Info.plist (`ios`), TrustKit (`trustkit`, `trustkit_swift`), an Android network security config (`android`), OkHttp (`okhttp`) or JSON (`json`). Records nothing but the call's audit event.",
    params(
        ("hostname" = String, Path, description = "The API hostname the pin set is for", example = "api.example.com"),
        ("format" = ExportFormat, Path, description = "The export format"),
    ),
    responses(
        (status = 200, description = "The export as a file", headers(("x-pinset-version" = i64, description = "The pin set version exported")),
            content((String = "text/plain"), (serde_json::Value = "application/json"), (String = "application/xml"))),
        (status = 400, description = "The format or hostname is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No pin set for this hostname", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The pin set cannot be exported as it stands", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn export_pinset(
    call: Call,
    Path((hostname, format)): Path<(String, String)>,
) -> Response {
    let pinsets = &call.console.pinsets;
    let target = Target::pinset(&hostname);
    let read = call
        .read(
            Scope::PinsetsRead,
            action::API_PINSETS_EXPORT,
            target.as_str(),
            async { Ok(pinsets.export(&hostname, &format).await?) },
            |e| json!({ "format": e.format, "pinset_version": e.pinset_version }),
        )
        .await;
    match read {
        Ok(e) => file(&e),
        Err(res) => res,
    }
}

/// An export as the file the page would download.
pub(super) fn file(e: &domain::pinsets::service::Export) -> Response {
    let content_type = if e.filename.ends_with(".json") {
        "application/json"
    } else if e.filename.ends_with(".xml") {
        "application/xml"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut res = (StatusCode::OK, e.text.clone()).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", e.filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&e.pinset_version.to_string()) {
        h.insert("x-pinset-version", v);
    }
    res
}

/// The export formats, for the document (the handlers take the name and the domain checks it).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(super) enum ExportFormat {
    /// `Info.plist` pinning keys (iOS).
    Ios,
    /// TrustKit configuration (iOS), Objective-C / plist.
    Trustkit,
    /// TrustKit configuration (iOS), Swift.
    TrustkitSwift,
    /// `network_security_config.xml` (Android).
    Android,
    /// OkHttp `CertificatePinner` (Android).
    Okhttp,
    /// The pin set as JSON (any platform).
    Json,
}
