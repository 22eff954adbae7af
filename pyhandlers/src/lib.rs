//! Embedded CPython that runs users' `event_handler.py` files unmodified.
//!
//! The reference ingest framework imports the handler text stored in Redis as a module, looks up
//! its `event_handler` class and calls hooks (`pre_data_obj_create`, ...) and overrides
//! (`operation`, `timeout`, ...) with fixed positional arguments. This crate does the same from a
//! Rust worker, and knows hooks and their signatures, not Redis keys or Celery:
//!
//! * [`HandlerRuntime`] owns the interpreter set-up and a small pool of Python threads. Every call
//!   is a job on that pool answered through a oneshot future, so the async executor never holds
//!   the GIL or waits for Python. Soft time limits interrupt a running hook from outside.
//! * [`Handler`] is one loaded handler module (once per key per runtime), with a [`Capabilities`]
//!   summary computed at load time so that callers can skip Python entirely for events and
//!   overrides the handler does not define.
//! * [`EventCall`] carries the Rust operation as an [`OperationFn`]; Python receives it as a
//!   callable (`func`) and runs it between `pre_*` and `post_*` exactly where the reference runs
//!   its own `register_file`/`upload_file`.
//! * [`LogSink`] receives the JSON lines the hooks' structlog-style `logger` renders.
//!
//! The Python half lives in `python/` at the repository root and is compiled into the crate
//! (see [`interpreter`]). Linking: binaries that use this crate need the rpath snippet in
//! `pyhandlers/build/python_link.rs` in their own `build.rs`; the README explains why.

mod capabilities;
mod error;
mod handler;
pub mod interpreter;
mod logsink;
mod native;
mod operation;
mod pool;
mod pyconv;
mod runtime;

pub use capabilities::{Capabilities, Event, OnHook, Override};
pub use error::{HandlerError, PythonException, StartError};
pub use handler::{EventCall, EventOutcome, Handler};
pub use interpreter::{IngestPackage, InterpreterInfo, PythonEnvironment};
pub use logsink::{DefaultLogSink, LogDestination, LogSink};
pub use operation::{
    DeleteMode, HandlerChoice, Operation, OperationError, OperationFn, OperationFuture, OperationInput,
    operation_fn,
};
pub use pool::{CallLimits, Interrupt};
pub use runtime::{HandlerRuntime, RuntimeConfig, reference_module_name};

/// The value type meta, options and return values travel in: Python's JSON data model.
pub use celery_proto::json::{PyDict, PyStr, PyValue};
