"""The short seeded chaos run (compat-tests/chaos/chaos.py): one PUT_SYNC job of 3,000 files with
two Rust workers, under 4 worker SIGKILLs (restarted under the same node name), 1 Redis crash
(AOF on) and 1 crash of the iRODS test server. The harness's report must pass: all six faults
injected before the job ended, every file exactly once with one replica and the source's size and
sha256, the job ended, post_job once, no lock without a TTL, no failures, queues and unacked
empty, no worker died by itself. (3,000 files so that the job outlasts its faults on 2 cores.)

Skipped when the release binaries are missing. ``CHAOS_SEED`` picks another seed (default 1);
a failing run keeps its fleet directory (path in the output) and its JSON report.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from ingest_testsupport import fleet as _fleet

CHAOS = os.path.join(ROOT, "compat-tests", "chaos", "chaos.py")
SEED = int(os.environ.get("CHAOS_SEED", "1"))
HARD_LIMIT = 420  # seconds for the whole harness run, whatever happens inside

pytestmark = [
    pytest.mark.timeout(HARD_LIMIT + 60),
    pytest.mark.skipif(not (os.path.exists(_fleet.rust_worker_binary()) and os.path.exists(_fleet.testserver_binary())),
                       reason=f"release binaries missing ({_fleet.rust_worker_binary()}, {_fleet.testserver_binary()}): "
                              "cargo build --release --bins"),
]


def test_short_chaos_run_passes(tmp_path):
    report_path = tmp_path / "chaos-report.json"
    cmd = [sys.executable, CHAOS, "--seed", str(SEED), "--files", "3000", "--dirs", "20",
           "--kills", "4", "--redis-crashes", "1", "--irods-crashes", "1", "--workers", "2",
           "--python-workers", "0", "-c", "2", "--operation", "PUT_SYNC", "--dead-worker-after", "3",
           "--timeout", "240", "--quiet-limit", "75", "--keep-failed",
           "--workdir", str(tmp_path), "--json", str(report_path)]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        stdout, stderr = process.communicate(timeout=HARD_LIMIT)
    except subprocess.TimeoutExpired:
        process.terminate()  # chaos.py stops its fleet on SIGTERM
        stdout, stderr = process.communicate(timeout=120)
        pytest.fail(f"the chaos harness did not finish within {HARD_LIMIT} s:\n{stdout}\n{stderr[-6000:]}")
    output = f"$ {' '.join(cmd)}\nexit status {process.returncode}\n--- stdout\n{stdout}\n--- stderr\n{stderr[-6000:]}"
    assert report_path.exists(), output
    report = json.loads(report_path.read_text())
    print(stdout)  # the harness's summary (shown with -s or -rP)
    failed = {name: c["detail"] for name, c in report["checks"].items() if not c["ok"]}
    assert report["passed"] and process.returncode == 0, f"failed checks: {json.dumps(failed, indent=1)}\n{output}"
    assert report["faults"]["total"] == 6, output
    assert (report["lost"], report["half_written"], report["duplicates"]) == (0, 0, 0), output


def test_a_worker_started_while_redis_is_down_waits_for_it(tmp_path):
    """A supervisor restarts a killed worker while Redis itself is restarting: the worker must
    wait for Redis (as Celery does at start-up), not exit, and then ingest."""
    from ingest_testsupport import Fleet

    with Fleet(workers="rust", concurrency=2, redis_appendonly=True, base_dir=str(tmp_path)) as fleet:
        (first,) = fleet.workers
        fleet.kill_worker(first)
        fleet.redis_server.crash()
        late = fleet.restart_worker(first)
        time.sleep(3.0)
        assert late.alive(), f"the worker exited while Redis was down:\n{late.log_tail()}"
        fleet.redis_server.restart()
        src = tmp_path / "src"
        src.mkdir()
        for i in range(20):
            (src / f"f{i}.txt").write_text(f"file {i}\n")
        run = fleet.start_job(str(src), f"{_fleet.ZONE_HOME}/late", "late.job")
        assert run.returncode == 0, run.output
        fleet.wait_job("late.job", timeout=120)
        names = sorted(fleet.catalog(f"{_fleet.ZONE_HOME}/late")["data_objects"])
        assert len(names) == 20, names
        assert late.alive()
