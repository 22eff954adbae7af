//! From a held envelope to a task request, saying precisely what is wrong when it cannot be one.

use tokio::sync::OwnedSemaphorePermit;

use super::task::TaskRequest;
use crate::message::{Envelope, TaskBody, TaskHeaders};
use crate::transport::wire::DeliveryFacts;

/// A received task message, held in `unacked` until it is acked, restored or dead-lettered.
pub(crate) struct Delivery {
    pub tag: String,
    pub exchange: String,
    pub envelope: Envelope,
    pub headers: TaskHeaders,
    pub request: TaskRequest,
    /// A place in the prefetch window, released when the message is acked (or goes to a timer).
    pub permit: Option<OwnedSemaphorePermit>,
}

impl Delivery {
    pub fn decode(envelope: Envelope, facts: DeliveryFacts) -> Result<Self, String> {
        let headers = envelope
            .headers()
            .filter(|h| !h.is_empty())
            .ok_or("envelope has no task headers (protocol v1 messages are not supported)")?;
        let headers = TaskHeaders::from_dict(headers).map_err(|e| e.to_string())?;
        let body = envelope.body_json().map_err(|e| e.to_string())?;
        let body = TaskBody::from_value(&body).map_err(|e| e.to_string())?;
        if !body.embed.is_empty() {
            // Running the task but dropping its callbacks/chain/chord would silently break the
            // workflow; see the README's compatibility table.
            return Err("canvas (callbacks, errbacks, chain or chord) is not supported by this worker".into());
        }
        let request = TaskRequest {
            id: headers.id.clone(),
            name: headers.task.clone(),
            args: body.args,
            kwargs: body.kwargs,
            headers: envelope.headers().cloned().unwrap_or_default(),
            retries: headers.retries.clamp(0, u32::MAX as i64) as u32,
            root_id: headers.root_id.clone(),
            parent_id: headers.parent_id.clone(),
            group: headers.group.clone(),
            eta: headers.eta.as_ref().map(|t| t.at),
            expires: headers.expires.as_ref().map(|t| t.at),
            queue: facts.routing_key.clone(),
            priority: facts.priority,
            redelivered: envelope.redelivered(),
            delivery_tag: facts.tag.clone(),
        };
        Ok(Self { tag: facts.tag, exchange: facts.exchange, envelope, headers, request, permit: None })
    }
}
