//! A connection to the broker database and the kombu transport options that shape its names.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tracing::{info, warn};

use super::{KeyNames, RedisUrl, TransportError};

/// kombu transport options that must be identical across a fleet.
#[derive(Clone, Debug)]
pub struct TransportOptions {
    /// `global_keyprefix`; prepended to every key and channel.
    pub global_keyprefix: String,
    /// `visibility_timeout`: how old an `unacked` entry must be before any consumer restores it.
    /// kombu's default is one hour; keep it in any fleet that contains Python workers.
    pub visibility_timeout: Duration,
    /// `brpop_timeout` (kombu default 1 s).
    pub brpop_timeout: Duration,
    /// `sep` between a queue name and its priority step.
    pub sep: String,
    /// `priority_steps` (kombu default 0, 3, 6, 9).
    pub priority_steps: Vec<u8>,
    /// `unacked_mutex_expire` (kombu default 300 s).
    pub unacked_mutex_expire: Duration,
    /// How often `restore_visible` scans. kombu scans every 10th tick of a 10 s timer (~100 s).
    pub restore_interval: Duration,
    /// How long bookkeeping commands (hold, ack, restore, publish of a retry) are retried while
    /// the server is unreachable or loading, before the error is returned.
    pub outage_patience: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            global_keyprefix: String::new(),
            visibility_timeout: Duration::from_secs(3600),
            brpop_timeout: Duration::from_secs(1),
            sep: super::DEFAULT_SEP.to_string(),
            priority_steps: super::DEFAULT_PRIORITY_STEPS.to_vec(),
            unacked_mutex_expire: Duration::from_secs(300),
            restore_interval: Duration::from_secs(100),
            outage_patience: Duration::from_secs(900),
        }
    }
}

/// The broker: a shared, self-reconnecting connection for its commands (nothing blocks on it:
/// consumers poll with an atomic take, see `consumer`) and a factory for pub/sub ones.
///
/// Clones share the command connection.
#[derive(Clone)]
pub struct Broker {
    url: RedisUrl,
    client: redis::Client,
    names: KeyNames,
    options: TransportOptions,
    conn: ConnectionManager,
    /// Who takes messages through this broker: `<node>#<nonce>`, unique per process life. It
    /// names the keys where taken and held messages are recorded (see `transport::peers`).
    instance: Arc<str>,
}

/// Runs `op` until it succeeds, retrying with backoff (0.1 s doubling to 5 s) while the error is
/// one a server restart or a dropped connection causes, for at most `patience`. Only for commands
/// that are safe to repeat.
pub async fn retry_while_transient<T, F, Fut>(
    what: &str,
    patience: Duration,
    mut op: F,
) -> Result<T, TransportError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, TransportError>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut failures = 0u32;
    loop {
        match op().await {
            Ok(value) => {
                if failures > 0 {
                    info!(what, failures, "redis reachable again");
                }
                return Ok(value);
            }
            Err(e) if e.is_transient() && started.elapsed() < patience => {
                if failures == 0 {
                    warn!(what, error = %e, "redis unavailable; retrying until it is back");
                }
                failures += 1;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

impl Broker {
    pub async fn connect(url: &str, options: TransportOptions) -> Result<Self, TransportError> {
        // A `sentinel://` URL stands for whichever server its sentinels name as master now.
        let url = RedisUrl::parse(&super::resolve_sentinel(url).await?)?;
        let client = redis::Client::open(url.connection_info())?;
        let names = KeyNames::new(url.db())
            .with_prefix(options.global_keyprefix.clone())
            .with_sep(options.sep.clone())
            .with_priority_steps(&options.priority_steps);
        let conn = client.get_connection_manager_with_config(Self::manager_config(Some(30))).await?;
        let node = format!("gen{}@{}", std::process::id(), crate::producer::local_hostname());
        let instance = super::peers::new_instance_id(&node).into();
        Ok(Self { url, client, names, options, conn, instance })
    }

    /// This broker, taking messages as a new life of `node` (a worker's node name).
    pub fn for_node(&self, node: &str) -> Self {
        Self { instance: super::peers::new_instance_id(node).into(), ..self.clone() }
    }

    /// `<node>#<nonce>`: this process life as a taker of messages.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Runs `op` until it succeeds, retrying with backoff (0.1 s doubling to 5 s) while the error
    /// is one a server restart or a dropped connection causes, for at most `outage_patience`.
    /// Only for commands that are safe to repeat: their second run must be harmless if the first
    /// one took effect and only its reply was lost.
    pub async fn retrying<T, F, Fut>(&self, what: &str, op: F) -> Result<T, TransportError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        retry_while_transient(what, self.options.outage_patience, op).await
    }

    fn manager_config(response_timeout_secs: Option<u64>) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_response_timeout(response_timeout_secs.map(Duration::from_secs))
            .set_connection_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(6)
            .set_max_delay(Duration::from_secs(5))
    }

    /// A pub/sub connection (PSUBSCRIBE for pidbox, SUBSCRIBE for results).
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, TransportError> {
        Ok(self.client.get_async_pubsub().await?)
    }

    /// The shared connection for short commands.
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub fn names(&self) -> &KeyNames {
        &self.names
    }

    pub fn options(&self) -> &TransportOptions {
        &self.options
    }

    pub fn url(&self) -> &RedisUrl {
        &self.url
    }
}
