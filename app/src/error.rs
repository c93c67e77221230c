//! The one error type every server fn returns, serialisable to the browser.
//!
//! Each variant maps to one HTTP status. Internal failures reach the browser only as an opaque
//! reference; the detail goes to the server log under that reference.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// What a sensitive action answers (403) without a recent passkey confirmation.
pub const STEP_UP_REQUIRED: &str =
    "Confirm with your passkey first: this action needs a passkey confirmation from the last 5 minutes.";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// 400: the input breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// 401: not signed in, or sign-in failed.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403
    #[error("{0}")]
    Forbidden(String),
    /// 404: the object does not exist (any more).
    #[error("{0}")]
    NotFound(String),
    /// 409
    #[error("{0}")]
    Conflict(String),
    /// 429
    #[error("{message}")]
    Throttled { message: String, retry_after_s: u64 },
    /// 503: the database cannot take changes right now; nothing was changed.
    #[error("The console cannot save changes right now; nothing was changed. Try again shortly.")]
    Unavailable,
    /// 500, with the log reference.
    #[error("Something went wrong on the server (reference {0}); nothing was changed. The details are in the server log.")]
    Internal(String),
    /// The request itself could not be decoded or sent (transport and framework errors).
    #[error("The request could not be completed: {0}")]
    Request(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Request(value.to_string())
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::AppError;
    use domain::ports::StoreError;
    use domain::Error;
    use http::StatusCode;
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    /// Header carrying the log reference of a 500, so the server can tell our own internal
    /// errors from framework decoding failures (which it answers with 400).
    pub const ERROR_REF_HEADER: &str = "x-palisade-error-ref";

    impl AppError {
        pub fn status(&self) -> StatusCode {
            match self {
                AppError::Invalid(_) | AppError::Request(_) => StatusCode::BAD_REQUEST,
                AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                AppError::Forbidden(_) => StatusCode::FORBIDDEN,
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                AppError::Conflict(_) => StatusCode::CONFLICT,
                AppError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            }
        }
    }

    /// Converts a domain error and sets the status (and Retry-After) of the current response.
    impl From<Error> for AppError {
        fn from(e: Error) -> Self {
            let app = match e {
                Error::Invalid(m) => AppError::Invalid(m),
                e @ Error::AuthFailed { .. } => AppError::Unauthenticated(e.to_string()),
                e @ Error::Unauthenticated => AppError::Unauthenticated(e.to_string()),
                e @ Error::Forbidden => AppError::Forbidden(e.to_string()),
                Error::Conflict(m) => AppError::Conflict(m),
                Error::NotFound(m) => AppError::NotFound(m),
                e @ Error::Throttled { retry_after_s } => AppError::Throttled {
                    message: e.to_string(),
                    retry_after_s,
                },
                Error::SetupToken(t) => AppError::Invalid(t.to_string()),
                Error::Store(StoreError::Conflict(m)) => AppError::Conflict(m),
                // A service that expects a duplicate or a reference failure names it; one that
                // reaches here says what happened without the database's own message.
                Error::Store(e @ (StoreError::Duplicate { .. } | StoreError::InUse { .. })) => {
                    tracing::info!(error = ?e, "unexpected constraint failure");
                    AppError::Conflict(
                        "another change to the same object landed meanwhile; reload and retry"
                            .into(),
                    )
                }
                Error::Store(StoreError::Unavailable(m)) => {
                    tracing::warn!(detail = %m, "database unavailable");
                    AppError::Unavailable
                }
                other => {
                    let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
                    tracing::error!(reference = %reference, error = %other, "internal error");
                    AppError::Internal(reference)
                }
            };
            app.apply_to_response();
            app
        }
    }

    impl AppError {
        /// Sets this error's status (and headers) on the response being built.
        pub fn apply_to_response(&self) {
            if let Some(res) = use_context::<ResponseOptions>() {
                res.set_status(self.status());
                match self {
                    AppError::Throttled { retry_after_s, .. } => {
                        if let Ok(v) = http::HeaderValue::from_str(&retry_after_s.to_string()) {
                            res.insert_header(http::header::RETRY_AFTER, v);
                        }
                    }
                    AppError::Unavailable => {
                        res.insert_header(
                            http::header::RETRY_AFTER,
                            http::HeaderValue::from_static("5"),
                        );
                    }
                    AppError::Internal(r) => {
                        if let Ok(v) = http::HeaderValue::from_str(r) {
                            res.insert_header(http::HeaderName::from_static(ERROR_REF_HEADER), v);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(feature = "ssr")]
pub use ssr::ERROR_REF_HEADER;
