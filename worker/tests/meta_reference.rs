//! `Meta` accessors on the meta dict the real Python `irods_sync start` publishes, taken from the
//! restart queue, including a source directory whose name is not valid UTF-8.

mod common;

use std::os::unix::ffi::OsStrExt;

use base64::Engine as _;
use celery_proto::json::PyValue;
use common::{connect, run_python};
use irods_ingest::meta::{Meta, path_value};
use irods_ingest::paths::SourcePath;

#[tokio::test]
async fn meta_published_by_the_python_cli_reads_back_exactly() {
    let redis = test_support::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let src = base.join(std::ffi::OsStr::from_bytes(b"caf\xe9 src"));
    std::fs::create_dir(&src).unwrap();
    let url = redis.url(0);
    let output = std::process::Command::new(test_support::venv_python())
        .args(["-m", "irods_capability_automated_ingest.irods_sync", "start"])
        .arg(&src)
        .args(["/tempZone/home/rods/meta", "--job_name", "meta.job", "-i", "3600", "--files_per_task", "7"])
        .args(["--exclude_file_type", "regular,link", "--exclude_file_name", ".*\\.tmp"])
        .args(["--log_filename", "/dev/null"])
        .env("CELERY_BROKER_URL", &url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (_client, mut conn) = connect(&url).await;
    let messages: Vec<Vec<u8>> =
        redis::cmd("LRANGE").arg("restart").arg(0).arg(-1).query_async(&mut conn).await.unwrap();
    assert_eq!(messages.len(), 1, "one main task published");
    let envelope = PyValue::from_json(&messages[0]).unwrap();
    let body = envelope.as_dict().unwrap().get("body").unwrap().as_str().unwrap();
    let body = PyValue::from_json(&base64::engine::general_purpose::STANDARD.decode(body).unwrap()).unwrap();
    let meta_value = &body.as_list().unwrap()[0].as_list().unwrap()[0];
    let meta = Meta::new(meta_value).unwrap();

    assert_eq!(meta.job_name().unwrap(), "meta.job");
    assert_eq!(meta.interval().unwrap(), Some(3600));
    assert_eq!(meta.restart_queue().unwrap(), "restart");
    assert_eq!((meta.path_queue().unwrap(), meta.file_queue().unwrap()), ("path", "file"));
    assert_eq!(meta.target().unwrap(), "/tempZone/home/rods/meta");
    assert_eq!(meta.files_per_task().unwrap(), 7);
    assert!(!meta.ignore_cache() && !meta.initial_ingest() && !meta.profile());
    assert!(meta.event_handler_key().unwrap().starts_with("custom_event_handler:/meta.job::"));
    let redis_config = meta.redis_config().unwrap();
    assert_eq!(redis_config.url(), url);
    assert_eq!(meta.log_config().unwrap().filename.as_deref(), Some("/dev/null"));
    assert_eq!(meta.task().unwrap(), None);

    let rules = meta.exclude_rules().unwrap();
    let kept = irods_ingest::scan::Exclusion::Kept;
    let excluded = irods_ingest::scan::Exclusion::Excluded;
    assert_eq!(rules.excludes("/x/a.tmp", 0o040755), kept, "directories are not matched by file patterns");
    assert_eq!(rules.excludes("/x/a.tmp", 0o010644), excluded, "file pattern");
    assert_eq!(rules.excludes("/x/a.txt", 0o100644), excluded, "type regular");
    assert_eq!(rules.excludes("/x/a.txt", 0o010644), kept, "a FIFO is not excluded");
    let types: Vec<String> = meta_value
        .as_dict()
        .unwrap()
        .get("exclude_file_type")
        .unwrap()
        .as_list()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["regular", "link"]);

    // The undecodable directory name travels as lone surrogates and comes back as the bytes.
    let root = meta.root().unwrap();
    assert_eq!(root.as_bytes(), src.as_os_str().as_bytes());
    assert_eq!(meta.path().unwrap(), root);
    assert!(meta.get("root").unwrap().as_py_str().unwrap().has_lone_surrogates());
    assert_eq!(&path_value(&root), meta.get("root").unwrap());
    assert!(meta.text("root").is_err(), "text access refuses lone surrogates");
}

#[test]
fn chunk_entries_from_python_json() {
    let (ok, stdout, stderr) = run_python(
        &[
            "-c",
            "import json, os; print(json.dumps({'chunk': {os.fsdecode(b'/r/bad\\xff.txt'): \
             {'is_link': False, 'is_socket': True, 'mtime': 1795333895.50493, 'ctime': 2.5, 'size': 12}, \
             '/r/ok': {'is_link': True, 'is_socket': False, 'mtime': 3.0, 'ctime': 4.0, 'size': 0}}}))",
        ],
        &[],
    );
    assert!(ok, "{stderr}");
    let value = PyValue::from_json(stdout.trim().as_bytes()).unwrap();
    let chunk = Meta::new(&value).unwrap().chunk().unwrap();
    assert_eq!(chunk.len(), 2);
    assert_eq!(chunk[0].0, SourcePath::from_bytes(b"/r/bad\xff.txt".to_vec()).unwrap());
    assert!(chunk[0].1.is_socket && !chunk[0].1.is_link);
    assert_eq!((chunk[0].1.mtime, chunk[0].1.ctime, chunk[0].1.size), (1795333895.50493, 2.5, 12));
    assert_eq!(chunk[1].0.as_bytes(), b"/r/ok");
    assert!(chunk[1].1.is_link);

    let broken =
        PyValue::from_json(br#"{"chunk": {"/r/x": {"is_link": false, "ctime": 1.0, "size": 1}}}"#).unwrap();
    let error = Meta::new(&broken).unwrap().chunk().unwrap_err();
    assert!(error.to_string().contains("chunk[/r/x].mtime"), "{error}");
    let not_a_dict = PyValue::from_json(b"[1, 2]").unwrap();
    assert!(Meta::new(&not_a_dict).is_err());
}
