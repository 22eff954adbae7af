//! Collections: `create_dirs` (parents first, one hook per created level, under Redis locks the
//! caller takes), `create_dir`, and the emptiness check of the delete tasks.

use std::future::Future;

use irods_proto::{Connection, Query, col};

use super::error::{OpsError, Result};
use crate::paths::{self, SourcePath};

/// Name of the python-redis-lock lock `create_dirs` holds while creating `collection`
/// (Redis key `lock:create_dirs:<collection>`).
pub fn create_dirs_lock_name(collection: &str) -> String {
    format!("create_dirs:{collection}")
}

/// Name of the lock the delete tasks hold while checking and removing `collection`.
pub fn delete_collection_lock_name(collection: &str) -> String {
    format!("delete_collection:{collection}")
}

/// One collection `create_dirs` creates, with the `meta` values its `on_coll_create` hook sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionLevel {
    /// `meta["target"]` of this level: the collection to create.
    pub target: String,
    /// `meta["path"]` of this level: the source directory, `dirname` applied as often as to the
    /// target (for an undecodable file name the path stays the file's parent one level longer, as
    /// in the reference).
    pub path: SourcePath,
}

/// What `create_dirs` needs from its caller: the Redis lock and the hook-wrapped creation.
///
/// The reference takes `lock:create_dirs:<collection>` after seeing the collection missing, checks
/// again under the lock, creates the parent chain (taking the parents' locks while holding this
/// one), then runs `on_coll_create(create_dir)` and releases. [`create_dirs`] follows exactly
/// that order and calls back here for the two steps that are not iRODS calls.
pub trait CreateDirsDriver: Send {
    type Guard: Send;

    /// Acquires the python-redis-lock lock `name`, which is
    /// [`create_dirs_lock_name`]`(collection)`.
    fn lock(&mut self, name: &str) -> impl Future<Output = Result<Self::Guard>> + Send;

    /// Releases a lock taken by [`CreateDirsDriver::lock`].
    fn unlock(&mut self, guard: Self::Guard) -> impl Future<Output = Result<()>> + Send;

    /// Runs `on_coll_create(create_dir)` for one level; without hooks, just [`create_dir`].
    fn create(
        &mut self,
        conn: &mut Connection,
        level: &CollectionLevel,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// `irods_utils.create_dir`: creates the collection (recursively, python-irodsclient's default,
/// so an existing one is no error).
pub async fn create_dir(conn: &mut Connection, target: &str) -> Result<()> {
    tracing::info!(target, "creating collection");
    conn.create_collection(target, true).await?;
    Ok(())
}

/// `irods_utils.create_dirs(meta)` for `meta["target"] = target`, `meta["path"] = path`: creates
/// every missing collection from the topmost missing ancestor down to `target`, one
/// [`CreateDirsDriver::create`] per level, under the levels' locks.
///
/// For a file entry the caller passes the file's parent collection and directory (the reference's
/// `meta2`; for an undecodable name `meta["path"]` is already the parent and stays as it is).
pub async fn create_dirs<D: CreateDirsDriver>(
    conn: &mut Connection,
    target: &str,
    path: &SourcePath,
    driver: &mut D,
) -> Result<()> {
    // Locks held, outermost (the requested target) first, like the reference's nested `with`.
    let mut held: Vec<(CollectionLevel, D::Guard)> = Vec::new();
    let mut level = CollectionLevel { target: target.to_owned(), path: path.clone() };
    let walked = async {
        loop {
            if !level.target.starts_with('/') {
                return Err(OpsError::RelativeCollection {
                    target: level.target.clone(),
                    path: level.path.display_lossy(),
                });
            }
            if conn.collection_exists(&level.target).await? {
                return Ok(());
            }
            let guard = driver.lock(&create_dirs_lock_name(&level.target)).await?;
            let exists = conn.collection_exists(&level.target).await;
            if !matches!(exists, Ok(false)) {
                driver.unlock(guard).await?;
                return exists.map(|_| ()).map_err(OpsError::from);
            }
            let parent = CollectionLevel {
                target: dirname_str(&level.target),
                path: SourcePath::from_bytes(paths::dirname(level.path.as_bytes()).to_vec())?,
            };
            held.push((std::mem::replace(&mut level, parent), guard));
        }
    }
    .await;
    // Unwind: the innermost (topmost missing collection) is created first.
    let mut result = walked;
    while let Some((level, guard)) = held.pop() {
        if result.is_ok() {
            result = driver.create(conn, &level).await;
        }
        let released = driver.unlock(guard).await;
        if result.is_ok() {
            result = released;
        }
    }
    result
}

/// `os.path.dirname` of a logical path.
fn dirname_str(path: &str) -> String {
    // Cutting at '/' keeps UTF-8 intact.
    String::from_utf8_lossy(paths::dirname(path.as_bytes())).into_owned()
}

/// `len(coll.data_objects) == 0 and len(coll.subcollections) == 0` after `collections.get(path)`:
/// whether the collection has neither data objects nor sub-collections. A missing collection is
/// [`OpsError::CollectionDoesNotExist`], like python-irodsclient's `collections.get`.
pub async fn collection_is_empty(conn: &mut Connection, path: &str) -> Result<bool> {
    if !conn.collection_exists(path).await? {
        return Err(OpsError::CollectionDoesNotExist(path.to_owned()));
    }
    let objects = conn.query_first(&Query::select(&[col::D_DATA_ID]).eq(col::COLL_NAME, path)).await?;
    if objects.is_some() {
        return Ok(false);
    }
    // The root collection is its own parent in the catalog; it is not its own sub-collection.
    let subcollections = conn
        .query_first(&Query::select(&[col::COLL_ID]).eq(col::COLL_PARENT_NAME, path).ne(col::COLL_NAME, path))
        .await?;
    Ok(subcollections.is_none())
}

/// The collection the reference checks after removing `path` in `delete_collection`:
/// `"/".join(path.split("/")[:-1])`, or `None` when that is the job's root target collection
/// (which is never removed).
///
/// **Reference bug kept visible, not copied:** the reference then runs `on_coll_delete` with the
/// *child's* meta, so the parent is never removed; callers decide what to do with the parent.
pub fn parent_to_check_after_delete(path: &str, root_target_collection: &str) -> Option<String> {
    let parent = match path.rfind('/') {
        Some(at) => &path[..at],
        None => "",
    };
    (parent != root_target_collection).then(|| parent.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_removed_collection() {
        assert_eq!(parent_to_check_after_delete("/z/h/root/a/b", "/z/h/root"), Some("/z/h/root/a".into()));
        assert_eq!(parent_to_check_after_delete("/z/h/root/a", "/z/h/root"), None);
        assert_eq!(dirname_str("/z/h"), "/z");
        assert_eq!(dirname_str("/z"), "/");
        assert_eq!(create_dirs_lock_name("/z/a"), "create_dirs:/z/a");
    }
}

/// `irods_utils.list_collection`: the logical paths of the sub-collections and of the data
/// objects directly in `path` (python-irodsclient's `subcollections` and `data_objects`). A
/// missing collection is [`OpsError::CollectionDoesNotExist`].
pub async fn list_collection(conn: &mut Connection, path: &str) -> Result<(Vec<String>, Vec<String>)> {
    if !conn.collection_exists(path).await? {
        return Err(OpsError::CollectionDoesNotExist(path.to_owned()));
    }
    let mut subcollections: Vec<String> = conn
        .query(&Query::select(&[col::COLL_NAME]).eq(col::COLL_PARENT_NAME, path).ne(col::COLL_NAME, path))
        .await?
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .collect();
    subcollections.sort();
    subcollections.dedup();
    let mut names: Vec<String> = conn
        .query(&Query::select(&[col::DATA_NAME]).eq(col::COLL_NAME, path))
        .await?
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .collect();
    names.sort();
    names.dedup();
    let prefix = path.trim_end_matches('/');
    let objects = names.into_iter().map(|name| format!("{prefix}/{name}")).collect();
    Ok((subcollections, objects))
}
