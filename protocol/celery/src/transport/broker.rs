//! A connection to the broker database and the kombu transport options that shape its names.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

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
        }
    }
}

/// The broker: a shared connection for short commands and a factory for blocking ones.
///
/// Clones share the command connection. BRPOP must never run on it (it would stall every other
/// command queued behind it), so consumers take their own with [`Broker::blocking_connection`].
#[derive(Clone)]
pub struct Broker {
    url: RedisUrl,
    client: redis::Client,
    names: KeyNames,
    options: TransportOptions,
    conn: ConnectionManager,
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
        Ok(Self { url, client, names, options, conn })
    }

    fn manager_config(response_timeout_secs: Option<u64>) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_response_timeout(response_timeout_secs.map(Duration::from_secs))
            .set_connection_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(6)
            .set_max_delay(Duration::from_secs(5))
    }

    /// A connection of its own for BRPOP and WATCH transactions (no response timeout; reconnects).
    pub async fn blocking_connection(&self) -> Result<ConnectionManager, TransportError> {
        Ok(self.client.get_connection_manager_with_config(Self::manager_config(None)).await?)
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
