//! Errors: what went wrong in Python, kept as text so that it can be logged and counted.

use std::fmt;

use crate::operation::OperationError;

/// A Python exception, rendered while the GIL was held.
///
/// `frames` are `repr()`s of `traceback.extract_tb(exc.__traceback__)`, which is what the
/// reference's `failed_task` log line shows under `traceback`; `repr` is what it shows under `exc`.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonException {
    /// Qualified type name, e.g. `RuntimeError` or `billiard.exceptions.SoftTimeLimitExceeded`.
    pub type_name: String,
    /// `str(exc)`.
    pub message: String,
    /// `repr(exc)`.
    pub repr: String,
    /// `traceback.format_exception(...)` joined: the text Python would print.
    pub traceback: String,
    /// `repr()` of every frame summary of the traceback.
    pub frames: Vec<String>,
}

impl fmt::Display for PythonException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.type_name)
        } else {
            write!(f, "{}: {}", self.type_name, self.message)
        }
    }
}

/// Why a handler call failed. Every variant fails the task that made the call.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Importing the handler source failed (syntax error, import error, module code raised).
    #[error("loading event handler {key}: {exception}")]
    Load { key: String, exception: Box<PythonException> },
    /// The soft time limit interrupted the call (`SoftTimeLimitExceeded` raised in the hook).
    #[error("soft time limit exceeded: {0}")]
    SoftTimeLimitExceeded(Box<PythonException>),
    /// The call was terminated on request (`Terminated` raised in the hook).
    #[error("terminated: {0}")]
    Terminated(Box<PythonException>),
    /// The Rust operation failed: run directly (no hooks, `exception` is None) or inside a hook
    /// whose exception reached the top unchanged (`exception` has the traceback through the hooks).
    #[error("operation failed: {error}")]
    Operation { error: OperationError, exception: Option<Box<PythonException>> },
    /// A hook or override raised.
    #[error("event handler raised {0}")]
    Raised(Box<PythonException>),
    /// An override returned something its caller cannot use.
    #[error("event handler's {hook}() returned {repr}, expected {expected}")]
    InvalidReturn { hook: &'static str, repr: String, expected: String },
    /// The runtime's Python threads are gone (runtime dropped, or a thread panicked mid-call).
    #[error("handler runtime stopped: {0}")]
    RuntimeStopped(String),
}

impl HandlerError {
    /// The Python exception behind the failure, if there is one.
    pub fn exception(&self) -> Option<&PythonException> {
        match self {
            HandlerError::Operation { exception, .. } => exception.as_deref(),
            HandlerError::Load { exception, .. }
            | HandlerError::SoftTimeLimitExceeded(exception)
            | HandlerError::Terminated(exception)
            | HandlerError::Raised(exception) => Some(&**exception),
            HandlerError::InvalidReturn { .. } | HandlerError::RuntimeStopped(_) => None,
        }
    }

    /// The Python traceback text, or the error message when there is no exception.
    pub fn traceback(&self) -> String {
        match self.exception() {
            Some(exception) => exception.traceback.clone(),
            None => self.to_string(),
        }
    }
}

/// Starting the runtime failed: the interpreter or the Python half could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("setting up the embedded Python interpreter: {0}")]
    Python(String),
    #[error("the embedded interpreter is already set up differently: {0}")]
    Conflict(String),
    #[error("starting a Python thread: {0}")]
    Thread(#[from] std::io::Error),
}
