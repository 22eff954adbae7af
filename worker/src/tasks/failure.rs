//! Why a task body failed, in the shape Celery reports it (`exc_type`, message, traceback).
//!
//! Every error of the layers below (meta, paths, Redis, locks, iRODS, the event handler) becomes
//! one [`Failure`]; the task lifecycle decides whether it is retried or final.

use celery_proto::worker::TaskFailure;
use ingest_pyhandlers::HandlerError;

use crate::job::JobError;
use crate::lock::LockError;
use crate::meta::MetaError;
use crate::ops::OpsError;
use crate::paths::PathError;

/// A task body's failure.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The Python exception class name the reference would show (`RuntimeError`, `KeyError`, ...).
    pub exc_type: String,
    pub message: String,
    /// A Python traceback when the failure came from a handler.
    pub traceback: Option<String>,
}

impl Failure {
    pub fn new(exc_type: &str, message: impl Into<String>) -> Self {
        Failure { exc_type: exc_type.to_owned(), message: message.into(), traceback: None }
    }

    /// The reference raises a bare `Exception` for its own checks.
    pub fn exception(message: impl Into<String>) -> Self {
        Failure::new("Exception", message)
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Failure::new("RuntimeError", message)
    }

    /// The soft time limit fired between two pieces of Rust work.
    pub fn soft_time_limit() -> Self {
        Failure::new("SoftTimeLimitExceeded", "SoftTimeLimitExceeded()")
    }

    pub fn is_soft_time_limit(&self) -> bool {
        self.exc_type == "SoftTimeLimitExceeded"
    }

    /// `repr(exc)` as Python prints it, for logs.
    pub fn repr(&self) -> String {
        self.to_task_failure().repr()
    }

    pub fn to_task_failure(&self) -> TaskFailure {
        // Python rebuilds unknown classes as a generic exception, so the module only matters for
        // the classes it can import.
        let module = match self.exc_type.as_str() {
            "SoftTimeLimitExceeded" | "Terminated" => "billiard.exceptions",
            _ => "builtins",
        };
        TaskFailure {
            exc_type: self.exc_type.clone(),
            exc_module: module.to_owned(),
            message: self.message.clone(),
            traceback: self.traceback.clone(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.exc_type, self.message)
    }
}

impl From<HandlerError> for Failure {
    fn from(error: HandlerError) -> Self {
        let traceback = error.exception().map(|e| e.traceback.clone());
        let exc_type = match &error {
            HandlerError::SoftTimeLimitExceeded(_) => "SoftTimeLimitExceeded".to_owned(),
            HandlerError::Terminated(_) => "Terminated".to_owned(),
            HandlerError::InvalidReturn { .. } => "TypeError".to_owned(),
            HandlerError::RuntimeStopped(_) => "RuntimeError".to_owned(),
            HandlerError::Operation { error, .. } if error.irods_code.is_some() => {
                "iRODSException".to_owned()
            }
            HandlerError::Operation { .. } => "Exception".to_owned(),
            _ => error.exception().map_or_else(|| "Exception".to_owned(), |e| e.type_name.clone()),
        };
        let message = match &error {
            HandlerError::Operation { error, .. } => error.message.clone(),
            _ => error.exception().map_or_else(|| error.to_string(), |e| e.message.clone()),
        };
        Failure { exc_type, message, traceback }
    }
}

impl From<OpsError> for Failure {
    fn from(error: OpsError) -> Self {
        let exc_type = match &error {
            OpsError::Irods(e) => match e.code() {
                Some(code) => code.name().unwrap_or("iRODSException").to_owned(),
                None => "NetworkException".to_owned(),
            },
            OpsError::Meta(_) => "KeyError".to_owned(),
            OpsError::Io { .. } => "OSError".to_owned(),
            OpsError::CollectionDoesNotExist(_) => "CollectionDoesNotExist".to_owned(),
            _ => "Exception".to_owned(),
        };
        Failure { exc_type, message: error.to_string(), traceback: None }
    }
}

impl From<MetaError> for Failure {
    fn from(error: MetaError) -> Self {
        Failure::new("KeyError", error.to_string())
    }
}

impl From<PathError> for Failure {
    fn from(error: PathError) -> Self {
        Failure::new("UnicodeEncodeError", error.to_string())
    }
}

impl From<JobError> for Failure {
    fn from(error: JobError) -> Self {
        Failure::new("RuntimeError", error.to_string())
    }
}

impl From<LockError> for Failure {
    fn from(error: LockError) -> Self {
        Failure::new("RuntimeError", error.to_string())
    }
}

impl From<irods_proto::Error> for Failure {
    fn from(error: irods_proto::Error) -> Self {
        OpsError::from(error).into()
    }
}

impl From<redis::RedisError> for Failure {
    fn from(error: redis::RedisError) -> Self {
        Failure::new("RuntimeError", format!("redis: {error}"))
    }
}
