"""Helpers for the Python side of the interop tests: private services on free loopback ports.

Mirrors the Rust crate ``test-support`` so a test written in either language starts its peers the
same way and never touches a server someone else runs. ``Fleet`` (fleet.py) combines them with
worker processes and the reference CLI for whole-ingest tests and benches.
"""

from .fleet import Fleet, FleetError, JobRun, Worker, event_handler_source, normalise, rust_worker_status
from .ports import free_port
from .redis_server import RedisServer
from .testserver import IrodsTestServer

__all__ = ["free_port", "RedisServer", "IrodsTestServer", "Fleet", "FleetError", "JobRun", "Worker",
           "event_handler_source", "normalise", "rust_worker_status"]
