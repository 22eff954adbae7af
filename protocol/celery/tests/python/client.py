"""Python-side driver for the interop tests: sends tasks the way Python producers do, reads results
through AsyncResult, and runs remote-control commands. Every subcommand prints one JSON document on
stdout; failures exit non-zero with the reason on stderr.

    client.py send NAME ARGS_JSON [--queue Q] [--priority P] [--countdown S] [--expires S] [--id ID]
    client.py get ID [--timeout S]            -> {"status", "result" | "exc_type"+"exc_message"}
    client.py suite QUEUE                     -> runs the Python->Rust round-trip suite, asserts inside
    client.py inspect METHOD [--dest NODE]    -> the inspect reply dict
    client.py revoke ID [--terminate]
    client.py events NODE [--max S]           -> events received until NODE goes offline
"""
import argparse
import json
import socket
import sys
import threading

from demo_app import app


def result_of(task_id, timeout):
    res = app.AsyncResult(task_id)
    try:
        value = res.get(timeout=timeout, propagate=True)
        return {"status": res.status, "result": value}
    except Exception as exc:  # the rebuilt remote exception, or a timeout
        return {"status": res.status, "exc_type": type(exc).__name__, "exc_message": str(exc)}


def check(label, got, want):
    # 2**63 == float(2**63) in Python: an int expected must come back as an int.
    if got != want or (type(want) is int and type(got) is not int):
        sys.exit(f"{label}: got {got!r}, want {want!r}")
    print(f"ok {label}", file=sys.stderr)


def suite(queue):
    """Python send_task/apply_async -> Rust worker -> Python reads the results."""
    add = app.signature("demo.add")
    echo = app.signature("demo.echo")
    checks = []
    checks.append(("add", app.send_task("demo.add", (2, 3), queue=queue), 5))
    checks.append(("add kwargs", app.send_task("demo.add", (), {"x": 40, "y": 2}, queue=queue), 42))
    # Python's ints are unbounded: sums past 64 bits come back exact, never as floats.
    for a, b in [(2**63 - 1, 1), (2**70, -(2**71)), (-(2**64), 2**64), (10**30, 10**30 - 1), (-(2**63), -1)]:
        checks.append((f"add {a} + {b}", add.apply_async((a, b), queue=queue), a + b))
    checks.append(("priority 9", add.apply_async((1, 1), queue=queue, priority=9), 2))
    checks.append(("priority 4", add.apply_async((2, 2), queue=queue, priority=4), 4))
    checks.append(("countdown", add.apply_async((3, 3), queue=queue, countdown=2), 6))
    checks.append(("expires later", add.apply_async((4, 4), queue=queue, expires=600), 8))
    payloads = {
        "non-ascii": "Grüße, 東京 🌍",
        "lone surrogate": "caf\udce9.txt",
        "nested": {"path": "/src/\udcff\udc80", "list": [1, 2.5, None, True, "ä"], "big": 2**70},
        "empty": "",
    }
    for label, value in payloads.items():
        checks.append((f"echo {label}", echo.apply_async((value,), queue=queue), value))
    checks.append(("explicit id", app.send_task("demo.add", (7, 8), queue=queue, task_id="fixed-id-1"), 15))
    for label, res, want in checks:
        got = res.get(timeout=60)
        check(label, got, want)
    check("explicit id kept", checks[-1][1].id, "fixed-id-1")

    # Expired before it is received: Celery semantics say REVOKED, never run.
    expired = add.apply_async((5, 5), queue=queue, expires=-1)
    try:
        expired.get(timeout=60)
        sys.exit("expired task ran")
    except Exception as exc:
        check("expired -> revoked", (expired.status, type(exc).__name__), ("REVOKED", "TaskRevokedError"))

    failing = app.send_task("demo.fail", ("boom from rust",), queue=queue)
    try:
        failing.get(timeout=60)
        sys.exit("demo.fail returned")
    except ValueError as exc:
        check("fail message", str(exc), "boom from rust")
    check("fail status", failing.status, "FAILURE")

    # Time limits from the message headers: soft -> the task sees cancellation and raises
    # SoftTimeLimitExceeded; hard -> the task is dropped, TimeLimitExceeded.
    sleep = app.signature("demo.sleep")
    for label, opts, exc_name in (
        ("soft time limit", {"soft_time_limit": 1}, "SoftTimeLimitExceeded"),
        ("hard time limit", {"time_limit": 1}, "TimeLimitExceeded"),
    ):
        limited = sleep.apply_async((30,), queue=queue, **opts)
        try:
            limited.get(timeout=60)
            sys.exit(f"{label}: task was not stopped")
        except Exception as exc:
            check(label, (limited.status, type(exc).__name__), ("FAILURE", exc_name))

    retried = app.send_task("demo.retry", (2,), queue=queue)
    check("retry count", retried.get(timeout=60), 2)
    print(json.dumps({"ok": len(checks) + 6}))


def capture_events(until_offline, max_seconds):
    """Receives events like `celery events` does, until `until_offline` sends worker-offline."""
    seen = []
    with app.connection() as conn:
        def on_event(event):
            seen.append({k: event.get(k) for k in ("type", "hostname", "uuid", "result", "exception")})
            if event.get("type") == "worker-offline" and event.get("hostname") == until_offline:
                receiver.should_stop = True

        receiver = app.events.Receiver(conn, handlers={"*": on_event})
        timer = threading.Timer(max_seconds, lambda: setattr(receiver, "should_stop", True))
        timer.start()
        try:
            receiver.capture(limit=None, timeout=max_seconds + 5, wakeup=False)
        except socket.timeout:
            pass
        finally:
            timer.cancel()
    print(json.dumps(seen))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("name")
    s.add_argument("args")
    s.add_argument("--queue", default="celery")
    s.add_argument("--priority", type=int)
    s.add_argument("--countdown", type=float)
    s.add_argument("--expires", type=float)
    s.add_argument("--id")
    g = sub.add_parser("get")
    g.add_argument("id")
    g.add_argument("--timeout", type=float, default=60)
    su = sub.add_parser("suite")
    su.add_argument("queue")
    i = sub.add_parser("inspect")
    i.add_argument("method")
    i.add_argument("--dest")
    i.add_argument("--timeout", type=float, default=3)
    e = sub.add_parser("events")
    e.add_argument("until_offline")
    e.add_argument("--max", type=float, default=60)
    r = sub.add_parser("revoke")
    r.add_argument("id")
    r.add_argument("--terminate", action="store_true")
    a = p.parse_args()

    if a.cmd == "send":
        opts = {"queue": a.queue}
        for key in ("priority", "countdown", "expires"):
            if getattr(a, key) is not None:
                opts[key] = getattr(a, key)
        if a.id:
            opts["task_id"] = a.id
        res = app.send_task(a.name, json.loads(a.args), **opts)
        print(json.dumps({"id": res.id}))
    elif a.cmd == "get":
        print(json.dumps(result_of(a.id, a.timeout)))
    elif a.cmd == "suite":
        suite(a.queue)
    elif a.cmd == "inspect":
        dest = [a.dest] if a.dest else None
        insp = app.control.inspect(destination=dest, timeout=a.timeout)
        print(json.dumps(getattr(insp, a.method)() or {}, default=repr))
    elif a.cmd == "events":
        capture_events(a.until_offline, a.max)
    elif a.cmd == "revoke":
        app.control.revoke(a.id, terminate=a.terminate)
        print(json.dumps({"revoked": a.id}))


if __name__ == "__main__":
    main()
