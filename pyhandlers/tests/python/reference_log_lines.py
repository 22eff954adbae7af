"""Writes log lines with the reference's own sync_logging, for comparison with the Rust runtime.

usage: reference_log_lines.py LOG_FILE
"""

import sys

from irods_capability_automated_ingest import sync_logging

config = {"filename": sys.argv[1], "when": None, "interval": None, "level": "INFO"}
logger = sync_logging.get_sync_logger(config)

exec(open(sys.argv[2]).read(), {"logger": logger})
