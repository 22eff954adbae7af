//! Rust producer -> real Python Celery worker: the Python worker runs what Rust sends, and Python
//! reads the results. Also a Rust task (`demo.spawn`) whose children a Python worker runs.

mod common;

use std::time::Duration;

use celery_proto::json::{PyDict, PyStr, PyValue};
use celery_proto::producer::{Producer, SendOptions};
use celery_proto::transport::{Broker, TransportOptions};
use common::Env;

fn result_of(env: &Env, id: &str) -> PyDict {
    env.python_result(id, 60).as_dict().cloned().expect("client prints an object")
}

#[test]
fn python_worker_runs_tasks_sent_by_the_rust_producer() {
    let env = Env::start();
    let _py = env.python_worker("py1", "pyq", &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ids = rt.block_on(async {
        let broker = Broker::connect(&env.broker_url(), TransportOptions::default()).await.unwrap();
        let producer = Producer::new(broker, Producer::client_origin());
        let add = producer
            .send_task("demo.add", vec![2.into(), 3.into()], PyDict::new(), SendOptions::to_queue("pyq"))
            .await
            .unwrap();
        let mut kwargs = PyDict::new();
        kwargs.insert("x", 40);
        kwargs.insert("y", 2);
        let kw = producer
            .send_task(
                "demo.add",
                vec![],
                kwargs,
                SendOptions::to_queue("pyq").priority(7).task_id("rs-fixed-id"),
            )
            .await
            .unwrap();
        let surrogate = PyStr::from_fs_bytes(b"caf\xe9.txt");
        let echo = producer
            .send_task(
                "demo.echo",
                vec![PyValue::Str(surrogate)],
                PyDict::new(),
                SendOptions::to_queue("pyq").countdown(Duration::from_secs(2)),
            )
            .await
            .unwrap();
        let fail = producer
            .send_task("demo.fail", vec!["from rust".into()], PyDict::new(), SendOptions::to_queue("pyq"))
            .await
            .unwrap();
        let retry = producer
            .send_task("demo.retry", vec![1.into()], PyDict::new(), SendOptions::to_queue("pyq"))
            .await
            .unwrap();
        let expired = producer
            .send_task(
                "demo.add",
                vec![1.into(), 1.into()],
                PyDict::new(),
                SendOptions::to_queue("pyq").expires_at(chrono::Utc::now() - chrono::Duration::seconds(5)),
            )
            .await
            .unwrap();
        [add, kw, echo, fail, retry, expired]
    });
    let [add, kw, echo, fail, retry, expired] = ids;
    assert_eq!(kw, "rs-fixed-id");
    assert_eq!(result_of(&env, &add).get("result"), Some(&PyValue::Int(5)));
    assert_eq!(result_of(&env, &kw).get("result"), Some(&PyValue::Int(42)));
    // The Python worker got the lone surrogate and returned it unchanged.
    let echoed = result_of(&env, &echo);
    assert_eq!(
        echoed.get("result").and_then(PyValue::as_py_str).map(|s| s.to_fs_bytes().unwrap().into_owned()),
        Some(b"caf\xe9.txt".to_vec())
    );
    let failed = result_of(&env, &fail);
    assert_eq!(failed.get("exc_type").and_then(PyValue::as_str), Some("ValueError"), "{failed:?}");
    assert_eq!(failed.get("exc_message").and_then(PyValue::as_str), Some("from rust"));
    assert_eq!(result_of(&env, &retry).get("result"), Some(&PyValue::Int(1)));
    let revoked = result_of(&env, &expired);
    assert_eq!(revoked.get("status").and_then(PyValue::as_str), Some("REVOKED"), "{revoked:?}");
}

#[test]
fn children_spawned_by_a_rust_task_run_on_a_python_worker() {
    let env = Env::start();
    let _rs = env.rust_worker("rs1", "rq", &[]);
    let _py = env.python_worker("py1", "pyq", &[]);
    let sent = env.client(&["send", "demo.spawn", r#"["pyq", 3]"#, "--queue", "rq", "--id", "spawner"]);
    assert!(sent.contains("spawner"));
    let spawned = result_of(&env, "spawner");
    let ids: Vec<String> = spawned
        .get("result")
        .and_then(PyValue::as_list)
        .expect("spawn returns the child ids")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    for (i, id) in ids.iter().enumerate() {
        let child = result_of(&env, id);
        assert_eq!(child.get("result"), Some(&PyValue::Int(2 * i as i64)), "child {i}: {child:?}");
        // The child records its parent (Celery writes parent_id into the meta).
        let meta = env.stored_meta(id).unwrap();
        assert_eq!(meta.as_dict().unwrap().get("parent_id").and_then(PyValue::as_str), Some("spawner"));
    }
}
