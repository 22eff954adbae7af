//! The value kombu stores in the `unacked` hash: `[envelope, exchange, routing_key]`.

use crate::json::{self, PyValue};

use super::envelope::Envelope;
use super::error::MessageError;
use super::properties::string_field;

/// One `unacked` hash value. kombu uses `exchange`/`routing_key` (not the envelope's
/// delivery_info) to decide where a restored message goes.
#[derive(Debug, Clone, PartialEq)]
pub struct UnackedEntry {
    /// The message as delivered.
    pub envelope: Envelope,
    /// The exchange it was published to (`""` for tasks).
    pub exchange: String,
    /// The routing key (the queue for tasks).
    pub routing_key: String,
}

impl UnackedEntry {
    /// An entry for `envelope`, taking exchange and routing key from its delivery_info.
    pub fn for_envelope(envelope: Envelope) -> Result<Self, MessageError> {
        let info = envelope.delivery_info()?;
        Ok(UnackedEntry { envelope, exchange: info.exchange, routing_key: info.routing_key })
    }

    /// Parses a hash value.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        let value =
            json::parse(bytes).map_err(|source| MessageError::Json { part: "unacked entry", source })?;
        let PyValue::List(mut items) = value else {
            return Err(MessageError::wrong_type(
                "unacked entry",
                "a list [envelope, exchange, routing_key]",
                &value,
            ));
        };
        if items.len() != 3 {
            return Err(MessageError::Invalid {
                field: "unacked entry",
                reason: format!("expected 3 elements, found {}", items.len()),
            });
        }
        let routing_key = string_field("unacked entry[2] (routing_key)", &items[2])?;
        let exchange = string_field("unacked entry[1] (exchange)", &items[1])?;
        let envelope = Envelope::from_value(items.swap_remove(0))?;
        Ok(UnackedEntry { envelope, exchange, routing_key })
    }

    /// Serialises as kombu does (`dumps([message._raw, exchange, routing_key])`).
    pub fn to_json(&self) -> String {
        let mut out = String::from("[");
        out.push_str(&self.envelope.to_json());
        out.push_str(", ");
        json::emit::write_value(&mut out, &PyValue::from(self.exchange.as_str()));
        out.push_str(", ");
        json::emit::write_value(&mut out, &PyValue::from(self.routing_key.as_str()));
        out.push(']');
        out
    }

    /// [`UnackedEntry::to_json`] as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_json().into_bytes()
    }
}
