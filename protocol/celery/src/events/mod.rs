//! Celery events over Redis: worker-online/heartbeat/offline always, task-* when enabled.
//!
//! On Redis the `celeryev` exchange is a fanout, so an event is a PUBLISH on
//! `/<db>.celeryev/<type with - replaced by .>`; monitors (`celery events`, Flower) PSUBSCRIBE
//! `/<db>.celeryev/*`. Nothing is stored: an event nobody listens to is gone, as in Python.

mod clock;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use clock::LamportClock;

use crate::json::{PyDict, PyValue};
use crate::message::{EVENT_EXCHANGE, EventMessage, routing_key_for};
use crate::transport::{Broker, TransportError, unix_now};

/// What this implementation calls itself in worker events (`sw_ident`).
pub const SW_IDENT: &str = "rs-celery-proto";

/// Publishes events as one worker node.
#[derive(Clone)]
pub struct EventDispatcher {
    broker: Broker,
    hostname: String,
    clock: LamportClock,
    task_events: Arc<AtomicBool>,
}

impl EventDispatcher {
    pub fn new(broker: Broker, hostname: &str, clock: LamportClock, task_events: bool) -> Self {
        Self {
            broker,
            hostname: hostname.to_string(),
            clock,
            task_events: Arc::new(AtomicBool::new(task_events)),
        }
    }

    /// Whether task-* events are sent (`-E`, or the `enable_events` control command).
    pub fn task_events_enabled(&self) -> bool {
        self.task_events.load(Ordering::Relaxed)
    }

    pub fn set_task_events(&self, enabled: bool) {
        self.task_events.store(enabled, Ordering::Relaxed);
    }

    /// Sends a task-* event if task events are enabled.
    pub async fn task_event(&self, event_type: &str, fields: PyDict) -> Result<(), TransportError> {
        if self.task_events_enabled() { self.send(event_type, fields).await } else { Ok(()) }
    }

    /// Sends one event: `hostname, utcoffset, pid, clock, <fields>, timestamp, type`, Python's order.
    pub async fn send(&self, event_type: &str, fields: PyDict) -> Result<(), TransportError> {
        let mut body = PyDict::new();
        body.insert("hostname", self.hostname.as_str());
        body.insert("utcoffset", utcoffset_hours());
        body.insert("pid", std::process::id());
        body.insert("clock", self.clock.forward());
        for (k, v) in fields.into_entries() {
            body.insert(k, v);
        }
        body.insert("timestamp", unix_now());
        body.insert("type", event_type);
        let message = EventMessage {
            hostname: self.hostname.clone(),
            routing_key: routing_key_for(event_type),
            body: PyValue::Dict(body),
        };
        let envelope = message.to_envelope();
        self.broker.publish_fanout(EVENT_EXCHANGE, &message.routing_key, &envelope.to_bytes()).await?;
        Ok(())
    }

    /// Fields of worker-online/heartbeat/offline.
    pub fn worker_fields(freq: f64, active: usize, processed: u64) -> PyDict {
        let mut d = PyDict::new();
        d.insert("freq", freq);
        d.insert("active", active as u64);
        d.insert("processed", processed);
        d.insert("loadavg", PyValue::List(loadavg().into_iter().map(PyValue::Float).collect()));
        d.insert("sw_ident", SW_IDENT);
        d.insert("sw_ver", env!("CARGO_PKG_VERSION"));
        d.insert("sw_sys", std::env::consts::OS.replace("linux", "Linux"));
        d
    }
}

/// Python's `time.timezone // 3600`: hours *west* of UTC (0 on UTC hosts).
fn utcoffset_hours() -> i64 {
    let east = chrono::Local::now().offset().local_minus_utc() as i64;
    (-east).div_euclid(3600)
}

/// The 1/5/15-minute load averages rounded to 2 places, as Celery reports them.
fn loadavg() -> Vec<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut values: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse::<f64>().ok())
        .map(|v| (v * 100.0).round() / 100.0)
        .collect();
    values.resize(3, 0.0);
    values
}
