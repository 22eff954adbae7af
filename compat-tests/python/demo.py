"""Driver behind scripts/demo: one real ingest, start to finish, on private services.

Runs ``irods-ingest start --synchronous`` (the Rust CLI; ``--cli python``: the reference's
``irods_sync start --synchronous``) against a worker fleet (``irods-ingest worker`` by default, the
reference's Python Celery workers with ``--workers python``), then prints the collections, data objects,
replicas and AVUs that landed in the catalog.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from ingest_testsupport import IrodsTestServer, RedisServer  # noqa: E402

VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def rust_binary():
    return os.environ.get("IRODS_INGEST_BIN", os.path.join(ROOT, "target", "release", "irods-ingest"))


def start_workers(kind, env, log_dir):
    queues = "restart,path,file"
    if kind == "python":
        cmd = [os.path.join(VENV_BIN, "celery"), "-A", "irods_capability_automated_ingest", "worker",
               "-c", "2", "-l", "info", "-Q", queues, "-n", "demo-py@%h"]
    else:
        cmd = [rust_binary(), "worker", "-c", "2", "-Q", queues,
               "-n", "demo-rs@%h"]
    log = open(os.path.join(log_dir, f"worker-{kind}.log"), "ab")
    return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)


def show_catalog(env, target):
    from irods.session import iRODSSession

    with iRODSSession(host=env["IRODS_HOST"], port=int(env["IRODS_PORT"]), user=env["IRODS_USER_NAME"],
                      password=env["IRODS_PASSWORD"], zone=env["IRODS_ZONE_NAME"]) as session:
        def walk(coll, depth):
            print("  " * depth + coll.path + "/")
            for obj in sorted(coll.data_objects, key=lambda o: o.name):
                replicas = ", ".join(f"{r.resource_name}:{r.path}" for r in obj.replicas)
                print("  " * (depth + 1) + f"{obj.name}  {obj.size} bytes  [{replicas}]")
                for avu in obj.metadata.items():
                    print("  " * (depth + 2) + f"AVU {avu.name} = {avu.value}")
            for sub in sorted(coll.subcollections, key=lambda c: c.name):
                walk(sub, depth + 1)

        walk(session.collections.get(target), 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", choices=["python", "rust"], default="rust")
    parser.add_argument("--cli", choices=["python", "rust"], default="rust",
                        help="who starts the job: irods-ingest start (rust) or the reference's irods_sync (python)")
    parser.add_argument("--source", default=None, help="directory to ingest (default: the demo tree)")
    parser.add_argument("--target", default="/tempZone/home/rods/demo")
    parser.add_argument("--event-handler", default=os.path.join(ROOT, "examples", "handlers", "register_with_avu.py"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory with all logs")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="irods-ingest-demo-")
    source = args.source or subprocess.check_output(
        [os.path.join(ROOT, "examples", "make-demo-tree"), os.path.join(work, "source")], text=True).strip()
    env = dict(os.environ)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    services = []
    workers = None
    try:
        if "CELERY_BROKER_URL" not in env:
            redis = RedisServer().start()
            services.append(redis)
            env["CELERY_BROKER_URL"] = redis.url(0)
            print(f"started a private redis-server: {env['CELERY_BROKER_URL']}")
        if "IRODS_HOST" not in env:
            server = IrodsTestServer(os.environ.get("IRODS_TESTSERVER", os.path.join(ROOT, "target", "release", "irods-testserver")),
                                     data_dir=os.path.join(work, "irods")).start()
            services.append(server)
            env.update(server.environ())
            print(f"started the iRODS test server on port {server.port} (data in {server.data_dir})")
        workers = start_workers(args.workers, env, work)
        time.sleep(1.0)
        if workers.poll() is not None:
            with open(os.path.join(work, f"worker-{args.workers}.log")) as log:
                print(log.read(), file=sys.stderr)
            print(f"the {args.workers} workers exited at start (status {workers.returncode}); nothing was ingested",
                  file=sys.stderr)
            return 1
        print(f"started {args.workers} workers; ingesting {source} -> {args.target}")
        started = time.monotonic()
        if args.cli == "rust":
            cli = [rust_binary()]
        else:
            cli = [os.path.join(VENV_BIN, "python"), "-m", "irods_capability_automated_ingest.irods_sync"]
        status = subprocess.call(
            cli + ["start", source, args.target, "--job_name", "demo", "--synchronous",
                   "--event_handler", args.event_handler],
            env=env)
        name = "irods-ingest start" if args.cli == "rust" else "irods_sync start"
        print(f"{name} finished with exit status {status} after {time.monotonic() - started:.1f} s\n")
        show_catalog(env, args.target)
        return status
    finally:
        if workers is not None:
            workers.send_signal(signal.SIGINT)
            try:
                workers.wait(timeout=30)
            except subprocess.TimeoutExpired:
                workers.kill()
        for service in reversed(services):
            service.stop()
        print(f"\nlogs: {work}" if args.keep else "")
        if not args.keep:
            import shutil
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
