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

/// Exit status of the job commands, as the reference's `irods_sync`.
const EXIT_STATUS_HELP: &str = "\
Exit status: 0 on success; 255 when the job (start --synchronous, watch) has failed tasks;
1 on errors (job exists / does not exist, target `/`, bad event handler, Redis unreachable);
2 on bad usage.";

#[derive(Parser)]
#[command(name = "irods-ingest", version, about = "iRODS automated ingest, in Rust", after_help = EXIT_STATUS_HELP,
          infer_long_args = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a worker (the drop-in for `celery -A irods_capability_automated_ingest worker`).
    Worker(commands::worker::WorkerArgs),
    /// Start a job: `irods_sync start SOURCE_DIRECTORY TARGET_COLLECTION`.
    #[command(after_help = EXIT_STATUS_HELP)]
    Start(commands::start::StartArgs),
    /// Stop a job: `irods_sync stop JOB_NAME` (nothing of the job runs once it returns).
    #[command(after_help = EXIT_STATUS_HELP)]
    Stop(commands::stop::StopArgs),
    /// List jobs: `irods_sync list` (the same JSON line), or `--format table`.
    #[command(after_help = EXIT_STATUS_HELP)]
    List(commands::list::ListArgs),
    /// Watch a job's progress until it ends: `irods_sync watch JOB_NAME`.
    #[command(after_help = EXIT_STATUS_HELP)]
    Watch(commands::watch::WatchArgs),
    /// Draw the `--profile` events of a job as one HTML timeline (one row per worker slot).
    Profile(commands::profile::ProfileArgs),
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
        Command::Worker(args) => commands::worker::run(args).map(|()| 0),
        Command::Start(args) => commands::start::run(args),
        Command::Stop(args) => commands::stop::run(args),
        Command::List(args) => commands::list::run(args),
        Command::Watch(args) => commands::watch::run(args),
        Command::Profile(args) => commands::profile::run(args),
    };
    match result {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("irods-ingest: {e:#}");
            ExitCode::FAILURE
        }
    }
}
