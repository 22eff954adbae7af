"""How long a job CLI takes from its start to the job's first enqueued task: `irods-ingest start`
against the reference's `irods_sync start`, same redis-server, same tree, same run.

Neither CLI waits for workers here (no `--synchronous`, no worker running): each process enqueues
the job's main task on `restart` and exits, so its wall time is the start-up-to-first-enqueue time.
Rounds alternate A B B A. Beside the times: Redis commands per start (INFO commandstats) and the
process's peak RSS. Prints a Markdown table.

    .venv/bin/python bench/cli/startup.py [--rounds 20]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "compat-tests", "python"))
from ingest_testsupport.redis_server import RedisServer  # noqa: E402

import redis  # noqa: E402

VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")
RUST = os.environ.get("IRODS_INGEST") or os.path.join(ROOT, "target", "release", "irods-ingest")
CLIS = {
    "python": [VENV_PY, "-m", "irods_capability_automated_ingest.irods_sync"],
    "rust": [RUST],
}


def total_commands(r):
    return sum(v["calls"] for k, v in r.info("commandstats").items())


def one_start(cli, env, src, job, r):
    before_len = r.llen("restart")
    before_cmds = total_commands(r)
    started = time.perf_counter()
    # wait4 gives this child's own rusage (peak RSS), not the sum of all children so far.
    p = subprocess.Popen(CLIS[cli] + ["start", src, "/tempZone/home/rods/bench", "--job_name", job],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - started
    err = p.stderr.read().decode(errors="replace")
    if status != 0 or r.llen("restart") != before_len + 1:
        raise SystemExit(f"{cli} start failed (status {status}): {err.strip()}")
    # The INFO call itself counts once; leave it out.
    commands = total_commands(r) - before_cmds - 1
    return elapsed, commands, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    server = RedisServer().start()
    try:
        r = redis.Redis.from_url(server.url(0))
        env = {**os.environ, "CELERY_BROKER_URL": server.url(0)}
        with tempfile.TemporaryDirectory() as src:
            for i in range(10):
                open(os.path.join(src, f"f{i}"), "w").close()
            results = {"python": [], "rust": []}
            order = []
            for i in range(args.rounds):
                order += ["python", "rust"] if i % 2 == 0 else ["rust", "python"]
            for n, cli in enumerate(order):
                results[cli].append(one_start(cli, env, src, f"bench{n}", r))
                r.delete("restart")
        load = os.getloadavg()[0]
        print(f"rounds {args.rounds} each, ABBA order, load average at the end {load:.2f}\n")
        print("| CLI | start to first enqueued task, median ms | min ms | CPU ms (median) | Redis commands per start | peak RSS MiB |")
        print("|---|---|---|---|---|---|")
        med = {}
        for cli in ("python", "rust"):
            times = [x[0] * 1000 for x in results[cli]]
            med[cli] = statistics.median(times)
            cpu = statistics.median(x[3] * 1000 for x in results[cli])
            cmds = statistics.median(x[1] for x in results[cli])
            rss = max(x[2] for x in results[cli])
            name = "`irods_sync start` (reference)" if cli == "python" else "`irods-ingest start`"
            print(f"| {name} | {med[cli]:.1f} | {min(times):.1f} | {cpu:.1f} | {cmds:g} | {rss:.1f} |")
        print(f"\nratio (Python / Rust, median wall time): {med['python'] / med['rust']:.1f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
