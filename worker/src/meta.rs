//! Typed read access to a task's `meta` dict (§3.1 of the reference notes).
//!
//! `meta` stays the Python-compatible JSON value from `celery-proto` end to end, so children,
//! hooks and logs get exactly what arrived (lone surrogates, unknown keys, big ints). [`Meta`]
//! borrows it and reads single fields with the reference's semantics: `meta["k"]` is a required
//! key, `meta.get("k", d)` an optional one, `if meta["k"]` Python truthiness. Nothing converts
//! the whole dict.

use celery_proto::json::{PyDict, PyStr, PyValue};

use crate::paths::{PathError, SourcePath};
use crate::scan::{EntryStat, ExcludeRules, ScanError};

/// A field is missing or has a shape the reference would choke on.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("meta is a {0}, not a dict")]
    NotADict(&'static str),
    #[error("meta has no {0:?}")]
    Missing(String),
    #[error("meta[{key:?}] is a {found}, expected {expected}")]
    WrongType { key: String, expected: &'static str, found: &'static str },
    #[error("meta[{key:?}] holds lone surrogates where text is required")]
    NotText { key: String },
    #[error("meta[{key:?}]: {source}")]
    Path { key: String, source: PathError },
    #[error("meta exclusion options: {0}")]
    Exclude(#[from] ScanError),
}

/// `meta["config"]["redis"]`: where the job's state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub host: String,
    pub port: u16,
    pub db: i64,
}

impl RedisConfig {
    /// `redis://host:port/db`, the key of the reference's connection-pool map.
    pub fn url(&self) -> String {
        format!("redis://{}:{}/{}", self.host, self.port, self.db)
    }
}

/// `meta["config"]["log"]` or `["profile"]`: the structlog logger settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogConfig {
    pub filename: Option<String>,
    pub when: Option<String>,
    pub interval: Option<i64>,
    pub level: Option<String>,
}

/// A borrowed view of `meta`.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    dict: &'a PyDict,
}

impl<'a> Meta<'a> {
    pub fn new(value: &'a PyValue) -> Result<Self, MetaError> {
        value.as_dict().map(Self::from_dict).ok_or(MetaError::NotADict(value.type_name()))
    }

    pub fn from_dict(dict: &'a PyDict) -> Self {
        Self { dict }
    }

    pub fn dict(&self) -> &'a PyDict {
        self.dict
    }

    /// The raw value, if present.
    pub fn get(&self, key: &str) -> Option<&'a PyValue> {
        self.dict.get(key)
    }

    fn required(&self, key: &str) -> Result<&'a PyValue, MetaError> {
        self.get(key).ok_or_else(|| MetaError::Missing(key.to_owned()))
    }

    fn wrong(key: &str, expected: &'static str, found: &PyValue) -> MetaError {
        MetaError::WrongType { key: key.to_owned(), expected, found: found.type_name() }
    }

    /// `meta[key]` as text (no lone surrogates).
    pub fn text(&self, key: &str) -> Result<&'a str, MetaError> {
        let value = self.required(key)?;
        let s = value.as_py_str().ok_or_else(|| Self::wrong(key, "str", value))?;
        s.as_str().ok_or_else(|| MetaError::NotText { key: key.to_owned() })
    }

    /// `meta.get(key)` as text; `None` when absent or `None`.
    pub fn opt_text(&self, key: &str) -> Result<Option<&'a str>, MetaError> {
        match self.get(key) {
            None | Some(PyValue::Null) => Ok(None),
            Some(_) => self.text(key).map(Some),
        }
    }

    /// `bool(meta.get(key))`: Python truthiness, absent = false.
    pub fn truthy(&self, key: &str) -> bool {
        self.get(key).is_some_and(PyValue::is_truthy)
    }

    /// `meta.get(key)` as an int; `None` when absent or `None`.
    pub fn opt_int(&self, key: &str) -> Result<Option<i64>, MetaError> {
        match self.get(key) {
            None | Some(PyValue::Null) => Ok(None),
            Some(PyValue::Int(i)) => Ok(Some(*i)),
            Some(PyValue::Bool(b)) => Ok(Some(i64::from(*b))),
            Some(other) => Err(Self::wrong(key, "int", other)),
        }
    }

    /// `meta.get(key)` as a number (int or float); `None` when absent or `None`.
    pub fn opt_number(&self, key: &str) -> Result<Option<f64>, MetaError> {
        match self.get(key) {
            None | Some(PyValue::Null) => Ok(None),
            Some(value @ (PyValue::Int(_) | PyValue::BigInt(_) | PyValue::Float(_))) => Ok(value.as_f64()),
            Some(other) => Err(Self::wrong(key, "float", other)),
        }
    }

    /// `meta[key]` as a source path (lone surrogates turned back into the original bytes).
    pub fn source_path(&self, key: &str) -> Result<SourcePath, MetaError> {
        let value = self.required(key)?;
        let s = value.as_py_str().ok_or_else(|| Self::wrong(key, "str", value))?;
        SourcePath::from_py_str(s).map_err(|source| MetaError::Path { key: key.to_owned(), source })
    }

    /// A list of strings, iterated as Python would: a `str` yields its characters.
    fn text_list(&self, key: &str, default_empty: bool) -> Result<Vec<String>, MetaError> {
        let value = match self.get(key) {
            None if default_empty => return Ok(Vec::new()),
            None => return Err(MetaError::Missing(key.to_owned())),
            Some(v) => v,
        };
        match value {
            PyValue::List(items) => items
                .iter()
                .map(|item| match item.as_py_str() {
                    Some(s) => Ok(s.to_string_lossy().into_owned()),
                    None => Err(Self::wrong(key, "list of str", item)),
                })
                .collect(),
            PyValue::Str(s) => Ok(s.to_string_lossy().chars().map(String::from).collect()),
            other => Err(Self::wrong(key, "list of str", other)),
        }
    }

    // ---- job and queues ----

    pub fn job_name(&self) -> Result<&'a str, MetaError> {
        self.text("job_name")
    }

    pub fn restart_queue(&self) -> Result<&'a str, MetaError> {
        self.text("restart_queue")
    }

    pub fn path_queue(&self) -> Result<&'a str, MetaError> {
        self.text("path_queue")
    }

    pub fn file_queue(&self) -> Result<&'a str, MetaError> {
        self.text("file_queue")
    }

    /// `meta["queue_name"]`: the queue this task's children go to (set by the enqueuer).
    pub fn queue_name(&self) -> Result<&'a str, MetaError> {
        self.text("queue_name")
    }

    /// `meta["task"]`: the label the enqueuer put (absent in the main task's meta).
    pub fn task(&self) -> Result<Option<&'a str>, MetaError> {
        self.opt_text("task")
    }

    /// `meta["interval"]`: seconds between periodic passes; `None` for a single-pass job.
    pub fn interval(&self) -> Result<Option<i64>, MetaError> {
        self.opt_int("interval")
    }

    pub fn event_handler_key(&self) -> Result<&'a str, MetaError> {
        self.text("event_handler_key")
    }

    // ---- paths and targets ----

    /// `meta["root"]`: the source root (realpath for filesystem jobs; the bucket for S3 tasks).
    pub fn root(&self) -> Result<SourcePath, MetaError> {
        self.source_path("root")
    }

    /// `meta["path"]`: the directory or entry this task is about.
    pub fn path(&self) -> Result<SourcePath, MetaError> {
        self.source_path("path")
    }

    /// `meta["target"]`: the root target collection as the task received it.
    pub fn target(&self) -> Result<&'a str, MetaError> {
        self.text("target")
    }

    /// `meta["root_target_collection"]` (set by the filesystem main task).
    pub fn root_target_collection(&self) -> Result<Option<&'a str>, MetaError> {
        self.opt_text("root_target_collection")
    }

    // ---- flags ----

    pub fn ignore_cache(&self) -> bool {
        self.truthy("ignore_cache")
    }

    pub fn initial_ingest(&self) -> bool {
        self.truthy("initial_ingest")
    }

    pub fn profile(&self) -> bool {
        self.truthy("profile")
    }

    // ---- scanning ----

    /// `meta["files_per_task"]` (CLI default 50); 0 and negatives behave like 1, as
    /// `len(chunk) >= files_per_task` does.
    pub fn files_per_task(&self) -> Result<usize, MetaError> {
        match self.opt_int("files_per_task")? {
            Some(n) => Ok(n.max(1) as usize),
            None => Err(MetaError::Missing("files_per_task".into())),
        }
    }

    /// The three exclusion options compiled (`exclude_file_type` defaults to empty as
    /// `meta.get(..., list())` does; the two pattern lists are required, as `meta[...]`).
    pub fn exclude_rules(&self) -> Result<ExcludeRules, MetaError> {
        let types = self.text_list("exclude_file_type", true)?;
        let files = self.text_list("exclude_file_name", false)?;
        let dirs = self.text_list("exclude_directory_name", false)?;
        Ok(ExcludeRules::new(&types, &files, &dirs)?)
    }

    /// `meta["mtime"]` / `meta["ctime"]`: lstat times given by the enqueuer (sub-directories).
    pub fn mtime(&self) -> Result<Option<f64>, MetaError> {
        self.opt_number("mtime")
    }

    pub fn ctime(&self) -> Result<Option<f64>, MetaError> {
        self.opt_number("ctime")
    }

    /// `meta["chunk"]` of a `*_sync_files` task: `(path, stat)` in insertion order.
    pub fn chunk(&self) -> Result<Vec<(SourcePath, EntryStat)>, MetaError> {
        let value = self.required("chunk")?;
        let dict = value.as_dict().ok_or_else(|| Self::wrong("chunk", "dict", value))?;
        dict.iter()
            .map(|(path, stats)| {
                let key = format!("chunk[{}]", path.to_string_lossy());
                let path = SourcePath::from_py_str(path)
                    .map_err(|source| MetaError::Path { key: key.clone(), source })?;
                let stats = Meta::new(stats).map_err(|_| Self::wrong(&key, "dict", stats))?;
                // The reference fails such an entry later (comparing or formatting `None`); here
                // a missing stat is a clear error up front.
                let number = |field: &str| {
                    stats.opt_number(field)?.ok_or_else(|| MetaError::Missing(format!("{key}.{field}")))
                };
                let size = stats.opt_int("size")?.ok_or_else(|| MetaError::Missing(format!("{key}.size")))?;
                let stat = EntryStat {
                    is_link: stats.truthy("is_link"),
                    is_socket: stats.truthy("is_socket"),
                    mtime: number("mtime")?,
                    ctime: number("ctime")?,
                    size: u64::try_from(size).map_err(|_| MetaError::WrongType {
                        key: format!("{key}.size"),
                        expected: "non-negative int",
                        found: "int",
                    })?,
                };
                Ok((path, stat))
            })
            .collect()
    }

    // ---- config ----

    /// `meta["config"]["redis"]`. The port and db may be ints or digit strings (the CLI parses
    /// them from `CELERY_BROKER_URL`).
    pub fn redis_config(&self) -> Result<RedisConfig, MetaError> {
        let config = self.sub("config")?;
        let redis = config.sub("redis")?;
        let number = |key: &str| -> Result<i64, MetaError> {
            match redis.required(key)? {
                PyValue::Int(i) => Ok(*i),
                PyValue::Str(s) => s.as_str().and_then(|t| t.trim().parse().ok()).ok_or_else(|| {
                    MetaError::WrongType { key: format!("config.redis.{key}"), expected: "int", found: "str" }
                }),
                other => Err(Self::wrong(&format!("config.redis.{key}"), "int", other)),
            }
        };
        let port = number("port")?;
        Ok(RedisConfig {
            host: redis.text("host")?.to_owned(),
            port: u16::try_from(port).map_err(|_| MetaError::WrongType {
                key: "config.redis.port".into(),
                expected: "port number",
                found: "int",
            })?,
            db: number("db")?,
        })
    }

    /// `meta["config"]["log"]`.
    pub fn log_config(&self) -> Result<LogConfig, MetaError> {
        self.sub("config")?.sub("log").and_then(|log| log.as_log_config())
    }

    /// `meta["config"]["profile"]`.
    pub fn profile_config(&self) -> Result<LogConfig, MetaError> {
        self.sub("config")?.sub("profile").and_then(|log| log.as_log_config())
    }

    fn as_log_config(&self) -> Result<LogConfig, MetaError> {
        Ok(LogConfig {
            filename: self.opt_text("filename")?.map(str::to_owned),
            when: self.opt_text("when")?.map(str::to_owned),
            interval: self.opt_int("interval")?,
            level: self.opt_text("level")?.map(str::to_owned),
        })
    }

    /// A nested dict as a [`Meta`] view.
    pub fn sub(&self, key: &str) -> Result<Meta<'a>, MetaError> {
        let value = self.required(key)?;
        value.as_dict().map(Meta::from_dict).ok_or_else(|| Self::wrong(key, "dict", value))
    }

    // ---- delete mode ----

    pub fn target_collection(&self) -> Result<Option<&'a str>, MetaError> {
        self.opt_text("target_collection")
    }

    pub fn data_objects_to_delete(&self) -> Result<Vec<String>, MetaError> {
        self.text_list("data_objects_to_delete", true)
    }

    pub fn delete_empty_parent_collection(&self) -> Result<Option<&'a str>, MetaError> {
        self.opt_text("delete_empty_parent_collection")
    }

    pub fn only_delete_collection(&self) -> bool {
        self.truthy("only_delete_collection")
    }

    // ---- S3 ----

    pub fn s3_keypair(&self) -> Result<Option<&'a str>, MetaError> {
        self.opt_text("s3_keypair")
    }

    pub fn s3_prefix(&self) -> Result<Option<&'a str>, MetaError> {
        self.opt_text("s3_prefix")
    }

    /// `meta["idle_disconnect_seconds"]` (CLI default 60).
    pub fn idle_disconnect_seconds(&self) -> Result<Option<i64>, MetaError> {
        self.opt_int("idle_disconnect_seconds")
    }
}

/// Builds the string a child's `meta["path"]` gets for a source path (the inverse of
/// [`Meta::source_path`]).
pub fn path_value(path: &SourcePath) -> PyValue {
    PyValue::Str(path.to_py_str())
}

/// Text of a `PyStr` key for messages.
pub fn lossy(s: &PyStr) -> String {
    s.to_string_lossy().into_owned()
}
