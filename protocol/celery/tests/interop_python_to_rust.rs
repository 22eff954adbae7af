//! Python producer (real Celery 5.6 `send_task`/`apply_async`) -> Rust worker -> Python reads the
//! results with `AsyncResult.get()`.

mod common;

use common::Env;

#[test]
fn python_sends_rust_runs_python_reads_results() {
    let env = Env::start();
    let worker = env.rust_worker("rs1", "rq,other", &["-c", "2"]);
    // The suite asserts inside Python: priorities 4 and 9, countdown, expires in the future and
    // in the past (REVOKED), non-ASCII, lone surrogates, big ints, an explicit id, a failure that
    // Python rebuilds as ValueError, and a task that retries itself twice.
    let out = env.client(&["suite", "rq"]);
    assert!(out.contains("\"ok\""), "{out}");

    // Everything was acked and nothing was dead-lettered.
    assert_eq!(env.unacked_len(), 0);
    assert!(env.list(b"celery-proto.dead-letter").is_empty());
    let log = worker.stop();
    assert!(log.contains("worker stopped"), "{log}");
}

#[test]
fn countdown_task_is_held_in_unacked_until_its_eta() {
    let env = Env::start();
    let _worker = env.rust_worker("rs2", "rq", &[]);
    let sent =
        env.client(&["send", "demo.add", "[20, 22]", "--queue", "rq", "--countdown", "10", "--id", "eta-1"]);
    assert!(sent.contains("eta-1"));
    // Like a Python worker, the ETA message stays in `unacked` while it waits.
    assert!(
        test_support::wait_until(common::PATIENCE, || env.unacked_len() == 1
            && env.client(&["inspect", "scheduled"]).contains("eta-1")),
        "the ETA task was not held"
    );
    let result = env.python_result("eta-1", 60);
    assert_eq!(result.as_dict().unwrap().get("result").and_then(|v| v.as_i64()), Some(42), "{result:?}");
    assert!(test_support::wait_until(common::PATIENCE, || env.unacked_len() == 0));
}

#[test]
fn global_keyprefix_is_shared_with_python() {
    let env = Env::start();
    let _worker = env.rust_worker("rs3", "rq", &["--global-keyprefix", "pfx:"]);
    let prefix = [("DEMO_KEYPREFIX", "pfx:")];
    env.client_with(
        &["send", "demo.add", "[1, 2]", "--queue", "rq", "--id", "p1", "--priority", "6"],
        &prefix,
    );
    let out = env.client_with(&["get", "p1"], &prefix);
    assert!(out.contains("\"result\": 3"), "{out}");
    // Remote control goes through the prefixed pidbox channel too.
    let ping = env.client_with(&["inspect", "ping"], &prefix);
    assert!(ping.contains("rs3@test"), "{ping}");
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut env.broker()).unwrap();
    assert!(keys.iter().all(|k| k.starts_with("pfx:")), "unprefixed broker keys: {keys:?}");
}

#[test]
fn higher_priority_runs_first_once_the_window_has_room() {
    let env = Env::start();
    // Window of one message, held until the task ends: nothing else is prefetched meanwhile.
    let worker = env.rust_worker("rs4", "rq", &["-c", "1", "--prefetch-multiplier", "1", "--acks-late"]);
    env.client(&["send", "demo.sleep", "[300]", "--queue", "rq", "--id", "blocker"]);
    assert!(test_support::wait_until(common::PATIENCE, || worker.log_text().contains("id=blocker")));
    env.client(&["send", "demo.add", "[1, 1]", "--queue", "rq", "--id", "low", "--priority", "9"]);
    env.client(&["send", "demo.add", "[2, 2]", "--queue", "rq", "--id", "high", "--priority", "0"]);
    env.client(&["revoke", "blocker", "--terminate"]);
    for id in ["low", "high"] {
        let result = env.python_result(id, 60);
        assert_eq!(result.as_dict().unwrap().get("status").and_then(|s| s.as_str()), Some("SUCCESS"));
    }
    let log = worker.log_text();
    let position = |id: &str| log.find(&format!("started task=demo.add id={id}")).expect(id);
    assert!(position("high") < position("low"), "priority 0 must run before 9:\n{log}");
}
