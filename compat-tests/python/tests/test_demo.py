"""scripts/demo's ingest, run for real: reference irods_sync + Rust or Python workers + our test server."""

import os
import subprocess
import sys

from conftest import HERE, release_binary

DEMO = os.path.join(os.path.dirname(HERE), "demo.py")


import pytest


@pytest.mark.parametrize("workers,cli", [("rust", "rust"), ("python", "python")])
def test_demo_ingest_registers_the_tree_with_avus(workers, cli):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRODS_") and k != "CELERY_BROKER_URL"}
    env["IRODS_TESTSERVER"] = release_binary("irods-testserver")
    if "rust" in (workers, cli):
        env["IRODS_INGEST_BIN"] = release_binary("irods-ingest")
    run = subprocess.run([sys.executable, DEMO, "--workers", workers, "--cli", cli], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    for name in ["results.csv", "raw.dat", "notes `v2`.txt", "résumé.txt", "meta.json", "latest.csv"]:
        assert f"{name}  " in out, f"{name} missing from the catalog listing:\n{out}"
    assert out.count("AVU ingested_by = irods-ingest demo") == 6, out
    assert "AVU link_target = " in out, out
    assert "/tempZone/home/rods/demo/empty/" in out, out
