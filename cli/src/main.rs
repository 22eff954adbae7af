//! `irods-ingest`: the command-line program. Everything lives in the `irods_ingest_cli` library so
//! that other front ends (a Python wheel's console script) run the very same code.

fn main() -> std::process::ExitCode {
    irods_ingest_cli::run(std::env::args_os())
}
