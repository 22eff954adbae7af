"""Drives the reference package's own dispatch with the probe handler and prints nothing.

usage: reference_calls.py CASES_JSON

CASES_JSON: {"meta": {...}, "source": "<handler text>", "cases": [...]}. The handler text is
stored in Redis under meta["event_handler_key"] (meta["config"]["redis"] names the server), and
each case is run through `custom_event_handler(meta)` exactly as the reference's tasks call it
(irods/filesystem.py, irods/irods_utils.py, tasks/*.py). Before each case a {"case": name} line is
appended to meta["probe_file"]; the probe handler appends its own lines.

A last case, "real sync_data_from_file NO_OP", runs the reference's actual
filesystem.sync_data_from_file (initial_ingest, so no iRODS round trip is needed), to check that
the table of cases mirrors the real code path.
"""

import json
import os
import sys

from irods_capability_automated_ingest import sync_logging
from irods_capability_automated_ingest.custom_event_handler import custom_event_handler
from irods_capability_automated_ingest.irods import filesystem
from irods_capability_automated_ingest.redis_utils import get_redis
from irods_capability_automated_ingest.utils import Operation

spec = json.load(open(sys.argv[1]))
meta = spec["meta"]
get_redis(meta["config"]).set(meta["event_handler_key"], spec["source"])
logger = sync_logging.get_sync_logger(meta["config"]["log"])


def mark(name):
    with open(meta["probe_file"], "a") as out:
        out.write(json.dumps({"case": name}) + "\n")


def func(*args, **options):
    line = {
        "hook": "func",
        "arity": len(args),
        "options": {k: repr(v) for k, v in options.items()},
        "op": repr(args[4]) if len(args) == 5 else None,
    }
    with open(meta["probe_file"], "a") as out:
        out.write(json.dumps(line) + "\n")


class FakeSession:
    """Stands where the tasks pass their iRODSSession; never used by the probe."""


FakeSession.__name__ = "iRODSSession"
session = FakeSession()

for case in spec["cases"]:
    mark(case["name"])
    handler = custom_event_handler(meta)
    kind = case["kind"]
    options = case.get("options", {})
    if kind == "event":
        args = [logger, session, meta] if case["logger"] else [session, meta]
        if case.get("op"):
            args.append(Operation[case["op"]])
        handler.call("on_" + case["event"], logger, func, *args, **options)
    elif kind == "operation":
        handler.operation(session, **options)
    elif kind in ("to_resource", "target_path"):
        getattr(handler, kind)(session, **options)
    elif kind == "delete_mode":
        handler.delete_mode()
    elif kind in ("max_retries", "timeout"):
        getattr(handler, kind)()
    elif kind == "delay":
        handler.delay(case["retries"])
    elif kind in ("pre_job", "post_job"):
        # tasks/filesystem_tasks.py and tasks/irods_task.py
        module = handler.get_module()
        getattr(module, kind)(module, logger, meta)
    else:
        raise ValueError(kind)

# The real code path of a file entry with NO_OP.
mark("real sync_data_from_file NO_OP")
real = dict(meta, initial_ingest=True)
filesystem.sync_data_from_file(custom_event_handler(real).get_module(), real, logger, True)

# get_module() wrote the handler to /tmp; remove it (the reference never does).
module_file = "/tmp/event_handler%s%s.py" % (
    meta["job_name"].replace(".", "__"),
    meta["event_handler_key"].split("::")[1],
)
if os.path.exists(module_file):
    os.remove(module_file)
