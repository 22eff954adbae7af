//! Soft time limits and termination interrupt a running hook from outside; the runtime keeps
//! serving and never blocks the async executor.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use ingest_pyhandlers::{
    CallLimits, Event, EventCall, Handler, HandlerError, OperationError, PyValue, operation_fn,
};
use tokio_util::sync::CancellationToken;

const SLEEPER: &str = r#"
import time
from irods_capability_automated_ingest.core import Core

class event_handler(Core):
    @staticmethod
    def pre_data_obj_create(hdlr_mod, logger, session, meta, *args, **options):
        logger.info("before sleep")
        time.sleep(10)
        logger.info("after sleep")

    @staticmethod
    def post_data_obj_create(hdlr_mod, logger, session, meta, *args, **options):
        logger.info("post ran")

    @staticmethod
    def pre_coll_create(hdlr_mod, logger, session, meta, *args, **options):
        while True:
            pass

    @staticmethod
    def pre_coll_modify(hdlr_mod, logger, session, meta, *args, **options):
        logger.info("quick")

    @staticmethod
    def post_data_obj_modify(hdlr_mod, logger, session, meta, *args, **options):
        logger.info("post modify ran")
"#;

fn call(
    event: Event,
    log: &str,
    limits: CallLimits,
) -> (EventCall, Arc<std::sync::Mutex<Vec<ingest_pyhandlers::OperationInput>>>) {
    let (operation, seen) = recording_operation();
    let call = EventCall {
        event,
        meta: entry_meta(Some(log), "/data/src/a.txt", "/tempZone/home/rods/dst/a.txt"),
        op: None,
        options: options(&[("allow_redirect", PyValue::Bool(false))]),
        operation,
        limits,
    };
    (call, seen)
}

fn log_events(log: &str) -> Vec<String> {
    fixture()
        .sink
        .lines_for(log)
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap().to_owned())
        .collect()
}

async fn assert_still_serving(handler: &Handler, log: &str) {
    let (quick, seen) = call(Event::CollModify, log, CallLimits::none());
    handler.on_event(quick).await.expect("the runtime keeps serving");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

fn in_one_second() -> CallLimits {
    CallLimits::soft_deadline(Instant::now() + Duration::from_secs(1))
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_limit_interrupts_a_sleeping_pre_hook() {
    let handler = load_source("sleeper", SLEEPER).await;
    let log = format!("/tmp/pyh-limit-sleep-{}.log", std::process::id());
    let (sleepy, seen) = call(Event::DataObjCreate, &log, in_one_second());
    let started = Instant::now();
    let err = handler.on_event(sleepy).await.expect_err("the limit fails the call");
    // Interrupted inside the 10 s sleep, not after it.
    assert!(started.elapsed() < Duration::from_secs(10));
    let HandlerError::SoftTimeLimitExceeded(exception) = &err else { panic!("unexpected {err:?}") };
    assert_eq!(exception.type_name, "billiard.exceptions.SoftTimeLimitExceeded");
    assert!(exception.traceback.contains("time.sleep(10)"), "{}", exception.traceback);
    assert!(seen.lock().unwrap().is_empty(), "the operation never ran");
    assert_eq!(log_events(&log), ["before sleep"], "neither the rest of pre nor post ran");
    assert_still_serving(&handler, &log).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_timeout_example_fails_at_its_own_limit() {
    // examples/timeout.py: timeout() is 1 s, pre_data_obj_create sleeps 2 s (reference test:
    // every file fails). The worker derives the deadline from timeout().
    let handler = load_example("timeout.py").await;
    let meta = entry_meta(None, "/data/src/a.txt", "/tempZone/home/rods/dst/a.txt");
    let timeout = handler.timeout(&meta, &CallLimits::none()).await.unwrap();
    assert_eq!(timeout, PyValue::Int(1));
    let limits = CallLimits::soft_deadline(Instant::now() + Duration::from_secs(1));
    let (operation, seen) = recording_operation();
    let err = handler
        .on_event(EventCall {
            event: Event::DataObjCreate,
            meta,
            op: None,
            options: options(&[]),
            operation,
            limits,
        })
        .await
        .expect_err("times out");
    assert!(matches!(err, HandlerError::SoftTimeLimitExceeded(_)), "{err:?}");
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_limit_interrupts_a_busy_loop() {
    let handler = load_source("busy", SLEEPER).await;
    let log = format!("/tmp/pyh-limit-busy-{}.log", std::process::id());
    let (busy, seen) = call(Event::CollCreate, &log, in_one_second());
    let err = handler.on_event(busy).await.expect_err("interrupted");
    let HandlerError::SoftTimeLimitExceeded(exception) = &err else { panic!("unexpected {err:?}") };
    assert!(exception.traceback.contains("while True"), "{}", exception.traceback);
    assert!(seen.lock().unwrap().is_empty());
    assert_still_serving(&handler, &log).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_limit_stops_the_rust_operation_and_skips_post() {
    let handler = load_source("slow_op", SLEEPER).await;
    let log = format!("/tmp/pyh-limit-op-{}.log", std::process::id());
    let finished = Arc::new(AtomicUsize::new(0));
    let done = finished.clone();
    let operation = operation_fn(move |_input| {
        let done = done.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            done.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let err = handler
        .on_event(EventCall {
            event: Event::DataObjModify,
            meta: entry_meta(Some(&log), "/data/src/a.txt", "/tempZone/home/rods/dst/a.txt"),
            op: None,
            options: options(&[]),
            operation,
            limits: in_one_second(),
        })
        .await
        .expect_err("interrupted");
    let HandlerError::SoftTimeLimitExceeded(exception) = &err else { panic!("unexpected {err:?}") };
    assert!(exception.traceback.contains("func(*args, **options)"), "{}", exception.traceback);
    assert_eq!(finished.load(Ordering::SeqCst), 0, "the operation was stopped");
    assert!(log_events(&log).is_empty(), "post_data_obj_modify skipped");
    assert_still_serving(&handler, &log).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn terminate_raises_terminated() {
    let handler = load_source("terminate", SLEEPER).await;
    let log = format!("/tmp/pyh-limit-term-{}.log", std::process::id());
    let token = CancellationToken::new();
    let limits = CallLimits { soft_deadline: None, terminate: Some(token.clone()) };
    let (sleepy, _) = call(Event::DataObjCreate, &log, limits);
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel();
    });
    let err = handler.on_event(sleepy).await.expect_err("terminated");
    canceller.await.unwrap();
    assert!(matches!(err, HandlerError::Terminated(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_already_past_fails_before_python_runs() {
    let handler = load_source("past", SLEEPER).await;
    let log = format!("/tmp/pyh-limit-past-{}.log", std::process::id());
    let past = CallLimits::soft_deadline(Instant::now() - Duration::from_millis(1));
    let (quick, seen) = call(Event::CollModify, &log, past);
    let err = handler.on_event(quick).await.expect_err("already too late");
    assert!(matches!(err, HandlerError::SoftTimeLimitExceeded(_)), "{err:?}");
    assert!(seen.lock().unwrap().is_empty());
    assert!(log_events(&log).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_operation_is_reported_with_its_error_and_skips_post() {
    let handler = load_source("failing_op", SLEEPER).await;
    let log = format!("/tmp/pyh-op-fail-{}.log", std::process::id());
    let operation = operation_fn(|_input| async { Err(OperationError::new("register refused")) });
    let err = handler
        .on_event(EventCall {
            event: Event::DataObjModify,
            meta: entry_meta(Some(&log), "/data/src/a.txt", "/tempZone/home/rods/dst/a.txt"),
            op: None,
            options: options(&[]),
            operation,
            limits: CallLimits::none(),
        })
        .await
        .expect_err("the operation failed");
    let HandlerError::Operation { error, exception: Some(exception) } = &err else {
        panic!("unexpected {err:?}")
    };
    assert_eq!(error.message, "register refused");
    assert_eq!(exception.type_name, "irods_ingest_rt.errors.OperationFailed");
    assert!(log_events(&log).is_empty(), "post skipped");
}

/// While a hook sleeps on one Python thread, the executor keeps running other tasks and other
/// handler calls complete on the other threads.
#[tokio::test(flavor = "current_thread")]
async fn the_executor_stays_responsive_while_python_runs() {
    let handler = load_source("responsive", SLEEPER).await;
    let log = format!("/tmp/pyh-responsive-{}.log", std::process::id());
    let (sleepy, _) =
        call(Event::DataObjCreate, &log, CallLimits::soft_deadline(Instant::now() + Duration::from_secs(2)));
    let sleeper = {
        let handler = handler.clone();
        tokio::spawn(async move { handler.on_event(sleepy).await })
    };
    // Wait until the hook is inside its sleep.
    while !log_events(&log).contains(&"before sleep".to_owned()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ticks = Arc::new(AtomicUsize::new(0));
    let counter = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                ticks.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let (quick, seen) = call(Event::CollModify, &log, CallLimits::none());
    handler.on_event(quick).await.expect("another thread serves meanwhile");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(!sleeper.is_finished(), "the sleeping hook is still running");
    while !sleeper.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ticks.load(Ordering::SeqCst) > 0, "timers fired while Python slept");
    counter.abort();
    let err = sleeper.await.unwrap().expect_err("the sleeper hit its limit");
    assert!(matches!(err, HandlerError::SoftTimeLimitExceeded(_)));
}
