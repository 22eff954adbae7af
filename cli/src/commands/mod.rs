//! One module per subcommand of `irods-ingest`, plus what the job commands share.

pub mod common;
pub mod handler_check;
pub mod list;
pub mod profile;
pub mod start;
pub mod stop;
pub mod watch;
pub mod worker;
