//! Resources (`r_resc_main`) and the resource hierarchy.
//!
//! Storage resources (`unixfilesystem`) hold a vault directory; coordinating resources
//! (`passthru`, `random`, `replication`, ...) hold children. A write names a *root* resource and
//! the server picks a leaf under it; naming a resource that has a parent fails with
//! DIRECT_CHILD_ACCESS, as on iRODS.

use rusqlite::{Connection, OptionalExtension, params};

use super::{new_object_id, now_ts};
use crate::error::{ApiError, ApiResult, codes};

/// Resource types that store files in a vault.
const STORAGE_TYPES: &[&str] = &["unixfilesystem", "univmss", "mockarchive"];
/// Resource types that only coordinate children.
const COORDINATING_TYPES: &[&str] =
    &["passthru", "random", "replication", "roundrobin", "compound", "load_balanced", "deferred"];

/// A resource row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub host: String,
    pub vault: String,
    pub parent: Option<i64>,
}

impl Resource {
    pub fn is_storage(&self) -> bool {
        STORAGE_TYPES.contains(&self.kind.as_str())
    }
}

/// A resolved place to write or find a replica: the leaf and the `root;...;leaf` hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub leaf: Resource,
    pub hierarchy: String,
}

const COLUMNS: &str = "resc_id, resc_name, resc_type_name, resc_net, resc_def_path, resc_parent";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Resource> {
    let parent: String = r.get(5)?;
    Ok(Resource {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        host: r.get(3)?,
        vault: r.get(4)?,
        parent: parent.parse().ok(),
    })
}

pub fn find(db: &Connection, name: &str) -> ApiResult<Option<Resource>> {
    let mut stmt = db.prepare_cached(&format!("SELECT {COLUMNS} FROM r_resc_main WHERE resc_name = ?1"))?;
    Ok(stmt.query_row([name], from_row).optional()?)
}

pub fn find_by_id(db: &Connection, id: i64) -> ApiResult<Option<Resource>> {
    let mut stmt = db.prepare_cached(&format!("SELECT {COLUMNS} FROM r_resc_main WHERE resc_id = ?1"))?;
    Ok(stmt.query_row([id], from_row).optional()?)
}

/// Like [`find`], failing with SYS_RESC_DOES_NOT_EXIST.
pub fn require(db: &Connection, name: &str) -> ApiResult<Resource> {
    find(db, name)?.ok_or_else(|| {
        ApiError::new(codes::SYS_RESC_DOES_NOT_EXIST, format!("resource {name} does not exist"))
    })
}

pub fn children(db: &Connection, id: i64) -> ApiResult<Vec<Resource>> {
    let mut stmt = db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM r_resc_main WHERE resc_parent = ?1 ORDER BY resc_name"
    ))?;
    let rows = stmt.query_map([id.to_string()], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Creates a resource (no parent). The vault directory of a storage resource is created lazily.
pub fn create(
    db: &Connection,
    name: &str,
    kind: &str,
    host: &str,
    vault: &str,
    context: &str,
) -> ApiResult<i64> {
    if name.is_empty() || name.contains([';', '/', ' ']) || name.len() >= 64 {
        return Err(ApiError::new(codes::CAT_INVALID_ARGUMENT, format!("invalid resource name {name:?}")));
    }
    if !STORAGE_TYPES.contains(&kind) && !COORDINATING_TYPES.contains(&kind) {
        return Err(ApiError::new(
            codes::CAT_INVALID_RESOURCE_TYPE,
            format!("unsupported resource type {kind}"),
        ));
    }
    if find(db, name)?.is_some() {
        return Err(ApiError::new(
            codes::CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME,
            format!("resource {name} already exists"),
        ));
    }
    let id = new_object_id(db)?;
    let now = now_ts();
    db.execute(
        "INSERT INTO r_resc_main (resc_id, resc_name, zone_name, resc_type_name, resc_class_name, resc_net,
                                  resc_def_path, resc_context, create_ts, modify_ts)
         VALUES (?1, ?2, ?3, ?4, 'cache', ?5, ?6, ?7, ?8, ?8)",
        params![id, name, super::ZONE, kind, host, vault, context, now],
    )?;
    Ok(id)
}

/// Makes `child` a child of `parent`.
pub fn add_child(db: &Connection, parent: &str, child: &str, context: &str) -> ApiResult<()> {
    let parent = require(db, parent)?;
    let child = require(db, child)?;
    if child.parent.is_some() {
        return Err(ApiError::new(codes::HIERARCHY_ERROR, format!("{} already has a parent", child.name)));
    }
    if parent.id == child.id || hierarchy(db, &parent)?.split(';').any(|n| n == child.name) {
        return Err(ApiError::new(codes::HIERARCHY_ERROR, "adding this child would make a cycle"));
    }
    db.execute(
        "UPDATE r_resc_main SET resc_parent = ?1, resc_parent_context = ?2, modify_ts = ?3 WHERE resc_id = ?4",
        params![parent.id.to_string(), context, now_ts(), child.id],
    )?;
    Ok(())
}

pub fn remove_child(db: &Connection, parent: &str, child: &str) -> ApiResult<()> {
    let parent = require(db, parent)?;
    let child = require(db, child)?;
    if child.parent != Some(parent.id) {
        return Err(ApiError::new(
            codes::HIERARCHY_ERROR,
            format!("{} is not a child of {}", child.name, parent.name),
        ));
    }
    db.execute(
        "UPDATE r_resc_main SET resc_parent = '', resc_parent_context = '', modify_ts = ?1 WHERE resc_id = ?2",
        params![now_ts(), child.id],
    )?;
    Ok(())
}

/// Removes a resource that holds no replicas and has no children.
pub fn remove(db: &Connection, name: &str) -> ApiResult<()> {
    let resource = require(db, name)?;
    let replicas: i64 =
        db.query_row("SELECT count(*) FROM r_data_main WHERE resc_id = ?1", [resource.id], |r| r.get(0))?;
    if replicas > 0 || !children(db, resource.id)?.is_empty() {
        return Err(ApiError::new(codes::CAT_RESOURCE_NOT_EMPTY, format!("resource {name} is not empty")));
    }
    db.execute("DELETE FROM r_resc_main WHERE resc_id = ?1", [resource.id])?;
    db.execute("DELETE FROM r_objt_metamap WHERE object_id = ?1", [resource.id])?;
    Ok(())
}

/// Sets a modifiable text field of a resource.
pub fn modify(db: &Connection, name: &str, field: &str, value: &str) -> ApiResult<()> {
    let resource = require(db, name)?;
    let column = match field {
        "comment" => "r_comment",
        "info" => "resc_info",
        "context" => "resc_context",
        "status" => "resc_status",
        "free_space" => "free_space",
        "host" => "resc_net",
        "path" => "resc_def_path",
        "type" => "resc_type_name",
        _ => {
            return Err(ApiError::new(
                codes::CAT_INVALID_ARGUMENT,
                format!("cannot modify resource field {field}"),
            ));
        }
    };
    db.execute(
        &format!("UPDATE r_resc_main SET {column} = ?1, modify_ts = ?2 WHERE resc_id = ?3"),
        params![value, now_ts(), resource.id],
    )?;
    Ok(())
}

/// The `root;...;leaf` hierarchy string of a resource.
pub fn hierarchy(db: &Connection, resource: &Resource) -> ApiResult<String> {
    let mut names = vec![resource.name.clone()];
    let mut parent = resource.parent;
    while let Some(id) = parent {
        if names.len() > 32 {
            return Err(ApiError::new(codes::HIERARCHY_ERROR, "resource hierarchy too deep"));
        }
        let Some(up) = find_by_id(db, id)? else { break };
        names.push(up.name.clone());
        parent = up.parent;
    }
    names.reverse();
    Ok(names.join(";"))
}

/// The root of a resource's hierarchy.
pub fn root_of(db: &Connection, resource: &Resource) -> ApiResult<Resource> {
    let mut current = resource.clone();
    for _ in 0..32 {
        match current.parent {
            Some(id) => match find_by_id(db, id)? {
                Some(up) => current = up,
                None => break,
            },
            None => break,
        }
    }
    Ok(current)
}

/// Chooses where a new replica goes when a client names `name` (a root resource): descend to a
/// storage leaf. Naming a non-root fails with DIRECT_CHILD_ACCESS.
pub fn place_for_write(db: &Connection, name: &str) -> ApiResult<Placement> {
    let resource = require(db, name)?;
    if resource.parent.is_some() {
        return Err(ApiError::new(
            codes::DIRECT_CHILD_ACCESS,
            format!("attempt to directly address a child resource: {name}"),
        ));
    }
    descend(db, resource)
}

fn descend(db: &Connection, mut resource: Resource) -> ApiResult<Placement> {
    for _ in 0..32 {
        if resource.is_storage() {
            let hierarchy = hierarchy(db, &resource)?;
            return Ok(Placement { leaf: resource, hierarchy });
        }
        let mut kids = children(db, resource.id)?;
        if kids.is_empty() {
            return Err(ApiError::new(
                codes::HIERARCHY_ERROR,
                format!("resource {} has no child to store data in", resource.name),
            ));
        }
        resource = kids.remove(0);
    }
    Err(ApiError::new(codes::HIERARCHY_ERROR, "resource hierarchy too deep"))
}

/// Resolves an explicit `resc_hier` string; every element must exist and be the parent of the next.
pub fn place_by_hierarchy(db: &Connection, hier: &str) -> ApiResult<Placement> {
    let names: Vec<&str> = hier.split(';').collect();
    let mut previous: Option<Resource> = None;
    for name in &names {
        let resource = require(db, name)?;
        if resource.parent != previous.as_ref().map(|p| p.id) {
            return Err(ApiError::new(codes::HIERARCHY_ERROR, format!("invalid resource hierarchy {hier}")));
        }
        previous = Some(resource);
    }
    let leaf = previous.ok_or_else(|| ApiError::new(codes::HIERARCHY_ERROR, "empty resource hierarchy"))?;
    if !leaf.is_storage() {
        return Err(ApiError::new(
            codes::HIERARCHY_ERROR,
            format!("{hier} does not end in a storage resource"),
        ));
    }
    Ok(Placement { leaf, hierarchy: hier.to_string() })
}

/// Whether a resource is `ancestor` or lies below it.
pub fn is_under(db: &Connection, resource: &Resource, ancestor: &str) -> ApiResult<bool> {
    Ok(hierarchy(db, resource)?.split(';').any(|n| n == ancestor))
}
