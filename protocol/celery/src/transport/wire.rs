//! The few envelope facts the transport itself reads or writes, as kombu does.
//!
//! Everything else is passed through untouched: the `unacked` hash stores the exact bytes that
//! were popped, and restores re-encode through [`Envelope`], whose emitter is Python-identical, so
//! nothing (lone surrogates, big ints, unknown headers) is lost on the way round.

use crate::json::{self, PyValue};
use crate::message::{Envelope, UnackedEntry};

/// Delivery facts of an envelope: enough to hold, ack, restore and route it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryFacts {
    pub tag: String,
    pub exchange: String,
    pub routing_key: String,
    pub priority: i64,
}

/// Parses a raw envelope and reads its delivery facts; `Err` says what is wrong with it.
pub fn delivery_facts(raw: &[u8]) -> Result<(Envelope, DeliveryFacts), String> {
    let envelope = Envelope::decode(raw).map_err(|e| e.to_string())?;
    let info = envelope.delivery_info().map_err(|e| e.to_string())?;
    let tag = envelope
        .delivery_tag()
        .filter(|t| !t.is_empty())
        .ok_or("properties.delivery_tag is missing or not a string")?
        .to_string();
    let facts = DeliveryFacts {
        tag,
        exchange: info.exchange,
        routing_key: info.routing_key,
        priority: i64::from(envelope.priority()),
    };
    Ok((envelope, facts))
}

/// The `unacked` hash value: `[<envelope>, "<exchange>", "<routing_key>"]` around the exact bytes.
pub fn unacked_value(envelope: &[u8], exchange: &str, routing_key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(envelope.len() + exchange.len() + routing_key.len() + 12);
    out.push(b'[');
    out.extend_from_slice(envelope.trim_ascii());
    out.extend_from_slice(b", ");
    out.extend_from_slice(json::to_json_string(&PyValue::str(exchange)).as_bytes());
    out.extend_from_slice(b", ");
    out.extend_from_slice(json::to_json_string(&PyValue::str(routing_key)).as_bytes());
    out.push(b']');
    out
}

/// A held message ready to go back on its queue.
#[derive(Clone, Debug)]
pub struct Restored {
    pub queue: String,
    pub priority: i64,
    pub envelope: Vec<u8>,
}

/// Turns an `unacked` value back into an envelope marked `redelivered`, as kombu does.
pub fn restored_message(stored: &[u8]) -> Result<Restored, String> {
    let UnackedEntry { mut envelope, routing_key, .. } =
        UnackedEntry::decode(stored).map_err(|e| e.to_string())?;
    // kombu looks the queue up from (exchange, routing_key). For the anonymous exchange the
    // routing key is the queue; Celery's per-queue direct exchanges use the queue name as routing
    // key too, the only other form this crate produces or consumes.
    envelope.mark_redelivered();
    Ok(Restored {
        queue: routing_key,
        priority: i64::from(envelope.priority()),
        envelope: envelope.to_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVELOPE: &str = r#"{"body": "W10=", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"task": "t", "id": "i", "argsrepr": "('caf\udce9',)"}, "properties": {"delivery_info": {"exchange": "", "routing_key": "path"}, "priority": 5, "body_encoding": "base64", "delivery_tag": "c253b931"}}"#;

    #[test]
    fn facts_and_unacked_value() {
        let (_, facts) = delivery_facts(ENVELOPE.as_bytes()).unwrap();
        assert_eq!(
            facts,
            DeliveryFacts {
                tag: "c253b931".into(),
                exchange: "".into(),
                routing_key: "path".into(),
                priority: 5
            }
        );
        let value = unacked_value(ENVELOPE.as_bytes(), "", "path");
        let text = String::from_utf8(value.clone()).unwrap();
        assert!(text.starts_with("[{\"body\": ") && text.ends_with("}, \"\", \"path\"]"), "{text}");
        let restored = restored_message(&value).unwrap();
        assert_eq!((restored.queue.as_str(), restored.priority), ("path", 5));
        let text = String::from_utf8(restored.envelope).unwrap();
        assert!(text.contains("\"redelivered\": true}, \"properties\""), "{text}");
        assert!(text.contains("\"routing_key\": \"path\", \"redelivered\": true}"), "{text}");
        assert!(text.contains(r"caf\udce9"), "lone surrogate survives: {text}");
    }

    #[test]
    fn what_is_wrong_is_said() {
        assert!(delivery_facts(b"not json").is_err());
        assert!(delivery_facts(b"[1]").is_err());
        let no_info = r#"{"body": "", "properties": {"delivery_tag": "x"}}"#;
        assert!(delivery_facts(no_info.as_bytes()).unwrap_err().contains("delivery_info"));
        assert!(restored_message(b"[1, 2]").is_err());
    }
}
