//! Hooks and overrides get exactly the arguments the reference package gives them.
//!
//! The probe handler (tests/handlers/probe.py) records every call it receives. The same table of
//! cases runs twice: through the reference package's own `custom_event_handler` in a Python
//! subprocess (tests/python/reference_calls.py, with a real redis-server for its handler key), and
//! through this crate. The two recordings must be identical. The driver also runs the reference's
//! real `sync_data_from_file` for a NO_OP entry, which must match the corresponding table rows.

mod common;

use std::io::Write;
use std::process::Command;

use celery_proto::json::py_repr;
use common::*;
use ingest_pyhandlers::{
    CallLimits, Event, EventCall, HandlerChoice, Operation, PyDict, PyValue, operation_fn,
};
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    kind: &'static str,
    event: Option<Event>,
    op: Option<Operation>,
    options: Vec<(&'static str, PyValue)>,
}

fn no_redirect() -> Vec<(&'static str, PyValue)> {
    vec![("allow_redirect", PyValue::Bool(false))]
}

/// Reference §6.3: every event shape the tasks produce.
fn cases() -> Vec<Case> {
    let event = |name, event, op, options| Case { name, kind: "event", event: Some(event), op, options };
    let other = |name, kind, options| Case { name, kind, event: None, op: None, options };
    vec![
        event("data_obj_create register", Event::DataObjCreate, None, no_redirect()),
        event("data_obj_create put", Event::DataObjCreate, Some(Operation::Put), no_redirect()),
        event(
            "data_obj_create replica",
            Event::DataObjCreate,
            None,
            vec![("allow_redirect", PyValue::Bool(false)), ("regRepl", PyValue::str(""))],
        ),
        event("data_obj_create no_op", Event::DataObjCreate, None, vec![]),
        event("data_obj_modify put_sync", Event::DataObjModify, Some(Operation::PutSync), no_redirect()),
        event("data_obj_modify put_append", Event::DataObjModify, Some(Operation::PutAppend), no_redirect()),
        event("data_obj_modify update_metadata", Event::DataObjModify, None, no_redirect()),
        event("coll_create dir task", Event::CollCreate, None, vec![]),
        event("coll_create create_dirs", Event::CollCreate, None, no_redirect()),
        event("coll_modify", Event::CollModify, None, vec![]),
        event("data_obj_delete", Event::DataObjDelete, None, vec![]),
        event("coll_delete", Event::CollDelete, None, vec![]),
        other("operation", "operation", vec![]),
        other("to_resource", "to_resource", no_redirect()),
        other("target_path", "target_path", no_redirect()),
        other("delete_mode", "delete_mode", vec![]),
        other("max_retries", "max_retries", vec![]),
        other("timeout", "timeout", vec![]),
        other("delay", "delay", vec![]),
        other("pre_job", "pre_job", vec![]),
        other("post_job", "post_job", vec![]),
    ]
}

fn options_dict(options: &[(&'static str, PyValue)]) -> PyDict {
    let mut d = PyDict::new();
    for (k, v) in options {
        d.insert(*k, v.clone());
    }
    d
}

fn options_json(options: &[(&'static str, PyValue)]) -> Value {
    Value::Object(
        options
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    PyValue::Bool(b) => json!(b),
                    PyValue::Str(s) => json!(s.to_string()),
                    other => panic!("unexpected option value {other:?}"),
                };
                (k.to_string(), v)
            })
            .collect(),
    )
}

fn append(path: &str, line: Value) {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    writeln!(file, "{line}").unwrap();
}

fn read_lines(path: &str) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn probe_meta(job: &str, key: &str, probe_file: &str, redis_port: u16) -> PyDict {
    let mut meta = entry_meta(None, "/data/src/probe.txt", "/tempZone/home/rods/dst/probe.txt");
    meta.insert("job_name", job);
    meta.insert("event_handler_key", key);
    meta.insert("probe_file", probe_file);
    meta.insert("idle_disconnect_seconds", 0.1f64);
    if let Some(PyValue::Dict(config)) = meta.get_mut("config")
        && let Some(PyValue::Dict(redis)) = config.get_mut("redis")
    {
        redis.insert("port", i64::from(redis_port));
    }
    meta
}

fn meta_json(meta: &PyDict) -> Value {
    serde_json::from_str(&meta.to_json()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn hook_arguments_match_the_reference() {
    let redis = test_support::RedisServer::start();
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/handlers/probe.py")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let uuid = format!("{:032x}", u128::from(std::process::id()) << 64 | 0x5eed);
    let job = "probe.job";
    let key = format!("custom_event_handler:/{job}::{uuid}");
    let reference_file = dir.path().join("reference.jsonl").to_str().unwrap().to_owned();
    let rust_file = dir.path().join("rust.jsonl").to_str().unwrap().to_owned();

    // 1. The reference package.
    let spec = json!({
        "meta": meta_json(&probe_meta(job, &key, &reference_file, redis.port())),
        "source": source,
        "cases": cases().iter().map(|c| json!({
            "name": c.name,
            "kind": c.kind,
            "event": c.event.map(|e| e.name()),
            "logger": c.event.map(|e| e.passes_logger()),
            "op": c.op.map(|o| o.name()),
            "options": options_json(&c.options),
            "retries": 2,
        })).collect::<Vec<_>>(),
    });
    let spec_file = dir.path().join("spec.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let output = Command::new(test_support::venv_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/reference_calls.py"))
        .arg(&spec_file)
        .env("IRODS_HOST", "127.0.0.1")
        .env("IRODS_PORT", "1")
        .env("IRODS_USER_NAME", "rods")
        .env("IRODS_ZONE_NAME", "tempZone")
        .env("IRODS_PASSWORD", "rods")
        .env_remove("IRODS_ENVIRONMENT_FILE")
        .output()
        .unwrap();
    assert!(output.status.success(), "reference driver failed:\n{}", String::from_utf8_lossy(&output.stderr));

    // 2. This crate, same module name as the reference gives it.
    let module = ingest_pyhandlers::reference_module_name(job, &key).unwrap();
    let handler = fixture().runtime.load(&key, &module, &source, &CallLimits::none()).await.unwrap();
    let meta = probe_meta(job, &key, &rust_file, redis.port());
    let limits = CallLimits::none();
    for case in cases() {
        append(&rust_file, json!({ "case": case.name }));
        let options = options_dict(&case.options);
        match case.kind {
            "event" => {
                let event = case.event.unwrap();
                let arity = if event.passes_logger() { 4 } else { 3 } + usize::from(case.op.is_some());
                let file = rust_file.clone();
                let operation = operation_fn(move |input| {
                    let file = file.clone();
                    async move {
                        let options: serde_json::Map<String, Value> = input
                            .options
                            .iter()
                            .map(|(k, v)| (k.to_string(), json!(py_repr(v).to_string())))
                            .collect();
                        let op = input.op.map(|op| match op {
                            HandlerChoice::Member(op) => format!("<Operation.{}: {}>", op.name(), op.value()),
                            other => panic!("unexpected op {other:?}"),
                        });
                        append(&file, json!({"hook": "func", "arity": arity, "options": options, "op": op}));
                        Ok(())
                    }
                });
                handler
                    .on_event(EventCall {
                        event,
                        meta: meta.clone(),
                        op: case.op,
                        options,
                        operation,
                        limits: limits.clone(),
                    })
                    .await
                    .unwrap();
            }
            "operation" => {
                handler.operation(&meta, &options, &limits).await.unwrap();
            }
            "to_resource" => {
                handler.to_resource(&meta, &options, &limits).await.unwrap();
            }
            "target_path" => {
                handler.target_path(&meta, &options, &limits).await.unwrap();
            }
            "delete_mode" => {
                handler.delete_mode(&meta, &limits).await.unwrap();
            }
            "max_retries" => assert_eq!(handler.max_retries(&meta, &limits).await.unwrap(), PyValue::Int(2)),
            "timeout" => assert_eq!(handler.timeout(&meta, &limits).await.unwrap(), PyValue::Int(7)),
            "delay" => assert_eq!(handler.delay(&meta, 2, &limits).await.unwrap(), PyValue::Int(3)),
            "pre_job" => assert!(handler.pre_job(&meta, &limits).await.unwrap()),
            "post_job" => assert!(handler.post_job(&meta, &limits).await.unwrap()),
            other => panic!("{other}"),
        }
    }

    if std::env::var_os("PYH_DUMP_PROBE").is_some() {
        eprintln!("{}", std::fs::read_to_string(&reference_file).unwrap());
    }
    // 3. Compare.
    let reference = read_lines(&reference_file);
    let ours = read_lines(&rust_file);
    let real_at = reference
        .iter()
        .position(|l| l["case"] == "real sync_data_from_file NO_OP")
        .expect("the driver ran the real code path");
    let (table, real) = reference.split_at(real_at);
    assert!(table.len() > cases().len() * 2, "the probe recorded calls");
    for (i, (expected, actual)) in table.iter().zip(&ours).enumerate() {
        assert_eq!(actual, expected, "line {i} differs");
    }
    assert_eq!(ours.len(), table.len());

    // The real NO_OP entry: operation(session, meta) with no options, then the no_op row.
    let no_op_row: Vec<&Value> = {
        let start = table.iter().position(|l| l["case"] == "data_obj_create no_op").unwrap();
        table[start + 1..].iter().take_while(|l| l.get("case").is_none()).collect()
    };
    let operation_row = &table[table.iter().position(|l| l["case"] == "operation").unwrap() + 1];
    let real_calls: Vec<&Value> = real[1..].iter().collect();
    assert_eq!(real_calls[0], operation_row);
    // The real path passes its own no_op function instead of the driver's recording one.
    let hooks_only: Vec<&Value> = no_op_row.into_iter().filter(|l| l["hook"] != "func").collect();
    assert_eq!(&real_calls[1..], hooks_only.as_slice());

    // Spot checks against §6.3, so that a shared mistake cannot pass unnoticed.
    let row = |case: &str| -> Vec<Value> {
        let start = table.iter().position(|l| l["case"] == case).unwrap();
        table[start + 1..].iter().take_while(|l| l.get("case").is_none()).cloned().collect()
    };
    let put = row("data_obj_create put");
    assert_eq!(put[0]["hook"], "pre_data_obj_create");
    assert_eq!(
        put[0]["args"],
        json!([
            "module with event_handler",
            "logger BoundLoggerLazyProxy",
            "session",
            "meta",
            "<Operation.PUT: 2>"
        ])
    );
    assert_eq!(put[0]["options"], json!({"allow_redirect": "False"}));
    assert_eq!(put[1]["hook"], "func");
    assert_eq!(put[2]["hook"], "post_data_obj_create");
    let delete = row("data_obj_delete");
    assert_eq!(delete[0]["args"], json!(["module with event_handler", "session", "meta"]));
    let timeout = row("timeout");
    assert_eq!(timeout[0]["args"][0], "class event_handler");
    assert!(
        timeout[0]["args"][1].as_str().unwrap().starts_with("dict {\"filename\": null"),
        "{}",
        timeout[0]
    );
    let pre_job = row("pre_job");
    assert_eq!(pre_job[0]["args"], json!(["class event_handler", "logger BoundLoggerLazyProxy", "meta"]));
}
