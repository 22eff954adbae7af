"""Driver for compat-tests/prc-suite/run: one fresh irods-testserver per PRC test module.

The modules are python-irodsclient's own (irods/test/<module>.py), run unmodified with pytest.
Results come from pytest's JUnit XML, so the counts are pytest's, not ours.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import irods.test

DEFAULT_MODULES = ["file_test", "unicode_test", "pool_test", "connection_test", "meta_test", "query_test"]
TEST_DIR = os.path.dirname(irods.test.__file__)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, root):
    data_dir = os.path.join(root, "data")
    env_file = os.path.join(root, "home", ".irods", "irods_environment.json")
    log = open(os.path.join(root, "server.log"), "ab")
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--data-dir", data_dir, "--env-file", env_file],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if os.path.exists(env_file):
                return proc, env_file
            time.sleep(0.05)
        proc.kill()
        proc.wait()
    raise RuntimeError(f"irods-testserver did not start; see {root}/server.log")


def run_module(binary, module, keep, timeout):
    root = tempfile.mkdtemp(prefix=f"prc-{module}-")
    proc, env_file = start_server(binary, root)
    junit = os.path.join(root, "junit.xml")
    env = dict(os.environ)
    env.update({
        "HOME": os.path.join(root, "home"),
        "IRODS_ENVIRONMENT_FILE": env_file,
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    started = time.monotonic()
    try:
        subprocess.run(
            [sys.executable, "-m", "pytest", os.path.join(TEST_DIR, module + ".py"), "-q", "-p", "no:cacheprovider",
             f"--junitxml={junit}", "-o", "junit_family=xunit1", f"--timeout={timeout}"]
            if _has_pytest_timeout() else
            [sys.executable, "-m", "pytest", os.path.join(TEST_DIR, module + ".py"), "-q", "-p", "no:cacheprovider",
             f"--junitxml={junit}", "-o", "junit_family=xunit1"],
            env=env, cwd=root, stdout=open(os.path.join(root, "pytest.log"), "w"), stderr=subprocess.STDOUT,
            timeout=timeout * 10)
    except subprocess.TimeoutExpired:
        pass
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    elapsed = time.monotonic() - started
    result = {"module": module, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "failures": [],
              "seconds": elapsed, "dir": root}
    if not os.path.exists(junit):
        result["errors"] = 1
        result["failures"].append(("(module)", "no results; see " + os.path.join(root, "pytest.log")))
        return result
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("classname", "").rsplit(".", 1)[-1] + "." + case.get("name", "")
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
                message = (child.get("message") or "").splitlines()[0][:160] if child.get("message") else ""
                break
        if outcome == "passed":
            result["passed"] += 1
        elif outcome == "skipped":
            result["skipped"] += 1
        else:
            result["failed" if outcome == "failure" else "errors"] += 1
            result["failures"].append((name, message))
    if not keep and not result["failures"]:
        shutil.rmtree(root, ignore_errors=True)
    return result


def _has_pytest_timeout():
    try:
        import pytest_timeout  # noqa: F401
        return True
    except ImportError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("modules", nargs="*", default=DEFAULT_MODULES)
    parser.add_argument("--keep", action="store_true", help="keep every module's temp dir (logs, data)")
    parser.add_argument("--timeout", type=int, default=900, help="per-test timeout in seconds (pytest-timeout)")
    args = parser.parse_args()
    binary = os.environ.get("IRODS_TESTSERVER")
    if not binary or not os.path.exists(binary):
        sys.exit("set IRODS_TESTSERVER to the irods-testserver binary (the run script does)")
    totals = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    print(f"{'module':<20} {'passed':>6} {'failed':>6} {'errors':>6} {'skipped':>7} {'secs':>6}")
    for module in args.modules:
        r = run_module(binary, module, args.keep, args.timeout)
        for k in totals:
            totals[k] += r[k]
        print(f"{module:<20} {r['passed']:>6} {r['failed']:>6} {r['errors']:>6} {r['skipped']:>7} {r['seconds']:>6.0f}",
              flush=True)
        for name, message in r["failures"]:
            print(f"    FAIL {name}: {message}")
        if r["failures"]:
            print(f"    (logs in {r['dir']})")
    print(f"{'total':<20} {totals['passed']:>6} {totals['failed']:>6} {totals['errors']:>6} {totals['skipped']:>7}")
    sys.exit(1 if totals["failed"] or totals["errors"] else 0)


if __name__ == "__main__":
    main()
