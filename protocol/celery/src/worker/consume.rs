//! The receiving side: BRPOP within the prefetch window, hold, decode, triage, schedule, dispatch.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tracing::{error, info, warn};

use super::Inner;
use super::config::UnknownTaskPolicy;
use super::decode::Delivery;
use super::execute;
use super::state::{RequestInfo, ScheduledEntry};
use crate::json::PyDict;
use crate::transport::wire::delivery_facts;
use crate::transport::{QueueConsumer, RestoreEnd, Taken};

pub(crate) type ReadySender = UnboundedSender<Delivery>;

/// How long an unregistered task is held before it is requeued (policy `Requeue`).
const UNKNOWN_REQUEUE_DELAY: Duration = Duration::from_secs(1);

/// Takes messages while the prefetch window has room, as many at once as it has room for.
/// A take in flight is never abandoned; shutdown is checked between takes.
pub(crate) async fn consume_loop(w: Arc<Inner>, ready: ReadySender) {
    let mut consumer = loop {
        match QueueConsumer::new(&w.broker, &w.config.queues).await {
            Ok(c) => break c,
            Err(e) => {
                error!(error = %e, "cannot open the consumer connection; retrying");
                tokio::select! {
                    _ = w.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let mut failing = false;
    loop {
        let first = tokio::select! {
            _ = w.shutdown.cancelled() => return,
            permit = w.prefetch.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let mut permits = vec![first];
        while permits.len() < MAX_BATCH {
            match w.prefetch.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        if w.shutdown.is_cancelled() {
            return;
        }
        match consumer.next_batch(permits.len()).await {
            Ok(batch) => {
                if failing {
                    info!("taking messages again");
                    failing = false;
                }
                for (taken, permit) in batch.into_iter().zip(permits.drain(..)) {
                    receive(&w, taken, permit, &ready).await;
                }
            }
            Err(e) => {
                if !failing {
                    error!(error = %e, "cannot take messages; retrying");
                    failing = true;
                }
                tokio::select! {
                    _ = w.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    }
}

/// The most messages one take moves (also bounded by the free prefetch window).
const MAX_BATCH: usize = 32;

/// Triage of one taken message. Nothing here may lose it: every path ends in hold+run, hold+ack,
/// hold+restore, or the dead-letter list; until the hold, the in-flight record keeps it.
async fn receive(
    w: &Arc<Inner>,
    taken: Taken,
    permit: tokio::sync::OwnedSemaphorePermit,
    ready: &ReadySender,
) {
    let (envelope, facts) = match delivery_facts(&taken.raw) {
        Ok(parsed) => parsed,
        Err(why) => {
            error!(queue = %taken.queue, %why, "malformed message moved to the dead-letter list");
            if let Err(e) = w.broker.dead_letter_taken(&taken).await {
                error!(error = %e, "could not dead-letter a malformed message; it stays in flight until this worker's messages are recovered");
            }
            return;
        }
    };
    match w.broker.hold_taken(&taken, &facts.tag, &facts.exchange, &facts.routing_key).await {
        Ok(true) => {}
        Ok(false) => {
            warn!(tag = %facts.tag, "a message taken by this worker was already given back by another (this worker was taken for dead); dropping it here");
            return;
        }
        Err(e) => {
            error!(tag = %facts.tag, error = %e, "could not record the message as unacked; it stays in flight until this worker's messages are recovered");
            return;
        }
    }
    w.state().held.insert(facts.tag.clone());
    let tag = facts.tag.clone();
    let mut delivery = match Delivery::decode(envelope, facts) {
        Ok(d) => d,
        Err(why) => {
            error!(tag, queue = %taken.queue, %why, "undecodable task message moved to the dead-letter list");
            execute::dead_letter(w, &tag, &taken.raw).await;
            return;
        }
    };
    let req = &delivery.request;
    if w.registry.get(&req.name).is_none() {
        match w.config.unknown_tasks {
            UnknownTaskPolicy::DeadLetter => {
                error!(task = %req.name, id = %req.id, "unregistered task moved to the dead-letter list");
                execute::dead_letter(w, &tag, &taken.raw).await;
            }
            UnknownTaskPolicy::Requeue => {
                // Put back after a pause, so that a queue nobody can serve does not spin.
                warn!(task = %req.name, id = %req.id, "unregistered task put back at the end of its queue");
                let w = w.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(UNKNOWN_REQUEUE_DELAY).await;
                    execute::give_back(&w, &tag, RestoreEnd::Back).await;
                });
            }
        }
        return;
    }
    info!(task = %req.name, id = %req.id, "received");
    let mut fields = PyDict::new();
    fields.insert("uuid", req.id.as_str());
    fields.insert("name", req.name.as_str());
    fields.insert("args", delivery.headers.argsrepr.clone().unwrap_or_default());
    fields.insert("kwargs", delivery.headers.kwargsrepr.clone().unwrap_or_default());
    fields.insert("root_id", req.root_id.clone());
    fields.insert("parent_id", req.parent_id.clone());
    fields.insert("retries", req.retries);
    fields.insert("eta", delivery.headers.eta.as_ref().map(|t| t.text.clone()));
    fields.insert("expires", delivery.headers.expires.as_ref().map(|t| t.text.clone()));
    let _ = w.events.task_event("task-received", fields).await;

    if let Some(expired) = execute::revoked_or_expired(w, req) {
        execute::discard(w, delivery, expired).await;
        return;
    }
    let info = RequestInfo::of(req, &delivery.exchange);
    match req.eta.filter(|eta| *eta > Utc::now()) {
        Some(eta) => {
            // Like Celery, ETA messages do not count against the prefetch window.
            drop(permit);
            schedule(w, delivery, info, eta, ready.clone());
        }
        None => {
            delivery.permit = Some(permit);
            w.state().reserved.insert(tag, info);
            if let Err(back) = ready.send(delivery) {
                execute::give_back(w, &back.0.tag, RestoreEnd::Front).await;
            }
        }
    }
}

/// Holds an ETA message in a timer; when it fires the message is reserved like any other.
fn schedule(
    w: &Arc<Inner>,
    delivery: Delivery,
    info: RequestInfo,
    eta: chrono::DateTime<Utc>,
    ready: ReadySender,
) {
    let tag = delivery.tag.clone();
    let wait = (eta - Utc::now()).to_std().unwrap_or_default();
    let timer_w = w.clone();
    // The entry is inserted under the same lock the timer takes, so the timer cannot fire first.
    let mut state = w.state();
    let timer = tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let w = timer_w;
        let mut state = w.state();
        let Some(entry) = state.scheduled.remove(&delivery.tag) else { return };
        state.reserved.insert(delivery.tag.clone(), entry.info);
        drop(state);
        if let Err(back) = ready.send(delivery) {
            let w = w.clone();
            tokio::spawn(async move { execute::give_back(&w, &back.0.tag, RestoreEnd::Front).await });
        }
    });
    info!(id = %info.id, %eta, "scheduled (ETA)");
    state.scheduled.insert(tag, ScheduledEntry { info, eta, timer: timer.abort_handle() });
}

/// Warm shutdown: every ETA-held message goes back to the front of its queue.
pub(crate) async fn restore_scheduled(w: &Arc<Inner>) {
    let entries: Vec<(String, ScheduledEntry)> = w.state().scheduled.drain().collect();
    for (tag, entry) in entries {
        entry.timer.abort();
        execute::give_back(w, &tag, RestoreEnd::Front).await;
    }
}

/// Starts reserved messages as slots free up; after shutdown, gives them back instead.
pub(crate) async fn dispatch_loop(w: Arc<Inner>, mut ready: UnboundedReceiver<Delivery>) {
    while let Some(delivery) = ready.recv().await {
        if w.shutdown.is_cancelled() {
            w.state().reserved.remove(&delivery.tag);
            execute::give_back(&w, &delivery.tag, RestoreEnd::Front).await;
            continue;
        }
        let slot = tokio::select! {
            slot = w.slots.clone().acquire_owned() => slot,
            _ = w.shutdown.cancelled() => {
                w.state().reserved.remove(&delivery.tag);
                execute::give_back(&w, &delivery.tag, RestoreEnd::Front).await;
                continue;
            }
        };
        let Ok(slot) = slot else { break };
        let task_w = w.clone();
        w.tasks.spawn(async move { execute::execute(task_w, delivery, slot).await });
    }
}
