//! What the job commands (`start`, `stop`, `list`, `watch`) share with `irods_sync`: the common
//! log/profile/redis options (reference §5.1), the broker URL, and the connections.
//!
//! The reference reads `CELERY_BROKER_URL` with a naive split (`scheme://host:port/db`) that breaks
//! on passwords, a missing port or db, and unix sockets; here it is parsed as a URL and only its
//! host, port and db become the `--redis_*` defaults, as they do in the reference. The job state
//! lives in the database `--redis_host/--redis_port/--redis_db` name (the broker's unless given),
//! connected with the broker URL's password and scheme.

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use celery_proto::json::{PyDict, PyValue};
use celery_proto::transport::{Broker, RedisUrl, TransportOptions};
use irods_ingest::job::{JobControl, RedisJobStore};
use irods_ingest::lock::{LockOptions, Locks};

/// The reference's common options, same spellings and defaults (`None` unless given; the redis
/// ones default to the broker URL's host, port and db).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Specify name of log file.
    #[arg(long = "log_filename", value_name = "LOG_FILENAME")]
    pub log_filename: Option<String>,
    /// Specify the type of log_interval (see TimedRotatingFileHandler).
    #[arg(long = "log_when", value_name = "LOG_WHEN")]
    pub log_when: Option<String>,
    /// Specify the interval with which to rollover the ingest log file.
    #[arg(long = "log_interval", value_name = "LOG_INTERVAL")]
    pub log_interval: Option<i64>,
    /// Specify minimum level of message to log (DEBUG, INFO, WARNING, ERROR).
    #[arg(long = "log_level", value_name = "LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Specify name of profile filename.
    #[arg(long = "profile_filename", value_name = "PROFILE_FILENAME")]
    pub profile_filename: Option<String>,
    /// Specify the type of profile_interval (see TimedRotatingFileHandler).
    #[arg(long = "profile_when", value_name = "PROFILE_WHEN")]
    pub profile_when: Option<String>,
    /// Specify the interval with which to rollover the ingest profile log file.
    #[arg(long = "profile_interval", value_name = "PROFILE_INTERVAL")]
    pub profile_interval: Option<i64>,
    /// Specify minimum level of message to log for profiling (DEBUG, INFO, WARNING, ERROR).
    #[arg(long = "profile_level", value_name = "PROFILE_LEVEL")]
    pub profile_level: Option<String>,
    /// Domain or IP address of Redis host (default: the host of CELERY_BROKER_URL).
    #[arg(long = "redis_host", value_name = "REDIS_HOST")]
    pub redis_host: Option<String>,
    /// Port number for Redis (default: the port of CELERY_BROKER_URL, else 6379).
    #[arg(long = "redis_port", value_name = "REDIS_PORT")]
    pub redis_port: Option<u16>,
    /// Redis DB number to use for ingest (default: the db of CELERY_BROKER_URL, else 0).
    #[arg(long = "redis_db", value_name = "REDIS_DB")]
    pub redis_db: Option<i64>,
}

/// Where the job state lives, as `meta["config"]["redis"]` records it.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisPlace {
    /// A host name, or the socket path for a unix socket.
    pub host: String,
    pub port: u16,
    pub db: i64,
}

/// The broker URL and the job-state database derived from it and the `--redis_*` options.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub broker_url: String,
    pub state: RedisPlace,
    /// The URL the job state is reached at (the broker's credentials and scheme).
    pub state_url: String,
}

impl Endpoints {
    /// Reads `CELERY_BROKER_URL` (required, as in the reference) and applies the options.
    pub fn from_env(common: &CommonArgs) -> anyhow::Result<Self> {
        let url = match std::env::var("CELERY_BROKER_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => bail!(
                "CELERY_BROKER_URL is not set; set it to the broker of the workers, e.g. redis://127.0.0.1:6379/0"
            ),
        };
        if url.starts_with("sentinel://") {
            // Ask the sentinels once for the master; everything below connects to it.
            let resolved = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(celery_proto::transport::resolve_sentinel(&url))
                .map_err(|e| anyhow!("CELERY_BROKER_URL: {e}"))?;
            return Self::new(&resolved, common);
        }
        Self::new(&url, common)
    }

    pub fn new(broker_url: &str, common: &CommonArgs) -> anyhow::Result<Self> {
        let parsed = RedisUrl::parse(broker_url).map_err(|e| anyhow!("CELERY_BROKER_URL: {e}"))?;
        let info = parsed.connection_info();
        let settings = info.redis_settings();
        let (url_host, url_port, unix) = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port, false),
            redis::ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port, false),
            redis::ConnectionAddr::Unix(path) => (path.to_string_lossy().into_owned(), 6379, true),
            #[allow(unreachable_patterns)]
            _ => bail!("CELERY_BROKER_URL: unsupported address"),
        };
        let state = RedisPlace {
            host: common.redis_host.clone().unwrap_or(url_host),
            port: common.redis_port.unwrap_or(url_port),
            db: common.redis_db.unwrap_or(parsed.db()),
        };
        let auth = match (settings.username(), settings.password()) {
            (None, None) => String::new(),
            (user, password) => format!("{}:{}@", pct(user.unwrap_or("")), pct(password.unwrap_or(""))),
        };
        let state_url = if unix && common.redis_host.is_none() {
            format!("redis+unix://{}?db={}{}", state.host, state.db, unix_auth(&settings))
        } else {
            let host =
                if state.host.contains(':') { format!("[{}]", state.host) } else { state.host.clone() };
            format!("redis://{auth}{host}:{}/{}", state.port, state.db)
        };
        Ok(Self { broker_url: broker_url.to_owned(), state, state_url })
    }

    /// The broker URL without its password, for messages.
    pub fn redacted_broker(&self) -> String {
        celery_proto::transport::redact(&self.broker_url)
    }
}

fn unix_auth(settings: &redis::RedisConnectionInfo) -> String {
    let mut out = String::new();
    if let Some(user) = settings.username() {
        out.push_str(&format!("&user={}", pct(user)));
    }
    if let Some(password) = settings.password() {
        out.push_str(&format!("&pass={}", pct(password)));
    }
    out
}

/// Percent-encodes what a URL's userinfo or query cannot hold literally.
fn pct(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `get_config(args)`: `meta["config"]`, key order included.
pub fn config_dict(common: &CommonArgs, state: &RedisPlace) -> PyDict {
    let text = |v: &Option<String>| v.as_deref().map_or(PyValue::Null, PyValue::from);
    let int = |v: &Option<i64>| v.map_or(PyValue::Null, PyValue::from);
    let mut log = PyDict::with_capacity(4);
    log.insert("filename", text(&common.log_filename));
    log.insert("when", text(&common.log_when));
    log.insert("interval", int(&common.log_interval));
    log.insert("level", text(&common.log_level));
    let mut profile = PyDict::with_capacity(4);
    profile.insert("filename", text(&common.profile_filename));
    profile.insert("when", text(&common.profile_when));
    profile.insert("interval", int(&common.profile_interval));
    profile.insert("level", text(&common.profile_level));
    let mut redis = PyDict::with_capacity(3);
    redis.insert("host", state.host.as_str());
    redis.insert("port", i64::from(state.port));
    redis.insert("db", state.db);
    let mut config = PyDict::with_capacity(3);
    config.insert("log", log);
    config.insert("profile", profile);
    config.insert("redis", redis);
    config
}

/// The jobs lock (`lock:lock:periodic`) expires if this CLI dies holding it; Python CLIs, which
/// take it without expiry, are still excluded while it is held.
pub fn jobs_lock_options() -> LockOptions {
    LockOptions::expiring(Duration::from_secs(60))
}

/// The connection to the job state, with the jobs-lock sequences.
pub async fn job_control(endpoints: &Endpoints) -> anyhow::Result<JobControl> {
    let connect = RedisJobStore::connect(&endpoints.state_url);
    let (client, store) = tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .map_err(|_| anyhow!("timed out"))
        .and_then(|r| r.map_err(anyhow::Error::from))
        .with_context(|| {
            format!(
                "cannot reach Redis at {}:{} db {} (from CELERY_BROKER_URL={})",
                endpoints.state.host,
                endpoints.state.port,
                endpoints.state.db,
                endpoints.redacted_broker()
            )
        })?;
    let locks = Locks::new(client, store.connection());
    Ok(JobControl::new(store, locks, jobs_lock_options()))
}

/// The broker, for publishing tasks and revoking them.
pub async fn broker(endpoints: &Endpoints) -> anyhow::Result<Broker> {
    tokio::time::timeout(
        Duration::from_secs(15),
        Broker::connect(&endpoints.broker_url, TransportOptions::default()),
    )
    .await
    .map_err(|_| anyhow!("timed out"))
    .and_then(|r| r.map_err(anyhow::Error::from))
    .with_context(|| format!("cannot reach the broker at {}", endpoints.redacted_broker()))
}

/// A single-threaded runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// `time.time()`.
pub fn now() -> f64 {
    irods_ingest::job::time_time()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(url: &str) -> Endpoints {
        Endpoints::new(url, &CommonArgs::default()).unwrap()
    }

    #[test]
    fn broker_urls_the_reference_cannot_parse() {
        let e = endpoints("redis://:s%40cret@127.0.0.1:6380/3");
        assert_eq!(e.state, RedisPlace { host: "127.0.0.1".into(), port: 6380, db: 3 });
        assert_eq!(e.state_url, "redis://:s%40cret@127.0.0.1:6380/3");
        let e = endpoints("redis://127.0.0.1");
        assert_eq!(e.state, RedisPlace { host: "127.0.0.1".into(), port: 6379, db: 0 });
        let e = endpoints("redis://user:pw@localhost/");
        assert_eq!((e.state.port, e.state.db), (6379, 0));
        assert_eq!(e.state_url, "redis://user:pw@localhost:6379/0");
        let e = endpoints("redis+socket:///tmp/r.sock?virtual_host=2");
        assert_eq!(e.state, RedisPlace { host: "/tmp/r.sock".into(), port: 6379, db: 2 });
        assert_eq!(e.state_url, "redis+unix:///tmp/r.sock?db=2");
    }

    #[test]
    fn options_override_the_url() {
        let common = CommonArgs { redis_port: Some(7000), redis_db: Some(5), ..CommonArgs::default() };
        let e = Endpoints::new("redis://127.0.0.1:6379/0", &common).unwrap();
        assert_eq!(e.state_url, "redis://127.0.0.1:7000/5");
    }

    #[test]
    fn bad_urls_are_one_line_without_the_password() {
        let err = Endpoints::new("amqp://guest:hunter2@h//", &CommonArgs::default()).unwrap_err().to_string();
        assert!(err.starts_with("CELERY_BROKER_URL: ") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    fn config_has_the_reference_shape() {
        let common = CommonArgs { log_filename: Some("/tmp/x.log".into()), ..CommonArgs::default() };
        let place = RedisPlace { host: "h".into(), port: 1, db: 2 };
        assert_eq!(
            PyValue::Dict(config_dict(&common, &place)).to_json(),
            r#"{"log": {"filename": "/tmp/x.log", "when": null, "interval": null, "level": null}, "profile": {"filename": null, "when": null, "interval": null, "level": null}, "redis": {"host": "h", "port": 1, "db": 2}}"#
        );
    }
}
