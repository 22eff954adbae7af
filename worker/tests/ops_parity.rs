//! Parity of `irods_ingest::ops` with the reference ingest's own functions.
//!
//! Every step runs twice: once through the reference (`sync_data_from_file`, `sync_data_from_dir`,
//! `delete_data_object`, `delete_collection` of irods-capability-automated-ingest 0.7.0, driven by
//! python-irodsclient, tests/ops_reference.py) against one irods-testserver, and once through the
//! Rust ops (driven like the task layer will: existence check, decision table, create_dirs under
//! the same Redis locks, the operation) against a second, fresh irods-testserver. Both servers see
//! the same source files at the same moment. After each step both catalogs are read back with
//! python-irodsclient (collections, replicas with size, mtime, resource, hierarchy, physical path
//! and status, AVUs, vault files) and must be equal, as must the steps' failures. Each scenario
//! also checks the expected content, so two equally empty catalogs cannot pass.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use celery_proto::json::PyValue;
use irods_ingest::lock::{LockGuard, LockOptions, Locks};
use irods_ingest::meta::Meta;
use irods_ingest::ops::{
    self, CollectionLevel, CreateDirsDriver, FileAction, FileEntry, Operation, OpsError,
};
use irods_proto::{Connection, IrodsConfig, Pool, PoolOptions};
use serde_json::{Value, json};
use test_support::{ChildGuard, RedisServer, free_port, target_binary, venv_python, wait_until};

const ROOT: &str = "/tempZone/home/rods/parity";
const TRASH: &str = "/tempZone/trash/home/rods";

/// One irods-testserver with the resources the ingest's hierarchy cases need.
struct Server {
    dir: tempfile::TempDir,
    env_file: PathBuf,
    _process: ChildGuard,
}

impl Server {
    fn start() -> Server {
        let mut last = String::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("server dir");
            let env_file = dir.path().join("env").join("irods_environment.json");
            let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
            let child = Command::new(target_binary("irods-testserver"))
                .args(["--port", &free_port().to_string(), "--data-dir"])
                .arg(dir.path().join("data"))
                .arg("--env-file")
                .arg(&env_file)
                .args(["--resource", "other:unixfilesystem", "--resource", "pt:passthru"])
                .args(["--resource", "leaf:unixfilesystem:pt"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawning irods-testserver (cargo build -p irods-testserver first)");
            let mut process = ChildGuard::new("irods-testserver", child);
            if wait_until(Duration::from_secs(20), || env_file.exists()) {
                return Server { dir, env_file, _process: process };
            }
            let exited = process.wait_timeout(Duration::from_millis(10)).is_some();
            last = format!(
                "exited: {exited}: {}",
                std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
            );
        }
        panic!("irods-testserver did not start: {last}");
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The client settings the Rust worker would read: the environment file and `.irodsA`.
    fn config(&self) -> IrodsConfig {
        let env = self.env_file.to_string_lossy().into_owned();
        let auth = self.env_file.with_file_name(".irodsA").to_string_lossy().into_owned();
        IrodsConfig::from_sources(
            |name| match name {
                "IRODS_ENVIRONMENT_FILE" => Some(env.clone()),
                "IRODS_AUTHENTICATION_FILE" => Some(auth.clone()),
                _ => None,
            },
            None,
            irods_proto::config::current_uid(),
        )
        .expect("client configuration from the server's environment file")
    }
}

/// What the step's event handler overrides return (absent = not defined).
#[derive(Default, Clone)]
struct Handler {
    operation: Option<Option<i64>>,
    to_resource: Option<Option<String>>,
    target_path: Option<Option<String>>,
    delete_mode: Option<i64>,
}

impl Handler {
    fn op(op: Operation) -> Handler {
        Handler { operation: Some(Some(op as i64)), ..Handler::default() }
    }

    fn resource(mut self, resource: &str) -> Handler {
        self.to_resource = Some(Some(resource.to_owned()));
        self
    }

    fn delete(mode: ops::DeleteMode) -> Handler {
        Handler { delete_mode: Some(mode as i64), ..Handler::default() }
    }

    fn to_json(&self) -> Value {
        let mut spec = serde_json::Map::new();
        if let Some(op) = self.operation {
            spec.insert("operation".into(), json!(op));
        }
        if let Some(resc) = &self.to_resource {
            spec.insert("to_resource".into(), json!(resc));
        }
        if let Some(path) = &self.target_path {
            spec.insert("target_path".into(), json!(path));
        }
        if let Some(mode) = self.delete_mode {
            spec.insert("delete_mode".into(), json!(mode));
        }
        Value::Object(spec)
    }

    fn operation(&self) -> Operation {
        // No override: the reference's default is REGISTER_SYNC.
        Operation::from_handler_value(self.operation.flatten())
    }

    fn resource_name(&self) -> Option<&str> {
        self.to_resource.as_ref().and_then(|r| r.as_deref())
    }

    fn target_path_value(&self) -> Option<&str> {
        self.target_path.as_ref().and_then(|r| r.as_deref())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Action {
    SyncFile,
    SyncDir,
    DeleteDataObject,
    DeleteCollection,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::SyncFile => "sync_file",
            Action::SyncDir => "sync_dir",
            Action::DeleteDataObject => "delete_data_object",
            Action::DeleteCollection => "delete_collection",
        }
    }
}

/// Two servers, one Redis, the source tree, and the Rust client of the second server.
struct Parity {
    reference: Server,
    rust: Server,
    redis: RedisServer,
    scratch: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    pool: Pool,
}

/// The catalogs after a step (equal, or the step failed the test).
struct Outcome {
    dump: Value,
    error: Option<String>,
}

impl Outcome {
    fn objects(&self) -> Vec<Value> {
        self.dump["data_objects"].as_array().cloned().unwrap_or_default()
    }

    fn replicas_of(&self, logical: &str) -> Vec<Value> {
        self.objects().into_iter().filter(|o| o["logical"] == logical).collect()
    }

    fn collections(&self) -> Vec<String> {
        self.dump["collections"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect()
    }

    fn avus_of(&self, logical: &str) -> Vec<Value> {
        self.dump["avus"].as_array().unwrap().iter().filter(|a| a[0] == logical).cloned().collect()
    }

    fn vault_files(&self) -> Vec<String> {
        self.dump["vault_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f[0].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Parity {
    fn start() -> Parity {
        let reference = Server::start();
        let rust = Server::start();
        let pool = Pool::new(rust.config(), PoolOptions { max_size: 8, ..PoolOptions::default() });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let parity = Parity {
            reference,
            rust,
            redis: RedisServer::start(),
            scratch: tempfile::tempdir().unwrap(),
            runtime,
            pool,
        };
        // The job's root target collection exists on both sides before any task runs.
        parity.runtime.block_on(async {
            let mut conn = parity.pool.get().await.expect("connect to the Rust-side server");
            conn.create_collection(ROOT, true).await.expect("root collection");
        });
        let mut conn = parity.runtime.block_on(Connection::connect(&parity.reference.config())).unwrap();
        parity.runtime.block_on(conn.create_collection(ROOT, true)).expect("root collection");
        parity
    }

    fn source(&self, relative: &str) -> PathBuf {
        self.scratch.path().join(relative)
    }

    /// Writes a source file with a chosen mtime.
    fn write(&self, relative: &str, data: &[u8], mtime: i64) -> PathBuf {
        let path = self.source(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        set_mtime(&path, mtime);
        path
    }

    /// The meta a `sync_file` task gives the entry (§3.1), from the file's lstat.
    fn file_meta(&self, source: &Path, target: &str) -> Value {
        let st = std::fs::symlink_metadata(source).unwrap();
        use std::os::unix::fs::MetadataExt;
        let mut meta = self.base_meta();
        let extra = json!({
            "path": source.to_str().unwrap(),
            "target": target,
            "size": st.size(),
            "mtime": st.mtime() as f64 + st.mtime_nsec() as f64 / 1e9,
            "ctime": st.ctime() as f64,
            "is_link": st.file_type().is_symlink(),
            "is_socket": std::os::unix::fs::FileTypeExt::is_socket(&st.file_type()),
        });
        merge(&mut meta, extra);
        meta
    }

    fn base_meta(&self) -> Value {
        json!({
            "job_name": "parity",
            "event_handler_key": "event_handler:/parity::0",
            "root": self.scratch.path().to_str().unwrap(),
            "root_target_collection": ROOT,
            "idle_disconnect_seconds": 60,
            "config": {
                "log": {"filename": null, "when": null, "interval": null, "level": null},
                "profile": {"filename": null, "when": null, "interval": null, "level": null},
                "redis": {"host": "127.0.0.1", "port": self.redis.port(), "db": 0},
            },
        })
    }

    /// Runs one step on both sides and compares the catalogs and failures.
    fn step(&self, name: &str, action: Action, meta: Value, content: bool, handler: &Handler) -> Outcome {
        let reference = self.python(Some((action, &meta, content, handler)), &self.reference);
        let rust_error = self
            .runtime
            .block_on(run_rust(&self.pool, &self.redis, action, &meta, content, handler))
            .err()
            .map(|e| rust_error_label(&e));
        let rust = self.python(None, &self.rust);
        let reference_error = reference["error"].as_object().map(python_error_label);
        assert_eq!(
            reference_error,
            rust_error,
            "step {name}: failures differ (reference traceback: {})",
            reference["error"]["traceback"].as_str().unwrap_or("-")
        );
        assert_eq!(
            reference["dump"], rust["dump"],
            "step {name}: catalogs differ\nreference: {:#}\nrust: {:#}",
            reference["dump"], rust["dump"]
        );
        eprintln!("step {name}: ok (failure on both sides: {rust_error:?})");
        Outcome { dump: rust["dump"].clone(), error: rust_error }
    }

    /// One run of tests/ops_reference.py: the step (if any) and a read-back of `server`.
    fn python(&self, step: Option<(Action, &Value, bool, &Handler)>, server: &Server) -> Value {
        let work = tempfile::tempdir().unwrap();
        let mut request = json!({
            "env_file": server.env_file.to_str().unwrap(),
            "action": "dump",
            "dump": {"roots": [ROOT, TRASH], "data_dir": server.data_dir().to_str().unwrap()},
        });
        if let Some((action, meta, content, handler)) = step {
            merge(
                &mut request,
                json!({"action": action.name(), "meta": meta, "content": content, "handler": handler.to_json()}),
            );
        }
        let request_file = work.path().join("request.json");
        let output_file = work.path().join("output.json");
        std::fs::write(&request_file, serde_json::to_vec(&request).unwrap()).unwrap();
        let output = Command::new(venv_python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("ops_reference.py"))
            .arg(&request_file)
            .arg(&output_file)
            .env("HOME", work.path())
            .output()
            .expect("running ops_reference.py");
        assert!(
            output.status.success() && output_file.exists(),
            "ops_reference.py failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&std::fs::read(&output_file).unwrap()).unwrap()
    }
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

fn set_mtime(path: &Path, mtime: i64) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let times = [libc::timespec { tv_sec: mtime, tv_nsec: 0 }, libc::timespec { tv_sec: mtime, tv_nsec: 0 }];
    // SAFETY: a valid NUL-terminated path and two timespecs, not following symlinks.
    let rc = unsafe {
        libc::utimensat(libc::AT_FDCWD, c_path.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
    };
    assert_eq!(rc, 0, "utimensat {}", path.display());
}

/// The reference's exception as a comparable label: iRODS errors by class name (= error name),
/// the reference's own `Exception`s by text.
fn python_error_label(error: &serde_json::Map<String, Value>) -> String {
    let kind = error["type"].as_str().unwrap_or_default();
    match kind {
        "Exception" => format!("Exception: {}", error["message"].as_str().unwrap_or_default()),
        other => other.to_owned(),
    }
}

fn rust_error_label(error: &OpsError) -> String {
    match error {
        OpsError::Irods(e) => match e.code().and_then(|c| c.name()) {
            Some(name) => name.to_owned(),
            None => format!("irods: {e}"),
        },
        OpsError::CollectionDoesNotExist(_) => "CollectionDoesNotExist".to_owned(),
        OpsError::ResourceDoesNotExist(_) => "ResourceDoesNotExist".to_owned(),
        other => format!("Exception: {other}"),
    }
}

/// create_dirs under python-redis-lock compatible locks, without hooks.
struct RedisLockedCreate {
    locks: Locks,
}

impl CreateDirsDriver for RedisLockedCreate {
    type Guard = LockGuard;

    async fn lock(&mut self, name: &str) -> ops::Result<LockGuard> {
        self.locks.acquire(name, LockOptions::default()).await.map_err(|e| OpsError::Caller(Box::new(e)))
    }

    async fn unlock(&mut self, guard: LockGuard) -> ops::Result<()> {
        guard.release().await.map_err(|e| OpsError::Caller(Box::new(e)))
    }

    async fn create(&mut self, conn: &mut Connection, level: &CollectionLevel) -> ops::Result<()> {
        ops::create_dir(conn, &level.target).await
    }
}

async fn redis_locks(redis: &RedisServer) -> Locks {
    let (client, conn) = irods_ingest::state_conn::connect(&redis.url(0)).await.unwrap();
    Locks::new(client, conn)
}

/// The Rust side of a step, as the task layer will drive the ops (hooks left out: the test
/// handler defines none, so they would not run Python anyway).
async fn run_rust(
    pool: &Pool,
    redis: &RedisServer,
    action: Action,
    meta_json: &Value,
    content: bool,
    handler: &Handler,
) -> ops::Result<()> {
    let value = PyValue::from_json(&serde_json::to_vec(meta_json).unwrap()).expect("meta parses");
    let meta = Meta::new(&value)?;
    let mut conn = pool.get().await?;
    let mut driver = RedisLockedCreate { locks: redis_locks(redis).await };
    match action {
        Action::SyncFile => {
            let entry = FileEntry::from_meta(&meta)?;
            let exists = if meta.initial_ingest() {
                false
            } else {
                ops::check_not_collection(&mut conn, &entry).await?
            };
            let op = handler.operation();
            let replica = if ops::needs_replica_check(op, exists) {
                Some(ops::replica_state(&mut conn, &entry, handler.resource_name()).await?)
            } else {
                None
            };
            let action = ops::decide(op, exists, content, replica);
            if action.creates_parent_collections() {
                let parent = entry.parent_level()?;
                ops::create_dirs(&mut conn, &parent.target, &parent.path, &mut driver).await?;
            }
            let options = action.options();
            let (resource, target_path) = (handler.resource_name(), handler.target_path_value());
            let threads = ops::default_put_threads();
            match action {
                FileAction::Register | FileAction::RegisterReplica => {
                    ops::register_file(&mut conn, &entry, target_path, resource, &options).await
                }
                FileAction::UpdateMetadata => {
                    ops::update_metadata(&mut conn, &entry, target_path, resource, &options).await
                }
                FileAction::Upload => {
                    drop(conn);
                    ops::upload_file(pool, &entry, resource, &options, threads).await
                }
                FileAction::SyncFile => {
                    drop(conn);
                    ops::sync_file(pool, &entry, op, resource, &options, threads).await
                }
                FileAction::NoOp(_) | FileAction::IgnoreExisting | FileAction::SyncFileMeta => Ok(()),
            }
        }
        Action::SyncDir => {
            let target = meta.text("target")?;
            if !conn.collection_exists(target).await? {
                ops::create_dirs(&mut conn, target, &meta.path()?, &mut driver).await?;
            }
            Ok(())
        }
        Action::DeleteDataObject => {
            let target = meta.text("target")?;
            let mode = ops::DeleteMode::from_value(handler.delete_mode.unwrap_or(0)).unwrap();
            match ops::removal_for(&mut conn, target, mode).await? {
                ops::RemovalPlan::Remove(removal) => removal.apply(&mut conn, target).await,
                ops::RemovalPlan::Keep | ops::RemovalPlan::Absent => Ok(()),
            }
        }
        Action::DeleteCollection => {
            let target = meta.text("target")?;
            let mode = ops::DeleteMode::from_value(handler.delete_mode.unwrap_or(0)).unwrap();
            if mode == ops::DeleteMode::DoNotDelete {
                return Ok(());
            }
            let name = ops::delete_collection_lock_name(target);
            let lock = driver.locks.acquire(&name, LockOptions::default());
            let guard = lock.await.map_err(|e| OpsError::Caller(Box::new(e)))?;
            let result = async {
                if ops::collection_is_empty(&mut conn, target).await? {
                    ops::unregister_collection(&mut conn, target).await?;
                }
                Ok::<(), OpsError>(())
            }
            .await;
            guard.release().await.map_err(|e| OpsError::Caller(Box::new(e)))?;
            result?;
            // The scenarios only remove direct children of the root target, where the reference
            // stops; its parent step (which re-removes the child) is not reproduced.
            assert_eq!(
                ops::parent_to_check_after_delete(target, ROOT),
                None,
                "scenario limited to root children"
            );
            Ok(())
        }
    }
}

fn target(relative: &str) -> String {
    format!("{ROOT}/{relative}")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn registration_matches_reference() {
    let p = Parity::start();
    let register = Handler::default();

    let f1 = p.write("reg/sub/f1.txt", b"first version", 1_600_000_000);
    let out = p.step(
        "register new",
        Action::SyncFile,
        p.file_meta(&f1, &target("reg/sub/f1.txt")),
        true,
        &register,
    );
    assert!(out.collections().contains(&target("reg/sub")), "parents created: {:?}", out.collections());
    let replicas = out.replicas_of(&target("reg/sub/f1.txt"));
    assert_eq!(replicas.len(), 1);
    assert_eq!(replicas[0]["size"], 13);
    assert_eq!(replicas[0]["mtime"], 1_600_000_000);
    assert_eq!(replicas[0]["physical"], f1.to_str().unwrap());
    assert_eq!(replicas[0]["resource"], "demoResc");

    p.write("reg/sub/f1.txt", b"second, longer version", 1_600_000_500);
    let out = p.step(
        "re-register changed",
        Action::SyncFile,
        p.file_meta(&f1, &target("reg/sub/f1.txt")),
        true,
        &register,
    );
    let replicas = out.replicas_of(&target("reg/sub/f1.txt"));
    assert_eq!(
        (replicas[0]["size"].clone(), replicas[0]["mtime"].clone()),
        (json!(22), json!(1_600_000_500))
    );

    p.write("reg/sub/f1.txt", b"third", 1_600_000_600);
    let meta = p.file_meta(&f1, &target("reg/sub/f1.txt"));
    let out = p.step("ctime only: no change", Action::SyncFile, meta, false, &register);
    assert_eq!(out.replicas_of(&target("reg/sub/f1.txt"))[0]["size"], 22);

    let replica_op = Handler::op(Operation::RegisterAsReplicaSync).resource("other");
    let mirror = p.write("mirror/f1.txt", b"mirror copy", 1_600_001_000);
    let out = p.step(
        "second replica on another resource",
        Action::SyncFile,
        p.file_meta(&mirror, &target("reg/sub/f1.txt")),
        true,
        &replica_op,
    );
    let replicas = out.replicas_of(&target("reg/sub/f1.txt"));
    assert_eq!(replicas.len(), 2, "{replicas:?}");
    assert_eq!(
        (replicas[1]["resource"].clone(), replicas[1]["physical"].clone()),
        (json!("other"), json!(mirror.to_str().unwrap()))
    );

    p.write("mirror/f1.txt", b"mirror copy, changed", 1_600_001_100);
    let out = p.step(
        "update the replica under to_resource only",
        Action::SyncFile,
        p.file_meta(&mirror, &target("reg/sub/f1.txt")),
        true,
        &replica_op,
    );
    let replicas = out.replicas_of(&target("reg/sub/f1.txt"));
    assert_eq!(
        (replicas[1]["size"].clone(), replicas[1]["mtime"].clone()),
        (json!(20), json!(1_600_001_100))
    );
    assert_eq!(replicas[0]["mtime"], 1_600_000_500, "replica 0 untouched");

    let stray = p.write("stray/f1.txt", b"elsewhere", 1_600_001_200);
    let out = p.step(
        "replica under resource with another path fails",
        Action::SyncFile,
        p.file_meta(&stray, &target("reg/sub/f1.txt")),
        true,
        &replica_op,
    );
    assert!(out.error.as_deref().unwrap_or_default().contains("none of the replicas have physical paths"));

    let out = p.step(
        "replica sync without to_resource fails",
        Action::SyncFile,
        p.file_meta(&mirror, &target("reg/sub/f1.txt")),
        true,
        &Handler::op(Operation::RegisterAsReplicaSync),
    );
    assert_eq!(out.error.as_deref(), Some("Exception: no resource name defined"));

    let out = p.step(
        "update with a resource holding no such replica fails",
        Action::SyncFile,
        p.file_meta(&f1, &target("reg/sub/f1.txt")),
        true,
        &Handler::default().resource("pt"),
    );
    assert_eq!(out.error.as_deref(), Some("Exception: wrong resource or path"));

    let h = p.write("hier/h.txt", b"in a hierarchy", 1_600_002_000);
    let to_pt = Handler::default().resource("pt");
    let out = p.step(
        "register into a passthru root",
        Action::SyncFile,
        p.file_meta(&h, &target("hier/h.txt")),
        true,
        &to_pt,
    );
    assert_eq!(out.replicas_of(&target("hier/h.txt")).len(), 1);
    p.write("hier/h.txt", b"in a hierarchy, changed", 1_600_002_100);
    let out = p.step(
        "update via child_of walk",
        Action::SyncFile,
        p.file_meta(&h, &target("hier/h.txt")),
        true,
        &to_pt,
    );
    assert_eq!(out.replicas_of(&target("hier/h.txt"))[0]["mtime"], 1_600_002_100);

    let explicit =
        Handler { target_path: Some(Some("/elsewhere/recorded.txt".into())), ..Handler::default() };
    let t = p.write("tp/t.txt", b"target path", 1_600_003_000);
    let out = p.step(
        "target_path override",
        Action::SyncFile,
        p.file_meta(&t, &target("tp/t.txt")),
        true,
        &explicit,
    );
    assert_eq!(out.replicas_of(&target("tp/t.txt"))[0]["physical"], "/elsewhere/recorded.txt");

    let link = p.source("special/link.txt");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("../reg/sub/f1.txt", &link).unwrap();
    let out = p.step(
        "symlink AVU",
        Action::SyncFile,
        p.file_meta(&link, &target("special/link.txt")),
        true,
        &register,
    );
    let expected_link = format!("{}/../reg/sub/f1.txt", p.source("special").display());
    assert_eq!(
        out.avus_of(&target("special/link.txt")),
        vec![json!([target("special/link.txt"), "link_target", expected_link, "automated_ingest"])]
    );

    let socket_path = p.source("special/sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    let out = p.step(
        "socket AVU",
        Action::SyncFile,
        p.file_meta(&socket_path, &target("special/sock")),
        true,
        &register,
    );
    assert_eq!(
        out.avus_of(&target("special/sock")),
        vec![json!([target("special/sock"), "socket_target", "socket", "automated_ingest"])]
    );

    // A file whose name is not UTF-8, at the job root (§8.1).
    let bad = p.scratch.path().join(std::ffi::OsStr::from_bytes(b"bad_\xff.txt"));
    std::fs::write(&bad, b"undecodable name").unwrap();
    set_mtime(&bad, 1_600_004_000);
    let encoded = b64(bad.as_os_str().as_bytes());
    let logical = format!("{ROOT}/irods_UnicodeEncodeError_{encoded}");
    // A '/' in the base64 text makes extra levels; iRODS folds "//" into one.
    let cataloged = logical.replace("//", "/");
    let mut meta = p.file_meta(&p.source("reg/sub/f1.txt"), &logical);
    merge(
        &mut meta,
        json!({"path": p.scratch.path().to_str().unwrap(), "size": 16, "mtime": 1_600_004_000.0,
               "is_link": false, "is_socket": false, "b64_path_str": encoded,
               "unicode_error_filename": format!("irods_UnicodeEncodeError_{encoded}"),
               "b64_reason": "UnicodeEncodeError"}),
    );
    let out = p.step("UnicodeEncodeError register + AVU", Action::SyncFile, meta, true, &register);
    let replicas = out.replicas_of(&cataloged);
    assert_eq!(replicas.len(), 1, "{:?} {:#}", out.error, out.dump);
    assert_eq!(
        replicas[0]["physical"],
        format!("{}/irods_UnicodeEncodeError_{encoded}", p.scratch.path().display())
    );
    assert_eq!(
        out.avus_of(&cataloged),
        vec![json!([
            cataloged,
            "irods::automated_ingest::UnicodeEncodeError",
            encoded,
            "python3.base64.b64encode(full_path_of_source_file)"
        ])]
    );

    // A name the handler's character_map changed: the original path is recorded (§8.2).
    let mapped = p.write("cm/we!rd.txt", b"mapped name", 1_600_004_500);
    let mapped_b64 = b64(mapped.as_os_str().as_bytes());
    let mut meta = p.file_meta(&mapped, &target("cm/we_rd.txt"));
    merge(&mut meta, json!({"b64_path_str_charmap": mapped_b64, "b64_reason": "character_map"}));
    let out = p.step("character_map AVU", Action::SyncFile, meta, true, &register);
    assert_eq!(
        out.avus_of(&target("cm/we_rd.txt")),
        vec![json!([
            target("cm/we_rd.txt"),
            "irods::automated_ingest::character_map",
            mapped_b64,
            "python3.base64.b64encode(full_path_of_source_file)"
        ])]
    );

    let out = p.step(
        "file onto a collection fails",
        Action::SyncFile,
        p.file_meta(&f1, &target("reg/sub")),
        true,
        &register,
    );
    assert!(out.error.as_deref().unwrap_or_default().starts_with("Exception: sync: cannot sync file"));

    let n = p.write("noop/n.txt", b"ignored", 1_600_005_000);
    let out = p.step(
        "NO_OP creates nothing",
        Action::SyncFile,
        p.file_meta(&n, &target("noop/n.txt")),
        true,
        &Handler::op(Operation::NoOp),
    );
    assert!(!out.collections().contains(&target("noop")));

    let unregister = Handler::delete(ops::DeleteMode::Unregister);
    let mut meta = p.base_meta();
    merge(&mut meta, json!({"target": target("hier/h.txt")}));
    let out = p.step("unregister", Action::DeleteDataObject, meta.clone(), true, &unregister);
    assert!(out.replicas_of(&target("hier/h.txt")).is_empty());
    assert!(h.exists(), "unregister keeps the file");
    p.step("unregister a vanished object is a no-op", Action::DeleteDataObject, meta, true, &unregister);
}

#[test]
fn uploads_match_reference() {
    let p = Parity::start();
    let put = Handler::op(Operation::Put);

    let small = p.write("up/small.txt", b"small file", 1_600_000_000);
    let out = p.step("put small", Action::SyncFile, p.file_meta(&small, &target("up/small.txt")), true, &put);
    let replicas = out.replicas_of(&target("up/small.txt"));
    assert_eq!(
        (replicas[0]["size"].clone(), replicas[0]["resource"].clone()),
        (json!(10), json!("demoResc"))
    );
    assert!(replicas[0]["physical"].as_str().unwrap().starts_with("<DATA>/"), "{replicas:?}");

    p.write("up/small.txt", b"small file, changed", 1_600_000_100);
    let out = p.step(
        "put existing is ignored",
        Action::SyncFile,
        p.file_meta(&small, &target("up/small.txt")),
        true,
        &put,
    );
    assert_eq!(out.replicas_of(&target("up/small.txt"))[0]["size"], 10);

    let large_data: Vec<u8> = (0..40u32 << 20).map(|i| (i % 251) as u8).collect();
    let large = p.write("up/large.bin", &large_data, 1_600_000_200);
    let out = p.step(
        "put large (parallel)",
        Action::SyncFile,
        p.file_meta(&large, &target("up/large.bin")),
        true,
        &put,
    );
    assert_eq!(out.replicas_of(&target("up/large.bin"))[0]["size"], 40 << 20);
    drop(large_data);

    let out = p.step(
        "put to another root resource",
        Action::SyncFile,
        p.file_meta(&small, &target("up/other.txt")),
        true,
        &put.clone().resource("other"),
    );
    assert_eq!(out.replicas_of(&target("up/other.txt"))[0]["resource"], "other");

    let out = p.step(
        "put to a child resource fails",
        Action::SyncFile,
        p.file_meta(&small, &target("up/child.txt")),
        true,
        &put.clone().resource("leaf"),
    );
    assert_eq!(out.error.as_deref(), Some("DIRECT_CHILD_ACCESS"));

    let sync = Handler::op(Operation::PutSync);
    let s = p.write("up/sync.txt", b"version one of the synced file", 1_600_001_000);
    p.step("put_sync new", Action::SyncFile, p.file_meta(&s, &target("up/sync.txt")), true, &sync);
    p.write("up/sync.txt", b"v2", 1_600_001_100);
    let out =
        p.step("put_sync overwrite", Action::SyncFile, p.file_meta(&s, &target("up/sync.txt")), true, &sync);
    assert_eq!(out.replicas_of(&target("up/sync.txt"))[0]["size"], 2);

    let append = Handler::op(Operation::PutAppend);
    let a = p.write("up/append.log", b"line 1\n", 1_600_002_000);
    p.step("put_append new", Action::SyncFile, p.file_meta(&a, &target("up/append.log")), true, &append);
    p.write("up/append.log", b"line 1\nline 2\nline 3\n", 1_600_002_100);
    let out = p.step(
        "put_append appends",
        Action::SyncFile,
        p.file_meta(&a, &target("up/append.log")),
        true,
        &append,
    );
    assert_eq!(out.replicas_of(&target("up/append.log"))[0]["size"], 21);

    // Undecodable name: the upload reads the real (base64-decoded) path.
    let bad = p.scratch.path().join(std::ffi::OsStr::from_bytes(b"up_\xfe.bin"));
    std::fs::write(&bad, b"bytes behind an undecodable name").unwrap();
    let encoded = b64(bad.as_os_str().as_bytes());
    let logical = format!("{ROOT}/irods_UnicodeEncodeError_{encoded}");
    // A '/' in the base64 text makes extra levels; iRODS folds "//" into one.
    let cataloged = logical.replace("//", "/");
    let mut meta = p.file_meta(&small, &logical);
    merge(
        &mut meta,
        json!({"path": p.scratch.path().to_str().unwrap(), "size": 32, "b64_path_str": encoded,
               "unicode_error_filename": format!("irods_UnicodeEncodeError_{encoded}"),
               "b64_reason": "UnicodeEncodeError"}),
    );
    let out = p.step("put undecodable name", Action::SyncFile, meta, true, &put);
    assert_eq!(out.replicas_of(&cataloged)[0]["size"], 32);
    assert_eq!(out.avus_of(&cataloged).len(), 1);

    let mut meta = p.base_meta();
    merge(&mut meta, json!({"target": target("up/sync.txt")}));
    let out = p.step("trash", Action::DeleteDataObject, meta, true, &Handler::delete(ops::DeleteMode::Trash));
    assert!(out.replicas_of(&target("up/sync.txt")).is_empty());
    assert!(
        out.objects().iter().any(|o| o["logical"].as_str().unwrap().starts_with(TRASH)),
        "moved to trash"
    );

    let before = out.vault_files().len();
    let mut meta = p.base_meta();
    merge(&mut meta, json!({"target": target("up/append.log")}));
    let out = p.step(
        "unlink without trash",
        Action::DeleteDataObject,
        meta,
        true,
        &Handler::delete(ops::DeleteMode::NoTrash),
    );
    assert!(out.replicas_of(&target("up/append.log")).is_empty());
    assert_eq!(out.vault_files().len(), before - 1, "vault file removed");
}

#[test]
fn collections_match_reference() {
    let p = Parity::start();
    let mut meta = p.base_meta();
    let dir = p.source("x/y/z");
    std::fs::create_dir_all(&dir).unwrap();
    merge(&mut meta, json!({"target": target("x/y/z"), "path": dir.to_str().unwrap()}));
    let out = p.step("create_dirs nested", Action::SyncDir, meta.clone(), true, &Handler::default());
    for level in ["x", "x/y", "x/y/z"] {
        assert!(out.collections().contains(&target(level)), "{level} in {:?}", out.collections());
    }
    p.step("create_dirs existing", Action::SyncDir, meta, true, &Handler::default());

    let unregister = Handler::delete(ops::DeleteMode::Unregister);
    let mut meta = p.base_meta();
    merge(&mut meta, json!({"target": target("x")}));
    let out = p.step("non-empty collection stays", Action::DeleteCollection, meta, true, &unregister);
    assert!(out.collections().contains(&target("x")));

    let mut meta = p.base_meta();
    let empty = p.source("empty");
    std::fs::create_dir_all(&empty).unwrap();
    merge(&mut meta, json!({"target": target("empty"), "path": empty.to_str().unwrap()}));
    let out = p.step("create empty", Action::SyncDir, meta.clone(), true, &Handler::default());
    assert!(out.collections().contains(&target("empty")));
    let out =
        p.step("unregister empty collection", Action::DeleteCollection, meta.clone(), true, &unregister);
    assert!(!out.collections().contains(&target("empty")));
    let out = p.step("missing collection fails", Action::DeleteCollection, meta, true, &unregister);
    assert_eq!(out.error.as_deref(), Some("CollectionDoesNotExist"));
}
