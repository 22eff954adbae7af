//! The hooks' logger writes the reference's JSON lines: same keys, order, rendering and level
//! filtering as `sync_logging.get_sync_logger`, compared with the reference writing the same
//! events.

mod common;

use std::process::Command;

use common::*;
use ingest_pyhandlers::{CallLimits, Event, EventCall, PyValue};

/// Log calls a hook makes; run by the reference's logger and by the runtime's.
const CALLS: &str = r#"
logger.info("pre_data_obj_create:[/tempZone/home/rods/a]")
logger.info("synchronizing file", path="/data/src/a", t0=1.5, size=2**70, flag=True, nothing=None)
logger.warning("odd", obj=object, items=[1, "two", (3, 4)], mapping={"k": b"bytes"})
logger.warn("old name")
logger.debug("not at INFO")
logger.error("unicode caf\u00e9 \udce9")
logger.bind(job_name="j1").info("bound", task="t")
"#;

fn without_timestamp(line: &str) -> (String, String) {
    let at = line.rfind(", \"@timestamp\": \"").unwrap_or_else(|| panic!("timestamp last in {line}"));
    (line[..at].to_owned(), line[at..].to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn log_lines_match_the_reference_logger() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ingest.log").to_str().unwrap().to_owned();
    let calls = dir.path().join("calls.py");
    std::fs::write(&calls, CALLS).unwrap();
    let output = Command::new(test_support::venv_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/reference_log_lines.py"))
        .arg(&log)
        .arg(&calls)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let reference = std::fs::read_to_string(&log).unwrap();

    let hook = format!(
        "from irods_capability_automated_ingest.core import Core\n\
         class event_handler(Core):\n    @staticmethod\n    def pre_coll_create(hdlr_mod, logger, session, meta, **options):\n{}",
        CALLS.lines().map(|l| format!("        {l}\n")).collect::<String>()
    );
    let handler = load_source("logging", &hook).await;
    let mut meta = entry_meta(Some(&log), "/data/src", "/tempZone/home/rods");
    if let Some(PyValue::Dict(config)) = meta.get_mut("config")
        && let Some(PyValue::Dict(log_config)) = config.get_mut("log")
    {
        log_config.insert("level", "INFO");
    }
    let (operation, _) = recording_operation();
    handler
        .on_event(EventCall {
            event: Event::CollCreate,
            meta,
            op: None,
            options: options(&[]),
            operation,
            limits: CallLimits::none(),
        })
        .await
        .unwrap_or_else(|e| panic!("{}", e.traceback()));
    let ours = fixture().sink.lines_for(&log);

    let reference: Vec<&str> = reference.lines().collect();
    assert_eq!(reference.len(), 6, "debug is filtered at INFO:\n{}", reference.join("\n"));
    assert_eq!(ours.len(), reference.len(), "{ours:#?}");
    for (expected, actual) in reference.iter().zip(&ours) {
        let (expected_body, expected_stamp) = without_timestamp(expected);
        let (actual_body, actual_stamp) = without_timestamp(actual);
        assert_eq!(actual_body, expected_body);
        // Same shape: local time, milliseconds, UTC offset.
        assert_eq!(actual_stamp.len(), expected_stamp.len(), "{actual_stamp} vs {expected_stamp}");
    }
}
