//! Shared set-up for the integration tests: one runtime per test binary, a log sink that keeps
//! the lines, meta like the reference's file tasks build, and a recording operation.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use ingest_pyhandlers::{
    CallLimits, Handler, HandlerRuntime, LogDestination, LogSink, OperationFn, OperationInput, PyDict,
    PyValue, RuntimeConfig, operation_fn,
};

/// Keeps every line it receives (and also writes files like the default sink would not: tests
/// only look at what arrives here).
#[derive(Default)]
pub struct CaptureSink {
    pub lines: Mutex<Vec<(Option<LogDestination>, i32, String)>>,
}

impl LogSink for CaptureSink {
    fn write(&self, destination: Option<&LogDestination>, level: i32, line: &str) {
        self.lines.lock().unwrap().push((destination.cloned(), level, line.to_owned()));
    }
}

impl CaptureSink {
    /// Lines written for the log file `filename`.
    pub fn lines_for(&self, filename: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|(d, _, _)| d.as_ref().and_then(|d| d.filename.as_deref()) == Some(filename))
            .map(|(_, _, line)| line.clone())
            .collect()
    }
}

pub struct Fixture {
    pub runtime: HandlerRuntime,
    pub sink: Arc<CaptureSink>,
}

/// The test binary's runtime (4 threads, reference package, capturing sink, root level INFO).
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let sink = Arc::new(CaptureSink::default());
        let runtime = HandlerRuntime::start(RuntimeConfig {
            threads: 4,
            log_sink: sink.clone(),
            log_level: Some("INFO".into()),
            ..RuntimeConfig::default()
        })
        .expect("runtime starts");
        Fixture { runtime, sink }
    })
}

/// The reference package's `examples/` directory (next to the package the runtime imported).
pub fn examples_dir() -> PathBuf {
    let package_file = PathBuf::from(&fixture().runtime.info().package_file);
    package_file.parent().unwrap().join("examples")
}

pub fn example_source(name: &str) -> String {
    std::fs::read_to_string(examples_dir().join(name)).expect("example handler exists")
}

/// A unique key per call, so tests never share a loaded module by accident.
pub fn unique_key(label: &str) -> (String, String) {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let uuid = format!("{:08x}{:024x}", std::process::id(), n);
    let job = format!("test.{label}");
    let key = format!("custom_event_handler:/{job}::{uuid}");
    let module = ingest_pyhandlers::reference_module_name(&job, &key).unwrap();
    (key, module)
}

pub async fn load_source(label: &str, source: &str) -> Handler {
    let (key, module) = unique_key(label);
    fixture()
        .runtime
        .load(&key, &module, source, &CallLimits::none())
        .await
        .unwrap_or_else(|e| panic!("loading {label}: {}", e.traceback()))
}

pub async fn load_example(name: &str) -> Handler {
    load_source(name.trim_end_matches(".py"), &example_source(name)).await
}

/// `meta["config"]["log"]` with the given file (or stdout) and level None.
pub fn log_config(filename: Option<&str>) -> PyDict {
    let mut log = PyDict::new();
    log.insert("filename", PyValue::from(filename.map(str::to_owned)));
    log.insert("when", PyValue::Null);
    log.insert("interval", PyValue::Null);
    log.insert("level", PyValue::Null);
    log
}

/// Meta as a `filesystem_sync_files` entry sees it (the keys hooks read).
pub fn entry_meta(log_file: Option<&str>, path: &str, target: &str) -> PyDict {
    let mut config = PyDict::new();
    config.insert("log", log_config(log_file));
    config.insert("profile", log_config(None));
    let mut redis = PyDict::new();
    redis.insert("host", "127.0.0.1");
    redis.insert("port", 1i64);
    redis.insert("db", 0i64);
    config.insert("redis", redis);
    let mut meta = PyDict::new();
    meta.insert("job_name", "test.job");
    meta.insert("config", config);
    meta.insert("root", "/data/src");
    meta.insert("target", target);
    meta.insert("path", path);
    meta.insert("task", "sync_file");
    meta.insert("entry_type", "file");
    meta.insert("idle_disconnect_seconds", 60i64);
    meta.insert("size", 3i64);
    meta.insert("mtime", 1700000000.5f64);
    meta.insert("ctime", 1700000000.5f64);
    meta
}

pub fn options(pairs: &[(&str, PyValue)]) -> PyDict {
    let mut d = PyDict::new();
    for (k, v) in pairs {
        d.insert(*k, v.clone());
    }
    d
}

/// An operation that records its inputs and succeeds.
pub fn recording_operation() -> (OperationFn, Arc<Mutex<Vec<OperationInput>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let op = operation_fn(move |input| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push(input);
            Ok(())
        }
    });
    (op, seen)
}
