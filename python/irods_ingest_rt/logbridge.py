"""The ``logger`` handed to hooks.

It behaves like the reference's ``sync_logging.get_sync_logger(config)``: a structlog logger over a
stdlib logger named ``irods_sync/<filename>/<level>`` whose records are one JSON object per line
(event keywords, ``event``, ``logger``, ``level``, ``@timestamp``). The difference is the last
step: instead of a ``FileHandler`` the stdlib logger has a ``RustHandler`` that passes the finished
line to the Rust runtime, which writes it to ``config["filename"]`` (or stdout) and mirrors it into
the worker's own log. One writer per file keeps Rust's and Python's lines from interleaving badly.

structlog is used when it is installed (it is whenever the reference package is); otherwise a small
stand-in renders the same lines for the common calls.
"""

import datetime
import json
import logging
import threading

import _irods_ingest_native as native

_loggers = {}
_lock = threading.Lock()
_current = threading.local()


def set_thread_runtime(runtime_id):
    """Remembers which Rust runtime owns the calling thread (for loggers made by handler code)."""
    _current.runtime_id = runtime_id


def thread_runtime():
    return getattr(_current, "runtime_id", None)


def logger_key(config):
    filename = config["filename"]
    level = config["level"]
    return ("" if filename is None else filename) + "/" + ("" if level is None else level)


class RustHandler(logging.Handler):
    """Hands every formatted record (the JSON line, plus a traceback for ``exception()``) to Rust."""

    def __init__(self, runtime_id, config):
        super().__init__()
        self.runtime_id = runtime_id
        self.destination = (
            config.get("filename"),
            config.get("when"),
            config.get("interval"),
            config.get("level"),
        )

    def emit(self, record):
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        native.emit_log(self.runtime_id, self.destination, record.levelno, line)


class LibraryHandler(logging.Handler):
    """Root-logger handler: records of libraries (python-irodsclient, redis ...) go to the worker log."""

    def __init__(self, runtime_id):
        super().__init__()
        self.runtime_id = runtime_id
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record):
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        native.emit_log(self.runtime_id, None, record.levelno, line)


def timestamper(logger, method_name, event_dict):
    """Local time with its UTC offset, milliseconds: ``2026-11-22T07:51:35.655+00:00``."""
    event_dict["@timestamp"] = (
        datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
    )
    return event_dict


def _stdlib_logger(runtime_id, config):
    key = logger_key(config)
    stdlib = logging.getLogger("irods_sync/" + key)
    stdlib.propagate = False
    if config["level"] is not None:
        stdlib.setLevel(logging.getLevelName(config["level"]))
    for handler in list(stdlib.handlers):
        if isinstance(handler, RustHandler) and handler.runtime_id != runtime_id:
            stdlib.removeHandler(handler)
    if not any(isinstance(h, RustHandler) for h in stdlib.handlers):
        stdlib.addHandler(RustHandler(runtime_id, config))
    return stdlib


def get_sync_logger(config, runtime_id=None):
    """Same contract as the reference's ``sync_logging.get_sync_logger``: one logger per key."""
    if runtime_id is None:
        runtime_id = thread_runtime() or 0
    cache_key = (runtime_id, logger_key(config))
    with _lock:
        logger = _loggers.get(cache_key)
        if logger is None:
            logger = _make_logger(_stdlib_logger(runtime_id, config))
            _loggers[cache_key] = logger
    return logger


def _make_logger(stdlib):
    try:
        import structlog
    except ImportError:
        return FallbackLogger(stdlib, {})
    try:
        from irods_capability_automated_ingest.sync_logging import timestamper as stamp
    except Exception:
        stamp = timestamper
    return structlog.wrap_logger(
        stdlib,
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            stamp,
            structlog.processors.JSONRenderer(),
        ],
    )


# structlog's default (native) bound logger: method -> level name it logs at.
_METHODS = {
    "debug": "debug",
    "info": "info",
    "msg": "info",
    "warning": "warning",
    "warn": "warning",
    "error": "error",
    "exception": "error",
    "critical": "critical",
    "fatal": "critical",
}


def _json_default(value):
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


class FallbackLogger:
    """A stand-in for structlog's default bound logger, for interpreters without structlog.

    Level methods with keyword fields and %-style positional arguments, ``exception`` (= ``error``
    with ``exc_info=True``), ``log(level, ...)``, ``bind``/``unbind``/``try_unbind``/``new``; lines
    as the reference's processor chain renders them.
    """

    def __init__(self, stdlib, context):
        self._logger = stdlib
        self._context = context

    def bind(self, **fields):
        return FallbackLogger(self._logger, {**self._context, **fields})

    def new(self, **fields):
        return FallbackLogger(self._logger, dict(fields))

    def unbind(self, *keys):
        context = dict(self._context)
        for key in keys:
            del context[key]
        return FallbackLogger(self._logger, context)

    def try_unbind(self, *keys):
        context = dict(self._context)
        for key in keys:
            context.pop(key, None)
        return FallbackLogger(self._logger, context)

    def log(self, level, event=None, *args, **fields):
        return self._log(logging.getLevelName(level).lower(), event, args, fields)

    def _log(self, name, event, args, fields):
        stdlib = self._logger
        if stdlib.disabled or logging.getLevelName(name.upper()) < stdlib.getEffectiveLevel():
            return None
        if args:
            if len(args) == 1 and isinstance(args[0], dict) and args[0]:
                args = args[0]
            event = event % args
        event_dict = dict(self._context)
        event_dict.update(fields)
        if event is not None:
            event_dict["event"] = event
        event_dict["logger"] = stdlib.name
        event_dict["level"] = name
        timestamper(stdlib, name, event_dict)
        return getattr(stdlib, name)(json.dumps(event_dict, default=_json_default))

    def __getattr__(self, method):
        name = _METHODS.get(method)
        if name is None:
            raise AttributeError(method)

        def emit(event=None, *args, **fields):
            if method == "exception":
                fields.setdefault("exc_info", True)
            return self._log(name, event, args, fields)

        return emit

    def __repr__(self):
        return "<FallbackLogger(context=%r, logger=%r)>" % (self._context, self._logger)


def install_library_handler(runtime_id, level):
    """Routes records of other Python libraries to the worker's log; sets the root level (-l)."""
    root = logging.getLogger()
    if level is not None:
        root.setLevel(level)
    if not any(isinstance(h, LibraryHandler) for h in root.handlers):
        root.addHandler(LibraryHandler(runtime_id))
