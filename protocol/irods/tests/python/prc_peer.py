"""python-irodsclient as the second party of the end-to-end tests (irods-testserver).

Usage (IRODS_ENVIRONMENT_FILE selects the server):
  prc_peer.py describe <logical path>        -> JSON: size, sha256, AVUs, replica count of the object
  prc_peer.py put <local file> <logical>      -> uploads (PRC's own parallel transfer when large) and
                                                 adds the AVU source=prc
"""

import hashlib
import json
import os
import sys

from irods.session import iRODSSession


def session():
    return iRODSSession(irods_env_file=os.environ["IRODS_ENVIRONMENT_FILE"])


def describe(path):
    with session() as s:
        obj = s.data_objects.get(path)
        digest = hashlib.sha256()
        with obj.open("r") as f:
            while True:
                chunk = f.read(8 << 20)
                if not chunk:
                    break
                digest.update(chunk)
        avus = sorted([m.name, m.value, m.units or ""] for m in obj.metadata.items())
        return {"size": obj.size, "sha256": digest.hexdigest(), "avus": avus, "replicas": len(obj.replicas)}


def put(local, path):
    with session() as s:
        s.data_objects.put(local, path)
        s.data_objects.get(path).metadata.add("source", "prc")
    return {"ok": True}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print(json.dumps({"describe": describe, "put": put}[command](*args)))
