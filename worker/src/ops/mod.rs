//! The iRODS side of the ingest: what the reference's `irods/filesystem.py` and
//! `irods/irods_utils.py` do in the catalog for each entry, with the same effects (§6.5, §7 of
//! the reference notes).
//!
//! Every entry point is a plain async function over an `irods_proto` [`Connection`] (or a
//! [`irods_proto::Pool`] for uploads) with explicit inputs — no sessions, handlers or Redis held here — so the
//! task layer can call it directly or from inside the Python callable a handler's `on_*` hook
//! wraps. The handler calls the reference makes *inside* an operation (`target_path()`,
//! `to_resource()`) are the caller's job; their answers are parameters here. Hooks are the
//! caller's job too: [`decide`] says which function runs inside which event.
//!
//! A file entry, as `sync_data_from_file` runs it:
//!
//! 1. `exists = data_object_exists(target)` (skipped under `initial_ingest`); if not, a
//!    collection at `target` is [`OpsError::TargetIsCollection`] ([`check_not_collection`]).
//! 2. `op = operation()`; NO_OP → [`FileAction::NoOp`] and stop.
//! 3. if [`needs_replica_check`]: `to_resource()`, then [`replica_state`].
//! 4. [`decide`] → a [`FileAction`]; if [`FileAction::creates_parent_collections`],
//!    [`create_dirs`] for the parent (under the caller's `create_dirs:` locks).
//! 5. inside the event's hooks, with [`FileAction::options`]: [`register_file`],
//!    [`upload_file`], [`sync_file`] or [`update_metadata`] (reading [`FileEntry`] from the meta
//!    the hooks pass on).
//!
//! Deletes: [`removal_for`] then `on_data_obj_delete` around [`DataObjectRemoval::apply`];
//! collections: [`collection_is_empty`] under [`delete_collection_lock_name`], then
//! [`unregister_collection`].

mod annotate;
mod collections;
mod decision;
mod delete;
mod entry;
mod error;
mod options;
mod register;
mod resources;
mod transfer;

use irods_proto::Connection;

pub use annotate::{
    B64_ATTRIBUTE_PREFIX, B64_PATH_UNITS, SPECIAL_FILE_UNITS, annotate_special_data_object, has_attribute,
    special_avus,
};
pub use collections::{
    CollectionLevel, CreateDirsDriver, collection_is_empty, create_dir, create_dirs, create_dirs_lock_name,
    delete_collection_lock_name, list_collection, parent_to_check_after_delete,
};
pub use decision::{DataObjEvent, DeleteMode, FileAction, Operation, decide, needs_replica_check};
pub use delete::{
    DataObjectRemoval, RemovalPlan, removal_for, trash_data_object, unlink_data_object,
    unregister_collection, unregister_data_object,
};
pub use entry::FileEntry;
pub use error::{OpsError, Result};
pub use options::{ALLOW_REDIRECT, open_options, sync_options};
pub use register::{ReplicaState, register_file, replica_state, update_metadata};
pub use resources::child_of;
pub use transfer::{
    ReplicaFacts, append_to_data_object, data_object_size, default_put_threads, object_matches_file,
    replica_facts, sync_file, upload_file,
};

/// The existence check of `sync_data_from_file`: whether a data object is at `entry.target`;
/// when none is, a collection there is an error.
pub async fn check_not_collection(conn: &mut Connection, entry: &FileEntry) -> Result<bool> {
    if conn.data_object_exists(&entry.target).await? {
        return Ok(true);
    }
    if conn.collection_exists(&entry.target).await? {
        return Err(OpsError::TargetIsCollection {
            path: entry.path.display_lossy(),
            target: entry.target.clone(),
        });
    }
    Ok(false)
}

/// `os.path.dirname` / `os.path.basename` of a logical path (cutting at '/' keeps UTF-8 whole).
pub(crate) fn split_logical(path: &str) -> (&str, &str) {
    let cut = path.rfind('/').map_or(0, |i| i + 1);
    let (head, name) = path.split_at(cut);
    let trimmed = head.trim_end_matches('/');
    let dir = if trimmed.is_empty() { &head[..head.len().min(1)] } else { trimmed };
    (dir, name)
}

#[cfg(test)]
mod tests {
    use irods_proto::messages::KeyValPair;
    use irods_proto::{Connection, Pool};

    use super::*;

    /// The task layer spawns operations on a multi-threaded runtime: their futures must be `Send`.
    #[allow(dead_code)]
    fn operation_futures_are_send(
        conn: &mut Connection,
        pool: &Pool,
        entry: &FileEntry,
        options: &KeyValPair,
    ) {
        fn send<T: Send>(_: T) {}
        send(check_not_collection(conn, entry));
        send(replica_state(conn, entry, None));
        send(register_file(conn, entry, None, None, options));
        send(update_metadata(conn, entry, None, None, options));
        send(upload_file(pool, entry, None, options, 1));
        send(sync_file(pool, entry, Operation::PutAppend, None, options, 1));
        send(create_dir(conn, "/z"));
        send(collection_is_empty(conn, "/z"));
        send(DataObjectRemoval::Trash.apply(conn, "/z/a"));
        send(removal_for(conn, "/z/a", DeleteMode::Trash));
        send(unregister_collection(conn, "/z"));
        send(child_of(conn, "a", "b"));
    }

    #[test]
    fn split_logical_like_os_path() {
        assert_eq!(super::split_logical("/z/h/a.txt"), ("/z/h", "a.txt"));
        assert_eq!(super::split_logical("/a.txt"), ("/", "a.txt"));
        assert_eq!(super::split_logical("/z/h/"), ("/z/h", ""));
    }
}
