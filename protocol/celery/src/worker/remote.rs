//! This worker's answers to remote-control commands (`celery inspect ...`, `celery control ...`).

use std::sync::Arc;

use crate::control::{ControlCommand, ControlHandler, error, ok};
use crate::json::{PyDict, PyValue};
use crate::message::isoformat_utc;

use super::Inner;
use super::execute;

pub(crate) fn handler(w: Arc<Inner>) -> ControlHandler {
    Arc::new(move |command: ControlCommand| {
        let w = w.clone();
        Box::pin(async move { handle(&w, command).await })
    })
}

async fn handle(w: &Arc<Inner>, command: ControlCommand) -> Option<PyValue> {
    let reply = match command.method() {
        "ping" => ok("pong"),
        "revoke" | "terminate" => {
            let ids = command.ids("task_id");
            let terminate = command.method() == "terminate" || command.flag("terminate");
            let terminated = execute::revoke(w, &ids, terminate).await;
            let text = if terminate {
                if terminated.is_empty() {
                    "terminate: tasks unknown".to_string()
                } else {
                    format!("terminate: {}", terminated.join(", "))
                }
            } else {
                format!("tasks {} flagged as revoked", ids.join(", "))
            };
            ok(text)
        }
        "active" => PyValue::List(active(w)),
        "reserved" => PyValue::List(reserved(w)),
        "scheduled" => PyValue::List(scheduled(w)),
        "revoked" => PyValue::List(w.state().revoked.ids().into_iter().map(PyValue::from).collect()),
        "registered" => PyValue::List(w.registry.names().into_iter().map(PyValue::from).collect()),
        "stats" => stats(w),
        "active_queues" => PyValue::List(w.config.queues.iter().map(|q| queue_info(q)).collect()),
        "heartbeat" => {
            w.send_worker_event("worker-heartbeat").await;
            return None;
        }
        "enable_events" => {
            w.events.set_task_events(true);
            ok("task events enabled")
        }
        "disable_events" => {
            w.events.set_task_events(false);
            ok("task events disabled")
        }
        "hello" => {
            let mut revoked = PyDict::new();
            for id in w.state().revoked.ids() {
                revoked.insert(id, crate::transport::unix_now());
            }
            let mut d = PyDict::new();
            d.insert("revoked", revoked);
            d.insert("clock", w.clock.value());
            PyValue::Dict(d)
        }
        "shutdown" => {
            tracing::warn!("shutdown requested by remote control");
            w.shutdown.cancel();
            ok("Warm shutdown")
        }
        other => error(format!("No such command: {other:?} (not implemented by this worker)")),
    };
    Some(reply)
}

fn active(w: &Arc<Inner>) -> Vec<PyValue> {
    let state = w.state();
    state.active.values().map(|e| e.info.to_value(w.nodename(), Some(e.time_start), e.acknowledged)).collect()
}

fn reserved(w: &Arc<Inner>) -> Vec<PyValue> {
    let state = w.state();
    state.reserved.values().map(|info| info.to_value(w.nodename(), None, false)).collect()
}

fn scheduled(w: &Arc<Inner>) -> Vec<PyValue> {
    let state = w.state();
    state
        .scheduled
        .values()
        .map(|e| {
            let mut d = PyDict::new();
            d.insert("eta", isoformat_utc(e.eta));
            d.insert("priority", e.info.priority);
            d.insert("request", e.info.to_value(w.nodename(), None, false));
            PyValue::Dict(d)
        })
        .collect()
}

fn stats(w: &Arc<Inner>) -> PyValue {
    let state = w.state();
    let mut total = PyDict::new();
    let mut names: Vec<_> = state.total.iter().collect();
    names.sort();
    for (name, count) in names {
        total.insert(name.as_str(), *count);
    }
    let mut pool = PyDict::new();
    pool.insert("implementation", "celery_proto::worker (tokio tasks)");
    pool.insert("max-concurrency", w.config.concurrency as u64);
    pool.insert("processes", PyValue::List(vec![PyValue::from(std::process::id())]));
    pool.insert("max-tasks-per-child", PyValue::Null);
    pool.insert("put-guarded-by-semaphore", false);
    pool.insert("timeouts", PyValue::List(vec![PyValue::Int(0), PyValue::Int(0)]));
    let mut broker = PyDict::new();
    broker.insert("transport", "redis");
    broker.insert("virtual_host", w.broker.names().db().to_string());
    broker.insert("visibility_timeout", w.broker.options().visibility_timeout.as_secs_f64());
    let mut d = PyDict::new();
    d.insert("total", total);
    d.insert("pid", std::process::id());
    d.insert("clock", w.clock.value().to_string());
    d.insert("uptime", w.started.elapsed().as_secs());
    d.insert("pool", pool);
    d.insert("broker", broker);
    d.insert("prefetch_count", w.config.prefetch_count() as u64);
    d.insert("rusage", rusage());
    PyValue::Dict(d)
}

fn rusage() -> PyDict {
    let mut d = PyDict::new();
    // SAFETY: getrusage fills a zeroed struct we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    d.insert("utime", secs(usage.ru_utime));
    d.insert("stime", secs(usage.ru_stime));
    d.insert("maxrss", usage.ru_maxrss as i64);
    d
}

/// A kombu `Queue.as_dict()` for a Celery default queue (direct exchange named like the queue).
fn queue_info(queue: &str) -> PyValue {
    let mut exchange = PyDict::new();
    exchange.insert("name", queue);
    exchange.insert("type", "direct");
    exchange.insert("arguments", PyValue::Null);
    exchange.insert("durable", true);
    exchange.insert("passive", false);
    exchange.insert("auto_delete", false);
    exchange.insert("delivery_mode", PyValue::Null);
    exchange.insert("no_declare", false);
    let mut d = PyDict::new();
    d.insert("name", queue);
    d.insert("exchange", exchange);
    d.insert("routing_key", queue);
    for key in ["queue_arguments", "binding_arguments", "consumer_arguments"] {
        d.insert(key, PyValue::Null);
    }
    d.insert("durable", true);
    d.insert("exclusive", false);
    d.insert("auto_delete", false);
    d.insert("no_ack", false);
    d.insert("alias", PyValue::Null);
    d.insert("bindings", PyValue::List(Vec::new()));
    d.insert("no_declare", PyValue::Null);
    for key in ["expires", "message_ttl", "max_length", "max_length_bytes", "max_priority"] {
        d.insert(key, PyValue::Null);
    }
    PyValue::Dict(d)
}
