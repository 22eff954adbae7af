//! A loaded handler and the calls it answers, with the reference's arguments (§6.3-6.5).

use std::sync::Arc;

use celery_proto::json::{PyDict, PyStr, PyValue};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString, PyTuple};

use crate::capabilities::{Capabilities, Event, Override};
use crate::error::{HandlerError, PythonException};
use crate::interpreter::globals;
use crate::native::RustOperation;
use crate::operation::{DeleteMode, HandlerChoice, Operation, OperationFn, OperationInput};
use crate::pool::{CallContext, CallLimits, CallState, Pool};
use crate::pyconv::{dict_to_python, from_python, meta_to_python, repr_of, str_from_python, type_name};

/// One handler module, loaded once per key. Cheap to clone.
#[derive(Clone)]
pub struct Handler {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Arc<Pool>,
    runtime_id: u64,
    key: String,
    module_name: String,
    module: Py<PyAny>,
    class: Option<Py<PyAny>>,
    capabilities: Capabilities,
}

/// One `on_<event>` call: the hook (or the bare operation) with the reference's arguments.
pub struct EventCall {
    pub event: Event,
    /// The entry's meta as the hooks see it (`target` = logical path, `path` = source path).
    pub meta: PyDict,
    /// `Some` for put-type operations (PUT, PUT_SYNC, PUT_APPEND) on data objects: passed as the
    /// fifth positional argument, after `meta`, as the reference does for `upload_file`/`sync_file`.
    pub op: Option<Operation>,
    /// Keyword arguments: `{"allow_redirect": False}`, `{..., "regRepl": ""}` or `{}` (§6.3).
    pub options: PyDict,
    /// What runs between `pre_*` and `post_*`.
    pub operation: OperationFn,
    pub limits: CallLimits,
}

/// What an event call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventOutcome {
    /// False when the handler defines nothing for the event and the operation ran without Python.
    pub ran_python: bool,
    /// How often the operation ran (a custom `on_*` may call it any number of times).
    pub operation_calls: u32,
    /// Whether a hook touched `session` (which then built a python-irodsclient session).
    pub session_opened: bool,
}

impl Handler {
    pub(crate) fn from_loaded(
        pool: Arc<Pool>,
        runtime_id: u64,
        key: String,
        module_name: String,
        module: Py<PyAny>,
        class: Option<Py<PyAny>>,
        capabilities: Capabilities,
    ) -> Self {
        Handler { inner: Arc::new(Inner { pool, runtime_id, key, module_name, module, class, capabilities }) }
    }

    /// The key it was loaded under (`custom_event_handler:/<job>::<uuid>` for the worker).
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// The Python module name (`event_handler<job>< uuid>` like the reference).
    pub fn module_name(&self) -> &str {
        &self.inner.module_name
    }

    /// Which hooks and overrides the handler defines (computed at load time).
    pub fn capabilities(&self) -> Capabilities {
        self.inner.capabilities
    }

    /// `custom_event_handler.call("on_<event>", ...)`: `pre_*`, the operation, `post_*` (or the
    /// handler's own `on_*`). `pre_*` failing skips the operation, the operation failing skips
    /// `post_*`. Without anything to call in Python the operation runs right here.
    pub async fn on_event(&self, call: EventCall) -> Result<EventOutcome, HandlerError> {
        let EventCall { event, meta, op, options, operation, limits } = call;
        if !self.inner.capabilities.runs_python(event) {
            let input = OperationInput { meta, options, op: op.map(HandlerChoice::Member) };
            operation(input).await.map_err(|error| HandlerError::Operation { error, exception: None })?;
            return Ok(EventOutcome { ran_python: false, operation_calls: 1, session_opened: false });
        }
        let inner = self.inner.clone();
        self.inner
            .pool
            .call(&limits, move |py, context| {
                let result = (|| -> PyResult<EventOutcome> {
                    let g = globals();
                    let meta = meta_to_python(py, &meta)?;
                    let options = dict_to_python(py, &options)?;
                    let op = op.map(|op| operation_member(py, op)).transpose()?;
                    let func = Py::new(
                        py,
                        RustOperation::new(
                            operation,
                            context.state.clone(),
                            context.tokio.clone(),
                            event.passes_logger(),
                            op.is_some(),
                        ),
                    )?;
                    let session = g.call_event.bind(py).call1((
                        inner.runtime_id,
                        inner.module.bind(py),
                        inner.class_or_none(py),
                        event.name(),
                        func.bind(py),
                        meta,
                        op,
                        options,
                        event.passes_logger(),
                    ))?;
                    Ok(EventOutcome {
                        ran_python: true,
                        operation_calls: func.get().calls(),
                        session_opened: session_opened(&session),
                    })
                })();
                result.map_err(|err| python_error(py, err, &context.state))
            })
            .await
    }

    /// `operation(session, meta, **options)`; REGISTER_SYNC when the handler has none.
    pub async fn operation(
        &self,
        meta: &PyDict,
        options: &PyDict,
        limits: &CallLimits,
    ) -> Result<HandlerChoice<Operation>, HandlerError> {
        if !self.has(Override::Operation) {
            return Ok(HandlerChoice::Member(Operation::RegisterSync));
        }
        self.call_override(Override::Operation, meta, options, None, limits, |py, value| {
            operation_choice(py, value).map_err(|e| e.to_string())
        })
        .await
    }

    /// `delete_mode(meta)`; DO_NOT_DELETE when the handler has none.
    pub async fn delete_mode(
        &self,
        meta: &PyDict,
        limits: &CallLimits,
    ) -> Result<HandlerChoice<DeleteMode>, HandlerError> {
        if !self.has(Override::DeleteMode) {
            return Ok(HandlerChoice::Member(DeleteMode::DoNotDelete));
        }
        self.call_override(Override::DeleteMode, meta, &PyDict::new(), None, limits, |py, value| {
            delete_mode_choice(py, value).map_err(|e| e.to_string())
        })
        .await
    }

    /// `to_resource(session, meta, **options)`; None when the handler has none.
    pub async fn to_resource(
        &self,
        meta: &PyDict,
        options: &PyDict,
        limits: &CallLimits,
    ) -> Result<Option<PyStr>, HandlerError> {
        self.optional_str(Override::ToResource, meta, options, limits).await
    }

    /// `target_path(session, meta, **options)`; None when the handler has none.
    pub async fn target_path(
        &self,
        meta: &PyDict,
        options: &PyDict,
        limits: &CallLimits,
    ) -> Result<Option<PyStr>, HandlerError> {
        self.optional_str(Override::TargetPath, meta, options, limits).await
    }

    /// `as_user(meta, **options)` -> `(client_zone, client_user)`; None when the handler has none.
    pub async fn as_user(
        &self,
        meta: &PyDict,
        options: &PyDict,
        limits: &CallLimits,
    ) -> Result<Option<(PyStr, PyStr)>, HandlerError> {
        if !self.has(Override::AsUser) {
            return Ok(None);
        }
        self.call_override(Override::AsUser, meta, options, None, limits, |_py, value| {
            // `client_zone, client_user = as_user(...)`: any iterable of exactly two strings.
            let items: Vec<Bound<'_, PyAny>> = value
                .try_iter()
                .and_then(|it| it.collect::<PyResult<_>>())
                .map_err(|_| "a (zone, user) pair".to_owned())?;
            match items.as_slice() {
                [zone, user] => match (zone.cast::<PyString>(), user.cast::<PyString>()) {
                    (Ok(zone), Ok(user)) => Ok(Some((
                        str_from_python(zone).map_err(|e| e.to_string())?,
                        str_from_python(user).map_err(|e| e.to_string())?,
                    ))),
                    _ => Err("a (zone, user) pair of strings".to_owned()),
                },
                _ => Err("a (zone, user) pair".to_owned()),
            }
        })
        .await
    }

    /// `max_retries(cls, <log config dict>, meta)`; 0 when the handler has none. The value is
    /// returned as Python gave it (an int, normally); None and numbers are accepted.
    pub async fn max_retries(&self, meta: &PyDict, limits: &CallLimits) -> Result<PyValue, HandlerError> {
        self.number(Override::MaxRetries, meta, None, PyValue::Int(0), limits).await
    }

    /// `timeout(cls, <log config dict>, meta)`; 3600 when the handler has none. Int or float, as
    /// returned, so that the message's `timelimit` serialises exactly as Python's would.
    pub async fn timeout(&self, meta: &PyDict, limits: &CallLimits) -> Result<PyValue, HandlerError> {
        self.number(Override::Timeout, meta, None, PyValue::Int(3600), limits).await
    }

    /// `delay(cls, <log config dict>, meta, retries)`; 0 when the handler has none.
    pub async fn delay(
        &self,
        meta: &PyDict,
        retries: i64,
        limits: &CallLimits,
    ) -> Result<PyValue, HandlerError> {
        self.number(Override::Delay, meta, Some(retries), PyValue::Int(0), limits).await
    }

    /// `pre_job(cls, logger, meta)`; returns whether the handler has one (and it ran).
    pub async fn pre_job(&self, meta: &PyDict, limits: &CallLimits) -> Result<bool, HandlerError> {
        self.job_hook(Override::PreJob, meta, limits).await
    }

    /// `post_job(cls, logger, meta)`; returns whether the handler has one (and it ran).
    pub async fn post_job(&self, meta: &PyDict, limits: &CallLimits) -> Result<bool, HandlerError> {
        self.job_hook(Override::PostJob, meta, limits).await
    }

    /// The logical path after the handler's `character_map()` (reference §8.2, through the
    /// reference's own `char_map_util.translate_path`); None when the handler has no character map.
    /// Needs the reference package installed.
    pub async fn translate_path(
        &self,
        path: &PyStr,
        limits: &CallLimits,
    ) -> Result<Option<PyStr>, HandlerError> {
        if !self.has(Override::CharacterMap) {
            return Ok(None);
        }
        let inner = self.inner.clone();
        let path = path.clone();
        self.inner
            .pool
            .call(limits, move |py, context| {
                let translated = (|| -> PyResult<PyStr> {
                    let path = crate::pyconv::str_to_python(py, &path)?;
                    let value = globals().translate_path.bind(py).call1((inner.class_or_none(py), path))?;
                    str_from_python(value.cast::<PyString>()?)
                })();
                translated.map(Some).map_err(|err| python_error(py, err, &context.state))
            })
            .await
    }

    fn has(&self, which: Override) -> bool {
        self.inner.capabilities.has_override(which)
    }

    async fn job_hook(
        &self,
        which: Override,
        meta: &PyDict,
        limits: &CallLimits,
    ) -> Result<bool, HandlerError> {
        if !self.has(which) {
            return Ok(false);
        }
        self.call_override(which, meta, &PyDict::new(), None, limits, |_, _| Ok(true)).await
    }

    async fn optional_str(
        &self,
        which: Override,
        meta: &PyDict,
        options: &PyDict,
        limits: &CallLimits,
    ) -> Result<Option<PyStr>, HandlerError> {
        if !self.has(which) {
            return Ok(None);
        }
        self.call_override(which, meta, options, None, limits, |_py, value| {
            if value.is_none() {
                return Ok(None);
            }
            match value.cast::<PyString>() {
                Ok(s) => str_from_python(s).map(Some).map_err(|e| e.to_string()),
                Err(_) => Err("a str or None".to_owned()),
            }
        })
        .await
    }

    async fn number(
        &self,
        which: Override,
        meta: &PyDict,
        extra: Option<i64>,
        default: PyValue,
        limits: &CallLimits,
    ) -> Result<PyValue, HandlerError> {
        if !self.has(which) {
            return Ok(default);
        }
        self.call_override(which, meta, &PyDict::new(), extra, limits, |_py, value| {
            let numeric = value.is_none()
                || (value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>())
                || value.is_instance_of::<PyFloat>();
            if !numeric {
                return Err("a number".to_owned());
            }
            from_python(value).map_err(|e| e.to_string())
        })
        .await
    }

    /// Calls an override with the reference's arguments (see `runtime.call_override` in Python)
    /// and converts its return value; a value `convert` rejects is an [`HandlerError::InvalidReturn`].
    async fn call_override<R, C>(
        &self,
        which: Override,
        meta: &PyDict,
        options: &PyDict,
        extra: Option<i64>,
        limits: &CallLimits,
        convert: C,
    ) -> Result<R, HandlerError>
    where
        R: Send + 'static,
        C: for<'py> FnOnce(Python<'py>, &Bound<'py, PyAny>) -> Result<R, String> + Send + 'static,
    {
        let inner = self.inner.clone();
        let meta = meta.clone();
        let options = options.clone();
        self.inner
            .pool
            .call(limits, move |py, context: &CallContext| {
                let returned = (|| -> PyResult<Bound<'_, PyAny>> {
                    let meta = meta_to_python(py, &meta)?;
                    let options = dict_to_python(py, &options)?;
                    let pair = globals().call_override.bind(py).call1((
                        inner.runtime_id,
                        inner.class_or_none(py),
                        which.name(),
                        meta,
                        options,
                        extra,
                    ))?;
                    pair.get_item(0)
                })();
                let value = returned.map_err(|err| python_error(py, err, &context.state))?;
                convert(py, &value).map_err(|expected| HandlerError::InvalidReturn {
                    hook: which.name(),
                    repr: repr_of(&value),
                    expected,
                })
            })
            .await
    }
}

impl Inner {
    fn class_or_none<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match &self.class {
            Some(class) => class.bind(py).clone(),
            None => py.None().into_bound(py),
        }
    }
}

fn session_opened(session: &Bound<'_, PyAny>) -> bool {
    session.getattr("is_open").and_then(|v| v.extract::<bool>()).unwrap_or(false)
}

/// The `Operation` member handlers compare with.
pub(crate) fn operation_member(py: Python<'_>, op: Operation) -> PyResult<Bound<'_, PyAny>> {
    globals().operation_class.bind(py).call1((op.value(),))
}

/// Reads an `Operation` member (or None, or anything else) returned by Python.
pub(crate) fn operation_choice(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
) -> PyResult<HandlerChoice<Operation>> {
    enum_choice(py, value, globals().operation_class.bind(py), Operation::from_value)
}

fn delete_mode_choice(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<HandlerChoice<DeleteMode>> {
    enum_choice(py, value, globals().delete_mode_class.bind(py), DeleteMode::from_value)
}

fn enum_choice<T>(
    _py: Python<'_>,
    value: &Bound<'_, PyAny>,
    class: &Bound<'_, PyAny>,
    from_value: fn(i64) -> Option<T>,
) -> PyResult<HandlerChoice<T>> {
    if value.is_none() {
        return Ok(HandlerChoice::None);
    }
    if value.is_instance(class)?
        && let Some(member) = value.getattr("value")?.extract::<i64>().ok().and_then(from_value)
    {
        return Ok(HandlerChoice::Member(member));
    }
    Ok(HandlerChoice::Other { type_name: type_name(value), repr: repr_of(value) })
}

/// Classifies a Python exception that ended a call.
pub(crate) fn python_error(py: Python<'_>, err: PyErr, state: &CallState) -> HandlerError {
    let g = globals();
    let exception = Box::new(describe(py, &err));
    let raised_by_operation = state
        .operation_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .filter(|(object, _)| object.as_ptr() == err.value(py).as_ptr())
        .map(|(_, error)| error);
    if let Some(error) = raised_by_operation {
        return HandlerError::Operation { error, exception: Some(exception) };
    }
    if err.is_instance(py, g.soft_time_limit.bind(py)) {
        HandlerError::SoftTimeLimitExceeded(exception)
    } else if err.is_instance(py, g.terminated.bind(py)) {
        HandlerError::Terminated(exception)
    } else {
        HandlerError::Raised(exception)
    }
}

/// Renders an exception with `runtime.describe_exception`; falls back to pyo3's text.
pub(crate) fn describe(py: Python<'_>, err: &PyErr) -> PythonException {
    let described = globals()
        .describe_exception
        .bind(py)
        .call1((err.value(py), err.traceback(py)))
        .and_then(|t| t.extract::<(String, String, String, String, Vec<String>)>());
    match described {
        Ok((type_name, message, repr, traceback, frames)) => {
            PythonException { type_name, message, repr, traceback, frames }
        }
        Err(_) => PythonException {
            type_name: err.get_type(py).name().map(|n| n.to_string()).unwrap_or_default(),
            message: err.value(py).to_string(),
            repr: err.to_string(),
            traceback: err.to_string(),
            frames: Vec::new(),
        },
    }
}

/// Reads `(module, class or None, {attribute: kind})` returned by `runtime.load_handler`.
pub(crate) fn read_loaded(
    loaded: &Bound<'_, PyAny>,
) -> PyResult<(Py<PyAny>, Option<Py<PyAny>>, Capabilities)> {
    let tuple = loaded.cast::<PyTuple>()?;
    let module = tuple.get_item(0)?.unbind();
    let class = tuple.get_item(1)?;
    let class = (!class.is_none()).then(|| class.unbind());
    let attributes: Vec<(String, String)> = tuple
        .get_item(2)?
        .call_method0("items")?
        .try_iter()?
        .map(|item| item.and_then(|i| i.extract::<(String, String)>()))
        .collect::<PyResult<_>>()?;
    let capabilities = Capabilities::from_attributes(
        class.is_some(),
        attributes.iter().map(|(n, k)| (n.as_str(), k.as_str())),
    );
    Ok((module, class, capabilities))
}
