//! The Rust locks against python-redis-lock 4.0 itself: each side blocks the other while holding
//! the same lock name, and a release on either side wakes the other.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{connect, python_script};
use irods_ingest::lock::{LockError, LockOptions, Locks, UNLOCK_SCRIPT, UNLOCK_SCRIPT_SHA1};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const NAME: &str = "sync_file:/x:/y";

struct PyLocker {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl PyLocker {
    fn spawn(port: u16, mode: &str, name: &str) -> Self {
        let mut child = Command::new(test_support::venv_python())
            .arg(python_script("lock_probe.py"))
            .args([&port.to_string(), "0", mode, name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .expect("python locker answers")
            .unwrap()
            .expect("python locker still running")
    }

    async fn poke(&mut self) {
        self.child.stdin.as_mut().unwrap().write_all(b"\n").await.unwrap();
    }
}

async fn locks(url: &str) -> (Locks, redis::aio::ConnectionManager) {
    let (client, conn) = connect(url).await;
    (Locks::new(client, conn.clone()), conn)
}

async fn get(conn: &mut redis::aio::ConnectionManager, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query_async(conn).await.unwrap()
}

#[tokio::test]
async fn python_holder_blocks_rust_until_it_releases() {
    let redis = test_support::RedisServer::start();
    let (locks, mut conn) = locks(&redis.url(0)).await;
    let mut python = PyLocker::spawn(redis.port(), "hold", NAME);
    let held = python.line().await;
    let python_id = held.strip_prefix("held ").unwrap().to_owned();
    assert_eq!(get(&mut conn, "lock:sync_file:/x:/y").await.as_deref(), Some(python_id.as_str()));

    assert!(locks.try_acquire(NAME, LockOptions::default()).await.unwrap().is_none());
    let acquire = locks.acquire(NAME, LockOptions::default());
    tokio::pin!(acquire);
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), &mut acquire).await.is_err(),
        "acquired a held lock"
    );

    python.poke().await;
    assert_eq!(python.line().await, "released");
    let guard =
        tokio::time::timeout(Duration::from_secs(30), acquire).await.expect("woken by the release").unwrap();
    assert_eq!(get(&mut conn, "lock:sync_file:/x:/y").await.as_deref(), Some(guard.id()));
    assert_ne!(guard.id(), python_id);
    guard.release().await.unwrap();
    assert_eq!(get(&mut conn, "lock:sync_file:/x:/y").await, None);
    let exists: Vec<i64> =
        redis::cmd("SCRIPT").arg("EXISTS").arg(UNLOCK_SCRIPT_SHA1).query_async(&mut conn).await.unwrap();
    assert_eq!(exists, vec![1], "the release ran the library's script (same SHA1)");
}

#[tokio::test]
async fn rust_holder_blocks_python_until_it_releases() {
    let redis = test_support::RedisServer::start();
    let (locks, _conn) = locks(&redis.url(0)).await;
    // An expiring, renewed lock: Python lockers still only see a key they cannot SET NX.
    let guard = locks.acquire(NAME, LockOptions::expiring(Duration::from_secs(5))).await.unwrap();

    let mut attempt = PyLocker::spawn(redis.port(), "try", NAME);
    assert_eq!(attempt.line().await, "busy");

    let mut waiter = PyLocker::spawn(redis.port(), "wait", NAME);
    assert_eq!(waiter.line().await, "waiting");
    let early = tokio::time::timeout(Duration::from_millis(1500), waiter.lines.next_line()).await;
    assert!(early.is_err(), "python acquired a held lock: {early:?}");

    guard.release().await.unwrap();
    let acquired = waiter.line().await;
    assert!(acquired.starts_with("acquired "), "{acquired}");
    assert_eq!(waiter.line().await, "released");
    assert!(waiter.child.wait().await.unwrap().success());
}

#[tokio::test]
async fn the_release_script_is_the_libraries_byte_for_byte() {
    let redis = test_support::RedisServer::start();
    let (ok, stdout, stderr) = common::run_python(
        &[python_script("lock_probe.py").to_str().unwrap(), &redis.port().to_string(), "0", "script", "-"],
        &[],
    );
    assert!(ok, "{stderr}");
    let (sha, text) = stdout.trim().split_once(' ').unwrap();
    assert_eq!(sha, UNLOCK_SCRIPT_SHA1);
    assert_eq!(common::unb64(text), UNLOCK_SCRIPT.as_bytes());
}

#[tokio::test]
async fn expiring_locks_renew_while_held_and_free_themselves_when_abandoned() {
    let redis = test_support::RedisServer::start();
    let (locks, mut conn) = locks(&redis.url(0)).await;
    let guard = locks.acquire("renewed", LockOptions::expiring(Duration::from_secs(1))).await.unwrap();
    // Three expiry periods later the key is still ours: renewal kept it alive.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(get(&mut conn, "lock:renewed").await.as_deref(), Some(guard.id()));
    assert!(!guard.is_lost());
    let ttl: i64 = redis::cmd("TTL").arg("lock:renewed").query_async(&mut conn).await.unwrap();
    assert!(ttl > 0, "ttl {ttl}");
    guard.release().await.unwrap();

    // A holder that dies without releasing (no Drop runs): its key expires and waiters get in,
    // Rust waiters by re-checking, Python lockers by SET NX.
    let options =
        LockOptions { expire: Some(Duration::from_secs(1)), renew: false, recheck: Duration::from_secs(1) };
    std::mem::forget(locks.acquire("abandoned", options).await.unwrap());
    let next = tokio::time::timeout(Duration::from_secs(30), locks.acquire("abandoned", options))
        .await
        .expect("the abandoned lock expired")
        .unwrap();
    next.release().await.unwrap();
    std::mem::forget(locks.acquire("abandoned", options).await.unwrap());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut python = PyLocker::spawn(redis.port(), "try", "abandoned");
    assert_eq!(python.line().await, "acquired");
}

#[tokio::test]
async fn rust_waiters_are_woken_by_rust_releases_and_lost_locks_are_reported() {
    let redis = test_support::RedisServer::start();
    let (locks, mut conn) = locks(&redis.url(0)).await;
    let first = locks.acquire("shared", LockOptions::default()).await.unwrap();
    let contender = tokio::spawn({
        let locks = locks.clone();
        async move { locks.acquire("shared", LockOptions::default()).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!contender.is_finished());
    first.release().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(30), contender).await.unwrap().unwrap().unwrap();
    assert_eq!(get(&mut conn, "lock:shared").await.as_deref(), Some(second.id()));
    second.release().await.unwrap();

    let third = locks.acquire("shared", LockOptions::default()).await.unwrap();
    redis::cmd("SET").arg("lock:shared").arg("someone-else").query_async::<()>(&mut conn).await.unwrap();
    assert!(matches!(third.release().await, Err(LockError::NotHeld { .. })));
    assert_eq!(get(&mut conn, "lock:shared").await.as_deref(), Some("someone-else"));
}

#[tokio::test]
async fn python_waiter_is_woken_when_a_dead_rust_holders_lock_expires() {
    let redis = test_support::RedisServer::start();
    let (locks, mut conn) = locks(&redis.url(0)).await;
    // A holder that dies: its lock expires after a second, and nobody runs the release script.
    let options =
        LockOptions { expire: Some(Duration::from_secs(1)), renew: false, ..LockOptions::default() };
    let guard = locks.acquire(NAME, options).await.unwrap();
    std::mem::forget(guard);
    let mut waiter = PyLocker::spawn(redis.port(), "wait", NAME);
    assert_eq!(waiter.line().await, "waiting");
    // python-redis-lock waits for the signal without a timeout: the expiry alone wakes nobody.
    let early = tokio::time::timeout(Duration::from_millis(2500), waiter.lines.next_line()).await;
    assert!(early.is_err(), "woken without a signal: {early:?}");
    assert_eq!(get(&mut conn, "lock:sync_file:/x:/y").await, None, "the key expired");

    assert_eq!(locks.release_orphaned().await.unwrap(), 1);
    let acquired = waiter.line().await;
    assert!(acquired.starts_with("acquired "), "{acquired}");
    assert_eq!(waiter.line().await, "released");
    assert_eq!(locks.release_orphaned().await.unwrap(), 0, "the registration is gone");

    // A live, renewed holder is never signalled over.
    let live = locks.acquire(NAME, LockOptions::expiring(Duration::from_secs(1))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(locks.release_orphaned().await.unwrap(), 0);
    assert_eq!(get(&mut conn, "lock:sync_file:/x:/y").await.as_deref(), Some(live.id()));
    live.release().await.unwrap();
}

#[tokio::test]
async fn a_dead_holders_locks_are_released_at_once() {
    let redis = test_support::RedisServer::start();
    let (locks, mut conn) = locks(&redis.url(0)).await;
    locks.set_holder("w1@h#abc", "celery-proto.peers");
    redis::cmd("HSET")
        .arg("celery-proto.peers")
        .arg("w1@h#abc")
        .arg(1.0)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let options =
        LockOptions { expire: Some(Duration::from_secs(60)), renew: false, ..LockOptions::default() };
    let guard = locks.acquire(NAME, options).await.unwrap();
    std::mem::forget(guard);
    let mut waiter = PyLocker::spawn(redis.port(), "wait", NAME);
    assert_eq!(waiter.line().await, "waiting");
    assert_eq!(locks.release_orphaned().await.unwrap(), 0, "the holder is announced: alive");
    // The fleet takes the holder for dead (its announcement is removed): its lock goes at once,
    // not after its 60 s TTL.
    redis::cmd("HDEL").arg("celery-proto.peers").arg("w1@h#abc").query_async::<()>(&mut conn).await.unwrap();
    assert_eq!(locks.release_orphaned().await.unwrap(), 1);
    let acquired = waiter.line().await;
    assert!(acquired.starts_with("acquired "), "{acquired}");
    assert_eq!(waiter.line().await, "released");
}
