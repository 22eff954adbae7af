"""What the Rust runtime calls: set-up, handler loading and the hook/override calls.

Each function mirrors one piece of the reference package (``custom_event_handler`` and ``core``);
the comments name it. Rust converts values and runs these on its own Python threads.
"""

import importlib.abc
import importlib.util
import logging
import os
import site
import sys
import threading
import traceback

from . import interrupt, logbridge
from .session import LazySession

EVENTS = (
    "data_obj_create",
    "data_obj_modify",
    "data_obj_delete",
    "coll_create",
    "coll_modify",
    "coll_delete",
)

OVERRIDES = (
    "operation",
    "delete_mode",
    "to_resource",
    "target_path",
    "as_user",
    "max_retries",
    "timeout",
    "delay",
    "character_map",
    "pre_job",
    "post_job",
)

# Filled by setup().
Core = None
Operation = None
DeleteMode = None
SoftTimeLimitExceeded = None
Terminated = None
_info = None


def _use_venv(venv):
    """Makes the venv's site-packages importable, as if the interpreter were ``<venv>/bin/python``.

    The embedded interpreter starts as the base interpreter (pyenv's), whose own site-packages are
    on ``sys.path``; a venv without ``include-system-site-packages = true`` must not see them.
    """
    config = {}
    try:
        with open(os.path.join(venv, "pyvenv.cfg")) as handle:
            for line in handle:
                key, sep, value = line.partition("=")
                if sep:
                    config[key.strip()] = value.strip()
    except OSError as err:
        raise RuntimeError("%s is not a venv (no readable pyvenv.cfg): %s" % (venv, err))
    site_dir = os.path.join(
        venv, "lib", "python%d.%d" % sys.version_info[:2], "site-packages"
    )
    if not os.path.isdir(site_dir):
        raise RuntimeError("the venv %s has no %s" % (venv, site_dir))
    if config.get("include-system-site-packages", "false").lower() != "true":
        base = set(site.getsitepackages())
        base.add(site.getusersitepackages())
        sys.path[:] = [entry for entry in sys.path if entry not in base]
    site.addsitedir(site_dir)
    sys.prefix = sys.exec_prefix = venv
    python = os.path.join(venv, "bin", "python")
    if os.path.exists(python):
        sys.executable = python
    return config.get("version")


def setup(venv, package, log_level, runtime_id):
    """Once per process: paths, the interruptible sleep, and which ingest package handlers see.

    ``package`` is ``"auto"`` (reference package when importable, else the bundled stand-in),
    ``"reference"`` or ``"bundled"``. Later calls only check that they ask for the same thing.
    """
    global Core, Operation, DeleteMode, SoftTimeLimitExceeded, Terminated, _info
    if _info is not None:
        if package not in ("auto", _info["package"]) or (venv or None) != _info["venv"]:
            raise RuntimeError(
                "the interpreter is already set up with the %s ingest package and venv %s"
                % (_info["package"], _info["venv"])
            )
        logbridge.install_library_handler(runtime_id, log_level)
        return _info

    venv_version = None
    if venv and os.path.realpath(sys.prefix) != os.path.realpath(venv):
        # Python was started by someone else before the runtime: add the venv by hand.
        venv_version = _use_venv(venv)
    interrupt.install()

    import _irods_ingest_importer as importer

    if package == "bundled":
        importer.enable_compat()
        for name in [n for n in sys.modules if n.split(".")[0] == "irods_capability_automated_ingest"]:
            del sys.modules[name]
    elif package == "auto" and importlib.util.find_spec("irods_capability_automated_ingest") is None:
        importer.enable_compat()
        package = "bundled"
    else:
        package = "reference"

    from irods_capability_automated_ingest import core, sync_logging, utils

    Core = core.Core
    Operation = utils.Operation
    DeleteMode = utils.DeleteMode
    # Handlers that build their own logger through sync_logging get the same Rust-bound one.
    sync_logging.get_sync_logger = logbridge.get_sync_logger

    try:
        from billiard.exceptions import SoftTimeLimitExceeded, Terminated
    except ImportError:
        from .errors import SoftTimeLimitExceeded, Terminated

    # Imported here, on one thread: python-irodsclient has import cycles that break when two
    # threads import it at once (ImportError "partially initialized module"), which hooks on
    # different runtime threads would otherwise do on first use of `session`.
    for name in ("structlog", "irods.session", "irods.exception", "irods.meta", "redis"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass

    logbridge.install_library_handler(runtime_id, log_level)
    _info = {
        "venv": venv or None,
        "venv_version": venv_version,
        "package": package,
        "package_file": sys.modules["irods_capability_automated_ingest"].__file__,
        "version": sys.version,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "path": list(sys.path),
    }
    return _info


# --- loading (custom_event_handler.get_module) -------------------------------------------------


class HandlerSourceLoader(importlib.abc.Loader):
    """Executes handler text taken from Redis as module ``name``; serves it to tracebacks."""

    def __init__(self, name, source, filename):
        self.name = name
        self.source = source
        self.filename = filename

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = self.filename
        exec(compile(self.source, self.filename, "exec", dont_inherit=True), module.__dict__)

    def get_source(self, fullname):
        return self.source



_load_lock = threading.Lock()


def load_handler(name, source, filename):
    """Imports the handler like ``importlib.import_module`` of ``/tmp/<name>.py`` would.

    A module of that name already in ``sys.modules`` is reused; a failing import leaves nothing
    behind. Returns ``(module, event_handler class or None, capabilities)``.
    """
    with _load_lock:
        return _load_handler_locked(name, source, filename)


def _load_handler_locked(name, source, filename):
    # One load at a time: module-level imports of two handlers must not race (see setup()).
    module = sys.modules.get(name)
    if module is None:
        loader = HandlerSourceLoader(name, source, filename)
        spec = importlib.util.spec_from_loader(name, loader, origin=filename)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
    cls = getattr(module, "event_handler", None)
    return module, cls, capabilities(cls)


def _is_core_default(cls, event):
    method = getattr(cls, "on_" + event)
    default = Core.__dict__.get("on_" + event)
    default = getattr(default, "__func__", default)
    return getattr(method, "__func__", None) is default


def capabilities(cls):
    """``{attribute: kind}``: which hooks and overrides the class has, computed once at load.

    ``on_<event>`` is ``"default"`` when it is ``Core``'s and ``"custom"`` when the handler defines
    its own; other attributes are ``"present"``. Absent attributes are left out.
    """
    found = {}
    if cls is None:
        return found
    for event in EVENTS:
        if hasattr(cls, "on_" + event):
            found["on_" + event] = "default" if _is_core_default(cls, event) else "custom"
        for hook in ("pre_" + event, "post_" + event):
            if hasattr(cls, hook):
                found[hook] = "present"
    for name in OVERRIDES:
        if hasattr(cls, name):
            found[name] = "present"
    return found


# --- calls --------------------------------------------------------------------------------------


def logger_for(meta, runtime_id):
    return logbridge.get_sync_logger(meta["config"]["log"], runtime_id)


def call_event(runtime_id, module, cls, event, func, meta, op, options, with_logger):
    """``custom_event_handler.call("on_<event>", logger, func, [logger,] session, meta, [op,] **options)``.

    The hook (``Core.on_<event>`` or the handler's own) receives ``func`` and the module object as
    first positional argument; without an ``on_<event>`` the operation runs directly. Returns the
    session proxy so that Rust can tell whether it was opened.
    """
    logger = logger_for(meta, runtime_id)
    session = LazySession(cls, meta, {})
    args = [module]
    if with_logger:
        args.append(logger)
    args += [session, meta]
    if op is not None:
        args.append(op)
    hook = "on_" + event
    if cls is not None and hasattr(cls, hook):
        stdlib = logging.getLogger("irods_sync/" + logbridge.logger_key(meta["config"]["log"]))
        if stdlib.isEnabledFor(logging.DEBUG):
            logger.debug(
                "calling [" + hook + "] in event handler: args = " + str(tuple(args))
                + ", options = " + str(options)
            )
        getattr(cls, hook)(func, *args, **options)
    else:
        func(*args, **options)
    return session


def call_override(runtime_id, cls, name, meta, options, extra):
    """The override ``name`` with the reference's arguments (``custom_event_handler`` getters).

    Returns ``(value, session proxy or None)``.
    """
    method = getattr(cls, name)
    session = None
    if name in ("operation", "to_resource", "target_path"):
        session = LazySession(cls, meta, {})
        value = method(session, meta, **options)
    elif name in ("delete_mode", "as_user"):
        value = method(meta, **options)
    elif name in ("max_retries", "timeout"):
        value = method(cls, meta["config"]["log"], meta)
    elif name == "delay":
        value = method(cls, meta["config"]["log"], meta, extra)
    elif name in ("pre_job", "post_job"):
        value = method(cls, logger_for(meta, runtime_id), meta)
    elif name == "character_map":
        value = method()
    else:
        raise ValueError("unknown override " + name)
    return value, session


def translate_path(cls, path):
    """The reference's character_map translation (``char_map_util.translate_path``) of ``path``.

    Needs the reference package: the bundled stand-in does not carry ``char_map_util``.
    """
    from irods_capability_automated_ingest.char_map_util import translate_path as translate

    return translate(path, cls.character_map())


def cleanup_sessions():
    """Closes the connections of every cached python-irodsclient session."""
    from .session import cleanup_all

    cleanup_all()


def describe_exception(exc, tb=None):
    """What Rust keeps of a failure: type, message, repr, full traceback text, frame reprs.

    ``tb`` is the traceback Rust fetched with the exception. It is the complete one: on 3.11 an
    exception's ``__traceback__`` is only brought up to date where it is caught, so it may stop
    at the last ``except`` inside a library (or be empty for the asynchronous soft-limit one).
    """
    if tb is not None:
        exc.__traceback__ = tb
    kind = type(exc)
    module = kind.__module__
    qualname = kind.__qualname__ if module in (None, "builtins") else module + "." + kind.__qualname__
    return (
        qualname,
        str(exc),
        repr(exc),
        "".join(traceback.format_exception(kind, exc, exc.__traceback__)),
        [repr(frame) for frame in traceback.extract_tb(exc.__traceback__)],
    )
