//! `filesystem_sync_path` (reference §3.4, §9): one directory. Enqueue a `filesystem_sync_dir`
//! for the directory itself, a `filesystem_sync_path` per sub-directory and a
//! `filesystem_sync_files` per chunk of other entries; in delete mode, schedule the removal of
//! what the collection holds and the directory no longer does.

use std::collections::BTreeSet;
use std::sync::Arc;

use celery_proto::json::{PyDict, PyValue};
use celery_proto::worker::{TaskContext, TaskRequest, TaskResult};
use ingest_pyhandlers::{DeleteMode, Handler, HandlerChoice, Override};

use super::app::IngestApp;
use super::delete::{schedule_collections_for_removal, schedule_data_objects_for_removal};
use super::failure::Failure;
use super::joblog::Level;
use super::names;
use super::run::{TaskRun, run_irods_task};
use crate::fields;
use crate::meta::{Meta, path_value};
use crate::ops;
use crate::paths::{self, SourcePath};
use crate::scan::{ChunkEntry, DirScanner, ScanEvent, ScanOptions, SkipReason};

pub async fn filesystem_sync_path(app: Arc<IngestApp>, req: TaskRequest, ctx: TaskContext) -> TaskResult {
    run_irods_task(app, req, ctx, |run| async move { sync_path(&run).await }).await
}

async fn sync_path(run: &TaskRun) -> Result<(), Failure> {
    let handler = run.handler().await?;
    let received = run.meta();
    let path = received.path()?;
    run.log(&run.meta, Level::Info, "walk dir", fields!["path" => path_value(&path)]);
    let mut meta = run.meta.clone();
    meta.insert("task", "filesystem_sync_dir");

    // The operation and the delete mode must go together (reference §7.9).
    let delete_mode = run.app.delete_mode(&handler, &meta, &run.limits).await?;
    let operation = run.app.operation(&handler, &meta, &run.limits).await?;
    let compatible = match (&operation, &delete_mode) {
        (HandlerChoice::Member(op), HandlerChoice::Member(mode)) => mode.is_compatible_with(*op),
        _ => false,
    };
    if !compatible {
        return Err(Failure::runtime(format!(
            "operation [{}] and delete_mode [{}] are incompatible.",
            operation.repr(|op| format!("Operation.{}", op.name())),
            delete_mode.repr(|mode| format!("DeleteMode.{}", mode.name())),
        )));
    }
    let delete_mode = delete_mode.member().unwrap_or(DeleteMode::DoNotDelete);

    let file_queue = Meta::from_dict(&meta).file_queue()?.to_owned();
    let path_queue = Meta::from_dict(&meta).path_queue()?.to_owned();
    let mut dir_meta = meta.clone();
    dir_meta.insert("queue_name", file_queue.as_str());
    run.enqueue(&handler, names::FILESYSTEM_SYNC_DIR, dir_meta).await?;
    meta.insert("queue_name", file_queue.as_str());
    let m = Meta::from_dict(&meta);

    let root = m.root()?;
    let root_target = m.target()?.to_owned();
    let destination = paths::collection_for(&root, &root_target, &path)?;
    let options = ScanOptions {
        files_per_task: m.files_per_task()?,
        exclude: m.exclude_rules()?,
        readability: run.app.settings.readability,
    };

    // Delete mode: what the collection holds now; names seen on disk are taken out below.
    let mut leftovers = if delete_mode == DeleteMode::DoNotDelete {
        None
    } else if handler.capabilities().has_override(Override::CharacterMap) {
        run.log(
            &meta,
            Level::Warning,
            "character_map and non-default Delete Mode are incompatible at this time. Delete Mode will be disabled for this task.",
            PyDict::new(),
        );
        None
    } else {
        Some(listing(run, &handler, &meta, &destination).await?)
    };

    super::profile::list_dir(&run.app, &meta, &run.ctx, "list_dir_prerun");
    let (sender, mut events) = tokio::sync::mpsc::channel::<ScanEvent>(64);
    let scan_dir = path.clone();
    let scanner = tokio::task::spawn_blocking(move || -> Result<(), Failure> {
        let scanner = DirScanner::open(&scan_dir, options)
            .map_err(|e| Failure::new("FileNotFoundError", e.to_string()))?;
        for event in scanner {
            if sender.blocking_send(event).is_err() {
                break;
            }
        }
        Ok(())
    });

    while let Some(event) = events.recv().await {
        run.check_soft_limit()?;
        match event {
            ScanEvent::Directory(sub) => {
                seen(&mut leftovers, &destination, &sub.path, run, &meta, true);
                let mut child = meta.clone();
                child.insert("path", path_value(&sub.path));
                child.insert("mtime", sub.mtime);
                child.insert("ctime", sub.ctime);
                child.insert("queue_name", path_queue.as_str());
                run.enqueue(&handler, names::FILESYSTEM_SYNC_PATH, child).await?;
            }
            ScanEvent::Chunk(entries) => {
                for entry in &entries {
                    seen(&mut leftovers, &destination, &entry.path, run, &meta, false);
                }
                let mut child = meta.clone();
                child.insert("chunk", chunk_value(&entries));
                child.insert("queue_name", file_queue.as_str());
                run.enqueue(&handler, names::FILESYSTEM_SYNC_FILES, child).await?;
            }
            ScanEvent::Skipped { path, reason } => match reason {
                SkipReason::Excluded => {}
                SkipReason::NotReadable => run.log(
                    &meta,
                    Level::Error,
                    &format!("physical path is not readable [{}]", path.display_lossy()),
                    PyDict::new(),
                ),
                SkipReason::StatFailed(error) => run.log(
                    &meta,
                    Level::Warning,
                    &format!(
                        "entry vanished or cannot be examined, skipped [{}]: {error}",
                        path.display_lossy()
                    ),
                    PyDict::new(),
                ),
            },
            ScanEvent::UnknownFileType { path, mode } => run.log(
                &meta,
                Level::Warning,
                &format!(
                    "File [{}] will not be excluded: st_mode [{mode}] is not recognized.",
                    path.display_lossy()
                ),
                PyDict::new(),
            ),
            ScanEvent::ListingFailed(error) => {
                return Err(Failure::new("OSError", format!("listing {}: {error}", path.display_lossy())));
            }
        }
    }
    scanner.await.map_err(|e| Failure::runtime(format!("directory scan panicked: {e}")))??;
    super::profile::list_dir(&run.app, &meta, &run.ctx, "list_dir_postrun");

    if let Some(Leftovers { collections, data_objects, .. }) = leftovers {
        let data_objects: Vec<String> = data_objects.into_iter().collect();
        let collections: Vec<String> = collections.into_iter().collect();
        schedule_data_objects_for_removal(run, &handler, &meta, &data_objects).await?;
        schedule_collections_for_removal(run, &handler, &meta, &collections).await?;
    }
    Ok(())
}

/// The destination collection's contents not (yet) matched by a name on disk.
struct Leftovers {
    collections: BTreeSet<String>,
    data_objects: BTreeSet<String>,
}

async fn listing(
    run: &TaskRun,
    handler: &Handler,
    meta: &PyDict,
    destination: &str,
) -> Result<Leftovers, Failure> {
    let pool = run.app.irods_for(handler, meta, &run.limits).await?;
    let mut conn = pool.get().await?;
    let (collections, data_objects) = match ops::list_collection(&mut conn, destination).await {
        Ok(listing) => listing,
        Err(ops::OpsError::CollectionDoesNotExist(_)) => (Vec::new(), Vec::new()),
        Err(e) => return Err(e.into()),
    };
    Ok(Leftovers {
        collections: collections.into_iter().collect(),
        data_objects: data_objects.into_iter().collect(),
    })
}

/// Takes an entry seen on disk out of the leftovers. A name that is not valid UTF-8 turns delete
/// mode off for the rest of the task, as in the reference.
fn seen(
    leftovers: &mut Option<Leftovers>,
    destination: &str,
    path: &SourcePath,
    run: &TaskRun,
    meta: &PyDict,
    dir: bool,
) {
    let Some(left) = leftovers else { return };
    let Ok(name) = std::str::from_utf8(paths::basename(path.as_bytes())) else {
        run.log(
            meta,
            Level::Warning,
            "Found a path which will be modified due to UnicodeEncodeError. Delete Mode does not support this and so will be disabled for this task.",
            PyDict::new(),
        );
        *leftovers = None;
        return;
    };
    let logical = format!("{destination}/{name}");
    if dir {
        left.collections.remove(&logical);
    } else {
        left.data_objects.remove(&logical);
    }
}

/// `meta["chunk"]`: `{path: {"is_link", "is_socket", "mtime", "ctime", "size"}}` in scan order.
fn chunk_value(entries: &[ChunkEntry]) -> PyValue {
    let mut chunk = PyDict::with_capacity(entries.len());
    for entry in entries {
        let stats = fields![
            "is_link" => entry.stat.is_link,
            "is_socket" => entry.stat.is_socket,
            "mtime" => entry.stat.mtime,
            "ctime" => entry.stat.ctime,
            "size" => entry.stat.size,
        ];
        chunk.insert(entry.path.to_py_str(), stats);
    }
    PyValue::Dict(chunk)
}
