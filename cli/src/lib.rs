//! The `irods-ingest` command line, thin over the `irods-ingest` worker library.
//!
//! Why a crate of its own: the worker crate is a library of tasks, job state and iRODS operations
//! that knows nothing of argument parsing, terminals or exit codes; this crate parses, wires the
//! pieces together and prints. One module per subcommand under [`commands`]. [`run`] is the whole
//! program, callable from `main.rs` and from any other front end with its own `argv`.

pub mod commands;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "irods-ingest", version, about = "iRODS automated ingest, in Rust")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a worker (the drop-in for `celery -A irods_capability_automated_ingest worker`).
    Worker(commands::worker::WorkerArgs),
}

/// Parses `args` (the program name first, as `std::env::args_os`) and runs the subcommand.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Worker(args) => commands::worker::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("irods-ingest: {e:#}");
            ExitCode::FAILURE
        }
    }
}
