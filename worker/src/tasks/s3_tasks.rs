//! The S3 source's tasks (reference §10): `s3_bucket_sync_path` lists a bucket under a prefix and
//! enqueues `s3_bucket_sync_files` chunks; each chunk entry is synced like a file entry, with the
//! object's `/bucket/key` as its physical path. (`s3_bucket_main_task` is in [`super::main_task`];
//! `s3_bucket_sync_dir` is never enqueued by the reference.)
//!
//! What the reference does and this keeps: no directory tasks, no exclusions (the regexes are
//! only compiled), only `DeleteMode.DO_NOT_DELETE`, `mtime = ctime = LastModified`, collections
//! created lazily by each entry's `create_dirs` (so `coll_create` hooks fire), the `sync_time:/`
//! key `<key>:<target>` (without the bucket) and the raw string prefix (`/b/pre` also lists
//! `prefix2/...`). Put-type operations stream the object through [`super::s3_upload`].
//!
//! Intended differences (README): a key equal to the bucket name is synced like any other key
//! (the reference maps it onto the target collection itself); with a `character_map` the
//! `irods::automated_ingest::character_map` AVU holds base64 of `/bucket/key` (the reference
//! encodes the key made absolute against the worker's current directory).

use std::sync::Arc;

use celery_proto::json::{PyDict, PyStr, PyValue};
use celery_proto::worker::{TaskContext, TaskRequest, TaskResult};
use ingest_pyhandlers::{DeleteMode, Handler, HandlerChoice, Override};

use super::app::IngestApp;
use super::failure::Failure;
use super::joblog::Level;
use super::names;
use super::run::{TaskRun, run_irods_task};
use super::sync_entry::{DataSource, acquire, sync_chunk, sync_data_from_file};
use crate::fields;
use crate::job::keys::entry_lock_name;
use crate::job::{EntryType, JobStore, datetime_now_timestamp};
use crate::meta::Meta;
use crate::paths::{self, B64Reason};
use crate::s3::{S3Client, S3Error, S3Settings};

pub async fn s3_bucket_sync_path(app: Arc<IngestApp>, req: TaskRequest, ctx: TaskContext) -> TaskResult {
    run_irods_task(app, req, ctx, |run| async move { sync_path(&run).await }).await
}

pub async fn s3_bucket_sync_files(app: Arc<IngestApp>, req: TaskRequest, ctx: TaskContext) -> TaskResult {
    run_irods_task(app, req, ctx, |run| async move {
        let handler = run.handler().await?;
        let run = &*run;
        let handler = &handler;
        sync_chunk(run, handler, move |meta| sync_entry(run, handler, meta)).await
    })
    .await
}

/// An S3 failure as the task reports it (minio's exception class for service errors).
pub(super) fn s3_failure(error: S3Error) -> Failure {
    let exc_type = match &error {
        S3Error::Service { .. } => "S3Error",
        S3Error::Config(_) => "ValueError",
        S3Error::Malformed { .. } => "InvalidResponseError",
        S3Error::Io { .. } | S3Error::Tls { .. } | S3Error::Timeout { .. } => "MaxRetryError",
    };
    Failure::new(exc_type, error.to_string())
}

/// `s3_bucket_sync_path`: list `/bucket[/prefix]` and enqueue the objects in chunks.
async fn sync_path(run: &TaskRun) -> Result<(), Failure> {
    let handler = run.handler().await?;
    let received = run.meta();
    let path = received.text("path")?.to_owned();
    run.log(&run.meta, Level::Info, "walk dir", fields!["path" => path.as_str()]);
    let mut meta = run.meta.clone();
    meta.insert("task", "s3_bucket_sync_dir");

    let delete_mode = run.app.delete_mode(&handler, &meta, &run.limits).await?;
    if !matches!(delete_mode, HandlerChoice::Member(DeleteMode::DoNotDelete)) {
        return Err(Failure::runtime(format!(
            "S3 bucket syncs do not support DeleteMode [{}]. Only DeleteMode.DO_NOT_DELETE is supported.",
            delete_mode.repr(|mode| format!("DeleteMode.{}", mode.name()))
        )));
    }

    let (bucket, prefix) = match path.trim_start_matches('/').split_once('/') {
        Some((bucket, prefix)) => (bucket.to_owned(), prefix.to_owned()),
        None => (path.trim_start_matches('/').to_owned(), String::new()),
    };
    meta.insert("root", bucket.as_str());
    meta.insert("s3_prefix", prefix.as_str());
    let m = Meta::from_dict(&meta);
    // The reference compiles the exclusion regexes (a bad one fails the task) but applies none.
    m.exclude_rules()?;
    let files_per_task = m.files_per_task()?.max(1);
    let file_queue = m.file_queue()?.to_owned();
    let client = S3Client::new(S3Settings::from_meta(&m).map_err(s3_failure)?);

    let mut chunk = PyDict::new();
    let mut listing = client.list_objects(&bucket, &prefix);
    while let Some(objects) = listing.next_page().await.map_err(s3_failure)? {
        run.check_soft_limit()?;
        for object in objects {
            if object.key.ends_with('/') {
                continue; // "folder" placeholder objects
            }
            let stats = fields![
                "is_link" => false,
                "is_socket" => false,
                "mtime" => object.last_modified,
                "ctime" => object.last_modified,
                "size" => object.size as i64,
            ];
            chunk.insert(object.key.as_str(), stats);
            if chunk.len() >= files_per_task {
                enqueue_chunk(run, &handler, &meta, &file_queue, std::mem::take(&mut chunk)).await?;
            }
        }
    }
    if !chunk.is_empty() {
        enqueue_chunk(run, &handler, &meta, &file_queue, chunk).await?;
    }
    Ok(())
}

async fn enqueue_chunk(
    run: &TaskRun,
    handler: &Handler,
    meta: &PyDict,
    file_queue: &str,
    chunk: PyDict,
) -> Result<(), Failure> {
    let mut child = meta.clone();
    child.insert("chunk", PyValue::Dict(chunk));
    child.insert("queue_name", file_queue);
    run.enqueue(handler, names::S3_BUCKET_SYNC_FILES, child).await
}

/// `s3_bucket_sync_entry` for one object of a chunk (`meta["path"]` = the key).
async fn sync_entry(run: &TaskRun, handler: &Handler, meta: PyDict) -> Result<(), Failure> {
    let m = Meta::from_dict(&meta);
    let key = m.text("path")?.to_owned();
    let root_target = m.target()?.to_owned();
    run.log(&meta, Level::Info, &format!("synchronizing file. path = {key}"), PyDict::new());
    let sync_key = format!("{key}:{root_target}");
    let lock_name = entry_lock_name(EntryType::File, &sync_key);
    let guard = acquire(run, &lock_name).await?;
    let result = sync_locked(run, handler, &meta, &key, &root_target, &sync_key).await;
    if let Err(e) = guard.release().await {
        tracing::warn!(lock = lock_name, error = %e, "releasing the entry lock failed");
    }
    result
}

async fn sync_locked(
    run: &TaskRun,
    handler: &Handler,
    meta: &PyDict,
    key: &str,
    root_target: &str,
    sync_key: &str,
) -> Result<(), Failure> {
    let m = Meta::from_dict(meta);
    let task = m.get("task").cloned().unwrap_or(PyValue::Null);
    let sync_time = if m.ignore_cache() { None } else { run.app.store.sync_time(sync_key).await? };
    let missing = |name: &str| Failure::new("KeyError", format!("'{name}'"));
    let mtime = m.mtime()?.ok_or_else(|| missing("mtime"))?;
    let ctime = m.ctime()?.ok_or_else(|| missing("ctime"))?;
    if let Some(last) = sync_time
        && mtime < last
        && ctime < last
    {
        run.log(
            meta,
            Level::Info,
            "succeeded_file_has_not_changed",
            fields!["task" => task.clone(), "path" => key],
        );
        return Ok(());
    }
    let t = datetime_now_timestamp();
    run.log(
        meta,
        Level::Info,
        "synchronizing file",
        fields!["path" => key, "t0" => sync_time.map_or(PyValue::Null, PyValue::from), "t" => t, "ctime" => ctime],
    );

    // Logical path: the key without the listed prefix, under the target; physical path:
    // `/bucket/key`, the iRODS S3 plugin's convention.
    let bucket = m.text("root")?;
    let prefix = m.text("s3_prefix")?;
    let start = key.find(prefix).ok_or_else(|| Failure::new("ValueError", "substring not found"))?;
    let relative = key[start + prefix.len()..].trim_matches('/');
    let physical = format!("/{bucket}/{key}");
    let mut target = format!("{root_target}/{relative}");
    let mut meta2 = meta.clone();
    meta2.insert("path", physical.as_str());
    if handler.capabilities().has_override(Override::CharacterMap) {
        let plain = PyStr::from(target.as_str());
        if let Some(translated) = handler.translate_path(&plain, &run.limits).await?
            && translated != plain
        {
            target = translated.to_string_lossy().into_owned();
            meta2.insert("b64_reason", B64Reason::CharacterMap.as_str());
            meta2.insert("b64_path_str_charmap", paths::b64_path_str(physical.as_bytes()));
        }
    }
    meta2.insert("target", target.as_str());

    let content = sync_time.is_none_or(|last| mtime >= last);
    sync_data_from_file(run, handler, &meta2, content, DataSource::S3).await?;
    let event = if content { "succeeded" } else { "succeeded_metadata_only" };
    run.log(meta, Level::Info, event, fields!["task" => task, "path" => key]);
    run.app.store.set_sync_time(sync_key, t).await?;
    Ok(())
}
