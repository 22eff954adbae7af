//! Path conversions and arithmetic against Python's own `os.fsdecode`, `os.path` and the
//! reference's `is_unicode_encode_error_path`, and entry naming against the reference's
//! `filesystem_sync_entry` run on real files.

mod common;

use std::os::unix::ffi::OsStrExt;

use common::{Lcg, b64, probe, unb64};
use irods_ingest::charmap::{CharMap, Rule};
use irods_ingest::paths::{self, B64Reason, SourcePath};
use serde_json::json;

fn code_points(units: &[u16]) -> Vec<u32> {
    char::decode_utf16(units.iter().copied())
        .map(|c| c.map(u32::from).unwrap_or_else(|e| u32::from(e.unpaired_surrogate())))
        .collect()
}

#[test]
fn conversions_and_os_path_match_python() {
    let mut inputs: Vec<Vec<u8>> = [
        &b"/r/plain.txt"[..],
        b"/r/a\xe1\x80b",
        b"/r/\xff",
        b"/r/\xed\xa0\x80",
        b"/r/\xf0\x9f\x98\x80",
        b"/r/\xc0\xaf",
        b"/r/\xf4\x90\x80\x80",
        b"/r/x/../y",
        b"//r//a/./b/",
        b"///r/a",
        b"relative/p\xe9th",
        b"/r",
        b"/",
        b"/r/\xe2\x82",
        b"/r/\xe2\x82z",
        b"/r/caf\xc3\xa9/na\xefve",
        b"/other/place",
        b"/r/..",
    ]
    .iter()
    .map(|b| b.to_vec())
    .collect();
    let mut rng = Lcg::new(7);
    let pool: &[u8] = b"/a.\x80\xbf\xc2\xc3\xe1\xe2\xed\xef\xf0\xf4\xf8\xff\x9f\xa0";
    for _ in 0..300 {
        let len = 1 + rng.below(12);
        let mut p = b"/r/".to_vec();
        p.extend((0..len).map(|_| pool[rng.below(pool.len())]));
        inputs.push(p);
    }
    let request = json!({"root": b64(b"/r"), "inputs": inputs.iter().map(|p| b64(p)).collect::<Vec<_>>()});
    let reference = probe("paths", &request);
    for (input, want) in inputs.iter().zip(reference.as_array().unwrap()) {
        let units = paths::fsdecode(input);
        let expected_points: Vec<u32> =
            want["code_points"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(code_points(&units), expected_points, "fsdecode {input:?}");
        assert_eq!(paths::fsencode(&units).unwrap(), unb64(want["round_trip"].as_str().unwrap()));
        assert_eq!(paths::is_unicode_encode_error_path(&units), want["unicode_error"].as_bool().unwrap());
        assert_eq!(paths::needs_unicode_error_handling(input), want["unicode_error"].as_bool().unwrap());
        assert_eq!(
            paths::b64_path_str(&paths::abspath(input)),
            want["b64_path_str"].as_str().unwrap(),
            "{input:?}"
        );
        assert_eq!(paths::normpath(input), unb64(want["normpath"].as_str().unwrap()), "normpath {input:?}");
        if let Some(rel) = want["relpath"].as_str() {
            assert_eq!(paths::relpath(input, b"/r"), unb64(rel), "relpath {input:?}");
        }
        assert_eq!(paths::dirname(input), unb64(want["dirname"].as_str().unwrap()), "dirname {input:?}");
        assert_eq!(paths::basename(input), unb64(want["basename"].as_str().unwrap()), "basename {input:?}");
        // The celery-proto string type agrees with the UTF-16 view.
        let source = SourcePath::from_bytes(input.clone()).unwrap();
        let py = source.to_py_str();
        assert_eq!(py.code_points().collect::<Vec<u32>>(), expected_points);
        assert_eq!(SourcePath::from_py_str(&py).unwrap(), source);
    }
}

const CHARMAP_HANDLER: &str = "
import re
from irods_capability_automated_ingest.core import Core
from irods_capability_automated_ingest.utils import Operation
class event_handler(Core):
    @staticmethod
    def character_map():
        return {re.compile('[^a-zA-Z0-9]'): '_'}
    @staticmethod
    def operation(session, meta, **options):
        return Operation.REGISTER_SYNC
";

const PLAIN_HANDLER: &str = "
from irods_capability_automated_ingest.core import Core
from irods_capability_automated_ingest.utils import Operation
class event_handler(Core):
    @staticmethod
    def operation(session, meta, **options):
        return Operation.REGISTER_SYNC
";

/// Files at the root and one level down, with names that exercise every naming branch.
fn make_tree(root: &std::path::Path) -> Vec<Vec<u8>> {
    let names: [&[u8]; 8] = [
        b"a.txt",
        b"we!rd~name.txt",
        b"bad_\xe1\x80.txt",
        b".hidden",
        b"sub/x y.txt",
        b"sub/bad\xff.txt",
        b"sub/deeper/z-z.txt",
        b"caf\xc3\xa9.txt",
    ];
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    names
        .iter()
        .map(|name| {
            let path = root.join(std::ffi::OsStr::from_bytes(name));
            std::fs::write(&path, b"data").unwrap();
            path.as_os_str().as_bytes().to_vec()
        })
        .collect()
}

#[test]
fn entry_names_match_the_reference_entry_task() {
    let redis = test_support::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let files = make_tree(&root);
    let root_bytes = root.as_os_str().as_bytes().to_vec();
    let target = "/tempZone/home/my-coll";
    let regex_map = CharMap::new(vec![Rule::regex("[^a-zA-Z0-9]", "_").unwrap()]).unwrap();

    for (db, handler, map) in [(1, PLAIN_HANDLER, None), (2, CHARMAP_HANDLER, Some(&regex_map))] {
        let log = dir.path().join(format!("probe{db}.log"));
        let request = json!({
            "redis_port": redis.port(), "redis_db": db, "log_file": log.to_str().unwrap(),
            "job_name": format!("names{db}"), "uuid": format!("{:032x}", rand::random::<u128>()),
            "handler_source": handler, "root": b64(&root_bytes), "target": target,
            "chunk": files.iter().map(|f| b64(f)).collect::<Vec<_>>(),
        });
        let reference = probe("entries", &request);
        assert!(reference["error"].is_null(), "reference entry task failed: {}", reference["error"]);
        let seen = reference["seen"].as_array().unwrap();
        assert_eq!(seen.len(), files.len());
        let root_path = SourcePath::from_bytes(root_bytes.clone()).unwrap();
        let mut our_keys = Vec::new();
        for (file, want) in files.iter().zip(seen) {
            let path = SourcePath::from_bytes(file.clone()).unwrap();
            let names = paths::entry_names(&root_path, target, &path, map).unwrap();
            our_keys.push(format!("sync_time:/{}", names.sync_key));
            let want_target = String::from_utf8(unb64(want["target"].as_str().unwrap())).unwrap();
            match &names.unicode_error {
                None => {
                    assert_eq!(names.logical_path, want_target, "logical path of {path:?}");
                    assert_eq!(want["path"].as_str().unwrap(), b64(file));
                }
                Some(unicode) => {
                    assert_eq!(Some(unicode.b64_path_str.as_str()), want["b64_path_str"].as_str());
                    assert_eq!(
                        Some(unicode.unicode_error_filename.as_str()),
                        want["unicode_error_filename"].as_str()
                    );
                    assert_eq!(b64(unicode.parent.as_bytes()), want["path"].as_str().unwrap());
                    if unicode.parent.as_bytes() == root_bytes.as_slice() {
                        assert_eq!(names.logical_path, want_target, "root-level undecodable name");
                    } else {
                        // Intended difference: the reference names it by the parent collection.
                        assert_eq!(
                            names.logical_path,
                            format!("{want_target}/{}", unicode.unicode_error_filename)
                        );
                    }
                }
            }
            let reason = names.b64_reason.map(B64Reason::as_str);
            assert_eq!(reason, want["b64_reason"].as_str(), "b64_reason of {path:?}");
            assert_eq!(names.b64_path_str_charmap.as_deref(), want["b64_path_str_charmap"].as_str());
        }
        our_keys.sort();
        let their_keys: Vec<String> = reference["sync_time_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(our_keys, their_keys, "sync_time keys written by the reference");
    }
}

#[test]
fn destination_collection_fix_differs_only_for_dot_names() {
    let root = SourcePath::from_str_path("/src").unwrap();
    let plain = SourcePath::from_str_path("/src/a/b").unwrap();
    let dotted = SourcePath::from_str_path("/src/.x").unwrap();
    assert_eq!(paths::collection_for(&root, "/z/t", &root).unwrap(), "/z/t");
    assert_eq!(paths::reference_destination_collection(&root, "/z/t", &root), b"/z/t");
    assert_eq!(paths::collection_for(&root, "/z/t", &plain).unwrap(), "/z/t/a/b");
    assert_eq!(paths::reference_destination_collection(&root, "/z/t", &plain), b"/z/t/a/b");
    assert_eq!(paths::collection_for(&root, "/z/t", &dotted).unwrap(), "/z/t/.x");
    assert_eq!(paths::reference_destination_collection(&root, "/z/t", &dotted), b"/z/t/x");
}
