//! Removing things: unlink (trash, force, unregister), trim, collection create/remove.
//!
//! The rule that makes in-place registration safe: a forced delete removes a physical file only
//! if it lies inside its resource's vault; anything else is just unregistered, as on iRODS.

use irods_proto::Packet;
use irods_proto::messages::{CollInpNew, CollOprStat, DataObjInp, KeyValPair};
use rand::Rng;
use rusqlite::Connection;

use super::data::locate;
use super::session::{Session, decode, ok, ok_with};
use crate::catalog::data_objects::{self, GOOD, Replica};
use crate::catalog::users::User;
use crate::catalog::{access, collections, paths, resources};
use crate::error::{ApiError, ApiResult, codes};
use crate::vault;

const UNREG_OPR: i32 = 26;

fn is_unregister(opr_type: i32, kv: &KeyValPair) -> bool {
    opr_type == UNREG_OPR || kv.get("oprType").and_then(|v| v.trim().parse::<i32>().ok()) == Some(UNREG_OPR)
}

/// Deletes replica rows; with `delete_files`, also their files when inside the vault.
fn drop_replicas(db: &Connection, replicas: &[Replica], delete_files: bool) -> ApiResult<()> {
    for replica in replicas {
        if delete_files
            && let Some(resource) = resources::find_by_id(db, replica.resc_id)?
            && vault::is_in_vault(&resource.vault, &replica.path)
        {
            vault::remove_file(std::path::Path::new(&replica.path))?;
        }
        data_objects::delete_replica(db, replica.data_id, replica.repl_num)?;
    }
    Ok(())
}

/// Where `path` goes in the trash for `user` (admins keep the full path under `/zone/trash`).
fn trash_path(user: &User, path: &str) -> String {
    let zone_prefix = format!("/{}/", user.zone);
    let rest = path.strip_prefix(&zone_prefix).unwrap_or(path.trim_start_matches('/'));
    if user.is_admin() {
        return format!("/{}/trash/{rest}", user.zone);
    }
    let home = format!("home/{}/", user.name);
    let rest = rest.strip_prefix(&home).or_else(|| rest.strip_prefix("home/")).unwrap_or(rest);
    format!("/{}/trash/home/{}/{rest}", user.zone, user.name)
}

/// A name in `coll` that nothing uses yet: `name`, else `name.<random digits>`.
fn free_name(db: &Connection, coll: &collections::Collection, name: &str) -> ApiResult<String> {
    let taken = |candidate: &str| -> ApiResult<bool> {
        Ok(data_objects::exists(db, coll.id, candidate)?
            || collections::find(db, &paths::join(&coll.name, candidate))?.is_some())
    };
    if !taken(name)? {
        return Ok(name.to_string());
    }
    loop {
        let candidate = format!("{name}.{}", rand::rng().random_range(1_000_000_000u64..10_000_000_000));
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
}

fn in_trash(user: &User, path: &str) -> bool {
    paths::is_within(path, &format!("/{}/trash", user.zone))
}

/// Every collection at or below `path`, deepest first.
fn subtree(db: &Connection, path: &str) -> ApiResult<Vec<collections::Collection>> {
    let mut all = vec![collections::require(db, path)?];
    let mut frontier = vec![path.to_string()];
    while let Some(next) = frontier.pop() {
        for child in collections::children(db, &next)? {
            frontier.push(child.name.clone());
            all.push(child);
        }
    }
    all.sort_by_key(|c| std::cmp::Reverse(c.name.len()));
    Ok(all)
}

impl Session {
    /// 615.
    pub(super) fn data_obj_unlink(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: DataObjInp = decode(packet)?;
        let path = paths::normalize(&input.obj_path)?;
        let user = self.user()?.clone();
        let unregister = is_unregister(input.opr_type, &input.cond_input);
        let force = input.cond_input.contains("forceFlag");
        self.state.catalog.write(|db| {
            let located = locate(db, &path)?;
            if located.replicas.is_empty() {
                return Err(ApiError::new(codes::CAT_NO_ROWS_FOUND, format!("{path} does not exist")));
            }
            access::require(db, &user, located.replicas[0].data_id, access::DELETE, &path)?;
            if unregister {
                return drop_replicas(db, &located.replicas, false);
            }
            if force || in_trash(&user, &path) {
                return drop_replicas(db, &located.replicas, true);
            }
            let target = trash_path(&user, &path);
            let (trash_parent, trash_name) = paths::split(&target).unwrap_or(("/", ""));
            collections::create_all(db, trash_parent, &user.name, &user.zone)?;
            let trash_coll = collections::require(db, trash_parent)?;
            let name = free_name(db, &trash_coll, trash_name)?;
            data_objects::rename(db, located.replicas[0].data_id, trash_coll.id, &name)?;
            Ok(())
        })?;
        ok(0)
    }

    /// 632: removes the named replica(s) while keeping at least one.
    pub(super) fn data_obj_trim(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: DataObjInp = decode(packet)?;
        let path = paths::normalize(&input.obj_path)?;
        let kv = &input.cond_input;
        let unregister = is_unregister(input.opr_type, kv);
        let repl_num = kv.get("replNum").and_then(|v| v.parse::<i64>().ok());
        let resc = kv.get("rescName").filter(|v| !v.is_empty()).map(str::to_string);
        let user = self.user()?.clone();
        let trimmed = self.state.catalog.write(|db| {
            let located = locate(db, &path)?;
            if located.replicas.is_empty() {
                return Err(ApiError::new(codes::CAT_NO_ROWS_FOUND, format!("{path} does not exist")));
            }
            access::require(db, &user, located.replicas[0].data_id, access::DELETE, &path)?;
            let matches: Vec<Replica> = located
                .replicas
                .iter()
                .filter(|r| repl_num.is_none_or(|n| r.repl_num == n))
                .filter(|r| resc.as_deref().is_none_or(|name| r.resc_hier.split(';').any(|h| h == name)))
                .cloned()
                .collect();
            if matches.is_empty() {
                return Err(ApiError::new(codes::SYS_REPLICA_DOES_NOT_EXIST, "no matching replica"));
            }
            let remaining: Vec<&Replica> = located
                .replicas
                .iter()
                .filter(|r| !matches.iter().any(|m| m.repl_num == r.repl_num))
                .collect();
            if remaining.is_empty() || !remaining.iter().any(|r| r.status == GOOD) {
                return Ok(0);
            }
            drop_replicas(db, &matches, !unregister)?;
            Ok(1)
        })?;
        ok(trimmed)
    }

    /// 681.
    pub(super) fn coll_create(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: CollInpNew = decode(packet)?;
        let path = paths::normalize(&input.coll_name)?;
        paths::check_local_zone(&path)?;
        let user = self.user()?.clone();
        let recursive = input.cond_input.contains("recursiveOpr");
        self.state.catalog.write(|db| {
            if let Some((parent, name)) = paths::split(&path) {
                paths::check_new_name(name)?;
                if !recursive && let Some(parent_coll) = collections::find(db, parent)? {
                    access::require(db, &user, parent_coll.id, access::WRITE, parent)?;
                }
                if let Some(parent_coll) = collections::find(db, parent)?
                    && data_objects::exists(db, parent_coll.id, name)?
                {
                    return Err(ApiError::new(
                        codes::CAT_NAME_EXISTS_AS_DATAOBJ,
                        format!("{path} is a data object"),
                    ));
                }
            }
            if recursive {
                if collections::find(db, &path)?.is_none() {
                    let mut ancestor = paths::split(&path).map(|(p, _)| p.to_string()).unwrap_or_default();
                    while collections::find(db, &ancestor)?.is_none() {
                        ancestor =
                            paths::split(&ancestor).map(|(p, _)| p.to_string()).unwrap_or_else(|| "/".into());
                    }
                    let existing = collections::require(db, &ancestor)?;
                    access::require(db, &user, existing.id, access::WRITE, &ancestor)?;
                }
                collections::create_all(db, &path, &user.name, &user.zone)
            } else {
                collections::create(db, &path, &user.name, &user.zone)
            }
        })?;
        ok(0)
    }

    /// 679: remove, trash, or unregister a collection.
    pub(super) fn rm_coll(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: CollInpNew = decode(packet)?;
        let path = paths::normalize(&input.coll_name)?;
        let user = self.user()?.clone();
        let kv = &input.cond_input;
        let recursive = kv.contains("recursiveOpr");
        let force = kv.contains("forceFlag");
        let unregister = is_unregister(input.opr_type, kv);
        if recursive && kv.contains("replNum") {
            return Err(ApiError::new(
                codes::USER_INCOMPATIBLE_PARAMS,
                "recursive removal cannot name a replica",
            ));
        }
        if path.matches('/').count() < 3 {
            return Err(ApiError::new(
                codes::CAT_INSUFFICIENT_PRIVILEGE_LEVEL,
                format!("{path} is a system collection and cannot be removed"),
            ));
        }
        let removed = self.state.catalog.write(|db| {
            let coll = collections::find(db, &path)?.ok_or_else(|| {
                ApiError::new(codes::CAT_UNKNOWN_COLLECTION, format!("collection {path} does not exist"))
            })?;
            access::require(db, &user, coll.id, access::DELETE, &path)?;
            let parent = paths::split(&path).map(|(p, _)| p.to_string()).unwrap_or_default();
            let mut count = 0;
            if !recursive {
                if !collections::is_empty(db, coll.id)? {
                    return Err(ApiError::new(
                        codes::CAT_COLLECTION_NOT_EMPTY,
                        format!("{path} is not empty"),
                    ));
                }
                collections::delete_row(db, coll.id)?;
            } else if force || unregister || in_trash(&user, &path) {
                for member in subtree(db, &path)? {
                    let replicas = data_objects::in_collection(db, member.id)?;
                    count += replicas.len() as i32;
                    drop_replicas(db, &replicas, !unregister)?;
                    collections::delete_row(db, member.id)?;
                }
            } else {
                let target = trash_path(&user, &path);
                let (trash_parent, trash_name) = paths::split(&target).unwrap_or(("/", ""));
                collections::create_all(db, trash_parent, &user.name, &user.zone)?;
                let trash_coll = collections::require(db, trash_parent)?;
                let name = free_name(db, &trash_coll, trash_name)?;
                collections::rename_tree(db, &path, &paths::join(trash_parent, &name))?;
            }
            if let Some(parent) = collections::find(db, &parent)? {
                collections::touch(db, parent.id)?;
            }
            Ok(count)
        })?;
        ok_with(
            0,
            &CollOprStat {
                files_cnt: removed,
                total_file_cnt: removed,
                bytes_written: 0,
                last_obj_path: path,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, kind: &str) -> User {
        User { id: 1, name: name.into(), kind: kind.into(), zone: "tempZone".into() }
    }

    #[test]
    fn trash_paths() {
        assert_eq!(
            trash_path(&user("rods", "rodsadmin"), "/tempZone/home/rods/a/b"),
            "/tempZone/trash/home/rods/a/b"
        );
        assert_eq!(
            trash_path(&user("alice", "rodsuser"), "/tempZone/home/alice/x"),
            "/tempZone/trash/home/alice/x"
        );
        assert_eq!(
            trash_path(&user("alice", "rodsuser"), "/tempZone/home/bob/x"),
            "/tempZone/trash/home/alice/bob/x"
        );
    }
}
