//! Without the reference package: the bundled stand-in modules serve handlers' imports, and the
//! default log sink writes the log file. (Own test binary: the package choice is per process.)

use std::process::Command;
use std::sync::OnceLock;

use ingest_pyhandlers::{
    CallLimits, Event, EventCall, HandlerRuntime, IngestPackage, OperationInput, PyDict, PyValue,
    RuntimeConfig, operation_fn,
};

fn runtime() -> &'static HandlerRuntime {
    static RUNTIME: OnceLock<HandlerRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        HandlerRuntime::start(RuntimeConfig {
            package: IngestPackage::Bundled,
            threads: 2,
            log_level: Some("INFO".into()),
            ..RuntimeConfig::default()
        })
        .unwrap()
    })
}

fn meta(log: &str, redis_port: u16) -> PyDict {
    let json = format!(
        r#"{{"job_name": "bundled.job", "path": "/data/src/f", "target": "/tempZone/home/rods/f",
            "config": {{"log": {{"filename": "{log}", "when": null, "interval": null, "level": null}},
                        "redis": {{"host": "127.0.0.1", "port": {redis_port}, "db": 0}}}}}}"#
    );
    match PyValue::from_json(json.as_bytes()).unwrap() {
        PyValue::Dict(d) => d,
        _ => unreachable!(),
    }
}

const HANDLER: &str = r#"
import time
import irods_capability_automated_ingest
from irods_capability_automated_ingest.core import Core
from irods_capability_automated_ingest.utils import Operation, DeleteMode
from irods_capability_automated_ingest.redis_utils import get_redis
from irods_capability_automated_ingest import redis_key, sync_logging

class event_handler(Core):
    @staticmethod
    def operation(session, meta, **options):
        assert "/python/compat/" in irods_capability_automated_ingest.__file__
        return Operation.PUT_APPEND

    @staticmethod
    def pre_job(hdlr_mod, logger, meta):
        r = get_redis(meta["config"])
        redis_key.redis_key_handle(r, "t0", meta["job_name"]).set_value(time.time())

    @staticmethod
    def post_job(hdlr_mod, logger, meta):
        r = get_redis(meta["config"])
        t0 = redis_key.redis_key_handle(r, "t0", meta["job_name"]).get_value()
        failures = redis_key.failures_key_handle(r, meta["job_name"])
        failures.incr()
        own = sync_logging.get_sync_logger(meta["config"]["log"])
        assert own is logger
        logger.info("post_job", job_name=meta["job_name"], failures=failures.get_value(),
                    had_t0=t0 is not None)

    @staticmethod
    def pre_data_obj_modify(hdlr_mod, logger, session, meta, op, **options):
        logger.info("pre_data_obj_modify", op=op.name)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn handlers_run_on_the_bundled_modules() {
    let info = runtime().info();
    assert_eq!(info.package, IngestPackage::Bundled);
    assert!(info.package_file.ends_with("python/compat/irods_capability_automated_ingest/__init__.py"));

    let redis = test_support::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("job.log").to_str().unwrap().to_owned();
    let meta = meta(&log, redis.port());
    let key = "custom_event_handler:/bundled.job::00000000000000000000000000000001";
    let module = ingest_pyhandlers::reference_module_name("bundled.job", key).unwrap();
    let limits = CallLimits::none();
    let handler =
        runtime().load(key, &module, HANDLER, &limits).await.unwrap_or_else(|e| panic!("{}", e.traceback()));

    let op = handler
        .operation(&meta, &PyDict::new(), &limits)
        .await
        .unwrap_or_else(|e| panic!("{}", e.traceback()));
    assert_eq!(op.member(), Some(ingest_pyhandlers::Operation::PutAppend));
    assert!(handler.pre_job(&meta, &limits).await.unwrap());
    assert!(handler.post_job(&meta, &limits).await.unwrap_or_else(|e| panic!("{}", e.traceback())));

    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<OperationInput>::new()));
    let record = seen.clone();
    let operation = operation_fn(move |input| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push(input);
            Ok(())
        }
    });
    handler
        .on_event(EventCall {
            event: Event::DataObjModify,
            meta: meta.clone(),
            op: Some(ingest_pyhandlers::Operation::PutAppend),
            options: PyDict::new(),
            operation,
            limits,
        })
        .await
        .unwrap_or_else(|e| panic!("{}", e.traceback()));
    assert_eq!(seen.lock().unwrap().len(), 1);

    // The default sink appended the hooks' lines to meta.config.log.filename.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["event"], "post_job");
    assert_eq!(lines[0]["failures"], 1);
    assert_eq!(lines[0]["had_t0"], true);
    assert_eq!(lines[0]["logger"], format!("irods_sync/{log}/"));
    assert_eq!(lines[1]["event"], "pre_data_obj_modify");
    assert_eq!(lines[1]["op"], "PUT_APPEND");
}

#[test]
fn bundled_modules_behave_like_the_reference() {
    let output = Command::new(test_support::venv_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/compat_matches_reference.py"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../python/compat/irods_capability_automated_ingest"))
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stdout == b"ok\n",
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_structlog_stand_in_renders_the_same_lines() {
    let output = Command::new(test_support::venv_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/fallback_logger_matches_structlog.py"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../python"))
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stdout == b"ok\n",
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
