//! The worker used as a library, in-process, with tasks of the caller's own (as the ingest worker
//! will): a panicking task fails like a raising one, `Ignore` stores nothing, a task that ignores
//! its soft limit is stopped by the hard one, and the worker shuts down on its token.

use std::time::Duration;

use celery_proto::json::{PyDict, PyValue};
use celery_proto::producer::{Producer, SendOptions};
use celery_proto::results::{BackendOptions, ResultBackend};
use celery_proto::transport::{Broker, TransportOptions};
use celery_proto::worker::{CancelReason, TaskError, TaskOptions, TaskRegistry, Worker, WorkerConfig};
use test_support::RedisServer;

fn field<'a>(meta: &'a PyValue, key: &str) -> Option<&'a PyValue> {
    meta.as_dict()?.get(key)
}

async fn wait_meta(backend: &ResultBackend, id: &str) -> PyValue {
    for _ in 0..3000 {
        if let Some(meta) = backend.get(id).await.unwrap() {
            if field(&meta, "status").and_then(PyValue::as_str) != Some("RETRY") {
                return meta;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no result for {id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_worker_runs_the_callers_tasks() {
    let redis = RedisServer::start();
    let mut tasks = TaskRegistry::new();
    let late = TaskOptions { acks_late: true, ..TaskOptions::default() };
    tasks
        .register("lib.panic", late.clone(), |_req, _ctx| async move {
            if true {
                panic!("boom in a task");
            }
            Ok(PyValue::Null)
        })
        .register("lib.ignore", late.clone(), |_req, _ctx| async move { Err(TaskError::Ignore) })
        .register("lib.stubborn", late.clone(), |_req, ctx| async move {
            // Notices the soft limit but keeps going; the hard limit ends it.
            ctx.cancellation().cancelled().await;
            assert_eq!(ctx.cancel_reason(), Some(CancelReason::SoftTimeLimit));
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(PyValue::Null)
        })
        .register("lib.kwargs", TaskOptions::default(), |req, ctx| async move {
            let mut out = PyDict::new();
            out.insert("name", req.arg(0, "name").cloned().unwrap_or(PyValue::Null));
            out.insert("retries", ctx.retries());
            out.insert("root", ctx.root_id());
            Ok(PyValue::Dict(out))
        });
    let mut config = WorkerConfig::new(redis.url(0), vec!["lib".into()]);
    config.result_backend = Some(redis.url(1));
    config.nodename = "lib@test".into();
    config.concurrency = 2;
    let worker = Worker::new(config, tasks).await.unwrap();
    let shutdown = worker.shutdown_token();
    let running = tokio::spawn(worker.run());

    let broker = Broker::connect(&redis.url(0), TransportOptions::default()).await.unwrap();
    let producer = Producer::new(broker.clone(), Producer::client_origin());
    let backend = ResultBackend::connect(&redis.url(1), BackendOptions::default()).await.unwrap();
    let send = |name: &str, options: SendOptions, kwargs: PyDict| {
        let (producer, name) = (producer.clone(), name.to_string());
        async move { producer.send_task(&name, vec![], kwargs, options).await.unwrap() }
    };
    let panicking = send("lib.panic", SendOptions::to_queue("lib"), PyDict::new()).await;
    let ignored = send("lib.ignore", SendOptions::to_queue("lib"), PyDict::new()).await;
    let stubborn =
        send("lib.stubborn", SendOptions::to_queue("lib").time_limits(Some(1.5), Some(0.5)), PyDict::new())
            .await;
    let mut kwargs = PyDict::new();
    kwargs.insert("name", "ä\u{1F30D}");
    let with_kwargs = send("lib.kwargs", SendOptions::to_queue("lib").parent("p-1", "root-1"), kwargs).await;

    let meta = wait_meta(&backend, &panicking).await;
    assert_eq!(field(&meta, "status").and_then(PyValue::as_str), Some("FAILURE"));
    let exc = field(&meta, "result").unwrap();
    assert_eq!(field(exc, "exc_type").and_then(PyValue::as_str), Some("RuntimeError"));
    let meta = wait_meta(&backend, &stubborn).await;
    let exc = field(&meta, "result").unwrap();
    assert_eq!(field(exc, "exc_type").and_then(PyValue::as_str), Some("TimeLimitExceeded"), "{meta:?}");
    let meta = wait_meta(&backend, &with_kwargs).await;
    let result = field(&meta, "result").unwrap();
    assert_eq!(field(result, "name").and_then(PyValue::as_str), Some("ä\u{1F30D}"));
    assert_eq!(field(result, "root").and_then(PyValue::as_str), Some("root-1"));
    assert_eq!(field(&meta, "parent_id").and_then(PyValue::as_str), Some("p-1"));

    shutdown.cancel();
    running.await.unwrap().unwrap();
    // Ignore stores nothing; everything was acked (late-ack panics and time-outs included).
    assert!(backend.get(&ignored).await.unwrap().is_none());
    let mut conn = broker.conn();
    let held: usize = redis::AsyncCommands::hlen(&mut conn, "unacked").await.unwrap();
    assert_eq!(held, 0);
}
