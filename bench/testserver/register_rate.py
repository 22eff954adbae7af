"""Registrations per second irods-testserver sustains from 1, 4 and 16 client connections.

Each client is a separate process with its own python-irodsclient session (one connection),
registering files in place the way the reference ingest's REGISTER_SYNC does
(`data_objects.register(path, logical, allow_redirect=False, dataSize=..., dataModify=...)`).
Reported per client count: wall-clock registrations/s (what a fleet of workers sees, bounded by
the Python clients on a small machine) and registrations per second of *server* CPU time (read from
/proc), which does not depend on how fast the clients are.

Usage: register_rate.py SERVER_BINARY [--per-client N] [--clients 1,4,16]
"""

import argparse
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from irods.session import iRODSSession


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def client(env_file, collection, source, count, start_barrier, results):
    session = iRODSSession(irods_env_file=env_file)
    session.collections.create(collection)
    size = str(os.path.getsize(source))
    start_barrier.wait()
    began = time.monotonic()
    for i in range(count):
        session.data_objects.register(source, f"{collection}/f{i:06d}", allow_redirect=False,
                                      dataSize=size, dataModify="1700000000")
    results.put(time.monotonic() - began)
    session.cleanup()


def run(binary, clients, per_client, workdir):
    data_dir = os.path.join(workdir, f"data-{clients}")
    env_file = os.path.join(workdir, f"env-{clients}", "irods_environment.json")
    log = open(os.path.join(workdir, f"server-{clients}.log"), "wb")
    server = subprocess.Popen([binary, "--port", str(free_port()), "--data-dir", data_dir, "--env-file", env_file],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(env_file):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        source = os.path.join(workdir, "source.txt")
        with open(source, "w") as f:
            f.write("payload\n")
        barrier = multiprocessing.Barrier(clients + 1)
        results = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=client, args=(
            env_file, f"/tempZone/home/rods/bench{clients}_{i}", source, per_client, barrier, results))
            for i in range(clients)]
        for p in procs:
            p.start()
        barrier.wait()
        cpu_before = cpu_seconds(server.pid)
        began = time.monotonic()
        for p in procs:
            p.join()
        wall = time.monotonic() - began
        cpu = cpu_seconds(server.pid) - cpu_before
        total = clients * per_client
        return total, wall, cpu
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--per-client", type=int, default=0, help="registrations per client (default 4000/clients)")
    parser.add_argument("--clients", default="1,4,16")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-testserver-")
    try:
        print(f"{'clients':>7} {'registrations':>13} {'wall s':>8} {'reg/s':>8} {'server cpu s':>12} {'reg/cpu-s':>10}")
        for clients in [int(c) for c in args.clients.split(",")]:
            per_client = args.per_client or max(1, 4000 // clients)
            total, wall, cpu = run(args.binary, clients, per_client, workdir)
            per_cpu = total / cpu if cpu > 0 else float("inf")
            print(f"{clients:>7} {total:>13} {wall:>8.2f} {total / wall:>8.0f} {cpu:>12.2f} {per_cpu:>10.0f}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
