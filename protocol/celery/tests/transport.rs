//! The kombu transport primitives against a real redis-server: priority lists, BRPOP order, the
//! unacked hash/index, restores with `redelivered`, `restore_visible` under the shared mutex, and
//! score refreshes.

use std::time::Duration;

use celery_proto::json::PyValue;
use celery_proto::message::{Envelope, TaskMessageBuilder};
use celery_proto::transport::{Broker, QueueConsumer, RestoreEnd, RestoreOutcome, TransportOptions, wire};
use redis::AsyncCommands;
use test_support::RedisServer;

fn message(id: &str, queue: &str, priority: u8) -> Vec<u8> {
    TaskMessageBuilder::new("demo.add", queue).id(id).priority(priority).build().unwrap().to_bytes()
}

fn id_of(raw: &[u8]) -> String {
    let env = Envelope::decode(raw).unwrap();
    env.headers().unwrap().get("id").and_then(PyValue::as_str).unwrap().to_string()
}

async fn pop_and_hold(broker: &Broker, consumer: &mut QueueConsumer) -> (String, String) {
    let popped = consumer.pop().await.unwrap().expect("a message");
    let (_, facts) = wire::delivery_facts(&popped.raw).unwrap();
    broker.hold(&facts.tag, &facts.exchange, &facts.routing_key, &popped.raw).await.unwrap();
    (id_of(&popped.raw), facts.tag)
}

#[tokio::test]
async fn priorities_round_robin_ack_and_restore() {
    let redis = RedisServer::start();
    let broker = Broker::connect(&redis.url(2), TransportOptions::default()).await.unwrap();
    let mut conn = broker.conn();
    broker.push("qa", 9, &message("a-low", "qa", 9)).await.unwrap();
    broker.push("qa", 0, &message("a-high", "qa", 0)).await.unwrap();
    broker.push("qb", 0, &message("b-high", "qb", 0)).await.unwrap();
    let low: i64 = conn.llen("qa\x06\x169").await.unwrap();
    assert_eq!(low, 1, "priority 9 lands in the step-9 list");

    let mut consumer = QueueConsumer::new(&broker, &["qa".into(), "qb".into()]).await.unwrap();
    // Step 0 of every queue before any step 9; after serving qa, qb comes first.
    let (first, tag1) = pop_and_hold(&broker, &mut consumer).await;
    assert_eq!(first, "a-high");
    assert_eq!(consumer.queues(), ["qb", "qa"]);
    let (second, tag2) = pop_and_hold(&broker, &mut consumer).await;
    assert_eq!(second, "b-high");
    let (third, tag3) = pop_and_hold(&broker, &mut consumer).await;
    assert_eq!(third, "a-low");
    assert!(consumer.pop().await.unwrap().is_none(), "BRPOP times out on empty queues");

    let held: usize = conn.hlen("unacked").await.unwrap();
    assert_eq!(held, 3);
    broker.ack(&tag2).await.unwrap();
    // Requeue (back of the line) and restore (front) keep the tag and mark redelivered.
    broker.push("qa", 0, &message("a-other", "qa", 0)).await.unwrap();
    assert_eq!(broker.restore(&tag1, RestoreEnd::Front).await.unwrap(), RestoreOutcome::Restored);
    assert_eq!(broker.restore(&tag3, RestoreEnd::Back).await.unwrap(), RestoreOutcome::Restored);
    assert_eq!(broker.restore(&tag3, RestoreEnd::Back).await.unwrap(), RestoreOutcome::AlreadyGone);
    let front: Vec<u8> = conn.rpop("qa", None).await.unwrap();
    assert_eq!(id_of(&front), "a-high");
    let envelope = Envelope::decode(&front).unwrap();
    assert!(envelope.redelivered());
    assert_eq!(envelope.delivery_tag(), Some(tag1.as_str()));
    let next: Vec<u8> = conn.rpop("qa", None).await.unwrap();
    assert_eq!(id_of(&next), "a-other");
    let back: Vec<u8> = conn.rpop("qa\x06\x169", None).await.unwrap();
    assert_eq!(id_of(&back), "a-low", "a restored message keeps its priority list");
    let (held, indexed): (usize, usize) =
        (conn.hlen("unacked").await.unwrap(), conn.zcard("unacked_index").await.unwrap());
    assert_eq!((held, indexed), (0, 0));
}

#[tokio::test]
async fn restore_visible_respects_the_timeout_the_mutex_and_refreshes() {
    let redis = RedisServer::start();
    let options =
        TransportOptions { visibility_timeout: Duration::from_secs(2), ..TransportOptions::default() };
    let broker = Broker::connect(&redis.url(0), options).await.unwrap();
    let mut conn = broker.conn();
    broker.push("q", 0, &message("old", "q", 0)).await.unwrap();
    broker.push("q", 0, &message("fresh", "q", 0)).await.unwrap();
    let mut consumer = QueueConsumer::new(&broker, &["q".into()]).await.unwrap();
    let (_, old_tag) = pop_and_hold(&broker, &mut consumer).await;
    let (_, fresh_tag) = pop_and_hold(&broker, &mut consumer).await;
    // Age "old" beyond the timeout; keep "fresh" fresh as a live holder would.
    let _: i64 = conn.zadd("unacked_index", &old_tag, 1000.0).await.unwrap();
    broker.refresh_held(std::slice::from_ref(&fresh_tag)).await.unwrap();

    // While someone else holds the mutex, nothing is restored.
    let _: () = conn.set("unacked_mutex", "someone-else").await.unwrap();
    assert_eq!(broker.restore_visible().await.unwrap(), 0);
    let _: () = conn.del("unacked_mutex").await.unwrap();

    assert_eq!(broker.restore_visible().await.unwrap(), 1);
    let restored: Vec<Vec<u8>> = conn.lrange("q", 0, -1).await.unwrap();
    assert_eq!(restored.iter().map(|r| id_of(r)).collect::<Vec<_>>(), ["old"]);
    let mutex: Option<String> = conn.get("unacked_mutex").await.unwrap();
    assert_eq!(mutex, None, "the mutex is released");
    let still_held: Vec<String> = conn.hkeys("unacked").await.unwrap();
    assert_eq!(still_held, std::slice::from_ref(&fresh_tag));
    // Refresh never resurrects an acked entry (ZADD XX).
    broker.ack(&fresh_tag).await.unwrap();
    broker.refresh_held(&[fresh_tag]).await.unwrap();
    let indexed: usize = conn.zcard("unacked_index").await.unwrap();
    assert_eq!(indexed, 0);
}

#[tokio::test]
async fn undecodable_unacked_entries_are_dead_lettered_not_lost() {
    let redis = RedisServer::start();
    let broker = Broker::connect(&redis.url(0), TransportOptions::default()).await.unwrap();
    let mut conn = broker.conn();
    let _: () = conn.hset("unacked", "t1", "[not json").await.unwrap();
    let _: () = conn.zadd("unacked_index", "t1", 1.0).await.unwrap();
    assert_eq!(broker.restore("t1", RestoreEnd::Front).await.unwrap(), RestoreOutcome::DeadLettered);
    let dead: Vec<Vec<u8>> = conn.lrange("celery-proto.dead-letter", 0, -1).await.unwrap();
    assert_eq!(dead, [b"[not json".to_vec()]);
    let held: usize = conn.hlen("unacked").await.unwrap();
    assert_eq!(held, 0);
}
