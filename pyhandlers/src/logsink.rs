//! Where the hooks' log lines go.
//!
//! The `logger` a hook receives renders each event to one JSON line in Python (structlog, same
//! processors as the reference) and hands the finished line to a [`LogSink`]. The worker can plug
//! in its own sink to share file handles with its Rust-side job log; [`DefaultLogSink`] appends to
//! `meta.config.log.filename` (stdout when there is none) and mirrors every line into `tracing`,
//! so that hook output is visible in the worker's own log either way.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Mutex;

/// `meta["config"]["log"]` (or `["profile"]`): where the reference's logger writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LogDestination {
    pub filename: Option<String>,
    /// `TimedRotatingFileHandler` `when`; [`DefaultLogSink`] does not rotate.
    pub when: Option<String>,
    pub interval: Option<i64>,
    /// Level name as given on the command line (`INFO`, ...); `None` = the worker's level.
    pub level: Option<String>,
}

/// Receives finished log lines. Called from Python threads; must not block for long.
pub trait LogSink: Send + Sync {
    /// `destination` is `None` for records of other Python libraries (root logger), which only
    /// belong in the worker's own log. `level` is Python's level number (10 DEBUG ... 50 CRITICAL).
    fn write(&self, destination: Option<&LogDestination>, level: i32, line: &str);
}

/// Appends lines to the destination file (opened once, in append mode) or stdout, and emits each
/// line as a `tracing` event with target `ingest_pyhandlers::handler`.
#[derive(Default)]
pub struct DefaultLogSink {
    files: Mutex<HashMap<String, File>>,
}

impl DefaultLogSink {
    pub fn new() -> Self {
        Self::default()
    }

    fn append(&self, filename: &str, line: &str) {
        let mut files = self.files.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !files.contains_key(filename) {
            match OpenOptions::new().create(true).append(true).open(filename) {
                Ok(file) => {
                    files.insert(filename.to_owned(), file);
                }
                Err(error) => {
                    tracing::warn!(target: "ingest_pyhandlers::handler", %filename, %error,
                        "cannot open the handler log file");
                    return;
                }
            }
        }
        if let Some(file) = files.get_mut(filename) {
            // One write per line keeps lines whole when other processes append to the same file.
            let mut buffer = Vec::with_capacity(line.len() + 1);
            buffer.extend_from_slice(line.as_bytes());
            buffer.push(b'\n');
            if let Err(error) = file.write_all(&buffer) {
                tracing::warn!(target: "ingest_pyhandlers::handler", %filename, %error,
                    "cannot write the handler log file");
            }
        }
    }
}

impl LogSink for DefaultLogSink {
    fn write(&self, destination: Option<&LogDestination>, level: i32, line: &str) {
        trace_line(level, line);
        match destination {
            Some(LogDestination { filename: Some(filename), .. }) => self.append(filename, line),
            Some(_) => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{line}");
            }
            None => {}
        }
    }
}

/// Mirrors a Python log line into the worker's `tracing` log at the matching level.
pub fn trace_line(level: i32, line: &str) {
    const TARGET: &str = "ingest_pyhandlers::handler";
    if level >= 40 {
        tracing::error!(target: TARGET, "{line}");
    } else if level >= 30 {
        tracing::warn!(target: TARGET, "{line}");
    } else if level >= 20 {
        tracing::info!(target: TARGET, "{line}");
    } else {
        tracing::debug!(target: TARGET, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn default_sink_appends_to_the_file_and_to_the_worker_log() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("job.log");
        std::fs::write(&file, "earlier line\n").unwrap();
        let destination =
            LogDestination { filename: Some(file.to_str().unwrap().to_owned()), ..LogDestination::default() };
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        let sink = DefaultLogSink::new();
        tracing::subscriber::with_default(subscriber, || {
            sink.write(Some(&destination), 20, r#"{"event": "first"}"#);
            sink.write(Some(&destination), 40, r#"{"event": "second"}"#);
            sink.write(None, 30, "irods.connection: library record");
        });
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text, "earlier line\n{\"event\": \"first\"}\n{\"event\": \"second\"}\n");
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 3, "{log}");
        assert!(lines[0].contains("INFO") && lines[0].contains(r#"{"event": "first"}"#), "{log}");
        assert!(lines[1].contains("ERROR") && lines[1].contains("second"), "{log}");
        assert!(lines[2].contains("WARN") && lines[2].contains("library record"), "{log}");
        assert!(lines.iter().all(|l| l.contains("ingest_pyhandlers::handler")), "{log}");
    }
}
