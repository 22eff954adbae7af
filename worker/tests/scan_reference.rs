//! `DirScanner` against the reference's `filesystem_sync_path`, run eagerly by the venv Python on
//! the same directory with publishing intercepted: same sub-directory tasks, same chunks, same
//! order, same lstat values.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{b64, probe};
use irods_ingest::paths::SourcePath;
use irods_ingest::pyfmt::float_repr;
use irods_ingest::scan::{
    DirScanner, ExcludeRules, Readability, ScanError, ScanEvent, ScanOptions, SkipReason,
};
use serde_json::json;

fn write(path: &Path, mode: u32) {
    std::fs::write(path, b"content").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Regular files of several modes, links (good and dangling), a FIFO, a socket, directories
/// (readable, group-unreadable, excluded), excluded and undecodable names, enough files to chunk.
fn make_tree(root: &Path) -> std::os::unix::net::UnixListener {
    write(&root.join("a.txt"), 0o644);
    write(&root.join("private.txt"), 0o600);
    write(&root.join("group_only.dat"), 0o040);
    write(&root.join("skip_me.tmp"), 0o644);
    write(&root.join(std::ffi::OsStr::from_bytes(b"bad_\xe1\x80.txt")), 0o644);
    for i in 0..7 {
        write(&root.join(format!("f{i:02}")), 0o644);
    }
    std::os::unix::fs::symlink("a.txt", root.join("link_ok")).unwrap();
    std::os::unix::fs::symlink("nowhere", root.join("link_dangling")).unwrap();
    std::os::unix::fs::symlink("sub", root.join("link_dir")).unwrap();
    let fifo = std::ffi::CString::new(root.join("fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let socket = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    std::fs::set_permissions(root.join("sock"), std::fs::Permissions::from_mode(0o755)).unwrap();
    for (dir, mode) in [("sub", 0o755), ("sub_private", 0o700), ("excluded_dir", 0o755), (".dot", 0o755)] {
        std::fs::create_dir(root.join(dir)).unwrap();
        std::fs::set_permissions(root.join(dir), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    write(&root.join("sub/inner.txt"), 0o644);
    socket
}

/// Our events rendered the way the probe reports the reference's enqueues.
fn render(events: Vec<ScanEvent>) -> (Vec<serde_json::Value>, Vec<(SourcePath, String)>) {
    let mut enqueued = Vec::new();
    let mut skipped = Vec::new();
    for event in events {
        match event {
            ScanEvent::Directory(dir) => enqueued.push(json!({
                "task": "filesystem_sync_path", "path": b64(dir.path.as_bytes()),
                "mtime": float_repr(dir.mtime), "ctime": float_repr(dir.ctime),
            })),
            ScanEvent::Chunk(entries) => enqueued.push(json!({
                "task": "filesystem_sync_files", "path": "",
                "chunk": entries.iter().map(|e| json!([b64(e.path.as_bytes()), {
                    "is_link": e.stat.is_link, "is_socket": e.stat.is_socket,
                    "mtime": float_repr(e.stat.mtime), "ctime": float_repr(e.stat.ctime), "size": e.stat.size,
                }])).collect::<Vec<_>>(),
            })),
            ScanEvent::Skipped { path, reason } => skipped.push((path, format!("{reason:?}"))),
            ScanEvent::UnknownFileType { .. } => {}
            ScanEvent::ListingFailed(error) => panic!("listing failed: {error}"),
        }
    }
    (enqueued, skipped)
}

#[test]
fn scan_matches_the_reference_sync_path_task() {
    let redis = test_support::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap().join("src");
    std::fs::create_dir(&root).unwrap();
    let _socket = make_tree(&root);
    let root_bytes = root.as_os_str().as_bytes().to_vec();
    let file_patterns = vec![".*\\.tmp$".to_owned()];
    let dir_patterns = vec![format!("{}/excluded", root.display())];

    for (db, files_per_task, types) in
        [(1, 3, vec!["n".to_owned()]), (2, 50, vec!["pipe".to_owned(), "link".to_owned()])]
    {
        let log = dir.path().join(format!("scan{db}.log"));
        let reference = probe(
            "scan",
            &json!({
                "redis_port": redis.port(), "redis_db": db, "log_file": log.to_str().unwrap(),
                "job_name": format!("scan{db}"), "uuid": format!("{:032x}", rand::random::<u128>()),
                "handler_source": irods_ingest::job::DEFAULT_EVENT_HANDLER,
                "root": b64(&root_bytes), "path": b64(&root_bytes), "target": "/tempZone/home/rods/t",
                "files_per_task": files_per_task, "exclude_file_type": types,
                "exclude_file_name": file_patterns, "exclude_directory_name": dir_patterns,
            }),
        );
        assert!(reference["error"].is_null(), "reference task failed: {}", reference["error"]);
        let mut theirs = reference["enqueued"].as_array().unwrap().clone();
        // The task enqueues the directory's own dir task first; that is the task layer's job.
        let own = theirs.remove(0);
        assert_eq!(own["task"], "filesystem_sync_dir");
        assert_eq!(own["path"], b64(&root_bytes));
        for entry in &mut theirs {
            if entry["task"] == "filesystem_sync_files" {
                entry["path"] = json!("");
            }
        }

        let options = ScanOptions {
            files_per_task,
            exclude: ExcludeRules::new(&types, &file_patterns, &dir_patterns).unwrap(),
            readability: Readability::GroupReadBit,
        };
        let source = SourcePath::from_bytes(root_bytes.clone()).unwrap();
        let scanner = DirScanner::open(&source, options).unwrap();
        let (ours, skipped) = render(scanner.collect());
        assert_eq!(ours, theirs, "scan of db{db} case");
        let skipped_names: Vec<String> = skipped
            .iter()
            .map(|(p, r)| {
                format!("{}:{}", String::from_utf8_lossy(p.as_bytes()).rsplit('/').next().unwrap(), r)
            })
            .collect();
        assert!(skipped_names.contains(&"private.txt:NotReadable".to_owned()), "{skipped_names:?}");
        assert!(skipped_names.contains(&"sub_private:NotReadable".to_owned()), "{skipped_names:?}");
        assert!(skipped_names.contains(&"skip_me.tmp:Excluded".to_owned()), "{skipped_names:?}");
        assert!(skipped_names.contains(&"excluded_dir:Excluded".to_owned()), "{skipped_names:?}");
    }
}

#[test]
fn vanished_entries_are_skipped_and_the_pass_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..6 {
        write(&dir.path().join(format!("v{i}")), 0o644);
    }
    let source = SourcePath::from_bytes(dir.path().as_os_str().as_bytes().to_vec()).unwrap();
    let options = ScanOptions {
        files_per_task: 1,
        exclude: ExcludeRules::default(),
        readability: Readability::GroupReadBit,
    };
    let mut scanner = DirScanner::open(&source, options).unwrap();
    // The first event makes the kernel hand over the whole (small) listing; then the files go.
    let first = scanner.next().unwrap();
    assert!(matches!(first, ScanEvent::Chunk(ref c) if c.len() == 1));
    for i in 0..6 {
        let _ = std::fs::remove_file(dir.path().join(format!("v{i}")));
    }
    let rest: Vec<ScanEvent> = scanner.collect();
    assert_eq!(rest.len(), 5, "{rest:?}");
    for event in rest {
        match event {
            ScanEvent::Skipped { reason: SkipReason::StatFailed(error), .. } => {
                assert_eq!(error.kind(), std::io::ErrorKind::NotFound)
            }
            other => panic!("expected a vanished entry, got {other:?}"),
        }
    }
}

#[test]
fn dangling_links_are_flagged_and_unlistable_directories_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("missing", dir.path().join("dangling")).unwrap();
    std::os::unix::fs::symlink("/", dir.path().join("root_link")).unwrap();
    let source = SourcePath::from_bytes(dir.path().as_os_str().as_bytes().to_vec()).unwrap();
    let options = ScanOptions {
        files_per_task: 10,
        exclude: ExcludeRules::default(),
        readability: Readability::Access,
    };
    let events: Vec<ScanEvent> = DirScanner::open(&source, options.clone()).unwrap().collect();
    let [ScanEvent::Chunk(entries)] = events.as_slice() else { panic!("{events:?}") };
    for entry in entries {
        assert!(entry.stat.is_link);
        let dangling = entry.path.as_bytes().ends_with(b"dangling");
        assert_eq!(entry.dangling_link, dangling);
    }
    let missing = SourcePath::from_bytes(dir.path().join("nope").as_os_str().as_bytes().to_vec()).unwrap();
    assert!(matches!(DirScanner::open(&missing, options), Err(ScanError::Open { .. })));
}

#[test]
fn bad_exclusion_patterns_are_clear_errors() {
    let error = ExcludeRules::new(&[], &["(?<=x)y".to_owned()], &[]).unwrap_err();
    assert!(matches!(error, ScanError::BadPattern { ref pattern, .. } if pattern == "(?<=x)y"));
}
