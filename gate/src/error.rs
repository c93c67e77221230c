//! The gate's error type: what can go wrong outside a request (startup, data directory, the
//! console). Request-path refusals are HTTP answers, never errors (see [`crate::proxy`]).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    BadFile { path: PathBuf, detail: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Jose(#[from] jose::JoseError),
    /// A call to the console failed (network, status, body).
    #[error("console: {0}")]
    Console(String),
}

impl GateError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        GateError::Io {
            path: path.into(),
            source,
        }
    }
}
