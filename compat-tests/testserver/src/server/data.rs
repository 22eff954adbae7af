//! Data object I/O: open/create (catalog row at open time), read, write, seek, close with
//! finalisation, the parallel-transfer helpers (descriptor info, replica close), and stat.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use irods_proto::Packet;
use irods_proto::consts::open_flags::{O_CREAT, O_EXCL, O_TRUNC};
use irods_proto::messages::{BinBytesBuf, DataObjInp, FileLseekOut, OpenedDataObjInp, RodsObjStat};
use rusqlite::Connection;
use serde_json::{Value, json};

use super::descriptors::OpenReplica;
use super::session::{Session, decode, ok, ok_with};
use crate::catalog::data_objects::{self, GOOD, INTERMEDIATE, Replica, STALE};
use crate::catalog::resources::{self, Placement};
use crate::catalog::users::User;
use crate::catalog::{DEFAULT_RESOURCE, access, collections, new_object_id, now_ts, paths};
use crate::error::{ApiError, ApiResult, codes};
use crate::vault;

/// The largest single read the server answers (PRC reads 8 MiB at a time).
const MAX_READ: usize = 64 << 20;

/// What an open resolved to in the catalog.
struct OpenPlan {
    replica: Replica,
    created: bool,
    truncate: bool,
    /// Joined another connection's open replica with its token.
    helper: bool,
}

/// The parent collection, name and replicas of a logical path.
pub(super) struct Located {
    pub coll: collections::Collection,
    pub name: String,
    pub replicas: Vec<Replica>,
}

/// Finds a data object; `replicas` is empty when it does not exist (the parent must exist).
pub(super) fn locate(db: &Connection, path: &str) -> ApiResult<Located> {
    let (parent, name) = paths::split(path)
        .ok_or_else(|| ApiError::new(codes::USER_INPUT_PATH_ERR, "the root is not a data object"))?;
    let coll = collections::require(db, parent)?;
    let replicas = data_objects::replicas(db, coll.id, name)?;
    Ok(Located { coll, name: name.to_string(), replicas })
}

/// Where a new replica goes: `resc_hier`, else the named root resource, else the default.
pub(super) fn placement_for_write(
    db: &Connection,
    kv: &irods_proto::messages::KeyValPair,
) -> ApiResult<Placement> {
    if let Some(hier) = kv.get("resc_hier").filter(|h| !h.is_empty()) {
        return resources::place_by_hierarchy(db, hier);
    }
    let named = kv
        .get("destRescName")
        .filter(|n| !n.is_empty())
        .or_else(|| kv.get("rescName").filter(|n| !n.is_empty()))
        .or_else(|| kv.get("defRescName").filter(|n| !n.is_empty()))
        .unwrap_or(DEFAULT_RESOURCE);
    resources::place_for_write(db, named)
}

/// A new replica row (not yet inserted) for `path` at `placement`, physically in the vault.
pub(super) fn new_replica(
    db: &Connection,
    located: &Located,
    path: &str,
    placement: &Placement,
    user: &User,
    data_type: Option<&str>,
) -> ApiResult<Replica> {
    let (data_id, repl_num) = match located.replicas.first() {
        Some(first) => (first.data_id, located.replicas.iter().map(|r| r.repl_num).max().unwrap_or(0) + 1),
        None => (new_object_id(db)?, 0),
    };
    let now = now_ts();
    Ok(Replica {
        data_id,
        coll_id: located.coll.id,
        name: located.name.clone(),
        repl_num,
        data_type: data_type.filter(|t| !t.is_empty()).unwrap_or("generic").to_string(),
        size: 0,
        resc_name: placement.leaf.name.clone(),
        resc_hier: placement.hierarchy.clone(),
        resc_id: placement.leaf.id,
        path: unused_physical_path(db, &vault::physical_path(&placement.leaf.vault, path).to_string_lossy())?,
        owner: user.name.clone(),
        owner_zone: user.zone.clone(),
        status: INTERMEDIATE,
        checksum: String::new(),
        mode: String::new(),
        comment: String::new(),
        create_ts: now.clone(),
        modify_ts: now,
    })
}

/// A vault path for a new replica that no file and no other replica uses. Logical renames and the
/// trash leave files where they are, so the natural path may still hold an older object's file;
/// like iRODS on a collision, a numeric suffix keeps the two apart.
fn unused_physical_path(db: &Connection, natural: &str) -> ApiResult<String> {
    let taken = |candidate: &str| -> ApiResult<bool> {
        if std::path::Path::new(candidate).exists() {
            return Ok(true);
        }
        let mut stmt = db.prepare_cached("SELECT 1 FROM r_data_main WHERE data_path = ?1 LIMIT 1")?;
        Ok(stmt.exists([candidate])?)
    };
    if !taken(natural)? {
        return Ok(natural.to_string());
    }
    for attempt in 0..1000u32 {
        let candidate = format!("{natural}.{}", rand::random::<u32>() ^ attempt);
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
    Err(ApiError::new(codes::UNIX_FILE_CREATE_ERR, format!("no free physical path near {natural}")))
}

/// Picks the replica a read should use: `resc_hier`, else `rescName` (a root), else the first
/// good replica, else the first.
fn replica_for_read<'a>(
    db: &Connection,
    replicas: &'a [Replica],
    kv: &irods_proto::messages::KeyValPair,
) -> ApiResult<&'a Replica> {
    if let Some(num) = kv.get("replNum").and_then(|n| n.parse::<i64>().ok()) {
        return replicas
            .iter()
            .find(|r| r.repl_num == num)
            .ok_or_else(|| ApiError::new(codes::SYS_REPLICA_DOES_NOT_EXIST, format!("no replica {num}")));
    }
    if let Some(hier) = kv.get("resc_hier").filter(|h| !h.is_empty()) {
        return replicas.iter().find(|r| r.resc_hier == hier).ok_or_else(|| {
            ApiError::new(codes::SYS_REPLICA_DOES_NOT_EXIST, format!("no replica in {hier}"))
        });
    }
    if let Some(name) = kv.get("rescName").filter(|n| !n.is_empty()) {
        let resource = resources::require(db, name)?;
        if resource.parent.is_some() {
            return Err(ApiError::new(codes::DIRECT_CHILD_ACCESS, format!("{name} is a child resource")));
        }
        // A preference, not a requirement: without a replica there, the best replica elsewhere
        // is read (the reference ingest's tests read with `rescName=demoResc` objects that live
        // only on other roots, and pass against iRODS 4.3.4).
        let on_resource = |r: &&Replica| r.resc_hier.split(';').next() == Some(name);
        if let Some(replica) = replicas.iter().filter(on_resource).max_by_key(|r| r.status == GOOD) {
            return Ok(replica);
        }
    }
    replicas
        .iter()
        .find(|r| r.status == GOOD)
        .or_else(|| replicas.first())
        .ok_or_else(|| ApiError::new(codes::OBJ_PATH_DOES_NOT_EXIST, "no replicas"))
}

fn io_error(code: i32, error: &std::io::Error, path: &std::path::Path) -> ApiError {
    ApiError::unix(code, error, path.display())
}

impl Session {
    /// 601 (create) and 602 (open).
    pub(super) fn data_obj_open(&mut self, packet: &Packet, create: bool) -> ApiResult<Packet> {
        let input: DataObjInp = decode(packet)?;
        let path = paths::normalize(&input.obj_path)?;
        paths::check_local_zone(&path)?;
        let user = self.user()?.clone();
        let kv = input.cond_input.clone();
        let flags = if create { O_CREAT | O_TRUNC | 1 } else { input.open_flags };
        let writable = flags & 3 != 0;
        let announced_size =
            kv.get("dataSize").and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(input.data_size);
        let token_owner = kv
            .get("replicaToken")
            .filter(|t| !t.is_empty())
            .and_then(|t| self.state.replica_tokens.lock().ok().and_then(|m| m.get(t).copied()));

        let plan = self.state.catalog.write(|db| {
            if collections::find(db, &path)?.is_some() {
                return Err(ApiError::new(
                    codes::CAT_NAME_EXISTS_AS_COLLECTION,
                    format!("{path} is a collection"),
                ));
            }
            let located = locate(db, &path)?;
            if located.replicas.is_empty() {
                if flags & O_CREAT == 0 {
                    return Err(ApiError::new(
                        codes::OBJ_PATH_DOES_NOT_EXIST,
                        format!("{path} does not exist"),
                    ));
                }
                paths::check_new_name(&located.name)?;
                access::require(db, &user, located.coll.id, access::WRITE, &located.coll.name)?;
                let placement = placement_for_write(db, &kv)?;
                let mut replica = new_replica(db, &located, &path, &placement, &user, kv.get("dataType"))?;
                // The size a client announces (parallel puts send the total) is recorded while the
                // replica is intermediate; closing sets the real size.
                replica.size = announced_size.max(0);
                data_objects::insert(db, &replica)?;
                data_objects::grant_owner(db, replica.data_id, &user.name, &user.zone)?;
                return Ok(OpenPlan { replica, created: true, truncate: true, helper: false });
            }
            // A create (601) of an existing object overwrites it, as on iRODS 4.3 (PRC checks
            // existence on the client side when asked not to force).
            if flags & O_EXCL != 0 && flags & O_CREAT != 0 {
                return Err(ApiError::new(codes::OVERWRITE_WITHOUT_FORCE_FLAG, format!("{path} exists")));
            }
            let needed = if writable { access::WRITE } else { access::READ };
            access::require(db, &user, located.replicas[0].data_id, needed, &path)?;
            if !writable {
                let replica = replica_for_read(db, &located.replicas, &kv)?.clone();
                return Ok(OpenPlan { replica, created: false, truncate: false, helper: false });
            }
            // Joining an open replica by token (parallel transfer helpers).
            if let Some((data_id, repl_num)) = token_owner
                && let Some(replica) =
                    located.replicas.iter().find(|r| r.data_id == data_id && r.repl_num == repl_num)
            {
                return Ok(OpenPlan {
                    replica: replica.clone(),
                    created: false,
                    truncate: false,
                    helper: true,
                });
            }
            let target = if let Some(hier) = kv.get("resc_hier").filter(|h| !h.is_empty()) {
                let placement = resources::place_by_hierarchy(db, hier)?;
                located
                    .replicas
                    .iter()
                    .find(|r| r.resc_hier == placement.hierarchy)
                    .cloned()
                    .map(Ok)
                    .unwrap_or_else(|| {
                        new_replica(db, &located, &path, &placement, &user, kv.get("dataType"))
                    })?
            } else if let Some(name) =
                kv.get("destRescName").or_else(|| kv.get("rescName")).filter(|n| !n.is_empty())
            {
                let placement = resources::place_for_write(db, name)?;
                let root = placement.hierarchy.split(';').next().unwrap_or_default().to_string();
                located
                    .replicas
                    .iter()
                    .filter(|r| r.resc_hier.split(';').next() == Some(root.as_str()))
                    .max_by_key(|r| r.status == GOOD)
                    .cloned()
                    .map(Ok)
                    .unwrap_or_else(|| {
                        new_replica(db, &located, &path, &placement, &user, kv.get("dataType"))
                    })?
            } else {
                located.replicas.iter().find(|r| r.status == GOOD).unwrap_or(&located.replicas[0]).clone()
            };
            let is_new = !located.replicas.iter().any(|r| r.repl_num == target.repl_num);
            let mut replica = target;
            replica.status = INTERMEDIATE;
            if is_new {
                data_objects::insert(db, &replica)?;
            } else {
                data_objects::update(db, &replica)?;
            }
            let truncate = is_new || flags & O_TRUNC != 0;
            Ok(OpenPlan { replica, created: is_new, truncate, helper: false })
        })?;

        let phys = PathBuf::from(&plan.replica.path);
        let file = if writable {
            if plan.created {
                vault::make_parent_dirs(&phys)?;
            }
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(plan.created || plan.truncate);
            match options.open(&phys) {
                Ok(file) => {
                    if plan.truncate {
                        file.set_len(0).map_err(|e| io_error(codes::UNIX_FILE_WRITE_ERR, &e, &phys))?;
                    }
                    file
                }
                Err(e) => {
                    self.abandon_open(&plan);
                    return Err(io_error(codes::UNIX_FILE_OPEN_ERR, &e, &phys));
                }
            }
        } else {
            File::open(&phys).map_err(|e| io_error(codes::UNIX_FILE_OPEN_ERR, &e, &phys))?
        };

        let replica_token = if writable && !plan.helper {
            let token = uuid::Uuid::new_v4().to_string();
            if let Ok(mut tokens) = self.state.replica_tokens.lock() {
                tokens.insert(token.clone(), (plan.replica.data_id, plan.replica.repl_num));
            }
            token
        } else {
            kv.get("replicaToken").unwrap_or_default().to_string()
        };
        let fd = self.descriptors.insert(OpenReplica {
            obj_path: path,
            data_id: plan.replica.data_id,
            repl_num: plan.replica.repl_num,
            resc_hier: plan.replica.resc_hier.clone(),
            phys_path: phys,
            file,
            writable,
            finalize: writable && !plan.helper,
            modified: plan.truncate,
            replica_token,
            cond_input: kv,
            data_size_hint: input.data_size,
        })?;
        ok(fd)
    }

    /// Undoes the catalog side of an open whose file could not be opened.
    fn abandon_open(&self, plan: &OpenPlan) {
        let replica = plan.replica.clone();
        let created = plan.created;
        let _ = self.state.catalog.write(|db| {
            if created {
                data_objects::delete_replica(db, replica.data_id, replica.repl_num)?;
            } else {
                let mut restored = replica.clone();
                restored.status = GOOD;
                data_objects::update(db, &restored)?;
            }
            Ok(())
        });
    }

    /// 675.
    pub(super) fn data_obj_read(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: OpenedDataObjInp = decode(packet)?;
        let open = self.descriptors.get_mut(input.l1_desc_inx)?;
        let wanted = usize::try_from(input.len.max(0)).unwrap_or(0).min(MAX_READ);
        let mut buf = vec![0u8; wanted];
        let mut filled = 0;
        while filled < wanted {
            match open.file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(codes::UNIX_FILE_READ_ERR, &e, &open.phys_path)),
            }
        }
        buf.truncate(filled);
        Ok(Packet::api_reply_empty(filled as i32).with_bs(buf))
    }

    /// 676.
    pub(super) fn data_obj_write(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: OpenedDataObjInp = decode(packet)?;
        let open = self.descriptors.get_mut(input.l1_desc_inx)?;
        if !open.writable {
            return Err(ApiError::new(
                codes::UNIX_FILE_WRITE_ERR - libc::EBADF,
                "descriptor is open for reading",
            ));
        }
        let len = usize::try_from(input.len.max(0)).unwrap_or(0).min(packet.bs.len());
        let data = if len == 0 { &packet.bs[..] } else { &packet.bs[..len] };
        open.file.write_all(data).map_err(|e| io_error(codes::UNIX_FILE_WRITE_ERR, &e, &open.phys_path))?;
        open.modified = true;
        ok(data.len() as i32)
    }

    /// 674.
    pub(super) fn data_obj_lseek(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: OpenedDataObjInp = decode(packet)?;
        let open = self.descriptors.get_mut(input.l1_desc_inx)?;
        let position = match input.whence {
            0 => u64::try_from(input.offset).ok().map(SeekFrom::Start),
            1 => Some(SeekFrom::Current(input.offset)),
            2 => Some(SeekFrom::End(input.offset)),
            _ => None,
        }
        .ok_or_else(|| ApiError::new(codes::UNIX_FILE_LSEEK_ERR - libc::EINVAL, "invalid seek"))?;
        let offset = open
            .file
            .seek(position)
            .map_err(|e| io_error(codes::UNIX_FILE_LSEEK_ERR, &e, &open.phys_path))?;
        ok_with(0, &FileLseekOut { offset: offset as i64 })
    }

    /// 673.
    pub(super) fn data_obj_close(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: OpenedDataObjInp = decode(packet)?;
        let open = self.descriptors.remove(input.l1_desc_inx)?;
        self.finalize(open)?;
        ok(0)
    }

    /// 20004: close without (necessarily) finalising, for parallel-transfer helpers.
    pub(super) fn replica_close(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: BinBytesBuf = decode(packet)?;
        let request: Value = input
            .json()
            .map_err(|e| ApiError::new(codes::SYS_INVALID_INPUT_PARAM, format!("replica_close: {e}")))?;
        let fd = request
            .get("fd")
            .and_then(Value::as_i64)
            .ok_or_else(|| ApiError::new(codes::SYS_INVALID_INPUT_PARAM, "replica_close needs fd"))?;
        let flag = |key: &str| request.get(key).and_then(Value::as_bool).unwrap_or(true);
        let open = self.descriptors.remove(i32::try_from(fd).unwrap_or(-1))?;
        if open.finalize && (flag("update_size") || flag("update_status")) {
            self.finalize(open)?;
        } else if open.finalize {
            self.forget_token(&open.replica_token);
        }
        ok(0)
    }

    fn forget_token(&self, token: &str) {
        if let Ok(mut tokens) = self.state.replica_tokens.lock() {
            tokens.remove(token);
        }
    }

    /// Completes a write: size from the file, modify time now, replica good, others stale.
    pub(super) fn finalize(&mut self, open: OpenReplica) -> ApiResult<()> {
        if !open.finalize {
            return Ok(());
        }
        self.forget_token(&open.replica_token);
        let size = open.file.metadata().map(|m| m.len() as i64).unwrap_or(0);
        drop(open.file);
        let want_checksum = open.cond_input.contains("regChksum") || open.cond_input.contains("verifyChksum");
        let checksum = if want_checksum { Some(vault::checksum(&open.phys_path)?) } else { None };
        let written = self.state.catalog.write(|db| {
            let mut written = None;
            let mut replicas: Vec<Replica> = db
                .prepare_cached("SELECT coll_id, data_name FROM r_data_main WHERE data_id = ?1 LIMIT 1")?
                .query_row([open.data_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .map(|(coll, name)| data_objects::replicas(db, coll, &name))
                .unwrap_or_else(|_| Ok(Vec::new()))?;
            for replica in &mut replicas {
                if replica.repl_num == open.repl_num {
                    replica.size = size;
                    replica.status = GOOD;
                    if open.modified {
                        replica.modify_ts = now_ts();
                    }
                    match &checksum {
                        Some(sum) => replica.checksum = sum.clone(),
                        None if open.modified => replica.checksum.clear(),
                        None => {}
                    }
                    data_objects::update(db, replica)?;
                    written = Some(replica.clone());
                } else if open.modified && replica.status == GOOD {
                    replica.status = STALE;
                    data_objects::update(db, replica)?;
                }
            }
            Ok(written)
        })?;
        if let (Some(written), true, Some(user)) = (written, open.modified, self.user.clone()) {
            self.replicate_within_root(&written, &user)?;
        }
        Ok(())
    }

    /// 20000: the L1 descriptor as JSON (PRC reads the replica token and the hierarchy).
    pub(super) fn file_descriptor_info(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: BinBytesBuf = decode(packet)?;
        let request: Value = input
            .json()
            .map_err(|e| ApiError::new(codes::SYS_INVALID_INPUT_PARAM, format!("descriptor info: {e}")))?;
        let fd = request
            .get("fd")
            .and_then(Value::as_i64)
            .ok_or_else(|| ApiError::new(codes::SYS_INVALID_INPUT_PARAM, "descriptor info needs fd"))?;
        let open = self.descriptors.get_mut(i32::try_from(fd).unwrap_or(-1))?;
        let size = open.file.metadata().map(|m| m.len() as i64).unwrap_or(0);
        let reply = json!({
            "fd": fd,
            "replica_token": open.replica_token,
            "data_object_input": {"obj_path": open.obj_path},
            "data_object_info": {
                "object_path": open.obj_path,
                "resource_hierarchy": open.resc_hier,
                "replica_number": open.repl_num,
                "data_id": open.data_id,
                "data_size": size,
                "file_path": open.phys_path.to_string_lossy(),
            },
            "data_size": open.data_size_hint,
        });
        ok_with(0, &BinBytesBuf::from_json_with_nul(&reply))
    }

    /// 633: what a path is (data object or collection), for clients that stat.
    pub(super) fn obj_stat(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: DataObjInp = decode(packet)?;
        let path = paths::normalize(&input.obj_path)?;
        self.state.catalog.read(|db| {
            if let Some(coll) = collections::find(db, &path)? {
                return ok_with(
                    2,
                    &RodsObjStat {
                        obj_size: 0,
                        obj_type: 2,
                        data_mode: 0,
                        data_id: coll.id.to_string(),
                        chksum: String::new(),
                        owner_name: coll.owner,
                        owner_zone: coll.owner_zone,
                        create_time: coll.create_ts,
                        modify_time: coll.modify_ts,
                    },
                );
            }
            let missing = || ApiError::new(codes::USER_FILE_DOES_NOT_EXIST, format!("{path} does not exist"));
            let located = locate(db, &path).map_err(|_| missing())?;
            let replica = located
                .replicas
                .iter()
                .find(|r| r.status == GOOD)
                .or_else(|| located.replicas.first())
                .ok_or_else(missing)?;
            ok_with(
                1,
                &RodsObjStat {
                    obj_size: replica.size,
                    obj_type: 1,
                    data_mode: replica.mode.parse().unwrap_or(0),
                    data_id: replica.data_id.to_string(),
                    chksum: replica.checksum.clone(),
                    owner_name: replica.owner.clone(),
                    owner_zone: replica.owner_zone.clone(),
                    create_time: replica.create_ts.clone(),
                    modify_time: replica.modify_ts.clone(),
                },
            )
        })
    }
}
