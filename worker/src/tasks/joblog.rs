//! The reference's job log: structlog JSON lines in the file named by `meta["config"]["log"]`.
//!
//! Operators grep these files (`succeeded_task`, `failed_task`, `retry_task`, ...) and the
//! reference's tests read them, so the Rust side writes the same events with the same layout as
//! the reference's `sync_logging` (event fields, then `event`, `logger`, `level`, `@timestamp`).
//! Lines go through the handler runtime's [`LogSink`], so hook output and worker output share one
//! append-mode file handle, and every line is mirrored into the worker's own `tracing` log.

use std::sync::Arc;

use celery_proto::json::{PyDict, PyValue, to_json_string};
use ingest_pyhandlers::{LogDestination, LogSink};

use crate::meta::{LogConfig, Meta};

/// Python logging levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 10,
    Info = 20,
    Warning = 30,
    Error = 40,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }

    /// A level name as Python's `logging` and Celery's `-l` accept it; unknown names are None.
    pub fn parse(name: &str) -> Option<i32> {
        Some(match name.trim().to_ascii_uppercase().as_str() {
            "DEBUG" => 10,
            "INFO" => 20,
            "WARNING" | "WARN" => 30,
            "ERROR" => 40,
            "CRITICAL" | "FATAL" => 50,
            "NOTSET" => 0,
            other => other.parse().ok()?,
        })
    }
}

/// Writes job log lines.
#[derive(Clone)]
pub struct JobLog {
    sink: Arc<dyn LogSink>,
    /// The worker's `-l` level: what a logger without its own level uses (Python's root level).
    default_level: i32,
}

impl JobLog {
    pub fn new(sink: Arc<dyn LogSink>, default_level: i32) -> Self {
        JobLog { sink, default_level }
    }

    /// Logs `event` with `fields` to the job's log destination (`meta["config"]["log"]`).
    pub fn log(&self, meta: &Meta<'_>, level: Level, event: &str, fields: PyDict) {
        let config = meta.log_config().unwrap_or_default();
        self.log_to(&config, level, event, fields);
    }

    pub fn log_to(&self, config: &LogConfig, level: Level, event: &str, fields: PyDict) {
        let threshold = config.level.as_deref().and_then(Level::parse).unwrap_or(self.default_level);
        if (level as i32) < threshold {
            return;
        }
        let line = render(config, level, event, fields);
        let destination = LogDestination {
            filename: config.filename.clone(),
            when: config.when.clone(),
            interval: config.interval,
            level: config.level.clone(),
        };
        self.sink.write(Some(&destination), level as i32, &line);
    }
}

/// One line as structlog's `JSONRenderer` writes it after the reference's processors.
fn render(config: &LogConfig, level: Level, event: &str, fields: PyDict) -> String {
    let mut line = fields;
    line.insert("event", event);
    let logger = format!(
        "irods_sync/{}/{}",
        config.filename.as_deref().unwrap_or(""),
        config.level.as_deref().unwrap_or("")
    );
    line.insert("logger", logger);
    line.insert("level", level.name());
    line.insert("@timestamp", chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string());
    to_json_string(&PyValue::Dict(line))
}

/// Builds the fields of a log line: `fields!["task" => v, "path" => w]`.
#[macro_export]
macro_rules! fields {
    ($($key:expr => $value:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut d = celery_proto::json::PyDict::new();
        $( d.insert($key, celery_proto::json::PyValue::from($value)); )*
        d
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_the_reference_layout() {
        let config = LogConfig {
            filename: Some("/tmp/x.log".into()),
            level: Some("INFO".into()),
            ..Default::default()
        };
        let line =
            render(&config, Level::Info, "succeeded_task", fields!["task" => "t", "retval" => PyValue::Null]);
        let (head, _) = line.split_once(", \"@timestamp\"").unwrap();
        assert_eq!(
            head,
            r#"{"task": "t", "retval": null, "event": "succeeded_task", "logger": "irods_sync//tmp/x.log/INFO", "level": "info""#
        );
    }

    #[test]
    fn level_names() {
        assert_eq!(Level::parse("info"), Some(20));
        assert_eq!(Level::parse("WARN"), Some(30));
        assert_eq!(Level::parse("bogus"), None);
    }
}
