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
//!   [`RUST_LOCKS_KEY`] with the time its TTL runs out (moved on at every renewal). A Python
//!   waiter blocks on the signal list without a timeout; if a Rust holder dies, its key expires
//!   but nobody signals. [`Locks::wake_orphaned_waiters`] (run every few seconds by each worker)
//!   finds registered locks past their time whose key is gone and pushes the signal the holder
//!   would have pushed, so the Python waiter wakes and takes the lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

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

/// `SET lock:<name> <id> EX <s> NX` and, if it took the lock, its registration, in one step.
/// KEYS: the lock key, [`RUST_LOCKS_KEY`]. ARGV: id, seconds, expiry time, name.
const ACQUIRE_EXPIRING_SCRIPT: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  return 1
end
return 0
"#;

/// For every registered lock whose time passed: if its key is gone, push the signal its holder
/// would have pushed on release; forget the registration either way (a live holder's renewal
/// keeps its time ahead). KEYS: [`RUST_LOCKS_KEY`]. ARGV: now, signal expiry (ms), how many
/// at most. Returns how many waiters were signalled.
const WAKE_ORPHANED_SCRIPT: &str = r#"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local woken = 0
for _, name in ipairs(due) do
  if redis.call('EXISTS', 'lock:' .. name) == 0 then
    local signal = 'lock-signal:' .. name
    redis.call('DEL', signal)
    redis.call('LPUSH', signal, 1)
    redis.call('PEXPIRE', signal, ARGV[2])
    woken = woken + 1
  end
  redis.call('ZREM', KEYS[1], name)
end
return woken
"#;

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
    wake_orphaned: Arc<redis::Script>,
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
            wake_orphaned: Arc::new(redis::Script::new(WAKE_ORPHANED_SCRIPT)),
        }
    }

    /// Signals the waiters of expiring Rust locks whose holder died (see the module doc).
    /// Returns how many locks were signalled.
    pub async fn wake_orphaned_waiters(&self) -> Result<usize, LockError> {
        let woken: i64 = self
            .wake_orphaned
            .key(RUST_LOCKS_KEY)
            .arg(unix_now())
            .arg(SIGNAL_EXPIRE_MS)
            .arg(1000)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|source| LockError::Redis { name: RUST_LOCKS_KEY.to_owned(), source })?;
        Ok(woken.max(0) as usize)
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
                        .arg(id)
                        .arg(seconds)
                        .arg(unix_now() + seconds as f64)
                        .arg(name)
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
        LockGuard {
            name: name.to_owned(),
            id,
            conn: self.conn.clone(),
            unlock: self.unlock.clone(),
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
    unlock: Arc<redis::Script>,
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
        unlock(&mut self.conn, &self.unlock, &self.name, &self.id).await
    }
}

async fn unlock(conn: &mut StateConn, script: &redis::Script, name: &str, id: &str) -> Result<(), LockError> {
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let (conn, attempts) = (&*conn, &attempts);
    let (reply, repeated): (i64, bool) = state_conn::with_retry("unlock", || async move {
        let repeated = attempts.fetch_add(1, Ordering::Relaxed) > 0;
        let reply: i64 = script
            .key(lock_key(name))
            .key(signal_key(name))
            .arg(id)
            .arg(SIGNAL_EXPIRE_MS)
            .invoke_async(&mut conn.clone())
            .await?;
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

fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
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
        let (mut conn, script, name, id) =
            (self.conn.clone(), self.unlock.clone(), self.name.clone(), self.id.clone());
        runtime.spawn(async move {
            if let Err(error) = unlock(&mut conn, &script, &name, &id).await {
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
