//! [`RedisJobStore`]: the job bookkeeping on the Redis that Python peers share.

use celery_proto::json::PyValue;
use redis::aio::MultiplexedConnection;

use super::keys::{self, JobKeys, PERIODIC, SINGLEPASS};
use super::{Enqueue, Finished, JobCounters, JobError, JobStore, JobSummary, PassStart, TaskOutcome};
use crate::pyfmt;

/// Job state on Redis. Cheap to clone (the connection is multiplexed).
///
/// Redis errors are returned, not retried: the reference retries every call 11 times with a 1 s
/// sleep; here the task layer decides (a failed bookkeeping step fails or retries the task).
#[derive(Clone)]
pub struct RedisJobStore {
    conn: MultiplexedConnection,
}

impl RedisJobStore {
    pub fn new(conn: MultiplexedConnection) -> Self {
        Self { conn }
    }

    /// Connects to `url` (`redis://host:port/db`) with a generous response timeout (the crate's
    /// default of 500 ms is too short for a long `LRANGE count:/` on a busy server).
    pub async fn connect(url: &str) -> Result<(redis::Client, Self), JobError> {
        let client = redis::Client::open(url)?;
        let config = redis::AsyncConnectionConfig::new()
            .set_response_timeout(Some(std::time::Duration::from_secs(60)));
        let conn = client.get_multiplexed_async_connection_with_config(&config).await?;
        Ok((client, Self { conn }))
    }

    pub fn connection(&self) -> MultiplexedConnection {
        self.conn.clone()
    }

    /// `LRANGE <list> 0 -1` contains `job` (the reference compares UTF-8 bytes).
    async fn list_contains(&self, list: &str, job: &str) -> Result<bool, JobError> {
        let names: Vec<Vec<u8>> =
            redis::cmd("LRANGE").arg(list).arg(0).arg(-1).query_async(&mut self.conn.clone()).await?;
        Ok(names.iter().any(|n| n == job.as_bytes()))
    }

    /// `GET cleanup:/<job>`: the raw cleanup list; its presence means the job exists.
    pub async fn cleanup_value(&self, job: &str) -> Result<Option<Vec<u8>>, JobError> {
        Ok(redis::cmd("GET").arg(keys::key("cleanup", job)).query_async(&mut self.conn.clone()).await?)
    }

    /// `sync_job.reset()`: `DEL` count, dequeue, tasks, failures, retries and start time.
    pub async fn reset(&self, job: &str) -> Result<(), JobError> {
        let keys = JobKeys::new(job);
        let mut pipe = redis::pipe();
        for key in keys.reset_keys() {
            pipe.cmd("DEL").arg(key).ignore();
        }
        pipe.query_async::<()>(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// `sync_job.cleanup()`: read the cleanup list, `LREM` the name from `periodic` if it is
    /// there, else from `singlepass`, and `DEL cleanup:/<job>`. Returns the listed files (not
    /// removed, see [`Finished::cleanup_files`]).
    pub async fn cleanup(&self, job: &str) -> Result<Vec<String>, JobError> {
        let keys = JobKeys::new(job);
        let (cleanup, periodic): (Option<Vec<u8>>, Vec<Vec<u8>>) = redis::pipe()
            .cmd("GET")
            .arg(&keys.cleanup)
            .cmd("LRANGE")
            .arg(PERIODIC)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await?;
        let list = if periodic.iter().any(|n| n == job.as_bytes()) { PERIODIC } else { SINGLEPASS };
        redis::pipe()
            .cmd("LREM")
            .arg(list)
            .arg(1)
            .arg(job)
            .ignore()
            .cmd("DEL")
            .arg(&keys.cleanup)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(cleanup_files(&keys.cleanup, cleanup.as_deref()))
    }

    /// The raw values behind `asdict()`, in one round trip.
    pub async fn counters(&self, job: &str) -> Result<JobCounters, JobError> {
        let keys = JobKeys::new(job);
        type Raw = (Option<Vec<u8>>, Option<Vec<u8>>, i64, Option<Vec<u8>>, Option<Vec<u8>>);
        let (start, tasks, total, failures, retries): Raw = redis::pipe()
            .cmd("GET")
            .arg(&keys.start_time)
            .cmd("GET")
            .arg(&keys.tasks)
            .cmd("LLEN")
            .arg(&keys.count)
            .cmd("GET")
            .arg(&keys.failures)
            .cmd("GET")
            .arg(&keys.retries)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(JobCounters {
            start_time: parse_float_value(&keys.start_time, start.as_deref())?,
            tasks: parse_int_value(&keys.tasks, tasks.as_deref())?,
            total,
            failures: parse_int_value(&keys.failures, failures.as_deref())?,
            retries: parse_int_value(&keys.retries, retries.as_deref())?,
        })
    }

    /// `LRANGE count:/<job>` minus `LRANGE dequeue:/<job>`, in enqueue order: the ids the CLI
    /// revokes on stop.
    pub async fn outstanding_task_ids(&self, job: &str) -> Result<Vec<String>, JobError> {
        let keys = JobKeys::new(job);
        let (queued, dequeued): (Vec<Vec<u8>>, Vec<Vec<u8>>) = redis::pipe()
            .cmd("LRANGE")
            .arg(&keys.count)
            .arg(0)
            .arg(-1)
            .cmd("LRANGE")
            .arg(&keys.dequeue)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await?;
        let finished: std::collections::HashSet<Vec<u8>> = dequeued.into_iter().collect();
        queued
            .into_iter()
            .filter(|id| !finished.contains(id))
            .map(|id| {
                String::from_utf8(id).map_err(|e| bad_value(&keys.count, e.as_bytes(), "UTF-8 task id"))
            })
            .collect()
    }
}

impl RedisJobStore {
    /// `enqueue_task` for one child whose message is `envelope`, to be LPUSHed to `queue_key` on
    /// this same database (the broker's): `GET stop:/`, then `INCRBY tasks:/`, `RPUSH count:/` and
    /// the publish in one transaction.
    pub async fn enqueue_published(
        &self,
        job: &str,
        task_id: &str,
        queue_key: &str,
        envelope: &[u8],
    ) -> Result<Enqueue, JobError> {
        let keys = JobKeys::new(job);
        let mut conn = self.conn.clone();
        let stopping: Option<Vec<u8>> = redis::cmd("GET").arg(&keys.stop).query_async(&mut conn).await?;
        if stopping.is_some() {
            return Ok(Enqueue::Stopping);
        }
        redis::pipe()
            .atomic()
            .cmd("INCRBY")
            .arg(&keys.tasks)
            .arg(1)
            .ignore()
            .cmd("RPUSH")
            .arg(&keys.count)
            .arg(task_id)
            .ignore()
            .cmd("LPUSH")
            .arg(queue_key)
            .arg(envelope)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(Enqueue::Counted)
    }
}

impl JobStore for RedisJobStore {
    async fn enqueue(&self, job: &str, task_ids: &[String]) -> Result<Enqueue, JobError> {
        let keys = JobKeys::new(job);
        let mut conn = self.conn.clone();
        // The stop flag must be read before counting: its value decides whether we count at all.
        let stop: Option<Vec<u8>> = redis::cmd("GET").arg(&keys.stop).query_async(&mut conn).await?;
        if stop.is_some() {
            return Ok(Enqueue::Stopping);
        }
        if task_ids.is_empty() {
            return Ok(Enqueue::Counted);
        }
        // INCRBY before RPUSH, both before any publish: a fast consumer's DECRBY can then never
        // see the counter reach 0 early.
        redis::pipe()
            .cmd("INCRBY")
            .arg(&keys.tasks)
            .arg(task_ids.len())
            .ignore()
            .cmd("RPUSH")
            .arg(&keys.count)
            .arg(task_ids)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(Enqueue::Counted)
    }

    async fn finish(&self, job: &str, task_id: &str, outcome: TaskOutcome) -> Result<Finished, JobError> {
        let keys = JobKeys::new(job);
        let mut conn = self.conn.clone();
        // on_failure's INCRBY, after_return's DECRBY, the `periodic()` read and the RPUSH to
        // `dequeue:/`, in one transaction: a worker killed in between cannot leave a decrement
        // without its `dequeue:/` entry, which is how a redelivered message is recognised as
        // already finished ([`JobStore::already_finished`]). The reference reads `periodic` only
        // when the count hit 0 and pushes to `dequeue:/` after the cleanup; neither is visible.
        let mut pipe = redis::pipe();
        pipe.atomic();
        if outcome == TaskOutcome::Failed {
            pipe.cmd("INCRBY").arg(&keys.failures).arg(1).ignore();
        }
        pipe.cmd("DECRBY").arg(&keys.tasks).arg(1);
        pipe.cmd("LRANGE").arg(PERIODIC).arg(0).arg(-1);
        pipe.cmd("RPUSH").arg(&keys.dequeue).arg(task_id).ignore();
        let (remaining, periodic): (i64, Vec<Vec<u8>>) = pipe.query_async(&mut conn).await?;
        let done = remaining == 0 && !periodic.iter().any(|n| n == job.as_bytes());
        if !done {
            return Ok(Finished { remaining, done, cleanup_files: Vec::new() });
        }
        // cleanup(). It re-reads `periodic` to pick the list to LREM from; we just read it and
        // the job was not in it, so it is `singlepass`.
        let (cleanup,): (Option<Vec<u8>>,) = redis::pipe()
            .cmd("GET")
            .arg(&keys.cleanup)
            .cmd("LREM")
            .arg(SINGLEPASS)
            .arg(1)
            .arg(job)
            .ignore()
            .cmd("DEL")
            .arg(&keys.cleanup)
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(Finished { remaining, done, cleanup_files: cleanup_files(&keys.cleanup, cleanup.as_deref()) })
    }

    async fn already_finished(&self, job: &str, task_id: &str) -> Result<bool, JobError> {
        let keys = JobKeys::new(job);
        let position: Option<i64> =
            redis::cmd("LPOS").arg(&keys.dequeue).arg(task_id).query_async(&mut self.conn.clone()).await?;
        Ok(position.is_some())
    }

    async fn record_retry(&self, job: &str) -> Result<(), JobError> {
        let keys = JobKeys::new(job);
        redis::cmd("INCRBY").arg(&keys.retries).arg(1).query_async::<()>(&mut self.conn.clone()).await?;
        Ok(())
    }

    async fn is_periodic(&self, job: &str) -> Result<bool, JobError> {
        self.list_contains(PERIODIC, job).await
    }

    async fn is_done(&self, job: &str) -> Result<bool, JobError> {
        let keys = JobKeys::new(job);
        let tasks: Option<Vec<u8>> =
            redis::cmd("GET").arg(&keys.tasks).query_async(&mut self.conn.clone()).await?;
        Ok(matches!(parse_int_value(&keys.tasks, tasks.as_deref())?, None | Some(0)))
    }

    async fn start_pass(&self, job: &str, now: f64) -> Result<PassStart, JobError> {
        let keys = JobKeys::new(job);
        let mut conn = self.conn.clone();
        let (periodic, tasks): (Vec<Vec<u8>>, Option<Vec<u8>>) = redis::pipe()
            .cmd("LRANGE")
            .arg(PERIODIC)
            .arg(0)
            .arg(-1)
            .cmd("GET")
            .arg(&keys.tasks)
            .query_async(&mut conn)
            .await?;
        let is_periodic = periodic.iter().any(|n| n == job.as_bytes());
        let done = matches!(parse_int_value(&keys.tasks, tasks.as_deref())?, None | Some(0));
        if is_periodic && !done {
            return Ok(PassStart::Busy);
        }
        let mut pipe = redis::pipe();
        for key in keys.reset_keys() {
            pipe.cmd("DEL").arg(key).ignore();
        }
        // redis-py stores a float as repr(value).
        pipe.cmd("SET").arg(&keys.start_time).arg(pyfmt::float_repr(now)).ignore();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(PassStart::Started)
    }

    async fn sync_time(&self, sync_key: &str) -> Result<Option<f64>, JobError> {
        let key = keys::sync_time_key(sync_key);
        let value: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query_async(&mut self.conn.clone()).await?;
        parse_float_value(&key, value.as_deref())
    }

    async fn set_sync_time(&self, sync_key: &str, t: f64) -> Result<(), JobError> {
        redis::cmd("SET")
            .arg(keys::sync_time_key(sync_key))
            .arg(pyfmt::float_repr(t))
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    async fn summary(&self, job: &str, now: f64) -> Result<JobSummary, JobError> {
        let counters = self.counters(job).await?;
        Ok(JobSummary::from_counters(job, &counters, now))
    }
}

fn bad_value(key: &str, value: &[u8], expected: &'static str) -> JobError {
    JobError::BadValue { key: key.to_owned(), value: String::from_utf8_lossy(value).into_owned(), expected }
}

/// Python's `int(value)` for a Redis value: whitespace around, sign, underscores between digits.
pub(crate) fn parse_int_value(key: &str, value: Option<&[u8]>) -> Result<Option<i64>, JobError> {
    let Some(bytes) = value else { return Ok(None) };
    let parsed = std::str::from_utf8(bytes).ok().and_then(|text| {
        let text = text.trim();
        let digits = text.trim_start_matches(['+', '-']);
        let underscores_ok = !digits.starts_with('_') && !digits.ends_with('_') && !digits.contains("__");
        if !underscores_ok {
            return None;
        }
        text.replace('_', "").parse::<i64>().ok()
    });
    parsed.map(Some).ok_or_else(|| bad_value(key, bytes, "an integer"))
}

/// Python's `float(value)` for a Redis value.
pub(crate) fn parse_float_value(key: &str, value: Option<&[u8]>) -> Result<Option<f64>, JobError> {
    let Some(bytes) = value else { return Ok(None) };
    std::str::from_utf8(bytes)
        .ok()
        .and_then(pyfmt::parse_float)
        .map(Some)
        .ok_or_else(|| bad_value(key, bytes, "a float"))
}

/// The file names listed in a `cleanup:/` value; a value that is not a JSON list of strings is
/// reported and treated as empty (nothing is done with the names anyway).
fn cleanup_files(key: &str, value: Option<&[u8]>) -> Vec<String> {
    let Some(bytes) = value else { return Vec::new() };
    match PyValue::from_json(bytes) {
        Ok(PyValue::List(items)) => items
            .iter()
            .filter_map(|item| item.as_py_str().map(|s| s.to_string_lossy().into_owned()))
            .collect(),
        _ => {
            tracing::warn!(key, value = %String::from_utf8_lossy(bytes), "cleanup list is not a JSON list; ignored");
            Vec::new()
        }
    }
}
