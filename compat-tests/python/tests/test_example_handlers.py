"""Every example handler the reference package ships, under Python workers and under Rust workers.

``irods_capability_automated_ingest/examples/*.py`` (0.7.0: 36 files besides ``__init__.py``) are
used unmodified, straight from the installed package. Each gets one scenario modelled on how the
reference's own suite (``test/test_irods_sync.py``) uses it: the same resource hierarchy
(``regiResc2Root`` random → ``regiResc2`` random → ``regiResc2a``/``regiResc2b`` unixfilesystem),
``--files_per_task 1`` unless the scenario is about chunks, a second pass after the files changed
when the handler is about modification, a ``put`` seed before the replica handlers.

Each scenario runs twice on fresh fleets (``ingest_testsupport.Fleet``, concurrency 2): once with
``celery -A irods_capability_automated_ingest worker`` and once with ``irods-ingest worker``, on
the same source path (rebuilt, with fixed mtimes and modes). Compared, after normalising the
per-run paths:

* the catalog below ``/tempZone/home/rods/ex`` after every pass (collections, objects, replicas
  with resource, hierarchy, physical path, status, size, AVUs of both),
* the files in every vault (path → size),
* the handler's own log events in each job's ``--log_filename`` file (``pre_data_obj_create:[…]``
  and the like), as multisets; the worker's bookkeeping lines and timestamps are not compared,
* the files handlers write: ``pre_job.py``/``post_job.py`` write ``/tmp/a``, so every worker runs
  in a private mount namespace whose ``/tmp`` is a directory of the fleet (nothing on the machine
  is touched; the Python worker's own ``/tmp/event_handler*.py`` module copies are ignored),
* the job's counters after each pass (``tasks``, ``count``, ``dequeue``, ``failures``,
  ``retries``, listing), the ``irods_sync start`` exit status (jobs are started asynchronously,
  as the reference suite does), the Redis keys handlers write (``retry.py``/``no_retry.py``:
  ``failures:<path>``), the ``sync_time:/`` keys, no lock left,
* in a second test, the exception class of every ``failed_task``/``retry_task``/``failed_restart``
  line of the job log.

The Python run is also checked against what the reference suite expects of the handler, so a
scenario cannot pass by both sides doing nothing. Where the Rust worker differs on purpose
(worker/README.md, "Intended differences from the reference"), the difference is derived from the
Python result exactly, with a comment; a Rust result that differs otherwise is a bug and is
marked ``xfail(strict=True)`` with the symptom.

Run: ``.venv/bin/python -m pytest compat-tests/python/tests/test_example_handlers.py -q -x``
(``-k NAME`` for one handler; ``INGEST_FLEET_KEEP=1`` keeps the fleets' directories).
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from typing import Callable

import pytest

from ingest_testsupport import Fleet, normalise, rust_worker_status
from ingest_testsupport.fleet import ROOT, VENV_BIN, ZONE_HOME, JobRun, rust_worker_binary

pytestmark = pytest.mark.timeout(600)

EXAMPLES_DIR = os.path.dirname(importlib.util.find_spec("irods_capability_automated_ingest.examples").origin)
EXAMPLES = sorted(name[:-3] for name in os.listdir(EXAMPLES_DIR) if name.endswith(".py") and name != "__init__.py")

BASE = f"{ZONE_HOME}/ex"  # created before the first pass, so pre_coll_create can annotate it
TARGET = f"{BASE}/target"
OLD_MTIME = 1_600_000_000
NEW_MTIME = 1_900_000_000  # after the first pass's sync_time: the files count as changed
# The reference suite's HIERARCHY1, less the two resources no example names.
RESOURCES = [("regiResc2Root", "random"), ("regiResc2", "random", "regiResc2Root"),
             ("regiResc2a", "unixfilesystem", "regiResc2"), ("regiResc2b", "unixfilesystem", "regiResc2")]
ONE_PER_TASK = ["--files_per_task", "1"]
HANDLER_EVENT = re.compile(r"^(pre|post)_(data_obj|coll)_(create|modify|delete)(:\[|$)|^(pre|post)_job$")

RUST_WORKS, RUST_STATUS = rust_worker_status()


# ---- source trees --------------------------------------------------------------------------------

PLAIN_TREE = {"0": 0, "1": 1, "2": 2, "sub/3": 3, "sub/4": 4}
# Names the character_map examples rewrite ([^a-zA-Z0-9] -> "_"), two of them to the same name.
CHARMAP_TREE = {"test-file~with@5!non.alphas": 5, "plain": 1, "a b": 2, "a-b": 3, "sub dir/x.y": 4,
                "r\u00e9sum\u00e9": 6}


def build_tree(src: str, tree: dict) -> None:
    if os.path.lexists(src):
        shutil.rmtree(src)
    os.makedirs(src)
    for rel, size in tree.items():
        path = os.path.join(src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("i" * size)
        os.chmod(path, 0o644)
        os.utime(path, (OLD_MTIME, OLD_MTIME))
    set_dir_mtimes(src, OLD_MTIME)


def set_dir_mtimes(src: str, mtime: int) -> None:
    for dirpath, _, _ in os.walk(src):
        os.utime(dirpath, (mtime, mtime))


def change_tree(src: str, tree: dict) -> None:
    """Every file grows (the old bytes stay a prefix, as PUT_APPEND expects), gets a new mtime and
    mode 0640 (so ``metadata.py``'s mode AVU changes too); directories get a new mtime as well, so
    their tasks see them changed (coll_modify)."""
    for rel, size in tree.items():
        path = os.path.join(src, rel)
        with open(path, "w") as f:
            f.write("i" * (2 * size + 1))
        os.chmod(path, 0o640)
        os.utime(path, (NEW_MTIME, NEW_MTIME))
    set_dir_mtimes(src, NEW_MTIME)


# ---- scenarios -----------------------------------------------------------------------------------

@dataclasses.dataclass
class Pass:
    job: str
    handler: str  # an example's name
    extra: list = dataclasses.field(default_factory=lambda: list(ONE_PER_TASK))
    change_first: bool = False  # change_tree before this pass
    unchecked: bool = False  # irods_sync without its own import of the handler (see start_job_unchecked)
    until_event: str | None = None  # the job never ends: wait for this event in its log instead


@dataclasses.dataclass
class Scenario:
    what: str  # what the test checks (the README table's column)
    passes: list
    check: Callable  # baseline: what the reference does, asserted on the Python result
    tree: dict = dataclasses.field(default_factory=lambda: dict(PLAIN_TREE))
    rust_expected: Callable | None = None  # intended differences: python result -> expected rust result
    rust_bug: str | None = None  # a Rust difference that is a bug: xfail(strict=True, reason=rust_bug)
    failure_log_bug: str | None = None  # the same, for the job log's failed_task/retry_task exception classes
    note: str = ""


def objects(result, job=None):
    snap = result["catalog"][job or last_job(result)]
    return snap["data_objects"]


def last_job(result):
    return list(result["passes"])[-1]


def counters(result, job=None):
    return result["passes"][job or last_job(result)]["counters"]


def rel(path):
    assert path.startswith(TARGET + "/") or path == TARGET, path
    return path[len(TARGET) + 1:]


def all_ok(result):
    for job, p in result["passes"].items():
        assert p["returncode"] == 0, (job, p)
        assert p["counters"]["failures"] is None and p["counters"]["retries"] is None, (job, p["counters"])


def all_failed(n):
    """Every file's task fails once and nothing is retried (the reference suite's
    ``do_assert_failed_queue`` with NFILES)."""
    def check(result):
        p = result["passes"][last_job(result)]
        assert p["returncode"] == 0, p
        assert p["counters"]["failures"] == n and p["counters"]["retries"] is None, p["counters"]
        assert objects(result) == {}, objects(result)
    return check


def registered(resources, sizes=None, tree=PLAIN_TREE):
    def check(result):
        all_ok(result)
        objs = objects(result)
        assert sorted(rel(p) for p in objs) == sorted(tree), sorted(objs)
        for path, obj in objs.items():
            name = rel(path)
            want = (sizes or (lambda s: s))(tree[name])
            assert [r["path"] for r in obj["replicas"]] == [f"<SRC>/{name}"], obj
            assert [r["resource"] for r in obj["replicas"]] == resources, obj
            assert [r["size"] for r in obj["replicas"]] == [want], obj
    return check


def put_to(resources, sizes=None, tree=PLAIN_TREE):
    def check(result):
        all_ok(result)
        objs = objects(result)
        assert sorted(rel(p) for p in objs) == sorted(tree), sorted(objs)
        for path, obj in objs.items():
            want = (sizes or (lambda s: s))(tree[rel(path)])
            assert [r["resource"] for r in obj["replicas"]] == resources, obj
            assert all(r["path"].startswith("<VAULT>/") for r in obj["replicas"]), obj
            assert [r["size"] for r in obj["replicas"]] == [want], obj
    return check


def grown(size):
    return 2 * size + 1


def changed_passes(handler, extra=None):
    extra = list(ONE_PER_TASK) if extra is None else extra
    return [Pass("pass1", handler, extra), Pass("pass2", handler, extra, change_first=True)]


def check_no_op(result):
    all_ok(result)
    assert result["catalog"]["pass1"] == {"collections": {BASE: []}, "data_objects": {}}, result["catalog"]


def check_events(expected):
    def check(result):
        all_ok(result)
        for job, events in expected.items():
            assert sorted(result["passes"][job]["events"]) == sorted(events), (job, result["passes"][job]["events"])
    return check


def pep_events(kind):
    files = [f"{TARGET}/{name}" for name in PLAIN_TREE]
    colls = [TARGET, f"{TARGET}/sub"]
    return ([f"{when}_data_obj_{kind}:[{f}]" for f in files for when in ("pre", "post")]
            + [f"{when}_coll_{kind}:[{c}]" for c in colls for when in ("pre", "post")])


def check_register_with_peps(result):
    # As the reference suite's Test_pep_callbacks: each expected message exactly once per pass.
    all_ok(result)
    for job, kind in (("pass1", "create"), ("pass2", "modify")):
        got = collections.Counter(result["passes"][job]["events"])
        for message in pep_events(kind):
            assert got[message] == 1, (job, message, got)


def check_avus_on(coll_avus):
    def check(result):
        all_ok(result)
        colls = result["catalog"][last_job(result)]["collections"]
        for coll, avus in coll_avus.items():
            assert sorted(colls[coll]) == sorted(avus), (coll, colls[coll])
    return check


def check_mode_avus(result):
    registered(["demoResc"], grown)(result)
    for job, mode in (("pass1", 0o100644), ("pass2", 0o100640)):
        for path, obj in result["catalog"][job]["data_objects"].items():
            assert obj["avus"] == [["filesystem::mode", str(mode), ""]], (job, path, obj)


def check_tmp_a(text):
    def check(result):
        all_ok(result)
        assert result["tmp_files"] == {"a": text}, result["tmp_files"]
    return check


def check_replica(resource):
    def check(result):
        all_ok(result)
        for path, obj in objects(result).items():
            name = rel(path)
            reps = obj["replicas"]
            assert [r["resource"] for r in reps] == ["demoResc", resource], obj
            assert reps[0]["path"].startswith("<VAULT>/") and reps[1]["path"] == f"<SRC>/{name}", obj
            assert [r["size"] for r in reps] == [PLAIN_TREE[name], grown(PLAIN_TREE[name])], obj
            assert [r["status"] for r in reps] == ["0", "1"], obj
    return check


def check_replica_fails(result):
    p = result["passes"]["replica"]
    assert p["counters"]["failures"] == len(PLAIN_TREE) and p["counters"]["retries"] is None, p["counters"]
    for obj in objects(result).values():
        assert [r["resource"] for r in obj["replicas"]] == ["demoResc"], obj


def check_charmap(put):
    def check(result):
        all_ok(result)
        objs = objects(result)
        names = sorted(rel(p) for p in objs)
        # Every logical name is the source name with [^a-zA-Z0-9] -> "_" (plus a suffix where two
        # names collide), annotated with the base64 of the original path.
        assert len(names) == len(CHARMAP_TREE), names
        for name in names:
            assert re.fullmatch(r"[A-Za-z0-9_]+(/[A-Za-z0-9_]+)?", name), name
        changed = 0
        for obj in objs.values():
            # Annotated with the original path's base64 exactly when the name had to change.
            annotated = any(a[0] == "irods::automated_ingest::character_map" for a in obj["avus"])
            changed += annotated
            assert all(r["path"].startswith("<VAULT>/" if put else "<SRC>/") for r in obj["replicas"]), obj
        assert changed == len(CHARMAP_TREE) - 1, objs  # all but "plain"
    return check


def check_timeout(result):
    # Every file task exceeds the handler's 1 s soft limit (the hook sleeps 2 s) and fails.
    all_failed(len(PLAIN_TREE))(result)


def check_statistics(result):
    # `from .. import redis_key` cannot work in a module loaded outside the package. irods_sync
    # itself execs the handler (to validate character_map) and exits 1 before storing the job:
    # no worker ever sees it, nothing is counted, nothing is written.
    p = result["passes"]["pass1"]
    assert p["returncode"] == 1 and "KeyError: \"'__name__' not in globals\"" in result["outputs"]["pass1"], (
        result["outputs"]["pass1"])
    assert p["counters"] == {"tasks": None, "count": 0, "dequeue": 0, "failures": None, "retries": None,
                             "singlepass": False, "periodic": False, "cleanup": None}, p["counters"]
    # Pass 2 skips that check: the job's main task (a RestartTask, not an IrodsTask) fails when it
    # loads the handler for pre_job, logs "failed_restart", and nothing counts or ends the job: it
    # stays listed in `singlepass` with its cleanup:/ key, as the reference leaves it.
    p = result["passes"]["pass2"]
    assert p["returncode"] == 0, result["outputs"]["pass2"]
    assert p["counters"] == {"tasks": None, "count": 0, "dequeue": 0, "failures": None, "retries": None,
                             "singlepass": True, "periodic": False, "cleanup": "[]"}, p["counters"]
    assert result["failure_log"]["pass2"] == [["failed_restart", "ImportError"]], result["failure_log"]
    assert result["catalog"]["pass2"] == {"collections": {BASE: []}, "data_objects": {}}
    assert result["redis"] == {}, result["redis"]  # no t0:/ key: pre_job never ran


def check_sync_retry(result):
    # The file "0" cannot be put: a collection has its name. max_retries 3 -> three retries,
    # then the task fails; every other file is put.
    p = result["passes"]["pass1"]
    assert p["counters"]["retries"] == 3 and p["counters"]["failures"] == 1, p["counters"]
    assert sorted(rel(x) for x in objects(result)) == sorted(set(PLAIN_TREE) - {"0"})


def handler_redis_failures(result):
    """``failures:<path>`` keys written by retry.py / no_retry.py, by source file."""
    return {k[len("failures:<SRC>/"):]: v for k, v in result["redis"].items() if k.startswith("failures:<SRC>/")}


def check_no_retry(result):
    # One chunk per directory (files_per_task left at 50). The first entry of each chunk raises in
    # pre_data_obj_create (its first call); the reference fails the whole chunk there, so only one
    # entry per chunk ever reaches the hook.
    c = counters(result)
    assert c["failures"] == 2 and c["retries"] is None, c
    calls = handler_redis_failures(result)
    assert sorted(calls.values()) == ["1", "1"], calls
    assert objects(result) == {}


def check_retry(result):
    # max_retries 3, delay 0, one chunk per directory (3 and 2 entries). Each entry raises on its
    # first call only. The reference reruns the whole chunk on each retry, entries already done
    # are skipped as unchanged (sync_time), so a chunk of n entries takes n retries and every
    # entry's hook runs exactly twice.
    c = counters(result)
    assert c["failures"] is None and c["retries"] == 3 + 2, c
    assert handler_redis_failures(result) == {name: "2" for name in PLAIN_TREE}, result["redis"]


def rust_retries_failed_entries_only(python: dict) -> dict:
    """The intended difference (worker/src/tasks/sync_entry.rs, "Differences from the reference";
    to be listed in worker/README.md): a failing entry does not abort the rest of its chunk; the
    chunk finishes, then the task is retried with only the failed entries, or fails.

    * retry.py: every entry of a chunk fails on its first call, so each chunk is retried exactly
      once (retries:/ = number of chunks = 2 and two retry_task log lines; the reference: 5 of
      each); hooks still run twice per entry.
    * no_retry.py: every entry's hook runs once (5 ``failures:<path>`` keys; the reference: one
      per chunk, 2), each chunk task still fails once (failures:/ = 2 on both).
    """
    rust = copy.deepcopy(python)
    job = last_job(rust)
    if rust["handler"] == "retry":
        rust["passes"][job]["counters"]["retries"] = 2
        rust["failure_log"][job] = [["retry_task", "RuntimeError"]] * 2
    else:
        for name in PLAIN_TREE:
            rust["redis"][f"failures:<SRC>/{name}"] = "1"
        rust["redis"] = dict(sorted(rust["redis"].items()))
    return rust


SCENARIOS: dict[str, Scenario] = {
    # -- PUT_APPEND
    "append": Scenario("put, files grow, second pass appends (sizes)", changed_passes("append"),
                       put_to(["demoResc"], grown)),
    "append_json": Scenario(
        "0.7.0's irods_sync has no --append_json option, so meta has no 'append_json' key: every pre_data_obj_create raises KeyError",
        [Pass("pass1", "append_json")], all_failed(len(PLAIN_TREE))),
    "append_non_leaf_non_root_with_resc_name": Scenario(
        "PUT_APPEND to a non-root resource: every file fails (DIRECT_CHILD_ACCESS)",
        [Pass("pass1", "append_non_leaf_non_root_with_resc_name")], all_failed(len(PLAIN_TREE))),
    "append_root_with_resc_name": Scenario(
        "PUT_APPEND to regiResc2Root (lands on regiResc2a), then appends", changed_passes("append_root_with_resc_name"),
        put_to(["regiResc2a"], grown)),
    "append_with_resc_name": Scenario(
        "PUT_APPEND to a leaf inside a hierarchy: every file fails (DIRECT_CHILD_ACCESS)",
        [Pass("pass1", "append_with_resc_name")], all_failed(len(PLAIN_TREE))),
    # -- pre/post hooks annotating collections
    "coll_create_pre_and_post": Scenario(
        "pre/post_coll_create AVUs on the parents of the created collections",
        [Pass("pass1", "coll_create_pre_and_post")],
        check_avus_on({BASE: [[f"{w}_coll_create", TARGET, "REGISTER_SYNC"] for w in ("pre", "post")],
                       TARGET: [[f"{w}_coll_create", f"{TARGET}/sub", "REGISTER_SYNC"] for w in ("pre", "post")]})),
    "coll_modify_pre_and_post": Scenario(
        "pre/post_coll_modify AVUs (value = job name) after a second pass over existing collections",
        changed_passes("coll_modify_pre_and_post"),
        check_avus_on({TARGET: [[f"{w}_coll_modify", "pass2", "REGISTER_SYNC"] for w in ("pre", "post")],
                       f"{TARGET}/sub": [[f"{w}_coll_modify", "pass2", "REGISTER_SYNC"] for w in ("pre", "post")]})),
    "data_obj_create_pre_and_post": Scenario(
        "pre/post_data_obj_create AVUs on each object's collection",
        [Pass("pass1", "data_obj_create_pre_and_post")],
        check_avus_on({
            TARGET: [[f"{w}_data_obj_create", f"{TARGET}/{n}", "REGISTER_SYNC"] for w in ("pre", "post")
                     for n in PLAIN_TREE if "/" not in n],
            f"{TARGET}/sub": [[f"{w}_data_obj_create", f"{TARGET}/{n}", "REGISTER_SYNC"] for w in ("pre", "post")
                              for n in PLAIN_TREE if "/" in n]})),
    "data_obj_modify_pre_and_post": Scenario(
        "pre/post_data_obj_modify AVUs after the files changed",
        changed_passes("data_obj_modify_pre_and_post"),
        check_avus_on({
            TARGET: [[f"{w}_data_obj_modify", f"{TARGET}/{n}", "REGISTER_SYNC"] for w in ("pre", "post")
                     for n in PLAIN_TREE if "/" not in n],
            f"{TARGET}/sub": [[f"{w}_data_obj_modify", f"{TARGET}/{n}", "REGISTER_SYNC"] for w in ("pre", "post")
                              for n in PLAIN_TREE if "/" in n]})),
    "metadata": Scenario("filesystem::mode AVU on create (0644), replaced on modify (0640)",
                         changed_passes("metadata"), check_mode_avus),
    # -- NO_OP family, job hooks, retries, limits
    "no_op": Scenario("NO_OP: no collection, no object, no failure", [Pass("pass1", "no_op")], check_no_op),
    "no_retry": Scenario(
        "a chunk whose first entry raises fails (no retries); the handler's failures:<path> Redis keys",
        [Pass("pass1", "no_retry", [])], check_no_retry,
        rust_expected=rust_retries_failed_entries_only),
    "post_job": Scenario("post_job appends to /tmp/a once per job", [Pass("pass1", "post_job")],
                         check_tmp_a("post_job")),
    "pre_job": Scenario("pre_job writes /tmp/a", [Pass("pass1", "pre_job")], check_tmp_a("pre_job")),
    "retry": Scenario(
        "entries raise once each; max_retries 3, delay 0; retries:/ count and the handler's failures:<path> keys",
        [Pass("pass1", "retry", [])], check_retry,
        rust_expected=rust_retries_failed_entries_only),
    "statistics": Scenario(
        "the handler cannot be imported (relative import): irods_sync itself refuses it; started without that "
        "check, the job's main task fails in the worker the same way",
        [Pass("pass1", "statistics"), Pass("pass2", "statistics", unchecked=True, until_event="failed_restart")],
        check_statistics),
    "timeout": Scenario("timeout 1 s, pre_data_obj_create sleeps 2 s: every file task fails",
                        [Pass("pass1", "timeout")], check_timeout),
    # -- PUT
    "put": Scenario("put to demoResc; second pass after changes leaves objects alone", changed_passes("put"),
                    put_to(["demoResc"])),
    "put_non_leaf_non_root_with_resc_name": Scenario(
        "put to a non-root resource: every file fails", [Pass("pass1", "put_non_leaf_non_root_with_resc_name")],
        all_failed(len(PLAIN_TREE))),
    "put_root_with_resc_name": Scenario("put to regiResc2Root (regiResc2a)", [Pass("pass1", "put_root_with_resc_name")],
                                        put_to(["regiResc2a"])),
    "put_using_char_map": Scenario("put of names needing character_map (incl. a collision), AVUs",
                                   [Pass("pass1", "put_using_char_map")], check_charmap(True), tree=dict(CHARMAP_TREE)),
    "put_with_resc_name": Scenario("put to a leaf inside a hierarchy: every file fails",
                                   [Pass("pass1", "put_with_resc_name")], all_failed(len(PLAIN_TREE))),
    # -- REGISTER_SYNC
    "register": Scenario("register in place, then update size after changes", changed_passes("register"),
                         registered(["demoResc"], grown)),
    "register_non_leaf_non_root_with_resc_name": Scenario(
        "register to a non-root, non-leaf resource: every file fails",
        [Pass("pass1", "register_non_leaf_non_root_with_resc_name")], all_failed(len(PLAIN_TREE))),
    "register_root_with_resc_name": Scenario("register to regiResc2Root, then update",
                                             changed_passes("register_root_with_resc_name"),
                                             registered(["regiResc2a"], grown)),
    "register_using_char_map": Scenario("register of names needing character_map, AVUs",
                                        [Pass("pass1", "register_using_char_map")], check_charmap(False),
                                        tree=dict(CHARMAP_TREE)),
    "register_with_peps": Scenario("logged create PEPs on pass 1 and modify PEPs on pass 2 (job log lines)",
                                   changed_passes("register_with_peps"), check_register_with_peps),
    "register_with_resc_name": Scenario(
        "register to the leaf regiResc2a (pass 1 with --initial_ingest), then update",
        [Pass("pass1", "register_with_resc_name", ONE_PER_TASK + ["--initial_ingest"]),
         Pass("pass2", "register_with_resc_name", change_first=True)], registered(["regiResc2a"], grown)),
    # -- REGISTER_AS_REPLICA_SYNC on top of a put
    "replica_root_with_resc_name": Scenario(
        "after a put, files change: replica registered on regiResc2Root (regiResc2a), good; demoResc stale",
        [Pass("seed", "put"), Pass("replica", "replica_root_with_resc_name", change_first=True)],
        check_replica("regiResc2a")),
    "replica_with_non_leaf_non_root_resc_name": Scenario(
        "after a put: replica to a non-root non-leaf resource fails for every file",
        [Pass("seed", "put"), Pass("replica", "replica_with_non_leaf_non_root_resc_name", change_first=True)],
        check_replica_fails),
    "replica_with_resc_name": Scenario(
        "after a put, files change: replica registered on the leaf regiResc2a",
        [Pass("seed", "put"), Pass("replica", "replica_with_resc_name", change_first=True)],
        check_replica("regiResc2a")),
    # -- PUT_SYNC
    "sync": Scenario("put, then re-put after changes", changed_passes("sync"), put_to(["demoResc"], grown)),
    "sync_non_leaf_non_root_with_resc_name": Scenario(
        "PUT_SYNC to a non-root resource: every file fails", [Pass("pass1", "sync_non_leaf_non_root_with_resc_name")],
        all_failed(len(PLAIN_TREE))),
    "sync_retry": Scenario(
        "PUT_SYNC with max_retries 3; one file cannot be put (a collection has its name): 3 retries, 1 failure",
        [Pass("pass1", "sync_retry")], check_sync_retry),
    "sync_root_with_resc_name": Scenario("PUT_SYNC to regiResc2Root, then re-put",
                                         changed_passes("sync_root_with_resc_name"), put_to(["regiResc2a"], grown)),
    "sync_with_resc_name": Scenario("PUT_SYNC to a leaf inside a hierarchy: every file fails",
                                    [Pass("pass1", "sync_with_resc_name")], all_failed(len(PLAIN_TREE))),
}


# ---- one run -------------------------------------------------------------------------------------

class PrivateTmpFleet(Fleet):
    """A Fleet whose workers see a private ``/tmp`` (``<fleet dir>/private-tmp``, bind-mounted in a
    mount namespace of their own), because example handlers write the fixed path ``/tmp/a``. The
    chain ``unshare`` → ``sh`` → worker is all ``exec``: the process the Fleet signals is the worker.
    The fleet directory and the source tree must therefore not be below ``/tmp``; the checkout,
    its venv and its binaries may be (CI clones under ``/tmp``): their top-level directories under
    ``/tmp`` are bound back into the private one."""

    def worker_command(self, kind, name, concurrency):
        private_tmp = os.path.join(self.dir, "private-tmp")
        os.makedirs(private_tmp, exist_ok=True)
        os.chmod(private_tmp, 0o1777)
        host_tmp = os.path.join(self.dir, "host-tmp")  # where the real /tmp stays reachable inside
        os.makedirs(host_tmp, exist_ok=True)
        keep = sorted({top for top in map(top_of_tmp, (ROOT, VENV_BIN, rust_worker_binary())) if top})
        script = [f'host="{host_tmp}"', 'mount --bind /tmp "$host"', 'mount --bind "$0" /tmp']
        for top in keep:
            script += [f'mkdir -p "/tmp/{top}"', f'mount --bind "$host/{top}" "/tmp/{top}"']
        script.append('exec "$@"')
        return (["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", " && ".join(script),
                 private_tmp] + super().worker_command(kind, name, concurrency))


def top_of_tmp(path: str) -> str | None:
    """The first component below ``/tmp`` of ``path`` (resolved), or None when it is elsewhere."""
    real = os.path.realpath(path)
    if real.startswith("/tmp/"):
        return real[len("/tmp/"):].split("/", 1)[0]
    return None


def vault_files(fleet) -> dict:
    return fleet.vault_files()


def handler_events(log_path: str) -> list:
    """The handler's own events in a job log (JSON lines), sorted (a multiset)."""
    events = []
    if not os.path.exists(log_path):
        return events
    with open(log_path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            try:
                event = json.loads(line).get("event", "")
            except (ValueError, AttributeError):
                continue
            if isinstance(event, str) and HANDLER_EVENT.match(event):
                events.append(event)
    return sorted(events)


def logged_failures(log_path: str) -> list:
    """``(event, exception class)`` of the log lines that carry an ``exc`` field (``failed_task``,
    ``retry_task``), sorted: why tasks failed, as a user reading the job log sees it."""
    found = []
    if not os.path.exists(log_path):
        return found
    with open(log_path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "exc" in record:
                match = re.match(r"([A-Za-z_][\w.]*)\(", str(record["exc"]))
                found.append([record.get("event"), match.group(1) if match else str(record["exc"])])
    return sorted(found)


def tmp_files(fleet) -> dict:
    """What was written to the workers' private /tmp, except the reference worker's copies of the
    handler module (custom_event_handler.py writes /tmp/event_handler<job><uuid>.py)."""
    top = os.path.join(fleet.dir, "private-tmp")
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            relpath = os.path.relpath(os.path.join(dirpath, name), top)
            if re.fullmatch(r"event_handler.*\.py", relpath):
                continue
            with open(os.path.join(dirpath, name), "rb") as f:
                found[relpath] = f.read().decode("utf-8", "replace")
    return found


def handler_redis(fleet, jobs) -> dict:
    """Redis string keys named like the job's counters but not the job's: what handlers wrote
    (``failures:<path>`` from retry.py and no_retry.py, ``t0:/<job>`` from statistics.py)."""
    own = {f"{prefix}:/{job}" for job in jobs for prefix in ("failures", "retries")}
    out = {}
    for key in fleet.redis.scan_iter(match="*", count=1000):
        name = key.decode("utf-8", "surrogateescape")
        if name.startswith(("failures:", "retries:", "t0:")) and name not in own:
            if fleet.redis.type(key) == b"string":
                out[name] = fleet.redis.get(key).decode()
    return dict(sorted(out.items()))


def wait_for_event(log_path: str, event: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(log_path):
            with open(log_path, encoding="utf-8", errors="replace") as f:
                if any(f'"event": "{event}"' in line for line in f):
                    return True
        time.sleep(0.2)
    return False


def start_job_unchecked(fleet, src, target, job_name, event_handler, extra=(), synchronous=False, timeout=120.0):
    """``irods_sync start`` with the reference CLI's ``check_event_handler`` (which ``exec``s the
    handler in the CLI, where statistics.py already fails) replaced by a no-op, so that the job is
    stored and the workers load the handler themselves. Everything else is the reference CLI."""
    assert not synchronous
    log_path = os.path.join(fleet.dir, f"job-{job_name}.log")
    code = ("import sys\n"
            "import irods_capability_automated_ingest.irods_sync as cli\n"
            "cli.check_event_handler = lambda filename: None\n"
            "sys.argv = ['irods_sync'] + sys.argv[1:]\n"
            "sys.exit(cli.main())\n")
    cmd = [os.path.join(VENV_BIN, "python"), "-c", code, "start", os.fsdecode(src), target, "--job_name", job_name,
           "--log_filename", log_path, "--event_handler", event_handler] + list(extra)
    run = subprocess.run(cmd, env=fleet.env, cwd=fleet.tmpdir, stdin=subprocess.DEVNULL, capture_output=True,
                         timeout=timeout)
    decode = lambda b: b.decode("utf-8", "replace")  # noqa: E731
    return JobRun(job_name, cmd, run.returncode, decode(run.stdout), decode(run.stderr), log_path, 0.0)


def run_scenario(kind: str, handler: str, scenario: Scenario, workdir: str) -> dict:
    src = os.path.join(workdir, "src")
    build_tree(src, scenario.tree)
    fleet = PrivateTmpFleet(kind, concurrency=2, resources=RESOURCES, base_dir=os.path.join(workdir, "fleets"))
    fleet.start()
    result = {"kind": kind, "handler": handler, "passes": {}, "catalog": {}, "outputs": {}, "failure_log": {}}
    logs = {}
    failed = True
    try:
        result["fleet_dir"] = fleet.dir
        fleet.session().collections.create(BASE)
        if handler == "sync_retry":
            fleet.session().collections.create(f"{TARGET}/0")  # the file "0" cannot become an object there
        for p in scenario.passes:
            if p.change_first:
                change_tree(src, scenario.tree)
            # Not --synchronous: that runs the job's main task (and pre_job) inside the CLI, not in
            # a worker, and its monitor raises "job does not exist" when the workers finish the
            # job before it looks. The reference suite also starts jobs asynchronously.
            start = start_job_unchecked if p.unchecked else Fleet.start_job
            run = start(fleet, src, TARGET, p.job, event_handler=os.path.join(EXAMPLES_DIR, p.handler + ".py"),
                        extra=p.extra, synchronous=False, timeout=120)
            if p.until_event:
                done = wait_for_event(run.log_path, p.until_event, timeout=120)
                counters = fleet.job_counters(p.job)
            else:
                counters = fleet.wait_job(p.job, timeout=240)
                done = not counters["tasks"] and not counters["singlepass"] and counters["cleanup"] is None
            result["outputs"][p.job] = run.output
            logs[p.job] = run.log_path
            result["passes"][p.job] = {"returncode": run.returncode, "timed_out": run.timed_out or not done,
                                       "counters": counters}
            result["catalog"][p.job] = fleet.catalog(BASE)
        result["vault"] = vault_files(fleet)
        result["redis"] = handler_redis(fleet, [p.job for p in scenario.passes])
        result["keys"] = fleet.state_keys()
        # post_job runs after the job is marked done, so the CLI may return before it finished:
        # the files and log lines handlers write are read once the workers have stopped.
        for worker in fleet.workers:
            fleet.stop_worker(worker)
        for job, path in logs.items():
            result["passes"][job]["events"] = handler_events(path)
            result["failure_log"][job] = logged_failures(path)
        result["tmp_files"] = tmp_files(fleet)
        replacements = {src: "<SRC>", fleet.vault_root: "<VAULT>"}
        failed = False
    finally:
        result["stop"] = fleet.stop(keep=failed)
    for name in ("passes", "catalog", "vault", "redis", "keys", "tmp_files", "failure_log"):
        result[name] = normalise(result[name], replacements)
    return result


def comparable(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("kind", "outputs", "fleet_dir", "stop", "failure_log")}


# ---- tests ---------------------------------------------------------------------------------------

def test_every_example_has_a_scenario():
    assert EXAMPLES == sorted(SCENARIOS), set(EXAMPLES) ^ set(SCENARIOS)


@pytest.fixture(scope="module")
def workdir_root():
    # Not below /tmp: the workers' /tmp is replaced by a private directory.
    root = tempfile.mkdtemp(prefix="ingest-example-handlers-", dir="/var/tmp")
    yield root
    if not os.environ.get("INGEST_FLEET_KEEP"):
        shutil.rmtree(root, ignore_errors=True)


def rust_marks(name, bug_field="rust_bug"):
    scenario = SCENARIOS[name]
    marks = []
    if not RUST_WORKS and os.environ.get("INGEST_RUST_OPTIONAL"):
        marks.append(pytest.mark.skip(reason=f"irods-ingest worker not available: {RUST_STATUS}"))
    elif getattr(scenario, bug_field):
        marks.append(pytest.mark.xfail(strict=True, reason=getattr(scenario, bug_field)))
    return marks


_RESULTS: dict = {}


def both_runs(name: str, workdir_root: str) -> tuple:
    """The scenario under Python workers (checked against the reference's expectations), then
    under Rust workers; kept for the module's second test."""
    if name not in _RESULTS:
        scenario = SCENARIOS[name]
        workdir = os.path.join(workdir_root, name)
        python = run_scenario("python", name, scenario, workdir)
        for job, p in python["passes"].items():
            assert not p["timed_out"], python["outputs"][job]
        scenario.check(python)
        rust = run_scenario("rust", name, scenario, workdir)
        for job, p in rust["passes"].items():
            assert not p["timed_out"], rust["outputs"][job]
        shutil.rmtree(os.path.join(workdir, "src"), ignore_errors=True)
        _RESULTS[name] = (python, rust)
    return _RESULTS[name]


def expected_rust(name: str, python: dict) -> dict:
    scenario = SCENARIOS[name]
    return scenario.rust_expected(python) if scenario.rust_expected else python


@pytest.mark.parametrize("name", [pytest.param(n, marks=rust_marks(n)) for n in EXAMPLES])
def test_example_handler(name, workdir_root):
    """Catalog, vaults, handler log events, /tmp files, handler Redis keys, job counters."""
    python, rust = both_runs(name, workdir_root)
    expected, got = comparable(expected_rust(name, python)), comparable(rust)
    for part in ("catalog", "vault", "tmp_files", "redis", "keys"):
        assert got[part] == expected[part], part
    for job in expected["passes"]:
        assert got["passes"][job] == expected["passes"][job], (job, rust["outputs"][job])
    assert got == expected


@pytest.mark.parametrize("name", [pytest.param(n, marks=rust_marks(n, "failure_log_bug")) for n in EXAMPLES])
def test_example_failure_log(name, workdir_root):
    """Why tasks failed or were retried, as the job log says: the exception class of every
    ``failed_task``/``retry_task``/``failed_restart`` line, as a multiset per pass."""
    python, rust = both_runs(name, workdir_root)
    assert rust["failure_log"] == expected_rust(name, python)["failure_log"]
