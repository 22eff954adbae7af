//! The kombu envelope: the JSON object stored in Redis lists, hashes and pub/sub messages.
//!
//! ```json
//! {"body": "<base64>", "content-encoding": "utf-8", "content-type": "application/json",
//!  "headers": {...}, "properties": {...}}
//! ```
//!
//! An [`Envelope`] is the parsed object itself, so every field, known or not, survives a
//! decode/encode round trip byte for byte. Typed views ([`Properties`], the task headers, the
//! body) are read from it on demand, and the few in-place changes kombu makes (the
//! `redelivered` flags) edit it directly.

use base64::Engine;

use crate::json::{self, PyDict, PyStr, PyValue};

use super::error::MessageError;
use super::properties::{BodyEncoding, DeliveryInfo, Properties, effective_priority};

/// The content type Celery uses for JSON bodies.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// The content encoding of JSON bodies.
pub const CONTENT_ENCODING_UTF8: &str = "utf-8";

/// A kombu message envelope, kept as the ordered JSON object it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    fields: PyDict,
}

impl Envelope {
    /// Parses envelope bytes (as popped from Redis). Checks that it is an object whose `body`
    /// is a string and whose `headers`/`properties`, when present, are objects.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        let value = json::parse(bytes).map_err(|source| MessageError::Json { part: "envelope", source })?;
        Self::from_value(value)
    }

    /// Wraps an already parsed value (e.g. the first element of an unacked entry).
    pub fn from_value(value: PyValue) -> Result<Self, MessageError> {
        let PyValue::Dict(fields) = value else {
            return Err(MessageError::wrong_type("envelope", "an object", &value));
        };
        match fields.get("body") {
            None => return Err(MessageError::MissingField { part: "envelope", field: "body" }),
            Some(PyValue::Str(_)) => {}
            Some(other) => return Err(MessageError::wrong_type("envelope.body", "a string", other)),
        }
        for key in ["headers", "properties"] {
            match fields.get(key) {
                None | Some(PyValue::Dict(_)) => {}
                Some(other) => {
                    return Err(MessageError::wrong_type(format!("envelope.{key}"), "an object", other));
                }
            }
        }
        Ok(Envelope { fields })
    }

    /// Builds an envelope exactly as kombu does: `body` (encoded per
    /// `properties.body_encoding`), `content-encoding` `utf-8`, `content-type`
    /// `application/json`, `headers`, `properties`.
    pub fn new(body: &[u8], headers: PyDict, properties: &Properties) -> Self {
        let body_text = match &properties.body_encoding {
            BodyEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(body),
            _ => String::from_utf8_lossy(body).into_owned(),
        };
        let mut fields = PyDict::with_capacity(5);
        fields.insert("body", body_text);
        fields.insert("content-encoding", CONTENT_ENCODING_UTF8);
        fields.insert("content-type", CONTENT_TYPE_JSON);
        fields.insert("headers", headers);
        fields.insert("properties", properties.to_dict());
        Envelope { fields }
    }

    /// Like [`Envelope::new`] with a JSON body serialised as `json.dumps` would.
    pub fn with_json_body(body: &PyValue, headers: PyDict, properties: &Properties) -> Self {
        Self::new(json::to_json_string(body).as_bytes(), headers, properties)
    }

    /// The serialised envelope, identical to kombu's `dumps` of the same object.
    pub fn to_json(&self) -> String {
        self.fields.to_json()
    }

    /// [`Envelope::to_json`] as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_json().into_bytes()
    }

    /// The whole object.
    pub fn fields(&self) -> &PyDict {
        &self.fields
    }

    /// The whole object, mutably (unknown fields can be edited; the checked invariants —
    /// `body` string, object `headers`/`properties` — are the caller's to keep).
    pub fn fields_mut(&mut self) -> &mut PyDict {
        &mut self.fields
    }

    /// The object as a value.
    pub fn to_value(&self) -> PyValue {
        PyValue::Dict(self.fields.clone())
    }

    /// Consumes into the object.
    pub fn into_fields(self) -> PyDict {
        self.fields
    }

    /// `content-type`, if present.
    pub fn content_type(&self) -> Option<&str> {
        self.fields.get("content-type").and_then(PyValue::as_str)
    }

    /// `content-encoding`, if present.
    pub fn content_encoding(&self) -> Option<&str> {
        self.fields.get("content-encoding").and_then(PyValue::as_str)
    }

    /// The `headers` object (empty when absent).
    pub fn headers(&self) -> Option<&PyDict> {
        self.fields.get("headers").and_then(PyValue::as_dict)
    }

    /// The `headers` object, created if absent.
    pub fn headers_mut(&mut self) -> &mut PyDict {
        self.dict_field_mut("headers")
    }

    /// The raw `properties` object.
    pub fn properties_dict(&self) -> Option<&PyDict> {
        self.fields.get("properties").and_then(PyValue::as_dict)
    }

    /// The `properties` object, created if absent.
    pub fn properties_dict_mut(&mut self) -> &mut PyDict {
        self.dict_field_mut("properties")
    }

    fn dict_field_mut(&mut self, key: &str) -> &mut PyDict {
        if !matches!(self.fields.get(key), Some(PyValue::Dict(_))) {
            self.fields.insert(key, PyDict::new());
        }
        match self.fields.get_mut(key) {
            Some(PyValue::Dict(d)) => d,
            // Just inserted above.
            _ => unreachable!("dict field {key} was just inserted"),
        }
    }

    /// Typed properties (fails without `delivery_info`).
    pub fn properties(&self) -> Result<Properties, MessageError> {
        let d = self
            .properties_dict()
            .ok_or(MessageError::MissingField { part: "envelope", field: "properties" })?;
        Properties::from_dict(d)
    }

    /// `properties.delivery_info`, which kombu requires on every delivery.
    pub fn delivery_info(&self) -> Result<DeliveryInfo, MessageError> {
        let props = self.properties_dict().ok_or(MessageError::MissingDeliveryInfo)?;
        match props.get("delivery_info") {
            None => Err(MessageError::MissingDeliveryInfo),
            Some(PyValue::Dict(d)) => DeliveryInfo::from_dict(d),
            Some(other) => Err(MessageError::wrong_type("properties.delivery_info", "an object", other)),
        }
    }

    /// `properties.delivery_tag`.
    pub fn delivery_tag(&self) -> Option<&str> {
        self.properties_dict()?.get("delivery_tag")?.as_str()
    }

    /// Replaces `properties.delivery_tag`.
    pub fn set_delivery_tag(&mut self, tag: &str) {
        self.properties_dict_mut().insert("delivery_tag", tag);
    }

    /// The priority kombu routes by (0..=9, default 0).
    pub fn priority(&self) -> u8 {
        effective_priority(self.properties_dict().and_then(|p| p.get("priority")))
    }

    /// `properties.body_encoding` (absent = the body string is the payload).
    pub fn body_encoding(&self) -> BodyEncoding {
        match self.properties_dict().and_then(|p| p.get("body_encoding")).and_then(PyValue::as_str) {
            Some(name) => BodyEncoding::from_name(name),
            None => BodyEncoding::Utf8,
        }
    }

    /// The raw `body` string.
    pub fn body_text(&self) -> &PyStr {
        match self.fields.get("body") {
            Some(PyValue::Str(s)) => s,
            // `from_value` guarantees a string body; an edited envelope may break that.
            _ => {
                static EMPTY: std::sync::OnceLock<PyStr> = std::sync::OnceLock::new();
                EMPTY.get_or_init(PyStr::new)
            }
        }
    }

    /// The body bytes, decoded per `body_encoding`.
    pub fn body_bytes(&self) -> Result<Vec<u8>, MessageError> {
        let text = self.body_text();
        match self.body_encoding() {
            BodyEncoding::Base64 => {
                let t = text.as_str().ok_or(MessageError::BodyHasSurrogates)?;
                base64::engine::general_purpose::STANDARD
                    .decode(t)
                    .map_err(|e| MessageError::BadBase64(e.to_string()))
            }
            BodyEncoding::Utf8 => {
                Ok(text.as_str().ok_or(MessageError::BodyHasSurrogates)?.as_bytes().to_vec())
            }
            BodyEncoding::Other(name) => Err(MessageError::UnsupportedBodyEncoding(name)),
        }
    }

    /// The body parsed as JSON. Checks `content-type` (must be JSON when present),
    /// `content-encoding` (`utf-8`/`binary` when present) and that the body is not compressed
    /// (kombu's `compression` header).
    pub fn body_json(&self) -> Result<PyValue, MessageError> {
        if let Some(ct) = self.content_type()
            && ct != CONTENT_TYPE_JSON
        {
            return Err(MessageError::UnsupportedContentType(ct.to_owned()));
        }
        if let Some(ce) = self.content_encoding()
            && !matches!(ce, "utf-8" | "utf8" | "binary")
        {
            return Err(MessageError::UnsupportedContentEncoding(ce.to_owned()));
        }
        if let Some(method) = self.headers().and_then(|h| h.get("compression")) {
            return Err(MessageError::Invalid {
                field: "headers.compression",
                reason: format!(
                    "compressed bodies ({}) are not supported; publish without compression",
                    crate::json::py_repr(method)
                ),
            });
        }
        let bytes = self.body_bytes()?;
        if std::str::from_utf8(&bytes).is_err() {
            return Err(MessageError::BodyNotUtf8);
        }
        json::parse(&bytes).map_err(|source| MessageError::Json { part: "body", source })
    }

    /// Replaces the body with `json.dumps(body)`, encoded per the current `body_encoding`.
    pub fn set_json_body(&mut self, body: &PyValue) {
        let text = json::to_json_string(body);
        let encoded = match self.body_encoding() {
            BodyEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(text),
            _ => text,
        };
        self.fields.insert("body", encoded);
    }

    /// True if kombu marked the message as redelivered (header or delivery_info flag).
    pub fn redelivered(&self) -> bool {
        let in_headers = self.headers().and_then(|h| h.get("redelivered")).is_some_and(PyValue::is_truthy);
        in_headers || self.delivery_info().is_ok_and(|i| i.redelivered())
    }

    /// What kombu does before putting a message back (requeue or restore):
    /// `headers["redelivered"] = True`, then `properties["delivery_info"]["redelivered"] = True`.
    /// Like kombu (which stops at the first `KeyError`), nothing is added when `headers` is
    /// missing, and only the header when `delivery_info` is missing.
    pub fn mark_redelivered(&mut self) {
        let Some(PyValue::Dict(headers)) = self.fields.get_mut("headers") else { return };
        headers.insert("redelivered", true);
        if let Some(PyValue::Dict(props)) = self.fields.get_mut("properties")
            && let Some(PyValue::Dict(info)) = props.get_mut("delivery_info")
        {
            info.insert("redelivered", true);
        }
    }
}
