//! Errors of the codec layer: decoding packing instructions and reading frames.

/// A packing-instruction document could not be turned into a message.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("malformed packing-instruction XML at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: &'static str },
    #[error("expected a <{expected}> message, found <{found}>")]
    UnexpectedRoot { expected: &'static str, found: String },
    #[error("field <{field}> is not a number: {text:?}")]
    BadNumber { field: String, text: String },
    #[error("field <{field}> is not valid base64")]
    BadBase64 { field: String },
    #[error("field <{field}> is not valid JSON: {reason}")]
    BadJson { field: String, reason: String },
    #[error("invalid message: {0}")]
    Invalid(String),
}

/// A frame (header, body, error, byte stream) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("message header length {0} is outside 1..={max}", max = crate::frame::MAX_HEADER_LEN)]
    HeaderLength(i32),
    #[error("bad message header: {0}")]
    Header(#[from] DecodeError),
    #[error("message {part} length {len} is negative or above the limit {limit}")]
    TooLarge { part: &'static str, len: i64, limit: usize },
    #[error("connection closed")]
    Closed,
}
