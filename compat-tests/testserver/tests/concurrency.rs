//! Sixteen python-irodsclient processes at once against one server (tests/python/concurrency.py).

mod common;

use std::process::Command;

use common::{TestServer, python_script};
use test_support::venv_python;

#[test]
fn sixteen_clients_at_once_lose_nothing() {
    let server = TestServer::start(&[]);
    let scratch = tempfile::tempdir().expect("scratch dir");
    let output = Command::new(venv_python())
        .arg(python_script("concurrency.py"))
        .arg(&server.env_file)
        .arg(scratch.path())
        .output()
        .expect("running the concurrency script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("concurrency: ok"),
        "concurrency test failed\n--- stdout\n{stdout}\n--- stderr\n{}\n--- server log\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
}
