//! The error an API handler returns: an iRODS error code plus a message for the client.
//!
//! Every failure a client can cause becomes one of these and travels back as the reply's
//! `intInfo` (and an `RError_PI` text); nothing a client sends may take the server down.

use std::fmt;

/// iRODS error codes by name, shared with the client (values from iRODS 4.3.4 `rodsErrorTable.h`).
pub mod codes {
    pub use irods_proto::codes::error::*;
}

/// A failed API call: the code goes into the reply's `intInfo`, the message into `RError_PI`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: i32,
    pub message: String,
}

impl ApiError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// A Unix error code with the system errno subtracted, as iRODS reports file-system failures.
    pub fn unix(code: i32, error: &std::io::Error, context: impl fmt::Display) -> Self {
        let errno = error.raw_os_error().unwrap_or(0);
        Self { code: code - errno, message: format!("{context}: {error}") }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ApiError {}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        ApiError::new(codes::CAT_SQL_ERR, format!("catalog: {error}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
