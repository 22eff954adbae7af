//! The ingest worker: tasks, job state and scanners behind the `irods-ingest` binary.
