"""Capture what python-irodsclient (PRC) writes, as test vectors for irods-proto.

Run with the project venv:  .venv/bin/python protocol/irods/tests/python/capture.py protocol/irods/tests/vectors
(`--serve-once <release> [<cert.pem> <key.pem>]` instead runs the scripted peer for one client,
requiring TLS when a certificate is given, and reports what it saw.)

Two kinds of vectors:
* prc/<name>.xml: the packed body of one PRC message object, built the way PRC's managers build
  their requests (message classes from irods.message, `.pack()`).
* session_<flow>.bin: the complete client->server byte stream of a real PRC session talking to a
  scripted loopback peer: startup pack, negotiation, authentication (4.3 framework or legacy),
  two GenQueries from `collections.exists`, and the disconnect. The peer answers just enough for
  PRC to proceed (challenge is fixed so the digest is reproducible; queries get CAT_NO_ROWS_FOUND).
"""

import base64
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import xml.etree.ElementTree as ET

import irods.message as m
from irods.session import iRODSSession
import irods.client_configuration as cfg

CHALLENGE = ("0123456789abcdef" * 4).encode()  # 64 ASCII characters, as the server's hex challenge
PASSWORD = "rods"


def frame(msg_type, body=b"", int_info=0, error=b"", bs=b""):
    header = (
        f"<MsgHeader_PI><type>{msg_type}</type><msgLen>{len(body)}</msgLen><errorLen>{len(error)}</errorLen>"
        f"<bsLen>{len(bs)}</bsLen><intInfo>{int_info}</intInfo></MsgHeader_PI>"
    ).encode()
    return struct.pack(">i", len(header)) + header + body + error + bs


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return out


def read_frame(sock, record):
    raw_len = recv_exact(sock, 4)
    (hlen,) = struct.unpack(">i", raw_len)
    header = recv_exact(sock, hlen)
    root = ET.fromstring(header)
    lens = [int(root.find(k).text) for k in ("msgLen", "errorLen", "bsLen")]
    rest = recv_exact(sock, sum(lens))
    record.append(raw_len + header + rest)
    return root.find("type").text, int(root.find("intInfo").text), rest[: lens[0]]


def native_digest(challenge: bytes, password: str) -> bytes:
    d = hashlib.md5(challenge + struct.pack("50s", password.encode())).digest()
    return d.replace(b"\0", b"\1")


def scripted_peer(listener, record, outcome, release="rods4.3.4", tls=None):
    """Answer one client. With `tls` (an ssl.SSLContext) the peer requires TLS in negotiation."""
    sock, _ = listener.accept()
    try:
        while True:
            msg_type, int_info, body = read_frame(sock, record)
            if msg_type == "RODS_CONNECT":
                if b"request_server_negotiation" in body:
                    policy = "CS_NEG_REQUIRE" if tls else "CS_NEG_DONT_CARE"
                    sock.sendall(frame("RODS_CS_NEG_T", m.ClientServerNegotiation(status=1, result=policy).pack().encode()))
                    read_frame(sock, record)
                version = m.VersionResponse(status=0, relVersion=release, apiVersion="d", reconnPort=0, reconnAddr="", cookie=0)
                sock.sendall(frame("RODS_VERSION", version.pack().encode()))
                if tls:
                    sock = tls.wrap_socket(sock, server_side=True)
                    # Header-only message with the encryption settings, then SHARED_SECRET + key.
                    (hlen,) = struct.unpack(">i", recv_exact(sock, 4))
                    settings = ET.fromstring(recv_exact(sock, hlen))
                    (hlen,) = struct.unpack(">i", recv_exact(sock, 4))
                    secret = ET.fromstring(recv_exact(sock, hlen))
                    key = recv_exact(sock, int(secret.find("msgLen").text))
                    outcome["tls"] = {
                        "algorithm": settings.find("type").text,
                        "key_size": int(settings.find("msgLen").text),
                        "salt_size": int(settings.find("errorLen").text),
                        "hash_rounds": int(settings.find("bsLen").text),
                        "secret_type": secret.find("type").text,
                        "secret_len": len(key),
                    }
            elif msg_type == "RODS_DISCONNECT":
                return
            elif int_info == 110000:
                req = json.loads(base64.b64decode(ET.fromstring(body).find("buf").text))
                if req["next_operation"] == "auth_agent_auth_request":
                    req["request_result"] = CHALLENGE.decode()
                else:
                    outcome["digest_ok"] = base64.b64decode(req["digest"]) == native_digest(CHALLENGE, PASSWORD)
                reply = json.dumps(req).encode() + b"\0"
                sock.sendall(frame("RODS_API_REPLY", m.BinBytesBuf(buflen=len(reply), buf=reply).pack().encode()))
            elif int_info == 700:
                pass  # GET_MISC_SVR_INFO is never answered: lets clients test their reply timeout
            elif int_info == 679:
                # RM_COLL: a progress reply first, as real servers send for long removals; the
                # client must acknowledge with a bare 4-byte integer before the final reply.
                stat = b"<CollOprStat_PI><filesCnt>1</filesCnt><totalFileCnt>1</totalFileCnt><bytesWritten>0</bytesWritten><lastObjPath>x</lastObjPath></CollOprStat_PI>"
                sock.sendall(frame("RODS_API_REPLY", stat, int_info=99999996))
                (ack,) = struct.unpack(">i", recv_exact(sock, 4))
                outcome["coll_stat_ack"] = ack
                sock.sendall(frame("RODS_API_REPLY", stat))
            elif int_info == 703:
                sock.sendall(frame("RODS_API_REPLY", m.AuthChallenge(challenge=CHALLENGE).pack().encode()))
            elif int_info == 704:
                resp = m.AuthResponse()
                resp.unpack(ET.fromstring(body))
                outcome["digest_ok"] = resp.response == native_digest(CHALLENGE, PASSWORD)
                sock.sendall(frame("RODS_API_REPLY"))
            else:
                sock.sendall(frame("RODS_API_REPLY", int_info=-808000))  # CAT_NO_ROWS_FOUND
    finally:
        sock.close()


def capture_session(out_dir, name, legacy, negotiate, client_user=None):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    record, outcome = [], {}
    peer = threading.Thread(target=scripted_peer, args=(listener, record, outcome))
    peer.start()
    cfg.legacy_auth.force_legacy_auth = legacy
    kwargs = dict(host="127.0.0.1", port=port, user="rods", zone="tempZone", password=PASSWORD)
    if negotiate:
        kwargs["irods_client_server_negotiation"] = "request_server_negotiation"
    if client_user:
        kwargs["client_user"] = client_user
        kwargs["client_zone"] = "tempZone"
    with iRODSSession(**kwargs) as session:
        session.collections.exists("/tempZone/home/rods/a&b <c> 'q'")
    peer.join(10)
    listener.close()
    cfg.legacy_auth.force_legacy_auth = False
    assert outcome.get("digest_ok"), f"{name}: PRC digest did not match the expected native digest"
    with open(os.path.join(out_dir, f"session_{name}.bin"), "wb") as f:
        f.write(b"".join(record))


class _FakeSession:
    def __init__(self, version):
        self.server_version = version


def message_vectors():
    """PRC message objects as PRC's managers build them (see irods/manager/*.py)."""
    kv = m.StringStringMap
    odd_name = "/tempZone/home/rods/odd \x01\x07\t name & <x> \"q\" 'a' `b` é€.txt"
    v = {}
    v["startup_pack"] = m.StartupPack(("rods", "tempZone"), ("alice", "tempZone"), "ingest")
    v["cs_neg_client"] = m.ClientServerNegotiation(status=1, result="cs_neg_result_kw=CS_NEG_USE_TCP;")
    v["version"] = m.VersionResponse(status=0, relVersion="rods4.3.4", apiVersion="d", reconnPort=0, reconnAddr="", cookie=400)
    v["auth_challenge"] = m.AuthChallenge(challenge=CHALLENGE)
    v["auth_response"] = m.AuthResponse(response=native_digest(CHALLENGE, PASSWORD), username="rods")
    v["auth_framework_request"] = m.JSON_Binary_Request(
        {"user_name": "rods", "zone_name": "tempZone", "scheme": "native", "next_operation": "auth_agent_auth_request"}
    )
    v["genquery_collection"] = m.GenQueryRequest(
        maxRows=500, continueInx=0, partialStartIndex=0, options=0,
        KeyValPair_PI=kv(), InxIvalPair_PI=m.IntegerIntegerMap({500: 1, 501: 1, 502: 1, 509: 0x400}),
        InxValPair_PI=m.IntegerStringMap({501: "= '/tempZone/home/rods'", 401: "<> '0'"}),
    )
    v["genquery_zone_kw"] = m.GenQueryRequest(
        maxRows=1, continueInx=3, partialStartIndex=10, options=0x200,
        KeyValPair_PI=kv({"zone": "tempZone"}), InxIvalPair_PI=m.IntegerIntegerMap({407: 1}),
        InxValPair_PI=m.IntegerStringMap({403: "like 'a%'", 402: "in ('1','2')"}),
    )
    v["genquery_out"] = m.GenQueryResponse(
        rowCnt=2, attriCnt=2, continueInx=0, totalRowCount=0,
        SqlResult_PI=[
            m.GenQueryResponseColumn(attriInx=403, reslen=50, value=["a.txt", "b & c"]),
            m.GenQueryResponseColumn(attriInx=407, reslen=50, value=["12", "0"]),
        ],
    )
    v["open_write"] = m.FileOpenRequest(
        objPath="/tempZone/home/rods/x.txt", createMode=0, openFlags=577, offset=0, dataSize=-1, numThreads=0,
        oprType=0, KeyValPair_PI=kv({"destRescName": "demoResc"}),
    )
    v["open_odd_name"] = m.FileOpenRequest(
        objPath=odd_name, createMode=0, openFlags=0, offset=0, dataSize=-1, numThreads=0, oprType=0, KeyValPair_PI=kv()
    )
    v["register"] = m.FileOpenRequest(
        objPath="/tempZone/home/rods/reg.txt", createMode=0, openFlags=0, offset=0, dataSize=0, numThreads=0, oprType=0,
        KeyValPair_PI=kv({"filePath": "/data/src/reg.txt", "allow_redirect": "False", "destRescName": "demoResc",
                          "dataSize": "1234", "dataModify": "1700000000", "regRepl": ""}),
    )
    v["unlink_force"] = m.FileOpenRequest(
        objPath="/tempZone/home/rods/x.txt", createMode=0, openFlags=0, offset=0, dataSize=-1, numThreads=0, oprType=0,
        KeyValPair_PI=kv({"forceFlag": ""}),
    )
    v["unregister"] = m.FileOpenRequest(
        objPath="/tempZone/home/rods/x.txt", createMode=0, openFlags=0, offset=0, dataSize=-1, numThreads=0, oprType=26,
        KeyValPair_PI=kv({"oprType": "26"}),
    )
    v["chksum"] = m.DataObjChksumRequest("/tempZone/home/rods/x.txt", forceChksum="")
    v["write"] = m.OpenedDataObjRequest(l1descInx=3, len=5, whence=0, oprType=0, offset=0, bytesWritten=0, KeyValPair_PI=kv())
    v["seek_end"] = m.OpenedDataObjRequest(l1descInx=3, len=0, whence=2, oprType=0, offset=-10, bytesWritten=0, KeyValPair_PI=kv())
    v["close_with_token"] = m.OpenedDataObjRequest(
        l1descInx=4, len=0, whence=0, oprType=0, offset=0, bytesWritten=0,
        KeyValPair_PI=kv({"replicaToken": "a1b2", "resc_hier": "demoResc", "numThreads": "3", "dataSize": "100"}),
    )
    v["seek_reply"] = m.FileSeekResponse(offset=123456789012)
    src = m.FileOpenRequest(objPath="/tempZone/home/rods/a", createMode=0, openFlags=0, offset=0, dataSize=0, numThreads=0, oprType=11, KeyValPair_PI=kv())
    dst = m.FileOpenRequest(objPath="/tempZone/home/rods/b", createMode=0, openFlags=0, offset=0, dataSize=0, numThreads=0, oprType=11, KeyValPair_PI=kv())
    v["rename"] = m.ObjCopyRequest(srcDataObjInp_PI=src, destDataObjInp_PI=dst)
    v["coll_create"] = m.CollectionRequest(collName="/tempZone/home/rods/new", KeyValPair_PI=kv({"recursiveOpr": ""}))
    v["coll_unregister"] = m.CollectionRequest(collName="/tempZone/home/rods/old", flags=0, oprType=26, KeyValPair_PI=kv({"oprType": "26"}))
    v["avu_add"] = m.MetadataRequest("add", "-d", "/tempZone/home/rods/x.txt", "attr", "val", "")
    v["avu_set_units"] = m.MetadataRequest("set", "-C", "/tempZone/home/rods", "a t", "v&<", "u", irodsAdmin="")
    ModMeta = m.ModDataObjMeta_for_session(_FakeSession((4, 3, 4)))
    DataObjInfo = m.DataObjInfo_for_session(_FakeSession((4, 3, 4)))
    info = DataObjInfo()
    for name, prop in DataObjInfo._ordered_properties:
        if name == "KeyValPair_PI":
            setattr(info, name, kv({"allow_redirect": "False"}))
        elif isinstance(prop, (m.IntegerProperty, m.LongProperty)):
            setattr(info, name, 0)
        else:
            setattr(info, name, "")
    info.objPath = "/tempZone/home/rods/x.txt"
    info.replNum = 1
    v["mod_data_obj_meta"] = ModMeta(dataObjInfo=info, regParam=kv({"dataSize": "42", "dataModify": "1700000000", "allReplStatus": "1", "all": ""}))
    v["admin"] = m.GeneralAdminRequest("add", "user", "bob", "rodsuser", "tempZone", "")
    v["error_stack"] = m.Error(count=2, RErrMsg_PI=[m.ErrorMessage(status=-808000, msg="no rows"), m.ErrorMessage(status=-1, msg="second <2>")])
    v["str_pi"] = m.STR_PI(myStr="sha2:AAAA&")
    return v


def main(out_dir):
    prc_dir = os.path.join(out_dir, "prc")
    os.makedirs(prc_dir, exist_ok=True)
    for name, msg in message_vectors().items():
        with open(os.path.join(prc_dir, name + ".xml"), "wb") as f:
            f.write(msg.pack().encode("utf-8"))
    capture_session(out_dir, "framework_negotiated", legacy=False, negotiate=True, client_user="alice")
    capture_session(out_dir, "legacy", legacy=True, negotiate=False)


def serve_once(release, cert=None, key=None):
    """Serve one connection as the scripted peer and report, as JSON on stdout, whether the
    client's digest was right and what each request decoded to with PRC's message classes.
    The listening port is printed first, on its own line."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print(listener.getsockname()[1], flush=True)
    record, outcome = [], {}
    listener.settimeout(30)
    socket.setdefaulttimeout(30)  # accepted sockets too: a confused client must not hang the test
    tls = None
    if cert:
        import ssl

        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
    try:
        scripted_peer(listener, record, outcome, release, tls)
    except Exception as e:  # report, do not hide
        outcome["error"] = repr(e)
    requests = []
    for raw in record:
        (hlen,) = struct.unpack(">i", raw[:4])
        header = ET.fromstring(raw[4 : 4 + hlen])
        body = raw[4 + hlen : 4 + hlen + int(header.find("msgLen").text)]
        entry = {"type": header.find("type").text, "intInfo": int(header.find("intInfo").text)}
        if body:
            root = ET.fromstring(body)
            cls = {
                "StartupPack_PI": m.StartupPack,
                "CS_NEG_PI": m.ClientServerNegotiation,
                "BinBytesBuf_PI": m.BinBytesBuf,
                "authResponseInp_PI": m.AuthResponse,
                "GenQueryInp_PI": m.GenQueryRequest,
                "CollInpNew_PI": m.CollectionRequest,
            }[root.tag]
            msg = cls.__new__(cls)
            m.Message.__init__(msg)
            msg.unpack(root)
            entry["tag"] = root.tag
            if root.tag == "BinBytesBuf_PI":
                entry["json"] = json.loads(msg.buf.rstrip(b"\0"))
            elif root.tag == "GenQueryInp_PI":
                entry["select"] = list(msg.InxIvalPair_PI.inx)
                entry["conditions"] = list(msg.InxValPair_PI.svalue)
            elif root.tag == "authResponseInp_PI":
                entry["username"] = msg.username
            else:
                entry.update({k: v for k, v in msg._values.items() if isinstance(v, (str, int))})
        requests.append(entry)
    outcome["requests"] = requests
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--serve-once":
        serve_once(*sys.argv[2:5])
    else:
        main(sys.argv[1])
