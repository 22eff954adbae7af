//! Starting an irods-testserver for a test: free loopback port, private data directory, and the
//! environment file PRC reads. The process dies with the guard.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use test_support::{ChildGuard, free_port, target_binary, wait_until};

pub struct TestServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub env_file: PathBuf,
    _process: ChildGuard,
}

impl TestServer {
    /// Starts the server with extra arguments (e.g. `--resource pt:passthru`).
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with(None, extra)
    }

    /// Starts the server on an existing data directory (to test restarts).
    pub fn start_in(data_dir: &str, extra: &[&str]) -> Self {
        Self::start_with(Some(data_dir), extra)
    }

    fn start_with(data_dir: Option<&str>, extra: &[&str]) -> Self {
        let mut last = String::new();
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let data = data_dir.map(PathBuf::from).unwrap_or_else(|| dir.path().join("data"));
            let port = free_port();
            let env_file = dir.path().join("env").join("irods_environment.json");
            let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
            let child = Command::new(target_binary("irods-testserver"))
                .arg("--port")
                .arg(port.to_string())
                .arg("--data-dir")
                .arg(&data)
                .arg("--env-file")
                .arg(&env_file)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawning irods-testserver");
            let mut process = ChildGuard::new("irods-testserver", child);
            if wait_until(Duration::from_secs(20), || env_file.exists()) {
                return TestServer { port, dir, env_file, _process: process };
            }
            let exited = process.wait_timeout(Duration::from_millis(10)).is_some();
            last = format!(
                "exited: {exited}; log: {}",
                std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
            );
        }
        panic!("irods-testserver did not start: {last}");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

/// A script from tests/python/.
pub fn python_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("python").join(name)
}
