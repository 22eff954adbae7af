//! kombu's ack emulation: the `unacked` hash, the `unacked_index` zset, and `restore_visible`.
//!
//! A popped message is "held" in both structures until it is acked (removed), requeued (LPUSH, back
//! of the line) or restored (RPUSH, front of the line). Any consumer in the fleet, Python or Rust,
//! restores entries older than the visibility timeout, under the shared `unacked_mutex`.

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use redis::{AsyncCommands, Script};
use tracing::{error, info, warn};

use super::{Broker, KeyNames, TransportError, wire};

/// Restores one held message if it is still exactly the stored value (compare-and-swap).
///
/// kombu does the same with WATCH/MULTI; a script gives the same guarantee on a shared connection.
/// KEYS: unacked, unacked_index, destination list, the holder's held set. ARGV: tag, expected
/// value, payload, "l"/"r".
static RESTORE_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('SREM', KEYS[4], ARGV[1])
  return 0
end
if current ~= ARGV[2] then return -1 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
if ARGV[4] == 'l' then
  redis.call('LPUSH', KEYS[3], ARGV[3])
else
  redis.call('RPUSH', KEYS[3], ARGV[3])
end
return 1
"#,
    )
});

/// Turns a taken message into a held one: out of the taker's in-flight hash, into `unacked`,
/// `unacked_index` and the taker's held set, atomically. Returns 0 (and changes nothing) when the
/// in-flight entry is gone because a worker that took this taker for dead already put the
/// message back; 1 otherwise (also when a first attempt already held it and only its reply was
/// lost). KEYS: in-flight hash, unacked_index, unacked, held set. ARGV: field, tag, score, value.
static HOLD_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return redis.call('SISMEMBER', KEYS[4], ARGV[2])
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[2])
return 1
"#,
    )
});

/// Deletes the mutex only if it still holds our token (the lock release redis-py uses).
static RELEASE_MUTEX_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#,
    )
});

/// Where a restored message goes relative to the others in its list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreEnd {
    /// RPUSH: consumed next (visibility timeout, warm shutdown).
    Front,
    /// LPUSH: behind everything already queued (reject with requeue).
    Back,
}

/// What happened to a restore request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreOutcome {
    Restored,
    /// The entry was gone: someone acked or restored it first.
    AlreadyGone,
    /// The stored value could not be decoded; it was moved to the dead-letter list.
    DeadLettered,
}

/// Unix time as a float, the score kombu writes.
pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Appends what forgets a held message: its `unacked_index` and `unacked` entries (as kombu
/// removes them) and its tag in the holder's held set.
fn forget_held<'a>(
    pipe: &'a mut redis::Pipeline,
    names: &KeyNames,
    tag: &str,
    held: &str,
) -> &'a mut redis::Pipeline {
    pipe.zrem(names.unacked_index(), tag).hdel(names.unacked(), tag).srem(held, tag)
}

impl Broker {
    fn own_held_key(&self) -> String {
        super::peers::held_key(self, self.instance())
    }

    /// Records a taken message as unacknowledged (`ZADD unacked_index` + `HSET unacked`, as kombu
    /// writes them) and as held by this instance, in the step that ends its in-flight record.
    /// Returns false when another worker already put it back (this instance was taken for dead):
    /// the caller must drop it. Retried through Redis outages (a repeat is harmless).
    pub async fn hold_taken(
        &self,
        taken: &super::Taken,
        tag: &str,
        exchange: &str,
        routing_key: &str,
    ) -> Result<bool, TransportError> {
        let names = self.names();
        let value = wire::unacked_value(&taken.raw, exchange, routing_key);
        let taking = super::peers::taking_key(self, self.instance());
        let held = self.own_held_key();
        let now = unix_now();
        let (taking, held, value) = (&taking, &held, &value);
        self.retrying("hold", || async move {
            let held_now: i64 = HOLD_SCRIPT
                .key(taking)
                .key(names.unacked_index())
                .key(names.unacked())
                .key(held)
                .arg(&taken.field)
                .arg(tag)
                .arg(now)
                .arg(value)
                .invoke_async(&mut self.conn())
                .await?;
            Ok(held_now == 1)
        })
        .await
    }

    /// Moves a taken message that is not a message at all to the dead-letter list, in the step
    /// that ends its in-flight record.
    pub async fn dead_letter_taken(&self, taken: &super::Taken) -> Result<(), TransportError> {
        let taking = &super::peers::taking_key(self, self.instance());
        self.retrying("dead-letter", || async move {
            redis::pipe()
                .atomic()
                .lpush(self.names().dead_letter(), &taken.raw)
                .hdel(taking, &taken.field)
                .query_async::<()>(&mut self.conn())
                .await?;
            Ok(())
        })
        .await
    }

    /// Acknowledges (or rejects without requeue): the message is forgotten. Retried through
    /// Redis outages.
    pub async fn ack(&self, tag: &str) -> Result<(), TransportError> {
        let names = self.names();
        let held = &self.own_held_key();
        self.retrying("ack", || async move {
            forget_held(redis::pipe().atomic(), names, tag, held).query_async::<()>(&mut self.conn()).await?;
            Ok(())
        })
        .await
    }

    /// Puts a held message back on its queue with `redelivered` set, as kombu does. Retried
    /// through Redis outages.
    pub async fn restore(&self, tag: &str, end: RestoreEnd) -> Result<RestoreOutcome, TransportError> {
        let held = &self.own_held_key();
        self.retrying("restore", || self.restore_held_by(tag, end, held)).await
    }

    /// [`Broker::restore`] of a message whose holder recorded it in `held` (the set it is
    /// removed from).
    pub(crate) async fn restore_held_by(
        &self,
        tag: &str,
        end: RestoreEnd,
        held: &str,
    ) -> Result<RestoreOutcome, TransportError> {
        let names = self.names();
        let mut conn = self.conn();
        // Retry the compare-and-swap if the value changed between read and swap (it never should:
        // values are written once; a concurrent restore+re-hold is the only way).
        for _ in 0..3 {
            let stored: Option<Vec<u8>> = conn.hget(names.unacked(), tag).await?;
            let Some(stored) = stored else {
                let _: () = conn.zrem(names.unacked_index(), tag).await?;
                return Ok(RestoreOutcome::AlreadyGone);
            };
            let (destination, payload) = match wire::restored_message(&stored) {
                Ok(restored) => (names.queue_key(&restored.queue, restored.priority), restored.envelope),
                Err(why) => {
                    error!(tag, %why, "unacked entry cannot be restored; moving it to the dead-letter list");
                    self.dead_letter_held_by(tag, &stored, held).await?;
                    return Ok(RestoreOutcome::DeadLettered);
                }
            };
            let side = if end == RestoreEnd::Back { "l" } else { "r" };
            let swapped: i64 = RESTORE_SCRIPT
                .key(names.unacked())
                .key(names.unacked_index())
                .key(&destination)
                .key(held)
                .arg(tag)
                .arg(&stored)
                .arg(&payload)
                .arg(side)
                .invoke_async(&mut conn)
                .await?;
            match swapped {
                1 => return Ok(RestoreOutcome::Restored),
                0 => return Ok(RestoreOutcome::AlreadyGone),
                _ => continue,
            }
        }
        warn!(tag, "unacked entry kept changing while restoring it; left in place");
        Ok(RestoreOutcome::AlreadyGone)
    }

    /// Moves a held message's raw bytes to the dead-letter list and forgets it, in one transaction.
    pub async fn dead_letter_held(&self, tag: &str, raw: &[u8]) -> Result<(), TransportError> {
        let held = &self.own_held_key();
        self.retrying("dead-letter", || self.dead_letter_held_by(tag, raw, held)).await
    }

    async fn dead_letter_held_by(&self, tag: &str, raw: &[u8], held: &str) -> Result<(), TransportError> {
        let names = self.names();
        let mut pipe = redis::pipe();
        pipe.atomic().lpush(names.dead_letter(), raw);
        forget_held(&mut pipe, names, tag, held).query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }

    /// Refreshes the delivery time of messages this process still holds (`ZADD XX`), so that a
    /// short visibility timeout only expires the messages of dead holders.
    pub async fn refresh_held(&self, tags: &[String]) -> Result<(), TransportError> {
        if tags.is_empty() {
            return Ok(());
        }
        let now = unix_now();
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(self.names().unacked_index()).arg("XX");
        for tag in tags {
            cmd.arg(now).arg(tag);
        }
        let _: i64 = cmd.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// kombu's `restore_visible`: under the fleet-wide mutex, restores (RPUSH) every held message
    /// older than the visibility timeout. Returns how many were restored; 0 if the mutex was taken.
    pub async fn restore_visible(&self) -> Result<usize, TransportError> {
        let names = self.names();
        let options = self.options();
        let mut conn = self.conn();
        let token = uuid::Uuid::new_v4().simple().to_string();
        let acquired: Option<String> = redis::cmd("SET")
            .arg(names.unacked_mutex())
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(options.unacked_mutex_expire.as_millis() as u64)
            .query_async(&mut conn)
            .await?;
        if acquired.is_none() {
            return Ok(0);
        }
        let result = self.restore_expired(&mut conn).await;
        let _: i64 =
            RELEASE_MUTEX_SCRIPT.key(names.unacked_mutex()).arg(&token).invoke_async(&mut conn).await?;
        result
    }

    async fn restore_expired(
        &self,
        conn: &mut redis::aio::ConnectionManager,
    ) -> Result<usize, TransportError> {
        let ceiling = unix_now() - self.options().visibility_timeout.as_secs_f64();
        let expired: Vec<(String, f64)> = redis::cmd("ZREVRANGEBYSCORE")
            .arg(self.names().unacked_index())
            .arg(ceiling)
            .arg(0)
            .arg("WITHSCORES")
            .query_async(conn)
            .await?;
        let mut restored = 0;
        for (tag, _score) in expired {
            if self.restore(&tag, RestoreEnd::Front).await? == RestoreOutcome::Restored {
                restored += 1;
            }
        }
        if restored > 0 {
            info!(restored, "restored unacknowledged messages past the visibility timeout");
        }
        Ok(restored)
    }
}
