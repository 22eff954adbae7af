//! The reference package's own example handlers, loaded from its `examples/` directory and called
//! directly, with the reference's arguments.

mod common;

use common::*;
use ingest_pyhandlers::{
    CallLimits, Event, EventCall, HandlerChoice, HandlerError, Operation, Override, PyValue,
};

fn create_call(
    meta: ingest_pyhandlers::PyDict,
    op: Option<Operation>,
) -> (EventCall, std::sync::Arc<std::sync::Mutex<Vec<ingest_pyhandlers::OperationInput>>>) {
    let (operation, seen) = recording_operation();
    let call = EventCall {
        event: Event::DataObjCreate,
        meta,
        op,
        options: options(&[("allow_redirect", PyValue::Bool(false))]),
        operation,
        limits: CallLimits::none(),
    };
    (call, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn register_with_peps_logs_each_hook_as_json_lines() {
    let handler = load_example("register_with_peps.py").await;
    let caps = handler.capabilities();
    assert!(caps.runs_python(Event::DataObjCreate));
    assert!(caps.runs_python(Event::CollModify));
    assert!(!caps.runs_python(Event::DataObjDelete), "no delete hooks defined");
    assert!(caps.has_override(Override::Operation));

    let log = format!("/tmp/pyh-peps-{}.log", std::process::id());
    let meta = entry_meta(Some(&log), "/data/src/a.txt", "/tempZone/home/rods/dst/a.txt");
    let (call, seen) = create_call(meta, None);
    let outcome = handler.on_event(call).await.unwrap();
    assert!(outcome.ran_python);
    assert_eq!(outcome.operation_calls, 1);
    assert!(!outcome.session_opened, "the hooks only log");

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].meta.get("target").and_then(PyValue::as_str), Some("/tempZone/home/rods/dst/a.txt"));
    assert_eq!(seen[0].options.get("allow_redirect"), Some(&PyValue::Bool(false)));
    assert_eq!(seen[0].op, None);

    let lines = fixture().sink.lines_for(&log);
    let events: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "pre_data_obj_create:[/tempZone/home/rods/dst/a.txt]",
            "post_data_obj_create:[/tempZone/home/rods/dst/a.txt]"
        ]
    );
    // Key order and values as the reference's processor chain renders them.
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let positions: Vec<usize> = ["\"event\": ", "\"logger\": ", "\"level\": ", "\"@timestamp\": "]
        .iter()
        .map(|k| lines[0].find(k).unwrap_or_else(|| panic!("{k} in {}", lines[0])))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "key order in {}", lines[0]);
    assert_eq!(first.as_object().unwrap().len(), 4);
    assert_eq!(first["logger"], format!("irods_sync/{log}/"));
    assert_eq!(first["level"], "info");
}

#[tokio::test(flavor = "multi_thread")]
async fn data_obj_create_pre_and_post_defines_hooks_and_register_sync() {
    let handler = load_example("data_obj_create_pre_and_post.py").await;
    let caps = handler.capabilities();
    assert!(caps.has_pre(Event::DataObjCreate) && caps.has_post(Event::DataObjCreate));
    assert!(!caps.runs_python(Event::DataObjModify));
    let meta = entry_meta(None, "/data/src/a.txt", "/tempZone/home/rods/dst/a.txt");
    let op = handler.operation(&meta, &options(&[]), &CallLimits::none()).await.unwrap();
    assert_eq!(op, HandlerChoice::Member(Operation::RegisterSync));
    // No data_obj_modify hooks: the operation runs without entering Python.
    let (operation, seen) = recording_operation();
    let outcome = handler
        .on_event(EventCall {
            event: Event::DataObjModify,
            meta,
            op: None,
            options: options(&[("allow_redirect", PyValue::Bool(false))]),
            operation,
            limits: CallLimits::none(),
        })
        .await
        .unwrap();
    assert!(!outcome.ran_python);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn put_using_char_map_is_put_with_a_character_map() {
    let handler = load_example("put_using_char_map.py").await;
    let caps = handler.capabilities();
    assert!(caps.has_override(Override::CharacterMap));
    assert!(!Event::ALL.iter().any(|e| caps.runs_python(*e)));
    let meta = entry_meta(None, "/data/src/a b.txt", "/tempZone/home/rods/dst/a b.txt");
    let op = handler.operation(&meta, &options(&[]), &CallLimits::none()).await.unwrap();
    assert_eq!(op.member(), Some(Operation::Put));
    // Defaults of everything it leaves out.
    assert_eq!(handler.timeout(&meta, &CallLimits::none()).await.unwrap(), PyValue::Int(3600));
    assert_eq!(handler.max_retries(&meta, &CallLimits::none()).await.unwrap(), PyValue::Int(0));
    assert_eq!(handler.delay(&meta, 1, &CallLimits::none()).await.unwrap(), PyValue::Int(0));
    assert_eq!(
        handler.delete_mode(&meta, &CallLimits::none()).await.unwrap().member(),
        Some(ingest_pyhandlers::DeleteMode::DoNotDelete)
    );
    assert_eq!(handler.to_resource(&meta, &options(&[]), &CallLimits::none()).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn put_type_operations_get_the_operation_member_as_fifth_argument() {
    // A handler overriding on_data_obj_create sees exactly what the reference passes for PUT.
    let source = r#"
from irods_capability_automated_ingest.core import Core
from irods_capability_automated_ingest.utils import Operation

class event_handler(Core):
    @classmethod
    def on_data_obj_create(cls, func, *args, **options):
        hdlr_mod, logger, session, meta, op = args
        assert op is Operation.PUT_SYNC, op
        assert hdlr_mod.event_handler is cls
        options["destRescName"] = "demoResc"
        meta["target"] = meta["target"] + ".renamed"
        func(*args, **options)
"#;
    let handler = load_source("custom_on", source).await;
    assert_eq!(handler.capabilities().on_hook(Event::DataObjCreate), ingest_pyhandlers::OnHook::Custom);
    let meta = entry_meta(None, "/data/src/a.txt", "/tempZone/home/rods/dst/a.txt");
    let (call, seen) = create_call(meta, Some(Operation::PutSync));
    let outcome = handler.on_event(call).await.unwrap();
    assert!(outcome.ran_python);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].op, Some(HandlerChoice::Member(Operation::PutSync)));
    assert_eq!(seen[0].options.get("destRescName").and_then(PyValue::as_str), Some("demoResc"));
    assert_eq!(
        seen[0].meta.get("target").and_then(PyValue::as_str),
        Some("/tempZone/home/rods/dst/a.txt.renamed")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn statistics_fails_to_import_as_in_the_reference() {
    // statistics.py uses `from .. import redis_key`; the reference imports handlers as top-level
    // modules, where a relative import is an ImportError. Same here.
    let (key, module) = unique_key("statistics");
    let err = fixture()
        .runtime
        .load(&key, &module, &example_source("statistics.py"), &CallLimits::none())
        .await
        .err()
        .expect("statistics.py does not import");
    match &err {
        HandlerError::Load { exception, .. } => {
            assert_eq!(exception.type_name, "ImportError");
            assert!(exception.message.contains("relative import"), "{}", exception.message);
            assert!(exception.traceback.contains("from .. import redis_key"), "{}", exception.traceback);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(fixture().runtime.handler(&key).is_none(), "failed loads are not cached");
}

#[tokio::test(flavor = "multi_thread")]
async fn pre_job_and_post_job_run_with_class_logger_meta() {
    let pre = load_example("pre_job.py").await;
    let post = load_example("post_job.py").await;
    let meta = entry_meta(None, "/data/src", "/tempZone/home/rods/dst");
    // Both examples write /tmp/a, as the reference's tests expect.
    assert!(pre.pre_job(&meta, &CallLimits::none()).await.unwrap());
    assert_eq!(std::fs::read_to_string("/tmp/a").unwrap(), "pre_job");
    assert!(!pre.post_job(&meta, &CallLimits::none()).await.unwrap(), "pre_job.py has no post_job");
    assert!(post.post_job(&meta, &CallLimits::none()).await.unwrap());
    assert_eq!(std::fs::read_to_string("/tmp/a").unwrap(), "pre_jobpost_job");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_is_loaded_once() {
    let (key, module) = unique_key("once");
    let source =
        "import itertools\nLOADS = globals().setdefault('LOADS', 0) + 1\nclass event_handler:\n    pass\n";
    let runtime = &fixture().runtime;
    let first = runtime.load(&key, &module, source, &CallLimits::none()).await.unwrap();
    let second =
        runtime.load(&key, &module, "raise SystemExit('must not run')", &CallLimits::none()).await.unwrap();
    assert_eq!(first.module_name(), second.module_name());
    assert!(runtime.handler(&key).is_some());
    // A class without Core: no hooks ever run, the operation runs directly (reference §6.2).
    assert!(!Event::ALL.iter().any(|e| first.capabilities().runs_python(*e)));
    assert!(first.capabilities().is_default());
}

fn with_redis(mut meta: ingest_pyhandlers::PyDict, port: u16) -> ingest_pyhandlers::PyDict {
    if let Some(PyValue::Dict(config)) = meta.get_mut("config")
        && let Some(PyValue::Dict(redis)) = config.get_mut("redis")
    {
        redis.insert("port", i64::from(port));
    }
    meta
}

/// retry.py / no_retry.py count attempts per path in Redis (`get_redis(meta["config"])`): the
/// first attempt raises, the next succeeds; retry.py asks for 3 retries with no delay.
#[tokio::test(flavor = "multi_thread")]
async fn retry_and_no_retry_use_redis_from_hooks() {
    let redis = test_support::RedisServer::start();
    for (name, max_retries) in [("retry.py", PyValue::Int(3)), ("no_retry.py", PyValue::Int(0))] {
        let handler = load_example(name).await;
        let path = format!("/data/src/{name}-{}", std::process::id());
        let meta = with_redis(entry_meta(None, &path, "/tempZone/home/rods/dst/x"), redis.port());
        assert_eq!(handler.max_retries(&meta, &CallLimits::none()).await.unwrap(), max_retries);
        assert_eq!(handler.delay(&meta, 1, &CallLimits::none()).await.unwrap(), PyValue::Int(0));
        assert_eq!(
            handler.operation(&meta, &options(&[]), &CallLimits::none()).await.unwrap().member(),
            Some(Operation::NoOp)
        );
        let (first, seen) = create_call(meta.clone(), None);
        let err = handler.on_event(first).await.expect_err("the first attempt fails");
        let exception = err.exception().unwrap();
        assert_eq!(
            (exception.type_name.as_str(), exception.message.as_str()),
            ("RuntimeError", "no failures")
        );
        assert!(seen.lock().unwrap().is_empty());
        let (second, seen) = create_call(meta, None);
        handler.on_event(second).await.expect("the retry succeeds");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn character_map_translates_like_the_reference() {
    let handler = load_example("put_using_char_map.py").await;
    let path = ingest_pyhandlers::PyStr::from("/tempZone/home/rods/dst/a b+c.txt");
    let translated = handler.translate_path(&path, &CallLimits::none()).await.unwrap().unwrap();
    // Expected value computed by the reference package itself.
    let script = "import sys, re\n\
        from irods_capability_automated_ingest.char_map_util import translate_path\n\
        print(translate_path(sys.argv[1], {re.compile('[^a-zA-Z0-9]'): '_'}), end='')";
    let output = std::process::Command::new(test_support::venv_python())
        .args(["-c", script, path.as_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(translated.as_str().unwrap(), String::from_utf8(output.stdout).unwrap());
    assert_ne!(translated, path);
    let plain = load_example("register.py").await;
    assert_eq!(plain.translate_path(&path, &CallLimits::none()).await.unwrap(), None);
    fixture().runtime.cleanup_sessions().await.unwrap();
}

/// An operation error with an iRODS code reaches hooks as python-irodsclient's exception class,
/// so a handler can catch it as it would in the reference; without hooks it comes straight back.
#[tokio::test(flavor = "multi_thread")]
async fn operation_errors_reach_hooks_as_irods_exceptions() {
    let source = r#"
import irods.exception
from irods_capability_automated_ingest.core import Core

class event_handler(Core):
    @classmethod
    def on_data_obj_create(cls, func, *args, **options):
        try:
            func(*args, **options)
        except irods.exception.CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME as err:
            args[1].info("already there", code=err.code)
"#;
    let handler = load_source("catch", source).await;
    let failing = || {
        ingest_pyhandlers::operation_fn(|_input| async {
            Err(ingest_pyhandlers::OperationError::irods(-809000, "exists"))
        })
    };
    let log = format!("/tmp/pyh-catch-{}.log", std::process::id());
    let meta = entry_meta(Some(&log), "/data/src/a", "/tempZone/home/rods/a");
    let outcome = handler
        .on_event(EventCall {
            event: Event::DataObjCreate,
            meta: meta.clone(),
            op: None,
            options: options(&[]),
            operation: failing(),
            limits: CallLimits::none(),
        })
        .await
        .expect("the handler caught it");
    assert_eq!(outcome.operation_calls, 1);
    let line: serde_json::Value = serde_json::from_str(&fixture().sink.lines_for(&log)[0]).unwrap();
    assert_eq!(line["event"], "already there");
    assert_eq!(line["code"], -809000);

    // No hooks for modify: the operation runs without Python and its error comes back as is.
    let err = handler
        .on_event(EventCall {
            event: Event::DataObjModify,
            meta,
            op: None,
            options: options(&[]),
            operation: failing(),
            limits: CallLimits::none(),
        })
        .await
        .expect_err("nobody catches it");
    match err {
        HandlerError::Operation { error, exception: None } => assert_eq!(error.irods_code, Some(-809000)),
        other => panic!("{other:?}"),
    }
}
