//! `filesystem_sync_dir` and `filesystem_sync_files` (reference §3.5, §6.5, §7.1): one entry at
//! a time under its `sync_file:`/`sync_dir:` lock, skipped when the `sync_time:/` cache says it
//! has not changed, else synced into the catalog through the handler's hooks.
//!
//! Differences from the reference (listed in the README): a failing entry does not abort the rest
//! of its chunk — the chunk finishes, then the task is retried with only the failed entries, or
//! fails; a dangling symlink is registered as the link it is instead of failing its chunk.

use std::sync::Arc;

use celery_proto::json::{PyDict, PyStr, PyValue};
use celery_proto::worker::{TaskContext, TaskRequest, TaskResult};
use futures::stream::{self, StreamExt};
use ingest_pyhandlers::{
    CallLimits, Event, EventCall, Handler, Operation, OperationError, Override, operation_fn,
};
use irods_proto::messages::KeyValPair;
use irods_proto::{Connection, Pool};

use super::app::IngestApp;
use super::failure::{Failure, operation_error};
use super::joblog::Level;
use super::run::{TaskRun, run_irods_task, with_chunk};
use super::target_op::{TargetAction, target_operation};
use crate::fields;
use crate::job::keys::entry_lock_name;
use crate::job::{EntryType, JobStore, datetime_now_timestamp};
use crate::lock::LockGuard;
use crate::meta::{Meta, path_value};
use crate::ops::{self, CollectionLevel, CreateDirsDriver, DataObjEvent, FileAction, FileEntry, OpsError};
use crate::paths::{self, B64Reason, SourcePath};

pub async fn filesystem_sync_dir(app: Arc<IngestApp>, req: TaskRequest, ctx: TaskContext) -> TaskResult {
    run_irods_task(app, req, ctx, |run| async move {
        let handler = run.handler().await?;
        let mut meta = run.meta.clone();
        meta.insert("entry_type", "dir");
        sync_entry(&run, &handler, meta, EntryType::Dir).await
    })
    .await
}

pub async fn filesystem_sync_files(app: Arc<IngestApp>, req: TaskRequest, ctx: TaskContext) -> TaskResult {
    run_irods_task(app, req, ctx, |run| async move { sync_files(&run).await }).await
}

async fn sync_files(run: &TaskRun) -> Result<(), Failure> {
    let handler = run.handler().await?;
    let handler = &handler;
    sync_chunk(run, handler, |meta| sync_entry(run, handler, meta, EntryType::File)).await
}

/// Whether every entry makes a Python call (an override asked per entry, or a data-object hook).
/// Such entries are synced one at a time: Python calls from concurrent entries only queue for the
/// GIL, and handing it back and forth costs more CPU than the overlap saves.
pub(super) fn python_per_entry(handler: &Handler) -> bool {
    let caps = handler.capabilities();
    [
        Override::Operation,
        Override::AsUser,
        Override::ToResource,
        Override::TargetPath,
        Override::CharacterMap,
    ]
    .into_iter()
    .any(|o| caps.has_override(o))
        || caps.runs_python(Event::DataObjCreate)
        || caps.runs_python(Event::DataObjModify)
}

/// The body of a files task (`filesystem_sync_files`, `s3_bucket_sync_files`): `sync(meta)` for
/// each entry of `meta["chunk"]`, with the entry's path and stats in `meta`, a few at a time.
pub(super) async fn sync_chunk<'a, F, Fut>(
    run: &'a TaskRun,
    handler: &Handler,
    sync: F,
) -> Result<(), Failure>
where
    F: Fn(PyDict) -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>> + 'a,
{
    let mut meta = run.meta.clone();
    meta.insert("entry_type", "file");
    meta.insert("task", "sync_file");
    // Entries copy `meta` a few times each; the chunk comes back only where Python sees it.
    meta.insert("chunk", PyValue::Null);
    let chunk = match run.meta.get("chunk") {
        Some(PyValue::Dict(chunk)) => chunk.clone(),
        _ => return Err(Failure::new("KeyError", "meta has no 'chunk' dict")),
    };
    // Entries of a chunk are synced a few at a time (`Settings::entry_parallelism`); each one
    // waits on Redis and iRODS round trips, not on this process's CPU — unless each runs Python.
    let entries: Vec<(usize, PyStr, PyValue)> =
        chunk.iter().enumerate().map(|(i, (path, stats))| (i, path.clone(), stats.clone())).collect();
    let parallelism = if python_per_entry(handler) && !run.app.is_default_handler(handler) {
        1
    } else {
        run.app.settings.entry_parallelism.max(1)
    };
    let results: Vec<(usize, PyStr, PyValue, Result<(), Failure>)> = stream::iter(entries)
        .map(|(i, path, stats)| {
            let mut meta = meta.clone();
            let sync = &sync;
            async move {
                if let Err(failure) = run.check_soft_limit() {
                    // Whatever is left is redone by the retry, if there is one.
                    return (i, path, stats, Err(failure));
                }
                let stat = |key: &str| match &stats {
                    PyValue::Dict(d) => d.get(key).cloned().unwrap_or(PyValue::Null),
                    _ => PyValue::Null,
                };
                meta.insert("path", PyValue::Str(path.clone()));
                meta.insert("is_empty_dir", stat("is_empty_dir"));
                meta.insert("is_link", stat("is_link"));
                meta.insert("is_socket", stat("is_socket"));
                meta.insert("mtime", stat("mtime"));
                meta.insert("ctime", stat("ctime"));
                meta.insert("size", stat("size"));
                let result = sync(meta).await;
                (i, path, stats, result)
            }
        })
        .buffer_unordered(parallelism)
        .collect()
        .await;
    let mut results = results;
    results.sort_by_key(|(i, ..)| *i);
    let mut failed = PyDict::new();
    let mut first_failure = None;
    for (_, path, stats, result) in results {
        if let Err(failure) = result {
            if !failure.is_soft_time_limit() {
                tracing::warn!(path = %path.to_string_lossy(), error = %failure, "entry failed; the chunk goes on");
            }
            failed.insert(path, stats);
            first_failure.get_or_insert(failure);
        }
    }
    match first_failure {
        None => Ok(()),
        Some(failure) => {
            let mut retry = run.meta.clone();
            retry.insert("chunk", failed);
            run.retry_with(retry);
            Err(failure)
        }
    }
}

/// `filesystem_sync_entry`: one file or directory.
async fn sync_entry(
    run: &TaskRun,
    handler: &Handler,
    mut meta: PyDict,
    entry_type: EntryType,
) -> Result<(), Failure> {
    let m = Meta::from_dict(&meta);
    let path = m.path()?;
    let root = m.root()?;
    let root_target = m.target()?.to_owned();
    let task = m.get("task").cloned().unwrap_or(PyValue::Null);
    run.log(
        &meta,
        Level::Info,
        &format!("synchronizing {}. path = {}", entry_type.as_str(), path.display_lossy()),
        PyDict::new(),
    );

    let names = paths::entry_names(&root, &root_target, &path, None)?;
    let mut entry_path = path.clone();
    if let Some(unicode) = &names.unicode_error {
        run.log(
            &meta,
            Level::Warning,
            &format!(
                "filesystem_sync_entry raised UnicodeEncodeError while syncing path:{}",
                python_bytes_repr(path.as_bytes())
            ),
            PyDict::new(),
        );
        entry_path = unicode.parent.clone();
        meta.insert("path", path_value(&unicode.parent));
        meta.insert("b64_path_str", unicode.b64_path_str.as_str());
        meta.insert("b64_reason", B64Reason::UnicodeEncodeError.as_str());
        meta.insert("unicode_error_filename", unicode.unicode_error_filename.as_str());
    }

    // An unchanged entry is recognised without its lock: the lock only orders writers, and an
    // entry older than its last sync has nothing to write. (The reference locks first; one GET
    // instead of the lock's SET, GET and release script is most of a re-scan's Redis traffic.)
    if !Meta::from_dict(&meta).ignore_cache()
        && let Ok((mtime, ctime)) = entry_times(&Meta::from_dict(&meta), &path)
        && let Some(last) = run.app.store.sync_time(&names.sync_key).await?
        && mtime < last
        && ctime < last
    {
        let event = format!("succeeded_{}_has_not_changed", entry_type.as_str());
        run.log(
            &meta,
            Level::Info,
            &event,
            fields!["task" => task.clone(), "path" => path_value(&entry_path)],
        );
        return Ok(());
    }

    let lock_name = entry_lock_name(entry_type, &names.sync_key);
    let guard = acquire(run, &lock_name).await?;
    let result = sync_locked(run, handler, &meta, entry_type, &names, &entry_path, &path, &task).await;
    if let Err(e) = guard.release().await {
        tracing::warn!(lock = lock_name, error = %e, "releasing the entry lock failed");
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn sync_locked(
    run: &TaskRun,
    handler: &Handler,
    meta: &PyDict,
    entry_type: EntryType,
    names: &paths::EntryNames,
    entry_path: &SourcePath,
    original: &SourcePath,
    task: &PyValue,
) -> Result<(), Failure> {
    let m = Meta::from_dict(meta);
    let sync_time = if m.ignore_cache() { None } else { run.app.store.sync_time(&names.sync_key).await? };
    let (mtime, ctime) = entry_times(&m, original)?;
    if let Some(last) = sync_time
        && mtime < last
        && ctime < last
    {
        let event = format!("succeeded_{}_has_not_changed", entry_type.as_str());
        run.log(meta, Level::Info, &event, fields!["task" => task.clone(), "path" => path_value(entry_path)]);
        return Ok(());
    }
    let t = datetime_now_timestamp();
    run.log(
        meta,
        Level::Info,
        &format!("synchronizing {}", entry_type.as_str()),
        fields!["path" => path_value(entry_path), "t0" => sync_time.map_or(PyValue::Null, PyValue::from), "t" => t, "ctime" => ctime],
    );

    let mut meta2 = meta.clone();
    let mut target = names.logical_path.clone();
    if names.unicode_error.is_none()
        && handler.capabilities().has_override(ingest_pyhandlers::Override::CharacterMap)
    {
        let plain = PyStr::from(target.as_str());
        if let Some(translated) = handler.translate_path(&plain, &run.limits).await?
            && translated != plain
        {
            target = translated.to_string_lossy().into_owned();
            meta2.insert("b64_reason", B64Reason::CharacterMap.as_str());
            meta2.insert("b64_path_str_charmap", paths::b64_path_str(&paths::abspath(original.as_bytes())));
        }
    }
    meta2.insert("target", target.as_str());

    let content = sync_time.is_none_or(|last| mtime >= last);
    match entry_type {
        EntryType::File => sync_data_from_file(run, handler, &meta2, content, DataSource::Filesystem).await?,
        EntryType::Dir => sync_data_from_dir(run, handler, &meta2).await?,
    }
    let event = if content { "succeeded" } else { "succeeded_metadata_only" };
    run.log(meta, Level::Info, event, fields!["task" => task.clone(), "path" => path_value(entry_path)]);
    run.app.store.set_sync_time(&names.sync_key, t).await?;
    Ok(())
}

/// `meta.get("mtime", os.path.getmtime(path))`, without the reference's eager stat: the stat runs
/// only when meta has no time, and falls back to `lstat` for a dangling symlink.
fn entry_times(m: &Meta<'_>, path: &SourcePath) -> Result<(f64, f64), Failure> {
    if let (Some(mtime), Some(ctime)) = (m.mtime()?, m.ctime()?) {
        return Ok((mtime, ctime));
    }
    use std::os::unix::fs::MetadataExt;
    let stat = std::fs::metadata(path.as_path())
        .or_else(|_| std::fs::symlink_metadata(path.as_path()))
        .map_err(|e| Failure::new("FileNotFoundError", format!("{}: {e}", path.display_lossy())))?;
    let mtime = m.mtime()?.unwrap_or_else(|| crate::scan::python_time(stat.mtime(), stat.mtime_nsec()));
    let ctime = m.ctime()?.unwrap_or_else(|| crate::scan::python_time(stat.ctime(), stat.ctime_nsec()));
    Ok((mtime, ctime))
}

pub(super) async fn acquire(run: &TaskRun, name: &str) -> Result<LockGuard, Failure> {
    let locks = run.app.locks.clone();
    let options = run.app.settings.locks;
    tokio::select! {
        guard = locks.acquire(name, options) => Ok(guard?),
        _ = soft_limit_passed(run) => Err(Failure::soft_time_limit()),
        _ = run.ctx.cancellation().cancelled() => Err(Failure::soft_time_limit()),
    }
}

async fn soft_limit_passed(run: &TaskRun) {
    match run.limits.soft_deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// `operation(session, meta)`: a member, or REGISTER_SYNC for anything else (`... or
/// Operation.REGISTER_SYNC` in the reference).
async fn operation(run: &TaskRun, handler: &Handler, meta: &PyDict) -> Result<Operation, Failure> {
    if !handler.capabilities().has_override(Override::Operation) {
        return Ok(Operation::RegisterSync);
    }
    let choice = run.app.operation(handler, &run.for_python(meta), &run.limits).await?;
    Ok(choice.member().unwrap_or(Operation::RegisterSync))
}

/// The iRODS connections for this entry: as the handler's `as_user(meta)`, if it has one.
async fn pool_for(run: &TaskRun, handler: &Handler, meta: &PyDict) -> Result<Pool, Failure> {
    if !handler.capabilities().has_override(Override::AsUser) {
        return run.app.irods(None);
    }
    run.app.irods_for(handler, &run.for_python(meta), &run.limits).await
}

/// The meta an event call carries: the whole chunk only when Python will see it.
fn event_meta(run: &TaskRun, handler: &Handler, event: Event, meta: &PyDict) -> PyDict {
    if handler.capabilities().runs_python(event) { run.for_python(meta).into_owned() } else { meta.clone() }
}

/// Where put-type operations read the bytes: the local file, or the S3 object `/bucket/key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DataSource {
    Filesystem,
    S3,
}

/// `sync_data_from_file` (reference §7.1).
pub(super) async fn sync_data_from_file(
    run: &TaskRun,
    handler: &Handler,
    meta: &PyDict,
    content: bool,
    source: DataSource,
) -> Result<(), Failure> {
    let pool = pool_for(run, handler, meta).await?;
    let m = Meta::from_dict(meta);
    let entry = FileEntry::from_meta(&m)?;
    let mut conn = pool.get().await?;
    let mut exists =
        if m.initial_ingest() { false } else { ops::check_not_collection(&mut conn, &entry).await? };
    let op = operation(run, handler, meta).await?;
    // An existing object this job created (in this pass, or by an earlier run of this very
    // task) may be one whose upload was cut by a kill or a server restart: it is whole only if
    // the sizes match and, when this task may have run before and the decision below would keep
    // or extend the object, the content too. A cut one is uploaded again from the start, as its
    // first attempt meant to. Objects that were there before the pass keep the reference's
    // decision (PUT never overwrites them).
    if exists && content && op.is_put() && source == DataSource::Filesystem {
        let facts = ops::replica_facts(&mut conn, &entry).await?;
        let ours = run.may_have_run() || created_in_this_pass(run, &facts).await?;
        if ours
            && !ops::object_matches_file(
                &mut conn,
                &entry,
                &facts,
                run.may_have_run() && op != Operation::PutSync,
            )
            .await?
        {
            tracing::warn!(target = %entry.target, "an earlier attempt left this object incomplete; uploading it again");
            exists = false;
        }
    }
    let replica = if ops::needs_replica_check(op, exists) {
        let resource = if handler.capabilities().has_override(Override::ToResource) {
            let resource =
                handler.to_resource(&run.for_python(meta), &allow_redirect_false(), &run.limits).await?;
            resource.map(|r| r.to_string_lossy().into_owned())
        } else {
            None
        };
        Some(ops::replica_state(&mut conn, &entry, resource.as_deref()).await?)
    } else {
        None
    };
    let action = ops::decide(op, exists, content, replica);
    if action.creates_parent_collections() {
        let parent = entry.parent_level()?;
        let mut driver =
            HookedCreateDirs { run, handler, meta, pool: pool.clone(), options: allow_redirect_false() };
        ops::create_dirs(&mut conn, &parent.target, &parent.path, &mut driver).await?;
    }
    drop(conn);
    let Some(event) = action.event() else {
        tracing::debug!(target = %entry.target, "PUT: the object exists and is not re-uploaded");
        return Ok(());
    };
    let event = match event {
        DataObjEvent::Create => Event::DataObjCreate,
        DataObjEvent::Modify => Event::DataObjModify,
    };
    let options = hook_options(action);
    let operation = file_operation(
        run.app.clone(),
        handler.clone(),
        pool,
        action,
        op,
        run.limits.clone(),
        run.chunk(),
        source,
    );
    handler
        .on_event(EventCall {
            event,
            meta: event_meta(run, handler, event, meta),
            op: action.passes_operation().then_some(op),
            options,
            operation,
            limits: run.limits.clone(),
        })
        .await?;
    Ok(())
}

/// Whether the object was created after the job's current pass started. The catalog keeps whole
/// seconds, so an object created in the pass's first (partial) second counts as older: a changed
/// file whose object the previous pass created a moment before keeps the reference's decision.
async fn created_in_this_pass(run: &TaskRun, facts: &ops::ReplicaFacts) -> Result<bool, Failure> {
    let Some(created) = facts.created else { return Ok(false) };
    let job = run.meta().job_name()?.to_owned();
    let started = run.app.store.counters(&job).await?.start_time;
    Ok(started.is_some_and(|start| created > start))
}

/// The keyword arguments hooks and operations receive for `action` (reference §6.3).
fn hook_options(action: FileAction) -> PyDict {
    match action {
        FileAction::NoOp(_) => PyDict::new(),
        FileAction::RegisterReplica => {
            let mut options = allow_redirect_false();
            options.insert("regRepl", "");
            options
        }
        _ => allow_redirect_false(),
    }
}

fn allow_redirect_false() -> PyDict {
    fields!["allow_redirect" => false]
}

/// The keyword arguments as python-irodsclient puts them into a request's `KeyValPair`.
fn key_val_pair(options: &PyDict) -> KeyValPair {
    let mut kvp = KeyValPair::new();
    for (key, value) in options.iter() {
        let text = match value {
            PyValue::Bool(true) => "True".to_owned(),
            PyValue::Bool(false) => "False".to_owned(),
            PyValue::Str(s) => s.to_string_lossy().into_owned(),
            other => celery_proto::json::py_repr(other).to_string_lossy().into_owned(),
        };
        kvp.set(key.to_string_lossy().into_owned(), text);
    }
    kvp
}

/// The Rust operation a data-object hook wraps: `register_file`, `update_metadata`,
/// `upload_file` or `sync_file`, reading its inputs from the meta and options the hooks pass on
/// and asking the handler for `target_path()`/`to_resource()` at the reference's point.
fn file_operation(
    app: Arc<IngestApp>,
    handler: Handler,
    pool: Pool,
    action: FileAction,
    op: Operation,
    limits: CallLimits,
    chunk: Option<Arc<PyValue>>,
    source: DataSource,
) -> ingest_pyhandlers::OperationFn {
    operation_fn(move |input| {
        let (app, handler, pool, limits) = (app.clone(), handler.clone(), pool.clone(), limits.clone());
        let chunk = chunk.clone();
        async move {
            let fail = |e: Failure| OperationError::new(e.message);
            let m = Meta::from_dict(&input.meta);
            let entry = FileEntry::from_meta(&m).map_err(|e| operation_error(&e))?;
            let options = key_val_pair(&input.options);
            let threads = app.settings.put_threads;
            let resource = |handler: Handler, meta: PyDict, options: PyDict, limits: CallLimits| {
                let chunk = chunk.clone();
                async move {
                    if !handler.capabilities().has_override(Override::ToResource) {
                        return Ok(None);
                    }
                    let meta = with_chunk(&meta, chunk.as_deref());
                    handler
                        .to_resource(&meta, &options, &limits)
                        .await
                        .map(|r| r.map(|r| r.to_string_lossy().into_owned()))
                        .map_err(|e| fail(e.into()))
                }
            };
            match action {
                FileAction::Register | FileAction::RegisterReplica | FileAction::UpdateMetadata => {
                    let target_path = if handler.capabilities().has_override(Override::TargetPath) {
                        handler
                            .target_path(&with_chunk(&input.meta, chunk.as_deref()), &input.options, &limits)
                            .await
                            .map_err(|e| fail(e.into()))?
                            .map(|p| p.to_string_lossy().into_owned())
                    } else {
                        None
                    };
                    let resource =
                        resource(handler.clone(), input.meta.clone(), input.options.clone(), limits.clone())
                            .await?;
                    let mut conn = pool.get().await.map_err(|e| operation_error(&e.into()))?;
                    let result = if action == FileAction::UpdateMetadata {
                        ops::update_metadata(
                            &mut conn,
                            &entry,
                            target_path.as_deref(),
                            resource.as_deref(),
                            &options,
                        )
                        .await
                    } else {
                        ops::register_file(
                            &mut conn,
                            &entry,
                            target_path.as_deref(),
                            resource.as_deref(),
                            &options,
                        )
                        .await
                    };
                    result.map_err(|e| operation_error(&e))
                }
                FileAction::Upload | FileAction::SyncFile => {
                    let existing = action == FileAction::SyncFile;
                    let resource =
                        resource(handler.clone(), input.meta.clone(), input.options.clone(), limits.clone())
                            .await?;
                    let op = input.op.as_ref().and_then(|c| c.member()).unwrap_or(op);
                    let resource = resource.as_deref();
                    let result = match (source, existing) {
                        (DataSource::Filesystem, false) => {
                            ops::upload_file(&pool, &entry, resource, &options, threads).await
                        }
                        (DataSource::Filesystem, true) => {
                            ops::sync_file(&pool, &entry, op, resource, &options, threads).await
                        }
                        (DataSource::S3, existing) => {
                            super::s3_upload::upload_from_s3(
                                &pool, &m, &entry, resource, &options, op, existing,
                            )
                            .await
                        }
                    };
                    result.map_err(|e| operation_error(&e))
                }
                FileAction::NoOp(_) | FileAction::SyncFileMeta | FileAction::IgnoreExisting => Ok(()),
            }
        }
    })
}

/// `sync_data_from_dir` (reference §6.5).
async fn sync_data_from_dir(run: &TaskRun, handler: &Handler, meta: &PyDict) -> Result<(), Failure> {
    let pool = pool_for(run, handler, meta).await?;
    let m = Meta::from_dict(meta);
    let target = m.target()?.to_owned();
    let path = m.path()?;
    let mut conn = pool.get().await?;
    let exists = conn.collection_exists(&target).await?;
    let op = operation(run, handler, meta).await?;
    if op == Operation::NoOp || exists {
        drop(conn);
        let event = if exists { Event::CollModify } else { Event::CollCreate };
        let noop = operation_fn(|_| async { Ok(()) });
        handler
            .on_event(EventCall {
                event,
                meta: meta.clone(),
                op: None,
                options: PyDict::new(),
                operation: noop,
                limits: run.limits.clone(),
            })
            .await?;
        return Ok(());
    }
    let mut driver = HookedCreateDirs { run, handler, meta, pool: pool.clone(), options: PyDict::new() };
    ops::create_dirs(&mut conn, &target, &path, &mut driver).await?;
    Ok(())
}

/// `create_dirs` with the reference's locks and `on_coll_create(create_dir)` per level.
struct HookedCreateDirs<'a> {
    run: &'a TaskRun,
    handler: &'a Handler,
    meta: &'a PyDict,
    pool: Pool,
    options: PyDict,
}

impl CreateDirsDriver for HookedCreateDirs<'_> {
    type Guard = LockGuard;

    async fn lock(&mut self, name: &str) -> ops::Result<LockGuard> {
        acquire(self.run, name).await.map_err(|f| OpsError::Caller(Box::new(FailureError(f))))
    }

    async fn unlock(&mut self, guard: LockGuard) -> ops::Result<()> {
        guard.release().await.map_err(|e| OpsError::Caller(Box::new(e)))
    }

    async fn create(&mut self, conn: &mut Connection, level: &CollectionLevel) -> ops::Result<()> {
        if !self.handler.capabilities().runs_python(Event::CollCreate) {
            return ops::create_dir(conn, &level.target).await;
        }
        let mut meta = self.run.for_python(self.meta).into_owned();
        meta.insert("target", level.target.as_str());
        meta.insert("path", path_value(&level.path));
        let create = target_operation(self.pool.clone(), TargetAction::CreateCollection);
        self.handler
            .on_event(EventCall {
                event: Event::CollCreate,
                meta,
                op: None,
                options: self.options.clone(),
                operation: create,
                limits: self.run.limits.clone(),
            })
            .await
            .map_err(|e| OpsError::Caller(Box::new(FailureError(e.into()))))?;
        Ok(())
    }
}

/// A [`Failure`] carried through [`OpsError::Caller`].
#[derive(Debug)]
struct FailureError(Failure);

impl std::fmt::Display for FailureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for FailureError {}

/// Python's `repr(bytes)`, as the reference logs the escaped path.
fn python_bytes_repr(bytes: &[u8]) -> String {
    let mut out = String::from("b'");
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    out
}
