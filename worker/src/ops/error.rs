//! What an operation can fail with.
//!
//! The reference raises bare `Exception`s with specific texts for its own checks; those texts are
//! kept here word for word (logs and handlers that catch by message see the same thing).

use irods_proto::ErrorCode;

use crate::meta::MetaError;
use crate::paths::PathError;

/// Why an ingest operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The iRODS server (or the connection to it) failed the call.
    #[error(transparent)]
    Irods(#[from] irods_proto::Error),
    /// A field of `meta` is missing or malformed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// A source path could not be converted.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Reading the local file failed.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// A name iRODS would receive is not UTF-8 (the reference fails on encoding it as well).
    #[error("{what} is not valid UTF-8: {lossy:?}")]
    NotUtf8 { what: &'static str, lossy: String },
    /// `meta["b64_path_str"]` is not base64.
    #[error("b64_path_str is not valid base64: {0}")]
    BadBase64(String),
    /// `sync_data_from_file`: the logical path names a collection.
    #[error("sync: cannot sync file {path} to collection {target}")]
    TargetIsCollection { path: String, target: String },
    /// `update_metadata`: no replica with this physical path under the resource.
    #[error("wrong resource or path")]
    WrongResourceOrPath,
    /// REGISTER_AS_REPLICA_SYNC on an existing object without `to_resource`.
    #[error("no resource name defined")]
    NoResourceName,
    /// REGISTER_AS_REPLICA_SYNC: a replica under the resource exists, but at another path.
    #[error(
        "Data object [{target}] has at least one replica under resource [{resource}], but none of the replicas have physical paths which match [{path}]."
    )]
    ReplicaPathMismatch { target: String, resource: String, path: String },
    /// `create_dirs` on a relative logical path.
    #[error("create_dirs: relative path; target:[{target}]; path:[{path}]")]
    RelativeCollection { target: String, path: String },
    /// python-irodsclient's `CollectionDoesNotExist` (from `collections.get`).
    #[error("collection does not exist: {0}")]
    CollectionDoesNotExist(String),
    /// python-irodsclient's `ResourceDoesNotExist` (from `resources.get`).
    #[error("resource does not exist: {0}")]
    ResourceDoesNotExist(String),
    /// `irods_utils.size` found no replica (the reference then fails on `seek(None)`).
    #[error("no size recorded for data object {0}")]
    SizeUnknown(String),
    /// A caller-supplied step (a lock, a hook) failed.
    #[error("{0}")]
    Caller(Box<dyn std::error::Error + Send + Sync>),
}

impl OpsError {
    /// The iRODS error code when the server reported one, for raising the matching
    /// python-irodsclient exception class into a handler.
    pub fn irods_code(&self) -> Option<ErrorCode> {
        match self {
            OpsError::Irods(e) => e.code(),
            _ => None,
        }
    }

    pub(crate) fn io(path: &crate::paths::SourcePath, source: std::io::Error) -> Self {
        OpsError::Io { path: path.display_lossy(), source }
    }
}

pub type Result<T, E = OpsError> = std::result::Result<T, E>;
