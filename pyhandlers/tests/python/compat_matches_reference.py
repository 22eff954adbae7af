"""Checks the bundled stand-in modules against the installed reference package.

usage: compat_matches_reference.py COMPAT_DIR   (python/compat/irods_capability_automated_ingest)
Exits non-zero with a message on the first difference.
"""

import importlib.util
import sys

from irods_capability_automated_ingest import core as ref_core
from irods_capability_automated_ingest import redis_key as ref_redis_key
from irods_capability_automated_ingest import utils as ref_utils


def load(name):
    spec = importlib.util.spec_from_file_location("compat_" + name, sys.argv[1] + "/" + name + ".py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


utils, core, redis_key = load("utils"), load("core"), load("redis_key")

for enum in ("Operation", "DeleteMode"):
    ours = [(m.name, m.value) for m in getattr(utils, enum)]
    theirs = [(m.name, m.value) for m in getattr(ref_utils, enum)]
    assert ours == theirs, (enum, ours, theirs)

for op in list(ref_utils.Operation) + [None]:
    for mode in list(ref_utils.DeleteMode):
        mine_op = utils.Operation[op.name] if op else None
        expected = ref_utils.delete_mode_is_compatible_with_operation(mode, op)
        actual = utils.delete_mode_is_compatible_with_operation(utils.DeleteMode[mode.name], mine_op)
        assert expected == actual, (op, mode, expected, actual)

for path in ("/a/b", "/a/caf\udce9", "\u00e9"):
    assert utils.is_unicode_encode_error_path(path) == ref_utils.is_unicode_encode_error_path(path)

# Same key handle classes, same keys.
for name in dir(ref_redis_key):
    theirs = getattr(ref_redis_key, name)
    if isinstance(theirs, type) and name.endswith("handle"):
        ours = getattr(redis_key, name)
        if name in ("redis_key_handle", "incremental_redis_key_handle", "json_redis_key_handle",
                    "list_redis_key_handle", "float_redis_key_handle"):
            args = ("cat", "ident")
        elif name == "stopped_jobs_key_handle":
            args = ()
        else:
            args = ("ident",)
        assert ours(None, *args).get_key() == theirs(None, *args).get_key(), name
        assert [c.__name__ for c in ours.__mro__] == [c.__name__ for c in theirs.__mro__], name


class FakeRedis:
    def __init__(self):
        self.data = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value):
        self.data[key] = str(value).encode()

    def incr(self, key):
        self.data[key] = str(int(self.data.get(key, b"0")) + 1).encode()


for module in (redis_key, ref_redis_key):
    r = FakeRedis()
    handle = module.failures_key_handle(r, "job")
    assert handle.get_value() is None
    handle.incr()
    handle.incr()
    assert handle.get_value() == 2 and r.data == {"failures:/job": b"2"}
    stamp = module.sync_time_key_handle(r, "/p:/t")
    stamp.set_value(1.5)
    assert stamp.get_value() == 1.5


# Core: pre, func, post; post skipped when func raises; options copied per call.
def trace(core_module):
    calls = []

    class handler(core_module.Core):
        @staticmethod
        def pre_data_obj_create(*args, **options):
            calls.append(("pre", args, dict(options)))
            options["mutated"] = True

        @staticmethod
        def post_data_obj_create(*args, **options):
            calls.append(("post", args, dict(options)))

    def func(*args, **options):
        calls.append(("func", args, dict(options)))

    def failing(*args, **options):
        raise ValueError("x")

    handler.on_data_obj_create(func, 1, 2, allow_redirect=False)
    try:
        handler.on_data_obj_create(failing, 3)
    except ValueError:
        calls.append(("raised",))
    handler.on_coll_create(func, 4)
    return calls


assert trace(core) == trace(ref_core), (trace(core), trace(ref_core))
print("ok")
