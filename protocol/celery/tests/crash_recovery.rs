//! Crash recovery through kombu's `unacked` structures: a worker killed with SIGKILL mid-task
//! under late ack gets its message restored and run by another worker — Rust by Rust (Rust-only
//! fleet, short visibility timeout, live holders refresh their scores), Rust by Python and Python
//! by Rust (the entries are written and read exactly as kombu does).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Env, PATIENCE};
use test_support::wait_until;

const RUST_ONLY: [&str; 4] = ["--acks-late", "--rust-only-visibility-timeout", "3", "-c1"];

fn started(log: &str, id: &str) -> usize {
    log.lines().filter(|l| l.contains("started") && l.contains(id)).count()
}

fn oldest_unacked_age(env: &Env) -> Option<f64> {
    let scores: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg("unacked_index")
        .arg(0)
        .arg(0)
        .arg("WITHSCORES")
        .query(&mut env.broker())
        .unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    scores.first().map(|(_, score)| now - score)
}

#[test]
fn rust_only_fleet_recovers_a_killed_workers_message_but_not_a_live_ones() {
    let env = Env::start();
    let mut rs1 = env.rust_worker("rs1", "rq", &RUST_ONLY);
    env.client(&["send", "demo.sleep", "[5]", "--queue", "rq", "--id", "victim"]);
    assert!(wait_until(PATIENCE, || started(&rs1.log_text(), "victim") == 1), "{}", rs1.log_text());
    rs1.guard.signal(libc::SIGKILL);
    assert!(rs1.guard.wait_timeout(PATIENCE).is_some());
    assert_eq!(env.unacked_len(), 1, "late ack: the killed worker's message is still unacked");

    let rs2 = env.rust_worker("rs2", "rq", &RUST_ONLY);
    let result = env.python_result("victim", 60);
    assert_eq!(
        result.as_dict().unwrap().get("status").and_then(|s| s.as_str()),
        Some("SUCCESS"),
        "{result:?}"
    );
    assert_eq!(started(&rs2.log_text(), "victim"), 1, "{}", rs2.log_text());
    assert!(wait_until(PATIENCE, || env.unacked_len() == 0));

    // A live holder refreshes its scores: a second worker started while rs2 runs a task that
    // outlives the visibility timeout twice over does not take it away.
    env.client(&["send", "demo.sleep", "[6]", "--queue", "rq", "--id", "long"]);
    assert!(wait_until(PATIENCE, || started(&rs2.log_text(), "long") == 1), "{}", rs2.log_text());
    let rs3 = env.rust_worker("rs3", "rq", &RUST_ONLY);
    let result = env.python_result("long", 60);
    assert_eq!(result.as_dict().unwrap().get("status").and_then(|s| s.as_str()), Some("SUCCESS"));
    assert_eq!(started(&rs3.log_text(), "long"), 0, "restored from a live worker:\n{}", rs3.log_text());
    assert_eq!(started(&rs2.log_text(), "long"), 1);
    rs3.stop();
    rs2.stop();
}

#[test]
fn python_worker_restores_a_killed_rust_workers_message() {
    let env = Env::start();
    let mut rs1 = env.rust_worker("rs1", "rq", &["--acks-late", "-c1"]);
    env.client(&["send", "demo.sleep", "[5]", "--queue", "rq", "--id", "victim"]);
    assert!(wait_until(PATIENCE, || started(&rs1.log_text(), "victim") == 1));
    rs1.guard.signal(libc::SIGKILL);
    assert!(rs1.guard.wait_timeout(PATIENCE).is_some());
    // Python scans at start-up; make sure the entry is older than its visibility timeout then.
    assert!(wait_until(PATIENCE, || oldest_unacked_age(&env).is_some_and(|age| age > 3.0)));
    let py = env.python_worker("py1", "rq", &[("DEMO_VISIBILITY_TIMEOUT", "2")]);
    let result = env.python_result("victim", 60);
    assert_eq!(
        result.as_dict().unwrap().get("status").and_then(|s| s.as_str()),
        Some("SUCCESS"),
        "{result:?}"
    );
    assert!(py.log_text().contains("victim"), "{}", py.log_text());
    assert!(wait_until(PATIENCE, || env.unacked_len() == 0));
}

#[test]
fn rust_worker_restores_a_killed_python_workers_message() {
    let env = Env::start();
    let mut py = env.python_worker("py1", "rq", &[("DEMO_ACKS_LATE", "1")]);
    env.client(&["send", "demo.sleep", "[6]", "--queue", "rq", "--id", "victim"]);
    assert!(wait_until(PATIENCE, || py.log_text().contains("victim") && env.unacked_len() == 1));
    py.guard.signal(libc::SIGKILL);
    assert!(py.guard.wait_timeout(PATIENCE).is_some());
    // The Rust worker restores the entry Python wrote; it comes back marked redelivered.
    let rs = env.rust_worker("rs1", "rq", &RUST_ONLY);
    let result = env.python_result("victim", 60);
    assert_eq!(
        result.as_dict().unwrap().get("status").and_then(|s| s.as_str()),
        Some("SUCCESS"),
        "{result:?}"
    );
    let log = rs.stop();
    let line =
        log.lines().find(|l| l.contains("started") && l.contains("victim")).expect("the Rust worker ran it");
    assert!(line.contains("redelivered=true"), "{line}");
    assert_eq!(env.unacked_len(), 0);
}

#[test]
fn mixed_fleet_restores_a_killed_rust_workers_message_at_once_and_leaves_pythons_alone() {
    let env = Env::start();
    // A live Python worker holds (and runs) one message, unacknowledged like the Rust one, in the
    // same `unacked` hash (its own queue only so that it cannot prefetch the Rust worker's).
    let py = env.python_worker("py1", "pq", &[("DEMO_ACKS_LATE", "1")]);
    env.client(&["send", "demo.sleep", "[8]", "--queue", "pq", "--id", "pythons"]);
    assert!(wait_until(PATIENCE, || py.log_text().contains("pythons")));
    let mut rs1 = env.rust_worker("rs1", "rq", &["--acks-late", "-c1", "--dead-peer-after", "3"]);
    env.client(&["send", "demo.sleep", "[5]", "--queue", "rq", "--id", "victim"]);
    assert!(wait_until(PATIENCE, || started(&rs1.log_text(), "victim") == 1));
    // No pause before the kill: the hold itself recorded the message as rs1's.
    rs1.guard.signal(libc::SIGKILL);
    assert!(rs1.guard.wait_timeout(PATIENCE).is_some());
    // Mixed mode keeps kombu's 3600 s visibility timeout; the announcement is what brings it back.
    let rs2 = env.rust_worker("rs2", "rq,pq", &["--acks-late", "-c1", "--dead-peer-after", "3"]);
    let result = env.python_result("victim", 60);
    assert_eq!(
        result.as_dict().unwrap().get("status").and_then(|s| s.as_str()),
        Some("SUCCESS"),
        "{result:?}"
    );
    let pythons = env.python_result("pythons", 60);
    assert_eq!(pythons.as_dict().unwrap().get("status").and_then(|s| s.as_str()), Some("SUCCESS"));
    let log = rs2.stop();
    assert_eq!(started(&log, "victim"), 1, "{log}");
    assert_eq!(started(&log, "pythons"), 0, "the live Python worker's message must not run twice:\n{log}");
    assert!(wait_until(PATIENCE, || env.unacked_len() == 0));
}

#[test]
fn a_worker_restarted_under_its_name_runs_its_earlier_lifes_messages_at_once() {
    let env = Env::start();
    // Kombu's one-hour visibility timeout and no dead-peer limit: only the restart under the same
    // node name can bring the message back within the test's patience.
    let mut first = env.rust_worker("rs1", "rq", &["--acks-late", "-c1"]);
    env.client(&["send", "demo.sleep", "[4]", "--queue", "rq", "--id", "victim"]);
    assert!(wait_until(PATIENCE, || started(&first.log_text(), "victim") == 1), "{}", first.log_text());
    first.guard.signal(libc::SIGKILL);
    assert!(first.guard.wait_timeout(PATIENCE).is_some());
    assert_eq!(env.unacked_len(), 1);

    let second = env.rust_worker("rs1", "rq", &["--acks-late", "-c1"]);
    assert!(wait_until(PATIENCE, || started(&second.log_text(), "victim") == 1), "{}", second.log_text());
    let log = second.stop();
    assert!(log.contains("earlier life"), "{log}");
}

#[test]
fn a_redis_that_lost_its_data_is_reported_once_and_the_worker_goes_on() {
    let mut env = Env::start();
    let worker = env.rust_worker("rs1", "rq", &["--acks-late", "-c1"]);
    env.client(&["send", "demo.add", "[1, 2]", "--queue", "rq", "--id", "before"]);
    assert!(wait_until(PATIENCE, || started(&worker.log_text(), "before") == 1), "{}", worker.log_text());
    // Killed and started again without persistence: it comes back empty.
    env.redis.restart();
    let lost = |log: &str| log.lines().filter(|l| l.contains("Redis lost its data")).count();
    assert!(wait_until(PATIENCE, || lost(&worker.log_text()) == 1), "{}", worker.log_text());
    env.client(&["send", "demo.add", "[3, 4]", "--queue", "rq", "--id", "after"]);
    let result = env.python_result("after", 60);
    assert_eq!(
        result.as_dict().unwrap().get("status").and_then(|s| s.as_str()),
        Some("SUCCESS"),
        "{result:?}\n{}",
        worker.log_text()
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    let log = worker.stop();
    assert_eq!(lost(&log), 1, "one line, not one per heartbeat:\n{log}");
    assert!(!log.contains("announcement had vanished"), "{log}");
}
