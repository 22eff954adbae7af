//! `filesystem_main_task` and `s3_bucket_main_task` (reference §3.3): re-arm a periodic job,
//! `pre_job`, then start a pass by resetting the job's counters and enqueueing the source's
//! `*_sync_path` for the root.

use std::sync::Arc;
use std::time::Duration;

use celery_proto::json::{PyDict, PyValue};
use celery_proto::producer::SendOptions;
use celery_proto::worker::{TaskContext, TaskError, TaskRequest, TaskResult};
use ingest_pyhandlers::Override;

use super::app::IngestApp;
use super::failure::Failure;
use super::joblog::Level;
use super::names;
use super::run::TaskRun;
use crate::fields;
use crate::job::{JobStore, PassStart, time_time};

/// What differs between the two sources' main tasks.
struct Source {
    main_task: &'static str,
    sync_path: &'static str,
    /// `meta["task"]` of the enqueued sync_path.
    sync_path_label: &'static str,
    /// The filesystem main task records `root_target_collection` (delete mode); S3 does not.
    sets_root_target_collection: bool,
}

const FILESYSTEM: Source = Source {
    main_task: names::FILESYSTEM_MAIN_TASK,
    sync_path: names::FILESYSTEM_SYNC_PATH,
    sync_path_label: "filesystem_sync_path",
    sets_root_target_collection: true,
};

const S3: Source = Source {
    main_task: names::S3_BUCKET_MAIN_TASK,
    sync_path: names::S3_BUCKET_SYNC_PATH,
    sync_path_label: "s3_bucket_sync_path",
    sets_root_target_collection: false,
};

pub async fn filesystem_main_task(app: Arc<IngestApp>, req: TaskRequest, ctx: TaskContext) -> TaskResult {
    main_task(app, req, ctx, &FILESYSTEM).await
}

pub async fn s3_bucket_main_task(app: Arc<IngestApp>, req: TaskRequest, ctx: TaskContext) -> TaskResult {
    main_task(app, req, ctx, &S3).await
}

async fn main_task(app: Arc<IngestApp>, req: TaskRequest, ctx: TaskContext, source: &Source) -> TaskResult {
    let mut run = TaskRun::new(app, &req, ctx)?;
    // Step 1: the root target collection, which delete mode never removes.
    if source.sets_root_target_collection {
        let target = run.meta.get("target").cloned().unwrap_or(PyValue::Null);
        run.meta.insert("root_target_collection", target);
    }
    match pass(&run, source).await {
        Ok(()) => Ok(PyValue::Null),
        Err(failure) if failure.exc_type == "OSError" => {
            run.log(&run.meta, Level::Warning, &format!("Warning: {}", failure.message), PyDict::new());
            Ok(PyValue::Null)
        }
        Err(failure) => {
            run.log(
                &run.meta,
                Level::Error,
                &format!("Unexpected error: {}", failure.message),
                PyDict::new(),
            );
            let label = fields!["task" => source.main_task, "job_name" => run.meta.get("job_name").cloned().unwrap_or(PyValue::Null),
                                "exc" => failure.repr()];
            run.log(&run.meta, Level::Error, "failed_restart", label);
            Err(TaskError::Failure(failure.to_task_failure()))
        }
    }
}

async fn pass(run: &TaskRun, source: &Source) -> Result<(), Failure> {
    let meta = run.meta();
    let job = meta.job_name()?.to_owned();
    // Not in the reference: a job whose `cleanup:/` key is gone was stopped (or has ended), so its
    // main task neither re-arms nor starts a pass; without this a stopped periodic job whose next
    // firing escaped revocation (a worker offline during `stop`) runs for ever.
    if run.app.store.cleanup_value(&job).await?.is_none() {
        run.log(
            &run.meta,
            Level::Info,
            "job does not exist (stopped or ended); main task skipped",
            PyDict::new(),
        );
        return Ok(());
    }
    // Step 2: a periodic job publishes its next firing before this pass runs.
    if let Some(interval) = meta.interval()? {
        let options = SendOptions::to_queue(meta.restart_queue()?)
            .task_id(job.as_str())
            .countdown(Duration::from_secs(interval.max(0) as u64))
            .parent(run.ctx.id(), run.ctx.root_id());
        run.ctx
            .producer()
            .send_task(source.main_task, vec![PyValue::Dict(run.meta.clone())], PyDict::new(), options)
            .await
            .map_err(|e| Failure::new("OperationalError", format!("re-arming periodic job {job}: {e}")))?;
    }
    let handler = run.handler().await?;
    if handler.capabilities().has_override(Override::PreJob) {
        handler.pre_job(&run.meta, &run.limits).await?;
    }
    run.log(&run.meta, Level::Info, "***************** restart *****************", PyDict::new());
    // The pass's first task gets an id derived from this message, so a redelivery of it sees
    // that its pass started and does not reset the counters under it.
    let first = run.stable_child_id("first sync_path").unwrap_or_else(super::run::uuid1);
    let start = run.app.store.start_pass(&job, time_time(), Some(first.as_str())).await?;
    match start {
        PassStart::AlreadyStarted => {
            run.log(&run.meta, Level::Info, "pass already started by an earlier delivery", PyDict::new());
            Ok(())
        }
        PassStart::Started => {
            run.log(
                &run.meta,
                Level::Info,
                "no tasks for this job and worker handling this task is not busy",
                PyDict::new(),
            );
            let mut child = run.meta.clone();
            child.insert("task", source.sync_path_label);
            let path_queue = meta.path_queue()?.to_owned();
            child.insert("queue_name", path_queue);
            run.enqueue_as(&handler, source.sync_path, child, first).await
        }
        PassStart::Busy => {
            run.log(
                &run.meta,
                Level::Info,
                "tasks exist for this job or worker handling this task is busy",
                PyDict::new(),
            );
            Ok(())
        }
    }
}
