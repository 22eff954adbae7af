//! `irods-ingest worker`: options, start-up and shutdown of a worker process.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use celery_proto::worker::{Recovery, TaskRegistry, Worker, WorkerConfig};
use ingest_pyhandlers::{DefaultLogSink, HandlerRuntime, LogSink, RuntimeConfig};
use irods_ingest::lock::LockOptions;
use irods_ingest::scan::Readability;
use irods_ingest::tasks::joblog::{JobLog, Level};
use irods_ingest::tasks::{self, IngestApp, Settings};

/// Options named as Celery's, so that a worker command line only changes its program name.
#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// Queues to consume, comma separated (Celery's `-Q`).
    #[arg(short = 'Q', long = "queues", default_value = "celery")]
    queues: String,
    /// Tasks running at once (default: the number of CPUs, as Celery's prefork pool).
    #[arg(short = 'c', long = "concurrency")]
    concurrency: Option<usize>,
    /// Node name; `%h` is the host name, `%n` its first label, `%d` the domain (Celery's `-n`).
    #[arg(short = 'n', long = "hostname")]
    hostname: Option<String>,
    /// Log level of the worker and the default level of job logs (Celery's `-l`).
    #[arg(short = 'l', long = "loglevel", default_value = "warning")]
    loglevel: String,
    /// Broker URL; default `CELERY_BROKER_URL`.
    #[arg(short = 'b', long = "broker", env = "CELERY_BROKER_URL")]
    broker: String,
    /// Messages reserved per running task (Celery's `worker_prefetch_multiplier`).
    #[arg(long = "prefetch-multiplier", default_value_t = 4)]
    prefetch_multiplier: usize,
    /// Send task events (Celery's `-E`).
    #[arg(short = 'E', long = "task-events")]
    task_events: bool,
    /// How messages of a dead worker come back: `mixed` keeps kombu's rules (safe next to Python
    /// workers; recovery after the visibility timeout, 3600 s by default); `rust-only` uses a short
    /// timeout refreshed by live workers (never next to Python workers on the same broker).
    #[arg(long = "recovery", default_value = "mixed", value_parser = ["mixed", "rust-only"])]
    recovery: String,
    /// kombu's `visibility_timeout` in seconds (default 3600 in mixed mode, 60 in rust-only mode).
    #[arg(long = "visibility-timeout")]
    visibility_timeout: Option<u64>,
    /// Restore at once the messages of another `irods-ingest` worker silent for this many seconds
    /// (workers announce what they hold; Python workers' messages are never touched); 0 = off.
    #[arg(long = "dead-worker-after", default_value_t = 30)]
    dead_worker_after: u64,
    /// Expiry of the locks this worker takes, in seconds, renewed while held; 0 = never expire
    /// (the reference's python-redis-lock behaviour).
    #[arg(long = "lock-expiry", default_value_t = 60)]
    lock_expiry: u64,
    /// Which entries count as readable: `group-bit` (the reference: the group read bit) or
    /// `access` (what this process can actually read).
    #[arg(long = "readable", default_value = "group-bit", value_parser = ["group-bit", "access"])]
    readable: String,
    /// Entries of one chunk task synced at once (each waits on Redis and iRODS round trips).
    #[arg(long = "entry-parallelism", default_value_t = 4)]
    entry_parallelism: usize,
    /// Accepted for command-line compatibility with Celery; the app is always the ingest one.
    #[arg(short = 'A', long = "app", hide = true)]
    app: Option<String>,
    #[arg(long = "without-mingle", hide = true)]
    without_mingle: bool,
    #[arg(long = "without-gossip", hide = true)]
    without_gossip: bool,
    #[arg(long = "without-heartbeat", hide = true)]
    without_heartbeat: bool,
}

pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let level =
        Level::parse(&args.loglevel).with_context(|| format!("unknown log level {:?}", args.loglevel))?;
    init_tracing(level);
    let concurrency = args
        .concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let in_flight = concurrency * args.entry_parallelism.max(1);

    // Python first, outside the async runtime: it takes a moment and blocks.
    let sink: Arc<DefaultLogSink> = Arc::new(DefaultLogSink::new());
    let handlers = HandlerRuntime::start(RuntimeConfig {
        // A hook that wraps an operation holds its thread while the operation asks the handler for
        // `target_path()`/`to_resource()` on another one: two per entry in flight never run short.
        threads: in_flight * 2 + 1,
        log_sink: sink.clone() as Arc<dyn LogSink>,
        log_level: Some(python_level_name(level).to_owned()),
        ..RuntimeConfig::default()
    })
    .context("starting the embedded Python for event handlers")?;

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(args, in_flight, level, handlers, sink))
}

async fn serve(
    args: WorkerArgs,
    in_flight: usize,
    level: i32,
    handlers: HandlerRuntime,
    sink: Arc<DefaultLogSink>,
) -> anyhow::Result<()> {
    let irods = match irods_proto::IrodsConfig::from_env() {
        Ok(config) => Some(config),
        Err(e) => {
            tracing::warn!(error = %e, "no iRODS settings yet; tasks will fail until they are provided");
            None
        }
    };
    let settings = Settings {
        locks: if args.lock_expiry == 0 {
            LockOptions::default()
        } else {
            LockOptions::expiring(Duration::from_secs(args.lock_expiry))
        },
        readability: if args.readable == "access" { Readability::Access } else { Readability::GroupReadBit },
        entry_parallelism: args.entry_parallelism.max(1),
        ..Settings::default()
    };
    let log = JobLog::new(sink as Arc<dyn LogSink>, level);
    let pool_size = in_flight * 2 + settings.put_threads;
    // The job state lives on the broker's server; for a `sentinel://` broker, its master now.
    let state_url = celery_proto::transport::resolve_sentinel(&args.broker)
        .await
        .with_context(|| format!("resolving the broker {}", redact(&args.broker)))?;
    // Waits for a Redis that is restarting or not up yet, as Celery does at start-up.
    let app = {
        let (irods, handlers, log, settings) = (&irods, &handlers, &log, &settings);
        irods_ingest::state_conn::with_retry("connect to the job state", || {
            IngestApp::connect(
                &state_url,
                irods.clone(),
                pool_size,
                handlers.clone(),
                log.clone(),
                settings.clone(),
            )
        })
        .await
        .with_context(|| format!("connecting to Redis at {}", redact(&args.broker)))?
    };

    let locks = app.locks.clone();
    let mut registry = TaskRegistry::new();
    tasks::register(&mut registry, app);

    let queues: Vec<String> =
        args.queues.split(',').map(str::trim).filter(|q| !q.is_empty()).map(str::to_owned).collect();
    let mut config = WorkerConfig::new(args.broker.clone(), queues);
    config.concurrency = args
        .concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    config.prefetch_multiplier = args.prefetch_multiplier.max(1);
    config.task_events = args.task_events;
    config.dead_peer_after =
        (args.dead_worker_after > 0).then(|| Duration::from_secs(args.dead_worker_after));
    if let Some(name) = &args.hostname {
        config.nodename = celery_proto::worker::expand_nodename(name);
    }
    match args.recovery.as_str() {
        "rust-only" => {
            config.recovery = Recovery::RustOnly {
                visibility_timeout: Duration::from_secs(args.visibility_timeout.unwrap_or(60)),
            };
        }
        _ => {
            if let Some(secs) = args.visibility_timeout {
                config.transport.visibility_timeout = Duration::from_secs(secs);
            }
        }
    }
    let worker = Worker::new(config, registry).await.context("starting the worker")?;
    // The locks this worker takes belong to its instance: once the fleet takes it for dead (or
    // it restarts under its name), any worker releases them and wakes their waiters, Python ones
    // included; locks whose TTL ran out are signalled too.
    locks.set_holder(worker.instance(), &worker.peers_key());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match locks.release_orphaned().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(locks = n, "released the locks of workers that died"),
                Err(e) => tracing::debug!(error = %e, "could not check for orphaned locks"),
            }
        }
    });
    worker.run_until_signal().await.context("worker stopped with an error")?;
    Ok(())
}

fn python_level_name(level: i32) -> &'static str {
    match level {
        ..=10 => "DEBUG",
        11..=20 => "INFO",
        21..=30 => "WARNING",
        31..=40 => "ERROR",
        _ => "CRITICAL",
    }
}

fn init_tracing(level: i32) {
    let filter = match level {
        ..=10 => "debug",
        11..=20 => "info",
        21..=30 => "warn",
        _ => "error",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("IRODS_INGEST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("redis://:secret@host:6379/0"), "redis://***@host:6379/0");
        assert_eq!(redact("redis://host:6379/0"), "redis://host:6379/0");
    }
}
