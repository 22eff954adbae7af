//! A job's state in Redis, with the reference's key names, value formats and command order.
//!
//! Python workers and the Python `irods_sync` CLI read and write the same keys (§4.2 of the
//! reference notes), so every key, type and value format here is the reference's. The command
//! sequences follow §3.2 (enqueue), §3.3 (start of a pass), §3.8 (task finished) and §4.3 (CLI
//! start/stop), batched into pipelines wherever the reference's order allows it: a pipeline sends
//! its commands in order on one connection, so Redis executes them in the same order, only
//! without waiting for each reply.
//!
//! [`JobStore`] is the seam the task layer programs against; [`RedisJobStore`] is the Redis
//! implementation that mixes with Python peers. A single-machine mode can provide a second,
//! embedded implementation later. [`JobControl`] holds the CLI-side sequences (start, stop, list)
//! for a Rust `irods_sync`.

mod control;
pub mod keys;
mod redis_store;
mod summary;

use std::future::Future;

pub use control::{DEFAULT_EVENT_HANDLER, JobControl, NewJob, StartedJob, StopInProgress};
pub use keys::{EntryType, JobKeys};
pub use redis_store::RedisJobStore;
pub use summary::{JobCounters, JobListing, JobSummary};

use crate::lock::LockError;

/// Errors from job state operations.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// A key holds something the reference would not have written (Python would raise too).
    #[error("key {key:?} holds {value:?}, expected {expected}")]
    BadValue { key: String, value: String, expected: &'static str },
    #[error("job {0} already exists")]
    AlreadyExists(String),
    #[error("job [{0}] does not exist")]
    DoesNotExist(String),
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// Result of the enqueue bookkeeping that precedes publishing child tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueue {
    /// Counted: `tasks:/` was incremented and the ids appended to `count:/`; publish them now.
    Counted,
    /// `stop:/<job>` exists: the CLI is stopping the job; publish nothing
    /// (reference log event `async_job_name_stopping`).
    Stopping,
}

/// How a task ended, for the after-task bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOutcome {
    /// `on_success` + `after_return`.
    Succeeded,
    /// Final failure: `on_failure` (`INCRBY failures:/`) + `after_return`.
    Failed,
}

/// What the after-task bookkeeping found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// `tasks:/<job>` after the decrement (negative after a stop deleted the counter).
    pub remaining: i64,
    /// The job is done: `remaining == 0` and it is not periodic. Its cleanup has run (removed from
    /// `singlepass`, `cleanup:/` deleted); the caller runs the handler's `post_job`.
    pub done: bool,
    /// Another attempt of the same task (a redelivered or twice-published message) had already
    /// finished it: nothing was counted now.
    pub duplicate: bool,
    /// That other attempt ended the job: its `post_job` may still be due (see
    /// `RedisJobStore::claim_post_job`).
    pub ended_by_another: bool,
    /// The file list found in `cleanup:/<job>` when done (always empty from the CLI). The
    /// reference `os.remove`s these; this crate only reports them (see README: deleting files
    /// named by Redis content is not something a worker should do on anyone's word).
    pub cleanup_files: Vec<String>,
}

/// Result of the main task's pass check (§3.3 step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassStart {
    /// Counters were reset and the start time set: enqueue the root `sync_path` task.
    Started,
    /// A periodic job still has tasks outstanding: skip this pass.
    Busy,
    /// This main task already started this pass (it is a redelivery): leave the pass alone and
    /// (re)publish its first task, which the ledger publishes only once.
    AlreadyStarted,
}

/// What the job state says about one task id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Not finished (or unknown): run it.
    NotFinished,
    /// Its bookkeeping already ran; `ended_job` when that was the job's last task.
    Finished { ended_job: bool },
}

/// The job bookkeeping a worker performs, independent of where it is stored.
///
/// Every method is one step of the reference's task lifecycle; implementations keep its order of
/// effects. Keys are per job name; `sync_key`s are those of `paths::EntryNames`.
pub trait JobStore: Send + Sync {
    /// `enqueue_task` steps 1, 2 and 5 for children about to be published: `GET stop:/`, then
    /// `INCRBY tasks:/ n` and `RPUSH count:/ ids...`. With one id this is the reference's exact
    /// sequence; with several it counts them all at once before any is published.
    fn enqueue(
        &self,
        job: &str,
        task_ids: &[String],
    ) -> impl Future<Output = Result<Enqueue, JobError>> + Send;

    /// `on_failure` (for [`TaskOutcome::Failed`]) then `after_return`: decrement, done check,
    /// cleanup when done, `RPUSH dequeue:/`. At most once per task id: `attempt` (unique per
    /// run) tells a repeat of this call after a lost reply from another run of the same task.
    fn finish(
        &self,
        job: &str,
        task_id: &str,
        attempt: &str,
        outcome: TaskOutcome,
    ) -> impl Future<Output = Result<Finished, JobError>> + Send;

    /// Whether `task_id`'s bookkeeping already ran. Asked for redelivered and retried messages
    /// (a worker killed after finishing a task but before acking it, a retry published twice),
    /// so that a task is never run and counted twice.
    fn task_state(
        &self,
        job: &str,
        task_id: &str,
    ) -> impl Future<Output = Result<TaskState, JobError>> + Send;

    /// `on_retry`: `INCRBY retries:/<job> 1`.
    fn record_retry(&self, job: &str) -> impl Future<Output = Result<(), JobError>> + Send;

    /// `job.periodic()`: the name is in the `periodic` list.
    fn is_periodic(&self, job: &str) -> impl Future<Output = Result<bool, JobError>> + Send;

    /// `job.done()`: `tasks:/<job>` is absent or 0.
    fn is_done(&self, job: &str) -> impl Future<Output = Result<bool, JobError>> + Send;

    /// Main task: if the job is not periodic or is done, reset its counters and set its start time
    /// to `now` (a `time.time()` value). `first_task`: the id the pass's first task will get;
    /// when it is already counted, the pass started before ([`PassStart::AlreadyStarted`]).
    fn start_pass(
        &self,
        job: &str,
        now: f64,
        first_task: Option<&str>,
    ) -> impl Future<Output = Result<PassStart, JobError>> + Send;

    /// `float(GET sync_time:/<sync_key>)`.
    fn sync_time(&self, sync_key: &str) -> impl Future<Output = Result<Option<f64>, JobError>> + Send;

    /// `SET sync_time:/<sync_key> str(t)`.
    fn set_sync_time(&self, sync_key: &str, t: f64) -> impl Future<Output = Result<(), JobError>> + Send;

    /// `asdict()` with `now` as the current time.
    fn summary(&self, job: &str, now: f64) -> impl Future<Output = Result<JobSummary, JobError>> + Send;
}

/// Python's `time.time()`: nanoseconds since the epoch divided by 1e9 in double precision.
pub fn time_time() -> f64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    nanos as f64 / 1e9
}

/// Python's `datetime.now().timestamp()`: whole seconds plus microseconds / 1e6 (what the
/// reference stores in `sync_time:/` keys, taken before an entry's work).
pub fn datetime_now_timestamp() -> f64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    since.as_secs() as f64 + f64::from(since.subsec_micros()) / 1e6
}
