//! Request deadlines: a request's body must arrive within `body` (else 408, and the
//! connection is closed), and the whole request must be answered within `handler` (else 503).
//! Connection-level bounds (caps, idle and header timeouts) are the `listener` crate's.
//!
//! Bodies are read here, before any handler, into memory: every body the console accepts is
//! small (`startup::GATE_API_BODY_LIMIT` at most), and a body that is still arriving when the
//! deadline passes (one byte every few seconds) would otherwise hold a handler, and the
//! database work behind it, for as long as the client likes.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Body as _;

/// The deadlines of every request.
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    pub body: Duration,
    pub handler: Duration,
    /// The largest body read (a larger one is a 413 at once).
    pub max_body: usize,
}

fn refuse(status: StatusCode, text: &'static str) -> Response {
    let mut res = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response();
    // The rest of an unread body is still on the wire: this connection cannot be reused.
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// Reads the body within the body deadline, then runs the request within the handler deadline.
pub async fn enforce(State(d): State<Deadlines>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let req = if body.size_hint().exact() == Some(0) {
        Request::from_parts(parts, body)
    } else {
        match tokio::time::timeout(d.body, axum::body::to_bytes(body, d.max_body)).await {
            Ok(Ok(bytes)) => Request::from_parts(parts, Body::from(bytes)),
            Ok(Err(e)) => {
                // Over the size limit, or the client broke off mid-body.
                let too_big = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                return if too_big {
                    refuse(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
                } else {
                    refuse(StatusCode::BAD_REQUEST, "request body could not be read\n")
                };
            }
            Err(_) => {
                tracing::debug!(path = %parts.uri.path(), "request body not received in time");
                return refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    "request body not received in time\n",
                );
            }
        }
    };
    match tokio::time::timeout(d.handler, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(
                limit_s = d.handler.as_secs(),
                "request not answered in time"
            );
            let mut res = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the console could not answer in time; try again\n",
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            res
        }
    }
}
