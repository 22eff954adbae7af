"""Ingest benchmark: the reference's Python Celery worker fleet against the Rust worker fleet.

Jobs are started by the reference CLI (``irods_sync start ... --synchronous``) exactly as a user
would; only the fleet that consumes the tasks changes. Both fleets run in the same invocation, on
the same machine, against the same redis-server and irods-testserver binaries, each scenario group
on freshly started private instances so that no state leaks from one fleet to the other.

Scenarios:
  register  N small files registered in place (REGISTER_SYNC, the CLI's default handler)
  rescan    the same job again on the unchanged tree: every file is skipped by the sync_time cache
  put       M files of 4 KiB uploaded into the vault (an event handler returning Operation.PUT)

Measured per fleet and scenario: wall-clock files/s, worker CPU per file (process tree, forked
pool children included), Redis commands per file (INFO commandstats), peak worker memory and the
test server's CPU per file. See bench/ingest/README.md.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
sys.path.insert(0, os.path.join(ROOT, "compat-tests", "python"))
sys.path.insert(0, HERE)

from ingest_testsupport import Fleet, FleetError, rust_worker_status  # noqa: E402

import measure  # noqa: E402
import report  # noqa: E402

ZONE_HOME = "/tempZone/home/rods"
PUT_HANDLER = os.path.join(HERE, "put_handler.py")
HOOKS_HANDLER = os.path.join(HERE, "hooks_handler.py")
SCENARIO_ORDER = ["register", "rescan", "put", "hooks"]
FLEET_KINDS = ("python", "rust")


class RunFailed(Exception):
    """A scenario did not complete correctly; its numbers must not be reported."""


# ---------------------------------------------------------------------------------------------
# Fleets


def availability(kind):
    """(True, "") when the fleet can run, else (False, why)."""
    if kind == "python":
        celery = os.path.join(VENV_BIN, "celery")
        return (True, "") if os.access(celery, os.X_OK) else (False, f"{celery} not found")
    works, first_line = rust_worker_status()
    return (True, "") if works else (False, f"`irods-ingest worker --help`: {first_line}")


class BenchFleet(Fleet):
    """The shared test fleet (private redis-server, test server, one worker process), run the way
    a production fleet runs: logging at warning, not info. Per-file info logging is real work in
    the reference's workers and would be measured as such.

    At warning Celery never logs its "ready." line, which Fleet waits for, so readiness here is
    seen on the broker instead: a client blocked in BRPOP (kombu's Redis transport consumes that
    way), then a moment for the pool processes to settle. A worker that consumes some other way
    is used anyway once ``ready_timeout`` has passed, if it is still alive.
    """

    LOG_LEVEL = {"python": "warning", "rust": "warn"}

    def worker_command(self, kind, name, concurrency):
        command = super().worker_command(kind, name, concurrency)
        command[command.index("-l") + 1] = self.LOG_LEVEL[kind]
        return command

    def _wait_ready(self, worker):
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if not worker.alive():
                worker.stop_report = f"exited at start with status {worker.process.returncode}"
                raise FleetError(f"{worker.kind} worker exited at start (status {worker.process.returncode}):\n"
                                 + worker.log_tail(20))
            if any(client.get("cmd") == "brpop" for client in self.redis.client_list()):
                worker.ready = True
                time.sleep(1.0)
                return
            time.sleep(0.1)
        print(f"  warning: no BRPOP from the {worker.kind} worker after {self.ready_timeout:.0f} s; measuring anyway",
              file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Source trees


def tree(workdir, name, files, per_dir, payload):
    """``files`` files in directories of ``per_dir`` each, under the work directory; a tree that
    was completed before (same name and size) is reused."""
    root = os.path.join(workdir, f"{name}-{files}")
    if os.path.exists(root + ".complete"):
        return root
    print(f"creating {files} files in {root}", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    for i in range(files):
        directory = os.path.join(root, f"d{i // per_dir:05d}")
        if i % per_dir == 0:
            os.makedirs(directory)
        with open(os.path.join(directory, f"f{i:07d}.dat"), "wb") as f:
            f.write(payload(i))
    open(root + ".complete", "w").close()
    return root


def small_payload(i):
    return f"file {i}\n".encode()


PUT_BLOCK = bytes(range(256)) * 16  # 4 KiB


def put_payload(i):
    return PUT_BLOCK


# ---------------------------------------------------------------------------------------------
# One job, measured


def run_job(fleet, memory, job_name, source, target, files, handler=None):
    """Runs ``irods_sync start --synchronous`` against ``fleet`` and measures until the CLI returns.
    A job slower than 10 files/s (plus two minutes), or whose worker dies, is killed and failed."""
    worker = fleet.workers[0]
    if not worker.alive():
        raise RunFailed(f"the {worker.kind} worker is gone:\n" + worker.log_tail(20))
    cmd = [os.path.join(VENV_BIN, "python"), "-m", "irods_capability_automated_ingest.irods_sync", "start",
           source, target, "--job_name", job_name, "--synchronous"]
    if handler:
        cmd += ["--event_handler", handler]

    memory.reset()
    before = counters(fleet)
    log_path = os.path.join(fleet.dir, f"cli-{job_name}.log")
    with open(log_path, "ab") as log:
        began, began_wall = time.monotonic(), time.time()
        cli = subprocess.Popen(cmd, env=fleet.env, cwd=fleet.tmpdir, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)
    watch = watch_job(cli, fleet, job_name, timeout=120 + files / 10)
    ended = time.monotonic()
    used = diff(counters(fleet), before)
    peak_rss, peak_pss, processes = memory.peaks()

    if watch["returncode"] != 0:
        raise RunFailed(f"irods_sync exited with status {watch['returncode']} (log {log_path}); worker log:\n"
                        + worker.log_tail(20))
    if not worker.alive():
        raise RunFailed(f"the {worker.kind} worker died during the job:\n" + worker.log_tail(20))
    landed = count_data_objects(fleet.session(), target)
    if landed != files:
        raise RunFailed(f"{landed} data objects under {target}, expected {files}")

    calls = used["redis_calls"]
    calls.pop("info", None)  # ours
    calls["get"] = calls.get("get", 0) - watch["polls"]
    calls = {name: n for name, n in calls.items() if n}
    total_calls = sum(calls.values())
    # Had the polls missed the start or the end (a job quicker than a poll), the CLI's own times stand in.
    job_started = watch["job_started"] or began_wall
    done_at = watch["done_at"] or began_wall + (ended - began)
    job_s = done_at - job_started
    return {
        "files": files,
        "job_s": job_s,
        "cli_s": ended - began,
        "files_per_s": files / job_s,
        "files_per_s_cli": files / (ended - began),
        "worker_cpu_s": used["worker_cpu"],
        "worker_cpu_ms_per_file": 1000 * used["worker_cpu"] / files,
        "worker_processes": processes,
        "redis_commands": total_calls,
        "redis_commands_per_file": total_calls / files,
        "redis_commands_by_type_per_file": {n: c / files for n, c in sorted(calls.items(), key=lambda kv: -kv[1])},
        "redis_cpu_ms_per_file": 1000 * used["redis_cpu"] / files,
        "peak_rss_mib": peak_rss / 2**20,
        "peak_pss_mib": peak_pss / 2**20,
        "server_cpu_ms_per_file": 1000 * used["server_cpu"] / files,
        "cli_cpu_s": watch["cli_cpu"],
        "harness_cpu_s": used["harness_cpu"],  # this script's sampling and polling during the job
        # What everything else on the machine (other people's jobs) used meanwhile, in cores: the
        # reason two runs' wall-clock figures differ.
        "other_load_cores": max(0.0, used["machine_busy"] - used["worker_cpu"] - used["server_cpu"]
                                - used["redis_cpu"] - watch["cli_cpu"] - used["harness_cpu"]) / (ended - began),
    }


def counters(fleet):
    """Cumulative counters that a job's cost is the difference of."""
    return {
        "worker_cpu": measure.cpu_seconds(measure.process_tree(fleet.workers[0].pid)),
        "server_cpu": measure.cpu_seconds([fleet.server.process.pid]),
        "redis_cpu": measure.cpu_seconds([fleet.redis_server.process.pid]),
        "redis_calls": measure.redis_command_calls(fleet.redis),
        "harness_cpu": own_cpu_seconds(),
        "machine_busy": measure.machine_busy_seconds(),
    }


def diff(after, before):
    return {name: (measure.diff_counts(value, before[name]) if isinstance(value, dict) else value - before[name])
            for name, value in after.items()}


def watch_job(cli, fleet, job_name, timeout):
    """Waits for the CLI to exit while watching the job in Redis every 20 ms.

    The job's start is the time the reference's main task stores in ``start_time:/<job>`` just
    before it enqueues the first task, so the CLI's own start-up (imports, connecting) is not
    counted; its end is when ``tasks:/<job>`` (the counter the CLI's once-a-second ``done()``
    check reads) is back to zero, finer than the CLI's polling. ``polls`` is how many GETs this
    cost, to be taken out of the Redis figures. The CLI is killed (RunFailed) after ``timeout``
    seconds or when the worker dies.
    """
    worker, broker = fleet.workers[0], fleet.redis
    deadline = time.monotonic() + timeout
    polls, job_started, done_at = 0, None, None
    while True:
        pid, status, usage = os.wait4(cli.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline or not worker.alive():
            os.killpg(cli.pid, signal.SIGKILL)
            os.wait4(cli.pid, 0)
            cli.returncode = -signal.SIGKILL
            why = f"still running after {timeout:.0f} s" if worker.alive() else "the worker exited"
            raise RunFailed(f"irods_sync killed: {why}; worker log:\n" + worker.log_tail(20))
        if done_at is None:
            value = broker.get(f"tasks:/{job_name}")
            polls += 1
            if value is not None and int(value) != 0:
                if job_started is None:
                    start_time = broker.get(f"start_time:/{job_name}")
                    polls += 1
                    job_started = float(start_time) if start_time is not None else time.time()
            elif job_started is not None:
                done_at = time.time()
        time.sleep(0.02)
    cli.returncode = os.waitstatus_to_exitcode(status)
    return {"returncode": cli.returncode, "cli_cpu": usage.ru_utime + usage.ru_stime, "polls": polls,
            "job_started": job_started, "done_at": done_at}


def die_with_parent():
    """``preexec_fn``: the CLI (in its own session, so it can be killed as a group) gets SIGKILL
    if this script dies, instead of polling a job whose workers are gone forever."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def count_data_objects(session, target):
    """Data objects in the catalog under ``target`` (one GenQuery COUNT)."""
    from irods.column import Like
    from irods.models import Collection, DataObject

    rows = list(session.query(DataObject.id).filter(Like(Collection.name, f"{target}/%")).count(DataObject.id))
    return int(next(iter(rows[0].values()))) if rows else 0


# ---------------------------------------------------------------------------------------------
# Scenario groups: a fresh fleet (redis-server, test server, workers) for each (fleet, group)


def run_group(args, kind, group, trees, workdir, results):
    """Runs the scenarios of one group (["register", "rescan"] or ["put"]) with one kind of fleet."""
    # IRODS_ENVIRONMENT_FILE empty: the workers build their session from the IRODS_* variables and
    # the reference does not re-read a JSON file for every file (see reference-overhead.md).
    group_started = time.time() - 1
    fleet = BenchFleet(workers=kind, concurrency=args.concurrency, env={"IRODS_ENVIRONMENT_FILE": ""},
                       base_dir=workdir, name=f"bench-{group[0]}")
    memory = None
    try:
        fleet.start()
        memory = measure.TreeMemorySampler(fleet.workers[0].pid).start()
        for scenario in group:
            print(f"  {kind:6} {scenario:8} ...", end=" ", flush=True)
            try:
                if scenario in ("register", "rescan"):
                    result = run_job(fleet, memory, "bench_register", trees["register"], f"{ZONE_HOME}/register",
                                     args.files)
                elif scenario == "hooks":
                    result = run_job(fleet, memory, "bench_hooks", trees["hooks"], f"{ZONE_HOME}/hooks",
                                     args.hook_files, handler=HOOKS_HANDLER)
                else:
                    result = run_job(fleet, memory, "bench_put", trees["put"], f"{ZONE_HOME}/put", args.put_files,
                                     handler=PUT_HANDLER)
            except RunFailed as failure:
                results.append({"fleet": kind, "scenario": scenario, "status": "failed", "reason": str(failure)})
                print(f"FAILED\n{failure}", flush=True)
                if scenario == "register" and "rescan" in group:  # a rescan of a failed first pass measures nothing
                    results.append({"fleet": kind, "scenario": "rescan", "status": "failed",
                                    "reason": "not run: the register pass failed"})
                    break
                continue
            results.append({"fleet": kind, "scenario": scenario, "status": "ok", **result})
            print(f"{result['files_per_s']:.0f} files/s, {result['worker_cpu_ms_per_file']:.3f} ms CPU/file, "
                  f"{result['redis_commands_per_file']:.1f} Redis cmds/file, {result['peak_rss_mib']:.0f} MiB",
                  flush=True)
    except FleetError as failure:
        for scenario in group:
            results.append({"fleet": kind, "scenario": scenario, "status": "failed", "reason": str(failure)})
        print(f"  {kind}: FAILED\n{failure}", flush=True)
    finally:
        if memory is not None:
            memory.stop()
        fleet.stop(keep=args.keep)
        remove_handler_modules(group_started)


def remove_handler_modules(since):
    """The reference writes each job's event handler to /tmp/event_handler<job><uuid>.py (a fixed
    /tmp, not $TMPDIR) and never removes it; so may a compatible worker. Remove ours: the
    benchmark's job names, written since this group started."""
    for job_name in ("bench_register", "bench_put"):
        for path in glob.glob(f"/tmp/event_handler{job_name}*.py"):
            try:
                if os.path.getmtime(path) >= since:
                    os.remove(path)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "load_avg_at_start": os.getloadavg()}


def git_revision():
    try:
        return subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "unknown"


def binary_info(path):
    try:
        return {"path": path, "mtime": datetime.datetime.fromtimestamp(os.path.getmtime(path)).isoformat(
            timespec="seconds")}
    except OSError:
        return {"path": path, "mtime": None}


def use_snapshots_of_binaries(args, workdir):
    """Runs use copies of the two binaries taken now, so that a rebuild of target/release/ in the
    middle of a run (other people work in this checkout) cannot mix two builds in one table.
    ingest_testsupport.Fleet finds them through IRODS_TESTSERVER and IRODS_INGEST."""
    snapshots = os.path.join(workdir, "bin")
    os.makedirs(snapshots, exist_ok=True)
    for variable, attribute in (("IRODS_TESTSERVER", "testserver"), ("IRODS_INGEST", "rust_worker")):
        original = getattr(args, attribute)
        copy = os.path.join(snapshots, os.path.basename(original))
        if os.path.exists(original):
            shutil.copy2(original, copy)
        os.environ[variable] = copy if os.path.exists(original) else original


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000, help="files in the register/rescan tree (100000)")
    parser.add_argument("--put-files", type=int, default=10_000, help="4 KiB files in the put tree (10000)")
    parser.add_argument("--files-per-dir", type=int, default=100, help="files per source directory (100)")
    parser.add_argument("--quick", action="store_true", help="smoke size: 1000 register, 300 put files")
    parser.add_argument("-c", "--concurrency", type=int, default=os.cpu_count(),
                        help="worker concurrency for both fleets (default: the number of cores)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run everything N times (alternating which fleet goes first); tables show medians")
    parser.add_argument("--workers", default="python,rust", help="fleets to run, in order (python,rust)")
    parser.add_argument("--scenarios", default="register,rescan,put,hooks",
                        help="any of register,rescan,put,hooks (rescan needs register)")
    parser.add_argument("--hook-files", type=int, default=10_000,
                        help="files registered through pre/post_data_obj_create hooks adding one AVU (10000)")
    parser.add_argument("--rust-worker", default=os.environ.get(
        "IRODS_INGEST", os.path.join(ROOT, "target", "release", "irods-ingest")))
    parser.add_argument("--testserver", default=os.environ.get(
        "IRODS_TESTSERVER", os.path.join(ROOT, "target", "release", "irods-testserver")))
    parser.add_argument("--workdir", help="where source trees, catalogs and logs go (default: a new temp dir, "
                        "removed at the end); a given one is kept, and its source trees are reused by later runs")
    parser.add_argument("--keep", action="store_true", help="keep everything: trees, catalogs, logs")
    parser.add_argument("--json", default=os.path.join(HERE, "last-run.json"), help="where to write the results")
    parser.add_argument("--write-md", action="store_true",
                        help="rewrite the 'Ingest workers' section of BENCHMARKS.md with this run")
    args = parser.parse_args()
    args.testserver, args.rust_worker = os.path.abspath(args.testserver), os.path.abspath(args.rust_worker)
    unknown = set(args.workers.split(",")) - set(FLEET_KINDS)
    if unknown:
        parser.error(f"unknown fleet(s): {', '.join(sorted(unknown))}")
    if args.quick:
        args.files, args.put_files, args.hook_files = 1000, 300, 300
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIO_ORDER)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if "rescan" in scenarios and "register" not in scenarios:
        parser.error("rescan re-runs the register job: include register")
    args.scenarios = [s for s in SCENARIO_ORDER if s in scenarios]
    return args


def main():
    args = parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-ingest-")
    os.makedirs(workdir, exist_ok=True)
    run = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "revision": git_revision(),
        "concurrency": args.concurrency,
        "repeat": args.repeat,
        "sizes": {"register_files": args.files, "put_files": args.put_files, "hook_files": args.hook_files, "put_file_bytes": len(PUT_BLOCK),
                  "files_per_dir": args.files_per_dir, "quick": args.quick},
        "scenarios": args.scenarios,
        "binaries": {"testserver": binary_info(args.testserver), "rust_worker": binary_info(args.rust_worker)},
        "fleets": {},
        "results": [],
    }
    try:
        use_snapshots_of_binaries(args, workdir)
        # Fail early and clearly when the server binary is unusable (a stale stub build, say).
        probe = subprocess.run([os.environ["IRODS_TESTSERVER"], "--help"], capture_output=True, text=True, timeout=60)
        if probe.returncode != 0:
            sys.exit(f"the test server {args.testserver} does not run: {(probe.stderr or probe.stdout).strip()}\n"
                     "(build one: CARGO_TARGET_DIR=... cargo build --release -p irods-testserver; pass --testserver)")
        chosen = []
        for kind in args.workers.split(","):
            works, why = availability(kind)
            run["fleets"][kind] = {"status": "available"} if works else {"status": "not available", "reason": why}
            if works:
                chosen.append(kind)
            else:
                print(f"{kind} fleet: not available ({why})", flush=True)

        trees = {}
        if "register" in args.scenarios:
            trees["register"] = tree(workdir, "small", args.files, args.files_per_dir, small_payload)
        if "put" in args.scenarios:
            trees["put"] = tree(workdir, "put4k", args.put_files, args.files_per_dir, put_payload)
        if "hooks" in args.scenarios:
            trees["hooks"] = tree(workdir, "hooks", args.hook_files, args.files_per_dir, small_payload)

        groups = [[s for s in g if s in args.scenarios] for g in (["register", "rescan"], ["put"], ["hooks"])]
        for repeat in range(args.repeat):
            if args.repeat > 1:
                print(f"run {repeat + 1} of {args.repeat}", flush=True)
            # Alternate which fleet goes first, so a change in the machine's load over time does
            # not always fall on the same fleet.
            order = chosen if repeat % 2 == 0 else chosen[::-1]
            for group in [g for g in groups if g]:
                for kind in order:
                    first = len(run["results"])
                    run_group(args, kind, group, trees, workdir, run["results"])
                    for result in run["results"][first:]:
                        result["repeat"] = repeat

        run["load_avg_at_end"] = os.getloadavg()
        print()
        print(report.text_table(run))
        with open(args.json, "w") as f:
            json.dump(run, f, indent=2)
        print(f"\nresults: {args.json}")
        if args.write_md:
            published = os.path.join(HERE, "published.json")
            shutil.copyfile(args.json, published)
            report.write_markdown_section(os.path.join(ROOT, "BENCHMARKS.md"), run)
            print(f"BENCHMARKS.md 'Ingest workers' section rewritten; its data: {published}")
    finally:
        if args.keep or args.workdir:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    failed = [r for r in run["results"] if r["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
