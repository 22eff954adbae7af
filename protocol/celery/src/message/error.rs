//! Why a message could not be decoded or built.

use crate::json::{JsonError, MarkerError};

/// A decoding or building error, saying exactly which part of the message was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MessageError {
    /// The bytes are not Python-compatible JSON.
    #[error("{part} is not valid JSON: {source}")]
    Json {
        /// Which part: `envelope`, `body`, `unacked entry`, `result meta`.
        part: &'static str,
        /// The parser's error with position.
        source: JsonError,
    },
    /// A part that must be a JSON object/list/string is something else.
    #[error("{part} must be {expected}, found {found}")]
    WrongType {
        /// Which part or field, e.g. `envelope`, `headers.retries`.
        part: String,
        /// What was expected (`an object`, `a string`, ...).
        expected: &'static str,
        /// The Python type found.
        found: &'static str,
    },
    /// A required field is absent.
    #[error("{part} has no {field:?} field")]
    MissingField {
        /// The containing part (`envelope`, `properties`, `body`).
        part: &'static str,
        /// The missing key.
        field: &'static str,
    },
    /// `properties.delivery_info` is absent; kombu's QoS needs `exchange` and `routing_key`.
    #[error("properties.delivery_info is missing (kombu needs delivery_info.exchange and .routing_key)")]
    MissingDeliveryInfo,
    /// `body` is not valid base64 though `body_encoding` says so.
    #[error("body is not valid base64: {0}")]
    BadBase64(String),
    /// The decoded body is not UTF-8 text.
    #[error("body is not UTF-8 (content-encoding utf-8)")]
    BodyNotUtf8,
    /// The body string holds lone surrogates, so it has no UTF-8 bytes.
    #[error("body string contains lone surrogates")]
    BodyHasSurrogates,
    /// A `body_encoding` other than `base64`/`utf-8`.
    #[error("unsupported body_encoding {0:?}")]
    UnsupportedBodyEncoding(String),
    /// A content type other than `application/json`.
    #[error("unsupported content-type {0:?} (only application/json is interoperable)")]
    UnsupportedContentType(String),
    /// A content encoding other than `utf-8`/`binary`.
    #[error("unsupported content-encoding {0:?}")]
    UnsupportedContentEncoding(String),
    /// The task body must be `[args, kwargs, embed]`.
    #[error("task body must be a 3-element array [args, kwargs, embed], found {found}")]
    BodyNotThreeElements {
        /// Description of what was found (`a list of 2 elements`, `a dict`).
        found: String,
    },
    /// A required Celery header is absent (protocol v2 needs `task` and `id`).
    #[error("missing header {0:?}")]
    MissingHeader(&'static str),
    /// `timelimit` is present and truthy but not two items.
    #[error("header timelimit must have exactly 2 items [hard, soft], found {0}")]
    TimeLimitNotTwoItems(usize),
    /// `eta` or `expires` does not parse as ISO-8601.
    #[error("header {header} is not an ISO-8601 timestamp: {text:?}")]
    BadTimestamp {
        /// `eta` or `expires`.
        header: &'static str,
        /// The text found.
        text: String,
    },
    /// A value contains a dict shaped like a kombu marker that kombu would reject.
    #[error(transparent)]
    Marker(#[from] MarkerError),
    /// A builder input was invalid.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

impl MessageError {
    pub(crate) fn wrong_type(
        part: impl Into<String>,
        expected: &'static str,
        found: &crate::json::PyValue,
    ) -> Self {
        MessageError::WrongType { part: part.into(), expected, found: found.type_name() }
    }
}
