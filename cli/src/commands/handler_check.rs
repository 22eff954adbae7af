//! `check_event_handler` (reference `irods_sync.py`): before anything is stored or queued,
//! `start` runs the handler file in the embedded interpreter, requires its `event_handler` class
//! and validates `character_map()` exactly as the reference's CLI does. Any failure is one line.

use std::ffi::CString;

use anyhow::{Context as _, anyhow};
use ingest_pyhandlers::{HandlerRuntime, RuntimeConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The checks, in Python because they are Python semantics (`dict(returned)`, `len` of str keys
/// and tuple members).
const CHECK: &str = r#"
def check(source, filename):
    namespace = {}
    exec(compile(source, filename, "exec"), namespace, namespace)
    handler = namespace["event_handler"]
    char_map = getattr(handler, "character_map", None)
    if char_map:
        returned = char_map()
        try:
            mapping = dict(returned)
        except TypeError:
            raise ValueError("character_map() method must return a dict or iterable of key value tuples")
        for key, value in mapping.items():
            if (isinstance(key, str) and len(key) > 1
                    or isinstance(key, tuple) and any(len(s) > 1 for s in key)
                    or isinstance(value, str) and len(value) > 1):
                raise ValueError("character_map()'s returned object should denote only single-character substitutions")

def describe(error):
    import traceback
    if isinstance(error, KeyError) and error.args == ("event_handler",):
        return "defines no class named event_handler"
    return traceback.format_exception_only(type(error), error)[-1].strip()
"#;

/// Reads and checks the handler file; the error says which file and what is wrong.
pub fn check_event_handler(path: &str) -> anyhow::Result<()> {
    let source =
        std::fs::read_to_string(path).with_context(|| format!("cannot read event handler {path}"))?;
    // The runtime sets up sys.path (the venv, or the bundled stand-in of the reference package).
    let _runtime = HandlerRuntime::start(RuntimeConfig { threads: 1, ..RuntimeConfig::default() })
        .context("starting the embedded Python to check the event handler")?;
    let outcome: Result<(), String> = Python::attach(|py| {
        let code = CString::new(CHECK).expect("no NUL in the check");
        let namespace = PyDict::new(py);
        py.run(&code, Some(&namespace), Some(&namespace)).map_err(|e| e.to_string())?;
        let check = namespace.get_item("check").ok().flatten().ok_or("check() missing")?;
        match check.call1((source.as_str(), path)) {
            Ok(_) => Ok(()),
            Err(error) => {
                let describe = namespace.get_item("describe").ok().flatten().ok_or("describe() missing")?;
                let text = describe
                    .call1((error.value(py),))
                    .and_then(|t| t.extract::<String>())
                    .unwrap_or_else(|_| error.to_string());
                Err(text)
            }
        }
    });
    outcome.map_err(|why| anyhow!("event handler {path}: {why}"))
}
