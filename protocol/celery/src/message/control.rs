//! Remote-control (`celery.pidbox`) requests and replies.
//!
//! A request is published on the fanout exchange `celery.pidbox`:
//! body `{"method", "arguments", "destination", "pattern", "matcher"}` plus `"ticket"` and
//! `"reply_to": {"exchange", "routing_key"}` when an answer is expected; headers
//! `{"clock": <lamport>, "expires": <unix time>}`. A reply goes to the direct exchange
//! `reply.celery.pidbox` with the request's routing key, body `{"<nodename>": <reply>}` and
//! headers `{"ticket", "clock"}`.

use crate::json::{PyDict, PyValue};

use super::envelope::Envelope;
use super::error::MessageError;
use super::properties::{DeliveryInfo, Properties, string_field};

/// The fanout exchange control requests are published to (default `control_exchange`).
pub const PIDBOX_EXCHANGE: &str = "celery.pidbox";
/// The direct exchange replies are published to.
pub const REPLY_EXCHANGE: &str = "reply.celery.pidbox";

/// Where a reply must be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    /// Normally [`REPLY_EXCHANGE`].
    pub exchange: String,
    /// The client's oid.
    pub routing_key: String,
}

/// The body of a control request.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlRequest {
    /// Command name (`ping`, `revoke`, `shutdown`, `stats`, ...).
    pub method: String,
    /// Command arguments.
    pub arguments: PyDict,
    /// Node names that should act; `None` or empty = all (subject to `pattern`).
    pub destination: Option<Vec<String>>,
    /// Node name pattern.
    pub pattern: Option<String>,
    /// `glob` or `pcre`.
    pub matcher: Option<String>,
    /// Set when a reply is expected.
    pub ticket: Option<String>,
    /// Set when a reply is expected.
    pub reply_to: Option<ReplyTo>,
    /// Other keys.
    pub extra: PyDict,
}

impl ControlRequest {
    /// A broadcast request to every node, without reply.
    pub fn new(method: impl Into<String>, arguments: PyDict) -> Self {
        ControlRequest {
            method: method.into(),
            arguments,
            destination: None,
            pattern: None,
            matcher: None,
            ticket: None,
            reply_to: None,
            extra: PyDict::new(),
        }
    }

    /// Reads a decoded body.
    pub fn from_value(v: &PyValue) -> Result<Self, MessageError> {
        let d = v.as_dict().ok_or_else(|| MessageError::wrong_type("control body", "an object", v))?;
        let method = match d.get("method") {
            Some(m) => string_field("control body.method", m)?,
            None => return Err(MessageError::MissingField { part: "control body", field: "method" }),
        };
        let mut r = ControlRequest::new(method, PyDict::new());
        for (k, val) in d.iter() {
            match k.as_str() {
                Some("method") => {}
                Some("arguments") => match val {
                    PyValue::Dict(a) => r.arguments = a.clone(),
                    PyValue::Null => {}
                    other => {
                        return Err(MessageError::wrong_type("control body.arguments", "an object", other));
                    }
                },
                Some("destination") => {
                    r.destination = match val {
                        PyValue::Null => None,
                        PyValue::List(items) => Some(
                            items
                                .iter()
                                .map(|i| string_field("control body.destination[]", i))
                                .collect::<Result<_, _>>()?,
                        ),
                        other => {
                            return Err(MessageError::wrong_type(
                                "control body.destination",
                                "a list of node names or null",
                                other,
                            ));
                        }
                    }
                }
                Some("pattern") => r.pattern = opt_string("control body.pattern", val)?,
                Some("matcher") => r.matcher = opt_string("control body.matcher", val)?,
                Some("ticket") => r.ticket = opt_string("control body.ticket", val)?,
                Some("reply_to") => {
                    r.reply_to = match val {
                        PyValue::Null => None,
                        PyValue::Dict(rt) => Some(ReplyTo {
                            exchange: rt
                                .get("exchange")
                                .map(|e| string_field("control body.reply_to.exchange", e))
                                .transpose()?
                                .unwrap_or_default(),
                            routing_key: match rt.get("routing_key") {
                                Some(rk) => string_field("control body.reply_to.routing_key", rk)?,
                                None => {
                                    return Err(MessageError::MissingField {
                                        part: "control body.reply_to",
                                        field: "routing_key",
                                    });
                                }
                            },
                        }),
                        other => {
                            return Err(MessageError::wrong_type(
                                "control body.reply_to",
                                "an object",
                                other,
                            ));
                        }
                    }
                }
                _ => {
                    r.extra.insert(k.clone(), val.clone());
                }
            }
        }
        Ok(r)
    }

    /// As kombu's `Mailbox._publish` writes it.
    pub fn to_value(&self) -> PyValue {
        let mut d = PyDict::with_capacity(7);
        d.insert("method", self.method.as_str());
        d.insert("arguments", self.arguments.clone());
        d.insert(
            "destination",
            PyValue::from(
                self.destination
                    .as_ref()
                    .map(|v| PyValue::List(v.iter().map(|s| PyValue::from(s.as_str())).collect())),
            ),
        );
        d.insert("pattern", PyValue::from(self.pattern.clone()));
        d.insert("matcher", PyValue::from(self.matcher.clone()));
        if let Some(t) = &self.ticket {
            d.insert("ticket", t.as_str());
            let rt = self.reply_to.as_ref().map(|rt| {
                let mut r = PyDict::with_capacity(2);
                r.insert("exchange", rt.exchange.as_str());
                r.insert("routing_key", rt.routing_key.as_str());
                PyValue::Dict(r)
            });
            d.insert("reply_to", PyValue::from(rt));
        }
        for (k, v) in self.extra.iter() {
            d.insert(k.clone(), v.clone());
        }
        PyValue::Dict(d)
    }

    /// True if `nodename` is addressed by `destination` (when given) — pattern matching is the
    /// caller's job, since `pcre` needs a regex engine.
    pub fn is_for_destination(&self, nodename: &str) -> bool {
        match &self.destination {
            Some(d) if !d.is_empty() => d.iter().any(|n| n == nodename),
            _ => true,
        }
    }
}

fn opt_string(part: &str, v: &PyValue) -> Result<Option<String>, MessageError> {
    match v {
        PyValue::Null => Ok(None),
        other => string_field(part, other).map(Some),
    }
}

/// A decoded control request with its envelope and headers.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlMessage {
    /// The envelope as received.
    pub envelope: Envelope,
    /// The request.
    pub request: ControlRequest,
    /// `headers.clock` (Lamport clock of the sender).
    pub clock: Option<i64>,
    /// `headers.expires` (unix time; 0/None = never).
    pub expires: Option<f64>,
}

impl ControlMessage {
    /// Decodes a pidbox publish.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        Self::from_envelope(Envelope::decode(bytes)?)
    }

    /// Validates an envelope as a control request.
    pub fn from_envelope(envelope: Envelope) -> Result<Self, MessageError> {
        let request = ControlRequest::from_value(&envelope.body_json()?)?;
        let headers = envelope.headers();
        let clock = headers.and_then(|h| h.get("clock")).and_then(PyValue::as_i64);
        let expires = headers.and_then(|h| h.get("expires")).and_then(PyValue::as_f64);
        Ok(ControlMessage { envelope, request, clock, expires })
    }

    /// Builds the envelope a Python client publishes: headers `{"clock", "expires"}`,
    /// delivery_mode 2, delivery_info `{"exchange": "celery.pidbox", "routing_key": ""}`.
    pub fn build(request: &ControlRequest, clock: i64, expires: Option<f64>) -> Envelope {
        let mut headers = PyDict::with_capacity(2);
        headers.insert("clock", clock);
        headers.insert("expires", PyValue::from(expires));
        let props = Properties::new(DeliveryInfo::new(PIDBOX_EXCHANGE, ""), 2);
        Envelope::with_json_body(&request.to_value(), headers, &props)
    }
}

/// A reply to a control request: body `{"<nodename>": <reply>}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlReply {
    /// Replying node, e.g. `w1@host`.
    pub nodename: String,
    /// The reply, e.g. `{"ok": "pong"}`.
    pub reply: PyValue,
    /// The request's ticket.
    pub ticket: String,
    /// The replier's Lamport clock.
    pub clock: i64,
    /// Where to send it (from the request).
    pub reply_to: ReplyTo,
}

impl ControlReply {
    /// Builds the reply envelope as kombu's `Mailbox._publish_reply` does: headers
    /// `{"ticket", "clock"}`, delivery_mode 1, delivery_info = reply_to.
    pub fn to_envelope(&self) -> Envelope {
        let mut headers = PyDict::with_capacity(2);
        headers.insert("ticket", self.ticket.as_str());
        headers.insert("clock", self.clock);
        let props = Properties::new(
            DeliveryInfo::new(self.reply_to.exchange.as_str(), self.reply_to.routing_key.as_str()),
            1,
        );
        let mut body = PyDict::with_capacity(1);
        body.insert(self.nodename.as_str(), self.reply.clone());
        Envelope::with_json_body(&PyValue::Dict(body), headers, &props)
    }

    /// Decodes a reply envelope.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        Self::from_envelope(&Envelope::decode(bytes)?)
    }

    /// Reads a reply from an envelope.
    pub fn from_envelope(envelope: &Envelope) -> Result<Self, MessageError> {
        let body = envelope.body_json()?;
        let d = body.as_dict().ok_or_else(|| MessageError::wrong_type("reply body", "an object", &body))?;
        let mut entries = d.iter();
        let (Some((node, reply)), None) = (entries.next(), entries.next()) else {
            return Err(MessageError::Invalid {
                field: "reply body",
                reason: format!("expected one {{nodename: reply}} entry, found {}", d.len()),
            });
        };
        let headers = envelope.headers();
        let ticket = headers
            .and_then(|h| h.get("ticket"))
            .and_then(PyValue::as_str)
            .ok_or(MessageError::MissingField { part: "reply headers", field: "ticket" })?;
        let clock = headers.and_then(|h| h.get("clock")).and_then(PyValue::as_i64).unwrap_or(0);
        let info = envelope.delivery_info()?;
        Ok(ControlReply {
            nodename: node.to_string_lossy().into_owned(),
            reply: reply.clone(),
            ticket: ticket.to_owned(),
            clock,
            reply_to: ReplyTo { exchange: info.exchange, routing_key: info.routing_key },
        })
    }
}
