//! `RedisJobStore` and `JobControl` against the reference: the same scenario driven through the
//! reference's own Python code (sync_job, enqueue_task, IrodsTask hooks, the `irods_sync` CLI)
//! and through the Rust API must leave byte-identical Redis state, and the Python CLI must read
//! what Rust wrote.

mod common;

use common::{Dumped, connect, dump, python_script, run_python};
use irods_ingest::job::{
    DEFAULT_EVENT_HANDLER, Enqueue, JobControl, JobError, JobStore, NewJob, PassStart, RedisJobStore,
    TaskOutcome, TaskState,
};
use irods_ingest::lock::{LockOptions, Locks};

const START: f64 = 1795333895.50493;
const SYNC_T: f64 = 1795333899.123456;

fn job_probe(port: u16, db: u32, job: &str, args: &[&str]) -> String {
    let script = python_script("job_probe.py");
    let (port, db) = (port.to_string(), db.to_string());
    let mut all = vec![script.to_str().unwrap(), args[0], &port, &db, job];
    all.extend(&args[1..]);
    let (ok, stdout, stderr) = run_python(&all, &[]);
    assert!(ok, "job_probe {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

fn ids(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("id-{i}")).collect()
}

#[tokio::test]
async fn single_pass_bookkeeping_leaves_the_reference_state() {
    let redis = test_support::RedisServer::start();
    let job = "jöb.single";
    job_probe(redis.port(), 1, job, &["singlepass", &START.to_string(), &SYNC_T.to_string()]);

    let (_client, mut conn) = connect(&redis.url(2)).await;
    let store = RedisJobStore::new(conn.clone());
    redis::cmd("RPUSH").arg("singlepass").arg(job).query_async::<()>(&mut conn).await.unwrap();
    redis::cmd("SET").arg(format!("cleanup:/{job}")).arg("[]").query_async::<()>(&mut conn).await.unwrap();
    assert_eq!(store.start_pass(job, START, None).await.unwrap(), PassStart::Started);
    for id in ids(1..=3) {
        assert_eq!(store.enqueue(job, &[id]).await.unwrap(), Enqueue::Counted);
    }
    store.record_retry(job).await.unwrap();
    let first = store.finish(job, "id-1", "attempt", TaskOutcome::Succeeded).await.unwrap();
    assert_eq!((first.remaining, first.done), (2, false));
    let second = store.finish(job, "id-2", "attempt", TaskOutcome::Failed).await.unwrap();
    assert_eq!((second.remaining, second.done), (1, false));
    store.set_sync_time("/src/a:/tempZone/t", SYNC_T).await.unwrap();
    let last = store.finish(job, "id-3", "attempt", TaskOutcome::Succeeded).await.unwrap();
    assert_eq!((last.remaining, last.done), (0, true));
    assert!(last.cleanup_files.is_empty());
    assert!(store.is_done(job).await.unwrap());
    assert_eq!(store.sync_time("/src/a:/tempZone/t").await.unwrap(), Some(SYNC_T));

    let (_c1, mut python_conn) = connect(&redis.url(1)).await;
    let python_state = dump(&mut python_conn).await;
    let rust_state = dump(&mut conn).await;
    assert!(python_state.contains_key(format!("failures:/{job}").as_bytes()));
    assert_eq!(rust_state, python_state);

    // The reference reads the Rust-written state: asdict() at a fixed "now" equals ours.
    let now = START + 3725.25;
    let python_summary: serde_json::Value =
        serde_json::from_str(&job_probe(redis.port(), 2, job, &["asdict", &now.to_string()])).unwrap();
    let ours = store.summary(job, now).await.unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ours.to_py_dict().to_json()).unwrap(),
        python_summary
    );
    assert_eq!(ours.elapsed_time, "1:02:05.250000");
    assert_eq!(ours.start_time, "2026-11-22T07:51:35.504+00:00");
    assert_eq!((ours.total_tasks, ours.remaining_tasks, ours.failed_tasks, ours.retried_tasks), (3, 0, 1, 1));
}

#[tokio::test]
async fn periodic_bookkeeping_and_the_stop_flag_match_the_reference() {
    let redis = test_support::RedisServer::start();
    let job = "periodic.job";
    job_probe(redis.port(), 1, job, &["periodic", &START.to_string()]);

    let (_client, mut conn) = connect(&redis.url(2)).await;
    let store = RedisJobStore::new(conn.clone());
    redis::cmd("RPUSH").arg("periodic").arg(job).query_async::<()>(&mut conn).await.unwrap();
    redis::cmd("SET").arg(format!("cleanup:/{job}")).arg("[]").query_async::<()>(&mut conn).await.unwrap();
    assert_eq!(store.start_pass(job, START, None).await.unwrap(), PassStart::Started);
    assert_eq!(store.enqueue(job, &ids(1..=1)).await.unwrap(), Enqueue::Counted);
    assert_eq!(store.start_pass(job, START + 60.0, None).await.unwrap(), PassStart::Busy);
    let finished = store.finish(job, "id-1", "attempt", TaskOutcome::Succeeded).await.unwrap();
    assert_eq!((finished.remaining, finished.done), (0, false), "periodic jobs are never done");
    assert!(store.is_periodic(job).await.unwrap());
    redis::cmd("SET").arg(format!("stop:/{job}")).arg("").query_async::<()>(&mut conn).await.unwrap();
    assert_eq!(store.enqueue(job, &ids(2..=2)).await.unwrap(), Enqueue::Stopping);
    redis::cmd("DEL").arg(format!("stop:/{job}")).query_async::<()>(&mut conn).await.unwrap();

    let (_c1, mut python_conn) = connect(&redis.url(1)).await;
    assert_eq!(dump(&mut conn).await, dump(&mut python_conn).await);
}

#[tokio::test]
async fn batched_enqueue_counts_like_single_enqueues() {
    let redis = test_support::RedisServer::start();
    let (_client, conn) = connect(&redis.url(0)).await;
    let store = RedisJobStore::new(conn.clone());
    let (_c2, conn2) = connect(&redis.url(1)).await;
    let single = RedisJobStore::new(conn2.clone());
    store.enqueue("b", &ids(1..=5)).await.unwrap();
    for id in ids(1..=5) {
        single.enqueue("b", &[id]).await.unwrap();
    }
    assert_eq!(dump(&mut conn.clone()).await, dump(&mut conn2.clone()).await);
}

fn cli(url: &str, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["-m", "irods_capability_automated_ingest.irods_sync"];
    all.extend(args);
    run_python(&all, &[("CELERY_BROKER_URL", url)])
}

/// Splits off the `custom_event_handler:/` keys, checking their shape and content.
fn without_handler_keys(
    mut state: std::collections::BTreeMap<Vec<u8>, Dumped>,
    jobs: &[&str],
) -> std::collections::BTreeMap<Vec<u8>, Dumped> {
    let handler_keys: Vec<Vec<u8>> =
        state.keys().filter(|k| k.starts_with(b"custom_event_handler:/")).cloned().collect();
    assert_eq!(handler_keys.len(), jobs.len());
    for key in handler_keys {
        let text = String::from_utf8(key.clone()).unwrap();
        let (job, uuid) = text["custom_event_handler:/".len()..].split_once("::").unwrap();
        assert!(jobs.contains(&job), "{text}");
        assert!(
            uuid.len() == 32 && uuid.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{text}"
        );
        assert_eq!(state.remove(&key), Some(Dumped::String(DEFAULT_EVENT_HANDLER.as_bytes().to_vec())));
    }
    state
}

#[tokio::test]
async fn cli_start_list_stop_match_the_python_cli() {
    let redis = test_support::RedisServer::start();
    let src = tempfile::tempdir().unwrap();
    let src_path = src.path().to_str().unwrap();
    let (python_url, rust_url) = (redis.url(1), redis.url(2));

    for args in [
        vec!["start", src_path, "/tempZone/home/rods/t", "--job_name", "cli.job"],
        vec!["start", src_path, "/tempZone/home/rods/p", "--job_name", "per.job", "-i", "3600"],
    ] {
        let (ok, out, err) = cli(&python_url, &args);
        assert!(ok, "python start failed: {out}{err}");
    }
    let (client, conn) = connect(&rust_url).await;
    let store = RedisJobStore::new(conn.clone());
    let control = JobControl::new(store.clone(), Locks::new(client, conn.clone()), LockOptions::default());
    control.start(&NewJob { job_name: "cli.job", periodic: false, handler_source: None }).await.unwrap();
    control.start(&NewJob { job_name: "per.job", periodic: true, handler_source: None }).await.unwrap();
    let again = control.start(&NewJob { job_name: "cli.job", periodic: false, handler_source: None }).await;
    assert!(matches!(again, Err(JobError::AlreadyExists(ref j)) if j == "cli.job"));

    let (_c1, python_conn) = connect(&python_url).await;
    let python_store = RedisJobStore::new(python_conn.clone());
    let jobs = ["cli.job", "per.job"];
    assert_eq!(
        without_handler_keys(dump(&mut conn.clone()).await, &jobs),
        without_handler_keys(dump(&mut python_conn.clone()).await, &jobs)
    );

    // Identical worker activity in both databases, then `list` everywhere agrees.
    for s in [&store, &python_store] {
        for id in ids(1..=3) {
            s.enqueue("cli.job", &[id]).await.unwrap();
        }
        s.finish("cli.job", "id-1", "attempt", TaskOutcome::Succeeded).await.unwrap();
    }
    let now = irods_ingest::job::time_time();
    let rust_listing = control.list(now).await.unwrap().to_json();
    let python_on_rust = cli(&rust_url, &["list"]);
    let python_on_python = cli(&python_url, &["list"]);
    assert!(python_on_rust.0 && python_on_python.0, "{python_on_rust:?} {python_on_python:?}");
    assert_eq!(python_on_rust.1.trim_end(), rust_listing);
    assert_eq!(python_on_python.1.trim_end(), rust_listing);

    // Stop: Python CLI on its database, Rust sequence on ours.
    let (ok, out, err) = cli(&python_url, &["stop", "cli.job"]);
    assert!(ok, "python stop failed: {out}{err}");
    let stop = control.begin_stop("cli.job", now).await.unwrap();
    assert_eq!(stop.outstanding, ids(2..=3));
    assert_eq!(stop.summary.remaining_tasks, 2);
    control.finish_stop(stop).await.unwrap();
    assert!(control.is_stopped("cli.job").await.unwrap());
    assert_eq!(
        without_handler_keys(dump(&mut conn.clone()).await, &jobs),
        without_handler_keys(dump(&mut python_conn.clone()).await, &jobs)
    );
    let missing = control.begin_stop("cli.job", now).await;
    assert!(matches!(missing, Err(JobError::DoesNotExist(_))));

    // Cross-over: the Python CLI stops a Rust-started job, Rust stops a Python-started one.
    let (ok, out, err) = cli(&rust_url, &["stop", "per.job"]);
    assert!(ok, "python stop of a Rust-started job failed: {out}{err}");
    let python_control = JobControl::new(
        python_store.clone(),
        Locks::new(redis::Client::open(python_url.as_str()).unwrap(), python_conn.clone()),
        LockOptions::default(),
    );
    let stop = python_control.begin_stop("per.job", now).await.unwrap();
    python_control.finish_stop(stop).await.unwrap();
    let listing = control.list(now).await.unwrap().to_json();
    assert_eq!(cli(&rust_url, &["list"]).1.trim_end(), listing);
    assert_eq!(cli(&python_url, &["list"]).1.trim_end(), python_control.list(now).await.unwrap().to_json());
    assert_eq!(listing, python_control.list(now).await.unwrap().to_json());
    assert!(listing.contains("\"stopped\": [{\"job_name\": \"cli.job\""), "{listing}");
}

#[tokio::test]
async fn a_mixed_fleet_keeps_one_count_and_the_last_finisher_ends_the_job() {
    let redis = test_support::RedisServer::start();
    let (_client, mut conn) = connect(&redis.url(0)).await;
    let store = RedisJobStore::new(conn.clone());
    for (job, rust_last) in [("mixed.a", true), ("mixed.b", false)] {
        redis::cmd("RPUSH").arg("singlepass").arg(job).query_async::<()>(&mut conn).await.unwrap();
        redis::cmd("SET")
            .arg(format!("cleanup:/{job}"))
            .arg("[]")
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
        assert_eq!(store.start_pass(job, START, None).await.unwrap(), PassStart::Started);
        // Python and Rust workers enqueue children of the same pass.
        job_probe(redis.port(), 0, job, &["actions", "enqueue:py-1", "enqueue:py-2"]);
        store.enqueue(job, &["rs-1".to_owned(), "rs-2".to_owned()]).await.unwrap();
        assert_eq!(store.summary(job, START).await.unwrap().remaining_tasks, 4);
        if rust_last {
            job_probe(redis.port(), 0, job, &["actions", "finish:py-1", "fail:py-2"]);
            assert!(!store.finish(job, "rs-1", "attempt", TaskOutcome::Succeeded).await.unwrap().done);
            let last = store.finish(job, "rs-2", "attempt", TaskOutcome::Succeeded).await.unwrap();
            assert!(last.done, "the Rust worker finishing last ends the job");
        } else {
            assert!(!store.finish(job, "rs-1", "attempt", TaskOutcome::Failed).await.unwrap().done);
            assert!(!store.finish(job, "rs-2", "attempt", TaskOutcome::Succeeded).await.unwrap().done);
            job_probe(redis.port(), 0, job, &["actions", "finish:py-1", "finish:py-2"]);
        }
        let summary = store.summary(job, START).await.unwrap();
        assert_eq!((summary.total_tasks, summary.remaining_tasks, summary.failed_tasks), (4, 0, 1));
        assert!(store.is_done(job).await.unwrap());
        assert_eq!(
            store.cleanup_value(job).await.unwrap(),
            None,
            "cleanup ran once, in whichever finished last"
        );
        let dequeued: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("dequeue:/{job}"))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(dequeued.len(), 4);
    }
    let singlepass: Vec<String> =
        redis::cmd("LRANGE").arg("singlepass").arg(0).arg(-1).query_async(&mut conn).await.unwrap();
    assert!(singlepass.is_empty(), "{singlepass:?}");
}

#[tokio::test]
async fn values_python_would_not_write_are_clear_errors() {
    let redis = test_support::RedisServer::start();
    let (_client, mut conn) = connect(&redis.url(0)).await;
    let store = RedisJobStore::new(conn.clone());
    redis::cmd("SET").arg("tasks:/bad").arg("many").query_async::<()>(&mut conn).await.unwrap();
    redis::cmd("SET").arg("sync_time:/k").arg(&b"\xff\xfe"[..]).query_async::<()>(&mut conn).await.unwrap();
    assert!(
        matches!(store.is_done("bad").await, Err(JobError::BadValue { ref key, .. }) if key == "tasks:/bad")
    );
    assert!(matches!(store.summary("bad", START).await, Err(JobError::BadValue { .. })));
    assert!(matches!(store.sync_time("k").await, Err(JobError::BadValue { .. })));
    // Python's int()/float() spellings are accepted.
    redis::cmd("SET").arg("tasks:/ok").arg(" 1_0 ").query_async::<()>(&mut conn).await.unwrap();
    assert_eq!(store.summary("ok", START).await.unwrap().remaining_tasks, 10);
}

/// Counting a child, finishing a task and starting a pass are safe to repeat: a second message
/// of one task (a redelivery after a kill, a retry published twice) never counts twice, and a
/// repeat of one call after a lost reply gives the same answer as the first.
#[tokio::test]
async fn repeated_bookkeeping_counts_each_task_once() {
    let redis = test_support::RedisServer::start();
    let job = "repeat.job";
    let (_client, mut conn) = connect(&redis.url(0)).await;
    let store = RedisJobStore::new(conn.clone());
    redis::cmd("RPUSH").arg("singlepass").arg(job).query_async::<()>(&mut conn).await.unwrap();
    redis::cmd("SET").arg(format!("cleanup:/{job}")).arg("[]").query_async::<()>(&mut conn).await.unwrap();
    assert_eq!(store.start_pass(job, START, Some("first")).await.unwrap(), PassStart::Started);
    for _ in 0..2 {
        let counted = store.enqueue_published(job, "first", "path", b"message-1").await.unwrap();
        assert_eq!(counted, Enqueue::Counted);
    }
    // A redelivered main task finds its pass started and leaves the counters alone.
    assert_eq!(store.start_pass(job, START + 1.0, Some("first")).await.unwrap(), PassStart::AlreadyStarted);
    store.enqueue_published(job, "second", "file", b"message-2").await.unwrap();
    let published: Vec<Vec<u8>> =
        redis::cmd("LRANGE").arg("path").arg(0).arg(-1).query_async(&mut conn).await.unwrap();
    assert_eq!(published, [b"message-1".to_vec()], "published once");
    let tasks: i64 = redis::cmd("GET").arg(format!("tasks:/{job}")).query_async(&mut conn).await.unwrap();
    assert_eq!(tasks, 2);

    // Two runs of "first": the second is a duplicate and counts nothing; a repeat of the first
    // run's own call answers as the first did.
    let once = store.finish(job, "first", "run-a", TaskOutcome::Succeeded).await.unwrap();
    assert_eq!((once.remaining, once.done, once.duplicate), (1, false, false));
    let again = store.finish(job, "first", "run-a", TaskOutcome::Succeeded).await.unwrap();
    assert!(!again.duplicate && !again.done);
    let other = store.finish(job, "first", "run-b", TaskOutcome::Failed).await.unwrap();
    assert!(other.duplicate && !other.ended_by_another);
    assert_eq!(store.task_state(job, "first").await.unwrap(), TaskState::Finished { ended_job: false });
    assert_eq!(store.task_state(job, "second").await.unwrap(), TaskState::NotFinished);

    // The last task ends the job once; its post_job is claimed once, and a redelivery may take
    // over a claim whose holder died before recording that it ran.
    let last = store.finish(job, "second", "run-c", TaskOutcome::Succeeded).await.unwrap();
    assert_eq!((last.remaining, last.done), (0, true));
    let late = store.finish(job, "second", "run-d", TaskOutcome::Succeeded).await.unwrap();
    assert!(late.duplicate && late.ended_by_another && !late.done);
    assert_eq!(store.task_state(job, "second").await.unwrap(), TaskState::Finished { ended_job: true });
    assert!(store.claim_post_job(job, false).await.unwrap());
    assert!(!store.claim_post_job(job, false).await.unwrap());
    assert!(store.claim_post_job(job, true).await.unwrap(), "a redelivery takes over a stale claim");
    store.post_job_ran(job).await.unwrap();
    assert!(!store.claim_post_job(job, true).await.unwrap());
    let failures: Option<i64> =
        redis::cmd("GET").arg(format!("failures:/{job}")).query_async(&mut conn).await.unwrap();
    assert_eq!(failures, None, "the duplicate's failure is not counted");
    let cleanup: Option<String> =
        redis::cmd("GET").arg(format!("cleanup:/{job}")).query_async(&mut conn).await.unwrap();
    assert_eq!(cleanup, None);
    let tasks: i64 = redis::cmd("GET").arg(format!("tasks:/{job}")).query_async(&mut conn).await.unwrap();
    assert_eq!(tasks, 0);
}

/// The job store rides out a Redis restart: a command issued while the server is down waits
/// for it and succeeds once it is back (AOF keeps the data).
#[tokio::test]
async fn bookkeeping_survives_a_redis_restart() {
    let mut redis = test_support::RedisServer::start_with_aof();
    let job = "restart.job";
    let (_client, mut conn) = connect(&redis.url(0)).await;
    let store = RedisJobStore::new(conn.clone());
    redis::cmd("SET").arg(format!("cleanup:/{job}")).arg("[]").query_async::<()>(&mut conn).await.unwrap();
    assert_eq!(store.start_pass(job, START, None).await.unwrap(), PassStart::Started);
    store.enqueue_published(job, "t1", "file", b"m").await.unwrap();
    redis.kill();
    let restarted = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        redis.restart();
        redis
    });
    let finished = store.finish(job, "t1", "run", TaskOutcome::Succeeded).await.unwrap();
    assert_eq!((finished.remaining, finished.done), (0, true));
    let _redis = restarted.join().unwrap();
    let queued: Vec<Vec<u8>> =
        redis::cmd("LRANGE").arg("file").arg(0).arg(-1).query_async(&mut conn).await.unwrap();
    assert_eq!(queued, [b"m".to_vec()], "the AOF kept the message");
}
