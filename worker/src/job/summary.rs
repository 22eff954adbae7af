//! `sync_job.asdict()`: a job's progress as `irods_sync list` prints it (§5.6).

use celery_proto::json::{PyDict, PyValue};

use crate::pyfmt;

/// The raw values `asdict()` reads, before formatting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobCounters {
    /// `float(GET irods_ingest_job_start_time:/<job>)`, if set.
    pub start_time: Option<f64>,
    /// `int(GET tasks:/<job>)`, if set.
    pub tasks: Option<i64>,
    /// `LLEN count:/<job>`.
    pub total: i64,
    pub failures: Option<i64>,
    pub retries: Option<i64>,
}

/// One job as `asdict()` returns it, key order included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSummary {
    pub job_name: String,
    pub total_tasks: i64,
    pub remaining_tasks: i64,
    pub failed_tasks: i64,
    pub retried_tasks: i64,
    /// `str(timedelta)` of now minus the start time, e.g. `0:00:02.628335`; `0:00:00` without a
    /// start time.
    pub elapsed_time: String,
    /// UTC ISO 8601 with milliseconds; `1970-01-01T00:00:00.000+00:00` without a start time.
    pub start_time: String,
}

impl JobSummary {
    /// Formats counters as the reference does, with `now` standing for its `time.time()`.
    pub fn from_counters(job_name: &str, counters: &JobCounters, now: f64) -> Self {
        // `get_value() or 0`: a stored 0.0 counts as "no start time" too.
        let start = counters.start_time.filter(|t| *t != 0.0).unwrap_or(0.0);
        let elapsed = if start != 0.0 { now - start } else { 0.0 };
        let start_text =
            pyfmt::utc_iso_millis(start).unwrap_or_else(|| "1970-01-01T00:00:00.000+00:00".to_owned());
        Self {
            job_name: job_name.to_owned(),
            total_tasks: counters.total,
            remaining_tasks: counters.tasks.unwrap_or(0),
            failed_tasks: counters.failures.unwrap_or(0),
            retried_tasks: counters.retries.unwrap_or(0),
            elapsed_time: pyfmt::format_timedelta(pyfmt::timedelta_from_seconds(elapsed)),
            start_time: start_text,
        }
    }

    /// As a Python dict with the reference's key order.
    pub fn to_py_dict(&self) -> PyDict {
        let mut dict = PyDict::with_capacity(7);
        dict.insert("job_name", self.job_name.as_str());
        dict.insert("total_tasks", self.total_tasks);
        dict.insert("remaining_tasks", self.remaining_tasks);
        dict.insert("failed_tasks", self.failed_tasks);
        dict.insert("retried_tasks", self.retried_tasks);
        dict.insert("elapsed_time", self.elapsed_time.as_str());
        dict.insert("start_time", self.start_time.as_str());
        dict
    }

    /// Reads back a record from the stopped-jobs list; `None` if it does not have this shape.
    pub fn from_py(value: &PyValue) -> Option<Self> {
        let dict = value.as_dict()?;
        let text = |key: &str| dict.get(key).and_then(PyValue::as_str).map(str::to_owned);
        let int = |key: &str| dict.get(key).and_then(PyValue::as_i64);
        Some(Self {
            job_name: text("job_name")?,
            total_tasks: int("total_tasks")?,
            remaining_tasks: int("remaining_tasks")?,
            failed_tasks: int("failed_tasks")?,
            retried_tasks: int("retried_tasks")?,
            elapsed_time: text("elapsed_time")?,
            start_time: text("start_time")?,
        })
    }
}

/// What `irods_sync list` prints: `{"periodic": [...], "singlepass": [...], "stopped": [...]}`.
///
/// Stopped records are kept as the JSON values stored in Redis (whatever their shape), so that a
/// listing reproduces them exactly as Python would re-serialise them.
#[derive(Debug, Clone, PartialEq)]
pub struct JobListing {
    pub periodic: Vec<JobSummary>,
    pub singlepass: Vec<JobSummary>,
    pub stopped: Vec<PyValue>,
}

impl JobListing {
    pub fn to_py_value(&self) -> PyValue {
        let summaries =
            |jobs: &[JobSummary]| PyValue::List(jobs.iter().map(|j| PyValue::Dict(j.to_py_dict())).collect());
        let mut dict = PyDict::with_capacity(3);
        dict.insert("periodic", summaries(&self.periodic));
        dict.insert("singlepass", summaries(&self.singlepass));
        dict.insert("stopped", PyValue::List(self.stopped.clone()));
        PyValue::Dict(dict)
    }

    /// `json.dumps(jobs)`, the line `irods_sync list` prints (without the newline).
    pub fn to_json(&self) -> String {
        self.to_py_value().to_json()
    }
}
