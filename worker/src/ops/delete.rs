//! Removal of data objects and collections whose source vanished (§7.10).

use irods_proto::Connection;

use super::decision::DeleteMode;
use super::error::Result;

/// The function `on_data_obj_delete` wraps for a delete mode (`irods_utils.get_delete_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataObjectRemoval {
    /// UNREGISTER: remove the catalog entry, keep the file (unlink with `oprType=26`).
    Unregister,
    /// TRASH: move the object to the trash (unlink).
    Trash,
    /// NO_TRASH: delete it (unlink with `forceFlag`; a file registered in place outside the
    /// vault is only unregistered by iRODS).
    NoTrash,
}

impl DataObjectRemoval {
    /// `None` for DO_NOT_DELETE, where the reference does nothing at all.
    pub fn for_mode(mode: DeleteMode) -> Option<DataObjectRemoval> {
        match mode {
            DeleteMode::DoNotDelete => None,
            DeleteMode::Unregister => Some(DataObjectRemoval::Unregister),
            DeleteMode::Trash => Some(DataObjectRemoval::Trash),
            DeleteMode::NoTrash => Some(DataObjectRemoval::NoTrash),
        }
    }

    /// The reference function's name (`unregister_data_object`, ...).
    pub fn function_name(self) -> &'static str {
        match self {
            DataObjectRemoval::Unregister => "unregister_data_object",
            DataObjectRemoval::Trash => "trash_data_object",
            DataObjectRemoval::NoTrash => "unlink_data_object",
        }
    }

    /// Runs the removal of `logical` (the body `on_data_obj_delete` wraps).
    pub async fn apply(self, conn: &mut Connection, logical: &str) -> Result<()> {
        tracing::debug!(logical, function = self.function_name(), "removing data object");
        match self {
            DataObjectRemoval::Unregister => conn.unregister(logical).await?,
            DataObjectRemoval::Trash => conn.unlink(logical, false).await?,
            DataObjectRemoval::NoTrash => conn.unlink(logical, true).await?,
        }
        Ok(())
    }
}

/// `irods_utils.unregister_data_object`.
pub async fn unregister_data_object(conn: &mut Connection, logical: &str) -> Result<()> {
    DataObjectRemoval::Unregister.apply(conn, logical).await
}

/// `irods_utils.trash_data_object`.
pub async fn trash_data_object(conn: &mut Connection, logical: &str) -> Result<()> {
    DataObjectRemoval::Trash.apply(conn, logical).await
}

/// `irods_utils.unlink_data_object` (no trash).
pub async fn unlink_data_object(conn: &mut Connection, logical: &str) -> Result<()> {
    DataObjectRemoval::NoTrash.apply(conn, logical).await
}

/// What [`removal_for`] decided for one path of a `delete_data_objects` task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalPlan {
    /// DO_NOT_DELETE: skip, without looking at iRODS.
    Keep,
    /// The object does not exist (any more): skip.
    Absent,
    /// Run `on_data_obj_delete` around this removal.
    Remove(DataObjectRemoval),
}

/// `irods_utils.delete_data_object` up to the hook: the mode first, then existence.
pub async fn removal_for(conn: &mut Connection, logical: &str, mode: DeleteMode) -> Result<RemovalPlan> {
    let Some(removal) = DataObjectRemoval::for_mode(mode) else {
        return Ok(RemovalPlan::Keep);
    };
    if !conn.data_object_exists(logical).await? {
        return Ok(RemovalPlan::Absent);
    }
    Ok(RemovalPlan::Remove(removal))
}

/// `irods_utils.unregister_collection`: unregisters one empty collection (no recursion, no force;
/// for every delete mode, collections are unregistered, never trashed).
pub async fn unregister_collection(conn: &mut Connection, path: &str) -> Result<()> {
    tracing::debug!(path, "unregistering collection");
    conn.unregister_collection(path).await?;
    Ok(())
}
