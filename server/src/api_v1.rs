//! The REST API, `/api/v1`, for machines (a mobile team's CI job): authenticated by API tokens
//! only (`Authorization: Bearer pat_…`; a browser session does not work here, and a token does
//! not work on the console's pages), rate-limited per token, every call audited with the token
//! as the actor, errors as RFC 9457 `application/problem+json`.
//!
//! - `GET /api/v1/pinsets/{hostname}/export/{format}` (`pinsets:read`): the pin set in one of
//!   the export formats, exactly as the Pin sets page downloads it.
//! - `POST /api/v1/releases` (`releases:write`): records an app release and answers the export
//!   it ships (the Pin sets page's "Export for release").
//! - `GET /api/v1/audit` (`audit:read`): the audit log with the explorer's filters, newest
//!   first, a page at a time.
//! - `GET /api/v1/openapi.json` (no token): the OpenAPI 3.1 document, generated from these
//!   handlers and types ([`ApiDoc`]).

use std::sync::Arc;

use app::error::AppError;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use domain::api_tokens::{Caller, Scope};
use domain::audit::{Actor, AuditDraft, Outcome, ANONYMOUS};
use domain::audited::{action, Target};
use domain::console::Console;
use domain::pinsets::AppPlatform;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::OpenApi;

/// Request bodies of the API: a release is a few hundred bytes.
pub const BODY_LIMIT: usize = 16 * 1024;

#[derive(Clone)]
pub struct ApiState {
    pub console: Arc<Console>,
    pub proxies: policy::forwarded::ProxyTrust,
}

/// The API's document: every operation, its scope, and the problem every error answers with.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Palisade console API",
        version = "1",
        description = "For release pipelines. Authenticate with an API token (`Authorization: Bearer pat_…`, created on the console's API tokens page); each operation names the scope it needs. Errors are RFC 9457 problems."
    ),
    paths(export_pinset, record_release, read_audit),
    components(schemas(ReleaseRequest, Problem, ExportFormat, Platform, AuditPage, AuditOutcome, app::api::audit::AuditEventView)),
    modifiers(&BearerToken),
    security(("api_token" = []))
)]
pub struct ApiDoc;

/// The `api_token` security scheme (HTTP bearer).
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token, `pat_…`, with the operation's scope"))
                    .build(),
            ),
        );
    }
}

/// The document as served: [`ApiDoc`] plus the rules between a release's fields that its derive
/// cannot state (JSON Schema `if`/`then`, which OpenAPI 3.1 allows), the ones [`platform_of`]
/// applies: an iOS or Android format fixes the platform, and a `json` release names it.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if let Some(release) = doc
        .pointer_mut("/components/schemas/ReleaseRequest")
        .and_then(serde_json::Value::as_object_mut)
    {
        let format_in = |formats: &[&str]| json!({ "properties": { "format": { "enum": formats } }, "required": ["format"] });
        release.insert(
            "allOf".into(),
            json!([
                { "if": format_in(&["ios", "trustkit", "trustkit_swift"]),
                  "then": { "properties": { "platform": { "const": "ios" } } } },
                { "if": format_in(&["android", "okhttp"]),
                  "then": { "properties": { "platform": { "const": "android" } } } },
                { "if": format_in(&["json"]), "then": { "required": ["platform"] } },
            ]),
        );
    }
    doc
}

/// `GET /api/v1/openapi.json`: public (it describes the API, it holds nothing of it).
async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document().to_string(),
    )
        .into_response()
}

/// The API's routes, each behind the token check but the document.
pub fn router<S: Clone + Send + Sync + 'static>(state: ApiState) -> Router<S> {
    Router::new()
        .route(
            "/api/v1/pinsets/{hostname}/export/{format}",
            get(export_pinset),
        )
        .route("/api/v1/releases", post(record_release))
        .route("/api/v1/audit", get(read_audit))
        .route("/api/v1", get(unknown))
        .route("/api/v1/{*rest}", get(unknown).post(unknown))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .route("/api/v1/openapi.json", get(openapi))
        .with_state(state)
}

/// An RFC 9457 problem details object (`application/problem+json`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    kind: &'static str,
    /// The status's reason phrase.
    title: &'static str,
    status: u16,
    /// What went wrong and what to do about it, for a person.
    detail: String,
}

/// An RFC 9457 problem: `title` from the status, `detail` the message a person can act on.
pub fn problem(status: StatusCode, detail: &str) -> Response {
    let body = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail: detail.to_owned(),
    };
    let text = serde_json::to_string(&body).unwrap_or_default();
    let mut res = (status, text).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

/// The problem a domain error maps to (a 500 names only its log reference).
fn refused(e: domain::Error) -> Response {
    refused_app(AppError::from(e))
}

fn refused_app(app: AppError) -> Response {
    let mut res = problem(app.status(), &app.to_string());
    if let AppError::Throttled { retry_after_s, .. } = app {
        if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    if res.status() == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"palisade\""),
        );
    }
    res
}

/// The bearer token of `Authorization` (RFC 6750 §2.1), if there is exactly one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(v), None) = (all.next(), all.next()) else {
        return None;
    };
    let v = v.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Checks the token and puts the [`Caller`] and its audit [`Actor`] in the request.
async fn authenticate(
    State(state): State<ApiState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let ip = state
        .proxies
        .client_ip(
            peer.ip(),
            req.headers()
                .get_all(state.proxies.header.name())
                .iter()
                .map(|v| v.to_str().ok()),
        )
        .to_string();
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect::<String>());
    let anonymous = Actor {
        name: ANONYMOUS.into(),
        ip: Some(ip.clone()),
        user_agent: user_agent.clone(),
    };
    let Some(token) = bearer(req.headers()) else {
        return refused(domain::Error::Unauthenticated);
    };
    match state
        .console
        .api_tokens
        .authenticate(&anonymous, token)
        .await
    {
        Ok(caller) => {
            let actor = caller.actor(Some(ip), user_agent);
            req.extensions_mut().insert(caller);
            req.extensions_mut().insert(actor);
            next.run(req).await
        }
        Err(e) => refused(e),
    }
}

async fn unknown() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "no such API endpoint; see the README's REST API section",
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
        ("hostname" = String, Path, description = "The API hostname the pin set is for", example = "api.example.com", pattern = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", max_length = 253),
        ("format" = ExportFormat, Path, description = "The export format"),
    ),
    responses(
        (status = 200, description = "The export as a file", headers(("x-pinset-version" = i64, description = "The pin set version exported")),
            content((String = "text/plain"), (serde_json::Value = "application/json"), (String = "application/xml"))),
        (status = 400, description = "The format or hostname is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks pinsets:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No pin set for this hostname", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The pin set cannot be exported as it stands", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The token's rate limit; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn export_pinset(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Extension(actor): Extension<Actor>,
    Path((hostname, format)): Path<(String, String)>,
) -> Response {
    let result = async {
        caller.require(Scope::PinsetsRead)?;
        state.console.pinsets.export(&hostname, &format).await
    }
    .await;
    let outcome = match &result {
        Ok(_) => Outcome::Success,
        Err(domain::Error::Forbidden) => Outcome::Denied,
        Err(_) => Outcome::Failure,
    };
    let details = match &result {
        Ok(e) => json!({ "format": e.format, "pinset_version": e.pinset_version }),
        Err(e) => json!({ "format": format, "reason": e.to_string() }),
    };
    let draft = AuditDraft::new(
        &actor,
        action::API_PINSETS_EXPORT,
        Target::pinset(&hostname).as_str(),
        outcome,
    )
    .with_details(details);
    if let Err(e) = state.console.store.record(draft).await {
        return refused(e.into());
    }
    match result {
        Ok(e) => file(&e),
        Err(e) => refused(e),
    }
}

/// An export as the file the page would download.
fn file(e: &domain::pinsets::service::Export) -> Response {
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
enum ExportFormat {
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

/// The app platforms.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum Platform {
    Ios,
    Android,
}

/// The body of `POST /api/v1/releases`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"hostname": "api.example.com", "format": "ios", "app": "com.example.bank", "version": "5.1.0"}))]
struct ReleaseRequest {
    /// The API hostname whose pin set the release ships. (The pattern, also on the export's
    /// path, is the DNS name `domain::pinsets::parse_hostname` accepts, a little stricter: it
    /// must be a literal in the attribute.)
    #[schema(
        pattern = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$",
        max_length = 253
    )]
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
    #[schema(value_type = Platform)]
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
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks releases:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No pin set for this hostname", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This app version is already recorded with other pins, or the pin set cannot be exported", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 16 KiB"),
        (status = 429, description = "The token's rate limit; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn record_release(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        if let Err(e) = caller.require(Scope::ReleasesWrite) {
            let draft = AuditDraft::new(
                &actor,
                action::PINSETS_EXPORT_FOR_RELEASE,
                Target::api_token(&caller.id.to_string()).as_str(),
                Outcome::Denied,
            )
            .with_details(json!({ "reason": "the token lacks the releases:write scope" }));
            state.console.store.record(draft).await?;
            return Err(e);
        }
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim() == "application/json")
            });
        if !is_json {
            return Err(domain::Error::invalid(
                "send the release as JSON (Content-Type: application/json)",
            ));
        }
        let r: ReleaseRequest = serde_json::from_slice(&body).map_err(|e| {
            domain::Error::invalid(format!(
                "expected {{\"hostname\", \"format\", \"app\", \"version\"}} and optionally \
                 \"app_name\", \"platform\", \"released_on\": {e}"
            ))
        })?;
        let platform = platform_of(&r.format, r.platform.as_deref())?;
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        state
            .console
            .pinsets
            .export_for_release(
                &actor,
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

/// The filters of `GET /api/v1/audit`: the Audit page's, plus the page.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// Exactly this actor (`alice`, `token:<id>`, `system`).
    #[param(pattern = r"^[^\x00-\x1f\x7f-\x9f]*$", max_length = 200)]
    actor: Option<String>,
    /// Actions starting with this (`pinsets.`).
    #[param(pattern = r"^[^\x00-\x1f\x7f-\x9f]*$", max_length = 200)]
    action: Option<String>,
    /// Exactly this target (`policy:<id>`, `pinset:api.example.com`).
    #[param(pattern = r"^[^\x00-\x1f\x7f-\x9f]*$", max_length = 200)]
    target: Option<String>,
    /// success, failure or denied.
    #[param(value_type = Option<AuditOutcome>)]
    outcome: Option<String>,
    /// From this day on (UTC). `YYYY-MM-DDTHH:MM` (UTC) and RFC 3339 instants are taken too.
    #[param(format = Date)]
    since: Option<String>,
    /// Before this day (UTC); the same forms.
    #[param(format = Date)]
    until: Option<String>,
    /// Text the details contain (exact, case-sensitive).
    #[param(pattern = r"^[^\x00-\x1f\x7f-\x9f]*$", max_length = 200)]
    text: Option<String>,
    /// Only events with a sequence number below this: the `older` of the previous page.
    #[param(minimum = 1)]
    before: Option<i64>,
    /// Events per page, 1 to 1,000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// The outcomes an event can have.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum AuditOutcome {
    Success,
    Failure,
    Denied,
}

/// One page of events, newest first.
#[derive(Serialize, utoipa::ToSchema)]
struct AuditPage {
    events: Vec<app::api::audit::AuditEventView>,
    /// Pass as `before` for the next (older) page; null on the last one.
    older: Option<i64>,
}

/// `GET /api/v1/audit`. **Scope:** `audit:read`. **Audit:** `api.audit.read`.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "read_audit",
    summary = "The audit log, filtered (scope audit:read)",
    description = "The Audit page's filters, all optional and all applied; newest first, pages that stay put while new events arrive (pass `older` as `before`).",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 400, description = "A filter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks audit:read", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The token's rate limit; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn read_audit(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Extension(actor): Extension<Actor>,
    params: Result<axum::extract::Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        caller.require(Scope::AuditRead)?;
        let axum::extract::Query(p) = params.map_err(|e| {
            AppError::from(domain::Error::invalid(format!(
                "the query is not valid: {}",
                e.body_text()
            )))
        })?;
        let invalid = |m: &str| AppError::from(domain::Error::invalid(m));
        if p.before.is_some_and(|b| b < 1) {
            return Err(invalid("before must be a sequence number (1 or more)"));
        }
        if p.since.as_deref().is_some_and(|v| v.trim().is_empty())
            || p.until.as_deref().is_some_and(|v| v.trim().is_empty())
        {
            return Err(invalid(
                "since and until, when given, must be a date (YYYY-MM-DD)",
            ));
        }
        let limit = p.limit.unwrap_or(app::api::audit::PAGE_SIZE);
        if !(1..=1000).contains(&limit) {
            return Err(invalid("limit must be 1 to 1000"));
        }
        let query = app::api::audit::AuditQuery {
            actor: p.actor.unwrap_or_default(),
            action: p.action.unwrap_or_default(),
            target: p.target.unwrap_or_default(),
            outcome: p.outcome.unwrap_or_default(),
            since: p.since.unwrap_or_default(),
            until: p.until.unwrap_or_default(),
            text: p.text.unwrap_or_default(),
        };
        let page = app::api::audit::convert::page(&state.console, &query, p.before, limit).await?;
        Ok::<_, AppError>((query, page))
    }
    .await;
    let (outcome, details) = match &result {
        Ok((q, _)) => (Outcome::Success, json!({ "filters": q.to_query() })),
        Err(AppError::Forbidden(_)) => (
            Outcome::Denied,
            json!({ "reason": "the token lacks the audit:read scope" }),
        ),
        Err(e) => (Outcome::Failure, json!({ "reason": e.to_string() })),
    };
    let draft =
        AuditDraft::new(&actor, action::API_AUDIT_READ, "audit", outcome).with_details(details);
    if let Err(e) = state.console.store.record(draft).await {
        return refused(e.into());
    }
    match result {
        Ok((_, (events, older))) => {
            let page = AuditPage {
                events: events
                    .into_iter()
                    .map(app::api::audit::convert::event)
                    .collect(),
                older,
            };
            axum::Json(page).into_response()
        }
        Err(e) => refused_app(e),
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

    #[test]
    fn only_one_bearer_authorization_is_read() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer pat_x"),
        );
        assert_eq!(bearer(&h), Some("pat_x"));
        h.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer pat_y"),
        );
        assert_eq!(bearer(&h), None);
        let mut basic = HeaderMap::new();
        basic.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic eDp5"),
        );
        assert_eq!(bearer(&basic), None);
    }
}
