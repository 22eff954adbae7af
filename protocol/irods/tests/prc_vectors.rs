//! "PRC writes, Rust reads": decode bytes captured from python-irodsclient 3.3.0 (see
//! tests/python/capture.py) and check every field, then check that re-encoding is lossless.

use std::path::PathBuf;

use irods_proto::messages::*;
use irods_proto::{FrameLimits, MsgType, PackStruct, Packet, api};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn prc(name: &str) -> Vec<u8> {
    std::fs::read(vectors_dir().join("prc").join(format!("{name}.xml"))).unwrap()
}

/// Decodes a PRC vector, re-encodes it, and checks that decoding our encoding gives the same value.
fn decode<T: PackStruct + PartialEq + std::fmt::Debug>(name: &str) -> T {
    let value = T::decode(&prc(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = T::decode(&value.encode()).unwrap();
    assert_eq!(again, value, "{name}: re-encoding changed the value");
    value
}

fn kvp(pairs: &[(&str, &str)]) -> KeyValPair {
    pairs.iter().map(|(k, v)| (*k, *v)).collect()
}

#[test]
fn startup_pack_and_negotiation() {
    let sp: StartupPack = decode("startup_pack");
    assert_eq!(sp.irods_prot, XML_PROT);
    assert_eq!(sp.reconn_flag, 0, "PRC omits reconnFlag; it must default");
    assert_eq!(sp.proxy, UserIdentity::new("rods", "tempZone"));
    assert_eq!(sp.client, UserIdentity::new("alice", "tempZone"));
    assert_eq!(sp.rel_version, "rods5.0.2");
    assert_eq!(sp.api_version, "d");
    assert_eq!(sp.option, "ingest");
    assert!(!sp.requests_negotiation());

    let neg: CsNeg = decode("cs_neg_client");
    assert_eq!(neg, CsNeg { status: 1, result: "cs_neg_result_kw=CS_NEG_USE_TCP;".into() });

    let v: Version = decode("version");
    assert_eq!(v.rel_version, "rods4.3.4");
    assert_eq!(v.version_tuple(), vec![4, 3, 4]);
    assert_eq!(v.cookie, 400);
}

#[test]
fn authentication_messages() {
    let ch: AuthRequestOut = decode("auth_challenge");
    assert_eq!(ch.challenge, b"0123456789abcdef".repeat(4));
    let resp: AuthResponseInp = decode("auth_response");
    assert_eq!(resp.response.len(), 16);
    assert_eq!(resp.username, "rods");

    let req: BinBytesBuf = decode("auth_framework_request");
    assert_eq!(req.buflen as usize, req.buf.len(), "PRC counts the JSON without a NUL");
    let json: serde_json::Value = req.json().unwrap();
    assert_eq!(json["next_operation"], "auth_agent_auth_request");
    assert_eq!(json["user_name"], "rods");
    assert_eq!(json["scheme"], "native");
}

#[test]
fn genquery_messages() {
    let q: GenQueryInp = decode("genquery_collection");
    assert_eq!((q.max_rows, q.continue_inx, q.partial_start_index, q.options), (500, 0, 0, 0));
    assert!(q.cond_input.is_empty());
    assert_eq!(q.select.pairs, vec![(500, 1), (501, 1), (502, 1), (509, 0x400)]);
    assert_eq!(q.conditions.pairs, vec![(501, "= '/tempZone/home/rods'".into()), (401, "<> '0'".into())]);

    let q: GenQueryInp = decode("genquery_zone_kw");
    assert_eq!((q.max_rows, q.continue_inx, q.partial_start_index, q.options), (1, 3, 10, 0x200));
    assert_eq!(q.cond_input.get("zone"), Some("tempZone"));
    assert_eq!(q.conditions.pairs[1], (402, "in ('1','2')".into()));

    let out: GenQueryOut = decode("genquery_out");
    assert_eq!(out.rows(), vec![vec!["a.txt".to_string(), "12".into()], vec!["b & c".into(), "0".into()]]);
}

#[test]
fn data_object_messages() {
    let open: DataObjInp = decode("open_write");
    assert_eq!(open.obj_path, "/tempZone/home/rods/x.txt");
    assert_eq!((open.open_flags, open.data_size), (577, -1));
    assert_eq!(open.cond_input, kvp(&[("destRescName", "demoResc")]));

    let odd: DataObjInp = decode("open_odd_name");
    assert_eq!(odd.obj_path, "/tempZone/home/rods/odd \x01\x07\t name & <x> \"q\" 'a' `b` é€.txt");

    let reg: DataObjInp = decode("register");
    assert_eq!(
        reg.cond_input,
        kvp(&[
            ("filePath", "/data/src/reg.txt"),
            ("allow_redirect", "False"),
            ("destRescName", "demoResc"),
            ("dataSize", "1234"),
            ("dataModify", "1700000000"),
            ("regRepl", ""),
        ])
    );

    let unlink: DataObjInp = decode("unlink_force");
    assert!(unlink.cond_input.contains("forceFlag"));
    let unreg: DataObjInp = decode("unregister");
    assert_eq!(unreg.opr_type, 26);
    assert_eq!(unreg.cond_input.get("oprType"), Some("26"));
    let chk: DataObjInp = decode("chksum");
    assert_eq!(chk.cond_input, kvp(&[("forceChksum", "")]));

    let write: OpenedDataObjInp = decode("write");
    assert_eq!((write.l1_desc_inx, write.len), (3, 5));
    let seek: OpenedDataObjInp = decode("seek_end");
    assert_eq!((seek.whence, seek.offset), (2, -10));
    let close: OpenedDataObjInp = decode("close_with_token");
    assert_eq!(close.cond_input.get("replicaToken"), Some("a1b2"));
    let pos: FileLseekOut = decode("seek_reply");
    assert_eq!(pos.offset, 123_456_789_012);

    let rename: DataObjCopyInp = decode("rename");
    assert_eq!(rename.src.obj_path, "/tempZone/home/rods/a");
    assert_eq!(rename.dest.obj_path, "/tempZone/home/rods/b");
    assert_eq!(rename.dest.opr_type, 11);

    let meta: ModDataObjMeta = decode("mod_data_obj_meta");
    assert_eq!(meta.data_obj_info.obj_path, "/tempZone/home/rods/x.txt");
    assert_eq!(meta.data_obj_info.repl_num, 1);
    assert_eq!(meta.data_obj_info.cond_input, kvp(&[("allow_redirect", "False")]));
    assert_eq!(
        meta.reg_param,
        kvp(&[("dataSize", "42"), ("dataModify", "1700000000"), ("allReplStatus", "1"), ("all", "")])
    );
}

#[test]
fn collection_metadata_and_misc_messages() {
    let create: CollInpNew = decode("coll_create");
    assert_eq!(create.coll_name, "/tempZone/home/rods/new");
    assert_eq!((create.flags, create.opr_type), (0, 0), "PRC omits flags/oprType");
    assert_eq!(create.cond_input, kvp(&[("recursiveOpr", "")]));
    let unreg: CollInpNew = decode("coll_unregister");
    assert_eq!(unreg.opr_type, 26);

    let add: ModAvuMetadataInp = decode("avu_add");
    assert_eq!(
        [add.arg(0), add.arg(1), add.arg(2), add.arg(3), add.arg(4)],
        ["add", "-d", "/tempZone/home/rods/x.txt", "attr", "val"]
    );
    assert_eq!(add.args[5], None, "empty units are omitted by PRC");
    let set: ModAvuMetadataInp = decode("avu_set_units");
    assert_eq!((set.arg(3), set.arg(4), set.arg(5)), ("a t", "v&<", "u"));
    assert!(set.cond_input.contains("irodsAdmin"));

    let admin: GeneralAdminInp = decode("admin");
    assert_eq!(&admin.args[..4], ["add", "user", "bob", "rodsuser"]);
    let err: RError = decode("error_stack");
    assert_eq!(err.messages[0], RErrMsg { status: -808000, msg: "no rows".into() });
    assert_eq!(err.messages[1].msg, "second <2>");
    let s: StrPi = decode("str_pi");
    assert_eq!(s.my_str, "sha2:AAAA&");
}

/// Splits a captured client->server stream into packets.
fn packets(name: &str) -> Vec<Packet> {
    let bytes = std::fs::read(vectors_dir().join(format!("session_{name}.bin"))).unwrap();
    let mut rest = &bytes[..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (packet, used) = Packet::parse(rest, &FrameLimits::default()).unwrap().expect("complete packet");
        // Re-framing the decoded packet reproduces PRC's bytes exactly (same header layout).
        assert_eq!(packet.to_bytes(), rest[..used]);
        out.push(packet);
        rest = &rest[used..];
    }
    out
}

#[test]
fn captured_framework_session_with_negotiation_and_proxy_user() {
    let p = packets("framework_negotiated");
    let kinds: Vec<(MsgType, i32)> = p.iter().map(|p| (p.msg_type.clone(), p.int_info)).collect();
    assert_eq!(
        kinds,
        vec![
            (MsgType::Connect, 0),
            (MsgType::CsNeg, 0),
            (MsgType::ApiReq, api::AUTHENTICATION_APN),
            (MsgType::ApiReq, api::AUTHENTICATION_APN),
            (MsgType::ApiReq, api::GEN_QUERY_AN),
            (MsgType::ApiReq, api::GEN_QUERY_AN),
            (MsgType::Disconnect, 0),
        ]
    );
    let sp: StartupPack = p[0].decode_body().unwrap();
    assert!(sp.requests_negotiation());
    assert_eq!(sp.option, "python-irodsclientrequest_server_negotiation");
    assert_eq!(sp.effective_client().name, "alice");
    let neg: CsNeg = p[1].decode_body().unwrap();
    assert_eq!(neg.result, "cs_neg_result_kw=CS_NEG_USE_TCP;");

    let second: serde_json::Value = p[3].decode_body::<BinBytesBuf>().unwrap().json().unwrap();
    assert_eq!(second["next_operation"], "auth_agent_auth_response");
    assert_eq!(second["user_name"], "rods", "authentication is for the proxy user");
    assert!(second["digest"].as_str().is_some());

    let q: GenQueryInp = p[5].decode_body().unwrap();
    assert_eq!(q.select.pairs.len(), 10);
    assert_eq!(q.conditions.pairs[0], (501, "= '/tempZone/home/rods/a&b <c> 'q''".into()));
    assert_eq!(q.conditions.pairs[1], (401, "<> '0'".into()));
    assert!(p[6].body.is_empty());
}

#[test]
fn captured_legacy_session() {
    let p = packets("legacy");
    let kinds: Vec<i32> = p.iter().map(|p| p.int_info).collect();
    assert_eq!(kinds, vec![0, api::AUTH_REQUEST_AN, api::AUTH_RESPONSE_AN, 702, 702, 0]);
    assert!(p[1].body.is_empty(), "AUTH_REQUEST has no body");
    let resp: AuthResponseInp = p[2].decode_body().unwrap();
    assert_eq!(resp.username, "rods");
    assert_eq!(resp.response.len(), 16);
}
