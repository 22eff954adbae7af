//! Resource hierarchy questions the ingest asks (`irods_utils.child_of`).

use irods_proto::{Connection, Query, col};

use super::error::{OpsError, Result};

/// `irods_utils.child_of(session, child, parent)`: is `child` the resource `parent` or below it?
///
/// Walks up the hierarchy one parent at a time, as the reference does: the child's
/// `R_RESC_PARENT` (the parent's id), then the name of the resource with that id, compared with
/// `parent`. A root (no parent id) ends the walk with `false`. A resource that does not exist is
/// an error, like python-irodsclient's `ResourceDoesNotExist`.
pub async fn child_of(conn: &mut Connection, child: &str, parent: &str) -> Result<bool> {
    if child == parent {
        return Ok(true);
    }
    let mut current = child.to_owned();
    loop {
        let row = conn
            .query_first(&Query::select(&[col::R_RESC_PARENT]).eq(col::R_RESC_NAME, &current))
            .await?
            .ok_or_else(|| OpsError::ResourceDoesNotExist(current.clone()))?;
        let parent_id = row.into_iter().next().unwrap_or_default();
        if parent_id.is_empty() {
            return Ok(false);
        }
        // The reference keeps the last row's name; ids are unique, so there is at most one.
        let rows = conn.query(&Query::select(&[col::R_RESC_NAME]).eq(col::R_RESC_ID, &parent_id)).await?;
        let Some(parent_name) = rows.into_iter().filter_map(|r| r.into_iter().next()).next_back() else {
            // The reference would look up a resource named None next, which does not exist.
            return Err(OpsError::ResourceDoesNotExist(format!("parent of {current} (id {parent_id})")));
        };
        if parent_name == parent {
            return Ok(true);
        }
        current = parent_name;
    }
}
