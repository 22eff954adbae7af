"""The ``session`` handed to hooks: a python-irodsclient ``iRODSSession``, made only when touched.

The reference builds its session before every entry (``irods_utils.irods_session``). Most handlers
never use it, and the Rust worker talks to iRODS itself, so here the hook receives a ``LazySession``
proxy: the first attribute access builds the real session with the reference's resolution rules and
every later one goes straight to it. Sessions are cached per process by their constructor
arguments, as in the reference, so a connection pool is reused across hooks and entries.

Resolution (``irods_utils.irods_session``):
* ``IRODS_HOST``, ``IRODS_PORT``, ``IRODS_USER_NAME``, ``IRODS_ZONE_NAME``, ``IRODS_PASSWORD`` all
  non-empty -> those; otherwise ``irods_env_file`` = ``$IRODS_ENVIRONMENT_FILE`` or
  ``~/.irods/irods_environment.json``;
* the handler's ``as_user(meta, **options)`` -> ``client_zone``/``client_user`` (proxy user);
* an environment file that is named must exist; it may ask for an SSL context
  (``irods_ssl_verify_server`` not ``none`` plus ``irods_ssl_ca_certificate_file``).
"""

import json
import os
import ssl
import threading
import time

_sessions = {}
_lock = threading.Lock()


def session_arguments(handler_class, meta, options):
    """The keyword arguments for ``iRODSSession`` plus the environment file to check (or None)."""
    names = ("IRODS_HOST", "IRODS_PORT", "IRODS_USER_NAME", "IRODS_ZONE_NAME", "IRODS_PASSWORD")
    values = [os.environ.get(name) for name in names]
    env_file = os.environ.get("IRODS_ENVIRONMENT_FILE")
    kwargs = {}
    if all(values):
        kwargs.update(zip(("host", "port", "user", "zone", "password"), values))
    else:
        if not env_file:
            env_file = os.path.expanduser("~/.irods/irods_environment.json")
        kwargs["irods_env_file"] = env_file
    if handler_class is not None and hasattr(handler_class, "as_user"):
        client_zone, client_user = handler_class.as_user(meta, **options)
        kwargs["client_user"] = client_user
        kwargs["client_zone"] = client_zone
    return kwargs, env_file


def _ssl_context(env_file):
    if not os.path.exists(env_file):
        raise FileNotFoundError(
            f"Specified iRODS client environment file [{env_file}] does not exist."
        )
    with open(env_file) as handle:
        environment = json.load(handle)
    verify = environment.get("irods_ssl_verify_server")
    ca_file = environment.get("irods_ssl_ca_certificate_file")
    if verify and verify != "none" and ca_file:
        return ssl.create_default_context(
            purpose=ssl.Purpose.SERVER_AUTH, cafile=ca_file, capath=None, cadata=None
        )
    return None


def open_session(handler_class, meta, options):
    from irods.exception import NetworkException
    from irods.session import iRODSSession

    kwargs, env_file = session_arguments(handler_class, meta, options)
    key = json.dumps(kwargs)
    if env_file:
        context = _ssl_context(env_file)
        if context is not None:
            kwargs["ssl_context"] = context
    with _lock:
        session = _sessions.get(key)
        if session is not None:
            return session
        error = None
        for _attempt in range(10):
            try:
                session = iRODSSession(**kwargs)
                break
            except NetworkException as err:
                error = err
                time.sleep(0.1)
        if session is None:
            raise error
        _sessions[key] = session
        return session


def cleanup_all():
    """Closes every cached session's connections (the reference does this after idle time)."""
    with _lock:
        sessions = list(_sessions.values())
        _sessions.clear()
    for session in sessions:
        session.cleanup()


class LazySession:
    """Stands in for ``iRODSSession`` until a hook uses it; then forwards everything to it."""

    __slots__ = ("_handler_class", "_meta", "_options", "_session")

    def __init__(self, handler_class, meta, options):
        object.__setattr__(self, "_handler_class", handler_class)
        object.__setattr__(self, "_meta", meta)
        object.__setattr__(self, "_options", options)
        object.__setattr__(self, "_session", None)

    def _real(self):
        session = object.__getattribute__(self, "_session")
        if session is None:
            session = open_session(
                object.__getattribute__(self, "_handler_class"),
                object.__getattribute__(self, "_meta"),
                object.__getattribute__(self, "_options"),
            )
            object.__setattr__(self, "_session", session)
        return session

    @property
    def is_open(self):
        """True once a hook has touched the session (for tests and diagnostics)."""
        return object.__getattribute__(self, "_session") is not None

    def __getattr__(self, name):
        return getattr(self._real(), name)

    def __setattr__(self, name, value):
        setattr(self._real(), name, value)

    def __delattr__(self, name):
        delattr(self._real(), name)

    def __enter__(self):
        return self._real().__enter__()

    def __exit__(self, *exc):
        return self._real().__exit__(*exc)

    def __repr__(self):
        session = object.__getattribute__(self, "_session")
        if session is None:
            return "<irods_ingest_rt.session.LazySession (not opened)>"
        return repr(session)
