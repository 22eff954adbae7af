"""The long chaos runs of issue 11: several scenarios x several seeds of compat-tests/chaos/chaos.py,
each writing its JSON report, then one markdown table of the figures on stdout.

Scenarios (defaults; --files / --kills / --redis-crashes / --irods-crashes change all of them):

* ``base``  — 2 Rust workers at -c 2;
* ``c16``   — 2 Rust workers at -c 16;
* ``mixed`` — 2 Rust workers and 1 reference Python Celery worker at -c 2; the Python worker is
  killed too (kills pick a random worker).

Every scenario: 30,000 files of 1-64 KiB over 300 directories, PUT_SYNC, 50 worker SIGKILLs (each
restarted 0.3 s later under the same node name), 3 Redis crashes (AOF, appendfsync always) and 3
crashes of the iRODS test server, --dead-worker-after 3, faults at least 0.5 s apart. (With 10,000
files a healthy fleet finishes before 56 faults at that pace can be injected, at -c 16 within about
40 s; 30,000 gives the faults room. chaos.py fails a run whose job ended before all its faults.)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHAOS = os.path.join(ROOT, "compat-tests", "chaos", "chaos.py")

SCENARIOS = {
    "base": {"workers": 2, "python_workers": 0, "concurrency": 2},
    "c16": {"workers": 2, "python_workers": 0, "concurrency": 16},
    "mixed": {"workers": 2, "python_workers": 1, "concurrency": 2},
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Long chaos runs (issue 11) and their table.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated seeds")
    p.add_argument("--scenarios", default="base,c16,mixed", help=f"comma-separated, of {', '.join(SCENARIOS)}")
    p.add_argument("--files", type=int, default=30000)
    p.add_argument("--dirs", type=int, default=300)
    p.add_argument("--min-gap", type=float, default=0.5, help="least seconds between two faults (chaos.py --min-gap)")
    p.add_argument("--kills", type=int, default=50)
    p.add_argument("--redis-crashes", type=int, default=3)
    p.add_argument("--irods-crashes", type=int, default=3)
    p.add_argument("--operation", default="PUT_SYNC")
    p.add_argument("--dead-worker-after", type=int, default=3)
    p.add_argument("--timeout", type=float, default=3600.0, help="per run: seconds from the job's start")
    p.add_argument("--quiet-limit", type=float, default=120.0, help="per run: see chaos.py --quiet-limit")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="directory for the JSON reports and table.md")
    p.add_argument("--workdir", default=None, help="parent of the fleet directories (chaos.py --workdir)")
    p.add_argument("--keep-failed", action="store_true", help="keep the fleet directory of a failed run")
    p.add_argument("--table-only", action="store_true", help="print the table of the reports already in --out")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("chaos_args", nargs="*", help="after --: more chaos.py options for every run")
    args = p.parse_args(argv)
    args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.scenario_list = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenario_list) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios {sorted(unknown)}")
    return args


def command(args, scenario: str, seed: int, report: str) -> list:
    s = SCENARIOS[scenario]
    cmd = [sys.executable, CHAOS, "--seed", str(seed), "--files", str(args.files), "--dirs", str(args.dirs),
           "--kills", str(args.kills), "--redis-crashes", str(args.redis_crashes),
           "--irods-crashes", str(args.irods_crashes), "-c", str(s["concurrency"]),
           "--workers", str(s["workers"]), "--python-workers", str(s["python_workers"]),
           "--operation", args.operation, "--dead-worker-after", str(args.dead_worker_after),
           "--timeout", str(args.timeout), "--quiet-limit", str(args.quiet_limit),
           "--end-within", str(args.dead_worker_after + 10), "--min-gap", str(args.min_gap),
           "--fault-span", "0.03", "0.97", "--json", report]
    if args.workdir:
        cmd += ["--workdir", args.workdir]
    if args.keep_failed:
        cmd.append("--keep-failed")
    return cmd + list(args.chaos_args)


def fmt(value, unit=""):
    return "—" if value is None else f"{value}{unit}"


def table(rows: list) -> str:
    head = ("| scenario | seed | faults injected (kills / Redis / iRODS) | files | lost | half-written | duplicates "
            "| failed tasks | last fault → job end (s) | job (s) | result |")
    lines = [head, "|" + "---|" * 11]
    for scenario, seed, r in rows:
        if r is None:
            lines.append(f"| {scenario} | {seed} | no report | | | | | | | | harness error |")
            continue
        f = r["faults"]
        failed = [n for n, c in r["checks"].items() if not c["ok"]]
        result = "pass" if r["passed"] else "FAIL: " + ", ".join(failed)
        end = fmt(r["last_fault_to_end_seconds"]) if r["job_ended"] else "did not end"
        lines.append(f"| {scenario} | {seed} | {f['total']} ({f['kill']} / {f['redis']} / {f['irods']}) | {r['files']} "
                     f"| {r['lost']} | {r['half_written']} | {r['duplicates']} | {r['failed_tasks']} | {end} "
                     f"| {fmt(r['job_seconds'])} | {result} |")
    return "\n".join(lines)


def run_one(cmd: list) -> tuple:
    """Run one chaos.py; on SIGINT/SIGTERM pass SIGTERM on (chaos.py then stops its fleet) and wait."""
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(signum)
    old = {s: signal.signal(s, interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    process = subprocess.Popen(cmd, cwd=ROOT, stdout=sys.stderr)
    try:
        return process.wait(), False
    except KeyboardInterrupt:
        for s in old:
            signal.signal(s, signal.SIG_IGN)
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=180), True
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(), True
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.dry_run:
        os.makedirs(args.out, exist_ok=True)
    rows = []
    status = 0
    for scenario in args.scenario_list:
        for seed in args.seed_list:
            report_path = os.path.join(args.out, f"{scenario}-seed{seed}.json")
            cmd = command(args, scenario, seed, report_path)
            if args.dry_run:
                print(" ".join(cmd))
                continue
            if not args.table_only:
                if os.path.exists(report_path):
                    os.remove(report_path)
                print(f"[chaos bench] {scenario} seed {seed}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
                started = time.monotonic()
                returncode, interrupted = run_one(cmd)
                print(f"[chaos bench] {scenario} seed {seed}: exit {returncode} after "
                      f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
                status = status or returncode
                if interrupted:
                    rows.append((scenario, seed, None))
                    print(table(rows))
                    return 130
            report = None
            if os.path.exists(report_path):
                with open(report_path) as f:
                    report = json.load(f)
                status = status or (0 if report["passed"] else 1)
            else:
                status = status or 2
            rows.append((scenario, seed, report))
    if args.dry_run:
        return 0
    text = table(rows)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
