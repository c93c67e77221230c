//! The gate's side of the console API (`/gate-api/v1`): enrolment, pull and status reports.
//!
//! - `POST /gate-api/v1/enroll` `{"token", "public_key", "encryption_key"}` → 200 `{"gate_id",
//!   "bundle_public_key", "console_id"}`, or 4xx `{"error"}`. Unsigned (the one-time token is
//!   the credential).
//! - `GET /gate-api/v1/bundle` with `If-None-Match: "<applied version>"` → 304 when current,
//!   200 with a signed bundle otherwise.
//! - `POST /gate-api/v1/status` `{"applied_version": N|null, "last_error": "..."|null,
//!   "encryption_key": "...", "usage": {"secrets": {id: last used ms}, "tokens": {client_id: n}}}`
//!   (`usage` only when the token endpoint was used since the last report; token counts are
//!   what was issued since then).
//!
//! Pull and status carry `Authorization: PalisadeGate id=…,ts=…,sig=…` ([`jose::gate_auth`]).
//! Each call has a 10 s bound; redirects are not followed; response bodies are capped.
//! Plain `http://` console URLs only in this version (no TLS client yet).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jose::ed25519::SecretKey;
use serde::Deserialize;

use crate::apply::Applier;
use crate::data_dir::ConsoleLink;
use crate::error::GateError;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response read from the console: a bundle envelope plus slack.
const MAX_RESPONSE: usize = policy::bundle::MAX_BUNDLE_BYTES + 4096;

/// The console's answer to an enrolment.
#[derive(Debug, Deserialize)]
pub struct Enrolled {
    pub gate_id: String,
    pub bundle_public_key: String,
    pub console_id: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// An HTTP client for one console.
#[derive(Clone)]
pub struct ConsoleClient {
    http: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl ConsoleClient {
    /// `url`: `http://host:port[/prefix]`.
    pub fn new(url: &str) -> Result<Self, GateError> {
        let base = url.trim_end_matches('/').to_string();
        let uri: Uri = base
            .parse()
            .map_err(|e| GateError::Config(format!("console URL {url:?}: {e}")))?;
        match uri.scheme_str() {
            Some("http") if uri.authority().is_some() => {}
            Some("https") => {
                return Err(GateError::Config(format!(
                    "console URL {url:?}: https is not supported by this gate version yet; use \
                     http:// on a trusted network (bundles are signed, calls are signed)"
                )))
            }
            _ => {
                return Err(GateError::Config(format!(
                    "console URL {url:?}: expected http://host:port"
                )))
            }
        }
        if uri.query().is_some() {
            return Err(GateError::Config(format!(
                "console URL {url:?} has a query"
            )));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CALL_TIMEOUT));
        Ok(ConsoleClient {
            http: Client::builder(TokioExecutor::new()).build(connector),
            base,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
        auth: Option<(&SecretKey, &str)>,
    ) -> Result<(StatusCode, Bytes), GateError> {
        let uri: Uri = format!("{}{path}", self.base)
            .parse()
            .map_err(|e| GateError::Console(format!("bad URL: {e}")))?;
        let mut req = Request::builder().method(method.clone()).uri(&uri);
        if !body.is_empty() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some((key, gate_id)) = auth {
            let pq = uri.path_and_query().map_or("/", |p| p.as_str());
            let ts = now_ms();
            req = req.header(
                http::header::AUTHORIZATION,
                jose::gate_auth::authorization(key, gate_id, method.as_str(), pq, ts, &body),
            );
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| GateError::Console(e.to_string()))?;
        let work = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| GateError::Console(format!("{uri}: {e}")))?;
            let status = resp.status();
            let bytes = Limited::new(resp.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map_err(|e| GateError::Console(format!("{uri}: reading the answer: {e}")))?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(CALL_TIMEOUT, work)
            .await
            .map_err(|_| GateError::Console(format!("{uri}: no answer within 10 s")))?
    }

    /// Registers this gate's public key (and the X25519 key secrets are sealed to) with a
    /// one-time token.
    pub async fn enroll(
        &self,
        token: &str,
        key: &SecretKey,
        encryption_key: &str,
    ) -> Result<Enrolled, GateError> {
        let body = serde_json::to_vec(&serde_json::json!({
            "token": token,
            "public_key": key.public_key().to_b64(),
            "encryption_key": encryption_key,
        }))
        .map_err(|e| GateError::Console(e.to_string()))?;
        let (status, bytes) = self
            .call(Method::POST, "/gate-api/v1/enroll", body, &[], None)
            .await?;
        if status == StatusCode::OK {
            serde_json::from_slice(&bytes)
                .map_err(|e| GateError::Console(format!("unexpected enrolment answer: {e}")))
        } else {
            let why = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).chars().take(200).collect());
            Err(GateError::Console(format!(
                "enrolment refused ({status}): {why}"
            )))
        }
    }

    /// `Ok(None)`: 304, the applied version is current; `Ok(Some)`: a bundle envelope.
    pub async fn pull(
        &self,
        link: &ConsoleLink,
        key: &SecretKey,
        applied: Option<u64>,
    ) -> Result<Option<Bytes>, GateError> {
        let etag: Vec<(&str, String)> = applied
            .map(|v| vec![("if-none-match", format!("\"{v}\""))])
            .unwrap_or_default();
        let (status, bytes) = self
            .call(
                Method::GET,
                "/gate-api/v1/bundle",
                Vec::new(),
                &etag,
                Some((key, &link.gate_id)),
            )
            .await?;
        match status {
            StatusCode::NOT_MODIFIED => Ok(None),
            StatusCode::OK => Ok(Some(bytes)),
            s => Err(GateError::Console(format!(
                "pull answered {s}: {}",
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ))),
        }
    }

    pub async fn report(
        &self,
        link: &ConsoleLink,
        key: &SecretKey,
        report: &serde_json::Value,
    ) -> Result<(), GateError> {
        let body = serde_json::to_vec(report).map_err(|e| GateError::Console(e.to_string()))?;
        let (status, _) = self
            .call(
                Method::POST,
                "/gate-api/v1/status",
                body,
                &[],
                Some((key, &link.gate_id)),
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(GateError::Console(format!(
                "status report answered {status}"
            )))
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The link to an enrolled console: pulls and reports.
pub struct Link {
    pub client: ConsoleClient,
    pub link: ConsoleLink,
    pub key: SecretKey,
    /// The public X25519 key of `encryption.key` (base64url), reported with every status.
    pub encryption_key: String,
}

impl Link {
    /// Reports the applier's state and the token endpoint's usage since the last report;
    /// failures are logged, never fatal (usage not delivered is kept for the next report).
    pub async fn report_state(&self, applier: &Applier) {
        let applied = applier.applied_version().await;
        let usage = applier.shared().usage.take();
        let mut report = serde_json::json!({
            "applied_version": applied,
            "last_error": applier.last_error(),
            "encryption_key": self.encryption_key,
        });
        if let Some(u) = &usage {
            report["usage"] = u.to_json();
        }
        if let Err(e) = self.client.report(&self.link, &self.key, &report).await {
            tracing::warn!(error = %e, "could not report status to the console");
            if let Some(u) = usage {
                applier.shared().usage.restore(u);
            }
        }
    }

    /// One pull: apply what comes, report the outcome.
    pub async fn pull_once(&self, applier: &Applier) {
        let applied = applier.applied_version().await;
        match self.client.pull(&self.link, &self.key, applied).await {
            Ok(None) => tracing::debug!(?applied, "pull: current"),
            Ok(Some(bytes)) => {
                applier.apply(&bytes, true, "pull").await;
                self.report_state(applier).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "pull from the console failed; keeping the applied bundle")
            }
        }
    }

    /// Pulls at once, then every `interval`; reports the token endpoint's usage on the same
    /// beat when there is some (a pull that applied a bundle has reported it already).
    pub async fn pull_loop(self: Arc<Self>, applier: Arc<Applier>, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.pull_once(&applier).await;
            if applier.shared().usage.pending() {
                self.report_state(&applier).await;
            }
        }
    }
}
