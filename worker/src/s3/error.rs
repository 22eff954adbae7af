//! What an S3 request can fail with. Messages name the endpoint, bucket and key involved, never a
//! credential.

/// Why an S3 call failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The job's S3 settings (`s3_endpoint_domain`, keys, proxy) cannot be used.
    #[error("S3 configuration: {0}")]
    Config(String),
    /// The connection to the endpoint (or proxy) failed or broke.
    #[error("S3 connection to {peer}: {source}")]
    Io { peer: String, source: std::io::Error },
    /// The TLS handshake failed (certificate, name, protocol).
    #[error("S3 TLS with {host}: {message}")]
    Tls { host: String, message: String },
    /// The peer did not answer in time.
    #[error("S3 request to {peer} timed out ({what})")]
    Timeout { peer: String, what: &'static str },
    /// The response is not well-formed HTTP or XML, or is larger than allowed.
    #[error("malformed S3 response from {peer}: {message}")]
    Malformed { peer: String, message: String },
    /// The service answered with an error status (S3's `<Error><Code>` when there is one).
    #[error("S3 {operation} {resource}: HTTP {status} {code}: {message}")]
    Service { operation: &'static str, resource: String, status: u16, code: String, message: String },
}

impl S3Error {
    /// The S3 error code (`NoSuchKey`, `SignatureDoesNotMatch`, ...) of a service error.
    pub fn code(&self) -> Option<&str> {
        match self {
            S3Error::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of a service error.
    pub fn status(&self) -> Option<u16> {
        match self {
            S3Error::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying the same request again may succeed (minio's client retries the same cases:
    /// broken connections and 500/502/503/504).
    pub fn is_transient(&self) -> bool {
        match self {
            S3Error::Io { .. } | S3Error::Timeout { .. } => true,
            S3Error::Service { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

pub type Result<T, E = S3Error> = std::result::Result<T, E>;
