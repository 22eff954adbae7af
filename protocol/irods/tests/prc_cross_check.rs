//! "Rust writes, PRC reads": encode messages with irods-proto and unpack them with
//! python-irodsclient's own classes (tests/python/prc_read.py, run in the project venv), then
//! compare field by field. Also checks that the stored vectors are still exactly what the
//! installed PRC produces.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use irods_proto::PackStruct;
use irods_proto::messages::*;
use serde_json::{Value, json};

fn python_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// Runs PRC's unpacking on each (class name, xml) pair.
fn prc_unpack(items: &[(&str, Vec<u8>)]) -> Vec<Value> {
    let request: Vec<Value> = items
        .iter()
        .map(|(class, xml)| json!({"class": class, "xml": String::from_utf8(xml.clone()).unwrap()}))
        .collect();
    let mut child = Command::new(test_support::venv_python())
        .arg(python_dir().join("prc_read.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the venv python");
    child.stdin.take().unwrap().write_all(serde_json::to_string(&request).unwrap().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "prc_read.py failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn b64(bytes: &[u8]) -> Value {
    use base64::Engine as _;
    json!({"b64": base64::engine::general_purpose::STANDARD.encode(bytes)})
}

/// A name with every character that needs escaping, quotes, a backtick, and non-ASCII text.
const AWKWARD: &str = "/tempZone/home/rods/a&b <c> \"d\" 'e' `f` é€ ünï.txt";

#[test]
fn prc_unpacks_what_rust_encodes() {
    let kvp: KeyValPair =
        [("destRescName", "demoResc"), ("dataSize", "1234"), ("regRepl", "")].into_iter().collect();
    let startup = StartupPack {
        irods_prot: 1,
        reconn_flag: 0,
        connect_cnt: 0,
        proxy: UserIdentity::new("rods", "tempZone"),
        client: UserIdentity::new("alice", "otherZone"),
        rel_version: "rods4.3.4".into(),
        api_version: "d".into(),
        option: "irods-ingest".into(),
    };
    let version = Version {
        status: 0,
        rel_version: "rods4.3.4".into(),
        api_version: "d".into(),
        cookie: 400,
        ..Default::default()
    };
    let neg = CsNeg { status: 1, result: "CS_NEG_REFUSE".into() };
    let challenge = AuthRequestOut { challenge: b"0123456789abcdef".repeat(4) };
    let auth_resp = AuthResponseInp {
        response: vec![1u8, 2, 3, 250, 255, 0, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
        username: "rods".into(),
    };
    let json_reply = BinBytesBuf::from_json_with_nul(&json!({"request_result": "x", "user_name": "rods"}));
    let open = DataObjInp {
        obj_path: AWKWARD.into(),
        open_flags: 577,
        data_size: -1,
        offset: 5_000_000_000,
        num_threads: 3,
        cond_input: kvp.clone(),
        ..Default::default()
    };
    let opened = OpenedDataObjInp {
        l1_desc_inx: 3,
        len: 4096,
        whence: 2,
        offset: -10,
        bytes_written: 7,
        ..Default::default()
    };
    let query = GenQueryInp {
        max_rows: 500,
        continue_inx: 2,
        partial_start_index: 1,
        options: 0x200,
        cond_input: [("zone", "tempZone")].into_iter().collect(),
        select: InxIvalPair { pairs: vec![(403, 1), (407, 0x400)] },
        conditions: InxValPair { pairs: vec![(501, format!("= '{AWKWARD}'")), (404, "<> '0'".into())] },
    };
    let out = GenQueryOut::from_rows(
        &[403, 407],
        &[vec!["a & b".into(), "1".into()], vec!["c".into(), "22".into()]],
        1,
    );
    let coll = CollInpNew {
        coll_name: AWKWARD.into(),
        flags: 0,
        opr_type: 26,
        cond_input: [("recursiveOpr", "")].into_iter().collect(),
    };
    let avu = ModAvuMetadataInp::from_args(&["add", "-d", AWKWARD, "attr<", "val'", ""]);
    let seek = FileLseekOut { offset: 9_000_000_000 };
    let stat = RodsObjStat {
        obj_size: 42,
        obj_type: 1,
        data_id: "10001".into(),
        owner_name: "rods".into(),
        owner_zone: "tempZone".into(),
        create_time: "01700000000".into(),
        modify_time: "01700000001".into(),
        ..Default::default()
    };
    let info = MiscSvrInfo {
        server_type: 1,
        server_boot_time: 1_700_000_000,
        rel_version: "rods4.3.4".into(),
        api_version: "d".into(),
        rods_zone: "tempZone".into(),
    };
    let rerror = RError { messages: vec![RErrMsg { status: -808000, msg: "no rows & <none>".into() }] };
    let str_pi = StrPi { my_str: "sha2:abc=".into() };
    let rename = DataObjCopyInp {
        src: DataObjInp { obj_path: "/z/a".into(), opr_type: 11, ..Default::default() },
        dest: DataObjInp { obj_path: "/z/b".into(), opr_type: 11, ..Default::default() },
    };
    let mod_meta = ModDataObjMeta {
        data_obj_info: DataObjInfo {
            obj_path: AWKWARD.into(),
            repl_num: 2,
            resc_hier: "a;b".into(),
            ..Default::default()
        },
        reg_param: [("dataSize", "9"), ("all", "")].into_iter().collect(),
    };

    let items: Vec<(&str, Vec<u8>)> = vec![
        ("StartupPack", startup.encode()),
        ("VersionResponse", version.encode()),
        ("ClientServerNegotiation", neg.encode()),
        ("AuthChallenge", challenge.encode()),
        ("AuthResponse", auth_resp.encode()),
        ("BinBytesBuf", json_reply.encode()),
        ("FileOpenRequest", open.encode()),
        ("OpenedDataObjRequest", opened.encode()),
        ("GenQueryRequest", query.encode()),
        ("GenQueryResponse", out.encode()),
        ("CollectionRequest", coll.encode()),
        ("MetadataRequest", avu.encode()),
        ("FileSeekResponse", seek.encode()),
        ("Error", rerror.encode()),
        ("STR_PI", str_pi.encode()),
        ("ObjCopyRequest", rename.encode()),
        ("ModDataObjMeta", mod_meta.encode()),
    ];
    let got = prc_unpack(&items);
    let field = |i: usize, name: &str| got[i][name].clone();

    // StartupPack
    assert_eq!(field(0, "tag"), "StartupPack_PI");
    assert_eq!(field(0, "irodsProt"), 1);
    assert_eq!(field(0, "proxyUser"), "rods");
    assert_eq!(field(0, "clientUser"), "alice");
    assert_eq!(field(0, "clientRcatZone"), "otherZone");
    assert_eq!(field(0, "option"), "irods-ingest");
    // Version_PI, CS_NEG_PI
    assert_eq!(field(1, "relVersion"), "rods4.3.4");
    assert_eq!(field(1, "cookie"), 400);
    assert_eq!(field(2, "result"), "CS_NEG_REFUSE");
    // Authentication
    assert_eq!(field(3, "challenge"), b64(&challenge.challenge));
    assert_eq!(field(4, "response"), b64(&auth_resp.response));
    assert_eq!(field(4, "username"), "rods");
    assert_eq!(field(5, "buflen"), json_reply.buf.len());
    assert_eq!(field(5, "buf"), b64(&json_reply.buf));
    // DataObjInp with an awkward name and large offset
    assert_eq!(field(6, "objPath"), AWKWARD);
    assert_eq!(field(6, "openFlags"), 577);
    assert_eq!(field(6, "dataSize"), -1);
    assert_eq!(field(6, "offset"), 5_000_000_000i64);
    assert_eq!(field(6, "KeyValPair_PI")["keyWord"], json!(["destRescName", "dataSize", "regRepl"]));
    assert_eq!(
        field(6, "KeyValPair_PI")["svalue"],
        json!(["demoResc", "1234", null]),
        "PRC reads empty text as None"
    );
    // OpenedDataObjInp
    assert_eq!(
        (field(7, "l1descInx"), field(7, "whence"), field(7, "offset")),
        (json!(3), json!(2), json!(-10))
    );
    // GenQuery in and out
    assert_eq!(field(8, "options"), 0x200);
    assert_eq!(field(8, "InxIvalPair_PI")["inx"], json!([403, 407]));
    assert_eq!(field(8, "InxIvalPair_PI")["ivalue"], json!([1, 0x400]));
    assert_eq!(field(8, "InxValPair_PI")["svalue"][0], format!("= '{AWKWARD}'"));
    assert_eq!(field(8, "KeyValPair_PI")["svalue"], json!(["tempZone"]));
    assert_eq!(field(9, "rowCnt"), 2);
    assert_eq!(field(9, "SqlResult_PI")[0]["value"], json!(["a & b", "c"]));
    assert_eq!(field(9, "SqlResult_PI")[1]["attriInx"], 407);
    // Collections and AVUs
    assert_eq!(field(10, "collName"), AWKWARD);
    assert_eq!(field(10, "oprType"), 26);
    assert_eq!(field(11, "arg2"), AWKWARD);
    assert_eq!(
        (field(11, "arg3"), field(11, "arg4"), field(11, "arg5")),
        (json!("attr<"), json!("val'"), Value::Null)
    );
    // Small replies
    assert_eq!(field(12, "offset"), 9_000_000_000i64);
    assert_eq!(field(13, "count"), 1);
    assert_eq!(field(13, "RErrMsg_PI")[0]["msg"], "no rows & <none>");
    assert_eq!(field(13, "RErrMsg_PI")[0]["status"], -808000);
    assert_eq!(field(14, "myStr"), "sha2:abc=");
    // Rename: two positional DataObjInp_PI
    assert_eq!(field(15, "parts")[0]["objPath"], "/z/a");
    assert_eq!(field(15, "parts")[1]["objPath"], "/z/b");
    // ModDataObjMeta: DataObjInfo_PI then the regParam KeyValPair_PI
    assert_eq!(field(16, "dataObjInfo")["objPath"], AWKWARD);
    assert_eq!(field(16, "dataObjInfo")["replNum"], 2);
    assert_eq!(field(16, "dataObjInfo")["rescHier"], "a;b");
    assert_eq!(field(16, "regParam")["keyWord"], json!(["dataSize", "all"]));

    // RodsObjStat_PI and MiscSvrInfo_PI have no PRC class (PRC never calls those APIs); they are
    // checked by round trip here and against the test server in the client tests.
    assert_eq!(RodsObjStat::decode(&stat.encode()).unwrap(), stat);
    assert_eq!(MiscSvrInfo::decode(&info.encode()).unwrap(), info);
}

#[test]
fn stored_vectors_match_the_installed_prc() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(test_support::venv_python())
        .arg(python_dir().join("capture.py"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "capture.py failed");
    let stored = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut compared = 0;
    for entry in std::fs::read_dir(stored.join("prc")).unwrap() {
        let path = entry.unwrap().path();
        let fresh = dir.path().join("prc").join(path.file_name().unwrap());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&fresh).unwrap(),
            "{} differs",
            path.display()
        );
        compared += 1;
    }
    assert!(compared >= 25);
    for session in ["session_framework_negotiated.bin", "session_legacy.bin"] {
        assert_eq!(
            std::fs::read(stored.join(session)).unwrap(),
            std::fs::read(dir.path().join(session)).unwrap(),
            "{session}"
        );
    }
}
