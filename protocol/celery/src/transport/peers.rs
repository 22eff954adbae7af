//! Targeted crash recovery for workers of this crate, safe next to Python workers.
//!
//! kombu recovers a dead consumer's unacknowledged messages only by age: any consumer restores
//! every `unacked` entry older than the visibility timeout, whoever holds it. Next to Python
//! workers that timeout must stay long (3600 s), so a crashed worker's messages wait an hour.
//!
//! Workers of this crate record, in the same atomic step as the move itself, where every message
//! they take is:
//!
//! - `celery-proto.taking:<instance>` (hash): taken off its list, not yet held. The take script
//!   writes it (see `consumer`); the hold removes it.
//! - `celery-proto.held:<instance>` (set): the delivery tags this instance holds in `unacked`.
//!   The hold adds a tag in the same script that writes `unacked`; ack, restore and dead-letter
//!   remove it in the same step as they remove the `unacked` entry.
//!
//! `<instance>` is `<node name>#<nonce>`, one per process life. Every instance writes the time
//! into the hash `celery-proto.peers` before it takes anything, and again every heartbeat. An
//! instance whose time is older than the dead-peer limit is dead; so is, at once, any earlier
//! instance of the node name a worker starts under (the restarted worker of a supervisor). A live
//! worker then puts the dead instance's taken messages back on their lists as they were, restores
//! its held ones (with `redelivered`, as kombu does), and removes its keys. Python workers never
//! announce, so their messages are left to kombu's age rule.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{AsyncCommands, Script};
use tracing::{info, warn};

use super::ack::{RestoreEnd, RestoreOutcome, unix_now};
use super::{Broker, TransportError};

/// The hash of live announcements: instance → Unix time of the last one.
pub const PEERS_HASH: &str = "celery-proto.peers";

/// A random value every worker of the fleet agrees on while Redis keeps its data: a Redis that
/// restarted without persistence comes back without it, and the first worker to notice says so.
pub const EPOCH_KEY: &str = "celery-proto.epoch";

/// How long after a Redis restart silent workers are still given to reconnect (their backoff
/// reaches 5 s) before they are taken for dead, beyond the dead-peer limit itself: the limit
/// again, at most this.
const RECONNECT_SLACK_SECS: u64 = 10;

/// Stamps an instance's announcement with Redis's clock. KEYS: the peers hash. ARGV: instance.
/// Returns 1 when the field is new.
static ANNOUNCE_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
local micros = t[2]
return redis.call('HSET', KEYS[1], ARGV[1], t[1] .. '.' .. string.rep('0', 6 - #micros) .. micros)
"#,
    )
});

/// How long a recovery claim lasts if the recovering worker dies in the middle of it.
const CLAIM_EXPIRY_MS: u64 = 15_000;

/// Puts one in-flight entry of a dead taker back on the list it came from (RPUSH: it is
/// consumed next, as it would have been) and forgets it. KEYS[1]: the in-flight hash; ARGV[1]:
/// the field. The list key is read from the value, so it is not in KEYS (standalone Redis only,
/// like the rest of kombu's transport).
static RETURN_TAKEN_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local colon = string.find(v, ':', 1, true)
if not colon then return -1 end
local len = tonumber(string.sub(v, 1, colon - 1))
if not len then return -1 end
local key = string.sub(v, colon + 1, colon + len)
redis.call('RPUSH', key, string.sub(v, colon + len + 1))
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"#,
    )
});

/// A fresh instance id for `node`: the node name, `#`, and a random nonce.
pub(crate) fn new_instance_id(node: &str) -> String {
    format!("{node}#{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The node name an instance id belongs to (ids written before instances existed are bare names).
pub fn node_of(instance: &str) -> &str {
    instance.rsplit_once('#').map_or(instance, |(node, _)| node)
}

pub(crate) fn held_key(broker: &Broker, instance: &str) -> String {
    broker.names().key(&format!("celery-proto.held:{instance}"))
}

pub(crate) fn taking_key(broker: &Broker, instance: &str) -> String {
    broker.names().key(&format!("celery-proto.taking:{instance}"))
}

fn claim_key(broker: &Broker, instance: &str) -> String {
    broker.names().key(&format!("celery-proto.recovering:{instance}"))
}

/// What [`Broker::check_epoch`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Epoch {
    /// The value this worker knew (or, at its first check, the fleet's).
    Same,
    /// The key was gone or different: Redis lost its data since the last check.
    Lost,
}

impl Broker {
    /// Compares the fleet's epoch with `known` (the value of the last check; `None` at start,
    /// when it is adopted or created). Creates a new one after a loss.
    pub async fn check_epoch(&self, known: &mut Option<String>) -> Result<Epoch, TransportError> {
        let key = self.names().key(EPOCH_KEY);
        let mut conn = self.conn();
        let current: Option<String> = conn.get(&key).await?;
        match (current, known.as_deref()) {
            (Some(current), Some(known_value)) if current == known_value => Ok(Epoch::Same),
            (Some(current), None) => {
                *known = Some(current);
                Ok(Epoch::Same)
            }
            (current, previous) => {
                let lost = previous.is_some();
                let fresh = uuid::Uuid::new_v4().simple().to_string();
                let _: Option<String> =
                    redis::cmd("SET").arg(&key).arg(&fresh).arg("NX").query_async(&mut conn).await?;
                let adopted: Option<String> = conn.get(&key).await?;
                *known = adopted.or(Some(fresh));
                Ok(if lost || current.is_some() { Epoch::Lost } else { Epoch::Same })
            }
        }
    }

    /// Announces this instance as alive. Returns false when its announcement had vanished,
    /// that is when another worker took it for dead and handed its messages to the fleet.
    pub async fn announce_peer(&self) -> Result<bool, TransportError> {
        let added: i64 = ANNOUNCE_SCRIPT
            .key(self.names().key(PEERS_HASH))
            .arg(self.instance())
            .invoke_async(&mut self.conn())
            .await?;
        Ok(added == 0)
    }

    /// Redis's clock (`TIME`), the one announcements are stamped with: workers on hosts whose
    /// clocks differ still agree on who is silent.
    async fn server_time(&self) -> Result<f64, TransportError> {
        let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut self.conn()).await?;
        Ok(secs as f64 + micros as f64 / 1e6)
    }

    /// Seconds since the Redis server started.
    async fn server_uptime(&self) -> Result<u64, TransportError> {
        let info: String = redis::cmd("INFO").arg("server").query_async(&mut self.conn()).await?;
        Ok(info
            .lines()
            .find_map(|line| line.strip_prefix("uptime_in_seconds:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(u64::MAX))
    }

    /// Removes this instance's announcement and keys after giving back whatever they still
    /// record (a clean shutdown leaves nothing to give back).
    pub async fn retire_peer(&self) -> Result<usize, TransportError> {
        self.recover_instance(self.instance()).await
    }

    /// Recovers every announced instance silent for longer than `dead_after`, and, when
    /// `earlier_lives_of` names a node, every other instance of that node at once (a worker
    /// starting under a name that was in use before). Returns how many messages went back.
    pub async fn recover_dead_peers(
        &self,
        earlier_lives_of: Option<&str>,
        dead_after: Option<Duration>,
    ) -> Result<usize, TransportError> {
        let peers: Vec<(String, f64)> = self.conn().hgetall(self.names().key(PEERS_HASH)).await?;
        let now = self.server_time().await?;
        let silent_for = |seen: f64| dead_after.is_some_and(|limit| now - seen > limit.as_secs_f64());
        // Right after a Redis restart every announcement is old, and the other workers may still
        // be reconnecting (with backoff): nobody is taken for dead until they had time to.
        let restarted_recently = match dead_after {
            Some(limit) if peers.iter().any(|(i, seen)| i != self.instance() && silent_for(*seen)) => {
                let limit = limit.as_secs().max(1);
                self.server_uptime().await? < limit + limit.min(RECONNECT_SLACK_SECS)
            }
            _ => false,
        };
        let mut recovered = 0;
        for (instance, seen) in peers {
            if instance == self.instance() {
                continue;
            }
            let earlier_life = earlier_lives_of.is_some_and(|node| node_of(&instance) == node);
            let silent = !restarted_recently && silent_for(seen);
            if earlier_life || silent {
                if earlier_life {
                    info!(instance, "recovering an earlier life of this node");
                } else {
                    warn!(instance, silent_for = now - seen, "a worker went silent; recovering its messages");
                }
                recovered += self.recover_claimed(&instance).await?;
            }
        }
        Ok(recovered)
    }

    /// Recovers one instance unless another worker is already doing it.
    async fn recover_claimed(&self, instance: &str) -> Result<usize, TransportError> {
        let mut conn = self.conn();
        let claimed: Option<String> = redis::cmd("SET")
            .arg(claim_key(self, instance))
            .arg(unix_now())
            .arg("NX")
            .arg("PX")
            .arg(CLAIM_EXPIRY_MS)
            .query_async(&mut conn)
            .await?;
        if claimed.is_none() {
            return Ok(0);
        }
        let recovered = self.recover_instance(instance).await;
        let _: () = conn.del(claim_key(self, instance)).await?;
        recovered
    }

    /// Gives back everything `instance` recorded (taken messages to their lists as they were,
    /// held ones restored), then removes its announcement and keys.
    async fn recover_instance(&self, instance: &str) -> Result<usize, TransportError> {
        let mut conn = self.conn();
        let taking = taking_key(self, instance);
        let held = held_key(self, instance);
        let mut recovered = 0;
        let fields: Vec<String> = conn.hkeys(&taking).await?;
        for field in &fields {
            let returned: i64 = RETURN_TAKEN_SCRIPT.key(&taking).arg(field).invoke_async(&mut conn).await?;
            match returned {
                1 => recovered += 1,
                0 => {}
                _ => {
                    // Not written by the take script: keep the bytes where nothing reads them as
                    // a message, but nothing loses them either.
                    let value: Option<Vec<u8>> = conn.hget(&taking, field).await?;
                    if let Some(value) = value {
                        warn!(instance, field, "unreadable in-flight entry moved to the dead-letter list");
                        redis::pipe()
                            .atomic()
                            .lpush(self.names().dead_letter(), value)
                            .hdel(&taking, field)
                            .query_async::<()>(&mut conn)
                            .await?;
                    }
                }
            }
        }
        let tags: Vec<String> = conn.smembers(&held).await?;
        for tag in &tags {
            match self.restore_held_by(tag, RestoreEnd::Front, &held).await {
                Ok(RestoreOutcome::Restored) => recovered += 1,
                Ok(_) => {}
                Err(e) => {
                    warn!(instance, tag, error = %e, "could not restore a dead worker's message; keeping its record");
                    return Err(e);
                }
            }
        }
        // Only the announcement is removed: every entry was removed one by one above, so the
        // hash and set are gone unless the instance was alive after all and took more since.
        let _: i64 = conn.hdel(self.names().key(PEERS_HASH), instance).await?;
        if recovered > 0 {
            info!(instance, recovered, "gave back the messages of a dead worker");
        }
        Ok(recovered)
    }
}
