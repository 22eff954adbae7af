//! A remote-control command addressed to this node, with the helpers handlers need.

use crate::json::{PyDict, PyValue};
use crate::message::{ControlMessage, ControlRequest};

use super::glob::glob_match;

/// One decoded command (the request body of a [`ControlMessage`]).
#[derive(Clone, Debug)]
pub struct ControlCommand {
    pub request: ControlRequest,
    /// The sender's Lamport clock (envelope header).
    pub clock: Option<i64>,
}

impl ControlCommand {
    pub fn decode(raw: &[u8]) -> Result<Self, String> {
        let message = ControlMessage::decode(raw).map_err(|e| e.to_string())?;
        Ok(Self { request: message.request, clock: message.clock })
    }

    pub fn method(&self) -> &str {
        &self.request.method
    }

    pub fn arguments(&self) -> &PyDict {
        &self.request.arguments
    }

    /// Celery's node filter: an explicit destination list wins; else a glob pattern; else all.
    /// (`pcre` patterns need a regex engine this crate does not carry; they match nothing.)
    pub fn is_for(&self, nodename: &str) -> bool {
        let r = &self.request;
        if r.destination.as_ref().is_some_and(|d| !d.is_empty()) {
            return r.is_for_destination(nodename);
        }
        match (&r.pattern, r.matcher.as_deref()) {
            (Some(pattern), None | Some("glob")) => glob_match(pattern, nodename),
            (Some(_), Some(_)) => false,
            (None, _) => true,
        }
    }

    /// A string or list-of-strings argument (e.g. revoke's `task_id`).
    pub fn ids(&self, key: &str) -> Vec<String> {
        match self.arguments().get(key) {
            Some(PyValue::List(items)) => {
                items.iter().filter_map(PyValue::as_str).map(str::to_string).collect()
            }
            Some(v) => v.as_str().map(|s| vec![s.to_string()]).unwrap_or_default(),
            None => Vec::new(),
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        self.arguments().get(key).is_some_and(PyValue::is_truthy)
    }
}
