"""pytest plugin loaded by driver.py (``-p refsuite_plugin``); it changes no test.

* Tells the celery shim which test is running and in which phase (``REFSUITE_CURRENT_TEST``,
  ``REFSUITE_PHASE``), so every worker log names the test that started it.
* Cleans up after tests that left a worker running. The suite stops its workers with SIGINT and
  an unbounded ``wait()``; a test that times out (pytest-timeout) or fails before that leaves
  its worker consuming the next test's tasks. A worker started while a test body ran must be gone
  when that test ends; a worker started in ``setUpClass`` must be gone when its class ends.
  Survivors are killed (whole process group) and listed in ``stray-workers.txt``, which the
  driver reports.
"""

import os
import signal
import time

import pytest

LOG_DIR = os.environ.get("REFSUITE_WORKER_LOG_DIR", "")


def _worker_pids():
    """Workers the shim started and not yet seen finished: {pid: (test id, phase)}.

    The shim writes worker-<pid>.pid with the test and the phase current when the suite spawned
    it (taken from the environment at spawn time, so a slow shim start cannot misplace it)."""
    workers = {}
    try:
        names = os.listdir(LOG_DIR)
    except FileNotFoundError:
        return workers
    for name in names:
        if not (name.startswith("worker-") and name.endswith(".pid")):
            continue
        try:
            pid = int(name[len("worker-"):-len(".pid")])
            with open(os.path.join(LOG_DIR, name)) as f:
                test, _, phase = f.read().strip().partition("\t")
        except (ValueError, OSError):
            continue
        workers[pid] = (test, phase)
    return workers


def _alive(pid):
    """True if pid runs and is not a zombie (a zombie's group may still hold pool processes)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return _group_alive(pid)
    return state != "Z" or _group_alive(pid)


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _kill_strays(workers, nodeid, why):
    for pid, (started_by, phase) in sorted(workers.items()):
        if not _alive(pid):
            continue
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        with open(os.path.join(LOG_DIR, "..", "stray-workers.txt"), "a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} killed worker {pid} (started by {started_by}, {phase}) "
                    f"after {nodeid}: {why}; log workers/worker-{pid}.log\n")


def _test_id(item):
    module = getattr(item, "module", None)
    prefix = module.__name__.rsplit(".", 1)[-1] if module is not None and item.nodeid.startswith("::") else ""
    return prefix + item.nodeid


def _phase(item, phase):
    os.environ["REFSUITE_CURRENT_TEST"] = _test_id(item)
    os.environ["REFSUITE_PHASE"] = phase


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _phase(item, "setup")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    _phase(item, "call")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    _phase(item, "teardown")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    yield
    workers = _worker_pids()
    if nextitem is None or getattr(nextitem, "cls", None) is not getattr(item, "cls", None):
        _kill_strays(workers, item.nodeid, "still running when its class ended")
    else:
        mine = _test_id(item)
        _kill_strays({pid: w for pid, w in workers.items() if w == (mine, "call")}, item.nodeid,
                     "started by the test body, still running after it")
    # Forget finished workers, so a recycled process id never looks like an old worker.
    for pid in workers:
        if not _alive(pid):
            try:
                os.rename(os.path.join(LOG_DIR, f"worker-{pid}.pid"), os.path.join(LOG_DIR, f"worker-{pid}.done"))
            except OSError:
                pass
