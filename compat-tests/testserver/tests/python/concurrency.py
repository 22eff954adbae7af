"""Many clients at once: 16 processes, each with its own python-irodsclient session, create the
same collection tree (recursive create must be idempotent under races), register, write, query
and remove objects in one shared collection. Afterwards every object must be there exactly once
with its own data id and content.

Usage: python concurrency.py ENV_FILE SCRATCH_DIR
"""

import multiprocessing
import os
import sys

from irods.models import Collection, DataObject
from irods.session import iRODSSession

ENV_FILE, SCRATCH = sys.argv[1], sys.argv[2]
SHARED = "/tempZone/home/rods/concurrency/shared/tree"
CLIENTS = 16
PER_CLIENT = 25


def worker(n, barrier):
    session = iRODSSession(irods_env_file=ENV_FILE)
    barrier.wait()
    session.collections.create(SHARED)
    src = os.path.join(SCRATCH, f"src{n}.txt")
    with open(src, "w") as f:
        f.write(f"client {n}\n")
    for i in range(PER_CLIENT):
        session.data_objects.register(src, f"{SHARED}/reg_{n}_{i}", dataSize=str(os.path.getsize(src)),
                                      dataModify="1700000000")
    with session.data_objects.open(f"{SHARED}/put_{n}", "w") as f:
        f.write(f"written by {n}".encode())
    rows = session.query(DataObject.name).filter(Collection.name == SHARED).all()
    assert len(rows) >= PER_CLIENT, len(rows)
    session.data_objects.unlink(f"{SHARED}/reg_{n}_0", force=True)
    session.cleanup()


def main():
    barrier = multiprocessing.Barrier(CLIENTS)
    procs = [multiprocessing.Process(target=worker, args=(n, barrier)) for n in range(CLIENTS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    assert not failed, f"client exit codes {failed}"
    session = iRODSSession(irods_env_file=ENV_FILE)
    rows = list(session.query(DataObject.id, DataObject.name).filter(Collection.name == SHARED))
    names = sorted(r[DataObject.name] for r in rows)
    expected = sorted([f"reg_{n}_{i}" for n in range(CLIENTS) for i in range(1, PER_CLIENT)] +
                      [f"put_{n}" for n in range(CLIENTS)])
    assert names == expected, f"{len(names)} objects, expected {len(expected)}"
    assert len({r[DataObject.id] for r in rows}) == len(rows), "data ids are not unique"
    for n in range(CLIENTS):
        content = session.data_objects.open(f"{SHARED}/put_{n}", "r").read()
        assert content == f"written by {n}".encode(), content
    session.collections.remove("/tempZone/home/rods/concurrency", recurse=True, force=True)
    print("concurrency: ok")


if __name__ == "__main__":
    main()
