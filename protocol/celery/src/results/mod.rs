//! The Redis result backend, written exactly as Python's: `SETEX` + `PUBLISH` of the task meta on
//! `celery-task-meta-<id>`, never overwriting a stored SUCCESS.
//!
//! A Python `AsyncResult.get()` subscribes to the key's channel before the task is even sent and
//! only wakes on PUBLISH, so both commands are required.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::json::{self, PyStr, PyValue};
use crate::message::{ExceptionInfo, MessageError, ResultMeta, TaskState, isoformat_utc};
use crate::transport::{RedisUrl, TransportError};
use crate::worker::TaskFailure;

/// Failures of storing a result.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("result cannot be encoded: {0}")]
    Encode(#[from] MessageError),
}

impl From<redis::RedisError> for ResultError {
    fn from(e: redis::RedisError) -> Self {
        ResultError::Transport(e.into())
    }
}

/// A SUCCESS meta dated now.
pub fn success_meta(task_id: &str, value: PyValue) -> ResultMeta {
    ResultMeta::success(task_id, value, isoformat_utc(chrono::Utc::now()))
}

/// A FAILURE / RETRY / REVOKED meta carrying `failure` as the exception Python rebuilds.
/// RETRY is not a ready state, so it has no `date_done`.
pub fn exception_meta(task_id: &str, state: TaskState, failure: &TaskFailure) -> ResultMeta {
    let exc = ExceptionInfo::new(&failure.exc_module, &failure.exc_type, failure.message.as_str());
    let traceback = failure.traceback.as_deref().map(PyStr::from);
    let mut meta = ResultMeta::failure(task_id, &exc, traceback, isoformat_utc(chrono::Utc::now()));
    if !state.is_ready() {
        meta.date_done = None;
    }
    meta.status = state;
    meta
}

/// Options of the result backend (Celery's `result_expires`, `result_backend_transport_options`).
#[derive(Clone, Debug)]
pub struct BackendOptions {
    /// `result_expires`; `None` stores without expiry (plain SET).
    pub expires: Option<Duration>,
    /// `global_keyprefix` of the result backend (independent of the broker's).
    pub global_keyprefix: String,
}

impl Default for BackendOptions {
    fn default() -> Self {
        Self { expires: Some(Duration::from_secs(86_400)), global_keyprefix: String::new() }
    }
}

/// How long storing a result waits for a restarting Redis.
const STORE_PATIENCE: Duration = Duration::from_secs(60);

/// A connection to the result backend database.
#[derive(Clone)]
pub struct ResultBackend {
    conn: ConnectionManager,
    options: BackendOptions,
}

impl ResultBackend {
    pub async fn connect(url: &str, options: BackendOptions) -> Result<Self, TransportError> {
        let url = RedisUrl::parse(url)?;
        let client = redis::Client::open(url.connection_info())?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_secs(30)))
            .set_number_of_retries(6);
        let conn = client.get_connection_manager_with_config(config).await?;
        Ok(Self { conn, options })
    }

    /// `celery-task-meta-<id>` with the backend prefix (`X_` unless X already ends in `:_-.`).
    pub fn meta_key(&self, task_id: &str) -> String {
        let prefix = &self.options.global_keyprefix;
        if prefix.is_empty() {
            format!("celery-task-meta-{task_id}")
        } else if prefix.ends_with([':', '_', '-', '.']) {
            format!("{prefix}celery-task-meta-{task_id}")
        } else {
            format!("{prefix}_celery-task-meta-{task_id}")
        }
    }

    /// Stores and announces a task's state, unless SUCCESS is already stored (Python's rule).
    /// Returns whether it was written.
    /// Repeated through a Redis restart (for up to a minute): a repeat is harmless.
    pub async fn store(&self, meta: &ResultMeta) -> Result<bool, ResultError> {
        let payload = meta.to_json()?;
        let key = self.meta_key(&meta.task_id);
        let (key, payload) = (&key, &payload);
        let written =
            crate::transport::retry_while_transient("store result", STORE_PATIENCE, || async move {
                let mut conn = self.conn.clone();
                let existing: Option<Vec<u8>> = conn.get(key).await?;
                if let Some(existing) = existing
                    && stored_state(&existing).as_deref() == Some("SUCCESS")
                {
                    return Ok(false);
                }
                let mut pipe = redis::pipe();
                pipe.atomic();
                match self.options.expires {
                    Some(ttl) => pipe.set_ex(key, payload, ttl.as_secs().max(1)),
                    None => pipe.set(key, payload),
                };
                pipe.publish(key, payload);
                pipe.query_async::<()>(&mut conn).await?;
                Ok(true)
            })
            .await?;
        Ok(written)
    }

    /// The stored meta of a task, parsed (for tests and tools).
    pub async fn get(&self, task_id: &str) -> Result<Option<PyValue>, TransportError> {
        let raw: Option<Vec<u8>> = self.conn.clone().get(self.meta_key(task_id)).await?;
        Ok(raw.and_then(|raw| json::parse(&raw).ok()))
    }
}

fn stored_state(raw: &[u8]) -> Option<String> {
    let value = json::parse(raw).ok()?;
    Some(value.as_dict()?.get("status")?.as_str()?.to_string())
}
