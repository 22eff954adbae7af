//! Meta goes to Python and comes back without loss: lone surrogates, big ints, NaN, order.

mod common;

use common::*;
use ingest_pyhandlers::{CallLimits, Event, EventCall, PyDict, PyStr, PyValue};

const CHECKER: &str = r#"
import math
from irods_capability_automated_ingest.core import Core

class event_handler(Core):
    @staticmethod
    def pre_data_obj_create(hdlr_mod, logger, session, meta, *args, **options):
        assert meta["path"] == "/data/src/caf\udce9.txt", ascii(meta["path"])
        assert meta["big"] == 2**70 and type(meta["big"]) is int
        assert meta["neg_big"] == -(2**80)
        assert math.isnan(meta["nan"]) and meta["inf"] == float("inf")
        assert list(meta["ordered"]) == ["z", "a", "m"]
        assert meta["nested"] == {"list": [1, 2.5, None, True, "x"]}
        # In-process keys that the reference holds as bytes (base64.b64encode results).
        assert meta["b64_path_str"] == b"L2RhdGEvc3JjL2NhZu0udHh0", meta["b64_path_str"]
        meta["added"] = {1: "int key", None: "none key", 2.5: (1, 2)}
        meta["object"] = object
"#;

#[tokio::test(flavor = "multi_thread")]
async fn meta_round_trips_through_python() {
    let handler = load_source("values", CHECKER).await;
    let mut meta = entry_meta(None, "", "/tempZone/home/rods/dst/caf.txt");
    let surrogate_path = PyStr::from_fs_bytes(b"/data/src/caf\xe9.txt");
    assert!(surrogate_path.has_lone_surrogates());
    meta.insert("path", surrogate_path.clone());
    meta.insert("big", PyValue::from_json(b"1180591620717411303424").unwrap());
    meta.insert("neg_big", PyValue::from_json(b"-1208925819614629174706176").unwrap());
    meta.insert("nan", f64::NAN);
    meta.insert("inf", f64::INFINITY);
    let mut ordered = PyDict::new();
    ordered.insert("z", 1i64);
    ordered.insert("a", 2i64);
    ordered.insert("m", 3i64);
    meta.insert("ordered", ordered);
    meta.insert("nested", PyValue::from_json(br#"{"list": [1, 2.5, null, true, "x"]}"#).unwrap());
    meta.insert("b64_path_str", "L2RhdGEvc3JjL2NhZu0udHh0");
    let original = meta.clone();

    let (operation, seen) = recording_operation();
    handler
        .on_event(EventCall {
            event: Event::DataObjCreate,
            meta,
            op: None,
            options: options(&[]),
            operation,
            limits: CallLimits::none(),
        })
        .await
        .unwrap_or_else(|e| panic!("{}", e.traceback()));
    let mut back = seen.lock().unwrap()[0].meta.clone();
    // What the hook added: json.dumps key coercion; unknown objects as their repr.
    assert_eq!(
        back.remove("added").unwrap().to_json(),
        r#"{"1": "int key", "null": "none key", "2.5": [1, 2]}"#
    );
    assert_eq!(back.remove("object").unwrap().as_str(), Some("<class 'object'>"));
    // Everything else is exactly what went in (compared as JSON text: NaN != NaN).
    assert_eq!(back.to_json(), original.to_json());
    assert_eq!(back.get("path").unwrap().as_py_str(), Some(&surrogate_path));
}
