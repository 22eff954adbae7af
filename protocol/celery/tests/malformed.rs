//! Hostile and malformed messages: each is logged with what was wrong, moved byte-for-byte to the
//! dead-letter list `celery-proto.dead-letter`, and acked; the worker keeps working.
//! Also the unknown-task policies: dead-letter (default) and requeue for a mixed fleet.

mod common;

use celery_proto::json::{PyDict, PyValue};
use celery_proto::message::{Envelope, TaskMessageBuilder};
use common::{Env, PATIENCE};
use test_support::wait_until;

fn task(name: &str, id: &str) -> Envelope {
    TaskMessageBuilder::new(name, "rq").id(id).args(vec![PyValue::Int(1), PyValue::Int(2)]).build().unwrap()
}

fn with_body(id: &str, body: &str) -> Vec<u8> {
    let mut env = task("demo.add", id);
    env.fields_mut().insert("body", body);
    env.to_bytes()
}

fn push(env: &Env, queue: &str, raw: &[u8]) {
    let _: i64 = redis::cmd("LPUSH").arg(queue).arg(raw).query(&mut env.broker()).unwrap();
}

#[test]
fn malformed_messages_go_to_the_dead_letter_list_and_the_worker_survives() {
    let env = Env::start();
    let mut worker = env.rust_worker("rs1", "rq", &["-c", "2"]);

    let mut no_delivery_info = task("demo.add", "m-noinfo");
    let _ = no_delivery_info.properties_dict_mut().remove("delivery_info");
    let mut no_id = task("demo.add", "m-noid");
    let _ = no_id.headers_mut().remove("id");
    let mut no_task = task("demo.add", "m-notask");
    let _ = no_task.headers_mut().remove("task");
    let mut bad_eta = task("demo.add", "m-eta");
    bad_eta.headers_mut().insert("eta", "not a date");
    let mut chained = task("demo.add", "m-chain");
    let mut embed = PyDict::new();
    embed.insert("chain", PyValue::List(vec![PyValue::Dict(PyDict::new())]));
    let body = PyValue::List(vec![
        PyValue::List(vec![1.into(), 2.into()]),
        PyValue::Dict(PyDict::new()),
        PyValue::Dict(embed),
    ]);
    chained.set_json_body(&body);
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"this is not json".to_vec()),
        ("invalid UTF-8", b"\xff\xfe{\"body\": \x80}".to_vec()),
        ("top-level list", b"[1, 2, 3]".to_vec()),
        ("no delivery_info", no_delivery_info.to_bytes()),
        ("bad base64", with_body("m-b64", "%%% not base64 %%%")),
        ("body not JSON", with_body("m-bodyjson", &b64("[[1, 2], {}, nope"))),
        ("two-element body", with_body("m-two", &b64("[[5], {}]"))),
        ("kwargs not a dict", with_body("m-kwargs", &b64("[[5], [1], {}]"))),
        ("missing id header", no_id.to_bytes()),
        ("missing task header", no_task.to_bytes()),
        ("unparsable eta", bad_eta.to_bytes()),
        ("canvas", chained.to_bytes()),
        ("unknown task", task("no.such.task", "m-unknown").to_bytes()),
    ];
    for (_, raw) in &hostile {
        push(&env, "rq", raw);
    }
    push(&env, "rq", &task("demo.add", "good").to_bytes());

    let result = env.python_result("good", 60);
    assert_eq!(result.as_dict().unwrap().get("result"), Some(&PyValue::Int(3)), "{result:?}");
    assert!(wait_until(PATIENCE, || env.list(b"celery-proto.dead-letter").len() == hostile.len()));
    let mut dead = env.list(b"celery-proto.dead-letter");
    let mut expected: Vec<Vec<u8>> = hostile.iter().map(|(_, raw)| raw.clone()).collect();
    dead.sort();
    expected.sort();
    assert_eq!(dead, expected, "every hostile message is kept byte for byte");
    assert_eq!(env.unacked_len(), 0);
    assert!(worker.is_running());
    let log = worker.stop();
    for needle in ["not valid JSON", "base64", "3", "delivery_info", "unregistered task", "canvas"] {
        assert!(log.contains(needle), "log does not explain {needle:?}:\n{log}");
    }
    for id in ["m-two", "m-unknown", "m-noinfo"] {
        assert!(env.stored_status(id).is_none(), "{id}: nothing stored for dead-lettered messages");
    }
}

#[test]
fn unknown_tasks_can_be_requeued_for_a_python_worker_that_knows_them() {
    let env = Env::start();
    let _rust = env.rust_worker("rs1", "mixed", &["--unknown-tasks", "requeue"]);
    let sent = env.client(&["send", "demo.py_only", "[]", "--queue", "mixed", "--id", "pyonly"]);
    assert!(sent.contains("pyonly"));
    // Only once the Python worker is up can the task run; until then the Rust worker keeps it
    // circulating instead of dropping it.
    assert!(wait_until(PATIENCE, || _rust.log_text().contains("unregistered task put back")));
    let _python = env.python_worker("py1", "mixed", &[]);
    let result = env.python_result("pyonly", 60);
    assert_eq!(
        result.as_dict().unwrap().get("result").and_then(|v| v.as_str()),
        Some("python"),
        "{result:?}"
    );
    assert!(env.list(b"celery-proto.dead-letter").is_empty());
}
