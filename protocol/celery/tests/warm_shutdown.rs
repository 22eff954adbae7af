//! Warm shutdown: running tasks finish, prefetched and ETA-held messages go back to the front of
//! their queue (RPUSH, marked redelivered) exactly as kombu restores them, and another worker
//! runs them.

mod common;

use std::time::Duration;

use celery_proto::json::{self, PyDict, PyValue};
use celery_proto::producer::{Producer, SendOptions};
use celery_proto::transport::{Broker, TransportOptions};
use common::{Env, PATIENCE};
use test_support::wait_until;

#[test]
fn sigterm_finishes_running_tasks_and_restores_the_rest() {
    let env = Env::start();
    let worker = env.rust_worker("rs1", "rq", &["-c", "1"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let broker = Broker::connect(&env.broker_url(), TransportOptions::default()).await.unwrap();
        let producer = Producer::new(broker, Producer::client_origin());
        let send = |args: Vec<PyValue>, name: &str, options: SendOptions| {
            let producer = producer.clone();
            let name = name.to_string();
            async move { producer.send_task(&name, args, PyDict::new(), options).await.unwrap() }
        };
        send(vec![PyValue::Int(5)], "demo.sleep", SendOptions::to_queue("rq").task_id("busy")).await;
        for id in ["r1", "r2"] {
            send(vec![5.into(), 5.into()], "demo.add", SendOptions::to_queue("rq").task_id(id)).await;
        }
        let later = SendOptions::to_queue("rq").task_id("later").countdown(Duration::from_secs(5));
        send(vec![6.into(), 6.into()], "demo.add", later).await;
    });
    // busy was acked when it started (early ack); r1, r2 and later are held.
    assert!(wait_until(PATIENCE, || env.unacked_len() == 3), "held: {}", env.unacked_len());

    let log = worker.stop();
    assert!(log.contains("worker stopped"), "{log}");
    assert_eq!(env.stored_status("busy").as_deref(), Some("SUCCESS"), "the running task finished");
    assert_eq!(env.unacked_len(), 0);
    let queued = env.list(b"rq");
    assert_eq!(queued.len(), 3, "restored messages");
    for raw in &queued {
        let envelope = json::parse(raw).unwrap();
        let headers = envelope.as_dict().unwrap().get("headers").unwrap().as_dict().unwrap();
        assert_eq!(headers.get("redelivered"), Some(&PyValue::Bool(true)));
    }

    let _next = env.rust_worker("rs2", "rq", &["-c", "2"]);
    for id in ["r1", "r2", "later"] {
        let result = env.python_result(id, 60);
        assert_eq!(
            result.as_dict().unwrap().get("status").and_then(|s| s.as_str()),
            Some("SUCCESS"),
            "{id}: {result:?}"
        );
    }
}
