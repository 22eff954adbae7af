//! Event messages on the `celeryev` fanout exchange.
//!
//! Envelope headers `{"hostname": <nodename>}`, properties delivery_mode 1 and
//! delivery_info `{"exchange": "celeryev", "routing_key": <type with - replaced by .>}`. The
//! body is one event object, or a list of task events (routing key `task.multi`).

use crate::json::{PyDict, PyValue};

use super::envelope::Envelope;
use super::error::MessageError;
use super::properties::{DeliveryInfo, Properties};

/// The events exchange.
pub const EVENT_EXCHANGE: &str = "celeryev";

/// The routing key for an event type: `worker-heartbeat` -> `worker.heartbeat`.
pub fn routing_key_for(event_type: &str) -> String {
    event_type.replace('-', ".")
}

/// One event message: a single event or a `task.multi` batch.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMessage {
    /// `headers.hostname`: the sending node.
    pub hostname: String,
    /// Routing key (`worker.heartbeat`, `task.multi`, ...).
    pub routing_key: String,
    /// The event object, or a list of them.
    pub body: PyValue,
}

impl EventMessage {
    /// A single event; the routing key comes from its `type` field.
    pub fn single(hostname: impl Into<String>, event: PyDict) -> Result<Self, MessageError> {
        let kind = event
            .get("type")
            .and_then(PyValue::as_str)
            .ok_or(MessageError::MissingField { part: "event", field: "type" })?;
        Ok(EventMessage {
            hostname: hostname.into(),
            routing_key: routing_key_for(kind),
            body: PyValue::Dict(event),
        })
    }

    /// A batch of task events, as Python prefork workers send them (`task.multi`).
    pub fn multi(hostname: impl Into<String>, events: Vec<PyDict>) -> Self {
        EventMessage {
            hostname: hostname.into(),
            routing_key: "task.multi".to_owned(),
            body: PyValue::List(events.into_iter().map(PyValue::Dict).collect()),
        }
    }

    /// The events carried (one, or several for `task.multi`).
    pub fn events(&self) -> Vec<&PyDict> {
        match &self.body {
            PyValue::Dict(d) => vec![d],
            PyValue::List(items) => items.iter().filter_map(PyValue::as_dict).collect(),
            _ => Vec::new(),
        }
    }

    /// The envelope kombu's event dispatcher publishes.
    pub fn to_envelope(&self) -> Envelope {
        let mut headers = PyDict::with_capacity(1);
        headers.insert("hostname", self.hostname.as_str());
        let props = Properties::new(DeliveryInfo::new(EVENT_EXCHANGE, self.routing_key.as_str()), 1);
        Envelope::with_json_body(&self.body, headers, &props)
    }

    /// Decodes an event publish.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        Self::from_envelope(&Envelope::decode(bytes)?)
    }

    /// Reads an event from an envelope.
    pub fn from_envelope(envelope: &Envelope) -> Result<Self, MessageError> {
        let body = envelope.body_json()?;
        if !matches!(body, PyValue::Dict(_) | PyValue::List(_)) {
            return Err(MessageError::wrong_type("event body", "an object or a list", &body));
        }
        let hostname = envelope
            .headers()
            .and_then(|h| h.get("hostname"))
            .and_then(PyValue::as_str)
            .unwrap_or_default()
            .to_owned();
        let info = envelope.delivery_info()?;
        Ok(EventMessage { hostname, routing_key: info.routing_key, body })
    }
}
