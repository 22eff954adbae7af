"""S3 source: the same bucket ingested by the reference's Python workers and by Rust workers.

Each run gets fresh private services (a Fleet) and its own ``moto_server`` on a free loopback
port, filled with the same objects under the same bucket name. The reference CLI starts the job
(``irods_sync start /bucket/pre TARGET --s3_keypair ... --synchronous``) twice: once on the
initial objects, once after one object grew and one was added.

After the first pass both kinds of workers must leave the same catalog (collections, data
objects, replicas with physical paths and sizes, AVUs), the same data-object contents, the same
hook lines and the same job counters. After the second pass they must agree too, except for the
intended difference worker/README.md lists under "S3 source": PUT_SYNC and PUT_APPEND on the
changed object fail in the reference (``TypeError``, one failed task) and succeed with the Rust
worker (whole new content). The Rust-only checks at the end cover the other differences: a
multipart object over 32 MiB (the reference's parallel path raises ``NameError``).
"""

import os
import socket
import subprocess
import time
import urllib.request

import boto3
import pytest

from ingest_testsupport import Fleet, event_handler_source, free_port, normalise, rust_worker_status
from ingest_testsupport.fleet import VENV_BIN, ZONE_HOME

pytestmark = pytest.mark.timeout(300)

BUCKET = "ingest-parity"
TARGET = f"{ZONE_HOME}/s3parity"
OBJECTS = {
    "pre/top.txt": b"top\n",
    "pre/a/b/deep.txt": b"deep object\n",
    "pre/a/changing.txt": b"version 1\n",
    "pre/x y/space name.txt": b"spaces\n",
    "prefix2/also-listed.txt": b"a raw string prefix also takes this\n",
    "pre/folder/": b"",
    "other/not-listed.txt": b"outside the prefix\n",
}
CHANGED = ("pre/a/changing.txt", b"version 1\nversion 2 is longer\n")
ADDED = ("pre/new.txt", b"added before the second pass\n")

RUST_WORKS, RUST_STATUS = rust_worker_status()
needs_rust = pytest.mark.skipif(not RUST_WORKS and bool(os.environ.get("INGEST_RUST_OPTIONAL")), reason=f"irods-ingest worker unavailable: {RUST_STATUS}")


class Moto:
    """A moto_server on a free loopback port (killed on exit)."""

    def __init__(self, log_dir: str):
        self.port = free_port()
        os.makedirs(log_dir, exist_ok=True)
        self.log = open(os.path.join(log_dir, f"moto-{self.port}.log"), "wb")
        self.process = subprocess.Popen([os.path.join(VENV_BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.1)
        self.endpoint = f"127.0.0.1:{self.port}"
        self.s3 = boto3.client("s3", endpoint_url=f"http://{self.endpoint}", region_name="us-east-1",
                               aws_access_key_id="irods", aws_secret_access_key="irodsadmin")

    def close(self):
        self.process.kill()
        self.process.wait()
        self.log.close()


def no_proxy_env() -> dict:
    # Loopback only: no proxy from the environment for boto3 or the workers.
    return {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def read_object(fleet, path: str) -> bytes:
    with fleet.session().data_objects.open(path, "r") as f:
        return f.read()


def run_scenario(kind: str, operation: str, tmp_path) -> dict:
    """Two passes of one operation with `kind` workers; returns comparable snapshots."""
    os.environ.update(no_proxy_env())
    moto = Moto(str(tmp_path))
    try:
        moto.s3.create_bucket(Bucket=BUCKET)
        for key, body in OBJECTS.items():
            moto.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        with Fleet(workers=kind, concurrency=1, env=no_proxy_env()) as fleet:
            hook_log = os.path.join(fleet.dir, "hooks.log")
            handler = fleet.write_file("handler.py", event_handler_source(operation=operation, hook_log=hook_log))
            keypair = fleet.write_file("keypair", "irods\nirodsadmin\n")
            extra = ["--s3_keypair", keypair, "--s3_endpoint_domain", moto.endpoint, "--s3_insecure_connection",
                     "--files_per_task", "2"]
            snapshots = {}
            for number in (1, 2):
                if number == 2:
                    time.sleep(1.1)  # LastModified has whole-millisecond resolution; be clearly later
                    moto.s3.put_object(Bucket=BUCKET, Key=CHANGED[0], Body=CHANGED[1])
                    moto.s3.put_object(Bucket=BUCKET, Key=ADDED[0], Body=ADDED[1])
                job = f"s3-{operation.lower()}-{number}"
                run = fleet.start_job(f"/{BUCKET}/pre", TARGET, job, event_handler=handler, extra=extra)
                assert not run.timed_out, run.output
                catalog = fleet.catalog(TARGET)
                contents = {path: read_object(fleet, path) for path in catalog["data_objects"]
                            if operation.startswith("PUT")}
                with open(hook_log, encoding="utf-8") if os.path.exists(hook_log) else open(os.devnull) as f:
                    hooks = sorted(f.read().splitlines())
                open(hook_log, "w").close()
                counters = fleet.job_counters(job)
                snapshots[number] = normalise({
                    "returncode": run.returncode,
                    "catalog": catalog,
                    "contents": contents,
                    "hooks": hooks,
                    "counters": counters,
                }, {fleet.vault_root: "<VAULT>"})
                snapshots[number]["output"] = run.output
            return snapshots
    finally:
        moto.close()


def strip(snapshot: dict) -> dict:
    return {k: v for k, v in snapshot.items() if k != "output"}


@needs_rust
@pytest.mark.parametrize("operation", ["REGISTER_SYNC", "REGISTER_AS_REPLICA_SYNC", "PUT", "PUT_SYNC", "PUT_APPEND",
                                       "NO_OP"])
def test_rust_workers_match_reference(operation, tmp_path):
    python = run_scenario("python", operation, tmp_path / "python")
    rust = run_scenario("rust", operation, tmp_path / "rust")

    # Pass 1: identical, and what the reference is known to do.
    assert strip(rust[1]) == strip(python[1]), rust[1]["output"]
    first = python[1]
    assert first["counters"]["failures"] is None, first["output"]
    objects = first["catalog"]["data_objects"]
    if operation == "NO_OP":
        assert objects == {}
    else:
        # Logical path: the key without the raw prefix "pre", slashes stripped.
        assert sorted(objects) == sorted(f"{TARGET}/{key[len('pre'):].strip('/')}"
                                         for key in OBJECTS if key.startswith("pre") and not key.endswith("/"))
    if operation.startswith("REGISTER"):
        replica = objects[f"{TARGET}/a/b/deep.txt"]["replicas"][0]
        assert replica["path"] == f"/{BUCKET}/pre/a/b/deep.txt"
        assert replica["size"] == len(OBJECTS["pre/a/b/deep.txt"])
    if operation.startswith("PUT"):
        assert first["contents"][f"{TARGET}/a/b/deep.txt"] == OBJECTS["pre/a/b/deep.txt"]
        assert first["contents"][f"{TARGET}/fix2/also-listed.txt"] == OBJECTS["prefix2/also-listed.txt"]
    if operation != "NO_OP":
        assert any(line.startswith(f"coll_create\t{TARGET}/a/b\t/{BUCKET}/pre/a/b") for line in first["hooks"]), first["hooks"]

    # Pass 2: identical except for the modify of PUT_SYNC / PUT_APPEND (README: S3 source).
    changed = f"{TARGET}/a/changing.txt"
    if operation in ("PUT_SYNC", "PUT_APPEND"):
        assert python[2]["counters"]["failures"] == 1, python[2]["output"]
        assert python[2]["contents"][changed] == OBJECTS[CHANGED[0]]
        assert rust[2]["counters"]["failures"] is None, rust[2]["output"]
        assert rust[2]["contents"][changed] == CHANGED[1]
        assert rust[2]["catalog"]["data_objects"][changed]["replicas"][0]["size"] == len(CHANGED[1])
        assert f"data_obj_modify\t{changed}\t/{BUCKET}/{CHANGED[0]}" in rust[2]["hooks"]
        for side in (python[2], rust[2]):
            side["contents"].pop(changed)
            side["catalog"]["data_objects"].pop(changed)
            side["counters"].pop("failures")
            side["hooks"] = [h for h in side["hooks"] if changed not in h]
            side["returncode"] = None
        assert rust[2]["contents"][f"{TARGET}/new.txt"] == ADDED[1]
    assert strip(rust[2]) == strip(python[2]), rust[2]["output"]


@needs_rust
def test_rust_large_multipart_object(tmp_path):
    """A 40 MiB multipart object (8 MiB parts) is uploaded whole and its ETag checks out."""
    os.environ.update(no_proxy_env())
    moto = Moto(str(tmp_path))
    try:
        moto.s3.create_bucket(Bucket="big")
        upload = moto.s3.create_multipart_upload(Bucket="big", Key="data/large.bin")
        parts, body = [], b""
        for number in range(1, 6):
            part = bytes([number]) * (8 << 20)
            body += part
            etag = moto.s3.upload_part(Bucket="big", Key="data/large.bin", UploadId=upload["UploadId"],
                                       PartNumber=number, Body=part)["ETag"]
            parts.append({"ETag": etag, "PartNumber": number})
        moto.s3.complete_multipart_upload(Bucket="big", Key="data/large.bin", UploadId=upload["UploadId"],
                                          MultipartUpload={"Parts": parts})
        with Fleet(workers="rust", concurrency=1, env=no_proxy_env()) as fleet:
            handler = fleet.write_file("handler.py", event_handler_source(operation="PUT"))
            keypair = fleet.write_file("keypair", "irods\nirodsadmin\n")
            run = fleet.start_job("/big", TARGET, "s3-large", event_handler=handler,
                                  extra=["--s3_keypair", keypair, "--s3_endpoint_domain", moto.endpoint,
                                         "--s3_insecure_connection"])
            assert run.returncode == 0 and fleet.job_counters("s3-large")["failures"] is None, run.output
            assert read_object(fleet, f"{TARGET}/data/large.bin") == body
            log = "".join(w.log_text() for w in fleet.workers)
            assert "checksums do not match" not in log, log[-3000:]
    finally:
        moto.close()
