"""Python side of the Rust ingest worker's embedded interpreter.

The Rust crate ``ingest-pyhandlers`` embeds these sources in its binary and serves them through an
import hook, so nothing here has to be installed. The modules are small on purpose:

* ``runtime``   -- interpreter set-up, handler loading, hook dispatch (mirrors
                   ``custom_event_handler`` and ``core.Core`` of the reference package);
* ``logbridge`` -- the structlog-style ``logger`` handed to hooks; finished JSON lines go to Rust;
* ``session``   -- the lazily created python-irodsclient ``iRODSSession`` handed to hooks;
* ``interrupt`` -- an interruptible ``time.sleep`` so that soft time limits reach sleeping hooks.

``compat/irods_capability_automated_ingest`` holds a stand-in for the modules handlers import
(``core``, ``utils``, ``redis_utils``, ``redis_key``, ``sync_logging``); it is only used when the
reference package is not installed.
"""
