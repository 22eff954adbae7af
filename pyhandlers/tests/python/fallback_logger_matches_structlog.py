"""The structlog stand-in renders the same lines as structlog with the reference's processors.

usage: fallback_logger_matches_structlog.py PYTHON_DIR   (the repository's python/)
"""

import sys
import types

lines = []
native = types.ModuleType("_irods_ingest_native")
native.emit_log = lambda runtime_id, destination, level, line: lines.append(line)
sys.modules["_irods_ingest_native"] = native
sys.path.insert(0, sys.argv[1])

from irods_ingest_rt import logbridge  # noqa: E402

config = {"filename": "/tmp/x.log", "when": None, "interval": None, "level": "INFO"}
stdlib = logbridge._stdlib_logger(1, config)


def calls(logger):
    logger.info("pre_data_obj_create:[/tempZone/home/rods/a]")
    logger.info("synchronizing file", path="/data/src/a", t0=1.5, size=2**70, flag=True, none=None)
    logger.warning("odd", obj=object, items=[1, "two", (3, 4)])
    logger.warn("old name")
    logger.debug("filtered at INFO")
    logger.error("unicode caf\u00e9 \udce9")
    logger.bind(job_name="j1").info("bound", task="t")
    logger.bind(a=1, b=2).unbind("a").try_unbind("zz").info("unbound")
    logger.exception("outside except")
    logger.fatal("fatal %s and %d", "args", 2)
    logger.msg("msg alias")
    logger.log(30, "via log", n=1)
    logger.critical("dict args %(a)s", {"a": "A"})


def strip(line):
    head, sep, _ = line.rpartition(', "@timestamp": "')
    return head if sep else line


calls(logbridge._make_logger(stdlib))
with_structlog = [strip(l) for l in lines]
lines.clear()
sys.modules["structlog"] = None  # import structlog now fails
fallback = logbridge._make_logger(stdlib)
assert isinstance(fallback, logbridge.FallbackLogger), fallback
calls(fallback)
without = [strip(l) for l in lines]
assert len(with_structlog) == 12, with_structlog
assert with_structlog == without, "\n".join(with_structlog + ["---"] + without)
print("ok")
