//! [`HandlerRuntime`]: the entry point — start once, load handlers by key, call them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use pyo3::prelude::*;

use crate::error::{HandlerError, StartError};
use crate::handler::{Handler, python_error, read_loaded};
use crate::interpreter::{self, IngestPackage, InterpreterInfo, PythonEnvironment, globals};
use crate::logsink::{DefaultLogSink, LogSink};
use crate::pool::{CallLimits, Pool};

/// How to start a runtime.
#[derive(Clone)]
pub struct RuntimeConfig {
    /// Python threads = the most handler calls in flight at once. Give it the worker's task
    /// concurrency: a call holds its thread for the whole operation it wraps (I/O, GIL released),
    /// so fewer threads than concurrent tasks would make tasks queue behind each other's transfers.
    pub threads: usize,
    pub package: IngestPackage,
    pub environment: PythonEnvironment,
    pub log_sink: Arc<dyn LogSink>,
    /// Level of Python's root logger (the worker's `-l`), e.g. `"INFO"`. Loggers whose
    /// `meta.config.log.level` is None inherit it, as under Celery. None keeps Python's WARNING.
    pub log_level: Option<String>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            threads: 4,
            package: IngestPackage::Auto,
            environment: PythonEnvironment::Default,
            log_sink: Arc::new(DefaultLogSink::new()),
            log_level: None,
        }
    }
}

/// Runs event handlers on Python threads of its own. Cheap to clone; the threads stop when the
/// last clone (and the last [`Handler`] from it) is dropped.
#[derive(Clone)]
pub struct HandlerRuntime {
    shared: Arc<Shared>,
}

struct Shared {
    id: u64,
    pool: Arc<Pool>,
    handlers: Mutex<HashMap<String, Handler>>,
    info: InterpreterInfo,
}

impl Drop for Shared {
    fn drop(&mut self) {
        sinks().write().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

type SinkMap = RwLock<HashMap<u64, Arc<dyn LogSink>>>;

fn sinks() -> &'static SinkMap {
    static SINKS: std::sync::OnceLock<SinkMap> = std::sync::OnceLock::new();
    SINKS.get_or_init(Default::default)
}

pub(crate) fn sink_for(runtime_id: u64) -> Option<Arc<dyn LogSink>> {
    sinks().read().unwrap_or_else(|p| p.into_inner()).get(&runtime_id).cloned()
}

impl HandlerRuntime {
    /// Sets the interpreter up (the first time in the process; ~0.3 s with the venv's packages)
    /// and starts the Python threads. Blocking: call it at worker start-up, before serving, or
    /// through `spawn_blocking`.
    pub fn start(config: RuntimeConfig) -> Result<Self, StartError> {
        let id = NEXT_ID.fetch_add(1, Ordering::SeqCst);
        sinks().write().unwrap_or_else(|p| p.into_inner()).insert(id, config.log_sink.clone());
        let info =
            match interpreter::setup(&config.environment, config.package, config.log_level.as_deref(), id) {
                Ok(info) => info,
                Err(err) => {
                    sinks().write().unwrap_or_else(|p| p.into_inner()).remove(&id);
                    return Err(err);
                }
            };
        let pool = Arc::new(Pool::start(config.threads, id)?);
        tracing::info!(
            target: "ingest_pyhandlers",
            python = %info.version.split_whitespace().next().unwrap_or_default(),
            package = ?info.package,
            threads = pool.threads(),
            "event handler runtime started"
        );
        Ok(HandlerRuntime {
            shared: Arc::new(Shared { id, pool, handlers: Mutex::new(HashMap::new()), info }),
        })
    }

    /// What the interpreter looks like (version, package, `sys.path`).
    pub fn info(&self) -> &InterpreterInfo {
        &self.shared.info
    }

    /// The number of Python threads, i.e. of handler calls that can be in flight at once.
    pub fn threads(&self) -> usize {
        self.shared.pool.threads()
    }

    /// The handler loaded under `key`, if any. Callers check this before fetching the source.
    pub fn handler(&self, key: &str) -> Option<Handler> {
        self.shared.handlers.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    /// Imports `source` as module `module_name` (see [`reference_module_name`]) and remembers it
    /// under `key`; a second load of the same key returns the first handler without running any
    /// Python. A failed import is not remembered, so the next task tries again (as the reference,
    /// which imports on every access).
    pub async fn load(
        &self,
        key: &str,
        module_name: &str,
        source: &str,
        limits: &CallLimits,
    ) -> Result<Handler, HandlerError> {
        if let Some(handler) = self.handler(key) {
            return Ok(handler);
        }
        let name = module_name.to_owned();
        let text = source.to_owned();
        let owned_key = key.to_owned();
        let (module, class, capabilities) = self
            .shared
            .pool
            .call(limits, move |py, context| {
                let filename = format!("/tmp/{name}.py");
                globals()
                    .load_handler
                    .bind(py)
                    .call1((name.as_str(), text.as_str(), filename))
                    .and_then(|loaded| read_loaded(&loaded))
                    .map_err(|err| match python_error(py, err, &context.state) {
                        HandlerError::Raised(exception) => HandlerError::Load { key: owned_key, exception },
                        other => other,
                    })
            })
            .await?;
        let handler = Handler::from_loaded(
            self.shared.pool.clone(),
            self.shared.id,
            key.to_owned(),
            module_name.to_owned(),
            module,
            class,
            capabilities,
        );
        let mut handlers = self.shared.handlers.lock().unwrap_or_else(|p| p.into_inner());
        Ok(handlers.entry(key.to_owned()).or_insert(handler).clone())
    }

    /// Closes the connections of every python-irodsclient session hooks opened (the reference
    /// does this after `idle_disconnect_seconds` without entries); sessions reconnect when used.
    pub async fn cleanup_sessions(&self) -> Result<(), HandlerError> {
        self.shared
            .pool
            .call(&CallLimits::none(), |py, context| {
                globals()
                    .cleanup_sessions
                    .bind(py)
                    .call0()
                    .map(drop)
                    .map_err(|err| python_error(py, err, &context.state))
            })
            .await
    }

    /// Forgets the handler loaded under `key` (the Python module stays in `sys.modules`).
    pub fn forget(&self, key: &str) -> Option<Handler> {
        self.shared.handlers.lock().unwrap_or_else(|p| p.into_inner()).remove(key)
    }
}

/// The module name the reference gives a handler: `"event_handler" + job_name with "." replaced
/// by "__" + the uuid after "::" in the key` (`custom_event_handler.get_module`). None when the key
/// has no `::` (the reference fails with IndexError there).
pub fn reference_module_name(job_name: &str, event_handler_key: &str) -> Option<String> {
    let uuid = event_handler_key.split("::").nth(1)?;
    Some(format!("event_handler{}{}", job_name.replace('.', "__"), uuid))
}

#[cfg(test)]
mod tests {
    use super::reference_module_name;

    #[test]
    fn module_name_matches_the_reference() {
        assert_eq!(
            reference_module_name("job.reg1", "custom_event_handler:/job.reg1::a3bf981f").as_deref(),
            Some("event_handlerjob__reg1a3bf981f")
        );
        assert_eq!(reference_module_name("j", "custom_event_handler:/j"), None);
    }
}
