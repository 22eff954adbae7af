//! A bounded pool of authenticated connections, shared by tasks.
//!
//! `get` hands out an idle connection or opens a new one, never more than `max_size` at once.
//! A connection goes back to the pool when its guard is dropped, unless a call broke it. At
//! checkout, idle connections older than `max_idle` or already closed by the server are dropped
//! rather than reused (servers drop idle agents).

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::connection::Connection;
use super::error::Result;
use crate::config::IrodsConfig;

/// Pool limits.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    pub max_size: usize,
    pub max_idle: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions { max_size: 8, max_idle: Duration::from_secs(300) }
    }
}

/// A cloneable handle to a connection pool for one configuration (one user).
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    config: IrodsConfig,
    options: PoolOptions,
    idle: Mutex<Vec<(Connection, Instant)>>,
    permits: Arc<Semaphore>,
}

impl Pool {
    pub fn new(config: IrodsConfig, options: PoolOptions) -> Pool {
        let permits = Arc::new(Semaphore::new(options.max_size.max(1)));
        Pool { inner: Arc::new(Inner { config, options, idle: Mutex::new(Vec::new()), permits }) }
    }

    pub fn config(&self) -> &IrodsConfig {
        &self.inner.config
    }

    /// A connection for exclusive use until the guard is dropped; waits while `max_size`
    /// connections are in use.
    pub async fn get(&self) -> Result<PooledConnection> {
        let permit =
            self.inner.permits.clone().acquire_owned().await.expect("the pool semaphore is never closed");
        self.checkout(permit).await
    }

    /// Like [`Pool::get`] but without waiting: `None` when `max_size` connections are in use.
    pub async fn try_get(&self) -> Result<Option<PooledConnection>> {
        match self.inner.permits.clone().try_acquire_owned() {
            Ok(permit) => self.checkout(permit).await.map(Some),
            Err(_) => Ok(None),
        }
    }

    async fn checkout(&self, permit: OwnedSemaphorePermit) -> Result<PooledConnection> {
        let reusable = {
            let mut idle = self.inner.idle.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let mut found = None;
            while let Some((mut conn, since)) = idle.pop() {
                if now.duration_since(since) <= self.inner.options.max_idle && !conn.peer_closed() {
                    found = Some(conn);
                    break;
                }
            }
            found
        };
        let conn = match reusable {
            Some(conn) => conn,
            None => Connection::connect(&self.inner.config).await?,
        };
        Ok(PooledConnection { conn: Some(conn), pool: self.inner.clone(), _permit: permit })
    }

    /// Disconnects the idle connections (those in use are closed when their guards drop).
    pub async fn close_idle(&self) {
        let idle: Vec<_> = std::mem::take(&mut *self.inner.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for (conn, _) in idle {
            let _ = conn.disconnect().await;
        }
    }

    /// Number of idle connections (for tests and metrics).
    pub fn idle_count(&self) -> usize {
        self.inner.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A connection borrowed from a [`Pool`].
pub struct PooledConnection {
    conn: Option<Connection>,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl PooledConnection {
    /// Keeps the connection out of the pool (it is closed when dropped).
    pub fn detach(mut self) -> Connection {
        self.conn.take().expect("present until drop")
    }
}

impl Deref for PooledConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until drop")
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("present until drop")
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && conn.is_usable()
        {
            self.pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push((conn, Instant::now()));
        }
    }
}
