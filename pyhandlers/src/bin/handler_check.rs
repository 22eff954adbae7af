//! Starts the handler runtime, runs one hook of an event handler file and prints what the
//! embedded interpreter looks like, as one JSON line. Used by the tests to check that an
//! executable finds the right libpython, standard library and venv in an empty environment;
//! also handy on a deployment host:
//!
//! ```text
//! handler_check [event_handler.py]
//! ```

use ingest_pyhandlers::{
    CallLimits, Event, EventCall, HandlerRuntime, PyDict, PyValue, RuntimeConfig, operation_fn,
};

const DEFAULT_HANDLER: &str = "\
from irods_capability_automated_ingest.core import Core
class event_handler(Core):
    @staticmethod
    def pre_data_obj_create(hdlr_mod, logger, session, meta, *args, **options):
        import sys
        logger.warning('hook ran', python=sys.version.split()[0])
";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let source = match std::env::args().nth(1) {
        Some(path) => std::fs::read_to_string(path)?,
        None => DEFAULT_HANDLER.to_owned(),
    };
    let runtime = HandlerRuntime::start(RuntimeConfig { threads: 1, ..RuntimeConfig::default() })?;
    let key = "custom_event_handler:/check::0";
    let handler = runtime.load(key, "event_handlercheck0", &source, &CallLimits::none()).await?;
    let meta = PyValue::from_json(
        br#"{"job_name": "check", "path": "/p", "target": "/t",
             "config": {"log": {"filename": null, "when": null, "interval": null, "level": null}}}"#,
    )?;
    let PyValue::Dict(meta) = meta else { unreachable!() };
    handler
        .on_event(EventCall {
            event: Event::DataObjCreate,
            meta,
            op: None,
            options: PyDict::new(),
            operation: operation_fn(|_| async { Ok(()) }),
            limits: CallLimits::none(),
        })
        .await?;
    let info = runtime.info();
    let mut report = PyDict::new();
    report.insert("version", info.version.as_str());
    report.insert("executable", info.executable.as_str());
    report.insert("prefix", info.prefix.as_str());
    report.insert("package", info.package_file.as_str());
    report.insert("sys_path", info.sys_path.iter().map(|p| PyValue::from(p.as_str())).collect::<Vec<_>>());
    println!("{}", report.to_json());
    Ok(())
}
