//! What every ingest task shares: Redis (job state and locks), iRODS connections, the event
//! handler runtime and the job log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use celery_proto::json::PyDict;
use ingest_pyhandlers::{
    CallLimits, DeleteMode, Handler, HandlerChoice, HandlerRuntime, Operation, Override,
    reference_module_name,
};
use irods_proto::{IrodsConfig, Pool, PoolOptions};
use redis::AsyncCommands;

use super::failure::Failure;
use super::joblog::JobLog;
use crate::job::RedisJobStore;
use crate::lock::{LockOptions, Locks};
use crate::meta::Meta;
use crate::scan::Readability;

/// Worker-wide choices that are not in `meta`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Options of the `sync_file:`/`sync_dir:`/`create_dirs:`/`delete_collection:` locks this
    /// worker takes. Same keys as python-redis-lock; by default they expire and are renewed while
    /// held, so a killed worker does not block a path forever.
    pub locks: LockOptions,
    pub readability: Readability,
    /// Connections per parallel upload of large files (python-irodsclient's default).
    pub put_threads: usize,
    /// Entries of one `filesystem_sync_files` chunk synced at once.
    pub entry_parallelism: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            locks: LockOptions::expiring(Duration::from_secs(60)),
            readability: Readability::GroupReadBit,
            put_threads: crate::ops::default_put_threads(),
            entry_parallelism: 4,
        }
    }
}

/// The shared state of the ingest tasks. One per worker process.
pub struct IngestApp {
    pub store: RedisJobStore,
    pub redis: crate::state_conn::StateConn,
    pub locks: Locks,
    pub handlers: HandlerRuntime,
    pub log: JobLog,
    pub settings: Settings,
    irods: IrodsPools,
    /// Keys whose source is the CLI's default handler text: its `operation()` and `delete_mode()`
    /// are constants, answered here without a Python call per entry.
    default_handlers: Mutex<std::collections::HashSet<String>>,
    /// Worker slots for `--profile` events (see [`super::profile`]).
    pub profile_slots: super::profile::Slots,
}

impl IngestApp {
    /// Connects to the Redis database that holds the job state (the broker's database, as in
    /// every deployment of the reference).
    pub async fn connect(
        redis_url: &str,
        irods: Option<IrodsConfig>,
        pool_size: usize,
        handlers: HandlerRuntime,
        log: JobLog,
        settings: Settings,
    ) -> Result<Arc<Self>, redis::RedisError> {
        let (client, conn) = crate::state_conn::connect(redis_url).await?;
        Ok(Arc::new(IngestApp {
            store: RedisJobStore::new(conn.clone()),
            redis: conn.clone(),
            locks: Locks::new(client, conn),
            handlers,
            log,
            settings,
            irods: IrodsPools { base: irods, size: pool_size, pools: Mutex::default() },
            default_handlers: Mutex::default(),
            profile_slots: Default::default(),
        }))
    }

    /// The job's event handler, loaded from `meta["event_handler_key"]` once per key.
    pub async fn handler(&self, meta: &Meta<'_>) -> Result<Handler, Failure> {
        let key = meta.event_handler_key()?;
        if let Some(handler) = self.handlers.handler(key) {
            return Ok(handler);
        }
        let job = meta.job_name()?;
        let module = reference_module_name(job, key).ok_or_else(|| {
            Failure::new("IndexError", format!("event handler key {key:?} has no '::<uuid>' part"))
        })?;
        let conn = &self.redis;
        let source: Option<Vec<u8>> =
            crate::state_conn::with_retry("GET event handler", || async move { conn.clone().get(key).await })
                .await?;
        let source = source.ok_or_else(|| {
            Failure::runtime(format!("event handler key {key:?} is not in Redis (was the job stopped?)"))
        })?;
        let source = String::from_utf8(source)
            .map_err(|_| Failure::new("UnicodeDecodeError", format!("event handler {key:?} is not UTF-8")))?;
        let handler = self.handlers.load(key, &module, &source, &CallLimits::none()).await?;
        if source == crate::job::DEFAULT_EVENT_HANDLER {
            self.default_handlers.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_owned());
        }
        Ok(handler)
    }

    pub fn is_default_handler(&self, handler: &Handler) -> bool {
        self.default_handlers.lock().unwrap_or_else(|p| p.into_inner()).contains(handler.key())
    }

    /// `operation(session, meta)`, without Python for the CLI's default handler.
    pub async fn operation(
        &self,
        handler: &Handler,
        meta: &PyDict,
        limits: &CallLimits,
    ) -> Result<HandlerChoice<Operation>, Failure> {
        if self.is_default_handler(handler) || !handler.capabilities().has_override(Override::Operation) {
            return Ok(HandlerChoice::Member(Operation::RegisterSync));
        }
        Ok(handler.operation(meta, &PyDict::new(), limits).await?)
    }

    /// `delete_mode(meta)`, without Python for the CLI's default handler.
    pub async fn delete_mode(
        &self,
        handler: &Handler,
        meta: &PyDict,
        limits: &CallLimits,
    ) -> Result<HandlerChoice<DeleteMode>, Failure> {
        if self.is_default_handler(handler) || !handler.capabilities().has_override(Override::DeleteMode) {
            return Ok(HandlerChoice::Member(DeleteMode::DoNotDelete));
        }
        Ok(handler.delete_mode(meta, limits).await?)
    }

    /// Connections acting as `as_user` (`(zone, user)`), or as the configured user.
    pub fn irods(&self, as_user: Option<(String, String)>) -> Result<Pool, Failure> {
        self.irods.pool(as_user)
    }

    /// The connections acting as the user the handler's `as_user(meta)` names (if it has one).
    pub async fn irods_for(
        &self,
        handler: &Handler,
        meta: &PyDict,
        limits: &CallLimits,
    ) -> Result<Pool, Failure> {
        let as_user = handler.as_user(meta, &PyDict::new(), limits).await?;
        self.irods(
            as_user.map(|(zone, user)| {
                (zone.to_string_lossy().into_owned(), user.to_string_lossy().into_owned())
            }),
        )
    }

    /// Closes idle iRODS connections (the reference's idle disconnect).
    pub async fn close_idle(&self) {
        let pools: Vec<Pool> =
            self.irods.pools.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        for pool in pools {
            pool.close_idle().await;
        }
    }
}

/// One connection pool per identity.
struct IrodsPools {
    base: Option<IrodsConfig>,
    size: usize,
    pools: Mutex<HashMap<Option<(String, String)>, Pool>>,
}

impl IrodsPools {
    fn pool(&self, as_user: Option<(String, String)>) -> Result<Pool, Failure> {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pool) = pools.get(&as_user) {
            return Ok(pool.clone());
        }
        let base = self.base.as_ref().ok_or_else(|| {
            Failure::new(
                "FileNotFoundError",
                "no iRODS connection settings: set IRODS_HOST, IRODS_PORT, IRODS_USER_NAME, IRODS_ZONE_NAME and \
                 IRODS_PASSWORD, or an irods_environment.json",
            )
        })?;
        let config = match &as_user {
            Some((zone, user)) => base.as_user(user.clone(), zone.clone()),
            None => base.clone(),
        };
        let pool = Pool::new(config, PoolOptions { max_size: self.size, ..PoolOptions::default() });
        pools.insert(as_user, pool.clone());
        Ok(pool)
    }
}
