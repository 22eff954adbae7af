//! Permission checks on data objects and collections (`r_objt_access`), as iRODS applies them to
//! users who are not rodsadmin: the highest level granted to the user or any of its groups counts.
//! Administrators pass every check.

use rusqlite::{Connection, OptionalExtension, params};

use super::users::User;
use crate::error::{ApiError, ApiResult, codes};

/// Access levels (token ids of namespace `access_type`).
pub const READ: i64 = 1050;
pub const WRITE: i64 = 1120;
/// `delete_object`: removing needs more than `write` (modify_object) since iRODS 4.3.
pub const DELETE: i64 = 1130;
pub const OWN: i64 = 1200;

/// The highest access level `user` holds on `object_id` (0 when none).
pub fn level(db: &Connection, user: &User, object_id: i64) -> ApiResult<i64> {
    let level: Option<i64> = db
        .prepare_cached(
            "SELECT max(access_type_id) FROM r_objt_access WHERE object_id = ?1 AND (user_id = ?2 OR user_id IN
                 (SELECT group_user_id FROM r_user_group WHERE user_id = ?2))",
        )?
        .query_row(params![object_id, user.id], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(level.unwrap_or(0))
}

/// Fails with CAT_NO_ACCESS_PERMISSION unless `user` is an admin or holds at least `needed`.
pub fn require(db: &Connection, user: &User, object_id: i64, needed: i64, what: &str) -> ApiResult<()> {
    if user.is_admin() || level(db, user, object_id)? >= needed {
        return Ok(());
    }
    Err(ApiError::new(codes::CAT_NO_ACCESS_PERMISSION, format!("{} has no permission for {what}", user.name)))
}
