//! Targeted crash recovery for workers of this crate, safe next to Python workers.
//!
//! kombu recovers a dead consumer's unacknowledged messages only by age: any consumer restores
//! every `unacked` entry older than the visibility timeout, whoever holds it. Next to Python
//! workers that timeout must stay long (3600 s), so a crashed worker's messages wait an hour.
//!
//! Workers of this crate therefore also announce themselves: every few seconds each one writes
//! its node name with the time into the hash `celery-proto.peers` and the delivery tags it holds
//! into the set `celery-proto.held:<node>`. A worker whose announcement is older than the dead-peer
//! limit is dead: a live one restores exactly the tags of its set that are still in `unacked`, at
//! once. Python workers never announce, so their messages are never touched; a message received
//! less than one announcement before a crash is still recovered by kombu's age rule.

use std::time::Duration;

use redis::AsyncCommands;
use tracing::{info, warn};

use super::ack::{RestoreEnd, RestoreOutcome, unix_now};
use super::{Broker, TransportError};

/// The hash of live announcements: node name → Unix time of the last one.
pub const PEERS_HASH: &str = "celery-proto.peers";

fn held_key(broker: &Broker, node: &str) -> String {
    broker.names().key(&format!("celery-proto.held:{node}"))
}

fn claim_key(broker: &Broker, node: &str) -> String {
    broker.names().key(&format!("celery-proto.recovering:{node}"))
}

impl Broker {
    /// Announces `node` as alive, holding `tags` (replaces the previous set).
    pub async fn announce_peer(&self, node: &str, tags: &[String]) -> Result<(), TransportError> {
        let held = held_key(self, node);
        let mut pipe = redis::pipe();
        pipe.atomic().hset(self.names().key(PEERS_HASH), node, unix_now()).del(&held);
        if !tags.is_empty() {
            pipe.sadd(&held, tags);
        }
        pipe.query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }

    /// Removes `node`'s announcement (a clean shutdown: it holds nothing any more).
    pub async fn retire_peer(&self, node: &str) -> Result<(), TransportError> {
        redis::pipe()
            .atomic()
            .hdel(self.names().key(PEERS_HASH), node)
            .del(held_key(self, node))
            .query_async::<()>(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Restores the held messages of every peer whose last announcement is older than
    /// `dead_after` (and of `also`, a node known to be dead: this node's own earlier life when it
    /// starts). Returns how many messages were restored.
    pub async fn recover_dead_peers(
        &self,
        also: Option<&str>,
        dead_after: Duration,
    ) -> Result<usize, TransportError> {
        let peers: Vec<(String, f64)> = self.conn().hgetall(self.names().key(PEERS_HASH)).await?;
        let now = unix_now();
        let mut restored = 0;
        for (node, seen) in peers {
            let dead = Some(node.as_str()) == also || now - seen > dead_after.as_secs_f64();
            if dead {
                restored += self.recover_peer(&node).await?;
            }
        }
        Ok(restored)
    }

    /// Restores one dead peer's messages, unless another worker is already doing it.
    async fn recover_peer(&self, node: &str) -> Result<usize, TransportError> {
        let mut conn = self.conn();
        let claimed: Option<String> = redis::cmd("SET")
            .arg(claim_key(self, node))
            .arg(unix_now())
            .arg("NX")
            .arg("PX")
            .arg(60_000)
            .query_async(&mut conn)
            .await?;
        if claimed.is_none() {
            return Ok(0);
        }
        let tags: Vec<String> = conn.smembers(held_key(self, node)).await?;
        let mut restored = 0;
        for tag in &tags {
            match self.restore(tag, RestoreEnd::Front).await {
                Ok(RestoreOutcome::Restored) => restored += 1,
                Ok(_) => {}
                Err(e) => warn!(node, tag, error = %e, "could not restore a dead worker's message"),
            }
        }
        self.retire_peer(node).await?;
        let _: () = conn.del(claim_key(self, node)).await?;
        if restored > 0 {
            info!(node, restored, "restored the messages of a dead worker");
        }
        Ok(restored)
    }
}
