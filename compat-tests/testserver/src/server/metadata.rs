//! AVU metadata: `imeta`-style requests (706) and atomic batches (20002).

use irods_proto::Packet;
use irods_proto::messages::{BinBytesBuf, ModAvuMetadataInp};
use rusqlite::Connection;
use serde_json::{Value, json};

use super::data::locate;
use super::session::{Session, decode, ok, ok_with};
use crate::catalog::metadata::{self, Avu};
use crate::catalog::{access, collections, paths, resources, users};
use crate::error::{ApiError, ApiResult, codes};

/// Resolves an `imeta` target (`-d path`, `-C path`, `-R name`, `-u name[#zone]`) to its id.
fn object_id(db: &Connection, kind: &str, name: &str) -> ApiResult<i64> {
    object_id_for(db, kind, name, None)
}

/// Like [`object_id`], also checking that `user` may change the target's metadata
/// (modify_metadata on objects and collections; resources and users need an admin).
fn object_id_for(db: &Connection, kind: &str, name: &str, user: Option<&users::User>) -> ApiResult<i64> {
    let id = object_id_unchecked(db, kind, name)?;
    if let Some(user) = user.filter(|u| !u.is_admin()) {
        match kind.trim_start_matches('-') {
            "d" | "data_object" | "C" | "c" | "collection" => {
                access::require(db, user, id, MODIFY_METADATA, name)?;
            }
            _ => {
                return Err(ApiError::new(
                    codes::CAT_INSUFFICIENT_PRIVILEGE_LEVEL,
                    "only administrators annotate resources and users",
                ));
            }
        }
    }
    Ok(id)
}

/// `modify_metadata` access level.
const MODIFY_METADATA: i64 = 1080;

fn object_id_unchecked(db: &Connection, kind: &str, name: &str) -> ApiResult<i64> {
    match kind.trim_start_matches('-') {
        "d" | "data_object" => {
            let path = paths::normalize(name)?;
            let located = locate(db, &path)
                .map_err(|_| ApiError::new(codes::CAT_UNKNOWN_FILE, format!("{path} does not exist")))?;
            located
                .replicas
                .first()
                .map(|r| r.data_id)
                .ok_or_else(|| ApiError::new(codes::CAT_UNKNOWN_FILE, format!("{path} does not exist")))
        }
        "C" | "c" | "collection" => {
            let path = paths::normalize(name)?;
            Ok(collections::require(db, &path)?.id)
        }
        "R" | "r" | "resource" => Ok(resources::find(db, name)?
            .ok_or_else(|| ApiError::new(codes::CAT_INVALID_RESOURCE, format!("no resource {name}")))?
            .id),
        "u" | "user" => {
            let (user, zone) = name.split_once('#').unwrap_or((name, crate::catalog::ZONE));
            Ok(users::require(db, user, zone)?.id)
        }
        other => {
            Err(ApiError::new(codes::CAT_INVALID_ARGUMENT, format!("unknown metadata target type {other}")))
        }
    }
}

impl Session {
    /// 706.
    pub(super) fn mod_avu_metadata(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: ModAvuMetadataInp = decode(packet)?;
        let op = input.arg(0).to_string();
        let user = self.user()?.clone();
        let args: Vec<String> = (0..10).map(|i| input.arg(i).to_string()).collect();
        self.state.catalog.write(|db| {
            let avu = |a: usize| Avu {
                attribute: args[a].clone(),
                value: args[a + 1].clone(),
                units: args[a + 2].clone(),
            };
            match op.as_str() {
                "add" | "adda" => {
                    metadata::add(db, object_id_for(db, &args[1], &args[2], Some(&user))?, &avu(3))
                }
                "set" => metadata::set(db, object_id_for(db, &args[1], &args[2], Some(&user))?, &avu(3)),
                "rm" | "rmw" => {
                    let id = object_id_for(db, &args[1], &args[2], Some(&user))?;
                    let target = avu(3);
                    metadata::remove(db, id, &target, !target.units.is_empty(), op == "rmw").map(|_| ())
                }
                "rmi" => {
                    let id = object_id_for(db, &args[1], &args[2], Some(&user))?;
                    let meta_id = args[3]
                        .parse()
                        .map_err(|_| ApiError::new(codes::CAT_INVALID_ARGUMENT, "rmi needs a metadata id"))?;
                    metadata::remove_by_id(db, id, meta_id).map(|_| ())
                }
                "mod" => {
                    let id = object_id_for(db, &args[1], &args[2], Some(&user))?;
                    let old = avu(3);
                    // arg5 is the units only if it is not already one of the n:/v:/u: changes.
                    let (old, changes_from) = if ["n:", "v:", "u:"].iter().any(|p| old.units.starts_with(p)) {
                        (Avu { units: String::new(), ..old }, 5)
                    } else {
                        (old, 6)
                    };
                    let mut new = old.clone();
                    for change in &args[changes_from..] {
                        if let Some(v) = change.strip_prefix("n:") {
                            new.attribute = v.to_string();
                        } else if let Some(v) = change.strip_prefix("v:") {
                            new.value = v.to_string();
                        } else if let Some(v) = change.strip_prefix("u:") {
                            new.units = v.to_string();
                        }
                    }
                    let removed = metadata::remove(db, id, &old, true, false)?;
                    if removed == 0 {
                        return Err(ApiError::new(codes::CAT_INVALID_ARGUMENT, "no such AVU to modify"));
                    }
                    metadata::add(db, id, &new)
                }
                "cp" => {
                    let from = object_id(db, &args[1], &args[3])?;
                    let to = object_id_for(db, &args[2], &args[4], Some(&user))?;
                    metadata::copy(db, from, to)
                }
                other => Err(ApiError::new(
                    codes::CAT_INVALID_ARGUMENT,
                    format!("unknown metadata operation {other}"),
                )),
            }
        })?;
        ok(0)
    }

    /// 20002: all operations apply, or none.
    pub(super) fn atomic_metadata(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: BinBytesBuf = decode(packet)?;
        let request: Value = input.json().map_err(|e| {
            ApiError::new(codes::INPUT_ARG_NOT_WELL_FORMED_ERR, format!("atomic metadata request: {e}"))
        })?;
        let malformed = |what: &str| ApiError::new(codes::INPUT_ARG_NOT_WELL_FORMED_ERR, what.to_string());
        let name =
            request.get("entity_name").and_then(Value::as_str).ok_or_else(|| malformed("entity_name"))?;
        let kind = match request
            .get("entity_type")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("entity_type"))?
        {
            "data_object" => "d",
            "collection" => "C",
            "resource" => "R",
            "user" => "u",
            _ => return Err(malformed("entity_type")),
        };
        let admin_mode = request.get("admin_mode").and_then(Value::as_bool).unwrap_or(false);
        let user = self.user()?.clone();
        if admin_mode && !self.user()?.is_admin() {
            return Err(ApiError::new(codes::CAT_INSUFFICIENT_PRIVILEGE_LEVEL, "admin_mode needs rodsadmin"));
        }
        let operations = request
            .get("operations")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| malformed("operations"))?;
        let failure = std::cell::RefCell::new(None);
        let result = self.state.catalog.write(|db| {
            object_id(db, kind, name)
                .map_err(|e| ApiError::new(e.code, format!("Entity does not exist [entity_name={name}]")))?;
            let id = object_id_for(db, kind, name, if admin_mode { None } else { Some(&user) })?;
            for (index, op) in operations.iter().enumerate() {
                let text = |k: &str| op.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let avu = Avu { attribute: text("attribute"), value: text("value"), units: text("units") };
                let outcome = match text("operation").as_str() {
                    "add" => match metadata::add(db, id, &avu) {
                        Err(e) if e.code == codes::CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME => Ok(()),
                        other => other,
                    },
                    "remove" => metadata::remove(db, id, &avu, true, false).map(|_| ()),
                    _ => Err(ApiError::new(codes::INVALID_OPERATION, "invalid metadata operation")),
                };
                if let Err(error) = outcome {
                    *failure.borrow_mut() =
                        Some((index, op.get("operation").cloned().unwrap_or(Value::Null)));
                    return Err(error);
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => ok_with(0, &BinBytesBuf::from_json_with_nul(&json!({}))),
            Err(error) => {
                let detail = match failure.into_inner() {
                    Some((index, operation)) => json!({
                        "operation": operation,
                        "operation_index": index,
                        "error_message": error.message,
                    }),
                    None => json!({"error_message": error.message}),
                };
                Ok(Packet::api_reply(error.code, &BinBytesBuf::from_json_with_nul(&detail)))
            }
        }
    }
}
