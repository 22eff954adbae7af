//! The iRODS wire protocol (XML packing instructions) and an async client for it.
//!
//! Used by the ingest worker for catalog operations and by the test server for decoding what
//! python-irodsclient sends. Nothing here knows about ingest.
