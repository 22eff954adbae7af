//! Helpers shared by the integration tests: running the Python probes against the reference
//! package, and dumping a Redis database for comparison.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

pub fn b64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    BASE64.decode(text).expect("probe sends valid base64")
}

pub fn python_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(name)
}

/// Runs `reference_probe.py <command>` with `request` and returns its JSON result.
pub fn probe(command: &str, request: &serde_json::Value) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let request_path = dir.path().join("request.json");
    let result_path = dir.path().join("result.json");
    std::fs::write(&request_path, serde_json::to_vec(request).unwrap()).unwrap();
    let output = Command::new(test_support::venv_python())
        .arg(python_script("reference_probe.py"))
        .arg(command)
        .arg(&request_path)
        .arg(&result_path)
        .output()
        .expect("running the venv python");
    assert!(
        output.status.success(),
        "probe {command} failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(&result_path).unwrap()).expect("probe result is JSON")
}

/// Runs a venv Python program with arguments and environment; returns (status ok, stdout, stderr).
pub fn run_python(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(test_support::venv_python());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("running the venv python");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// One key's type and value, in a form that compares across databases.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dumped {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Other(String),
}

/// Every key of the connection's database with its value, minus broker bookkeeping (queues and
/// kombu keys) and lock wake-up lists (`lock-signal:*`, which live 1 s after each release), which
/// the tests do not compare.
pub async fn dump(conn: &mut redis::aio::ConnectionManager) -> BTreeMap<Vec<u8>, Dumped> {
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query_async(conn).await.unwrap();
    let mut out = BTreeMap::new();
    for key in keys {
        // The task ledger is this project's own key (Python never writes or reads it).
        if is_broker_key(&key) || key.starts_with(b"irods_ingest_task_ledger:/") {
            continue;
        }
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(conn).await.unwrap();
        let value = match kind.as_str() {
            "string" => Dumped::String(redis::cmd("GET").arg(&key).query_async(conn).await.unwrap()),
            "list" => {
                Dumped::List(redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query_async(conn).await.unwrap())
            }
            "set" => {
                let mut members: Vec<Vec<u8>> =
                    redis::cmd("SMEMBERS").arg(&key).query_async(conn).await.unwrap();
                members.sort();
                Dumped::Set(members)
            }
            other => Dumped::Other(other.to_owned()),
        };
        out.insert(key, value);
    }
    out
}

fn is_broker_key(key: &[u8]) -> bool {
    let text = String::from_utf8_lossy(key);
    matches!(text.as_ref(), "restart" | "path" | "file" | "unacked" | "unacked_index" | "unacked_mutex")
        || text.starts_with("_kombu.")
        || text.starts_with("lock-signal:")
        || text.starts_with("restart\x06")
        || text.starts_with("path\x06")
        || text.starts_with("file\x06")
}

/// The workers' kind of connection to `url` (self-reconnecting, generous response timeout).
pub async fn connect(url: &str) -> (redis::Client, redis::aio::ConnectionManager) {
    irods_ingest::state_conn::connect(url).await.unwrap()
}

/// A small deterministic generator for test inputs.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
