//! The CLI side of a job (§4.3, §5): start, stop and list, as `irods_sync` does them, for a
//! Rust `irods_sync`. Publishing the main task and revoking tasks belong to the Celery layer; the
//! stop sequence is split around the revocation ([`JobControl::begin_stop`] /
//! [`JobControl::finish_stop`]) so the caller revokes in between, under the same lock.

use celery_proto::json::PyValue;

use super::keys::{self, EMPTY_CLEANUP_LIST, JOBS_LOCK_NAME, JobKeys, PERIODIC, SINGLEPASS, STOPPED_JOBS};
use super::{JobError, JobListing, JobStore, JobSummary, RedisJobStore};
use crate::lock::{LockGuard, LockOptions, Locks};

/// The handler source `irods_sync start` stores when no `--event_handler` is given, byte for byte
/// (register every file, never delete).
pub const DEFAULT_EVENT_HANDLER: &str = concat!(
    "\n",
    "from irods_capability_automated_ingest.core import Core \n",
    "from irods_capability_automated_ingest.utils import Operation, DeleteMode\n",
    "class event_handler(Core):\n",
    "    @staticmethod\n",
    "    def operation(session, meta, *args, **options):\n",
    "        return Operation.REGISTER_SYNC\n",
    "\n",
    "    @staticmethod\n",
    "    def delete_mode(meta):\n",
    "        return DeleteMode.DO_NOT_DELETE",
);

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub job_name: &'a str,
    /// `--interval` given: the name goes to `periodic`, else to `singlepass`.
    pub periodic: bool,
    /// The event handler's source; `None` stores [`DEFAULT_EVENT_HANDLER`].
    pub handler_source: Option<&'a str>,
}

/// What `start` created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedJob {
    /// `custom_event_handler:/<job>::<uuid4 hex>`; goes into `meta["event_handler_key"]`.
    pub event_handler_key: String,
}

/// A stop under way: the stop flag is set and the jobs lock held until [`JobControl::finish_stop`].
pub struct StopInProgress {
    job_name: String,
    lock: LockGuard,
    /// The job as it was when the stop began (already appended to the stopped-jobs list).
    pub summary: JobSummary,
    /// Task ids enqueued and not yet finished: revoke each with `terminate=True`, then the job
    /// name itself (the periodic main task's id) with `terminate=False`.
    pub outstanding: Vec<String>,
}

impl StopInProgress {
    pub fn job_name(&self) -> &str {
        &self.job_name
    }
}

/// CLI-side job operations on the shared Redis.
#[derive(Clone)]
pub struct JobControl {
    store: RedisJobStore,
    locks: Locks,
    lock_options: LockOptions,
}

impl JobControl {
    /// The jobs lock is taken with `lock_options`; the reference's CLI takes it without expiry,
    /// an expiring one is safer for a CLI that may be killed and still excludes Python CLIs.
    pub fn new(store: RedisJobStore, locks: Locks, lock_options: LockOptions) -> Self {
        Self { store, locks, lock_options }
    }

    pub fn store(&self) -> &RedisJobStore {
        &self.store
    }

    /// `start_job` up to publishing the main task: under the jobs lock, refuse an existing job
    /// (`cleanup:/<job>` present), store the handler source and `cleanup:/<job> = "[]"`; after the
    /// lock, `RPUSH periodic|singlepass <job>`.
    pub async fn start(&self, job: &NewJob<'_>) -> Result<StartedJob, JobError> {
        let keys = JobKeys::new(job.job_name);
        let lock = self.locks.acquire(JOBS_LOCK_NAME, self.lock_options).await?;
        let created = self.create_under_lock(job, &keys).await;
        lock.release().await?;
        let started = created?;
        let list = if job.periodic { PERIODIC } else { SINGLEPASS };
        redis::cmd("RPUSH")
            .arg(list)
            .arg(job.job_name)
            .query_async::<()>(&mut self.store.connection())
            .await?;
        Ok(started)
    }

    async fn create_under_lock(&self, job: &NewJob<'_>, keys: &JobKeys) -> Result<StartedJob, JobError> {
        if self.store.cleanup_value(job.job_name).await?.is_some() {
            return Err(JobError::AlreadyExists(job.job_name.to_owned()));
        }
        let uuid_hex = format!("{:032x}", rand::random::<u128>() & V4_MASK | V4_BITS);
        let event_handler_key = keys::event_handler_key(job.job_name, &uuid_hex);
        redis::pipe()
            .cmd("SET")
            .arg(&event_handler_key)
            .arg(job.handler_source.unwrap_or(DEFAULT_EVENT_HANDLER))
            .ignore()
            .cmd("SET")
            .arg(&keys.cleanup)
            .arg(EMPTY_CLEANUP_LIST)
            .ignore()
            .query_async::<()>(&mut self.store.connection())
            .await?;
        Ok(StartedJob { event_handler_key })
    }

    /// `job.cleanup()` (used after a failed `--synchronous` start and by stop).
    pub async fn cleanup(&self, job: &str) -> Result<Vec<String>, JobError> {
        self.store.cleanup(job).await
    }

    /// The first half of `stop_job`: under the jobs lock, require the job, append its `asdict()`
    /// to the stopped-jobs list, `SET stop:/<job> ""` and collect the outstanding task ids.
    pub async fn begin_stop(&self, job: &str, now: f64) -> Result<StopInProgress, JobError> {
        let lock = self.locks.acquire(JOBS_LOCK_NAME, self.lock_options).await?;
        match self.begin_stop_under_lock(job, now).await {
            Ok((summary, outstanding)) => {
                Ok(StopInProgress { job_name: job.to_owned(), lock, summary, outstanding })
            }
            Err(error) => {
                lock.release().await?;
                Err(error)
            }
        }
    }

    async fn begin_stop_under_lock(
        &self,
        job: &str,
        now: f64,
    ) -> Result<(JobSummary, Vec<String>), JobError> {
        if self.store.cleanup_value(job).await?.is_none() {
            return Err(JobError::DoesNotExist(job.to_owned()));
        }
        let summary = self.store.summary(job, now).await?;
        let mut stopped = self.stopped_jobs().await?;
        stopped.push(PyValue::Dict(summary.to_py_dict()));
        let keys = JobKeys::new(job);
        let mut conn = self.store.connection();
        redis::cmd("SET")
            .arg(STOPPED_JOBS)
            .arg(PyValue::List(stopped).to_json())
            .query_async::<()>(&mut conn)
            .await?;
        redis::cmd("SET").arg(&keys.stop).arg("").query_async::<()>(&mut conn).await?;
        let outstanding = self.store.outstanding_task_ids(job).await?;
        Ok((summary, outstanding))
    }

    /// The second half: `DEL stop:/<job>`, cleanup, reset, release the jobs lock.
    pub async fn finish_stop(&self, stop: StopInProgress) -> Result<(), JobError> {
        let StopInProgress { job_name, lock, .. } = stop;
        let result = async {
            let keys = JobKeys::new(&job_name);
            redis::cmd("DEL").arg(&keys.stop).query_async::<()>(&mut self.store.connection()).await?;
            self.store.cleanup(&job_name).await?;
            self.store.reset(&job_name).await
        }
        .await;
        lock.release().await?;
        result
    }

    /// The stored records of stopped jobs (`irods_ingest_stopped_jobs:/`), as JSON values.
    pub async fn stopped_jobs(&self) -> Result<Vec<PyValue>, JobError> {
        let raw: Option<Vec<u8>> =
            redis::cmd("GET").arg(STOPPED_JOBS).query_async(&mut self.store.connection()).await?;
        let Some(raw) = raw else { return Ok(Vec::new()) };
        match PyValue::from_json(&raw) {
            Ok(PyValue::List(items)) => Ok(items),
            _ => Err(JobError::BadValue {
                key: STOPPED_JOBS.to_owned(),
                value: String::from_utf8_lossy(&raw).into_owned(),
                expected: "a JSON list",
            }),
        }
    }

    /// `job.stopped()`: a stopped-jobs record carries this name.
    pub async fn is_stopped(&self, job: &str) -> Result<bool, JobError> {
        Ok(self.stopped_jobs().await?.iter().any(|record| {
            record.as_dict().and_then(|d| d.get("job_name")).and_then(PyValue::as_str) == Some(job)
        }))
    }

    /// `list_jobs`: under the jobs lock, every periodic and single-pass job's `asdict()` and the
    /// stopped records.
    pub async fn list(&self, now: f64) -> Result<JobListing, JobError> {
        let lock = self.locks.acquire(JOBS_LOCK_NAME, self.lock_options).await?;
        let listing = self.list_under_lock(now).await;
        lock.release().await?;
        listing
    }

    async fn list_under_lock(&self, now: f64) -> Result<JobListing, JobError> {
        let (periodic, singlepass): (Vec<Vec<u8>>, Vec<Vec<u8>>) = redis::pipe()
            .cmd("LRANGE")
            .arg(PERIODIC)
            .arg(0)
            .arg(-1)
            .cmd("LRANGE")
            .arg(SINGLEPASS)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.store.connection())
            .await?;
        let mut listing = JobListing { periodic: Vec::new(), singlepass: Vec::new(), stopped: Vec::new() };
        for (names, list, out) in
            [(periodic, PERIODIC, &mut listing.periodic), (singlepass, SINGLEPASS, &mut listing.singlepass)]
        {
            for name in names {
                let name = String::from_utf8(name).map_err(|e| JobError::BadValue {
                    key: list.to_owned(),
                    value: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                    expected: "UTF-8 job names",
                })?;
                out.push(self.store.summary(&name, now).await?);
            }
        }
        listing.stopped = self.stopped_jobs().await?;
        Ok(listing)
    }
}

/// Version 4 / RFC 4122 variant bits of a random UUID, as `uuid.uuid4().hex` has them.
const V4_MASK: u128 = !(0xF << 76 | 0x3 << 62);
const V4_BITS: u128 = 0x4 << 76 | 0x2 << 62;
