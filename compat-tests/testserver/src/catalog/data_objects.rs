//! Data objects (`r_data_main`, one row per replica) and their access rows.

use rusqlite::{Connection, OptionalExtension, params};

use super::now_ts;
use crate::error::ApiResult;

/// Replica status values (`objInfo.h`).
pub const STALE: i64 = 0;
pub const GOOD: i64 = 1;
pub const INTERMEDIATE: i64 = 2;

/// One replica row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replica {
    pub data_id: i64,
    pub coll_id: i64,
    pub name: String,
    pub repl_num: i64,
    pub data_type: String,
    pub size: i64,
    pub resc_name: String,
    pub resc_hier: String,
    pub resc_id: i64,
    pub path: String,
    pub owner: String,
    pub owner_zone: String,
    pub status: i64,
    pub checksum: String,
    pub mode: String,
    pub comment: String,
    pub create_ts: String,
    pub modify_ts: String,
}

const COLUMNS: &str =
    "data_id, coll_id, data_name, data_repl_num, data_type_name, data_size, resc_name, resc_hier,
    resc_id, data_path, data_owner_name, data_owner_zone, data_is_dirty, data_checksum, data_mode, r_comment,
    create_ts, modify_ts";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Replica> {
    Ok(Replica {
        data_id: r.get(0)?,
        coll_id: r.get(1)?,
        name: r.get(2)?,
        repl_num: r.get(3)?,
        data_type: r.get(4)?,
        size: r.get(5)?,
        resc_name: r.get(6)?,
        resc_hier: r.get(7)?,
        resc_id: r.get(8)?,
        path: r.get(9)?,
        owner: r.get(10)?,
        owner_zone: r.get(11)?,
        status: r.get(12)?,
        checksum: r.get(13)?,
        mode: r.get(14)?,
        comment: r.get(15)?,
        create_ts: r.get(16)?,
        modify_ts: r.get(17)?,
    })
}

/// All replicas of the object `name` in collection `coll_id`, by replica number.
pub fn replicas(db: &Connection, coll_id: i64, name: &str) -> ApiResult<Vec<Replica>> {
    let mut stmt = db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM r_data_main WHERE coll_id = ?1 AND data_name = ?2 ORDER BY data_repl_num"
    ))?;
    let rows = stmt.query_map(params![coll_id, name], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// All replicas in a collection (one level).
pub fn in_collection(db: &Connection, coll_id: i64) -> ApiResult<Vec<Replica>> {
    let mut stmt = db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM r_data_main WHERE coll_id = ?1 ORDER BY data_name, data_repl_num"
    ))?;
    let rows = stmt.query_map([coll_id], from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn exists(db: &Connection, coll_id: i64, name: &str) -> ApiResult<bool> {
    let mut stmt =
        db.prepare_cached("SELECT 1 FROM r_data_main WHERE coll_id = ?1 AND data_name = ?2 LIMIT 1")?;
    Ok(stmt.query_row(params![coll_id, name], |_| Ok(())).optional()?.is_some())
}

pub fn insert(db: &Connection, replica: &Replica) -> ApiResult<()> {
    let mut stmt = db.prepare_cached(
        "INSERT INTO r_data_main (data_id, coll_id, data_name, data_repl_num, data_type_name, data_size,
             resc_name, resc_hier, resc_id, data_path, data_owner_name, data_owner_zone, data_is_dirty,
             data_checksum, data_mode, r_comment, create_ts, modify_ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?;
    stmt.execute(params![
        replica.data_id,
        replica.coll_id,
        replica.name,
        replica.repl_num,
        replica.data_type,
        replica.size,
        replica.resc_name,
        replica.resc_hier,
        replica.resc_id,
        replica.path,
        replica.owner,
        replica.owner_zone,
        replica.status,
        replica.checksum,
        replica.mode,
        replica.comment,
        replica.create_ts,
        replica.modify_ts,
    ])?;
    Ok(())
}

/// Writes every mutable field of `replica` back (keyed by data id and replica number).
pub fn update(db: &Connection, replica: &Replica) -> ApiResult<()> {
    let mut stmt = db.prepare_cached(
        "UPDATE r_data_main SET coll_id = ?3, data_name = ?4, data_type_name = ?5, data_size = ?6, resc_name = ?7,
             resc_hier = ?8, resc_id = ?9, data_path = ?10, data_owner_name = ?11, data_owner_zone = ?12,
             data_is_dirty = ?13, data_checksum = ?14, data_mode = ?15, r_comment = ?16, create_ts = ?17,
             modify_ts = ?18
         WHERE data_id = ?1 AND data_repl_num = ?2",
    )?;
    stmt.execute(params![
        replica.data_id,
        replica.repl_num,
        replica.coll_id,
        replica.name,
        replica.data_type,
        replica.size,
        replica.resc_name,
        replica.resc_hier,
        replica.resc_id,
        replica.path,
        replica.owner,
        replica.owner_zone,
        replica.status,
        replica.checksum,
        replica.mode,
        replica.comment,
        replica.create_ts,
        replica.modify_ts,
    ])?;
    Ok(())
}

/// Deletes one replica row; when it was the last one, the object's metadata links and access
/// rows go too.
pub fn delete_replica(db: &Connection, data_id: i64, repl_num: i64) -> ApiResult<()> {
    db.execute(
        "DELETE FROM r_data_main WHERE data_id = ?1 AND data_repl_num = ?2",
        params![data_id, repl_num],
    )?;
    let left: i64 =
        db.query_row("SELECT count(*) FROM r_data_main WHERE data_id = ?1", [data_id], |r| r.get(0))?;
    if left == 0 {
        db.execute("DELETE FROM r_objt_metamap WHERE object_id = ?1", [data_id])?;
        db.execute("DELETE FROM r_objt_access WHERE object_id = ?1", [data_id])?;
    }
    Ok(())
}

/// Moves every replica of an object to another collection and/or name.
pub fn rename(db: &Connection, data_id: i64, coll_id: i64, name: &str) -> ApiResult<()> {
    db.execute(
        "UPDATE r_data_main SET coll_id = ?2, data_name = ?3, modify_ts = modify_ts WHERE data_id = ?1",
        params![data_id, coll_id, name],
    )?;
    Ok(())
}

/// Gives `owner` the `own` permission on an object or collection.
pub fn grant_owner(db: &Connection, object_id: i64, owner: &str, zone: &str) -> ApiResult<()> {
    let user_id: Option<i64> = db
        .query_row(
            "SELECT user_id FROM r_user_main WHERE user_name = ?1 AND zone_name = ?2",
            params![owner, zone],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(user_id) = user_id {
        let now = now_ts();
        db.execute(
            "INSERT OR REPLACE INTO r_objt_access (object_id, user_id, access_type_id, create_ts, modify_ts)
             VALUES (?1, ?2, 1200, ?3, ?3)",
            params![object_id, user_id, now],
        )?;
    }
    Ok(())
}
