//! AVU metadata (`r_meta_main` + `r_objt_metamap`). As in iRODS, one `r_meta_main` row can be
//! shared by every object carrying the same (attribute, value, units).

use rusqlite::{Connection, OptionalExtension, params};

use super::{new_object_id, now_ts};
use crate::error::{ApiError, ApiResult, codes};

/// One attribute-value-units triple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avu {
    pub attribute: String,
    pub value: String,
    pub units: String,
}

/// The AVUs attached to an object.
pub fn list(db: &Connection, object_id: i64) -> ApiResult<Vec<(i64, Avu)>> {
    let mut stmt = db.prepare_cached(
        "SELECT m.meta_id, m.meta_attr_name, m.meta_attr_value, m.meta_attr_unit
         FROM r_objt_metamap om JOIN r_meta_main m ON m.meta_id = om.meta_id
         WHERE om.object_id = ?1 ORDER BY m.meta_id",
    )?;
    let rows = stmt
        .query_map([object_id], |r| {
            Ok((r.get(0)?, Avu { attribute: r.get(1)?, value: r.get(2)?, units: r.get(3)? }))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn find_meta(db: &Connection, avu: &Avu) -> ApiResult<Option<i64>> {
    let mut stmt = db.prepare_cached(
        "SELECT meta_id FROM r_meta_main WHERE meta_attr_name = ?1 AND meta_attr_value = ?2 AND meta_attr_unit = ?3
         ORDER BY meta_id LIMIT 1",
    )?;
    Ok(stmt.query_row(params![avu.attribute, avu.value, avu.units], |r| r.get(0)).optional()?)
}

fn check(avu: &Avu) -> ApiResult<()> {
    if avu.attribute.is_empty() || avu.value.is_empty() {
        return Err(ApiError::new(codes::CAT_INVALID_ARGUMENT, "attribute and value must not be empty"));
    }
    Ok(())
}

/// Attaches an AVU; attaching the identical AVU twice fails with
/// CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME.
pub fn add(db: &Connection, object_id: i64, avu: &Avu) -> ApiResult<()> {
    check(avu)?;
    let now = now_ts();
    let meta_id = match find_meta(db, avu)? {
        Some(id) => {
            let linked: Option<i64> = db
                .query_row(
                    "SELECT 1 FROM r_objt_metamap WHERE object_id = ?1 AND meta_id = ?2",
                    params![object_id, id],
                    |r| r.get(0),
                )
                .optional()?;
            if linked.is_some() {
                return Err(ApiError::new(
                    codes::CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME,
                    format!("AVU {}={} already attached", avu.attribute, avu.value),
                ));
            }
            id
        }
        None => {
            let id = new_object_id(db)?;
            db.execute(
                "INSERT INTO r_meta_main (meta_id, meta_attr_name, meta_attr_value, meta_attr_unit, create_ts, modify_ts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, avu.attribute, avu.value, avu.units, now],
            )?;
            id
        }
    };
    db.execute(
        "INSERT INTO r_objt_metamap (object_id, meta_id, create_ts, modify_ts) VALUES (?1, ?2, ?3, ?3)",
        params![object_id, meta_id, now],
    )?;
    Ok(())
}

/// Detaches AVUs matching attribute and value (and units when `units` is given); with
/// `wildcards`, attribute/value/units are SQL LIKE patterns. No match: CAT_SUCCESS_BUT_WITH_NO_INFO
/// in iRODS; reported here as success with zero removed.
pub fn remove(
    db: &Connection,
    object_id: i64,
    avu: &Avu,
    match_units: bool,
    wildcards: bool,
) -> ApiResult<usize> {
    let op = if wildcards { "LIKE" } else { "=" };
    let units_clause = if match_units { format!(" AND m.meta_attr_unit {op} ?4") } else { String::new() };
    let sql = format!(
        "DELETE FROM r_objt_metamap WHERE object_id = ?1 AND meta_id IN (
             SELECT m.meta_id FROM r_meta_main m WHERE m.meta_attr_name {op} ?2 AND m.meta_attr_value {op} ?3{units_clause})"
    );
    let removed = if match_units {
        db.execute(&sql, params![object_id, avu.attribute, avu.value, avu.units])?
    } else {
        db.execute(&sql, params![object_id, avu.attribute, avu.value])?
    };
    Ok(removed)
}

/// Detaches the AVU with this metadata id.
pub fn remove_by_id(db: &Connection, object_id: i64, meta_id: i64) -> ApiResult<usize> {
    Ok(db.execute(
        "DELETE FROM r_objt_metamap WHERE object_id = ?1 AND meta_id = ?2",
        params![object_id, meta_id],
    )?)
}

/// Replaces every AVU with this attribute by the given one (`imeta set`). As in iRODS, when the
/// object has exactly one AVU with that attribute and no other object shares its row, the row is
/// updated in place, so its creation time survives and only the modify time moves.
pub fn set(db: &Connection, object_id: i64, avu: &Avu) -> ApiResult<()> {
    check(avu)?;
    let existing: Vec<i64> = db
        .prepare_cached(
            "SELECT m.meta_id FROM r_objt_metamap om JOIN r_meta_main m ON m.meta_id = om.meta_id
             WHERE om.object_id = ?1 AND m.meta_attr_name = ?2",
        )?
        .query_map(params![object_id, avu.attribute], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if let [meta_id] = existing.as_slice() {
        let users: i64 =
            db.query_row("SELECT count(*) FROM r_objt_metamap WHERE meta_id = ?1", [meta_id], |r| r.get(0))?;
        if users == 1 {
            db.execute(
                "UPDATE r_meta_main SET meta_attr_value = ?1, meta_attr_unit = ?2, modify_ts = ?3 WHERE meta_id = ?4",
                params![avu.value, avu.units, now_ts(), meta_id],
            )?;
            return Ok(());
        }
    }
    db.execute(
        "DELETE FROM r_objt_metamap WHERE object_id = ?1 AND meta_id IN (
             SELECT meta_id FROM r_meta_main WHERE meta_attr_name = ?2)",
        params![object_id, avu.attribute],
    )?;
    add(db, object_id, avu)
}

/// Copies every AVU of one object to another (skipping ones already present).
pub fn copy(db: &Connection, from: i64, to: i64) -> ApiResult<()> {
    for (_, avu) in list(db, from)? {
        match add(db, to, &avu) {
            Ok(()) => {}
            Err(e) if e.code == codes::CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Deletes `r_meta_main` rows no object refers to any more.
pub fn remove_unused(db: &Connection) -> ApiResult<usize> {
    Ok(db.execute("DELETE FROM r_meta_main WHERE meta_id NOT IN (SELECT meta_id FROM r_objt_metamap)", [])?)
}
