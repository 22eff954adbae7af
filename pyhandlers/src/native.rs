//! `_irods_ingest_native`: what the Python side calls back into.
//!
//! * `emit_log(runtime_id, destination, level, line)` hands a finished log line to the runtime's
//!   [`crate::LogSink`];
//! * `RustOperation` is the `func` hooks receive: calling it runs the caller's Rust operation on
//!   the tokio runtime while the Python thread waits with the GIL released.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use celery_proto::json::PyDict;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict as PyDictObject, PyString, PyTuple};

use crate::handler::operation_choice;
use crate::interpreter::globals;
use crate::logsink::{LogDestination, trace_line};
use crate::operation::{OperationError, OperationFn, OperationFuture, OperationInput};
use crate::pool::{CallState, Interrupt, clear_pending_interrupt, exception_class};
use crate::pyconv::dict_from_python;
use crate::runtime::sink_for;

pub(crate) fn register(py: Python<'_>) -> PyResult<()> {
    let module = PyModule::new(py, "_irods_ingest_native")?;
    module.add_function(wrap_pyfunction!(emit_log, &module)?)?;
    module.add_class::<RustOperation>()?;
    py.import("sys")?.getattr("modules")?.set_item("_irods_ingest_native", module)?;
    Ok(())
}

fn optional_text(value: Option<Bound<'_, PyAny>>) -> Option<String> {
    let value = value?;
    if value.is_none() {
        return None;
    }
    Some(match value.cast::<PyString>() {
        Ok(s) => s.to_string_lossy().into_owned(),
        Err(_) => value.str().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
    })
}

/// `destination` is `(filename, when, interval, level)` from `meta["config"]["log"]`, or None for
/// records of other libraries.
#[pyfunction]
fn emit_log(
    py: Python<'_>,
    runtime_id: u64,
    destination: Option<Bound<'_, PyTuple>>,
    level: i32,
    line: Bound<'_, PyString>,
) {
    let destination = destination.map(|t| LogDestination {
        filename: optional_text(t.get_item(0).ok()),
        when: optional_text(t.get_item(1).ok()),
        interval: t.get_item(2).ok().and_then(|v| v.extract::<i64>().ok()),
        level: optional_text(t.get_item(3).ok()),
    });
    let line = line.to_string_lossy().into_owned();
    let sink = sink_for(runtime_id);
    // Writing may block on disk; let other Python threads run meanwhile.
    py.detach(|| match sink {
        Some(sink) => sink.write(destination.as_ref(), level, &line),
        None => trace_line(level, &line),
    });
}

/// The operation callable handed to hooks as `func`.
#[pyclass(module = "_irods_ingest_native", name = "RustOperation", frozen)]
pub(crate) struct RustOperation {
    func: OperationFn,
    state: Arc<CallState>,
    tokio: Option<tokio::runtime::Handle>,
    /// Positional arguments the reference's operation takes: 4 (`hdlr_mod, logger, session,
    /// meta`), 5 with the put-type `op`, 3 for delete operations (no logger).
    arity: usize,
    meta_index: usize,
    op_index: Option<usize>,
    calls: AtomicU32,
}

impl RustOperation {
    pub(crate) fn new(
        func: OperationFn,
        state: Arc<CallState>,
        tokio: Option<tokio::runtime::Handle>,
        passes_logger: bool,
        passes_op: bool,
    ) -> Self {
        let meta_index = if passes_logger { 3 } else { 2 };
        let op_index = passes_op.then_some(meta_index + 1);
        RustOperation {
            func,
            state,
            tokio,
            arity: meta_index + 1 + usize::from(passes_op),
            meta_index,
            op_index,
            calls: AtomicU32::new(0),
        }
    }

    pub(crate) fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

enum Outcome {
    Done(Result<(), OperationError>),
    Interrupted(Interrupt),
    Panicked(String),
}

#[pymethods]
impl RustOperation {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDictObject>>,
    ) -> PyResult<()> {
        if args.len() != self.arity {
            return Err(PyTypeError::new_err(format!(
                "operation() takes {} positional arguments but {} were given",
                self.arity,
                args.len()
            )));
        }
        let meta = dict_from_python(&args.get_item(self.meta_index)?, "meta")?;
        let options = match kwargs {
            Some(kwargs) => dict_from_python(kwargs.as_any(), "options")?,
            None => PyDict::new(),
        };
        let op = match self.op_index {
            Some(index) => Some(operation_choice(py, &args.get_item(index)?)?),
            None => None,
        };
        self.calls.fetch_add(1, Ordering::SeqCst);
        let future = (self.func)(OperationInput { meta, options, op });
        let since = self.state.generation();
        let state = self.state.clone();
        let tokio = self.tokio.clone();
        match py.detach(move || wait_for(tokio, future, &state, since)) {
            Outcome::Done(Ok(())) => Ok(()),
            Outcome::Done(Err(error)) => {
                let exception = operation_exception(py, &error)?;
                *self.state.operation_error.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((exception.clone().unbind(), error));
                Err(PyErr::from_value(exception))
            }
            Outcome::Interrupted(reason) => {
                // The interrupter also queued the exception asynchronously; raise it once, here.
                clear_pending_interrupt(py);
                Err(PyErr::from_value(exception_class(py, reason).call0()?))
            }
            Outcome::Panicked(message) => {
                Err(PyRuntimeError::new_err(format!("the operation panicked: {message}")))
            }
        }
    }

    fn __repr__(&self) -> String {
        "<irods-ingest operation>".to_owned()
    }
}

/// Runs the operation on the caller's tokio runtime (or here, without one) until it finishes or
/// an interrupt newer than `since` arrives.
fn wait_for(
    tokio: Option<tokio::runtime::Handle>,
    future: OperationFuture,
    state: &CallState,
    since: u64,
) -> Outcome {
    futures::executor::block_on(async move {
        let interrupted = state.interrupted_after(since);
        match tokio {
            Some(handle) => {
                let task = handle.spawn(future);
                let abort = task.abort_handle();
                tokio::select! {
                    joined = task => match joined {
                        Ok(result) => Outcome::Done(result),
                        Err(error) => Outcome::Panicked(error.to_string()),
                    },
                    reason = interrupted => {
                        abort.abort();
                        Outcome::Interrupted(reason)
                    }
                }
            }
            None => tokio::select! {
                result = future => Outcome::Done(result),
                reason = interrupted => Outcome::Interrupted(reason),
            },
        }
    })
}

/// The exception for a failed operation: python-irodsclient's class for the iRODS error code when
/// available, else `irods_ingest_rt.errors.OperationFailed`.
fn operation_exception<'py>(py: Python<'py>, error: &OperationError) -> PyResult<Bound<'py, PyAny>> {
    if let Some(code) = error.irods_code {
        let by_code = py
            .import("irods.exception")
            .and_then(|m| m.getattr("get_exception_by_code"))
            .and_then(|f| f.call1((code, error.message.as_str())));
        if let Ok(exception) = by_code {
            return Ok(exception);
        }
    }
    globals().operation_failed.bind(py).call1((error.message.as_str(),))
}
