//! The BRPOP side of kombu's Redis transport: one blocking pop over every queue and priority step.

use std::time::Duration;

use redis::aio::ConnectionManager;

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

/// One message taken off a list: the key it came from, its queue, and its exact bytes.
#[derive(Clone, Debug)]
pub struct Popped {
    pub key: String,
    pub queue: String,
    pub raw: Vec<u8>,
}

/// A consumer of task queues with its own blocking connection.
pub struct QueueConsumer {
    broker: Broker,
    conn: ConnectionManager,
    cycle: QueueCycle,
}

impl QueueConsumer {
    pub async fn new(broker: &Broker, queues: &[String]) -> Result<Self, TransportError> {
        let conn = broker.blocking_connection().await?;
        Ok(Self { broker: broker.clone(), conn, cycle: QueueCycle::new(queues.iter().cloned()) })
    }

    pub fn queues(&self) -> &[String] {
        self.cycle.queues()
    }

    /// Issues one `BRPOP <keys...> <timeout>`; `None` when the timeout passed with nothing to take.
    pub async fn pop(&mut self) -> Result<Option<Popped>, TransportError> {
        let names = self.broker.names();
        let keys = names.brpop_keys(self.cycle.queues());
        let timeout = brpop_timeout_arg(self.broker.options().brpop_timeout);
        let mut cmd = redis::cmd("BRPOP");
        cmd.arg(&keys).arg(timeout);
        let reply: Option<(Vec<u8>, Vec<u8>)> = cmd.query_async(&mut self.conn).await?;
        let Some((key, raw)) = reply else { return Ok(None) };
        let key = String::from_utf8_lossy(&key).into_owned();
        let queue = names.queue_of_key(&key).to_string();
        self.cycle.rotate(&queue);
        Ok(Some(Popped { key, queue, raw }))
    }
}

/// BRPOP takes seconds; kombu passes an integer, Redis >= 6 also accepts decimals.
fn brpop_timeout_arg(timeout: Duration) -> String {
    let secs = timeout.as_secs_f64().max(0.01);
    if secs.fract() == 0.0 { format!("{}", secs as u64) } else { format!("{secs:.3}") }
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

    #[test]
    fn timeout_argument() {
        assert_eq!(brpop_timeout_arg(Duration::from_secs(1)), "1");
        assert_eq!(brpop_timeout_arg(Duration::from_millis(250)), "0.250");
    }
}
