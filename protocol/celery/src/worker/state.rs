//! What the worker holds right now: reserved, ETA-scheduled and active requests, the revoked set
//! and counters. Remote control (`inspect active/reserved/scheduled/stats`) reads it.
//!
//! A message belongs to exactly one of `reserved`, `scheduled` or `active`; whoever removes it from
//! its map owns the next step (run, restore, ack), which keeps timers, revokes and shutdown from
//! handling one message twice.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use super::revoked::RevokedSet;
use super::task::{TaskContext, TaskRequest};
use crate::json::{PyDict, PyValue};

/// A received request as `inspect` shows it (Celery's `Request.info()`).
#[derive(Clone, Debug)]
pub(crate) struct RequestInfo {
    pub id: String,
    pub name: String,
    pub args: Vec<PyValue>,
    pub kwargs: PyDict,
    pub exchange: String,
    pub routing_key: String,
    pub priority: i64,
    pub redelivered: bool,
}

impl RequestInfo {
    pub fn of(request: &TaskRequest, exchange: &str) -> Self {
        Self {
            id: request.id.clone(),
            name: request.name.clone(),
            args: request.args.clone(),
            kwargs: request.kwargs.clone(),
            exchange: exchange.to_string(),
            routing_key: request.queue.clone(),
            priority: request.priority,
            redelivered: request.redelivered,
        }
    }

    pub fn to_value(&self, hostname: &str, time_start: Option<f64>, acknowledged: bool) -> PyValue {
        let mut info = PyDict::new();
        info.insert("exchange", self.exchange.as_str());
        info.insert("routing_key", self.routing_key.as_str());
        info.insert("priority", self.priority);
        info.insert("redelivered", self.redelivered);
        let mut d = PyDict::new();
        d.insert("id", self.id.as_str());
        d.insert("name", self.name.as_str());
        d.insert("args", PyValue::List(self.args.clone()));
        d.insert("kwargs", PyValue::Dict(self.kwargs.clone()));
        d.insert("type", self.name.as_str());
        d.insert("hostname", hostname);
        d.insert("time_start", time_start);
        d.insert("acknowledged", acknowledged);
        d.insert("delivery_info", PyValue::Dict(info));
        d.insert("worker_pid", std::process::id());
        PyValue::Dict(d)
    }
}

pub(crate) struct ActiveEntry {
    pub info: RequestInfo,
    pub time_start: f64,
    pub acknowledged: bool,
    pub ctx: TaskContext,
    /// Fires to drop the running future (revoke with terminate).
    pub terminate: CancellationToken,
}

pub(crate) struct ScheduledEntry {
    pub info: RequestInfo,
    pub eta: DateTime<Utc>,
    pub timer: AbortHandle,
}

#[derive(Default)]
pub(crate) struct WorkerState {
    /// By delivery tag.
    pub reserved: HashMap<String, RequestInfo>,
    pub scheduled: HashMap<String, ScheduledEntry>,
    pub active: HashMap<String, ActiveEntry>,
    /// Tags this process holds in `unacked` (refreshed in Rust-only recovery mode).
    pub held: HashSet<String>,
    pub revoked: RevokedSet,
    /// Finished tasks per name (`stats.total`).
    pub total: HashMap<String, u64>,
    pub processed: u64,
}
