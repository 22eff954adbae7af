//! The protocol v2 task body: `[args, kwargs, embed]`.

use crate::json::{PyDict, PyValue};

use super::error::MessageError;

/// A canvas signature (`{"task", "args", "kwargs", "options", "subtask_type", "immutable"}`),
/// kept as the JSON object Python sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature(pub PyDict);

impl Signature {
    /// A signature as Celery's `Signature.__init__` lays it out: `task`, `args`, `kwargs`,
    /// `options`, `subtask_type` (null), `immutable` (false).
    pub fn new(task: &str, args: Vec<PyValue>, kwargs: PyDict, options: PyDict) -> Self {
        let mut d = PyDict::with_capacity(6);
        d.insert("task", task);
        d.insert("args", args);
        d.insert("kwargs", kwargs);
        d.insert("options", options);
        d.insert("subtask_type", PyValue::Null);
        d.insert("immutable", false);
        Signature(d)
    }

    /// The task name.
    pub fn task(&self) -> Option<&str> {
        self.0.get("task").and_then(PyValue::as_str)
    }

    /// Positional args (empty when absent).
    pub fn args(&self) -> &[PyValue] {
        self.0.get("args").and_then(PyValue::as_list).unwrap_or(&[])
    }

    /// Keyword args.
    pub fn kwargs(&self) -> Option<&PyDict> {
        self.0.get("kwargs").and_then(PyValue::as_dict)
    }

    /// Options (`task_id`, `queue`, `reply_to`, ...).
    pub fn options(&self) -> Option<&PyDict> {
        self.0.get("options").and_then(PyValue::as_dict)
    }

    /// `chain`, `group`, `chord` or `None` for a plain task.
    pub fn subtask_type(&self) -> Option<&str> {
        self.0.get("subtask_type").and_then(PyValue::as_str)
    }

    /// Immutable signatures do not receive the parent's result.
    pub fn immutable(&self) -> bool {
        self.0.get("immutable").is_some_and(PyValue::is_truthy)
    }

    fn from_value(part: &str, v: &PyValue) -> Result<Self, MessageError> {
        match v {
            PyValue::Dict(d) => Ok(Signature(d.clone())),
            other => Err(MessageError::wrong_type(part, "a signature object", other)),
        }
    }
}

/// The embed object: callbacks (link), errbacks (link_error), chain (reversed: next task
/// last) and the chord body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embed {
    /// Signatures applied to the result on success.
    pub callbacks: Option<Vec<Signature>>,
    /// Signatures applied on failure.
    pub errbacks: Option<Vec<Signature>>,
    /// Remaining chain, next task **last**.
    pub chain: Option<Vec<Signature>>,
    /// Chord body carried by each header task.
    pub chord: Option<Signature>,
    /// Other keys.
    pub extra: PyDict,
}

impl Embed {
    /// Reads the embed object; `null` and `{}` mean "nothing embedded".
    pub fn from_value(v: &PyValue) -> Result<Self, MessageError> {
        let mut e = Embed::default();
        let d = match v {
            PyValue::Null => return Ok(e),
            PyValue::Dict(d) => d,
            other => return Err(MessageError::wrong_type("body[2] (embed)", "an object", other)),
        };
        for (k, val) in d.iter() {
            match k.as_str() {
                Some("callbacks") => e.callbacks = sig_list("embed.callbacks", val)?,
                Some("errbacks") => e.errbacks = sig_list("embed.errbacks", val)?,
                Some("chain") => e.chain = sig_list("embed.chain", val)?,
                Some("chord") => {
                    e.chord = match val {
                        PyValue::Null => None,
                        other => Some(Signature::from_value("embed.chord", other)?),
                    }
                }
                _ => {
                    e.extra.insert(k.clone(), val.clone());
                }
            }
        }
        Ok(e)
    }

    /// As Python writes it: all four keys, `null` when empty, then extras.
    pub fn to_value(&self) -> PyValue {
        let list = |l: &Option<Vec<Signature>>| match l {
            None => PyValue::Null,
            Some(v) => PyValue::List(v.iter().map(|s| PyValue::Dict(s.0.clone())).collect()),
        };
        let mut d = PyDict::with_capacity(4 + self.extra.len());
        d.insert("callbacks", list(&self.callbacks));
        d.insert("errbacks", list(&self.errbacks));
        d.insert("chain", list(&self.chain));
        d.insert("chord", PyValue::from(self.chord.as_ref().map(|s| PyValue::Dict(s.0.clone()))));
        for (k, v) in self.extra.iter() {
            d.insert(k.clone(), v.clone());
        }
        PyValue::Dict(d)
    }

    /// True when nothing is embedded.
    pub fn is_empty(&self) -> bool {
        self.callbacks.as_ref().is_none_or(Vec::is_empty)
            && self.errbacks.as_ref().is_none_or(Vec::is_empty)
            && self.chain.as_ref().is_none_or(Vec::is_empty)
            && self.chord.is_none()
    }
}

fn sig_list(part: &str, v: &PyValue) -> Result<Option<Vec<Signature>>, MessageError> {
    match v {
        PyValue::Null => Ok(None),
        PyValue::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, s)| Signature::from_value(&format!("{part}[{i}]"), s))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(MessageError::wrong_type(part, "a list of signatures or null", other)),
    }
}

/// `[args, kwargs, embed]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskBody {
    /// Positional arguments.
    pub args: Vec<PyValue>,
    /// Keyword arguments.
    pub kwargs: PyDict,
    /// Callbacks, errbacks, chain, chord.
    pub embed: Embed,
}

impl TaskBody {
    /// Reads a decoded body. It must be a 3-element array (a Python worker crashes on anything
    /// else), with a list of args and a dict of kwargs.
    pub fn from_value(v: &PyValue) -> Result<Self, MessageError> {
        let items = match v {
            PyValue::List(items) if items.len() == 3 => items,
            PyValue::List(items) => {
                return Err(MessageError::BodyNotThreeElements {
                    found: format!("a list of {} elements", items.len()),
                });
            }
            other => {
                return Err(MessageError::BodyNotThreeElements { found: format!("a {}", other.type_name()) });
            }
        };
        let args = match &items[0] {
            PyValue::List(a) => a.clone(),
            other => return Err(MessageError::wrong_type("body[0] (args)", "a list", other)),
        };
        let kwargs = match &items[1] {
            PyValue::Dict(k) => k.clone(),
            other => return Err(MessageError::wrong_type("body[1] (kwargs)", "an object", other)),
        };
        let embed = Embed::from_value(&items[2])?;
        Ok(TaskBody { args, kwargs, embed })
    }

    /// `[args, kwargs, embed]` as Python writes it.
    pub fn to_value(&self) -> PyValue {
        PyValue::List(vec![
            PyValue::List(self.args.clone()),
            PyValue::Dict(self.kwargs.clone()),
            self.embed.to_value(),
        ])
    }
}
