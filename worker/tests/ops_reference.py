"""Runs one step of the ingest through the reference's own functions, for worker/tests/ops_parity.rs.

Usage: python ops_reference.py REQUEST_JSON OUTPUT_JSON

REQUEST_JSON holds:
  action   "sync_file" | "sync_dir" | "delete_data_object" | "delete_collection" | "dump"
  env_file the irods_environment.json of the test server to use
  meta     the task's meta dict (for every action but "dump")
  content  the `content` flag of sync_data_from_file
  handler  {"operation": int|None, "to_resource": str|None, "target_path": str|None,
            "delete_mode": int|None}: what the event handler's overrides return (absent = not defined)
  dump     {"roots": [collection prefixes], "data_dir": server data dir} for the catalog read-back

The step calls the reference function exactly as its Celery task would (sync_data_from_file,
sync_data_from_dir, delete_data_object, delete_collection), with a minimal Core subclass as the
event handler. Only custom_event_handler.get_module is replaced (it would load the handler from
Redis); Redis locks are real. OUTPUT_JSON gets {"error": ..., "dump": ...}: the exception the step
raised (type and text) and the catalog read back with python-irodsclient's GenQuery.
"""

import json
import os
import sys
import traceback

from irods.column import Like
from irods.models import Collection, DataObject, DataObjectMeta, Resource
from irods.session import iRODSSession

from irods_capability_automated_ingest import custom_event_handler as ceh
from irods_capability_automated_ingest.core import Core
from irods_capability_automated_ingest.irods import filesystem, irods_utils
from irods_capability_automated_ingest.utils import DeleteMode, Operation

REQUEST_FILE, OUTPUT_FILE = sys.argv[1], sys.argv[2]
with open(REQUEST_FILE) as f:
    REQUEST = json.load(f)

# irods_session() reads the environment file (no IRODS_* variables may shadow it).
for var in ("IRODS_HOST", "IRODS_PORT", "IRODS_USER_NAME", "IRODS_ZONE_NAME", "IRODS_PASSWORD"):
    os.environ.pop(var, None)
os.environ["IRODS_ENVIRONMENT_FILE"] = REQUEST["env_file"]
os.environ["IRODS_AUTHENTICATION_FILE"] = os.path.join(os.path.dirname(REQUEST["env_file"]), ".irodsA")


class Log:
    """The structlog-style logger the reference functions take (msg, **fields)."""

    def info(self, *args, **kwargs):
        pass

    debug = error = warning = exception = info


def make_handler(spec):
    class event_handler(Core):
        pass

    if "operation" in spec:
        value = spec["operation"]
        event_handler.operation = staticmethod(
            lambda session, meta, **options: None if value is None else Operation(value))
    if "to_resource" in spec:
        event_handler.to_resource = staticmethod(lambda session, meta, **options: spec["to_resource"])
    if "target_path" in spec:
        event_handler.target_path = staticmethod(lambda session, meta, **options: spec["target_path"])
    if "delete_mode" in spec:
        event_handler.delete_mode = staticmethod(lambda meta: DeleteMode(spec["delete_mode"]))
    return event_handler


HANDLER = make_handler(REQUEST.get("handler", {}))


def get_module(self, rtn_mod_and_class=False):
    return (HANDLER, HANDLER) if rtn_mod_and_class else HANDLER


ceh.custom_event_handler.get_module = get_module


def run_step():
    action = REQUEST["action"]
    meta = REQUEST.get("meta")
    if action == "sync_file":
        filesystem.sync_data_from_file(HANDLER, meta, Log(), REQUEST["content"])
    elif action == "sync_dir":
        filesystem.sync_data_from_dir(HANDLER, meta, Log(), REQUEST["content"])
    elif action == "delete_data_object":
        irods_utils.delete_data_object(HANDLER, meta)
    elif action == "delete_collection":
        irods_utils.delete_collection(HANDLER, meta)
    elif action != "dump":
        raise ValueError(f"unknown action {action}")


def normalise_time(value):
    seconds = int(value.timestamp())
    # Times the tests chose are before 2023; later ones were set by the server ("now").
    return seconds if seconds < 1_700_000_000 else "<server time>"


def dump(spec):
    data_dir = spec["data_dir"]

    def local(path):
        return path.replace(data_dir, "<DATA>", 1) if path.startswith(data_dir) else path

    session = iRODSSession(irods_env_file=REQUEST["env_file"])
    try:
        collections, objects, avus = set(), [], []
        for root in spec["roots"]:
            for row in session.query(Collection.name).filter(Like(Collection.name, root + "%")):
                collections.add(row[Collection.name])
            rows = session.query(
                Collection.name, DataObject.name, DataObject.replica_number, DataObject.size,
                DataObject.modify_time, DataObject.resource_name, DataObject.resc_hier, DataObject.path,
                DataObject.replica_status,
            ).filter(Like(Collection.name, root + "%"))
            for r in rows:
                objects.append({
                    "logical": r[Collection.name] + "/" + r[DataObject.name],
                    "replica": r[DataObject.replica_number],
                    "size": r[DataObject.size],
                    "mtime": normalise_time(r[DataObject.modify_time]),
                    "resource": r[DataObject.resource_name],
                    "hierarchy": r[DataObject.resc_hier],
                    "physical": local(r[DataObject.path]),
                    "status": r[DataObject.replica_status],
                })
            rows = session.query(
                Collection.name, DataObject.name, DataObjectMeta.name, DataObjectMeta.value, DataObjectMeta.units,
            ).filter(Like(Collection.name, root + "%"))
            for r in rows:
                avus.append([r[Collection.name] + "/" + r[DataObject.name], r[DataObjectMeta.name],
                             r[DataObjectMeta.value], r[DataObjectMeta.units]])
        vault = []
        for top, _dirs, files in os.walk(data_dir):
            for name in files:
                path = os.path.join(top, name)
                rel = os.path.relpath(path, data_dir)
                if rel.startswith("catalog.sqlite"):
                    continue
                vault.append([rel, os.path.getsize(path)])
        return {
            "collections": sorted(collections),
            "data_objects": sorted(objects, key=lambda o: (o["logical"], o["replica"])),
            "avus": sorted(avus),
            "vault_files": sorted(vault),
        }
    finally:
        session.cleanup()


def main():
    error = None
    try:
        run_step()
    except Exception as e:  # the step's failure is part of what is compared
        error = {"type": type(e).__name__, "message": str(e), "traceback": traceback.format_exc()}
    result = {"error": error, "dump": dump(REQUEST["dump"]) if "dump" in REQUEST else None}
    irods_utils.stop_timer()
    for session in list(irods_utils.irods_session_map.values()):
        session.cleanup()
    irods_utils.irods_session_map.clear()
    with open(OUTPUT_FILE, "w") as f:
        json.dump(result, f, sort_keys=True)


main()
