//! Events: a Python event receiver (what `celery events` and Flower use) sees the Rust worker
//! come online, beat, run a task (with -E) and go offline.

mod common;

use celery_proto::json::{self, PyValue};
use common::{Env, PATIENCE, spawn_client};
use test_support::wait_until;

#[test]
fn python_event_receiver_sees_worker_and_task_events() {
    let env = Env::start();
    let out_path = env.logs.path().join("events.json");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut receiver = spawn_client(&env, &["events", "ev1@test", "--max", "80"], out);
    // Wait until the receiver's PSUBSCRIBE is in place.
    assert!(wait_until(PATIENCE, || {
        let n: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut env.broker()).unwrap();
        n >= 1
    }));
    let worker = env.rust_worker("ev1", "rq", &["-E"]);
    env.client(&["send", "demo.add", "[4, 5]", "--queue", "rq", "--id", "evtask"]);
    env.python_result("evtask", 60);
    // At least one heartbeat (every 2 s) before going offline.
    assert!(wait_until(PATIENCE, || worker.log_text().contains("succeeded")));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    worker.stop();
    assert!(receiver.wait_timeout(PATIENCE).is_some(), "the receiver did not see worker-offline");

    let seen = json::parse(&std::fs::read(&out_path).unwrap()).unwrap();
    let events: Vec<(String, String, String)> = seen
        .as_list()
        .unwrap()
        .iter()
        .map(|e| {
            let d = e.as_dict().unwrap();
            let text = |k: &str| d.get(k).and_then(PyValue::as_str).unwrap_or_default().to_string();
            (text("type"), text("hostname"), text("uuid"))
        })
        .collect();
    let has = |kind: &str, uuid: &str| {
        events.iter().any(|(t, h, u)| t == kind && h == "ev1@test" && (uuid.is_empty() || u == uuid))
    };
    for kind in ["worker-online", "worker-heartbeat", "worker-offline"] {
        assert!(has(kind, ""), "no {kind} in {events:?}");
    }
    for kind in ["task-received", "task-started", "task-succeeded"] {
        assert!(has(kind, "evtask"), "no {kind} in {events:?}");
    }
}
