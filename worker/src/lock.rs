//! Locks that exclude Python workers: the python-redis-lock 4.0 protocol (§4.4 of the reference
//! notes), plus an optional expiry with renewal.
//!
//! Protocol (what every peer relies on):
//! * the lock `name` lives in key `lock:<name>`, whose value is the holder's id: base64 of 18
//!   random bytes;
//! * acquire = `SET lock:<name> <id> [EX s] NX`; while that fails, wait with
//!   `BLPOP lock-signal:<name> <timeout>` and try again;
//! * release = the library's unlock script (same text, so same SHA1, so Python and Rust share the
//!   script cache): if the key holds our id, `DEL` the signal list, `LPUSH` one element, expire it
//!   after 1000 ms and `DEL` the lock, which wakes one waiter.
//!
//! Rust additions, invisible to Python peers:
//! * [`LockOptions::expire`]: the key gets a TTL and, with `renew`, a task extends it every 2/3 of
//!   the expiry with the library's own extend script, so a killed Rust worker's lock disappears by
//!   itself (the reference's locks never expire, §15.13). Python waiters still interoperate: they
//!   only do `SET NX` and wait on the signal list.
//! * Waiters re-try `SET NX` at least every [`LockOptions::recheck`] even without a signal, so a
//!   missed wake-up (a release while the waiter was between `SET` and `BLPOP` for over a second, or
//!   a waiter that was woken and then went away) cannot block a Rust waiter forever.
//! * No `GET` before acquiring: python-redis-lock does one to refuse re-acquiring through the same
//!   object; every acquire here uses a fresh id.
//! * An expiring lock is registered, in the step that takes it, in the sorted set
//!   [`RUST_LOCKS_KEY`] with the time its TTL runs out (moved on at every renewal), and in the hash
//!   [`RUST_LOCK_OWNERS_KEY`] with its holder: the worker instance (`<node>#<nonce>`, announced in
//!   the fleet's peers hash while it lives) and the owner id. A holder that dies leaves the lock
//!   set until its TTL runs out, and then nobody signals: a Python waiter, which blocks on the
//!   signal list without a timeout, would wait for ever. [`Locks::release_orphaned`] (run every
//!   few seconds by each worker) releases the registered locks whose holder is no longer announced
//!   (taken for dead, or restarted under its name) at once, and signals those whose TTL ran out,
//!   as the holder's own release would have.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

use celery_proto::transport::unix_now;

use crate::state_conn::{self, StateConn};

/// python-redis-lock's `UNLOCK_SCRIPT`, byte for byte (its text is the protocol: Redis caches
/// scripts by the SHA1 of their text).
pub const UNLOCK_SCRIPT: &str = concat!(
    "\n",
    "    if redis.call(\"get\", KEYS[1]) ~= ARGV[1] then\n",
    "        return 1\n",
    "    else\n",
    "        redis.call(\"del\", KEYS[2])\n",
    "        redis.call(\"lpush\", KEYS[2], 1)\n",
    "        redis.call(\"pexpire\", KEYS[2], ARGV[2])\n",
    "        redis.call(\"del\", KEYS[1])\n",
    "        return 0\n",
    "    end\n",
);

/// SHA1 of [`UNLOCK_SCRIPT`] as observed from the Python library on the wire.
pub const UNLOCK_SCRIPT_SHA1: &str = "90da91872223f85eb1376a17e3c4df21ace8c54b";

/// python-redis-lock's `EXTEND_SCRIPT`, byte for byte.
pub const EXTEND_SCRIPT: &str = concat!(
    "\n",
    "    if redis.call(\"get\", KEYS[1]) ~= ARGV[1] then\n",
    "        return 1\n",
    "    elseif redis.call(\"ttl\", KEYS[1]) < 0 then\n",
    "        return 2\n",
    "    else\n",
    "        redis.call(\"expire\", KEYS[1], ARGV[2])\n",
    "        return 0\n",
    "    end\n",
);

/// The sorted set of expiring locks taken by Rust workers: name → when its TTL runs out.
pub const RUST_LOCKS_KEY: &str = "irods_ingest_rust_locks";

/// The hash of their holders: name → `<instance>\t<owner id>` (instance empty outside a worker).
pub const RUST_LOCK_OWNERS_KEY: &str = "irods_ingest_rust_lock_owners";

/// `SET lock:<name> <id> EX <s> NX` and, if it took the lock, its registration, in one step.
/// KEYS: the lock key, [`RUST_LOCKS_KEY`], [`RUST_LOCK_OWNERS_KEY`]. ARGV: id, seconds, expiry
/// time, name, holder (`<instance>\t<id>`).
const ACQUIRE_EXPIRING_SCRIPT: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
  return 1
end
return 0
"#;

/// python-redis-lock's release (same effects as [`UNLOCK_SCRIPT`]) of a registered lock, with
/// its registration removed if it is still this holder's. KEYS: lock, signal, [`RUST_LOCKS_KEY`],
/// [`RUST_LOCK_OWNERS_KEY`]. ARGV: id, signal expiry (ms), name, holder.
const RELEASE_REGISTERED_SCRIPT: &str = r#"
if redis.call('HGET', KEYS[4], ARGV[3]) == ARGV[4] then
  redis.call('ZREM', KEYS[3], ARGV[3])
  redis.call('HDEL', KEYS[4], ARGV[3])
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 1 end
redis.call('DEL', KEYS[2])
redis.call('LPUSH', KEYS[2], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
return 0
"#;

/// Releases the registered locks whose holder instance is no longer in the peers hash, and
/// signals those whose TTL ran out (their key is gone); either way the registration goes. A
/// lock someone else took since keeps its key. KEYS: [`RUST_LOCKS_KEY`],
/// [`RUST_LOCK_OWNERS_KEY`], the peers hash. ARGV: now, signal expiry (ms), how many at most.
/// Returns how many locks were released or signalled.
const RELEASE_ORPHANED_SCRIPT: &str = r#"
local names = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1, 'WITHSCORES')
local now = tonumber(ARGV[1])
local woken = 0
for i = 1, #names, 2 do
  local name = names[i]
  local due = tonumber(names[i + 1]) <= now
  local holder = redis.call('HGET', KEYS[2], name) or ''
  local tab = string.find(holder, '\t', 1, true)
  local instance, id = '', ''
  if tab then
    instance = string.sub(holder, 1, tab - 1)
    id = string.sub(holder, tab + 1)
  end
  local dead = instance ~= '' and redis.call('HEXISTS', KEYS[3], instance) == 0
  if dead or due then
    local key = 'lock:' .. name
    local current = redis.call('GET', key)
    if (not current) or (dead and current == id) then
      local signal = 'lock-signal:' .. name
      redis.call('DEL', key)
      redis.call('DEL', signal)
      redis.call('LPUSH', signal, 1)
      redis.call('PEXPIRE', signal, ARGV[2])
      woken = woken + 1
    end
    redis.call('ZREM', KEYS[1], name)
    redis.call('HDEL', KEYS[2], name)
  end
end
return woken
"#;

/// The peers hash when no worker said where it is (`celery-proto`'s default key).
pub const DEFAULT_PEERS_KEY: &str = "celery-proto.peers";

/// How long the wake-up list lives after a release (the library's `signal_expire`).
pub const SIGNAL_EXPIRE_MS: u64 = 1000;

/// Errors from lock operations.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("redis error on lock {name:?}: {source}")]
    Redis { name: String, source: redis::RedisError },
    /// Release found another id (or none) in the key: the lock expired or was reset.
    #[error("lock {name:?} was not held by this owner at release (expired or reset)")]
    NotHeld { name: String },
    #[error("unexpected reply {reply} from the {script} script for lock {name:?}")]
    UnexpectedReply { name: String, script: &'static str, reply: i64 },
}

/// Per-acquire options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockOptions {
    /// TTL of the lock key, rounded up to whole seconds (`SET ... EX`). `None` = the reference's
    /// behaviour: no expiry.
    pub expire: Option<Duration>,
    /// Extend the TTL every 2/3 of `expire` while the guard lives. Ignored without `expire`.
    pub renew: bool,
    /// Longest single wait on the signal list before trying `SET NX` again.
    pub recheck: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        Self { expire: None, renew: false, recheck: Duration::from_secs(10) }
    }
}

impl LockOptions {
    /// An expiring lock kept alive while held: what a Rust worker should use for entry locks.
    pub fn expiring(expire: Duration) -> Self {
        Self { expire: Some(expire), renew: true, ..Self::default() }
    }

    fn expire_seconds(&self) -> Option<u64> {
        self.expire.map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0)).map(|s| s.max(1))
    }
}

/// The key names of a lock called `name`.
pub fn lock_key(name: &str) -> String {
    format!("lock:{name}")
}

/// The wake-up list of a lock called `name`.
pub fn signal_key(name: &str) -> String {
    format!("lock-signal:{name}")
}

/// A fresh owner id: base64 of 18 random bytes (24 characters), as python-redis-lock makes them.
pub fn new_owner_id() -> String {
    BASE64.encode(rand::random::<[u8; 18]>())
}

/// Acquires python-redis-lock compatible locks on one Redis database.
#[derive(Clone)]
pub struct Locks {
    client: redis::Client,
    conn: StateConn,
    unlock: Arc<redis::Script>,
    extend: Arc<redis::Script>,
    acquire_expiring: Arc<redis::Script>,
    release_registered: Arc<redis::Script>,
    release_orphaned: Arc<redis::Script>,
    /// The worker instance and the peers hash it is announced in, once the worker knows them.
    holder: Arc<std::sync::OnceLock<(String, String)>>,
}

impl Locks {
    /// `conn` serves `SET`, release and renewal; blocking waits open their own connection from
    /// `client` (a `BLPOP` would stall every other command multiplexed on `conn`).
    pub fn new(client: redis::Client, conn: StateConn) -> Self {
        Self {
            client,
            conn,
            unlock: Arc::new(redis::Script::new(UNLOCK_SCRIPT)),
            extend: Arc::new(redis::Script::new(EXTEND_SCRIPT)),
            acquire_expiring: Arc::new(redis::Script::new(ACQUIRE_EXPIRING_SCRIPT)),
            release_registered: Arc::new(redis::Script::new(RELEASE_REGISTERED_SCRIPT)),
            release_orphaned: Arc::new(redis::Script::new(RELEASE_ORPHANED_SCRIPT)),
            holder: Arc::default(),
        }
    }

    /// Ties the expiring locks taken from now on to `instance`, a worker instance announced in
    /// the hash `peers_key` while it lives: once it is gone from there, other workers release
    /// them ([`Locks::release_orphaned`]). Set once; later calls are ignored.
    pub fn set_holder(&self, instance: &str, peers_key: &str) {
        let _ = self.holder.set((instance.to_owned(), peers_key.to_owned()));
    }

    /// Releases the expiring locks whose holder died (see the module doc), signalling their
    /// waiters. Returns how many locks were released or signalled.
    pub async fn release_orphaned(&self) -> Result<usize, LockError> {
        let peers = self.holder.get().map_or(crate::lock::DEFAULT_PEERS_KEY, |(_, key)| key.as_str());
        let woken: i64 = self
            .release_orphaned
            .key(RUST_LOCKS_KEY)
            .key(RUST_LOCK_OWNERS_KEY)
            .key(peers)
            .arg(unix_now())
            .arg(SIGNAL_EXPIRE_MS)
            .arg(10_000)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|source| LockError::Redis { name: RUST_LOCKS_KEY.to_owned(), source })?;
        Ok(woken.max(0) as usize)
    }

    fn holder_value(&self, id: &str) -> String {
        let instance = self.holder.get().map_or("", |(instance, _)| instance.as_str());
        format!("{instance}\t{id}")
    }

    /// Waits until the lock is ours. Cancel-safe except in one spot: dropping the future while
    /// the `SET NX` reply is in flight may leave the key set without an owner (an expiring lock
    /// then frees itself; a non-expiring one needs a manual `DEL`, as with a killed Python worker).
    pub async fn acquire(&self, name: &str, options: LockOptions) -> Result<LockGuard, LockError> {
        let id = new_owner_id();
        let mut waiter: Option<MultiplexedConnection> = None;
        let mut outage = OutageBackoff::default();
        loop {
            if self.try_set(name, &id, &options).await? {
                return Ok(self.guard(name, id, &options));
            }
            if waiter.is_none() {
                let config = AsyncConnectionConfig::new().set_response_timeout(None);
                match self.client.get_multiplexed_async_connection_with_config(&config).await {
                    Ok(conn) => waiter = Some(conn),
                    Err(source) if state_conn::is_transient(&source) && outage.wait().await => continue,
                    Err(source) => return Err(LockError::Redis { name: name.to_owned(), source }),
                }
            }
            let Some(conn) = waiter.as_mut() else { continue };
            // python-redis-lock waits `expire or 0` (0 = forever); wait at most `recheck`.
            let mut wait = options.recheck.as_secs().max(1);
            if let Some(expire) = options.expire_seconds() {
                wait = wait.min(expire);
            }
            let reply: Result<Option<(String, String)>, _> =
                redis::cmd("BLPOP").arg(signal_key(name)).arg(wait).query_async(conn).await;
            match reply {
                Ok(_) => outage = OutageBackoff::default(),
                // Redis went away under the wait: a new connection once it is back.
                Err(source) if state_conn::is_transient(&source) && outage.wait().await => waiter = None,
                Err(source) => return Err(LockError::Redis { name: name.to_owned(), source }),
            }
        }
    }

    /// One `SET NX` attempt; `None` when someone else holds the lock.
    pub async fn try_acquire(
        &self,
        name: &str,
        options: LockOptions,
    ) -> Result<Option<LockGuard>, LockError> {
        let id = new_owner_id();
        if self.try_set(name, &id, &options).await? {
            Ok(Some(self.guard(name, id, &options)))
        } else {
            Ok(None)
        }
    }

    async fn try_set(&self, name: &str, id: &str, options: &LockOptions) -> Result<bool, LockError> {
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let (conn, attempts) = (&self.conn, &attempts);
        state_conn::with_retry("lock", || async move {
            let repeat = attempts.fetch_add(1, Ordering::Relaxed) > 0;
            let took = match options.expire_seconds() {
                Some(seconds) => {
                    let took: i64 = self
                        .acquire_expiring
                        .key(lock_key(name))
                        .key(RUST_LOCKS_KEY)
                        .key(RUST_LOCK_OWNERS_KEY)
                        .arg(id)
                        .arg(seconds)
                        .arg(unix_now() + seconds as f64)
                        .arg(name)
                        .arg(self.holder_value(id))
                        .invoke_async(&mut conn.clone())
                        .await?;
                    took == 1
                }
                None => {
                    // Same argument order as redis-py's `set(name, id, nx=True)`.
                    let reply: Option<String> = redis::cmd("SET")
                        .arg(lock_key(name))
                        .arg(id)
                        .arg("NX")
                        .query_async(&mut conn.clone())
                        .await?;
                    reply.is_some()
                }
            };
            if took {
                return Ok(true);
            }
            // A repeat after a lost reply finds the key set: by us if it holds our id.
            if repeat {
                let owner: Option<String> =
                    redis::cmd("GET").arg(lock_key(name)).query_async(&mut conn.clone()).await?;
                return Ok(owner.as_deref() == Some(id));
            }
            Ok(false)
        })
        .await
        .map_err(|source| LockError::Redis { name: name.to_owned(), source })
    }

    fn guard(&self, name: &str, id: String, options: &LockOptions) -> LockGuard {
        let lost = Arc::new(AtomicBool::new(false));
        let renewal = match (options.expire_seconds(), options.renew) {
            (Some(seconds), true) => Some(tokio::spawn(renew(
                self.conn.clone(),
                self.extend.clone(),
                name.to_owned(),
                id.clone(),
                seconds,
                lost.clone(),
            ))),
            _ => None,
        };
        // Expiring locks are registered (see the acquire script) and released with their
        // registration; the others with the library's own script.
        let release = match options.expire_seconds() {
            Some(_) => Release::Registered {
                script: self.release_registered.clone(),
                holder: self.holder_value(&id),
            },
            None => Release::Library(self.unlock.clone()),
        };
        LockGuard {
            name: name.to_owned(),
            id,
            conn: self.conn.clone(),
            release,
            renewal,
            lost,
            released: false,
        }
    }

    /// The owner id stored in `lock:<name>`, if any (python-redis-lock's `get_owner_id`).
    pub async fn owner(&self, name: &str) -> Result<Option<String>, LockError> {
        redis::cmd("GET")
            .arg(lock_key(name))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|source| LockError::Redis { name: name.to_owned(), source })
    }
}

/// Keeps an expiring lock alive: extends it every 2/3 of its expiry until aborted or lost.
async fn renew(
    mut conn: StateConn,
    extend: Arc<redis::Script>,
    name: String,
    id: String,
    seconds: u64,
    lost: Arc<AtomicBool>,
) {
    let period = Duration::from_millis(seconds * 1000 * 2 / 3);
    loop {
        tokio::time::sleep(period).await;
        let reply: Result<i64, _> = extend
            .key(lock_key(&name))
            .key(signal_key(&name))
            .arg(&id)
            .arg(seconds)
            .invoke_async(&mut conn)
            .await;
        match reply {
            Ok(0) => {
                let until = unix_now() + seconds as f64;
                let moved: Result<(), _> =
                    redis::cmd("ZADD").arg(RUST_LOCKS_KEY).arg(until).arg(&name).query_async(&mut conn).await;
                if let Err(error) = moved {
                    tracing::warn!(lock = %name, %error, "could not move the lock's registration on");
                }
            }
            Ok(code) => {
                tracing::error!(lock = %name, code, "lock renewal failed: the lock is no longer ours");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // A transient Redis error: try again next period; the TTL still covers one more.
            Err(error) => tracing::warn!(lock = %name, %error, "lock renewal attempt failed"),
        }
    }
}

/// A held lock. Call [`LockGuard::release`]; dropping it releases in the background when a Tokio
/// runtime is available.
pub struct LockGuard {
    name: String,
    id: String,
    conn: StateConn,
    release: Release,
    renewal: Option<tokio::task::JoinHandle<()>>,
    lost: Arc<AtomicBool>,
    released: bool,
}

impl LockGuard {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// True when renewal found the lock gone or owned by someone else.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Runs the unlock script, waking one waiter.
    pub async fn release(mut self) -> Result<(), LockError> {
        self.released = true;
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        unlock(&mut self.conn, &self.release, &self.name, &self.id).await
    }
}

/// How a guard releases its lock.
#[derive(Clone)]
enum Release {
    /// python-redis-lock's script, byte for byte.
    Library(Arc<redis::Script>),
    /// The same effects, and the registration of an expiring lock removed.
    Registered { script: Arc<redis::Script>, holder: String },
}

async fn unlock(conn: &mut StateConn, release: &Release, name: &str, id: &str) -> Result<(), LockError> {
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let (conn, attempts) = (&*conn, &attempts);
    let (reply, repeated): (i64, bool) = state_conn::with_retry("unlock", || async move {
        let repeated = attempts.fetch_add(1, Ordering::Relaxed) > 0;
        let reply: i64 = match release {
            Release::Library(script) => {
                script
                    .key(lock_key(name))
                    .key(signal_key(name))
                    .arg(id)
                    .arg(SIGNAL_EXPIRE_MS)
                    .invoke_async(&mut conn.clone())
                    .await?
            }
            Release::Registered { script, holder } => {
                script
                    .key(lock_key(name))
                    .key(signal_key(name))
                    .key(RUST_LOCKS_KEY)
                    .key(RUST_LOCK_OWNERS_KEY)
                    .arg(id)
                    .arg(SIGNAL_EXPIRE_MS)
                    .arg(name)
                    .arg(holder)
                    .invoke_async(&mut conn.clone())
                    .await?
            }
        };
        Ok((reply, repeated))
    })
    .await
    .map_err(|source| LockError::Redis { name: name.to_owned(), source })?;
    match reply {
        0 => Ok(()),
        // A repeat after a lost reply: the first run released it.
        1 if repeated => Ok(()),
        1 => Err(LockError::NotHeld { name: name.to_owned() }),
        other => Err(LockError::UnexpectedReply { name: name.to_owned(), script: "unlock", reply: other }),
    }
}

/// Backoff for a lock wait that Redis interrupted: true (after a pause) while the outage is
/// shorter than the state connection's patience.
#[derive(Default)]
struct OutageBackoff {
    since: Option<std::time::Instant>,
    delay: Duration,
}

impl OutageBackoff {
    async fn wait(&mut self) -> bool {
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() > state_conn::OUTAGE_PATIENCE {
            return false;
        }
        self.delay = (self.delay * 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
        tokio::time::sleep(self.delay).await;
        true
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(lock = %self.name, "lock guard dropped outside a runtime; lock stays held");
            return;
        };
        let (mut conn, release, name, id) =
            (self.conn.clone(), self.release.clone(), self.name.clone(), self.id.clone());
        runtime.spawn(async move {
            if let Err(error) = unlock(&mut conn, &release, &name, &id).await {
                tracing::warn!(lock = %name, %error, "background release of a dropped lock guard failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlock_script_hash_is_the_libraries() {
        assert_eq!(redis::Script::new(UNLOCK_SCRIPT).get_hash(), UNLOCK_SCRIPT_SHA1);
    }

    #[test]
    fn owner_ids_look_like_python_redis_lock_ids() {
        let id = new_owner_id();
        assert_eq!(id.len(), 24);
        assert_eq!(BASE64.decode(&id).unwrap().len(), 18);
        assert_ne!(id, new_owner_id());
    }

    #[test]
    fn expiry_rounds_up_to_seconds() {
        assert_eq!(LockOptions::expiring(Duration::from_millis(1500)).expire_seconds(), Some(2));
        assert_eq!(LockOptions::expiring(Duration::from_millis(10)).expire_seconds(), Some(1));
        assert_eq!(LockOptions::default().expire_seconds(), None);
    }
}
