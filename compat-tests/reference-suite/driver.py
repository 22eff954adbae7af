"""Runs the reference suite's modules inside the private root made by namespace.sh.

For each module: a fresh catalog and vault directory bound on /var/lib/irods, then redis-server
on 6379, moto on 19000 and irods-testserver on 1247 (all on the private loopback), then pytest
on the installed, unmodified module with per-test timeouts. Counts come from pytest's JUnit XML.
Everything a module started is stopped before the next one; logs stay in the module's directory:

    <log dir>/<module>/redis.log moto.log testserver.log pytest.log junit.xml
                       workers/worker-<pid>.log    (one per worker the suite started)
                       stray-workers.txt           (workers killed after their test; see plugin)
                       irods/                      (catalog.sqlite, Vault, Vault2, ...)
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.environ["REFSUITE_HERE"]
LOG_DIR = os.environ["REFSUITE_LOG_DIR"]
VENV = os.environ["REFSUITE_VENV"]
WORKERS = os.environ["REFSUITE_WORKERS"]
CLI = os.environ.get("REFSUITE_CLI", "python")
PATTERN = os.environ.get("REFSUITE_PATTERN", "")
TIMEOUT = int(os.environ["REFSUITE_TIMEOUT"])
MODULES = os.environ["REFSUITE_MODULES"].split()
PACKAGE = "irods_capability_automated_ingest.test"
VAR_LIB_IRODS = "/var/lib/irods"

# What the suite reads from the environment (upstream's icommands.env), plus where the test
# server presents itself: the same host name as upstream's provider container.
IRODS_HOST = "irods-catalog-provider"
IRODS_ENV = {
    "IRODS_HOST": IRODS_HOST,
    "IRODS_PORT": "1247",
    "IRODS_USER_NAME": "rods",
    "IRODS_ZONE_NAME": "tempZone",
    "IRODS_PASSWORD": "rods",
}


class Services:
    """The processes one module runs against; stop() ends them all."""

    def __init__(self, module_dir):
        self.dir = module_dir
        self.procs = []

    def start(self, name, argv, port, env=None):
        log = open(os.path.join(self.dir, f"{name}.log"), "ab")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=self.dir, start_new_session=True)
        self.procs.append((name, proc))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.dir}/{name}.log")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not listen on {port}; see {self.dir}/{name}.log")

    def stop(self):
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.procs = []


def base_env(module_dir):
    env = {
        # With --cli rust, shim-cli/python turns `python -m ...irods_sync` into `irods-ingest`.
        "PATH": ":".join(([os.path.join(HERE, "shim-cli")] if CLI == "rust" else [])
                         + [os.path.join(HERE, "shim"), os.path.join(VENV, "bin"),
                          "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]),
        "TMPDIR": "/tmp",
        "HOME": os.path.join(module_dir, "home"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    os.makedirs(env["HOME"], exist_ok=True)
    return env


def bind_catalog_dir(module_dir):
    """A fresh directory on /var/lib/irods for this module (kept afterwards for inspection)."""
    data = os.path.join(module_dir, "irods")
    os.makedirs(data, exist_ok=True)
    subprocess.run(["umount", VAR_LIB_IRODS], stderr=subprocess.DEVNULL, check=False)
    subprocess.run(["mount", "--bind", data, VAR_LIB_IRODS], check=True)


def unbind_catalog_dir():
    if subprocess.run(["umount", VAR_LIB_IRODS], stderr=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["umount", "-l", VAR_LIB_IRODS], stderr=subprocess.DEVNULL, check=False)


def run_module(module, results):
    module_dir = os.path.join(LOG_DIR, module)
    if os.path.exists(module_dir):
        shutil.rmtree(module_dir)
    os.makedirs(os.path.join(module_dir, "workers"))
    env = base_env(module_dir)
    services = Services(module_dir)
    started = time.monotonic()
    junit = os.path.join(module_dir, "junit.xml")
    try:
        bind_catalog_dir(module_dir)
        services.start("redis", ["redis-server", "--port", "6379", "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", module_dir], 6379, env)
        services.start("moto", [os.path.join(VENV, "bin", "moto_server"), "-H", "127.0.0.1", "-p", "19000"],
                       19000, env)
        server_env = dict(env, NO_COLOR="1", IRODS_TESTSERVER_LOG=os.environ.get("IRODS_TESTSERVER_LOG", "debug"))
        services.start("testserver", [os.environ["REFSUITE_TESTSERVER"], "--port", "1247",
                                      "--data-dir", VAR_LIB_IRODS, "--host", IRODS_HOST,
                                      "--env-file", os.path.join(module_dir, "irods_environment.json")],
                       1247, server_env)
        test_env = dict(env, **IRODS_ENV)
        test_env.update({
            "IRODS_ENVIRONMENT_FILE": os.path.join(module_dir, "irods_environment.json"),
            "PYTHONPATH": HERE,  # refsuite_plugin
            "REFSUITE_WORKERS": WORKERS,
            "REFSUITE_WORKER_LOG_DIR": os.path.join(module_dir, "workers"),
            "REFSUITE_REAL_CELERY": os.path.join(VENV, "bin", "celery"),
            "REFSUITE_INGEST": os.environ["REFSUITE_INGEST"],
        })
        argv = [os.path.join(VENV, "bin", "python"), "-m", "pytest", "--pyargs", f"{PACKAGE}.{module}",
                "-v", "-p", "no:cacheprovider", "-p", "refsuite_plugin", f"--rootdir={module_dir}",
                f"--junitxml={junit}", "-o", "junit_family=xunit1", "-o", "junit_logging=all",
                f"--timeout={TIMEOUT}", "--timeout-method=signal"]
        if PATTERN:
            argv += ["-k", PATTERN]
        with open(os.path.join(module_dir, "pytest.log"), "wb") as out:
            print(f"  {module}: running (pytest log: {module_dir}/pytest.log)", flush=True)
            code = run_pytest(argv, test_env, module_dir, out)
    except Exception as e:  # a service did not start: the module has no results
        code = None
        with open(os.path.join(module_dir, "driver-error.txt"), "w") as f:
            f.write(f"{e}\n")
        print(f"  {module}: {e}", flush=True)
    except BaseException:  # told to stop: report what ran, then stop
        results.append(parse_junit(module, junit, None, time.monotonic() - started, module_dir))
        results[-1]["interrupted"] = True
        raise
    finally:
        services.stop()
        unbind_catalog_dir()
    results.append(parse_junit(module, junit, code, time.monotonic() - started, module_dir))


def run_pytest(argv, env, cwd, out):
    """pytest in the foreground; if we are told to stop, interrupt it first so that it still
    writes the JUnit file for the tests that ran (then kill it if it does not finish)."""
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        return proc.wait()
    except BaseException:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise


def parse_junit(module, junit, code, seconds, module_dir):
    result = {"module": module, "seconds": seconds, "dir": module_dir, "classes": {}, "failures": [],
              "exit": code, "strays": []}
    strays = os.path.join(module_dir, "stray-workers.txt")
    if os.path.exists(strays):
        result["strays"] = open(strays).read().splitlines()
    if not os.path.exists(junit):
        return result
    for case in ET.parse(junit).getroot().iter("testcase"):
        cls = case.get("classname", "").rsplit(".", 1)[-1]
        counts = result["classes"].setdefault(cls, {"passed": 0, "failed": 0, "errors": 0, "skipped": 0})
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
                message = (child.get("message") or "").strip().splitlines()
                message = message[0][:200] if message else ""
                break
        key = {"passed": "passed", "failure": "failed", "error": "errors", "skipped": "skipped"}[outcome]
        counts[key] += 1
        if outcome in ("failure", "error"):
            result["failures"].append((f"{cls}.{case.get('name')}", outcome, message))
    return result


COLUMNS = ("passed", "failed", "errors", "skipped")


def row(name, counts, seconds=None):
    cells = "".join(f"{counts[k]:>8}" for k in COLUMNS)
    return f"{name:<52}{cells}" + (f"{seconds:>8.0f}" if seconds is not None else "")


def report(results, total_seconds):
    lines = [f"{'module / class':<52}" + "".join(f"{k:>8}" for k in COLUMNS) + f"{'secs':>8}"]
    totals = dict.fromkeys(COLUMNS, 0)
    for r in results:
        mod = dict.fromkeys(COLUMNS, 0)
        for counts in r["classes"].values():
            for k in COLUMNS:
                mod[k] += counts[k]
        for k in COLUMNS:
            totals[k] += mod[k]
        lines.append(row(r["module"] + (" (interrupted)" if r.get("interrupted") else ""), mod, r["seconds"]))
        for cls, counts in r["classes"].items():
            lines.append(row("  " + cls, counts))
        if not r["classes"]:
            lines.append("  (no test selected)" if r["exit"] == 5 else f"  (no results: see {r['dir']})")
    lines.append(row("total", totals, total_seconds))
    for r in results:
        for name, outcome, message in r["failures"]:
            lines.append(f"{outcome.upper():<7} {r['module']}::{name}: {message}")
        for stray in r["strays"]:
            lines.append(f"STRAY   {r['module']}: {stray}")
    return "\n".join(lines), totals


def main():
    # Whatever started us, the suite and its workers get default SIGINT/SIGQUIT behaviour
    # (the suite stops workers with SIGINT; an inherited "ignore" would survive exec).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    started = time.monotonic()
    results = []
    print(f"reference suite inside the namespace: workers={WORKERS}, cli={CLI}, per-test timeout {TIMEOUT}s", flush=True)
    try:
        for module in MODULES:
            run_module(module, results)
            r = results[-1]
            n = sum(sum(c.values()) for c in r["classes"].values())
            print(f"  {module}: {n} tests, {len(r['failures'])} failed or errors, {r['seconds']:.0f}s", flush=True)
    finally:
        text, totals = report(results, time.monotonic() - started)
        print(text, flush=True)
        # The plain closing line CI runners read ("N passed, N failed, N skipped").
        print(f"reference-suite: {totals['passed']} passed, {totals['failed'] + totals['errors']} failed, "
              f"{totals['skipped']} skipped", flush=True)
        with open(os.path.join(LOG_DIR, "summary.txt"), "w") as f:
            f.write(f"workers={WORKERS} cli={CLI} pattern={PATTERN or '-'} timeout={TIMEOUT}\n{text}\n")
    bad = totals["failed"] or totals["errors"] or any(not r["classes"] and r["exit"] != 5 for r in results)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
