//! Publishing: task queues (LPUSH), direct-exchange routing through bindings, and fanout (PUBLISH).

use redis::AsyncCommands;

use super::{Broker, TransportError};

impl Broker {
    /// Declares `queue` the way Celery does for `Queue(name)`: exchange and routing key equal to
    /// the queue name, bound in `_kombu.binding.<queue>` (and kombu 5.7's `_permanent` twin).
    pub async fn declare_queue(&self, queue: &str) -> Result<(), TransportError> {
        let names = self.names();
        let member = names.binding_member(queue, "", queue);
        redis::pipe()
            .sadd(names.binding_key(queue), &member)
            .sadd(names.binding_permanent_key(queue), &member)
            .query_async::<()>(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Adds a binding of `queue` to `exchange` with `routing_key` (used for the worker's pidbox queue).
    pub async fn bind(&self, exchange: &str, routing_key: &str, queue: &str) -> Result<(), TransportError> {
        let names = self.names();
        let member = names.binding_member(routing_key, "", queue);
        let _: i64 = self.conn().sadd(names.binding_key(exchange), member).await?;
        Ok(())
    }

    /// LPUSHes an envelope to `queue` through the anonymous exchange, into its priority list.
    pub async fn push(&self, queue: &str, priority: i64, envelope: &[u8]) -> Result<(), TransportError> {
        let key = self.names().queue_key(queue, priority);
        let _: i64 = self.conn().lpush(key, envelope).await?;
        Ok(())
    }

    /// Publishes to a direct exchange: every queue bound with exactly `routing_key` gets a copy.
    /// Returns how many queues that was (0 = nobody bound, the message is dropped like kombu does).
    pub async fn publish_direct(
        &self,
        exchange: &str,
        routing_key: &str,
        priority: i64,
        envelope: &[u8],
    ) -> Result<usize, TransportError> {
        let names = self.names();
        let members: Vec<Vec<u8>> = self.conn().smembers(names.binding_key(exchange)).await?;
        let mut delivered = 0;
        for member in members {
            let member = String::from_utf8_lossy(&member);
            if let Some((rk, _pattern, queue)) = names.parse_binding_member(&member)
                && rk == routing_key
            {
                self.push(queue, priority, envelope).await?;
                delivered += 1;
            }
        }
        Ok(delivered)
    }

    /// PUBLISHes to a fanout exchange's channel; returns the number of subscribers that got it.
    pub async fn publish_fanout(
        &self,
        exchange: &str,
        routing_key: &str,
        envelope: &[u8],
    ) -> Result<usize, TransportError> {
        let channel = self.names().fanout_channel(exchange, routing_key);
        let receivers: usize = self.conn().publish(channel, envelope).await?;
        Ok(receivers)
    }
}
