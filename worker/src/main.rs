//! `irods-ingest`: the Rust worker for the iRODS automated ingest framework.
//!
//! `irods-ingest worker` takes the place of `celery -A irods_capability_automated_ingest worker`:
//! same queues, same tasks, same Redis bookkeeping, so it runs jobs started by the Python
//! `irods_sync`, alone or next to Python workers.

mod worker_cmd;

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
    Worker(worker_cmd::WorkerArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Worker(args) => worker_cmd::run(args),
    }
}
