//! End-to-end client tests against `irods-testserver` (compat-tests/testserver), with
//! python-irodsclient (tests/python/prc_peer.py) as the second party where the check is "what the
//! Rust client wrote, PRC reads back" or the reverse.
//!
//! The server binary must be built into the same target directory first:
//! `cargo build -p irods-testserver` (scripts/test builds every binary).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use irods_proto::client::transfer::{self, PutOptions};
use irods_proto::client::{Avu, AvuOperation, AvuTarget, ObjectKind, OpenMode, RemoveCollection};
use irods_proto::config::{IrodsConfig, current_uid};
use irods_proto::consts::{kw, whence};
use irods_proto::messages::{DataObjInfo, KeyValPair};
use irods_proto::{Connection, Pool, PoolOptions, Query, col, error_code};
use serde_json::{Value, json};
use test_support::{ChildGuard, target_binary, venv_python, wait_until};

const HOME: &str = "/tempZone/home/rods";

struct TestServer {
    guard: Option<ChildGuard>,
    dir: tempfile::TempDir,
    env_file: PathBuf,
    extra_args: Vec<String>,
}

impl TestServer {
    fn start() -> TestServer {
        Self::start_with(&[])
    }

    /// Starts a server with extra arguments (e.g. `--resource NAME:TYPE`) on a free port.
    fn start_with(extra_args: &[&str]) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let env_file = dir.path().join("client/irods_environment.json");
        let mut server = TestServer {
            guard: None,
            dir,
            env_file,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
        };
        server.launch(0);
        server
    }

    fn launch(&mut self, port: u16) {
        let _ = std::fs::remove_file(&self.env_file);
        let child = Command::new(target_binary("irods-testserver"))
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(self.dir.path().join("server"))
            .arg("--env-file")
            .arg(&self.env_file)
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start irods-testserver");
        self.guard = Some(ChildGuard::new("irods-testserver", child));
        assert!(
            wait_until(Duration::from_secs(30), || self.env_file.exists()),
            "the test server did not come up"
        );
    }

    /// Stops the server (dropping every connection) and starts it again on the same port.
    fn restart(&mut self) {
        let port = self.config().port;
        self.guard = None;
        self.launch(port);
    }

    /// The client configuration, read the way the ingest reads it (environment file + .irodsA).
    fn config(&self) -> IrodsConfig {
        let env_file = self.env_file.display().to_string();
        IrodsConfig::from_sources(
            |name| (name == "IRODS_ENVIRONMENT_FILE").then(|| env_file.clone()),
            None,
            current_uid(),
        )
        .expect("configuration from the server's environment file")
    }

    async fn connect(&self) -> Connection {
        Connection::connect(&self.config()).await.expect("connect")
    }

    fn local(&self, name: &str) -> PathBuf {
        let dir = self.dir.path().join("local");
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn prc(&self, args: &[&str]) -> Value {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/prc_peer.py");
        let output = Command::new(venv_python())
            .arg(script)
            .args(args)
            .env("IRODS_ENVIRONMENT_FILE", &self.env_file)
            .output()
            .unwrap();
        assert!(output.status.success(), "prc_peer {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2654435761).to_be_bytes()[0]).collect()
}

#[tokio::test]
async fn connects_with_environment_file_and_reports_server_info() {
    let server = TestServer::start();
    let config = server.config();
    assert!(!config.password.expose().is_empty(), "password came from .irodsA");
    let mut conn = Connection::connect(&config).await.unwrap();
    assert!(conn.server_at_least(&[4, 3, 0]));
    let info = conn.server_info().await.unwrap();
    assert_eq!(info.rods_zone, "tempZone");
    assert!(info.rel_version.starts_with("rods4.3"));
    conn.disconnect().await.unwrap();

    let mut legacy = config.clone();
    legacy.force_legacy_auth = true;
    Connection::connect(&legacy).await.expect("legacy authentication").disconnect().await.unwrap();

    let mut wrong = config.clone();
    wrong.password = irods_proto::Password::new("wrong");
    let err = Connection::connect(&wrong).await.unwrap_err();
    assert!(err.is(error_code::CAT_INVALID_AUTHENTICATION), "{err}");
    assert_eq!(err.code().unwrap().name(), Some("CAT_INVALID_AUTHENTICATION"));
}

#[tokio::test]
async fn collections_create_stat_remove() {
    let server = TestServer::start();
    let mut conn = server.connect().await;
    let deep = format!("{HOME}/a/b/c");
    conn.create_collection(&deep, true).await.unwrap();
    conn.create_collection(&deep, true).await.expect("recursive create is idempotent");
    assert!(conn.collection_exists(&deep).await.unwrap());
    let (kind, _) = conn.stat(&deep).await.unwrap().expect("stat finds the collection");
    assert_eq!(kind, ObjectKind::Collection);

    let err = conn.create_collection(&deep, false).await.unwrap_err();
    assert!(err.is(error_code::CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME), "{err}");
    assert!(err.to_string().contains("CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME"), "{err}");

    let err = conn.remove_collection(&format!("{HOME}/a"), RemoveCollection::default()).await.unwrap_err();
    assert!(err.code().is_some(), "a non-empty collection is not removed: {err}");
    conn.unregister_collection(&deep).await.unwrap();
    assert!(!conn.collection_exists(&deep).await.unwrap());
    conn.remove_collection(
        &format!("{HOME}/a"),
        RemoveCollection { recursive: true, force: true, ..Default::default() },
    )
    .await
    .unwrap();
    assert!(!conn.collection_exists(&format!("{HOME}/a")).await.unwrap());
    assert!(conn.stat(&format!("{HOME}/nothing")).await.unwrap().is_none());
}

#[tokio::test]
async fn descriptor_io_rename_checksum_unlink() {
    let server = TestServer::start();
    let mut conn = server.connect().await;
    let path = format!("{HOME}/io.txt");
    transfer::write_from_slice(&mut conn, &path, b"hello, iRODS world", KeyValPair::new()).await.unwrap();
    assert_eq!(transfer::read_to_vec(&mut conn, &path).await.unwrap(), b"hello, iRODS world");

    let (kind, stat) = conn.stat(&path).await.unwrap().unwrap();
    assert_eq!((kind, stat.obj_size), (ObjectKind::DataObject, 18));
    assert_eq!(stat.owner_name, "rods");

    let fd = conn.open(&path, OpenMode::ReadWrite, KeyValPair::new()).await.unwrap();
    assert_eq!(conn.seek(fd, -6, whence::SEEK_END).await.unwrap(), 12);
    assert_eq!(conn.read(fd, 100).await.unwrap(), b" world");
    assert_eq!(conn.seek(fd, 0, whence::SEEK_SET).await.unwrap(), 0);
    assert_eq!(conn.write(fd, b"HELLO").await.unwrap(), 5);
    conn.close(fd, KeyValPair::new()).await.unwrap();
    assert_eq!(transfer::read_to_vec(&mut conn, &path).await.unwrap(), b"HELLO, iRODS world");

    // Append mode positions at the end, as the ingest's PUT_APPEND relies on.
    let fd = conn.open(&path, OpenMode::Append, KeyValPair::new()).await.unwrap();
    conn.write(fd, b"!").await.unwrap();
    conn.close(fd, KeyValPair::new()).await.unwrap();
    assert_eq!(transfer::read_to_vec(&mut conn, &path).await.unwrap(), b"HELLO, iRODS world!");
    conn.touch(&path, json!({"seconds_since_epoch": 1_600_000_000})).await.unwrap();
    let mtime = conn
        .query_first(
            &Query::select(&[col::D_MODIFY_TIME]).eq(col::COLL_NAME, HOME).eq(col::DATA_NAME, "io.txt"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mtime[0].trim_start_matches('0'), "1600000000");

    let sum = conn.checksum(&path, KeyValPair::new()).await.unwrap();
    assert!(sum.starts_with("sha2:") || sum.len() == 32, "checksum {sum:?}");

    let moved = format!("{HOME}/moved.txt");
    conn.rename(&path, &moved, ObjectKind::DataObject).await.unwrap();
    assert!(!conn.data_object_exists(&path).await.unwrap());
    assert!(conn.data_object_exists(&moved).await.unwrap());

    let err = conn.open(&path, OpenMode::Read, KeyValPair::new()).await.unwrap_err();
    assert!(err.is(error_code::OBJ_PATH_DOES_NOT_EXIST), "{err}");
    assert!(conn.is_usable(), "an iRODS error leaves the connection usable");

    conn.unlink(&moved, true).await.unwrap();
    assert!(!conn.data_object_exists(&moved).await.unwrap());

    // DATA_OBJ_CREATE makes an empty object.
    let created = format!("{HOME}/created.txt");
    let fd = conn.create(&created, KeyValPair::new()).await.unwrap();
    conn.close(fd, KeyValPair::new()).await.unwrap();
    assert_eq!(conn.stat(&created).await.unwrap().unwrap().1.obj_size, 0);

    // Without force the object goes to the trash.
    let trashed = format!("{HOME}/trashed.txt");
    transfer::write_from_slice(&mut conn, &trashed, b"t", KeyValPair::new()).await.unwrap();
    conn.unlink(&trashed, false).await.unwrap();
    assert!(!conn.data_object_exists(&trashed).await.unwrap());
    assert!(conn.data_object_exists("/tempZone/trash/home/rods/trashed.txt").await.unwrap());
}

#[tokio::test]
async fn register_in_place_update_metadata_unregister() {
    let server = TestServer::start();
    let mut conn = server.connect().await;
    let file = server.local("in place.dat");
    std::fs::write(&file, patterned(1000)).unwrap();
    let logical = format!("{HOME}/registered/in place.dat");
    conn.create_collection(&format!("{HOME}/registered"), true).await.unwrap();
    let options: KeyValPair = [
        (kw::DEST_RESC_NAME, "demoResc"),
        (kw::DATA_SIZE, "1000"),
        (kw::DATA_MODIFY, "1700000000"),
        ("allow_redirect", "False"),
    ]
    .into_iter()
    .collect();
    conn.register(&file.display().to_string(), &logical, options).await.unwrap();

    let q = Query::select(&[
        col::DATA_SIZE,
        col::D_MODIFY_TIME,
        col::D_DATA_PATH,
        col::D_RESC_NAME,
        col::DATA_REPL_NUM,
    ])
    .eq(col::COLL_NAME, &format!("{HOME}/registered"))
    .eq(col::DATA_NAME, "in place.dat");
    let row = conn.query_first(&q).await.unwrap().expect("registered row");
    assert_eq!(row[0], "1000");
    assert_eq!(row[1].trim_start_matches('0'), "1700000000");
    assert_eq!(row[2], file.display().to_string());
    assert_eq!(row[3], "demoResc");

    // The ingest's update_metadata: new size and mtime on all replicas.
    let info = DataObjInfo { obj_path: logical.clone(), ..Default::default() };
    let reg: KeyValPair =
        [("dataSize", "2000"), ("dataModify", "1700000500"), ("allReplStatus", "1")].into_iter().collect();
    conn.mod_data_obj_meta(info, reg).await.unwrap();
    let row = conn.query_first(&q).await.unwrap().unwrap();
    assert_eq!((row[0].as_str(), row[1].trim_start_matches('0')), ("2000", "1700000500"));

    let err = conn.register(&file.display().to_string(), &logical, KeyValPair::new()).await.unwrap_err();
    assert!(err.code().is_some(), "registering twice fails: {err}");

    conn.unregister(&logical).await.unwrap();
    assert!(!conn.data_object_exists(&logical).await.unwrap());
    assert!(file.exists(), "unregister keeps the file");
}

#[tokio::test]
async fn avus_single_and_atomic_then_prc_reads_them() {
    let server = TestServer::start();
    let mut conn = server.connect().await;
    let path = format!("{HOME}/meta.txt");
    transfer::write_from_slice(&mut conn, &path, b"m", KeyValPair::new()).await.unwrap();
    let target = AvuTarget::DataObject;
    conn.add_avu(target, &path, &Avu::new("a", "1", "")).await.unwrap();
    conn.add_avu(target, &path, &Avu::new("b", "x & <y> 'z'", "u")).await.unwrap();
    conn.set_avu(target, &path, &Avu::new("a", "2", "")).await.unwrap();
    conn.apply_avus_atomically(
        target,
        &path,
        &[AvuOperation::Add(Avu::new("c", "3", "")), AvuOperation::Remove(Avu::new("b", "x & <y> 'z'", "u"))],
        false,
    )
    .await
    .unwrap();
    let rows = conn
        .query(
            &Query::select(&[col::META_DATA_ATTR_NAME, col::META_DATA_ATTR_VALUE, col::META_DATA_ATTR_UNITS])
                .eq(col::COLL_NAME, HOME)
                .eq(col::DATA_NAME, "meta.txt"),
        )
        .await
        .unwrap();
    let mut rows = rows;
    rows.sort();
    assert_eq!(
        rows,
        vec![vec!["a".to_string(), "2".into(), "".into()], vec!["c".into(), "3".into(), "".into()]]
    );

    let err = conn
        .remove_avu(AvuTarget::DataObject, &format!("{HOME}/missing"), &Avu::new("a", "1", ""))
        .await
        .unwrap_err();
    assert!(err.code().is_some(), "{err}");

    let seen = server.prc(&["describe", &path]);
    assert_eq!(seen["avus"], json!([["a", "2", ""], ["c", "3", ""]]));
}

#[tokio::test]
async fn large_parallel_put_is_read_back_by_prc_and_prc_put_is_read_by_rust() {
    let server = TestServer::start();
    let pool = Pool::new(server.config(), PoolOptions { max_size: 4, ..Default::default() });
    let big = server.local("big.bin");
    std::fs::write(&big, patterned(40 << 20)).unwrap();
    let logical = format!("{HOME}/big.bin");
    let sent = transfer::put_file(&pool, &big, &logical, &PutOptions::default()).await.unwrap();
    assert_eq!(sent, 40 << 20);
    assert!(pool.idle_count() >= 3, "the parallel streams went back to the pool");

    let fetched = server.local("big.back");
    assert_eq!(transfer::get_file_pooled(&pool, &logical, &fetched, 3).await.unwrap(), 40 << 20);
    assert_eq!(sha256_hex(&fetched), sha256_hex(&big), "parallel download");

    let seen = server.prc(&["describe", &logical]);
    assert_eq!(seen["size"], 40 << 20);
    assert_eq!(seen["replicas"], 1);
    assert_eq!(seen["sha256"], sha256_hex(&big));

    // The reverse: PRC uploads (its own parallel path), the Rust client downloads.
    let theirs = server.local("theirs.bin");
    std::fs::write(&theirs, patterned(33 << 20)).unwrap();
    let their_logical = format!("{HOME}/theirs.bin");
    server.prc(&["put", &theirs.display().to_string(), &their_logical]);
    let back = server.local("theirs.back");
    let mut conn = pool.get().await.unwrap();
    assert_eq!(transfer::get_file(&mut conn, &their_logical, &back).await.unwrap(), 33 << 20);
    assert_eq!(sha256_hex(&back), sha256_hex(&theirs));
    let avu = conn
        .query_first(
            &Query::select(&[col::META_DATA_ATTR_VALUE])
                .eq(col::COLL_NAME, HOME)
                .eq(col::DATA_NAME, "theirs.bin")
                .eq(col::META_DATA_ATTR_NAME, "source"),
        )
        .await
        .unwrap();
    assert_eq!(avu, Some(vec!["prc".to_string()]));
}

#[tokio::test]
async fn genquery_paging_and_no_rows() {
    let server = TestServer::start();
    let mut conn = server.connect().await;
    let coll = format!("{HOME}/many");
    conn.create_collection(&coll, true).await.unwrap();
    for i in 0..25 {
        transfer::write_from_slice(&mut conn, &format!("{coll}/f{i:02}"), b"x", KeyValPair::new())
            .await
            .unwrap();
    }
    let q = Query::select(&[col::DATA_NAME]).eq(col::COLL_NAME, &coll).max_rows(10);
    let rows = conn.query(&q).await.unwrap();
    assert_eq!(rows.len(), 25, "three pages followed");
    let first = conn.query_first(&q).await.unwrap().unwrap();
    assert_eq!(first, vec!["f00".to_string()]);
    let none =
        conn.query(&Query::select(&[col::DATA_NAME]).eq(col::COLL_NAME, "/tempZone/none")).await.unwrap();
    assert!(none.is_empty(), "CAT_NO_ROWS_FOUND is an empty result");
    let counted = conn
        .query(
            &Query::select(&[])
                .column(col::DATA_NAME, irods_proto::query::Select::Count)
                .eq(col::COLL_NAME, &coll),
        )
        .await
        .unwrap();
    assert_eq!(counted, vec![vec!["25".to_string()]]);
}

#[tokio::test]
async fn proxy_user_acts_as_the_client_user() {
    let server = TestServer::start();
    let mut admin = server.connect().await;
    admin.general_admin(&["add", "user", "alice", "rodsuser", "tempZone"]).await.unwrap();
    let config = server.config().as_user("alice", "tempZone");
    let mut alice = Connection::connect(&config).await.expect("rods authenticates, acts as alice");
    assert_eq!(alice.client_user().name, "alice");
    assert_eq!(alice.proxy_user().name, "rods");
    let coll = "/tempZone/home/alice/made_by_proxy";
    alice.create_collection(coll, true).await.unwrap();
    let owner =
        admin.query_first(&Query::select(&[col::COLL_OWNER_NAME]).eq(col::COLL_NAME, coll)).await.unwrap();
    assert_eq!(owner, Some(vec!["alice".to_string()]));
}

#[tokio::test]
async fn register_a_second_replica_with_reg_repl() {
    let server = TestServer::start_with(&["--resource", "second:unixfilesystem"]);
    let mut conn = server.connect().await;
    let (first, second) = (server.local("first.dat"), server.local("second.dat"));
    std::fs::write(&first, b"same").unwrap();
    std::fs::write(&second, b"same").unwrap();
    let logical = format!("{HOME}/replicated.dat");
    conn.register(&first.display().to_string(), &logical, [(kw::DATA_SIZE, "4")].into_iter().collect())
        .await
        .unwrap();
    let as_replica: KeyValPair =
        [(kw::REG_REPL, ""), (kw::DEST_RESC_NAME, "second"), (kw::DATA_SIZE, "4")].into_iter().collect();
    conn.register(&second.display().to_string(), &logical, as_replica).await.unwrap();
    let mut rows = conn
        .query(
            &Query::select(&[col::D_RESC_NAME, col::D_DATA_PATH, col::DATA_REPL_NUM])
                .eq(col::COLL_NAME, HOME)
                .eq(col::DATA_NAME, "replicated.dat"),
        )
        .await
        .unwrap();
    rows.sort();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0][0].as_str(), rows[0][1].as_str()), ("demoResc", first.to_str().unwrap()));
    assert_eq!((rows[1][0].as_str(), rows[1][1].as_str()), ("second", second.to_str().unwrap()));
    assert_ne!(rows[0][2], rows[1][2], "distinct replica numbers");
}

#[tokio::test]
async fn pool_replaces_connections_the_server_dropped() {
    let mut server = TestServer::start();
    let pool = Pool::new(server.config(), PoolOptions { max_size: 2, ..Default::default() });
    pool.get().await.unwrap().server_info().await.unwrap();
    assert_eq!(pool.idle_count(), 1);
    server.restart();
    // Give the kernel a moment to deliver the old connection's FIN to our side.
    assert!(wait_until(Duration::from_secs(5), || std::net::TcpStream::connect((
        "127.0.0.1",
        server.config().port
    ))
    .is_ok()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut conn = pool.get().await.unwrap();
    assert_eq!(
        conn.server_info().await.unwrap().rods_zone,
        "tempZone",
        "a fresh connection replaced the dead one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_large_puts_on_a_small_pool_do_not_deadlock() {
    let server = TestServer::start();
    // Two connections for three uploads that would each like three: every upload must make do
    // with what is free instead of waiting for connections held by the others.
    let pool = Pool::new(server.config(), PoolOptions { max_size: 2, ..Default::default() });
    let mut uploads = Vec::new();
    for i in 0..3 {
        let local = server.local(&format!("c{i}.bin"));
        let mut data = patterned(33 << 20);
        data[0] = i as u8;
        std::fs::write(&local, &data).unwrap();
        let pool = pool.clone();
        uploads.push(tokio::spawn(async move {
            let logical = format!("{HOME}/c{i}.bin");
            transfer::put_file(&pool, &local, &logical, &PutOptions::default())
                .await
                .map(|n| (local, logical, n))
        }));
    }
    let mut done = Vec::new();
    for upload in uploads {
        // A generous bound that only a deadlock exceeds.
        let joined = tokio::time::timeout(Duration::from_secs(300), upload).await.expect("uploads finish");
        done.push(joined.unwrap().unwrap());
    }
    let mut conn = pool.get().await.unwrap();
    for (local, logical, sent) in done {
        assert_eq!(sent, 33 << 20);
        let back = server.local("back.bin");
        transfer::get_file(&mut conn, &logical, &back).await.unwrap();
        assert_eq!(sha256_hex(&back), sha256_hex(&local), "{logical}");
    }
}
