//! Celery protocol v2 task headers.

use chrono::{DateTime, Utc};

use crate::json::{PyDict, PyStr, PyValue};

use super::error::MessageError;
use super::time::{isoformat_utc, parse_iso_lenient};

/// An `eta`/`expires` header: the text as sent and the instant it denotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// The header text, re-emitted unchanged.
    pub text: String,
    /// The instant (a missing offset reads as UTC).
    pub at: DateTime<Utc>,
}

impl Timestamp {
    /// A UTC instant written as Python's `isoformat()` writes it.
    pub fn from_utc(at: DateTime<Utc>) -> Self {
        Timestamp { text: isoformat_utc(at), at }
    }

    /// Parses header text leniently (like `dateutil.parser.isoparse`).
    pub fn parse(text: &str) -> Option<Self> {
        parse_iso_lenient(text).map(|at| Timestamp { text: text.to_owned(), at })
    }
}

/// `timelimit = [hard, soft]` in seconds; each an int, a float or `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeLimit {
    /// Hard limit: the task is killed.
    pub hard: PyValue,
    /// Soft limit: the task is told to stop.
    pub soft: PyValue,
}

impl Default for TimeLimit {
    fn default() -> Self {
        TimeLimit { hard: PyValue::Null, soft: PyValue::Null }
    }
}

impl TimeLimit {
    /// Whole-second limits, emitted as ints (`[null, 3600]`, as the ingest sends).
    pub fn secs(hard: Option<u64>, soft: Option<u64>) -> Self {
        TimeLimit { hard: hard.into(), soft: soft.into() }
    }

    /// Limits from `f64` seconds. Whole numbers are written as ints (`3600`, what Python
    /// callers pass in practice), others as floats (`2.5`).
    pub fn secs_f64(hard: Option<f64>, soft: Option<f64>) -> Self {
        fn number(v: Option<f64>) -> PyValue {
            match v {
                None => PyValue::Null,
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => PyValue::Int(f as i64),
                Some(f) => PyValue::Float(f),
            }
        }
        TimeLimit { hard: number(hard), soft: number(soft) }
    }

    /// The hard limit in seconds.
    pub fn hard_secs(&self) -> Option<f64> {
        self.hard.as_f64()
    }

    /// The soft limit in seconds.
    pub fn soft_secs(&self) -> Option<f64> {
        self.soft.as_f64()
    }

    fn to_value(&self) -> PyValue {
        PyValue::List(vec![self.hard.clone(), self.soft.clone()])
    }
}

/// The headers of a protocol v2 task message (celery-wire §2.2). Unknown headers are kept in
/// [`TaskHeaders::extra`].
#[derive(Debug, Clone, PartialEq)]
pub struct TaskHeaders {
    /// `"py"` from Python producers.
    pub lang: Option<String>,
    /// Registered task name; required.
    pub task: String,
    /// Task id; required.
    pub id: String,
    /// Display name override.
    pub shadow: Option<String>,
    /// Do not run before this time.
    pub eta: Option<Timestamp>,
    /// Do not run after this time.
    pub expires: Option<Timestamp>,
    /// Group id.
    pub group: Option<String>,
    /// Position in the group.
    pub group_index: Option<i64>,
    /// Retry count (0 on the first send; missing reads as 0).
    pub retries: i64,
    /// `[hard, soft]` limits.
    pub timelimit: TimeLimit,
    /// Workflow root id.
    pub root_id: Option<String>,
    /// Id of the task that sent this one.
    pub parent_id: Option<String>,
    /// `saferepr(args)`.
    pub argsrepr: Option<PyStr>,
    /// `saferepr(kwargs)`.
    pub kwargsrepr: Option<PyStr>,
    /// Sender node name.
    pub origin: Option<String>,
    /// Store no result.
    pub ignore_result: bool,
    /// Nesting of `Task.replace`.
    pub replaced_task_nesting: i64,
    /// Names of stamp headers (`None` normally).
    pub stamped_headers: PyValue,
    /// Stamp values (`{}` normally).
    pub stamps: PyDict,
    /// Set by kombu when the message was restored or requeued.
    pub redelivered: Option<bool>,
    /// Any other header, in order.
    pub extra: PyDict,
}

/// The header names Python's `as_task_v2` writes, in its order.
pub const TASK_HEADER_ORDER: [&str; 19] = [
    "lang",
    "task",
    "id",
    "shadow",
    "eta",
    "expires",
    "group",
    "group_index",
    "retries",
    "timelimit",
    "root_id",
    "parent_id",
    "argsrepr",
    "kwargsrepr",
    "origin",
    "ignore_result",
    "replaced_task_nesting",
    "stamped_headers",
    "stamps",
];

impl TaskHeaders {
    /// Minimal headers for a task: everything else takes Python's defaults.
    pub fn new(task: impl Into<String>, id: impl Into<String>) -> Self {
        TaskHeaders {
            lang: Some("py".to_owned()),
            task: task.into(),
            id: id.into(),
            shadow: None,
            eta: None,
            expires: None,
            group: None,
            group_index: None,
            retries: 0,
            timelimit: TimeLimit::default(),
            root_id: None,
            parent_id: None,
            argsrepr: None,
            kwargsrepr: None,
            origin: None,
            ignore_result: false,
            replaced_task_nesting: 0,
            stamped_headers: PyValue::Null,
            stamps: PyDict::new(),
            redelivered: None,
            extra: PyDict::new(),
        }
    }

    /// Reads and validates headers the way a Python worker does: `task` and `id` are required
    /// strings, a truthy `timelimit` must have two numbers, `eta`/`expires` must parse. Other
    /// headers of an unexpected type do not fail the message (Python does not check them
    /// either); they are kept in [`TaskHeaders::extra`] under their own name, so
    /// [`TaskHeaders::to_dict`] writes them back at their usual position.
    pub fn from_dict(d: &PyDict) -> Result<Self, MessageError> {
        let task = required_str(d, "task")?;
        let id = required_str(d, "id")?;
        let mut h = TaskHeaders::new(task, id);
        h.lang = None;
        for (k, v) in d.iter() {
            // Informational headers Python only logs or passes along: a value of an unexpected
            // type is kept verbatim in `extra` (at the same key) instead of refusing the task.
            macro_rules! lenient {
                ($field:expr, $parsed:expr) => {
                    match $parsed {
                        Ok(value) => $field = value,
                        Err(_) => {
                            h.extra.insert(k.clone(), v.clone());
                        }
                    }
                };
            }
            let Some(name) = k.as_str() else {
                h.extra.insert(k.clone(), v.clone());
                continue;
            };
            match name {
                "task" | "id" => {}
                "lang" => lenient!(h.lang, opt_str(name, v)),
                "shadow" => lenient!(h.shadow, opt_str(name, v)),
                "eta" => h.eta = opt_time("eta", v)?,
                "expires" => h.expires = opt_time("expires", v)?,
                "group" => lenient!(h.group, opt_str(name, v)),
                "group_index" => lenient!(h.group_index, opt_int(name, v)),
                "retries" => lenient!(h.retries, opt_int(name, v).map(|r| r.unwrap_or(0))),
                "timelimit" => h.timelimit = time_limit(v)?,
                "root_id" => lenient!(h.root_id, opt_str(name, v)),
                "parent_id" => lenient!(h.parent_id, opt_str(name, v)),
                "argsrepr" => lenient!(h.argsrepr, opt_py_str(name, v)),
                "kwargsrepr" => lenient!(h.kwargsrepr, opt_py_str(name, v)),
                "origin" => lenient!(h.origin, opt_str(name, v)),
                "ignore_result" => h.ignore_result = v.is_truthy(),
                "replaced_task_nesting" => {
                    lenient!(h.replaced_task_nesting, opt_int(name, v).map(|r| r.unwrap_or(0)))
                }
                "stamped_headers" => h.stamped_headers = v.clone(),
                "stamps" => match v {
                    PyValue::Dict(s) => h.stamps = s.clone(),
                    _ => {
                        h.extra.insert(k.clone(), v.clone());
                    }
                },
                "redelivered" => h.redelivered = Some(v.is_truthy()),
                _ => {
                    h.extra.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(h)
    }

    /// The headers as Python's `as_task_v2` writes them (all 19 keys, its order), then
    /// `redelivered` if set, then the extras.
    pub fn to_dict(&self) -> PyDict {
        let mut d = PyDict::with_capacity(21 + self.extra.len());
        let s = |o: &Option<String>| PyValue::from(o.clone());
        d.insert("lang", s(&self.lang));
        d.insert("task", self.task.as_str());
        d.insert("id", self.id.as_str());
        d.insert("shadow", s(&self.shadow));
        d.insert("eta", PyValue::from(self.eta.as_ref().map(|t| t.text.clone())));
        d.insert("expires", PyValue::from(self.expires.as_ref().map(|t| t.text.clone())));
        d.insert("group", s(&self.group));
        d.insert("group_index", PyValue::from(self.group_index));
        d.insert("retries", self.retries);
        d.insert("timelimit", self.timelimit.to_value());
        d.insert("root_id", s(&self.root_id));
        d.insert("parent_id", s(&self.parent_id));
        d.insert("argsrepr", PyValue::from(self.argsrepr.clone()));
        d.insert("kwargsrepr", PyValue::from(self.kwargsrepr.clone()));
        d.insert("origin", s(&self.origin));
        d.insert("ignore_result", self.ignore_result);
        d.insert("replaced_task_nesting", self.replaced_task_nesting);
        d.insert("stamped_headers", self.stamped_headers.clone());
        d.insert("stamps", self.stamps.clone());
        if let Some(r) = self.redelivered {
            d.insert("redelivered", r);
        }
        for (k, v) in self.extra.iter() {
            d.insert(k.clone(), v.clone());
        }
        d
    }

    /// `root_id`, defaulting to the task's own id as Celery does.
    pub fn root_id_or_id(&self) -> &str {
        self.root_id.as_deref().filter(|r| !r.is_empty()).unwrap_or(&self.id)
    }
}

fn field(name: &str) -> String {
    format!("headers.{name}")
}

fn required_str(d: &PyDict, name: &'static str) -> Result<String, MessageError> {
    match d.get(name) {
        None => Err(MessageError::MissingHeader(name)),
        Some(PyValue::Str(s)) => match s.as_str() {
            Some(t) => Ok(t.to_owned()),
            None => Err(MessageError::Invalid { field: name, reason: "contains lone surrogates".to_owned() }),
        },
        Some(other) => Err(MessageError::wrong_type(field(name), "a string", other)),
    }
}

fn opt_str(name: &str, v: &PyValue) -> Result<Option<String>, MessageError> {
    match v {
        PyValue::Null => Ok(None),
        PyValue::Str(s) => Ok(Some(s.to_string_lossy().into_owned())),
        other => Err(MessageError::wrong_type(field(name), "a string or null", other)),
    }
}

fn opt_py_str(name: &str, v: &PyValue) -> Result<Option<PyStr>, MessageError> {
    match v {
        PyValue::Null => Ok(None),
        PyValue::Str(s) => Ok(Some(s.clone())),
        other => Err(MessageError::wrong_type(field(name), "a string or null", other)),
    }
}

fn opt_int(name: &str, v: &PyValue) -> Result<Option<i64>, MessageError> {
    match v {
        PyValue::Null => Ok(None),
        PyValue::Int(i) => Ok(Some(*i)),
        PyValue::Bool(b) => Ok(Some(i64::from(*b))),
        other => Err(MessageError::wrong_type(field(name), "an int or null", other)),
    }
}

fn opt_time(name: &'static str, v: &PyValue) -> Result<Option<Timestamp>, MessageError> {
    // Celery only parses truthy values: null and "" mean "not set".
    if !v.is_truthy() {
        return Ok(None);
    }
    match v {
        PyValue::Str(s) => {
            let text = s.to_string_lossy();
            Timestamp::parse(&text)
                .map(Some)
                .ok_or_else(|| MessageError::BadTimestamp { header: name, text: text.into_owned() })
        }
        other => Err(MessageError::BadTimestamp {
            header: name,
            text: crate::json::py_repr(other).to_string_lossy().into_owned(),
        }),
    }
}

fn time_limit(v: &PyValue) -> Result<TimeLimit, MessageError> {
    if !v.is_truthy() {
        return Ok(TimeLimit::default());
    }
    let PyValue::List(items) = v else {
        return Err(MessageError::wrong_type("headers.timelimit", "a list [hard, soft]", v));
    };
    if items.len() != 2 {
        return Err(MessageError::TimeLimitNotTwoItems(items.len()));
    }
    for (i, item) in items.iter().enumerate() {
        if !matches!(item, PyValue::Null | PyValue::Int(_) | PyValue::Float(_)) {
            let which = if i == 0 { "headers.timelimit[0] (hard)" } else { "headers.timelimit[1] (soft)" };
            return Err(MessageError::wrong_type(which, "a number or null", item));
        }
    }
    Ok(TimeLimit { hard: items[0].clone(), soft: items[1].clone() })
}
