//! kombu message properties and `delivery_info`.

use crate::json::{PyDict, PyValue};

use super::error::MessageError;

/// How the envelope's `body` string encodes the body bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BodyEncoding {
    /// Standard, padded base64 (kombu's Redis default).
    #[default]
    Base64,
    /// The body string is the JSON text itself.
    Utf8,
    /// Anything else (kept, but bodies cannot be decoded).
    Other(String),
}

impl BodyEncoding {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            BodyEncoding::Base64 => "base64",
            BodyEncoding::Utf8 => "utf-8",
            BodyEncoding::Other(s) => s,
        }
    }

    /// From the wire name.
    pub fn from_name(name: &str) -> Self {
        match name {
            "base64" => BodyEncoding::Base64,
            "utf-8" | "utf8" => BodyEncoding::Utf8,
            other => BodyEncoding::Other(other.to_owned()),
        }
    }
}

/// `properties.delivery_info`: where kombu routed the message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeliveryInfo {
    /// Exchange name (`""` = anonymous exchange, routing key = queue).
    pub exchange: String,
    /// Routing key (the queue name for tasks).
    pub routing_key: String,
    /// Other keys, e.g. `redelivered: true` after a restore, in order.
    pub extra: PyDict,
}

impl DeliveryInfo {
    /// Routing to a queue through the anonymous exchange, as Celery does for tasks.
    pub fn queue(queue: impl Into<String>) -> Self {
        DeliveryInfo { exchange: String::new(), routing_key: queue.into(), extra: PyDict::new() }
    }

    /// An explicit exchange and routing key.
    pub fn new(exchange: impl Into<String>, routing_key: impl Into<String>) -> Self {
        DeliveryInfo { exchange: exchange.into(), routing_key: routing_key.into(), extra: PyDict::new() }
    }

    /// True if kombu marked the message as redelivered.
    pub fn redelivered(&self) -> bool {
        self.extra.get("redelivered").is_some_and(PyValue::is_truthy)
    }

    /// Reads `delivery_info`; both keys must be strings (kombu indexes them directly).
    pub fn from_dict(d: &PyDict) -> Result<Self, MessageError> {
        let mut info = DeliveryInfo::default();
        let mut have_exchange = false;
        let mut have_rk = false;
        for (k, v) in d.iter() {
            match k.as_str() {
                Some("exchange") => {
                    info.exchange = string_field("delivery_info.exchange", v)?;
                    have_exchange = true;
                }
                Some("routing_key") => {
                    info.routing_key = string_field("delivery_info.routing_key", v)?;
                    have_rk = true;
                }
                _ => {
                    info.extra.insert(k.clone(), v.clone());
                }
            }
        }
        if !have_exchange {
            return Err(MessageError::MissingField { part: "delivery_info", field: "exchange" });
        }
        if !have_rk {
            return Err(MessageError::MissingField { part: "delivery_info", field: "routing_key" });
        }
        Ok(info)
    }

    /// As kombu writes it: `exchange`, `routing_key`, then the extras.
    pub fn to_dict(&self) -> PyDict {
        let mut d = PyDict::with_capacity(2 + self.extra.len());
        d.insert("exchange", self.exchange.as_str());
        d.insert("routing_key", self.routing_key.as_str());
        for (k, v) in self.extra.iter() {
            d.insert(k.clone(), v.clone());
        }
        d
    }
}

pub(crate) fn string_field(name: &str, v: &PyValue) -> Result<String, MessageError> {
    match v {
        PyValue::Str(s) => match s.as_str() {
            Some(t) => Ok(t.to_owned()),
            None => Ok(s.to_string_lossy().into_owned()),
        },
        other => Err(MessageError::wrong_type(name, "a string", other)),
    }
}

/// Envelope `properties`, typed. Field order on the wire is kombu's: `correlation_id`,
/// `reply_to`, extra properties, `delivery_mode`, `expiration`, `delivery_info`, `priority`,
/// `body_encoding`, `delivery_tag`.
#[derive(Debug, Clone, PartialEq)]
pub struct Properties {
    /// Tasks: the task id. Absent on events and control messages.
    pub correlation_id: Option<String>,
    /// Tasks: the producer's oid (`""` is fine).
    pub reply_to: Option<String>,
    /// 2 = persistent (tasks, control), 1 = transient (events, replies).
    pub delivery_mode: Option<i64>,
    /// Milliseconds as a decimal string, only when the task has `expires`.
    pub expiration: Option<String>,
    /// Where the message was routed; mandatory for kombu.
    pub delivery_info: DeliveryInfo,
    /// 0..9 (Redis: 0 is the highest).
    pub priority: PyValue,
    /// How `body` is encoded.
    pub body_encoding: BodyEncoding,
    /// kombu's delivery tag (a uuid4 per publish).
    pub delivery_tag: String,
    /// Properties not listed above (e.g. `origin` on messages re-sent by `retry()`).
    pub extra: PyDict,
}

impl Properties {
    /// Properties for a message routed by `delivery_info` with a fresh uuid4 delivery tag.
    pub fn new(delivery_info: DeliveryInfo, delivery_mode: i64) -> Self {
        Properties {
            correlation_id: None,
            reply_to: None,
            delivery_mode: Some(delivery_mode),
            expiration: None,
            delivery_info,
            priority: PyValue::Int(0),
            body_encoding: BodyEncoding::Base64,
            delivery_tag: uuid::Uuid::new_v4().to_string(),
            extra: PyDict::new(),
        }
    }

    /// The priority as kombu uses it: `int(priority)` clamped to 0..=9, 0 when missing or
    /// unparsable.
    pub fn effective_priority(&self) -> u8 {
        effective_priority(Some(&self.priority))
    }

    /// Reads the properties object. `delivery_info` is mandatory.
    pub fn from_dict(d: &PyDict) -> Result<Self, MessageError> {
        let mut p = Properties {
            correlation_id: None,
            reply_to: None,
            delivery_mode: None,
            expiration: None,
            delivery_info: DeliveryInfo::default(),
            priority: PyValue::Int(0),
            body_encoding: BodyEncoding::Base64,
            delivery_tag: String::new(),
            extra: PyDict::new(),
        };
        let mut have_info = false;
        let mut have_encoding = false;
        for (k, v) in d.iter() {
            match k.as_str() {
                Some("correlation_id") if v.as_str().is_some() => {
                    p.correlation_id = v.as_str().map(str::to_owned)
                }
                Some("reply_to") if v.as_str().is_some() => p.reply_to = v.as_str().map(str::to_owned),
                Some("delivery_mode") if v.as_i64().is_some() => p.delivery_mode = v.as_i64(),
                Some("expiration") if v.as_str().is_some() => p.expiration = v.as_str().map(str::to_owned),
                Some("delivery_info") => {
                    let info = v.as_dict().ok_or_else(|| {
                        MessageError::wrong_type("properties.delivery_info", "an object", v)
                    })?;
                    p.delivery_info = DeliveryInfo::from_dict(info)?;
                    have_info = true;
                }
                Some("priority") => p.priority = v.clone(),
                Some("body_encoding") => {
                    p.body_encoding = BodyEncoding::from_name(&string_field("properties.body_encoding", v)?);
                    have_encoding = true;
                }
                Some("delivery_tag") => {
                    p.delivery_tag = string_field("properties.delivery_tag", v)?;
                }
                _ => {
                    p.extra.insert(k.clone(), v.clone());
                }
            }
        }
        if !have_info {
            return Err(MessageError::MissingDeliveryInfo);
        }
        if !have_encoding {
            // kombu falls back to no encoding: the body string is the payload itself.
            p.body_encoding = BodyEncoding::Utf8;
        }
        Ok(p)
    }

    /// As kombu writes them.
    pub fn to_dict(&self) -> PyDict {
        let mut d = PyDict::with_capacity(9 + self.extra.len());
        if let Some(c) = &self.correlation_id {
            d.insert("correlation_id", c.as_str());
        }
        if let Some(r) = &self.reply_to {
            d.insert("reply_to", r.as_str());
        }
        for (k, v) in self.extra.iter() {
            d.insert(k.clone(), v.clone());
        }
        if let Some(m) = self.delivery_mode {
            d.insert("delivery_mode", m);
        }
        if let Some(e) = &self.expiration {
            d.insert("expiration", e.as_str());
        }
        d.insert("delivery_info", self.delivery_info.to_dict());
        d.insert("priority", self.priority.clone());
        d.insert("body_encoding", self.body_encoding.as_str());
        d.insert("delivery_tag", self.delivery_tag.as_str());
        d
    }
}

/// kombu's `_get_message_priority`: `int(priority)` clamped to 0..=9, default 0.
pub fn effective_priority(value: Option<&PyValue>) -> u8 {
    let n: Option<i64> = match value {
        Some(PyValue::Int(i)) => Some(*i),
        Some(PyValue::Bool(b)) => Some(i64::from(*b)),
        Some(PyValue::Float(f)) if f.is_finite() => Some(f.trunc() as i64),
        Some(PyValue::BigInt(b)) => Some(if b.as_str().starts_with('-') { 0 } else { 9 }),
        Some(PyValue::Str(s)) => s.as_str().and_then(|t| t.trim().parse::<i64>().ok()),
        _ => None,
    };
    n.map_or(0, |n| n.clamp(0, 9) as u8)
}
