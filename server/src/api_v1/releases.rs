//! `/api/v1/releases`: the recorded app releases (`pinsets:read`) and recording one, which
//! answers the export it ships (`releases:write`).

use app::api::pinsets::{convert, ReleaseView};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::api_tokens::Scope;
use domain::audited::{action, Target};
use domain::pinsets::AppPlatform;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::pinsets::{file, ExportFormat};
use super::{answer, json_body, refused, Call, Problem};

/// Every recorded release, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ReleaseList {
    releases: Vec<ReleaseView>,
}

/// `GET /api/v1/releases`. **Scope:** `pinsets:read`. **Audit:** `api.releases.read`.
#[utoipa::path(
    get,
    path = "/api/v1/releases",
    operation_id = "list_releases",
    summary = "Every recorded app release (scope pinsets:read)",
    description = "The releases the rotation planner protects while `supported`: each app version, the hostname and pin set version it shipped, and its pins.",
    responses((status = 200, description = "The releases, newest first", body = ReleaseList))
)]
pub(super) async fn list_releases(call: Call) -> Response {
    let pinsets = &call.console.pinsets;
    answer(
        call.read(
            Scope::PinsetsRead,
            action::API_RELEASES_READ,
            "releases",
            async {
                let list = pinsets.releases().await?;
                Ok(ReleaseList {
                    releases: list.into_iter().map(convert::release).collect(),
                })
            },
            |l| json!({ "count": l.releases.len() }),
        )
        .await,
    )
}

/// The body of `POST /api/v1/releases`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"hostname": "api.example.com", "format": "ios", "app": "com.example.bank", "version": "5.1.0"}))]
pub(super) struct ReleaseRequest {
    /// The API hostname whose pin set the release ships (its pattern: `super::document`).
    #[schema(max_length = 253)]
    hostname: String,
    /// The export format: `ios`, `trustkit`, `trustkit_swift` (iOS), `android`, `okhttp`
    /// (Android) or `json` (then `platform` is required).
    #[schema(value_type = ExportFormat)]
    format: String,
    /// The app's bundle id / package name (letters, digits, `.`, `_`, `-`, at least one dot).
    #[schema(
        pattern = r"^[A-Za-z0-9_-]*\.[A-Za-z0-9._-]*$",
        min_length = 3,
        max_length = 155
    )]
    app: String,
    /// The app version, printable ASCII.
    #[schema(pattern = r"^[!-~]([ -~]{0,48}[!-~])?$")]
    version: String,
    /// The app's display name; the bundle id when absent.
    #[serde(default)]
    #[schema(
        pattern = r"^[^\s\x00-\x1f\x7f-\x9f](.*[^\s\x00-\x1f\x7f-\x9f])?$",
        max_length = 100
    )]
    app_name: Option<String>,
    /// `ios` or `android`; implied by every format but `json`.
    #[serde(default)]
    #[schema(value_type = AppPlatform)]
    platform: Option<String>,
    /// The release date; today (UTC) when absent.
    #[serde(default)]
    #[schema(format = Date)]
    released_on: Option<String>,
}

fn platform_of(format: &str, given: Option<&str>) -> Result<AppPlatform, domain::Error> {
    let implied = match format {
        "ios" | "trustkit" | "trustkit_swift" => Some(AppPlatform::Ios),
        "android" | "okhttp" => Some(AppPlatform::Android),
        _ => None,
    };
    let given = match given {
        None => None,
        Some("ios") => Some(AppPlatform::Ios),
        Some("android") => Some(AppPlatform::Android),
        Some(other) => {
            return Err(domain::Error::invalid(format!(
                "platform “{other}” is not ios or android"
            )))
        }
    };
    match (implied, given) {
        (Some(i), Some(g)) if i != g => Err(domain::Error::invalid(format!(
            "the {format} format is for {}, not {}",
            i.as_str(),
            g.as_str()
        ))),
        (Some(p), _) | (None, Some(p)) => Ok(p),
        (None, None) => Err(domain::Error::invalid(format!(
            "say which platform the {format} export ships in: \"platform\": \"ios\" or \"android\""
        ))),
    }
}

/// `POST /api/v1/releases`. **Scope:** `releases:write`. **Audit:**
/// `pinsets.export_for_release`, with the token as the actor.
#[utoipa::path(
    post,
    path = "/api/v1/releases",
    operation_id = "record_release",
    summary = "Record an app release and get the pin set it ships (scope releases:write)",
    description = "Records that this app version ships the hostname's current pin set (the rotation planner keeps its pins until the release is retired) and answers the export, as the Pin sets page's Export for release does.",
    request_body(content = ReleaseRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Recorded; the export as a file", headers(("x-pinset-version" = i64, description = "The pin set version the release ships")),
            content((String = "text/plain"), (serde_json::Value = "application/json"), (String = "application/xml"))),
        (status = 400, description = "The body is not a valid release", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No pin set for this hostname", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This app version is already recorded with other pins, or the pin set cannot be exported", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB"),
    )
)]
pub(super) async fn record_release(call: Call, headers: HeaderMap, body: Bytes) -> Response {
    let target = Target::api_token(&call.caller.id.to_string());
    if let Err(res) = call
        .require(
            Scope::ReleasesWrite,
            action::PINSETS_EXPORT_FOR_RELEASE,
            target.as_str(),
        )
        .await
    {
        return res;
    }
    let result = async {
        let r: ReleaseRequest = json_body(
            &headers,
            &body,
            "{\"hostname\", \"format\", \"app\", \"version\"} and optionally \"app_name\", \
             \"platform\", \"released_on\"",
        )?;
        let platform = platform_of(&r.format, r.platform.as_deref())?;
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        call.console
            .pinsets
            .export_for_release(
                &call.actor,
                &r.hostname,
                &r.format,
                r.app_name.as_deref().unwrap_or(&r.app),
                platform,
                &r.app,
                &r.version,
                r.released_on.as_deref().unwrap_or(&today),
            )
            .await
    }
    .await;
    match result {
        Ok(e) => {
            let mut res = file(&e);
            *res.status_mut() = StatusCode::CREATED;
            res
        }
        Err(e) => refused(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_is_implied_by_the_format_or_said() {
        assert_eq!(platform_of("ios", None).ok(), Some(AppPlatform::Ios));
        assert_eq!(
            platform_of("okhttp", Some("android")).ok(),
            Some(AppPlatform::Android)
        );
        assert_eq!(
            platform_of("json", Some("ios")).ok(),
            Some(AppPlatform::Ios)
        );
        assert!(platform_of("json", None)
            .expect_err("unsaid")
            .to_string()
            .contains("\"platform\""));
        assert!(platform_of("android", Some("ios")).is_err());
        assert!(platform_of("ios", Some("windows")).is_err());
    }
}
