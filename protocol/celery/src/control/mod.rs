//! Remote control (`celery.pidbox`): receive broadcast commands, answer through the reply binding.
//!
//! Commands arrive on the fanout channel `/<db>.celery.pidbox` (PSUBSCRIBE with the exact name).
//! A command carrying `reply_to` + `ticket` expects an answer `{"<nodename>": <reply>}` published
//! to the direct exchange `reply.celery.pidbox` with the client's routing key; the client's
//! binding in `_kombu.binding.reply.celery.pidbox` names the list to LPUSH to.

mod command;
mod glob;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub use command::ControlCommand;

use crate::events::LamportClock;
use crate::json::{PyDict, PyValue};
use crate::message::{ControlReply, PIDBOX_EXCHANGE, ReplyTo};
use crate::transport::{Broker, TransportError};

/// What a handler answers: `Some(reply)` is sent when the command asked for one.
pub type ControlFuture = Pin<Box<dyn Future<Output = Option<PyValue>> + Send>>;
/// Handles one command addressed to this node.
pub type ControlHandler = Arc<dyn Fn(ControlCommand) -> ControlFuture + Send + Sync>;

/// `{"ok": value}`, Celery's success reply.
pub fn ok(value: impl Into<PyValue>) -> PyValue {
    let mut d = PyDict::new();
    d.insert("ok", value.into());
    PyValue::Dict(d)
}

/// `{"error": message}`, Celery's error reply.
pub fn error(message: impl Into<String>) -> PyValue {
    let mut d = PyDict::new();
    d.insert("error", message.into());
    PyValue::Dict(d)
}

/// One node's mailbox.
pub struct Mailbox {
    broker: Broker,
    nodename: String,
    clock: LamportClock,
}

impl Mailbox {
    pub fn new(broker: Broker, nodename: &str, clock: LamportClock) -> Self {
        Self { broker, nodename: nodename.to_string(), clock }
    }

    /// Declares the node's pidbox queue binding (what `celery inspect` expects to exist; delivery
    /// itself goes through pub/sub).
    pub async fn declare(&self) -> Result<(), TransportError> {
        self.broker.bind(PIDBOX_EXCHANGE, "", &format!("{}.{PIDBOX_EXCHANGE}", self.nodename)).await
    }

    /// Listens until `stop` fires, reconnecting when the connection drops. `ready` fires once the
    /// first subscription is active.
    pub async fn listen(&self, handler: ControlHandler, stop: CancellationToken, ready: CancellationToken) {
        let channel = self.broker.names().fanout_channel(PIDBOX_EXCHANGE, "");
        while !stop.is_cancelled() {
            match self.subscribe_and_serve(&channel, &handler, &stop, &ready).await {
                Ok(()) => {}
                Err(e) => warn!(error = %e, "remote-control subscription lost; reconnecting"),
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn subscribe_and_serve(
        &self,
        channel: &str,
        handler: &ControlHandler,
        stop: &CancellationToken,
        ready: &CancellationToken,
    ) -> Result<(), TransportError> {
        let mut pubsub = self.broker.pubsub().await?;
        pubsub.psubscribe(channel).await?;
        ready.cancel();
        debug!(channel, "listening for remote-control commands");
        let mut messages = pubsub.on_message();
        loop {
            let msg = tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                msg = messages.next() => match msg {
                    Some(msg) => msg,
                    None => return Ok(()),
                },
            };
            let raw: Vec<u8> = msg.get_payload_bytes().to_vec();
            let command = match ControlCommand::decode(&raw) {
                Ok(command) => command,
                Err(why) => {
                    warn!(%why, "ignoring undecodable remote-control message");
                    continue;
                }
            };
            if let Some(clock) = command.clock {
                self.clock.adjust(clock.max(0) as u64);
            }
            if !command.is_for(&self.nodename) {
                continue;
            }
            info!(method = %command.method(), "remote control");
            let wants_reply = command.request.reply_to.clone().zip(command.request.ticket.clone());
            let reply = handler(command).await;
            if let (Some((reply_to, ticket)), Some(reply)) = (wants_reply, reply)
                && let Err(e) = self.reply(reply_to, ticket, reply).await
            {
                warn!(error = %e, "could not send remote-control reply");
            }
        }
    }

    /// Publishes `{"<nodename>": reply}` to the client's reply queue.
    async fn reply(&self, reply_to: ReplyTo, ticket: String, reply: PyValue) -> Result<(), TransportError> {
        let message = ControlReply {
            nodename: self.nodename.clone(),
            reply,
            ticket,
            clock: self.clock.forward() as i64,
            reply_to: reply_to.clone(),
        };
        let envelope = message.to_envelope().to_bytes();
        let delivered =
            self.broker.publish_direct(&reply_to.exchange, &reply_to.routing_key, 0, &envelope).await?;
        if delivered == 0 {
            debug!(routing_key = %reply_to.routing_key, "remote-control client already gone; reply dropped");
        }
        Ok(())
    }
}
