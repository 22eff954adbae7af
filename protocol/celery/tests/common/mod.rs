//! Shared helpers of the interop tests: a private redis-server, the Rust demo worker, a real
//! Python Celery worker and the Python client script (tests/python/client.py).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use celery_proto::json::{self, PyValue};
use test_support::{ChildGuard, RedisServer, target_binary, venv_bin, venv_python, wait_until};

pub const BROKER_DB: u32 = 0;
pub const BACKEND_DB: u32 = 1;
/// Generous: the machine may be busy; nothing asserts on timing.
pub const PATIENCE: Duration = Duration::from_secs(90);

pub struct Env {
    pub redis: RedisServer,
    pub logs: tempfile::TempDir,
}

impl Env {
    pub fn start() -> Self {
        Self { redis: RedisServer::start(), logs: tempfile::tempdir().expect("temp dir") }
    }

    pub fn broker_url(&self) -> String {
        self.redis.url(BROKER_DB)
    }

    pub fn backend_url(&self) -> String {
        self.redis.url(BACKEND_DB)
    }

    pub fn broker(&self) -> redis::Connection {
        redis::Client::open(self.broker_url()).unwrap().get_connection().unwrap()
    }

    pub fn backend(&self) -> redis::Connection {
        redis::Client::open(self.backend_url()).unwrap().get_connection().unwrap()
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.logs.path().join(format!("{name}.log"))
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// Starts the Rust demo worker `name@test` and waits until it is consuming.
    pub fn rust_worker(&self, name: &str, queues: &str, extra: &[&str]) -> Worker {
        let log = self.log_path(name);
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(demo_worker_binary())
            .args(["--broker", &self.broker_url(), "--result-backend", &self.backend_url()])
            .args(["-Q", queues, "-n", &format!("{name}@test")])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawning demo_worker (cargo builds examples before integration tests)");
        let guard = ChildGuard::new(name, child);
        let worker = Worker { guard, log, node: format!("{name}@test") };
        assert!(
            wait_until(PATIENCE, || worker.log_text().contains("worker ready")),
            "Rust worker {name} did not start:\n{}",
            worker.log_text()
        );
        worker
    }

    /// Starts a real Python Celery worker (`celery -A demo_app worker`) and waits until it is ready.
    pub fn python_worker(&self, name: &str, queues: &str, extra_env: &[(&str, &str)]) -> Worker {
        let log = self.log_path(name);
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(venv_bin("celery"));
        cmd.current_dir(python_dir())
            .args(["-A", "demo_app", "worker", "-Q", queues, "-c", "2", "-P", "threads", "-l", "INFO"])
            .args(["-n", &format!("{name}@test"), "--without-mingle", "--without-gossip"])
            .env("CELERY_BROKER_URL", self.broker_url())
            .env("CELERY_RESULT_BACKEND", self.backend_url())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let guard = ChildGuard::new(name, cmd.spawn().expect("spawning celery worker"));
        let worker = Worker { guard, log, node: format!("{name}@test") };
        assert!(
            wait_until(PATIENCE, || worker.log_text().contains("ready.")),
            "Python worker {name} did not start:\n{}",
            worker.log_text()
        );
        worker
    }

    /// Runs tests/python/client.py with the test's broker and backend; returns stdout, panics with
    /// stderr on failure.
    pub fn client(&self, args: &[&str]) -> String {
        self.client_with(args, &[])
    }

    /// [`Env::client`] with extra environment (e.g. `DEMO_KEYPREFIX`).
    pub fn client_with(&self, args: &[&str], extra_env: &[(&str, &str)]) -> String {
        let out = Command::new(venv_python())
            .envs(extra_env.iter().copied())
            .current_dir(python_dir())
            .arg("client.py")
            .args(args)
            .env("CELERY_BROKER_URL", self.broker_url())
            .env("CELERY_RESULT_BACKEND", self.backend_url())
            .output()
            .expect("running client.py");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "client.py {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}");
        stdout
    }

    /// The result of `task_id` as Python's AsyncResult sees it (waits up to `timeout_secs`).
    pub fn python_result(&self, task_id: &str, timeout_secs: u32) -> PyValue {
        let out = self.client(&["get", task_id, "--timeout", &timeout_secs.to_string()]);
        json::parse(out.trim().as_bytes()).unwrap_or_else(|e| panic!("bad client output {out:?}: {e}"))
    }

    /// The raw stored result meta of `task_id`, if any.
    pub fn stored_meta(&self, task_id: &str) -> Option<PyValue> {
        let raw: Option<Vec<u8>> =
            redis::cmd("GET").arg(format!("celery-task-meta-{task_id}")).query(&mut self.backend()).unwrap();
        raw.map(|r| json::parse(&r).expect("stored meta is JSON"))
    }

    pub fn stored_status(&self, task_id: &str) -> Option<String> {
        let meta = self.stored_meta(task_id)?;
        meta.as_dict()?.get("status")?.as_str().map(str::to_string)
    }

    pub fn unacked_len(&self) -> usize {
        redis::cmd("HLEN").arg("unacked").query(&mut self.broker()).unwrap()
    }

    pub fn list(&self, key: &[u8]) -> Vec<Vec<u8>> {
        redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(&mut self.broker()).unwrap()
    }
}

pub struct Worker {
    pub guard: ChildGuard,
    pub log: PathBuf,
    pub node: String,
}

impl Worker {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        self.guard.child_mut().try_wait().ok().flatten().is_none()
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) -> String {
        self.guard.signal(libc::SIGTERM);
        let status = self.guard.wait_timeout(PATIENCE);
        assert!(status.is_some(), "{} did not stop on SIGTERM:\n{}", self.node, self.log_text());
        self.log_text()
    }
}

/// The demo worker, built once per test binary in this test's profile and target directory
/// (`cargo test --test <name>` does not build examples by itself).
pub fn demo_worker_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
            let target_dir = profile_dir.parent().unwrap();
            let profile = profile_dir.file_name().unwrap().to_string_lossy().into_owned();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "--quiet", "-p", "celery-proto", "--example", "demo_worker"])
                .arg("--target-dir")
                .arg(target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            match profile.as_str() {
                "debug" => {}
                "release" => {
                    cmd.arg("--release");
                }
                other => {
                    cmd.args(["--profile", other]);
                }
            }
            let status = cmd.status().expect("running cargo build for the demo worker");
            assert!(status.success(), "building examples/demo_worker failed");
            target_binary("examples/demo_worker")
        })
        .clone()
}

pub fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// Starts tests/python/client.py in the background (for long-running subcommands).
pub fn spawn_client(env: &Env, args: &[&str], stdout: std::fs::File) -> ChildGuard {
    let child = Command::new(venv_python())
        .current_dir(python_dir())
        .arg("client.py")
        .args(args)
        .env("CELERY_BROKER_URL", env.broker_url())
        .env("CELERY_RESULT_BACKEND", env.backend_url())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning client.py");
    ChildGuard::new("client.py", child)
}
