//! The kombu transport primitives against a real redis-server: priority lists, kombu's round-robin
//! order, the unacked hash/index, restores with `redelivered`, `restore_visible` under the shared
//! mutex, score refreshes, and the in-flight and held records that let the fleet give back what a
//! dead worker took.

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
    let taken = consumer.take(1).await.unwrap().pop().expect("a message");
    let (_, facts) = wire::delivery_facts(&taken.raw).unwrap();
    assert!(broker.hold_taken(&taken, &facts.tag, &facts.exchange, &facts.routing_key).await.unwrap());
    (id_of(&taken.raw), facts.tag)
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
    assert!(consumer.next_batch(4).await.unwrap().is_empty(), "an empty batch once the queues stay empty");

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

async fn queue_ids(conn: &mut redis::aio::ConnectionManager, key: &str) -> Vec<String> {
    let raw: Vec<Vec<u8>> = conn.lrange(key, 0, -1).await.unwrap();
    raw.iter().map(|r| id_of(r)).collect()
}

#[tokio::test]
async fn a_dead_instances_taken_and_held_messages_go_back_at_once() {
    let redis = RedisServer::start();
    let base = Broker::connect(&redis.url(0), TransportOptions::default()).await.unwrap();
    let mut conn = base.conn();
    for id in ["held", "taken", "waiting"] {
        base.push("q", 0, &message(id, "q", 0)).await.unwrap();
    }
    // The first life of node "w1" takes two messages and holds one, then dies (is dropped) before
    // it holds the second: that one exists only in its in-flight record.
    let first_life = base.for_node("w1");
    assert!(!first_life.announce_peer().await.unwrap(), "a first announcement finds no earlier one");
    assert!(first_life.announce_peer().await.unwrap(), "later ones find their predecessor");
    let mut consumer = QueueConsumer::new(&first_life, &["q".into()]).await.unwrap();
    let mut batch = consumer.take(2).await.unwrap();
    assert_eq!(batch.iter().map(|t| id_of(&t.raw)).collect::<Vec<_>>(), ["held", "taken"]);
    let taken = batch.pop().unwrap();
    let held = batch.pop().unwrap();
    let (_, facts) = wire::delivery_facts(&held.raw).unwrap();
    assert!(first_life.hold_taken(&held, &facts.tag, &facts.exchange, &facts.routing_key).await.unwrap());
    assert_eq!(queue_ids(&mut conn, "q").await, ["waiting"]);
    drop(consumer);

    // Another node does not touch a live (recently announced) instance.
    let other = base.for_node("w2");
    other.announce_peer().await.unwrap();
    assert_eq!(other.recover_dead_peers(None, Some(Duration::from_secs(60))).await.unwrap(), 0);

    // The next life of "w1" gives back both before it takes anything: the taken one exactly as it
    // was, at the consuming end; the held one restored with `redelivered`, also at that end.
    let second_life = base.for_node("w1");
    second_life.announce_peer().await.unwrap();
    assert_eq!(second_life.recover_dead_peers(Some("w1"), None).await.unwrap(), 2);
    let raw: Vec<Vec<u8>> = conn.lrange("q", 0, -1).await.unwrap();
    let ids: Vec<String> = raw.iter().map(|r| id_of(r)).collect();
    assert_eq!(ids, ["waiting", "taken", "held"], "both go back to the consuming end");
    assert_eq!(raw[1], taken.raw, "a taken message goes back byte for byte");
    assert!(Envelope::decode(&raw[2]).unwrap().redelivered());
    let (unacked, keys): (usize, Vec<String>) =
        (conn.hlen("unacked").await.unwrap(), conn.keys("celery-proto.*").await.unwrap());
    assert_eq!(unacked, 0);
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, ["celery-proto.peers"], "the dead life's records are gone");
    let peers: Vec<String> = conn.hkeys("celery-proto.peers").await.unwrap();
    assert!(!peers.iter().any(|p| p == first_life.instance()), "{peers:?}");

    // The dead life, if it was only slow, learns that its message was given back.
    assert!(!first_life.hold_taken(&taken, "late-tag", "", "q").await.unwrap());
    assert!(!first_life.announce_peer().await.unwrap(), "its announcement had vanished");
}

#[tokio::test]
async fn a_silent_instance_is_recovered_after_the_dead_peer_limit() {
    let redis = RedisServer::start();
    let base = Broker::connect(&redis.url(0), TransportOptions::default()).await.unwrap();
    let mut conn = base.conn();
    base.push("q", 0, &message("m", "q", 0)).await.unwrap();
    // An instance silent for 100 s, on a Redis that started a moment ago: after a restart the
    // others may still be reconnecting, so within the limit plus as much again nobody is taken
    // for dead.
    let long_ago = redis_time(&mut conn).await - 100.0;
    let _: () = conn.hset("celery-proto.peers", "w9@h#old", long_ago).await.unwrap();
    let watcher = base.for_node("w2");
    assert_eq!(watcher.recover_dead_peers(None, Some(Duration::from_secs(30))).await.unwrap(), 0);
    let peers: Vec<String> = conn.hkeys("celery-proto.peers").await.unwrap();
    assert_eq!(peers, ["w9@h#old"], "not taken for dead right after a Redis start");

    // Once Redis has been up for twice the limit, silence beyond the limit is death.
    while server_uptime(&mut conn).await < 2 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let silent = base.for_node("w1");
    silent.announce_peer().await.unwrap();
    let mut consumer = QueueConsumer::new(&silent, &["q".into()]).await.unwrap();
    assert_eq!(consumer.take(8).await.unwrap().len(), 1);
    assert_eq!(
        watcher.recover_dead_peers(None, Some(Duration::from_secs(1))).await.unwrap(),
        0,
        "the old one held nothing"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(watcher.recover_dead_peers(None, Some(Duration::from_secs(1))).await.unwrap(), 1);
    assert_eq!(queue_ids(&mut conn, "q").await, ["m"]);
}

async fn redis_time(conn: &mut redis::aio::ConnectionManager) -> f64 {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(conn).await.unwrap();
    secs as f64 + micros as f64 / 1e6
}

async fn server_uptime(conn: &mut redis::aio::ConnectionManager) -> u64 {
    let info: String = redis::cmd("INFO").arg("server").query_async(conn).await.unwrap();
    info.lines().find_map(|l| l.strip_prefix("uptime_in_seconds:")).unwrap().trim().parse().unwrap()
}
