//! The REST API, `/api/v1`, for machines (a mobile team's CI job): authenticated by API tokens
//! only (`Authorization: Bearer pat_…`; a browser session does not work here, and a token does
//! not work on the console's pages), rate-limited per token, every call audited with the token
//! as the actor, errors as RFC 9457 `application/problem+json`.
//!
//! The endpoints, one module per area, each naming the scope it needs:
//!
//! - [`pinsets`]: the pin sets and their exports (`pinsets:read`);
//! - [`releases`]: recorded app releases (`pinsets:read`) and recording one (`releases:write`);
//! - [`certs`]: certificates, CAs and CSRs (`certs:read`); a CSR for a hostname's next key and
//!   the certificate a CA signed for it (`certs:write`);
//! - [`clients`], [`keys`] (with each key set's JWKS), [`policies`], [`gates`]: reads
//!   (`clients:read`, `keys:read`, `policies:read`, `gates:read`);
//! - [`audit`]: the audit log with the explorer's filters (`audit:read`);
//! - `GET /api/v1/openapi.json` (no token): the OpenAPI 3.1 document, generated from these
//!   handlers and types ([`ApiDoc`]).
//!
//! A read is audited as `api.<area>.read`; a change as the console's own action for it (the
//! same event the page's change writes), with the token as the actor either way.

mod audit;
mod certs;
mod clients;
mod gates;
mod keys;
mod pinsets;
mod policies;
mod releases;

use std::sync::Arc;

use app::error::AppError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use domain::api_tokens::{Caller, Scope};
use domain::audit::{Actor, AuditDraft, Outcome, ANONYMOUS};
use domain::console::Console;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::OpenApi;

/// Request bodies of the API: a release is a few hundred bytes, a certificate chain a few KB.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct ApiState {
    pub console: Arc<Console>,
    pub proxies: policy::forwarded::ProxyTrust,
}

/// A DNS hostname as the document states it for every hostname a request names (set by
/// [`document`]: utoipa takes only a literal in its attributes, and one pattern serves): the syntax
/// `domain::pinsets::parse_hostname` accepts, a little stricter (ASCII labels of 1 to 63
/// characters, not starting or ending with `-`, a top-level label starting with a letter).
const HOSTNAME_PATTERN: &str =
    r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";

/// The API's document: every operation, its scope, and the problem every error answers with.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Palisade console API",
        version = "1",
        description = "For release pipelines. Authenticate with an API token (`Authorization: Bearer pat_…`, created on the console's API tokens page); each operation names the scope it needs. Errors are RFC 9457 problems."
    ),
    paths(
        pinsets::list_pinsets, pinsets::get_pinset, pinsets::export_pinset,
        releases::list_releases, releases::record_release,
        certs::list_certificates, certs::create_csr, certs::upload_certificate,
        clients::list_clients, clients::get_client,
        keys::list_key_sets, keys::key_set_jwks,
        policies::list_policies, gates::list_gates, audit::read_audit,
    ),
    components(schemas(Problem, pinsets::ExportFormat, audit::AuditOutcome)),
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
        // What every operation behind the token check can answer, stated once.
        let common = [
            (
                "401",
                "No valid token (missing, unknown, expired or revoked)",
            ),
            ("403", "The token lacks the scope the operation names"),
            ("429", "The token's rate limit; see Retry-After"),
        ];
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                for (status, description) in common {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem_response(description));
                }
            }
        }
    }
}

/// A documented answer with a [`Problem`] body.
fn problem_response(
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::response::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

/// The document as served: [`ApiDoc`] plus the rules between a release's fields that its derive
/// cannot state (JSON Schema `if`/`then`, which OpenAPI 3.1 allows), the ones `releases::platform_of`
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
    // Every hostname a request names: path parameters, and the request bodies' fields.
    let hostname = |schema: &mut Value| {
        if let Some(s) = schema.as_object_mut() {
            s.insert("pattern".into(), json!(HOSTNAME_PATTERN));
            s.insert("maxLength".into(), json!(253));
        }
    };
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for op in paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.values_mut())
        {
            for p in op
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if p["name"] == "hostname" {
                    if let Some(schema) = p.get_mut("schema") {
                        hostname(schema);
                    }
                }
            }
        }
    }
    for body in ["ReleaseRequest", "CsrRequest"] {
        if let Some(schema) =
            doc.pointer_mut(&format!("/components/schemas/{body}/properties/hostname"))
        {
            hostname(schema);
        }
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
        .route("/api/v1/pinsets", get(pinsets::list_pinsets))
        .route("/api/v1/pinsets/{hostname}", get(pinsets::get_pinset))
        .route(
            "/api/v1/pinsets/{hostname}/export/{format}",
            get(pinsets::export_pinset),
        )
        .route(
            "/api/v1/releases",
            get(releases::list_releases).post(releases::record_release),
        )
        .route("/api/v1/certificates", get(certs::list_certificates))
        .route("/api/v1/csrs", post(certs::create_csr))
        .route(
            "/api/v1/csrs/{id}/certificate",
            post(certs::upload_certificate),
        )
        .route("/api/v1/clients", get(clients::list_clients))
        .route("/api/v1/clients/{id}", get(clients::get_client))
        .route("/api/v1/keysets", get(keys::list_key_sets))
        .route("/api/v1/keysets/{id}/jwks", get(keys::key_set_jwks))
        .route("/api/v1/policies", get(policies::list_policies))
        .route("/api/v1/gates", get(gates::list_gates))
        .route("/api/v1/audit", get(audit::read_audit))
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

/// What every endpoint behind the token check works with: the console, the calling token and
/// its audit actor (put in the request by [`authenticate`]).
pub(crate) struct Call {
    pub console: Arc<Console>,
    pub caller: Caller,
    pub actor: Actor,
}

impl FromRequestParts<ApiState> for Call {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        match (
            parts.extensions.get::<Caller>(),
            parts.extensions.get::<Actor>(),
        ) {
            (Some(caller), Some(actor)) => Ok(Call {
                console: state.console.clone(),
                caller: caller.clone(),
                actor: actor.clone(),
            }),
            _ => Err(refused(domain::Error::Unauthenticated)),
        }
    }
}

impl Call {
    /// Writes one audit event of this call, the token as the actor.
    async fn record(
        &self,
        action: &str,
        target: &str,
        outcome: Outcome,
        details: Value,
    ) -> Result<(), Response> {
        let draft = AuditDraft::new(&self.actor, action, target, outcome).with_details(details);
        self.console
            .store
            .record(draft)
            .await
            .map(|_| ())
            .map_err(|e| refused(e.into()))
    }

    /// The scope check: a token without `scope` is refused with 403, and the refusal audited
    /// under `action` on `target` (the event the call would have written).
    pub(crate) async fn require(
        &self,
        scope: Scope,
        action: &str,
        target: &str,
    ) -> Result<(), Response> {
        if self.caller.require(scope).is_ok() {
            return Ok(());
        }
        self.record(
            action,
            target,
            Outcome::Denied,
            json!({ "reason": format!("the token lacks the {scope} scope") }),
        )
        .await?;
        Err(problem(
            StatusCode::FORBIDDEN,
            &format!(
                "this token has no permission for this: it lacks the {scope} scope (tokens are \
                 created on the console's API tokens page)"
            ),
        ))
    }

    /// A read: the scope checked, `work` run, the call audited under `action` on `target`
    /// (`details` of what was read, or why it failed); the result, or its problem.
    pub(crate) async fn read<T>(
        &self,
        scope: Scope,
        action: &str,
        target: &str,
        work: impl std::future::Future<Output = Result<T, AppError>>,
        details: impl FnOnce(&T) -> Value,
    ) -> Result<T, Response> {
        self.require(scope, action, target).await?;
        let result = work.await;
        let (outcome, d) = match &result {
            Ok(v) => (Outcome::Success, details(v)),
            Err(e) => (Outcome::Failure, json!({ "reason": e.to_string() })),
        };
        self.record(action, target, outcome, d).await?;
        result.map_err(refused_app)
    }
}

/// The JSON answer of a read, or its problem.
fn answer<T: Serialize>(result: Result<T, Response>) -> Response {
    match result {
        Ok(v) => axum::Json(v).into_response(),
        Err(res) => res,
    }
}

/// A JSON request body as `T`; `expected` names its fields for the error.
fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    expected: &str,
) -> Result<T, domain::Error> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(domain::Error::invalid(
            "send the body as JSON (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| domain::Error::invalid(format!("expected {expected}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

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
