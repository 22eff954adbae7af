"""pytest plugin loaded by driver.py (``-p refsuite_plugin``); it changes no test.

* Tells the celery shim which test is running (``REFSUITE_CURRENT_TEST``), so every worker log
  names the test that started it.
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
    """Process ids of the workers the shim started so far (it writes worker-<pid>.pid)."""
    pids = set()
    try:
        names = os.listdir(LOG_DIR)
    except FileNotFoundError:
        return pids
    for name in names:
        if name.startswith("worker-") and name.endswith(".pid"):
            try:
                pids.add(int(name[len("worker-"):-len(".pid")]))
            except ValueError:
                pass
    return pids


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


def _kill_strays(pids, nodeid, why):
    for pid in sorted(pids):
        if not _alive(pid):
            continue
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        started_by = ""
        try:
            with open(os.path.join(LOG_DIR, f"worker-{pid}.pid")) as f:
                started_by = f.read().strip()
        except OSError:
            pass
        with open(os.path.join(LOG_DIR, "..", "stray-workers.txt"), "a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} killed worker {pid} (started by {started_by}) "
                    f"after {nodeid}: {why}; log workers/worker-{pid}.log\n")


class _State:
    before_call = set()
    during_call = set()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    module = getattr(item, "module", None)
    prefix = module.__name__.rsplit(".", 1)[-1] if module is not None and item.nodeid.startswith("::") else ""
    os.environ["REFSUITE_CURRENT_TEST"] = prefix + item.nodeid


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    _State.before_call = _worker_pids()
    yield
    _State.during_call = _worker_pids() - _State.before_call


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _State.during_call = set()
    yield
    if nextitem is None or getattr(nextitem, "cls", None) is not getattr(item, "cls", None):
        _kill_strays(_worker_pids(), item.nodeid, "still running when its class ended")
    else:
        _kill_strays(_State.during_call, item.nodeid, "started by the test body, still running after it")
    # Forget finished workers, so a recycled process id never looks like an old worker.
    for pid in _worker_pids():
        if not _alive(pid):
            try:
                os.rename(os.path.join(LOG_DIR, f"worker-{pid}.pid"), os.path.join(LOG_DIR, f"worker-{pid}.done"))
            except OSError:
                pass
