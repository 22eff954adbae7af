//! Collections (`r_coll_main`).

use rusqlite::{Connection, OptionalExtension, params};

use super::{new_object_id, now_ts, paths};
use crate::error::{ApiError, ApiResult, codes};

/// A collection row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: i64,
    pub name: String,
    pub parent: String,
    pub owner: String,
    pub owner_zone: String,
    pub create_ts: String,
    pub modify_ts: String,
}

const COLUMNS: &str =
    "coll_id, coll_name, parent_coll_name, coll_owner_name, coll_owner_zone, create_ts, modify_ts";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Collection> {
    Ok(Collection {
        id: r.get(0)?,
        name: r.get(1)?,
        parent: r.get(2)?,
        owner: r.get(3)?,
        owner_zone: r.get(4)?,
        create_ts: r.get(5)?,
        modify_ts: r.get(6)?,
    })
}

pub fn find(db: &Connection, path: &str) -> ApiResult<Option<Collection>> {
    let mut stmt = db.prepare_cached(&format!("SELECT {COLUMNS} FROM r_coll_main WHERE coll_name = ?1"))?;
    Ok(stmt.query_row([path], from_row).optional()?)
}

pub fn find_by_id(db: &Connection, id: i64) -> ApiResult<Option<Collection>> {
    let mut stmt = db.prepare_cached(&format!("SELECT {COLUMNS} FROM r_coll_main WHERE coll_id = ?1"))?;
    Ok(stmt.query_row([id], from_row).optional()?)
}

/// Like [`find`], failing with CAT_UNKNOWN_COLLECTION.
pub fn require(db: &Connection, path: &str) -> ApiResult<Collection> {
    find(db, path)?.ok_or_else(|| {
        ApiError::new(codes::CAT_UNKNOWN_COLLECTION, format!("collection {path} does not exist"))
    })
}

/// Inserts a collection row (parent existence is the caller's business) with `own` for the owner.
pub fn insert_row(db: &Connection, path: &str, owner: &str, zone: &str) -> ApiResult<i64> {
    let parent = paths::split(path).map(|(p, _)| p).unwrap_or("/");
    let id = new_object_id(db)?;
    let now = now_ts();
    db.execute(
        "INSERT INTO r_coll_main (coll_id, parent_coll_name, coll_name, coll_owner_name, coll_owner_zone,
                                  create_ts, modify_ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![id, parent, path, owner, zone, now],
    )?;
    super::data_objects::grant_owner(db, id, owner, zone)?;
    Ok(id)
}

/// Creates one collection whose parent exists (COLL_CREATE without `recursiveOpr`).
pub fn create(db: &Connection, path: &str, owner: &str, zone: &str) -> ApiResult<i64> {
    let (parent, name) = paths::split(path).ok_or_else(|| {
        ApiError::new(codes::CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME, "the root collection exists")
    })?;
    paths::check_new_name(name)?;
    if find(db, path)?.is_some() {
        return Err(ApiError::new(
            codes::CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME,
            format!("collection {path} already exists"),
        ));
    }
    let parent_coll = require(db, parent)?;
    if super::data_objects::exists(db, parent_coll.id, name)? {
        return Err(ApiError::new(codes::CAT_NAME_EXISTS_AS_DATAOBJ, format!("{path} is a data object")));
    }
    let id = insert_row(db, path, owner, zone)?;
    touch(db, parent_coll.id)?;
    Ok(id)
}

/// Creates a collection and any missing ancestors; an existing collection is fine.
pub fn create_all(db: &Connection, path: &str, owner: &str, zone: &str) -> ApiResult<i64> {
    if let Some(existing) = find(db, path)? {
        return Ok(existing.id);
    }
    if let Some((parent, _)) = paths::split(path) {
        create_all(db, parent, owner, zone)?;
    }
    create(db, path, owner, zone)
}

/// Whether a collection has neither sub-collections nor data objects.
pub fn is_empty(db: &Connection, coll_id: i64) -> ApiResult<bool> {
    let Some(coll) = find_by_id(db, coll_id)? else { return Ok(true) };
    let subs: i64 = db.query_row(
        "SELECT count(*) FROM r_coll_main WHERE parent_coll_name = ?1 AND coll_name <> '/'",
        [&coll.name],
        |r| r.get(0),
    )?;
    let data: i64 =
        db.query_row("SELECT count(*) FROM r_data_main WHERE coll_id = ?1", [coll_id], |r| r.get(0))?;
    Ok(subs == 0 && data == 0)
}

/// Direct sub-collections of a collection.
pub fn children(db: &Connection, path: &str) -> ApiResult<Vec<Collection>> {
    let mut stmt = db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM r_coll_main WHERE parent_coll_name = ?1 AND coll_name <> '/' ORDER BY coll_name"
    ))?;
    let rows = stmt.query_map([path], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn delete_row(db: &Connection, coll_id: i64) -> ApiResult<()> {
    db.execute("DELETE FROM r_coll_main WHERE coll_id = ?1", [coll_id])?;
    db.execute("DELETE FROM r_objt_metamap WHERE object_id = ?1", [coll_id])?;
    db.execute("DELETE FROM r_objt_access WHERE object_id = ?1", [coll_id])?;
    Ok(())
}

/// Sets a collection's modify time to now.
pub fn touch(db: &Connection, coll_id: i64) -> ApiResult<()> {
    db.execute("UPDATE r_coll_main SET modify_ts = ?1 WHERE coll_id = ?2", params![now_ts(), coll_id])?;
    Ok(())
}

/// Renames a collection and everything below it (logical paths only).
pub fn rename_tree(db: &Connection, from: &str, to: &str) -> ApiResult<()> {
    let (new_parent, _) =
        paths::split(to).ok_or_else(|| ApiError::new(codes::USER_INPUT_PATH_ERR, "bad target"))?;
    db.execute(
        "UPDATE r_coll_main SET coll_name = ?2, parent_coll_name = ?3, modify_ts = ?4 WHERE coll_name = ?1",
        params![from, to, new_parent, now_ts()],
    )?;
    // Descendants: replace the prefix in both name and parent name.
    let prefix_len = from.len() as i64;
    db.execute(
        "UPDATE r_coll_main SET
             coll_name = ?2 || substr(coll_name, ?3 + 1),
             parent_coll_name = ?2 || substr(parent_coll_name, ?3 + 1)
         WHERE substr(coll_name, 1, ?3 + 1) = ?1 || '/'",
        params![from, to, prefix_len],
    )?;
    Ok(())
}
