//! The connection to the Redis database that holds job state and locks, and the rule for
//! repeating a command through a Redis restart.
//!
//! Operators restart Redis (an upgrade, an OOM kill); with AOF on, nothing is lost but every
//! connection breaks and the server answers `LOADING` for a while. A worker must ride that out:
//! the connection reconnects by itself ([`redis::aio::ConnectionManager`]), and every command
//! whose repetition is harmless is repeated with backoff ([`with_retry`]) until Redis answers or
//! the patience runs out. Commands that are not harmless to repeat are made so (the task ledger's
//! scripts in `job::redis_store`, the lock's owner check) rather than left unretried.

use std::future::Future;
use std::time::Duration;

use celery_proto::transport::{TransportError, retry_while_transient};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The multiplexed, self-reconnecting connection every state command goes through.
pub type StateConn = ConnectionManager;

/// How long a state command is repeated while Redis is unreachable or loading. Beyond it the
/// error reaches the task, which puts its message back (see `tasks::run`).
pub const OUTAGE_PATIENCE: Duration = Duration::from_secs(300);

/// Connects to `url` with a response timeout long enough for the largest legitimate reply (a
/// `LRANGE count:/` of a million ids on a busy server), a bounded connect time, and
/// reconnection with backoff.
pub async fn connect(url: &str) -> Result<(redis::Client, StateConn), redis::RedisError> {
    let client = redis::Client::open(url)?;
    let conn = client.get_connection_manager_with_config(manager_config()).await?;
    Ok((client, conn))
}

/// The configuration [`connect`] uses.
pub fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(Duration::from_secs(60)))
        .set_connection_timeout(Some(Duration::from_secs(10)))
        .set_number_of_retries(6)
        .set_max_delay(Duration::from_secs(5))
}

/// True when `error` says Redis is (for now) unreachable, restarting or loading, not that the
/// command was wrong.
pub fn is_transient(error: &redis::RedisError) -> bool {
    celery_proto::transport::is_transient_redis(error)
}

/// Runs `op` until it succeeds or fails for a reason other than an outage, repeating it with
/// backoff (0.1 s doubling to 5 s) for at most [`OUTAGE_PATIENCE`]. Only for commands that are
/// harmless to repeat when the first run took effect and only its reply was lost.
pub async fn with_retry<T, F, Fut>(what: &str, op: F) -> Result<T, redis::RedisError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, redis::RedisError>>,
{
    with_retry_for(what, OUTAGE_PATIENCE, op).await
}

/// [`with_retry`] with an explicit patience: the transport's own rule
/// ([`celery_proto::transport::retry_while_transient`]), on bare redis errors.
pub async fn with_retry_for<T, F, Fut>(
    what: &str,
    patience: Duration,
    mut op: F,
) -> Result<T, redis::RedisError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, redis::RedisError>>,
{
    let result = retry_while_transient(what, patience, || {
        let attempt = op();
        async move { attempt.await.map_err(TransportError::from) }
    })
    .await;
    result.map_err(|e| match e {
        TransportError::Redis(e) => e,
        // `op` only returns redis errors; the transport's other variant cannot come back.
        other => redis::RedisError::from((
            redis::ErrorKind::Client,
            "unexpected transport error",
            other.to_string(),
        )),
    })
}
