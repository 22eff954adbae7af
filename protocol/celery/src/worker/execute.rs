//! Running one task: ack policy, time limits, cancellation, and what each outcome stores, emits
//! and does to the message.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::Inner;
use super::decode::Delivery;
use super::state::{ActiveEntry, RequestInfo};
use super::task::{CancelReason, RetryRequest, TaskContext, TaskError, TaskFailure, TaskRequest};
use crate::json::{self, PyDict, PyValue};
use crate::message::Timestamp;
use crate::message::{ResultMeta, TaskState};
use crate::results::{exception_meta, success_meta};
use crate::transport::{RestoreEnd, unix_now};

/// How a run ended, before it is turned into results, events and acks.
enum Ending {
    Returned(Result<PyValue, TaskError>),
    HardTimeLimit(f64),
    Cancelled(CancelReason),
}

pub(crate) async fn execute(w: Arc<Inner>, mut d: Delivery, _slot: OwnedSemaphorePermit) {
    let Some(info) = w.state().reserved.remove(&d.tag) else {
        // Revoked while waiting for a slot, and already handled.
        return;
    };
    if let Some(expired) = revoked_or_expired(&w, &d.request) {
        discard(&w, d, expired).await;
        return;
    }
    let Some(task) = w.registry.get(&d.request.name).cloned() else {
        dead_letter(&w, &d.tag, &d.envelope.to_bytes()).await;
        return;
    };
    let acks_late = task.options.acks_late;
    let ctx = TaskContext {
        id: d.request.id.clone(),
        root_id: d.headers.root_id_or_id().to_string(),
        retries: d.request.retries,
        hostname: w.nodename().to_string(),
        producer: w.producer.clone(),
        cancel: CancellationToken::new(),
        reason: Arc::new(Mutex::new(None)),
    };
    let terminate = CancellationToken::new();
    let time_start = unix_now();
    w.state().active.insert(
        d.tag.clone(),
        ActiveEntry {
            info,
            time_start,
            acknowledged: !acks_late,
            ctx: ctx.clone(),
            terminate: terminate.clone(),
        },
    );
    if !acks_late {
        ack(&w, &d.tag).await;
        d.permit = None;
    }
    info!(task = %d.request.name, id = %d.request.id, redelivered = d.request.redelivered, "started");
    let mut started = PyDict::new();
    started.insert("uuid", d.request.id.as_str());
    let _ = w.events.task_event("task-started", started).await;

    let hard = d.headers.timelimit.hard_secs().or(task.options.time_limit.map(|t| t.as_secs_f64()));
    let soft = d.headers.timelimit.soft_secs().or(task.options.soft_time_limit.map(|t| t.as_secs_f64()));
    let soft_timer = soft.filter(|s| s.is_finite() && *s >= 0.0).map(|secs| {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            warn!(id = %ctx.id, secs, "soft time limit exceeded");
            ctx.cancel_with(CancelReason::SoftTimeLimit);
        })
    });
    let hard_limit = async {
        match hard.filter(|h| h.is_finite() && *h >= 0.0) {
            Some(secs) => tokio::time::sleep(Duration::from_secs_f64(secs)).await,
            None => std::future::pending().await,
        }
    };
    // A panicking task fails like a raising one; it must not take the message state with it.
    let run = AssertUnwindSafe((task.run)(d.request.clone(), ctx.clone())).catch_unwind().map(|out| {
        out.unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(TaskError::failure("RuntimeError", format!("task panicked: {what}")))
        })
    });
    // Termination is checked first: a task that notices the cancellation token and returns in
    // the same instant was still terminated.
    let ending = tokio::select! {
        biased;
        _ = terminate.cancelled() => Ending::Cancelled(ctx.cancel_reason().unwrap_or(CancelReason::Terminated)),
        _ = hard_limit => Ending::HardTimeLimit(hard.unwrap_or_default()),
        out = run => Ending::Returned(out),
    };
    if let Some(timer) = soft_timer {
        timer.abort();
    }
    let runtime = unix_now() - time_start;
    let acked_or_restored = finish(&w, &d, ending, runtime).await;
    if acks_late && !acked_or_restored {
        ack(&w, &d.tag).await;
    }
    let mut state = w.state();
    state.active.remove(&d.tag);
    state.processed += 1;
    *state.total.entry(d.request.name.clone()).or_default() += 1;
}

/// Stores, emits and logs the outcome. Returns true if it already acked or restored the message.
async fn finish(w: &Arc<Inner>, d: &Delivery, ending: Ending, runtime: f64) -> bool {
    let req = &d.request;
    let mut fields = PyDict::new();
    fields.insert("uuid", req.id.as_str());
    match ending {
        Ending::Returned(Ok(value)) => {
            info!(task = %req.name, id = %req.id, runtime, "succeeded");
            store(w, d, success_meta(&req.id, value.clone())).await;
            fields.insert("result", json::saferepr(&value, Some(1024)));
            fields.insert("runtime", runtime);
            let _ = w.events.task_event("task-succeeded", fields).await;
            false
        }
        Ending::Returned(Err(TaskError::Failure(failure))) => {
            fail(w, d, &failure, fields).await;
            false
        }
        Ending::Returned(Err(TaskError::Retry(retry))) => {
            match republish_for_retry(w, d, &retry).await {
                Ok(()) => {
                    info!(task = %req.name, id = %req.id, countdown = ?retry.countdown, "retry scheduled");
                    store(w, d, exception_meta(&req.id, TaskState::Retry, &retry.reason)).await;
                    fields.insert("exception", retry.reason.repr());
                    fields.insert("traceback", retry.reason.traceback.clone().unwrap_or_default());
                    let _ = w.events.task_event("task-retried", fields).await;
                }
                Err(why) => {
                    let failure =
                        TaskFailure::celery("Reject", format!("could not republish for retry: {why}"));
                    fail(w, d, &failure, fields).await;
                }
            }
            false
        }
        Ending::Returned(Err(TaskError::Reject { requeue, reason })) => {
            warn!(task = %req.name, id = %req.id, requeue, %reason, "rejected");
            fields.insert("requeue", requeue);
            let _ = w.events.task_event("task-rejected", fields).await;
            if requeue && w.state().held.contains(&d.tag) {
                give_back(w, &d.tag, RestoreEnd::Back).await;
                return true;
            }
            false
        }
        Ending::Returned(Err(TaskError::Ignore)) => false,
        Ending::HardTimeLimit(secs) => {
            error!(task = %req.name, id = %req.id, secs, "hard time limit exceeded; task dropped");
            // Python's pool reports the hard limit with billiard's exception class.
            let failure = TaskFailure {
                exc_module: "billiard.exceptions".into(),
                ..TaskFailure::celery("TimeLimitExceeded", json::float_repr(secs))
            };
            fail(w, d, &failure, fields).await;
            false
        }
        Ending::Cancelled(CancelReason::Shutdown) => {
            warn!(task = %req.name, id = %req.id, "cancelled by cold shutdown");
            if w.state().held.contains(&d.tag) {
                give_back(w, &d.tag, RestoreEnd::Front).await;
            }
            true
        }
        Ending::Cancelled(_) => {
            info!(task = %req.name, id = %req.id, "terminated by revoke");
            let failure = TaskFailure::celery("TaskRevokedError", "terminated");
            store(w, d, exception_meta(&req.id, TaskState::Revoked, &failure)).await;
            fields.insert("terminated", true);
            fields.insert("signum", 15);
            fields.insert("expired", false);
            let _ = w.events.task_event("task-revoked", fields).await;
            false
        }
    }
}

async fn fail(w: &Arc<Inner>, d: &Delivery, failure: &TaskFailure, mut fields: PyDict) {
    error!(task = %d.request.name, id = %d.request.id, exc = %failure.repr(), "failed");
    store(w, d, exception_meta(&d.request.id, TaskState::Failure, failure)).await;
    fields.insert("exception", failure.repr());
    fields.insert("traceback", failure.traceback.clone().unwrap_or_default());
    let _ = w.events.task_event("task-failed", fields).await;
}

async fn store(w: &Arc<Inner>, d: &Delivery, meta: ResultMeta) {
    if d.headers.ignore_result {
        return;
    }
    let mut meta = meta;
    meta.group_id = d.request.group.clone();
    meta.parent_id = d.request.parent_id.clone();
    store_meta(w, meta).await;
}

pub(crate) async fn store_meta(w: &Arc<Inner>, meta: ResultMeta) {
    let Some(backend) = &w.backend else { return };
    if let Err(e) = backend.store(&meta).await {
        error!(id = %meta.task_id, error = %e, "could not store the task result");
    }
}

/// Celery's `Task.retry`: the same message again with the same id, `retries + 1`, an ETA, and a
/// fresh delivery tag, pushed to the queue it came from.
async fn republish_for_retry(w: &Arc<Inner>, d: &Delivery, retry: &RetryRequest) -> Result<(), String> {
    let mut envelope = d.envelope.clone();
    let mut headers = d.headers.clone();
    headers.retries += 1;
    headers.eta = Some(Timestamp::from_utc(
        Utc::now() + chrono::Duration::from_std(retry.countdown).unwrap_or_default(),
    ));
    if headers.parent_id.is_none() {
        headers.parent_id = Some(headers.id.clone());
    }
    headers.redelivered = None;
    *envelope.headers_mut() = headers.to_dict();
    let properties = envelope.properties_dict_mut();
    if let Some(PyValue::Dict(info)) = properties.get_mut("delivery_info") {
        info.remove("redelivered");
    }
    if let Some(args) = &retry.args {
        replace_args(&mut envelope, args)?;
    }
    envelope.set_delivery_tag(&uuid::Uuid::new_v4().to_string());
    let raw = envelope.to_bytes();
    w.producer.declare_once(&d.request.queue).await.map_err(|e| e.to_string())?;
    // Repeated through a Redis outage: a repeat after a lost reply publishes the retry twice,
    // which the task's own bookkeeping must tolerate (same id, same retry count); losing it
    // would lose the task.
    let (broker, raw) = (&w.broker, &raw);
    broker
        .retrying(
            "publish retry",
            || async move { broker.push(&d.request.queue, d.request.priority, raw).await },
        )
        .await
        .map_err(|e| e.to_string())
}

/// Puts `args` in place of the body's positional arguments (kwargs and embed stay), and updates
/// `argsrepr` to match.
fn replace_args(envelope: &mut crate::message::Envelope, args: &[PyValue]) -> Result<(), String> {
    let mut body = envelope.body_json().map_err(|e| e.to_string())?;
    match &mut body {
        PyValue::List(items) if !items.is_empty() => items[0] = PyValue::List(args.to_vec()),
        _ => return Err("the message body is not a protocol-v2 [args, kwargs, embed] list".into()),
    }
    envelope.set_json_body(&body);
    // Keep the sender's style: `[...]` from a list, `(...,)` from a tuple (Celery signatures).
    let was_list = envelope
        .headers()
        .and_then(|h| h.get("argsrepr"))
        .and_then(PyValue::as_str)
        .is_some_and(|r| r.starts_with('['));
    let style = if was_list { json::ArgsStyle::List } else { json::ArgsStyle::Tuple };
    let repr = json::saferepr_args(args, style, Some(json::ARGSREPR_MAXSIZE));
    envelope.headers_mut().insert("argsrepr", repr);
    Ok(())
}

/// `Some(expired)` if the request must not run: revoked (`false`) or past `expires` (`true`).
pub(crate) fn revoked_or_expired(w: &Arc<Inner>, req: &TaskRequest) -> Option<bool> {
    if req.expires.is_some_and(|at| at <= Utc::now()) {
        return Some(true);
    }
    w.state().revoked.contains(&req.id).then_some(false)
}

/// Discards a revoked or expired message: ack, REVOKED, task-revoked.
pub(crate) async fn discard(w: &Arc<Inner>, d: Delivery, expired: bool) {
    let reason = if expired { "expired" } else { "revoked" };
    info!(task = %d.request.name, id = %d.request.id, reason, "discarding revoked task");
    ack(w, &d.tag).await;
    discard_outcome(w, &d.request.id, expired).await;
}

pub(crate) async fn discard_outcome(w: &Arc<Inner>, id: &str, expired: bool) {
    let reason = if expired { "expired" } else { "revoked" };
    let failure = TaskFailure::celery("TaskRevokedError", reason);
    store_meta(w, exception_meta(id, TaskState::Revoked, &failure)).await;
    let mut fields = PyDict::new();
    fields.insert("uuid", id);
    fields.insert("terminated", false);
    fields.insert("signum", PyValue::Null);
    fields.insert("expired", expired);
    let _ = w.events.task_event("task-revoked", fields).await;
}

pub(crate) async fn ack(w: &Arc<Inner>, tag: &str) {
    w.state().held.remove(tag);
    if let Err(e) = w.broker.ack(tag).await {
        error!(tag, error = %e, "ack failed; the message may be redelivered after the visibility timeout");
    }
}

/// Restores a held message to its queue (front: shutdown; back: requeue).
pub(crate) async fn give_back(w: &Arc<Inner>, tag: &str, end: RestoreEnd) {
    w.state().held.remove(tag);
    if let Err(e) = w.broker.restore(tag, end).await {
        error!(tag, error = %e, "restore failed; the message stays in unacked until the visibility timeout");
    }
}

/// Moves a held message to the dead-letter list (the raw bytes as received).
pub(crate) async fn dead_letter(w: &Arc<Inner>, tag: &str, raw: &[u8]) {
    w.state().held.remove(tag);
    if let Err(e) = w.broker.dead_letter_held(tag, raw).await {
        error!(tag, error = %e, "could not dead-letter the message; it stays in unacked");
    }
}

/// Revoke: remember the ids, discard ETA-held copies now, terminate running ones if asked.
/// Returns the ids that were terminated.
pub(crate) async fn revoke(w: &Arc<Inner>, ids: &[String], terminate: bool) -> Vec<String> {
    let mut discard_now = Vec::new();
    let mut terminated = Vec::new();
    {
        let mut state = w.state();
        for id in ids {
            state.revoked.insert(id);
        }
        let held: Vec<String> = state
            .scheduled
            .iter()
            .filter(|(_, e)| ids.contains(&e.info.id))
            .map(|(t, _)| t.clone())
            .collect();
        for tag in held {
            if let Some(entry) = state.scheduled.remove(&tag) {
                entry.timer.abort();
                discard_now.push((tag, entry.info));
            }
        }
        if terminate {
            for entry in state.active.values() {
                if ids.contains(&entry.info.id) {
                    entry.ctx.set_reason(CancelReason::Terminated);
                    entry.terminate.cancel();
                    entry.ctx.cancel_with(CancelReason::Terminated);
                    terminated.push(entry.info.id.clone());
                }
            }
        }
    }
    for (tag, info) in discard_now {
        let RequestInfo { id, .. } = info;
        info!(id, "discarding revoked ETA task");
        ack(w, &tag).await;
        discard_outcome(w, &id, false).await;
    }
    // Celery >= 5.6.2 stores REVOKED for every revoked id right away (running ones get theirs
    // when they stop).
    for id in ids.iter().filter(|id| !terminated.contains(id)) {
        store_meta(
            w,
            exception_meta(id, TaskState::Revoked, &TaskFailure::celery("TaskRevokedError", "revoked")),
        )
        .await;
    }
    terminated
}

/// Cold shutdown: cancel everything that runs.
pub(crate) fn cancel_all(w: &Arc<Inner>, reason: CancelReason) {
    for entry in w.state().active.values() {
        entry.ctx.set_reason(reason);
        entry.terminate.cancel();
        entry.ctx.cancel_with(reason);
    }
}
