//! [`RedisJobStore`]: the job bookkeeping on the Redis that Python peers share.

use std::sync::LazyLock;

use celery_proto::json::PyValue;
use redis::Script;

use super::keys::{self, JobKeys, PERIODIC, SINGLEPASS};
use super::{
    Enqueue, Finished, JobCounters, JobError, JobStore, JobSummary, PassStart, TaskOutcome, TaskState,
};
use crate::pyfmt;
use crate::state_conn::{self, StateConn, with_retry};

/// How long a job's task ledger outlives its last write. Long enough for any redelivery of a
/// pass's last message; short enough that a forgotten job's ledger goes away by itself.
const LEDGER_TTL_SECS: u64 = 7 * 24 * 3600;

/// The ledger field that says whether the job's `post_job` has yet to run (`pending`), is
/// running (`claimed`) or ran (`ran`). Task ids are uuids, so no id can be this.
const POST_JOB_FIELD: &str = "~post_job";

/// `enqueue_task` for one child, counted and published in one step that is harmless to repeat.
///
/// KEYS: stop, tasks, count, queue list, ledger. ARGV: task id, message, ledger TTL.
/// Returns 0 when the job is stopping (nothing done), 1 when counted and published, 2 when this
/// id was already counted (a repeat after a lost reply: nothing done again).
static ENQUEUE_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('HSETNX', KEYS[5], ARGV[1], 'q') == 0 then return 2 end
redis.call('EXPIRE', KEYS[5], ARGV[3])
redis.call('INCRBY', KEYS[2], 1)
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('LPUSH', KEYS[4], ARGV[2])
return 1
"#,
    )
});

/// on_failure's count and after_return's bookkeeping for one task, at most once per task id.
///
/// KEYS: tasks, failures, periodic, dequeue, cleanup, singlepass, ledger.
/// ARGV: task id, "1" when failed, this attempt's nonce, job name, ledger TTL.
/// Returns `{kind, mine, remaining, cleanup}`: kind `f` (counted down) or `d` (counted down to
/// the job's end, cleanup done); mine 1 when this attempt did it (also on a repeat after a lost
/// reply), 0 when another attempt of the same task id did it before.
static FINISH_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local state = redis.call('HGET', KEYS[7], ARGV[1])
if state then
  local kind = string.sub(state, 1, 1)
  if kind == 'f' or kind == 'd' then
    local mine = 0
    if string.sub(state, 3) == ARGV[3] then mine = 1 end
    return {kind, mine, tonumber(redis.call('GET', KEYS[1]) or '0') or 0, false}
  end
end
if ARGV[2] == '1' then redis.call('INCRBY', KEYS[2], 1) end
local remaining = redis.call('DECRBY', KEYS[1], 1)
redis.call('RPUSH', KEYS[4], ARGV[1])
local kind = 'f'
local cleanup = false
if remaining == 0 and not redis.call('LPOS', KEYS[3], ARGV[4]) then
  kind = 'd'
  cleanup = redis.call('GET', KEYS[5])
  redis.call('LREM', KEYS[6], 1, ARGV[4])
  redis.call('DEL', KEYS[5])
  redis.call('HSET', KEYS[7], '~post_job', 'pending')
end
redis.call('HSET', KEYS[7], ARGV[1], kind .. ':' .. ARGV[3])
redis.call('EXPIRE', KEYS[7], ARGV[5])
return {kind, 1, remaining, cleanup}
"#,
    )
});

/// Claims the job's `post_job`: from `pending`, or from `claimed` when the claimant may have
/// died running it (ARGV[1] = "1": the caller is a redelivery). KEYS: ledger. Returns 1 if ours.
static CLAIM_POST_JOB_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local s = redis.call('HGET', KEYS[1], '~post_job')
if s == 'pending' or (ARGV[1] == '1' and s == 'claimed') then
  redis.call('HSET', KEYS[1], '~post_job', 'claimed')
  return 1
end
return 0
"#,
    )
});

/// Job state on Redis. Cheap to clone (the connection is multiplexed and reconnects).
///
/// Every command is repeated through Redis outages ([`with_retry`]); the ones that would not be
/// harmless to repeat (counting a child, finishing a task) are scripts keyed by the task id in
/// the job's ledger, so a repeat after a lost reply does nothing twice.
#[derive(Clone)]
pub struct RedisJobStore {
    conn: StateConn,
}

impl RedisJobStore {
    pub fn new(conn: StateConn) -> Self {
        Self { conn }
    }

    /// Connects to `url` (`redis://host:port/db`); see [`state_conn::connect`].
    pub async fn connect(url: &str) -> Result<(redis::Client, Self), JobError> {
        let (client, conn) = state_conn::connect(url).await?;
        Ok((client, Self { conn }))
    }

    pub fn connection(&self) -> StateConn {
        self.conn.clone()
    }

    /// Runs one command (or pipeline) built by `cmd`, repeated through outages.
    async fn query<T: redis::FromRedisValue + Send>(
        &self,
        what: &str,
        cmd: impl Fn() -> redis::Pipeline,
    ) -> Result<T, JobError> {
        let conn = &self.conn;
        let cmd = &cmd;
        Ok(with_retry(what, || async move { cmd().query_async::<T>(&mut conn.clone()).await }).await?)
    }

    /// `LRANGE <list> 0 -1` contains `job` (the reference compares UTF-8 bytes).
    async fn list_contains(&self, list: &str, job: &str) -> Result<bool, JobError> {
        let (names,): (Vec<Vec<u8>>,) = self
            .query("LRANGE", || {
                let mut p = redis::pipe();
                p.cmd("LRANGE").arg(list).arg(0).arg(-1);
                p
            })
            .await?;
        Ok(names.iter().any(|n| n == job.as_bytes()))
    }

    /// `GET cleanup:/<job>`: the raw cleanup list; its presence means the job exists.
    pub async fn cleanup_value(&self, job: &str) -> Result<Option<Vec<u8>>, JobError> {
        let key = keys::key("cleanup", job);
        let (value,): (Option<Vec<u8>>,) = self
            .query("GET cleanup", || {
                let mut p = redis::pipe();
                p.cmd("GET").arg(&key);
                p
            })
            .await?;
        Ok(value)
    }

    /// `sync_job.reset()`: `DEL` count, dequeue, tasks, failures, retries and start time (and
    /// this project's ledger of the pass).
    pub async fn reset(&self, job: &str) -> Result<(), JobError> {
        let keys = JobKeys::new(job);
        self.query::<()>("reset", || {
            let mut pipe = redis::pipe();
            for key in keys.pass_keys() {
                pipe.cmd("DEL").arg(key).ignore();
            }
            pipe
        })
        .await
    }

    /// `sync_job.cleanup()`: read the cleanup list, `LREM` the name from `periodic` if it is
    /// there, else from `singlepass`, and `DEL cleanup:/<job>`. Returns the listed files (not
    /// removed, see [`Finished::cleanup_files`]).
    pub async fn cleanup(&self, job: &str) -> Result<Vec<String>, JobError> {
        let keys = JobKeys::new(job);
        let (cleanup, periodic): (Option<Vec<u8>>, Vec<Vec<u8>>) = self
            .query("read cleanup", || {
                let mut p = redis::pipe();
                p.cmd("GET").arg(&keys.cleanup).cmd("LRANGE").arg(PERIODIC).arg(0).arg(-1);
                p
            })
            .await?;
        let list = if periodic.iter().any(|n| n == job.as_bytes()) { PERIODIC } else { SINGLEPASS };
        self.query::<()>("cleanup", || {
            let mut p = redis::pipe();
            p.cmd("LREM").arg(list).arg(1).arg(job).ignore().cmd("DEL").arg(&keys.cleanup).ignore();
            p
        })
        .await?;
        Ok(cleanup_files(&keys.cleanup, cleanup.as_deref()))
    }

    /// The raw values behind `asdict()`, in one round trip.
    pub async fn counters(&self, job: &str) -> Result<JobCounters, JobError> {
        let keys = JobKeys::new(job);
        type Raw = (Option<Vec<u8>>, Option<Vec<u8>>, i64, Option<Vec<u8>>, Option<Vec<u8>>);
        let (start, tasks, total, failures, retries): Raw = self
            .query("counters", || {
                let mut p = redis::pipe();
                p.cmd("GET")
                    .arg(&keys.start_time)
                    .cmd("GET")
                    .arg(&keys.tasks)
                    .cmd("LLEN")
                    .arg(&keys.count)
                    .cmd("GET")
                    .arg(&keys.failures)
                    .cmd("GET")
                    .arg(&keys.retries);
                p
            })
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
        let (queued, dequeued): (Vec<Vec<u8>>, Vec<Vec<u8>>) = self
            .query("outstanding ids", || {
                let mut p = redis::pipe();
                p.cmd("LRANGE")
                    .arg(&keys.count)
                    .arg(0)
                    .arg(-1)
                    .cmd("LRANGE")
                    .arg(&keys.dequeue)
                    .arg(0)
                    .arg(-1);
                p
            })
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

    /// `enqueue_task` for one child whose message is `envelope`, to be LPUSHed to `queue_key` on
    /// this same database (the broker's): unless `stop:/` exists, `INCRBY tasks:/`, `RPUSH
    /// count:/` and the publish in one step, recorded in the ledger so that a repeat (after a
    /// lost reply, or by a re-run of the same pass's main task) neither counts nor publishes twice.
    pub async fn enqueue_published(
        &self,
        job: &str,
        task_id: &str,
        queue_key: &str,
        envelope: &[u8],
    ) -> Result<Enqueue, JobError> {
        let keys = JobKeys::new(job);
        let conn = &self.conn;
        let keys = &keys;
        let code: i64 = with_retry("enqueue", || async move {
            ENQUEUE_SCRIPT
                .key(&keys.stop)
                .key(&keys.tasks)
                .key(&keys.count)
                .key(queue_key)
                .key(&keys.ledger)
                .arg(task_id)
                .arg(envelope)
                .arg(LEDGER_TTL_SECS)
                .invoke_async(&mut conn.clone())
                .await
        })
        .await?;
        Ok(if code == 0 { Enqueue::Stopping } else { Enqueue::Counted })
    }

    /// Claims the job's `post_job` after [`JobStore::finish`] (or a redelivered task's
    /// [`JobStore::task_state`]) said the job ended: true when this caller must run it.
    pub async fn claim_post_job(&self, job: &str, redelivered: bool) -> Result<bool, JobError> {
        let keys = JobKeys::new(job);
        let conn = &self.conn;
        let keys = &keys;
        let claimed: i64 = with_retry("claim post_job", || async move {
            CLAIM_POST_JOB_SCRIPT
                .key(&keys.ledger)
                .arg(if redelivered { "1" } else { "0" })
                .invoke_async(&mut conn.clone())
                .await
        })
        .await?;
        Ok(claimed == 1)
    }

    /// Records that the job's `post_job` ran.
    pub async fn post_job_ran(&self, job: &str) -> Result<(), JobError> {
        let keys = JobKeys::new(job);
        self.query::<()>("post_job ran", || {
            let mut p = redis::pipe();
            p.cmd("HSET").arg(&keys.ledger).arg(POST_JOB_FIELD).arg("ran").ignore();
            p
        })
        .await
    }
}

impl JobStore for RedisJobStore {
    async fn enqueue(&self, job: &str, task_ids: &[String]) -> Result<Enqueue, JobError> {
        let keys = JobKeys::new(job);
        // The stop flag must be read before counting: its value decides whether we count at all.
        let (stop,): (Option<Vec<u8>>,) = self
            .query("GET stop", || {
                let mut p = redis::pipe();
                p.cmd("GET").arg(&keys.stop);
                p
            })
            .await?;
        if stop.is_some() {
            return Ok(Enqueue::Stopping);
        }
        if task_ids.is_empty() {
            return Ok(Enqueue::Counted);
        }
        // INCRBY before RPUSH, both before any publish: a fast consumer's DECRBY can then never
        // see the counter reach 0 early. Not repeated on a lost reply (it would count twice).
        redis::pipe()
            .cmd("INCRBY")
            .arg(&keys.tasks)
            .arg(task_ids.len())
            .ignore()
            .cmd("RPUSH")
            .arg(&keys.count)
            .arg(task_ids)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(Enqueue::Counted)
    }

    async fn finish(
        &self,
        job: &str,
        task_id: &str,
        attempt: &str,
        outcome: TaskOutcome,
    ) -> Result<Finished, JobError> {
        let keys = JobKeys::new(job);
        // on_failure's INCRBY, after_return's DECRBY, the `periodic()` read, the RPUSH to
        // `dequeue:/` and, at the end, the cleanup, in one script, once per task id: a worker
        // killed in between cannot leave a decrement half done, and a second message of the same
        // task (a redelivery, a retry published twice) cannot count down twice. The reference
        // reads `periodic` only when the count hit 0 and pushes to `dequeue:/` after the
        // cleanup; neither is visible.
        let conn = &self.conn;
        let keys = &keys;
        let failed = if outcome == TaskOutcome::Failed { "1" } else { "0" };
        let (kind, mine, remaining, cleanup): (String, i64, i64, Option<Vec<u8>>) =
            with_retry("finish", || async move {
                FINISH_SCRIPT
                    .key(&keys.tasks)
                    .key(&keys.failures)
                    .key(PERIODIC)
                    .key(&keys.dequeue)
                    .key(&keys.cleanup)
                    .key(SINGLEPASS)
                    .key(&keys.ledger)
                    .arg(task_id)
                    .arg(failed)
                    .arg(attempt)
                    .arg(job)
                    .arg(LEDGER_TTL_SECS)
                    .invoke_async(&mut conn.clone())
                    .await
            })
            .await?;
        let ended_job = kind == "d";
        Ok(Finished {
            remaining,
            done: ended_job && mine == 1,
            ended_by_another: ended_job && mine == 0,
            duplicate: mine == 0,
            cleanup_files: cleanup_files(&keys.cleanup, cleanup.as_deref()),
        })
    }

    async fn task_state(&self, job: &str, task_id: &str) -> Result<TaskState, JobError> {
        let keys = JobKeys::new(job);
        let (state,): (Option<String>,) = self
            .query("task state", || {
                let mut p = redis::pipe();
                p.cmd("HGET").arg(&keys.ledger).arg(task_id);
                p
            })
            .await?;
        match state.as_deref().and_then(|s| s.chars().next()) {
            Some('d') => return Ok(TaskState::Finished { ended_job: true }),
            Some('f') => return Ok(TaskState::Finished { ended_job: false }),
            Some(_) => return Ok(TaskState::NotFinished),
            None => {}
        }
        // Not in the ledger: enqueued by a Python peer; a Python worker may have finished it.
        let (position,): (Option<i64>,) = self
            .query("LPOS dequeue", || {
                let mut p = redis::pipe();
                p.cmd("LPOS").arg(&keys.dequeue).arg(task_id);
                p
            })
            .await?;
        Ok(if position.is_some() { TaskState::Finished { ended_job: false } } else { TaskState::NotFinished })
    }

    async fn record_retry(&self, job: &str) -> Result<(), JobError> {
        let keys = JobKeys::new(job);
        // Not repeated on a lost reply: the retries counter is informational, a lost increment
        // is better than a doubled one.
        redis::cmd("INCRBY").arg(&keys.retries).arg(1).query_async::<()>(&mut self.conn.clone()).await?;
        Ok(())
    }

    async fn is_periodic(&self, job: &str) -> Result<bool, JobError> {
        self.list_contains(PERIODIC, job).await
    }

    async fn is_done(&self, job: &str) -> Result<bool, JobError> {
        let keys = JobKeys::new(job);
        let (tasks,): (Option<Vec<u8>>,) = self
            .query("GET tasks", || {
                let mut p = redis::pipe();
                p.cmd("GET").arg(&keys.tasks);
                p
            })
            .await?;
        Ok(matches!(parse_int_value(&keys.tasks, tasks.as_deref())?, None | Some(0)))
    }

    async fn start_pass(&self, job: &str, now: f64, first_task: Option<&str>) -> Result<PassStart, JobError> {
        let keys = JobKeys::new(job);
        let (periodic, tasks, started): (Vec<Vec<u8>>, Option<Vec<u8>>, bool) = self
            .query("pass check", || {
                let mut p = redis::pipe();
                p.cmd("LRANGE").arg(PERIODIC).arg(0).arg(-1).cmd("GET").arg(&keys.tasks);
                p.cmd("HEXISTS").arg(&keys.ledger).arg(first_task.unwrap_or(POST_JOB_FIELD));
                p
            })
            .await?;
        if first_task.is_some() && started {
            // This main task ran before (a redelivery) and its pass is under way: resetting the
            // counters now would end the job while that pass still runs.
            return Ok(PassStart::AlreadyStarted);
        }
        let is_periodic = periodic.iter().any(|n| n == job.as_bytes());
        let done = matches!(parse_int_value(&keys.tasks, tasks.as_deref())?, None | Some(0));
        if is_periodic && !done {
            return Ok(PassStart::Busy);
        }
        // redis-py stores a float as repr(value).
        let start = pyfmt::float_repr(now);
        self.query::<()>("start pass", || {
            let mut pipe = redis::pipe();
            for key in keys.pass_keys() {
                pipe.cmd("DEL").arg(key).ignore();
            }
            pipe.cmd("SET").arg(&keys.start_time).arg(&start).ignore();
            pipe
        })
        .await?;
        Ok(PassStart::Started)
    }

    async fn sync_time(&self, sync_key: &str) -> Result<Option<f64>, JobError> {
        let key = keys::sync_time_key(sync_key);
        let (value,): (Option<Vec<u8>>,) = self
            .query("GET sync_time", || {
                let mut p = redis::pipe();
                p.cmd("GET").arg(&key);
                p
            })
            .await?;
        parse_float_value(&key, value.as_deref())
    }

    async fn set_sync_time(&self, sync_key: &str, t: f64) -> Result<(), JobError> {
        let key = keys::sync_time_key(sync_key);
        let value = pyfmt::float_repr(t);
        self.query::<()>("SET sync_time", || {
            let mut p = redis::pipe();
            p.cmd("SET").arg(&key).arg(&value).ignore();
            p
        })
        .await
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
