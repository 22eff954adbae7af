//! Replication: the replicate API (695) and replication resources, which keep a replica on every
//! storage leaf below them (a write through one leaf is copied to the others when it closes).
//!
//! Copies run outside the catalog lock: the plan (source and target rows) is made in one
//! transaction, the file is copied, and the target row is written in a second one.

use std::path::Path;

use irods_proto::Packet;
use irods_proto::messages::DataObjInp;
use rusqlite::Connection;

use super::data::{locate, new_replica};
use super::session::{Session, decode, ok};
use crate::catalog::data_objects::{self, GOOD, Replica};
use crate::catalog::resources::{self, Placement, Resource};
use crate::catalog::users::User;
use crate::catalog::{DEFAULT_RESOURCE, paths};
use crate::error::{ApiError, ApiResult, codes};
use crate::vault;

/// Every storage leaf at or below `root`.
fn storage_leaves(db: &Connection, root: &Resource) -> ApiResult<Vec<Resource>> {
    let mut leaves = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(resource) = pending.pop() {
        if leaves.len() + pending.len() > 256 {
            break;
        }
        if resource.is_storage() {
            leaves.push(resource);
        } else {
            pending.extend(resources::children(db, resource.id)?);
        }
    }
    leaves.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(leaves)
}

/// Copies `source`'s file to `target` (a new or existing replica row) and records it as good.
fn copy_into(session: &Session, source: &Replica, mut target: Replica, is_new: bool) -> ApiResult<()> {
    let destination = Path::new(&target.path);
    vault::make_parent_dirs(destination)?;
    std::fs::copy(&source.path, destination)
        .map_err(|e| ApiError::unix(codes::UNIX_FILE_OPEN_ERR, &e, &source.path))?;
    target.size = source.size;
    target.checksum = source.checksum.clone();
    target.modify_ts = source.modify_ts.clone();
    target.status = GOOD;
    session.state.catalog.write(|db| {
        if is_new {
            data_objects::insert(db, &target)?;
        } else {
            data_objects::update(db, &target)?;
        }
        Ok(())
    })
}

impl Session {
    /// 695: make (or refresh) a replica on the destination resource from a good one.
    pub(super) fn data_obj_repl(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: DataObjInp = decode(packet)?;
        let path = paths::normalize(&input.obj_path)?;
        let kv = input.cond_input.clone();
        let user = self.user()?.clone();
        let update_all = kv.contains("all") || kv.contains("updateRepl");
        let jobs: Vec<(Replica, Replica, bool)> = self.state.catalog.read(|db| {
            let located = locate(db, &path)?;
            if located.replicas.is_empty() {
                return Err(ApiError::new(codes::OBJ_PATH_DOES_NOT_EXIST, format!("{path} does not exist")));
            }
            let good: Vec<&Replica> = located.replicas.iter().filter(|r| r.status == GOOD).collect();
            let source = match (kv.get("replNum").and_then(|n| n.parse::<i64>().ok()), kv.get("rescName")) {
                (Some(num), _) => located.replicas.iter().find(|r| r.repl_num == num),
                (None, Some(name)) if !name.is_empty() => {
                    good.iter().copied().find(|r| r.resc_hier.split(';').next() == Some(name))
                }
                _ => good.first().copied(),
            }
            .cloned()
            .ok_or_else(|| {
                ApiError::new(codes::SYS_REPLICA_DOES_NOT_EXIST, "no good replica to copy from")
            })?;
            if update_all {
                return Ok(located
                    .replicas
                    .iter()
                    .filter(|r| r.status != GOOD)
                    .map(|r| (source.clone(), r.clone(), false))
                    .collect());
            }
            let destination = kv
                .get("destRescName")
                .filter(|n| !n.is_empty())
                .or_else(|| kv.get("defRescName").filter(|n| !n.is_empty()))
                .unwrap_or(DEFAULT_RESOURCE);
            let placement = resources::place_for_write(db, destination)?;
            match located.replicas.iter().find(|r| r.resc_hier == placement.hierarchy) {
                Some(existing) if existing.status == GOOD => Ok(Vec::new()),
                Some(existing) => Ok(vec![(source, existing.clone(), false)]),
                None => {
                    let target =
                        new_replica(db, &located, &path, &placement, &user, Some(&source.data_type))?;
                    Ok(vec![(source, target, true)])
                }
            }
        })?;
        for (source, target, is_new) in jobs {
            let granted = is_new.then_some(target.data_id);
            copy_into(self, &source, target, is_new)?;
            if let Some(data_id) = granted {
                self.state
                    .catalog
                    .write(|db| data_objects::grant_owner(db, data_id, &user.name, &user.zone))?;
            }
        }
        ok(0)
    }

    /// After a write through a replication resource: bring every other leaf below the same root
    /// up to date with the replica just written.
    pub(super) fn replicate_within_root(&self, written: &Replica, user: &User) -> ApiResult<()> {
        let jobs: Vec<(Replica, Replica, bool)> = self.state.catalog.read(|db| {
            let Some(root_name) = written.resc_hier.split(';').next() else { return Ok(Vec::new()) };
            let Some(root) = resources::find(db, root_name)? else { return Ok(Vec::new()) };
            if root.kind != "replication" {
                return Ok(Vec::new());
            }
            let path = format!(
                "{}/{}",
                crate::catalog::collections::find_by_id(db, written.coll_id)?
                    .map(|c| c.name)
                    .unwrap_or_default(),
                written.name
            );
            let mut located = locate(db, &path)?;
            let mut jobs = Vec::new();
            for leaf in storage_leaves(db, &root)? {
                if leaf.id == written.resc_id {
                    continue;
                }
                let placement = Placement { hierarchy: resources::hierarchy(db, &leaf)?, leaf };
                match located.replicas.iter().find(|r| r.resc_id == placement.leaf.id) {
                    Some(existing) => jobs.push((written.clone(), existing.clone(), false)),
                    None => {
                        let target =
                            new_replica(db, &located, &path, &placement, user, Some(&written.data_type))?;
                        located.replicas.push(target.clone());
                        jobs.push((written.clone(), target, true));
                    }
                }
            }
            Ok(jobs)
        })?;
        for (source, target, is_new) in jobs {
            let data_id = target.data_id;
            copy_into(self, &source, target, is_new)?;
            if is_new {
                self.state
                    .catalog
                    .write(|db| data_objects::grant_owner(db, data_id, &user.name, &user.zone))?;
            }
        }
        Ok(())
    }
}
