# An event handler that records how it is called: for every hook and override, one JSON line
# (hook name, a description of each positional argument, the keyword options) appended to
# meta["probe_file"]. Used to compare the Rust runtime's calls with the reference package's.
import json
import types

from irods_capability_automated_ingest.core import Core
from irods_capability_automated_ingest.utils import DeleteMode, Operation


def kind(value):
    if isinstance(value, types.ModuleType):
        return "module with event_handler" if hasattr(value, "event_handler") else "module"
    if isinstance(value, type):
        return "class " + value.__name__
    if isinstance(value, (Operation, DeleteMode)):
        return repr(value)
    if isinstance(value, dict):
        return "meta" if "job_name" in value else "dict " + json.dumps(value, sort_keys=True)
    name = type(value).__name__
    # The reference builds a python-irodsclient session before every entry; the Rust runtime
    # hands over a proxy that builds the same session when first used.
    if name in ("iRODSSession", "LazySession"):
        return "session"
    if hasattr(value, "bind") and hasattr(value, "info"):
        return "logger " + name
    return name + " " + repr(value)


def record(meta, hook, args, options):
    line = {
        "hook": hook,
        "args": [kind(a) for a in args],
        "options": {k: repr(v) for k, v in options.items()},
    }
    with open(meta["probe_file"], "a") as out:
        out.write(json.dumps(line) + "\n")


def _meta_of(args):
    return next(a for a in args if isinstance(a, dict) and "job_name" in a)


def _hook(name):
    def hook(*args, **options):
        record(_meta_of(args), name, args, options)

    return staticmethod(hook)


class event_handler(Core):
    @staticmethod
    def operation(session, meta, **options):
        record(meta, "operation", (session, meta), options)
        return Operation.NO_OP

    @staticmethod
    def delete_mode(meta, **options):
        record(meta, "delete_mode", (meta,), options)
        return DeleteMode.DO_NOT_DELETE

    @staticmethod
    def to_resource(session, meta, **options):
        record(meta, "to_resource", (session, meta), options)
        return None

    @staticmethod
    def target_path(session, meta, **options):
        record(meta, "target_path", (session, meta), options)
        return None

    @staticmethod
    def max_retries(hdlr_mod, logger, meta):
        record(meta, "max_retries", (hdlr_mod, logger, meta), {})
        return 2

    @staticmethod
    def timeout(hdlr_mod, logger, meta):
        record(meta, "timeout", (hdlr_mod, logger, meta), {})
        return 7

    @staticmethod
    def delay(hdlr_mod, logger, meta, retries):
        record(meta, "delay", (hdlr_mod, logger, meta, retries), {})
        return 3

    @staticmethod
    def pre_job(hdlr_mod, logger, meta):
        record(meta, "pre_job", (hdlr_mod, logger, meta), {})

    @staticmethod
    def post_job(hdlr_mod, logger, meta):
        record(meta, "post_job", (hdlr_mod, logger, meta), {})


for _event in ("data_obj_create", "data_obj_modify", "data_obj_delete",
               "coll_create", "coll_modify", "coll_delete"):
    for _when in ("pre_", "post_"):
        setattr(event_handler, _when + _event, _hook(_when + _event))
