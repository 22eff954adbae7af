//! The reference ingest's iRODS calls, made by python-irodsclient, against the test server
//! (tests/python/ingest_scenario.py checks every result).

mod common;

use std::process::Command;

use common::{TestServer, python_script};
use test_support::venv_python;

#[test]
fn reference_ingest_calls_behave_like_irods() {
    let server = TestServer::start(&[
        "--resource",
        "pt:passthru",
        "--resource",
        "leaf:unixfilesystem:pt",
        "--resource",
        "other:unixfilesystem",
    ]);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let output = Command::new(venv_python())
        .arg(python_script("ingest_scenario.py"))
        .arg(&server.env_file)
        .arg(scratch.path())
        .env("HOME", server.dir.path())
        .output()
        .expect("running the scenario script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("scenario: ok"),
        "scenario failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log\n{}",
        server.log()
    );
}
