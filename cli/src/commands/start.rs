//! `irods-ingest start SOURCE_DIRECTORY TARGET_COLLECTION`: `irods_sync start` (reference §5.2).
//!
//! Same options, spellings, defaults and `meta` (key order included) as the reference, so that
//! Python and Rust workers run the job alike and either CLI lists, watches and stops it. The
//! sequence is the reference's `handle_start` + `start_job`: check the handler, build `meta`,
//! refuse target `/`, then under the jobs lock refuse an existing job and store the handler, push
//! the name to `periodic`/`singlepass`, and publish the main task to the restart queue (task id =
//! the job name for periodic jobs). With `--synchronous` the main task runs in this process, then
//! the command waits for the job (exit 255 when it has failures).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use celery_proto::json::{PyDict, PyValue};
use celery_proto::producer::{Producer, SendOptions};
use celery_proto::worker::{TaskContext, TaskError, TaskRequest};
use irods_ingest::job::{JobError, NewJob};
use irods_ingest::tasks::names;

use super::common::{self, CommonArgs, Endpoints};
use super::handler_check::check_event_handler;
use super::watch;

/// `irods_sync start`'s options (`--help` shows the reference's defaults).
#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Source directory or S3 folder to scan.
    #[arg(value_name = "SOURCE_DIRECTORY")]
    src_path: String,
    /// Target iRODS collection for data objects (created if non-existent).
    #[arg(value_name = "TARGET_COLLECTION")]
    target: String,
    /// Restart interval (in seconds). If absent, will only sync once.
    #[arg(short = 'i', long = "interval", value_name = "INTERVAL", allow_negative_numbers = true)]
    interval: Option<i64>,
    /// Name for the file queue.
    #[arg(long = "file_queue", default_value = "file", value_name = "FILE_QUEUE")]
    file_queue: String,
    /// Name for the path queue.
    #[arg(long = "path_queue", default_value = "path", value_name = "PATH_QUEUE")]
    path_queue: String,
    /// Name for the restart queue.
    #[arg(long = "restart_queue", default_value = "restart", value_name = "RESTART_QUEUE")]
    restart_queue: String,
    /// Path to event handler file
    #[arg(long = "event_handler", value_name = "EVENT_HANDLER")]
    event_handler: Option<String>,
    /// Reference name for ingest job (defaults to generated uuid)
    #[arg(long = "job_name", value_name = "JOB_NAME")]
    job_name: Option<String>,
    /// Ignore last sync time in cache - like starting a new sync
    #[arg(long = "ignore_cache")]
    ignore_cache: bool,
    /// Use this flag on initial ingest to avoid check for data object paths already in iRODS.
    #[arg(long = "initial_ingest")]
    initial_ingest: bool,
    /// Block until sync job is completed (the main task runs in this process).
    #[arg(long = "synchronous")]
    synchronous: bool,
    /// Show progress bar and task counts (must have --synchronous flag).
    #[arg(long = "progress")]
    progress: bool,
    /// Generate JSON file of system activity profile during ingest.
    #[arg(long = "profile")]
    profile: bool,
    /// Number of paths to process in a given task on the queue.
    #[arg(
        long = "files_per_task",
        default_value_t = 50,
        value_name = "FILES_PER_TASK",
        allow_negative_numbers = true
    )]
    files_per_task: i64,
    /// S3 endpoint domain
    #[arg(
        long = "s3_endpoint_domain",
        default_value = "s3.amazonaws.com",
        value_name = "S3_ENDPOINT_DOMAIN"
    )]
    s3_endpoint_domain: String,
    /// S3 region name
    #[arg(long = "s3_region_name", default_value = "us-east-1", value_name = "S3_REGION_NAME")]
    s3_region_name: String,
    /// Path to S3 keypair file
    #[arg(long = "s3_keypair", value_name = "S3_KEYPAIR")]
    s3_keypair: Option<String>,
    /// URL to proxy for S3 access
    #[arg(long = "s3_proxy_url", value_name = "S3_PROXY_URL")]
    s3_proxy_url: Option<String>,
    /// Do not use SSL when connecting to S3 endpoint
    #[arg(long = "s3_insecure_connection")]
    s3_insecure_connection: bool,
    /// Chunk size in mebibytes for multipart S3 uploads. Minimum part size is 5 MiB and the maximum
    /// part size is 5000 MiB.
    #[arg(long = "s3_multipart_chunksize_in_mib", default_value_t = 8, value_name = "[5-5000]",
          value_parser = clap::value_parser!(i64).range(5..=5000))]
    s3_multipart_chunksize_in_mib: i64,
    /// types of files to exclude: regular, directory, character, block, socket, pipe, link
    /// (comma separated) [default: none]
    #[arg(long = "exclude_file_type", value_name = "EXCLUDE_FILE_TYPE")]
    exclude_file_type: Option<String>,
    /// a list of space-separated python regular expressions defining the file names to exclude
    /// such as "(\S+)exclude" "(\S+)\.hidden" [default: none]
    #[arg(long = "exclude_file_name", num_args = 1.., value_name = "EXCLUDE_FILE_NAME")]
    exclude_file_name: Option<Vec<String>>,
    /// a list of space-separated python regular expressions defining the directory names to
    /// exclude such as "(\S+)exclude" "(\S+)\.hidden" [default: none]
    #[arg(long = "exclude_directory_name", num_args = 1.., value_name = "EXCLUDE_DIRECTORY_NAME")]
    exclude_directory_name: Option<Vec<String>>,
    /// irods disconnect time in seconds
    #[arg(
        long = "irods_idle_disconnect_seconds",
        default_value_t = 60,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    irods_idle_disconnect_seconds: i64,
    #[command(flatten)]
    common: CommonArgs,
}

/// The reference's message for target `/` (`validate_target_collection`).
pub const ROOT_TARGET_MESSAGE: &str = "Root may only contain collections which represent zones";

pub fn run(args: StartArgs) -> anyhow::Result<u8> {
    let endpoints = Endpoints::from_env(&args.common)?;
    if let Some(handler) = &args.event_handler {
        check_event_handler(handler)?;
    }
    let job_name = args.job_name.clone().unwrap_or_else(|| uuid::Uuid::now_v1(&node_id()).to_string());
    let mut meta = build_meta(&args, &job_name, &endpoints)?;
    if args.target == "/" {
        bail!("{ROOT_TARGET_MESSAGE}");
    }
    let handler_source = match &args.event_handler {
        Some(path) => {
            Some(std::fs::read_to_string(path).with_context(|| format!("cannot read event handler {path}"))?)
        }
        None => None,
    };
    let main_task =
        if args.s3_keypair.is_some() { names::S3_BUCKET_MAIN_TASK } else { names::FILESYSTEM_MAIN_TASK };
    let synchronous = args.synchronous && args.interval.is_none();
    common::runtime()?.block_on(async {
        let control = common::job_control(&endpoints).await?;
        let broker = common::broker(&endpoints).await?;
        let new_job = NewJob {
            job_name: &job_name,
            periodic: args.interval.is_some(),
            handler_source: handler_source.as_deref(),
        };
        let started = control.start(&new_job).await.map_err(|e| match e {
            JobError::AlreadyExists(name) => anyhow!("job {name} already exists"),
            other => anyhow::Error::from(other),
        })?;
        meta.insert("event_handler_key", started.event_handler_key.as_str());
        let producer = Producer::new(broker, Producer::client_origin());
        if !synchronous {
            // Celery's app oid is a uuid3 of the host and process; any uuid stands for it.
            let mut options =
                SendOptions::to_queue(&args.restart_queue).reply_to(uuid::Uuid::new_v4().to_string());
            if args.interval.is_some() {
                options = options.task_id(job_name.as_str());
            }
            producer
                .send_task(main_task, vec![PyValue::Dict(meta)], PyDict::new(), options)
                .await
                .with_context(|| format!("publishing the main task of job {job_name}"))?;
            return Ok(0);
        }
        if let Err(failure) = run_main_task_here(&endpoints, producer, main_task, meta).await {
            eprintln!("{failure}");
            control.cleanup(&job_name).await?;
            return Ok(255);
        }
        watch::monitor(&control, &job_name, args.progress).await
    })
}

/// `main_task.s(meta).apply()`: the main task body in this process (its `pre_job` runs here, as
/// in the reference); children go to the broker for the workers.
async fn run_main_task_here(
    endpoints: &Endpoints,
    producer: Producer,
    main_task: &str,
    meta: PyDict,
) -> anyhow::Result<()> {
    use ingest_pyhandlers::{DefaultLogSink, HandlerRuntime, LogSink, RuntimeConfig};
    use irods_ingest::tasks::joblog::{JobLog, Level};
    use irods_ingest::tasks::{IngestApp, Settings};

    let sink: Arc<DefaultLogSink> = Arc::new(DefaultLogSink::new());
    let handlers = tokio::task::spawn_blocking({
        let sink = sink.clone();
        move || {
            HandlerRuntime::start(RuntimeConfig {
                threads: 2,
                log_sink: sink as Arc<dyn LogSink>,
                ..RuntimeConfig::default()
            })
        }
    })
    .await?
    .context("starting the embedded Python for the event handler")?;
    let log = JobLog::new(sink as Arc<dyn LogSink>, Level::parse("info").unwrap_or(20));
    let irods = irods_proto::IrodsConfig::from_env().ok();
    let app = IngestApp::connect(&endpoints.state_url, irods, 2, handlers, log, Settings::default())
        .await
        .context("connecting to the job state")?;
    let id = uuid::Uuid::new_v4().to_string();
    let request = TaskRequest {
        id: id.clone(),
        name: main_task.to_owned(),
        args: vec![PyValue::Dict(meta)],
        kwargs: PyDict::new(),
        headers: PyDict::new(),
        retries: 0,
        root_id: Some(id.clone()),
        parent_id: None,
        group: None,
        eta: None,
        expires: None,
        queue: String::new(),
        priority: 0,
        redelivered: false,
        delivery_tag: String::new(),
    };
    let context = TaskContext::detached(id, Producer::client_origin(), producer);
    let result = if main_task == names::S3_BUCKET_MAIN_TASK {
        irods_ingest::tasks::s3_bucket_main_task(app, request, context).await
    } else {
        irods_ingest::tasks::filesystem_main_task(app, request, context).await
    };
    match result {
        Ok(_) => Ok(()),
        Err(TaskError::Failure(failure)) => Err(anyhow!("{}: {}", failure.exc_type, failure.message)),
        Err(other) => Err(anyhow!("{other:?}")),
    }
}

/// `handle_start`'s `data` plus what `start_job` adds before the handler key, in its key order.
fn build_meta(args: &StartArgs, job_name: &str, endpoints: &Endpoints) -> anyhow::Result<PyDict> {
    let opt = |v: &Option<String>| v.as_deref().map_or(PyValue::Null, PyValue::from);
    let strings = |v: Vec<String>| PyValue::List(v.into_iter().map(PyValue::from).collect());
    // argparse quirks kept (reference §5.2): the default "none" becomes ["n"] for file types
    // (its first character) and ["n","o","n","e"] for the name lists (a str is a list of chars).
    let exclude_file_type = match &args.exclude_file_type {
        Some(types) => types.split(',').map(|t| t.trim().to_owned()).collect(),
        None => vec!["n".to_owned()],
    };
    let none_chars = || "none".chars().map(String::from).collect::<Vec<_>>();
    let mut meta = PyDict::new();
    meta.insert("restart_queue", args.restart_queue.as_str());
    meta.insert("path_queue", args.path_queue.as_str());
    meta.insert("file_queue", args.file_queue.as_str());
    meta.insert("target", args.target.as_str());
    meta.insert("src_path", args.src_path.as_str());
    meta.insert("interval", args.interval.map_or(PyValue::Null, PyValue::from));
    meta.insert("job_name", job_name);
    meta.insert("ignore_cache", args.ignore_cache);
    meta.insert("initial_ingest", args.initial_ingest);
    meta.insert("event_handler", opt(&args.event_handler));
    meta.insert("config", common::config_dict(&args.common, &endpoints.state));
    meta.insert("synchronous", args.synchronous);
    meta.insert("progress", args.progress);
    meta.insert("profile", args.profile);
    meta.insert("files_per_task", args.files_per_task);
    meta.insert("s3_endpoint_domain", args.s3_endpoint_domain.as_str());
    meta.insert("s3_region_name", args.s3_region_name.as_str());
    meta.insert("s3_keypair", opt(&args.s3_keypair));
    meta.insert("s3_proxy_url", opt(&args.s3_proxy_url));
    meta.insert("s3_secure_connection", !args.s3_insecure_connection);
    meta.insert("s3_multipart_chunksize_in_mib", args.s3_multipart_chunksize_in_mib);
    meta.insert("exclude_file_type", strings(exclude_file_type));
    meta.insert("exclude_file_name", strings(args.exclude_file_name.clone().unwrap_or_else(none_chars)));
    meta.insert(
        "exclude_directory_name",
        strings(args.exclude_directory_name.clone().unwrap_or_else(none_chars)),
    );
    meta.insert("idle_disconnect_seconds", args.irods_idle_disconnect_seconds);
    let root = match &args.s3_keypair {
        Some(keypair) => {
            let text = std::fs::read_to_string(keypair)
                .with_context(|| format!("cannot read S3 keypair {keypair}"))?;
            let mut lines = text.split_inclusive('\n');
            let mut line = || lines.next().unwrap_or("").trim_end().to_owned();
            meta.insert("s3_access_key", line());
            meta.insert("s3_secret_key", line());
            args.src_path.clone()
        }
        None => realpath(Path::new(&args.src_path)).to_string_lossy().into_owned(),
    };
    meta.insert("root", root.as_str());
    meta.insert("path", root.as_str());
    Ok(meta)
}

/// `os.path.realpath`: absolute, symlinks resolved, and (unlike `canonicalize`) no error when
/// part of the path does not exist: the missing rest is appended, normalised.
fn realpath(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")).join(path)
    };
    let mut resolved = PathBuf::from("/");
    let mut components = absolute.components().peekable();
    while let Some(component) = components.next() {
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => {
                let candidate = resolved.join(name);
                match std::fs::canonicalize(&candidate) {
                    Ok(real) => resolved = real,
                    Err(_) => {
                        // Nothing below a missing entry can be resolved: normalise the rest.
                        resolved = candidate;
                        for rest in components.by_ref() {
                            match rest {
                                Component::ParentDir => {
                                    resolved.pop();
                                }
                                Component::Normal(n) => resolved.push(n),
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
    }
    resolved
}

/// A stable node id for uuid1 job names (Python uses the MAC address; any 48 bits will do, with
/// the multicast bit set as Python's random fallback sets it).
fn node_id() -> [u8; 6] {
    let mut node: [u8; 6] = rand::random();
    node[0] |= 0x01;
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realpath_resolves_what_exists_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(real.join("a")).unwrap();
        std::os::unix::fs::symlink(real.join("a"), real.join("link")).unwrap();
        assert_eq!(realpath(&real.join("link/./x/../y")), real.join("a/y"));
        assert_eq!(realpath(&real.join("missing/../b")), real.join("b"));
        assert_eq!(realpath(Path::new("/")), PathBuf::from("/"));
    }
}
