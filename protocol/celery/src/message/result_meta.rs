//! Result-backend meta: the JSON stored at `celery-task-meta-<id>` and published on the
//! channel of the same name.

use crate::json::{self, PyDict, PyStr, PyValue};

use super::error::MessageError;
use super::properties::string_field;

/// Celery task states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Unknown / not stored.
    Pending,
    /// Received by a worker.
    Received,
    /// Started (only with `task_track_started`).
    Started,
    /// Finished successfully.
    Success,
    /// Raised.
    Failure,
    /// Will be retried.
    Retry,
    /// Revoked.
    Revoked,
    /// A custom state.
    Other(String),
}

impl TaskState {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            TaskState::Pending => "PENDING",
            TaskState::Received => "RECEIVED",
            TaskState::Started => "STARTED",
            TaskState::Success => "SUCCESS",
            TaskState::Failure => "FAILURE",
            TaskState::Retry => "RETRY",
            TaskState::Revoked => "REVOKED",
            TaskState::Other(s) => s,
        }
    }

    /// From the wire name.
    pub fn from_name(name: &str) -> Self {
        match name {
            "PENDING" => TaskState::Pending,
            "RECEIVED" => TaskState::Received,
            "STARTED" => TaskState::Started,
            "SUCCESS" => TaskState::Success,
            "FAILURE" => TaskState::Failure,
            "RETRY" => TaskState::Retry,
            "REVOKED" => TaskState::Revoked,
            other => TaskState::Other(other.to_owned()),
        }
    }

    /// SUCCESS, FAILURE, REVOKED: `date_done` is set and `.get()` returns.
    pub fn is_ready(&self) -> bool {
        matches!(self, TaskState::Success | TaskState::Failure | TaskState::Revoked)
    }
}

/// A serialised exception: `{"exc_type", "exc_message", "exc_module"}`. Python rebuilds the
/// exception from these; `exc_message` is the exception's `args` (a list).
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionInfo {
    /// Class name (`__qualname__`), e.g. `ValueError`.
    pub exc_type: String,
    /// The exception args.
    pub exc_message: PyValue,
    /// Module, e.g. `builtins`, `celery.exceptions`.
    pub exc_module: Option<String>,
    /// Other keys.
    pub extra: PyDict,
}

impl ExceptionInfo {
    /// An exception with a single message argument: `exc_message = [message]`.
    pub fn new(exc_module: &str, exc_type: &str, message: impl Into<PyStr>) -> Self {
        ExceptionInfo {
            exc_type: exc_type.to_owned(),
            exc_message: PyValue::List(vec![PyValue::Str(message.into())]),
            exc_module: Some(exc_module.to_owned()),
            extra: PyDict::new(),
        }
    }

    /// Reads one; `exc_type` is required (Python's `.get()` raises ValueError without it).
    pub fn from_value(v: &PyValue) -> Result<Self, MessageError> {
        let d = v.as_dict().ok_or_else(|| MessageError::wrong_type("exception", "an object", v))?;
        let exc_type = match d.get("exc_type") {
            Some(t) => string_field("exception.exc_type", t)?,
            None => return Err(MessageError::MissingField { part: "exception", field: "exc_type" }),
        };
        let mut e = ExceptionInfo {
            exc_type,
            exc_message: PyValue::List(Vec::new()),
            exc_module: None,
            extra: PyDict::new(),
        };
        for (k, val) in d.iter() {
            match k.as_str() {
                Some("exc_type") => {}
                Some("exc_message") => e.exc_message = val.clone(),
                Some("exc_module") => {
                    e.exc_module = match val {
                        PyValue::Null => None,
                        other => Some(string_field("exception.exc_module", other)?),
                    }
                }
                _ => {
                    e.extra.insert(k.clone(), val.clone());
                }
            }
        }
        Ok(e)
    }

    /// As Celery's `prepare_exception` writes it.
    pub fn to_value(&self) -> PyValue {
        let mut d = PyDict::with_capacity(3 + self.extra.len());
        d.insert("exc_type", self.exc_type.as_str());
        d.insert("exc_message", self.exc_message.clone());
        d.insert("exc_module", PyValue::from(self.exc_module.clone()));
        for (k, v) in self.extra.iter() {
            d.insert(k.clone(), v.clone());
        }
        PyValue::Dict(d)
    }
}

/// `result_extended=True` fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtendedMeta {
    /// Task name.
    pub name: PyValue,
    /// Positional args.
    pub args: PyValue,
    /// Keyword args.
    pub kwargs: PyValue,
    /// Worker node name.
    pub worker: PyValue,
    /// Retry count.
    pub retries: PyValue,
    /// `delivery_info.routing_key`.
    pub queue: PyValue,
}

/// The meta dict. Field order on the wire is Celery's: `status`, `result`, `traceback`,
/// `children`, `date_done`, then `group_id`, `parent_id` and the extended fields when set,
/// the extras, and `task_id` last.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultMeta {
    /// State.
    pub status: TaskState,
    /// Return value, or an [`ExceptionInfo`] value for FAILURE/RETRY/REVOKED.
    pub result: PyValue,
    /// Formatted traceback.
    pub traceback: PyValue,
    /// Serialised child results (`[]` normally).
    pub children: PyValue,
    /// ISO time for ready states, else `None`.
    pub date_done: Option<String>,
    /// Group id, if the task ran in a group.
    pub group_id: Option<String>,
    /// Parent task id, if any.
    pub parent_id: Option<String>,
    /// `result_extended` fields.
    pub extended: Option<ExtendedMeta>,
    /// The task id.
    pub task_id: String,
    /// Any other key (placed before `task_id`).
    pub extra: PyDict,
}

impl ResultMeta {
    /// A SUCCESS meta.
    pub fn success(task_id: impl Into<String>, result: PyValue, date_done: String) -> Self {
        ResultMeta {
            status: TaskState::Success,
            result,
            traceback: PyValue::Null,
            children: PyValue::List(Vec::new()),
            date_done: Some(date_done),
            group_id: None,
            parent_id: None,
            extended: None,
            task_id: task_id.into(),
            extra: PyDict::new(),
        }
    }

    /// A FAILURE meta.
    pub fn failure(
        task_id: impl Into<String>,
        exc: &ExceptionInfo,
        traceback: Option<PyStr>,
        date_done: String,
    ) -> Self {
        let mut m = Self::success(task_id, exc.to_value(), date_done);
        m.status = TaskState::Failure;
        m.traceback = PyValue::from(traceback);
        m
    }

    /// The exception of a FAILURE/RETRY/REVOKED meta.
    pub fn exception(&self) -> Option<Result<ExceptionInfo, MessageError>> {
        match self.status {
            TaskState::Failure | TaskState::Retry | TaskState::Revoked => {
                Some(ExceptionInfo::from_value(&self.result))
            }
            _ => None,
        }
    }

    /// Parses a stored meta.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        let v = json::parse(bytes).map_err(|source| MessageError::Json { part: "result meta", source })?;
        Self::from_value(&v)
    }

    /// Reads a meta object; `status` and `task_id` are required.
    pub fn from_value(v: &PyValue) -> Result<Self, MessageError> {
        let d = v.as_dict().ok_or_else(|| MessageError::wrong_type("result meta", "an object", v))?;
        let status = match d.get("status") {
            Some(s) => TaskState::from_name(&string_field("result meta.status", s)?),
            None => return Err(MessageError::MissingField { part: "result meta", field: "status" }),
        };
        let task_id = match d.get("task_id") {
            Some(t) => string_field("result meta.task_id", t)?,
            None => return Err(MessageError::MissingField { part: "result meta", field: "task_id" }),
        };
        let mut m = ResultMeta {
            status,
            result: PyValue::Null,
            traceback: PyValue::Null,
            children: PyValue::List(Vec::new()),
            date_done: None,
            group_id: None,
            parent_id: None,
            extended: None,
            task_id,
            extra: PyDict::new(),
        };
        let opt = |name: &str, v: &PyValue| -> Result<Option<String>, MessageError> {
            match v {
                PyValue::Null => Ok(None),
                other => string_field(name, other).map(Some),
            }
        };
        let mut ext = ExtendedMeta {
            name: PyValue::Null,
            args: PyValue::Null,
            kwargs: PyValue::Null,
            worker: PyValue::Null,
            retries: PyValue::Null,
            queue: PyValue::Null,
        };
        let mut has_ext = false;
        for (k, val) in d.iter() {
            match k.as_str() {
                Some("status" | "task_id") => {}
                Some("result") => m.result = val.clone(),
                Some("traceback") => m.traceback = val.clone(),
                Some("children") => m.children = val.clone(),
                Some("date_done") => m.date_done = opt("result meta.date_done", val)?,
                Some("group_id") => m.group_id = opt("result meta.group_id", val)?,
                Some("parent_id") => m.parent_id = opt("result meta.parent_id", val)?,
                Some("name") => (ext.name, has_ext) = (val.clone(), true),
                Some("args") => (ext.args, has_ext) = (val.clone(), true),
                Some("kwargs") => (ext.kwargs, has_ext) = (val.clone(), true),
                Some("worker") => (ext.worker, has_ext) = (val.clone(), true),
                Some("retries") => (ext.retries, has_ext) = (val.clone(), true),
                Some("queue") => (ext.queue, has_ext) = (val.clone(), true),
                _ => {
                    m.extra.insert(k.clone(), val.clone());
                }
            }
        }
        if has_ext {
            m.extended = Some(ext);
        }
        Ok(m)
    }

    /// As Celery's backend writes it.
    pub fn to_value(&self) -> PyValue {
        let mut d = PyDict::with_capacity(16);
        d.insert("status", self.status.as_str());
        d.insert("result", self.result.clone());
        d.insert("traceback", self.traceback.clone());
        d.insert("children", self.children.clone());
        d.insert("date_done", PyValue::from(self.date_done.clone()));
        if let Some(g) = self.group_id.as_deref().filter(|g| !g.is_empty()) {
            d.insert("group_id", g);
        }
        if let Some(p) = self.parent_id.as_deref().filter(|p| !p.is_empty()) {
            d.insert("parent_id", p);
        }
        if let Some(e) = &self.extended {
            d.insert("name", e.name.clone());
            d.insert("args", e.args.clone());
            d.insert("kwargs", e.kwargs.clone());
            d.insert("worker", e.worker.clone());
            d.insert("retries", e.retries.clone());
            d.insert("queue", e.queue.clone());
        }
        for (k, v) in self.extra.iter() {
            d.insert(k.clone(), v.clone());
        }
        d.insert("task_id", self.task_id.as_str());
        PyValue::Dict(d)
    }

    /// The JSON stored in Redis. Fails if the result holds an invalid kombu marker.
    pub fn to_json(&self) -> Result<String, MessageError> {
        let v = self.to_value();
        json::check_markers(&v)?;
        Ok(v.to_json())
    }
}
