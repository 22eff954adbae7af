//! One task run: its meta, handler, limits and the child tasks it enqueues (reference §3.2), and
//! the bookkeeping around it (reference §3.8: `IrodsTask`'s `on_success`, `on_retry`,
//! `on_failure` and `after_return`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use celery_proto::json::{PyDict, PyValue};
use celery_proto::worker::{CancelReason, TaskContext, TaskError, TaskRequest, TaskResult};
use ingest_pyhandlers::{CallLimits, Handler, Override};
use tokio_util::sync::CancellationToken;

use super::app::IngestApp;
use super::failure::Failure;
use super::joblog::Level;
use crate::fields;
use crate::job::{Enqueue, JobStore, TaskOutcome, TaskState};
use crate::meta::Meta;

/// Everything a task body needs.
pub struct TaskRun {
    pub app: Arc<IngestApp>,
    pub ctx: TaskContext,
    /// `args[0]` as received.
    pub meta: PyDict,
    pub limits: CallLimits,
    /// Set by a body that finished part of its work: the meta a retry carries instead of the
    /// received one (a chunk retried without the entries that already succeeded).
    retry_meta: std::sync::Mutex<Option<PyDict>>,
    /// `meta["chunk"]` of a files task, shared: entries work on copies of `meta` whose `chunk` is
    /// `None`, and get the whole chunk back only where Python sees the meta (the reference's hooks
    /// see it), so the per-entry copies stay small.
    chunk: Option<Arc<PyValue>>,
    /// Unique per run: tells the job store a repeat of this run's bookkeeping (after a lost
    /// reply) from another run of the same task id.
    attempt: String,
    /// The message's delivery tag (empty outside a broker).
    delivery_tag: String,
    /// The message may have run before: a redelivery or a retry.
    may_have_run: bool,
}

impl TaskRun {
    /// Reads `args[0]` and sets up the limits from the message's soft time limit.
    pub fn new(app: Arc<IngestApp>, req: &TaskRequest, ctx: TaskContext) -> Result<Self, TaskError> {
        let meta = match req.arg(0, "meta") {
            Some(PyValue::Dict(meta)) => meta.clone(),
            other => {
                let found = other.map_or("nothing", PyValue::type_name);
                return Err(TaskError::failure(
                    "TypeError",
                    format!("expected the meta dict as args[0], got {found}"),
                ));
            }
        };
        let soft = soft_time_limit(req);
        let terminate = CancellationToken::new();
        // Python hooks see `Terminated` only for a revoke with terminate (or a cold shutdown); the
        // soft limit raises `SoftTimeLimitExceeded` through the deadline instead.
        tokio::spawn({
            let (ctx, terminate) = (ctx.clone(), terminate.clone());
            async move {
                ctx.cancellation().cancelled().await;
                if matches!(ctx.cancel_reason(), Some(CancelReason::Terminated | CancelReason::Shutdown)) {
                    terminate.cancel();
                }
            }
        });
        let limits =
            CallLimits { soft_deadline: soft.map(|s| Instant::now() + s), terminate: Some(terminate) };
        let chunk = meta.get("chunk").cloned().map(Arc::new);
        Ok(TaskRun {
            app,
            ctx,
            meta,
            limits,
            retry_meta: Default::default(),
            chunk,
            attempt: uuid::Uuid::new_v4().simple().to_string(),
            delivery_tag: req.delivery_tag.clone(),
            may_have_run: req.redelivered || req.retries > 0,
        })
    }

    /// Whether this message may have run before (a redelivery or a retry): its first attempt may
    /// have left work half done.
    pub fn may_have_run(&self) -> bool {
        self.may_have_run
    }

    /// The shared chunk, for closures that outlive a borrow of the run.
    pub fn chunk(&self) -> Option<Arc<PyValue>> {
        self.chunk.clone()
    }

    /// `meta` as Python must see it: with the task's whole chunk put back.
    pub fn for_python<'a>(&self, meta: &'a PyDict) -> std::borrow::Cow<'a, PyDict> {
        with_chunk(meta, self.chunk.as_deref())
    }

    /// A retry of this run republishes `meta` instead of the received meta.
    pub fn retry_with(&self, meta: PyDict) {
        *self.retry_meta.lock().unwrap_or_else(|p| p.into_inner()) = Some(meta);
    }

    pub fn meta(&self) -> Meta<'_> {
        Meta::from_dict(&self.meta)
    }

    pub async fn handler(&self) -> Result<Handler, Failure> {
        self.app.handler(&self.meta()).await
    }

    /// Fails with `SoftTimeLimitExceeded` once the soft limit has passed (checked between
    /// pieces of Rust work; Python hooks are interrupted by the runtime itself).
    pub fn check_soft_limit(&self) -> Result<(), Failure> {
        if self.limits.soft_deadline.is_some_and(|d| Instant::now() >= d)
            || self.ctx.cancel_reason() == Some(CancelReason::SoftTimeLimit)
        {
            return Err(Failure::soft_time_limit());
        }
        Ok(())
    }

    pub fn log(&self, meta: &PyDict, level: Level, event: &str, fields: PyDict) {
        self.app.log.log(&Meta::from_dict(meta), level, event, fields);
    }

    /// `utils.enqueue_task(task, meta)`: unless the job is being stopped, count the child
    /// (`INCRBY tasks:/`, `RPUSH count:/`) and publish it to `meta["queue_name"]` with a uuid1 id
    /// and the handler's `timeout()` as soft time limit.
    pub async fn enqueue(&self, handler: &Handler, task_name: &str, meta: PyDict) -> Result<(), Failure> {
        self.enqueue_as(handler, task_name, meta, uuid1()).await
    }

    /// A deterministic id for the one child `purpose` names, the same for every delivery of this
    /// message and different for every other message: a redelivered run that enqueues it again
    /// enqueues nothing (the ledger knows the id). `None` outside a broker.
    pub fn stable_child_id(&self, purpose: &str) -> Option<String> {
        if self.delivery_tag.is_empty() {
            return None;
        }
        let name = format!("{}\n{}\n{purpose}", self.ctx.id(), self.delivery_tag);
        Some(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string())
    }

    /// [`TaskRun::enqueue`] with the child's id chosen by the caller.
    pub async fn enqueue_as(
        &self,
        handler: &Handler,
        task_name: &str,
        meta: PyDict,
        id: String,
    ) -> Result<(), Failure> {
        let m = Meta::from_dict(&meta);
        let job = m.job_name()?.to_owned();
        let queue = m.queue_name()?.to_owned();
        let label = fields!["task" => m.get("task").cloned().unwrap_or(PyValue::Null),
                            "path" => m.get("path").cloned().unwrap_or(PyValue::Null),
                            "job_name" => job.as_str()];
        let timeout = if handler.capabilities().has_override(Override::Timeout) {
            handler.timeout(&meta, &self.limits).await?
        } else {
            PyValue::Int(3600)
        };
        let soft = match &timeout {
            PyValue::Null => None,
            value => Some(value.as_f64().ok_or_else(|| {
                Failure::new(
                    "TypeError",
                    format!("timeout() returned {}, expected a number", value.type_name()),
                )
            })?),
        };
        // The child is counted and published in one transaction: a worker killed in between can
        // neither leave a counted task without a message (the job would never end) nor a message
        // that was never counted (it would end early). The reference counts, then publishes.
        let options = self.ctx.child_options(&queue).task_id(id.as_str()).time_limits(None, soft);
        let origin = self.ctx.producer().origin().to_owned();
        let (_, envelope) = celery_proto::producer::task_envelope(
            task_name,
            vec![PyValue::Dict(meta.clone())],
            PyDict::new(),
            &options,
            &origin,
        )
        .map_err(|e| Failure::new("OperationalError", format!("building {task_name}: {e}")))?;
        let producer = self.ctx.producer();
        producer
            .declare_once(&queue)
            .await
            .map_err(|e| Failure::new("OperationalError", format!("declaring queue {queue}: {e}")))?;
        let queue_key = producer.broker().names().queue_key(&queue, 0);
        match self.app.store.enqueue_published(&job, &id, &queue_key, &envelope.to_bytes()).await? {
            Enqueue::Stopping => self.log(&meta, Level::Info, "async_job_name_stopping", label),
            Enqueue::Counted => self.log(&meta, Level::Info, "incr_job_name", label),
        }
        Ok(())
    }
}

/// `meta` with `chunk` restored where an entry's copy has it as `None`.
pub fn with_chunk<'a>(meta: &'a PyDict, chunk: Option<&PyValue>) -> std::borrow::Cow<'a, PyDict> {
    match (meta.get("chunk"), chunk) {
        (Some(PyValue::Null), Some(chunk)) => {
            let mut full = meta.clone();
            full.insert("chunk", chunk.clone());
            std::borrow::Cow::Owned(full)
        }
        _ => std::borrow::Cow::Borrowed(meta),
    }
}

/// The soft limit of the message (`timelimit[1]`).
fn soft_time_limit(req: &TaskRequest) -> Option<Duration> {
    let limit = req.headers.get("timelimit")?.as_list()?.get(1)?.as_f64()?;
    (limit.is_finite() && limit >= 0.0).then(|| Duration::from_secs_f64(limit))
}

/// `str(uuid.uuid1())`: time-based ids like the reference's child tasks.
pub fn uuid1() -> String {
    static NODE: std::sync::OnceLock<[u8; 6]> = std::sync::OnceLock::new();
    let node = NODE.get_or_init(|| {
        // A random node id with the multicast bit set, as RFC 4122 asks when no MAC is used.
        let mut node: [u8; 6] = rand::random();
        node[0] |= 0x01;
        node
    });
    uuid::Uuid::now_v1(node).to_string()
}

/// Runs an `IrodsTask` body and does the reference's bookkeeping around it.
pub async fn run_irods_task<F, Fut>(
    app: Arc<IngestApp>,
    req: TaskRequest,
    ctx: TaskContext,
    body: F,
) -> TaskResult
where
    F: FnOnce(Arc<TaskRun>) -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>>,
{
    let run = Arc::new(TaskRun::new(app, &req, ctx)?);
    if run.may_have_run
        && let Ok(job) = run.meta().job_name()
    {
        // A worker finished this task and died before acknowledging it, or its retry was
        // published twice: running and counting it again would end the job early.
        match run.app.store.task_state(job, run.ctx.id()).await {
            Ok(TaskState::NotFinished) => {}
            Ok(TaskState::Finished { ended_job }) => {
                tracing::warn!(task = %req.name, id = %req.id, job, "task had already finished; not run again");
                if ended_job {
                    run_post_job(&run, job, true).await;
                }
                return Ok(PyValue::Null);
            }
            Err(e) => return Err(requeue(&req, &format!("cannot read the job state: {e}"))),
        }
    }
    let outcome = body(run.clone()).await;
    let meta = Meta::from_dict(&run.meta);
    let job = match meta.job_name() {
        Ok(job) => job.to_owned(),
        Err(e) => return Err(TaskError::failure("KeyError", e.to_string())),
    };
    let base = fields!["task" => meta.get("task").cloned().unwrap_or(PyValue::Null),
                       "path" => meta.get("path").cloned().unwrap_or(PyValue::Null),
                       "job_name" => job.as_str(),
                       "task_id" => run.ctx.id()];
    let label = |extra: PyDict| with_fields(&base, extra);
    let error = match outcome {
        Ok(()) => {
            run.log(&run.meta, Level::Info, "succeeded_task", label(fields!["retval" => PyValue::Null]));
            finish(&run, &job, TaskOutcome::Succeeded, &base).await.map_err(|why| requeue(&req, &why))?;
            return Ok(PyValue::Null);
        }
        Err(error) => error,
    };
    let failure = error;
    if failure.transient {
        // Redis stayed away longer than the state connection's patience: not the handler's
        // failure, so not one of its retries. The message goes back and runs again.
        return Err(requeue(&req, &failure.message));
    }
    let retry_meta = run.retry_meta.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(countdown) = retry_countdown(&run).await {
        let exc =
            fields!["exc" => failure.repr(), "traceback" => failure.traceback.clone().unwrap_or_default()];
        run.log(&run.meta, Level::Warning, "retry_task", label(exc));
        if let Err(e) = run.app.store.record_retry(&job).await {
            tracing::warn!(job, error = %e, "could not count the retry");
        }
        let reason = failure.to_task_failure();
        return Err(match retry_meta {
            Some(meta) => run.ctx.retry_with_args(countdown, reason, vec![PyValue::Dict(meta)]),
            None => run.ctx.retry(countdown, reason),
        });
    }
    run.log(&run.meta, Level::Error, "failed_task", label(failure.log_fields()));
    tracing::error!(task = %req.name, id = %req.id, job, error = %failure, "task failed");
    finish(&run, &job, TaskOutcome::Failed, &base).await.map_err(|why| requeue(&req, &why))?;
    Err(TaskError::Failure(failure.to_task_failure()))
}

/// The message goes back to its queue to run again later: the job state could not be read or
/// written for longer than an outage is waited out.
fn requeue(req: &TaskRequest, why: &str) -> TaskError {
    tracing::error!(task = %req.name, id = %req.id, why, "job state unavailable; the task goes back to its queue");
    TaskError::Reject { requeue: true, reason: why.to_owned() }
}

/// Celery's retry rule with the handler's `max_retries()` (None = unlimited) and `delay()`:
/// `Some(countdown)` when this run may be retried.
async fn retry_countdown(run: &TaskRun) -> Option<Duration> {
    let handler = run.handler().await.ok()?;
    let limits = CallLimits { soft_deadline: None, terminate: run.limits.terminate.clone() };
    let next = i64::from(run.ctx.retries()) + 1;
    match handler.max_retries(&run.meta, &limits).await {
        Ok(PyValue::Null) => {}
        Ok(value) => {
            let max = value.as_i64().or_else(|| value.as_f64().map(|f| f as i64)).unwrap_or(0);
            if next > max {
                return None;
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "max_retries() failed; not retrying");
            return None;
        }
    }
    let delay = match handler.delay(&run.meta, next, &limits).await {
        Ok(value) => value.as_f64().unwrap_or(0.0),
        Err(e) => {
            tracing::warn!(error = %e, "delay() failed; retrying at once");
            0.0
        }
    };
    Some(Duration::from_secs_f64(if delay.is_finite() && delay > 0.0 { delay } else { 0.0 }))
}

/// `on_failure`'s count and `after_return`: decrement, cleanup when done, `post_job`.
fn with_fields(base: &PyDict, extra: PyDict) -> PyDict {
    let mut d = base.clone();
    for (k, v) in extra.iter() {
        d.insert(k.clone(), v.clone());
    }
    d
}

async fn finish(run: &TaskRun, job: &str, outcome: TaskOutcome, base: &PyDict) -> Result<(), String> {
    run.log(&run.meta, Level::Info, "decr_job_name", with_fields(base, fields!["retval" => PyValue::Null]));
    let finished = run
        .app
        .store
        .finish(job, run.ctx.id(), &run.attempt, outcome)
        .await
        .map_err(|e| format!("could not record the end of the task: {e}"))?;
    if finished.duplicate {
        tracing::warn!(
            job,
            id = run.ctx.id(),
            "another run of this task had already finished it; not counted again"
        );
    }
    if !finished.cleanup_files.is_empty() {
        tracing::warn!(job, files = ?finished.cleanup_files, "cleanup:/ named files; not removing them");
    }
    if finished.done {
        tracing::info!(job, "job done");
    }
    if finished.done || finished.ended_by_another {
        run_post_job(run, job, run.may_have_run).await;
    }
    Ok(())
}

/// The handler's `post_job`, once per job: whoever claims it in the ledger runs it (a
/// redelivery may take over a claim whose holder died before it was done).
async fn run_post_job(run: &TaskRun, job: &str, redelivered: bool) {
    match run.app.store.claim_post_job(job, redelivered).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(job, error = %e, "cannot claim post_job; it does not run");
            return;
        }
    }
    match run.handler().await {
        Ok(handler) if handler.capabilities().has_override(Override::PostJob) => {
            if let Err(e) = handler.post_job(&run.meta, &CallLimits::none()).await {
                tracing::error!(job, error = %e, "post_job raised");
                run.log(&run.meta, Level::Error, "post_job failed", fields!["exc" => e.to_string()]);
            }
        }
        Ok(_) => {}
        Err(e) => tracing::error!(job, error = %e, "cannot load the handler for post_job"),
    }
    if let Err(e) = run.app.store.post_job_ran(job).await {
        tracing::warn!(job, error = %e, "could not record that post_job ran");
    }
}
