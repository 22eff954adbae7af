//! One type per Celery/kombu message, each decoding with precise errors and encoding exactly
//! as Python does.
//!
//! * [`Envelope`]: the kombu envelope every message travels in (kept verbatim).
//! * [`TaskMessage`] / [`TaskMessageBuilder`]: protocol v2 tasks ([`TaskHeaders`],
//!   [`Properties`], [`TaskBody`] with [`Embed`] and [`Signature`]s).
//! * [`UnackedEntry`]: the `unacked` hash value `[envelope, exchange, routing_key]`.
//! * [`ControlMessage`] / [`ControlRequest`] / [`ControlReply`]: pidbox remote control.
//! * [`EventMessage`]: `celeryev` events.
//! * [`ResultMeta`] / [`ExceptionInfo`]: result-backend values.
//! * [`time`]: ISO-8601 as Python writes it and as dateutil reads it.

pub mod control;
pub mod envelope;
pub mod error;
pub mod event;
#[doc(hidden)]
pub mod fuzzing;
pub mod properties;
pub mod result_meta;
pub mod task;
pub mod task_body;
pub mod task_headers;
pub mod time;
pub mod unacked;

pub use control::{ControlMessage, ControlReply, ControlRequest, PIDBOX_EXCHANGE, REPLY_EXCHANGE, ReplyTo};
pub use envelope::{CONTENT_ENCODING_UTF8, CONTENT_TYPE_JSON, Envelope};
pub use error::MessageError;
pub use event::{EVENT_EXCHANGE, EventMessage, routing_key_for};
pub use properties::{BodyEncoding, DeliveryInfo, Properties, effective_priority};
pub use result_meta::{ExceptionInfo, ExtendedMeta, ResultMeta, TaskState};
pub use task::{TaskMessage, TaskMessageBuilder, default_origin};
pub use task_body::{Embed, Signature, TaskBody};
pub use task_headers::{TASK_HEADER_ORDER, TaskHeaders, TimeLimit, Timestamp};
pub use time::{IsoDateTime, isoformat_utc, parse_iso_lenient, parse_python_isoformat};
pub use unacked::UnackedEntry;

#[cfg(test)]
mod tests;
