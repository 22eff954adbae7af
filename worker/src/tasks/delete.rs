//! Delete mode (reference §7.10): scheduling removals from `filesystem_sync_path`, and the
//! `delete_data_objects` and `delete_collection` tasks.

use std::sync::Arc;

use celery_proto::json::{PyDict, PyValue};
use celery_proto::worker::{TaskContext, TaskRequest, TaskResult};
use ingest_pyhandlers::{DeleteMode, Event, EventCall, Handler};

use super::app::IngestApp;
use super::failure::Failure;
use super::joblog::Level;
use super::names;
use super::run::{TaskRun, run_irods_task};
use super::target_op::{TargetAction, target_operation};
use crate::meta::Meta;
use crate::ops::{self, DataObjectRemoval, OpsError};

/// `schedule_data_objects_for_removal`: `delete_data_objects` tasks of `files_per_task` paths
/// each, on the file queue.
pub async fn schedule_data_objects_for_removal(
    run: &TaskRun,
    handler: &Handler,
    meta: &PyDict,
    data_objects: &[String],
) -> Result<(), Failure> {
    if data_objects.is_empty() {
        return Ok(());
    }
    let m = Meta::from_dict(meta);
    let mut child = meta.clone();
    child.insert("queue_name", m.file_queue()?);
    child.insert("task", "delete_data_objects");
    let chunk_size = match m.get("files_per_task") {
        None => 50,
        Some(_) => m.files_per_task()?.max(1),
    };
    for chunk in data_objects.chunks(chunk_size) {
        let list: Vec<PyValue> = chunk.iter().map(|p| PyValue::from(p.as_str())).collect();
        child.insert("data_objects_to_delete", list);
        run.enqueue(handler, names::DELETE_DATA_OBJECTS, child.clone()).await?;
    }
    Ok(())
}

/// `schedule_collections_for_removal`: one `delete_collection` task per collection, on the path
/// queue.
pub async fn schedule_collections_for_removal(
    run: &TaskRun,
    handler: &Handler,
    meta: &PyDict,
    collections: &[String],
) -> Result<(), Failure> {
    if collections.is_empty() {
        return Ok(());
    }
    let mut child = meta.clone();
    child.insert("queue_name", Meta::from_dict(meta).path_queue()?);
    child.insert("task", "delete_collection");
    for collection in collections {
        child.insert("path", collection.as_str());
        child.insert("target_collection", collection.as_str());
        run.enqueue(handler, names::DELETE_COLLECTION, child.clone()).await?;
    }
    Ok(())
}

pub async fn delete_data_objects(app: Arc<IngestApp>, req: TaskRequest, ctx: TaskContext) -> TaskResult {
    run_irods_task(app, req, ctx, |run| async move { remove_data_objects(&run).await }).await
}

async fn remove_data_objects(run: &TaskRun) -> Result<(), Failure> {
    let m = run.meta();
    let paths = m.data_objects_to_delete()?;
    if paths.is_empty() {
        run.log(
            &run.meta,
            Level::Warning,
            "No data objects specified for removal - nothing to do.",
            PyDict::new(),
        );
        return Ok(());
    }
    let handler = run.handler().await?;
    let mut meta = run.meta.clone();
    meta.insert("task", "delete_data_object");
    let mut first_failure = None;
    for logical in &paths {
        run.check_soft_limit()?;
        meta.insert("target", logical.as_str());
        match delete_data_object(run, &handler, &meta).await {
            Ok(()) => {}
            Err(failure) if failure.exc_type == "DataObjectDoesNotExist" => run.log(
                &meta,
                Level::Error,
                &format!("Data object [{logical}] does not exist, so it cannot be deleted."),
                PyDict::new(),
            ),
            Err(failure) => {
                run.log(
                    &meta,
                    Level::Error,
                    &format!(
                        "Exception occurred while removing data object [{logical}]: {}",
                        failure.message
                    ),
                    PyDict::new(),
                );
                first_failure.get_or_insert(failure);
            }
        }
    }
    if let Some(parent) = m.delete_empty_parent_collection()? {
        let mut meta = run.meta.clone();
        meta.insert("target", parent);
        match delete_collection_if_empty(run, &handler, &meta).await {
            Err(failure) if failure.exc_type == "CollectionDoesNotExist" => run.log(
                &meta,
                Level::Warning,
                &format!("Failed to delete parent collection [{parent}]: it no longer exists."),
                PyDict::new(),
            ),
            other => other?,
        }
    }
    first_failure.map_or(Ok(()), Err)
}

/// `irods_utils.delete_data_object`: per the handler's delete mode, inside `on_data_obj_delete`.
async fn delete_data_object(run: &TaskRun, handler: &Handler, meta: &PyDict) -> Result<(), Failure> {
    let mode =
        run.app.delete_mode(handler, meta, &run.limits).await?.member().unwrap_or(DeleteMode::DoNotDelete);
    let Some(removal) = DataObjectRemoval::for_mode(mode) else { return Ok(()) };
    let pool = run.app.irods_for(handler, meta, &run.limits).await?;
    let logical = Meta::from_dict(meta).target()?.to_owned();
    {
        let mut conn = pool.get().await?;
        if !conn.data_object_exists(&logical).await? {
            return Ok(());
        }
    }
    let remove = target_operation(pool, TargetAction::RemoveDataObject(removal));
    handler
        .on_event(EventCall {
            event: Event::DataObjDelete,
            meta: meta.clone(),
            op: None,
            options: PyDict::new(),
            operation: remove,
            limits: run.limits.clone(),
        })
        .await?;
    Ok(())
}

pub async fn delete_collection(app: Arc<IngestApp>, req: TaskRequest, ctx: TaskContext) -> TaskResult {
    run_irods_task(app, req, ctx, |run| async move { remove_collection(&run).await }).await
}

async fn remove_collection(run: &TaskRun) -> Result<(), Failure> {
    let handler = run.handler().await?;
    let m = run.meta();
    let logical =
        m.target_collection()?.ok_or_else(|| Failure::new("KeyError", "'target_collection'"))?.to_owned();
    let mut meta = run.meta.clone();
    meta.insert("task", "delete_collection");
    let pool = run.app.irods_for(&handler, &meta, &run.limits).await?;
    let listing = {
        let mut conn = pool.get().await?;
        ops::list_collection(&mut conn, &logical).await
    };
    let (collections, data_objects) = match listing {
        Ok(listing) => listing,
        Err(OpsError::CollectionDoesNotExist(_)) => {
            run.log(&meta, Level::Error, &format!("Collection [{logical}] does not exist."), PyDict::new());
            return Err(Failure::new("CollectionDoesNotExist", logical));
        }
        Err(e) => return Err(e.into()),
    };
    if collections.is_empty() && data_objects.is_empty() {
        meta.insert("target", logical.as_str());
        return delete_collection_if_empty(run, &handler, &meta).await;
    }
    if m.only_delete_collection() {
        run.log(
            &meta,
            Level::Info,
            &format!("Collection [{logical}] could not be removed because it is not empty."),
            PyDict::new(),
        );
        return Ok(());
    }
    meta.insert("delete_empty_parent_collection", logical.as_str());
    schedule_collections_for_removal(run, &handler, &meta, &collections).await?;
    schedule_data_objects_for_removal(run, &handler, &meta, &data_objects).await
}

/// `irods_utils.delete_collection`: unregister `meta["target"]` if it is empty (under
/// `lock:delete_collection:<path>`), then its parent if that is empty and not the job's root.
///
/// **Fixed:** the reference runs the parent's `on_coll_delete` with the child's meta, so the
/// parent stays; here the parent is removed with its own path in `meta["target"]`.
async fn delete_collection_if_empty(run: &TaskRun, handler: &Handler, meta: &PyDict) -> Result<(), Failure> {
    let mode =
        run.app.delete_mode(handler, meta, &run.limits).await?.member().unwrap_or(DeleteMode::DoNotDelete);
    if mode == DeleteMode::DoNotDelete {
        return Ok(());
    }
    let logical = Meta::from_dict(meta).target()?.to_owned();
    let pool = run.app.irods_for(handler, meta, &run.limits).await?;
    if !unregister_if_empty(run, handler, meta, &pool, &logical).await? {
        return Ok(());
    }
    let root = Meta::from_dict(meta).root_target_collection()?.unwrap_or_default().to_owned();
    let Some(parent) = ops::parent_to_check_after_delete(&logical, &root) else {
        run.log(meta, Level::Info, &format!("Cannot remove root target collection [{root}]"), PyDict::new());
        return Ok(());
    };
    let mut parent_meta = meta.clone();
    parent_meta.insert("target", parent.as_str());
    unregister_if_empty(run, handler, &parent_meta, &pool, &parent).await?;
    Ok(())
}

/// Under the collection's lock: if it is empty, `on_coll_delete(unregister_collection)`.
/// Returns whether it was removed.
async fn unregister_if_empty(
    run: &TaskRun,
    handler: &Handler,
    meta: &PyDict,
    pool: &irods_proto::Pool,
    logical: &str,
) -> Result<bool, Failure> {
    let guard =
        run.app.locks.acquire(&ops::delete_collection_lock_name(logical), run.app.settings.locks).await?;
    let result = async {
        let empty = {
            let mut conn = pool.get().await?;
            ops::collection_is_empty(&mut conn, logical).await?
        };
        if !empty {
            return Ok(false);
        }
        let unregister = target_operation(pool.clone(), TargetAction::UnregisterCollection);
        handler
            .on_event(EventCall {
                event: Event::CollDelete,
                meta: meta.clone(),
                op: None,
                options: PyDict::new(),
                operation: unregister,
                limits: run.limits.clone(),
            })
            .await?;
        Ok::<bool, Failure>(true)
    }
    .await;
    if let Err(e) = guard.release().await {
        tracing::warn!(collection = logical, error = %e, "releasing the delete_collection lock failed");
    }
    result
}
