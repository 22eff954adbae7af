//! Whole-object operations: rename, checksum, truncate, copy, touch.

use std::path::Path;

use irods_proto::Packet;
use irods_proto::messages::{BinBytesBuf, DataObjCopyInp, DataObjInp, RErrMsg, RError, StrPi};
use serde_json::Value;

use super::data::{locate, new_replica, placement_for_write};
use super::session::{Session, decode, ok, ok_with};
use crate::catalog::data_objects::{self, GOOD};
use crate::catalog::{collections, now_ts, paths};
use crate::error::{ApiError, ApiResult, codes};
use crate::vault;

const RENAME_COLL: i32 = 12;

impl Session {
    /// 627: logical rename of an object (oprType 11) or collection (12). Physical files stay.
    pub(super) fn data_obj_rename(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: DataObjCopyInp = decode(packet)?;
        let from = paths::normalize(&input.src.obj_path)?;
        let to = paths::normalize(&input.dest.obj_path)?;
        let is_coll = input.src.opr_type == RENAME_COLL || input.dest.opr_type == RENAME_COLL;
        self.state.catalog.write(|db| {
            let (to_parent, to_name) = paths::split(&to)
                .ok_or_else(|| ApiError::new(codes::USER_INPUT_PATH_ERR, "cannot rename to /"))?;
            paths::check_new_name(to_name)?;
            let target_coll = collections::require(db, to_parent)?;
            if collections::find(db, &to)?.is_some() {
                return Err(ApiError::new(codes::CAT_NAME_EXISTS_AS_COLLECTION, format!("{to} exists")));
            }
            if data_objects::exists(db, target_coll.id, to_name)? {
                return Err(ApiError::new(codes::CAT_NAME_EXISTS_AS_DATAOBJ, format!("{to} exists")));
            }
            if is_coll || collections::find(db, &from)?.is_some() {
                collections::require(db, &from)?;
                if paths::is_within(&to, &from) {
                    return Err(ApiError::new(
                        codes::USER_INPUT_PATH_ERR,
                        "cannot move a collection into itself",
                    ));
                }
                collections::rename_tree(db, &from, &to)?;
            } else {
                let located = locate(db, &from)?;
                let first = located.replicas.first().ok_or_else(|| {
                    ApiError::new(codes::CAT_NO_ROWS_FOUND, format!("{from} does not exist"))
                })?;
                data_objects::rename(db, first.data_id, target_coll.id, to_name)?;
            }
            Ok(())
        })?;
        ok(0)
    }

    /// 629: computes (and stores) the SHA-256 checksum of a replica.
    pub(super) fn data_obj_chksum(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: DataObjInp = decode(packet)?;
        let path = paths::normalize(&input.obj_path)?;
        let kv = &input.cond_input;
        let repl_num = kv.get("replNum").and_then(|v| v.parse::<i64>().ok());
        let resc = kv.get("rescName").filter(|v| !v.is_empty()).map(str::to_string);
        let force = kv.contains("forceChksum");
        let verify = kv.contains("verifyChksum");
        let all = kv.contains("ChksumAll") || verify;
        let replicas = self.state.catalog.read(|db| {
            let located = locate(db, &path)?;
            if located.replicas.is_empty() {
                return Err(ApiError::new(codes::CAT_NO_ROWS_FOUND, format!("{path} does not exist")));
            }
            Ok(located.replicas)
        })?;
        let chosen: Vec<_> = replicas
            .into_iter()
            .filter(|r| match (repl_num, &resc) {
                (Some(n), _) => r.repl_num == n,
                (None, Some(name)) => r.resc_hier.split(';').next() == Some(name.as_str()),
                (None, None) => all || r.status == GOOD,
            })
            .collect();
        let Some(first) = chosen.first().cloned() else {
            return Err(ApiError::new(codes::SYS_REPLICA_DOES_NOT_EXIST, "no matching replica"));
        };
        if verify {
            return self.verify_checksums(&chosen);
        }
        let mut result = String::new();
        for mut replica in chosen {
            if !replica.checksum.is_empty() && !force {
                if replica.repl_num == first.repl_num {
                    result = replica.checksum.clone();
                }
                continue;
            }
            let sum = vault::checksum(Path::new(&replica.path))?;
            replica.checksum = sum.clone();
            self.state.catalog.write(|db| data_objects::update(db, &replica))?;
            if replica.repl_num == first.repl_num {
                result = sum;
            }
        }
        ok_with(0, &StrPi { my_str: result })
    }

    /// `verifyChksum`: report replicas without a checksum or whose file no longer matches it, as
    /// iRODS does — CHECK_VERIFICATION_RESULTS with a JSON list and one error-stack entry each.
    fn verify_checksums(&self, replicas: &[data_objects::Replica]) -> ApiResult<Packet> {
        let mut problems = Vec::new();
        for replica in replicas {
            if replica.checksum.is_empty() {
                problems.push((
                    codes::CAT_NO_CHECKSUM_FOR_REPLICA,
                    format!("No Checksum Available for Replica [{}]", replica.repl_num),
                ));
            } else if vault::checksum(Path::new(&replica.path))? != replica.checksum {
                problems.push((
                    codes::USER_CHKSUM_MISMATCH,
                    format!(
                        "Computed checksum does not match what is in the catalog for Replica [{}]",
                        replica.repl_num
                    ),
                ));
            }
        }
        if problems.is_empty() {
            let sum = replicas.first().map(|r| r.checksum.clone()).unwrap_or_default();
            return ok_with(0, &StrPi { my_str: sum });
        }
        let report: Vec<serde_json::Value> = problems
            .iter()
            .map(|(code, message)| serde_json::json!({"error_code": code, "message": message}))
            .collect();
        let stack =
            RError { messages: problems.into_iter().map(|(status, msg)| RErrMsg { status, msg }).collect() };
        Ok(Packet::api_reply(
            codes::CHECK_VERIFICATION_RESULTS,
            &StrPi { my_str: serde_json::Value::Array(report).to_string() },
        )
        .with_error(&stack))
    }

    /// 652 and 802: truncate a replica's file to `dataSize`.
    pub(super) fn data_obj_truncate(&mut self, packet: &Packet, json_reply: bool) -> ApiResult<Packet> {
        let result = self.truncate_replica(packet, json_reply);
        match result {
            // REPLICA_TRUNCATE answers failures with a JSON message too (python-irodsclient reads it).
            Err(error) if json_reply => {
                let body = StrPi { my_str: serde_json::json!({"message": error.message}).to_string() };
                Ok(Packet::api_reply(error.code, &body)
                    .with_error(&RError::single(error.code, error.message)))
            }
            other => other,
        }
    }

    fn truncate_replica(&mut self, packet: &Packet, json_reply: bool) -> ApiResult<Packet> {
        let input: DataObjInp = decode(packet)?;
        let path = paths::normalize(&input.obj_path)?;
        let size = input.data_size;
        let kv = input.cond_input.clone();
        let replica = self.state.catalog.write(|db| {
            let located = locate(db, &path)?;
            if located.replicas.is_empty() {
                return Err(ApiError::new(codes::OBJ_PATH_DOES_NOT_EXIST, format!("{path} does not exist")));
            }
            let chosen = match (kv.get("replNum").and_then(|n| n.parse::<i64>().ok()), kv.get("rescName")) {
                (Some(num), _) => located.replicas.iter().find(|r| r.repl_num == num),
                (None, Some(name)) if !name.is_empty() => {
                    located.replicas.iter().find(|r| r.resc_hier.split(';').next() == Some(name))
                }
                _ => located.replicas.iter().find(|r| r.status == GOOD).or(located.replicas.first()),
            };
            let mut replica = chosen.cloned().ok_or_else(|| {
                ApiError::new(codes::SYS_REPLICA_INACCESSIBLE, format!("no replica of {path} matches"))
            })?;
            if size < 0 {
                return Err(ApiError::new(codes::UNIX_FILE_TRUNCATE_ERR - libc::EINVAL, "negative size"));
            }
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&replica.path)
                .map_err(|e| ApiError::unix(codes::UNIX_FILE_OPEN_ERR, &e, &replica.path))?;
            file.set_len(size as u64)
                .map_err(|e| ApiError::unix(codes::UNIX_FILE_WRITE_ERR, &e, &replica.path))?;
            replica.size = size;
            replica.modify_ts = now_ts();
            replica.checksum.clear();
            data_objects::update(db, &replica)?;
            for other in
                located.replicas.iter().filter(|r| r.repl_num != replica.repl_num && r.status == GOOD)
            {
                let mut other = other.clone();
                other.status = data_objects::STALE;
                data_objects::update(db, &other)?;
            }
            Ok(replica)
        })?;
        if json_reply {
            let reply = serde_json::json!({
                "replica_number": replica.repl_num,
                "resource_hierarchy": replica.resc_hier,
                "message": "",
            });
            return ok_with(0, &StrPi { my_str: reply.to_string() });
        }
        ok(0)
    }

    /// 696: copies the good replica of one object to a new object.
    pub(super) fn data_obj_copy(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: DataObjCopyInp = decode(packet)?;
        let bad_path = |e: ApiError| ApiError::new(codes::USER_INPUT_PATH_ERR, e.message);
        let from = paths::normalize(&input.src.obj_path).map_err(bad_path)?;
        let to = paths::normalize(&input.dest.obj_path).map_err(bad_path)?;
        let user = self.user()?.clone();
        let force = input.dest.cond_input.contains("forceFlag");
        let (source, target) = self.state.catalog.write(|db| {
            let src = locate(db, &from).map_err(bad_path)?;
            let source =
                src.replicas.iter().find(|r| r.status == GOOD).or(src.replicas.first()).cloned().ok_or_else(
                    || ApiError::new(codes::USER_INPUT_PATH_ERR, format!("{from} does not exist")),
                )?;
            let dest = locate(db, &to).map_err(bad_path)?;
            if !dest.replicas.is_empty() {
                if !force {
                    return Err(ApiError::new(codes::OVERWRITE_WITHOUT_FORCE_FLAG, format!("{to} exists")));
                }
                for r in &dest.replicas {
                    data_objects::delete_replica(db, r.data_id, r.repl_num)?;
                }
            }
            let dest = locate(db, &to)?;
            let placement = placement_for_write(db, &input.dest.cond_input)?;
            let mut target = new_replica(db, &dest, &to, &placement, &user, Some(&source.data_type))?;
            target.size = source.size;
            target.status = GOOD;
            target.checksum = source.checksum.clone();
            data_objects::insert(db, &target)?;
            data_objects::grant_owner(db, target.data_id, &user.name, &user.zone)?;
            Ok((source, target))
        })?;
        let target_path = Path::new(&target.path);
        vault::make_parent_dirs(target_path)?;
        std::fs::copy(&source.path, target_path)
            .map_err(|e| ApiError::unix(codes::UNIX_FILE_OPEN_ERR, &e, &from))?;
        ok(0)
    }

    /// 20007: set an object's (or collection's) modify time, creating an empty object if asked.
    pub(super) fn touch(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: BinBytesBuf = decode(packet)?;
        let request: Value =
            input.json().map_err(|e| ApiError::new(codes::SYS_INVALID_INPUT_PARAM, format!("touch: {e}")))?;
        let path = request
            .get("logical_path")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::new(codes::SYS_INVALID_INPUT_PARAM, "touch needs logical_path"))?;
        let path = paths::normalize(path)?;
        let options = request.get("options").cloned().unwrap_or(Value::Null);
        let no_create = options.get("no_create").and_then(Value::as_bool).unwrap_or(false);
        let repl_num = options.get("replica_number").and_then(Value::as_i64);
        let leaf = options.get("leaf_resource_name").and_then(Value::as_str).map(str::to_string);
        if repl_num.is_some() && leaf.is_some() {
            return Err(ApiError::new(
                codes::USER_INCOMPATIBLE_PARAMS,
                "replica_number and leaf_resource_name",
            ));
        }
        let seconds = options.get("seconds_since_epoch").and_then(Value::as_i64);
        let reference = options.get("reference").and_then(Value::as_str).map(str::to_string);
        let user = self.user()?.clone();
        self.state.catalog.write(|db| {
            let mtime = match (&reference, seconds) {
                (Some(reference), _) => {
                    let reference = paths::normalize(reference)?;
                    match collections::find(db, &reference)? {
                        Some(coll) => coll.modify_ts,
                        None => {
                            locate(db, &reference)?.replicas.first().map(|r| r.modify_ts.clone()).ok_or_else(
                                || ApiError::new(codes::OBJ_PATH_DOES_NOT_EXIST, "no reference object"),
                            )?
                        }
                    }
                }
                (None, Some(seconds)) => format!("{seconds:011}"),
                (None, None) => now_ts(),
            };
            if let Some(coll) = collections::find(db, &path)? {
                db.execute(
                    "UPDATE r_coll_main SET modify_ts = ?1 WHERE coll_id = ?2",
                    rusqlite::params![mtime, coll.id],
                )?;
                return Ok(());
            }
            let located = locate(db, &path)?;
            if located.replicas.is_empty() {
                if repl_num.is_some() {
                    return Err(ApiError::new(
                        codes::OBJ_PATH_DOES_NOT_EXIST,
                        format!("{path} does not exist"),
                    ));
                }
                if no_create {
                    return Err(ApiError::new(
                        codes::CAT_NOT_A_DATAOBJ_AND_NOT_A_COLLECTION,
                        format!("{path} does not exist"),
                    ));
                }
                let placement = placement_for_write(db, &irods_proto::messages::KeyValPair::new())?;
                let mut replica = new_replica(db, &located, &path, &placement, &user, None)?;
                replica.status = GOOD;
                replica.modify_ts = mtime;
                vault::make_parent_dirs(Path::new(&replica.path))?;
                std::fs::File::create(&replica.path)
                    .map_err(|e| ApiError::unix(codes::UNIX_FILE_CREATE_ERR, &e, &replica.path))?;
                data_objects::insert(db, &replica)?;
                data_objects::grant_owner(db, replica.data_id, &user.name, &user.zone)?;
                return Ok(());
            }
            for mut replica in located.replicas {
                let selected = match (repl_num, &leaf) {
                    (Some(n), _) => replica.repl_num == n,
                    (None, Some(leaf)) => &replica.resc_name == leaf,
                    (None, None) => true,
                };
                if selected {
                    replica.modify_ts = mtime.clone();
                    data_objects::update(db, &replica)?;
                }
            }
            Ok(())
        })?;
        ok(0)
    }
}
