//! Why a task body failed, in the shape Celery reports it (`exc_type`, message, traceback).
//!
//! Every error of the layers below (meta, paths, Redis, locks, iRODS, the event handler) becomes
//! one [`Failure`]; the task lifecycle decides whether it is retried or final.

use celery_proto::json::{PyValue, py_repr};
use celery_proto::worker::TaskFailure;
use ingest_pyhandlers::{HandlerError, OperationError};
use irods_proto::ErrorCode;

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
    /// `repr(exc)` when it is not `Type('message')` (Python exceptions, python-irodsclient's).
    pub repr: Option<String>,
    /// `repr()`s of the traceback's frames (the reference logs `traceback.extract_tb(...)`).
    pub frames: Vec<String>,
    /// Redis (job state or locks) was unreachable for longer than an outage is waited out: the
    /// task is put back to run again, not failed or retried as the handler's failure.
    pub transient: bool,
}

impl Failure {
    pub fn new(exc_type: &str, message: impl Into<String>) -> Self {
        Failure {
            exc_type: exc_type.to_owned(),
            message: message.into(),
            traceback: None,
            repr: None,
            frames: Vec::new(),
            transient: false,
        }
    }

    fn outage(mut self, transient: bool) -> Self {
        self.transient = transient;
        self
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
        self.repr.clone().unwrap_or_else(|| self.to_task_failure().repr())
    }

    /// The fields the reference's `failed_task`/`retry_task` lines carry about the exception.
    pub fn log_fields(&self) -> celery_proto::json::PyDict {
        let repr = self.repr();
        let mut d = celery_proto::json::PyDict::new();
        d.insert("exc", repr.as_str());
        d.insert("einfo", format!("<ExceptionInfo: {repr}>"));
        d.insert("traceback", PyValue::List(self.frames.iter().map(|f| PyValue::from(f.as_str())).collect()));
        d
    }

    /// The exception python-irodsclient raises for an iRODS error `code` with the server's
    /// `message`: the code's class, its `repr` with the `Errno` part.
    pub fn irods(code: i32, message: &str) -> Self {
        let code = ErrorCode(code);
        let name = code.name().unwrap_or("UnknowniRODSError");
        let mut args = py_repr(&PyValue::from(message)).to_string_lossy().into_owned();
        let errno = code.errno();
        if errno != 0 {
            args.push_str(", ");
            args.push_str(&errno_repr(errno));
            Failure { repr: Some(format!("{name}({args})")), ..Failure::new(name, message) }
        } else {
            Failure { repr: Some(format!("{name}({args},)")), ..Failure::new(name, message) }
        }
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
        if let Some(exception) = error.exception() {
            // What Python raised (a hook's own exception, or the operation's through the hooks).
            let exc_type = exception.type_name.rsplit('.').next().unwrap_or(&exception.type_name).to_owned();
            return Failure {
                exc_type,
                message: exception.message.clone(),
                traceback: Some(exception.traceback.clone()),
                repr: Some(exception.repr.clone()),
                frames: exception.frames.clone(),
                transient: false,
            };
        }
        if let HandlerError::Operation { error: OperationError { message, irods_code: Some(code) }, .. } =
            &error
        {
            return Failure::irods(*code, message);
        }
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
        Failure { exc_type, message, traceback, repr: None, frames: Vec::new(), transient: false }
    }
}

impl From<OpsError> for Failure {
    fn from(error: OpsError) -> Self {
        if let OpsError::Irods(irods_proto::Error::Irods { code, message, .. }) = &error {
            return Failure::irods(code.0, message.as_deref().unwrap_or(""));
        }
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
        Failure::new(&exc_type, error.to_string())
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
        let transient = match &error {
            JobError::Redis(e) => crate::state_conn::is_transient(e),
            JobError::Lock(LockError::Redis { source, .. }) => crate::state_conn::is_transient(source),
            _ => false,
        };
        Failure::new("RuntimeError", error.to_string()).outage(transient)
    }
}

impl From<LockError> for Failure {
    fn from(error: LockError) -> Self {
        let transient =
            matches!(&error, LockError::Redis { source, .. } if crate::state_conn::is_transient(source));
        Failure::new("RuntimeError", error.to_string()).outage(transient)
    }
}

impl From<irods_proto::Error> for Failure {
    fn from(error: irods_proto::Error) -> Self {
        OpsError::from(error).into()
    }
}

impl From<redis::RedisError> for Failure {
    fn from(error: redis::RedisError) -> Self {
        let transient = crate::state_conn::is_transient(&error);
        Failure::new("RuntimeError", format!("redis: {error}")).outage(transient)
    }
}

/// What an operation raises into the hooks for `error`: for a server error, the code and the
/// server's own message, so Python sees the python-irodsclient exception it would have seen.
pub fn operation_error(error: &OpsError) -> OperationError {
    match error {
        OpsError::Irods(irods_proto::Error::Irods { code, message: Some(message), .. }) => {
            OperationError::irods(code.0, message.clone())
        }
        _ => match error.irods_code() {
            Some(code) => OperationError::irods(code.0, error.to_string()),
            None => OperationError::new(error.to_string()),
        },
    }
}

/// python-irodsclient's `repr(Errno(n))`: `Errno(2, 'ENOENT', 'No such file or directory')`.
fn errno_repr(errno: i32) -> String {
    let name = match errno {
        1 => "EPERM",
        2 => "ENOENT",
        5 => "EIO",
        9 => "EBADF",
        12 => "ENOMEM",
        13 => "EACCES",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        24 => "EMFILE",
        27 => "EFBIG",
        28 => "ENOSPC",
        30 => "EROFS",
        36 => "ENAMETOOLONG",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        _ => return format!("Errno({errno},)"),
    };
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
    format!("Errno({errno}, '{name}', {})", py_repr(&PyValue::from(text.as_str())).to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irods_errors_read_like_python_irodsclients() {
        let f = Failure::irods(-1816000, "attempt to directly address a child resource: regiResc2a");
        assert_eq!(
            f.repr(),
            "DIRECT_CHILD_ACCESS('attempt to directly address a child resource: regiResc2a',)"
        );
        let f = Failure::irods(-510002, "x");
        assert_eq!(f.repr(), "UNIX_FILE_OPEN_ERR('x', Errno(2, 'ENOENT', 'No such file or directory'))");
    }
}
