"""``get_sync_logger(config)``: the JSON-lines logger, bound to the Rust worker's log sink."""

from irods_ingest_rt.logbridge import get_sync_logger, logger_key, timestamper  # noqa: F401

irods_sync_logger = "irods_sync"


def get_sync_logger_key(logging_config):
    return logger_key(logging_config)
