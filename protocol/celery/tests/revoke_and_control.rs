//! Remote control from real Python Celery: `celery inspect ping/active/...` list the Rust worker,
//! and `revoke` discards queued and ETA-held messages and terminates running ones.

mod common;

use std::process::Command;

use common::{Env, PATIENCE, python_dir};
use test_support::{venv_bin, wait_until};

fn celery_cli(env: &Env, args: &[&str]) -> String {
    let out = Command::new(venv_bin("celery"))
        .current_dir(python_dir())
        .args(["-A", "demo_app"])
        .args(args)
        .env("CELERY_BROKER_URL", env.broker_url())
        .env("CELERY_RESULT_BACKEND", env.backend_url())
        .output()
        .unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn status(env: &Env, id: &str) -> Option<String> {
    env.stored_status(id)
}

#[test]
fn celery_inspect_lists_the_rust_worker_and_revoke_terminates_a_running_task() {
    let env = Env::start();
    let mut worker = env.rust_worker("rs1", "rq,rq2", &["-c", "2"]);

    let ping = celery_cli(&env, &["inspect", "ping", "--timeout", "3"]);
    assert!(ping.contains("rs1@test: OK") && ping.contains("pong"), "{ping}");
    let registered = celery_cli(&env, &["inspect", "registered", "--timeout", "3"]);
    assert!(registered.contains("demo.spawn"), "{registered}");
    let queues = env.client(&["inspect", "active_queues"]);
    assert!(queues.contains("\"name\": \"rq2\""), "{queues}");
    let stats = env.client(&["inspect", "stats"]);
    assert!(stats.contains("\"prefetch_count\": 8"), "{stats}");

    env.client(&["send", "demo.sleep", "[120]", "--queue", "rq", "--id", "runner"]);
    assert!(wait_until(PATIENCE, || worker.log_text().contains("started")));
    let active = celery_cli(&env, &["inspect", "active", "--timeout", "3"]);
    assert!(active.contains("runner") && active.contains("demo.sleep"), "{active}");

    env.client(&["revoke", "runner", "--terminate"]);
    assert!(
        wait_until(PATIENCE, || worker.log_text().contains("terminated by revoke")),
        "{}",
        worker.log_text()
    );
    let result = env.python_result("runner", 30);
    let result = result.as_dict().unwrap();
    assert_eq!(result.get("status").and_then(|s| s.as_str()), Some("REVOKED"), "{result:?}");
    assert_eq!(result.get("exc_type").and_then(|s| s.as_str()), Some("TaskRevokedError"));
    // The slot is free again and the worker still works.
    env.client(&["send", "demo.add", "[1, 2]", "--queue", "rq", "--id", "after"]);
    assert_eq!(
        env.python_result("after", 60).as_dict().unwrap().get("result").and_then(|v| v.as_i64()),
        Some(3)
    );
    assert!(worker.is_running());
    assert_eq!(env.unacked_len(), 0);

    // `celery control shutdown` stops it (warm).
    let out = celery_cli(&env, &["control", "shutdown", "--destination", "rs1@test", "--timeout", "3"]);
    assert!(out.contains("Warm shutdown") || out.contains("rs1@test"), "{out}");
    assert!(worker.guard.wait_timeout(PATIENCE).is_some(), "{}", worker.log_text());
}

#[test]
fn revoke_discards_queued_and_eta_held_messages() {
    let env = Env::start();
    let worker = env.rust_worker("rs1", "rq", &["-c", "1"]);
    // One slot: the blocker runs (until it is terminated), the next message waits in the
    // prefetch window, the third waits for its ETA.
    env.client(&["send", "demo.sleep", "[300]", "--queue", "rq", "--id", "blocker"]);
    assert!(wait_until(PATIENCE, || worker.log_text().contains("started task=demo.sleep id=blocker")));
    env.client(&["send", "demo.add", "[1, 1]", "--queue", "rq", "--id", "queued"]);
    env.client(&["send", "demo.add", "[2, 2]", "--queue", "rq", "--id", "eta", "--countdown", "300"]);
    assert!(wait_until(PATIENCE, || {
        let log = worker.log_text();
        log.contains("id=queued") && log.contains("scheduled (ETA)")
    }));
    // `inspect reserved` / `scheduled` show them as a Python worker would.
    let reserved = env.client(&["inspect", "reserved"]);
    assert!(reserved.contains("\"id\": \"queued\""), "{reserved}");
    let scheduled = env.client(&["inspect", "scheduled"]);
    assert!(scheduled.contains("\"id\": \"eta\"") && scheduled.contains("\"eta\": \""), "{scheduled}");
    env.client(&["revoke", "queued"]);
    env.client(&["revoke", "eta"]);

    // The ETA-held message is discarded at once: acked, REVOKED, never run.
    assert!(wait_until(PATIENCE, || worker.log_text().contains("discarding revoked ETA task")));
    // The queued one is discarded when its turn comes, once the blocker is terminated.
    env.client(&["revoke", "blocker", "--terminate"]);
    assert!(wait_until(PATIENCE, || worker
        .log_text()
        .lines()
        .any(|l| l.contains("discarding revoked task") && l.contains("queued"))));
    assert!(wait_until(PATIENCE, || env.unacked_len() == 0), "messages left unacked");
    let log = worker.stop();
    assert_eq!(status(&env, "queued").as_deref(), Some("REVOKED"));
    assert_eq!(status(&env, "eta").as_deref(), Some("REVOKED"));
    assert_eq!(status(&env, "blocker").as_deref(), Some("REVOKED"));
    assert!(
        !log.lines().any(|l| l.contains("started") && (l.contains("queued") || l.contains("id=eta"))),
        "{log}"
    );
    assert!(env.list(b"rq").is_empty(), "nothing went back to the queue");
}
