//! Registration of files in place (630) and direct updates of replica rows (622) — the two calls
//! the reference ingest's register modes are built on.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use irods_proto::Packet;
use irods_proto::messages::{DataObjInp, KeyValPair, ModDataObjMeta};
use rusqlite::Connection;

use super::data::{Located, locate, new_replica};
use super::session::{Session, decode, ok};
use crate::catalog::data_objects::{self, GOOD, Replica};
use crate::catalog::resources::{self, Placement};
use crate::catalog::users::User;
use crate::catalog::{DEFAULT_RESOURCE, access, collections, paths};
use crate::error::{ApiError, ApiResult, codes};
use crate::vault;

/// Where a registered replica goes: `resc_hier`, else the named resource (a storage leaf names
/// its own hierarchy; a root resolves down to a leaf; a coordinating child is an error), else the
/// default resource.
fn placement_for_register(db: &Connection, kv: &KeyValPair) -> ApiResult<Placement> {
    if let Some(hier) = kv.get("resc_hier").filter(|h| !h.is_empty()) {
        return resources::place_by_hierarchy(db, hier);
    }
    let named = kv
        .get("destRescName")
        .filter(|n| !n.is_empty())
        .or_else(|| kv.get("rescName").filter(|n| !n.is_empty()))
        .unwrap_or(DEFAULT_RESOURCE);
    let resource = resources::require(db, named)?;
    if resource.parent.is_none() {
        return resources::place_for_write(db, named);
    }
    if !resource.is_storage() {
        return Err(ApiError::new(
            codes::HIERARCHY_ERROR,
            format!("{named} is inside a hierarchy but not a leaf"),
        ));
    }
    let hierarchy = resources::hierarchy(db, &resource)?;
    Ok(Placement { leaf: resource, hierarchy })
}

/// The file facts a registration records.
struct FileFacts {
    size: i64,
    mtime: String,
    checksum: Option<String>,
}

fn file_facts(phys: &str, kv: &KeyValPair) -> ApiResult<FileFacts> {
    let stat = std::fs::metadata(phys);
    let size = match kv.get("dataSize") {
        Some(text) => text.trim().parse::<i64>().unwrap_or(0),
        None => match &stat {
            Ok(meta) => meta.len() as i64,
            Err(e) => return Err(ApiError::unix(codes::UNIX_FILE_STAT_ERR, e, phys)),
        },
    };
    let mtime = match kv.get("dataModify").filter(|m| !m.is_empty()) {
        Some(text) => text.to_string(),
        None => match &stat {
            Ok(meta) => format!("{:011}", meta.mtime().max(0)),
            Err(_) => crate::catalog::now_ts(),
        },
    };
    let checksum = if kv.contains("regChksum") || kv.contains("verifyChksum") {
        Some(vault::checksum(Path::new(phys))?)
    } else {
        None
    };
    Ok(FileFacts { size, mtime, checksum })
}

#[allow(clippy::too_many_arguments)] // one call site per registration form; a struct would only rename them
fn registered_replica(
    db: &Connection,
    located: &Located,
    path: &str,
    phys: &str,
    placement: &Placement,
    user: &User,
    kv: &KeyValPair,
    facts: &FileFacts,
) -> ApiResult<Replica> {
    let mut replica = new_replica(db, located, path, placement, user, kv.get("dataType"))?;
    replica.path = phys.to_string();
    replica.size = facts.size;
    replica.status = GOOD;
    replica.modify_ts = facts.mtime.clone();
    if let Some(sum) = &facts.checksum {
        replica.checksum = sum.clone();
    }
    if let Some(mode) = kv.get("dataMode") {
        replica.mode = mode.to_string();
    }
    Ok(replica)
}

impl Session {
    /// 630.
    pub(super) fn phy_path_reg(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: DataObjInp = decode(packet)?;
        let path = paths::normalize(&input.obj_path)?;
        paths::check_local_zone(&path)?;
        let kv = input.cond_input.clone();
        let phys = kv
            .get("filePath")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ApiError::new(codes::SYS_INVALID_INPUT_PARAM, "registration needs filePath"))?
            .to_string();
        if !phys.starts_with('/') {
            return Err(ApiError::new(codes::SYS_INVALID_FILE_PATH, format!("not an absolute path: {phys}")));
        }
        let user = self.user()?.clone();
        if kv.contains("collection") {
            return self.register_directory(&path, &phys, &kv, &user);
        }
        let facts = file_facts(&phys, &kv)?;
        self.state.catalog.write(|db| {
            if collections::find(db, &path)?.is_some() {
                return Err(ApiError::new(
                    codes::CAT_NAME_EXISTS_AS_COLLECTION,
                    format!("{path} is a collection"),
                ));
            }
            let located = locate(db, &path)?;
            match located.replicas.first() {
                Some(existing) => access::require(db, &user, existing.data_id, access::WRITE, &path)?,
                None => access::require(db, &user, located.coll.id, access::WRITE, &located.coll.name)?,
            }
            let placement = placement_for_register(db, &kv)?;
            if kv.contains("regRepl") {
                if located.replicas.is_empty() {
                    return Err(ApiError::new(
                        codes::OBJ_PATH_DOES_NOT_EXIST,
                        format!("{path} does not exist"),
                    ));
                }
                if located.replicas.iter().any(|r| r.resc_hier == placement.hierarchy) {
                    return Err(ApiError::new(
                        codes::CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME,
                        format!("{path} already has a replica in {}", placement.hierarchy),
                    ));
                }
            } else {
                if !located.replicas.is_empty() {
                    return Err(ApiError::new(
                        codes::CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME,
                        format!("{path} already exists"),
                    ));
                }
                paths::check_new_name(&located.name)?;
            }
            let replica = registered_replica(db, &located, &path, &phys, &placement, &user, &kv, &facts)?;
            data_objects::insert(db, &replica)?;
            data_objects::grant_owner(db, replica.data_id, &user.name, &user.zone)?;
            // A replica registered with `regRepl` becomes the good one; the others go stale (the
            // reference ingest's REGISTER_AS_REPLICA tests check exactly this).
            for other in located.replicas.iter().filter(|r| r.status == GOOD) {
                let mut other = other.clone();
                other.status = data_objects::STALE;
                data_objects::update(db, &other)?;
            }
            Ok(())
        })?;
        ok(0)
    }

    /// 630 with `collection`: registers a directory tree (sub-directories become collections).
    fn register_directory(
        &mut self,
        path: &str,
        dir: &str,
        kv: &KeyValPair,
        user: &User,
    ) -> ApiResult<Packet> {
        let mut entries = Vec::new();
        walk(Path::new(dir), path, &mut entries)?;
        let exclude = kv.get("excludeFile").map(str::to_string);
        let mut file_kv = kv.clone();
        file_kv.remove("collection");
        file_kv.remove("dataSize");
        file_kv.remove("dataModify");
        self.state.catalog.write(|db| {
            collections::create_all(db, path, &user.name, &user.zone)?;
            let placement = placement_for_register(db, kv)?;
            for (logical, physical, is_dir) in &entries {
                if *is_dir {
                    collections::create_all(db, logical, &user.name, &user.zone)?;
                    continue;
                }
                if exclude.as_deref().is_some_and(|x| physical.ends_with(x)) {
                    continue;
                }
                let located = locate(db, logical)?;
                if !located.replicas.is_empty() {
                    continue;
                }
                let facts = file_facts(physical, &file_kv)?;
                let replica =
                    registered_replica(db, &located, logical, physical, &placement, user, &file_kv, &facts)?;
                data_objects::insert(db, &replica)?;
                data_objects::grant_owner(db, replica.data_id, &user.name, &user.zone)?;
            }
            Ok(())
        })?;
        ok(0)
    }

    /// 622: update replica rows directly (size, modify time, status, ...).
    pub(super) fn mod_data_obj_meta(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: ModDataObjMeta = decode(packet)?;
        let info = &input.data_obj_info;
        let path = paths::normalize(&info.obj_path)?;
        let params = &input.reg_param;
        if params.is_empty() {
            return ok(0);
        }
        let all = params.contains("all");
        let user = self.user()?.clone();
        self.state.catalog.write(|db| {
            let located = locate(db, &path)?;
            if located.replicas.is_empty() {
                return Err(ApiError::new(codes::CAT_NO_ROWS_FOUND, format!("{path} does not exist")));
            }
            access::require(db, &user, located.replicas[0].data_id, access::WRITE, &path)?;
            let targets: Vec<i64> = if all {
                located.replicas.iter().map(|r| r.repl_num).collect()
            } else if !info.resc_hier.is_empty() {
                located
                    .replicas
                    .iter()
                    .filter(|r| r.resc_hier == info.resc_hier)
                    .map(|r| r.repl_num)
                    .collect()
            } else {
                located
                    .replicas
                    .iter()
                    .filter(|r| r.repl_num == i64::from(info.repl_num))
                    .map(|r| r.repl_num)
                    .collect()
            };
            if targets.is_empty() {
                return Err(ApiError::new(codes::SYS_REPLICA_DOES_NOT_EXIST, "no replica matches"));
            }
            let all_status = params.get("allReplStatus").map(|v| v.trim().parse::<i64>().unwrap_or(GOOD));
            for mut replica in located.replicas.clone() {
                let targeted = targets.contains(&replica.repl_num);
                if targeted {
                    apply_params(db, &mut replica, params)?;
                    if let Some(status) = all_status {
                        replica.status = status;
                    }
                } else if all_status.is_some() && replica.status == GOOD {
                    replica.status = data_objects::STALE;
                } else {
                    continue;
                }
                data_objects::update(db, &replica)?;
            }
            Ok(())
        })?;
        ok(0)
    }
}

/// Applies the updatable `regParam` keys to a replica; unknown keys are ignored, as iRODS does
/// for keywords it does not map to columns.
fn apply_params(db: &Connection, replica: &mut Replica, params: &KeyValPair) -> ApiResult<()> {
    for (key, value) in &params.pairs {
        match key.as_str() {
            "dataSize" => replica.size = value.trim().parse().unwrap_or(replica.size),
            "dataModify" => replica.modify_ts = value.clone(),
            "dataCreate" => replica.create_ts = value.clone(),
            "chksum" => replica.checksum = value.clone(),
            "replStatus" => replica.status = value.trim().parse().unwrap_or(replica.status),
            "dataType" => replica.data_type = value.clone(),
            "filePath" => replica.path = value.clone(),
            "dataOwner" => replica.owner = value.clone(),
            "dataOwnerZone" => replica.owner_zone = value.clone(),
            "dataComments" => replica.comment = value.clone(),
            "dataMode" => replica.mode = value.clone(),
            "resc_hier" => {
                let placement = resources::place_by_hierarchy(db, value)?;
                replica.resc_hier = placement.hierarchy;
                replica.resc_name = placement.leaf.name;
                replica.resc_id = placement.leaf.id;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Lists a directory tree as (logical path, physical path, is directory), parents first.
fn walk(dir: &Path, logical: &str, out: &mut Vec<(String, String, bool)>) -> ApiResult<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| ApiError::unix(codes::UNIX_FILE_OPEN_ERR, &e, dir.display()))?;
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child_logical = paths::join(logical, &name);
        let child_physical = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            out.push((child_logical.clone(), child_physical.to_string_lossy().into_owned(), true));
            walk(&child_physical, &child_logical, out)?;
        } else if kind.is_file() {
            out.push((child_logical, child_physical.to_string_lossy().into_owned(), false));
        }
    }
    Ok(())
}
