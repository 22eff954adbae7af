#!/usr/bin/env python3
"""Chaos run: one ingest job under worker SIGKILLs, Redis crashes and iRODS crashes, then checks.

One command, seeded::

    compat-tests/chaos/chaos.py --seed 1 --files 300 --kills 4 --redis-crashes 1 --irods-crashes 1

What it does (see compat-tests/chaos/README.md for the whole story):

1. Starts a private fleet: ``redis-server`` with an append-only file (``appendonly yes``,
   ``appendfsync always``), the iRODS test server, ``--workers`` Rust workers
   (``irods-ingest worker -Q restart,path,file -c N -n <name>@%h --dead-worker-after D``) and
   ``--python-workers`` reference Celery workers.
2. Writes ``--files`` files of seeded random content and size (``--min-size``..``--max-size``
   bytes) spread over a random tree of ``--dirs`` directories, and an event handler with the
   ``--operation``, ``max_retries`` 6, ``delay`` 2, a post-hook log and a ``post_job`` that appends
   a line to a file.
3. Starts the job with the reference CLI, detached (``irods_sync start SRC TARGET --job_name J
   --event_handler H``), and injects the faults at seeded random points of the run: the first
   kill(s) while the tree is being scanned and its chunks enqueued, the rest spread over the
   uploads (progress = post-hook lines / files). A killed worker is restarted 0.3 s later under
   the same node name; Redis and the test server are SIGKILLed and restarted on the same port
   with the same data.
4. Waits (``--timeout``) for the job's end: ``cleanup:/J`` removed and ``tasks:/J`` 0.
5. Checks: every source file is exactly one data object with exactly one replica; size (catalog
   and vault) and sha256 of the vault copy equal the source's (PUT, PUT_SYNC; for REGISTER_SYNC
   the replica points at the source file); the job ended; ``post_job`` ran exactly once; no
   ``lock:`` key without a TTL; ``failures:/J`` absent or 0; queues and ``unacked`` empty; no
   worker died by itself.

The report goes to stdout (and, with ``--json``, to a file); exit status 0 only if every check
passed. ``--keep`` keeps the fleet directory (worker logs, job log, hook log, test server data,
``redis.log``, a dump of Redis' state and the report).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import random
import shlex
import shutil
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, ".venv")


def _ensure_venv() -> None:
    """Re-run under the project's venv (redis-py, python-irodsclient, the reference package)."""
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        sys.exit(f"chaos: {python} is missing: run scripts/setup first")
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])


if __name__ == "__main__":
    _ensure_venv()

sys.path.insert(0, os.path.join(ROOT, "compat-tests", "python"))

from ingest_testsupport import Fleet, event_handler_source  # noqa: E402
from ingest_testsupport.fleet import QUEUES, ZONE_HOME, rust_worker_binary, testserver_binary  # noqa: E402

OPERATIONS = ("PUT_SYNC", "PUT", "REGISTER_SYNC")
JOB = "chaos"
TARGET = f"{ZONE_HOME}/chaos"


def log(*parts) -> None:
    print(time.strftime("%H:%M:%S"), "chaos:", *parts, file=sys.stderr, flush=True)


# ---- arguments -------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seed", type=int, default=1, help="seed of the tree, the contents and the fault schedule")
    p.add_argument("--files", type=int, default=2000, help="number of source files")
    p.add_argument("--min-size", type=int, default=1024, help="smallest file, bytes")
    p.add_argument("--max-size", type=int, default=64 * 1024, help="largest file, bytes")
    p.add_argument("--dirs", type=int, default=20, help="directories below the source root (a random tree)")
    p.add_argument("--files-per-task", type=int, default=50, help="irods_sync start --files_per_task")
    p.add_argument("--kills", type=int, default=10, help="worker SIGKILLs (each restarted under the same -n)")
    p.add_argument("--early-kills", type=int, default=None,
                   help="how many of the kills land while the tree is scanned and enqueued "
                        "(default: one in five, at least one when there are two or more kills)")
    p.add_argument("--redis-crashes", type=int, default=1, help="SIGKILL + restart of redis-server (AOF on)")
    p.add_argument("--irods-crashes", type=int, default=1, help="SIGKILL + restart of the iRODS test server")
    p.add_argument("-c", "--concurrency", type=int, default=2, help="-c of every worker")
    p.add_argument("--workers", type=int, default=2, help="Rust workers (irods-ingest worker)")
    p.add_argument("--python-workers", type=int, default=0, help="reference Python Celery workers (killed too)")
    p.add_argument("--kill-kinds", default="rust,python",
                   help="which kinds of worker the kills may hit (comma-separated: rust, python)")
    p.add_argument("--operation", choices=OPERATIONS, default="PUT_SYNC")
    p.add_argument("--dead-worker-after", type=int, default=3, help="passed to the Rust workers")
    p.add_argument("--rust-args", default="", help="more options for the Rust workers (one shell-quoted string)")
    p.add_argument("--restart-delay", type=float, default=0.3, help="seconds between a worker's kill and its restart")
    p.add_argument("--service-down", type=float, nargs=2, default=(0.3, 1.5), metavar=("MIN", "MAX"),
                   help="seconds Redis / the test server stay down (seeded uniform)")
    p.add_argument("--min-gap", type=float, default=1.0, help="least seconds between two faults")
    p.add_argument("--fault-span", type=float, nargs=2, default=(0.03, 0.75), metavar=("FROM", "TO"),
                   help="progress fractions between which the upload-phase faults are drawn (seeded uniform); "
                        "with --end-within, TO near 1 makes the last fault land near the job's end")
    p.add_argument("--stall", type=float, default=None,
                   help="fire the next fault anyway after this many seconds without progress "
                        "(default: max(15, 3 x dead-worker-after))")
    p.add_argument("--settle", type=float, default=15.0,
                   help="seconds allowed after the job's end for queues, unacked and post_job to settle")
    p.add_argument("--end-within", type=float, default=None,
                   help="also check that the job ends within this many seconds of the last fault "
                        "(issue 11 asks for dead-worker-after + 10); off by default")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds from the job's start to give up waiting for its end")
    p.add_argument("--quiet-limit", type=float, default=90.0,
                   help="after the last fault, give up once nothing has moved (hooks, counters, queues, unacked) "
                        "for this many seconds")
    p.add_argument("--json", dest="json_path", default=None, help="write the report as JSON to this file")
    p.add_argument("--keep", action="store_true", help="keep the fleet directory")
    p.add_argument("--keep-failed", action="store_true", help="keep the fleet directory if a check failed")
    p.add_argument("--workdir", default=None, help="parent directory of the fleet directory (default: INGEST_FLEET_DIR or the temp dir)")
    args = p.parse_args(argv)
    if args.workers + args.python_workers < 1:
        p.error("at least one worker is needed")
    if not 0 < args.min_size <= args.max_size:
        p.error("need 0 < --min-size <= --max-size")
    if args.files < 1 or args.dirs < 0 or min(args.kills, args.redis_crashes, args.irods_crashes) < 0:
        p.error("counts must not be negative (and --files at least 1)")
    args.kill_kind_list = [k.strip() for k in args.kill_kinds.split(",") if k.strip()]
    if not set(args.kill_kind_list) <= {"rust", "python"}:
        p.error("--kill-kinds takes rust and/or python")
    if args.kills and not ((args.workers and "rust" in args.kill_kind_list)
                           or (args.python_workers and "python" in args.kill_kind_list)):
        p.error("--kills needs a worker of a kind named in --kill-kinds")
    if args.early_kills is None:
        args.early_kills = 0 if args.kills < 2 else max(1, args.kills // 5)
    args.early_kills = min(args.early_kills, args.kills)
    if args.stall is None:
        args.stall = max(15.0, 3.0 * args.dead_worker_after)
    return args


# ---- the source tree -------------------------------------------------------------------------

def make_tree(root: str, seed: int, files: int, dirs: int, min_size: int, max_size: int) -> dict:
    """A random tree of ``dirs`` directories (each below a random earlier one, or the root) and
    ``files`` files of random size and content, spread over the root and every directory.
    Returns ``{relative path: (size, sha256 hex)}``. Same arguments, same tree, byte for byte."""
    rng = random.Random(f"chaos-tree-{seed}")
    directories = [""]
    for i in range(dirs):
        directories.append(os.path.join(rng.choice(directories), f"d{i:03}"))
    for d in directories[1:]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.makedirs(root, exist_ok=True)
    expected = {}
    for i in range(files):
        rel = os.path.join(rng.choice(directories), f"f{i:05}.bin")
        data = rng.randbytes(rng.randint(min_size, max_size))
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)
        expected[rel] = (len(data), hashlib.sha256(data).hexdigest())
    # Let the files' mtimes fall clearly before the job's first sync_time stamps.
    past = time.time() - 5
    for rel in expected:
        os.utime(os.path.join(root, rel), (past, past))
    return expected


def handler_text(operation: str, hook_log: str, post_job_file: str) -> str:
    extra = "\n".join([
        "    @staticmethod",
        "    def max_retries(hdlr_mod, logger, meta):",
        "        return 6",
        "",
        "    @staticmethod",
        "    def delay(hdlr_mod, logger, meta, retries):",
        "        return 2",
    ])
    return event_handler_source(operation, hook_log=hook_log, post_job_file=post_job_file,
                                record_process_group=True, extra=extra)


# ---- Redis access that survives the crashes this harness causes ------------------------------

class State:
    """The harness's own Redis client: short timeouts, and every call retried until it works or
    ``patience`` seconds pass (Redis is down on purpose now and then)."""

    def __init__(self, url: str):
        import redis
        self._redis_mod = redis
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)

    def call(self, fn, patience: float = 30.0):
        deadline = time.monotonic() + patience
        while True:
            try:
                return fn(self.client)
            except (self._redis_mod.ConnectionError, self._redis_mod.TimeoutError,
                    self._redis_mod.BusyLoadingError, OSError):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def int_or_none(self, key: str):
        v = self.call(lambda r: r.get(key))
        return None if v is None else int(v)


# ---- progress from the post-hook log ---------------------------------------------------------

class HookLog:
    """Reads the handler's post-hook log incrementally: data-object hooks per target and per
    worker process group (the hook lines carry the group, i.e. the worker's pid)."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0
        self.partial = b""
        self.by_target = collections.Counter()
        self.by_group = collections.Counter()
        self.lines = 0

    def poll(self) -> int:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return 0
        self.offset += len(chunk)
        data = self.partial + chunk
        *complete, self.partial = data.split(b"\n")
        for raw in complete:
            fields = raw.decode("utf-8", "surrogateescape").split("\t")
            if fields[0] in ("data_obj_create", "data_obj_modify") and len(fields) >= 3:
                self.by_target[fields[1]] += 1
                if len(fields) >= 4:
                    self.by_group[fields[3]] += 1
                self.lines += 1
        return self.lines


# ---- faults ----------------------------------------------------------------------------------

def fault_schedule(args) -> list:
    """Seeded list of faults ``{"kind", "phase", "at"}``: ``phase`` "scan" faults fire a random
    0-0.25 s after the job's first counted task appears (the tree is being scanned and its chunks
    enqueued); "uploads" faults fire when the progress fraction (data-object hooks / files)
    reaches ``at``."""
    rng = random.Random(f"chaos-faults-{args.seed}")
    early = [{"kind": "kill", "phase": "scan", "at": round(rng.uniform(0.0, 0.25), 3)}
             for _ in range(args.early_kills)]
    later_kinds = (["kill"] * (args.kills - args.early_kills) + ["redis"] * args.redis_crashes
                   + ["irods"] * args.irods_crashes)
    rng.shuffle(later_kinds)
    low, high = args.fault_span
    points = sorted(round(rng.uniform(low, high), 4) for _ in later_kinds)
    later = [{"kind": k, "phase": "uploads", "at": a} for k, a in zip(later_kinds, points)]
    for fault in early + later:
        fault["choice"] = rng.random()  # which worker a kill hits; how long a service stays down
    return sorted(early, key=lambda f: f["at"]) + later


class Chaos:
    def __init__(self, args):
        self.args = args
        self.fleet = None
        self.state = None
        self.hooks = None
        self.expected = {}
        self.src = None
        self.fault_log = []
        self.t0 = None
        self.job_end = None
        self.notes = []

    # -- fleet -----------------------------------------------------------------------------

    def start_fleet(self) -> None:
        a = self.args
        kind = "mixed" if a.workers and a.python_workers else ("rust" if a.workers else "python")
        rust_args = ["--dead-worker-after", str(a.dead_worker_after)] + shlex.split(a.rust_args)
        self.fleet = Fleet(kind, concurrency=a.concurrency, rust_args=rust_args, redis_appendonly=True,
                           base_dir=a.workdir, stop_timeout=20.0, name=f"s{a.seed}")
        self.fleet.start()
        started = collections.Counter(w.kind for w in self.fleet.workers)
        for k, n in (("rust", a.workers), ("python", a.python_workers)):
            for _ in range(n - started[k]):
                self.fleet.add_worker(k)
        self.state = State(self.fleet.redis_server.url(0))
        log(f"fleet {self.fleet.dir}: redis :{self.fleet.redis_server.port} (AOF), test server "
            f":{self.fleet.server.port}, workers {', '.join(w.name for w in self.fleet.workers)}")

    def progress(self) -> float:
        return self.hooks.poll() / len(self.expected)

    def job_over(self) -> bool:
        try:
            return self.state.call(lambda r: r.exists(f"cleanup:/{JOB}"), patience=0.5) == 0
        except Exception:
            return False

    # -- one fault -------------------------------------------------------------------------

    def inject(self, fault: dict, fired_on: str) -> None:
        fleet, a = self.fleet, self.args
        record = {"kind": fault["kind"], "phase": fault["phase"], "planned_at": fault["at"], "fired_on": fired_on,
                  "t": round(time.monotonic() - self.t0, 3), "progress": round(self.progress(), 4)}
        try:
            record["tasks_counter"] = self.state.int_or_none(f"tasks:/{JOB}")
            record["count_len"] = self.state.call(lambda r: r.llen(f"count:/{JOB}"), patience=2)
            record["lock_keys"] = len(self.state.call(lambda r: list(r.scan_iter(match="lock:*", count=1000)), patience=2))
        except Exception:
            record["tasks_counter"] = "unreadable"
        down = a.service_down[0] + fault["choice"] * (a.service_down[1] - a.service_down[0])
        if fault["kind"] == "kill":
            targets = [w for w in fleet.workers if w.kind in a.kill_kind_list]
            worker = targets[int(fault["choice"] * len(targets))]
            record["worker"] = worker.name
            record["pid"] = worker.pid
            record["worker_was_alive"] = worker.alive()
            fleet.kill_worker(worker)
            time.sleep(a.restart_delay)
            fresh = fleet.restart_worker(worker)
            record["new_pid"] = fresh.pid
        elif fault["kind"] == "redis":
            fleet.redis_server.crash()
            time.sleep(down)
            fleet.redis_server.restart(timeout=60)
            record["down_seconds"] = round(down, 2)
        elif fault["kind"] == "irods":
            fleet.server.crash()
            time.sleep(down)
            fleet.server.restart(timeout=60)
            record["down_seconds"] = round(down, 2)
        record["t_done"] = round(time.monotonic() - self.t0, 3)
        self.fault_log.append(record)
        log(f"fault {len(self.fault_log)}: {record['kind']} {record.get('worker', '')} at "
            f"t={record['t']} s, progress {record['progress']:.0%}, tasks:/ {record['tasks_counter']} ({fired_on})")

    # -- the run ---------------------------------------------------------------------------

    def run_job(self) -> None:
        a, fleet = self.args, self.fleet
        self.src = os.path.join(fleet.dir, "src")
        t = time.monotonic()
        self.expected = make_tree(self.src, a.seed, a.files, a.dirs, a.min_size, a.max_size)
        log(f"{len(self.expected)} files ({sum(s for s, _ in self.expected.values()) / 2**20:.1f} MiB) "
            f"in {a.dirs + 1} directories written in {time.monotonic() - t:.1f} s")
        self.hook_path = os.path.join(fleet.dir, "hooks.log")
        self.post_job_path = os.path.join(fleet.dir, "post_job.log")
        handler = fleet.write_file("chaos_handler.py", handler_text(a.operation, self.hook_path, self.post_job_path))
        self.hooks = HookLog(self.hook_path)
        schedule = fault_schedule(a)

        self.t0 = time.monotonic()
        run = fleet.start_job(self.src, TARGET, JOB, event_handler=handler, synchronous=False,
                              extra=["--files_per_task", str(a.files_per_task)], timeout=120)
        self.start_run = run
        if run.returncode != 0:
            raise RuntimeError(f"irods_sync start failed:\n{run.output}")
        log(f"job started in {run.seconds:.1f} s; {len(schedule)} faults planned")

        deadline = self.t0 + a.timeout
        first_task = None
        last_progress, last_change = -1.0, time.monotonic()
        pending = list(schedule)
        last_fault_done = None
        self.stuck = None
        quiet_sig, quiet_since = None, time.monotonic()
        while time.monotonic() < deadline:
            now = time.monotonic()
            if self.job_over():
                self.job_end = now
                break
            if not pending:
                sig = self.signature()
                if sig != quiet_sig:
                    quiet_sig, quiet_since = sig, now
                elif now - quiet_since >= a.quiet_limit:
                    self.stuck = {"quiet_seconds": round(now - quiet_since, 1), "state": sig}
                    log(f"nothing moved for {now - quiet_since:.0f} s after the last fault: giving up ({sig})")
                    break
            progress = self.progress()
            if progress != last_progress:
                last_progress, last_change = progress, now
            if first_task is None:
                try:
                    if self.state.call(lambda r: r.exists(f"tasks:/{JOB}"), patience=0.5):
                        first_task = now
                except Exception:
                    pass
            if pending and (last_fault_done is None or now - last_fault_done >= a.min_gap):
                fault = pending[0]
                fired_on = None
                if fault["phase"] == "scan":
                    if first_task is not None and now - first_task >= fault["at"]:
                        fired_on = "scan"
                elif progress >= fault["at"]:
                    fired_on = "progress"
                if fired_on is None and now - last_change >= a.stall and (first_task is not None or now - self.t0 > a.stall):
                    fired_on = "stall"
                if fired_on:
                    pending.pop(0)
                    self.inject(fault, fired_on)
                    last_fault_done = time.monotonic()
                    last_change = last_fault_done
                    continue
            time.sleep(0.02 if first_task is None or pending and pending[0]["phase"] == "scan" else 0.1)
        self.not_injected = pending
        if pending:
            log(f"{len(pending)} faults not injected (the job {'ended' if self.job_end else 'timed out'} first)")
        self.last_fault = (self.t0 + self.fault_log[-1]["t_done"]) if self.fault_log else None
        if self.job_end is not None:
            log(f"job ended {self.job_end - self.t0:.1f} s after its start")
        elif self.stuck is None:
            log(f"job did not end within {a.timeout} s")

    def signature(self):
        """What changes while a job makes progress (None while Redis is unreachable)."""
        try:
            return (self.hooks.poll(), self.state.call(lambda r: r.llen(f"dequeue:/{JOB}"), patience=1),
                    self.state.int_or_none(f"tasks:/{JOB}"), sum(self.queue_lengths().values()),
                    self.state.call(lambda r: r.hlen("unacked"), patience=1))
        except Exception:
            return None

    def settle(self) -> None:
        """After the job's end: give acks, post_job and lock releases a moment to land."""
        deadline = time.monotonic() + self.args.settle
        while time.monotonic() < deadline:
            try:
                queued = sum(self.queue_lengths().values())
                unacked = self.state.call(lambda r: r.hlen("unacked"), patience=1)
            except Exception:
                queued, unacked = 1, 1
            if queued == 0 and unacked == 0 and (self.job_end is None or read_lines(self.post_job_path)):
                return
            time.sleep(0.25)

    # -- reading the outcome ---------------------------------------------------------------

    def queue_lengths(self) -> dict:
        lengths = {}
        for queue in QUEUES.split(","):
            names = [queue] + [f"{queue}\x06\x16{p}" for p in (3, 6, 9)]
            lengths[queue] = self.state.call(lambda r: sum(r.llen(n) for n in names))
        return lengths

    def messages(self) -> dict:
        """Task messages that exist: queued (per queue) and unacked (delivery tag -> message)."""
        found = {"queued": [], "unacked": []}
        for queue in QUEUES.split(","):
            for name in [queue] + [f"{queue}\x06\x16{p}" for p in (3, 6, 9)]:
                for raw in self.state.call(lambda r: r.lrange(name, 0, -1)):
                    found["queued"].append(describe_message(raw, queue))
        for tag, raw in self.state.call(lambda r: r.hgetall("unacked")).items():
            try:
                envelope, _exchange, routing_key = json.loads(raw)
                m = describe_message(json.dumps(envelope), routing_key)
            except (ValueError, TypeError):
                m = {"id": None, "task": "undecodable", "queue": None}
            m["tag"] = tag.decode()
            found["unacked"].append(m)
        return found

    def check(self) -> dict:
        a, fleet = self.args, self.fleet
        checks = {}
        # Catalog and vault ------------------------------------------------------------------
        catalog = None
        for attempt in range(5):
            try:
                catalog = fleet.catalog(TARGET)
                break
            except Exception as err:  # the test server may still be coming back
                fleet._session = None
                last_err = err
                time.sleep(1)
        if catalog is None:
            raise RuntimeError(f"could not read the catalog: {last_err!r}")
        objects = catalog["data_objects"]
        want = {f"{TARGET}/{rel}": rel for rel in self.expected}
        lost = sorted(set(want) - set(objects))
        extra = sorted(set(objects) - set(want))
        extra_replicas = {p: len(o["replicas"]) - 1 for p, o in objects.items() if p in want and len(o["replicas"]) > 1}
        half = []
        for path, rel in want.items():
            obj = objects.get(path)
            if obj is None:
                continue
            size, digest = self.expected[rel]
            source = os.path.join(self.src, rel)
            for rep in obj["replicas"]:
                problems = []
                if int(rep["size"]) != size:
                    problems.append(f"catalog size {rep['size']} != {size}")
                if str(rep["status"]) != "1":
                    problems.append(f"replica status {rep['status']!r} (not good)")
                if a.operation == "REGISTER_SYNC":
                    if rep["path"] != source:
                        problems.append(f"physical path {rep['path']} is not the source")
                else:
                    try:
                        with open(rep["path"], "rb") as f:
                            data = f.read()
                        if len(data) != size:
                            problems.append(f"vault file has {len(data)} bytes, source {size}")
                        elif hashlib.sha256(data).hexdigest() != digest:
                            problems.append("vault file sha256 differs from the source")
                    except OSError as err:
                        problems.append(f"vault file unreadable: {err.strerror} ({rep['path']})")
                if problems:
                    half.append({"object": path, "replica": rep["number"], "catalog_size": rep["size"],
                                 "source_size": size, "status": rep["status"], "problems": problems})
        orphans = []
        if a.operation != "REGISTER_SYNC":
            referenced = {os.path.realpath(rep["path"]) for o in objects.values() for rep in o["replicas"]}
            for rel in fleet.vault_files():
                if os.path.realpath(os.path.join(fleet.vault_root, rel)) not in referenced:
                    orphans.append(rel)
        duplicates = len(extra) + sum(extra_replicas.values())

        # Redis ---------------------------------------------------------------------------------
        st = self.state
        tasks = st.int_or_none(f"tasks:/{JOB}")
        failures = st.int_or_none(f"failures:/{JOB}")
        retries = st.int_or_none(f"retries:/{JOB}")
        cleanup = st.call(lambda r: r.get(f"cleanup:/{JOB}"))
        singlepass = JOB.encode() in st.call(lambda r: r.lrange("singlepass", 0, -1))
        counted = [x.decode() for x in st.call(lambda r: r.lrange(f"count:/{JOB}", 0, -1))]
        finished = [x.decode() for x in st.call(lambda r: r.lrange(f"dequeue:/{JOB}", 0, -1))]
        queues = self.queue_lengths()
        msgs = self.messages()
        lock_keys = sorted(k.decode("utf-8", "surrogateescape") for k in st.call(lambda r: list(r.scan_iter(match="lock:*", count=1000))))
        lock_ttls = {k: st.call(lambda r: r.ttl(k.encode("utf-8", "surrogateescape"))) for k in lock_keys}
        no_ttl = sorted(k for k, t in lock_ttls.items() if t == -1)
        post_job_lines = read_lines(self.post_job_path)
        outstanding = set(counted) - set(finished)
        message_ids = collections.Counter(m["id"] for m in msgs["queued"] + msgs["unacked"])
        finished_twice = sorted(i for i, n in collections.Counter(finished).items() if n > 1)
        dead = [f"{w.name} (exit {w.process.returncode})" for w in fleet.dead_workers()]
        dead += [f"{f['worker']} (found exited when fault {i} was to kill it)"
                 for i, f in enumerate(self.fault_log, 1) if f["kind"] == "kill" and not f["worker_was_alive"]]

        ended = self.job_end is not None and cleanup is None and tasks in (0, None) and not singlepass
        if self.job_end:
            why = ""
        elif self.stuck:
            why = f"; stuck: nothing moved for {self.stuck['quiet_seconds']:.0f} s after the last fault"
        else:
            why = f"; no end within {a.timeout:.0f} s"
        checks["job_ended"] = ok(ended, f"cleanup:/ {'present' if cleanup is not None else 'gone'}, tasks:/ {tasks}, "
                                        f"singlepass {'lists' if singlepass else 'does not list'} the job" + why)
        if a.end_within is not None:
            gap = None if self.job_end is None or self.last_fault is None else self.job_end - self.last_fault
            checks["ended_promptly"] = ok(self.job_end is not None and (gap is None or gap <= a.end_within),
                                          f"job end {'never came' if self.job_end is None else f'{gap:.1f} s after the last fault' if gap is not None else 'with no fault'}"
                                          f" (limit {a.end_within:g} s)")
        missed = len(getattr(self, "not_injected", []))
        checks["all_faults_injected"] = ok(missed == 0, f"{len(self.fault_log)} of {len(self.fault_log) + missed} planned faults injected"
                                           + (f"; the job ended before the other {missed} (raise --files)" if missed and self.job_end else ""))
        checks["no_lost_files"] = ok(not lost, f"{len(lost)} of {len(want)} files have no data object"
                                     + (f", e.g. {', '.join(x[len(TARGET) + 1:] for x in lost[:5])}" if lost else ""))
        checks["no_half_written"] = ok(not half, f"{len(half)} replicas wrong"
                                       + (f", e.g. {half[:3]}" if half else ""))
        checks["no_duplicates"] = ok(duplicates == 0, f"{len(extra)} unexpected objects, {sum(extra_replicas.values())} extra replicas"
                                     + (f", e.g. {(extra + list(extra_replicas))[:5]}" if duplicates else ""))
        checks["post_job_once"] = ok(post_job_lines == [f"post_job {JOB}"], f"post_job lines: {post_job_lines[:5]}")
        checks["locks_have_ttl"] = ok(not no_ttl, f"{len(lock_keys)} lock keys left, {len(no_ttl)} without TTL"
                                      + (f", e.g. {no_ttl[:3]}" if no_ttl else ""))
        checks["no_failures"] = ok(not failures, f"failures:/ {failures}")
        checks["queues_empty"] = ok(sum(queues.values()) == 0, f"queued {queues}")
        checks["unacked_empty"] = ok(not msgs["unacked"], f"{len(msgs['unacked'])} messages in unacked")
        checks["workers_alive"] = ok(not dead, f"died by themselves: {dead}" if dead else "all running")

        self.report_core = {
            "files": len(want),
            "lost": len(lost),
            "half_written": len(half),
            "duplicates": duplicates,
            "failed_tasks": failures or 0,
            "retries": retries or 0,
            "orphan_vault_files": len(orphans),
        }
        by_name = collections.defaultdict(list)
        for m in msgs["unacked"]:
            by_name[m["task"]].append(m["id"])
        self.diagnosis = {
            "counters": {"tasks": tasks, "failures": failures, "retries": retries, "count": len(counted),
                         "dequeue": len(finished), "distinct_finished": len(set(finished)),
                         "finished_twice": len(finished_twice), "cleanup_present": cleanup is not None,
                         "singlepass": singlepass},
            "outstanding_tasks": len(outstanding),
            "outstanding_without_message": sorted(outstanding - set(message_ids)),
            "messages_of_finished_tasks": sorted(i for i in message_ids if i in set(finished)),
            "messages_not_counted": sorted(i for i in message_ids if i not in set(counted) and i is not None),
            "queued": queues,
            "unacked": {"total": len(msgs["unacked"]), "by_task": {k: len(v) for k, v in by_name.items()},
                        "sample": msgs["unacked"][:10]},
            "lock_keys": {k: lock_ttls[k] for k in lock_keys[:20]},
            "rust_transport_keys": rust_transport_keys(st),
            "lost_sample": [x[len(TARGET) + 1:] for x in lost[:20]],
            "lost_by_directory": dict(collections.Counter(os.path.dirname(x[len(TARGET) + 1:]) or "." for x in lost).most_common(20)),
            "lost_but_hooked": sum(1 for x in lost if self.hooks.by_target.get(x)),
            "half_written_sample": half[:10],
            "extra_objects_sample": extra[:10],
            "orphan_vault_sample": orphans[:10],
            "objects_hooked_more_than_once": sum(1 for n in self.hooks.by_target.values() if n > 1),
            "hooks_by_worker_pid": dict(self.hooks.by_group),
            "worker_logs": worker_log_summary(fleet),
            "task_traces": task_traces(fleet, sorted(outstanding)[:8]),
        }
        return checks

    # -- teardown --------------------------------------------------------------------------

    def preserve(self, report: dict) -> None:
        """Copy what dies with the services into the fleet directory (redis.log, a state dump)."""
        fleet = self.fleet
        try:
            shutil.copy(os.path.join(fleet.redis_server.dir, "redis.log"), os.path.join(fleet.dir, "redis.log"))
        except (OSError, TypeError):
            pass
        try:
            with open(os.path.join(fleet.dir, "redis-state.json"), "w") as f:
                json.dump(dump_redis(self.state), f, indent=1, sort_keys=True)
        except Exception as err:
            self.notes.append(f"could not dump Redis state: {err!r}")
        with open(os.path.join(fleet.dir, "report.json"), "w") as f:
            json.dump(report, f, indent=1)


def binary_identity(path: str) -> dict:
    """Which build ran: modification time and sha256 prefix (binaries are rebuilt between runs)."""
    st = os.stat(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"mtime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime)), "sha256": digest.hexdigest()[:16]}


def ok(passed: bool, detail: str) -> dict:
    return {"ok": bool(passed), "detail": detail}


def read_lines(path: str) -> list:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return [line.rstrip("\n") for line in f]
    except FileNotFoundError:
        return []


def describe_message(raw, queue) -> dict:
    try:
        envelope = json.loads(raw)
        headers = envelope.get("headers", {})
        return {"id": headers.get("id"), "task": headers.get("task"), "queue": queue,
                "retries": headers.get("retries"), "redelivered": envelope.get("properties", {}).get("delivery_info", {}).get("redelivered")
                or envelope.get("properties", {}).get("redelivered")}
    except (ValueError, TypeError, AttributeError):
        return {"id": None, "task": "undecodable", "queue": queue}


def rust_transport_keys(state: State) -> dict:
    """The Rust transport's own bookkeeping (peers, held/taking/recovering records)."""
    out = {}
    for key in state.call(lambda r: list(r.scan_iter(match="celery-proto.*", count=1000))):
        name = key.decode("utf-8", "replace")
        kind = state.call(lambda r: r.type(key)).decode()
        if kind == "hash":
            value = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
                     for k, v in state.call(lambda r: r.hgetall(key)).items()} if name.endswith("peers") else \
                state.call(lambda r: r.hlen(key))
        elif kind == "set":
            value = state.call(lambda r: r.scard(key))
        elif kind == "list":
            value = state.call(lambda r: r.llen(key))
        elif kind == "zset":
            value = state.call(lambda r: r.zcard(key))
        else:
            value = kind
        out[name] = value
    return out


def dump_redis(state: State) -> dict:
    """Every key but the sync_time cache and the handler sources, with its type and a bounded value."""
    out = {}
    for key in state.call(lambda r: list(r.scan_iter(count=1000))):
        name = key.decode("utf-8", "surrogateescape")
        if name.startswith(("sync_time:/", "custom_event_handler:/")):
            continue
        kind = state.call(lambda r: r.type(key)).decode()
        ttl = state.call(lambda r: r.ttl(key))
        if kind == "string":
            v = state.call(lambda r: r.get(key))
            value = v[:500].decode("utf-8", "replace")
        elif kind == "list":
            value = [x[:300].decode("utf-8", "replace") for x in state.call(lambda r: r.lrange(key, 0, 200))]
        elif kind == "hash":
            value = {k.decode("utf-8", "replace"): v[:300].decode("utf-8", "replace")
                     for k, v in list(state.call(lambda r: r.hgetall(key)).items())[:200]}
        elif kind == "set":
            value = sorted(x.decode("utf-8", "replace") for x in state.call(lambda r: r.smembers(key)))[:200]
        elif kind == "zset":
            value = [[m.decode("utf-8", "replace"), s] for m, s in state.call(lambda r: r.zrange(key, 0, 200, withscores=True))]
        else:
            value = kind
        out[name] = {"type": kind, "ttl": ttl, "value": value}
    return out


ERROR_WORDS = ("ERROR", "panicked", "Traceback", "CRITICAL", " WARN", "WARNING")


def worker_log_summary(fleet) -> dict:
    """Per worker log: how many error/warning lines, and the most frequent distinct ones."""
    import re
    summary = {}
    for path in sorted(p for p in os.listdir(fleet.dir) if p.startswith("worker-") and p.endswith(".log")):
        text = open(os.path.join(fleet.dir, path), "rb").read().decode("utf-8", "replace")
        lines = [l for l in text.splitlines() if any(w in l for w in ERROR_WORDS)]
        shapes = collections.Counter()
        for line in lines:
            shape = re.sub(r"^\S+\s+(\S+\s+)?", "", line)   # leading timestamp
            shape = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", shape)
            shape = re.sub(r"\d+", "N", shape)[:240]
            shapes[shape] += 1
        errors = [l.strip()[:400] for l in lines if " ERROR " in l or "panicked" in l or "CRITICAL" in l]
        summary[path] = {"lines": len(text.splitlines()), "error_or_warning_lines": len(lines),
                         "lives": len(re.findall(r"\bready\b", text)), "top": shapes.most_common(8),
                         "errors_sample": errors[:10]}
    return summary


def task_traces(fleet, ids: list) -> dict:
    """For a few unfinished task ids: the worker-log and job-log lines that mention them."""
    if not ids:
        return {}
    logs = [p for p in os.listdir(fleet.dir) if p.endswith(".log") and (p.startswith("worker-") or p.startswith("job-"))]
    traces = {i: [] for i in ids}
    for name in sorted(logs):
        with open(os.path.join(fleet.dir, name), "rb") as f:
            for raw in f:
                line = raw.decode("utf-8", "replace")
                for i in ids:
                    if i in line and len(traces[i]) < 12:
                        traces[i].append(f"{name}: {line.strip()[:300]}")
    return traces


# ---- report ----------------------------------------------------------------------------------

def build_report(chaos: Chaos, checks: dict, wall: float) -> dict:
    a = chaos.args
    kinds = collections.Counter(f["kind"] for f in chaos.fault_log)
    last_to_end = None
    if chaos.job_end is not None and chaos.last_fault is not None:
        last_to_end = round(chaos.job_end - chaos.last_fault, 2)
    report = {
        "seed": a.seed,
        "parameters": {k: v for k, v in vars(a).items() if k not in ("json_path", "kill_kind_list")},
        "binaries": chaos.binaries,
        "faults": {"kill": kinds["kill"], "redis": kinds["redis"], "irods": kinds["irods"],
                   "total": len(chaos.fault_log), "not_injected": len(getattr(chaos, "not_injected", []))},
        "fault_log": chaos.fault_log,
        **chaos.report_core,
        "job_ended": chaos.job_end is not None,
        "job_seconds": round(chaos.job_end - chaos.t0, 2) if chaos.job_end else None,
        "stuck": chaos.stuck,
        "last_fault_to_end_seconds": last_to_end,
        "run_seconds": round(wall, 1),
        "checks": checks,
        "passed": all(c["ok"] for c in checks.values()),
        "diagnosis": chaos.diagnosis,
        "notes": chaos.notes,
        "fleet_dir": chaos.fleet.dir,
    }
    return report


def print_summary(report: dict) -> None:
    p = report["parameters"]
    f = report["faults"]
    fleet = f"{p['workers']} Rust" + (f" + {p['python_workers']} Python" if p["python_workers"] else "")
    print(f"chaos seed {report['seed']}: {report['files']} files ({p['min_size']}-{p['max_size']} B, {p['dirs']} dirs), "
          f"{p['operation']}, {fleet} workers -c {p['concurrency']}, dead-worker-after {p['dead_worker_after']}")
    print(f"  faults injected: {f['total']} ({f['kill']} worker kills, {f['redis']} Redis crashes, "
          f"{f['irods']} iRODS crashes{', %d not injected' % f['not_injected'] if f['not_injected'] else ''})")
    print(f"  lost {report['lost']}, half-written {report['half_written']}, duplicates {report['duplicates']}, "
          f"failed tasks {report['failed_tasks']}, retries {report['retries']}, orphan vault files {report['orphan_vault_files']}")
    js = report["job_seconds"]
    print(f"  job {'ended after %.1f s' % js if js is not None else 'DID NOT END'}; "
          f"last fault to job end: {report['last_fault_to_end_seconds']} s")
    for name, c in report["checks"].items():
        print(f"  [{'ok' if c['ok'] else 'FAIL'}] {name}: {c['detail']}")
    d = report["diagnosis"]
    if not report["passed"]:
        print(f"  counters {d['counters']}; outstanding {d['outstanding_tasks']}, "
              f"without a message {len(d['outstanding_without_message'])}; unacked {d['unacked']['by_task']}")
    print(f"  {'PASS' if report['passed'] else 'FAIL'}" + (f"  (fleet kept in {report['fleet_dir']})" if report.get("kept") else ""))


def _interrupted(signum, _frame):
    """SIGTERM/SIGINT (e.g. from `timeout`): stop the fleet on the way out, or redis-server and the
    test server would outlive the harness. Further signals are ignored while it stops."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    for binary in (rust_worker_binary(), testserver_binary()):
        if not os.path.exists(binary):
            print(f"chaos: {binary} is missing (cargo build --release --bins)", file=sys.stderr)
            return 2
    started = time.monotonic()
    chaos = Chaos(args)
    chaos.binaries = {path: binary_identity(path) for path in (rust_worker_binary(), testserver_binary())}
    report = None
    keep = args.keep
    try:
        chaos.start_fleet()
        chaos.run_job()
        chaos.settle()
        checks = chaos.check()
        report = build_report(chaos, checks, time.monotonic() - started)
        for path, ident in chaos.binaries.items():
            if binary_identity(path) != ident:
                chaos.notes.append(f"{path} changed during the run (workers restarted later ran the new build)")
        keep = keep or (args.keep_failed and not report["passed"])
        report["kept"] = keep
        if keep:
            chaos.preserve(report)
    except BaseException:
        keep = True
        if chaos.fleet is not None and chaos.fleet.dir:
            print(f"chaos: failed; fleet kept in {chaos.fleet.dir}", file=sys.stderr)
        raise
    finally:
        if chaos.fleet is not None:
            reports = chaos.fleet.stop(keep=keep)
            if report is not None:
                report["worker_stop"] = reports
                if not keep:
                    report["fleet_dir"] = None
    if args.json_path:
        os.makedirs(os.path.dirname(os.path.abspath(args.json_path)), exist_ok=True)
        with open(args.json_path, "w") as f:
            json.dump(report, f, indent=1)
    print_summary(report)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as err:
        print(f"chaos: interrupted ({err}); the fleet was stopped", file=sys.stderr)
        sys.exit(130)
