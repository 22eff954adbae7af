"""Every iRODS call the reference ingest (irods-capability-automated-ingest 0.7.0) makes, driven
through python-irodsclient against irods-testserver, with the results checked.

Usage: python ingest_scenario.py ENV_FILE SCRATCH_DIR
(the server must have been started with --resource pt:passthru --resource leaf:unixfilesystem:pt
 --resource other:unixfilesystem). Where the reference package has a session-only helper
(child_of, size, append_to_data_object, annotate_metadata_for_special_data_objs) the helper itself
is called; the rest repeats the reference's PRC calls with the same arguments (reference-ingest.md
section 7). Prints one line per step; exits non-zero on the first failed check.
"""

import base64
import json
import os
import sys

import irods.exception as ex
import irods.keywords as kw
from irods.column import Like
from irods.models import Collection, DataObject, Resource
from irods.session import iRODSSession
from irods_capability_automated_ingest.irods import filesystem, irods_utils

ENV_FILE, SCRATCH = sys.argv[1], sys.argv[2]
with open(ENV_FILE) as f:
    ENV = json.load(f)
ZONE = ENV["irods_zone_name"]
HOME = f"/{ZONE}/home/rods"
BASE = f"{HOME}/ingest_scenario"


class Log:
    """The structlog-style logger the reference helpers expect (info(msg, **fields))."""

    def info(self, *args, **kwargs):
        pass

    debug = error = warning = info


def step(name):
    print(f"step: {name}", flush=True)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def write_file(path, data, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def replicas_of(session, logical):
    rows = session.query(
        Resource.name, DataObject.path, DataObject.replica_number, DataObject.size, DataObject.modify_time,
        DataObject.replica_status, DataObject.resc_hier,
    ).filter(DataObject.name == os.path.basename(logical), Collection.name == os.path.dirname(logical))
    return sorted(rows, key=lambda r: r[DataObject.replica_number])


def env_var_session(**extra):
    """The reference's IRODS_* variable mode: port as a string, password given."""
    return iRODSSession(host=ENV["irods_host"], port=str(ENV["irods_port"]), user="rods", zone=ZONE,
                        password="rods", **extra)


def main():
    session = iRODSSession(irods_env_file=ENV_FILE)
    options = {"allow_redirect": False}

    step("create_dirs: collections.exists + recursive collections.create")
    check(not session.collections.exists(BASE + "/a/b"), "fresh tree must not exist")
    session.collections.create(BASE + "/a/b")
    session.collections.create(BASE + "/a/b")  # idempotent, as create_dirs may race
    check(session.collections.exists(BASE + "/a/b"), "collection was not created")

    step("REGISTER_SYNC new file: register with dataSize/dataModify, in place")
    src = write_file(os.path.join(SCRATCH, "reg", "f1.txt"), b"first version", mtime=1_600_000_000)
    logical = BASE + "/a/b/f1.txt"
    check(not session.data_objects.exists(logical), "object must not exist before registration")
    opts = dict(options, **{kw.DATA_SIZE_KW: str(os.path.getsize(src)), kw.DATA_MODIFY_KW: "1600000000"})
    session.data_objects.register(src, logical, **opts)
    obj = session.data_objects.get(logical)
    check(obj.size == 13, f"registered size {obj.size}")
    check(obj.replicas[0].path == src, "registered replica must keep the physical path")
    check(int(obj.modify_time.timestamp()) == 1_600_000_000, f"modify time {obj.modify_time}")
    check(obj.replicas[0].status == "1", "registered replica must be good")
    check(irods_utils.size(session, logical) == 13, "irods_utils.size")

    step("AVU annotation: metadata.keys / add / read back")
    meta = {"b64_path_str": base64.b64encode(src.encode()).decode(), "b64_reason": "UnicodeEncodeError",
            "is_socket": False, "is_link": False}
    irods_utils.annotate_metadata_for_special_data_objs(meta, session, src, logical)
    irods_utils.annotate_metadata_for_special_data_objs(meta, session, src, logical)  # already present: no error
    avus = session.data_objects.get(logical).metadata.items()
    check([(a.name, a.value, a.units) for a in avus] == [
        ("irods::automated_ingest::UnicodeEncodeError", meta["b64_path_str"],
         "python3.base64.b64encode(full_path_of_source_file)")], f"AVUs {avus}")

    step("REGISTER_SYNC modified file: modDataObjMeta dataSize/dataModify/allReplStatus (all replicas)")
    write_file(src, b"second, longer version", mtime=1_600_000_500)
    session.data_objects.modDataObjMeta({"objPath": logical},
                                        {"dataSize": 22, "dataModify": 1_600_000_500, "allReplStatus": 1}, **options)
    rows = replicas_of(session, logical)
    check(len(rows) == 1 and rows[0][DataObject.size] == 22, f"size after update {rows}")
    check(int(rows[0][DataObject.modify_time].timestamp()) == 1_600_000_500, "modify time after update")

    step("REGISTER_AS_REPLICA_SYNC: register a second replica on another resource (regRepl)")
    src2 = write_file(os.path.join(SCRATCH, "reg2", "f1.txt"), b"second, longer version")
    opts = dict(options, **{"regRepl": "", "destRescName": "other", kw.DATA_SIZE_KW: "22",
                            kw.DATA_MODIFY_KW: "1600000600"})
    session.data_objects.register(src2, logical, **opts)
    rows = replicas_of(session, logical)
    check([r[Resource.name] for r in rows] == ["demoResc", "other"], f"replicas {rows}")
    check(rows[1][DataObject.path] == src2, "second replica path")
    replicas = session.data_objects.get(logical).replicas
    check(len(replicas) == 2, "data_objects.get sees both replicas")

    step("update_metadata with to_resource: GenQuery resource/path/replica, child_of, modDataObjMeta replNum")
    found = None
    for row in session.query(Resource.name, DataObject.path, DataObject.replica_number).filter(
            DataObject.name == "f1.txt", Collection.name == BASE + "/a/b"):
        if row[DataObject.path] == src2 and irods_utils.child_of(session, row[Resource.name], "other"):
            found = row[DataObject.replica_number]
    check(found == 1, f"replica on 'other' is {found}")
    session.data_objects.modDataObjMeta({"objPath": logical, "replNum": found},
                                        {"dataSize": 7, "dataModify": 1_600_000_700, "allReplStatus": 1}, **options)
    rows = replicas_of(session, logical)
    check(rows[1][DataObject.size] == 7 and rows[0][DataObject.size] == 22, f"only replica 1 updated: {rows}")
    check(irods_utils.size(session, logical, replica_num=1) == 7, "size of replica 1")

    step("register into a passthru hierarchy; child_of walks the parent chain")
    src3 = write_file(os.path.join(SCRATCH, "reg", "f3.txt"), b"in the hierarchy")
    session.data_objects.register(src3, BASE + "/a/f3.txt",
                                  **dict(options, destRescName="leaf", dataSize="16", dataModify="1600000800"))
    row = replicas_of(session, BASE + "/a/f3.txt")[0]
    check(row[DataObject.resc_hier] == "pt;leaf" and row[Resource.name] == "leaf", f"hierarchy {row}")
    check(irods_utils.child_of(session, "leaf", "pt"), "leaf is a child of pt")
    check(not irods_utils.child_of(session, "leaf", "other"), "leaf is not a child of other")

    step("PUT small file (single stream) to the default resource and to a root passthru")
    small = write_file(os.path.join(SCRATCH, "put", "small.bin"), os.urandom(5000))
    small_copy = write_file(os.path.join(SCRATCH, "put", "small.orig"), open(small, "rb").read())
    session.data_objects.put(small, BASE + "/a/small.bin", **options)
    session.data_objects.put(small, BASE + "/a/small_pt.bin", **dict(options, destRescName="pt"))
    check(replicas_of(session, BASE + "/a/small_pt.bin")[0][DataObject.resc_hier] == "pt;leaf", "put via passthru")
    check(session.data_objects.open(BASE + "/a/small.bin", "r").read() == open(small, "rb").read(), "small content")

    step("PUT to a child resource fails with DIRECT_CHILD_ACCESS")
    try:
        session.data_objects.put(small, BASE + "/a/small_child.bin", **dict(options, destRescName="leaf"))
        raise AssertionError("put to a child resource succeeded")
    except ex.DIRECT_CHILD_ACCESS:
        pass
    check(not session.data_objects.exists(BASE + "/a/small_child.bin"), "no object after the failed put")

    step("PUT large file (parallel transfer over several connections)")
    large = os.path.join(SCRATCH, "put", "large.bin")
    block = os.urandom(1 << 20)
    write_file(large, block * 40 + b"tail")
    session.data_objects.put(large, BASE + "/a/large.bin", **options)
    obj = session.data_objects.get(BASE + "/a/large.bin")
    check(obj.size == 40 * (1 << 20) + 4 and obj.replicas[0].status == "1", f"large object {obj.size}")
    back = os.path.join(SCRATCH, "get", "large.bin")
    os.makedirs(os.path.dirname(back), exist_ok=True)
    session.data_objects.get(BASE + "/a/large.bin", back)
    check(open(back, "rb").read() == open(large, "rb").read(), "large content round trip")

    step("PUT_SYNC: put over an existing object")
    write_file(small, b"replaced content")
    session.data_objects.put(small, BASE + "/a/small.bin", **options)
    check(session.data_objects.open(BASE + "/a/small.bin", "r").read() == b"replaced content", "put_sync content")

    step("PUT_APPEND: open 'a', seek to the catalog size, write the rest")
    write_file(small, b"replaced content + appended tail")
    filesystem.append_to_data_object(session, Log(), small, BASE + "/a/small.bin", **options)
    check(session.data_objects.open(BASE + "/a/small.bin", "r").read() == b"replaced content + appended tail",
          "appended content")
    check(session.data_objects.get(BASE + "/a/small.bin").size == 32, "size after append")

    step("delete mode listing: subcollections / data_objects of a collection")
    coll = session.collections.get(BASE + "/a")
    check(sorted(c.name for c in coll.subcollections) == ["b"], "subcollections")
    check(sorted(d.name for d in coll.data_objects) ==
          ["f3.txt", "large.bin", "small.bin", "small_pt.bin"], f"data objects {[d.name for d in coll.data_objects]}")

    step("UNREGISTER: unlink with oprType 26 keeps the file")
    session.data_objects.unregister(BASE + "/a/f3.txt", **options)
    check(not session.data_objects.exists(BASE + "/a/f3.txt") and os.path.exists(src3), "unregister")

    step("TRASH: unlink without force moves the object to the trash")
    session.data_objects.unlink(BASE + "/a/small_pt.bin", **options)
    check(not session.data_objects.exists(BASE + "/a/small_pt.bin"), "object left its collection")
    trashed = f"/{ZONE}/trash/home/rods/ingest_scenario/a/small_pt.bin"
    check(session.data_objects.exists(trashed), "object is in the trash")

    step("a new object at a trashed object's path does not overwrite the trashed file")
    session.data_objects.put(small, BASE + "/a/small_pt.bin", **dict(options, destRescName="pt"))
    check(session.data_objects.open(trashed, "r").read() == open(small_copy, "rb").read(), "trashed content kept")
    session.data_objects.unlink(BASE + "/a/small_pt.bin", force=True, **options)

    step("NO_TRASH: forced unlink deletes vault files, only unregisters files outside the vault")
    vault_path = session.data_objects.get(BASE + "/a/small.bin").replicas[0].path
    session.data_objects.unlink(BASE + "/a/small.bin", force=True, **options)
    check(not os.path.exists(vault_path), "vault file of a put object is deleted")
    session.data_objects.unlink(logical, force=True, **options)
    check(os.path.exists(src) and os.path.exists(src2), "registered files outside the vault survive")
    check(not session.data_objects.exists(logical), "registered object is gone")

    step("delete_collection: unregister an empty collection; a non-empty one is refused")
    session.collections.unregister(BASE + "/a/b", recurse=False, force=False)
    check(not session.collections.exists(BASE + "/a/b"), "empty collection unregistered")
    try:
        session.collections.unregister(BASE + "/a", recurse=False, force=False)
        raise AssertionError("unregistering a non-empty collection succeeded")
    except ex.CAT_COLLECTION_NOT_EMPTY:
        pass
    try:
        session.collections.get(BASE + "/a/b")
        raise AssertionError("get of a removed collection succeeded")
    except ex.CollectionDoesNotExist:
        pass

    step("GenQuery paging: more rows than one batch, LIKE, ordering")
    paging_src = write_file(os.path.join(SCRATCH, "reg", "page.txt"), b"x")
    session.collections.create(BASE + "/many")
    for i in range(620):
        session.data_objects.register(paging_src, f"{BASE}/many/o{i:04d}",
                                      **dict(options, dataSize="1", dataModify="1600000000"))
    names = [r[DataObject.name] for r in session.query(DataObject.name).filter(Collection.name == BASE + "/many")]
    check(names == [f"o{i:04d}" for i in range(620)], "all 620 rows in order across batches")
    check(len(session.collections.get(BASE + "/many").data_objects) == 620, "collection listing pages")
    hits = session.query(DataObject.name).filter(Like(DataObject.name, "o000_")).all()
    check(len(hits) == 10, f"LIKE matched {len(hits)}")

    step("invalid zone in a logical path is refused")
    try:
        session.data_objects.get("/noSuchZone/home/rods/x")
        raise AssertionError("object in an unknown zone was found")
    except (ex.SYS_INVALID_ZONE_NAME, ex.DataObjectDoesNotExist, ex.CollectionDoesNotExist):
        pass
    for bad_zone in ("noSuchZone", ZONE[:-1], ZONE + "X"):
        try:
            session.collections.create(f"/{bad_zone}/home/rods/x")
            raise AssertionError(f"created a collection in zone {bad_zone}")
        except ex.SYS_INVALID_ZONE_NAME:
            pass
        try:
            session.data_objects.register(src2, f"/{bad_zone}/home/rods/x.txt", **dict(options, dataSize="1"))
            raise AssertionError(f"registered into zone {bad_zone}")
        except ex.SYS_INVALID_ZONE_NAME:
            pass

    step("proxy user (as_user): rodsadmin acts for a rodsuser; the rodsuser cannot proxy")
    try:
        session.users.get("alice")
    except ex.UserDoesNotExist:
        session.users.create("alice", "rodsuser")
        session.users.modify("alice", "password", "alicepw")
    with env_var_session(client_user="alice", client_zone=ZONE) as alice:
        alice_home = f"/{ZONE}/home/alice"
        alice_src = write_file(os.path.join(SCRATCH, "alice", "a.txt"), b"alice's")
        alice.collections.create(alice_home + "/in")
        alice.data_objects.register(alice_src, alice_home + "/in/a.txt",
                                    **dict(options, dataSize="7", dataModify="1600000000"))
        owner = session.data_objects.get(alice_home + "/in/a.txt").owner_name
        check(owner == "alice", f"owner {owner}")
        alice.data_objects.unlink(alice_home + "/in/a.txt", **options)
        check(session.data_objects.exists(f"/{ZONE}/trash/home/alice/in/a.txt"), "alice's trash")
        try:
            alice.data_objects.register(alice_src, HOME + "/not_alices.txt",
                                        **dict(options, dataSize="7", dataModify="1600000000"))
            raise AssertionError("alice registered into rods's home")
        except ex.CAT_NO_ACCESS_PERMISSION:
            pass
        try:
            alice.collections.create(HOME + "/not_alices")
            raise AssertionError("alice created a collection in rods's home")
        except ex.CAT_NO_ACCESS_PERMISSION:
            pass
    with iRODSSession(host=ENV["irods_host"], port=ENV["irods_port"], user="alice", zone=ZONE,
                      password="alicepw") as plain_alice:
        check(plain_alice.collections.exists(f"/{ZONE}/home/alice"), "alice logs in with her password")
    try:
        with iRODSSession(host=ENV["irods_host"], port=ENV["irods_port"], user="alice", zone=ZONE,
                          password="alicepw", client_user="rods", client_zone=ZONE) as bad:
            bad.collections.get(HOME)
        raise AssertionError("a rodsuser could act as rods")
    except ex.SYS_PROXYUSER_NO_PRIV:
        pass

    step("clean up")
    session.collections.remove(BASE, recurse=True, force=True)
    check(not session.collections.exists(BASE), "scenario tree removed")
    session.cleanup()
    print("scenario: ok", flush=True)


if __name__ == "__main__":
    main()
