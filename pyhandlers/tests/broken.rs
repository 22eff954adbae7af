//! Bad handlers fail the affected call with the Python traceback; the runtime keeps serving.

mod common;

use common::*;
use ingest_pyhandlers::{CallLimits, Event, EventCall, HandlerChoice, HandlerError, PyValue};

async fn load_err(label: &str, source: &str) -> HandlerError {
    let (key, module) = unique_key(label);
    let err = fixture()
        .runtime
        .load(&key, &module, source, &CallLimits::none())
        .await
        .err()
        .unwrap_or_else(|| panic!("{label} must not load"));
    assert!(fixture().runtime.handler(&key).is_none());
    err
}

async fn still_serving() {
    let handler = load_example("register_with_peps.py").await;
    let (operation, seen) = recording_operation();
    handler
        .on_event(EventCall {
            event: Event::DataObjCreate,
            meta: entry_meta(None, "/data/src/x", "/tempZone/home/rods/x"),
            op: None,
            options: options(&[]),
            operation,
            limits: CallLimits::none(),
        })
        .await
        .expect("a good handler still works");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn syntax_error() {
    let err = load_err(
        "syntax",
        "from irods_capability_automated_ingest.core import Core\nclass event_handler(Core)\n    pass\n",
    )
    .await;
    let HandlerError::Load { exception, key } = &err else { panic!("{err:?}") };
    assert!(key.starts_with("custom_event_handler:/test.syntax::"));
    assert_eq!(exception.type_name, "SyntaxError");
    assert!(exception.traceback.contains("class event_handler(Core)"), "{}", exception.traceback);
    assert!(exception.traceback.contains("line 2"), "{}", exception.traceback);
    still_serving().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn import_error() {
    let err = load_err("import", "import no_such_module_for_ingest\nclass event_handler:\n    pass\n").await;
    let HandlerError::Load { exception, .. } = &err else { panic!("{err:?}") };
    assert_eq!(exception.type_name, "ModuleNotFoundError");
    assert!(exception.message.contains("no_such_module_for_ingest"));
    assert!(exception.traceback.contains("import no_such_module_for_ingest"), "{}", exception.traceback);
    still_serving().await;
}

const BAD: &str = r#"
from irods_capability_automated_ingest.core import Core
from irods_capability_automated_ingest.utils import Operation

class event_handler(Core):
    @staticmethod
    def pre_data_obj_create(hdlr_mod, logger, session, meta, *args, **options):
        raise ValueError("refusing " + meta["path"])

    @staticmethod
    def operation(session, meta, **options):
        if meta["path"].endswith(".raise"):
            raise KeyError("no operation")
        return meta.get("junk", "PUT")

    @staticmethod
    def to_resource(session, meta, **options):
        return 42

    @staticmethod
    def timeout(hdlr_mod, logger, meta):
        return "soon"

    @staticmethod
    def as_user(meta, **options):
        return ("tempZone",)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_raising_hook_fails_the_call_and_skips_the_operation() {
    let handler = load_source("raising", BAD).await;
    let (operation, seen) = recording_operation();
    let err = handler
        .on_event(EventCall {
            event: Event::DataObjCreate,
            meta: entry_meta(None, "/data/src/bad.txt", "/tempZone/home/rods/bad.txt"),
            op: None,
            options: options(&[("allow_redirect", PyValue::Bool(false))]),
            operation,
            limits: CallLimits::none(),
        })
        .await
        .expect_err("pre raised");
    let HandlerError::Raised(exception) = &err else { panic!("{err:?}") };
    assert_eq!(exception.type_name, "ValueError");
    assert_eq!(exception.message, "refusing /data/src/bad.txt");
    assert_eq!(exception.repr, "ValueError('refusing /data/src/bad.txt')");
    assert!(
        exception.traceback.contains(r#"raise ValueError("refusing " + meta["path"])"#),
        "{}",
        exception.traceback
    );
    assert!(exception.frames.last().unwrap().contains("in pre_data_obj_create"), "{:?}", exception.frames);
    assert!(seen.lock().unwrap().is_empty(), "pre failed: no operation");
    still_serving().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn junk_from_overrides() {
    let handler = load_source("junk", BAD).await;
    let meta = entry_meta(None, "/data/src/a.txt", "/tempZone/home/rods/a.txt");
    let limits = CallLimits::none();
    // A string is not an Operation: the caller gets it as such and fails the task.
    let op = handler.operation(&meta, &options(&[]), &limits).await.unwrap();
    assert_eq!(op, HandlerChoice::Other { type_name: "str".into(), repr: "'PUT'".into() });
    let mut none_meta = meta.clone();
    none_meta.insert("junk", PyValue::Null);
    assert_eq!(handler.operation(&none_meta, &options(&[]), &limits).await.unwrap(), HandlerChoice::None);
    let mut raise_meta = meta.clone();
    raise_meta.insert("path", "/data/src/a.raise");
    let err = handler.operation(&raise_meta, &options(&[]), &limits).await.expect_err("raised");
    assert!(matches!(&err, HandlerError::Raised(e) if e.type_name == "KeyError"), "{err:?}");

    let err = handler.to_resource(&meta, &options(&[]), &limits).await.expect_err("42 is no resource");
    assert!(
        matches!(&err, HandlerError::InvalidReturn { hook: "to_resource", repr, .. } if repr == "42"),
        "{err:?}"
    );
    let err = handler.timeout(&meta, &limits).await.expect_err("not a number");
    assert!(
        matches!(&err, HandlerError::InvalidReturn { hook: "timeout", repr, .. } if repr == "'soon'"),
        "{err:?}"
    );
    let err = handler.as_user(&meta, &options(&[]), &limits).await.expect_err("one-tuple");
    assert!(matches!(&err, HandlerError::InvalidReturn { hook: "as_user", .. }), "{err:?}");
    still_serving().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_without_event_handler_class_behaves_as_default() {
    let handler = load_source("noclass", "x = 1\n").await;
    assert!(!handler.capabilities().has_class());
    assert!(handler.capabilities().is_default());
    let meta = entry_meta(None, "/data/src/a.txt", "/tempZone/home/rods/a.txt");
    assert_eq!(
        handler.operation(&meta, &options(&[]), &CallLimits::none()).await.unwrap(),
        HandlerChoice::Member(ingest_pyhandlers::Operation::RegisterSync)
    );
}
