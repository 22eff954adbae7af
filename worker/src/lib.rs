//! The ingest worker library: the reference's Celery tasks, job state, locks, path naming,
//! directory scanning and iRODS operations. The `irods-ingest` program (crate `irods-ingest-cli`,
//! in `cli/`) parses command lines over it; nothing here parses arguments or prints.
//!
//! Everything here speaks the Python reference's (irods-capability-automated-ingest 0.7.0) Redis
//! key layout and value formats, so that Rust workers, Python workers and the Python `irods_sync`
//! CLI can share one Redis. The modules:
//!
//! * [`job`]: one job's Redis state and the exact command sequences the reference uses, behind the
//!   [`job::JobStore`] seam.
//! * [`lock`]: python-redis-lock compatible locks (optional expiry with renewal).
//! * [`paths`]: on-disk bytes versus `\udcXX` strings, logical path naming.
//! * [`charmap`]: the reference's `character_map` translation.
//! * [`scan`]: one directory pass of `filesystem_sync_path`.
//! * [`meta`]: typed read access to the task's `meta` dict.
//! * [`ops`]: the catalog operations of each entry (register, upload, sync, delete, collections).
//! * [`s3`]: a small S3 client (ListObjectsV2, HeadObject, ranged GetObject, SigV4) for the S3 source.
//! * [`tasks`]: the Celery tasks themselves, on top of all of the above.
//! * [`state_conn`]: the self-reconnecting Redis connection and the retry rule for outages.
//! * [`pyfmt`]: Python's `repr(float)`, `str(timedelta)` and friends, where values must match.

pub mod charmap;
pub mod job;
pub mod lock;
pub mod meta;
pub mod ops;
pub mod paths;
pub mod pyfmt;
pub mod s3;
pub mod scan;
pub mod state_conn;
pub mod tasks;
