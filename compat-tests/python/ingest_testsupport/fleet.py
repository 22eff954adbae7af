"""A worker fleet on private services: the harness for parity, mixed-fleet and bench runs.

One :class:`Fleet` owns everything a real ingest needs and nothing anyone else uses:

* a private ``redis-server`` (broker and job state, :class:`RedisServer`),
* the project's iRODS test server (:class:`IrodsTestServer`, binary from ``IRODS_TESTSERVER`` or
  ``target/release/irods-testserver``), with extra resources created through the admin API,
* workers on the queues ``restart,path,file``: the reference's Python Celery workers
  (``workers="python"``), the Rust ``irods-ingest worker`` (``"rust"``, binary from
  ``IRODS_INGEST`` or ``target/release/irods-ingest``), or one of each (``"mixed"``),
* a directory holding the workers' logs, the jobs' ``--log_filename`` files, a private ``TMPDIR``
  and the test server's data. It is removed on a clean exit and kept (its path printed) when the
  ``with`` block raised, when ``stop(keep=True)`` is called, or when ``INGEST_FLEET_KEEP=1``.

Jobs are started with the reference CLI (``irods_sync start``), exactly as users do, so the
workers under test never talk to anything but real peers. What landed is read back through
python-irodsclient (:meth:`Fleet.catalog`) and from Redis (:meth:`Fleet.job_counters`,
:meth:`Fleet.state_keys`); :func:`normalise` makes two runs' snapshots comparable.

::

    with Fleet(workers="python", concurrency=2) as fleet:
        run = fleet.start_job(src, "/tempZone/home/rods/x", "job1", event_handler=handler_path)
        assert run.returncode == 0, run.output
        snapshot = fleet.catalog("/tempZone/home/rods/x")
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from .redis_server import RedisServer
from .testserver import IrodsTestServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
QUEUES = "restart,path,file"
ZONE_HOME = "/tempZone/home/rods"
TRASH_HOME = "/tempZone/trash/home/rods"
WORKER_KINDS = ("python", "rust")


def testserver_binary() -> str:
    return os.environ.get("IRODS_TESTSERVER") or os.path.join(ROOT, "target", "release", "irods-testserver")


def rust_worker_binary() -> str:
    return os.environ.get("IRODS_INGEST") or os.path.join(ROOT, "target", "release", "irods-ingest")


def rust_worker_status() -> tuple[bool, str]:
    """Whether ``irods-ingest worker`` exists yet, judged by running ``irods-ingest worker --help``.

    Returns ``(works, first line of its output)``. Tests use it to mark Rust runs as expected
    failures while the binary still bails, never to skip a check once it runs.
    """
    binary = rust_worker_binary()
    if not os.path.exists(binary):
        return False, f"{binary} does not exist"
    try:
        run = subprocess.run([binary, "worker", "--help"], capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, RUST_BACKTRACE="0"))
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"{binary} worker --help: {err}"
    text = (run.stdout + run.stderr).strip()
    first = text.splitlines()[0] if text else ""
    return run.returncode == 0, first


def _die_with_parent() -> None:
    """``preexec_fn`` for the processes a fleet starts in their own session: SIGKILL them when the
    test process dies (e.g. killed by an outer timeout), so no worker or CLI is left behind."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class FleetError(RuntimeError):
    """A fleet could not be started, or one of its workers died at start."""


@dataclasses.dataclass
class Worker:
    """One worker process (a Celery master with its pool, or one ``irods-ingest worker``)."""

    kind: str
    name: str
    concurrency: int
    command: list
    log_path: str
    process: subprocess.Popen
    ready: bool = False
    stop_report: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@dataclasses.dataclass
class JobRun:
    """The outcome of one ``irods_sync start``."""

    job_name: str
    command: list
    returncode: int | None
    stdout: str
    stderr: str
    log_path: str
    seconds: float
    timed_out: bool = False

    @property
    def output(self) -> str:
        return (f"$ {' '.join(self.command)}\nexit status {self.returncode}"
                f"{' (timed out)' if self.timed_out else ''}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}")


class Fleet:
    """Private Redis + iRODS test server + workers; see the module documentation.

    ``workers``: ``"python"``, ``"rust"`` or ``"mixed"`` (one of each; ``concurrency`` each).
    ``resources``: extra storage resources, ``"name"`` or ``("name", "type")`` or
    ``("name", "type", "parent")``, created through python-irodsclient's admin API before any
    worker starts (vaults inside the fleet directory).
    ``extra_worker_args``: appended to every worker command; ``rust_args`` / ``python_args``: only
    to the Rust / Python workers' (e.g. ``rust_args=["--lock-expiry", "20"]``).
    ``env``: extra variables for workers and the CLI.
    ``redis_appendonly``: run the private Redis with an append-only file (``appendfsync always``),
    so that ``fleet.redis_server.crash()`` + ``restart()`` keep the broker's and the jobs' state.
    """

    def __init__(self, workers: str = "python", concurrency: int = 2, *, resources=(), extra_worker_args=(),
                 rust_args=(), python_args=(), env: dict | None = None, base_dir: str | None = None, ready_timeout: float = 60.0,
                 stop_timeout: float = 60.0, name: str | None = None, redis_appendonly: bool = False):
        if workers not in ("python", "rust", "mixed"):
            raise ValueError(f"workers must be python, rust or mixed, not {workers!r}")
        self.kind = workers
        self.concurrency = concurrency
        self.resources = list(resources)
        self.extra_worker_args = list(extra_worker_args)
        self.kind_args = {"rust": list(rust_args), "python": list(python_args)}
        self.extra_env = dict(env or {})
        self.base_dir = base_dir or os.environ.get("INGEST_FLEET_DIR")
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.id = name or uuid.uuid4().hex[:8]
        self.redis_appendonly = redis_appendonly
        self.dir = None
        self.tmpdir = None
        self.redis_server = None
        self.server = None
        self.env = None
        self.workers: list[Worker] = []
        self._redis = None
        self._session = None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> "Fleet":
        if self.base_dir:
            os.makedirs(self.base_dir, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=f"ingest-fleet-{self.kind}-", dir=self.base_dir)
        self.tmpdir = os.path.join(self.dir, "tmp")
        os.makedirs(self.tmpdir)
        try:
            self.redis_server = RedisServer(appendonly=self.redis_appendonly).start()
            self.server = IrodsTestServer(testserver_binary(), data_dir=os.path.join(self.dir, "irods")).start()
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith("IRODS_") and k not in ("CELERY_BROKER_URL", "TMPDIR")}
            env.update(self.server.environ())
            env["CELERY_BROKER_URL"] = self.redis_server.url(0)
            env["TMPDIR"] = self.tmpdir
            env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
            env["PYTHONUNBUFFERED"] = "1"
            env.update(self.extra_env)
            self.env = env
            for resource in self.resources:
                self.create_resource(*((resource,) if isinstance(resource, str) else resource))
            kinds = ["python", "rust"] if self.kind == "mixed" else [self.kind]
            for kind in kinds:
                self.add_worker(kind)
        except BaseException:
            self.stop(keep=True)
            raise
        return self

    def __enter__(self) -> "Fleet":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop(keep=exc_type is not None)

    def stop(self, keep: bool = False) -> list[str]:
        """Stop every worker (SIGINT, bounded wait, then SIGKILL), then the services.

        Returns the workers' stop reports. The fleet directory is kept (and its path printed) when
        ``keep`` is true, when ``INGEST_FLEET_KEEP`` is set, or when a worker had to be killed.
        """
        reports = []
        for worker in self.workers:
            if worker.stop_report is None:
                self.stop_worker(worker)
            reports.append(f"{worker.name}: {worker.stop_report}")
        killed = any("SIGKILL after" in (w.stop_report or "") for w in self.workers)
        if self._session is not None:
            self._session.cleanup()
            self._session = None
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.redis_server is not None:
            self.redis_server.stop()
            self.redis_server = None
        if self.dir is not None:
            if keep or killed or os.environ.get("INGEST_FLEET_KEEP"):
                print(f"\n[fleet {self.kind}] kept logs in {self.dir}" + "".join(f"\n  {r}" for r in reports),
                      file=sys.stderr)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
        return reports

    # ---- workers ---------------------------------------------------------------------------

    def worker_command(self, kind: str, name: str, concurrency: int) -> list:
        if kind == "python":
            cmd = [os.path.join(VENV_BIN, "celery"), "-A", "irods_capability_automated_ingest", "worker"]
        elif kind == "rust":
            cmd = [rust_worker_binary(), "worker"]
        else:
            raise ValueError(f"unknown worker kind {kind!r}")
        return (cmd + ["-c", str(concurrency), "-l", "info", "-Q", QUEUES, "-n", f"{name}@%h"]
                + self.kind_args[kind] + self.extra_worker_args)

    def add_worker(self, kind: str, concurrency: int | None = None, wait_ready: bool = True) -> Worker:
        """Start one more worker of ``kind`` on the fleet's queues (its own process group)."""
        concurrency = concurrency or self.concurrency
        name = f"{kind}{len(self.workers) + 1}-{self.id}"
        command = self.worker_command(kind, name, concurrency)
        log_path = os.path.join(self.dir, f"worker-{name}.log")
        log = open(log_path, "ab")
        try:
            process = subprocess.Popen(command, env=self.env, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                       preexec_fn=_die_with_parent)
        finally:
            log.close()
        worker = Worker(kind, name, concurrency, command, log_path, process)
        self.workers.append(worker)
        if wait_ready:
            self._wait_ready(worker)
        return worker

    def _wait_ready(self, worker: Worker) -> None:
        # Python Celery logs "celery@<name> ready."; for other workers a "ready" line is accepted
        # too, and a worker that stays up without saying so is used anyway (noted in its report).
        deadline = time.monotonic() + self.ready_timeout
        pattern = re.compile(r"\bready\b", re.IGNORECASE)
        while time.monotonic() < deadline:
            if not worker.alive():
                worker.stop_report = f"exited at start with status {worker.process.returncode}"
                raise FleetError(f"{worker.kind} worker {worker.name} exited at start (status "
                                 f"{worker.process.returncode}); log {worker.log_path}:\n{worker.log_tail()}")
            if pattern.search(worker.log_text()):
                worker.ready = True
                return
            time.sleep(0.1)
        print(f"[fleet] {worker.name} is running but logged no 'ready' line within {self.ready_timeout} s",
              file=sys.stderr)

    def stop_worker(self, worker: Worker, timeout: float | None = None) -> str:
        """Warm shutdown: SIGINT, wait up to ``timeout`` s, then SIGKILL the process group."""
        timeout = self.stop_timeout if timeout is None else timeout
        if not worker.alive():
            worker.stop_report = worker.stop_report or f"had already exited with status {worker.process.returncode}"
            return worker.stop_report
        started = time.monotonic()
        worker.process.send_signal(signal.SIGINT)
        try:
            worker.process.wait(timeout=timeout)
            worker.stop_report = (f"exited with status {worker.process.returncode} "
                                  f"{time.monotonic() - started:.1f} s after SIGINT")
        except subprocess.TimeoutExpired:
            self._kill_group(worker)
            worker.stop_report = f"SIGKILL after no exit within {timeout} s of SIGINT"
        self._reap_group(worker)
        return worker.stop_report

    def restart_worker(self, worker: Worker) -> Worker:
        """Start ``worker`` again with the same command, node name (``-n``) and log file, as a
        supervisor restarting a crashed worker would. The new :class:`Worker` takes the old one's
        place in :attr:`workers`. The old process must have exited (e.g. :meth:`kill_worker`). It
        is not waited for: the log already holds the previous life's "ready" line."""
        if worker.alive():
            raise FleetError(f"{worker.name} is still running")
        log = open(worker.log_path, "ab")
        try:
            process = subprocess.Popen(worker.command, env=self.env, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                       preexec_fn=_die_with_parent)
        finally:
            log.close()
        fresh = Worker(worker.kind, worker.name, worker.concurrency, worker.command, worker.log_path, process)
        try:
            self.workers[self.workers.index(worker)] = fresh
        except ValueError:
            self.workers.append(fresh)
        return fresh

    def kill_worker(self, worker: Worker) -> None:
        """SIGKILL the worker's whole process group at once (a crash, for recovery tests)."""
        self._kill_group(worker)
        worker.stop_report = "SIGKILLed on purpose"

    def _kill_group(self, worker: Worker) -> None:
        try:
            os.killpg(worker.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        worker.process.wait()

    @staticmethod
    def _reap_group(worker: Worker) -> None:
        # Pool children that outlive their master (they should not) are ended with it.
        try:
            os.killpg(worker.process.pid, 0)
        except ProcessLookupError:
            return
        try:
            os.killpg(worker.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        worker.stop_report += "; leftover pool processes SIGKILLed"

    # ---- iRODS -----------------------------------------------------------------------------

    @property
    def vault_root(self) -> str:
        """The test server's data directory: every resource's vault is below it."""
        return self.server.data_dir

    def vault_files(self) -> dict:
        """Every file below the test server's vaults: path relative to the vault root -> size."""
        found = {}
        for vault in sorted(os.listdir(self.vault_root)):
            top = os.path.join(self.vault_root, vault)
            if not os.path.isdir(top) or not (vault == "Vault" or vault.endswith("_vault")):
                continue
            for dirpath, _, filenames in os.walk(top):
                for name in filenames:
                    path = os.path.join(dirpath, name)
                    found[os.path.relpath(path, self.vault_root)] = os.lstat(path).st_size
        return dict(sorted(found.items()))

    def session(self):
        """A python-irodsclient session as ``rods`` (kept open for the fleet's life)."""
        if self._session is None:
            from irods.session import iRODSSession
            env = self.env
            self._session = iRODSSession(host=env["IRODS_HOST"], port=int(env["IRODS_PORT"]),
                                         user=env["IRODS_USER_NAME"], password=env["IRODS_PASSWORD"],
                                         zone=env["IRODS_ZONE_NAME"])
        return self._session

    def create_resource(self, name: str, resource_type: str = "unixfilesystem", parent: str | None = None) -> None:
        session = self.session()
        host = session.resources.get("demoResc").location
        vault = os.path.join(self.vault_root, f"{name}_vault") if resource_type == "unixfilesystem" else ""
        session.resources.create(name, resource_type, host if vault else "EMPTY_RESC_HOST", vault)
        if parent:
            session.resources.add_child(parent, name)

    def catalog(self, target: str, *, modify_times: bool = False) -> dict:
        """Everything under collection ``target`` (itself included), sorted, checksum-free.

        ``{"collections": {path: [avu, ...]}, "data_objects": {path: {"replicas": [...], "avus": [...]}}}``
        where a replica is ``{"number", "resource", "hierarchy", "path", "status", "size"}`` (plus
        ``"modify"`` with ``modify_times``) and an AVU is ``[name, value, units]``. Read with GenQuery
        so that 10,000 objects take a few queries, not tens of thousands of round trips.
        """
        from irods.column import Like
        from irods.models import Collection, CollectionMeta, DataObject, DataObjectMeta

        session = self.session()

        def under(name: str) -> bool:
            return name == target or name.startswith(target.rstrip("/") + "/")

        def rows(*columns, meta=False):
            query = session.query(*columns).filter(Like(Collection.name, target.rstrip("/") + "%"))
            return [r for r in query.get_results() if under(r[Collection.name])]

        collections = {r[Collection.name]: [] for r in rows(Collection.name)}
        for r in rows(Collection.name, CollectionMeta.name, CollectionMeta.value, CollectionMeta.units):
            collections.setdefault(r[Collection.name], []).append(
                [r[CollectionMeta.name], r[CollectionMeta.value], r[CollectionMeta.units] or ""])
        objects = {}
        columns = [Collection.name, DataObject.name, DataObject.replica_number, DataObject.resource_name,
                   DataObject.resc_hier, DataObject.path, DataObject.replica_status, DataObject.size,
                   DataObject.modify_time]
        for r in rows(*columns):
            path = f"{r[Collection.name]}/{r[DataObject.name]}"
            replica = {"number": r[DataObject.replica_number], "resource": r[DataObject.resource_name],
                       "hierarchy": r[DataObject.resc_hier], "path": r[DataObject.path],
                       "status": r[DataObject.replica_status], "size": r[DataObject.size]}
            if modify_times:
                modify = r[DataObject.modify_time]
                replica["modify"] = int(modify.timestamp()) if hasattr(modify, "timestamp") else modify
            objects.setdefault(path, {"replicas": [], "avus": []})["replicas"].append(replica)
        for r in rows(Collection.name, DataObject.name, DataObjectMeta.name, DataObjectMeta.value,
                      DataObjectMeta.units):
            path = f"{r[Collection.name]}/{r[DataObject.name]}"
            objects.setdefault(path, {"replicas": [], "avus": []})["avus"].append(
                [r[DataObjectMeta.name], r[DataObjectMeta.value], r[DataObjectMeta.units] or ""])
        for avus in collections.values():
            avus.sort()
        for obj in objects.values():
            obj["replicas"].sort(key=lambda rep: rep["number"])
            obj["avus"].sort()
        return {"collections": dict(sorted(collections.items())), "data_objects": dict(sorted(objects.items()))}

    # ---- Redis -----------------------------------------------------------------------------

    @property
    def redis(self):
        """A redis-py client on the fleet's database 0 (broker and job state)."""
        if self._redis is None:
            import redis
            self._redis = redis.Redis.from_url(self.redis_server.url(0))
        return self._redis

    def job_counters(self, job_name: str) -> dict:
        """The job's bookkeeping as the reference keeps it (reference-ingest.md §4.2).

        ``tasks``/``failures``/``retries``: int, or None when the key is absent; ``count`` and
        ``dequeue``: list lengths; ``singlepass``/``periodic``: whether the name is listed;
        ``cleanup``: the ``cleanup:/`` value (None when absent, i.e. the job is over).
        """
        r = self.redis

        def number(key):
            value = r.get(key)
            return None if value is None else int(value)

        cleanup = r.get(f"cleanup:/{job_name}")
        return {
            "tasks": number(f"tasks:/{job_name}"),
            "count": r.llen(f"count:/{job_name}"),
            "dequeue": r.llen(f"dequeue:/{job_name}"),
            "failures": number(f"failures:/{job_name}"),
            "retries": number(f"retries:/{job_name}"),
            "singlepass": job_name.encode() in r.lrange("singlepass", 0, -1),
            "periodic": job_name.encode() in r.lrange("periodic", 0, -1),
            "cleanup": None if cleanup is None else cleanup.decode("utf-8", "surrogateescape"),
        }

    def state_keys(self) -> dict:
        """All ``sync_time:/`` keys and all ``lock:*`` keys (sorted byte strings decoded with
        surrogateescape, so undecodable paths stay distinct and comparable)."""
        def keys(pattern):
            return sorted(k.decode("utf-8", "surrogateescape") for k in self.redis.scan_iter(match=pattern, count=1000))

        return {"sync_time": keys("sync_time:/*"), "locks": keys("lock:*")}

    def queue_lengths(self) -> dict:
        """Messages waiting in the broker lists of the fleet's queues (kombu's priority lists included)."""
        lengths = {}
        for queue in QUEUES.split(","):
            names = [queue] + [f"{queue}\x06\x16{p}" for p in (3, 6, 9)]
            lengths[queue] = sum(self.redis.llen(n) for n in names)
        return lengths

    # ---- jobs ------------------------------------------------------------------------------

    def write_file(self, name: str, text: str) -> str:
        """Write a file (e.g. an event handler) into the fleet directory; returns its path."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def cli_command(self, cli: str = "python") -> list:
        """The job CLI: the reference's ``irods_sync`` (``"python"``) or ``irods-ingest`` (``"rust"``)."""
        if cli == "python":
            return [os.path.join(VENV_BIN, "python"), "-m", "irods_capability_automated_ingest.irods_sync"]
        if cli == "rust":
            return [rust_worker_binary()]
        raise ValueError(f"unknown cli {cli!r}")

    def run_cli(self, cli: str, *args, timeout: float = 120.0, env: dict | None = None) -> JobRun:
        """Run one job subcommand (``list``, ``stop JOB``, ...) of either CLI against this fleet."""
        cmd = self.cli_command(cli) + [os.fsdecode(a) for a in args]
        return self._run_cli_process(" ".join(args[:2]), cmd, None, timeout, {**self.env, **(env or {})})

    def start_job(self, src, target: str, job_name: str, event_handler: str | None = None, extra=(),
                  synchronous: bool = True, timeout: float = 300.0, cli: str = "python") -> JobRun:
        """Run ``irods_sync start SRC TARGET`` against this fleet (``cli="rust"``: ``irods-ingest start``).

        With ``synchronous`` the CLI waits for the job (``--synchronous``: exit 0, or 255 when
        ``failures:/`` is non-zero); otherwise it returns once the main task is queued (see
        :meth:`wait_job`). A CLI still running after ``timeout`` s is killed (``timed_out``).
        """
        log_path = os.path.join(self.dir, f"job-{job_name}.log")
        cmd = self.cli_command(cli) + ["start", os.fsdecode(src), target, "--job_name", job_name,
                                       "--log_filename", log_path]
        if synchronous:
            cmd.append("--synchronous")
        if event_handler is not None:
            cmd += ["--event_handler", event_handler]
        cmd += list(extra)
        return self._run_cli_process(job_name, cmd, log_path, timeout, self.env)

    def _run_cli_process(self, label: str, cmd: list, log_path, timeout: float, env: dict) -> JobRun:
        """Run one CLI process to its end; a process still running after ``timeout`` s is killed."""
        started = time.monotonic()
        process = subprocess.Popen(cmd, env=env, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                   preexec_fn=_die_with_parent)
        timed_out = False
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
        decode = lambda b: b.decode("utf-8", "replace")  # noqa: E731
        return JobRun(label, cmd, process.returncode, decode(out), decode(err), log_path,
                      time.monotonic() - started, timed_out)

    def wait_job(self, job_name: str, timeout: float = 300.0, poll: float = 0.5) -> dict:
        """Poll until the job is done as ``irods_sync`` judges it (``tasks:/`` absent or 0 and the
        job no longer listed), or until ``timeout``; returns the last :meth:`job_counters`."""
        deadline = time.monotonic() + timeout
        while True:
            counters = self.job_counters(job_name)
            done = not counters["tasks"] and not counters["singlepass"] and counters["cleanup"] is None
            if done or time.monotonic() >= deadline:
                return counters
            time.sleep(poll)

    def dead_workers(self) -> list[Worker]:
        return [w for w in self.workers if not w.alive() and w.stop_report is None]


# ---- snapshots -------------------------------------------------------------------------------

def normalise(value, replacements: dict):
    """Replace run-specific path prefixes (e.g. ``{src_root: "<SRC>", fleet.vault_root: "<VAULT>"}``)
    in every string of a snapshot (keys included), and inside base64 AVU values and
    ``irods_UnicodeEncodeError_<b64>`` names, which encode whole source paths."""
    ordered = sorted(replacements.items(), key=lambda kv: -len(kv[0]))

    def text(s: str) -> str:
        for old, new in ordered:
            s = s.replace(old, new)
        return s

    def b64(token: str) -> str:
        try:
            raw = base64.b64decode(token, validate=True)
        except ValueError:
            return token
        decoded = raw.decode("utf-8", "surrogateescape")
        changed = text(decoded)
        return f"b64({changed})" if changed != decoded else token

    def walk(v):
        if isinstance(v, str):
            v = re.sub(r"irods_UnicodeEncodeError_([A-Za-z0-9+/=]+)", lambda m: "irods_UnicodeEncodeError_"
                       + b64(m.group(1)), v)
            return text(v)
        if isinstance(v, dict):
            return {walk(k): walk(x) for k, x in v.items()}
        if isinstance(v, list):
            if len(v) == 3 and all(isinstance(x, str) for x in v) and v[0].startswith("irods::automated_ingest::"):
                return [v[0], b64(v[1]), v[2]]
            return [walk(x) for x in v]
        if isinstance(v, tuple):
            return tuple(walk(x) for x in v)
        return v

    return walk(value)


def event_handler_source(operation: str = "REGISTER_SYNC", delete_mode: str = "DO_NOT_DELETE",
                         to_resource: str | None = None, hook_log: str | None = None,
                         post_job_file: str | None = None, record_process_group: bool = False,
                         extra: str = "") -> str:
    """The text of a small ``event_handler.py`` in the reference's format.

    ``hook_log``: append ``<hook>\\t<meta target>\\t<meta path>`` for every data-object and
    collection post-hook (one ``write`` of one short line in append mode, so concurrent workers
    do not interleave); with ``record_process_group`` a fourth field is the hook's process group,
    which is the pid of the worker that ran it (each worker leads its own group). ``post_job_file``: ``post_job`` appends ``post_job <job_name>``.
    ``extra``: more class-body source, indented four spaces.
    """
    lines = [
        "from irods_capability_automated_ingest.core import Core",
        "from irods_capability_automated_ingest.utils import DeleteMode, Operation",
        "",
        "",
        "class event_handler(Core):",
        "    @staticmethod",
        "    def operation(session, meta, **options):",
        f"        return Operation.{operation}",
        "",
        "    @staticmethod",
        "    def delete_mode(meta):",
        f"        return DeleteMode.{delete_mode}",
    ]
    if to_resource is not None:
        lines += ["", "    @staticmethod", "    def to_resource(session, meta, **options):", f"        return {to_resource!r}"]
    if hook_log is not None:
        group = " + '\\t' + str(os.getpgrp())" if record_process_group else ""
        lines[4:4] = ["def _record(hook, meta):",
                      f"    with open({hook_log!r}, 'a', encoding='utf-8', errors='surrogateescape') as f:",
                      "        f.write(hook + '\\t' + str(meta.get('target')) + '\\t' + str(meta.get('path'))"
                      f"{group} + '\\n')",
                      "", ""]
        lines[0:0] = ["import os"]
        for hook in ("data_obj_create", "data_obj_modify", "coll_create", "coll_modify"):
            lines += ["", "    @staticmethod", f"    def post_{hook}(hdlr_mod, logger, session, meta, *args, **options):",
                      f"        _record('{hook}', meta)"]
        for hook in ("data_obj_delete", "coll_delete"):
            lines += ["", "    @staticmethod", f"    def post_{hook}(hdlr_mod, session, meta, *args, **options):",
                      f"        _record('{hook}', meta)"]
    if post_job_file is not None:
        lines += ["", "    @staticmethod", "    def post_job(hdlr_mod, logger, meta):",
                  f"        with open({post_job_file!r}, 'a') as f:",
                  "            f.write('post_job ' + meta['job_name'] + '\\n')"]
    if extra:
        lines += ["", extra.rstrip()]
    return "\n".join(lines) + "\n"
