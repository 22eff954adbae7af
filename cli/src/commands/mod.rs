//! One module per subcommand of `irods-ingest`.

pub mod worker;
