//! The `session` hooks receive is a real python-irodsclient session, built from the reference's
//! environment resolution only when a hook touches it, and reused afterwards.
//!
//! No iRODS server here: the environment points at a loopback listener that counts connection
//! attempts and hangs up, which is enough to see when (and whether) PRC connects.

mod common;

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use common::*;
use ingest_pyhandlers::{CallLimits, Event, EventCall, HandlerError, PyValue};

/// Connection attempts seen by the fake iRODS port.
fn attempts() -> &'static AtomicUsize {
    static ATTEMPTS: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    ATTEMPTS.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                seen.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        // Before the interpreter starts: Python copies the environment at start-up.
        // SAFETY: runs once, before this binary's runtime (and any Python thread) exists.
        unsafe {
            std::env::set_var("IRODS_HOST", "127.0.0.1");
            std::env::set_var("IRODS_PORT", port.to_string());
            std::env::set_var("IRODS_USER_NAME", "rods");
            std::env::set_var("IRODS_ZONE_NAME", "tempZone");
            std::env::set_var("IRODS_PASSWORD", "rods");
            std::env::remove_var("IRODS_ENVIRONMENT_FILE");
        }
        fixture();
        count
    })
}

fn create(
    meta: ingest_pyhandlers::PyDict,
) -> (EventCall, Arc<std::sync::Mutex<Vec<ingest_pyhandlers::OperationInput>>>) {
    let (operation, seen) = recording_operation();
    (
        EventCall {
            event: Event::DataObjCreate,
            meta,
            op: None,
            options: options(&[("allow_redirect", PyValue::Bool(false))]),
            operation,
            limits: CallLimits::none(),
        },
        seen,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_touching_session_connect_and_others_do_not() {
    let attempts = attempts();
    // Hooks that only log: no session is built, nothing connects.
    let quiet = load_example("register_with_peps.py").await;
    let (call, _) = create(entry_meta(None, "/data/src/q", "/tempZone/home/rods/q"));
    let outcome = quiet.on_event(call).await.unwrap();
    assert!(!outcome.session_opened);
    let handler = load_example("data_obj_create_pre_and_post.py").await;
    let meta = entry_meta(None, "/data/src/a.txt", "/tempZone/home/rods/dst/a.txt");
    handler.operation(&meta, &options(&[]), &CallLimits::none()).await.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 0, "nothing touched the session yet");

    // pre_data_obj_create calls session.collections.get(...): PRC connects (and fails here).
    let (call, seen) = create(meta);
    let err = handler.on_event(call).await.expect_err("no iRODS server behind the port");
    let HandlerError::Raised(exception) = &err else { panic!("{err:?}") };
    assert_eq!(exception.type_name, "irods.exception.NetworkException", "{}", exception.traceback);
    assert!(exception.traceback.contains("session.collections.get"), "{}", exception.traceback);
    assert!(exception.traceback.contains("irods/"), "python-irodsclient raised: {}", exception.traceback);
    assert!(attempts.load(Ordering::SeqCst) >= 1, "PRC tried to connect");
    assert!(seen.lock().unwrap().is_empty(), "pre failed, so no operation");
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_example_post_hook_runs_after_the_operation() {
    attempts();
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_str().unwrap().to_owned();
    let handler = load_example("metadata.py").await;
    let (call, seen) = create(entry_meta(None, &path, "/tempZone/home/rods/dst/m.txt"));
    let err = handler.on_event(call).await.expect_err("post_data_obj_create reaches for iRODS");
    assert_eq!(seen.lock().unwrap().len(), 1, "the operation ran before post");
    let exception = err.exception().unwrap();
    assert!(exception.traceback.contains("session.data_objects.get(target)"), "{}", exception.traceback);
}

const PROXY: &str = r#"
from irods_capability_automated_ingest.core import Core

class event_handler(Core):
    @staticmethod
    def as_user(meta, **options):
        return ("otherZone", "alice")

    @staticmethod
    def pre_coll_create(hdlr_mod, logger, session, meta, *args, **options):
        account = session.pool.account
        logger.info("session", proxy_user=account.proxy_user, proxy_zone=account.proxy_zone,
                    client_user=account.client_user, client_zone=account.client_zone,
                    host=account.host, port=int(account.port), pool=id(session.pool))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn as_user_makes_a_proxy_session_that_is_reused() {
    attempts();
    let handler = load_source("proxy", PROXY).await;
    let meta = entry_meta(None, "/data/src", "/tempZone/home/rods/dst");
    assert_eq!(
        handler
            .as_user(&meta, &options(&[]), &CallLimits::none())
            .await
            .unwrap()
            .map(|(z, u)| (z.to_string(), u.to_string())),
        Some(("otherZone".to_owned(), "alice".to_owned()))
    );
    let log = format!("/tmp/pyh-session-{}.log", std::process::id());
    for _ in 0..2 {
        let (operation, _) = recording_operation();
        let outcome = handler
            .on_event(EventCall {
                event: Event::CollCreate,
                meta: entry_meta(Some(&log), "/data/src", "/tempZone/home/rods/dst"),
                op: None,
                options: options(&[]),
                operation,
                limits: CallLimits::none(),
            })
            .await
            .unwrap();
        assert!(outcome.session_opened);
    }
    let lines: Vec<serde_json::Value> =
        fixture().sink.lines_for(&log).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["proxy_user"], "rods");
    assert_eq!(first["proxy_zone"], "tempZone");
    assert_eq!(first["client_user"], "alice");
    assert_eq!(first["client_zone"], "otherZone");
    assert_eq!(first["host"], "127.0.0.1");
    assert_eq!(lines[0]["pool"], lines[1]["pool"], "the second call reuses the session");
    // Building the session does not connect.
    assert!(!fixture().sink.lines_for(&log).iter().any(|l| l.contains("password")), "no secrets logged");
}
