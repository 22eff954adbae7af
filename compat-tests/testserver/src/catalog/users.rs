//! Users and groups (`r_user_main`, `r_user_password`, `r_user_group`).

use rusqlite::{Connection, OptionalExtension, params};

use super::{collections, new_object_id, now_ts};
use crate::error::{ApiError, ApiResult, codes};

/// A user or group row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub zone: String,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.kind == "rodsadmin"
    }
}

const USER_TYPES: &[&str] = &["rodsuser", "rodsadmin", "groupadmin", "rodsgroup"];

/// Looks a user (or group) up by name and zone.
pub fn find(db: &Connection, name: &str, zone: &str) -> ApiResult<Option<User>> {
    Ok(db
        .query_row(
            "SELECT user_id, user_name, user_type_name, zone_name FROM r_user_main
             WHERE user_name = ?1 AND zone_name = ?2",
            params![name, zone],
            |r| Ok(User { id: r.get(0)?, name: r.get(1)?, kind: r.get(2)?, zone: r.get(3)? }),
        )
        .optional()?)
}

/// Like [`find`], failing with CAT_INVALID_USER.
pub fn require(db: &Connection, name: &str, zone: &str) -> ApiResult<User> {
    find(db, name, zone)?
        .ok_or_else(|| ApiError::new(codes::CAT_INVALID_USER, format!("no user {name}#{zone}")))
}

/// Inserts just the user row.
pub fn insert_user(db: &Connection, name: &str, kind: &str, zone: &str) -> ApiResult<i64> {
    if !USER_TYPES.contains(&kind) {
        return Err(ApiError::new(codes::CAT_INVALID_USER_TYPE, format!("invalid user type {kind}")));
    }
    if name.is_empty() || name.contains(['/', '#', ' ']) || name.len() >= 64 {
        return Err(ApiError::new(codes::CAT_INVALID_ARGUMENT, format!("invalid user name {name:?}")));
    }
    if find(db, name, zone)?.is_some() {
        return Err(ApiError::new(
            codes::CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME,
            format!("user {name} already exists"),
        ));
    }
    let id = new_object_id(db)?;
    let now = now_ts();
    db.execute(
        "INSERT INTO r_user_main (user_id, user_name, user_type_name, zone_name, create_ts, modify_ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![id, name, kind, zone, now],
    )?;
    Ok(id)
}

/// Creates a user with its home and trash collections (groups get home collections too, as
/// iRODS gives them), and makes it a member of `public`.
pub fn create_user(db: &Connection, name: &str, kind: &str, zone: &str) -> ApiResult<i64> {
    let id = insert_user(db, name, kind, zone)?;
    let home = format!("/{zone}/home/{name}");
    if collections::find(db, &home)?.is_none() {
        collections::insert_row(db, &home, name, zone)?;
    }
    let trash = format!("/{zone}/trash/home/{name}");
    if kind != "rodsgroup" && collections::find(db, &trash)?.is_none() {
        collections::insert_row(db, &trash, name, zone)?;
    }
    if kind != "rodsgroup"
        && let Some(public) = find(db, "public", zone)?
    {
        add_to_group(db, public.id, id)?;
    }
    Ok(id)
}

pub fn set_password(db: &Connection, user_id: i64, password: &str) -> ApiResult<()> {
    let now = now_ts();
    db.execute(
        "INSERT INTO r_user_password (user_id, rcat_password, create_ts, modify_ts) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (user_id) DO UPDATE SET rcat_password = excluded.rcat_password, modify_ts = excluded.modify_ts",
        params![user_id, password, now],
    )?;
    Ok(())
}

/// The stored password of a user, if any. (A test catalog keeps it in clear; iRODS obfuscates it.)
pub fn password(db: &Connection, user_id: i64) -> ApiResult<Option<String>> {
    Ok(db
        .query_row("SELECT rcat_password FROM r_user_password WHERE user_id = ?1", [user_id], |r| r.get(0))
        .optional()?)
}

pub fn add_to_group(db: &Connection, group_id: i64, user_id: i64) -> ApiResult<()> {
    let now = now_ts();
    db.execute(
        "INSERT OR IGNORE INTO r_user_group (group_user_id, user_id, create_ts, modify_ts) VALUES (?1, ?2, ?3, ?3)",
        params![group_id, user_id, now],
    )?;
    Ok(())
}

pub fn remove_from_group(db: &Connection, group_id: i64, user_id: i64) -> ApiResult<()> {
    db.execute(
        "DELETE FROM r_user_group WHERE group_user_id = ?1 AND user_id = ?2",
        params![group_id, user_id],
    )?;
    Ok(())
}

/// Removes a user; its home collection must be empty (iRODS refuses otherwise).
pub fn remove(db: &Connection, user: &User) -> ApiResult<()> {
    let home = format!("/{}/home/{}", user.zone, user.name);
    let trash = format!("/{}/trash/home/{}", user.zone, user.name);
    for path in [&home, &trash] {
        if let Some(coll) = collections::find(db, path)? {
            if !collections::is_empty(db, coll.id)? {
                return Err(ApiError::new(
                    codes::CAT_COLLECTION_NOT_EMPTY,
                    format!("{path} is not empty; cannot remove user {}", user.name),
                ));
            }
            collections::delete_row(db, coll.id)?;
        }
    }
    db.execute("DELETE FROM r_user_main WHERE user_id = ?1", [user.id])?;
    db.execute("DELETE FROM r_user_password WHERE user_id = ?1", [user.id])?;
    db.execute("DELETE FROM r_user_group WHERE user_id = ?1 OR group_user_id = ?1", [user.id])?;
    db.execute("DELETE FROM r_objt_access WHERE user_id = ?1", [user.id])?;
    db.execute("DELETE FROM r_objt_metamap WHERE object_id = ?1", [user.id])?;
    Ok(())
}

/// Sets one of the user's text fields (`type`, `info`, `comment`).
pub fn modify(db: &Connection, user: &User, field: &str, value: &str) -> ApiResult<()> {
    let column = match field {
        "type" => {
            if !USER_TYPES.contains(&value) || value == "rodsgroup" {
                return Err(ApiError::new(
                    codes::CAT_INVALID_USER_TYPE,
                    format!("invalid user type {value}"),
                ));
            }
            "user_type_name"
        }
        "info" => "user_info",
        "comment" => "r_comment",
        _ => {
            return Err(ApiError::new(
                codes::CAT_INVALID_ARGUMENT,
                format!("cannot modify user field {field}"),
            ));
        }
    };
    db.execute(
        &format!("UPDATE r_user_main SET {column} = ?1, modify_ts = ?2 WHERE user_id = ?3"),
        params![value, now_ts(), user.id],
    )?;
    Ok(())
}
