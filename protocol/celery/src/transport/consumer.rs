//! The consuming side of kombu's Redis transport: every queue and priority step in kombu's
//! round-robin order, taken atomically into a record that survives the taker's death.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::{Broker, TransportError};

/// kombu's `round_robin` queue order: after a message comes from a queue, that queue moves to the
/// end of the cycle so that one busy queue cannot starve the others.
#[derive(Clone, Debug)]
pub struct QueueCycle {
    queues: Vec<String>,
}

impl QueueCycle {
    pub fn new(queues: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let mut unique: Vec<String> = Vec::new();
        for q in queues.into_iter().map(Into::into) {
            if !unique.contains(&q) {
                unique.push(q);
            }
        }
        Self { queues: unique }
    }

    pub fn queues(&self) -> &[String] {
        &self.queues
    }

    /// Moves `queue` to the end of the cycle.
    pub fn rotate(&mut self, queue: &str) {
        if let Some(pos) = self.queues.iter().position(|q| q == queue) {
            let q = self.queues.remove(pos);
            self.queues.push(q);
        }
    }
}

/// Moves up to `ARGV[1]` messages off the queue lists, in cycle order, into the taker's
/// in-flight hash, in one atomic step: a message is never only in this process's memory.
///
/// KEYS[1]: the in-flight hash (`celery-proto.taking:<instance>`); KEYS[2..]: the lists.
/// ARGV[1]: how many at most; ARGV[2]: a prefix that makes the hash fields unique.
/// Each field's value is `<key length>:<key><raw message>`, so whoever finds the entry of a dead
/// taker can put the exact bytes back on the exact list. Returns `{key index, field, raw}...`.
static TAKE_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local out = {}
local want = tonumber(ARGV[1])
for i = 2, #KEYS do
  while #out < want do
    local raw = redis.call('RPOP', KEYS[i])
    if not raw then break end
    local field = ARGV[2] .. ':' .. (#out + 1)
    redis.call('HSET', KEYS[1], field, #KEYS[i] .. ':' .. KEYS[i] .. raw)
    out[#out + 1] = {i - 1, field, raw}
  end
  if #out >= want then break end
end
return out
"#,
    )
});

/// One message taken off a list: the key it came from, its queue, its exact bytes, and the
/// field of the taker's in-flight hash that records it until it is held or dead-lettered.
#[derive(Clone, Debug)]
pub struct Taken {
    pub key: String,
    pub queue: String,
    pub raw: Vec<u8>,
    pub field: String,
}

/// A consumer of task queues. It polls with an atomic take (see [`TAKE_SCRIPT`]) instead of
/// kombu's BRPOP: a BRPOP'd message lives only in the consumer's memory until it is recorded
/// as unacked, and a consumer killed in that instant loses it.
pub struct QueueConsumer {
    broker: Broker,
    cycle: QueueCycle,
    calls: u64,
    idle: Duration,
}

/// The first pause after an empty take, doubled on every further empty one up to [`MAX_IDLE`].
const MIN_IDLE: Duration = Duration::from_millis(2);
/// The longest pause between takes on idle queues: the latency a new message may wait.
const MAX_IDLE: Duration = Duration::from_millis(50);

impl QueueConsumer {
    pub async fn new(broker: &Broker, queues: &[String]) -> Result<Self, TransportError> {
        let cycle = QueueCycle::new(queues.iter().cloned());
        Ok(Self { broker: broker.clone(), cycle, calls: 0, idle: MIN_IDLE })
    }

    pub fn queues(&self) -> &[String] {
        self.cycle.queues()
    }

    /// Takes up to `max` messages now, without waiting.
    pub async fn take(&mut self, max: usize) -> Result<Vec<Taken>, TransportError> {
        let names = self.broker.names();
        let keys = names.brpop_keys(self.cycle.queues());
        self.calls += 1;
        let mut invocation = TAKE_SCRIPT.key(super::peers::taking_key(&self.broker, self.broker.instance()));
        for key in &keys {
            invocation.key(key);
        }
        let reply: Vec<(usize, String, Vec<u8>)> =
            invocation.arg(max.max(1)).arg(self.calls).invoke_async(&mut self.broker.conn()).await?;
        let mut taken = Vec::with_capacity(reply.len());
        for (index, field, raw) in reply {
            let key = keys.get(index.saturating_sub(1)).cloned().unwrap_or_default();
            let queue = names.queue_of_key(&key).to_string();
            taken.push(Taken { key, queue, raw, field });
        }
        if let Some(last) = taken.last() {
            let queue = last.queue.clone();
            self.cycle.rotate(&queue);
        }
        Ok(taken)
    }

    /// Takes up to `max` messages, polling with a growing pause while the queues are empty;
    /// returns an empty batch after about `brpop_timeout` with nothing to take.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<Taken>, TransportError> {
        let deadline = tokio::time::Instant::now() + self.broker.options().brpop_timeout;
        loop {
            let taken = self.take(max).await?;
            if !taken.is_empty() {
                self.idle = MIN_IDLE;
                return Ok(taken);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(taken);
            }
            tokio::time::sleep(self.idle).await;
            self.idle = (self.idle * 2).min(MAX_IDLE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_moves_the_served_queue_last() {
        // The capture shows `BRPOP path file ...` then, after a message from path, `BRPOP file path ...`.
        let mut cycle = QueueCycle::new(["path", "file", "path"]);
        assert_eq!(cycle.queues(), ["path", "file"]);
        cycle.rotate("path");
        assert_eq!(cycle.queues(), ["file", "path"]);
        cycle.rotate("unknown");
        assert_eq!(cycle.queues(), ["file", "path"]);
    }
}
