//! Hooks' `session` against an iRODS server: the project's irods-testserver, which
//! python-irodsclient talks to unmodified. The reference's examples add AVUs through it; a
//! python-irodsclient run outside the runtime then sees them.
//!
//! Needs the `irods-testserver` binary of this build (`cargo build -p irods-testserver`;
//! scripts/test builds every binary first).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use ingest_pyhandlers::{CallLimits, Event, EventCall, PyValue};

struct Server {
    env_file: String,
    _dir: tempfile::TempDir,
    _process: test_support::ChildGuard,
}

/// The server, started before the runtime so that Python sees its IRODS_* vars. One test owns
/// it (statics are never dropped, and the guard must stop the process).
fn start_server() -> Server {
    {
        let dir = tempfile::tempdir().unwrap();
        let port = test_support::free_port();
        let env_file = dir.path().join("irods_environment.json");
        let child = Command::new(test_support::target_binary("irods-testserver"))
            .arg("--port")
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--env-file")
            .arg(&env_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("irods-testserver starts");
        let process = test_support::ChildGuard::new("irods-testserver", child);
        assert!(test_support::wait_until(Duration::from_secs(15), || env_file.exists()), "server up");
        // The reference's environment mode (all five variables) plus the env file it checks.
        // SAFETY: once, before this binary's runtime and any Python thread exist.
        unsafe {
            std::env::set_var("IRODS_HOST", "127.0.0.1");
            std::env::set_var("IRODS_PORT", port.to_string());
            std::env::set_var("IRODS_USER_NAME", "rods");
            std::env::set_var("IRODS_ZONE_NAME", "tempZone");
            std::env::set_var("IRODS_PASSWORD", "rods");
            std::env::set_var("IRODS_ENVIRONMENT_FILE", &env_file);
        }
        fixture();
        Server { env_file: env_file.to_str().unwrap().to_owned(), _dir: dir, _process: process }
    }
}

fn prc(server: &Server, args: &[&str]) -> String {
    let output = Command::new(test_support::venv_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/irods_objects.py"))
        .arg(&server.env_file)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn create(meta: ingest_pyhandlers::PyDict) -> EventCall {
    let (operation, _) = recording_operation();
    EventCall {
        event: Event::DataObjCreate,
        meta,
        op: None,
        options: options(&[("allow_redirect", PyValue::Bool(false))]),
        operation,
        limits: CallLimits::none(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_use_a_real_session() {
    let server = start_server();
    data_obj_create_pre_and_post_annotates_the_parent_collection(&server).await;
    metadata_example_records_the_file_mode(&server).await;
    as_user_acts_as_the_client_user(&server).await;
}

const AS_ALICE: &str = r#"
from irods_capability_automated_ingest.core import Core

class event_handler(Core):
    @staticmethod
    def as_user(meta, **options):
        return ("tempZone", "alice")

    @staticmethod
    def pre_coll_create(hdlr_mod, logger, session, meta, *args, **options):
        session.collections.create(meta["target"])
"#;

/// `as_user` makes the hooks' session a proxy session (`rods` acting for `alice`): what a hook
/// creates belongs to alice.
async fn as_user_acts_as_the_client_user(server: &Server) {
    prc(server, &["mkuser", "alice"]);
    let handler = load_source("as_alice", AS_ALICE).await;
    let target = "/tempZone/home/alice/made_by_hook";
    let (operation, _) = recording_operation();
    handler
        .on_event(EventCall {
            event: Event::CollCreate,
            meta: entry_meta(None, "/data/src/dir", target),
            op: None,
            options: options(&[]),
            operation,
            limits: CallLimits::none(),
        })
        .await
        .unwrap_or_else(|e| panic!("{}", e.traceback()));
    assert_eq!(prc(server, &["owner", target]), "alice");
}

async fn data_obj_create_pre_and_post_annotates_the_parent_collection(server: &Server) {
    let handler = load_example("data_obj_create_pre_and_post.py").await;
    let target = "/tempZone/home/rods/obj.txt";
    let outcome = handler
        .on_event(create(entry_meta(None, "/data/src/obj.txt", target)))
        .await
        .unwrap_or_else(|e| panic!("{}", e.traceback()));
    assert!(outcome.session_opened);
    let avus: serde_json::Value =
        serde_json::from_str(&prc(server, &["avus", "/tempZone/home/rods"])).unwrap();
    assert_eq!(
        avus,
        serde_json::json!([
            ["post_data_obj_create", target, "REGISTER_SYNC"],
            ["pre_data_obj_create", target, "REGISTER_SYNC"]
        ])
    );
}

async fn metadata_example_records_the_file_mode(server: &Server) {
    let local = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(local.path(), b"abc").unwrap();
    let local_path = local.path().to_str().unwrap();
    let target = "/tempZone/home/rods/mode.txt";
    // The Rust operation stands for the put; here python-irodsclient does it beforehand.
    prc(server, &["put", local_path, target]);
    let handler = load_example("metadata.py").await;
    handler
        .on_event(create(entry_meta(None, local_path, target)))
        .await
        .unwrap_or_else(|e| panic!("{}", e.traceback()));
    use std::os::unix::fs::MetadataExt;
    let mode = std::fs::metadata(local.path()).unwrap().mode();
    let avus: serde_json::Value = serde_json::from_str(&prc(server, &["avus", target])).unwrap();
    assert_eq!(avus, serde_json::json!([["filesystem::mode", mode.to_string(), ""]]));
}
