//! Helpers shared by the interop tests: private service processes and the project's Python venv.
//!
//! Every test that needs Redis starts its own `redis-server` on a free loopback port through
//! [`RedisServer`], so tests never touch a server someone else runs (6379 may be taken) and never
//! see each other's keys. The real Python peers (Celery, python-irodsclient, the reference ingest
//! package) come from the venv that `scripts/setup` creates; [`venv_python`] finds it.

mod paths;
mod ports;
mod process;
mod redis_server;

pub use paths::{repo_root, target_binary, venv_bin, venv_python};
pub use ports::free_port;
pub use process::{ChildGuard, wait_until};
pub use redis_server::RedisServer;
