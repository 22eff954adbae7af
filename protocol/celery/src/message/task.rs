//! A complete task message (envelope + typed headers, properties and body), and a builder that
//! produces what Python's `apply_async`/`send_task` produce.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::json::{self, ArgsStyle, PyDict, PyStr, PyValue, saferepr, saferepr_args};

use super::envelope::Envelope;
use super::error::MessageError;
use super::properties::{DeliveryInfo, Properties};
use super::task_body::{Embed, Signature, TaskBody};
use super::task_headers::{TaskHeaders, TimeLimit, Timestamp};

/// A decoded task message. The [`Envelope`] is kept unchanged, so re-publishing it (restore,
/// requeue) loses nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskMessage {
    /// The envelope as received.
    pub envelope: Envelope,
    /// Typed headers.
    pub headers: TaskHeaders,
    /// Typed properties.
    pub properties: Properties,
    /// Typed body.
    pub body: TaskBody,
}

impl TaskMessage {
    /// Decodes envelope bytes into a task message, validating it as a Python worker would.
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        Self::from_envelope(Envelope::decode(bytes)?)
    }

    /// Validates an envelope as a protocol v2 task message.
    pub fn from_envelope(envelope: Envelope) -> Result<Self, MessageError> {
        let properties = envelope.properties()?;
        let headers_dict =
            envelope.headers().ok_or(MessageError::MissingField { part: "envelope", field: "headers" })?;
        let headers = TaskHeaders::from_dict(headers_dict)?;
        let body = TaskBody::from_value(&envelope.body_json()?)?;
        Ok(TaskMessage { envelope, headers, properties, body })
    }

    /// The task id.
    pub fn id(&self) -> &str {
        &self.headers.id
    }

    /// The task name.
    pub fn task(&self) -> &str {
        &self.headers.task
    }

    /// The queue this message was routed to (`delivery_info.routing_key`).
    pub fn queue(&self) -> &str {
        &self.properties.delivery_info.routing_key
    }

    /// kombu's delivery tag.
    pub fn delivery_tag(&self) -> &str {
        &self.properties.delivery_tag
    }

    /// The envelope bytes as they would be stored again.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.envelope.to_bytes()
    }
}

/// Builds a task message byte-identical to what Celery 5.x's `as_task_v2` + kombu's Redis
/// transport emit for the same inputs (including the same generated ids, which can be fixed
/// for tests).
///
/// ```
/// use celery_proto::message::TaskMessageBuilder;
/// use celery_proto::json::PyValue;
/// let env = TaskMessageBuilder::new("pkg.tasks.sync_path", "path")
///     .args(vec![PyValue::from("/src/a")])
///     .origin("rs-worker@host")
///     .build()
///     .unwrap();
/// assert_eq!(env.delivery_info().unwrap().routing_key, "path");
/// ```
#[derive(Debug, Clone)]
pub struct TaskMessageBuilder {
    headers: TaskHeaders,
    args: Vec<PyValue>,
    args_style: ArgsStyle,
    kwargs: PyDict,
    embed: Embed,
    queue: String,
    exchange: String,
    reply_to: String,
    priority: u8,
    delivery_tag: Option<String>,
    now: Option<DateTime<Utc>>,
    countdown: Option<Duration>,
    expires_in: Option<Duration>,
    expiration_property: bool,
    extra_properties: PyDict,
}

impl TaskMessageBuilder {
    /// A message for task `task` on `queue`, with a fresh uuid4 id.
    pub fn new(task: impl Into<String>, queue: impl Into<String>) -> Self {
        TaskMessageBuilder {
            headers: TaskHeaders::new(task, uuid::Uuid::new_v4().to_string()),
            args: Vec::new(),
            args_style: ArgsStyle::Tuple,
            kwargs: PyDict::new(),
            embed: Embed::default(),
            queue: queue.into(),
            exchange: String::new(),
            reply_to: String::new(),
            priority: 0,
            delivery_tag: None,
            now: None,
            countdown: None,
            expires_in: None,
            expiration_property: true,
            extra_properties: PyDict::new(),
        }
    }

    /// Task id (default: a fresh uuid4).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.headers.id = id.into();
        self
    }

    /// Positional args.
    pub fn args(mut self, args: Vec<PyValue>) -> Self {
        self.args = args;
        self
    }

    /// Whether the Python caller would have passed args as a tuple (default, `apply_async`
    /// style: `argsrepr` `"(x,)"`) or a list (`send_task(args=[x])`: `"[x]"`).
    pub fn args_style(mut self, style: ArgsStyle) -> Self {
        self.args_style = style;
        self
    }

    /// Keyword args.
    pub fn kwargs(mut self, kwargs: PyDict) -> Self {
        self.kwargs = kwargs;
        self
    }

    /// Absolute ETA.
    pub fn eta(mut self, at: DateTime<Utc>) -> Self {
        self.headers.eta = Some(Timestamp::from_utc(at));
        self.countdown = None;
        self
    }

    /// ETA relative to [`TaskMessageBuilder::now`] (Celery's `countdown`).
    pub fn countdown(mut self, after: Duration) -> Self {
        self.countdown = Some(after);
        self
    }

    /// Absolute expiry. Also sets the `expiration` property (ms until expiry) as Celery does.
    pub fn expires(mut self, at: DateTime<Utc>) -> Self {
        self.headers.expires = Some(Timestamp::from_utc(at));
        self.expires_in = None;
        self
    }

    /// Expiry relative to [`TaskMessageBuilder::now`].
    pub fn expires_in(mut self, after: Duration) -> Self {
        self.expires_in = Some(after);
        self
    }

    /// Leave out the `expiration` property even when `expires` is set (Celery's
    /// `apply_async` adds it; a retry re-send does not).
    pub fn without_expiration_property(mut self) -> Self {
        self.expiration_property = false;
        self
    }

    /// The clock used for `countdown`/`expires_in` (default: now).
    pub fn now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// `[hard, soft]` limits.
    pub fn time_limit(mut self, limit: TimeLimit) -> Self {
        self.headers.timelimit = limit;
        self
    }

    /// Priority 0..=9 (values above 9 are clamped).
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority.min(9);
        self
    }

    /// Parent task id.
    pub fn parent_id(mut self, id: impl Into<String>) -> Self {
        self.headers.parent_id = Some(id.into());
        self
    }

    /// Workflow root id (default: the task id).
    pub fn root_id(mut self, id: impl Into<String>) -> Self {
        self.headers.root_id = Some(id.into());
        self
    }

    /// Group id and index.
    pub fn group(mut self, group_id: impl Into<String>, index: Option<i64>) -> Self {
        self.headers.group = Some(group_id.into());
        self.headers.group_index = index;
        self
    }

    /// Retry count.
    pub fn retries(mut self, retries: i64) -> Self {
        self.headers.retries = retries;
        self
    }

    /// Sender node name (Python default for clients: `gen<pid>@<host>`).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.headers.origin = Some(origin.into());
        self
    }

    /// Display name override.
    pub fn shadow(mut self, shadow: impl Into<String>) -> Self {
        self.headers.shadow = Some(shadow.into());
        self
    }

    /// `ignore_result` header.
    pub fn ignore_result(mut self, ignore: bool) -> Self {
        self.headers.ignore_result = ignore;
        self
    }

    /// `lang` header (default `"py"`, what every peer expects).
    pub fn lang(mut self, lang: impl Into<String>) -> Self {
        self.headers.lang = Some(lang.into());
        self
    }

    /// Overrides the computed `argsrepr`.
    pub fn argsrepr(mut self, text: impl Into<PyStr>) -> Self {
        self.headers.argsrepr = Some(text.into());
        self
    }

    /// Overrides the computed `kwargsrepr`.
    pub fn kwargsrepr(mut self, text: impl Into<PyStr>) -> Self {
        self.headers.kwargsrepr = Some(text.into());
        self
    }

    /// An extra header (appended after Celery's own).
    pub fn header(mut self, name: impl Into<PyStr>, value: impl Into<PyValue>) -> Self {
        self.headers.extra.insert(name, value);
        self
    }

    /// Producer oid for `reply_to` (default `""`).
    pub fn reply_to(mut self, reply_to: impl Into<String>) -> Self {
        self.reply_to = reply_to.into();
        self
    }

    /// kombu delivery tag (default: a fresh uuid4).
    pub fn delivery_tag(mut self, tag: impl Into<String>) -> Self {
        self.delivery_tag = Some(tag.into());
        self
    }

    /// Publish through a named exchange instead of the anonymous one.
    pub fn exchange(mut self, exchange: impl Into<String>) -> Self {
        self.exchange = exchange.into();
        self
    }

    /// An extra message property (written before `delivery_mode`, where kombu puts them).
    pub fn property(mut self, name: impl Into<PyStr>, value: impl Into<PyValue>) -> Self {
        self.extra_properties.insert(name, value);
        self
    }

    /// Success callbacks.
    pub fn callbacks(mut self, sigs: Vec<Signature>) -> Self {
        self.embed.callbacks = Some(sigs);
        self
    }

    /// Failure callbacks.
    pub fn errbacks(mut self, sigs: Vec<Signature>) -> Self {
        self.embed.errbacks = Some(sigs);
        self
    }

    /// Remaining chain (next task last).
    pub fn chain(mut self, sigs: Vec<Signature>) -> Self {
        self.embed.chain = Some(sigs);
        self
    }

    /// Chord body.
    pub fn chord(mut self, sig: Signature) -> Self {
        self.embed.chord = Some(sig);
        self
    }

    /// Builds the envelope. Fails if args/kwargs/embed contain a dict that kombu would read as
    /// an invalid `__type__` marker.
    pub fn build(self) -> Result<Envelope, MessageError> {
        Ok(self.build_message()?.envelope)
    }

    /// Builds the envelope and its typed views.
    pub fn build_message(mut self) -> Result<TaskMessage, MessageError> {
        if self.headers.task.is_empty() {
            return Err(MessageError::Invalid { field: "task", reason: "empty task name".into() });
        }
        if self.queue.is_empty() && self.exchange.is_empty() {
            return Err(MessageError::Invalid { field: "queue", reason: "empty queue name".into() });
        }
        let now = self.now.unwrap_or_else(Utc::now);
        if let Some(after) = self.countdown.filter(|d| !d.is_zero()) {
            let delta = chrono::Duration::from_std(after)
                .map_err(|e| MessageError::Invalid { field: "countdown", reason: e.to_string() })?;
            self.headers.eta = Some(Timestamp::from_utc(now + delta));
        }
        let mut expiration_secs: Option<f64> = None;
        if let Some(after) = self.expires_in {
            let delta = chrono::Duration::from_std(after)
                .map_err(|e| MessageError::Invalid { field: "expires", reason: e.to_string() })?;
            self.headers.expires = Some(Timestamp::from_utc(now + delta));
            expiration_secs = Some(after.as_secs_f64());
        } else if let Some(exp) = &self.headers.expires {
            let secs = (exp.at - now).num_microseconds().map_or(0.0, |us| us as f64 / 1e6);
            expiration_secs = Some(secs.max(0.0));
        }
        if self.headers.root_id.as_deref().is_none_or(str::is_empty) {
            self.headers.root_id = Some(self.headers.id.clone());
        }
        if self.headers.argsrepr.is_none() {
            // Celery does `args = args or ()`: empty args are always the empty tuple.
            let style = if self.args.is_empty() { ArgsStyle::Tuple } else { self.args_style };
            self.headers.argsrepr = Some(saferepr_args(&self.args, style, Some(json::ARGSREPR_MAXSIZE)));
        }
        if self.headers.kwargsrepr.is_none() {
            self.headers.kwargsrepr =
                Some(saferepr(&PyValue::Dict(self.kwargs.clone()), Some(json::ARGSREPR_MAXSIZE)));
        }
        if self.headers.origin.is_none() {
            self.headers.origin = Some(default_origin());
        }
        let body = TaskBody { args: self.args, kwargs: self.kwargs, embed: self.embed };
        let body_value = body.to_value();
        json::check_markers(&body_value)?;

        let mut properties = Properties::new(DeliveryInfo::new(self.exchange, self.queue), 2);
        properties.correlation_id = Some(self.headers.id.clone());
        properties.reply_to = Some(self.reply_to);
        properties.extra = self.extra_properties;
        if self.expiration_property {
            // kombu: str(int(expiration * 1000)).
            properties.expiration = expiration_secs.map(|s| ((s * 1000.0) as i64).to_string());
        }
        properties.priority = PyValue::Int(i64::from(self.priority));
        if let Some(tag) = self.delivery_tag {
            properties.delivery_tag = tag;
        }
        let headers_dict = self.headers.to_dict();
        json::check_markers(&PyValue::Dict(headers_dict.clone()))?;
        let envelope = Envelope::with_json_body(&body_value, headers_dict, &properties);
        Ok(TaskMessage { envelope, headers: self.headers, properties, body })
    }
}

/// Celery's `anon_nodename()`: `gen<pid>@<hostname>`.
pub fn default_origin() -> String {
    let host = hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    format!("gen{}@{}", std::process::id(), host)
}
