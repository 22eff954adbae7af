//! Registration in place: new objects and replicas (`register_file`), metadata refresh of
//! changed files (`update_metadata`), and the replica check of REGISTER_AS_REPLICA_SYNC (§7.2, §7.3).

use irods_proto::consts::kw;
use irods_proto::messages::{DataObjInfo, KeyValPair};
use irods_proto::{Connection, Query, col};

use super::annotate::annotate_special_data_object;
use super::entry::FileEntry;
use super::error::{OpsError, Result};
use super::resources::child_of;
use super::split_logical;

/// `filesystem.register_file`: registers the source file as `entry.target` without moving it,
/// then adds the special-file AVUs.
///
/// * `target_path`: what the handler's `target_path()` returned (the physical path to record);
///   `None` records `meta["path"]` (or the made-up Unicode path, see
///   [`FileEntry::physical_path_to_register`]).
/// * `resource`: what `to_resource()` returned; sent as `destRescName`.
/// * `options`: the call's keyword arguments ([`super::sync_options`], plus `regRepl` to add a
///   replica to an existing object). Sent in the request's `KeyValPair` together with
///   `destRescName`, `dataSize = str(size)` and `dataModify = str(int(mtime))`.
pub async fn register_file(
    conn: &mut Connection,
    entry: &FileEntry,
    target_path: Option<&str>,
    resource: Option<&str>,
    options: &KeyValPair,
) -> Result<()> {
    let physical = entry.physical_path_to_register(target_path)?;
    let mut options = options.clone();
    if let Some(resource) = resource {
        options.set(kw::DEST_RESC_NAME, resource);
    }
    let source = entry.local_source()?;
    options.set(kw::DATA_SIZE, entry.size_text()?);
    options.set(kw::DATA_MODIFY, entry.mtime_secs()?.to_string());
    tracing::info!(target = %entry.target, physical = %physical, "registering object");
    conn.register(&physical, &entry.target, options).await?;
    annotate_special_data_object(conn, entry, &source, &entry.target).await
}

/// `filesystem.update_metadata`: the file changed; record its new size and mtime and mark the
/// replica(s) good. The physical path of a replica is never changed.
///
/// Without `resource` every replica is updated (`all`). With one, the replica to update is the
/// one whose physical path is the one this entry registers and whose resource is `resource` or
/// below it (the last such row wins); none → "wrong resource or path".
pub async fn update_metadata(
    conn: &mut Connection,
    entry: &FileEntry,
    target_path: Option<&str>,
    resource: Option<&str>,
    options: &KeyValPair,
) -> Result<()> {
    let physical = entry.physical_path_to_register(target_path)?;
    let size = entry.size.ok_or_else(|| crate::meta::MetaError::Missing("size".into()))?;
    let mtime = entry.mtime_secs()?;
    let repl_num = match resource {
        None => None,
        Some(resource) => {
            let found = replica_to_update(conn, &entry.target, &physical, resource).await?;
            Some(found.ok_or(OpsError::WrongResourceOrPath)?)
        }
    };
    let mut reg_param = KeyValPair::new()
        .with(kw::DATA_SIZE, size.to_string())
        .with(kw::DATA_MODIFY, mtime.to_string())
        .with(kw::ALL_REPL_STATUS, "1");
    if repl_num.is_none() {
        reg_param.set(kw::ALL, "");
    }
    let info = DataObjInfo {
        obj_path: entry.target.clone(),
        repl_num: repl_num.unwrap_or(0),
        cond_input: options.clone(),
        ..Default::default()
    };
    tracing::info!(target = %entry.target, ?repl_num, "updating object metadata");
    conn.mod_data_obj_meta(info, reg_param).await?;
    Ok(())
}

/// The replica number `update_metadata` picks: last row with this physical path under `resource`.
async fn replica_to_update(
    conn: &mut Connection,
    logical: &str,
    physical: &str,
    resource: &str,
) -> Result<Option<i32>> {
    let (coll, name) = split_logical(logical);
    let rows = conn
        .query(
            &Query::select(&[col::R_RESC_NAME, col::D_DATA_PATH, col::DATA_REPL_NUM])
                .eq(col::DATA_NAME, name)
                .eq(col::COLL_NAME, coll),
        )
        .await?;
    let mut found = None;
    for row in rows {
        let [resc, path, repl] = <[String; 3]>::try_from(row).unwrap_or_default();
        if path == physical && child_of(conn, &resc, resource).await? {
            let repl = repl.parse().map_err(|_| {
                irods_proto::Error::Protocol(format!("replica number {repl:?} is not a number"))
            })?;
            found = Some(repl);
        }
    }
    Ok(found)
}

/// What REGISTER_AS_REPLICA_SYNC found for an existing object (§7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// No replica on `to_resource` or below it: register the file as a new replica.
    Missing,
    /// A replica there has this entry's path: treat as an ordinary existing object.
    Present,
}

/// The replica check of `sync_data_from_file` for REGISTER_AS_REPLICA_SYNC on an existing object.
///
/// `resource` is `to_resource()`'s answer (`None` → "no resource name defined"). A replica under
/// the resource whose path differs from `meta["path"]` (compared as given, without
/// `target_path`) is an error, as in the reference.
pub async fn replica_state(
    conn: &mut Connection,
    entry: &FileEntry,
    resource: Option<&str>,
) -> Result<ReplicaState> {
    let resource = resource.ok_or(OpsError::NoResourceName)?;
    let (coll, name) = split_logical(&entry.target);
    let rows = conn
        .query(
            &Query::select(&[col::D_RESC_NAME, col::D_DATA_PATH])
                .eq(col::COLL_NAME, coll)
                .eq(col::DATA_NAME, name),
        )
        .await?;
    let (mut found, mut found_path) = (false, false);
    for row in rows {
        let [resc, path] = <[String; 2]>::try_from(row).unwrap_or_default();
        if child_of(conn, &resc, resource).await? {
            found = true;
            if Some(path.as_str()) == entry.path_text() {
                found_path = true;
            }
        }
    }
    match (found, found_path) {
        (false, _) => Ok(ReplicaState::Missing),
        (true, true) => Ok(ReplicaState::Present),
        (true, false) => Err(OpsError::ReplicaPathMismatch {
            target: entry.target.clone(),
            resource: resource.to_owned(),
            path: entry.path.display_lossy(),
        }),
    }
}
