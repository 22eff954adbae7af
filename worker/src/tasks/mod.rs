//! The reference's Celery tasks, run by a Rust worker: same names, same `meta`, same Redis
//! bookkeeping, same catalog effects (reference §2.3, §3).
//!
//! * [`run`]: one task run, child enqueueing (§3.2) and the `IrodsTask` bookkeeping (§3.8).
//! * [`main_task`], [`sync_path`], [`sync_entry`], [`delete`]: the task bodies.
//! * [`s3_tasks`], [`s3_upload`]: the S3 source (listing a bucket, streaming objects in).
//! * [`app`]: what the tasks share; [`joblog`]: the reference's JSON log lines.
//!
//! [`register`] puts them into a Celery task registry under their full names.

pub mod app;
mod delete;
pub mod failure;
pub mod joblog;
mod main_task;
pub mod profile;
pub mod run;
mod s3_tasks;
pub mod s3_upload;
mod sync_entry;
mod sync_path;
mod target_op;

use std::sync::Arc;
use std::time::Duration;

use celery_proto::worker::{TaskError, TaskOptions, TaskRegistry};

pub use app::{IngestApp, Settings};
/// The main tasks' bodies, for running one in-process (`start --synchronous`).
pub use main_task::{filesystem_main_task, s3_bucket_main_task};

/// The registered task names (reference §2.3).
pub mod names {
    pub const FILESYSTEM_MAIN_TASK: &str =
        "irods_capability_automated_ingest.tasks.filesystem_tasks.filesystem_main_task";
    pub const FILESYSTEM_SYNC_PATH: &str =
        "irods_capability_automated_ingest.tasks.filesystem_tasks.filesystem_sync_path";
    pub const FILESYSTEM_SYNC_DIR: &str =
        "irods_capability_automated_ingest.tasks.filesystem_tasks.filesystem_sync_dir";
    pub const FILESYSTEM_SYNC_FILES: &str =
        "irods_capability_automated_ingest.tasks.filesystem_tasks.filesystem_sync_files";
    pub const DELETE_COLLECTION: &str =
        "irods_capability_automated_ingest.tasks.delete_tasks.delete_collection";
    pub const DELETE_DATA_OBJECTS: &str =
        "irods_capability_automated_ingest.tasks.delete_tasks.delete_data_objects";
    pub const S3_BUCKET_MAIN_TASK: &str =
        "irods_capability_automated_ingest.tasks.s3_bucket_tasks.s3_bucket_main_task";
    pub const S3_BUCKET_SYNC_PATH: &str =
        "irods_capability_automated_ingest.tasks.s3_bucket_tasks.s3_bucket_sync_path";
    pub const S3_BUCKET_SYNC_FILES: &str =
        "irods_capability_automated_ingest.tasks.s3_bucket_tasks.s3_bucket_sync_files";
    /// Tasks of the reference this worker does not run (the reference never enqueues them);
    /// handed back to the queue for a Python worker.
    pub const NOT_HERE: [&str; 2] = [
        "irods_capability_automated_ingest.tasks.s3_bucket_tasks.s3_bucket_sync_dir",
        "irods_capability_automated_ingest.tasks.delete_tasks.delete_collection_task",
    ];
}

/// Registers the filesystem, S3 and delete tasks. Every task is acknowledged after it ends (late
/// ack), so a worker that dies mid-task leaves its messages in `unacked` for recovery.
pub fn register(registry: &mut TaskRegistry, app: Arc<IngestApp>) {
    let late = TaskOptions { acks_late: true, ..TaskOptions::default() };
    macro_rules! task {
        ($name:expr, $body:path) => {{
            let app = app.clone();
            registry.register($name, late.clone(), move |req, ctx| {
                let app = app.clone();
                async move {
                    let profile = profile::TaskProfile::begin(&app, $name, &req, &ctx);
                    let result = $body(app.clone(), req, ctx).await;
                    profile.end(&result);
                    result
                }
            });
        }};
    }
    task!(names::FILESYSTEM_MAIN_TASK, main_task::filesystem_main_task);
    task!(names::FILESYSTEM_SYNC_PATH, sync_path::filesystem_sync_path);
    task!(names::FILESYSTEM_SYNC_DIR, sync_entry::filesystem_sync_dir);
    task!(names::FILESYSTEM_SYNC_FILES, sync_entry::filesystem_sync_files);
    task!(names::S3_BUCKET_MAIN_TASK, main_task::s3_bucket_main_task);
    task!(names::S3_BUCKET_SYNC_PATH, s3_tasks::s3_bucket_sync_path);
    task!(names::S3_BUCKET_SYNC_FILES, s3_tasks::s3_bucket_sync_files);
    task!(names::DELETE_COLLECTION, delete::delete_collection);
    task!(names::DELETE_DATA_OBJECTS, delete::delete_data_objects);
    for name in names::NOT_HERE {
        registry.register(name, late.clone(), move |req, _ctx| async move {
            tracing::warn!(task = %req.name, id = %req.id, "not implemented by this worker; back to the queue for a Python worker");
            tokio::time::sleep(Duration::from_secs(1)).await;
            Err(TaskError::Reject { requeue: true, reason: "task not implemented by the Rust worker".into() })
        });
    }
}
