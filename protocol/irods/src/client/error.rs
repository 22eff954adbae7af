//! Errors of the client: transport, codec, and iRODS status codes with their names.

use crate::codes::{ErrorCode, api_name};
use crate::config::ConfigError;
use crate::error::{DecodeError, FrameError};

/// Anything a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a negative status.
    #[error("{} failed: {code}{}", api_label(*api), message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Irods { api: i32, code: ErrorCode, message: Option<String> },
    #[error("connection error: {0}")]
    Frame(#[from] FrameError),
    #[error("undecodable reply: {0}")]
    Decode(#[from] DecodeError),
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("client-server negotiation failed: {0}")]
    Negotiation(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

fn api_label(api: i32) -> String {
    match api_name(api) {
        Some(name) => name.to_string(),
        None if api == 0 => "connection set-up".to_string(),
        None => format!("API {api}"),
    }
}

impl Error {
    /// The iRODS error code, if the server reported one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Irods { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the server reported exactly this nominal code (e.g. `error_code::CAT_NO_ROWS_FOUND`).
    pub fn is(&self, nominal: i32) -> bool {
        self.code().is_some_and(|c| c.nominal() == nominal)
    }

    /// Whether the connection can no longer be used (transport or framing failure).
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::Frame(_) | Error::Io(_) | Error::Protocol(_) | Error::Tls(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
