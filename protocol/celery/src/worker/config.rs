//! Worker configuration: what to consume, how much at once, and how crashes are recovered.

use std::time::Duration;

use crate::results::BackendOptions;
use crate::transport::TransportOptions;

/// How messages of a crashed worker come back (see the README, "Crash recovery").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// kombu's behaviour, safe next to Python workers: the visibility timeout stays at the
    /// transport option (default 3600 s) and scores are never refreshed.
    Mixed,
    /// Only Rust workers consume from this broker database and key prefix (`unacked` is shared by
    /// all its queues): a short visibility timeout, and every live worker
    /// refreshes the `unacked_index` score of what it holds, so only a dead holder's messages age
    /// out. Never use it next to Python workers: they do not refresh their scores, so Rust
    /// workers would restore (and run twice) messages that live Python workers still hold.
    RustOnly { visibility_timeout: Duration },
}

/// What happens to a message whose task name is not registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownTaskPolicy {
    /// Move the raw message to the dead-letter list (default): nothing is lost, nothing loops.
    DeadLetter,
    /// Put it back at the end of its queue for another worker that knows the task (mixed fleets
    /// where every task has at least one implementation). Loops if no worker knows it.
    Requeue,
}

/// Everything a [`crate::worker::Worker`] needs besides its tasks.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub broker_url: String,
    /// Optional Redis result backend URL (Celery's `result_backend`).
    pub result_backend: Option<String>,
    pub backend_options: BackendOptions,
    pub queues: Vec<String>,
    /// Number of tasks running at once (async task slots).
    pub concurrency: usize,
    /// Messages reserved ahead = concurrency x multiplier (Celery's `worker_prefetch_multiplier`).
    pub prefetch_multiplier: usize,
    /// Node name, `name@host`; must be unique in the fleet.
    pub nodename: String,
    pub transport: TransportOptions,
    pub recovery: Recovery,
    /// Send task-* events (Celery's `-E`); worker events are always sent.
    pub task_events: bool,
    pub unknown_tasks: UnknownTaskPolicy,
    /// worker-heartbeat period (Celery: 2 s).
    pub heartbeat_interval: Duration,
    /// Announce this worker and what it holds, and restore at once the messages of announced
    /// workers silent for this long (see `transport::peers`); `None` disables both.
    pub dead_peer_after: Option<Duration>,
}

impl WorkerConfig {
    pub fn new(broker_url: impl Into<String>, queues: Vec<String>) -> Self {
        Self {
            broker_url: broker_url.into(),
            result_backend: None,
            backend_options: BackendOptions::default(),
            queues,
            concurrency: 1,
            prefetch_multiplier: 4,
            nodename: format!("celery@{}", crate::producer::local_hostname()),
            transport: TransportOptions::default(),
            recovery: Recovery::Mixed,
            task_events: false,
            unknown_tasks: UnknownTaskPolicy::DeadLetter,
            heartbeat_interval: Duration::from_secs(2),
            dead_peer_after: Some(Duration::from_secs(30)),
        }
    }

    pub fn prefetch_count(&self) -> usize {
        (self.concurrency.max(1) * self.prefetch_multiplier.max(1)).max(1)
    }

    /// Transport options after applying the recovery mode.
    pub(crate) fn effective_transport(&self) -> TransportOptions {
        let mut t = self.transport.clone();
        if let Recovery::RustOnly { visibility_timeout } = self.recovery {
            t.visibility_timeout = visibility_timeout;
            t.restore_interval = (visibility_timeout / 2).max(Duration::from_millis(500));
        }
        t
    }

    /// How often held messages get their `unacked_index` score refreshed (RustOnly only).
    pub(crate) fn refresh_interval(&self) -> Option<Duration> {
        match self.recovery {
            Recovery::Mixed => None,
            Recovery::RustOnly { visibility_timeout } => {
                Some((visibility_timeout / 3).max(Duration::from_millis(200)))
            }
        }
    }
}
