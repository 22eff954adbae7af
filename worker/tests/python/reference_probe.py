"""Runs pieces of the real reference package (irods-capability-automated-ingest 0.7.0) and reports
what they did, so the Rust tests can compare against the reference itself rather than against a
re-implementation.

Usage: python reference_probe.py <command> <request.json> <result.json>

Byte strings (paths) travel base64-encoded so neither side needs a JSON parser for lone
surrogates. Only the reference's outward effects are intercepted: publishing (`enqueue_task`),
the iRODS session, and the per-entry iRODS operation. Everything else (scandir, exclusion,
chunking, logical paths, character_map, sync_time keys, locks) is the reference's own code.
"""

import base64
import importlib
import json
import os
import sys


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    return base64.b64decode(text)


def fs_str(text_b64):
    return os.fsdecode(unb64(text_b64))


def fs_b64(path_str):
    return b64(os.fsencode(path_str))


def build_map(rules):
    import re

    pairs = []
    for rule in rules:
        kind = rule["kind"]
        if kind == "char":
            pairs.append((rule["key"], rule["value"]))
        elif kind == "chars":
            pairs.append((tuple(rule["keys"]), rule["value"]))
        elif kind == "regex":
            pairs.append((re.compile(rule["pattern"]), rule["value"]))
        elif kind == "pred_ord_gt":
            n = rule["n"]
            pairs.append(((lambda c, n=n: ord(c) > n), rule["value"]))
        elif kind == "none_value":
            pairs.append((rule["key"], None))
        else:
            raise ValueError(kind)
    return pairs


def cmd_charmap(request):
    """translate_path for each (map, inputs); the module is reloaded per map because the
    reference fixes its separator/radix alphabet on the first map a process sees."""
    from irods_capability_automated_ingest import char_map_util

    results = []
    for case in request["cases"]:
        importlib.reload(char_map_util)
        mp = build_map(case["rules"])
        outputs = []
        for text in case["inputs"]:
            try:
                outputs.append({"ok": char_map_util.translate_path(text, mp)})
            except Exception as err:  # noqa: BLE001 - the error class is the observation
                outputs.append({"error": type(err).__name__})
        results.append(outputs)
    return results


def cmd_paths(request):
    """os.fsdecode / fsencode / abspath / relpath / is_unicode_encode_error_path on raw bytes."""
    from irods_capability_automated_ingest import utils

    root = fs_str(request["root"])
    results = []
    for item in request["inputs"]:
        s = fs_str(item)
        results.append(
            {
                "code_points": [ord(c) for c in s],
                "round_trip": fs_b64(s),
                "unicode_error": utils.is_unicode_encode_error_path(s),
                "b64_path_str": base64.b64encode(
                    os.path.abspath(s).encode("utf8", "surrogateescape")
                ).decode("ascii"),
                "normpath": fs_b64(os.path.normpath(s)) if s else None,
                "relpath": fs_b64(os.path.relpath(s, root)) if s.startswith("/") else None,
                "dirname": fs_b64(os.path.dirname(s)),
                "basename": fs_b64(os.path.basename(s)),
            }
        )
    return results


def setup_job(request):
    """Stores the handler source in Redis as `irods_sync start` does and returns a base meta."""
    from irods_capability_automated_ingest.redis_utils import get_redis

    config = {
        "log": {"filename": request["log_file"], "when": None, "interval": None, "level": None},
        "profile": {"filename": None, "when": None, "interval": None, "level": None},
        "redis": {"host": "127.0.0.1", "port": request["redis_port"], "db": request["redis_db"]},
    }
    r = get_redis(config)
    handler_key = "custom_event_handler:/" + request["job_name"] + "::" + request["uuid"]
    r.set(handler_key, request["handler_source"])
    root = fs_str(request["root"])
    meta = {
        "restart_queue": "restart",
        "path_queue": "path",
        "file_queue": "file",
        "target": request["target"],
        "src_path": root,
        "interval": None,
        "job_name": request["job_name"],
        "ignore_cache": request.get("ignore_cache", False),
        "initial_ingest": False,
        "event_handler": None,
        "config": config,
        "synchronous": False,
        "progress": False,
        "profile": False,
        "files_per_task": request.get("files_per_task", 50),
        "exclude_file_type": request.get("exclude_file_type", ["n"]),
        "exclude_file_name": request.get("exclude_file_name", ["n", "o", "n", "e"]),
        "exclude_directory_name": request.get("exclude_directory_name", ["n", "o", "n", "e"]),
        "idle_disconnect_seconds": 60,
        "root": root,
        "path": root,
        "event_handler_key": handler_key,
        "root_target_collection": request["target"],
    }
    return meta


def cleanup_handler_file(request):
    module = "event_handler" + request["job_name"].replace(".", "__") + request["uuid"]
    try:
        os.remove("/tmp/" + module + ".py")
    except FileNotFoundError:
        pass


def cmd_scan(request):
    """Runs filesystem_sync_path eagerly on request["path"]; records every enqueue in order."""
    from irods_capability_automated_ingest.tasks import filesystem_tasks

    meta = setup_job(request)
    meta["path"] = fs_str(request["path"])
    meta["task"] = "filesystem_sync_path"
    meta["queue_name"] = "path"
    enqueued = []

    def record(task, child_meta):
        entry = {"task": task.name.rsplit(".", 1)[-1], "path": fs_b64(child_meta["path"])}
        if task.name.endswith("filesystem_sync_path"):
            entry["mtime"] = repr(child_meta["mtime"])
            entry["ctime"] = repr(child_meta["ctime"])
        if "chunk" in child_meta and task.name.endswith("filesystem_sync_files"):
            # Floats as repr() text, so the comparison is exact without a float parser on the Rust side.
            entry["chunk"] = [
                [fs_b64(p), {k: (repr(v) if isinstance(v, float) else v) for k, v in s.items()}]
                for p, s in child_meta["chunk"].items()
            ]
        enqueued.append(entry)

    filesystem_tasks.utils.enqueue_task = record
    filesystem_tasks.irods_utils.irods_session = lambda *args, **kwargs: None
    try:
        result = filesystem_tasks.filesystem_sync_path.apply(args=[meta], task_id="probe-scan")
        error = None if result.successful() else repr(result.result)
    finally:
        cleanup_handler_file(request)
    return {"enqueued": enqueued, "error": error}


def cmd_entries(request):
    """Runs filesystem_sync_files eagerly on a chunk; records the names each entry was given
    (meta2 seen by the operation) and the sync_time keys written."""
    from irods_capability_automated_ingest.redis_utils import get_redis
    from irods_capability_automated_ingest.tasks import filesystem_tasks

    meta = setup_job(request)
    meta["task"] = "filesystem_sync_dir"
    meta["queue_name"] = "file"
    meta["chunk"] = {
        fs_str(path): {"is_link": False, "is_socket": False, "mtime": 1.0, "ctime": 1.0, "size": 0}
        for path in request["chunk"]
    }
    seen = []

    def record(module, meta2, logger, content):
        seen.append(
            {
                "path": fs_b64(meta2["path"]),
                "target": fs_b64(meta2["target"]),
                "b64_reason": meta2.get("b64_reason"),
                "b64_path_str": (meta2.get("b64_path_str") or b"").decode("ascii") or None,
                "b64_path_str_charmap": (meta2.get("b64_path_str_charmap") or b"").decode("ascii") or None,
                "unicode_error_filename": meta2.get("unicode_error_filename"),
            }
        )

    filesystem_tasks.filesystem.sync_data_from_file = record
    try:
        result = filesystem_tasks.filesystem_sync_files.apply(args=[meta], task_id="probe-files")
        error = None if result.successful() else repr(result.result)
    finally:
        cleanup_handler_file(request)
    r = get_redis(meta["config"])
    keys = sorted(k.decode("utf-8") for k in r.keys("sync_time:/*"))
    return {"seen": seen, "sync_time_keys": keys, "error": error}


def main():
    command, request_path, result_path = sys.argv[1:4]
    with open(request_path) as f:
        request = json.load(f)
    result = {"charmap": cmd_charmap, "paths": cmd_paths, "scan": cmd_scan, "entries": cmd_entries}[command](request)
    with open(result_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
