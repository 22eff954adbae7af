"""Stand-in for the reference package ``irods_capability_automated_ingest`` (0.7.0).

Served by the Rust worker's embedded importer only when the reference package is not installed,
so that event handlers can import what they usually import: ``core.Core``,
``utils.Operation``/``DeleteMode``, ``redis_utils.get_redis``, ``redis_key`` and ``sync_logging``.
Names, enum values and call signatures follow the reference; Celery-specific parts are absent.
"""
