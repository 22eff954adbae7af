//! What a task is to the worker: a name bound to an async function, its options, the request it
//! receives, the context it runs in, and the ways it can end.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::json::{PyDict, PyValue};
use crate::producer::{Producer, SendOptions};

/// A task message as the task sees it: decoded arguments plus the Celery headers.
#[derive(Clone, Debug)]
pub struct TaskRequest {
    pub id: String,
    pub name: String,
    pub args: Vec<PyValue>,
    pub kwargs: PyDict,
    /// Every header as received (including ones this crate does not interpret).
    pub headers: PyDict,
    pub retries: u32,
    pub root_id: Option<String>,
    pub parent_id: Option<String>,
    pub group: Option<String>,
    pub eta: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
    /// The queue the message came from (delivery_info.routing_key).
    pub queue: String,
    pub priority: i64,
    /// kombu marked the message as restored after an earlier delivery.
    pub redelivered: bool,
    /// The message's delivery tag: the same for every delivery of one message (a restore keeps
    /// it), new for every message (a retry, a periodic task's next firing). Empty when the task
    /// did not come from a broker.
    pub delivery_tag: String,
}

impl TaskRequest {
    /// Positional argument `i`, falling back to keyword `name` (Python call semantics).
    pub fn arg(&self, i: usize, name: &str) -> Option<&PyValue> {
        self.args.get(i).or_else(|| self.kwargs.get(name))
    }
}

/// A failure Python rebuilds as an exception: `exc_module.exc_type(message)`.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskFailure {
    pub exc_type: String,
    pub exc_module: String,
    pub message: String,
    pub traceback: Option<String>,
}

impl TaskFailure {
    /// A failure Python sees as the builtin exception `exc_type` (e.g. `ValueError`).
    pub fn builtin(exc_type: &str, message: impl Into<String>) -> Self {
        Self {
            exc_type: exc_type.to_string(),
            exc_module: "builtins".into(),
            message: message.into(),
            traceback: None,
        }
    }

    /// A Celery exception (module `celery.exceptions`), e.g. `TimeLimitExceeded`.
    pub fn celery(exc_type: &str, message: impl Into<String>) -> Self {
        Self {
            exc_type: exc_type.to_string(),
            exc_module: "celery.exceptions".into(),
            message: message.into(),
            traceback: None,
        }
    }

    /// Python's `repr()` of the exception, as events show it.
    pub fn repr(&self) -> String {
        let message = crate::json::py_repr(&PyValue::str(self.message.as_str()));
        format!("{}({})", self.exc_type, message.to_string_lossy())
    }
}

/// A request to run the same task again later (Celery's `self.retry`).
#[derive(Clone, Debug, PartialEq)]
pub struct RetryRequest {
    pub countdown: Duration,
    /// The reason stored with state RETRY; Python shows it as the exception.
    pub reason: TaskFailure,
    /// New positional arguments for the republished message; `None` keeps the received ones (what
    /// Celery's `self.retry()` does). A task that finished part of its work can retry only the rest.
    pub args: Option<Vec<PyValue>>,
}

/// How a task can end other than with a value.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TaskError {
    /// Stored as FAILURE with this exception.
    #[error("{}: {}", .0.exc_type, .0.message)]
    Failure(TaskFailure),
    /// Republished with the same id, `retries + 1` and an ETA; stored as RETRY.
    #[error("retry in {:?}", .0.countdown)]
    Retry(RetryRequest),
    /// Rejected: requeued at the back of its queue, or dropped; nothing is stored.
    #[error("rejected (requeue: {requeue}): {reason}")]
    Reject { requeue: bool, reason: String },
    /// Acked with no state stored (Celery's `Ignore`).
    #[error("ignored")]
    Ignore,
}

impl TaskError {
    pub fn failure(exc_type: &str, message: impl Into<String>) -> Self {
        TaskError::Failure(TaskFailure::builtin(exc_type, message))
    }
}

/// What a task returns: a JSON value for the result backend, or how it ended instead.
pub type TaskResult = Result<PyValue, TaskError>;

type BoxTaskFuture = Pin<Box<dyn Future<Output = TaskResult> + Send>>;
type TaskFn = Arc<dyn Fn(TaskRequest, TaskContext) -> BoxTaskFuture + Send + Sync>;

/// Per-task options; the message's `timelimit` header overrides the limits.
#[derive(Clone, Debug, Default)]
pub struct TaskOptions {
    /// Ack after the task ends (at-least-once) instead of when it starts (at-most-once).
    pub acks_late: bool,
    /// Hard limit: the task future is dropped and the task fails with `TimeLimitExceeded`.
    pub time_limit: Option<Duration>,
    /// Soft limit: the context's cancellation token fires; the task decides how to end.
    pub soft_time_limit: Option<Duration>,
}

#[derive(Clone)]
pub(crate) struct RegisteredTask {
    pub(crate) run: TaskFn,
    pub(crate) options: TaskOptions,
}

/// Task name -> implementation. The worker runs only what is registered here.
#[derive(Clone, Default)]
pub struct TaskRegistry {
    tasks: HashMap<String, RegisteredTask>,
}

impl TaskRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `run` under `name` (the Celery task name producers use).
    pub fn register<F, Fut>(&mut self, name: &str, options: TaskOptions, run: F) -> &mut Self
    where
        F: Fn(TaskRequest, TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = TaskResult> + Send + 'static,
    {
        let run: TaskFn = Arc::new(move |req, ctx| Box::pin(run(req, ctx)));
        self.tasks.insert(name.to_string(), RegisteredTask { run, options });
        self
    }

    pub(crate) fn get(&self, name: &str) -> Option<&RegisteredTask> {
        self.tasks.get(name)
    }

    /// Registered names, sorted (what `inspect registered` shows).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tasks.keys().cloned().collect();
        names.sort();
        names
    }
}

/// Why a running task is asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// `revoke(terminate=True)`; the future is dropped right after the token fires.
    Terminated,
    /// The soft time limit passed; the task may clean up and return.
    SoftTimeLimit,
    /// The worker is shutting down cold.
    Shutdown,
}

/// What a running task can use: its ids, a producer for children and retries, and cancellation.
#[derive(Clone)]
pub struct TaskContext {
    pub(crate) id: String,
    pub(crate) root_id: String,
    pub(crate) retries: u32,
    pub(crate) hostname: String,
    pub(crate) producer: Producer,
    pub(crate) cancel: CancellationToken,
    pub(crate) reason: Arc<Mutex<Option<CancelReason>>>,
}

impl TaskContext {
    /// A context for running a task body in the calling process, outside any worker (Celery's
    /// eager `apply()`, used by `irods_sync start --synchronous`): no revoke, no time limit.
    pub fn detached(id: impl Into<String>, hostname: impl Into<String>, producer: Producer) -> Self {
        let id = id.into();
        TaskContext {
            root_id: id.clone(),
            id,
            retries: 0,
            hostname: hostname.into(),
            producer,
            cancel: CancellationToken::new(),
            reason: Arc::default(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn root_id(&self) -> &str {
        &self.root_id
    }

    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The worker's node name (`name@host`).
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The producer, for tasks that send other tasks.
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Send options for a child task: `parent_id` = this task, `root_id` = this task's root.
    pub fn child_options(&self, queue: &str) -> SendOptions {
        SendOptions::to_queue(queue).parent(&self.id, &self.root_id)
    }

    /// Fires on revoke with terminate, on the soft time limit and on cold shutdown.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Why the token fired, once it has.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Builds the error that makes the worker retry this task after `countdown`.
    pub fn retry(&self, countdown: Duration, reason: TaskFailure) -> TaskError {
        TaskError::Retry(RetryRequest { countdown, reason, args: None })
    }

    /// Like [`TaskContext::retry`], republishing `args` instead of the received arguments.
    pub fn retry_with_args(&self, countdown: Duration, reason: TaskFailure, args: Vec<PyValue>) -> TaskError {
        TaskError::Retry(RetryRequest { countdown, reason, args: Some(args) })
    }

    /// Records why the task is being stopped (the first reason wins).
    pub(crate) fn set_reason(&self, reason: CancelReason) {
        let mut slot = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
        }
    }

    pub(crate) fn cancel_with(&self, reason: CancelReason) {
        self.set_reason(reason);
        self.cancel.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_matches_python() {
        assert_eq!(TaskFailure::builtin("ValueError", "x").repr(), "ValueError('x')");
        assert_eq!(TaskFailure::builtin("KeyError", "it's").repr(), "KeyError(\"it's\")");
    }
}
