//! Sending tasks as a Python producer does: the full protocol-v2 envelope, LPUSHed to the queue's
//! priority list through the anonymous exchange, after declaring the queue binding once.

mod options;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

pub use options::SendOptions;

use crate::json::{PyDict, PyValue};
use crate::message::{Envelope, TaskMessageBuilder, TimeLimit};
use crate::transport::{Broker, TransportError};

/// Failures of sending a task.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("cannot build the task message: {0}")]
    Message(String),
}

/// A task producer bound to a broker. Cheap to clone.
#[derive(Clone)]
pub struct Producer {
    broker: Broker,
    origin: String,
    declared: Arc<Mutex<HashSet<String>>>,
}

impl Producer {
    /// `origin` is the sender's node name: `gen<pid>@<host>` for clients, the worker name for workers.
    pub fn new(broker: Broker, origin: impl Into<String>) -> Self {
        Self { broker, origin: origin.into(), declared: Arc::default() }
    }

    /// The default client origin, `gen<pid>@<hostname>`, as Celery writes it.
    pub fn client_origin() -> String {
        format!("gen{}@{}", std::process::id(), local_hostname())
    }

    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Sends task `name` with `args`/`kwargs`; returns the task id.
    pub async fn send_task(
        &self,
        name: &str,
        args: Vec<PyValue>,
        kwargs: PyDict,
        options: SendOptions,
    ) -> Result<String, SendError> {
        let queue = options.queue.clone();
        let priority = options.priority.unwrap_or(0);
        let (task_id, envelope) = task_envelope(name, args, kwargs, &options, &self.origin)?;
        self.declare_once(&queue).await?;
        self.broker.push(&queue, priority, &envelope.to_bytes()).await?;
        Ok(task_id)
    }

    /// Pushes an already built envelope (retries republish the received one, modified).
    pub async fn send_raw(&self, queue: &str, priority: i64, envelope: &[u8]) -> Result<(), SendError> {
        self.declare_once(queue).await?;
        self.broker.push(queue, priority, envelope).await?;
        Ok(())
    }

    /// Declares `queue` (its kombu binding) the first time this producer sends to it.
    pub async fn declare_once(&self, queue: &str) -> Result<(), TransportError> {
        let first = self.declared.lock().unwrap_or_else(|e| e.into_inner()).insert(queue.to_string());
        if first && let Err(e) = self.broker.declare_queue(queue).await {
            self.declared.lock().unwrap_or_else(|e| e.into_inner()).remove(queue);
            return Err(e);
        }
        Ok(())
    }
}

/// Builds the protocol-v2 envelope Python's `apply_async` would (see [`TaskMessageBuilder`]).
pub fn task_envelope(
    name: &str,
    args: Vec<PyValue>,
    kwargs: PyDict,
    options: &SendOptions,
    origin: &str,
) -> Result<(String, Envelope), SendError> {
    let mut b =
        TaskMessageBuilder::new(name, options.queue.as_str()).args(args).kwargs(kwargs).origin(origin);
    if let Some(id) = &options.task_id {
        b = b.id(id.as_str());
    }
    if let Some(eta) = options.effective_eta() {
        b = b.eta(eta);
    }
    if let Some(expires) = options.expires {
        b = b.expires(expires);
    }
    if let Some(p) = options.priority {
        b = b.priority(p.clamp(0, 255) as u8);
    }
    if options.time_limit.is_some() || options.soft_time_limit.is_some() {
        // Whole seconds go out as ints (`[null, 3600]`, as Python callers usually send them).
        let whole =
            |t: Option<f64>| t.is_none_or(|t| t.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&t));
        let limit = if whole(options.time_limit) && whole(options.soft_time_limit) {
            TimeLimit::secs(options.time_limit.map(|t| t as u64), options.soft_time_limit.map(|t| t as u64))
        } else {
            TimeLimit::secs_f64(options.time_limit, options.soft_time_limit)
        };
        b = b.time_limit(limit);
    }
    if let Some(oid) = &options.reply_to {
        b = b.reply_to(oid.as_str());
    }
    if let Some(parent) = &options.parent_id {
        b = b.parent_id(parent.as_str());
    }
    if let Some(root) = &options.root_id {
        b = b.root_id(root.as_str());
    }
    let message = b
        .ignore_result(options.ignore_result)
        .build_message()
        .map_err(|e| SendError::Message(e.to_string()))?;
    Ok((message.id().to_string(), message.envelope))
}

/// This machine's host name (what Celery puts after the `@`).
pub fn local_hostname() -> String {
    hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "localhost".into())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn envelope_carries_what_python_would_send() {
        let options = SendOptions::to_queue("path")
            .task_id("id-1")
            .priority(5)
            .countdown(Duration::from_secs(30))
            .time_limits(None, Some(3600.0))
            .parent("parent-1", "root-1");
        let (id, envelope) =
            task_envelope("pkg.sync_path", vec![PyValue::from("/src/a")], PyDict::new(), &options, "w1@host")
                .unwrap();
        assert_eq!(id, "id-1");
        let text = envelope.to_json();
        assert!(text.contains(r#""timelimit": [null, 3600]"#), "{text}");
        assert!(text.contains(r#""root_id": "root-1", "parent_id": "parent-1""#), "{text}");
        assert!(text.contains(r#""argsrepr": "('/src/a',)""#), "{text}");
        assert!(text.contains(r#""origin": "w1@host""#), "{text}");
        assert!(
            text.contains(r#""delivery_info": {"exchange": "", "routing_key": "path"}, "priority": 5"#),
            "{text}"
        );
        let headers = envelope.headers().unwrap();
        assert!(headers.get("eta").and_then(PyValue::as_str).is_some_and(|eta| eta.ends_with("+00:00")));
    }
}
